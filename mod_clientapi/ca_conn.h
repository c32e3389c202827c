/*
 * ca_conn.h - the one place that seals and opens a provider connection's
 * secrets at rest (provider_connections.*_enc, docs/schema.md).
 *
 * Core unit: libc + APR + APR-util + ca_crypto + ca_store only, no httpd
 * headers, no logging.
 *
 * Every sealed value (ca_seal: "v1.<kid>.<...>", AES-256-GCM) is bound to its
 * row and column by the associated data
 *
 *     "clientapi:connection:<id>:<field>"
 *
 * with <id> the connection's decimal id and <field> one of access_token,
 * refresh_token, api_key, client_secret. A value copied to another connection
 * or another column does not open (authentication fails). Consequence: a
 * connection row must exist (to have an id) before its secrets are sealed;
 * insert it with NULL secrets first, then store the sealed values.
 */
#ifndef CA_CONN_H
#define CA_CONN_H

#include <apr_pools.h>
#include <apr_errno.h>

#include "ca_crypto.h"
#include "ca_store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CA_CONN_ACCESS_TOKEN   "access_token"
#define CA_CONN_REFRESH_TOKEN  "refresh_token"
#define CA_CONN_API_KEY        "api_key"
#define CA_CONN_CLIENT_SECRET  "client_secret"

#define CA_CONN_AAD_PREFIX     "clientapi:connection:"

/* 1 if field is one of the four names above, else 0. */
int ca_conn_field_valid(const char *field);

/* "clientapi:connection:<conn_id>:<field>", or NULL for conn_id <= 0 or an
 * unknown field. */
const char *ca_conn_aad(apr_pool_t *p, apr_int64_t conn_id, const char *field);

/* Seal a connection secret (NUL-terminated, non-empty) with the ring's current
 * key. APR_EINVAL for a NULL ring or plain, an empty plain, conn_id <= 0 or an
 * unknown field; APR_EGENERAL on a library or CSPRNG failure. */
apr_status_t ca_conn_seal(apr_pool_t *p, const ca_keyring_t *ring,
                          apr_int64_t conn_id, const char *field,
                          const char *plain, const char **sealed);

/* Open a value sealed by ca_conn_seal for the same conn_id and field. *plain
 * is NUL-terminated in p; the caller should ca_cleanse it when done with it.
 * Errors as ca_open (APR_EINVAL malformed, APR_ENOENT unknown key id,
 * APR_EGENERAL wrong key / wrong row or field / tampered), plus APR_EINVAL for
 * a bad conn_id or field, and for a value that decrypts to something holding a
 * NUL byte. *perr (may be NULL) names the field, never the value. */
apr_status_t ca_conn_open(apr_pool_t *p, const ca_keyring_t *ring,
                          apr_int64_t conn_id, const char *field,
                          const char *sealed, char **plain, const char **perr);

/* Re-seal with the ring's current key every stored secret of every connection
 * that is sealed with another kid, in one transaction (all or nothing).
 * *count (may be NULL) = secrets re-sealed. Each connection touched is first
 * claimed through its refresh lock (so no token refresh of the module runs
 * against it meanwhile) and released afterwards; its status is kept.
 * Errors (rolled back): a database error (ca_store codes), CA_DB_ENOTCLAIMED
 * when a connection is being refreshed right now (run it again), a value that
 * does not open (APR_ENOENT: its kid is not in the ring; APR_EGENERAL: wrong
 * key or tampered; APR_EINVAL: malformed), naming the connection and field. */
apr_status_t ca_conn_rekey(apr_pool_t *p, ca_db_t *db, const ca_keyring_t *ring,
                           int *count, const char **perr);

#ifdef __cplusplus
}
#endif

#endif /* CA_CONN_H */
