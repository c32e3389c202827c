/* mod_clientapi: the dashboard's JSON API (SetHandler clientapi-dashboard), contract
 * section 5. Documented in docs/dashboard.md.
 *
 * Every answer is JSON; errors are problem+json (ca_problem) with a stable code. Order of
 * checks: route (404) -> method (405) -> query parameters (400) -> database (503) ->
 * session (401; not for /login) -> CSRF token on state-changing methods (403 csrf_failed) ->
 * role (403) -> body (413, 415, 400) -> the route's own checks. A member sees and changes
 * only what they own (anything else is 404, exactly like what does not exist); an admin
 * sees everything. Every change writes an audit event.
 *
 * Login throttling (all in the database, so every process and every node sees the same
 * counts, and restarts do not reset them):
 *  - per account: users.failed_logins; CA_LOGIN_MAX_FAILURES failures in a row lock the
 *    account for CA_LOGIN_LOCK_SEC (users.locked_until). Emails without an account are
 *    throttled the same way from login_attempts, so a lock does not reveal an account.
 *  - per client address: more than CA_LOGIN_IP_MAX_FAILURES failed logins within
 *    CA_LOGIN_IP_WINDOW_SEC (login_attempts) are answered 429 until the window moves on.
 * The address is r->useragent_ip (mod_remoteip's, when a proxy is configured).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "mod_clientapi.h"
#include "mod_clientapi_session.h"
#include "mod_clientapi_connect.h"
#include "ca_crypto.h"
#include "ca_http.h"
#include "ca_json.h"
#include "ca_key.h"
#include "ca_password.h"
#include "ca_provider.h"
#include "ca_store.h"

#define CA_LOGIN_MAX_FAILURES     5          /* failures in a row that lock an account */
#define CA_LOGIN_LOCK_SEC         (15 * 60)  /* how long the lock lasts */
#define CA_LOGIN_IP_MAX_FAILURES  20         /* failed logins per address and window */
#define CA_LOGIN_IP_WINDOW_SEC    (15 * 60)

#define CA_DASH_API_PATH          "/api"     /* where callers reach endpoints (URL shown) */
#define CA_DASH_MAX_NAME          200        /* characters of names */
#define CA_DASH_MAX_EMAIL         254        /* bytes of an email address */
#define CA_DASH_MAX_SCOPE_ID      255        /* bytes of a company or client id */
#define CA_DASH_MAX_IP_ALLOW      50         /* entries of an address allow-list */
#define CA_DASH_LIST_CHUNK        500        /* rows per database page of full lists */
#define CA_DASH_LIST_MAX          5000       /* most rows of a full list (endpoints, ...) */
#define CA_DASH_PAGE_DEFAULT      50         /* default page size of logs, audit, messages */
#define CA_DASH_PAGE_MAX          200
#define CA_DASH_USAGE_MAX_BUCKETS 1000
#define CA_DASH_MAX_EXPIRY        APR_INT64_C(253402300799)   /* 9999-12-31 */

typedef struct {
    request_rec *r;
    ca_server_conf *sc;
    ca_db_t db;
    apr_int64_t now;
    ca_session_t *s;
    int admin;
    const char *seg[4];                /* path segments below the location */
    int nseg;
    apr_array_header_t *params;        /* ca_http_param_t of the query */
    ca_json_t *body;                   /* JSON object of the request body */
} dash_t;

typedef int (*route_fn)(dash_t *d);


/* ---- answers ------------------------------------------------------------------------ */

static int fail(dash_t *d, int status, const char *code, const char *detail)
{
    return ca_web_problem(d->r, status, code, detail);
}

static int bad(dash_t *d, const char *detail)
{
    return fail(d, HTTP_BAD_REQUEST, "bad_request", detail);
}

static int not_found(dash_t *d, const char *detail)
{
    return fail(d, HTTP_NOT_FOUND, "not_found", detail);
}

static int db_fail(dash_t *d, apr_status_t rv, const char *what, const char *err)
{
    return ca_web_db_fail(d->r, rv, what, err);
}

static int reply(dash_t *d, int status, ca_json_t *doc)
{
    const char *text = ca_json_print(d->r->pool, doc);

    if (!text) {
        return fail(d, HTTP_INTERNAL_SERVER_ERROR, "internal_error", "out of memory");
    }
    return ca_web_json(d->r, status, text);
}

static void add_time(ca_json_t *o, const char *key, apr_int64_t t)
{
    if (t) {
        ca_json_add_number(o, key, (double)t);
    }
    else {
        ca_json_add_null(o, key);
    }
}

static void add_int(ca_json_t *o, const char *key, apr_int64_t v)
{
    ca_json_add_number(o, key, (double)v);
}

/* ---- audit -------------------------------------------------------------------------- */

static void audit_as(dash_t *d, apr_int64_t user_id, const char *email, const char *action,
                     const char *kind, const char *target, const char *detail)
{
    const char *err = NULL;
    apr_status_t rv = ca_store_audit(d->r->pool, &d->db, user_id, email, action, kind, target,
                                     detail, d->r->useragent_ip, d->now, &err);

    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, d->r, CA_LOGNO(00511)
                      "dashboard: audit event %s on %s %s not stored (request %s): %s",
                      action, kind ? kind : "-", target ? target : "-", ca_request_id(d->r),
                      err ? err : "");
    }
}

static void audit(dash_t *d, const char *action, const char *kind, const char *target,
                  const char *detail)
{
    audit_as(d, d->s->user_id, d->s->email, action, kind, target, detail);
}

/* ---- query parameters --------------------------------------------------------------- */

/* Refuse parameters not in allowed (NULL-terminated) and parameters given twice. */
static int check_params(dash_t *d, const char *const *allowed)
{
    int i, j;

    for (i = 0; i < d->params->nelts; i++) {
        const ca_http_param_t *p = &APR_ARRAY_IDX(d->params, i, ca_http_param_t);
        const char *const *a;
        for (a = allowed; a && *a && strcmp(*a, p->name); a++) {
        }
        if (!a || !*a) {
            return bad(d, apr_psprintf(d->r->pool, "unknown query parameter '%s'",
                                       ap_escape_html(d->r->pool, p->name)));
        }
        for (j = 0; j < i; j++) {
            if (!strcmp(APR_ARRAY_IDX(d->params, j, ca_http_param_t).name, p->name)) {
                return bad(d, apr_psprintf(d->r->pool, "query parameter '%s' given twice",
                                           p->name));
            }
        }
    }
    return OK;
}

static const char *param(dash_t *d, const char *name)
{
    const char *v = ca_http_param_get(d->params, name);

    return v && *v ? v : NULL;
}

static int parse_int(const char *s, apr_int64_t min, apr_int64_t max, apr_int64_t *out)
{
    char *end;
    apr_int64_t v;

    if (!s || !*s || !(apr_isdigit(*s) || (*s == '-' && apr_isdigit(s[1])))) {
        return 0;
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        return 0;
    }
    *out = v;
    return 1;
}

/* Integer parameter: absent -> dflt; malformed or out of range -> 400. */
static int int_param(dash_t *d, const char *name, apr_int64_t min, apr_int64_t max,
                     apr_int64_t dflt, apr_int64_t *out)
{
    const char *v = param(d, name);

    *out = dflt;
    if (v && !parse_int(v, min, max, out)) {
        return bad(d, apr_psprintf(d->r->pool, "%s must be an integer from %" APR_INT64_T_FMT
                                   " to %" APR_INT64_T_FMT, name, min, max));
    }
    return OK;
}

/* ---- request body ------------------------------------------------------------------- */

/* Read the body as one JSON object whose members are all in allowed. required = 0: an empty
 * body is an empty object. */
static int read_body(dash_t *d, int required, const char *const *allowed)
{
    request_rec *r = d->r;
    const char *err = NULL;
    ca_json_limits_t lim = { CA_WEB_MAX_BODY, 16 };
    ca_json_doc_t *doc;
    ca_json_t *m;
    char *buf;
    apr_size_t len;
    apr_status_t rv;

    rv = ca_web_read_body(r, CA_WEB_MAX_BODY, &buf, &len);
    if (rv == APR_ENOSPC) {
        return fail(d, HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                    apr_psprintf(r->pool, "the body is larger than %d bytes",
                                 CA_WEB_MAX_BODY));
    }
    if (rv != APR_SUCCESS) {
        return bad(d, "the request body cannot be read");
    }
    if (len == 0 && !required) {
        d->body = ca_json_new_object(r->pool);
        return OK;
    }
    if (strcmp(ca_web_media_type(r), "application/json")) {
        return fail(d, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "send the body as application/json");
    }
    if (ca_json_parse(r->pool, buf, len, &lim, &doc, &err) != APR_SUCCESS) {
        return bad(d, err ? err : "the body is not valid JSON");
    }
    d->body = ca_json_doc_root(doc);
    if (!d->body || ca_json_type(d->body) != CA_JSON_OBJECT) {
        return bad(d, "the body must be a JSON object");
    }
    if (ca_json_doc_has_nul(doc)) {
        return bad(d, "strings must not contain NUL characters");
    }
    CA_JSON_FOREACH(m, d->body) {
        const char *k = ca_json_key(m);
        const char *const *a;
        for (a = allowed; *a && strcmp(*a, k); a++) {
        }
        if (!*a) {
            return bad(d, apr_psprintf(r->pool, "unknown member '%s'",
                                       ca_json_escape(r->pool, k)));
        }
        if (ca_json_key_count(d->body, k) > 1) {
            return bad(d, apr_psprintf(r->pool, "member '%s' given twice", k));
        }
    }
    return OK;
}

/* Member `name` as a string. Missing or null: *out = NULL (400 when required). Else it must
 * be a string of 1..max_chars characters of valid UTF-8 without control characters
 * (max_bytes: a byte cap when max_chars is 0). */
static int str_member(dash_t *d, const char *name, int required, long max_chars,
                      apr_size_t max_bytes, const char **out)
{
    ca_json_t *n = ca_json_get(d->body, name);
    const char *s;
    apr_size_t len;
    long chars;

    *out = NULL;
    if (!n || ca_json_type(n) == CA_JSON_NULL) {
        return required ? bad(d, apr_psprintf(d->r->pool, "%s is required", name)) : OK;
    }
    if (!(s = ca_json_string(n))) {
        return bad(d, apr_psprintf(d->r->pool, "%s must be a string", name));
    }
    len = strlen(s);
    chars = ca_utf8_chars(s, len);
    if (len == 0) {
        return bad(d, apr_psprintf(d->r->pool, "%s must not be empty", name));
    }
    if (chars < 0) {
        return bad(d, apr_psprintf(d->r->pool, "%s is not valid UTF-8", name));
    }
    if ((max_chars && chars > max_chars) || (max_bytes && len > max_bytes)) {
        return bad(d, apr_psprintf(d->r->pool, "%s is too long (at most %ld %s)", name,
                                   max_chars ? max_chars : (long)max_bytes,
                                   max_chars ? "characters" : "bytes"));
    }
    if (!ca_web_no_controls(s, 0)) {
        return bad(d, apr_psprintf(d->r->pool, "%s must not contain control characters",
                                   name));
    }
    *out = s;
    return OK;
}

/* Member `name` as an integer (a JSON integer or a string of digits) in min..max. Missing or
 * null: *present = 0 (400 when required). */
static int int_member(dash_t *d, const char *name, int required, apr_int64_t min,
                      apr_int64_t max, apr_int64_t *out, int *present)
{
    ca_json_t *n = ca_json_get(d->body, name);
    const char *text = NULL;

    *out = 0;
    *present = 0;
    if (!n || ca_json_type(n) == CA_JSON_NULL) {
        return required ? bad(d, apr_psprintf(d->r->pool, "%s is required", name)) : OK;
    }
    if (ca_json_type(n) == CA_JSON_NUMBER || ca_json_type(n) == CA_JSON_STRING) {
        text = ca_json_id_text(d->r->pool, n, 1);
    }
    if (!text || !parse_int(text, min, max, out)) {
        return bad(d, apr_psprintf(d->r->pool, "%s must be an integer from %" APR_INT64_T_FMT
                                   " to %" APR_INT64_T_FMT, name, min, max));
    }
    *present = 1;
    return OK;
}

/* ---- shared lookups ----------------------------------------------------------------- */

static const ca_provider_t *provider_of(dash_t *d, const char *name)
{
    return name && d->sc->providers
           ? apr_hash_get(d->sc->providers, name, APR_HASH_KEY_STRING) : NULL;
}

/* The URL callers use for an endpoint. */
static const char *endpoint_url(dash_t *d, const char *ep_id)
{
    const char *base = d->sc->public_url;
    apr_size_t n;

    if (!base || !*base) {
        base = ap_construct_url(d->r->pool, "", d->r);
    }
    n = strlen(base);
    while (n && base[n - 1] == '/') {
        n--;
    }
    return apr_psprintf(d->r->pool, "%.*s%s/%s", (int)n, base, CA_DASH_API_PATH, ep_id);
}

/* The endpoint of the URL that this session may see: OK with *ep, or answered 404. */
static int load_endpoint(dash_t *d, const char *public_id, ca_endpoint_t **ep)
{
    const char *err = NULL;
    apr_status_t rv;

    *ep = NULL;
    if (!ca_endpoint_id_valid(public_id)) {
        return not_found(d, "no such endpoint");
    }
    rv = ca_store_endpoint_by_public_id(d->r->pool, &d->db, public_id, ep, &err);
    if (rv == CA_DB_ENOTFOUND || (rv == APR_SUCCESS && !d->admin
                                  && (*ep)->user_id != d->s->user_id)) {
        *ep = NULL;
        return not_found(d, "no such endpoint");
    }
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "endpoint lookup", err);
    }
    return OK;
}

static void endpoint_json(dash_t *d, ca_json_t *o, const ca_endpoint_t *ep,
                          const char *owner_email)
{
    const ca_provider_t *prov = provider_of(d, ep->provider);

    ca_json_add_string(o, "id", ep->public_id);
    ca_json_add_string(o, "name", ep->name);
    ca_json_add_string(o, "provider", ep->provider);
    ca_json_add_string(o, "provider_name", prov ? prov->display_name : ep->provider);
    add_int(o, "connection_id", ep->connection_id);
    ca_json_add_string(o, "connection_status", ep->connection_status);
    ca_json_add_string(o, "scope_kind", ep->scope_kind);
    ca_json_add_string(o, "company_id", ep->company_id);
    ca_json_add_string(o, "company_name", ep->company_name);
    ca_json_add_string(o, "client_id", ep->client_id);
    ca_json_add_string(o, "client_name", ep->client_name);
    ca_json_add_string(o, "access_mode", ep->access_mode);
    ca_json_add_string(o, "status", ep->status);
    add_time(o, "expires_at", ep->expires_at);
    ca_json_add_string(o, "ip_allow", ep->ip_allow);
    ca_json_add_bool(o, "managed_by_config", ep->managed_by_config);
    ca_json_add_bool(o, "read_only", ep->managed_by_config);
    ca_json_add_string(o, "key_hint", ep->key_hint);
    add_time(o, "created_at", ep->created_at);
    add_time(o, "updated_at", ep->updated_at);
    add_time(o, "rotated_at", ep->rotated_at);
    add_time(o, "last_used_at", ep->last_used_at);
    ca_json_add_string(o, "url", endpoint_url(d, ep->public_id));
    if (ep->user_id) {
        add_int(o, "owner_id", ep->user_id);
    }
    else {
        ca_json_add_null(o, "owner_id");
    }
    ca_json_add_string(o, "owner_email", owner_email);
}

/* ---- accounts and sessions ---------------------------------------------------------- */

static void user_json(ca_json_t *o, apr_int64_t id, const char *email, const char *role)
{
    add_int(o, "id", id);
    ca_json_add_string(o, "email", email);
    ca_json_add_string(o, "role", role);
}

static int login_failed(dash_t *d)
{
    return fail(d, HTTP_UNAUTHORIZED, "login_failed", "the email or password is not correct");
}

/* A failed password check for email (u NULL: no such account): recorded for both
 * throttles. Returns APR_SUCCESS or the database error (*err). */
static apr_status_t record_failure(dash_t *d, const char *email, ca_user_t *u,
                                   const char **err)
{
    apr_status_t rv = ca_store_login_attempt(d->r->pool, &d->db, email, d->r->useragent_ip,
                                             d->now, 0, err);

    if (rv == APR_SUCCESS && u) {
        rv = ca_store_user_login_failed(d->r->pool, &d->db, u->id, CA_LOGIN_MAX_FAILURES,
                                        d->now + CA_LOGIN_LOCK_SEC, d->now, err);
        if (rv == APR_SUCCESS && u->failed_logins + 1 >= CA_LOGIN_MAX_FAILURES) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, d->r, CA_LOGNO(00512)
                          "dashboard: user %" APR_INT64_T_FMT " locked for %d s after %d "
                          "failed logins (from %s)", u->id, CA_LOGIN_LOCK_SEC,
                          u->failed_logins + 1, d->r->useragent_ip);
            audit_as(d, u->id, u->email, "user.lock", "user", ca_db_i64(d->r->pool, u->id),
                     apr_psprintf(d->r->pool, "locked for %d minutes after %d failed logins",
                                  CA_LOGIN_LOCK_SEC / 60, u->failed_logins + 1));
        }
    }
    return rv;
}

/* Throttles that apply before a password is checked: 429 when the address or the account
 * (or the unknown email) is locked. OK to go on. */
static int login_throttled(dash_t *d, const char *email, ca_user_t *u)
{
    const char *err = NULL;
    apr_int64_t n = 0;
    apr_status_t rv;

    rv = ca_store_login_failures_by_ip(d->r->pool, &d->db, d->r->useragent_ip,
                                       d->now - CA_LOGIN_IP_WINDOW_SEC, &n, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "login throttle", err);
    }
    if (n >= CA_LOGIN_IP_MAX_FAILURES) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, d->r, CA_LOGNO(00513)
                      "dashboard: logins from %s throttled (%" APR_INT64_T_FMT " failures "
                      "in %d s)", d->r->useragent_ip, n, CA_LOGIN_IP_WINDOW_SEC);
        return ca_web_rate_limited(d->r, CA_LOGIN_IP_WINDOW_SEC,
                                   "too many failed sign-ins from your address; wait and "
                                   "try again later");
    }
    if (u && u->locked_until > d->now) {
        return ca_web_rate_limited(d->r, u->locked_until - d->now,
                                   "too many failed sign-ins for this account; wait and "
                                   "try again later");
    }
    if (!u) {
        rv = ca_store_login_failures_by_email(d->r->pool, &d->db, email,
                                              d->now - CA_LOGIN_LOCK_SEC, &n, &err);
        if (rv != APR_SUCCESS) {
            return db_fail(d, rv, "login throttle", err);
        }
        if (n >= CA_LOGIN_MAX_FAILURES) {
            return ca_web_rate_limited(d->r, CA_LOGIN_LOCK_SEC,
                                       "too many failed sign-ins for this account; wait "
                                       "and try again later");
        }
    }
    return OK;
}

static int route_login(dash_t *d)
{
    static const char *const members[] = { "email", "password", NULL };
    request_rec *r = d->r;
    const char *email, *err = NULL;
    ca_json_t *pw_node, *doc, *user;
    const char *pw;
    ca_user_t *u = NULL;
    apr_status_t rv;
    int st;

    if ((st = read_body(d, 1, members)) != OK) {
        return st;
    }
    if ((st = str_member(d, "email", 1, 0, CA_DASH_MAX_EMAIL, &email)) != OK) {
        return st;
    }
    pw_node = ca_json_get(d->body, "password");
    pw = pw_node ? ca_json_string(pw_node) : NULL;
    if (!pw || !*pw) {
        return bad(d, "password is required (a string)");
    }
    if (strlen(pw) > CA_PASSWORD_MAX_LEN) {
        return bad(d, apr_psprintf(r->pool, "password is too long (at most %d bytes)",
                                   CA_PASSWORD_MAX_LEN));
    }
    rv = ca_store_user_by_email(r->pool, &d->db, email, &u, &err);
    if (rv == CA_DB_ENOTFOUND) {
        u = NULL;
    }
    else if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "user lookup", err);
    }
    if ((st = login_throttled(d, email, u)) != OK) {
        return st;
    }
    if (u && u->locked_until) {
        /* the lock has ended: the account starts counting again */
        if ((rv = ca_store_user_login_ok(r->pool, &d->db, u->id, &err)) != APR_SUCCESS) {
            return db_fail(d, rv, "login lock reset", err);
        }
        u->failed_logins = 0;
        u->locked_until = 0;
    }
    /* an unknown email costs the same bcrypt work as a wrong password */
    if (ca_password_verify(pw, u ? u->password_hash : NULL) != APR_SUCCESS) {
        if ((rv = record_failure(d, email, u, &err)) != APR_SUCCESS) {
            return db_fail(d, rv, "login attempt record", err);
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, CA_LOGNO(00514)
                      "dashboard: failed login from %s (%s)", r->useragent_ip,
                      u ? apr_psprintf(r->pool, "user %" APR_INT64_T_FMT, u->id)
                        : "no such account");
        return login_failed(d);
    }
    if (u->disabled_at) {
        return fail(d, HTTP_FORBIDDEN, "account_disabled",
                    "this account is disabled; ask an administrator");
    }
    rv = ca_store_login_attempt(r->pool, &d->db, email, r->useragent_ip, d->now, 1, &err);
    if (rv == APR_SUCCESS && u->failed_logins) {
        rv = ca_store_user_login_ok(r->pool, &d->db, u->id, &err);
    }
    if (rv == APR_SUCCESS) {
        rv = ca_session_start(r, &d->db, u->id, d->now, &err);
    }
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "sign-in", err);
    }
    if (ca_password_hash_cost(u->password_hash) < CA_PASSWORD_COST_DEFAULT) {
        /* stored with a lower cost than today's: store it again at the current cost */
        const char *hash = NULL;
        const char *a[3];
        if (ca_password_hash(r->pool, pw, 0, &hash, &err) == APR_SUCCESS) {
            a[0] = hash;
            a[1] = ca_db_i64(r->pool, d->now);
            a[2] = ca_db_i64(r->pool, u->id);
            (void)ca_db_exec(r->pool, &d->db, CA_SQL_USER_SET_PASSWORD, 3, a, NULL, &err);
        }
    }
    audit_as(d, u->id, u->email, "user.login", "user", ca_db_i64(r->pool, u->id), "signed in");
    doc = ca_json_new_object(r->pool);
    user = ca_json_add_object(doc, "user");
    user_json(user, u->id, u->email, u->role);
    return reply(d, HTTP_OK, doc);
}

static int route_logout(dash_t *d)
{
    const char *err = NULL;
    ca_json_t *doc;
    apr_status_t rv;

    rv = ca_session_end(d->r, &d->db, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "sign-out", err);
    }
    if (d->s) {
        audit(d, "user.logout", "user", ca_db_i64(d->r->pool, d->s->user_id), "signed out");
    }
    doc = ca_json_new_object(d->r->pool);
    ca_json_add_bool(doc, "signed_out", 1);
    return reply(d, HTTP_OK, doc);
}

static int route_me(dash_t *d)
{
    ca_json_t *doc = ca_json_new_object(d->r->pool);
    ca_json_t *o = ca_json_add_object(doc, "user");
    ca_json_t *s;

    user_json(o, d->s->user_id, d->s->email, d->s->role);
    s = ca_json_add_object(doc, "session");
    add_time(s, "created_at", d->s->created_at);
    add_time(s, "expires_at", d->s->expires_at);
    add_int(s, "idle_timeout_sec", CA_SESSION_IDLE_SEC);
    add_int(s, "absolute_timeout_sec", CA_SESSION_ABSOLUTE_SEC);
    return reply(d, HTTP_OK, doc);
}

static int route_password(dash_t *d)
{
    static const char *const members[] = { "current", "new", NULL };
    request_rec *r = d->r;
    ca_json_t *cur_n, *new_n, *doc;
    const char *cur, *pw, *why = NULL, *err = NULL, *hash = NULL;
    ca_user_t *u;
    apr_status_t rv;
    int st, ended = 0;

    if ((st = read_body(d, 1, members)) != OK) {
        return st;
    }
    cur_n = ca_json_get(d->body, "current");
    new_n = ca_json_get(d->body, "new");
    cur = cur_n ? ca_json_string(cur_n) : NULL;
    pw = new_n ? ca_json_string(new_n) : NULL;
    if (!cur || !*cur || strlen(cur) > CA_PASSWORD_MAX_LEN) {
        return bad(d, "current is required (the password you use now)");
    }
    if (!pw) {
        return bad(d, "new is required (the new password)");
    }
    if (ca_password_policy(pw, &why) != APR_SUCCESS) {
        return bad(d, apr_pstrcat(r->pool, "new password: ", why ? why : "not allowed",
                                  NULL));
    }
    rv = ca_store_user_by_id(r->pool, &d->db, d->s->user_id, &u, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "user lookup", err);
    }
    if ((st = login_throttled(d, u->email, u)) != OK) {
        return st;
    }
    if (ca_password_verify(cur, u->password_hash) != APR_SUCCESS) {
        if ((rv = record_failure(d, u->email, u, &err)) != APR_SUCCESS) {
            return db_fail(d, rv, "login attempt record", err);
        }
        return fail(d, HTTP_FORBIDDEN, "password_incorrect",
                    "the current password is not correct");
    }
    if (ca_password_hash(r->pool, pw, 0, &hash, &err) != APR_SUCCESS) {
        return fail(d, HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                    "the password could not be stored");
    }
    rv = ca_store_user_set_password(r->pool, &d->db, u->id, hash, d->now, &ended, &err);
    if (rv == APR_SUCCESS) {
        /* every session ended, this one too: sign this browser in again with a new id */
        rv = ca_session_start(r, &d->db, u->id, d->now, &err);
    }
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "password change", err);
    }
    audit(d, "user.password", "user", ca_db_i64(r->pool, u->id),
          apr_psprintf(r->pool, "password changed in the dashboard (%d session%s ended)",
                       ended, ended == 1 ? "" : "s"));
    doc = ca_json_new_object(r->pool);
    ca_json_add_bool(doc, "changed", 1);
    add_int(doc, "sessions_ended", ended);
    return reply(d, HTTP_OK, doc);
}

/* ---- sign-up (ClientAPISignup) and account deletion -------------------------------- */

static int signup_open(dash_t *d)
{
    return d->sc->signup == 1;
}

static int route_signup_state(dash_t *d)
{
    ca_json_t *doc = ca_json_new_object(d->r->pool);

    ca_json_add_bool(doc, "open", signup_open(d));
    return reply(d, HTTP_OK, doc);
}

/* POST /signup {email, password}: a member account and a signed-in session, when the admin
 * opened sign-up. It tells whether an address has an account (409), which is one reason it
 * is off by default. Addresses the IP throttle refuses logins from are refused here too. */
static int route_signup(dash_t *d)
{
    static const char *const members[] = { "email", "password", NULL };
    request_rec *r = d->r;
    const char *email, *pw, *why = NULL, *err = NULL, *hash = NULL;
    ca_json_t *pw_node, *doc, *user;
    apr_int64_t id = 0;
    apr_status_t rv;
    int st;

    if (!signup_open(d)) {
        return fail(d, HTTP_FORBIDDEN, "signup_closed",
                    "this server does not take sign-ups; ask an administrator for an account");
    }
    if ((st = read_body(d, 1, members)) != OK
        || (st = str_member(d, "email", 1, 0, CA_DASH_MAX_EMAIL, &email)) != OK) {
        return st;
    }
    if (!ca_email_valid(email)) {
        return bad(d, "email must be an email address such as name@example.com");
    }
    pw_node = ca_json_get(d->body, "password");
    pw = pw_node ? ca_json_string(pw_node) : NULL;
    if (!pw) {
        return bad(d, "password is required (a string)");
    }
    if (ca_password_policy(pw, &why) != APR_SUCCESS) {
        return bad(d, apr_pstrcat(r->pool, "password: ", why ? why : "not allowed", NULL));
    }
    if ((st = login_throttled(d, email, NULL)) != OK) {
        return st;
    }
    if (ca_password_hash(r->pool, pw, 0, &hash, &err) != APR_SUCCESS) {
        return fail(d, HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                    "the password could not be stored");
    }
    rv = ca_store_user_create(r->pool, &d->db, email, hash, "member", d->now, &id, &err);
    if (rv == CA_DB_ECONSTRAINT) {
        return fail(d, HTTP_CONFLICT, "email_taken",
                    "there is already an account with this email address; sign in instead");
    }
    if (rv == APR_SUCCESS) {
        rv = ca_session_start(r, &d->db, id, d->now, &err);
    }
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "sign-up", err);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, CA_LOGNO(01400)
                  "dashboard: user %" APR_INT64_T_FMT " signed up from %s", id,
                  r->useragent_ip);
    audit_as(d, id, email, "user.signup", "user", ca_db_i64(r->pool, id),
             "account made through the sign-up page");
    doc = ca_json_new_object(r->pool);
    user = ca_json_add_object(doc, "user");
    user_json(user, id, email, "member");
    return reply(d, HTTP_CREATED, doc);
}

/* The one place where account deletion ends endpoints: ids are the public ids of every
 * endpoint the account owned, already deleted from the database. Whatever caches keys or
 * endpoints outside the database must forget them here. */
static void account_endpoints_gone(dash_t *d, const apr_array_header_t *ids)
{
    int i;

    for (i = 0; i < ids->nelts; i++) {
        const char *ep = APR_ARRAY_IDX(ids, i, const char *);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, d->r, CA_LOGNO(01401)
                      "dashboard: endpoint %s deleted with its account", ep);
    }
    /* their keys must stop working at once, not when cached entries expire */
    ca_keycache_invalidate(d->r);
}

/* DELETE /account {password}: disconnect every connection of the signed-in account (tokens
 * revoked at the provider, as DELETE /connections/{id} does), then delete the account with
 * its endpoints, keys, sessions and connections. Audit events stay. */
static int route_account_delete(dash_t *d)
{
    static const char *const members[] = { "password", NULL };
    request_rec *r = d->r;
    const char *pw, *err = NULL;
    ca_json_t *pw_node, *doc;
    apr_array_header_t *list, *eps = apr_array_make(r->pool, 8, sizeof(const char *));
    apr_int64_t after = 0, uid = d->s->user_id;
    apr_hash_t *conns = apr_hash_make(r->pool);      /* ids of the account's connections */
    ca_user_t *u;
    apr_status_t rv;
    int st, i, disconnected = 0;

    if ((st = read_body(d, 1, members)) != OK) {
        return st;
    }
    pw_node = ca_json_get(d->body, "password");
    pw = pw_node ? ca_json_string(pw_node) : NULL;
    if (!pw || !*pw || strlen(pw) > CA_PASSWORD_MAX_LEN) {
        return bad(d, "password is required (your current password, to confirm)");
    }
    if ((rv = ca_store_user_by_id(r->pool, &d->db, uid, &u, &err)) != APR_SUCCESS) {
        return db_fail(d, rv, "user lookup", err);
    }
    if ((st = login_throttled(d, u->email, u)) != OK) {
        return st;
    }
    if (ca_password_verify(pw, u->password_hash) != APR_SUCCESS) {
        if ((rv = record_failure(d, u->email, u, &err)) != APR_SUCCESS) {
            return db_fail(d, rv, "login attempt record", err);
        }
        return fail(d, HTTP_FORBIDDEN, "password_incorrect", "the password is not correct");
    }
    /* connections first: their tokens are revoked at the provider before the rows go */
    for (;;) {
        rv = ca_store_connections_list(r->pool, &d->db, uid, after, CA_DASH_LIST_CHUNK, &list,
                                       &err);
        if (rv != APR_SUCCESS) {
            return db_fail(d, rv, "connection list", err);
        }
        for (i = 0; i < list->nelts; i++) {
            const ca_connection_info_t *c = APR_ARRAY_IDX(list, i, ca_connection_info_t *);
            after = c->id;
            if (c->user_id != uid) {
                continue;
            }
            if ((rv = ca_connect_disconnect(r, &d->db, d->s, c->id, &err)) != APR_SUCCESS) {
                return db_fail(d, rv, "disconnecting a connection", err);
            }
            apr_hash_set(conns, apr_pmemdup(r->pool, &c->id, sizeof(c->id)), sizeof(c->id),
                         "");
            disconnected++;
        }
        if (list->nelts < CA_DASH_LIST_CHUNK) {
            break;
        }
    }
    /* the account's endpoints, and any other endpoint on its connections (declared in
     * httpd.conf): the store deletes both */
    for (after = 0;;) {
        rv = ca_store_endpoints_list(r->pool, &d->db, 0, after, CA_DASH_LIST_CHUNK, &list,
                                     &err);
        if (rv != APR_SUCCESS) {
            return db_fail(d, rv, "endpoint list", err);
        }
        for (i = 0; i < list->nelts; i++) {
            const ca_endpoint_listed_t *e = &APR_ARRAY_IDX(list, i, ca_endpoint_listed_t);
            after = e->ep->id;
            if (e->ep->user_id == uid
                || apr_hash_get(conns, &e->ep->connection_id, sizeof(e->ep->connection_id))) {
                APR_ARRAY_PUSH(eps, const char *) = e->ep->public_id;
            }
        }
        if (list->nelts < CA_DASH_LIST_CHUNK) {
            break;
        }
    }
    if ((rv = ca_store_user_delete(r->pool, &d->db, uid, &err)) != APR_SUCCESS) {
        return db_fail(d, rv, "account deletion", err);
    }
    account_endpoints_gone(d, eps);
    ca_session_clear_cookies(r);
    audit_as(d, uid, u->email, "user.delete", "user", ca_db_i64(r->pool, uid),
             apr_psprintf(r->pool, "account deleted by its owner: %d connection(s) "
                          "disconnected, %d endpoint(s) deleted", disconnected, eps->nelts));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, CA_LOGNO(01402)
                  "dashboard: user %" APR_INT64_T_FMT " deleted their account (%d connections, "
                  "%d endpoints)", uid, disconnected, eps->nelts);
    doc = ca_json_new_object(r->pool);
    ca_json_add_bool(doc, "deleted", 1);
    add_int(doc, "connections_disconnected", disconnected);
    add_int(doc, "endpoints_deleted", eps->nelts);
    return reply(d, HTTP_OK, doc);
}

/* ---- providers and connections ------------------------------------------------------ */

static int cmp_provider(const void *a, const void *b)
{
    const ca_provider_t *x = *(const ca_provider_t *const *)a;
    const ca_provider_t *y = *(const ca_provider_t *const *)b;

    return strcmp(x->name, y->name);
}

static const char *pick_name(ca_pick_source_e s)
{
    return s == CA_PICK_IDENTITY ? "identity" : s == CA_PICK_RESOURCE ? "resource" : "none";
}

/* What the connect form asks for: the fields of POST /connections/{provider}/apikey or
 * /credentials (mod_clientapi_connect.c), so that the page needs no provider-specific code. */
static void connect_json(ca_json_t *o, const ca_provider_t *p)
{
    const apr_array_header_t *cf = p->auth.connect_fields;
    ca_json_t *fields = ca_json_add_array(o, "connect_fields");
    ca_json_t *f;
    int i;

    ca_json_add_bool(o, "credentials_at_connect", p->auth.credentials_at_connect);
    if (p->auth.mode == CA_AUTH_API_KEY) {
        f = ca_json_add_object(fields, NULL);
        ca_json_add_string(f, "name", "api_key");
        ca_json_add_string(f, "label", "API key");
        ca_json_add_bool(f, "secret", 1);
        return;
    }
    if (p->auth.mode != CA_AUTH_CLIENT_CREDENTIALS) {
        return;
    }
    if (p->auth.credentials_at_connect) {
        f = ca_json_add_object(fields, NULL);
        ca_json_add_string(f, "name", "client_id");
        ca_json_add_string(f, "label", "Client id");
        ca_json_add_bool(f, "secret", 0);
        f = ca_json_add_object(fields, NULL);
        ca_json_add_string(f, "name", "client_secret");
        ca_json_add_string(f, "label", "Client secret");
        ca_json_add_bool(f, "secret", 1);
    }
    for (i = 0; cf && i < cf->nelts; i++) {
        const ca_provider_field_t *pf = &APR_ARRAY_IDX(cf, i, ca_provider_field_t);
        f = ca_json_add_object(fields, NULL);
        ca_json_add_string(f, "name", pf->name);
        ca_json_add_string(f, "label", pf->label ? pf->label : pf->name);
        ca_json_add_bool(f, "secret", pf->secret);
    }
}

static int route_providers(dash_t *d)
{
    apr_array_header_t *list = apr_array_make(d->r->pool, 8, sizeof(const ca_provider_t *));
    ca_json_t *doc = ca_json_new_object(d->r->pool);
    ca_json_t *data = ca_json_add_array(doc, "data");
    apr_hash_index_t *hi;
    int i;

    for (hi = d->sc->providers ? apr_hash_first(d->r->pool, d->sc->providers) : NULL; hi;
         hi = apr_hash_next(hi)) {
        const void *v;
        apr_hash_this(hi, NULL, NULL, (void **)&v);
        APR_ARRAY_PUSH(list, const ca_provider_t *) = v;
    }
    qsort(list->elts, list->nelts, sizeof(const ca_provider_t *), cmp_provider);
    for (i = 0; i < list->nelts; i++) {
        const ca_provider_t *p = APR_ARRAY_IDX(list, i, const ca_provider_t *);
        ca_json_t *o = ca_json_add_object(data, NULL);
        ca_json_add_string(o, "name", p->name);
        ca_json_add_string(o, "display_name", p->display_name);
        ca_json_add_string(o, "auth_mode", ca_provider_auth_mode_name(p->auth.mode));
        ca_json_add_string(o, "docs_url", p->docs_url);
        ca_json_add_string(o, "company_pick", pick_name(p->company_list.source));
        ca_json_add_string(o, "client_pick", pick_name(p->client_list.source));
        {
            /* which endpoint scopes the provider serves (Jobber: client only) */
            ca_json_t *sc = ca_json_add_array(o, "endpoint_scopes");
            if (p->endpoint_scopes & CA_PROVIDER_SCOPE_COMPANY) {
                ca_json_add_string(sc, NULL, "company");
            }
            if (p->endpoint_scopes & CA_PROVIDER_SCOPE_CLIENT) {
                ca_json_add_string(sc, NULL, "client");
            }
        }
        connect_json(o, p);
    }
    return reply(d, HTTP_OK, doc);
}

static int route_connections(dash_t *d)
{
    ca_json_t *doc = ca_json_new_object(d->r->pool);
    ca_json_t *data = ca_json_add_array(doc, "data");
    apr_int64_t after = 0;
    int total = 0;

    for (;;) {
        apr_array_header_t *list;
        const char *err = NULL;
        apr_status_t rv;
        int i;

        rv = ca_store_connections_list(d->r->pool, &d->db, d->admin ? 0 : d->s->user_id,
                                       after, CA_DASH_LIST_CHUNK, &list, &err);
        if (rv != APR_SUCCESS) {
            return db_fail(d, rv, "connection list", err);
        }
        for (i = 0; i < list->nelts; i++) {
            const ca_connection_info_t *c = APR_ARRAY_IDX(list, i, ca_connection_info_t *);
            const ca_provider_t *prov = provider_of(d, c->provider);
            ca_json_t *o = ca_json_add_object(data, NULL);
            add_int(o, "id", c->id);
            ca_json_add_string(o, "provider", c->provider);
            ca_json_add_string(o, "provider_name", prov ? prov->display_name : c->provider);
            ca_json_add_bool(o, "provider_configured", prov != NULL);
            ca_json_add_string(o, "account_id", c->account_id);
            ca_json_add_string(o, "account_label", c->account_label);
            ca_json_add_string(o, "auth_mode", c->auth_mode);
            ca_json_add_string(o, "scopes", c->scopes);
            ca_json_add_string(o, "status", c->status);
            add_time(o, "expires_at", c->expires_at);
            add_time(o, "last_refresh_at", c->last_refresh_at);
            add_time(o, "created_at", c->created_at);
            add_time(o, "updated_at", c->updated_at);
            ca_json_add_bool(o, "has_credentials", c->has_credentials);
            add_int(o, "endpoint_count", c->endpoint_count);
            add_int(o, "owner_id", c->user_id);
            ca_json_add_string(o, "owner_email", c->owner_email);
            after = c->id;
        }
        total += list->nelts;
        if (list->nelts < CA_DASH_LIST_CHUNK || total >= CA_DASH_LIST_MAX) {
            break;
        }
    }
    return reply(d, HTTP_OK, doc);
}

/* ---- endpoints ---------------------------------------------------------------------- */

static int route_endpoints_list(dash_t *d)
{
    ca_json_t *doc = ca_json_new_object(d->r->pool);
    ca_json_t *data = ca_json_add_array(doc, "data");
    apr_int64_t after = 0;
    int total = 0;

    for (;;) {
        apr_array_header_t *list;
        const char *err = NULL;
        apr_status_t rv;
        int i;

        rv = ca_store_endpoints_list(d->r->pool, &d->db, d->admin ? 0 : d->s->user_id,
                                     after, CA_DASH_LIST_CHUNK, &list, &err);
        if (rv != APR_SUCCESS) {
            return db_fail(d, rv, "endpoint list", err);
        }
        for (i = 0; i < list->nelts; i++) {
            const ca_endpoint_listed_t *l = &APR_ARRAY_IDX(list, i, ca_endpoint_listed_t);
            endpoint_json(d, ca_json_add_object(data, NULL), l->ep, l->owner_email);
            after = l->ep->id;
        }
        total += list->nelts;
        if (list->nelts < CA_DASH_LIST_CHUNK || total >= CA_DASH_LIST_MAX) {
            break;
        }
    }
    return reply(d, HTTP_OK, doc);
}

/* An id of a company or client as providers use them: 1..255 visible ASCII characters other
 * than : / \ " ' (the same rule as the clientapi command and ClientAPIEndpoint lines). */
static int scope_id_ok(const char *s)
{
    apr_size_t n = strlen(s), i;

    if (n == 0 || n > CA_DASH_MAX_SCOPE_ID) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == ':' || c == '/' || c == '\\' || c == '"'
            || c == '\'') {
            return 0;
        }
    }
    return 1;
}

static int scope_id_member(dash_t *d, const char *name, int required, const char **out)
{
    int st = str_member(d, name, required, 0, CA_DASH_MAX_SCOPE_ID, out);

    if (st == OK && *out && !scope_id_ok(*out)) {
        return bad(d, apr_psprintf(d->r->pool, "%s must be 1..%d visible characters other "
                                   "than : / \\ \" ' and spaces", name,
                                   CA_DASH_MAX_SCOPE_ID));
    }
    return st;
}

/* One address or CIDR block, IPv4 or IPv6, strictly. */
static int cidr_ok(apr_pool_t *p, const char *s)
{
    const char *slash = strchr(s, '/');
    const char *addr = slash ? apr_pstrmemdup(p, s, slash - s) : s;
    unsigned char buf[16];
    int v6 = strchr(addr, ':') != NULL;
    apr_int64_t bits;

    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1) {
        return 0;
    }
    if (slash && !(parse_int(slash + 1, 0, v6 ? 128 : 32, &bits) && slash[1] != '-'
                   && (slash[1] != '0' || slash[2] == '\0'))) {
        return 0;
    }
    return 1;
}

/* ip_allow: a string of addresses / CIDR blocks separated by commas or blanks, or an array
 * of such strings. *out: normalised "a,b,c", NULL when absent, null or empty. */
static int ip_allow_member(dash_t *d, const char **out)
{
    ca_json_t *n = ca_json_get(d->body, "ip_allow");
    apr_array_header_t *items = apr_array_make(d->r->pool, 4, sizeof(const char *));
    apr_array_header_t *norm = apr_array_make(d->r->pool, 4, sizeof(const char *));
    ca_json_t *e;
    int i;

    *out = NULL;
    if (!n || ca_json_type(n) == CA_JSON_NULL) {
        return OK;
    }
    if (ca_json_type(n) == CA_JSON_STRING) {
        APR_ARRAY_PUSH(items, const char *) = ca_json_string(n);
    }
    else if (ca_json_type(n) == CA_JSON_ARRAY) {
        CA_JSON_FOREACH(e, n) {
            if (!ca_json_string(e)) {
                return bad(d, "ip_allow must be a string or an array of strings");
            }
            APR_ARRAY_PUSH(items, const char *) = ca_json_string(e);
        }
    }
    else {
        return bad(d, "ip_allow must be a string or an array of strings");
    }
    for (i = 0; i < items->nelts; i++) {
        char *copy = apr_pstrdup(d->r->pool, APR_ARRAY_IDX(items, i, const char *));
        char *tok, *last = NULL;
        if (strlen(copy) > 4096) {
            return bad(d, "ip_allow is too long");
        }
        for (tok = apr_strtok(copy, ", \t", &last); tok; tok = apr_strtok(NULL, ", \t",
                                                                         &last)) {
            if (!cidr_ok(d->r->pool, tok)) {
                return bad(d, apr_psprintf(d->r->pool, "ip_allow: \"%s\" is not an IPv4 or "
                                           "IPv6 address or CIDR block",
                                           ca_json_escape(d->r->pool, tok)));
            }
            APR_ARRAY_PUSH(norm, const char *) = tok;
        }
    }
    if (norm->nelts > CA_DASH_MAX_IP_ALLOW) {
        return bad(d, apr_psprintf(d->r->pool, "ip_allow: at most %d entries",
                                   CA_DASH_MAX_IP_ALLOW));
    }
    if (norm->nelts) {
        *out = apr_array_pstrcat(d->r->pool, norm, ',');
    }
    return OK;
}

static int route_endpoint_create(dash_t *d)
{
    static const char *const members[] = {
        "connection_id", "scope_kind", "company_id", "company_name", "client_id",
        "client_name", "access_mode", "name", "expires_at", "ip_allow", NULL
    };
    request_rec *r = d->r;
    const char *kind, *co, *co_name, *cl, *cl_name, *mode, *name, *ip_allow, *err = NULL;
    const char *hash, *hint;
    char *key = NULL, *public_id = NULL;
    apr_int64_t conn_id, expires_at;
    ca_connection_t *c;
    ca_endpoint_t ep, *created;
    ca_json_t *doc;
    apr_status_t rv;
    int st, present;

    if ((st = read_body(d, 1, members)) != OK
        || (st = int_member(d, "connection_id", 1, 1, APR_INT64_MAX, &conn_id, &present))
           != OK
        || (st = str_member(d, "scope_kind", 1, 0, 16, &kind)) != OK
        || (st = scope_id_member(d, "company_id", 1, &co)) != OK
        || (st = str_member(d, "company_name", 1, CA_DASH_MAX_NAME, 0, &co_name)) != OK
        || (st = scope_id_member(d, "client_id", 0, &cl)) != OK
        || (st = str_member(d, "client_name", 0, CA_DASH_MAX_NAME, 0, &cl_name)) != OK
        || (st = str_member(d, "access_mode", 1, 0, 16, &mode)) != OK
        || (st = str_member(d, "name", 0, CA_DASH_MAX_NAME, 0, &name)) != OK
        || (st = int_member(d, "expires_at", 0, 1, CA_DASH_MAX_EXPIRY, &expires_at,
                            &present)) != OK
        || (st = ip_allow_member(d, &ip_allow)) != OK) {
        return st;
    }
    if (present && expires_at <= d->now) {
        return bad(d, "expires_at must be in the future (a unix time in seconds)");
    }
    if (strcmp(kind, "company") && strcmp(kind, "client")) {
        return bad(d, "scope_kind must be company or client");
    }
    if (!strcmp(kind, "client") && !cl) {
        return bad(d, "client_id is required for a client-scoped endpoint");
    }
    if (!strcmp(kind, "company") && (cl || cl_name)) {
        return bad(d, "client_id and client_name are only for client-scoped endpoints");
    }
    if (strcmp(mode, "read-only") && strcmp(mode, "read-write")) {
        return bad(d, "access_mode must be read-only or read-write");
    }
    rv = ca_store_connection_get(r->pool, &d->db, conn_id, &c, &err);
    if (rv == CA_DB_ENOTFOUND || (rv == APR_SUCCESS && !d->admin
                                  && c->user_id != d->s->user_id)) {
        return not_found(d, "no such connection");
    }
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "connection lookup", err);
    }
    if (c->status && !strcmp(c->status, "disconnected")) {
        return fail(d, HTTP_CONFLICT, "connection_disconnected",
                    "this connection is disconnected: connect the provider again first");
    }
    {
        /* the provider file's endpoint_scopes (Jobber has no sub-companies: client only) */
        const ca_provider_t *prov = provider_of(d, c->provider);
        unsigned want = !strcmp(kind, "client") ? CA_PROVIDER_SCOPE_CLIENT
                                                : CA_PROVIDER_SCOPE_COMPANY;
        if (prov && !(prov->endpoint_scopes & want)) {
            return fail(d, HTTP_UNPROCESSABLE_ENTITY, "scope_not_supported",
                        apr_psprintf(r->pool, "%s serves %s", prov->display_name,
                                     want == CA_PROVIDER_SCOPE_CLIENT
                                     ? "company-scoped endpoints only"
                                     : "client-scoped endpoints only: pick one of its "
                                       "clients"));
        }
    }
    if (ca_endpoint_id_generate(r->pool, &public_id) != APR_SUCCESS
        || ca_key_generate(r->pool, &key) != APR_SUCCESS
        || !(hash = ca_key_hash(r->pool, key)) || !(hint = ca_key_hint(r->pool, key))) {
        return fail(d, HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                    "no random bytes for a key; try again");
    }
    memset(&ep, 0, sizeof(ep));
    ep.public_id = public_id;
    ep.user_id = c->user_id;
    ep.connection_id = c->id;
    ep.name = name ? name : cl_name ? cl_name : co_name;
    ep.scope_kind = kind;
    ep.company_id = co;
    ep.company_name = co_name;
    ep.client_id = cl;
    ep.client_name = cl_name;
    ep.access_mode = mode;
    ep.status = "active";
    ep.expires_at = expires_at;
    ep.ip_allow = ip_allow;
    rv = ca_store_endpoint_create(r->pool, &d->db, &ep, hash, hint, d->now, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "endpoint create", err);
    }
    audit(d, "endpoint.create", "endpoint", public_id,
          apr_psprintf(r->pool, "%s %s:%s%s%s (connection %" APR_INT64_T_FMT ")", mode, kind,
                       co, cl ? "/" : "", cl ? cl : "", c->id));
    rv = ca_store_endpoint_by_id(r->pool, &d->db, ep.id, &created, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "endpoint lookup", err);
    }
    doc = ca_json_new_object(r->pool);
    endpoint_json(d, ca_json_add_object(doc, "endpoint"), created, NULL);
    ca_json_add_string(doc, "url", endpoint_url(d, public_id));
    ca_json_add_string(doc, "key", key);
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, r->uri, "/", public_id, NULL));
    return reply(d, HTTP_CREATED, doc);
}

static int route_endpoint_get(dash_t *d)
{
    ca_endpoint_t *ep;
    apr_array_header_t *keys;
    ca_json_t *doc, *arr;
    const char *err = NULL;
    apr_status_t rv;
    int st, i;

    if ((st = load_endpoint(d, d->seg[1], &ep)) != OK) {
        return st;
    }
    rv = ca_store_keys_by_endpoint(d->r->pool, &d->db, ep->id, &keys, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "key list", err);
    }
    doc = ca_json_new_object(d->r->pool);
    endpoint_json(d, ca_json_add_object(doc, "endpoint"), ep, NULL);
    arr = ca_json_add_array(doc, "keys");
    for (i = 0; i < keys->nelts; i++) {
        const ca_key_info_t *k = APR_ARRAY_IDX(keys, i, ca_key_info_t *);
        ca_json_t *o = ca_json_add_object(arr, NULL);
        ca_json_add_string(o, "hint", k->key_hint);
        add_time(o, "created_at", k->created_at);
        add_time(o, "expires_at", k->expires_at);
        add_time(o, "revoked_at", k->revoked_at);
        ca_json_add_bool(o, "usable", !k->revoked_at && (!k->expires_at
                                                          || k->expires_at > d->now));
    }
    return reply(d, HTTP_OK, doc);
}

static int refuse_config(dash_t *d, const ca_endpoint_t *ep)
{
    return fail(d, HTTP_CONFLICT, "managed_by_config",
                apr_psprintf(d->r->pool, "%s is declared in httpd.conf (ClientAPIEndpoint): "
                             "change it there", ep->public_id));
}

static int endpoint_answer(dash_t *d, apr_int64_t id, const char *key,
                           apr_int64_t old_key_until)
{
    ca_endpoint_t *ep;
    ca_json_t *doc;
    const char *err = NULL;
    apr_status_t rv = ca_store_endpoint_by_id(d->r->pool, &d->db, id, &ep, &err);

    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "endpoint lookup", err);
    }
    doc = ca_json_new_object(d->r->pool);
    endpoint_json(d, ca_json_add_object(doc, "endpoint"), ep, NULL);
    if (key) {
        ca_json_add_string(doc, "key", key);
        add_time(doc, "previous_key_expires_at", old_key_until);
    }
    return reply(d, HTTP_OK, doc);
}

static int route_endpoint_status(dash_t *d)
{
    static const char *const members[] = { NULL };
    const char *status = !strcmp(d->seg[2], "activate") ? "active" : "inactive";
    const char *err = NULL;
    ca_endpoint_t *ep;
    apr_status_t rv;
    int st;

    if ((st = load_endpoint(d, d->seg[1], &ep)) != OK || (st = read_body(d, 0, members)) != OK) {
        return st;
    }
    if (ep->managed_by_config) {
        return refuse_config(d, ep);
    }
    if (strcmp(ep->status, status)) {
        rv = ca_store_endpoint_set_status(d->r->pool, &d->db, ep->id, status, d->now, &err);
        if (rv != APR_SUCCESS) {
            return db_fail(d, rv, "endpoint status change", err);
        }
        ca_keycache_invalidate(d->r);
        audit(d, *status == 'a' ? "endpoint.activate" : "endpoint.deactivate", "endpoint",
              ep->public_id, status);
    }
    return endpoint_answer(d, ep->id, NULL, 0);
}

static int route_endpoint_reissue(dash_t *d)
{
    static const char *const members[] = { "grace_seconds", NULL };
    request_rec *r = d->r;
    const char *err = NULL, *hash, *hint;
    char *key = NULL;
    apr_int64_t grace;
    ca_endpoint_t *ep;
    apr_status_t rv;
    int st, present;

    if ((st = load_endpoint(d, d->seg[1], &ep)) != OK
        || (st = read_body(d, 0, members)) != OK
        || (st = int_member(d, "grace_seconds", 0, 0, CA_STORE_MAX_GRACE, &grace, &present))
           != OK) {
        return st;
    }
    if (ep->managed_by_config) {
        return refuse_config(d, ep);
    }
    if (ca_key_generate(r->pool, &key) != APR_SUCCESS || !(hash = ca_key_hash(r->pool, key))
        || !(hint = ca_key_hint(r->pool, key))) {
        return fail(d, HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                    "no random bytes for a key; try again");
    }
    rv = ca_store_endpoint_reissue_key(r->pool, &d->db, ep->id, hash, hint, d->now, grace,
                                       &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "key reissue", err);
    }
    ca_keycache_invalidate(r);
    audit(d, "key.reissue", "endpoint", ep->public_id,
          apr_psprintf(r->pool, "grace %" APR_INT64_T_FMT " s", grace));
    return endpoint_answer(d, ep->id, key, d->now + grace);
}

static int route_endpoint_delete(dash_t *d)
{
    static const char *const members[] = { NULL };
    const char *err = NULL;
    ca_endpoint_t *ep;
    ca_json_t *doc;
    apr_status_t rv;
    int st;

    if ((st = load_endpoint(d, d->seg[1], &ep)) != OK || (st = read_body(d, 0, members)) != OK) {
        return st;
    }
    if (ep->managed_by_config) {
        return refuse_config(d, ep);
    }
    rv = ca_store_endpoint_delete(d->r->pool, &d->db, ep->id, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "endpoint delete", err);
    }
    ca_keycache_invalidate(d->r);
    audit(d, "endpoint.delete", "endpoint", ep->public_id, "deleted");
    doc = ca_json_new_object(d->r->pool);
    ca_json_add_string(doc, "deleted", ep->public_id);
    return reply(d, HTTP_OK, doc);
}

/* ---- request logs and usage --------------------------------------------------------- */

static void log_json(ca_json_t *o, const ca_request_log_t *l, int detail)
{
    add_int(o, "id", l->id);
    ca_json_add_string(o, "endpoint_id", l->endpoint_id);
    add_time(o, "ts", l->ts);
    ca_json_add_string(o, "method", l->method);
    ca_json_add_string(o, "resource", l->resource);
    ca_json_add_string(o, "record_id", l->record_id);
    add_int(o, "status", l->status);
    if (l->item_count >= 0) {
        add_int(o, "item_count", l->item_count);
    }
    else {
        ca_json_add_null(o, "item_count");
    }
    ca_json_add_number(o, "duration_ms", (double)l->duration_us / 1000.0);
    ca_json_add_string(o, "query", l->query);
    ca_json_add_string(o, "error_code", l->error_code);
    ca_json_add_string(o, "request_id", l->request_id);
    if (detail) {
        ca_json_add_string(o, "error_detail", l->error_detail);
        ca_json_add_string(o, "client_ip", l->client_ip);
        ca_json_add_string(o, "user_agent", l->user_agent);
    }
}

/* ?endpoint=: for a member it must be one of theirs (404); an admin may name an endpoint
 * that was deleted (its logs stay until the purge). *ep_id NULL when absent. */
static int endpoint_param(dash_t *d, const char **ep_id)
{
    const char *v = param(d, "endpoint");
    ca_endpoint_t *ep;
    int st;

    *ep_id = NULL;
    if (!v) {
        return OK;
    }
    if (!ca_endpoint_id_valid(v)) {
        return bad(d, "endpoint must be an endpoint id (ep_...)");
    }
    if (!d->admin && (st = load_endpoint(d, v, &ep)) != OK) {
        return st;
    }
    *ep_id = v;
    return OK;
}

static int time_params(dash_t *d, apr_int64_t *since, apr_int64_t *until)
{
    int st;

    if ((st = int_param(d, "since", 0, CA_DASH_MAX_EXPIRY, 0, since)) != OK
        || (st = int_param(d, "until", 1, CA_DASH_MAX_EXPIRY, 0, until)) != OK) {
        return st;
    }
    if (*until && *since >= *until) {
        return bad(d, "since must be before until");
    }
    return OK;
}

static int route_logs(dash_t *d)
{
    static const char *const allowed[] = {
        "endpoint", "status", "method", "resource", "since", "until", "cursor", "limit", NULL
    };
    static const char *const methods[] = {
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL
    };
    request_rec *r = d->r;
    ca_log_filter_t f;
    const char *ep_id, *v, *err = NULL;
    apr_array_header_t *logs;
    apr_int64_t limit;
    ca_json_t *doc, *data;
    apr_status_t rv;
    int st, i, n;

    memset(&f, 0, sizeof(f));
    if ((st = check_params(d, allowed)) != OK || (st = endpoint_param(d, &ep_id)) != OK
        || (st = time_params(d, &f.since, &f.until)) != OK
        || (st = int_param(d, "limit", 1, CA_DASH_PAGE_MAX, CA_DASH_PAGE_DEFAULT, &limit))
           != OK) {
        return st;
    }
    f.endpoint_id = ep_id;
    if ((v = param(d, "status"))) {
        if (strlen(v) != 3 || v[0] < '1' || v[0] > '5' || strcmp(v + 1, "xx")) {
            return bad(d, "status must be one of 1xx, 2xx, 3xx, 4xx, 5xx");
        }
        f.status_min = (v[0] - '0') * 100;
        f.status_max = f.status_min + 99;
    }
    if ((v = param(d, "method"))) {
        const char *const *m;
        for (m = methods; *m && strcmp(*m, v); m++) {
        }
        if (!*m) {
            return bad(d, "method must be an HTTP method in capitals (GET, POST, ...)");
        }
        f.method = v;
    }
    if ((v = param(d, "resource"))) {
        apr_size_t k;
        for (k = 0; v[k] && (apr_islower(v[k]) || apr_isdigit(v[k]) || strchr("_.-", v[k]));
             k++) {
        }
        if (v[k] || k > 64) {
            return bad(d, "resource must be a resource name (a-z, 0-9, _ . -)");
        }
        f.resource = v;
    }
    if ((v = param(d, "cursor"))) {
        const char *dot = strchr(v, '.');
        if (!dot || !parse_int(apr_pstrmemdup(r->pool, v, dot - v), 0, CA_DASH_MAX_EXPIRY,
                               &f.cursor_ts)
            || !parse_int(dot + 1, 1, APR_INT64_MAX, &f.cursor_id)) {
            return bad(d, "cursor is not one this API returned");
        }
    }
    f.limit = (int)limit + 1;  /* one more tells whether there is a next page */
    if (!ep_id && !d->admin) {
        rv = ca_store_request_logs_of_user(r->pool, &d->db, d->s->user_id, &f, &logs, &err);
    }
    else {
        rv = ca_store_request_logs_list(r->pool, &d->db, &f, &logs, &err);
    }
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "request log list", err);
    }
    doc = ca_json_new_object(r->pool);
    data = ca_json_add_array(doc, "data");
    n = logs->nelts > limit ? (int)limit : logs->nelts;
    for (i = 0; i < n; i++) {
        log_json(ca_json_add_object(data, NULL), APR_ARRAY_IDX(logs, i, ca_request_log_t *),
                 0);
    }
    if (logs->nelts > limit) {
        const ca_request_log_t *last = APR_ARRAY_IDX(logs, n - 1, ca_request_log_t *);
        ca_json_add_string(doc, "next_cursor",
                           apr_psprintf(r->pool, "%" APR_INT64_T_FMT ".%" APR_INT64_T_FMT,
                                        last->ts, last->id));
    }
    else {
        ca_json_add_null(doc, "next_cursor");
    }
    return reply(d, HTTP_OK, doc);
}

static int route_log_get(dash_t *d)
{
    ca_request_log_t *l;
    ca_endpoint_t *ep;
    ca_json_t *doc;
    apr_int64_t id;
    const char *err = NULL;
    apr_status_t rv;
    int st;

    if (!parse_int(d->seg[1], 1, APR_INT64_MAX, &id)) {
        return not_found(d, "no such log entry");
    }
    rv = ca_store_request_log_get(d->r->pool, &d->db, id, &l, &err);
    if (rv == CA_DB_ENOTFOUND) {
        return not_found(d, "no such log entry");
    }
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "request log lookup", err);
    }
    if (!d->admin && (st = load_endpoint(d, l->endpoint_id, &ep)) != OK) {
        return st;
    }
    doc = ca_json_new_object(d->r->pool);
    log_json(ca_json_add_object(doc, "log"), l, 1);
    return reply(d, HTTP_OK, doc);
}

/* A percentile of a usage bucket's duration histogram in milliseconds (to the
 * microsecond), or JSON null when the bucket has no requests. */
static void add_percentile(ca_json_t *o, const char *key, const ca_usage_bucket_t *u, double q)
{
    double us = u ? ca_rollup_percentile_us(u->hist, q) : -1;

    if (us < 0) {
        ca_json_add_null(o, key);
    }
    else {
        ca_json_add_number(o, key, (double)(apr_int64_t)(us + 0.5) / 1000.0);
    }
}

/* Usage series from the hourly rollups (request_rollups): one row per endpoint and hour, so
 * a 30-day chart reads at most 720 rows per endpoint whatever the number of requests. */
static int route_usage(dash_t *d)
{
    static const char *const allowed[] = { "endpoint", "since", "until", "bucket", NULL };
    request_rec *r = d->r;
    const char *ep_id, *b, *err = NULL;
    apr_int64_t since, until, bsec, start, total = 0, nb, i;
    apr_array_header_t *buckets;
    ca_json_t *doc, *series, *tot;
    apr_int64_t t2 = 0, t3 = 0, t4 = 0, t5 = 0, titems = 0;
    apr_status_t rv;
    int st, j;

    if ((st = check_params(d, allowed)) != OK || (st = endpoint_param(d, &ep_id)) != OK
        || (st = time_params(d, &since, &until)) != OK) {
        return st;
    }
    b = param(d, "bucket");
    if (!b || !strcmp(b, "hour")) {
        bsec = 3600;
    }
    else if (!strcmp(b, "day")) {
        bsec = 86400;
    }
    else {
        return bad(d, "bucket must be hour or day");
    }
    if (!until) {
        until = d->now + 1;
    }
    if (!param(d, "since")) {
        since = until - (bsec == 3600 ? 86400 : 30 * 86400);
        since = since < 0 ? 0 : since;
    }
    start = (since / bsec) * bsec;
    nb = (until - start + bsec - 1) / bsec;
    if (nb > CA_DASH_USAGE_MAX_BUCKETS) {
        return bad(d, apr_psprintf(r->pool, "the range holds more than %d buckets: choose a "
                                   "shorter range or bucket=day", CA_DASH_USAGE_MAX_BUCKETS));
    }
    if (!ep_id && !d->admin) {
        rv = ca_store_usage(r->pool, &d->db, NULL, d->s->user_id, start, until, bsec,
                            &buckets, &err);
    }
    else {
        rv = ca_store_usage(r->pool, &d->db, ep_id, 0, start, until, bsec, &buckets, &err);
    }
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "usage", err);
    }
    doc = ca_json_new_object(r->pool);
    ca_json_add_string(doc, "endpoint", ep_id);
    ca_json_add_string(doc, "bucket", bsec == 3600 ? "hour" : "day");
    add_int(doc, "since", since);
    add_int(doc, "until", until);
    ca_json_add_bool(doc, "percentiles", 1);
    series = ca_json_add_array(doc, "series");
    for (i = 0, j = 0; i < nb; i++) {
        apr_int64_t t = start + i * bsec;
        const ca_usage_bucket_t *u = NULL;
        ca_json_t *o = ca_json_add_object(series, NULL);
        while (j < buckets->nelts && APR_ARRAY_IDX(buckets, j, ca_usage_bucket_t).t < t) {
            j++;
        }
        if (j < buckets->nelts && APR_ARRAY_IDX(buckets, j, ca_usage_bucket_t).t == t) {
            u = &APR_ARRAY_IDX(buckets, j, ca_usage_bucket_t);
        }
        add_int(o, "t", t);
        add_int(o, "requests", u ? u->requests : 0);
        add_int(o, "status_2xx", u ? u->status_2xx : 0);
        add_int(o, "status_3xx", u ? u->status_3xx : 0);
        add_int(o, "errors_4xx", u ? u->errors_4xx : 0);
        add_int(o, "errors_5xx", u ? u->errors_5xx : 0);
        add_int(o, "items", u ? u->items : 0);
        add_percentile(o, "p50_ms", u, 0.5);
        add_percentile(o, "p95_ms", u, 0.95);
        if (u) {
            total += u->requests;
            t2 += u->status_2xx;
            t3 += u->status_3xx;
            t4 += u->errors_4xx;
            t5 += u->errors_5xx;
            titems += u->items;
        }
    }
    tot = ca_json_add_object(doc, "totals");
    add_int(tot, "requests", total);
    add_int(tot, "status_2xx", t2);
    add_int(tot, "status_3xx", t3);
    add_int(tot, "errors_4xx", t4);
    add_int(tot, "errors_5xx", t5);
    add_int(tot, "items", titems);
    return reply(d, HTTP_OK, doc);
}

/* ---- admin views -------------------------------------------------------------------- */

static int route_audit(dash_t *d)
{
    static const char *const allowed[] = {
        "before", "limit", "target_kind", "target_id", "user_id", NULL
    };
    apr_int64_t before, limit, uid;
    const char *kind, *target, *err = NULL;
    apr_array_header_t *list;
    ca_json_t *doc, *data;
    apr_status_t rv;
    int st, i, n;

    if ((st = check_params(d, allowed)) != OK
        || (st = int_param(d, "before", 1, APR_INT64_MAX, 0, &before)) != OK
        || (st = int_param(d, "limit", 1, CA_DASH_PAGE_MAX, CA_DASH_PAGE_DEFAULT, &limit))
           != OK
        || (st = int_param(d, "user_id", 1, APR_INT64_MAX, 0, &uid)) != OK) {
        return st;
    }
    kind = param(d, "target_kind");
    target = param(d, "target_id");
    if ((kind && strlen(kind) > 64) || (target && strlen(target) > 255)) {
        return bad(d, "target_kind or target_id is too long");
    }
    rv = ca_store_audit_page(d->r->pool, &d->db, before, kind, target, uid, (int)limit + 1,
                             &list, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "audit list", err);
    }
    doc = ca_json_new_object(d->r->pool);
    data = ca_json_add_array(doc, "data");
    n = list->nelts > limit ? (int)limit : list->nelts;
    for (i = 0; i < n; i++) {
        const ca_audit_event_t *e = APR_ARRAY_IDX(list, i, ca_audit_event_t *);
        ca_json_t *o = ca_json_add_object(data, NULL);
        add_int(o, "id", e->id);
        add_time(o, "created_at", e->created_at);
        if (e->user_id) {
            add_int(o, "user_id", e->user_id);
        }
        else {
            ca_json_add_null(o, "user_id");
        }
        ca_json_add_string(o, "actor_email", e->actor_email);
        ca_json_add_string(o, "action", e->action);
        ca_json_add_string(o, "target_kind", e->target_kind);
        ca_json_add_string(o, "target_id", e->target_id);
        ca_json_add_string(o, "detail", e->detail);
        ca_json_add_string(o, "ip", e->ip);
    }
    if (list->nelts > limit) {
        add_int(doc, "next_before", APR_ARRAY_IDX(list, n - 1, ca_audit_event_t *)->id);
    }
    else {
        ca_json_add_null(doc, "next_before");
    }
    return reply(d, HTTP_OK, doc);
}

static int route_contacts(dash_t *d)
{
    static const char *const allowed[] = { "before", "limit", NULL };
    apr_int64_t before, limit;
    const char *err = NULL;
    apr_array_header_t *list;
    ca_json_t *doc, *data;
    apr_status_t rv;
    int st, i, n;

    if ((st = check_params(d, allowed)) != OK
        || (st = int_param(d, "before", 1, APR_INT64_MAX, 0, &before)) != OK
        || (st = int_param(d, "limit", 1, CA_DASH_PAGE_MAX, CA_DASH_PAGE_DEFAULT, &limit))
           != OK) {
        return st;
    }
    rv = ca_store_contacts_page(d->r->pool, &d->db, before, (int)limit + 1, &list, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "contact message list", err);
    }
    doc = ca_json_new_object(d->r->pool);
    data = ca_json_add_array(doc, "data");
    n = list->nelts > limit ? (int)limit : list->nelts;
    for (i = 0; i < n; i++) {
        const ca_contact_t *c = APR_ARRAY_IDX(list, i, ca_contact_t *);
        ca_json_t *o = ca_json_add_object(data, NULL);
        add_int(o, "id", c->id);
        add_time(o, "created_at", c->created_at);
        ca_json_add_string(o, "name", c->name);
        ca_json_add_string(o, "email", c->email);
        ca_json_add_string(o, "company", c->company);
        ca_json_add_string(o, "message", c->message);
        ca_json_add_string(o, "ip", c->ip);
        add_time(o, "handled_at", c->handled_at);
    }
    if (list->nelts > limit) {
        add_int(doc, "next_before", APR_ARRAY_IDX(list, n - 1, ca_contact_t *)->id);
    }
    else {
        ca_json_add_null(doc, "next_before");
    }
    return reply(d, HTTP_OK, doc);
}

/* POST /contact-messages/{id}/handled {"handled": true|false}; DELETE /contact-messages/{id} */
static int route_contact_change(dash_t *d)
{
    static const char *const members[] = { "handled", NULL };
    int del = d->r->method_number == M_DELETE;
    const char *err = NULL;
    apr_int64_t id;
    ca_json_t *doc, *h;
    apr_status_t rv;
    int st, handled = 1;

    if (!parse_int(d->seg[1], 1, APR_INT64_MAX, &id)) {
        return not_found(d, "no such message");
    }
    if ((st = read_body(d, 0, del ? members + 1 : members)) != OK) {
        return st;
    }
    if ((h = ca_json_get(d->body, "handled")) && !ca_json_bool(h, &handled)) {
        return bad(d, "handled must be true or false");
    }
    rv = del ? ca_store_contact_delete(d->r->pool, &d->db, id, &err)
             : ca_store_contact_set_handled(d->r->pool, &d->db, id, handled ? d->now : 0, &err);
    if (rv == CA_DB_ENOTFOUND) {
        return not_found(d, "no such message");
    }
    if (rv != APR_SUCCESS) {
        return db_fail(d, rv, "contact message change", err);
    }
    audit(d, del ? "contact.delete" : handled ? "contact.handled" : "contact.unhandled",
          "contact_message", ca_db_i64(d->r->pool, id), del ? "deleted" : "marked");
    doc = ca_json_new_object(d->r->pool);
    add_int(doc, "id", id);
    ca_json_add_string(doc, "result", del ? "deleted" : handled ? "handled" : "unhandled");
    return reply(d, HTTP_OK, doc);
}

/* ---- routing ------------------------------------------------------------------------ */

enum { R_PUBLIC = 1, R_ADMIN = 2, R_QUERY = 4 };  /* R_QUERY: checks its own query */

typedef struct {
    const char *pattern[4];            /* "*" matches any one segment */
    int nseg;
    int method;                        /* M_GET (HEAD too), M_POST, M_DELETE */
    int flags;
    route_fn fn;
} route_t;

static const route_t routes[] = {
    { { "login" }, 1, M_POST, R_PUBLIC, route_login },
    { { "logout" }, 1, M_POST, R_PUBLIC, route_logout },
    { { "me" }, 1, M_GET, 0, route_me },
    { { "password" }, 1, M_POST, 0, route_password },
    { { "signup" }, 1, M_GET, R_PUBLIC, route_signup_state },
    { { "signup" }, 1, M_POST, R_PUBLIC, route_signup },
    { { "account" }, 1, M_DELETE, 0, route_account_delete },
    { { "providers" }, 1, M_GET, 0, route_providers },
    { { "connections" }, 1, M_GET, 0, route_connections },
    { { "endpoints" }, 1, M_GET, 0, route_endpoints_list },
    { { "endpoints" }, 1, M_POST, 0, route_endpoint_create },
    { { "endpoints", "*" }, 2, M_GET, 0, route_endpoint_get },
    { { "endpoints", "*" }, 2, M_DELETE, 0, route_endpoint_delete },
    { { "endpoints", "*", "activate" }, 3, M_POST, 0, route_endpoint_status },
    { { "endpoints", "*", "deactivate" }, 3, M_POST, 0, route_endpoint_status },
    { { "endpoints", "*", "reissue" }, 3, M_POST, 0, route_endpoint_reissue },
    { { "logs" }, 1, M_GET, R_QUERY, route_logs },
    { { "logs", "*" }, 2, M_GET, 0, route_log_get },
    { { "usage" }, 1, M_GET, R_QUERY, route_usage },
    { { "audit" }, 1, M_GET, R_ADMIN | R_QUERY, route_audit },
    { { "contact-messages" }, 1, M_GET, R_ADMIN | R_QUERY, route_contacts },
    { { "contact-messages", "*" }, 2, M_DELETE, R_ADMIN, route_contact_change },
    { { "contact-messages", "*", "handled" }, 3, M_POST, R_ADMIN, route_contact_change },
    { { NULL }, 0, 0, 0, NULL }
};

static int route_matches(const route_t *rt, const dash_t *d)
{
    int i;

    if (rt->nseg != d->nseg) {
        return 0;
    }
    for (i = 0; i < rt->nseg; i++) {
        if (strcmp(rt->pattern[i], "*") && strcmp(rt->pattern[i], d->seg[i])) {
            return 0;
        }
    }
    return 1;
}

/* Split "/a/b/c" into at most 4 non-empty segments; 0 when the path has another shape. */
static int split_path(dash_t *d, const char *path)
{
    char *copy, *s;

    if (!path || *path != '/') {
        return 0;
    }
    copy = apr_pstrdup(d->r->pool, path + 1);
    d->nseg = 0;
    for (s = copy; ; ) {
        char *slash = strchr(s, '/');
        if (slash) {
            *slash = '\0';
        }
        if (!*s || d->nseg == 4) {
            return 0;
        }
        d->seg[d->nseg++] = s;
        if (!slash) {
            return 1;
        }
        s = slash + 1;
    }
}

static const char *method_text(int m)
{
    return m == M_GET ? "GET, HEAD" : m == M_POST ? "POST" : "DELETE";
}

/* Database, session (unless public), CSRF token of state-changing methods: OK to go on. */
static int gate(dash_t *d, int public)
{
    request_rec *r = d->r;
    const char *err = NULL;
    apr_status_t rv;

    if ((rv = ca_dbd_acquire(r, &d->db)) != APR_SUCCESS) {
        return fail(d, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                    "the database is unavailable; try again shortly");
    }
    rv = ca_session_load(r, &d->db, d->now, &d->s, &err);
    if (rv != APR_SUCCESS && rv != CA_DB_ENOTFOUND) {
        return db_fail(d, rv, "session lookup", err);
    }
    if (!d->s && ca_web_cookie(r, CA_SESSION_COOKIE)) {
        ca_session_clear_cookies(r);
    }
    if (!d->s && !public) {
        return fail(d, HTTP_UNAUTHORIZED, "unauthenticated",
                    "sign in first (your session may have ended)");
    }
    d->admin = ca_session_is_admin(d->s);
    if (d->s && ca_web_state_changing(r) && !ca_session_csrf_ok(r, d->s)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, CA_LOGNO(00515)
                      "dashboard: %s %s refused: missing or wrong CSRF token (user %"
                      APR_INT64_T_FMT ")", r->method, r->uri, d->s->user_id);
        return fail(d, HTTP_FORBIDDEN, "csrf_failed",
                    "the request lacks this session's CSRF token; reload the page");
    }
    return OK;
}

/* Everything below /connections/: the connection routes of mod_clientapi_connect.c. */
static int connection_routes(dash_t *d, const char *subpath)
{
    int st;

    if ((st = gate(d, 0)) != OK) {
        return st;
    }
    st = ca_connect_route(d->r, &d->db, d->s, subpath);
    if (st == DECLINED) {
        return not_found(d, "no such URL");
    }
    return st == OK ? CA_WEB_ANSWERED : st;
}

static int dashboard(dash_t *d)
{
    request_rec *r = d->r;
    const route_t *rt, *match = NULL;
    const char *why = NULL, *allow = NULL;
    const char *path = ca_web_path_below(r);
    int st;

    if (path && !strncmp(path, "/connections/", 13)) {
        return connection_routes(d, path + 12);
    }
    if (!split_path(d, path)) {
        return not_found(d, "no such URL");
    }
    for (rt = routes; rt->fn; rt++) {
        if (route_matches(rt, d)) {
            allow = allow ? apr_pstrcat(r->pool, allow, ", ", method_text(rt->method), NULL)
                          : method_text(rt->method);
            if (rt->method == r->method_number && !match) {
                match = rt;
            }
        }
    }
    if (!allow) {
        return not_found(d, "no such URL");
    }
    if (!match) {
        apr_table_setn(r->err_headers_out, "Allow", allow);
        return fail(d, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                    apr_psprintf(r->pool, "%s is not allowed here (allowed: %s)",
                                 ap_escape_html(r->pool, r->method), allow));
    }
    if (ca_http_parse_form(r->pool, r->args ? r->args : "", r->args ? strlen(r->args) : 0,
                           &d->params, &why) != APR_SUCCESS) {
        return bad(d, why ? why : "malformed query string");
    }
    if (match->fn == route_login) {
        /* no session is looked at: a new one replaces whatever the browser had */
        if (ca_dbd_acquire(r, &d->db) != APR_SUCCESS) {
            return fail(d, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                        "the database is unavailable; try again shortly");
        }
    }
    else if ((st = gate(d, match->flags & R_PUBLIC)) != OK) {
        return st;
    }
    if ((match->flags & R_ADMIN) && !d->admin) {
        return fail(d, HTTP_FORBIDDEN, "forbidden", "only administrators may do this");
    }
    if (!(match->flags & R_QUERY) && (st = check_params(d, NULL)) != OK) {
        return st;
    }
    return match->fn(d);
}

int ca_dashboard_handler(request_rec *r)
{
    dash_t *d = apr_pcalloc(r->pool, sizeof(*d));
    int st;

    d->r = r;
    d->sc = ap_get_module_config(r->server->module_config, &clientapi_module);
    d->now = ca_web_now(r);
    ca_request_id(r);
    ca_web_security_headers(r);
    st = dashboard(d);
    return st == CA_WEB_ANSWERED ? OK : st;
}
