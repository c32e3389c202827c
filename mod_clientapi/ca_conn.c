/*
 * ca_conn.c - sealing of provider connection secrets at rest: see ca_conn.h.
 */
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "ca_conn.h"

#define USERS_PAGE      500     /* users read per page while listing connections */
#define REKEY_LOCK_SEC  300     /* refresh lock held by a rekey at most this long */

static void set_err(const char **perr, const char *msg)
{
    if (perr) {
        *perr = msg;
    }
}

int ca_conn_field_valid(const char *field)
{
    return field != NULL
           && (strcmp(field, CA_CONN_ACCESS_TOKEN) == 0
               || strcmp(field, CA_CONN_REFRESH_TOKEN) == 0
               || strcmp(field, CA_CONN_API_KEY) == 0
               || strcmp(field, CA_CONN_CLIENT_SECRET) == 0);
}

const char *ca_conn_aad(apr_pool_t *p, apr_int64_t conn_id, const char *field)
{
    if (conn_id <= 0 || !ca_conn_field_valid(field)) {
        return NULL;
    }
    return apr_psprintf(p, CA_CONN_AAD_PREFIX "%" APR_INT64_T_FMT ":%s", conn_id, field);
}

apr_status_t ca_conn_seal(apr_pool_t *p, const ca_keyring_t *ring,
                          apr_int64_t conn_id, const char *field,
                          const char *plain, const char **sealed)
{
    const char *aad = ca_conn_aad(p, conn_id, field);

    if (sealed) {
        *sealed = NULL;
    }
    if (sealed == NULL || ring == NULL || aad == NULL || plain == NULL
        || *plain == '\0') {
        return APR_EINVAL;
    }
    return ca_seal(p, ring, aad, plain, strlen(plain), sealed);
}

apr_status_t ca_conn_open(apr_pool_t *p, const ca_keyring_t *ring,
                          apr_int64_t conn_id, const char *field,
                          const char *sealed, char **plain, const char **perr)
{
    const char *aad = ca_conn_aad(p, conn_id, field);
    const char *err = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (plain) {
        *plain = NULL;
    }
    if (plain == NULL || aad == NULL) {
        set_err(perr, "bad connection id or secret field");
        return APR_EINVAL;
    }
    if (ring == NULL || sealed == NULL) {
        set_err(perr, apr_psprintf(p, "%s: no key ring or no value", field));
        return APR_EINVAL;
    }
    rv = ca_open(p, ring, aad, sealed, plain, &len, &err);
    if (rv != APR_SUCCESS) {
        set_err(perr, apr_psprintf(p, "%s: %s", field, err ? err : "cannot open"));
        return rv;
    }
    if (strlen(*plain) != len) {
        ca_cleanse(*plain, len);
        *plain = NULL;
        set_err(perr, apr_psprintf(p, "%s: value holds a NUL byte", field));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Re-seal *value (field of connection id) when its kid is not current.
 * *changed = 1 when it was re-sealed. */
static apr_status_t reseal(apr_pool_t *p, const ca_keyring_t *ring, apr_int64_t id,
                           const char *field, const char **value, int *changed,
                           const char **perr)
{
    const char *cur = ca_keyring_current_kid(ring);
    const char *kid, *out = NULL;
    char *plain = NULL;
    apr_status_t rv;

    *changed = 0;
    if (*value == NULL) {
        return APR_SUCCESS;
    }
    kid = ca_sealed_kid(p, *value);
    if (kid == NULL) {
        set_err(perr, apr_psprintf(p, "connection %" APR_INT64_T_FMT " %s: not a sealed "
                                   "value", id, field));
        return APR_EINVAL;
    }
    if (strcmp(kid, cur) == 0) {
        return APR_SUCCESS;
    }
    rv = ca_conn_open(p, ring, id, field, *value, &plain, perr);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = apr_psprintf(p, "connection %" APR_INT64_T_FMT " %s", id, *perr);
        }
        return rv;
    }
    rv = ca_conn_seal(p, ring, id, field, plain, &out);
    ca_cleanse(plain, strlen(plain));
    if (rv != APR_SUCCESS) {
        set_err(perr, apr_psprintf(p, "connection %" APR_INT64_T_FMT " %s: cannot seal",
                                   id, field));
        return rv;
    }
    *value = out;
    *changed = 1;
    return APR_SUCCESS;
}

static int needs_rekey(apr_pool_t *p, const char *cur, const char **row)
{
    static const int cols[] = {6, 7, 8, 10};  /* the *_enc columns of a CONNECTION row */
    int i;

    for (i = 0; i < 4; i++) {
        const char *v = row[cols[i]];
        const char *kid = v ? ca_sealed_kid(p, v) : NULL;
        if (v && (kid == NULL || strcmp(kid, cur) != 0)) {
            return 1;
        }
    }
    return 0;
}

static const char *opt_i64(apr_pool_t *p, apr_int64_t v)
{
    return v ? ca_db_i64(p, v) : NULL;
}

/* Claim, re-read, re-seal, store, release one connection. */
static apr_status_t rekey_one(apr_pool_t *p, ca_db_t *db, const ca_keyring_t *ring,
                              apr_int64_t id, const char *owner, apr_int64_t now,
                              int *count, const char **perr)
{
    ca_connection_t *c;
    const char *snow = ca_db_i64(p, now), *sid = ca_db_i64(p, id);
    int ch_access, ch_refresh, ch_api, ch_secret;
    apr_status_t rv;

    rv = ca_store_connection_claim_refresh(p, db, id, owner, now, now + REKEY_LOCK_SEC,
                                           perr);
    if (rv == CA_DB_ENOTCLAIMED) {
        set_err(perr, apr_psprintf(p, "connection %" APR_INT64_T_FMT " is refreshing its "
                                   "token right now; run the rekey again", id));
        return rv;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = ca_store_connection_get(p, db, id, &c, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = reseal(p, ring, id, CA_CONN_ACCESS_TOKEN, &c->access_token_enc,
                     &ch_access, perr)) != APR_SUCCESS
        || (rv = reseal(p, ring, id, CA_CONN_REFRESH_TOKEN, &c->refresh_token_enc,
                        &ch_refresh, perr)) != APR_SUCCESS
        || (rv = reseal(p, ring, id, CA_CONN_API_KEY, &c->api_key_enc,
                        &ch_api, perr)) != APR_SUCCESS
        || (rv = reseal(p, ring, id, CA_CONN_CLIENT_SECRET, &c->client_secret_enc,
                        &ch_secret, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (ch_access || ch_refresh) {
        /* keeps expires_at, scopes and last_refresh_at as they are; the
         * refresh token argument NULL keeps the stored one */
        const char *a[] = {c->access_token_enc, ch_refresh ? c->refresh_token_enc : NULL,
                           opt_i64(p, c->expires_at), c->scopes,
                           opt_i64(p, c->last_refresh_at), snow, sid};
        rv = ca_db_exec(p, db, CA_SQL_CONNECTION_UPDATE_TOKENS, 7, a, NULL, perr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (ch_api || ch_secret) {
        const char *a[] = {c->api_key_enc, c->client_id, c->client_secret_enc,
                           c->tenant_id, snow, sid};
        rv = ca_db_exec(p, db, CA_SQL_CONNECTION_UPDATE_CREDENTIALS, 6, a, NULL, perr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if ((ch_access || ch_refresh || ch_api || ch_secret)
        && c->status && strcmp(c->status, "active") != 0) {
        /* both updates above set the status to active: put it back */
        const char *a[] = {c->status, snow, sid};
        rv = ca_db_exec(p, db, CA_SQL_CONNECTION_SET_STATUS, 3, a, NULL, perr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = ca_store_connection_release_refresh(p, db, id, owner, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *count += ch_access + ch_refresh + ch_api + ch_secret;
    return APR_SUCCESS;
}

apr_status_t ca_conn_rekey(apr_pool_t *p, ca_db_t *db, const ca_keyring_t *ring,
                           int *count, const char **perr)
{
    apr_int64_t now = apr_time_sec(apr_time_now()), after = 0;
    const char *owner, *cur;
    ca_db_txn_t *txn = NULL;
    apr_pool_t *iter;
    apr_status_t rv;
    int n = 0;

    if (count) {
        *count = 0;
    }
    if (db == NULL || ring == NULL) {
        set_err(perr, "no database or no key ring");
        return APR_EINVAL;
    }
    cur = ca_keyring_current_kid(ring);
    owner = apr_psprintf(p, "clientapi-rekey:%ld", (long)getpid());
    rv = ca_db_txn_begin(p, db, &txn, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&iter, p);
    for (;;) {
        const char *ua[] = {ca_db_i64(p, after), ca_db_i64(p, USERS_PAGE)};
        ca_db_rows_t *users;
        int u;

        rv = ca_db_select_rows(p, db, CA_SQL_USERS_PAGE, 2, ua, &users, perr);
        if (rv != APR_SUCCESS || users->rows->nelts == 0) {
            break;
        }
        for (u = 0; rv == APR_SUCCESS && u < users->rows->nelts; u++) {
            const char *ca[] = {CA_DB_ROW(users, u)[0]};
            ca_db_rows_t *conns;
            int i;

            after = ca_db_col_i64(ca[0], after);
            apr_pool_clear(iter);
            rv = ca_db_select_rows(iter, db, CA_SQL_CONNECTIONS_BY_USER, 1, ca, &conns,
                                   perr);
            for (i = 0; rv == APR_SUCCESS && conns && i < conns->rows->nelts; i++) {
                const char **row = CA_DB_ROW(conns, i);
                if (needs_rekey(iter, cur, row)) {
                    rv = rekey_one(iter, db, ring, ca_db_col_i64(row[0], 0), owner, now,
                                   &n, perr);
                }
            }
            if (rv != APR_SUCCESS && perr && *perr) {
                *perr = apr_pstrdup(p, *perr);      /* iter is cleared below */
            }
        }
        if (rv != APR_SUCCESS || users->rows->nelts < USERS_PAGE) {
            break;
        }
    }
    apr_pool_destroy(iter);
    rv = ca_db_txn_end(txn, rv, perr);
    if (rv == APR_SUCCESS && count) {
        *count = n;
    }
    return rv;
}
