/* mod_clientapi: per-endpoint rate limits, the failed-authentication guard per client
 * address, and the back-off from a provider's 429, all shared by every process of the server.
 *
 * Fixed windows counted in a mod_socache shmcb instance under a global mutex (the way
 * mod_authn_socache shares its cache): the key is the endpoint and the window's start, the
 * value the count so far. The limit is the endpoint's own (endpoints.rate_limit) or the server's
 * ClientAPIRateLimit. Over the limit: 429 rate_limited with Retry-After; every answer of a
 * limited endpoint carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "ap_socache.h"
#include "apr_strings.h"
#include "apr_global_mutex.h"
#include "apr_shm.h"

#include "mod_clientapi.h"
#include "mod_clientapi_api.h"

#define CA_RL_MUTEX   "clientapi-ratelimit"
#define CA_RL_DEFAULT_WINDOW 60
#define CA_AUTHFAIL_LIMIT  30     /* default: failed authentications per address ... */
#define CA_AUTHFAIL_WINDOW 300    /* ... per this many seconds, then 429 until the window ends */

static ca_socache_t rl = { .name = CA_RL_MUTEX, .what = "rate limit cache" };

/* The latest end (seconds) of any connection's back-off, in anonymous shared memory every child
 * inherits: while it lies in the past no connection can be backing off, and a provider call
 * need not take rl's mutex (a global mutex: a file lock under `Mutex file:`) to look its
 * connection up. Raised before the entry is stored; NULL (no shared memory) means always look. */
static apr_shm_t *rl_shm;
static apr_int64_t *rl_backoff_max;

#if defined(__GNUC__)
#define BACKOFF_MAX_LOAD(p)  __atomic_load_n((p), __ATOMIC_ACQUIRE)
#endif

void ca_ratelimit_pre_config(apr_pool_t *pconf)
{
    ca_socache_pre_config(pconf, CA_RL_MUTEX);
}

static apr_status_t backoff_word_gone(void *data)
{
    rl_backoff_max = NULL;              /* rl_shm goes with the same pool */
    rl_shm = NULL;
    return APR_SUCCESS;
}

apr_status_t ca_ratelimit_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    struct ap_socache_hints hints = { 64, 16, apr_time_from_sec(CA_RL_DEFAULT_WINDOW) };
    apr_status_t rv;

    /* the first pass of a start only checks the configuration */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return APR_SUCCESS;
    }
    if ((rv = ca_socache_setup(&rl, NULL, NULL, &hints, pconf, ptemp, s)) != APR_SUCCESS) {
        return rv;
    }
#if defined(__GNUC__)
    if (apr_shm_create(&rl_shm, sizeof(*rl_backoff_max), NULL, pconf) == APR_SUCCESS) {
        rl_backoff_max = apr_shm_baseaddr_get(rl_shm);
        *rl_backoff_max = 0;
        apr_pool_cleanup_register(pconf, NULL, backoff_word_gone, apr_pool_cleanup_null);
    }
#endif
    return APR_SUCCESS;
}

void ca_ratelimit_child_init(apr_pool_t *pchild, server_rec *s)
{
    ca_socache_child_init(&rl, pchild, s);
}

/* Add `add` to the counter `what` of the window starting at `start`: *count is the new value
 * (add 0 reads it). */
static apr_status_t count_in_window(request_rec *r, const char *what, apr_time_t start,
                                    int window, unsigned long add, unsigned long *count)
{
    const char *id = apr_psprintf(r->pool, "%s:%" APR_TIME_T_FMT, what, start);
    unsigned char buf[32];
    unsigned int len = sizeof(buf) - 1;
    apr_status_t rv;
    char *val;

    if ((rv = ca_socache_lock(&rl)) != APR_SUCCESS) {
        return rv;
    }
    rv = rl.provider->retrieve(rl.inst, r->server, (const unsigned char *)id,
                               (unsigned int)strlen(id), buf, &len, r->pool);
    if (rv == APR_SUCCESS) {
        buf[len] = '\0';
        *count = strtoul((const char *)buf, NULL, 10) + add;
    }
    else {
        *count = add;
    }
    if (!add) {
        ca_socache_unlock(&rl);
        return APR_SUCCESS;
    }
    val = apr_psprintf(r->pool, "%lu", *count);
    rv = rl.provider->store(rl.inst, r->server, (const unsigned char *)id,
                            (unsigned int)strlen(id),
                            apr_time_from_sec(apr_time_sec(start) + window + 1),
                            (unsigned char *)val, (unsigned int)strlen(val), r->pool);
    ca_socache_unlock(&rl);
    return rv;
}

int ca_ratelimit_check(request_rec *r, ca_api_req_t *q)
{
    int limit = q->ep->rate_limit > 0 ? q->ep->rate_limit
                : (q->sc->rate_limit > 0 ? q->sc->rate_limit : 0);
    int window = q->sc->rate_window > 0 ? q->sc->rate_window : CA_RL_DEFAULT_WINDOW;
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_time_t start = apr_time_from_sec(now - now % window);
    long reset = (long)(apr_time_sec(start) + window - now);
    unsigned long count = 0;
    apr_status_t rv;

    if (!limit || !rl.inst) {
        return OK;
    }
    rv = count_in_window(r, q->ep->public_id, start, window, 1, &count);
    if (rv != APR_SUCCESS) {
        /* the shared counter failed: answer rather than fail, and say so */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, CA_LOGNO(00906)
                      "rate limit of %s not counted (request %s)", q->ep->public_id,
                      ca_request_id(r));
        return OK;
    }
    apr_table_setn(r->err_headers_out, "RateLimit-Limit", apr_itoa(r->pool, limit));
    apr_table_setn(r->err_headers_out, "RateLimit-Remaining",
                   apr_ltoa(r->pool, count >= (unsigned long)limit ? 0
                                                                   : (long)(limit - count)));
    apr_table_setn(r->err_headers_out, "RateLimit-Reset", apr_ltoa(r->pool, reset));
    if (count > (unsigned long)limit) {
        apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, reset));
        return ca_api_fail(r, q, HTTP_TOO_MANY_REQUESTS, "rate_limited",
                           apr_psprintf(r->pool, "this endpoint allows %d requests per %d s; "
                                        "retry in %ld s", limit, window, reset));
    }
    return OK;
}

/* The server's failed-authentication limit and window (0 limit: off). */
static int authfail_conf(request_rec *r, int *window)
{
    ca_server_conf *sc = ap_get_module_config(r->server->module_config, &clientapi_module);

    *window = sc->authfail_window > 0 ? sc->authfail_window : CA_AUTHFAIL_WINDOW;
    return sc->authfail_limit == CA_UNSET ? CA_AUTHFAIL_LIMIT : sc->authfail_limit;
}

static apr_time_t authfail_window(int window, long *reset)
{
    apr_int64_t now = apr_time_sec(apr_time_now());

    *reset = (long)(window - now % window);
    return apr_time_from_sec(now - now % window);
}

int ca_authfail_blocked(request_rec *r, ca_api_req_t *q)
{
    unsigned long count = 0;
    long reset;
    int window, limit = authfail_conf(r, &window);
    apr_time_t start = authfail_window(window, &reset);

    if (!rl.inst || !limit || !r->useragent_ip
        || count_in_window(r, apr_pstrcat(r->pool, "authfail:", r->useragent_ip, NULL), start,
                           window, 0, &count) != APR_SUCCESS
        || count < (unsigned long)limit) {
        return OK;
    }
    apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, reset));
    return ca_api_fail(r, q, HTTP_TOO_MANY_REQUESTS, "rate_limited",
                       apr_psprintf(r->pool, "too many failed authentications from your "
                                    "address; retry in %ld s", reset));
}

void ca_authfail_count(request_rec *r)
{
    unsigned long count = 0;
    long reset;
    int window, limit = authfail_conf(r, &window);
    apr_time_t start = authfail_window(window, &reset);

    if (rl.inst && limit && r->useragent_ip) {
        count_in_window(r, apr_pstrcat(r->pool, "authfail:", r->useragent_ip, NULL), start,
                        window, 1, &count);
    }
}

/* Back-off after a provider 429: the connection is not called until `until`. */
void ca_backoff_set(request_rec *r, apr_int64_t connection_id, apr_int64_t until)
{
    const char *id = apr_psprintf(r->pool, "backoff:%" APR_INT64_T_FMT, connection_id);
    char *val = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, until);

    if (!rl.inst) {
        return;
    }
#if defined(__GNUC__)
    if (rl_backoff_max) {
        apr_int64_t cur = BACKOFF_MAX_LOAD(rl_backoff_max);

        while (cur < until
               && !__atomic_compare_exchange_n(rl_backoff_max, &cur, until, 0,
                                               __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            /* cur now holds the value another process stored; try again */
        }
    }
#endif
    if (ca_socache_lock(&rl) != APR_SUCCESS) {
        return;
    }
    rl.provider->store(rl.inst, r->server, (const unsigned char *)id, (unsigned int)strlen(id),
                       apr_time_from_sec(until + 1), (unsigned char *)val,
                       (unsigned int)strlen(val), r->pool);
    ca_socache_unlock(&rl);
}

/* Seconds the connection must still wait (0: none). */
long ca_backoff_remaining(request_rec *r, apr_int64_t connection_id)
{
    const char *id;
    unsigned char buf[32];
    unsigned int len = sizeof(buf) - 1;
    apr_int64_t until, now = apr_time_sec(apr_time_now());
    apr_status_t rv;

    if (!rl.inst) {
        return 0;
    }
#if defined(__GNUC__)
    if (rl_backoff_max && BACKOFF_MAX_LOAD(rl_backoff_max) <= now) {
        return 0;                       /* no back-off of any connection lasts beyond now */
    }
#endif
    id = apr_psprintf(r->pool, "backoff:%" APR_INT64_T_FMT, connection_id);
    if (ca_socache_lock(&rl) != APR_SUCCESS) {
        return 0;
    }
    rv = rl.provider->retrieve(rl.inst, r->server, (const unsigned char *)id,
                               (unsigned int)strlen(id), buf, &len, r->pool);
    ca_socache_unlock(&rl);
    if (rv != APR_SUCCESS) {
        return 0;
    }
    buf[len] = '\0';
    until = apr_atoi64((const char *)buf);
    return until > now ? (long)(until - now) : 0;
}

/* Client-side pacing of provider calls per connection (the provider file's
 * rate_limit.requests_per_minute), in fixed one-minute windows shared by every process. */
long ca_pacing_take(request_rec *r, apr_int64_t connection_id, int per_minute)
{
    const char *id = apr_psprintf(r->pool, "pace:%" APR_INT64_T_FMT, connection_id);
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_time_t start = apr_time_from_sec(now - now % 60);
    long reset = (long)(apr_time_sec(start) + 60 - now);
    unsigned long count = 0;
    apr_status_t rv;

    if (!rl.inst || per_minute <= 0) {
        return 0;
    }
    /* one locked increment: concurrent calls of several processes cannot both pass */
    rv = count_in_window(r, id, start, 60, 1, &count);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, CA_LOGNO(01220)
                      "provider calls of connection %" APR_INT64_T_FMT " not counted for "
                      "pacing (request %s)", connection_id, ca_request_id(r));
        return 0;
    }
    return count > (unsigned long)per_minute ? (reset > 0 ? reset : 1) : 0;
}
