/* mod_clientapi: state of one caller request to a scoped endpoint, shared by the handler
 * (mod_clientapi_api.c), the provider proxy (mod_clientapi_proxy.c) and the request log
 * (mod_clientapi_log.c). */
#ifndef MOD_CLIENTAPI_API_H
#define MOD_CLIENTAPI_API_H

#include "httpd.h"
#include "mod_clientapi.h"
#include "ca_provider.h"
#include "ca_route.h"
#include "ca_store.h"
#include "ca_http.h"

/* What the functions of the request path return: OK to go on, CA_ANSWERED once an answer
 * (problem or data) was sent; the handler turns CA_ANSWERED into OK for httpd. */
#define CA_ANSWERED (-2)

/* A connection's credential as the key cache holds it (sealed, as stored). */
typedef struct {
    const char *field;                 /* "access_token" | "api_key" */
    const char *sealed;
    const char *tenant;
    const char *status;                /* the connection's */
    apr_int64_t expires_at;            /* access token expiry, 0: none */
    apr_int64_t read_at;               /* when it was read from the database */
} ca_keycache_cred_t;

typedef struct {
    request_rec *r;
    ca_server_conf *sc;
    ca_dir_conf *dc;
    apr_time_t start;
    apr_array_header_t *params;        /* ca_http_param_t of the query, NULL if malformed */
    ca_route_t route;
    ca_db_t db;
    int have_db;

    const ca_endpoint_t *ep;           /* authenticated endpoint */
    apr_uint64_t cache_gen;            /* key cache generation read by auth (0: no cache) */
    const ca_keycache_cred_t *cache_cred; /* the cached entry's connection credential */
    const char *endpoint_id;           /* set once the key matched the URL's endpoint */
    int read_write;
    int client_scope;
    const ca_provider_t *prov;
    const ca_provider_resource_t *res;
    const ca_provider_nested_t *nested;

    /* for the request log */
    int status;
    long item_count;                   /* -1: not a list */
    const char *record_id;
    const char *error_code;
    const char *error_detail;
} ca_api_req_t;

/* The request's state (NULL when the request did not go through the API handler). */
ca_api_req_t *ca_api_req(request_rec *r);

/* problem+json answer, remembering code and detail for the request log: CA_ANSWERED. */
int ca_api_fail(request_rec *r, ca_api_req_t *q, int status, const char *code,
                const char *detail);

/* The absolute URL of an endpoint as callers reach it. */
const char *ca_api_endpoint_url(request_rec *r, const ca_dir_conf *dc, const char *ep_id);

/* A JSON answer: CA_ANSWERED. */
int ca_api_send(request_rec *r, ca_api_req_t *q, int status, const char *body, apr_size_t len);

/* mod_clientapi_token.c: the credential for the endpoint's connection, renewing OAuth access
 * tokens before expiry, or after a provider refused `stale` (NULL normally). */
int ca_token_get(request_rec *r, ca_api_req_t *q, const char *stale, const char **cred,
                 const char **tenant);
/* The placeholder name of the value a connection stores with its credentials (`tenant` above):
 * the provider's one non-secret auth.connect_fields entry (ServiceTitan: "tenant"); NULL when it
 * declares none or more than a connection can store. */
const char *ca_token_field_name(const ca_provider_t *prov);

/* mod_clientapi_keycache.c: the endpoint of a key hash from the cache. HIT: fresh; STALE: older
 * than ttl=, to be used only when the database cannot answer; MISS: read the database and
 * ca_keycache_store() what it returned (q->have_db set). */
#define CA_KEYCACHE_MISS  0
#define CA_KEYCACHE_HIT   1
#define CA_KEYCACHE_STALE 2
int ca_keycache_lookup(request_rec *r, ca_api_req_t *q, const char *key_hash,
                       const ca_endpoint_t **ep);
void ca_keycache_store(request_rec *r, ca_api_req_t *q, const char *key_hash,
                       ca_endpoint_t *ep);
/* The decrypted credential of the request's connection, cached in this process for the
 * request's generation, or opened from the key cache's entry: 1, else 0. */
int ca_keycache_cred_get(request_rec *r, ca_api_req_t *q, const char **cred,
                         const char **tenant, apr_int64_t *expires_at);
/* Remember a credential just read from the database at read_at. */
void ca_keycache_cred_put(request_rec *r, ca_api_req_t *q, const char *cred,
                          const char *tenant, apr_int64_t expires_at, apr_int64_t read_at);

/* mod_clientapi_ratelimit.c: count the request against its endpoint's limit; CA_ANSWERED
 * (429 rate_limited) when over it. */
int ca_ratelimit_check(request_rec *r, ca_api_req_t *q);
/* The failed-authentication guard per client address (mod_remoteip's useragent_ip):
 * CA_ANSWERED (429) while the address is over its limit; count one failure. */
int ca_authfail_blocked(request_rec *r, ca_api_req_t *q);
void ca_authfail_count(request_rec *r);
/* Back-off after a provider 429, per connection, shared by every process. */
void ca_backoff_set(request_rec *r, apr_int64_t connection_id, apr_int64_t until);
long ca_backoff_remaining(request_rec *r, apr_int64_t connection_id);
/* Client-side pacing: count one provider call of the connection in the current minute;
 * returns 0 when it may go, else the seconds until the next minute. */
long ca_pacing_take(request_rec *r, apr_int64_t connection_id, int per_minute);

/* mod_clientapi_proxy.c */
ca_http_client_t *ca_proxy_http_client(request_rec *r);
void ca_proxy_http_options(ca_api_req_t *q, ca_http_options_t *o);
int ca_proxy_list(request_rec *r, ca_api_req_t *q);
int ca_proxy_get(request_rec *r, ca_api_req_t *q);
int ca_proxy_nested(request_rec *r, ca_api_req_t *q);
int ca_proxy_create(request_rec *r, ca_api_req_t *q);
int ca_proxy_write_item(request_rec *r, ca_api_req_t *q);
int ca_proxy_compat(request_rec *r, ca_api_req_t *q);

#endif /* MOD_CLIENTAPI_API_H */
