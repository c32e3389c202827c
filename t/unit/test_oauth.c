/*
 * test_oauth.c - unit tests of ca_oauth (provider-side OAuth 2 / credential client).
 *
 * A scripted HTTP/1.1 server runs on 127.0.0.1 (ephemeral port) in a thread of
 * this process: one request per connection, answered with "Connection: close".
 * Every request is recorded (method, target, headers, body) so tests can check
 * what the client sent.  A test queues replies (status, headers, body, delay, or
 * a dropped connection); with no reply queued the server plays a tiny provider
 * sandbox: consent form POST /oauth/authorize, /oauth/token (authorization_code
 * with S256 PKCE, refresh_token with rotation, client_credentials),
 * /oauth/revoke and GET /api/v1/me, enough for the flow test when the suite's
 * real sandbox (env CA_SANDBOX_URL, docs/sandbox.md) is not running.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
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
#include <time.h>
#include <unistd.h>

#include <apr_base64.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "ca_crypto.h"
#include "ca_http.h"
#include "ca_json.h"
#include "ca_oauth.h"
#include "ca_provider.h"

/* secrets used by the tests: no perr may ever contain one of them */
#define SECRET       "s3cr&t/+= Zq9-topsecret"
#define SECRET2      "topsecretvalue"
#define CODE         "authcode-QX7v"
#define VERIFIER     "verifier-0123456789abcdefghijklmnopqrstuvwxyzABCDE"
#define REFRESH      "rt-old-Kq3L"
#define ACCESS       "at-abc-Zz81"
#define API_KEY      "ccmd_live_key_5f5f5f5f"

static const char *const secrets[] = {
    SECRET, SECRET2, CODE, VERIFIER, REFRESH, ACCESS, API_KEY, "topsecret", NULL
};

/* ---- the scripted server ------------------------------------------------------------- */

#define MAX_REPLIES 8
#define MAX_HDRS    16384
#define MAX_BODY    (256 * 1024)

typedef struct {
    int status;
    const char *ctype;
    const char *extra;          /* extra header lines, each ending in CRLF */
    const char *body;
    int delay_ms;
    int drop;                   /* close without answering */
} reply_t;

typedef struct {
    char method[16];
    char target[2048];
    char headers[MAX_HDRS];
    char *body;
    size_t blen;
} rec_t;

/* mini sandbox state: codes and tokens */
#define MAX_GRANTS 64
typedef struct {
    char value[64];
    int kind;                   /* 1 code, 2 access, 3 refresh */
    int state;                  /* 0 active, 1 used/retired, 2 revoked */
    int family;
    char challenge[64];
    char redirect[256];
} grant_t;

typedef struct {
    int lfd;
    int port;
    int stop;
    pthread_t thr;
    pthread_mutex_t mu;
    reply_t replies[MAX_REPLIES];
    int nreplies;
    rec_t last;
    int requests;
    grant_t grants[MAX_GRANTS];
    int ngrants;
    int seq;
    apr_pool_t *pool;           /* used only by the server thread */
} server_t;

static server_t srv;
static apr_pool_t *gpool;
static ca_http_client_t *hclient;

static int send_all(int fd, const char *d, size_t len)
{
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

static void send_reply(int fd, int status, const char *ctype, const char *extra,
                       const char *body)
{
    char hdr[2048];
    size_t blen = body ? strlen(body) : 0;

    snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n%s\r\n", status, ctype ? ctype : "application/json",
             blen, extra ? extra : "");
    if (send_all(fd, hdr, strlen(hdr)) == 0 && blen > 0) {
        send_all(fd, body, blen);
    }
}

/* value of a header in a raw header block (pool copy) or NULL */
static const char *header_in(apr_pool_t *p, const char *hdrs, const char *name)
{
    const char *line = hdrs;
    size_t nlen = strlen(name);

    while ((line = strstr(line, "\r\n")) != NULL) {
        line += 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1, *e;
            while (*v == ' ') {
                v++;
            }
            e = strstr(v, "\r\n");
            return apr_pstrmemdup(p, v, e ? (size_t)(e - v) : strlen(v));
        }
    }
    return NULL;
}

/* wait ms milliseconds, or less if the client goes away */
static void wait_or_hangup(int fd, int ms)
{
    struct pollfd pfd;

    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    poll(&pfd, 1, ms);
}

/* ---- the mini sandbox --------------------------------------------------------------- */

static grant_t *grant_find(const char *value, int kind)
{
    int i;

    for (i = 0; value && i < srv.ngrants; i++) {
        if (srv.grants[i].kind == kind && strcmp(srv.grants[i].value, value) == 0) {
            return &srv.grants[i];
        }
    }
    return NULL;
}

static grant_t *grant_new(int kind, int family)
{
    grant_t *g;
    static const char *const prefix[] = { "", "sbx_code_", "sbx_at_", "sbx_rt_" };

    if (srv.ngrants >= MAX_GRANTS) {
        return NULL;
    }
    g = &srv.grants[srv.ngrants++];
    memset(g, 0, sizeof(*g));
    g->kind = kind;
    g->family = family;
    snprintf(g->value, sizeof(g->value), "%s%d_%ld", prefix[kind], ++srv.seq,
             (long)time(NULL));
    return g;
}

static void family_revoke(int family)
{
    int i;

    for (i = 0; i < srv.ngrants; i++) {
        if (srv.grants[i].family == family && srv.grants[i].kind != 1) {
            srv.grants[i].state = 2;
        }
    }
}

static int basic_ok(apr_pool_t *p, const char *hdrs)
{
    const char *h = header_in(p, hdrs, "Authorization");
    char *dec;
    int len;

    if (h == NULL || strncmp(h, "Basic ", 6) != 0) {
        return 0;
    }
    dec = apr_palloc(p, (apr_size_t)apr_base64_decode_len(h + 6) + 1);
    len = apr_base64_decode(dec, h + 6);
    dec[len] = '\0';
    return strcmp(dec, "sandbox-client:sandbox-secret") == 0;
}

static void oauth_error(int fd, int status, const char *code)
{
    char body[256];

    snprintf(body, sizeof(body), "{\"error\":\"%s\",\"error_description\":\"no\"}", code);
    send_reply(fd, status, NULL, status == 401 ? "WWW-Authenticate: Basic\r\n" : NULL, body);
}

static void issue(int fd, int family, int with_refresh)
{
    grant_t *at = grant_new(2, family), *rt = with_refresh ? grant_new(3, family) : NULL;
    char body[512];

    if (at == NULL || (with_refresh && rt == NULL)) {
        oauth_error(fd, 500, "server_error");
        return;
    }
    snprintf(body, sizeof(body), "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
             "\"expires_in\":3600,%s%s%s\"scope\":\"read write\"}", at->value,
             rt ? "\"refresh_token\":\"" : "", rt ? rt->value : "", rt ? "\"," : "");
    send_reply(fd, 200, NULL, "Cache-Control: no-store\r\n", body);
}

/* form value, "" if absent */
static const char *pv(const apr_array_header_t *f, const char *name)
{
    const char *v = ca_http_param_get(f, name);
    return v ? v : "";
}

static void mini_sandbox(apr_pool_t *p, int fd, const rec_t *rq)
{
    apr_array_header_t *f = NULL;
    const char *v, *path = rq->target;

    if (strcmp(rq->method, "POST") == 0
        && ca_http_parse_form(p, rq->body, rq->blen, &f, NULL) != APR_SUCCESS) {
        oauth_error(fd, 400, "invalid_request");
        return;
    }
    if (strcmp(rq->method, "POST") == 0 && strcmp(path, "/oauth/authorize") == 0) {
        grant_t *c;
        const char *redirect = ca_http_param_get(f, "redirect_uri");
        const char *state = ca_http_param_get(f, "state");

        if (!redirect || !state
            || strcmp(pv(f, "client_id"), "sandbox-client") != 0
            || strcmp(pv(f, "response_type"), "code") != 0
            || strcmp(pv(f, "code_challenge_method"), "S256") != 0
            || strcmp(pv(f, "scope"), "read write") != 0
            || strcmp(pv(f, "decision"), "approve") != 0
            || strcmp(pv(f, "user"), "demo") != 0
            || (v = ca_http_param_get(f, "code_challenge")) == NULL || strlen(v) != 43
            || (c = grant_new(1, srv.seq + 1000)) == NULL) {
            send_reply(fd, 400, "text/html", NULL, "bad authorize request");
            return;
        }
        apr_cpystrn(c->challenge, v, sizeof(c->challenge));
        apr_cpystrn(c->redirect, redirect, sizeof(c->redirect));
        send_reply(fd, 302, "text/html", apr_psprintf(p, "Location: %s%scode=%s&state=%s\r\n",
                   redirect, strchr(redirect, '?') ? "&" : "?", c->value,
                   ca_http_url_encode(p, state)), "");
        return;
    }
    if (strcmp(rq->method, "POST") == 0 && strcmp(path, "/oauth/token") == 0) {
        const char *gt = ca_http_param_get(f, "grant_type");
        grant_t *g;

        if (!basic_ok(p, rq->headers)) {
            oauth_error(fd, 401, "invalid_client");
            return;
        }
        if (gt && strcmp(gt, "authorization_code") == 0) {
            const char *verifier = ca_http_param_get(f, "code_verifier");
            const char *ch;

            g = grant_find(ca_http_param_get(f, "code"), 1);
            if (g == NULL || g->state != 0) {
                if (g) {
                    family_revoke(g->family);
                }
                oauth_error(fd, 400, "invalid_grant");
                return;
            }
            g->state = 1;
            ch = verifier ? ca_pkce_challenge_s256(p, verifier) : NULL;
            if (!ch || strcmp(ch, g->challenge) != 0
                || strcmp(pv(f, "redirect_uri"), g->redirect) != 0) {
                oauth_error(fd, 400, "invalid_grant");
                return;
            }
            issue(fd, g->family, 1);
            return;
        }
        if (gt && strcmp(gt, "refresh_token") == 0) {
            g = grant_find(ca_http_param_get(f, "refresh_token"), 3);
            if (g == NULL || g->state != 0) {
                if (g && g->state == 1) {
                    family_revoke(g->family);
                }
                oauth_error(fd, 400, "invalid_grant");
                return;
            }
            g->state = 1;
            issue(fd, g->family, 1);
            return;
        }
        if (gt && strcmp(gt, "client_credentials") == 0) {
            issue(fd, srv.seq + 2000, 0);
            return;
        }
        oauth_error(fd, 400, gt ? "unsupported_grant_type" : "invalid_request");
        return;
    }
    if (strcmp(rq->method, "POST") == 0 && strcmp(path, "/oauth/revoke") == 0) {
        grant_t *g;

        if (!basic_ok(p, rq->headers)) {
            oauth_error(fd, 401, "invalid_client");
            return;
        }
        v = ca_http_param_get(f, "token");
        if (v == NULL) {
            oauth_error(fd, 400, "invalid_request");
            return;
        }
        if ((g = grant_find(v, 3)) != NULL) {
            family_revoke(g->family);
        }
        else if ((g = grant_find(v, 2)) != NULL) {
            g->state = 2;
        }
        send_reply(fd, 200, NULL, NULL, "");
        return;
    }
    if (strcmp(rq->method, "GET") == 0 && strcmp(path, "/api/v1/me") == 0) {
        const char *h = header_in(p, rq->headers, "Authorization");
        grant_t *g = (h && strncmp(h, "Bearer ", 7) == 0) ? grant_find(h + 7, 2) : NULL;

        if (g == NULL || g->state != 0) {
            send_reply(fd, 401, NULL, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
                       "{\"error\":\"invalid_token\"}");
            return;
        }
        send_reply(fd, 200, NULL, NULL, "{\"data\":{\"id\":\"usr_demo\",\"login\":\"demo\","
                   "\"name\":\"Demo User\",\"email\":\"demo@example.com\","
                   "\"account_id\":\"acc_demo\"}}");
        return;
    }
    send_reply(fd, 404, NULL, NULL, "{\"error\":\"not_found\"}");
}

/* ---- request handling ------------------------------------------------------------------ */

static void serve(int fd)
{
    char *buf = malloc(MAX_HDRS + MAX_BODY + 1);
    size_t have = 0, hlen, clen = 0;
    char *end = NULL, *sp1, *sp2;
    const char *cl;
    reply_t rp;
    int scripted = 0;
    apr_pool_t *p;
    rec_t *rq = &srv.last;

    apr_pool_create(&p, srv.pool);
    while (end == NULL && have < MAX_HDRS) {
        ssize_t n = recv(fd, buf + have, MAX_HDRS - have, 0);
        if (n <= 0) {
            goto out;
        }
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (end == NULL) {
        goto out;
    }
    hlen = (size_t)(end - buf) + 4;
    end[2] = '\0';              /* header block ends with its last CRLF */
    if ((cl = header_in(p, buf, "Content-Length")) != NULL) {
        clen = strtoul(cl, NULL, 10);
    }
    if (clen > MAX_BODY) {
        goto out;
    }
    while (have < hlen + clen) {
        ssize_t n = recv(fd, buf + have, hlen + clen - have, 0);
        if (n <= 0) {
            goto out;
        }
        have += (size_t)n;
    }

    pthread_mutex_lock(&srv.mu);
    memset(rq->method, 0, sizeof(rq->method));
    sp1 = strchr(buf, ' ');
    sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 && sp2) {
        apr_cpystrn(rq->method, buf, (size_t)(sp1 - buf) + 1 < sizeof(rq->method)
                    ? (size_t)(sp1 - buf) + 1 : sizeof(rq->method));
        apr_cpystrn(rq->target, sp1 + 1, (size_t)(sp2 - sp1) < sizeof(rq->target)
                    ? (size_t)(sp2 - sp1) : sizeof(rq->target));
    }
    apr_cpystrn(rq->headers, buf, sizeof(rq->headers));
    free(rq->body);
    rq->body = malloc(clen + 1);
    memcpy(rq->body, buf + hlen, clen);
    rq->body[clen] = '\0';
    rq->blen = clen;
    srv.requests++;
    if (srv.nreplies > 0) {
        rp = srv.replies[0];
        memmove(&srv.replies[0], &srv.replies[1], sizeof(reply_t) * (size_t)--srv.nreplies);
        scripted = 1;
    }
    pthread_mutex_unlock(&srv.mu);

    if (!scripted) {
        pthread_mutex_lock(&srv.mu);
        mini_sandbox(p, fd, rq);
        pthread_mutex_unlock(&srv.mu);
        goto out;
    }
    if (rp.delay_ms > 0) {
        wait_or_hangup(fd, rp.delay_ms);
    }
    if (!rp.drop) {
        send_reply(fd, rp.status, rp.ctype, rp.extra, rp.body);
    }

out:
    free(buf);
    apr_pool_destroy(p);
    close(fd);
}

static void *server_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd pfd;
        int fd;

        pfd.fd = srv.lfd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 100) < 0 && errno != EINTR) {
            break;
        }
        pthread_mutex_lock(&srv.mu);
        if (srv.stop) {
            pthread_mutex_unlock(&srv.mu);
            break;
        }
        pthread_mutex_unlock(&srv.mu);
        if (!(pfd.revents & POLLIN)) {
            continue;
        }
        fd = accept(srv.lfd, NULL, NULL);
        if (fd >= 0) {
            serve(fd);
        }
    }
    return NULL;
}

static int server_start(void)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    int one = 1;

    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.mu, NULL);
    if (apr_pool_create(&srv.pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(srv.lfd, 16) < 0
        || getsockname(srv.lfd, (struct sockaddr *)&sa, &slen) < 0) {
        return -1;
    }
    srv.port = ntohs(sa.sin_port);
    return pthread_create(&srv.thr, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static void server_stop(void)
{
    pthread_mutex_lock(&srv.mu);
    srv.stop = 1;
    pthread_mutex_unlock(&srv.mu);
    pthread_join(srv.thr, NULL);
    close(srv.lfd);
    free(srv.last.body);
    apr_pool_destroy(srv.pool);
}

static void queue_reply(int status, const char *ctype, const char *extra, const char *body,
                        int delay_ms, int drop)
{
    reply_t *r;

    pthread_mutex_lock(&srv.mu);
    assert_true(srv.nreplies < MAX_REPLIES);
    r = &srv.replies[srv.nreplies++];
    r->status = status;
    r->ctype = ctype;
    r->extra = extra;
    r->body = body;
    r->delay_ms = delay_ms;
    r->drop = drop;
    pthread_mutex_unlock(&srv.mu);
}

static void reply(int status, const char *body)
{
    queue_reply(status, NULL, NULL, body, 0, 0);
}

static void clear_replies(void)
{
    pthread_mutex_lock(&srv.mu);
    srv.nreplies = 0;
    pthread_mutex_unlock(&srv.mu);
}

/* the last request, copied into p */
typedef struct {
    const char *method;
    const char *target;
    const char *headers;
    const char *body;
    apr_size_t blen;
} seen_t;

static seen_t last_request(apr_pool_t *p)
{
    seen_t s;

    pthread_mutex_lock(&srv.mu);
    s.method = apr_pstrdup(p, srv.last.method);
    s.target = apr_pstrdup(p, srv.last.target);
    s.headers = apr_pstrdup(p, srv.last.headers);
    s.body = srv.last.body ? apr_pstrmemdup(p, srv.last.body, srv.last.blen) : "";
    s.blen = srv.last.body ? srv.last.blen : 0;
    pthread_mutex_unlock(&srv.mu);
    return s;
}

static int request_count(void)
{
    int n;

    pthread_mutex_lock(&srv.mu);
    n = srv.requests;
    pthread_mutex_unlock(&srv.mu);
    return n;
}

static apr_array_header_t *seen_form(apr_pool_t *p, const seen_t *s)
{
    apr_array_header_t *f = NULL;

    assert_int_equal(ca_http_parse_form(p, s->body, s->blen, &f, NULL), APR_SUCCESS);
    return f;
}

static void assert_param(const apr_array_header_t *f, const char *name, const char *want)
{
    const char *v = ca_http_param_get(f, name);

    if (want == NULL) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_string_equal(v, want);
}

/* user:password of a Basic header, decoded from base64 (not from form encoding) */
static const char *basic_pair(apr_pool_t *p, const seen_t *s)
{
    const char *h = header_in(p, s->headers, "Authorization");
    char *dec;
    int len;

    assert_non_null(h);
    assert_true(strncmp(h, "Basic ", 6) == 0);
    dec = apr_palloc(p, (apr_size_t)apr_base64_decode_len(h + 6) + 1);
    len = apr_base64_decode(dec, h + 6);
    dec[len] = '\0';
    return dec;
}

static void no_secret(const char *err)
{
    int i;

    if (err == NULL) {
        return;
    }
    for (i = 0; secrets[i] != NULL; i++) {
        if (strstr(err, secrets[i]) != NULL) {
            fail_msg("perr \"%s\" contains the secret \"%s\"", err, secrets[i]);
        }
    }
}

/* ---- fixtures -------------------------------------------------------------------------- */

typedef struct {
    apr_pool_t *p;
    ca_http_options_t opts;
    ca_oauth_client_t client;
    ca_oauth_ctx_t ctx;
    apr_int64_t now;
} fx_t;

static int fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL || apr_pool_create(&fx->p, gpool) != APR_SUCCESS) {
        return -1;
    }
    fx->opts.allow_plain_http = 1;
    fx->opts.connect_timeout_ms = 2000;
    fx->opts.timeout_ms = 5000;
    fx->opts.user_agent = "mod_clientapi-test";
    fx->client.client_id = "my client:1";
    fx->client.client_secret = SECRET;
    fx->ctx.client = &fx->client;
    fx->ctx.http = hclient;
    fx->ctx.http_opts = &fx->opts;
    fx->now = 1800000000;
    clear_replies();
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *fx = *state;

    clear_replies();
    apr_pool_destroy(fx->p);
    free(fx);
    return 0;
}

/* a provider definition with the given auth object, extra api keys and resources (NULL:
 * one REST resource), base URL on the scripted server */
static const ca_provider_t *def_full(apr_pool_t *p, const char *auth, const char *api_extra,
                                     const char *resources)
{
    const ca_provider_t *def = NULL;
    const char *err = NULL;
    const char *json = apr_psprintf(p,
        "{\"format\":1,\"name\":\"t\",\"auth\":%s,"
        "\"api\":{\"base_url\":\"http://127.0.0.1:%d/api\",\"local_sandbox\":true%s},"
        "\"pagination\":{\"style\":\"none\"},"
        "\"company_list\":{\"source\":\"identity\"},\"resources\":%s}",
        auth, srv.port, api_extra ? api_extra : "", resources ? resources
        : "{\"things\":{\"list\":{\"path\":\"/things\",\"records\":\"data\"},"
          "\"scope\":{\"company\":{\"kind\":\"connection\"}}}}");

    if (ca_provider_load_buffer(p, "test.json", json, strlen(json), &def, &err)
        != APR_SUCCESS) {
        fail_msg("provider definition: %s", err);
    }
    return def;
}

static const ca_provider_t *def_with(apr_pool_t *p, const char *auth, const char *api_extra)
{
    return def_full(p, auth, api_extra, NULL);
}

#define AUTH_PKCE \
    "{\"mode\":\"oauth2_code_pkce\",\"authorize_url\":\"/oauth/authorize\"," \
    "\"token_url\":\"/oauth/token\",\"revoke_url\":\"/oauth/revoke\"," \
    "\"scopes\":[\"read\",\"write\"],\"refresh_rotates\":true," \
    "\"identity\":{\"path\":\"/me\",\"id\":\"data.account_id\",\"label\":\"data.name\"}}"

static const char *provider_dir(void)
{
    const char *d = getenv("CA_PROVIDER_DIR");
    return d && *d ? d : "conf/providers";
}

/* conf/providers/sandbox.json with its base moved to base + "/api/v1" */
static const ca_provider_t *sandbox_def(apr_pool_t *p, const char *base)
{
    const ca_provider_t *def = NULL, *out = NULL;
    ca_provider_override_t ov;
    const char *err = NULL;

    if (ca_provider_load_file(p, apr_pstrcat(p, provider_dir(), "/sandbox.json", NULL),
                              &def, &err) != APR_SUCCESS) {
        fail_msg("sandbox.json: %s", err);
    }
    memset(&ov, 0, sizeof(ov));
    ov.base_url = apr_pstrcat(p, base, "/api/v1", NULL);
    ov.local_sandbox = 1;
    if (ca_provider_override_base(p, def, &ov, &out, &err) != APR_SUCCESS) {
        fail_msg("override: %s", err);
    }
    return out;
}

static const char *server_url(apr_pool_t *p)
{
    return apr_psprintf(p, "http://127.0.0.1:%d", srv.port);
}

static const char *challenge_for(apr_pool_t *p, const char *verifier)
{
    const char *c = ca_pkce_challenge_s256(p, verifier);

    assert_non_null(c);
    return c;
}

/* ---- authorize URL --------------------------------------------------------------------- */

static void test_authorize_url_pkce(void **state)
{
    fx_t *fx = *state;
    const char *url = NULL, *err = NULL, *ch = challenge_for(fx->p, VERIFIER);
    const char *want;

    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, "http://127.0.0.1:9/cb?x=1&y",
                                            "st/ate+1", ch, &url, &err), APR_SUCCESS);
    want = apr_psprintf(fx->p, "http://127.0.0.1:%d/oauth/authorize?response_type=code"
                        "&client_id=my%%20client%%3A1"
                        "&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A9%%2Fcb%%3Fx%%3D1%%26y"
                        "&scope=read%%20write&state=st%%2Fate%%2B1&code_challenge=%s"
                        "&code_challenge_method=S256", srv.port, ch);
    assert_string_equal(url, want);

    /* PKCE mode: a challenge is required and must look like one */
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, "http://127.0.0.1:9/cb", "s",
                                            NULL, &url, &err), APR_EINVAL);
    assert_null(url);
    no_secret(err);
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, "http://127.0.0.1:9/cb", "s",
                                            "short", &url, &err), APR_EINVAL);
    /* state and redirect_uri are required */
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, "http://127.0.0.1:9/cb", "",
                                            ch, &url, &err), APR_EINVAL);
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, NULL, "s", ch, &url, &err),
                     APR_EINVAL);
    /* and a client id */
    fx->client.client_id = NULL;
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, "http://127.0.0.1:9/cb", "s",
                                            ch, &url, &err), APR_EINVAL);
}

static void test_authorize_url_plain(void **state)
{
    fx_t *fx = *state;
    const char *url = NULL, *err = NULL;

    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"oauth2_code\","
        "\"authorize_url\":\"https://go.example.com/oauth/authorize?prompt=consent\","
        "\"token_url\":\"/oauth/token\",\"scopes\":[\"read_jobs\",\"read:customers\"],"
        "\"scope_separator\":\",\","
        "\"identity\":{\"path\":\"/me\",\"id\":\"id\"}}", NULL);
    /* a challenge given to a non-PKCE provider is not sent */
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, "https://app.example/cb",
                                            "abc", challenge_for(fx->p, VERIFIER), &url,
                                            &err), APR_SUCCESS);
    assert_string_equal(url, "https://go.example.com/oauth/authorize?prompt=consent"
                        "&response_type=code&client_id=my%20client%3A1"
                        "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
                        "&scope=read_jobs%2Cread%3Acustomers&state=abc");
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, "https://app.example/cb",
                                            "abc", NULL, &url, &err), APR_SUCCESS);
    assert_null(strstr(url, "code_challenge"));

    /* no scopes: no scope parameter */
    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"oauth2_code\",\"authorize_url\":\"/a\",\"token_url\":\"/t\","
        "\"identity\":{\"path\":\"/me\",\"id\":\"id\"}}", NULL);
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, "https://app.example/cb",
                                            "abc", NULL, &url, &err), APR_SUCCESS);
    assert_null(strstr(url, "scope="));

    /* client credentials providers have no authorize step */
    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"client_credentials\",\"token_url\":\"/t\","
        "\"identity\":{\"id_template\":\"x\"}}", NULL);
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, "https://app.example/cb",
                                            "abc", NULL, &url, &err), APR_EINVAL);
    no_secret(err);
}

/* ---- token requests -------------------------------------------------------------------- */

static void test_exchange_basic_form(void **state)
{
    fx_t *fx = *state;
    ca_oauth_token_t *tok = NULL;
    const char *err = NULL;
    apr_array_header_t *f;
    seen_t s;

    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    reply(200, "{\"access_token\":\"" ACCESS "\",\"token_type\":\"Bearer\","
          "\"expires_in\":3600,\"refresh_token\":\"rt-new-1\",\"scope\":\"read write\"}");
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, CODE, "http://127.0.0.1:9/cb",
                                            VERIFIER, fx->now, &tok, &err), APR_SUCCESS);
    assert_string_equal(tok->access_token, ACCESS);
    assert_string_equal(tok->refresh_token, "rt-new-1");
    assert_string_equal(tok->token_type, "Bearer");
    assert_string_equal(tok->scope, "read write");
    assert_int_equal(tok->expires_in, 3600);
    assert_true(tok->expires_at == fx->now + 3600);

    s = last_request(fx->p);
    assert_string_equal(s.method, "POST");
    assert_string_equal(s.target, "/oauth/token");
    assert_string_equal(header_in(fx->p, s.headers, "Content-Type"),
                        "application/x-www-form-urlencoded");
    assert_string_equal(header_in(fx->p, s.headers, "Accept"), "application/json");
    assert_string_equal(header_in(fx->p, s.headers, "User-Agent"), "mod_clientapi-test");
    /* RFC 6749 2.3.1: id and secret form-encoded, then Basic */
    assert_string_equal(basic_pair(fx->p, &s),
                        "my+client%3A1:s3cr%26t%2F%2B%3D+Zq9-topsecret");
    f = seen_form(fx->p, &s);
    assert_int_equal(f->nelts, 4);
    assert_param(f, "grant_type", "authorization_code");
    assert_param(f, "code", CODE);
    assert_param(f, "redirect_uri", "http://127.0.0.1:9/cb");
    assert_param(f, "code_verifier", VERIFIER);
    assert_param(f, "client_id", NULL);
    assert_param(f, "client_secret", NULL);
    /* form encoding on the wire: "/" and ":" escaped */
    assert_non_null(strstr(s.body, "redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"));

    /* PKCE provider: a verifier is required */
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, CODE, "http://127.0.0.1:9/cb",
                                            NULL, fx->now, &tok, &err), APR_EINVAL);
    assert_null(tok);
    no_secret(err);
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, CODE, "http://127.0.0.1:9/cb",
                                            "short", fx->now, &tok, &err), APR_EINVAL);
    no_secret(err);
}

static void test_exchange_body_json(void **state)
{
    fx_t *fx = *state;
    ca_oauth_token_t *tok = NULL;
    const char *err = NULL;
    ca_json_t *root;
    seen_t s;

    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"oauth2_code\",\"authorize_url\":\"/a\",\"token_url\":\"/tok\","
        "\"token_auth\":\"body\",\"token_request\":\"json\","
        "\"identity\":{\"path\":\"/me\",\"id\":\"id\"}}", NULL);
    reply(201, "{\"access_token\":\"" ACCESS "\",\"token_type\":\"bearer\","
          "\"expires_in\":\"600\"}");
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, CODE, "https://app.example/cb",
                                            VERIFIER, fx->now, &tok, &err), APR_SUCCESS);
    assert_null(tok->refresh_token);
    assert_null(tok->scope);
    assert_true(tok->expires_at == fx->now + 600);

    s = last_request(fx->p);
    assert_string_equal(s.target, "/tok");
    assert_null(header_in(fx->p, s.headers, "Authorization"));
    assert_string_equal(header_in(fx->p, s.headers, "Content-Type"), "application/json");
    root = ca_json_parse_str(fx->p, s.body, &err);
    assert_non_null(root);
    assert_int_equal(ca_json_size(root), 5);
    assert_string_equal(ca_json_get_string(root, "grant_type"), "authorization_code");
    assert_string_equal(ca_json_get_string(root, "code"), CODE);
    assert_string_equal(ca_json_get_string(root, "redirect_uri"), "https://app.example/cb");
    assert_string_equal(ca_json_get_string(root, "client_id"), "my client:1");
    assert_string_equal(ca_json_get_string(root, "client_secret"), SECRET);
    /* not a PKCE provider: the verifier stays home */
    assert_null(ca_json_get(root, "code_verifier"));

    /* body auth, form encoding, public client (no secret) */
    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"oauth2_code\",\"authorize_url\":\"/a\",\"token_url\":\"/tok\","
        "\"token_auth\":\"body\",\"identity\":{\"path\":\"/me\",\"id\":\"id\"}}", NULL);
    fx->client.client_secret = NULL;
    reply(200, "{\"access_token\":\"" ACCESS "\"}");
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, CODE, "https://app.example/cb",
                                            NULL, fx->now, &tok, &err), APR_SUCCESS);
    s = last_request(fx->p);
    assert_param(seen_form(fx->p, &s), "client_id", "my client:1");
    assert_param(seen_form(fx->p, &s), "client_secret", NULL);
    assert_non_null(strstr(s.body, "client_id=my+client%3A1"));
}

static void test_refresh_rotation(void **state)
{
    fx_t *fx = *state;
    ca_oauth_token_t *tok = NULL;
    const char *err = NULL;
    apr_array_header_t *f;
    seen_t s;

    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    reply(200, "{\"access_token\":\"at-2\",\"token_type\":\"Bearer\",\"expires_in\":60,"
          "\"refresh_token\":\"rt-rotated-2\"}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_string_equal(tok->access_token, "at-2");
    assert_string_equal(tok->refresh_token, "rt-rotated-2");
    assert_true(tok->expires_at == fx->now + 60);
    s = last_request(fx->p);
    f = seen_form(fx->p, &s);
    assert_int_equal(f->nelts, 2);
    assert_param(f, "grant_type", "refresh_token");
    assert_param(f, "refresh_token", REFRESH);
    assert_string_equal(basic_pair(fx->p, &s),
                        "my+client%3A1:s3cr%26t%2F%2B%3D+Zq9-topsecret");

    /* no refresh token in the answer: NULL = keep the stored one */
    reply(200, "{\"access_token\":\"at-3\",\"refresh_token\":null}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_string_equal(tok->access_token, "at-3");
    assert_null(tok->refresh_token);
    assert_int_equal(tok->expires_in, -1);
    assert_true(tok->expires_at == 0);   /* no expires_in, no default */

    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, "", fx->now, &tok, &err), APR_EINVAL);
    no_secret(err);
}

static void test_refresh_no_rotation_default_expiry(void **state)
{
    fx_t *fx = *state;
    ca_oauth_token_t *tok = NULL;
    const char *err = NULL;

    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"oauth2_code\",\"authorize_url\":\"/a\",\"token_url\":\"/tok\","
        "\"default_expires_in\":1800,\"identity\":{\"path\":\"/me\",\"id\":\"id\"}}", NULL);
    reply(200, "{\"access_token\":\"at-4\",\"token_type\":\"Bearer\"}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_null(tok->refresh_token);
    assert_true(tok->expires_at == fx->now + 1800);

    /* expires_in wins over the default; absurd values are clamped, bad ones ignored */
    reply(200, "{\"access_token\":\"at-5\",\"expires_in\":7200}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_true(tok->expires_at == fx->now + 7200);
    reply(200, "{\"access_token\":\"at-5\",\"expires_in\":-5}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_true(tok->expires_at == fx->now + 1800);
    reply(200, "{\"access_token\":\"at-5\",\"expires_in\":1e12}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_true(tok->expires_at == fx->now + 315360000);

    /* scope as an array is joined */
    reply(200, "{\"access_token\":\"at-6\",\"scope\":[\"a\",\"b\"]}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_string_equal(tok->scope, "a b");

    /* a client credentials provider has no refresh */
    fx->ctx.def = def_with(fx->p, "{\"mode\":\"client_credentials\",\"token_url\":\"/t\","
                           "\"identity\":{\"id_template\":\"x\"}}", NULL);
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_EINVAL);
    no_secret(err);
}

static void test_client_credentials(void **state)
{
    fx_t *fx = *state;
    ca_oauth_token_t *tok = NULL;
    const char *err = NULL;
    apr_array_header_t *f;
    seen_t s;

    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"client_credentials\",\"token_url\":\"/connect/token\","
        "\"token_auth\":\"body\",\"scopes\":[\"api.read\",\"api.write\"],"
        "\"scope_separator\":\" \",\"credentials_at_connect\":true,"
        "\"connect_fields\":[{\"name\":\"tenant\",\"label\":\"Tenant\"}],"
        "\"identity\":{\"id_template\":\"{tenant}\","
        "\"label_template\":\"Tenant {tenant}\"}}", NULL);
    fx->client.client_id = "cid-tenant";
    fx->client.client_secret = SECRET2;
    reply(200, "{\"access_token\":\"" ACCESS "\",\"token_type\":\"Bearer\","
          "\"expires_in\":900}");
    assert_int_equal(ca_oauth_client_credentials(fx->p, &fx->ctx, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_string_equal(tok->access_token, ACCESS);
    assert_null(tok->refresh_token);
    assert_true(tok->expires_at == fx->now + 900);
    s = last_request(fx->p);
    assert_string_equal(s.target, "/connect/token");
    assert_null(header_in(fx->p, s.headers, "Authorization"));
    f = seen_form(fx->p, &s);
    assert_int_equal(f->nelts, 4);
    assert_param(f, "grant_type", "client_credentials");
    assert_param(f, "scope", "api.read api.write");
    assert_param(f, "client_id", "cid-tenant");
    assert_param(f, "client_secret", SECRET2);
    assert_non_null(strstr(s.body, "scope=api.read+api.write"));

    /* code flows are refused for it and vice versa */
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, CODE, "https://a/cb", VERIFIER,
                                            fx->now, &tok, &err), APR_EINVAL);
    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    assert_int_equal(ca_oauth_client_credentials(fx->p, &fx->ctx, fx->now, &tok, &err),
                     APR_EINVAL);
    no_secret(err);
}

static void test_revoke(void **state)
{
    fx_t *fx = *state;
    const char *err = NULL;
    apr_array_header_t *f;
    seen_t s;

    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    reply(200, "");
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, REFRESH, "refresh_token", &err),
                     APR_SUCCESS);
    s = last_request(fx->p);
    assert_string_equal(s.method, "POST");
    assert_string_equal(s.target, "/oauth/revoke");
    f = seen_form(fx->p, &s);
    assert_int_equal(f->nelts, 2);
    assert_param(f, "token", REFRESH);
    assert_param(f, "token_type_hint", "refresh_token");
    assert_string_equal(basic_pair(fx->p, &s),
                        "my+client%3A1:s3cr%26t%2F%2B%3D+Zq9-topsecret");

    reply(200, "{}");
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, ACCESS, NULL, &err), APR_SUCCESS);
    s = last_request(fx->p);
    assert_param(seen_form(fx->p, &s), "token_type_hint", NULL);

    /* RFC 7009 2.2.1: 503 = try later */
    queue_reply(503, NULL, "Retry-After: 5\r\n", "{\"error\":\"temporarily_unavailable\"}",
                0, 0);
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, ACCESS, "access_token", &err),
                     CA_OAUTH_ETEMPORARY);
    no_secret(err);
    reply(401, "{\"error\":\"invalid_client\"}");
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, ACCESS, "access_token", &err),
                     CA_OAUTH_EGRANT);
    assert_non_null(strstr(err, "invalid_client"));
    no_secret(err);
    reply(400, "{\"error\":\"unsupported_token_type\"}");
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, ACCESS, "access_token", &err),
                     CA_OAUTH_EREFUSED);
    assert_non_null(strstr(err, "unsupported_token_type"));
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, ACCESS, "id_token", &err), APR_EINVAL);
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, "", NULL, &err), APR_EINVAL);

    /* no revoke_url */
    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"oauth2_code\",\"authorize_url\":\"/a\",\"token_url\":\"/tok\","
        "\"identity\":{\"path\":\"/me\",\"id\":\"id\"}}", NULL);
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, ACCESS, NULL, &err), APR_ENOTIMPL);
    no_secret(err);
}

/* ---- identity --------------------------------------------------------------------------- */

static void test_identity_rest(void **state)
{
    fx_t *fx = *state;
    const char *id = NULL, *label = NULL, *err = NULL;
    seen_t s;

    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    fx->ctx.client = NULL;
    reply(200, "{\"data\":{\"id\":\"usr_1\",\"account_id\":\"acc_1\",\"name\":\"Demo User\"}}");
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, ACCESS, &id, &label, &err),
                     APR_SUCCESS);
    assert_string_equal(id, "acc_1");
    assert_string_equal(label, "Demo User");
    s = last_request(fx->p);
    assert_string_equal(s.method, "GET");
    assert_string_equal(s.target, "/api/v1/me");
    assert_string_equal(header_in(fx->p, s.headers, "Authorization"), "Bearer " ACCESS);
    assert_string_equal(header_in(fx->p, s.headers, "Accept"), "application/json");

    /* a token the provider refuses: grant dead */
    reply(401, "{\"error\":\"invalid_token\"}");
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, ACCESS, &id, &label, &err),
                     CA_OAUTH_EGRANT);
    assert_null(id);
    assert_non_null(strstr(err, "invalid_token"));
    no_secret(err);
    /* rate limited: temporary */
    queue_reply(429, "text/plain", "Retry-After: 3\r\n", "slow down", 0, 0);
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, ACCESS, &id, &label, &err),
                     CA_OAUTH_ETEMPORARY);
    /* answer without the id */
    reply(200, "{\"data\":{\"name\":\"x\"}}");
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, ACCESS, &id, &label, &err),
                     CA_OAUTH_EMALFORMED);
    no_secret(err);
    reply(200, "<html>");
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, ACCESS, &id, &label, &err),
                     CA_OAUTH_EMALFORMED);
    /* a credential that cannot go into a header */
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, "a\r\nb", &id, &label, &err),
                     APR_EINVAL);
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, NULL, &id, &label, &err),
                     APR_EINVAL);
}

static void test_identity_api_key(void **state)
{
    fx_t *fx = *state;
    const char *id = NULL, *label = NULL, *err = NULL;
    apr_table_t *vars = apr_table_make(fx->p, 2);
    seen_t s;

    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"api_key\",\"header\":\"X-Api-Key\",\"scheme\":\"\","
        "\"api_key_prefix\":\"ccmd_\",\"connect_fields\":[{\"name\":\"region\","
        "\"label\":\"Region\"}],"
        "\"identity\":{\"path\":\"/accounts/{region}/me\",\"query\":{\"fields\":\"{region} all\"},"
        "\"id\":\"data.id\",\"label\":[\"data.firstName\",\"data.middle\",\"data.lastName\"]}}",
        ",\"headers\":{\"X-Deployment\":\"{app}\"},\"config_params\":[\"app\"]");
    apr_table_set(vars, "region", "eu west");
    apr_table_set(vars, "app", "demo-app");
    reply(200, "{\"data\":{\"id\":4711,\"firstName\":\"Dana\",\"lastName\":\"Demo\"}}");
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, vars, API_KEY, &id, &label, &err),
                     APR_SUCCESS);
    assert_string_equal(id, "4711");
    assert_string_equal(label, "Dana Demo");
    s = last_request(fx->p);
    assert_string_equal(s.target, "/api/accounts/eu%20west/me?fields=eu%20west%20all");
    assert_string_equal(header_in(fx->p, s.headers, "X-Api-Key"), API_KEY);
    assert_null(header_in(fx->p, s.headers, "Authorization"));
    assert_string_equal(header_in(fx->p, s.headers, "X-Deployment"), "demo-app");

    /* the key is refused */
    reply(403, "{\"error\":{\"code\":\"invalid_api_key\"}}");
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, vars, API_KEY, &id, &label, &err),
                     CA_OAUTH_EGRANT);
    no_secret(err);
    /* a missing placeholder value is a configuration error, no request is made */
    {
        int before = request_count();
        apr_table_unset(vars, "app");
        assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, vars, API_KEY, &id, &label,
                                           &err), APR_EINVAL);
        assert_non_null(strstr(err, "{app}"));
        assert_int_equal(request_count(), before);
    }
    /* api_key providers have no revocation */
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, API_KEY, NULL, &err), APR_ENOTIMPL);
}

static void test_identity_graphql(void **state)
{
    fx_t *fx = *state;
    const char *id = NULL, *label = NULL, *err = NULL;
    ca_json_t *root;
    seen_t s;

    fx->ctx.def = def_full(fx->p,
        "{\"mode\":\"oauth2_code\",\"authorize_url\":\"/a\",\"token_url\":\"/t\","
        "\"identity\":{\"graphql\":\"query { account { id name } }\","
        "\"id\":\"data.account.id\",\"label\":\"data.account.name\"}}",
        ",\"style\":\"graphql\",\"graphql_path\":\"/graphql\","
        "\"headers\":{\"X-JOBBER-GRAPHQL-VERSION\":\"2025-01-20\"}",
        "{\"things\":{\"list\":{\"graphql\":\"query { things { id } }\","
        "\"records\":\"data.things\"},\"scope\":{\"company\":{\"kind\":\"connection\"}}}}");
    reply(200, "{\"data\":{\"account\":{\"id\":\"Z2lkOi8v\",\"name\":\"Acme\"}}}");
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, ACCESS, &id, &label, &err),
                     APR_SUCCESS);
    assert_string_equal(id, "Z2lkOi8v");
    assert_string_equal(label, "Acme");
    s = last_request(fx->p);
    assert_string_equal(s.method, "POST");
    assert_string_equal(s.target, "/api/graphql");
    assert_string_equal(header_in(fx->p, s.headers, "X-JOBBER-GRAPHQL-VERSION"), "2025-01-20");
    assert_string_equal(header_in(fx->p, s.headers, "Content-Type"), "application/json");
    root = ca_json_parse_str(fx->p, s.body, &err);
    assert_non_null(root);
    assert_string_equal(ca_json_get_string(root, "query"), "query { account { id name } }");
    assert_int_equal(ca_json_type(ca_json_get(root, "variables")), CA_JSON_OBJECT);
}

static void test_identity_templates(void **state)
{
    fx_t *fx = *state;
    const char *id = NULL, *label = NULL, *err = NULL;
    apr_table_t *vars = apr_table_make(fx->p, 2);
    int before = request_count();

    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"client_credentials\",\"token_url\":\"/t\","
        "\"connect_fields\":[{\"name\":\"tenant\",\"label\":\"Tenant\"}],"
        "\"identity\":{\"id_template\":\"{tenant}\","
        "\"label_template\":\"ServiceTitan tenant {tenant}\"}}", NULL);
    apr_table_set(vars, "tenant", "12345");
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, vars, NULL, &id, &label, &err),
                     APR_SUCCESS);
    assert_string_equal(id, "12345");
    assert_string_equal(label, "ServiceTitan tenant 12345");
    assert_int_equal(request_count(), before);
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, NULL, &id, &label, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "{tenant}"));
}

/* ---- expiry ----------------------------------------------------------------------------- */

static const char *make_jwt(apr_pool_t *p, const char *payload)
{
    const char *hdr = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";

    return apr_pstrcat(p, ca_b64url_encode(p, hdr, strlen(hdr)), ".",
                       ca_b64url_encode(p, payload, strlen(payload)), ".c2lnbmF0dXJl", NULL);
}

static void test_expiry_jwt(void **state)
{
    fx_t *fx = *state;
    ca_oauth_token_t *tok = NULL;
    const char *err = NULL, *jwt;
    apr_int64_t exp = 0;

    jwt = make_jwt(fx->p, apr_psprintf(fx->p, "{\"sub\":\"u1\",\"exp\":%" APR_INT64_T_FMT
                                       ",\"iat\":1}", fx->now + 3599));
    assert_int_equal(ca_oauth_jwt_exp(fx->p, jwt, &exp), APR_SUCCESS);
    assert_true(exp == fx->now + 3599);

    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"oauth2_code\",\"authorize_url\":\"/a\",\"token_url\":\"/t\","
        "\"token_auth\":\"body\",\"expiry_source\":\"jwt_exp\",\"refresh_rotates\":true,"
        "\"default_expires_in\":120,\"identity\":{\"path\":\"/me\",\"id\":\"id\"}}", NULL);
    /* Jobber: no expires_in, the JWT says when */
    reply(200, apr_psprintf(fx->p, "{\"access_token\":\"%s\",\"refresh_token\":\"r2\"}", jwt));
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_true(tok->expires_at == fx->now + 3599);
    /* jwt_exp wins over expires_in */
    reply(200, apr_psprintf(fx->p, "{\"access_token\":\"%s\",\"expires_in\":10}", jwt));
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_true(tok->expires_at == fx->now + 3599);
    /* not a JWT: expires_in, then default_expires_in */
    reply(200, "{\"access_token\":\"opaque\",\"expires_in\":10}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_true(tok->expires_at == fx->now + 10);
    reply(200, "{\"access_token\":\"opaque\"}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_true(tok->expires_at == fx->now + 120);

    /* what is not read as a JWT exp */
    assert_int_equal(ca_oauth_jwt_exp(fx->p, "abc", &exp), APR_NOTFOUND);
    assert_int_equal(ca_oauth_jwt_exp(fx->p, "a.b", &exp), APR_NOTFOUND);
    assert_int_equal(ca_oauth_jwt_exp(fx->p, apr_pstrcat(fx->p, jwt, ".x.y", NULL), &exp),
                     APR_NOTFOUND);                               /* JWE: 5 parts */
    assert_int_equal(ca_oauth_jwt_exp(fx->p, "e30.eyJleHAiOjF9=.c2ln", &exp), APR_NOTFOUND);
    assert_int_equal(ca_oauth_jwt_exp(fx->p, make_jwt(fx->p, "{\"exp\":\"1800000000\"}"),
                                      &exp), APR_NOTFOUND);
    assert_int_equal(ca_oauth_jwt_exp(fx->p, make_jwt(fx->p, "{\"exp\":-1}"), &exp),
                     APR_NOTFOUND);
    assert_int_equal(ca_oauth_jwt_exp(fx->p, make_jwt(fx->p, "{\"exp\":1,\"exp\":2}"), &exp),
                     APR_NOTFOUND);                               /* ambiguous */
    assert_int_equal(ca_oauth_jwt_exp(fx->p, make_jwt(fx->p, "[1]"), &exp), APR_NOTFOUND);
    assert_int_equal(ca_oauth_jwt_exp(fx->p, make_jwt(fx->p, "{\"exp\":1e300}"), &exp),
                     APR_NOTFOUND);
    assert_int_equal(ca_oauth_jwt_exp(fx->p, make_jwt(fx->p, "{\"exp\":1800000000.9}"),
                                      &exp), APR_SUCCESS);
    assert_true(exp == 1800000000);
    assert_int_equal(ca_oauth_jwt_exp(fx->p, NULL, &exp), APR_NOTFOUND);

    /* expiry none: never expires */
    fx->ctx.def = def_with(fx->p,
        "{\"mode\":\"oauth2_code\",\"authorize_url\":\"/a\",\"token_url\":\"/t\","
        "\"expiry_source\":\"none\",\"identity\":{\"path\":\"/me\",\"id\":\"id\"}}", NULL);
    reply(200, "{\"access_token\":\"x\",\"expires_in\":10}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_SUCCESS);
    assert_true(tok->expires_at == 0);

    /* refresh timing */
    assert_int_equal(ca_oauth_token_expiring(0, fx->now, 60), 0);
    assert_int_equal(ca_oauth_token_expiring(fx->now + 61, fx->now, 60), 0);
    assert_int_equal(ca_oauth_token_expiring(fx->now + 60, fx->now, 60), 1);
    assert_int_equal(ca_oauth_token_expiring(fx->now - 5, fx->now, 0), 1);
}

/* ---- error classification ----------------------------------------------------------------- */

static apr_status_t refresh_with(fx_t *fx, int status, const char *body, const char **err)
{
    ca_oauth_token_t *tok = NULL;
    apr_status_t rv;

    if (body) {
        reply(status, body);
    }
    *err = NULL;
    rv = ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, err);
    if (rv != APR_SUCCESS) {
        assert_null(tok);
        assert_non_null(*err);
    }
    no_secret(*err);
    return rv;
}

static void test_grant_dead(void **state)
{
    fx_t *fx = *state;
    const char *err = NULL;

    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    assert_int_equal(refresh_with(fx, 400, "{\"error\":\"invalid_grant\","
                                  "\"error_description\":\"refresh token " REFRESH
                                  " was used twice\"}", &err), CA_OAUTH_EGRANT);
    assert_non_null(strstr(err, "invalid_grant"));
    assert_non_null(strstr(err, "400"));
    assert_null(strstr(err, "used twice"));
    assert_int_equal(refresh_with(fx, 401, "{\"error\":\"invalid_client\"}", &err),
                     CA_OAUTH_EGRANT);
    assert_non_null(strstr(err, "invalid_client"));
    assert_int_equal(refresh_with(fx, 400, "{\"error\":\"unauthorized_client\"}", &err),
                     CA_OAUTH_EGRANT);
    assert_int_equal(refresh_with(fx, 401, "", &err), CA_OAUTH_EGRANT);
    assert_int_equal(refresh_with(fx, 200, "{\"error\":\"invalid_grant\"}", &err),
                     CA_OAUTH_EGRANT);
    /* other refusals: not the grant's fault */
    assert_int_equal(refresh_with(fx, 400, "{\"error\":\"invalid_scope\"}", &err),
                     CA_OAUTH_EREFUSED);
    assert_non_null(strstr(err, "invalid_scope"));
    assert_int_equal(refresh_with(fx, 400, "{\"error\":\"invalid_request\"}", &err),
                     CA_OAUTH_EREFUSED);
    assert_int_equal(refresh_with(fx, 400, "{\"error\":\"unsupported_grant_type\"}", &err),
                     CA_OAUTH_EREFUSED);
    assert_int_equal(refresh_with(fx, 403, "forbidden", &err), CA_OAUTH_EREFUSED);
    assert_int_equal(refresh_with(fx, 404, "", &err), CA_OAUTH_EREFUSED);
    queue_reply(302, "text/html", "Location: https://elsewhere.example/\r\n", "", 0, 0);
    assert_int_equal(refresh_with(fx, 0, NULL, &err), CA_OAUTH_EREFUSED);
    /* unregistered but harmless codes pass, others are hidden */
    assert_int_equal(refresh_with(fx, 400, "{\"error\":\"invalid_refresh_token\"}", &err),
                     CA_OAUTH_EREFUSED);
    assert_non_null(strstr(err, "invalid_refresh_token"));
    assert_int_equal(refresh_with(fx, 400, "{\"error\":\"Bad Thing 42\"}", &err),
                     CA_OAUTH_EREFUSED);
    assert_non_null(strstr(err, "unrecognized error code"));
}

static void test_temporary(void **state)
{
    fx_t *fx = *state;
    const char *err = NULL;
    ca_oauth_token_t *tok = NULL;
    ca_provider_override_t ov;
    const ca_provider_t *closed = NULL;
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    int fd;

    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    assert_int_equal(refresh_with(fx, 500, "oops", &err), CA_OAUTH_ETEMPORARY);
    assert_non_null(strstr(err, "500"));
    assert_int_equal(refresh_with(fx, 502, "", &err), CA_OAUTH_ETEMPORARY);
    assert_int_equal(refresh_with(fx, 503, "{\"error\":\"invalid_grant\"}", &err),
                     CA_OAUTH_ETEMPORARY);
    assert_int_equal(refresh_with(fx, 429, "{\"error\":\"rate_limited\"}", &err),
                     CA_OAUTH_ETEMPORARY);
    assert_int_equal(refresh_with(fx, 400, "{\"error\":\"temporarily_unavailable\"}", &err),
                     CA_OAUTH_ETEMPORARY);
    assert_int_equal(refresh_with(fx, 400, "{\"error\":\"slow_down\"}", &err),
                     CA_OAUTH_ETEMPORARY);

    /* timeout */
    fx->opts.timeout_ms = 300;
    queue_reply(200, NULL, NULL, "{\"access_token\":\"late\"}", 3000, 0);
    assert_int_equal(refresh_with(fx, 0, NULL, &err), CA_OAUTH_ETEMPORARY);
    fx->opts.timeout_ms = 5000;

    /* dropped connection */
    queue_reply(0, NULL, NULL, NULL, 0, 1);
    assert_int_equal(refresh_with(fx, 0, NULL, &err), CA_OAUTH_ETEMPORARY);

    /* nobody listening */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
    close(fd);
    memset(&ov, 0, sizeof(ov));
    ov.base_url = apr_psprintf(fx->p, "http://127.0.0.1:%d/api/v1", ntohs(sa.sin_port));
    ov.local_sandbox = 1;
    assert_int_equal(ca_provider_override_base(fx->p, fx->ctx.def, &ov, &closed, &err),
                     APR_SUCCESS);
    fx->ctx.def = closed;
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     CA_OAUTH_ETEMPORARY);
    no_secret(err);
    assert_int_equal(ca_oauth_client_credentials(fx->p, &fx->ctx, fx->now, &tok, &err),
                     APR_EINVAL);

    /* plain http refused when the caller does not allow it */
    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    fx->opts.allow_plain_http = 0;
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     APR_EINVAL);
    no_secret(err);
}

static void test_malformed(void **state)
{
    fx_t *fx = *state;
    const char *err = NULL;

    fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
    assert_int_equal(refresh_with(fx, 200, "not json", &err), CA_OAUTH_EMALFORMED);
    assert_non_null(strstr(err, "not JSON"));
    assert_int_equal(refresh_with(fx, 200, "{\"access_token\":\"x\"", &err),
                     CA_OAUTH_EMALFORMED);
    assert_int_equal(refresh_with(fx, 200, "[\"access_token\"]", &err), CA_OAUTH_EMALFORMED);
    assert_int_equal(refresh_with(fx, 200, "", &err), CA_OAUTH_EMALFORMED);
    /* missing or unusable access_token */
    assert_int_equal(refresh_with(fx, 200, "{\"token_type\":\"Bearer\",\"expires_in\":3600,"
                                  "\"refresh_token\":\"" REFRESH "\"}", &err),
                     CA_OAUTH_EMALFORMED);
    assert_non_null(strstr(err, "without an access_token"));
    assert_int_equal(refresh_with(fx, 200, "{\"access_token\":42}", &err),
                     CA_OAUTH_EMALFORMED);
    assert_int_equal(refresh_with(fx, 200, "{\"access_token\":\"\"}", &err),
                     CA_OAUTH_EMALFORMED);
    assert_int_equal(refresh_with(fx, 200, "{\"access_token\":\"a\\nb\"}", &err),
                     CA_OAUTH_EMALFORMED);
    assert_int_equal(refresh_with(fx, 200, "{\"access_token\":\"a\",\"access_token\":\"b\"}",
                                  &err), CA_OAUTH_EMALFORMED);
    assert_int_equal(refresh_with(fx, 200, "{\"access_token\":\"a\",\"refresh_token\":7}",
                                  &err), CA_OAUTH_EMALFORMED);
    /* too large */
    {
        apr_size_t n = CA_OAUTH_MAX_RESPONSE + 100, i;
        char *big = apr_palloc(fx->p, n + 40);

        strcpy(big, "{\"access_token\":\"a\",\"pad\":\"");
        for (i = strlen(big); i < n; i++) {
            big[i] = 'x';
        }
        strcpy(big + n, "\"}");
        assert_int_equal(refresh_with(fx, 200, big, &err), CA_OAUTH_EMALFORMED);
        assert_non_null(strstr(err, "too large"));
    }
}

/* the provider echoes everything it got: perr must not */
static void test_no_secret_in_perr(void **state)
{
    fx_t *fx = *state;
    const char *err = NULL, *id = NULL, *label = NULL;
    ca_oauth_token_t *tok = NULL;
    static const char *const bodies[] = {
        "{\"error\":\"topsecretvalue\",\"error_description\":\"" SECRET "\"}",
        "{\"error\":\"x_topsecretvalue_y\"}",
        "{\"error\":\"" CODE "\",\"error_description\":\"" VERIFIER "\"}",
        "{\"error\":\"" REFRESH "\"}",
        "{\"error\":\"invalid_grant\",\"error_description\":\"" REFRESH " " SECRET "\"}",
        "{\"error\":\"" ACCESS "\"}",
        "{\"error\":\"" API_KEY "\"}",
        "{\"error\":\"" SECRET "\"}",
        NULL
    };
    int statuses[] = { 400, 401, 200, 403, 500 };
    int i, j;

    fx->client.client_secret = SECRET2;
    for (i = 0; bodies[i] != NULL; i++) {
        for (j = 0; j < 5; j++) {
            fx->ctx.def = sandbox_def(fx->p, server_url(fx->p));
            fx->ctx.client = &fx->client;
            reply(statuses[j], bodies[i]);
            assert_int_not_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, CODE,
                                                        "http://127.0.0.1:9/cb", VERIFIER,
                                                        fx->now, &tok, &err), APR_SUCCESS);
            no_secret(err);
            reply(statuses[j], bodies[i]);
            assert_int_not_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok,
                                                  &err), APR_SUCCESS);
            no_secret(err);
            reply(statuses[j] == 200 ? 400 : statuses[j], bodies[i]);
            assert_int_not_equal(ca_oauth_revoke(fx->p, &fx->ctx, ACCESS, NULL, &err),
                                 APR_SUCCESS);
            no_secret(err);
            reply(statuses[j] == 200 ? 401 : statuses[j], bodies[i]);
            assert_int_not_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, ACCESS, &id,
                                                   &label, &err), APR_SUCCESS);
            no_secret(err);
            reply(statuses[j] == 200 ? 401 : statuses[j], bodies[i]);
            assert_int_not_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, API_KEY, &id,
                                                   &label, &err), APR_SUCCESS);
            no_secret(err);
        }
    }
    /* registered codes still show */
    reply(400, "{\"error\":\"invalid_grant\",\"error_description\":\"" SECRET2 "\"}");
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, REFRESH, fx->now, &tok, &err),
                     CA_OAUTH_EGRANT);
    assert_non_null(strstr(err, "invalid_grant"));
    no_secret(err);
    assert_string_equal(ca_oauth_status_name(CA_OAUTH_EGRANT), "grant");
    assert_string_equal(ca_oauth_status_name(CA_OAUTH_ETEMPORARY), "temporary");
    assert_string_equal(ca_oauth_status_name(CA_OAUTH_EMALFORMED), "malformed");
    assert_string_equal(ca_oauth_status_name(CA_OAUTH_EREFUSED), "refused");
    assert_string_equal(ca_oauth_status_name(APR_ENOTIMPL), "not_implemented");
}

/* ---- the whole code + PKCE flow: the suite's sandbox, or the mini sandbox ------------------ */

/* posts the consent form built from the authorize URL; returns the redirect's query */
static apr_array_header_t *consent(fx_t *fx, const char *authorize_url, const char *user)
{
    const char *q = strchr(authorize_url, '?'), *err = NULL, *loc, *lq;
    apr_array_header_t *params = NULL, *back = NULL;
    ca_http_param_t *pm;
    apr_table_t *h = apr_table_make(fx->p, 2);
    ca_http_request_t req;
    ca_http_response_t *resp = NULL;
    char *body;

    assert_non_null(q);
    assert_int_equal(ca_http_parse_form(fx->p, q + 1, strlen(q + 1), &params, &err),
                     APR_SUCCESS);
    pm = apr_array_push(params);
    pm->name = "user";
    pm->value = user;
    pm = apr_array_push(params);
    pm->name = "decision";
    pm->value = "approve";
    body = ca_http_form_encode(fx->p, params, &err);
    apr_table_setn(h, "Content-Type", "application/x-www-form-urlencoded");
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = apr_pstrmemdup(fx->p, authorize_url, (apr_size_t)(q - authorize_url));
    req.headers = h;
    req.body = body;
    req.body_len = strlen(body);
    req.options = &fx->opts;
    assert_int_equal(ca_http_perform(hclient, &req, fx->p, &resp, &err), APR_SUCCESS);
    assert_int_equal(resp->status, 302);
    loc = apr_table_get(resp->headers, "Location");
    assert_non_null(loc);
    assert_true(strncmp(loc, "http://127.0.0.1:9/callback?", 28) == 0);
    lq = strchr(loc, '?') + 1;
    assert_int_equal(ca_http_parse_form(fx->p, lq, strlen(lq), &back, &err), APR_SUCCESS);
    return back;
}

static void test_flow(void **state)
{
    fx_t *fx = *state;
    const char *env = getenv("CA_SANDBOX_URL");
    const char *base = env && *env ? apr_pstrdup(fx->p, env) : server_url(fx->p);
    const char *redirect = "http://127.0.0.1:9/callback";
    const char *verifier, *challenge, *st, *url = NULL, *err = NULL, *code;
    const char *id = NULL, *label = NULL;
    ca_oauth_token_t *t1 = NULL, *t2 = NULL, *t3 = NULL;
    ca_provider_t *cc;
    apr_array_header_t *back;
    size_t blen = strlen(base);

    if (blen > 0 && base[blen - 1] == '/') {
        base = apr_pstrmemdup(fx->p, base, blen - 1);
    }
    print_message("# flow against %s\n", env && *env ? "the suite's sandbox (CA_SANDBOX_URL)"
                                                   : "the in-process mini sandbox");
    fx->ctx.def = sandbox_def(fx->p, base);
    fx->client.client_id = "sandbox-client";
    fx->client.client_secret = "sandbox-secret";

    verifier = ca_random_token(fx->p, 32);
    assert_non_null(verifier);
    challenge = challenge_for(fx->p, verifier);
    st = ca_random_token(fx->p, 16);
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, redirect, st, challenge, &url,
                                            &err), APR_SUCCESS);
    assert_true(strncmp(url, base, strlen(base)) == 0);
    back = consent(fx, url, "demo");
    assert_param(back, "state", st);
    code = ca_http_param_get(back, "code");
    assert_non_null(code);

    /* exchange */
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, code, redirect, verifier,
                                            fx->now, &t1, &err), APR_SUCCESS);
    assert_non_null(t1->refresh_token);
    assert_true(t1->expires_at > fx->now);
    assert_string_equal(t1->token_type, "Bearer");

    /* the code is single use */
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, code, redirect, verifier,
                                            fx->now, &t3, &err), CA_OAUTH_EGRANT);
    assert_non_null(strstr(err, "invalid_grant"));
    no_secret(err);
    assert_null(strstr(err, code));

    /* a second authorization (the reuse above revoked the first family) */
    verifier = ca_random_token(fx->p, 32);
    challenge = challenge_for(fx->p, verifier);
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, redirect, st, challenge, &url,
                                            &err), APR_SUCCESS);
    code = ca_http_param_get(consent(fx, url, "demo"), "code");
    /* a wrong verifier is invalid_grant */
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, code, redirect,
                                            ca_random_token(fx->p, 32), fx->now, &t3, &err),
                     CA_OAUTH_EGRANT);
    verifier = ca_random_token(fx->p, 32);
    challenge = challenge_for(fx->p, verifier);
    assert_int_equal(ca_oauth_authorize_url(fx->p, &fx->ctx, redirect, st, challenge, &url,
                                            &err), APR_SUCCESS);
    code = ca_http_param_get(consent(fx, url, "demo"), "code");
    assert_int_equal(ca_oauth_exchange_code(fx->p, &fx->ctx, code, redirect, verifier,
                                            fx->now, &t1, &err), APR_SUCCESS);

    /* identity */
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, t1->access_token, &id, &label,
                                       &err), APR_SUCCESS);
    assert_string_equal(id, "acc_demo");
    assert_string_equal(label, "Demo User");

    /* refresh rotates */
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, t1->refresh_token, fx->now, &t2, &err),
                     APR_SUCCESS);
    assert_non_null(t2->refresh_token);
    assert_string_not_equal(t2->refresh_token, t1->refresh_token);
    assert_string_not_equal(t2->access_token, t1->access_token);

    /* revoke the new access token: identity with it is refused */
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, t2->access_token, "access_token", &err),
                     APR_SUCCESS);
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, t2->access_token, &id, &label,
                                       &err), CA_OAUTH_EGRANT);
    no_secret(err);
    /* revoke the refresh token: refreshing with it is invalid_grant */
    assert_int_equal(ca_oauth_revoke(fx->p, &fx->ctx, t2->refresh_token, "refresh_token",
                                     &err), APR_SUCCESS);
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, t2->refresh_token, fx->now, &t3, &err),
                     CA_OAUTH_EGRANT);
    /* and the retired one too (reuse) */
    assert_int_equal(ca_oauth_refresh(fx->p, &fx->ctx, t1->refresh_token, fx->now, &t3, &err),
                     CA_OAUTH_EGRANT);
    no_secret(err);

    /* client credentials with the same client (the sandbox allows it) */
    cc = apr_pmemdup(fx->p, fx->ctx.def, sizeof(*cc));
    cc->auth.mode = CA_AUTH_CLIENT_CREDENTIALS;
    fx->ctx.def = cc;
    assert_int_equal(ca_oauth_client_credentials(fx->p, &fx->ctx, fx->now, &t3, &err),
                     APR_SUCCESS);
    assert_null(t3->refresh_token);
    assert_int_equal(ca_oauth_identity(fx->p, &fx->ctx, NULL, t3->access_token, &id, &label,
                                       &err), APR_SUCCESS);
    assert_string_equal(id, "acc_demo");

    /* a wrong client secret */
    fx->client.client_secret = SECRET2;
    assert_int_equal(ca_oauth_client_credentials(fx->p, &fx->ctx, fx->now, &t3, &err),
                     CA_OAUTH_EGRANT);
    assert_non_null(strstr(err, "invalid_client"));
    no_secret(err);
}

/* ---- main ----------------------------------------------------------------------------- */

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
    if (ca_http_client_create(gpool, NULL, &hclient, &err) != APR_SUCCESS) {
        fprintf(stderr, "ca_http_client_create: %s\n", err);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX(test_authorize_url_pkce),
        FX(test_authorize_url_plain),
        FX(test_exchange_basic_form),
        FX(test_exchange_body_json),
        FX(test_refresh_rotation),
        FX(test_refresh_no_rotation_default_expiry),
        FX(test_client_credentials),
        FX(test_revoke),
        FX(test_identity_rest),
        FX(test_identity_api_key),
        FX(test_identity_graphql),
        FX(test_identity_templates),
        FX(test_expiry_jwt),
        FX(test_grant_dead),
        FX(test_temporary),
        FX(test_malformed),
        FX(test_no_secret_in_perr),
        FX(test_flow),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
