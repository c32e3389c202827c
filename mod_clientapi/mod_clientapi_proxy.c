/* mod_clientapi: the provider proxy behind a scoped endpoint.
 *
 * Asks the provider for the endpoint's scope (the provider file's scope query), then checks
 * every record before it leaves (ca_scope, fail closed): a record outside the scope answers
 * exactly like a record that does not exist. Writes are checked before anything reaches the
 * provider: the scope ids of a create are set here, update and delete first establish that the
 * record is in scope. Provider and database failures map to the contract's 429/502/503/504.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"
#include "apr_date.h"

#include "mod_clientapi.h"
#include "mod_clientapi_api.h"
#include "ca_conn.h"
#include "ca_crypto.h"
#include "ca_http.h"
#include "ca_json.h"
#include "ca_openapi.h"
#include "ca_scope.h"

#define NOT_IN_SCOPE (-3)  /* missing or out of scope, nothing sent yet (CALL_QUIET_404) */
#define CALL_QUIET_404 1   /* a provider 404 is returned as NOT_IN_SCOPE, not answered */
#define CA_PARENT_DEPTH 3  /* parent chains (attachment -> job) are short */
#define CA_IDEM_TTL (24 * 3600)

/* ---- per-thread HTTP client -------------------------------------------------------- */

static ca_http_client_t *process_client; /* prefork: no current thread */

ca_http_client_t *ca_proxy_http_client(request_rec *r)
{
    apr_thread_t *t = r->connection->current_thread;
    ca_http_client_t *c = NULL;
    const char *err = NULL;
    apr_pool_t *pool;

    if (t) {
        apr_thread_data_get((void **)&c, "clientapi-http", t);
        if (c) {
            return c;
        }
        pool = apr_thread_pool_get(t);
    }
    else {
        if (process_client) {
            return process_client;
        }
        pool = r->server->process->pconf;   /* gone before the module is unloaded */
    }
    if (ca_http_client_create(pool, NULL, &c, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00301)
                      "cannot create the upstream HTTP client: %s", err ? err : "");
        return NULL;
    }
    if (t) {
        apr_thread_data_set(c, "clientapi-http", NULL, t);
    }
    else {
        process_client = c;
    }
    return c;
}

void ca_proxy_http_options(ca_api_req_t *q, ca_http_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = q->sc->connect_timeout_ms > 0 ? q->sc->connect_timeout_ms : 0;
    o->timeout_ms = q->sc->timeout_ms > 0 ? q->sc->timeout_ms : 0;
    o->max_response_bytes = q->sc->max_response_bytes > 0
                            ? (apr_size_t)q->sc->max_response_bytes : 0;
    o->ca_file = q->sc->ca_file;
    o->allow_plain_http = q->prov->api.local_sandbox;
    o->user_agent = apr_psprintf(q->r->pool, "mod_clientapi/%s (%s)", CA_VERSION,
                                 q->sc->deployment ? q->sc->deployment
                                                   : q->r->server->server_hostname);
}

/* ---- calling the provider ---------------------------------------------------------- */

static apr_table_t *base_vars(ca_api_req_t *q)
{
    const apr_table_t *params = ca_conf_provider_params(q->sc, q->prov->name);
    apr_table_t *v = params ? apr_table_copy(q->r->pool, params) : apr_table_make(q->r->pool, 8);

    apr_table_setn(v, "company_id", q->ep->company_id);
    if (q->ep->client_id) {
        apr_table_setn(v, "client_id", q->ep->client_id);
    }
    if (q->ep->account_id) {
        apr_table_setn(v, "account_id", q->ep->account_id);
    }
    return v;
}

static int retry_after_seconds(ca_api_req_t *q, const ca_http_response_t *resp)
{
    const char *h = apr_table_get(resp->headers, q->prov->rate_limit.retry_after_header
                                                 ? q->prov->rate_limit.retry_after_header
                                                 : "Retry-After");
    long secs = -1;

    /* GraphQL cost buckets (rate_limit.throttle_cost): the wait follows from the answer */
    if (q->prov->rate_limit.cost_restore_path) {
        int w = ca_provider_throttle_wait(q->r->pool, q->prov, resp->body, resp->body_len);
        if (w > 0) {
            return w;
        }
    }
    if (h) {
        char *end;
        secs = strtol(h, &end, 10);
        if (*end || secs < 0) {
            apr_time_t when = apr_date_parse_http(h);
            secs = when ? (long)apr_time_sec(when - apr_time_now()) : -1;
        }
    }
    if (secs < 1) {
        secs = q->prov->rate_limit.default_retry_after > 0
               ? q->prov->rate_limit.default_retry_after : 60;
    }
    return secs > 86400 ? 86400 : (int)secs;
}

static int is_rate_limited(ca_api_req_t *q, const ca_http_response_t *resp)
{
    const ca_provider_ratelimit_t *rl = &q->prov->rate_limit;
    int i;

    if (!rl->statuses || !rl->statuses->nelts) {
        if (resp->status == HTTP_TOO_MANY_REQUESTS) {
            return 1;
        }
    }
    else {
        for (i = 0; i < rl->statuses->nelts; i++) {
            if (APR_ARRAY_IDX(rl->statuses, i, int) == resp->status) {
                return 1;
            }
        }
    }
    if (rl->body_code_path && rl->body_code_value && resp->status == HTTP_OK) {
        ca_json_t *doc = ca_json_parse_str(q->r->pool, resp->body, NULL);
        const char *code = doc ? ca_json_get_string(doc, rl->body_code_path) : NULL;
        return code && !strcmp(code, rl->body_code_value);
    }
    return 0;
}

/* A printable, bounded excerpt of a provider's error text for a problem detail. */
static const char *provider_excerpt(apr_pool_t *p, const ca_http_response_t *resp)
{
    apr_size_t n = resp->body_len > 300 ? 300 : resp->body_len, i;
    char *s = apr_pstrmemdup(p, resp->body, n);

    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            s[i] = ' ';
        }
    }
    return s;
}

/* Map a provider answer that is not a success. Returns CA_ANSWERED. */
static int provider_failure(request_rec *r, ca_api_req_t *q, const ca_http_response_t *resp,
                            int is_write)
{
    int st = resp->status;

    if (is_rate_limited(q, resp)) {
        int secs = retry_after_seconds(q, resp);
        /* back off this connection until the provider's Retry-After has passed */
        ca_backoff_set(r, q->ep->connection_id, apr_time_sec(apr_time_now()) + secs);
        apr_table_setn(r->err_headers_out, "Retry-After", apr_itoa(r->pool, secs));
        ca_api_fail(r, q, HTTP_TOO_MANY_REQUESTS, "rate_limited",
                    apr_psprintf(r->pool, "the provider's rate limit was reached; retry in %d s",
                                 secs));
        return CA_ANSWERED;
    }
    if (st == HTTP_NOT_FOUND || st == HTTP_GONE) {
        return ca_api_fail(r, q, HTTP_NOT_FOUND, "not_found", "no such record");
    }
    if (st == HTTP_UNAUTHORIZED) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(00305)
                      "provider %s refused the credentials of connection %" APR_INT64_T_FMT
                      " (request %s)", q->prov->name, q->ep->connection_id, ca_request_id(r));
        ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "reauthorization_required",
                    "the provider refused this connection's credentials; its owner must "
                    "authorize it again");
        return CA_ANSWERED;
    }
    if (is_write && (st == HTTP_BAD_REQUEST || st == HTTP_CONFLICT
                     || st == HTTP_UNPROCESSABLE_ENTITY)) {
        return ca_api_fail(r, q, st == HTTP_CONFLICT ? HTTP_CONFLICT : HTTP_UNPROCESSABLE_ENTITY,
                    "provider_rejected",
                    apr_pstrcat(r->pool, "the provider rejected the write: ",
                                provider_excerpt(r->pool, resp), NULL));
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(00306)
                  "provider %s answered %d for connection %" APR_INT64_T_FMT " (request %s)",
                  q->prov->name, st, q->ep->connection_id, ca_request_id(r));
    return ca_api_fail(r, q, HTTP_BAD_GATEWAY, "provider_error",
                apr_psprintf(r->pool, "the provider answered with status %d", st));
}

/*
 * One provider call. `call` is a template; vars fill its placeholders; query is extra
 * ca_http_param_t pairs. On success *out is a 2xx answer; otherwise the caller's answer was
 * sent and CA_ANSWERED returned (404 from the provider included).
 */
static int call_provider(request_rec *r, ca_api_req_t *q, const ca_provider_call_t *call,
                         apr_table_t *vars, apr_array_header_t *query, const char *body,
                         apr_size_t body_len, const char *idem_key, int flags,
                         const ca_http_response_t **out)
{
    ca_http_client_t *client = ca_proxy_http_client(r);
    ca_http_request_t req;
    ca_http_options_t opts;
    ca_http_response_t *resp = NULL;
    apr_table_t *headers = apr_table_make(r->pool, 8);
    const char *path, *url, *err = NULL, *cred = NULL, *tenant = NULL;
    apr_array_header_t *params = apr_array_make(r->pool, 8, sizeof(ca_http_param_t));
    int i, attempt, st, is_write;
    apr_status_t rv;

    if (!client) {
        return ca_api_fail(r, q, HTTP_BAD_GATEWAY, "provider_error", "the provider cannot be reached");
    }
    if (!(q->prov->endpoint_scopes
          & (q->client_scope ? CA_PROVIDER_SCOPE_CLIENT : CA_PROVIDER_SCOPE_COMPANY))) {
        /* e.g. a company-scoped endpoint declared in httpd.conf on a Jobber connection */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(01301)
                      "endpoint %s is %s-scoped, which provider %s does not serve "
                      "(endpoint_scopes)", q->ep->public_id,
                      q->client_scope ? "client" : "company", q->prov->name);
        return ca_api_fail(r, q, HTTP_FORBIDDEN, "endpoint_inactive",
                    apr_psprintf(r->pool, "%s serves %s-scoped endpoints only",
                                 q->prov->display_name,
                                 q->client_scope ? "company" : "client"));
    }
    {
        long wait = ca_backoff_remaining(r, q->ep->connection_id);
        if (wait > 0) {
            apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, wait));
            return ca_api_fail(r, q, HTTP_TOO_MANY_REQUESTS, "rate_limited",
                               apr_psprintf(r->pool, "the provider asked to slow down; retry "
                                            "in %ld s", wait));
        }
    }
    /* client-side pacing under the provider's published limit (rate_limit.requests_per_minute) */
    if (q->prov->rate_limit.requests_per_minute > 0) {
        long wait = ca_pacing_take(r, q->ep->connection_id,
                                   q->prov->rate_limit.requests_per_minute);
        if (wait > 0) {
            apr_table_setn(r->err_headers_out, "Retry-After", apr_ltoa(r->pool, wait));
            return ca_api_fail(r, q, HTTP_TOO_MANY_REQUESTS, "rate_limited",
                               apr_psprintf(r->pool, "calls to the provider are paced at %d per "
                                            "minute for this connection; retry in %ld s",
                                            q->prov->rate_limit.requests_per_minute, wait));
        }
    }
    if ((st = ca_token_get(r, q, NULL, &cred, &tenant)) != OK) {
        return st;
    }
    if (tenant && ca_token_field_name(q->prov)) {
        /* the connect field the connection stores, e.g. {tenant} */
        apr_table_setn(vars, ca_token_field_name(q->prov), tenant);
    }
    if (ca_provider_expand(r->pool, call->path, vars, CA_EXPAND_PATH, &path, &err)
        != APR_SUCCESS) {
        if (flags & CALL_QUIET_404) {
            return NOT_IN_SCOPE;
        }
        return ca_api_fail(r, q, HTTP_NOT_FOUND, "not_found", "no such record");
    }
    for (i = 0; call->query && i < call->query->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(call->query, i, ca_provider_kv_t);
        ca_http_param_t *pm = apr_array_push(params);
        pm->name = kv->name;
        if (ca_provider_expand(r->pool, kv->value, vars, CA_EXPAND_RAW, &pm->value, &err)
            != APR_SUCCESS) {
            apr_array_pop(params);
        }
    }
    is_write = strcmp(call->method, "GET") != 0;
    if (query && call->query && call->query->nelts) {
        /* the call's own parameters win: a nested call's verified parent ({parent_id}) must
         * not be replaced or doubled by a caller's filter of the same name */
        apr_array_header_t *kept = apr_array_make(r->pool, query->nelts, sizeof(ca_http_param_t));
        for (i = 0; i < query->nelts; i++) {
            const ca_http_param_t *pm = &APR_ARRAY_IDX(query, i, ca_http_param_t);
            int j, own = 0;
            for (j = 0; j < call->query->nelts; j++) {
                own |= !strcmp(APR_ARRAY_IDX(call->query, j, ca_provider_kv_t).name, pm->name);
            }
            if (!own) {
                *(ca_http_param_t *)apr_array_push(kept) = *pm;
            }
        }
        query = kept;
    }
    if (q->prov->api.style == CA_API_GRAPHQL) {
        /* GraphQL: one POST of {query, variables}; scope values and filters are variables,
         * never text of the query */
        apr_array_header_t *extra = apr_array_make(r->pool, 4, sizeof(ca_provider_kv_t));
        if (query) {
            apr_array_cat(params, query);
        }
        for (i = 0; i < params->nelts; i++) {
            const ca_http_param_t *pm = &APR_ARRAY_IDX(params, i, ca_http_param_t);
            ca_provider_kv_t *kv = apr_array_push(extra);
            kv->name = pm->name;
            kv->value = pm->value;
        }
        apr_array_clear(params);
        is_write = body != NULL;
        if (ca_provider_graphql_body(r->pool, call, vars, extra, &body, &body_len, &err)
            != APR_SUCCESS) {
            return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                               "the request cannot be expressed");
        }
        query = NULL;
    }
    if (query) {
        apr_array_cat(params, query);
    }
    url = ca_http_build_url(r->pool, ca_provider_api_url(r->pool, q->prov, ""), path,
                            params, &err);
    if (!url) {
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request", "the request cannot be expressed");
    }
    apr_table_setn(headers, q->prov->auth.header ? q->prov->auth.header : "Authorization",
                   (q->prov->auth.scheme && !*q->prov->auth.scheme)
                   ? cred
                   : apr_pstrcat(r->pool, q->prov->auth.scheme ? q->prov->auth.scheme
                                                               : "Bearer", " ", cred, NULL));
    apr_table_setn(headers, "Accept", "application/json");
    for (i = 0; q->prov->api.headers && i < q->prov->api.headers->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(q->prov->api.headers, i, ca_provider_kv_t);
        const char *v;
        if (ca_provider_expand(r->pool, kv->value, vars, CA_EXPAND_RAW, &v, &err)
            != APR_SUCCESS) {
            /* e.g. an api.config_params value the admin has not set */
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(01210)
                          "provider %s: header %s cannot be built: %s (is every "
                          "ClientAPIProviderParam of the provider set?)", q->prov->name,
                          kv->name, err ? err : "");
            return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                               "this endpoint's provider is not fully configured on this "
                               "server");
        }
        apr_table_setn(headers, kv->name, v);
    }
    if (body) {
        apr_table_setn(headers, "Content-Type", "application/json");
    }
    if (idem_key && q->prov->api.idempotency_header) {
        apr_table_setn(headers, q->prov->api.idempotency_header, idem_key);
    }
    ca_proxy_http_options(q, &opts);
    memset(&req, 0, sizeof(req));
    req.method = call->method;
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body_len;
    req.options = &opts;

    for (attempt = 0; attempt < 2; attempt++) {
        rv = ca_http_perform(client, &req, r->pool, &resp, &err);
        if (rv == APR_SUCCESS) {
            break;
        }
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, CA_LOGNO(00308)
                      "provider %s call for connection %" APR_INT64_T_FMT " failed (%s): %s "
                      "(request %s)", q->prov->name, q->ep->connection_id,
                      resp ? resp->reason : "error", err ? err : "", ca_request_id(r));
        /* a dropped connection is retried once, for reads only */
        if (!resp || resp->result != CA_HTTP_ERR_RESET || is_write) {
            break;
        }
    }
    /* a provider 401 on an OAuth connection: renew the access token once and retry */
    if (rv == APR_SUCCESS && resp->status == HTTP_UNAUTHORIZED
        && q->prov->auth.mode != CA_AUTH_API_KEY) {
        const char *fresh = NULL;
        if ((st = ca_token_get(r, q, cred, &fresh, &tenant)) != OK) {
            return st;
        }
        apr_table_setn(headers, q->prov->auth.header ? q->prov->auth.header : "Authorization",
                       (q->prov->auth.scheme && !*q->prov->auth.scheme)
                       ? fresh
                       : apr_pstrcat(r->pool, q->prov->auth.scheme ? q->prov->auth.scheme
                                                                   : "Bearer", " ", fresh,
                                     NULL));
        rv = ca_http_perform(client, &req, r->pool, &resp, &err);
    }
    if (rv != APR_SUCCESS) {
        if (resp && resp->result == CA_HTTP_ERR_TIMEOUT) {
            ca_api_fail(r, q, HTTP_GATEWAY_TIME_OUT, "provider_timeout",
                        "the provider did not answer in time");
        }
        else {
            ca_api_fail(r, q, HTTP_BAD_GATEWAY, "provider_error",
                        apr_pstrcat(r->pool, "the provider could not be reached: ",
                                    resp && resp->reason ? resp->reason : "error", NULL));
        }
        return CA_ANSWERED;
    }
    if ((flags & CALL_QUIET_404) && (resp->status == HTTP_NOT_FOUND
                                     || resp->status == HTTP_GONE)) {
        return NOT_IN_SCOPE;
    }
    if (resp->status < 200 || resp->status > 299 || is_rate_limited(q, resp)) {
        return provider_failure(r, q, resp, is_write);
    }
    if (q->prov->api.style == CA_API_GRAPHQL) {
        /* GraphQL reports failures in a 200 body: any "errors" is a provider error */
        const char *code = NULL;
        int n = ca_provider_graphql_errors(r->pool, resp->body, resp->body_len, &code);
        if (n > 0) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(01302)
                          "provider %s answered %d GraphQL error(s) (first code %s) for "
                          "connection %" APR_INT64_T_FMT " (request %s)", q->prov->name, n,
                          code ? code : "none", q->ep->connection_id, ca_request_id(r));
            return ca_api_fail(r, q, HTTP_BAD_GATEWAY, "provider_error",
                        apr_psprintf(r->pool, "the provider answered with GraphQL errors%s%s",
                                     code ? ": " : "", code ? code : ""));
        }
    }
    *out = resp;
    return OK;
}

/* GraphQL answers a record that does not exist (or is not visible) with null at its path. */
static int graphql_null_record(request_rec *r, ca_api_req_t *q, const ca_provider_call_t *call,
                               const ca_http_response_t *resp)
{
    ca_json_t *doc, *rec;

    if (q->prov->api.style != CA_API_GRAPHQL || !call->record || !*call->record) {
        return 0;
    }
    doc = ca_json_parse_str(r->pool, resp->body, NULL);
    rec = doc ? ca_json_get(doc, call->record) : NULL;
    return rec && ca_json_type(rec) == CA_JSON_NULL;
}

/* ---- cursors: opaque to callers, bound to their endpoint and resource ------------------ */

static const char *cursor_aad(ca_api_req_t *q, const char *res)
{
    return apr_psprintf(q->r->pool, "clientapi:cursor:%s:%s", q->ep->public_id, res);
}

static const char *wrap_cursor(ca_api_req_t *q, const char *res, const char *cursor)
{
    const char *out = NULL;

    if (!cursor || !q->sc->keyring
        || ca_seal(q->r->pool, q->sc->keyring, cursor_aad(q, res), cursor, strlen(cursor),
                   &out) != APR_SUCCESS) {
        return NULL;
    }
    return out;
}

static int unwrap_cursor(ca_api_req_t *q, const char *res, const char *in, const char **out)
{
    char *plain = NULL;
    apr_size_t len;
    const char *err;

    if (!q->sc->keyring || strlen(in) > 4096
        || ca_open(q->r->pool, q->sc->keyring, cursor_aad(q, res), in, &plain, &len, &err)
           != APR_SUCCESS) {
        return ca_api_fail(q->r, q, HTTP_BAD_REQUEST, "bad_request",
                    "invalid cursor: use the next_cursor of a previous page of this endpoint");
    }
    *out = plain;
    return OK;
}

/* ---- scope context ---------------------------------------------------------------- */

static void scope_of(ca_api_req_t *q, ca_scope_t *scope)
{
    scope->kind = q->client_scope ? CA_SCOPE_CLIENT : CA_SCOPE_COMPANY;
    scope->company_id = q->ep->company_id;
    scope->client_id = q->ep->client_id;
}

static void ctx_for(ca_api_req_t *q, const ca_provider_resource_t *res, const ca_scope_t *scope,
                    const char *parent_id, ca_scope_ctx_t *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->prov = q->prov;
    ctx->res = res;
    ctx->scope = scope;
    ctx->parent_id = parent_id;
}

static int not_found(request_rec *r, ca_api_req_t *q)
{
    return ca_api_fail(r, q, HTTP_NOT_FOUND, "not_found", "no such record");
}

static int unusable(request_rec *r, ca_api_req_t *q, const char *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(00309)
                  "provider %s sent an unusable answer for connection %" APR_INT64_T_FMT
                  ": %s (request %s)", q->prov->name, q->ep->connection_id,
                  err ? err : "", ca_request_id(r));
    return ca_api_fail(r, q, HTTP_BAD_GATEWAY, "provider_error",
                "the provider's answer was not valid JSON of the expected shape");
}

/*
 * Fetch one record of `res` and decide whether it is in scope, following parent records
 * (e.g. a line item through its invoice) up to CA_PARENT_DEPTH. Returns OK with *item filled,
 * NOT_IN_SCOPE (missing and out of scope alike; nothing sent) or CA_ANSWERED (provider or
 * database trouble, answered).
 */
static int check_in_scope(request_rec *r, ca_api_req_t *q, const ca_provider_resource_t *res,
                          const char *id, int depth, ca_scope_item_t *item)
{
    const ca_http_response_t *resp;
    apr_table_t *vars = base_vars(q);
    ca_scope_t scope;
    ca_scope_ctx_t ctx;
    const char *err = NULL;
    int st;

    if (!res->item || depth > CA_PARENT_DEPTH || !ca_route_valid_id(id)) {
        return NOT_IN_SCOPE;
    }
    apr_table_setn(vars, "id", id);
    st = call_provider(r, q, res->item, vars, NULL, NULL, 0, NULL, CALL_QUIET_404, &resp);
    if (st != OK) {
        return st;
    }
    if (graphql_null_record(r, q, res->item, resp)) {
        return NOT_IN_SCOPE;
    }
    scope_of(q, &scope);
    ctx_for(q, res, &scope, NULL, &ctx);
    if (ca_scope_check_item(r->pool, &ctx, NULL, resp->body, resp->body_len, item, &err)
        != APR_SUCCESS) {
        return unusable(r, q, err);
    }
    if (!item->in_scope && item->need_parent && item->parent_id && res->parent
        && res->parent->resource) {
        ca_scope_item_t parent;
        const char *pid = item->parent_id;
        if ((st = check_in_scope(r, q, res->parent->resource, pid, depth + 1, &parent)) != OK) {
            return st;
        }
        ctx_for(q, res, &scope, pid, &ctx);
        if (ca_scope_check_item(r->pool, &ctx, NULL, resp->body, resp->body_len, item, &err)
            != APR_SUCCESS) {
            return unusable(r, q, err);
        }
    }
    /* out of scope, or not the record asked for */
    if (!item->in_scope || (item->id && strcmp(item->id, id))) {
        return NOT_IN_SCOPE;
    }
    return OK;
}

/* As check_in_scope, answering 404 not_found when the record is missing or out of scope. */
static int fetch_in_scope(request_rec *r, ca_api_req_t *q, const ca_provider_resource_t *res,
                          const char *id, int depth, ca_scope_item_t *item)
{
    int st = check_in_scope(r, q, res, id, depth, item);

    return st == NOT_IN_SCOPE ? not_found(r, q) : st;
}

/* ---- envelopes -------------------------------------------------------------------- */

static const char *json_str_or_null(apr_pool_t *p, const char *s)
{
    return s ? ca_json_quote(p, s) : "null";
}

static int send_list(request_rec *r, ca_api_req_t *q, const ca_scope_list_t *out,
                     const char *res_name)
{
    const char *next = wrap_cursor(q, res_name, out->next_cursor);
    const char *head = apr_psprintf(r->pool,
        "{\"provider\":%s,\"company_external_id\":%s,\"client_external_id\":%s,"
        "\"count\":%d,\"data\":", ca_json_quote(r->pool, q->prov->name),
        ca_json_quote(r->pool, q->ep->company_id), json_str_or_null(r->pool, q->ep->client_id),
        out->kept);
    const char *tail = apr_psprintf(r->pool, ",\"next_cursor\":%s}",
                                    json_str_or_null(r->pool, next));
    apr_size_t hl = strlen(head), tl = strlen(tail);
    char *body = apr_palloc(r->pool, hl + out->json_len + tl + 1);

    memcpy(body, head, hl);
    memcpy(body + hl, out->json, out->json_len);
    memcpy(body + hl + out->json_len, tail, tl + 1);
    q->item_count = out->kept;
    return ca_api_send(r, q, HTTP_OK, body, hl + out->json_len + tl);
}

static int send_record(request_rec *r, ca_api_req_t *q, int status, const char *json,
                       apr_size_t len, int compat)
{
    const char *head = compat
        ? apr_psprintf(r->pool, "{\"provider\":%s,\"company_external_id\":%s,\"data\":",
                       ca_json_quote(r->pool, q->prov->name),
                       ca_json_quote(r->pool, q->ep->company_id))
        : apr_psprintf(r->pool, "{\"provider\":%s,\"data\":",
                       ca_json_quote(r->pool, q->prov->name));
    apr_size_t hl = strlen(head);
    char *body = apr_palloc(r->pool, hl + len + 2);

    memcpy(body, head, hl);
    memcpy(body + hl, json, len);
    body[hl + len] = '}';
    body[hl + len + 1] = '\0';
    q->item_count = 1;
    return ca_api_send(r, q, status, body, hl + len + 1);
}

/* ---- lists ------------------------------------------------------------------------- */

/* Query parameters for a list: the scope's own (forced), then the caller's cursor, limit and
 * allowed filters. A parameter given twice or not allowed is 400. */
static int list_params(request_rec *r, ca_api_req_t *q, const ca_provider_resource_t *res,
                       apr_table_t *vars, apr_array_header_t *skip,
                       apr_array_header_t **out, const char **cursor_sent)
{
    apr_array_header_t *params = apr_array_make(r->pool, 8, sizeof(ca_http_param_t));
    const apr_array_header_t *sq = q->client_scope ? res->client_query : res->company_query;
    const ca_provider_paging_t *pg = &q->prov->paging;
    apr_hash_t *seen = apr_hash_make(r->pool), *forced = apr_hash_make(r->pool);
    const char *err, *cursor = NULL;
    int i, st, graphql = q->prov->api.style == CA_API_GRAPHQL;

    for (i = 0; sq && i < sq->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(sq, i, ca_provider_kv_t);
        ca_http_param_t *pm = apr_array_push(params);
        pm->name = kv->name;
        if (ca_provider_expand(r->pool, kv->value, vars, CA_EXPAND_RAW, &pm->value, &err)
            != APR_SUCCESS) {
            apr_array_pop(params);
            continue;
        }
        apr_hash_set(forced, kv->name, APR_HASH_KEY_STRING, "");
    }
    for (i = 0; q->params && i < q->params->nelts; i++) {
        const ca_http_param_t *in = &APR_ARRAY_IDX(q->params, i, ca_http_param_t);
        int j, skipped = 0;

        for (j = 0; skip && j < skip->nelts; j++) {
            if (!strcmp(APR_ARRAY_IDX(skip, j, const char *), in->name)) {
                skipped = 1;
            }
        }
        if (skipped) {
            continue;
        }
        if (apr_hash_get(seen, in->name, APR_HASH_KEY_STRING)) {
            return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                        apr_psprintf(r->pool, "query parameter '%s' is given more than once",
                                     ap_escape_html(r->pool, in->name)));
        }
        apr_hash_set(seen, in->name, APR_HASH_KEY_STRING, "");
        if (!strcmp(in->name, "limit")) {
            char *end;
            long v = strtol(in->value, &end, 10);
            long cap = ca_conf_max_limit(q->sc);
            ca_http_param_t *pm;
            if (!*in->value || *end || v < 1) {
                return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                            "limit must be a positive integer");
            }
            if (pg->max_limit > 0 && pg->max_limit < cap) {
                cap = pg->max_limit;
            }
            if (graphql) {
                /* GraphQL: the {limit} placeholder of the call's variables */
                apr_table_setn(vars, "limit", apr_ltoa(r->pool, v > cap ? cap : v));
            }
            else if (pg->limit_param) {
                pm = apr_array_push(params);
                pm->name = pg->limit_param;
                pm->value = apr_ltoa(r->pool, v > cap ? cap : v);
            }
        }
        else if (!strcmp(in->name, "cursor")) {
            if ((st = unwrap_cursor(q, res->name, in->value, &cursor)) != OK) {
                return st;
            }
        }
        else if (apr_hash_get(forced, in->name, APR_HASH_KEY_STRING)) {
            /* the endpoint's own scope value stays: a caller cannot widen the scope */
        }
        else if (ca_provider_filter_allowed(res, in->name)) {
            ca_http_param_t *pm = apr_array_push(params);
            *pm = *in;
        }
        else {
            return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                        apr_psprintf(r->pool, "unknown query parameter '%s' for %s",
                                     ap_escape_html(r->pool, in->name), res->name));
        }
    }
    if (cursor && pg->style == CA_PAGE_PAGE_NUMBER && strchr(cursor, '|')) {
        /* "page|size" (list_call): the next page keeps the size of the pages before it,
         * unless the caller gives a limit again */
        const char *size = strchr(cursor, '|') + 1;
        cursor = apr_pstrmemdup(r->pool, cursor, (apr_size_t)(size - 1 - cursor));
        if (!apr_hash_get(seen, "limit", APR_HASH_KEY_STRING) && pg->limit_param && *size) {
            ca_http_param_t *pm = apr_array_push(params);
            pm->name = pg->limit_param;
            pm->value = size;
            apr_hash_set(seen, "limit", APR_HASH_KEY_STRING, "");
        }
    }
    if (!graphql && !apr_hash_get(seen, "limit", APR_HASH_KEY_STRING) && pg->limit_param) {
        long cap = ca_conf_max_limit(q->sc);
        long dflt = pg->default_limit > 0 ? pg->default_limit : 0;
        if (dflt) {
            ca_http_param_t *pm = apr_array_push(params);
            pm->name = pg->limit_param;
            pm->value = apr_ltoa(r->pool, dflt > cap ? cap : dflt);
        }
    }
    if (graphql && !apr_hash_get(seen, "limit", APR_HASH_KEY_STRING)) {
        /* a GraphQL page size is always sent: default_limit, else the largest allowed */
        long cap = ca_conf_max_limit(q->sc);
        long n = pg->default_limit > 0 ? pg->default_limit : pg->max_limit;
        apr_table_setn(vars, "limit", apr_ltoa(r->pool, n > cap ? cap : n));
    }
    if (!cursor && pg->first_cursor) {
        cursor = pg->first_cursor;
    }
    if (graphql) {
        if (cursor) {
            apr_table_setn(vars, "cursor", cursor);
        }
    }
    else if (cursor && (pg->cursor_param || pg->page_param)) {
        ca_http_param_t *pm = apr_array_push(params);
        pm->name = pg->style == CA_PAGE_PAGE_NUMBER && pg->page_param ? pg->page_param
                                                                       : pg->cursor_param;
        pm->value = cursor;
    }
    *cursor_sent = cursor;
    *out = params;
    return OK;
}

static int list_call(request_rec *r, ca_api_req_t *q, const ca_provider_resource_t *res,
                     const ca_provider_call_t *call, apr_table_t *vars, const char *parent_id,
                     apr_array_header_t *skip)
{
    const ca_http_response_t *resp;
    apr_array_header_t *params = NULL;
    const char *cursor_sent = NULL, *err = NULL, *hdr = NULL;
    ca_scope_t scope;
    ca_scope_ctx_t ctx;
    ca_scope_list_t out;
    int st;

    if ((st = list_params(r, q, res, vars, skip, &params, &cursor_sent)) != OK) {
        return st;
    }
    if ((st = call_provider(r, q, call, vars, params, NULL, 0, NULL, 0, &resp)) != OK) {
        return st;
    }
    if (q->prov->paging.cursor_header) {
        hdr = apr_table_get(resp->headers, q->prov->paging.cursor_header);
    }
    scope_of(q, &scope);
    ctx_for(q, res, &scope, parent_id, &ctx);
    if (ca_scope_filter_list(r->pool, &ctx, call, resp->body, resp->body_len, cursor_sent, hdr,
                             &out, &err) != APR_SUCCESS) {
        return unusable(r, q, err);
    }
    if (out.next_cursor && q->prov->paging.style == CA_PAGE_PAGE_NUMBER
        && q->prov->paging.limit_param) {
        /* a page number means nothing without its page size: carry the size sent */
        int i;
        for (i = 0; i < params->nelts; i++) {
            const ca_http_param_t *pm = &APR_ARRAY_IDX(params, i, ca_http_param_t);
            if (!strcmp(pm->name, q->prov->paging.limit_param)) {
                out.next_cursor = apr_pstrcat(r->pool, out.next_cursor, "|", pm->value, NULL);
            }
        }
    }
    if (out.dropped) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, CA_LOGNO(00310)
                      "dropped %d out-of-scope record(s) from %s (request %s)", out.dropped,
                      res->name, ca_request_id(r));
    }
    return send_list(r, q, &out, res->name);
}

/* A list of a resource in scope only through its parent: the caller names the parent
 * (?invoice_id=), which is verified first. */
static int parent_scoped(const ca_provider_resource_t *res)
{
    return res->parent && res->parent->resource && res->parent->param;
}

static int do_list(request_rec *r, ca_api_req_t *q, const ca_provider_resource_t *res,
                   apr_array_header_t *skip)
{
    apr_table_t *vars = base_vars(q);

    if (!res->list) {
        return not_found(r, q);
    }
    if (parent_scoped(res)) {
        const char *pid = q->params ? ca_http_param_get(q->params, res->parent->param) : NULL;
        ca_scope_item_t parent;
        int st;
        if (!pid || !*pid) {
            return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                        apr_psprintf(r->pool, "%s are listed through their %s: use "
                                     "?%s=<id> or /%s/<id>/%s", res->name,
                                     res->parent->resource->name, res->parent->param,
                                     res->parent->resource->name, res->name));
        }
        if (!ca_route_valid_id(pid)) {
            return not_found(r, q);
        }
        if ((st = fetch_in_scope(r, q, res->parent->resource, pid, 1, &parent)) != OK) {
            return st;
        }
        return list_call(r, q, res, res->list, vars, pid, skip);
    }
    return list_call(r, q, res, res->list, vars, NULL, skip);
}

int ca_proxy_list(request_rec *r, ca_api_req_t *q)
{
    int st = do_list(r, q, q->res, NULL);
    return st;
}

int ca_proxy_get(request_rec *r, ca_api_req_t *q)
{
    ca_scope_item_t item;
    int st;

    q->record_id = q->route.id;
    if ((st = fetch_in_scope(r, q, q->res, q->route.id, 0, &item)) != OK) {
        return st;
    }
    return send_record(r, q, HTTP_OK, item.json, item.json_len, 0);
}

int ca_proxy_nested(request_rec *r, ca_api_req_t *q)
{
    ca_scope_item_t parent;
    apr_table_t *vars;
    int st;

    q->record_id = q->route.id;
    if ((st = fetch_in_scope(r, q, q->res, q->route.id, 0, &parent)) != OK) {
        return st;
    }
    vars = base_vars(q);
    apr_table_setn(vars, "parent_id", q->route.id);
    st = list_call(r, q, q->nested->resource, q->nested->list, vars, q->route.id, NULL);
    return st;
}

/* First value of a query parameter and how many times it was given. */
static const char *param_first(const apr_array_header_t *params, const char *name, int *count)
{
    const char *first = NULL;
    int i;

    *count = 0;
    for (i = 0; params && i < params->nelts; i++) {
        const ca_http_param_t *pm = &APR_ARRAY_IDX(params, i, ca_http_param_t);
        if (!strcmp(pm->name, name) && !(*count)++) {
            first = pm->value;
        }
    }
    return first;
}

/* /public/{ep}/query/?resource=NAME[&id=ID]: the hosted Client API's shape (GET only). */
int ca_proxy_compat(request_rec *r, ca_api_req_t *q)
{
    const char *name, *id;
    const ca_provider_resource_t *res;
    apr_array_header_t *skip = apr_array_make(r->pool, 2, sizeof(const char *));
    int n_res = 0, n_id = 0, st;

    name = param_first(q->params, "resource", &n_res);
    id = param_first(q->params, "id", &n_id);
    if (!name || n_res != 1 || n_id > 1) {
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                    "give exactly one resource=<name> (and at most one id=<id>)");
    }
    res = ca_route_valid_resource(name) ? ca_provider_resource(q->prov, name) : NULL;
    if (!res && ca_route_valid_resource(name)) {
        /* the hosted API names resources in the singular ("job") */
        res = ca_provider_resource(q->prov, apr_pstrcat(r->pool, name, "s", NULL));
    }
    if (!res || !ca_endpoint_resource_visible(res, q->client_scope)) {
        return ca_api_fail(r, q, HTTP_NOT_FOUND, "not_found",
                    "this endpoint has no such resource");
    }
    q->res = res;
    if (id) {
        ca_scope_item_t item;
        q->record_id = id;
        if ((st = fetch_in_scope(r, q, res, id, 0, &item)) != OK) {
            return st;
        }
        return send_record(r, q, HTTP_OK, item.json, item.json_len, 1);
    }
    APR_ARRAY_PUSH(skip, const char *) = "resource";
    if (n_id) {
        APR_ARRAY_PUSH(skip, const char *) = "id";
    }
    st = do_list(r, q, res, skip);
    return st;
}

/* ---- writes ------------------------------------------------------------------------ */

static int read_json_body(request_rec *r, ca_api_req_t *q, const char **body, apr_size_t *len)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    apr_off_t limit = ca_conf_max_body(q->sc);
    apr_size_t size = 0, cap = 8192;
    char *buf, *semi;
    long n;

    if (!ct || !(semi = apr_pstrdup(r->pool, ct))
        || (strtok(semi, "; \t"), strcasecmp(semi, "application/json"))) {
        return ca_api_fail(r, q, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "send the body as application/json");
    }
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request", "the request body cannot be read");
    }
    if (r->remaining > limit) {
        return ca_api_fail(r, q, HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                    apr_psprintf(r->pool, "the body is larger than %" APR_OFF_T_FMT " bytes",
                                 limit));
    }
    buf = apr_palloc(r->pool, cap + 1);
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + size, cap - size)) > 0) {
            size += (apr_size_t)n;
            if ((apr_off_t)size > limit) {
                return ca_api_fail(r, q, HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                            apr_psprintf(r->pool, "the body is larger than %" APR_OFF_T_FMT
                                         " bytes", limit));
            }
            if (size == cap) {
                char *bigger = apr_palloc(r->pool, cap * 2 + 1);
                memcpy(bigger, buf, size);
                buf = bigger;
                cap *= 2;
            }
        }
        if (n < 0) {
            return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request", "the request body was cut off");
        }
    }
    buf[size] = '\0';
    *body = buf;
    *len = size;
    return OK;
}

static int scope_write(request_rec *r, ca_api_req_t *q, ca_scope_write_e op, const char *body,
                       apr_size_t len, const char *parent_id, ca_scope_write_t *out)
{
    ca_scope_t scope;
    ca_scope_ctx_t ctx;
    const char *err = NULL;
    apr_status_t rv;

    scope_of(q, &scope);
    ctx_for(q, q->res, &scope, parent_id, &ctx);
    rv = ca_scope_write_body(r->pool, &ctx, op, body, len, out, &err);
    if (rv == CA_SCOPE_EVIOLATION) {
        return ca_api_fail(r, q, HTTP_UNPROCESSABLE_ENTITY, "scope_violation",
                    err ? err : "the body names another company or client");
    }
    if (rv != APR_SUCCESS) {
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                    err ? err : "the body must be a JSON object");
    }
    /* a parent named by the body (e.g. a line item's invoice) must be in scope too */
    if (out->parent_id && (!parent_id || strcmp(parent_id, out->parent_id))) {
        ca_scope_item_t parent;
        int st;
        if (!q->res->parent || !q->res->parent->resource
            || !ca_route_valid_id(out->parent_id)) {
            return ca_api_fail(r, q, HTTP_UNPROCESSABLE_ENTITY, "scope_violation",
                        "the body names a parent record outside this endpoint's scope");
        }
        st = check_in_scope(r, q, q->res->parent->resource, out->parent_id, 1, &parent);
        if (st == NOT_IN_SCOPE) {
            return ca_api_fail(r, q, HTTP_UNPROCESSABLE_ENTITY, "scope_violation",
                        "the body names a parent record outside this endpoint's scope");
        }
        if (st != OK) {
            return st;
        }
    }
    return OK;
}

/* Idempotency-Key on POST: the first result is stored for 24 h and replayed. */
static int idem_begin(request_rec *r, ca_api_req_t *q, const char *key, const char *body,
                      apr_size_t len, const char **key_hash, int *replayed)
{
    const char *err = NULL, *req_hash;
    apr_int64_t now = apr_time_sec(apr_time_now());
    ca_idem_record_t *rec = NULL;
    apr_status_t rv;

    *replayed = 0;
    if (strlen(key) > 255 || !*key) {
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                    "Idempotency-Key must be 1 to 255 characters");
    }
    *key_hash = ca_sha256_hex(r->pool, key, strlen(key));
    req_hash = ca_sha256_hex(r->pool, apr_pstrcat(r->pool, q->res->name, "\n",
                                                  apr_pstrmemdup(r->pool, body, len), NULL),
                             strlen(q->res->name) + 1 + len);
    rv = ca_store_idem_claim(r->pool, &q->db, q->ep->id, *key_hash, req_hash, now,
                             now + CA_IDEM_TTL, &err);
    if (rv == APR_SUCCESS) {
        return OK;
    }
    if (rv != CA_DB_ENOTCLAIMED) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, CA_LOGNO(00311)
                      "idempotency record: %s (request %s)", err ? err : "", ca_request_id(r));
        ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                    "the database is unavailable; try again shortly");
        return CA_ANSWERED;
    }
    rv = ca_store_idem_get(r->pool, &q->db, q->ep->id, *key_hash, now, &rec, &err);
    if (rv != APR_SUCCESS || !rec) {
        ca_api_fail(r, q, HTTP_CONFLICT, "idempotency_conflict",
                    "a request with this Idempotency-Key is being processed; retry shortly");
        return CA_ANSWERED;
    }
    if (strcmp(rec->request_hash, req_hash)) {
        return ca_api_fail(r, q, HTTP_UNPROCESSABLE_ENTITY, "idempotency_key_reused",
                    "this Idempotency-Key was used with a different request");
    }
    if (!rec->status || !rec->body) {
        ca_api_fail(r, q, HTTP_CONFLICT, "idempotency_conflict",
                    "a request with this Idempotency-Key is being processed; retry shortly");
        return CA_ANSWERED;
    }
    apr_table_setn(r->headers_out, "Idempotent-Replayed", "true");
    *replayed = 1;
    ca_api_send(r, q, rec->status, rec->body, strlen(rec->body));
    return CA_ANSWERED;
}

static void idem_end(request_rec *r, ca_api_req_t *q, const char *key_hash, int status,
                     const char *body)
{
    const char *err = NULL;
    apr_status_t rv;

    const char *ep = apr_ltoa(r->pool, (long)q->ep->id);

    if (status >= 200 && status < 300) {
        const char *args[] = { apr_itoa(r->pool, status), "", body, ep, key_hash };
        rv = ca_db_exec(r->pool, &q->db, CA_SQL_IDEM_COMPLETE, 5, args, NULL, &err);
    }
    else {
        /* a failed attempt may be retried with the same key */
        const char *args[] = { ep, key_hash };
        rv = ca_db_exec(r->pool, &q->db, CA_SQL_IDEM_RELEASE, 2, args, NULL, &err);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, CA_LOGNO(00312)
                      "idempotency record not completed: %s (request %s)", err ? err : "",
                      ca_request_id(r));
    }
}

int ca_proxy_create(request_rec *r, ca_api_req_t *q)
{
    const char *body, *idem = apr_table_get(r->headers_in, "Idempotency-Key");
    const char *idem_hash = NULL, *err = NULL, *out_body, *new_id = NULL;
    const ca_http_response_t *resp;
    ca_scope_write_t w;
    ca_scope_item_t item;
    apr_size_t len;
    int st, replayed = 0;

    if (!q->res->create) {
        apr_table_setn(r->err_headers_out, "Allow", "GET, HEAD");
        return ca_api_fail(r, q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                    "records of this resource cannot be created");
    }
    if ((st = read_json_body(r, q, &body, &len)) != OK
        || (st = scope_write(r, q, CA_SCOPE_WRITE_CREATE, body, len, NULL, &w)) != OK) {
        return st;
    }
    if (idem) {
        if (!q->have_db) {
            if (ca_dbd_acquire(r, &q->db) != APR_SUCCESS) {
                ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                            "the database is unavailable; try again shortly");
                return OK;
            }
            q->have_db = 1;
        }
        if ((st = idem_begin(r, q, idem, body, len, &idem_hash, &replayed)) != OK) {
            return st;
        }
    }
    st = call_provider(r, q, q->res->create, base_vars(q), NULL, w.body, w.body_len, idem, 0,
                       &resp);
    if (st != OK) {
        if (idem_hash) {
            idem_end(r, q, idem_hash, q->status, NULL);
        }
        return st;
    }
    /* the created record as the provider returned it (when it returns one) */
    {
        ca_scope_t scope;
        ca_scope_ctx_t ctx;
        scope_of(q, &scope);
        ctx_for(q, q->res, &scope, w.parent_id, &ctx);
        new_id = q->res->create->id_header
                 ? apr_table_get(resp->headers, q->res->create->id_header) : NULL;
        if (resp->body_len && !new_id
            && ca_scope_check_item(r->pool, &ctx, q->res->create->record, resp->body,
                                   resp->body_len, &item, &err) == APR_SUCCESS
            && item.json && item.in_scope) {
            new_id = item.id;
            out_body = apr_psprintf(r->pool, "{\"provider\":%s,\"data\":%.*s}",
                                    ca_json_quote(r->pool, q->prov->name),
                                    (int)item.json_len, item.json);
        }
        else if (new_id && q->res->item && ca_route_valid_id(new_id)
                 && (st = check_in_scope(r, q, q->res, new_id, 0, &item)) != NOT_IN_SCOPE) {
            /* the provider answered the new id only (ServiceM8 x-record-uuid): read it */
            if (st != OK) {
                /* created, but not read back (answered): a retry with the same key must
                 * replay the creation, not write twice */
                if (idem_hash) {
                    idem_end(r, q, idem_hash, HTTP_CREATED,
                             apr_psprintf(r->pool, "{\"provider\":%s,\"data\":{\"id\":%s}}",
                                          ca_json_quote(r->pool, q->prov->name),
                                          json_str_or_null(r->pool, new_id)));
                }
                return st;
            }
            out_body = apr_psprintf(r->pool, "{\"provider\":%s,\"data\":%.*s}",
                                    ca_json_quote(r->pool, q->prov->name),
                                    (int)item.json_len, item.json);
        }
        else {
            out_body = apr_psprintf(r->pool, "{\"provider\":%s,\"data\":{\"id\":%s}}",
                                    ca_json_quote(r->pool, q->prov->name),
                                    json_str_or_null(r->pool, new_id));
        }
    }
    if (idem_hash) {
        idem_end(r, q, idem_hash, HTTP_CREATED, out_body);
    }
    if (new_id && ca_route_valid_id(new_id)) {
        apr_table_setn(r->headers_out, "Location",
                       apr_pstrcat(r->pool, ca_api_endpoint_url(r, q->dc, q->ep->public_id),
                                   "/", q->res->name, "/", new_id, NULL));
    }
    q->item_count = 1;
    return ca_api_send(r, q, HTTP_CREATED, out_body, strlen(out_body));
}

int ca_proxy_write_item(request_rec *r, ca_api_req_t *q)
{
    const ca_provider_call_t *call;
    const ca_http_response_t *resp;
    ca_scope_item_t item;
    ca_scope_write_t w;
    apr_table_t *vars;
    const char *body = NULL;
    apr_size_t len = 0;
    int st, m = r->method_number;

    q->record_id = q->route.id;
    call = m == M_PATCH ? q->res->update : m == M_PUT ? q->res->replace : q->res->del;
    if (!call) {
        apr_table_setn(r->err_headers_out, "Allow", "GET, HEAD");
        return ca_api_fail(r, q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                    "this operation is not available for this resource");
    }
    if (m != M_DELETE && (st = read_json_body(r, q, &body, &len)) != OK) {
        return st;
    }
    /* the record must be in scope before anything is written */
    if ((st = fetch_in_scope(r, q, q->res, q->route.id, 0, &item)) != OK) {
        return st;
    }
    if (m != M_DELETE) {
        st = scope_write(r, q, m == M_PATCH ? CA_SCOPE_WRITE_UPDATE : CA_SCOPE_WRITE_REPLACE,
                         body, len, item.parent_id, &w);
        if (st != OK) {
            return st;
        }
        body = w.body;
        len = w.body_len;
    }
    vars = base_vars(q);
    apr_table_setn(vars, "id", q->route.id);
    if ((st = call_provider(r, q, call, vars, NULL, body, len, NULL, 0, &resp)) != OK) {
        return st;
    }
    if (m == M_DELETE) {
        q->status = HTTP_NO_CONTENT;
        r->status = HTTP_NO_CONTENT;
        return OK;
    }
    if (resp->body_len) {
        ca_scope_t scope;
        ca_scope_ctx_t ctx;
        ca_scope_item_t out;
        const char *err = NULL;
        scope_of(q, &scope);
        ctx_for(q, q->res, &scope, item.parent_id, &ctx);
        if (ca_scope_check_item(r->pool, &ctx, call->record, resp->body, resp->body_len, &out,
                                &err) == APR_SUCCESS && out.in_scope) {
            return send_record(r, q, HTTP_OK, out.json, out.json_len, 0);
        }
    }
    /* the provider answered without the record (or with one we cannot show): re-read it */
    if ((st = fetch_in_scope(r, q, q->res, q->route.id, 0, &item)) != OK) {
        return st;
    }
    return send_record(r, q, HTTP_OK, item.json, item.json_len, 0);
}
