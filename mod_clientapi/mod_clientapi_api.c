/* mod_clientapi: the scoped-endpoint handler (SetHandler clientapi-api), contract section 2.
 *
 * Order of checks, each answered with the contract's problem+json:
 *   query parse (400 bad_request) -> key in query (400 key_in_query) -> route (404) ->
 *   key present (401 key_missing) -> key format (401 key_invalid, no lookup) ->
 *   key lookup (401 key_invalid; 503 storage_unavailable) -> key's endpoint is the URL's
 *   (401 key_invalid) -> status, expiry, IP allow list (403) -> connection (503) ->
 *   method and access mode (405) -> resource (404) -> provider call (mod_clientapi_proxy.c).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "apr_network_io.h"

#include "mod_clientapi.h"
#include "mod_clientapi_api.h"
#include "ca_http.h"
#include "ca_json.h"
#include "ca_key.h"
#include "ca_openapi.h"
#include "ca_route.h"

#define CA_NOTE_API "clientapi-api-request"

static const char *method_name(request_rec *r)
{
    return r->header_only ? "HEAD" : r->method;
}

/* The <Location> the handler is bound to. Our own per-directory record exists only where one
 * of our directives appears in the section, so the section's path comes from core's record
 * (the innermost <Location> merged for this request). */
static const char *location_of(request_rec *r, const ca_dir_conf *dc)
{
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);

    if (dc && dc->location) {
        return dc->location;
    }
    return (cd && cd->d && *cd->d == '/' && !cd->d_is_fnmatch) ? cd->d : "/";
}

/* The path below the handler's <Location>. */
static const char *path_below(request_rec *r, const ca_dir_conf *dc)
{
    const char *loc = location_of(r, dc);
    size_t n = strlen(loc);

    while (n && loc[n - 1] == '/') {
        n--;
    }
    if (strncmp(r->uri, loc, n)) {
        return NULL;
    }
    return r->uri[n] ? r->uri + n : "/";
}

/* The absolute URL of an endpoint as callers reach it. */
const char *ca_api_endpoint_url(request_rec *r, const ca_dir_conf *dc, const char *ep_id)
{
    const char *loc = location_of(r, dc);
    size_t n = strlen(loc);

    while (n && loc[n - 1] == '/') {
        n--;
    }
    return apr_psprintf(r->pool, "%s%.*s/%s", ap_construct_url(r->pool, "", r),
                        (int)n, loc, ep_id);
}

/* Authorization: Bearer <key>, or X-API-Key: <key>. Both given and different: refused. */
static int extract_key(request_rec *r, ca_api_req_t *q, const char **key)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    const char *xkey = apr_table_get(r->headers_in, "X-API-Key");
    const char *bearer = NULL;

    *key = NULL;
    if (auth) {
        if (strncasecmp(auth, "Bearer ", 7)) {
            return ca_api_fail(r, q, HTTP_UNAUTHORIZED, "key_invalid",
                               "the Authorization header must be 'Bearer <key>'");
        }
        bearer = auth + 7;
        while (*bearer == ' ') {
            bearer++;
        }
    }
    if (bearer && xkey && strcmp(bearer, xkey)) {
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                           "Authorization and X-API-Key carry different keys");
    }
    *key = bearer ? bearer : xkey;
    if (!*key || !**key) {
        return ca_api_fail(r, q, HTTP_UNAUTHORIZED, "key_missing",
                           "send the endpoint's key as 'Authorization: Bearer <key>' "
                           "or 'X-API-Key: <key>'");
    }
    return OK;
}

/* ip_allow: comma or space separated CIDRs or addresses (IPv4 and IPv6). Unparsable entries
 * never match (fail closed). An empty list allows every address. */
static int ip_allowed(request_rec *r, const char *list)
{
    char *copy, *tok, *last;
    apr_sockaddr_t *sa;
    int any = 0;

    if (!list || !*list) {
        return 1;
    }
    if (apr_sockaddr_info_get(&sa, r->useragent_ip, APR_UNSPEC, 0, APR_IPV4_ADDR_OK,
                              r->pool) != APR_SUCCESS) {
        return 0;
    }
    copy = apr_pstrdup(r->pool, list);
    for (tok = apr_strtok(copy, ", ", &last); tok; tok = apr_strtok(NULL, ", ", &last)) {
        char *slash = strchr(tok, '/');
        apr_ipsubnet_t *sub;

        any = 1;
        if (slash) {
            *slash = '\0';
        }
        if (apr_ipsubnet_create(&sub, tok, slash ? slash + 1 : NULL, r->pool) == APR_SUCCESS
            && apr_ipsubnet_test(sub, sa)) {
            return 1;
        }
    }
    return !any;
}

static int is_write_method(int m)
{
    return m == M_POST || m == M_PUT || m == M_PATCH || m == M_DELETE;
}

/* Methods the route allows at all; 0 when `m` is allowed. */
static const char *route_allow(const ca_api_req_t *q)
{
    switch (q->route.kind) {
    case CA_ROUTE_COLLECTION:
        return ca_endpoint_methods_scoped(q->r->pool, q->res, q->read_write, q->client_scope,
                                          0);
    case CA_ROUTE_ITEM:
        return ca_endpoint_methods_scoped(q->r->pool, q->res, q->read_write, q->client_scope,
                                          1);
    default:
        return "GET, HEAD";
    }
}

static int method_listed(const char *allow, const char *m)
{
    const char *s = allow;
    size_t n = strlen(m);

    while ((s = strstr(s, m))) {
        if ((s == allow || s[-1] == ' ') && (s[n] == ',' || s[n] == '\0')) {
            return 1;
        }
        s += n;
    }
    return 0;
}

int ca_api_fail(request_rec *r, ca_api_req_t *q, int status, const char *code,
                const char *detail)
{
    if (q) {
        q->error_code = code;
        q->error_detail = detail;
        q->status = status;
    }
    if (status == HTTP_UNAUTHORIZED) {
        if (strcmp(code, "key_missing")) {
            ca_authfail_count(r);   /* a wrong key, not a forgotten one */
        }
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       apr_psprintf(r->pool, "Bearer realm=\"clientapi\", error=\"%s\"",
                                    !strcmp(code, "key_missing") ? "invalid_request"
                                                                 : "invalid_token"));
    }
    ca_problem(r, status, code, detail);
    return CA_ANSWERED;
}

/* Endpoint by key hash: from the key cache (mod_clientapi_keycache.c), else from the database,
 * then cached. Endpoints declared in httpd.conf are in the database too (synced once per
 * process), marked as managed by the configuration. A stale cache entry answers only while the
 * database cannot. */
static int lookup_endpoint(request_rec *r, ca_api_req_t *q, const char *key_hash)
{
    const ca_endpoint_t *cached = NULL;
    ca_endpoint_t *ep = NULL;
    const char *err = NULL;
    apr_status_t rv;
    int kc = ca_keycache_lookup(r, q, key_hash, &cached);

    if (kc == CA_KEYCACHE_HIT) {
        q->ep = cached;
        return OK;
    }
    if ((rv = ca_dbd_acquire(r, &q->db)) != APR_SUCCESS) {
        if (kc == CA_KEYCACHE_STALE) {
            q->ep = cached;
            return OK;
        }
        return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                           "the database is unavailable; try again shortly");
    }
    q->have_db = 1;
    ca_dbd_sync_declared(r, &q->db);
    rv = ca_store_endpoint_by_key(r->pool, &q->db, key_hash, apr_time_sec(q->start), &ep,
                                  &err);
    if (rv == CA_DB_ENOTFOUND) {
        return ca_api_fail(r, q, HTTP_UNAUTHORIZED, "key_invalid",
                           "the key is not valid for this endpoint");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, CA_LOGNO(00201)
                      "endpoint lookup failed (request %s): %s", ca_request_id(r),
                      err ? err : "");
        if (kc == CA_KEYCACHE_STALE) {
            q->ep = cached;
            return OK;
        }
        return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                           "the database is unavailable; try again shortly");
    }
    ca_keycache_store(r, q, key_hash, ep);
    q->ep = ep;
    return OK;
}

static int authenticate(request_rec *r, ca_api_req_t *q)
{
    const char *key;
    apr_status_t rv;
    int st;

    if ((st = ca_authfail_blocked(r, q)) != OK || (st = extract_key(r, q, &key)) != OK) {
        return st;
    }
    if ((rv = ca_key_check_format(key, strlen(key))) != APR_SUCCESS) {
        return ca_api_fail(r, q, HTTP_UNAUTHORIZED, "key_invalid",
                           apr_pstrcat(r->pool, "malformed key: ", ca_key_strerror(rv), NULL));
    }
    if ((st = lookup_endpoint(r, q, ca_key_hash(r->pool, key))) != OK) {
        return st;
    }
    if (strcmp(q->ep->public_id, q->route.endpoint_id)) {
        return ca_api_fail(r, q, HTTP_UNAUTHORIZED, "key_invalid",
                           "the key is not valid for this endpoint");
    }
    q->endpoint_id = q->ep->public_id;
    if (strcmp(q->ep->status, "active")) {
        return ca_api_fail(r, q, HTTP_FORBIDDEN, "endpoint_inactive",
                           "this endpoint has been deactivated");
    }
    if (q->ep->expires_at && q->ep->expires_at <= apr_time_sec(q->start)) {
        return ca_api_fail(r, q, HTTP_FORBIDDEN, "endpoint_inactive", "this endpoint has expired");
    }
    if (!ip_allowed(r, q->ep->ip_allow)) {
        return ca_api_fail(r, q, HTTP_FORBIDDEN, "ip_not_allowed",
                           "this endpoint does not accept calls from your address");
    }
    if (q->ep->connection_status && !strcmp(q->ep->connection_status, "disconnected")) {
        return ca_api_fail(r, q, HTTP_FORBIDDEN, "endpoint_inactive",
                           "the provider connection of this endpoint was disconnected");
    }
    if (q->ep->connection_status
        && !strcmp(q->ep->connection_status, "reauthorization_required")) {
        return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "reauthorization_required",
                           "the provider connection must be authorized again by its owner");
    }
    q->read_write = !strcmp(q->ep->access_mode, "read-write");
    q->client_scope = !strcmp(q->ep->scope_kind, "client");
    q->prov = apr_hash_get(q->sc->providers, q->ep->provider, APR_HASH_KEY_STRING);
    if (!q->prov) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00202)
                      "endpoint %s uses provider '%s', which no ClientAPIProviderFile defines "
                      "(request %s)", q->ep->public_id, q->ep->provider, ca_request_id(r));
        return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                           "this endpoint's provider is not configured on this server");
    }
    return OK;
}

static void endpoint_info(ca_api_req_t *q, ca_endpoint_info_t *info)
{
    memset(info, 0, sizeof(*info));
    info->endpoint_id = q->ep->public_id;
    info->url = ca_api_endpoint_url(q->r, q->dc, q->ep->public_id);
    info->client_scope = q->client_scope;
    info->company_id = q->ep->company_id;
    info->company_name = q->ep->company_name;
    info->client_id = q->ep->client_id;
    info->client_name = q->ep->client_name;
    info->read_write = q->read_write;
    info->max_limit = ca_conf_max_limit(q->sc);
}

static int send_json(request_rec *r, ca_api_req_t *q, int status, const char *ctype,
                     const char *body, apr_size_t len)
{
    q->status = status;
    r->status = status;
    ap_set_content_type(r, ctype);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_length(r, len);
    if (!r->header_only && len) {
        ap_rwrite(body, (int)len, r);
    }
    return CA_ANSWERED;
}

int ca_api_send(request_rec *r, ca_api_req_t *q, int status, const char *body, apr_size_t len)
{
    return send_json(r, q, status, "application/json", body, len);
}

/* Resolve the resource (and nested sub-resource) of the route; 404 when the provider lacks it
 * or the endpoint's scope kind cannot see it. */
static int resolve_resource(request_rec *r, ca_api_req_t *q)
{
    q->res = ca_provider_resource(q->prov, q->route.resource);
    if (!q->res || !ca_endpoint_resource_visible(q->res, q->client_scope)) {
        return ca_api_fail(r, q, HTTP_NOT_FOUND, "not_found",
                           apr_psprintf(r->pool, "this endpoint has no resource '%s'",
                                        q->route.resource));
    }
    if (q->route.kind == CA_ROUTE_NESTED) {
        q->nested = ca_provider_nested(q->res, q->route.sub);
        if (!q->nested || !ca_endpoint_resource_visible(q->nested->resource, q->client_scope)) {
            return ca_api_fail(r, q, HTTP_NOT_FOUND, "not_found",
                               apr_psprintf(r->pool, "'%s' has no nested resource '%s'",
                                            q->route.resource, q->route.sub));
        }
    }
    return OK;
}

static int dispatch(request_rec *r, ca_api_req_t *q)
{
    const char *allow, *m = method_name(r);
    ca_endpoint_info_t info;
    int st;

    if (q->route.kind == CA_ROUTE_COLLECTION || q->route.kind == CA_ROUTE_ITEM
        || q->route.kind == CA_ROUTE_NESTED) {
        if ((st = resolve_resource(r, q)) != OK) {
            return st;
        }
    }
    allow = route_allow(q);
    if (!*allow) {
        /* e.g. the collection of a resource listed through its parent only (ServiceM8 line
         * items): no method at all, so no such URL */
        return ca_api_fail(r, q, HTTP_NOT_FOUND, "not_found",
                           apr_psprintf(r->pool, "%s are reached through their parent record",
                                        q->res ? q->res->name : "these records"));
    }
    if (!method_listed(allow, m)) {
        apr_table_setn(r->err_headers_out, "Allow", allow);
        if (is_write_method(r->method_number) && !q->read_write) {
            return ca_api_fail(r, q, HTTP_METHOD_NOT_ALLOWED, "read_only",
                               "this endpoint is read-only");
        }
        return ca_api_fail(r, q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                           apr_psprintf(r->pool, "%s is not allowed here (allowed: %s)",
                                        ap_escape_html(r->pool, m), allow));
    }
    if ((q->route.kind == CA_ROUTE_DESCRIBE || q->route.kind == CA_ROUTE_OPENAPI)
        && q->params && q->params->nelts) {
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                           apr_psprintf(r->pool, "unknown query parameter '%s'",
                                        ap_escape_html(r->pool, APR_ARRAY_IDX(q->params, 0,
                                                       ca_http_param_t).name)));
    }
    switch (q->route.kind) {
    case CA_ROUTE_DESCRIBE: {
        const char *doc;
        endpoint_info(q, &info);
        doc = ca_describe_json(r->pool, q->prov, &info);
        return ca_api_send(r, q, HTTP_OK, doc, strlen(doc));
    }
    case CA_ROUTE_OPENAPI: {
        const char *doc;
        endpoint_info(q, &info);
        doc = ca_openapi_json(r->pool, q->prov, &info);
        return send_json(r, q, HTTP_OK, "application/vnd.oai.openapi+json", doc, strlen(doc));
    }
    case CA_ROUTE_COMPAT:
        return ca_proxy_compat(r, q);
    case CA_ROUTE_COLLECTION:
        return r->method_number == M_POST ? ca_proxy_create(r, q) : ca_proxy_list(r, q);
    case CA_ROUTE_ITEM:
        if (r->method_number == M_GET) {
            return ca_proxy_get(r, q);
        }
        return ca_proxy_write_item(r, q);
    case CA_ROUTE_NESTED:
        return ca_proxy_nested(r, q);
    default:
        return ca_api_fail(r, q, HTTP_NOT_FOUND, "not_found", "no such URL");
    }
}

/* Dot segments ("/./", "/../", also %-encoded) in the URL as sent: httpd would resolve them to
 * another URL of the same endpoint; callers get 404 instead of a silent rewrite. */
static int has_dot_segment(const char *raw)
{
    const char *s;

    if (!raw) {
        return 0;
    }
    if (ap_strcasestr(raw, "%2e")) {
        return 1;
    }
    for (s = raw; (s = strstr(s, "/.")); s++) {
        if (s[2] == '/' || s[2] == '\0' || (s[2] == '.' && (s[3] == '/' || s[3] == '\0'))) {
            return 1;
        }
    }
    return 0;
}

/* Query parameters are forwarded to providers: a control character (CR, LF, NUL is refused
 * by the parser already) or invalid UTF-8 in a name or value is the caller's error, not
 * something to pass on and answer as the provider's. Returns the offending parameter's
 * position (from 1), or 0. */
static int bad_param(const apr_array_header_t *params)
{
    int i, k;

    for (i = 0; params && i < params->nelts; i++) {
        const ca_http_param_t *pv = &APR_ARRAY_IDX(params, i, ca_http_param_t);
        const char *s[2] = { pv->name, pv->value };

        for (k = 0; k < 2; k++) {
            const unsigned char *c;

            for (c = (const unsigned char *)s[k]; *c; c++) {
                if (*c < 0x20 || *c == 0x7f) {
                    return i + 1;
                }
            }
            if (ca_utf8_chars(s[k], strlen(s[k])) < 0) {
                return i + 1;
            }
        }
    }
    return 0;
}

static int api(request_rec *r, ca_api_req_t *q)
{
    const char *path, *why = NULL;
    char *raw;
    int st;

    ca_request_id(r); /* sets X-Request-Id on every answer */
    /* the request line as sent (httpd normalises r->uri and r->parsed_uri.path) */
    raw = apr_pstrdup(r->pool, r->unparsed_uri ? r->unparsed_uri : "");
    raw[strcspn(raw, "?#")] = '\0';
    path = has_dot_segment(raw) ? NULL : path_below(r, q->dc);
    ca_route_parse(r->pool, path ? path : "", &q->route);
    if (ca_http_parse_form(r->pool, r->args ? r->args : "", r->args ? strlen(r->args) : 0,
                           &q->params, &why) != APR_SUCCESS) {
        q->params = NULL;
        /* a malformed query may still carry a key: keep it out of the access log too */
        ca_redact_request_line(r, ca_http_redact_query(r->pool, r->args));
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                           why ? why : "malformed query string");
    }
    if (ca_query_has_key(q->params)) {
        ca_redact_request_line(r, ca_http_redact_query(r->pool, r->args));
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "key_in_query",
                           "keys are not accepted in the query string: send "
                           "'Authorization: Bearer <key>'; treat this key as exposed");
    }
    if ((st = bad_param(q->params)) != 0) {
        return ca_api_fail(r, q, HTTP_BAD_REQUEST, "bad_request",
                           apr_psprintf(r->pool, "query parameter %d holds a control "
                                        "character or invalid UTF-8", st));
    }
    if (q->route.kind == CA_ROUTE_NONE) {
        return ca_api_fail(r, q, HTTP_NOT_FOUND, "not_found", q->route.why);
    }
    if ((st = authenticate(r, q)) != OK || (st = ca_ratelimit_check(r, q)) != OK) {
        return st;
    }
    return dispatch(r, q);
}

int ca_api_handler(request_rec *r)
{
    ca_api_req_t *q = apr_pcalloc(r->pool, sizeof(*q));
    int st;

    q->r = r;
    q->start = r->request_time ? r->request_time : apr_time_now();
    q->sc = ap_get_module_config(r->server->module_config, &clientapi_module);
    q->dc = ap_get_module_config(r->per_dir_config, &clientapi_module);
    ap_set_module_config(r->request_config, &clientapi_module, q);
    st = api(r, q);
    return st == CA_ANSWERED ? OK : st;
}

ca_api_req_t *ca_api_req(request_rec *r)
{
    request_rec *m = r;

    while (m->prev) {
        m = m->prev;
    }
    return ap_get_module_config(m->request_config, &clientapi_module);
}
