/* mod_clientapi: connecting, renewing and disconnecting provider accounts (docs/connect.md).
 *
 * OAuth (authorization code, PKCE decided by the provider file): POST .../{provider}/start
 * stores a single-use state (SHA-256 only) bound to the dashboard session, with the PKCE
 * verifier sealed under the state's hash, and answers the authorize URL. The provider sends
 * the browser to the callback (SetHandler clientapi-oauth-callback), which consumes the state
 * atomically, checks that it belongs to the session of the cookie, exchanges the code,
 * identifies the account and stores the connection: a new row first, then its secrets sealed
 * with the row id (ca_conn), in one transaction; an existing connection of the same user,
 * provider and account is reconnected instead (same id, so its endpoints and keys stay).
 * Every outcome of the callback redirects to a fixed dashboard page.
 *
 * API keys and client credentials are checked at the provider before anything is stored.
 * Disconnecting deletes every stored credential first, then revokes them at the provider
 * (RFC 7009, best effort) and deactivates the connection's dashboard endpoints.
 *
 * Tokens, codes, verifiers, states and keys are never logged, echoed or put in answers; the
 * callback's query string is removed from the request line that the access log writes.
 */
#include <stdlib.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_clientapi.h"
#include "mod_clientapi_api.h"
#include "mod_clientapi_connect.h"
#include "mod_clientapi_session.h"
#include "ca_conn.h"
#include "ca_crypto.h"
#include "ca_http.h"
#include "ca_json.h"
#include "ca_oauth.h"
#include "ca_route.h"
#include "ca_scope.h"

#define CX_MAX_SEG        6
#define CX_MAX_SECRET     4096   /* bytes of a pasted key or client secret */
#define CX_MAX_FIELD      255    /* bytes of a client id or tenant */
#define CX_MAX_STATE      512    /* bytes of a state parameter worth hashing */
#define CX_MAX_CURSOR     4096
#define CX_PICK_LIMIT     100    /* items per page of company / client lists */
#define CX_LOCK_SEC       30     /* a disconnect holds the refresh lock at most */
#define CX_LOCK_POLLS     30     /* waits of 100 ms for a running refresh */

/* What the functions below return once an answer was sent (OK: go on). The entry points
 * turn it into OK for httpd. */
#define CX_DONE (-3)

typedef struct {
    request_rec *r;
    ca_server_conf *sc;
    ca_db_t *db;
    const ca_session_t *s;
    apr_int64_t now;
    apr_array_header_t *params;        /* ca_http_param_t of the query */
    const char *seg[CX_MAX_SEG];
    int nseg;
} cx_t;

static apr_table_t *conn_vars(cx_t *x, const ca_provider_t *prov);

/* What a connection stores (plaintext here, sealed on the way to the database). */
typedef struct {
    const char *auth_mode;             /* oauth2, client_credentials, api_key */
    const char *account_id;
    const char *account_label;
    const char *access_token;
    const char *refresh_token;
    const char *api_key;
    const char *client_id;             /* only when the user entered it */
    const char *client_secret;
    const char *tenant;
    const char *scopes;
    apr_int64_t expires_at;
} cx_secrets_t;

/* ---- answers ------------------------------------------------------------------------ */

static int fail(cx_t *x, int status, const char *code, const char *detail)
{
    ca_web_problem(x->r, status, code, detail);
    return CX_DONE;
}

static int bad(cx_t *x, const char *detail)
{
    return fail(x, HTTP_BAD_REQUEST, "bad_request", detail);
}

static int db_fail(cx_t *x, apr_status_t rv, const char *what, const char *err)
{
    ca_web_db_fail(x->r, rv, what, err);
    return CX_DONE;
}

static int reply(cx_t *x, int status, ca_json_t *doc)
{
    const char *text = ca_json_print(x->r->pool, doc);

    if (!text) {
        return fail(x, HTTP_INTERNAL_SERVER_ERROR, "internal_error", "out of memory");
    }
    ca_web_json(x->r, status, text);
    return CX_DONE;
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

static void audit(cx_t *x, apr_int64_t user_id, const char *email, const char *action,
                  apr_int64_t conn_id, const char *detail)
{
    const char *err = NULL;

    if (ca_store_audit(x->r->pool, x->db, user_id, email, action, "connection",
                       ca_db_i64(x->r->pool, conn_id), detail, x->r->useragent_ip, x->now,
                       &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r, CA_LOGNO(00802)
                      "connect: audit event %s on connection %" APR_INT64_T_FMT " not stored "
                      "(request %s): %s", action, conn_id, ca_request_id(x->r),
                      err ? err : "");
    }
}

/* ---- providers and their OAuth clients ---------------------------------------------- */

static const ca_provider_t *provider_of(const ca_server_conf *sc, const char *name)
{
    return (name && sc->providers) ? apr_hash_get(sc->providers, name, APR_HASH_KEY_STRING)
                                   : NULL;
}

/* The admin's OAuth client of a provider (ClientAPIProviderClient); 0 when there is none. */
static int admin_client(const ca_server_conf *sc, const ca_provider_t *prov,
                        ca_oauth_client_t *oc)
{
    const ca_provider_setting_t *ps = sc->provider_settings
        ? apr_hash_get(sc->provider_settings, prov->name, APR_HASH_KEY_STRING) : NULL;

    memset(oc, 0, sizeof(*oc));
    if (!ps || !ps->client_id || !*ps->client_id) {
        return 0;
    }
    oc->client_id = ps->client_id;
    oc->client_secret = ps->client_secret;
    return 1;
}

/* A request state for the helpers of the endpoint handler (HTTP options, and the token logic
 * of mod_clientapi_token.c with its refresh lock), acting on connection conn_id. */
static ca_api_req_t *token_req(cx_t *x, const ca_provider_t *prov, apr_int64_t conn_id)
{
    ca_api_req_t *q = apr_pcalloc(x->r->pool, sizeof(*q));
    ca_endpoint_t *ep = apr_pcalloc(x->r->pool, sizeof(*ep));

    ep->connection_id = conn_id;
    ep->public_id = "";
    ep->status = "active";
    q->r = x->r;
    q->sc = x->sc;
    q->start = x->r->request_time ? x->r->request_time : apr_time_now();
    if (x->db) {
        q->db = *x->db;
        q->have_db = 1;
    }
    q->ep = ep;
    q->prov = prov;
    q->item_count = -1;
    return q;
}

/* ctx for ca_oauth calls with this server's HTTP options; 0 when no HTTP client exists. */
static int oauth_ctx(cx_t *x, const ca_provider_t *prov, const ca_oauth_client_t *oc,
                     ca_oauth_ctx_t *ctx)
{
    ca_http_options_t *opts = apr_pcalloc(x->r->pool, sizeof(*opts));

    ca_proxy_http_options(token_req(x, prov, 0), opts);
    memset(ctx, 0, sizeof(*ctx));
    ctx->def = prov;
    ctx->client = oc;
    ctx->http = ca_proxy_http_client(x->r);
    ctx->http_opts = opts;
    return ctx->http != NULL;
}

static const char *requested_scopes(apr_pool_t *p, const ca_provider_t *prov)
{
    const apr_array_header_t *a = prov->auth.scopes;

    return (a && a->nelts) ? apr_array_pstrcat(p, a, ' ') : NULL;
}

static int is_oauth_code(const ca_provider_t *prov)
{
    return prov->auth.mode == CA_AUTH_OAUTH2_CODE
           || prov->auth.mode == CA_AUTH_OAUTH2_CODE_PKCE;
}

static const char *public_base(apr_pool_t *p, const ca_server_conf *sc)
{
    char *base;
    size_t n;

    if (!sc->public_url || !*sc->public_url) {
        return NULL;
    }
    base = apr_pstrdup(p, sc->public_url);
    for (n = strlen(base); n && base[n - 1] == '/'; n--) {
        base[n - 1] = '\0';
    }
    return base;
}

static const char *redirect_uri(apr_pool_t *p, const ca_server_conf *sc)
{
    const char *base = public_base(p, sc);

    return base ? apr_pstrcat(p, base, CA_CONNECT_CALLBACK_PATH, NULL) : NULL;
}

/* Log a failed provider operation (no secret: ca_oauth's messages carry none). */
static void log_oauth(cx_t *x, int level, const ca_provider_t *prov, const char *what,
                      apr_status_t rv, const char *err)
{
    ap_log_rerror(APLOG_MARK, level, 0, x->r, CA_LOGNO(00803)
                  "connect: %s with provider %s failed: %s: %s (user %" APR_INT64_T_FMT
                  ", request %s)", what, prov->name, ca_oauth_status_name(rv),
                  err ? err : "", x->s ? x->s->user_id : 0, ca_request_id(x->r));
}

/* Answer a failed ca_oauth call of a dashboard route. A dead credential (and with
 * refused_is_credential any other refusal) is the user's: 422 `code` with `detail`. */
static int oauth_fail(cx_t *x, const ca_provider_t *prov, const char *what, apr_status_t rv,
                      const char *err, int refused_is_credential, const char *code,
                      const char *detail)
{
    int user_error = rv == CA_OAUTH_EGRANT || (refused_is_credential && rv == CA_OAUTH_EREFUSED);

    log_oauth(x, user_error || rv == CA_OAUTH_ETEMPORARY ? APLOG_INFO : APLOG_WARNING, prov,
              what, rv, err);
    if (user_error) {
        return fail(x, HTTP_UNPROCESSABLE_ENTITY, code, detail);
    }
    if (rv == CA_OAUTH_ETEMPORARY) {
        return fail(x, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                    "the provider could not be reached or is busy; try again shortly");
    }
    if (rv == CA_OAUTH_EMALFORMED || rv == CA_OAUTH_EREFUSED) {
        return fail(x, HTTP_BAD_GATEWAY, "provider_error",
                    "the provider's answer could not be used; the administrator can find the "
                    "reason in the server log");
    }
    return fail(x, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                "this server's configuration of the provider does not allow this; the "
                "administrator can find the reason in the server log");
}

/* ---- storing a connection ----------------------------------------------------------- */

static apr_status_t seal(apr_pool_t *p, const ca_keyring_t *ring, apr_int64_t id,
                         const char *field, const char *plain, const char **out)
{
    *out = NULL;
    if (!plain || !*plain) {
        return APR_SUCCESS;
    }
    return ca_conn_seal(p, ring, id, field, plain, out);
}

/* The connection of user + provider + account, if any: *id (0 when there is none). */
static apr_status_t find_connection(cx_t *x, apr_int64_t user_id, const char *provider,
                                    const char *account_id, apr_int64_t *id, const char **err)
{
    const char *a[] = { ca_db_i64(x->r->pool, user_id), provider, account_id };
    const char **row;
    apr_status_t rv;

    *id = 0;
    rv = ca_db_select_one(x->r->pool, x->db, CA_SQL_CONNECTION_FIND, 3, a, &row, NULL, err);
    if (rv == CA_DB_ENOTFOUND) {
        return APR_SUCCESS;
    }
    if (rv == APR_SUCCESS) {
        *id = ca_db_col_i64(row[0], 0);
    }
    return rv;
}

/*
 * Store the credentials of user_id's account at prov: reconnect the existing connection of the
 * same user, provider and account (same id: its endpoints and keys stay), or insert a new row
 * and seal its secrets with the row's id. One transaction. *id and *reconnected are set.
 */
static apr_status_t save_connection(cx_t *x, apr_int64_t user_id, const ca_provider_t *prov,
                                    const cx_secrets_t *sec, apr_int64_t *id,
                                    int *reconnected, const char **err)
{
    apr_pool_t *p = x->r->pool;
    const ca_keyring_t *ring = x->sc->keyring;
    const char *acc = NULL, *ref = NULL, *key = NULL, *cs = NULL;
    ca_db_txn_t *txn = NULL;
    apr_status_t rv;

    *id = 0;
    *reconnected = 0;
    if ((rv = ca_db_txn_begin(p, x->db, &txn, err)) != APR_SUCCESS) {
        return rv;
    }
    rv = find_connection(x, user_id, prov->name, sec->account_id, id, err);
    if (rv == APR_SUCCESS && *id) {
        *reconnected = 1;
    }
    else if (rv == APR_SUCCESS) {
        ca_connection_t c;
        memset(&c, 0, sizeof(c));
        c.user_id = user_id;
        c.provider = prov->name;
        c.account_id = sec->account_id;
        c.account_label = sec->account_label;
        c.auth_mode = sec->auth_mode;
        rv = ca_store_connection_insert(p, x->db, &c, x->now, err);
        *id = c.id;
    }
    if (rv == APR_SUCCESS
        && (seal(p, ring, *id, CA_CONN_ACCESS_TOKEN, sec->access_token, &acc) != APR_SUCCESS
            || seal(p, ring, *id, CA_CONN_REFRESH_TOKEN, sec->refresh_token, &ref)
               != APR_SUCCESS
            || seal(p, ring, *id, CA_CONN_API_KEY, sec->api_key, &key) != APR_SUCCESS
            || seal(p, ring, *id, CA_CONN_CLIENT_SECRET, sec->client_secret, &cs)
               != APR_SUCCESS)) {
        *err = "the credentials could not be encrypted";
        rv = APR_EGENERAL;
    }
    if (rv == APR_SUCCESS) {
        const char *a[] = {
            sec->account_label, sec->auth_mode, acc, ref, key, sec->client_id, cs,
            sec->tenant, sec->scopes,
            sec->expires_at ? ca_db_i64(p, sec->expires_at) : NULL,
            ca_db_i64(p, x->now), ca_db_i64(p, *id)
        };
        int n = 0;
        rv = ca_db_exec(p, x->db, CA_SQL_CONNECTION_SET_SECRETS, 12, a, &n, err);
        if (rv == APR_SUCCESS && n != 1) {
            *err = "the connection disappeared while it was stored";
            rv = CA_DB_ENOTFOUND;
        }
    }
    rv = ca_db_txn_end(txn, rv, err);
    if (rv == APR_SUCCESS) {
        ca_keycache_invalidate(x->r);   /* new credentials, status active again */
    }
    return rv;
}

/* Load a connection the session may act on (its own; an admin: any). 404 otherwise. */
static int load_connection(cx_t *x, const char *id_text, ca_connection_t **c)
{
    apr_int64_t id = 0;
    const char *err = NULL, *s;
    apr_status_t rv;

    *c = NULL;
    for (s = id_text; *s; s++) {
        if (*s < '0' || *s > '9' || s - id_text > 17) {
            return fail(x, HTTP_NOT_FOUND, "not_found", "no such connection");
        }
        id = id * 10 + (*s - '0');
    }
    if (id <= 0) {
        return fail(x, HTTP_NOT_FOUND, "not_found", "no such connection");
    }
    rv = ca_store_connection_get(x->r->pool, x->db, id, c, &err);
    if (rv == CA_DB_ENOTFOUND
        || (rv == APR_SUCCESS && (*c)->user_id != x->s->user_id
            && !ca_session_is_admin(x->s))) {
        *c = NULL;
        return fail(x, HTTP_NOT_FOUND, "not_found", "no such connection");
    }
    if (rv != APR_SUCCESS) {
        return db_fail(x, rv, "connection lookup", err);
    }
    return OK;
}

static ca_json_t *connection_json(cx_t *x, ca_json_t *parent, const char *key,
                                  const ca_connection_t *c)
{
    const ca_provider_t *prov = provider_of(x->sc, c->provider);
    ca_json_t *o = ca_json_add_object(parent, key);

    ca_json_add_number(o, "id", (double)c->id);
    ca_json_add_string(o, "provider", c->provider);
    ca_json_add_string(o, "provider_name", prov ? prov->display_name : c->provider);
    ca_json_add_string(o, "account_id", c->account_id);
    ca_json_add_string(o, "account_label", c->account_label);
    ca_json_add_string(o, "auth_mode", c->auth_mode);
    ca_json_add_string(o, "scopes", c->scopes);
    ca_json_add_string(o, "status", c->status);
    add_time(o, "expires_at", c->expires_at);
    add_time(o, "last_refresh_at", c->last_refresh_at);
    add_time(o, "created_at", c->created_at);
    add_time(o, "updated_at", c->updated_at);
    ca_json_add_bool(o, "has_credentials", c->access_token_enc || c->refresh_token_enc
                                           || c->api_key_enc || c->client_secret_enc);
    return o;
}

/* Answer the stored connection `id` after a connect: 201 (new) or 200 (reconnected). */
static int connected(cx_t *x, apr_int64_t id, int reconnected)
{
    ca_connection_t *c = NULL;
    const char *err = NULL;
    ca_json_t *doc = ca_json_new_object(x->r->pool);
    apr_status_t rv = ca_store_connection_get(x->r->pool, x->db, id, &c, &err);

    if (rv != APR_SUCCESS) {
        return db_fail(x, rv, "connection lookup", err);
    }
    connection_json(x, doc, "connection", c);
    ca_json_add_bool(doc, "reconnected", reconnected);
    return reply(x, reconnected ? HTTP_OK : HTTP_CREATED, doc);
}

static void audit_connect(cx_t *x, apr_int64_t user_id, const char *email,
                          const ca_provider_t *prov, const cx_secrets_t *sec, apr_int64_t id,
                          int reconnected)
{
    audit(x, user_id, email, reconnected ? "connection.reconnect" : "connection.connect", id,
          apr_psprintf(x->r->pool, "%s account %s (%s)", prov->name,
                       sec->account_id ? sec->account_id : "-", sec->auth_mode));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r, CA_LOGNO(00804)
                  "connect: user %" APR_INT64_T_FMT " %s connection %" APR_INT64_T_FMT
                  " (%s)", user_id, reconnected ? "reconnected" : "created", id, prov->name);
}

/* ---- request bodies ----------------------------------------------------------------- */

/* Read the JSON object body; members must be in allowed (NULL-terminated). An empty body is
 * *out = NULL (refused when required). */
static int read_body(cx_t *x, int required, const char *const *allowed, ca_json_t **out)
{
    request_rec *r = x->r;
    const char *err = NULL;
    ca_json_t *doc, *m;
    char *body = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    *out = NULL;
    rv = ca_web_read_body(r, CA_WEB_MAX_BODY, &body, &len);
    if (rv == APR_ENOSPC) {
        return fail(x, HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                    "the request body is too large");
    }
    if (rv != APR_SUCCESS) {
        return bad(x, "the request body could not be read");
    }
    if (!len) {
        return required ? bad(x, "a JSON object body is required") : OK;
    }
    if (strcmp(ca_web_media_type(r), "application/json")) {
        ca_cleanse(body, len);
        return fail(x, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                    "send the body as application/json");
    }
    doc = strlen(body) == len ? ca_json_parse_str(r->pool, body, &err) : NULL;
    ca_cleanse(body, len);
    if (!doc || ca_json_type(doc) != CA_JSON_OBJECT) {
        return bad(x, "the body must be a JSON object");
    }
    CA_JSON_FOREACH(m, doc) {
        const char *k = ca_json_key(m);
        int i, known = 0;
        for (i = 0; allowed && allowed[i]; i++) {
            known |= !strcmp(allowed[i], k);
        }
        if (!known || strlen(k) > 64) {
            return bad(x, apr_psprintf(r->pool, "unknown member '%.64s'", k));
        }
        if (ca_json_key_count(doc, k) > 1) {
            return bad(x, apr_psprintf(r->pool, "member '%s' is given more than once", k));
        }
    }
    *out = doc;
    return OK;
}

/* A string member, trimmed; NULL when absent, null or empty (then 400 when required). */
static int str_member(cx_t *x, ca_json_t *doc, const char *name, int required, apr_size_t max,
                      const char **out)
{
    ca_json_t *m = doc ? ca_json_get(doc, name) : NULL;
    const char *v;
    char *s;
    size_t n;

    *out = NULL;
    if (m && ca_json_type(m) != CA_JSON_NULL) {
        if (!(v = ca_json_string(m))) {
            return bad(x, apr_psprintf(x->r->pool, "'%s' must be a string", name));
        }
        while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
            v++;
        }
        s = apr_pstrdup(x->r->pool, v);
        for (n = strlen(s); n && strchr(" \t\r\n", s[n - 1]); n--) {
            s[n - 1] = '\0';
        }
        if (*s) {
            if (strlen(s) > max) {
                return bad(x, apr_psprintf(x->r->pool, "'%s' is too long", name));
            }
            if (!ca_web_no_controls(s, 0) || ca_utf8_chars(s, strlen(s)) < 0) {
                return bad(x, apr_psprintf(x->r->pool, "'%s' contains characters it cannot "
                                           "have", name));
            }
            *out = s;
        }
    }
    if (!*out && required) {
        return bad(x, apr_psprintf(x->r->pool, "'%s' is required", name));
    }
    return OK;
}

/* Printable ASCII without spaces (what an API key, a token or a client id can hold). */
static int vschar_only(const char *s)
{
    for (; *s; s++) {
        if (*s < 0x21 || *s > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* ---- POST /{provider}/start --------------------------------------------------------- */

static const char *state_aad(apr_pool_t *p, const char *state_hash)
{
    return apr_pstrcat(p, "clientapi:oauth_state:", state_hash, ":code_verifier", NULL);
}

static int route_start(cx_t *x, const ca_provider_t *prov)
{
    apr_pool_t *p = x->r->pool;
    ca_oauth_client_t oc;
    ca_oauth_ctx_t ctx;
    const char *uri = redirect_uri(p, x->sc), *state_hash, *challenge, *venc = NULL;
    const char *url = NULL, *err = NULL;
    char *state, *verifier;
    ca_json_t *body, *doc;
    apr_status_t rv;
    int st;

    if ((st = read_body(x, 0, NULL, &body)) != OK) {
        return st;
    }
    if (!is_oauth_code(prov)) {
        return fail(x, HTTP_CONFLICT, "wrong_auth_mode",
                    apr_psprintf(p, "%s does not connect through an authorization page: use "
                                 "/%s", prov->display_name,
                                 prov->auth.mode == CA_AUTH_API_KEY ? "apikey"
                                                                    : "credentials"));
    }
    if (prov->auth.credentials_at_connect) {
        return fail(x, HTTP_NOT_IMPLEMENTED, "not_supported",
                    "connecting with your own OAuth client is not supported for this provider");
    }
    if (!admin_client(x->sc, prov, &oc) || !uri || !x->sc->keyring) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, CA_LOGNO(00805)
                      "connect: provider %s cannot be connected: %s is not set", prov->name,
                      !oc.client_id ? "ClientAPIProviderClient"
                                    : !uri ? "ClientAPIPublicURL" : "ClientAPISecretKeyFile");
        return fail(x, HTTP_SERVICE_UNAVAILABLE, "provider_not_configured",
                    "this server is not configured to connect this provider");
    }
    state = ca_random_token(p, 32);
    verifier = ca_random_token(p, 32);
    if (!state || !verifier) {
        return fail(x, HTTP_INTERNAL_SERVER_ERROR, "internal_error", "no random bytes");
    }
    state_hash = ca_sha256_hex(p, state, strlen(state));
    challenge = ca_pkce_challenge_s256(p, verifier);
    if (!state_hash || !challenge
        || ca_seal(p, x->sc->keyring, state_aad(p, state_hash), verifier, strlen(verifier),
                   &venc) != APR_SUCCESS) {
        ca_cleanse(verifier, strlen(verifier));
        return fail(x, HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                    "the authorization could not be prepared");
    }
    ca_cleanse(verifier, strlen(verifier));
    memset(&ctx, 0, sizeof(ctx));
    ctx.def = prov;
    ctx.client = &oc;
    rv = ca_oauth_authorize_url(p, &ctx, uri, state, challenge, &url, &err);
    if (rv != APR_SUCCESS) {
        log_oauth(x, APLOG_ERR, prov, "authorize URL", rv, err);
        return fail(x, HTTP_SERVICE_UNAVAILABLE, "provider_not_configured",
                    "this server is not configured to connect this provider");
    }
    {
        const char *a[] = {
            state_hash, x->s->id_hash, ca_db_i64(p, x->s->user_id), prov->name, venc, NULL,
            ca_db_i64(p, x->now), ca_db_i64(p, x->now + CA_CONNECT_STATE_TTL)
        };
        rv = ca_db_exec(p, x->db, CA_SQL_OAUTH_STATE_INSERT, 8, a, NULL, &err);
        if (rv != APR_SUCCESS) {
            return db_fail(x, rv, "storing an OAuth state", err);
        }
    }
    doc = ca_json_new_object(p);
    ca_json_add_string(doc, "authorize_url", url);
    ca_json_add_number(doc, "expires_in", CA_CONNECT_STATE_TTL);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r, CA_LOGNO(00806)
                  "connect: user %" APR_INT64_T_FMT " started an authorization at %s",
                  x->s->user_id, prov->name);
    ca_cleanse(state, strlen(state));
    return reply(x, HTTP_OK, doc);
}

/* ---- POST /{provider}/apikey -------------------------------------------------------- */

static int route_apikey(cx_t *x, const ca_provider_t *prov)
{
    static const char *const allowed[] = { "api_key", NULL };
    apr_pool_t *p = x->r->pool;
    ca_oauth_ctx_t ctx;
    cx_secrets_t sec;
    const char *key, *err = NULL;
    ca_json_t *body;
    apr_int64_t id;
    apr_status_t rv;
    int st, again;

    if (prov->auth.mode != CA_AUTH_API_KEY) {
        return fail(x, HTTP_CONFLICT, "wrong_auth_mode",
                    apr_psprintf(p, "%s does not connect with an API key", prov->display_name));
    }
    if ((st = read_body(x, 1, allowed, &body)) != OK) {
        return st;
    }
    if ((st = str_member(x, body, "api_key", 1, CX_MAX_SECRET, &key)) != OK
       ) {
        return st;
    }
    if (!vschar_only(key)) {
        return fail(x, HTTP_UNPROCESSABLE_ENTITY, "api_key_invalid",
                    "this is not an API key: it contains spaces or characters an API key "
                    "cannot have");
    }
    if (prov->auth.api_key_prefix
        && strncmp(key, prov->auth.api_key_prefix, strlen(prov->auth.api_key_prefix))) {
        return fail(x, HTTP_UNPROCESSABLE_ENTITY, "api_key_invalid",
                    apr_psprintf(p, "this is not a %s API key: those start with '%s'",
                                 prov->display_name, prov->auth.api_key_prefix));
    }
    if (!x->sc->keyring) {
        return fail(x, HTTP_SERVICE_UNAVAILABLE, "provider_not_configured",
                    "this server has no key file to store provider credentials");
    }
    if (!oauth_ctx(x, prov, NULL, &ctx)) {
        return fail(x, HTTP_BAD_GATEWAY, "provider_error", "the provider cannot be reached");
    }
    memset(&sec, 0, sizeof(sec));
    rv = ca_oauth_identity(p, &ctx, conn_vars(x, prov), key, &sec.account_id,
                           &sec.account_label, &err);
    if (rv != APR_SUCCESS) {
        return oauth_fail(x, prov, "API key check", rv, err, 1, "api_key_invalid",
                          apr_psprintf(p, "%s did not accept this API key: check that it is "
                                       "complete and still active", prov->display_name));
    }
    sec.auth_mode = "api_key";
    sec.api_key = key;
    rv = save_connection(x, x->s->user_id, prov, &sec, &id, &again, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(x, rv, "storing a connection", err);
    }
    audit_connect(x, x->s->user_id, x->s->email, prov, &sec, id, again);
    return connected(x, id, again);
}

/* Placeholder values every call of a provider may use: the ClientAPIProviderParam values of
 * its api.config_params (e.g. ServiceTitan's {app_key}). */
static apr_table_t *conn_vars(cx_t *x, const ca_provider_t *prov)
{
    const apr_table_t *params = ca_conf_provider_params(x->sc, prov->name);

    return params ? apr_table_copy(x->r->pool, params) : apr_table_make(x->r->pool, 8);
}

/* ---- POST /{provider}/credentials --------------------------------------------------- */

static int route_credentials(cx_t *x, const ca_provider_t *prov)
{
    const char *fname = ca_token_field_name(prov);
    const char *allowed[] = { "client_id", "client_secret", fname ? fname : "tenant", NULL };
    apr_pool_t *p = x->r->pool;
    const apr_array_header_t *cf = prov->auth.connect_fields;
    apr_table_t *vars = conn_vars(x, prov);
    ca_oauth_client_t oc = { NULL, NULL };
    ca_oauth_ctx_t ctx;
    ca_oauth_token_t *tok = NULL;
    cx_secrets_t sec;
    const char *err = NULL, *cid = NULL, *csecret = NULL, *tenant = NULL;
    int i, st, again, need_tenant = 0;
    ca_json_t *body;
    apr_int64_t id;
    apr_status_t rv;

    if (prov->auth.mode != CA_AUTH_CLIENT_CREDENTIALS) {
        return fail(x, HTTP_CONFLICT, "wrong_auth_mode",
                    apr_psprintf(p, "%s does not connect with client credentials",
                                 prov->display_name));
    }
    for (i = 0; cf && i < cf->nelts; i++) {
        const ca_provider_field_t *f = &APR_ARRAY_IDX(cf, i, ca_provider_field_t);
        if (!fname) {
            /* a connection stores one non-secret value (the tenant column) */
            return fail(x, HTTP_NOT_IMPLEMENTED, "not_supported",
                        apr_psprintf(p, "connect field '%s' is not supported by this server",
                                     f->name));
        }
        need_tenant = 1;
    }
    if ((st = read_body(x, 1, allowed, &body)) != OK) {
        return st;
    }
    if (prov->auth.credentials_at_connect) {
        if ((st = str_member(x, body, "client_id", 1, CX_MAX_FIELD, &cid)) != OK
            || (st = str_member(x, body, "client_secret", 1, CX_MAX_SECRET, &csecret)) != OK
           ) {
            return st;
        }
        if (!vschar_only(cid) || !vschar_only(csecret)) {
            return fail(x, HTTP_UNPROCESSABLE_ENTITY, "credentials_invalid",
                        "client id and secret cannot contain spaces or control characters");
        }
        oc.client_id = cid;
        oc.client_secret = csecret;
    }
    else {
        if (ca_json_get(body, "client_id") || ca_json_get(body, "client_secret")) {
            return bad(x, "this provider uses the server's OAuth client: send no client_id "
                       "or client_secret");
        }
        if (!admin_client(x->sc, prov, &oc)) {
            return fail(x, HTTP_SERVICE_UNAVAILABLE, "provider_not_configured",
                        "this server is not configured to connect this provider");
        }
    }
    if ((st = str_member(x, body, allowed[2], need_tenant, CX_MAX_FIELD, &tenant)) != OK
       ) {
        return st;
    }
    if (tenant && !need_tenant) {
        return bad(x, "this provider takes no tenant");
    }
    if (tenant) {
        apr_table_setn(vars, allowed[2], tenant);
    }
    if (!x->sc->keyring) {
        return fail(x, HTTP_SERVICE_UNAVAILABLE, "provider_not_configured",
                    "this server has no key file to store provider credentials");
    }
    if (!oauth_ctx(x, prov, &oc, &ctx)) {
        return fail(x, HTTP_BAD_GATEWAY, "provider_error", "the provider cannot be reached");
    }
    rv = ca_oauth_client_credentials(p, &ctx, x->now, &tok, &err);
    if (rv != APR_SUCCESS) {
        return oauth_fail(x, prov, "client credentials", rv, err, 0, "credentials_invalid",
                          apr_psprintf(p, "%s refused these client credentials",
                                       prov->display_name));
    }
    memset(&sec, 0, sizeof(sec));
    rv = ca_oauth_identity(p, &ctx, vars, tok->access_token, &sec.account_id,
                           &sec.account_label, &err);
    if (rv != APR_SUCCESS) {
        return oauth_fail(x, prov, "identity", rv, err, 1, "credentials_invalid",
                          apr_psprintf(p, "%s did not let these credentials read the "
                                       "account", prov->display_name));
    }
    sec.auth_mode = "client_credentials";
    sec.access_token = tok->access_token;
    sec.expires_at = tok->expires_at;
    sec.scopes = tok->scope ? tok->scope : requested_scopes(p, prov);
    sec.client_id = cid;
    sec.client_secret = csecret;
    sec.tenant = tenant;
    rv = save_connection(x, x->s->user_id, prov, &sec, &id, &again, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(x, rv, "storing a connection", err);
    }
    audit_connect(x, x->s->user_id, x->s->email, prov, &sec, id, again);
    return connected(x, id, again);
}

/* ---- POST /{id}/refresh ------------------------------------------------------------- */

static int open_field(cx_t *x, const ca_connection_t *c, const char *field, const char *sealed,
                      const char **plain)
{
    const char *err = NULL;
    char *out = NULL;

    *plain = NULL;
    if (!sealed || !*sealed) {
        return OK;
    }
    if (!x->sc->keyring
        || ca_conn_open(x->r->pool, x->sc->keyring, c->id, field, sealed, &out, &err)
           != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, CA_LOGNO(00807)
                      "connect: cannot decrypt the %s of connection %" APR_INT64_T_FMT ": %s",
                      field, c->id, err ? err : "no key file");
        return DECLINED;
    }
    *plain = out;
    return OK;
}

static void set_status(cx_t *x, apr_int64_t id, const char *status)
{
    const char *a[] = { status, ca_db_i64(x->r->pool, x->now), ca_db_i64(x->r->pool, id) };
    const char *err = NULL;

    if (ca_db_exec(x->r->pool, x->db, CA_SQL_CONNECTION_SET_STATUS, 3, a, NULL, &err)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, CA_LOGNO(00808)
                      "connect: status of connection %" APR_INT64_T_FMT " not set: %s", id,
                      err ? err : "");
    }
    ca_keycache_invalidate(x->r);
}

/* An API key cannot be renewed: check it again at the provider. */
static int recheck_api_key(cx_t *x, const ca_provider_t *prov, ca_connection_t *c)
{
    apr_pool_t *p = x->r->pool;
    ca_oauth_ctx_t ctx;
    const char *key = NULL, *acct = NULL, *label = NULL, *err = NULL;
    apr_status_t rv;

    if (open_field(x, c, CA_CONN_API_KEY, c->api_key_enc, &key) != OK || !key) {
        set_status(x, c->id, "reauthorization_required");
        return fail(x, HTTP_CONFLICT, "reauthorization_required",
                    "the stored API key cannot be used: connect the account again");
    }
    if (!oauth_ctx(x, prov, NULL, &ctx)) {
        return fail(x, HTTP_BAD_GATEWAY, "provider_error", "the provider cannot be reached");
    }
    rv = ca_oauth_identity(p, &ctx, conn_vars(x, prov), key, &acct, &label, &err);
    ca_cleanse((char *)key, strlen(key));
    if (rv == CA_OAUTH_EGRANT) {
        log_oauth(x, APLOG_INFO, prov, "API key check", rv, err);
        set_status(x, c->id, "reauthorization_required");
        return fail(x, HTTP_CONFLICT, "reauthorization_required",
                    apr_psprintf(p, "%s no longer accepts the stored API key: connect the "
                                 "account again with a valid key", prov->display_name));
    }
    if (rv != APR_SUCCESS) {
        return oauth_fail(x, prov, "API key check", rv, err, 0, "", "");
    }
    if (c->account_id && strcmp(acct, c->account_id)) {
        return fail(x, HTTP_CONFLICT, "account_changed",
                    "the stored API key now belongs to another account: connect again");
    }
    if (strcmp(c->status, "active")) {
        set_status(x, c->id, "active");
    }
    return OK;
}

static int route_refresh(cx_t *x, const char *id_text)
{
    const ca_provider_t *prov;
    ca_connection_t *c;
    ca_json_t *doc;
    const char *stale = NULL, *cred = NULL, *tenant = NULL, *err = NULL;
    apr_status_t rv;
    int st;

    if ((st = load_connection(x, id_text, &c)) != OK) {
        return st;
    }
    if (!strcmp(c->status, "disconnected")) {
        return fail(x, HTTP_CONFLICT, "connection_disconnected",
                    "this connection is disconnected: connect the provider again");
    }
    if (!(prov = provider_of(x->sc, c->provider))) {
        return fail(x, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                    "this connection's provider is not configured on this server");
    }
    if (prov->auth.mode == CA_AUTH_API_KEY) {
        if ((st = recheck_api_key(x, prov, c)) != OK) {
            return st;
        }
    }
    else {
        if (!strcmp(c->status, "reauthorization_required")) {
            return fail(x, HTTP_CONFLICT, "reauthorization_required",
                        "the provider no longer accepts this connection's grant: connect the "
                        "account again");
        }
        /* the current access token counts as refused, so the token logic renews it now,
         * under the connection's refresh lock (unless another request just did) */
        if (open_field(x, c, CA_CONN_ACCESS_TOKEN, c->access_token_enc, &stale) != OK) {
            stale = NULL;
        }
        if (ca_token_get(x->r, token_req(x, prov, c->id), stale ? stale : "", &cred, &tenant)
            != OK) {
            return CX_DONE;     /* answered (problem+json) */
        }
    }
    rv = ca_store_connection_get(x->r->pool, x->db, c->id, &c, &err);
    if (rv != APR_SUCCESS) {
        return db_fail(x, rv, "connection lookup", err);
    }
    audit(x, x->s->user_id, x->s->email, "connection.refresh", c->id,
          prov->auth.mode == CA_AUTH_API_KEY ? "API key checked" : "access renewed");
    doc = ca_json_new_object(x->r->pool);
    connection_json(x, doc, "connection", c);
    return reply(x, HTTP_OK, doc);
}

/* ---- DELETE /{id} ------------------------------------------------------------------- */

static const char *revoke_one(cx_t *x, const ca_provider_t *prov, const ca_oauth_ctx_t *ctx,
                              apr_int64_t id, const char *token, const char *hint)
{
    const char *err = NULL;
    apr_status_t rv;

    if (!token) {
        return "none";
    }
    rv = ca_oauth_revoke(x->r->pool, ctx, token, hint, &err);
    if (rv == APR_ENOTIMPL) {
        return "not_supported";
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, CA_LOGNO(00809)
                      "connect: revoking the %s of connection %" APR_INT64_T_FMT " at %s "
                      "failed: %s: %s (deleted here anyway; request %s)", hint, id, prov->name,
                      ca_oauth_status_name(rv), err ? err : "", ca_request_id(x->r));
        return "failed";
    }
    return "revoked";
}

/* The work of DELETE /{id} on connection c (already checked as the user's), without the
 * answer: wait for a running refresh, NULL every credential and deactivate the connection's
 * dashboard endpoints in one transaction, then revoke the tokens at the provider (a failure
 * there is logged and reported, it does not undo the local delete), audit. */
static apr_status_t disconnect_core(cx_t *x, ca_connection_t **cp, const char **r_refresh_out,
                                    const char **r_access_out, int *n_out, const char **errp)
{
    apr_pool_t *p = x->r->pool;
    const ca_provider_t *prov;
    ca_connection_t *c = *cp;
    ca_oauth_client_t oc;
    ca_oauth_ctx_t ctx;
    ca_db_txn_t *txn = NULL;
    const char *access = NULL, *refresh = NULL, *csecret = NULL, *err = NULL;
    const char *r_refresh = "none", *r_access = "none";
    const char *owner = apr_psprintf(p, "disconnect:%" APR_PID_T_FMT ":%s", getpid(),
                                     ca_request_id(x->r));
    apr_status_t rv;
    int i, n = 0, can_revoke;

    prov = provider_of(x->sc, c->provider);
    /* keep a refresh of this connection from rotating tokens while they are revoked */
    for (i = 0; i < CX_LOCK_POLLS; i++) {
        apr_int64_t t = apr_time_sec(apr_time_now());
        if (ca_store_connection_claim_refresh(p, x->db, c->id, owner, t, t + CX_LOCK_SEC,
                                              &err) == APR_SUCCESS) {
            break;
        }
        apr_sleep(apr_time_from_msec(100));     /* a refresh is running: let it finish */
    }
    if ((rv = ca_store_connection_get(p, x->db, c->id, &c, &err)) != APR_SUCCESS) {
        *errp = err;
        return rv;
    }
    *cp = c;
    can_revoke = prov && (is_oauth_code(prov)
                          || prov->auth.mode == CA_AUTH_CLIENT_CREDENTIALS);
    if (can_revoke) {
        open_field(x, c, CA_CONN_ACCESS_TOKEN, c->access_token_enc, &access);
        open_field(x, c, CA_CONN_REFRESH_TOKEN, c->refresh_token_enc, &refresh);
        open_field(x, c, CA_CONN_CLIENT_SECRET, c->client_secret_enc, &csecret);
    }
    /* the stored credentials go first: nothing can use them any more, whatever the
     * provider answers below */
    if ((rv = ca_db_txn_begin(p, x->db, &txn, &err)) == APR_SUCCESS) {
        const char *a[] = { ca_db_i64(p, x->now), ca_db_i64(p, c->id) };
        rv = ca_db_exec(p, x->db, CA_SQL_CONNECTION_DISCONNECT, 2, a, NULL, &err);
        if (rv == APR_SUCCESS) {
            rv = ca_db_exec(p, x->db, CA_SQL_ENDPOINTS_DEACTIVATE_FOR_CONNECTION, 2, a, &n,
                            &err);
        }
        rv = ca_db_txn_end(txn, rv, &err);
    }
    if (rv != APR_SUCCESS) {
        ca_store_connection_release_refresh(p, x->db, c->id, owner, NULL);
        *errp = err;
        return rv;
    }
    ca_keycache_invalidate(x->r);
    if (can_revoke && (access || refresh)) {
        memset(&oc, 0, sizeof(oc));
        if (c->client_id && *c->client_id) {
            oc.client_id = c->client_id;
            oc.client_secret = csecret;
        }
        else {
            admin_client(x->sc, prov, &oc);
        }
        if (!oc.client_id || !oauth_ctx(x, prov, &oc, &ctx)) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, CA_LOGNO(00810)
                          "connect: the tokens of connection %" APR_INT64_T_FMT " were deleted "
                          "here but not revoked at %s: no OAuth client", c->id, prov->name);
            r_refresh = refresh ? "failed" : "none";
            r_access = access ? "failed" : "none";
        }
        else {
            /* the refresh token first: at most providers it ends the whole grant */
            r_refresh = revoke_one(x, prov, &ctx, c->id, refresh, "refresh_token");
            r_access = revoke_one(x, prov, &ctx, c->id, access, "access_token");
        }
    }
    for (i = 0; i < 3; i++) {
        const char *sv = i == 0 ? access : i == 1 ? refresh : csecret;
        if (sv) {
            ca_cleanse((char *)sv, strlen(sv));
        }
    }
    audit(x, x->s->user_id, x->s->email, "connection.disconnect", c->id,
          apr_psprintf(p, "%s account %s: credentials deleted, refresh token %s, access token "
                       "%s, %d endpoint(s) deactivated", c->provider,
                       c->account_id ? c->account_id : "-", r_refresh, r_access, n));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, x->r, CA_LOGNO(00811)
                  "connect: user %" APR_INT64_T_FMT " disconnected connection %" APR_INT64_T_FMT
                  " (%s; refresh token %s, access token %s)", x->s->user_id, c->id,
                  c->provider, r_refresh, r_access);
    *r_refresh_out = r_refresh;
    *r_access_out = r_access;
    *n_out = n;
    return APR_SUCCESS;
}

static int route_disconnect(cx_t *x, const char *id_text)
{
    apr_pool_t *p = x->r->pool;
    ca_connection_t *c;
    const char *err = NULL, *r_refresh = "none", *r_access = "none";
    apr_status_t rv;
    ca_json_t *doc, *rev;
    int st, n = 0;

    if ((st = load_connection(x, id_text, &c)) != OK) {
        return st;
    }
    if ((rv = disconnect_core(x, &c, &r_refresh, &r_access, &n, &err)) != APR_SUCCESS) {
        return db_fail(x, rv, "disconnecting a connection", err);
    }
    if ((rv = ca_store_connection_get(p, x->db, c->id, &c, &err)) != APR_SUCCESS) {
        return db_fail(x, rv, "connection lookup", err);
    }
    doc = ca_json_new_object(p);
    connection_json(x, doc, "connection", c);
    rev = ca_json_add_object(doc, "revoked");
    ca_json_add_string(rev, "refresh_token", r_refresh);
    ca_json_add_string(rev, "access_token", r_access);
    ca_json_add_number(doc, "endpoints_deactivated", n);
    return reply(x, HTTP_OK, doc);
}

apr_status_t ca_connect_disconnect(request_rec *r, ca_db_t *db, const ca_session_t *s,
                                   apr_int64_t id, const char **err)
{
    cx_t *x = apr_pcalloc(r->pool, sizeof(*x));
    ca_connection_t *c = NULL;
    const char *rr, *ra;
    apr_status_t rv;
    int n;

    x->r = r;
    x->sc = ap_get_module_config(r->server->module_config, &clientapi_module);
    x->db = db;
    x->s = s;
    x->now = ca_web_now(r);
    if ((rv = ca_store_connection_get(r->pool, db, id, &c, err)) != APR_SUCCESS) {
        return rv;
    }
    if (c->status && !strcmp(c->status, "disconnected") && !c->access_token_enc
        && !c->refresh_token_enc && !c->api_key_enc && !c->client_secret_enc) {
        return APR_SUCCESS;              /* nothing left to revoke or delete */
    }
    return disconnect_core(x, &c, &rr, &ra, &n, err);
}

/* ---- GET /{id}/companies, /{id}/companies/{company}/clients -------------------------- */

static const char *pick_aad(cx_t *x, apr_int64_t id, const char *company)
{
    return apr_psprintf(x->r->pool, "clientapi:pick:%" APR_INT64_T_FMT ":%s", id,
                        company ? company : "");
}

/* The text of a record's value at path: a string, or an integer's canonical text. */
static const char *value_text(apr_pool_t *p, ca_json_t *rec, const char *path)
{
    ca_json_t *v = ca_json_get(rec, path);

    return v ? ca_json_id_text(p, v, 1) : NULL;
}

static const char *label_of(apr_pool_t *p, ca_json_t *rec, const apr_array_header_t *paths)
{
    const char *out = NULL;
    int i;

    for (i = 0; paths && i < paths->nelts; i++) {
        const char *v = value_text(p, rec, APR_ARRAY_IDX(paths, i, const char *));
        if (v && *v) {
            out = out ? apr_pstrcat(p, out, " ", v, NULL) : v;
        }
    }
    return out;
}

static void add_item(ca_json_t *data, const char *id, const char *name)
{
    ca_json_t *o = ca_json_add_object(data, NULL);

    ca_json_add_string(o, "id", id);
    ca_json_add_string(o, "name", name ? name : id);
}

static int provider_answer_fail(cx_t *x, const ca_provider_t *prov, apr_int64_t id,
                                apr_status_t rv, const ca_http_response_t *resp,
                                const char *err)
{
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, x->r, CA_LOGNO(00812)
                      "connect: listing at %s for connection %" APR_INT64_T_FMT " failed: %s "
                      "(request %s)", prov->name, id, err ? err : "", ca_request_id(x->r));
        if (resp && resp->result == CA_HTTP_ERR_TIMEOUT) {
            return fail(x, HTTP_GATEWAY_TIME_OUT, "provider_timeout",
                        "the provider did not answer in time");
        }
        return fail(x, HTTP_BAD_GATEWAY, "provider_error", "the provider cannot be reached");
    }
    if (resp->status == HTTP_TOO_MANY_REQUESTS) {
        const char *ra = apr_table_get(resp->headers, "Retry-After");
        long secs = ra ? atol(ra) : 0;
        ca_web_rate_limited(x->r, secs > 0 && secs < 3600 ? secs : 60,
                            "the provider's rate limit was reached; try again later");
        return CX_DONE;
    }
    if (resp->status == HTTP_UNAUTHORIZED || resp->status == HTTP_FORBIDDEN) {
        return fail(x, HTTP_CONFLICT, "reauthorization_required",
                    "the provider refused this connection's credentials: connect the account "
                    "again");
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, CA_LOGNO(00813)
                  "connect: listing at %s for connection %" APR_INT64_T_FMT " answered %d "
                  "(request %s)", prov->name, id, resp->status, ca_request_id(x->r));
    return fail(x, HTTP_BAD_GATEWAY, "provider_error",
                apr_psprintf(x->r->pool, "the provider answered with status %d",
                             resp->status));
}

/* One page of the provider's companies (company NULL) or of one company's clients. */
static int route_pick(cx_t *x, const char *id_text, const char *company)
{
    static const char *const params[] = { "cursor", "limit", NULL };
    apr_pool_t *p = x->r->pool;
    const ca_provider_t *prov;
    const ca_provider_pick_t *pick;
    const ca_provider_paging_t *pg;
    const ca_provider_resource_t *res;
    ca_provider_resource_t any;
    ca_provider_rule_t *rule;
    ca_connection_t *c;
    ca_api_req_t *q;
    ca_scope_t scope;
    ca_scope_ctx_t sctx;
    ca_scope_list_t list;
    ca_http_request_t req;
    ca_http_options_t opts;
    ca_http_response_t *resp = NULL;
    ca_http_client_t *http;
    apr_table_t *vars, *headers = apr_table_make(p, 8);
    apr_array_header_t *query = apr_array_make(p, 8, sizeof(ca_http_param_t));
    const char *cred = NULL, *tenant = NULL, *cursor = NULL, *path, *url, *err = NULL;
    const char *hdr = NULL, *idpath, *next = NULL, *gql_body = NULL;
    apr_size_t gql_len = 0;
    ca_json_t *doc, *data, *recs, *rec;
    long limit = CX_PICK_LIMIT;
    apr_status_t rv;
    int i, st, attempt;

    for (i = 0; x->params && i < x->params->nelts; i++) {
        const ca_http_param_t *pm = &APR_ARRAY_IDX(x->params, i, ca_http_param_t);
        int k, known = 0;
        for (k = 0; params[k]; k++) {
            known |= !strcmp(params[k], pm->name);
        }
        if (!known || ca_http_param_get(x->params, pm->name) != pm->value) {
            return bad(x, "only 'cursor' and 'limit' are accepted, once each");
        }
    }
    if ((st = load_connection(x, id_text, &c)) != OK) {
        return st;
    }
    if (strcmp(c->status, "active")) {
        return fail(x, HTTP_CONFLICT, !strcmp(c->status, "disconnected")
                                      ? "connection_disconnected" : "reauthorization_required",
                    "this connection must be connected again first");
    }
    if (!(prov = provider_of(x->sc, c->provider))) {
        return fail(x, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                    "this connection's provider is not configured on this server");
    }
    pick = company ? &prov->client_list : &prov->company_list;
    if (company && (!ca_route_valid_id(company)
                    || (prov->company_list.source == CA_PICK_IDENTITY
                        && (!c->account_id || strcmp(company, c->account_id))))) {
        /* a connection whose account is the one company has no other */
        return fail(x, HTTP_NOT_FOUND, "not_found", "no such company");
    }
    doc = ca_json_new_object(p);
    data = ca_json_add_array(doc, "data");
    if (pick->source == CA_PICK_NONE) {
        return fail(x, HTTP_NOT_FOUND, "not_found",
                    apr_psprintf(p, "%s offers no %s list", prov->display_name,
                                 company ? "client" : "company"));
    }
    if (pick->source == CA_PICK_IDENTITY) {
        if (c->account_id) {
            add_item(data, c->account_id, c->account_label);
        }
        ca_json_add_null(doc, "next_cursor");
        return reply(x, HTTP_OK, doc);
    }
    res = pick->resource;
    pg = &prov->paging;
    if (!res || !res->list) {
        return fail(x, HTTP_NOT_IMPLEMENTED, "not_supported",
                    "this server cannot list this provider's records");
    }
    if ((cursor = ca_http_param_get(x->params, "cursor")) && *cursor) {
        char *plain = NULL;
        apr_size_t len;
        if (!x->sc->keyring || strlen(cursor) > CX_MAX_CURSOR
            || ca_open(p, x->sc->keyring, pick_aad(x, c->id, company), cursor, &plain, &len,
                       &err) != APR_SUCCESS) {
            return bad(x, "invalid cursor: use the next_cursor of the previous page");
        }
        cursor = plain;
    }
    else {
        cursor = pg->first_cursor;
    }
    if (ca_http_param_get(x->params, "limit")) {
        char *end;
        limit = strtol(ca_http_param_get(x->params, "limit"), &end, 10);
        if (*end || limit < 1) {
            return bad(x, "limit must be a positive integer");
        }
        limit = limit > CX_PICK_LIMIT ? CX_PICK_LIMIT : limit;
    }
    if (pg->max_limit > 0 && limit > pg->max_limit) {
        limit = pg->max_limit;
    }
    /* the credential, renewed first when it is about to expire */
    q = token_req(x, prov, c->id);
    if (ca_token_get(x->r, q, NULL, &cred, &tenant) != OK) {
        return CX_DONE;
    }
    vars = conn_vars(x, prov);
    if (tenant && ca_token_field_name(prov)) {
        apr_table_setn(vars, ca_token_field_name(prov), tenant);
    }
    if (c->account_id) {
        apr_table_setn(vars, "account_id", c->account_id);
    }
    if (company) {
        apr_table_setn(vars, "company_id", company);
    }
    if (ca_provider_expand(p, res->list->path, vars, CA_EXPAND_PATH, &path, &err)
        != APR_SUCCESS) {
        return fail(x, HTTP_NOT_IMPLEMENTED, "not_supported",
                    "this server cannot list this provider's records");
    }
    for (i = 0; res->list->query && i < res->list->query->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(res->list->query, i, ca_provider_kv_t);
        ca_http_param_t *pm = apr_array_push(query);
        pm->name = kv->name;
        if (ca_provider_expand(p, kv->value, vars, CA_EXPAND_RAW, &pm->value, &err)
            != APR_SUCCESS) {
            apr_array_pop(query);
        }
    }
    for (i = 0; company && res->company_query && i < res->company_query->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(res->company_query, i, ca_provider_kv_t);
        ca_http_param_t *pm = apr_array_push(query);
        pm->name = kv->name;
        if (ca_provider_expand(p, kv->value, vars, CA_EXPAND_RAW, &pm->value, &err)
            != APR_SUCCESS) {
            apr_array_pop(query);
        }
    }
    if (pg->limit_param && pg->style != CA_PAGE_NONE) {
        ca_http_param_t *pm = apr_array_push(query);
        pm->name = pg->limit_param;
        pm->value = apr_ltoa(p, limit);
    }
    if (cursor && *cursor && (pg->cursor_param || pg->page_param)) {
        ca_http_param_t *pm = apr_array_push(query);
        pm->name = pg->style == CA_PAGE_PAGE_NUMBER && pg->page_param ? pg->page_param
                                                                       : pg->cursor_param;
        pm->value = cursor;
    }
    if (prov->api.style == CA_API_GRAPHQL) {
        /* GraphQL (Jobber): one POST of {query, variables}; limit and cursor are the call's
         * {limit} / {cursor}, the other parameters plain string variables */
        apr_array_header_t *extra = apr_array_make(p, 4, sizeof(ca_provider_kv_t));
        apr_table_setn(vars, "limit", apr_ltoa(p, limit));
        if (cursor && *cursor) {
            apr_table_setn(vars, "cursor", cursor);
        }
        for (i = 0; i < query->nelts; i++) {
            const ca_http_param_t *pm = &APR_ARRAY_IDX(query, i, ca_http_param_t);
            ca_provider_kv_t *kv;
            if (!strcmp(pm->name, pg->limit_param) || !strcmp(pm->name, pg->cursor_param)) {
                continue;
            }
            kv = apr_array_push(extra);
            kv->name = pm->name;
            kv->value = pm->value;
        }
        if (ca_provider_graphql_body(p, res->list, vars, extra, &gql_body, &gql_len, &err)
            != APR_SUCCESS) {
            return fail(x, HTTP_NOT_IMPLEMENTED, "not_supported",
                        "this server cannot list this provider's records");
        }
        apr_array_clear(query);
        apr_table_setn(headers, "Content-Type", "application/json");
    }
    if (!(url = ca_http_build_url(p, ca_provider_api_url(p, prov, ""), path, query, &err))) {
        return fail(x, HTTP_NOT_IMPLEMENTED, "not_supported",
                    "this server cannot list this provider's records");
    }
    for (i = 0; prov->api.headers && i < prov->api.headers->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(prov->api.headers, i, ca_provider_kv_t);
        const char *v;
        if (ca_provider_expand(p, kv->value, vars, CA_EXPAND_RAW, &v, &err) == APR_SUCCESS
            && !strpbrk(v, "\r\n")) {
            apr_table_setn(headers, kv->name, v);
        }
    }
    apr_table_setn(headers, "Accept", "application/json");
    if (prov->rate_limit.requests_per_minute > 0) {
        /* the pickers' calls count against the connection's pacing budget too */
        long wait = ca_pacing_take(x->r, c->id, prov->rate_limit.requests_per_minute);
        if (wait > 0) {
            apr_table_setn(x->r->err_headers_out, "Retry-After", apr_ltoa(p, wait));
            return fail(x, HTTP_TOO_MANY_REQUESTS, "rate_limited",
                        apr_psprintf(p, "calls to %s are paced for this connection; retry "
                                     "in %ld s", prov->display_name, wait));
        }
    }
    if (!(http = ca_proxy_http_client(x->r))) {
        return fail(x, HTTP_BAD_GATEWAY, "provider_error", "the provider cannot be reached");
    }
    ca_proxy_http_options(q, &opts);
    memset(&req, 0, sizeof(req));
    req.method = gql_body ? "POST" : "GET";
    req.url = url;
    req.headers = headers;
    req.body = gql_body;
    req.body_len = gql_len;
    req.options = &opts;
    for (attempt = 0; attempt < 2; attempt++) {
        const char *scheme = prov->auth.scheme ? prov->auth.scheme : "Bearer";
        apr_table_setn(headers, prov->auth.header ? prov->auth.header : "Authorization",
                       *scheme ? apr_pstrcat(p, scheme, " ", cred, NULL) : cred);
        rv = ca_http_perform(http, &req, p, &resp, &err);
        if (rv != APR_SUCCESS || resp->status != HTTP_UNAUTHORIZED || attempt
            || prov->auth.mode == CA_AUTH_API_KEY) {
            break;
        }
        /* refused before its recorded expiry: renew once and try again */
        if (ca_token_get(x->r, q, cred, &cred, &tenant) != OK) {
            return CX_DONE;
        }
    }
    if (rv != APR_SUCCESS || resp->status < 200 || resp->status > 299) {
        return provider_answer_fail(x, prov, c->id, rv, resp, err);
    }
    if (gql_body) {
        /* GraphQL reports failures (THROTTLED included) as "errors" in a 200 */
        const char *code = NULL;
        if (ca_provider_graphql_errors(p, resp->body, resp->body_len, &code) > 0) {
            int wait = ca_provider_throttle_wait(p, prov, resp->body, resp->body_len);
            if (code && prov->rate_limit.body_code_value
                && !strcmp(code, prov->rate_limit.body_code_value)) {
                ca_web_rate_limited(x->r, wait > 0 ? wait : prov->rate_limit.default_retry_after,
                                    "the provider's rate limit was reached; try again later");
                return CX_DONE;
            }
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, CA_LOGNO(01303)
                          "connect: listing at %s for connection %" APR_INT64_T_FMT
                          " answered GraphQL errors (first code %s) (request %s)", prov->name,
                          c->id, code ? code : "none", ca_request_id(x->r));
            return fail(x, HTTP_BAD_GATEWAY, "provider_error",
                        "the provider answered with GraphQL errors");
        }
    }
    /* companies: every record of the connection is a choice; clients: only those the
     * resource's own company rules place in the picked company (fail closed) */
    memset(&scope, 0, sizeof(scope));
    scope.kind = CA_SCOPE_COMPANY;
    scope.company_id = company ? company : (c->account_id ? c->account_id : "connection");
    if (!company) {
        any = *res;
        any.company_rules = apr_array_make(p, 1, sizeof(ca_provider_rule_t));
        rule = apr_array_push(any.company_rules);
        memset(rule, 0, sizeof(*rule));
        rule->kind = CA_RULE_CONNECTION;
        res = &any;
    }
    memset(&sctx, 0, sizeof(sctx));
    sctx.prov = prov;
    sctx.res = res;
    sctx.scope = &scope;
    if (pg->cursor_header) {
        hdr = apr_table_get(resp->headers, pg->cursor_header);
    }
    if (ca_scope_filter_list(p, &sctx, res->list, resp->body, resp->body_len, cursor, hdr,
                             &list, &err) != APR_SUCCESS
        || !(recs = ca_json_parse_str(p, list.json, &err))) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, CA_LOGNO(00814)
                      "connect: unusable list from %s for connection %" APR_INT64_T_FMT
                      ": %s (request %s)", prov->name, c->id, err ? err : "",
                      ca_request_id(x->r));
        return fail(x, HTTP_BAD_GATEWAY, "provider_error",
                    "the provider's answer was not valid JSON of the expected shape");
    }
    idpath = pick->id ? pick->id : (res->id_field ? res->id_field : "id");
    CA_JSON_FOREACH(rec, recs) {
        const char *rid = value_text(p, rec, idpath);
        if (rid && *rid) {
            add_item(data, rid, label_of(p, rec, pick->label));
        }
    }
    if (list.next_cursor && x->sc->keyring
        && ca_seal(p, x->sc->keyring, pick_aad(x, c->id, company), list.next_cursor,
                   strlen(list.next_cursor), &next) != APR_SUCCESS) {
        next = NULL;
    }
    ca_json_add_string(doc, "next_cursor", next);
    return reply(x, HTTP_OK, doc);
}

/* ---- routing ------------------------------------------------------------------------ */

static int split(cx_t *x, const char *path)
{
    char *copy, *s;

    if (!path || *path != '/') {
        return 0;
    }
    copy = apr_pstrdup(x->r->pool, path + 1);
    x->nseg = 0;
    for (s = copy; ; ) {
        char *slash = strchr(s, '/');
        if (slash) {
            *slash = '\0';
        }
        if (!*s || x->nseg == CX_MAX_SEG) {
            return 0;
        }
        x->seg[x->nseg++] = s;
        if (!slash) {
            return 1;
        }
        s = slash + 1;
    }
}

static int is_number(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return 1;
}

static int method_is(cx_t *x, int m, const char *allow)
{
    if (x->r->method_number == m) {
        return 1;
    }
    apr_table_setn(x->r->err_headers_out, "Allow", allow);
    fail(x, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
         apr_psprintf(x->r->pool, "only %s is allowed here", allow));
    return 0;
}

static int route(cx_t *x, request_rec *r, ca_db_t *db, const ca_session_t *s,
                 const char *subpath)
{
    const char *why = NULL, *a;
    int numeric, kind;
    enum { K_START = 1, K_APIKEY, K_CREDENTIALS, K_REFRESH, K_DELETE, K_COMPANIES,
           K_CLIENTS };

    x->db = db;
    x->s = s;
    x->now = ca_web_now(r);
    if (!split(x, subpath)) {
        return DECLINED;
    }
    numeric = is_number(x->seg[0]);
    a = x->nseg > 1 ? x->seg[1] : NULL;
    if (x->nseg == 1 && numeric) {
        kind = K_DELETE;
    }
    else if (x->nseg == 2 && !numeric && !strcmp(a, "start")) {
        kind = K_START;
    }
    else if (x->nseg == 2 && !numeric && !strcmp(a, "apikey")) {
        kind = K_APIKEY;
    }
    else if (x->nseg == 2 && !numeric && !strcmp(a, "credentials")) {
        kind = K_CREDENTIALS;
    }
    else if (x->nseg == 2 && numeric && !strcmp(a, "refresh")) {
        kind = K_REFRESH;
    }
    else if (x->nseg == 2 && numeric && !strcmp(a, "companies")) {
        kind = K_COMPANIES;
    }
    else if (x->nseg == 4 && numeric && !strcmp(a, "companies")
             && !strcmp(x->seg[3], "clients")) {
        kind = K_CLIENTS;
    }
    else {
        return DECLINED;
    }
    ca_request_id(r);
    ca_web_security_headers(r);
    if (kind == K_COMPANIES || kind == K_CLIENTS) {
        if (!method_is(x, M_GET, "GET, HEAD")) {
            return CX_DONE;
        }
    }
    else if (!method_is(x, kind == K_DELETE ? M_DELETE : M_POST,
                        kind == K_DELETE ? "DELETE" : "POST")) {
        return CX_DONE;
    }
    if (!s || !db) {
        return fail(x, HTTP_UNAUTHORIZED, "unauthenticated",
                    "sign in first (your session may have ended)");
    }
    if (ca_web_state_changing(r) && !ca_session_csrf_ok(r, s)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, CA_LOGNO(00815)
                      "connect: %s refused: missing or wrong CSRF token (user %"
                      APR_INT64_T_FMT ")", r->method, s->user_id);
        return fail(x, HTTP_FORBIDDEN, "csrf_failed",
                    "the request lacks this session's CSRF token; reload the page");
    }
    if (ca_http_parse_form(r->pool, r->args ? r->args : "", r->args ? strlen(r->args) : 0,
                           &x->params, &why) != APR_SUCCESS) {
        return bad(x, why ? why : "malformed query string");
    }
    if (kind != K_COMPANIES && kind != K_CLIENTS && x->params->nelts) {
        return bad(x, "this request takes no query parameters");
    }
    switch (kind) {
    case K_START:
    case K_APIKEY:
    case K_CREDENTIALS: {
        const ca_provider_t *prov = provider_of(x->sc, x->seg[0]);
        if (!prov) {
            return fail(x, HTTP_NOT_FOUND, "not_found", "no such provider on this server");
        }
        return kind == K_START ? route_start(x, prov)
               : kind == K_APIKEY ? route_apikey(x, prov) : route_credentials(x, prov);
    }
    case K_REFRESH:
        return route_refresh(x, x->seg[0]);
    case K_DELETE:
        return route_disconnect(x, x->seg[0]);
    case K_COMPANIES:
        return route_pick(x, x->seg[0], NULL);
    default:
        return route_pick(x, x->seg[0], x->seg[2]);
    }
}

int ca_connect_route(request_rec *r, ca_db_t *db, const ca_session_t *s, const char *subpath)
{
    cx_t *x = apr_pcalloc(r->pool, sizeof(*x));
    int st;

    x->r = r;
    x->sc = ap_get_module_config(r->server->module_config, &clientapi_module);
    st = route(x, r, db, s, subpath);
    return st == CX_DONE ? OK : st;
}

/* ---- the OAuth callback ------------------------------------------------------------- */


/* 303 to the fixed dashboard page: never a URL the request named. */
static int redirect_result(cx_t *x, const char *result, const char *reason, apr_int64_t id)
{
    request_rec *r = x->r;
    const char *base = public_base(r->pool, x->sc);
    const char *loc = apr_pstrcat(r->pool, base ? base : "", CA_CONNECT_RESULT_PAGE,
                                  "#connections?result=", result, "&reason=", reason,
                                  id ? apr_psprintf(r->pool, "&connection=%" APR_INT64_T_FMT,
                                                    id) : "", NULL);

    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, CA_LOGNO(00816)
                  "connect: OAuth callback: %s (%s)%s", result, reason,
                  x->s ? apr_psprintf(r->pool, ", user %" APR_INT64_T_FMT, x->s->user_id) : "");
    apr_table_setn(r->headers_out, "Location", loc);
    r->status = HTTP_SEE_OTHER;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, 0);
    return CX_DONE;
}

static const char *provider_error_reason(const char *e)
{
    static const char *const known[] = {
        "invalid_request", "unauthorized_client", "unsupported_response_type",
        "invalid_scope", "server_error", "temporarily_unavailable", NULL
    };
    int i;

    for (i = 0; known[i]; i++) {
        if (!strcmp(e, known[i])) {
            return known[i];
        }
    }
    return "provider_error";
}

/* Exchange the code and store the connection of st's user. */
static int callback_connect(cx_t *x, const ca_oauth_state_t *st, const char *code)
{
    apr_pool_t *p = x->r->pool;
    const ca_provider_t *prov = provider_of(x->sc, st->provider);
    const char *uri = redirect_uri(p, x->sc), *err = NULL;
    ca_oauth_client_t oc;
    ca_oauth_ctx_t ctx;
    ca_oauth_token_t *tok = NULL;
    cx_secrets_t sec;
    char *verifier = NULL;
    apr_int64_t id;
    apr_status_t rv;
    int again;

    if (!prov || !is_oauth_code(prov) || !uri || !x->sc->keyring
        || !admin_client(x->sc, prov, &oc)) {
        return redirect_result(x, "error", "provider_not_configured", 0);
    }
    if (!st->code_verifier_enc
        || ca_open(p, x->sc->keyring, state_aad(p, st->state_hash), st->code_verifier_enc,
                   &verifier, NULL, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, x->r, CA_LOGNO(00817)
                      "connect: the PKCE verifier of an authorization at %s cannot be opened: "
                      "%s", prov->name, err ? err : "none stored");
        return redirect_result(x, "error", "internal_error", 0);
    }
    if (!oauth_ctx(x, prov, &oc, &ctx)) {
        return redirect_result(x, "error", "provider_unavailable", 0);
    }
    rv = ca_oauth_exchange_code(p, &ctx, code, uri, verifier, x->now, &tok, &err);
    ca_cleanse(verifier, strlen(verifier));
    if (rv != APR_SUCCESS) {
        log_oauth(x, rv == CA_OAUTH_ETEMPORARY ? APLOG_INFO : APLOG_WARNING, prov,
                  "code exchange", rv, err);
        return redirect_result(x, "error", rv == CA_OAUTH_ETEMPORARY ? "provider_unavailable"
                                           : rv == CA_OAUTH_EGRANT ? "code_refused"
                                           : "provider_error", 0);
    }
    memset(&sec, 0, sizeof(sec));
    rv = ca_oauth_identity(p, &ctx, conn_vars(x, prov), tok->access_token, &sec.account_id,
                           &sec.account_label, &err);
    if (rv != APR_SUCCESS) {
        log_oauth(x, APLOG_WARNING, prov, "identity", rv, err);
        return redirect_result(x, "error", rv == CA_OAUTH_ETEMPORARY ? "provider_unavailable"
                                           : "identity_failed", 0);
    }
    sec.auth_mode = "oauth2";
    sec.access_token = tok->access_token;
    sec.refresh_token = tok->refresh_token;
    sec.expires_at = tok->expires_at;
    sec.scopes = tok->scope ? tok->scope : requested_scopes(p, prov);
    rv = save_connection(x, st->user_id, prov, &sec, &id, &again, &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, x->r, CA_LOGNO(00818)
                      "connect: storing the connection of user %" APR_INT64_T_FMT " at %s "
                      "failed (request %s): %s", st->user_id, prov->name, ca_request_id(x->r),
                      err ? err : "");
        return redirect_result(x, "error", CA_DB_IS_UNAVAILABLE(rv) ? "storage_unavailable"
                                                                   : "internal_error", 0);
    }
    audit_connect(x, st->user_id, x->s->email, prov, &sec, id, again);
    return redirect_result(x, "connected", again ? "reconnected" : "connected", id);
}

static int callback(cx_t *x, const char *args)
{
    request_rec *r = x->r;
    const char *code, *state, *error, *why = NULL, *err = NULL, *hash;
    ca_oauth_state_t *st = NULL;
    ca_session_t *sess = NULL;
    ca_db_t *db = apr_pcalloc(r->pool, sizeof(*db));
    apr_status_t rv;
    int i, n_code = 0, n_state = 0, n_error = 0;

    if (!args || !*args) {
        /* some providers (Jobber) come back without any parameter when consent is denied */
        return redirect_result(x, "denied", "consent_not_given", 0);
    }
    if (ca_http_parse_form(r->pool, args, strlen(args), &x->params, &why) != APR_SUCCESS) {
        return redirect_result(x, "error", "bad_request", 0);
    }
    for (i = 0; i < x->params->nelts; i++) {
        const char *name = APR_ARRAY_IDX(x->params, i, ca_http_param_t).name;
        n_code += !strcmp(name, "code");
        n_state += !strcmp(name, "state");
        n_error += !strcmp(name, "error");
    }
    if (n_code > 1 || n_state > 1 || n_error > 1) {
        return redirect_result(x, "error", "bad_request", 0);
    }
    code = ca_http_param_get(x->params, "code");
    state = ca_http_param_get(x->params, "state");
    error = ca_http_param_get(x->params, "error");
    if (!code && !state && !error) {
        return redirect_result(x, "denied", "consent_not_given", 0);
    }
    if (!state || !*state || strlen(state) > CX_MAX_STATE) {
        return error && !strcmp(error, "access_denied")
               ? redirect_result(x, "denied", "access_denied", 0)
               : redirect_result(x, "error", "invalid_state", 0);
    }
    if (ca_dbd_acquire(r, db) != APR_SUCCESS) {
        return redirect_result(x, "error", "storage_unavailable", 0);
    }
    x->db = db;
    if (!(hash = ca_sha256_hex(r->pool, state, strlen(state)))) {
        return redirect_result(x, "error", "internal_error", 0);
    }
    /* single use: consumed whatever happens next (replays and foreign sessions burn it) */
    rv = ca_store_oauth_state_consume(r->pool, db, hash, x->now, &st, &err);
    if (rv == CA_DB_ENOTFOUND) {
        return redirect_result(x, error && !strcmp(error, "access_denied") ? "denied" : "error",
                               error && !strcmp(error, "access_denied") ? "access_denied"
                                                                        : "invalid_state", 0);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00819)
                      "connect: OAuth state lookup failed (request %s): %s",
                      ca_request_id(r), err ? err : "");
        return redirect_result(x, "error", CA_DB_IS_UNAVAILABLE(rv) ? "storage_unavailable"
                                                                   : "internal_error", 0);
    }
    rv = ca_session_load(r, db, x->now, &sess, &err);
    if (rv != APR_SUCCESS && rv != CA_DB_ENOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00820)
                      "connect: session lookup failed (request %s): %s", ca_request_id(r),
                      err ? err : "");
        return redirect_result(x, "error", "storage_unavailable", 0);
    }
    if (!st->state_hash || !ca_ct_equal(st->state_hash, strlen(st->state_hash), hash,
                                        strlen(hash))) {
        return redirect_result(x, "error", "invalid_state", 0);
    }
    if (!sess || !sess->id_hash || !st->session_id_hash
        || !ca_ct_equal(st->session_id_hash, strlen(st->session_id_hash), sess->id_hash,
                        strlen(sess->id_hash))
        || st->user_id != sess->user_id) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(00821)
                      "connect: OAuth callback refused: the authorization of user %"
                      APR_INT64_T_FMT " at %s came back %s", st->user_id,
                      st->provider ? st->provider : "-",
                      sess ? "in another session" : "without a session");
        return redirect_result(x, "error", sess ? "session_mismatch" : "not_signed_in", 0);
    }
    x->s = sess;
    if (error) {
        return !strcmp(error, "access_denied")
               ? redirect_result(x, "denied", "access_denied", 0)
               : redirect_result(x, "error", provider_error_reason(error), 0);
    }
    if (!code || !*code) {
        return redirect_result(x, "error", "missing_code", 0);
    }
    return callback_connect(x, st, code);
}

int ca_connect_callback_handler(request_rec *r)
{
    cx_t *x = apr_pcalloc(r->pool, sizeof(*x));
    const char *args = r->args ? apr_pstrdup(r->pool, r->args) : NULL;

    ca_redact_request_line(r, "[redacted]");
    x->r = r;
    x->sc = ap_get_module_config(r->server->module_config, &clientapi_module);
    x->now = ca_web_now(r);
    ca_request_id(r);
    ca_web_security_headers(r);
    if (r->method_number != M_GET) {
        apr_table_setn(r->err_headers_out, "Allow", "GET, HEAD");
        fail(x, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
             "the OAuth callback answers GET only");
        return OK;
    }
    callback(x, args);
    return OK;
}
