/*
 * test_http.c - unit tests of ca_http (upstream HTTP client and URL helpers).
 *
 * A small scripted HTTP/1.1 server (raw sockets, keep-alive, one thread per
 * connection) runs on 127.0.0.1 on an ephemeral port inside this process.
 * Behaviour is chosen by the request path:
 *   /echo         200, describes the request in the body, multi-valued headers
 *   /big?n=N      N bytes with Content-Length      /chunked?n=N  N bytes, chunked
 *   /bighdr?n=N   N padding headers                 /slow?ms=M    answers after M ms
 *   /close        closes without answering          /partial      body cut short
 *   /redirect     302 to /echo                      /gzip         gzip-encoded body
 *   /gzbomb       40 bytes gzip -> 5000 bytes       /early        103, then 200
 *   /status?code=N  status N
 * A TLS ClientHello (first byte 0x16) gets a plain-text 400 and a close.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ca_http.h"

/* ---- the scripted server ---------------------------------------------------------- */

typedef struct {
    int lfd;
    int port;
    pthread_t thr;
    pthread_mutex_t mu;
    int active;         /* open connections */
    int conn_seq;       /* connections accepted */
    int requests;       /* requests parsed */
    int echo_hits;
} server_t;

static server_t srv;
static apr_pool_t *gpool;

static const unsigned char gz_body[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd,
    0xc9, 0xc9, 0x57, 0x48, 0xaf, 0xca, 0x2c, 0x50, 0x28, 0xcf, 0x2f, 0xca, 0x49,
    0xe1, 0x02, 0x00, 0x3e, 0x56, 0x00, 0xe8, 0x11, 0x00, 0x00, 0x00
};

/* gzip of 5000 'z': 40 bytes on the wire, 5000 decoded */
static const unsigned char gz_bomb[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xed, 0xc1, 0x31,
    0x01, 0x00, 0x00, 0x00, 0xc2, 0xa0, 0xde, 0x4b, 0x6f, 0x0a, 0x3f, 0xa0, 0x00,
    0x00, 0x00, 0x00, 0x80, 0xb7, 0x01, 0x2a, 0x91, 0x9d, 0xe8, 0x88, 0x13, 0x00, 0x00
};

static int send_all(int fd, const void *data, size_t len)
{
    const char *d = data;

    while (len > 0) {
        ssize_t n = send(fd, d, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        d += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_str(int fd, const char *s)
{
    return send_all(fd, s, strlen(s));
}

static int send_resp(int fd, int status, const char *extra, const char *body, size_t len,
                     int head)
{
    char hdr[1024];

    snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status,
             len, extra ? extra : "");
    if (send_str(fd, hdr) < 0) {
        return -1;
    }
    return head ? 0 : send_all(fd, body, len);
}

/* value of header name in the raw header block, copied to out ("" if absent);
 * returns 1 when the header is present */
static int get_header(const char *hdrs, const char *name, char *out, size_t outlen)
{
    const char *line = hdrs;
    size_t nlen = strlen(name);

    out[0] = '\0';
    while ((line = strstr(line, "\r\n")) != NULL) {
        line += 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1, *e;
            while (*v == ' ') {
                v++;
            }
            e = strstr(v, "\r\n");
            if (e && (size_t)(e - v) < outlen) {
                memcpy(out, v, (size_t)(e - v));
                out[e - v] = '\0';
            }
            return 1;
        }
    }
    return 0;
}

static long query_num(const char *query, const char *name, long dflt)
{
    char key[32];
    const char *q;

    snprintf(key, sizeof(key), "%s=", name);
    q = strstr(query, key);
    return q ? strtol(q + strlen(key), NULL, 10) : dflt;
}

typedef struct {
    int fd;
    int id;
} conn_arg_t;

/* returns 0 to keep the connection, -1 to close it */
static int serve_one(int fd, int conn_id, int reqno, const char *method, const char *path,
                     const char *query, const char *hdrs, const char *body, size_t blen,
                     int absform)
{
    int head = strcmp(method, "HEAD") == 0;

    if (strcmp(path, "/echo") == 0) {
        char ct[256], ae[256], ua[256], xt[256], ex[256];
        char *out;
        int n, has_xt;

        pthread_mutex_lock(&srv.mu);
        srv.echo_hits++;
        pthread_mutex_unlock(&srv.mu);
        get_header(hdrs, "Content-Type", ct, sizeof(ct));
        get_header(hdrs, "Accept-Encoding", ae, sizeof(ae));
        get_header(hdrs, "User-Agent", ua, sizeof(ua));
        has_xt = get_header(hdrs, "X-Test", xt, sizeof(xt));
        get_header(hdrs, "Expect", ex, sizeof(ex));
        out = malloc(2048 + 1024);
        n = snprintf(out, 2048, "method=%s\npath=%s\nquery=%s\nconn=%d\nreqno=%d\n"
                     "body_len=%zu\nexpect=%s\nct=%s\nae=%s\nua=%s\nxtest=%s\n"
                     "has_xtest=%d\nabsform=%d\nbody=", method, path, query, conn_id,
                     reqno, blen, ex, ct, ae, ua, xt, has_xt, absform);
        if (blen < 1024) {
            memcpy(out + n, body, blen);
            n += (int)blen;
        }
        out[n++] = '\n';
        n = send_resp(fd, 200, "Content-Type: text/plain\r\nX-Echo-Method: ECHO\r\n"
                      "X-Multi: one\r\nX-Multi: two\r\nX-Folded: part1\r\n  part2\r\n",
                      out, (size_t)n, head);
        free(out);
        return n;
    }
    if (strcmp(path, "/big") == 0 || strcmp(path, "/chunked") == 0) {
        long want = query_num(query, "n", 100);
        char *data = malloc((size_t)want + 1);
        int rc;

        memset(data, 'x', (size_t)want);
        if (path[1] == 'b') {
            rc = send_resp(fd, 200, NULL, data, (size_t)want, head);
        }
        else {
            long off = 0;
            char line[64];

            rc = send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            while (rc == 0 && off < want) {
                long c = want - off > 1000 ? 1000 : want - off;
                snprintf(line, sizeof(line), "%lx\r\n", c);
                rc = send_str(fd, line);
                if (rc == 0) {
                    rc = send_all(fd, data + off, (size_t)c);
                }
                if (rc == 0) {
                    rc = send_str(fd, "\r\n");
                }
                off += c;
            }
            if (rc == 0) {
                rc = send_str(fd, "0\r\n\r\n");
            }
        }
        free(data);
        return rc;
    }
    if (strcmp(path, "/bighdr") == 0) {
        long i, n = query_num(query, "n", 10);
        char line[160];

        if (send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n") < 0) {
            return -1;
        }
        for (i = 0; i < n; i++) {
            snprintf(line, sizeof(line), "X-Pad-%ld: %0100d\r\n", i, 0);
            if (send_str(fd, line) < 0) {
                return -1;
            }
        }
        return send_str(fd, "\r\nok");
    }
    if (strcmp(path, "/slow") == 0) {
        struct pollfd pf = { fd, POLLIN, 0 };

        /* wait, but give up as soon as the client goes away */
        if (poll(&pf, 1, (int)query_num(query, "ms", 1000)) != 0) {
            return -1;
        }
        return send_resp(fd, 200, NULL, "late", 4, head);
    }
    if (strcmp(path, "/close") == 0) {
        return -1;
    }
    if (strcmp(path, "/partial") == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        return -1;
    }
    if (strcmp(path, "/redirect") == 0) {
        return send_resp(fd, 302, "Location: /echo\r\n", "moved", 5, head);
    }
    if (strcmp(path, "/gzip") == 0) {
        return send_resp(fd, 200, "Content-Encoding: gzip\r\n", (const char *)gz_body,
                         sizeof(gz_body), head);
    }
    if (strcmp(path, "/gzbomb") == 0) {
        return send_resp(fd, 200, "Content-Encoding: gzip\r\n", (const char *)gz_bomb,
                         sizeof(gz_bomb), head);
    }
    if (strcmp(path, "/early") == 0) {
        /* an interim 103 whose headers must not leak into the final response */
        if (send_str(fd, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n"
                     "X-Interim: 1\r\n\r\n") < 0) {
            return -1;
        }
        return send_resp(fd, 200, "X-Final: 1\r\n", "final", 5, head);
    }
    if (strcmp(path, "/status") == 0) {
        return send_resp(fd, (int)query_num(query, "code", 500), NULL, "status", 6, head);
    }
    return send_resp(fd, 404, NULL, "nf", 2, head);
}

static void *conn_main(void *arg)
{
    conn_arg_t *ca = arg;
    int fd = ca->fd, id = ca->id, reqno = 0;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);

    free(ca);
    for (;;) {
        char *end, *sp1, *sp2, *q, *t;
        int absform = 0;
        char method[16], target[1024], cl[32], path[1024], query[1024];
        size_t hlen, blen = 0, total;
        ssize_t n;

        while ((end = (len ? memmem(buf, len, "\r\n\r\n", 4) : NULL)) == NULL) {
            if (len > 0 && (unsigned char)buf[0] == 0x16) {
                send_str(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n");
                goto done;
            }
            if (len == cap) {
                goto done;
            }
            n = recv(fd, buf + len, cap - len, 0);
            if (n <= 0) {
                goto done;
            }
            len += (size_t)n;
        }
        hlen = (size_t)(end - buf) + 4;
        buf[hlen - 2] = '\0';   /* header block keeps its last CRLF */
        sp1 = strchr(buf, ' ');
        sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp1 || !sp2 || sp1 - buf >= (long)sizeof(method)
            || sp2 - sp1 - 1 >= (long)sizeof(target)) {
            goto done;
        }
        memcpy(method, buf, (size_t)(sp1 - buf));
        method[sp1 - buf] = '\0';
        memcpy(target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
        target[sp2 - sp1 - 1] = '\0';
        q = strchr(target, '?');
        snprintf(query, sizeof(query), "%s", q ? q + 1 : "");
        if (q) {
            *q = '\0';
        }
        t = target;
        if (strncmp(t, "http://", 7) == 0) {   /* absolute form: we are a proxy */
            absform = 1;
            t = strchr(t + 7, '/');
            t = t ? t : "/";
        }
        snprintf(path, sizeof(path), "%s", t);
        get_header(buf, "Content-Length", cl, sizeof(cl));
        blen = cl[0] ? strtoul(cl, NULL, 10) : 0;
        total = hlen + blen;
        if (total > cap) {
            char *nb = realloc(buf, total + 1);
            if (nb == NULL) {
                goto done;
            }
            buf = nb;
            cap = total;
        }
        while (len < total) {
            n = recv(fd, buf + len, cap - len, 0);
            if (n <= 0) {
                goto done;
            }
            len += (size_t)n;
        }
        pthread_mutex_lock(&srv.mu);
        srv.requests++;
        pthread_mutex_unlock(&srv.mu);
        if (serve_one(fd, id, ++reqno, method, path, query, buf, buf + hlen, blen,
                      absform) < 0) {
            goto done;
        }
        memmove(buf, buf + total, len - total);
        len -= total;
    }
done:
    free(buf);
    close(fd);
    pthread_mutex_lock(&srv.mu);
    srv.active--;
    pthread_mutex_unlock(&srv.mu);
    return NULL;
}

static void *accept_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_t t;
        conn_arg_t *ca;
        int fd = accept(srv.lfd, NULL, NULL);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return NULL;        /* listener shut down */
        }
        ca = malloc(sizeof(*ca));
        ca->fd = fd;
        pthread_mutex_lock(&srv.mu);
        ca->id = ++srv.conn_seq;
        srv.active++;
        pthread_mutex_unlock(&srv.mu);
        if (pthread_create(&t, NULL, conn_main, ca) != 0) {
            close(fd);
            free(ca);
            pthread_mutex_lock(&srv.mu);
            srv.active--;
            pthread_mutex_unlock(&srv.mu);
            continue;
        }
        pthread_detach(t);
    }
}

static int server_start(void)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int one = 1;

    pthread_mutex_init(&srv.mu, NULL);
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (srv.lfd < 0) {
        return -1;
    }
    setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0
        || listen(srv.lfd, 64) < 0
        || getsockname(srv.lfd, (struct sockaddr *)&sa, &sl) < 0) {
        close(srv.lfd);
        return -1;
    }
    srv.port = ntohs(sa.sin_port);
    return pthread_create(&srv.thr, NULL, accept_main, NULL) == 0 ? 0 : -1;
}

static int server_active(void)
{
    int a;

    pthread_mutex_lock(&srv.mu);
    a = srv.active;
    pthread_mutex_unlock(&srv.mu);
    return a;
}

static int server_requests(void)
{
    int a;

    pthread_mutex_lock(&srv.mu);
    a = srv.requests;
    pthread_mutex_unlock(&srv.mu);
    return a;
}

static void server_stop(void)
{
    int i;

    for (i = 0; i < 500 && server_active() > 0; i++) {
        usleep(10000);
    }
    shutdown(srv.lfd, SHUT_RDWR);
    close(srv.lfd);
    pthread_join(srv.thr, NULL);
}

/* ---- helpers -------------------------------------------------------------------------- */

static const ca_http_options_t test_opts = {
    .connect_timeout_ms = 2000,
    .timeout_ms = 5000,
    .user_agent = "mod_clientapi-test/1.0 (unit)",
    .allow_plain_http = 1,
};

typedef struct {
    apr_pool_t *p;
    ca_http_client_t *c;
} fixture_t;

static int fx_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    const char *err = NULL;

    if (fx == NULL || apr_pool_create(&fx->p, gpool) != APR_SUCCESS
        || ca_http_client_create(fx->p, &test_opts, &fx->c, &err) != APR_SUCCESS) {
        return -1;
    }
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture_t *fx = *state;

    apr_pool_destroy(fx->p);    /* also releases the client */
    free(fx);
    return 0;
}

static const char *url_for(apr_pool_t *p, const char *path)
{
    return apr_psprintf(p, "http://127.0.0.1:%d%s", srv.port, path);
}

static apr_status_t run(fixture_t *fx, const char *method, const char *path,
                        const apr_table_t *h, const char *body, size_t blen,
                        const ca_http_options_t *o, ca_http_response_t **resp,
                        const char **err)
{
    ca_http_request_t req;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url_for(fx->p, path);
    req.headers = h;
    req.body = body;
    req.body_len = blen;
    req.options = o;
    *err = NULL;
    return ca_http_perform(fx->c, &req, fx->p, resp, err);
}

static int body_conn(const ca_http_response_t *r)
{
    const char *s = strstr(r->body, "\nconn=");
    return s ? atoi(s + 6) : -1;
}

static int count_values(void *rec, const char *key, const char *value)
{
    (void)key;
    (void)value;
    (*(int *)rec)++;
    return 1;
}

/* ---- transfer tests --------------------------------------------------------------------- */

static void test_get_with_headers(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    apr_table_t *h = apr_table_make(fx->p, 2);
    int n = 0;
    apr_status_t rv;

    apr_table_set(h, "X-Test", "hello there");
    rv = run(fx, "GET", "/echo?limit=5&cursor=a%20b", h, NULL, 0, NULL, &r, &err);
    assert_int_equal(rv, APR_SUCCESS);
    assert_int_equal(r->result, CA_HTTP_OK);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "method=GET\n"));
    assert_non_null(strstr(r->body, "query=limit=5&cursor=a%20b\n"));
    assert_non_null(strstr(r->body, "xtest=hello there\n"));
    assert_non_null(strstr(r->body, "ua=mod_clientapi-test/1.0 (unit)\n"));
    assert_non_null(strstr(r->body, "ae=gzip\n"));
    assert_int_equal(strlen(r->body), r->body_len);
    /* names are case-insensitive, multi-valued headers are kept */
    assert_string_equal(apr_table_get(r->headers, "x-echo-method"), "ECHO");
    assert_string_equal(apr_table_get(r->headers, "CONTENT-TYPE"), "text/plain");
    apr_table_do(count_values, &n, r->headers, "X-Multi", NULL);
    assert_int_equal(n, 2);
    assert_string_equal(apr_table_getm(fx->p, r->headers, "x-multi"), "one,two");
    assert_string_equal(apr_table_get(r->headers, "X-Folded"), "part1 part2");
    assert_true(r->total_time > 0);
    assert_true(r->total_time < apr_time_from_sec(5));
}

static void test_post_put_patch_delete_head(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    apr_table_t *h = apr_table_make(fx->p, 2);
    static const char *const methods[] = { "PUT", "PATCH", "DELETE" };
    const char *body = "{\"name\":\"x\"}";
    size_t i;

    apr_table_set(h, "Content-Type", "application/x-www-form-urlencoded");
    assert_int_equal(run(fx, "POST", "/echo", h, "a=1&b=two", 9, NULL, &r, &err),
                     APR_SUCCESS);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "method=POST\n"));
    assert_non_null(strstr(r->body, "body_len=9\n"));
    assert_non_null(strstr(r->body, "body=a=1&b=two\n"));
    assert_non_null(strstr(r->body, "ct=application/x-www-form-urlencoded\n"));

    apr_table_set(h, "Content-Type", "application/json");
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char *want = apr_psprintf(fx->p, "method=%s\n", methods[i]);

        assert_int_equal(run(fx, methods[i], "/echo", h, body, strlen(body), NULL, &r,
                             &err), APR_SUCCESS);
        assert_non_null(strstr(r->body, want));
        assert_non_null(strstr(r->body, "body={\"name\":\"x\"}\n"));
        assert_non_null(strstr(r->body, "ct=application/json\n"));
    }
    /* DELETE and POST without a body: Content-Length 0 */
    assert_int_equal(run(fx, "DELETE", "/echo", NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    assert_non_null(strstr(r->body, "method=DELETE\n"));
    assert_non_null(strstr(r->body, "body_len=0\n"));
    assert_int_equal(run(fx, "POST", "/echo", NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    assert_non_null(strstr(r->body, "method=POST\n"));

    assert_int_equal(run(fx, "HEAD", "/echo", NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    assert_string_equal(r->body, "");
    assert_string_equal(apr_table_get(r->headers, "X-Echo-Method"), "ECHO");
}

static void test_large_post_no_expect(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    size_t len = 1536 * 1024;
    char *body = apr_palloc(fx->p, len);
    apr_table_t *h = apr_table_make(fx->p, 1);

    memset(body, 'b', len);
    apr_table_set(h, "Content-Type", "application/octet-stream");
    apr_table_set(h, "Expect", "100-continue");     /* ignored */
    assert_int_equal(run(fx, "POST", "/echo", h, body, len, NULL, &r, &err), APR_SUCCESS);
    assert_non_null(strstr(r->body, "body_len=1572864\n"));
    assert_non_null(strstr(r->body, "expect=\n"));
}

static void test_connection_reused(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r1, *r2, *r3;
    const char *err;

    assert_int_equal(run(fx, "GET", "/echo", NULL, NULL, 0, NULL, &r1, &err), APR_SUCCESS);
    assert_int_equal(r1->reused, 0);
    assert_int_equal(run(fx, "GET", "/echo", NULL, NULL, 0, NULL, &r2, &err), APR_SUCCESS);
    assert_int_equal(r2->reused, 1);
    assert_int_equal(body_conn(r1), body_conn(r2));
    assert_non_null(strstr(r2->body, "reqno=2\n"));
    /* a POST in between keeps the connection too */
    assert_int_equal(run(fx, "POST", "/echo", NULL, "x", 1, NULL, &r3, &err), APR_SUCCESS);
    assert_int_equal(r3->reused, 1);
    assert_int_equal(body_conn(r1), body_conn(r3));
    assert_int_equal(ca_http_client_handles_created(fx->c), 1);

    /* reset forgets the connection */
    ca_http_client_reset(fx->c);
    assert_int_equal(run(fx, "GET", "/echo", NULL, NULL, 0, NULL, &r3, &err), APR_SUCCESS);
    assert_int_equal(r3->reused, 0);
    assert_int_not_equal(body_conn(r1), body_conn(r3));
    assert_int_equal(ca_http_client_handles_created(fx->c), 2);
}

static void test_size_cap(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    ca_http_options_t o = test_opts;
    apr_status_t rv;
    unsigned h0;

    o.max_response_bytes = 1000;
    /* within the cap */
    assert_int_equal(run(fx, "GET", "/big?n=1000", NULL, NULL, 0, &o, &r, &err),
                     APR_SUCCESS);
    assert_int_equal(r->body_len, 1000);
    assert_int_equal(strlen(r->body), 1000);

    /* announced Content-Length over the cap */
    h0 = ca_http_client_handles_created(fx->c);
    rv = run(fx, "GET", "/big?n=5000", NULL, NULL, 0, &o, &r, &err);
    assert_int_equal(rv, APR_ENOSPC);
    assert_int_equal(r->result, CA_HTTP_ERR_TOO_LARGE);
    assert_string_equal(r->reason, "provider response too large");
    assert_non_null(strstr(err, "announced length"));

    /* chunked (no length): aborted while receiving */
    rv = run(fx, "GET", "/chunked?n=5000", NULL, NULL, 0, &o, &r, &err);
    assert_int_equal(rv, APR_ENOSPC);
    assert_int_equal(r->result, CA_HTTP_ERR_TOO_LARGE);
    assert_string_equal(r->body, "");
    assert_non_null(strstr(err, "1000"));
    rv = run(fx, "GET", "/chunked?n=1000", NULL, NULL, 0, &o, &r, &err);
    assert_int_equal(rv, APR_SUCCESS);
    assert_int_equal(r->body_len, 1000);

    /* a large body is fine under the default cap; the failed handles were replaced */
    assert_int_equal(run(fx, "GET", "/chunked?n=300000", NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    assert_int_equal(r->body_len, 300000);
    assert_true(ca_http_client_handles_created(fx->c) >= h0 + 2);
}

static void test_header_cap(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    ca_http_options_t o = test_opts;

    o.max_header_bytes = 2048;
    assert_int_equal(run(fx, "GET", "/bighdr?n=5", NULL, NULL, 0, &o, &r, &err),
                     APR_SUCCESS);
    assert_string_equal(r->body, "ok");
    assert_non_null(apr_table_get(r->headers, "X-Pad-4"));
    assert_int_equal(run(fx, "GET", "/bighdr?n=40", NULL, NULL, 0, &o, &r, &err),
                     APR_ENOSPC);
    assert_int_equal(r->result, CA_HTTP_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "headers"));
}

static void test_timeout(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    ca_http_options_t o = test_opts;
    apr_status_t rv;

    /* the server would answer after 3 s: a timeout result proves the client gave up first
     * (no wall-clock bounds here: test machines are shared and noisy) */
    o.timeout_ms = 300;
    rv = run(fx, "GET", "/slow?ms=3000", NULL, NULL, 0, &o, &r, &err);
    assert_int_equal(rv, APR_TIMEUP);
    assert_int_equal(r->result, CA_HTTP_ERR_TIMEOUT);
    assert_int_equal(ca_http_result_http_status(r->result), 504);
    assert_non_null(err);

    /* the next request on the same client works (new handle) */
    assert_int_equal(run(fx, "GET", "/slow?ms=10", NULL, NULL, 0, &o, &r, &err),
                     APR_SUCCESS);
    assert_string_equal(r->body, "late");
}

static void test_connect_refused(void **state)
{
    fixture_t *fx = *state;
    ca_http_request_t req;
    ca_http_response_t *r;
    const char *err = NULL;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    apr_status_t rv;

    /* bound but not listening: connections to it are refused */
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);

    memset(&req, 0, sizeof(req));
    req.url = apr_psprintf(fx->p, "http://127.0.0.1:%d/x?access_token=SECRET123",
                           ntohs(sa.sin_port));
    rv = ca_http_perform(fx->c, &req, fx->p, &r, &err);
    close(fd);
    assert_int_equal(rv, APR_ECONNREFUSED);
    assert_int_equal(r->result, CA_HTTP_ERR_CONNECT);
    assert_int_equal(r->status, 0);
    assert_int_equal(ca_http_result_http_status(r->result), 502);
    assert_non_null(err);
    assert_null(strstr(err, "SECRET123"));
}

static void test_server_closes(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    apr_status_t rv;

    rv = run(fx, "GET", "/close", NULL, NULL, 0, NULL, &r, &err);
    assert_int_equal(r->result, CA_HTTP_ERR_RESET);
    assert_true(rv == APR_EOF || rv == APR_ECONNRESET);
    assert_true(ca_http_result_retryable(r->result));

    rv = run(fx, "GET", "/partial", NULL, NULL, 0, NULL, &r, &err);
    assert_int_equal(rv, APR_EOF);
    assert_int_equal(r->result, CA_HTTP_ERR_RESET);
    assert_string_equal(r->body, "");

    /* and the client recovers */
    assert_int_equal(run(fx, "GET", "/echo", NULL, NULL, 0, NULL, &r, &err), APR_SUCCESS);
}

static void test_tls_failure(void **state)
{
    fixture_t *fx = *state;
    ca_http_request_t req;
    ca_http_response_t *r;
    const char *err;
    apr_status_t rv;

    /* the test server speaks plain HTTP: the handshake must fail as TLS */
    memset(&req, 0, sizeof(req));
    req.url = apr_psprintf(fx->p, "https://127.0.0.1:%d/echo", srv.port);
    rv = ca_http_perform(fx->c, &req, fx->p, &r, &err);
    assert_int_equal(rv, CA_HTTP_ETLS);
    assert_int_equal(r->result, CA_HTTP_ERR_TLS);
    assert_string_equal(ca_http_result_name(r->result), "tls");
}

static void test_https_only(void **state)
{
    fixture_t *fx = *state;
    ca_http_client_t *strict;
    ca_http_options_t so = test_opts;
    ca_http_request_t req;
    ca_http_response_t *r;
    const char *err = NULL;
    int before = server_requests();
    static const char *const bad[] = {
        "ftp://127.0.0.1/x", "file:///etc/passwd", "//127.0.0.1/x", "127.0.0.1/x",
        "https://", "https:///path", "https://host/a b", "", "gopher://h/"
    };
    size_t i;

    so.allow_plain_http = 0;
    assert_int_equal(ca_http_client_create(fx->p, &so, &strict, &err), APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.url = url_for(fx->p, "/echo");
    assert_int_equal(ca_http_perform(strict, &req, fx->p, &r, &err), APR_EINVAL);
    assert_int_equal(r->result, CA_HTTP_ERR_INVALID);
    assert_non_null(strstr(err, "plain http"));
    req.url = apr_psprintf(fx->p, "HTTP://127.0.0.1:%d/echo", srv.port);
    assert_int_equal(ca_http_perform(strict, &req, fx->p, &r, &err), APR_EINVAL);

    /* per-request options switch it on for a sandbox provider only */
    req.options = &test_opts;
    assert_int_equal(ca_http_perform(strict, &req, fx->p, &r, &err), APR_SUCCESS);
    assert_int_equal(r->status, 200);
    req.options = NULL;
    assert_int_equal(ca_http_perform(strict, &req, fx->p, &r, &err), APR_EINVAL);
    assert_int_equal(server_requests(), before + 1);

    /* other schemes and malformed URLs never go out, even with plain http allowed */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req.url = bad[i];
        assert_int_equal(ca_http_perform(fx->c, &req, fx->p, &r, &err), APR_EINVAL);
        assert_int_equal(r->result, CA_HTTP_ERR_INVALID);
    }
    req.url = NULL;
    assert_int_equal(ca_http_perform(fx->c, &req, fx->p, &r, &err), APR_EINVAL);
    assert_int_equal(server_requests(), before + 1);
}

static void test_no_redirect(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    int hits;

    pthread_mutex_lock(&srv.mu);
    hits = srv.echo_hits;
    pthread_mutex_unlock(&srv.mu);
    assert_int_equal(run(fx, "GET", "/redirect", NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    assert_int_equal(r->status, 302);
    assert_int_equal(r->result, CA_HTTP_OK);
    assert_string_equal(apr_table_get(r->headers, "Location"), "/echo");
    assert_string_equal(r->body, "moved");
    pthread_mutex_lock(&srv.mu);
    assert_int_equal(srv.echo_hits, hits);
    pthread_mutex_unlock(&srv.mu);

    assert_int_equal(run(fx, "GET", "/status?code=503", NULL, NULL, 0, NULL, &r, &err),
                     APR_SUCCESS);
    assert_int_equal(r->status, 503);
    assert_string_equal(r->body, "status");
}

static void test_gzip(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;

    assert_int_equal(run(fx, "GET", "/gzip", NULL, NULL, 0, NULL, &r, &err), APR_SUCCESS);
    assert_string_equal(r->body, "hello gzip world\n");
    assert_int_equal(r->body_len, 17);
}

static void test_gzip_cap_on_decoded_size(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    ca_http_options_t o = test_opts;

    /* 40 bytes on the wire pass any length check: the decoded size is capped */
    o.max_response_bytes = 1000;
    assert_int_equal(run(fx, "GET", "/gzbomb", NULL, NULL, 0, &o, &r, &err), APR_ENOSPC);
    assert_int_equal(r->result, CA_HTTP_ERR_TOO_LARGE);
    o.max_response_bytes = 5000;
    assert_int_equal(run(fx, "GET", "/gzbomb", NULL, NULL, 0, &o, &r, &err), APR_SUCCESS);
    assert_int_equal(r->body_len, 5000);
    assert_int_equal(r->body[4999], 'z');
    assert_int_equal(r->body[5000], '\0');
}

static void test_interim_response_headers_dropped(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;

    assert_int_equal(run(fx, "GET", "/early", NULL, NULL, 0, NULL, &r, &err), APR_SUCCESS);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "final");
    assert_string_equal(apr_table_get(r->headers, "X-Final"), "1");
    assert_null(apr_table_get(r->headers, "X-Interim"));
    assert_null(apr_table_get(r->headers, "Link"));
}

static void test_bad_requests(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    const char *err;
    apr_table_t *h = apr_table_make(fx->p, 2);
    int before = server_requests();

    apr_table_set(h, "X-Bad", "a\r\nX-Injected: 1");
    assert_int_equal(run(fx, "GET", "/echo", h, NULL, 0, NULL, &r, &err), APR_EINVAL);
    assert_int_equal(r->result, CA_HTTP_ERR_INVALID);
    assert_non_null(strstr(err, "X-Bad"));
    apr_table_clear(h);
    apr_table_set(h, "Bad Name", "v");
    assert_int_equal(run(fx, "GET", "/echo", h, NULL, 0, NULL, &r, &err), APR_EINVAL);
    assert_int_equal(run(fx, "GET", "/echo", NULL, "x", 1, NULL, &r, &err), APR_EINVAL);
    assert_int_equal(run(fx, "HEAD", "/echo", NULL, "x", 1, NULL, &r, &err), APR_EINVAL);
    assert_int_equal(run(fx, "TRACE", "/echo", NULL, NULL, 0, NULL, &r, &err), APR_EINVAL);
    assert_int_equal(run(fx, "get", "/echo", NULL, NULL, 0, NULL, &r, &err), APR_EINVAL);
    assert_int_equal(run(fx, "POST", "/echo", NULL, NULL, 3, NULL, &r, &err), APR_EINVAL);
    assert_int_equal(server_requests(), before);

    /* empty header value is sent as such; NULL method means GET */
    apr_table_clear(h);
    apr_table_set(h, "X-Test", "");
    assert_int_equal(run(fx, NULL, "/echo", h, NULL, 0, NULL, &r, &err), APR_SUCCESS);
    assert_non_null(strstr(r->body, "method=GET\n"));
    assert_non_null(strstr(r->body, "has_xtest=1\n"));
    assert_non_null(strstr(r->body, "xtest=\n"));
}

static void test_fork_discards_handle(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r1, *r2;
    const char *err;
    unsigned h0;
    pid_t pid;
    int st = -1;

    assert_int_equal(run(fx, "GET", "/echo", NULL, NULL, 0, NULL, &r1, &err), APR_SUCCESS);
    h0 = ca_http_client_handles_created(fx->c);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        apr_pool_t *cp;
        ca_http_request_t req;
        ca_http_response_t *cr;
        const char *cerr;
        int code = 0;

        if (apr_pool_create(&cp, NULL) != APR_SUCCESS) {
            _exit(10);
        }
        memset(&req, 0, sizeof(req));
        req.url = url_for(cp, "/echo");
        if (ca_http_perform(fx->c, &req, cp, &cr, &cerr) != APR_SUCCESS) {
            code = 11;
        }
        else if (cr->reused) {
            code = 12;          /* used the parent's connection */
        }
        else if (body_conn(cr) == body_conn(r1)) {
            code = 13;
        }
        else if (ca_http_client_handles_created(fx->c) != h0 + 1) {
            code = 14;
        }
        _exit(code);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* the parent's connection was left alone */
    assert_int_equal(run(fx, "GET", "/echo", NULL, NULL, 0, NULL, &r2, &err), APR_SUCCESS);
    assert_int_equal(r2->reused, 1);
    assert_int_equal(body_conn(r1), body_conn(r2));
    assert_int_equal(ca_http_client_handles_created(fx->c), h0);
}

static void test_proxy(void **state)
{
    fixture_t *fx = *state;
    ca_http_response_t *r;
    ca_http_request_t req;
    ca_http_options_t o = test_opts;
    const char *err;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char *dead;
    apr_status_t rv;

    /* a proxy from the environment is ignored */
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    dead = apr_psprintf(fx->p, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    setenv("http_proxy", dead, 1);
    setenv("HTTPS_PROXY", dead, 1);
    setenv("ALL_PROXY", dead, 1);
    rv = run(fx, "GET", "/echo", NULL, NULL, 0, NULL, &r, &err);
    unsetenv("http_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    assert_int_equal(rv, APR_SUCCESS);
    assert_non_null(strstr(r->body, "absform=0\n"));

    /* a configured proxy is used */
    o.proxy = apr_psprintf(fx->p, "http://127.0.0.1:%d", srv.port);
    memset(&req, 0, sizeof(req));
    req.url = "http://upstream.invalid/echo?x=1";
    req.options = &o;
    assert_int_equal(ca_http_perform(fx->c, &req, fx->p, &r, &err), APR_SUCCESS);
    assert_non_null(strstr(r->body, "absform=1\n"));
    assert_non_null(strstr(r->body, "path=/echo\nquery=x=1\n"));

    /* and a dead configured proxy is a connect error */
    o.proxy = dead;
    assert_int_equal(ca_http_perform(fx->c, &req, fx->p, &r, &err), APR_ECONNREFUSED);
    assert_int_equal(r->result, CA_HTTP_ERR_CONNECT);
    close(fd);
}

static void test_destroy_and_defaults(void **state)
{
    fixture_t *fx = *state;
    ca_http_client_t *c;
    ca_http_request_t req;
    ca_http_response_t *r;
    const char *err;
    ca_http_options_t o;

    assert_int_equal(ca_http_client_create(NULL, NULL, &c, &err), APR_EINVAL);
    assert_int_equal(ca_http_client_create(fx->p, NULL, &c, &err), APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.url = url_for(fx->p, "/echo");
    /* built-in defaults: https only */
    assert_int_equal(ca_http_perform(c, &req, fx->p, &r, &err), APR_EINVAL);
    memset(&o, 0, sizeof(o));
    o.allow_plain_http = 1;
    req.options = &o;
    assert_int_equal(ca_http_perform(c, &req, fx->p, &r, &err), APR_SUCCESS);
    assert_non_null(strstr(r->body, "ua=" CA_HTTP_DEFAULT_USER_AGENT "\n"));
    ca_http_client_destroy(c);
    assert_int_equal(ca_http_perform(NULL, &req, fx->p, &r, &err), APR_EINVAL);
    assert_int_equal(r->result, CA_HTTP_ERR_INVALID);
}

/* ---- classification ---------------------------------------------------------------------- */

static void test_classify(void **state)
{
    /* CURLcode values are ABI-stable numbers (curl.h) */
    static const struct {
        int code;
        ca_http_result_t res;
        apr_status_t rv;
    } cases[] = {
        { 0, CA_HTTP_OK, APR_SUCCESS },
        { 28, CA_HTTP_ERR_TIMEOUT, APR_TIMEUP },          /* OPERATION_TIMEDOUT */
        { 7, CA_HTTP_ERR_CONNECT, APR_ECONNREFUSED },     /* COULDNT_CONNECT */
        { 6, CA_HTTP_ERR_CONNECT, APR_EHOSTUNREACH },     /* COULDNT_RESOLVE_HOST */
        { 5, CA_HTTP_ERR_CONNECT, APR_EHOSTUNREACH },     /* COULDNT_RESOLVE_PROXY */
        { 35, CA_HTTP_ERR_TLS, CA_HTTP_ETLS },            /* SSL_CONNECT_ERROR */
        { 60, CA_HTTP_ERR_TLS, CA_HTTP_ETLS },            /* PEER_FAILED_VERIFICATION */
        { 77, CA_HTTP_ERR_TLS, CA_HTTP_ETLS },            /* SSL_CACERT_BADFILE */
        { 63, CA_HTTP_ERR_TOO_LARGE, APR_ENOSPC },        /* FILESIZE_EXCEEDED */
        { 52, CA_HTTP_ERR_RESET, APR_EOF },               /* GOT_NOTHING */
        { 18, CA_HTTP_ERR_RESET, APR_EOF },               /* PARTIAL_FILE */
        { 56, CA_HTTP_ERR_RESET, APR_ECONNRESET },        /* RECV_ERROR */
        { 55, CA_HTTP_ERR_RESET, APR_ECONNRESET },        /* SEND_ERROR */
        { 1, CA_HTTP_ERR_INVALID, APR_EINVAL },           /* UNSUPPORTED_PROTOCOL */
        { 3, CA_HTTP_ERR_INVALID, APR_EINVAL },           /* URL_MALFORMAT */
        { 27, CA_HTTP_ERR_OTHER, APR_ENOMEM },            /* OUT_OF_MEMORY */
        { 23, CA_HTTP_ERR_OTHER, APR_EGENERAL },          /* WRITE_ERROR */
        { 9999, CA_HTTP_ERR_OTHER, APR_EGENERAL },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        apr_status_t rv = -1;
        const char *reason = NULL;

        assert_int_equal(ca_http_classify_curl_code(cases[i].code, &rv, &reason),
                         cases[i].res);
        assert_int_equal(rv, cases[i].rv);
        assert_string_equal(reason, ca_http_result_reason(cases[i].res));
    }
    assert_int_equal(ca_http_classify_curl_code(28, NULL, NULL), CA_HTTP_ERR_TIMEOUT);
    assert_string_equal(ca_http_result_name(CA_HTTP_OK), "ok");
    assert_string_equal(ca_http_result_name(CA_HTTP_ERR_TOO_LARGE), "too_large");
    assert_string_equal(ca_http_result_name((ca_http_result_t)42), "other");
    assert_int_equal(ca_http_result_http_status(CA_HTTP_OK), 0);
    assert_int_equal(ca_http_result_http_status(CA_HTTP_ERR_TIMEOUT), 504);
    assert_int_equal(ca_http_result_http_status(CA_HTTP_ERR_TLS), 502);
    assert_false(ca_http_result_retryable(CA_HTTP_ERR_TIMEOUT));
    assert_false(ca_http_result_retryable(CA_HTTP_ERR_TOO_LARGE));
    assert_true(ca_http_result_retryable(CA_HTTP_ERR_RESET));
    assert_true(CA_HTTP_ETLS != APR_EGENERAL && CA_HTTP_ETLS != APR_ENOSPC);
}

/* ---- URL / form helpers ---------------------------------------------------------------- */

static apr_array_header_t *params(apr_pool_t *p, int n, ...)
{
    apr_array_header_t *a = apr_array_make(p, n, sizeof(ca_http_param_t));
    va_list ap;
    int i;

    va_start(ap, n);
    for (i = 0; i < n; i++) {
        ca_http_param_t *pv = apr_array_push(a);
        pv->name = va_arg(ap, const char *);
        pv->value = va_arg(ap, const char *);
    }
    va_end(ap);
    return a;
}

static void test_url_encode_and_build(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;
    apr_array_header_t *a;

    assert_string_equal(ca_http_url_encode(p, "a b&c=d/\xc3\xa9~-._+%?#"),
                        "a%20b%26c%3Dd%2F%C3%A9~-._%2B%25%3F%23");
    assert_string_equal(ca_http_url_encode(p, "AZaz09"), "AZaz09");
    assert_string_equal(ca_http_url_encode(p, ""), "");
    assert_string_equal(ca_http_url_encode(p, NULL), "");

    a = params(p, 4, "limit", "10", "cursor", "a b/c&d", "$filter",
               "company_uuid eq 'x'", "flag", (const char *)NULL);
    assert_string_equal(ca_http_build_url(p, "https://api.x/v1", "/people", a, &err),
                        "https://api.x/v1/people?limit=10&cursor=a%20b%2Fc%26d"
                        "&$filter=company_uuid%20eq%20%27x%27&flag");
    assert_string_equal(ca_http_build_url(p, "https://api.x/v1/", "/people", NULL, &err),
                        "https://api.x/v1/people");
    assert_string_equal(ca_http_build_url(p, "https://api.x/v1", "people", NULL, &err),
                        "https://api.x/v1/people");
    assert_string_equal(ca_http_build_url(p, "https://api.x/v1/", "people", NULL, &err),
                        "https://api.x/v1/people");
    assert_string_equal(ca_http_build_url(p, "https://api.x/v1", NULL, NULL, &err),
                        "https://api.x/v1");
    a = params(p, 1, "n a=me", "v");
    assert_string_equal(ca_http_build_url(p, "https://h/p?x=1", "", a, &err),
                        "https://h/p?x=1&n%20a%3Dme=v");
    assert_string_equal(ca_http_build_url(p, "https://h", "/job/" "a%2Fb.json",
                                          apr_array_make(p, 1, sizeof(ca_http_param_t)),
                                          &err),
                        "https://h/job/a%2Fb.json");

    err = NULL;
    assert_null(ca_http_build_url(p, "", "/x", NULL, &err));
    assert_non_null(err);
    err = NULL;
    assert_null(ca_http_build_url(p, NULL, "/x", NULL, &err));
    assert_non_null(err);
    err = NULL;
    a = params(p, 2, "ok", "1", (const char *)NULL, "v");
    assert_null(ca_http_build_url(p, "https://h", "/x", a, &err));
    assert_non_null(err);
    err = NULL;
    a = params(p, 1, "", "v");
    assert_null(ca_http_build_url(p, "https://h", "/x", a, &err));
    assert_non_null(err);
    /* wrong element type is refused, not misread */
    a = apr_array_make(p, 1, 1);
    *(char *)apr_array_push(a) = 'x';
    err = NULL;
    assert_null(ca_http_build_url(p, "https://h", "/x", a, &err));
    assert_non_null(err);
}

static void test_form_encode_and_parse(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;
    apr_array_header_t *a, *out = NULL;
    const ca_http_param_t *pv;
    const char *body;
    int i;

    a = params(p, 4, "grant_type", "authorization_code", "code", "a b+c/d",
               "redirect_uri", "https://x/cb?y=1", "code_verifier",
               "\xc3\xa9t\xc3\xa9~_.-*");
    body = ca_http_form_encode(p, a, &err);
    assert_string_equal(body, "grant_type=authorization_code&code=a+b%2Bc%2Fd"
                        "&redirect_uri=https%3A%2F%2Fx%2Fcb%3Fy%3D1"
                        "&code_verifier=%C3%A9t%C3%A9~_.-%2A");
    /* round trip */
    assert_int_equal(ca_http_parse_form(p, body, strlen(body), &out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 4);
    pv = (const ca_http_param_t *)out->elts;
    for (i = 0; i < 4; i++) {
        const ca_http_param_t *in = &((const ca_http_param_t *)a->elts)[i];
        assert_string_equal(pv[i].name, in->name);
        assert_string_equal(pv[i].value, in->value);
    }
    assert_string_equal(ca_http_form_encode(p, NULL, &err), "");
    err = NULL;
    assert_null(ca_http_form_encode(p, params(p, 1, (const char *)NULL, "x"), &err));
    assert_non_null(err);

    body = "a=1&b=hello+world&c=%41%62&&d&e=x%3Dy=z&=empty";
    assert_int_equal(ca_http_parse_form(p, body, strlen(body), &out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 6);
    pv = (const ca_http_param_t *)out->elts;
    assert_string_equal(pv[0].name, "a");
    assert_string_equal(pv[0].value, "1");
    assert_string_equal(pv[1].value, "hello world");
    assert_string_equal(pv[2].value, "Ab");
    assert_string_equal(pv[3].name, "d");
    assert_string_equal(pv[3].value, "");
    assert_string_equal(pv[4].value, "x=y=z");
    assert_string_equal(pv[5].name, "");
    assert_string_equal(ca_http_param_get(out, "e"), "x=y=z");
    assert_null(ca_http_param_get(out, "E"));
    assert_null(ca_http_param_get(out, "zz"));
    assert_null(ca_http_param_get(NULL, "a"));

    /* only len bytes are read */
    assert_int_equal(ca_http_parse_form(p, "a=1&b=2", 3, &out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 1);
    assert_int_equal(ca_http_parse_form(p, "", 0, &out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 0);
    assert_int_equal(ca_http_parse_form(p, NULL, 0, &out, &err), APR_SUCCESS);
    assert_int_equal(out->nelts, 0);
}

static void test_parse_form_bad_input(void **state)
{
    apr_pool_t *p = *state;
    static const char *const bad[] = {
        "a=%", "a=%4", "a=%zz", "a=%4g", "%00=1", "a=%00", "a=1&b=%", "x%=1", "%"
    };
    apr_array_header_t *out;
    const char *err;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        out = NULL;
        assert_int_equal(ca_http_parse_form(p, bad[i], strlen(bad[i]), &out, &err),
                         APR_EINVAL);
        assert_non_null(err);
        assert_null(out);
    }
    /* raw NUL inside the given length */
    err = NULL;
    assert_int_equal(ca_http_parse_form(p, "a=b\0c", 5, &out, &err), APR_EINVAL);
    assert_non_null(err);
    assert_int_equal(ca_http_parse_form(p, NULL, 3, &out, &err), APR_EINVAL);
    assert_int_equal(ca_http_parse_form(p, "a=1", 3, NULL, &err), APR_EINVAL);
}

static void test_redact(void **state)
{
    apr_pool_t *p = *state;
    const char *out;

    out = ca_http_redact_query(p, "access_token=abc&limit=5&API_KEY=zzz&client%5Fsecret=s1"
                               "&code=c1&x=token&key=k1&apikey=k2&token=t1"
                               "&refresh_token=r1&password=pw&next_page_token=n1");
    assert_string_equal(out, "access_token=[redacted]&limit=5&API_KEY=[redacted]"
                        "&client%5Fsecret=[redacted]&code=[redacted]&x=token"
                        "&key=[redacted]&apikey=[redacted]&token=[redacted]"
                        "&refresh_token=[redacted]&password=[redacted]"
                        "&next_page_token=[redacted]");
    assert_null(strstr(out, "abc"));
    assert_null(strstr(out, "zzz"));
    assert_string_equal(ca_http_redact_query(p, "limit=5&cursor=abc&&key&Code=x;key=y"),
                        "limit=5&cursor=abc&&key&Code=[redacted]");
    assert_string_equal(ca_http_redact_query(p, ""), "");
    assert_null(ca_http_redact_query(p, NULL));

    assert_string_equal(
        ca_http_redact_url(p, "https://user:pw@api.x/v1?key=abc&cursor=1"
                           "#access_token=t&state=s"),
        "https://user:[redacted]@api.x/v1?key=[redacted]&cursor=1"
        "#access_token=[redacted]&state=s");
    assert_string_equal(ca_http_redact_url(p, "https://api.x/v1/people"),
                        "https://api.x/v1/people");
    assert_string_equal(ca_http_redact_url(p, "https://me@api.x/a?b=1"),
                        "https://me@api.x/a?b=1");
    assert_string_equal(ca_http_redact_url(p, "/api/ep_1/jobs?apikey=SECRET&limit=2"),
                        "/api/ep_1/jobs?apikey=[redacted]&limit=2");
    assert_string_equal(ca_http_redact_url(p, "https://h/p#x?token=1"),
                        "https://h/p#x?token=[redacted]");
    assert_null(ca_http_redact_url(p, NULL));

    assert_true(ca_http_param_is_secret("Access_Token"));
    assert_true(ca_http_param_is_secret("x_secret_y"));
    assert_true(ca_http_param_is_secret("passwordHash"));
    assert_false(ca_http_param_is_secret("keys"));
    assert_false(ca_http_param_is_secret("limit"));
    assert_false(ca_http_param_is_secret("codes"));
    assert_false(ca_http_param_is_secret(NULL));
}

/* Redaction splits a query exactly as ca_http_parse_form does: on '&' only. A secret whose
 * value holds a ';' is hidden whole (it used to be cut at the ';', logging the rest), and a
 * ';' inside another parameter's value does not start a new parameter. */
static void test_redact_splits_as_parse_form(void **state)
{
    apr_pool_t *p = *state;
    static const char *const queries[] = {
        "key=first;second&limit=5",
        "token=a;b;c",
        "limit=5;key=k1&cursor=c;d",
        "a=1&;&password=p;w&&=x&secret",
        "x=%3Bkey%3Dv&api%5Fkey=k;k",
    };
    apr_size_t i;

    assert_string_equal(ca_http_redact_query(p, "key=first;second&limit=5"),
                        "key=[redacted]&limit=5");
    assert_string_equal(ca_http_redact_query(p, "limit=5;key=k1&cursor=c;d"),
                        "limit=5;key=k1&cursor=c;d");
    for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        apr_array_header_t *orig = NULL, *red = NULL;
        const char *err = NULL, *r = ca_http_redact_query(p, queries[i]);
        int j;

        assert_int_equal(ca_http_parse_form(p, queries[i], strlen(queries[i]), &orig, &err),
                         APR_SUCCESS);
        assert_int_equal(ca_http_parse_form(p, r, strlen(r), &red, &err), APR_SUCCESS);
        assert_int_equal(orig->nelts, red->nelts);
        for (j = 0; j < orig->nelts; j++) {
            const ca_http_param_t *a = &APR_ARRAY_IDX(orig, j, ca_http_param_t);
            const ca_http_param_t *b = &APR_ARRAY_IDX(red, j, ca_http_param_t);

            assert_string_equal(a->name, b->name);
            if (ca_http_param_is_secret(a->name) && a->value[0]) {
                assert_string_equal(b->value, "[redacted]");
            }
            else {
                assert_string_equal(a->value, b->value);
            }
        }
    }
}

/* ---- main -------------------------------------------------------------------------------- */

static int pool_setup(void **state)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, gpool) != APR_SUCCESS) {
        return -1;
    }
    *state = p;
    return 0;
}

static int pool_teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

static int group_setup(void **state)
{
    const char *err = NULL;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&gpool, NULL) != APR_SUCCESS) {
        return -1;
    }
    if (ca_http_global_init(&err) != APR_SUCCESS) {
        fprintf(stderr, "ca_http_global_init: %s\n", err);
        return -1;
    }
    return server_start();
}

static int group_teardown(void **state)
{
    (void)state;
    server_stop();
    apr_pool_destroy(gpool);
    ca_http_global_cleanup();
    apr_terminate();
    return 0;
}

#define FX(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
#define PL(f) cmocka_unit_test_setup_teardown(f, pool_setup, pool_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX(test_get_with_headers),
        FX(test_post_put_patch_delete_head),
        FX(test_large_post_no_expect),
        FX(test_connection_reused),
        FX(test_size_cap),
        FX(test_header_cap),
        FX(test_timeout),
        FX(test_connect_refused),
        FX(test_server_closes),
        FX(test_tls_failure),
        FX(test_https_only),
        FX(test_no_redirect),
        FX(test_gzip),
        FX(test_gzip_cap_on_decoded_size),
        FX(test_interim_response_headers_dropped),
        FX(test_bad_requests),
        FX(test_fork_discards_handle),
        FX(test_proxy),
        FX(test_destroy_and_defaults),
        cmocka_unit_test(test_classify),
        PL(test_url_encode_and_build),
        PL(test_form_encode_and_parse),
        PL(test_parse_form_bad_input),
        PL(test_redact),
        PL(test_redact_splits_as_parse_form),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
