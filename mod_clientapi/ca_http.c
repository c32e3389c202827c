/*
 * ca_http.c - upstream HTTP client of mod_clientapi; the only file that uses libcurl.
 * See ca_http.h for the contract.
 */
#include "ca_http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <pthread.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include <curl/curl.h>

#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl >= 7.85.0 is required (CURLOPT_PROTOCOLS_STR)"
#endif

#define REDACTED "[redacted]"

struct ca_http_client_t {
    apr_pool_t *pool;
    CURL *curl;
    pid_t pid;              /* process that created curl */
    unsigned long forks;    /* fork_count then, when fork_tracked */
    int fork_tracked;
    unsigned handles_created;
    ca_http_options_t defaults;
    char errbuf[CURL_ERROR_SIZE];
};

/* state of one transfer, shared with the libcurl callbacks */
typedef struct {
    apr_pool_t *p;
    char *buf;              /* malloc'd body, handed to the pool at the end */
    apr_size_t len;
    apr_size_t cap;
    apr_size_t limit;
    int too_large;
    int oom;
    apr_table_t *headers;
    apr_size_t hdr_bytes;
    apr_size_t hdr_limit;
    int hdr_too_large;
    const char *pending_name;   /* header line waiting for obs-fold continuation */
    const char *pending_value;
} xfer_t;

static int have_libz;

/* Counts the fork()s this process image went through (pthread_atfork child handler,
 * registered once by ca_http_global_init; glibc drops it when the module is unloaded). A
 * handle stamped with another count was made in another process: the same test as
 * comparing getpid(), without a system call on every transfer. */
static volatile unsigned long fork_count;
static int fork_tracking;

static void fork_child(void)
{
    fork_count++;
}

/* Stamps c with the current process, for same_process(). */
static void stamp_process(ca_http_client_t *c)
{
    c->pid = getpid();
    c->forks = fork_count;
    c->fork_tracked = fork_tracking;
}

/* 1 when c's handle was created in this process. */
static int same_process(const ca_http_client_t *c)
{
    return c->fork_tracked ? c->forks == fork_count : c->pid == getpid();
}

/* ---- process ------------------------------------------------------------------ */

apr_status_t ca_http_global_init(const char **perr)
{
    const curl_version_info_data *vi;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        if (perr) {
            *perr = "curl_global_init failed";
        }
        return APR_EGENERAL;
    }
    vi = curl_version_info(CURLVERSION_NOW);
    if (vi == NULL || vi->version_num < 0x075500) {
        curl_global_cleanup();
        if (perr) {
            *perr = "libcurl >= 7.85.0 is required at run time";
        }
        return APR_ENOTIMPL;
    }
    if (!(vi->features & CURL_VERSION_SSL)) {
        curl_global_cleanup();
        if (perr) {
            *perr = "libcurl was built without TLS support";
        }
        return APR_ENOTIMPL;
    }
    have_libz = (vi->features & CURL_VERSION_LIBZ) ? 1 : 0;
    if (!fork_tracking && pthread_atfork(NULL, NULL, fork_child) == 0) {
        fork_tracking = 1;      /* else every transfer asks getpid() */
    }
    return APR_SUCCESS;
}

void ca_http_global_cleanup(void)
{
    curl_global_cleanup();
}

/* ---- classification --------------------------------------------------------------- */

static const char *const result_names[] = {
    "ok", "timeout", "connect", "tls", "too_large", "reset", "invalid", "other"
};

static const char *const result_reasons[] = {
    "ok",
    "provider did not answer in time",
    "could not connect to provider",
    "TLS connection to provider failed",
    "provider response too large",
    "provider closed the connection",
    "invalid upstream request",
    "provider request failed"
};

const char *ca_http_result_name(ca_http_result_t r)
{
    if ((unsigned)r > CA_HTTP_ERR_OTHER) {
        r = CA_HTTP_ERR_OTHER;
    }
    return result_names[r];
}

const char *ca_http_result_reason(ca_http_result_t r)
{
    if ((unsigned)r > CA_HTTP_ERR_OTHER) {
        r = CA_HTTP_ERR_OTHER;
    }
    return result_reasons[r];
}

int ca_http_result_http_status(ca_http_result_t r)
{
    switch (r) {
    case CA_HTTP_OK:
        return 0;
    case CA_HTTP_ERR_TIMEOUT:
        return 504;
    default:
        return 502;
    }
}

int ca_http_result_retryable(ca_http_result_t r)
{
    return r == CA_HTTP_ERR_RESET;
}

ca_http_result_t ca_http_classify_curl_code(int curl_code, apr_status_t *status,
                                            const char **reason)
{
    ca_http_result_t r;
    apr_status_t rv;

    switch ((CURLcode)curl_code) {
    case CURLE_OK:
        r = CA_HTTP_OK;
        rv = APR_SUCCESS;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        r = CA_HTTP_ERR_TIMEOUT;
        rv = APR_TIMEUP;
        break;
    case CURLE_COULDNT_CONNECT:
        r = CA_HTTP_ERR_CONNECT;
        rv = APR_ECONNREFUSED;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        r = CA_HTTP_ERR_CONNECT;
        rv = APR_EHOSTUNREACH;
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        r = CA_HTTP_ERR_TLS;
        rv = CA_HTTP_ETLS;
        break;
    case CURLE_FILESIZE_EXCEEDED:
        r = CA_HTTP_ERR_TOO_LARGE;
        rv = APR_ENOSPC;
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        r = CA_HTTP_ERR_RESET;
        rv = APR_EOF;
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        r = CA_HTTP_ERR_RESET;
        rv = APR_ECONNRESET;
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        r = CA_HTTP_ERR_INVALID;
        rv = APR_EINVAL;
        break;
    case CURLE_OUT_OF_MEMORY:
        r = CA_HTTP_ERR_OTHER;
        rv = APR_ENOMEM;
        break;
    default:
        r = CA_HTTP_ERR_OTHER;
        rv = APR_EGENERAL;
        break;
    }
    if (status) {
        *status = rv;
    }
    if (reason) {
        *reason = result_reasons[r];
    }
    return r;
}

/* ---- client ------------------------------------------------------------------------ */

static void drop_handle(ca_http_client_t *c)
{
    if (c->curl) {
        if (same_process(c)) {
            curl_easy_cleanup(c->curl);
        }
        /* else: created in another process; abandon it (see ca_http.h) */
        c->curl = NULL;
    }
}

static apr_status_t client_cleanup(void *data)
{
    drop_handle(data);
    return APR_SUCCESS;
}

static const char *pstrdup_or_null(apr_pool_t *p, const char *s)
{
    return (s && *s) ? apr_pstrdup(p, s) : NULL;
}

apr_status_t ca_http_client_create(apr_pool_t *pool, const ca_http_options_t *defaults,
                                   ca_http_client_t **client, const char **perr)
{
    ca_http_client_t *c;

    if (pool == NULL || client == NULL) {
        if (perr) {
            *perr = "ca_http_client_create: missing pool or result pointer";
        }
        return APR_EINVAL;
    }
    c = apr_pcalloc(pool, sizeof(*c));
    c->pool = pool;
    stamp_process(c);
    if (defaults) {
        c->defaults = *defaults;
        c->defaults.ca_file = pstrdup_or_null(pool, defaults->ca_file);
        c->defaults.ca_path = pstrdup_or_null(pool, defaults->ca_path);
        c->defaults.user_agent = pstrdup_or_null(pool, defaults->user_agent);
        c->defaults.proxy = pstrdup_or_null(pool, defaults->proxy);
        c->defaults.no_proxy = pstrdup_or_null(pool, defaults->no_proxy);
    }
    apr_pool_cleanup_register(pool, c, client_cleanup, apr_pool_cleanup_null);
    *client = c;
    return APR_SUCCESS;
}

void ca_http_client_reset(ca_http_client_t *client)
{
    if (client) {
        drop_handle(client);
        stamp_process(client);
    }
}

void ca_http_client_destroy(ca_http_client_t *client)
{
    if (client) {
        apr_pool_cleanup_run(client->pool, client, client_cleanup);
    }
}

unsigned ca_http_client_handles_created(const ca_http_client_t *client)
{
    return client ? client->handles_created : 0;
}

/* ---- callbacks ------------------------------------------------------------------------ */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    apr_size_t n = size * nmemb;

    if (n == 0) {
        return 0;
    }
    if (n > x->limit || x->len > x->limit - n) {
        x->too_large = 1;
        return 0;               /* aborts the transfer (CURLE_WRITE_ERROR) */
    }
    if (x->len + n + 1 > x->cap) {
        apr_size_t ncap = x->cap ? x->cap * 2 : 4096;
        char *nb;

        if (ncap < x->len + n + 1) {
            ncap = x->len + n + 1;
        }
        if (ncap > x->limit + 1) {
            ncap = x->limit + 1;
        }
        nb = realloc(x->buf, ncap);
        if (nb == NULL) {
            x->oom = 1;
            return 0;
        }
        x->buf = nb;
        x->cap = ncap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    return n;
}

static void flush_pending_header(xfer_t *x)
{
    if (x->pending_name) {
        apr_table_addn(x->headers, x->pending_name, x->pending_value);
        x->pending_name = NULL;
        x->pending_value = NULL;
    }
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    apr_size_t n = size * nmemb;
    apr_size_t end = n;
    const char *colon;
    apr_size_t vs, ve;

    if (n > x->hdr_limit || x->hdr_bytes > x->hdr_limit - n) {
        x->hdr_too_large = 1;
        return 0;
    }
    x->hdr_bytes += n;

    while (end > 0 && (data[end - 1] == '\r' || data[end - 1] == '\n')) {
        end--;
    }
    if (end == 0) {             /* blank line: end of a header block */
        flush_pending_header(x);
        return n;
    }
    if (end >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* a new response (1xx before the final one): start over */
        x->pending_name = NULL;
        x->pending_value = NULL;
        apr_table_clear(x->headers);
        return n;
    }
    if (data[0] == ' ' || data[0] == '\t') {
        /* obsolete line folding: continuation of the previous header */
        if (x->pending_name) {
            vs = 0;
            while (vs < end && (data[vs] == ' ' || data[vs] == '\t')) {
                vs++;
            }
            x->pending_value = apr_pstrcat(x->p, x->pending_value, " ",
                                           apr_pstrmemdup(x->p, data + vs, end - vs),
                                           NULL);
        }
        return n;
    }
    flush_pending_header(x);
    colon = memchr(data, ':', end);
    if (colon == NULL || colon == data) {
        return n;               /* not a header line: ignore */
    }
    vs = (apr_size_t)(colon - data) + 1;
    while (vs < end && (data[vs] == ' ' || data[vs] == '\t')) {
        vs++;
    }
    ve = end;
    while (ve > vs && (data[ve - 1] == ' ' || data[ve - 1] == '\t')) {
        ve--;
    }
    x->pending_name = apr_pstrmemdup(x->p, data, (apr_size_t)(colon - data));
    x->pending_value = apr_pstrmemdup(x->p, data + vs, ve - vs);
    return n;
}

/* ---- request validation ----------------------------------------------------------------- */

static int is_tchar(unsigned char ch)
{
    return apr_isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int valid_header_name(const char *s)
{
    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (!is_tchar((unsigned char)*s)) {
            return 0;
        }
    }
    return 1;
}

static int valid_header_value(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") == NULL;
}

static const char *check_url(const char *url, int allow_plain_http)
{
    const char *host;
    const char *s;

    if (url == NULL || *url == '\0') {
        return "missing URL";
    }
    for (s = url; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch == 0x7f) {
            return "URL contains spaces or control characters";
        }
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        host = url + 8;
    }
    else if (strncasecmp(url, "http://", 7) == 0) {
        if (!allow_plain_http) {
            return "plain http URL refused (https only unless the provider is "
                   "marked as a local sandbox)";
        }
        host = url + 7;
    }
    else {
        return "URL scheme must be https";
    }
    if (*host == '\0' || *host == '/' || *host == '?' || *host == '#') {
        return "URL has no host";
    }
    return NULL;
}

static const char *check_method(const char *method, int *has_body_ok)
{
    static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH",
                                           "DELETE" };
    apr_size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(method, methods[i]) == 0) {
            *has_body_ok = i >= 2;
            return NULL;
        }
    }
    return "unsupported HTTP method";
}

/* ---- perform ------------------------------------------------------------------------------ */

static void effective_options(ca_http_options_t *o, const ca_http_options_t *src)
{
    if (src) {
        *o = *src;
    }
    else {
        memset(o, 0, sizeof(*o));
    }
    if (o->connect_timeout_ms <= 0) {
        o->connect_timeout_ms = CA_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    }
    if (o->timeout_ms <= 0) {
        o->timeout_ms = CA_HTTP_DEFAULT_TIMEOUT_MS;
    }
    if (o->max_response_bytes == 0) {
        o->max_response_bytes = CA_HTTP_DEFAULT_MAX_RESPONSE_BYTES;
    }
    if (o->max_header_bytes == 0) {
        o->max_header_bytes = CA_HTTP_DEFAULT_MAX_HEADER_BYTES;
    }
    if (o->user_agent == NULL || *o->user_agent == '\0') {
        o->user_agent = CA_HTTP_DEFAULT_USER_AGENT;
    }
}

static apr_status_t free_cleanup(void *data)
{
    free(data);
    return APR_SUCCESS;
}

#define SETOPT(opt, val)                                                  \
    do {                                                                  \
        CURLcode sc_ = curl_easy_setopt(curl, opt, val);                  \
        if (sc_ != CURLE_OK) {                                            \
            *what = #opt;                                                 \
            return sc_;                                                   \
        }                                                                 \
    } while (0)

/* configures the (freshly reset) handle; returns the first failing option */
static CURLcode configure(ca_http_client_t *c, const ca_http_options_t *o,
                          const ca_http_request_t *req, const char *method,
                          struct curl_slist *hdrs, xfer_t *x, const char **what)
{
    CURL *curl = c->curl;
    const char *protocols = o->allow_plain_http ? "http,https" : "https";

    SETOPT(CURLOPT_ERRORBUFFER, c->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_NOPROGRESS, 1L);
    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_PROTOCOLS_STR, protocols);
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, protocols);
    SETOPT(CURLOPT_DEFAULT_PROTOCOL, "https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (o->ca_file) {
        SETOPT(CURLOPT_CAINFO, o->ca_file);
    }
    if (o->ca_path) {
        SETOPT(CURLOPT_CAPATH, o->ca_path);
    }
    /* "" disables proxies, including those from the environment */
    SETOPT(CURLOPT_PROXY, o->proxy ? o->proxy : "");
    if (o->proxy && o->no_proxy) {
        SETOPT(CURLOPT_NOPROXY, o->no_proxy);
    }
    SETOPT(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_USERAGENT, o->user_agent);
    if (have_libz) {
        SETOPT(CURLOPT_ACCEPT_ENCODING, "gzip");
    }
    SETOPT(CURLOPT_HTTPHEADER, hdrs);
    SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(CURLOPT_WRITEDATA, x);
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_HEADERDATA, x);

    if (strcmp(method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    }
    else {
        /* refuse early when the announced length is over the cap */
        SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_response_bytes);
        if (strcmp(method, "GET") == 0) {
            SETOPT(CURLOPT_HTTPGET, 1L);
        }
        else {
            SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            SETOPT(CURLOPT_POSTFIELDS, req->body ? req->body : "");
            if (strcmp(method, "POST") != 0) {
                SETOPT(CURLOPT_CUSTOMREQUEST, method);
            }
        }
    }
    return CURLE_OK;
}

#undef SETOPT

static struct curl_slist *build_headers(apr_pool_t *p, const apr_table_t *t,
                                        const char **perr)
{
    struct curl_slist *list = NULL, *nl;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i;

    list = curl_slist_append(NULL, "Expect:");
    if (list == NULL) {
        *perr = "out of memory";
        return NULL;
    }
    if (t == NULL) {
        return list;
    }
    arr = apr_table_elts(t);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        const char *line;

        if (e[i].key == NULL) {
            continue;
        }
        if (!valid_header_name(e[i].key) || !valid_header_value(e[i].val)) {
            curl_slist_free_all(list);
            *perr = apr_psprintf(p, "invalid request header %s",
                                 valid_header_name(e[i].key) ? e[i].key : "name");
            return NULL;
        }
        if (strcasecmp(e[i].key, "Content-Length") == 0
            || strcasecmp(e[i].key, "Transfer-Encoding") == 0
            || strcasecmp(e[i].key, "Expect") == 0) {
            continue;
        }
        /* "Name;" is libcurl's way of sending an empty value ("Name:" removes) */
        line = *e[i].val ? apr_pstrcat(p, e[i].key, ": ", e[i].val, NULL)
                         : apr_pstrcat(p, e[i].key, ";", NULL);
        nl = curl_slist_append(list, line);
        if (nl == NULL) {
            curl_slist_free_all(list);
            *perr = "out of memory";
            return NULL;
        }
        list = nl;
    }
    return list;
}

static apr_status_t fail(ca_http_response_t *r, ca_http_result_t res, apr_status_t rv,
                         const char *detail, const char **perr)
{
    r->result = res;
    r->reason = result_reasons[res];
    if (perr) {
        *perr = detail;
    }
    return rv;
}

apr_status_t ca_http_perform(ca_http_client_t *c, const ca_http_request_t *req,
                             apr_pool_t *p, ca_http_response_t **resp,
                             const char **perr)
{
    ca_http_response_t *r;
    ca_http_options_t o;
    const char *method, *msg, *what = NULL;
    struct curl_slist *hdrs;
    xfer_t x;
    CURLcode cc;
    long code = 0, nconn = -1;
    curl_off_t tt = 0;
    apr_status_t rv;
    ca_http_result_t res;
    int body_ok = 0;

    r = apr_pcalloc(p, sizeof(*r));
    r->body = "";
    r->headers = apr_table_make(p, 16);
    r->reason = result_reasons[CA_HTTP_OK];
    if (resp) {
        *resp = r;
    }
    if (c == NULL || req == NULL) {
        return fail(r, CA_HTTP_ERR_INVALID, APR_EINVAL, "missing client or request",
                    perr);
    }
    effective_options(&o, req->options ? req->options : &c->defaults);
    method = req->method ? req->method : "GET";
    if ((msg = check_method(method, &body_ok)) != NULL
        || (msg = check_url(req->url, o.allow_plain_http)) != NULL) {
        return fail(r, CA_HTTP_ERR_INVALID, APR_EINVAL, msg, perr);
    }
    if ((req->body_len > 0 && (req->body == NULL || !body_ok))) {
        return fail(r, CA_HTTP_ERR_INVALID, APR_EINVAL,
                    "request body not allowed with this method", perr);
    }
    if ((hdrs = build_headers(p, req->headers, &msg)) == NULL) {
        return fail(r, CA_HTTP_ERR_INVALID, APR_EINVAL, msg, perr);
    }

    /* a handle inherited through fork() is never used (nor cleaned up) */
    if (c->curl && !same_process(c)) {
        drop_handle(c);
    }
    if (c->curl == NULL) {
        stamp_process(c);
        c->curl = curl_easy_init();
        if (c->curl == NULL) {
            curl_slist_free_all(hdrs);
            return fail(r, CA_HTTP_ERR_OTHER, APR_ENOMEM, "curl_easy_init failed", perr);
        }
        c->handles_created++;
    }
    else {
        curl_easy_reset(c->curl);   /* keeps the connection, DNS and TLS caches */
    }

    memset(&x, 0, sizeof(x));
    x.p = p;
    x.limit = o.max_response_bytes;
    x.hdr_limit = o.max_header_bytes;
    x.headers = r->headers;
    c->errbuf[0] = '\0';

    cc = configure(c, &o, req, method, hdrs, &x, &what);
    if (cc != CURLE_OK) {
        curl_slist_free_all(hdrs);
        drop_handle(c);
        return fail(r, CA_HTTP_ERR_OTHER, APR_ENOTIMPL,
                    apr_psprintf(p, "libcurl refused option %s: %s", what,
                                 curl_easy_strerror(cc)), perr);
    }

    cc = curl_easy_perform(c->curl);
    flush_pending_header(&x);

    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c->curl, CURLINFO_TOTAL_TIME_T, &tt);
    curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &nconn);
    /* the handle must not keep pointers into this request */
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);

    r->status = (int)code;
    r->total_time = (apr_interval_time_t)tt;

    if (cc == CURLE_OK) {
        if (x.buf) {
            x.buf[x.len] = '\0';
            apr_pool_cleanup_register(p, x.buf, free_cleanup, apr_pool_cleanup_null);
            r->body = x.buf;
            r->body_len = x.len;
        }
        r->reused = nconn == 0;
        return APR_SUCCESS;
    }

    free(x.buf);
    if (x.too_large || x.hdr_too_large) {
        res = CA_HTTP_ERR_TOO_LARGE;
        rv = APR_ENOSPC;
    }
    else if (x.oom) {
        res = CA_HTTP_ERR_OTHER;
        rv = APR_ENOMEM;
    }
    else {
        res = ca_http_classify_curl_code(cc, &rv, NULL);
    }
    if (x.too_large) {
        msg = apr_psprintf(p, "%s (body over %" APR_SIZE_T_FMT " bytes)",
                           result_reasons[res], o.max_response_bytes);
    }
    else if (x.hdr_too_large) {
        msg = apr_psprintf(p, "%s (headers over %" APR_SIZE_T_FMT " bytes)",
                           result_reasons[res], o.max_header_bytes);
    }
    else if (cc == CURLE_FILESIZE_EXCEEDED) {
        msg = apr_psprintf(p, "%s (announced length over %" APR_SIZE_T_FMT " bytes)",
                           result_reasons[res], o.max_response_bytes);
    }
    else {
        msg = apr_psprintf(p, "%s: %s", result_reasons[res],
                           c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
    }
    /* never reuse a handle (or its connection) after a failed transfer */
    drop_handle(c);
    return fail(r, res, rv, msg, perr);
}

/* ---- URL and form helpers ----------------------------------------------------------------- */

static const char hexdig[] = "0123456789ABCDEF";

static int is_unreserved(unsigned char ch)
{
    return apr_isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* mode: 0 = query/path component, 1 = query name ('$' kept), 2 = form ('+' for space) */
static char *encode(apr_pool_t *p, const char *s, int mode)
{
    apr_size_t n = 0;
    const unsigned char *u;
    char *out, *o;

    if (s == NULL) {
        return apr_pstrdup(p, "");
    }
    for (u = (const unsigned char *)s; *u; u++) {
        n += (is_unreserved(*u) || (mode == 1 && *u == '$')
              || (mode == 2 && *u == ' ')) ? 1 : 3;
    }
    out = o = apr_palloc(p, n + 1);
    for (u = (const unsigned char *)s; *u; u++) {
        if (is_unreserved(*u) || (mode == 1 && *u == '$')) {
            *o++ = (char)*u;
        }
        else if (mode == 2 && *u == ' ') {
            *o++ = '+';
        }
        else {
            *o++ = '%';
            *o++ = hexdig[*u >> 4];
            *o++ = hexdig[*u & 0x0f];
        }
    }
    *o = '\0';
    return out;
}

char *ca_http_url_encode(apr_pool_t *p, const char *s)
{
    return encode(p, s, 0);
}

/* joins params as name=value&...; NULL on a bad name */
static char *join_params(apr_pool_t *p, const apr_array_header_t *params, int form,
                         const char **perr)
{
    const ca_http_param_t *pv = (const ca_http_param_t *)params->elts;
    apr_array_header_t *parts;
    int i;

    if (params->elt_size != (int)sizeof(ca_http_param_t)) {
        if (perr) {
            *perr = "parameter array has the wrong element size";
        }
        return NULL;
    }
    parts = apr_array_make(p, params->nelts * 4 + 1, sizeof(const char *));
    for (i = 0; i < params->nelts; i++) {
        if (pv[i].name == NULL || *pv[i].name == '\0') {
            if (perr) {
                *perr = "parameter without a name";
            }
            return NULL;
        }
        if (i > 0) {
            APR_ARRAY_PUSH(parts, const char *) = "&";
        }
        APR_ARRAY_PUSH(parts, const char *) = encode(p, pv[i].name, form ? 2 : 1);
        if (pv[i].value) {
            APR_ARRAY_PUSH(parts, const char *) = "=";
            APR_ARRAY_PUSH(parts, const char *) = encode(p, pv[i].value, form ? 2 : 0);
        }
    }
    return apr_array_pstrcat(p, parts, '\0');
}

char *ca_http_build_url(apr_pool_t *p, const char *base, const char *path,
                        const apr_array_header_t *params, const char **perr)
{
    apr_size_t blen;
    char *url;
    const char *q;

    if (base == NULL || *base == '\0') {
        if (perr) {
            *perr = "empty base URL";
        }
        return NULL;
    }
    blen = strlen(base);
    if (path && *path) {
        int bslash = base[blen - 1] == '/';
        int pslash = *path == '/';

        if (bslash && pslash) {
            url = apr_pstrcat(p, base, path + 1, NULL);
        }
        else if (!bslash && !pslash) {
            url = apr_pstrcat(p, base, "/", path, NULL);
        }
        else {
            url = apr_pstrcat(p, base, path, NULL);
        }
    }
    else {
        url = apr_pstrdup(p, base);
    }
    if (params == NULL || params->nelts == 0) {
        return url;
    }
    if ((q = join_params(p, params, 0, perr)) == NULL) {
        return NULL;
    }
    return apr_pstrcat(p, url, strchr(url, '?') ? "&" : "?", q, NULL);
}

char *ca_http_form_encode(apr_pool_t *p, const apr_array_header_t *params,
                          const char **perr)
{
    if (params == NULL || params->nelts == 0) {
        return apr_pstrdup(p, "");
    }
    return join_params(p, params, 1, perr);
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

/* decodes s[0..len) ('+' = space); NULL on a bad escape or NUL */
static char *form_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '%') {
            int hi, lo;

            if (i + 2 >= len) {
                return NULL;        /* truncated escape */
            }
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else if (ch == '+') {
            *o++ = ' ';
        }
        else if (ch == '\0') {
            return NULL;
        }
        else {
            *o++ = (char)ch;
        }
    }
    *o = '\0';
    return out;
}

/* One pair of a form body or query string. */
typedef struct {
    apr_size_t start;           /* first byte of the pair */
    apr_size_t eq;              /* its first '=', or end when it has none */
    apr_size_t end;             /* the '&' after it, or the end of the string */
} form_pair_t;

/* The one definition of how a query or form body splits into pairs, shared by the parser
 * and by redaction so that both see the same names and values: pairs are separated by '&'
 * only (';' is part of a value, as for httpd's ap_args_to_table), the first '=' ends the
 * name.  Yields every pair of s[0..len), empty ones included (a string of n '&' has n + 1
 * pairs); returns 0 when *pos is past the end. */
static int form_next_pair(const char *s, apr_size_t len, apr_size_t *pos, form_pair_t *pr)
{
    apr_size_t i = *pos;

    if (i > len) {
        return 0;
    }
    pr->start = i;
    pr->eq = (apr_size_t)-1;
    while (i < len && s[i] != '&') {
        if (s[i] == '=' && pr->eq == (apr_size_t)-1) {
            pr->eq = i;
        }
        i++;
    }
    pr->end = i;
    if (pr->eq == (apr_size_t)-1) {
        pr->eq = i;
    }
    *pos = i + 1;
    return 1;
}

apr_status_t ca_http_parse_form(apr_pool_t *p, const char *s, apr_size_t len,
                                apr_array_header_t **params, const char **perr)
{
    apr_array_header_t *arr = apr_array_make(p, 8, sizeof(ca_http_param_t));
    apr_size_t i = 0;
    form_pair_t pr;

    if (params == NULL || (s == NULL && len > 0)) {
        if (perr) {
            *perr = "ca_http_parse_form: bad arguments";
        }
        return APR_EINVAL;
    }
    while (form_next_pair(s, len, &i, &pr)) {
        ca_http_param_t *pv;
        char *name, *value;

        if (pr.end == pr.start) {
            continue;           /* empty pair */
        }
        name = form_decode(p, s + pr.start, pr.eq - pr.start);
        value = pr.eq == pr.end ? apr_pstrdup(p, "")
                                : form_decode(p, s + pr.eq + 1, pr.end - pr.eq - 1);
        if (name == NULL || value == NULL) {
            if (perr) {
                *perr = apr_psprintf(p, "malformed percent-encoding in parameter %d",
                                     arr->nelts + 1);
            }
            return APR_EINVAL;
        }
        pv = apr_array_push(arr);
        pv->name = name;
        pv->value = value;
    }
    *params = arr;
    return APR_SUCCESS;
}

const char *ca_http_param_get(const apr_array_header_t *params, const char *name)
{
    const ca_http_param_t *pv;
    int i;

    if (params == NULL || name == NULL
        || params->elt_size != (int)sizeof(ca_http_param_t)) {
        return NULL;
    }
    pv = (const ca_http_param_t *)params->elts;
    for (i = 0; i < params->nelts; i++) {
        if (pv[i].name && strcmp(pv[i].name, name) == 0) {
            return pv[i].value;
        }
    }
    return NULL;
}

static int contains_ci(const char *hay, const char *needle)
{
    apr_size_t n = strlen(needle);

    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

int ca_http_param_is_secret(const char *name)
{
    static const char *const exact[] = {
        "access_token", "key", "api_key", "apikey", "token", "client_secret", "code",
        "refresh_token", "password"
    };
    apr_size_t i;

    if (name == NULL) {
        return 0;
    }
    for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        if (strcasecmp(name, exact[i]) == 0) {
            return 1;
        }
    }
    return contains_ci(name, "token") || contains_ci(name, "secret")
           || contains_ci(name, "password");
}

/* lenient decode of a name for the secret check: bad escapes are kept raw */
static char *lenient_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        int hi, lo;

        if (s[i] == '%' && i + 2 < len
            && (hi = hexval((unsigned char)s[i + 1])) >= 0
            && (lo = hexval((unsigned char)s[i + 2])) >= 0 && (hi || lo)) {
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            *o++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *o = '\0';
    return out;
}

/* redacts a query or fragment of len bytes, split into pairs as ca_http_parse_form does */
static char *redact_pairs(apr_pool_t *p, const char *s, apr_size_t len)
{
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(const char *));
    apr_size_t i = 0;
    form_pair_t pr;

    while (form_next_pair(s, len, &i, &pr)) {
        if (pr.eq < pr.end
            && ca_http_param_is_secret(lenient_decode(p, s + pr.start, pr.eq - pr.start))) {
            APR_ARRAY_PUSH(parts, const char *) =
                apr_pstrmemdup(p, s + pr.start, pr.eq - pr.start + 1);
            APR_ARRAY_PUSH(parts, const char *) = REDACTED;
        }
        else {
            APR_ARRAY_PUSH(parts, const char *) =
                apr_pstrmemdup(p, s + pr.start, pr.end - pr.start);
        }
        if (pr.end < len) {
            APR_ARRAY_PUSH(parts, const char *) = "&";
        }
    }
    return apr_array_pstrcat(p, parts, '\0');
}

char *ca_http_redact_query(apr_pool_t *p, const char *query)
{
    if (query == NULL) {
        return NULL;
    }
    return redact_pairs(p, query, strlen(query));
}

char *ca_http_redact_url(apr_pool_t *p, const char *url)
{
    const char *auth, *auth_end, *at, *colon, *q, *frag;
    const char *head, *query = "", *fragment = "";

    if (url == NULL) {
        return NULL;
    }
    frag = strchr(url, '#');
    q = strchr(url, '?');
    if (q && frag && q > frag) {
        q = NULL;               /* a '?' inside the fragment */
    }
    head = apr_pstrmemdup(p, url, (apr_size_t)((q ? q : frag ? frag : url + strlen(url))
                                              - url));
    if (q) {
        apr_size_t qlen = frag ? (apr_size_t)(frag - q - 1) : strlen(q + 1);
        query = apr_pstrcat(p, "?", redact_pairs(p, q + 1, qlen), NULL);
    }
    if (frag) {
        fragment = apr_pstrcat(p, "#", redact_pairs(p, frag + 1, strlen(frag + 1)),
                               NULL);
    }
    /* userinfo password: scheme://user:password@host */
    auth = strstr(head, "://");
    if (auth) {
        auth += 3;
        auth_end = auth + strcspn(auth, "/");
        at = NULL;
        for (colon = auth; colon < auth_end; colon++) {
            if (*colon == '@') {
                at = colon;     /* last '@' of the authority */
            }
        }
        if (at) {
            colon = memchr(auth, ':', (apr_size_t)(at - auth));
            if (colon) {
                head = apr_pstrcat(p, apr_pstrmemdup(p, head, (apr_size_t)(colon - head)),
                                   ":" REDACTED, at, NULL);
            }
        }
    }
    return apr_pstrcat(p, head, query, fragment, NULL);
}
