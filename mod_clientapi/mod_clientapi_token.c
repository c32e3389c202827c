/* mod_clientapi: a connection's provider credential on the request path.
 *
 * API keys are opened and used. OAuth access tokens are refreshed before they expire (and once
 * after a provider 401), one refresh at a time per connection across threads, processes and
 * nodes: the refresh lock is a row claim in the database (SQLite has no SELECT ... FOR UPDATE),
 * the connection is re-read after taking it, and a rotating refresh token is stored before the
 * new access token is used, so no refresh token is ever presented twice. A grant the provider
 * refuses for good marks the connection reauthorization_required.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"

#include "mod_clientapi.h"
#include "mod_clientapi_api.h"
#include "ca_conn.h"
#include "ca_crypto.h"
#include "ca_oauth.h"

#define CA_REFRESH_MARGIN  CA_OAUTH_DEFAULT_MARGIN  /* refresh this long before expiry (s) */
#define CA_REFRESH_LOCK    30                       /* a refresh holds its lock at most (s) */
#define CA_REFRESH_WAIT_MS 100                      /* poll while another refresh runs */
#define CA_REFRESH_POLLS   80                       /* 8 s in all */

static int storage_down(request_rec *r, ca_api_req_t *q)
{
    return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                       "the database is unavailable; try again shortly");
}

static int needs_reauth(request_rec *r, ca_api_req_t *q)
{
    return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "reauthorization_required",
                       "the provider connection must be authorized again by its owner");
}

static int load(request_rec *r, ca_api_req_t *q, ca_connection_t **c)
{
    const char *err = NULL;
    apr_status_t rv = ca_store_connection_get(r->pool, &q->db, q->ep->connection_id, c, &err);

    if (rv == CA_DB_ENOTFOUND) {
        return ca_api_fail(r, q, HTTP_FORBIDDEN, "endpoint_inactive",
                           "the provider connection of this endpoint no longer exists");
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, CA_LOGNO(00701)
                      "connection %" APR_INT64_T_FMT ": %s (request %s)",
                      q->ep->connection_id, err ? err : "", ca_request_id(r));
        return storage_down(r, q);
    }
    return OK;
}

static int open_secret(request_rec *r, ca_api_req_t *q, const ca_connection_t *c,
                       const char *field, const char *sealed, const char **plain)
{
    const char *err = NULL;
    char *out = NULL;

    if (!sealed || !*sealed) {
        return needs_reauth(r, q);
    }
    if (ca_conn_open(r->pool, q->sc->keyring, c->id, field, sealed, &out, &err)
        != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00702)
                      "cannot decrypt the %s of connection %" APR_INT64_T_FMT ": %s "
                      "(request %s)", field, c->id, err ? err : "", ca_request_id(r));
        return needs_reauth(r, q);
    }
    *plain = out;
    return OK;
}

/* The OAuth client of this connection: the admin's (ClientAPIProviderClient), or the one the
 * user entered when connecting (client credentials providers). */
static int oauth_client(request_rec *r, ca_api_req_t *q, const ca_connection_t *c,
                        ca_oauth_client_t *oc)
{
    const ca_provider_setting_t *ps = apr_hash_get(q->sc->provider_settings, q->prov->name,
                                                   APR_HASH_KEY_STRING);

    memset(oc, 0, sizeof(*oc));
    if (c->client_id && *c->client_id) {
        oc->client_id = c->client_id;
        if (c->client_secret_enc) {
            int st = open_secret(r, q, c, "client_secret", c->client_secret_enc,
                                 &oc->client_secret);
            if (st != OK) {
                return st;
            }
        }
        return OK;
    }
    if (!ps || !ps->client_id) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00703)
                      "no ClientAPIProviderClient for provider %s: connection %"
                      APR_INT64_T_FMT " cannot be refreshed (request %s)", q->prov->name,
                      c->id, ca_request_id(r));
        return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                           "this server has no OAuth client for the provider");
    }
    oc->client_id = ps->client_id;
    oc->client_secret = ps->client_secret;
    return OK;
}

static const char *lock_owner(request_rec *r)
{
    char *rnd = ca_random_token(r->pool, 8);

    return apr_psprintf(r->pool, "%s:%" APR_PID_T_FMT ":%s", r->server->server_hostname,
                        getpid(), rnd ? rnd : "x");
}

/* Refresh (or mint, for client credentials) while holding the lock. On success *access is
 * the new token, already stored. */
static int renew_locked(request_rec *r, ca_api_req_t *q, const ca_connection_t *c,
                        const char *owner, const char **access)
{
    ca_oauth_client_t oc;
    ca_oauth_ctx_t ctx;
    ca_http_options_t opts;
    ca_oauth_token_t *tok = NULL;
    const char *err = NULL, *refresh = NULL, *acc_enc = NULL, *ref_enc = NULL;
    apr_int64_t now = apr_time_sec(apr_time_now());
    apr_status_t rv;
    int st;

    if ((st = oauth_client(r, q, c, &oc)) != OK) {
        return st;
    }
    memset(&ctx, 0, sizeof(ctx));
    ca_proxy_http_options(q, &opts);
    ctx.def = q->prov;
    ctx.client = &oc;
    ctx.http = ca_proxy_http_client(r);
    ctx.http_opts = &opts;
    if (!ctx.http) {
        return ca_api_fail(r, q, HTTP_BAD_GATEWAY, "provider_error",
                           "the provider cannot be reached");
    }
    if (q->prov->auth.mode == CA_AUTH_CLIENT_CREDENTIALS) {
        rv = ca_oauth_client_credentials(r->pool, &ctx, now, &tok, &err);
    }
    else {
        if ((st = open_secret(r, q, c, "refresh_token", c->refresh_token_enc, &refresh)) != OK) {
            return st;
        }
        rv = ca_oauth_refresh(r->pool, &ctx, refresh, now, &tok, &err);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, CA_LOGNO(00704)
                      "token refresh for connection %" APR_INT64_T_FMT " (%s) failed: %s: %s "
                      "(request %s)", c->id, q->prov->name, ca_oauth_status_name(rv),
                      err ? err : "", ca_request_id(r));
        if (rv == CA_OAUTH_EGRANT) {
            const char *args[] = { "reauthorization_required", apr_ltoa(r->pool, (long)now),
                                   apr_ltoa(r->pool, (long)c->id) };
            ca_db_exec(r->pool, &q->db, CA_SQL_CONNECTION_SET_STATUS, 3, args, NULL, &err);
            ca_keycache_invalidate(r);
            return needs_reauth(r, q);
        }
        if (rv == CA_OAUTH_ETEMPORARY) {
            return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                               "the provider could not renew this connection's access right "
                               "now; try again shortly");
        }
        return ca_api_fail(r, q, HTTP_BAD_GATEWAY, "provider_error",
                           "the provider refused to renew this connection's access");
    }
    if (ca_conn_seal(r->pool, q->sc->keyring, c->id, "access_token", tok->access_token,
                     &acc_enc) != APR_SUCCESS
        || (tok->refresh_token
            && ca_conn_seal(r->pool, q->sc->keyring, c->id, "refresh_token",
                            tok->refresh_token, &ref_enc) != APR_SUCCESS)) {
        return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                           "the renewed credentials cannot be stored");
    }
    {
        const char *args[] = {
            acc_enc, ref_enc, apr_ltoa(r->pool, (long)tok->expires_at),
            tok->scope ? tok->scope : c->scopes, apr_ltoa(r->pool, (long)now),
            apr_ltoa(r->pool, (long)now), apr_ltoa(r->pool, (long)c->id), owner
        };
        int n = 0;
        rv = ca_db_exec(r->pool, &q->db, CA_SQL_CONNECTION_STORE_REFRESH, 8, args, &n, &err);
        if (rv != APR_SUCCESS || n != 1) {
            /* the new refresh token may now be lost: the lock expired under us or the
             * database failed; the owner has to connect again rather than reuse a token */
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, CA_LOGNO(00705)
                          "renewed tokens of connection %" APR_INT64_T_FMT " not stored: %s "
                          "(request %s)", c->id, err ? err : "lock lost", ca_request_id(r));
            return storage_down(r, q);
        }
    }
    /* every process (every node with a shared cache) forgets the previous token */
    ca_keycache_invalidate(r);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, CA_LOGNO(00706)
                  "renewed the access token of connection %" APR_INT64_T_FMT " (%s)",
                  c->id, q->prov->name);
    *access = tok->access_token;
    return OK;
}

static void sleep_ms(int ms)
{
    apr_sleep(apr_time_from_msec(ms));
}

const char *ca_token_field_name(const ca_provider_t *prov)
{
    const apr_array_header_t *cf = prov->auth.connect_fields;
    const ca_provider_field_t *f;

    if (!cf || cf->nelts != 1) {
        return NULL;
    }
    f = &APR_ARRAY_IDX(cf, 0, ca_provider_field_t);
    return f->secret ? NULL : f->name;
}

/*
 * The credential to send for this request's connection. `stale` is the access token a provider
 * just refused with 401 (NULL normally): then a refresh happens even before expiry, unless
 * another request already replaced that token.
 */
int ca_token_get(request_rec *r, ca_api_req_t *q, const char *stale, const char **cred,
                 const char **tenant)
{
    ca_connection_t *c = NULL;
    const char *owner = NULL, *err = NULL, *access = NULL;
    apr_int64_t now, exp = 0;
    int st, i;

    if (!q->sc->keyring) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00707)
                      "ClientAPISecretKeyFile is not set: provider credentials cannot be "
                      "decrypted (request %s)", ca_request_id(r));
        return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                           "this server is not configured to call providers");
    }
    /* steady state: the credential this process already opened, or the key cache's sealed
     * copy; no SQL, and no AES-GCM open once it is in this process */
    now = apr_time_sec(apr_time_now());
    if (ca_keycache_cred_get(r, q, &access, tenant, &exp)
        && (q->prov->auth.mode == CA_AUTH_API_KEY
            || !ca_oauth_token_expiring(exp, now, CA_REFRESH_MARGIN))
        && (!stale || strcmp(stale, access))) {
        *cred = access;
        return OK;
    }
    access = NULL;
    if (!q->have_db) {
        if (ca_dbd_acquire(r, &q->db) != APR_SUCCESS) {
            return storage_down(r, q);
        }
        q->have_db = 1;
    }
    if ((st = load(r, q, &c)) != OK) {
        return st;
    }
    *tenant = c->tenant_id;
    if (q->prov->auth.mode == CA_AUTH_API_KEY) {
        if ((st = open_secret(r, q, c, "api_key", c->api_key_enc, cred)) == OK) {
            ca_keycache_cred_put(r, q, *cred, c->tenant_id, 0, now);
        }
        return st;
    }
    for (i = 0; i < CA_REFRESH_POLLS; i++) {
        now = apr_time_sec(apr_time_now());
        if (c->access_token_enc && *c->access_token_enc
            && !ca_oauth_token_expiring(c->expires_at, now, CA_REFRESH_MARGIN)) {
            if ((st = open_secret(r, q, c, "access_token", c->access_token_enc, &access))
                != OK) {
                return st;
            }
            if (!stale || strcmp(stale, access)) {
                if (owner) {
                    ca_store_connection_release_refresh(r->pool, &q->db, c->id, owner, &err);
                }
                else if (!c->status || !strcmp(c->status, "active")) {
                    ca_keycache_cred_put(r, q, access, c->tenant_id, c->expires_at, now);
                }
                *cred = access;
                return OK;
            }
        }
        if (c->status && strcmp(c->status, "active")) {
            if (owner) {
                ca_store_connection_release_refresh(r->pool, &q->db, c->id, owner, &err);
            }
            return needs_reauth(r, q);
        }
        if (owner) {
            /* we hold the lock and the re-read row still needs renewing */
            st = renew_locked(r, q, c, owner, cred);
            if (st != OK) {
                ca_store_connection_release_refresh(r->pool, &q->db, c->id, owner, &err);
            }
            return st;
        }
        owner = lock_owner(r);
        if (ca_store_connection_claim_refresh(r->pool, &q->db, c->id, owner, now,
                                              now + CA_REFRESH_LOCK, &err) != APR_SUCCESS) {
            owner = NULL;           /* someone else renews: wait for their result */
            sleep_ms(CA_REFRESH_WAIT_MS);
        }
        if ((st = load(r, q, &c)) != OK) {  /* re-read, with or without the lock */
            if (owner) {
                ca_store_connection_release_refresh(r->pool, &q->db, q->ep->connection_id,
                                                    owner, &err);
            }
            return st;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(00708)
                  "gave up waiting for the token refresh of connection %" APR_INT64_T_FMT
                  " (request %s)", q->ep->connection_id, ca_request_id(r));
    return ca_api_fail(r, q, HTTP_SERVICE_UNAVAILABLE, "provider_unavailable",
                       "the connection's access is being renewed; try again shortly");
}
