/*
 * ca_store.h - the storage layer: every SQL statement of mod_clientapi and typed
 * access to the tables (sql/<driver>/NNNN_*.sql, docs/schema.md).
 *
 * Core unit: libc + APR + APR-util (apr_dbd) only, no httpd headers, no logging.
 * Works identically on the apr_dbd "pgsql" (PostgreSQL 15+) and "sqlite3" (SQLite
 * 3.37+) drivers: the same SQL text runs on both.
 *
 * Connections. The module takes one from mod_dbd (ap_dbd_acquire) and copies its
 * three members into a ca_db_t; the CLI and the tests use ca_db_open(). Every
 * statement lives in ca_store_statements[] under a label "ca_<name>" (macros
 * CA_SQL_* below); the module declares each with ap_dbd_prepare(s, sql, label),
 * ca_db_prepare_all() does the same with apr_dbd_prepare.
 *
 * Placeholders. Statements use apr_dbd's "%s" for text and "%lld" for integers.
 * The pgsql driver declares each parameter's type from its placeholder ("%s" is
 * varchar, which PostgreSQL will neither compare with nor store into a BIGINT), so
 * integer parameters must be "%lld". Callers always pass strings (decimal for
 * integers, NULL for SQL NULL); ca_db_* checks integer arguments strictly (an
 * argument that is not a decimal 64-bit integer fails with CA_DB_EARG before the
 * database is asked) and binds them as real integers (apr_dbd_pbselect), so both
 * drivers see the same types. A literal '%' in SQL must be written "%%".
 *
 * Results. Every result set is drained to its end and copied into the caller's
 * pool; a column value is a string (integers in decimal) or NULL for SQL NULL.
 * No statement orders by a text column (collations differ between drivers).
 *
 * Time. All times are integer unix epoch seconds passed in by the caller ("now"):
 * no statement reads the database clock. In the typed structs a time of 0, an
 * id of 0 and a rate_limit of 0 stand for SQL NULL.
 *
 * Errors. Functions return APR_SUCCESS or a status below, with a message in
 * *perr (pool-allocated; never contains argument values, so no secret; for
 * PostgreSQL only the primary message line is kept, without DETAIL, which can
 * quote row values). perr may be NULL.
 */
#ifndef CA_STORE_H
#define CA_STORE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_dbd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * Status codes (APR user range; ca_migrate.h uses CA_DB_ERRSPACE + 20 ...)
 * ------------------------------------------------------------------------- */
#define CA_DB_ERRSPACE      (APR_OS_START_USERERR + 4100)
/* The database cannot be reached or used right now (connection lost or refused,
 * database locked or unreadable): the module answers 503 storage_unavailable. */
#define CA_DB_EUNAVAILABLE  (CA_DB_ERRSPACE + 1)
/* Any other driver error (bad SQL, wrong schema, ...): a 500. */
#define CA_DB_EQUERY        (CA_DB_ERRSPACE + 2)
/* A unique, foreign-key, check or not-null constraint refused the write. */
#define CA_DB_ECONSTRAINT   (CA_DB_ERRSPACE + 3)
/* A typed getter or a by-id update found no row. */
#define CA_DB_ENOTFOUND     (CA_DB_ERRSPACE + 4)
/* A conditional claim did not take: refresh lock held by another owner, an
 * idempotency key already in use, ... */
#define CA_DB_ENOTCLAIMED   (CA_DB_ERRSPACE + 5)
/* Unknown statement label, or a label that is not prepared on this handle. */
#define CA_DB_ESTATEMENT    (CA_DB_ERRSPACE + 6)
/* Wrong number of arguments, or an integer argument that is not an integer. */
#define CA_DB_EARG          (CA_DB_ERRSPACE + 7)

/* 1 for CA_DB_EUNAVAILABLE (for "answer 503" decisions). */
#define CA_DB_IS_UNAVAILABLE(rv) ((rv) == CA_DB_EUNAVAILABLE)

/* SQL to run on every new sqlite3 connection (mod_dbd: DBDInitSQL "..."), so that
 * foreign keys cascade as they do on PostgreSQL. ca_db_connect runs it. */
#define CA_DB_SQLITE3_INIT_SQL "PRAGMA foreign_keys = ON"

/* ---------------------------------------------------------------------------
 * Connections and statements
 * ------------------------------------------------------------------------- */

/* The same three members as mod_dbd's ap_dbd_t. */
typedef struct {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;       /* label -> apr_dbd_prepared_t * */
} ca_db_t;

typedef struct {
    const char *label;          /* "ca_<name>", also the PostgreSQL PREPARE name */
    const char *sql;
} ca_statement_t;

/* Every statement, ends with {NULL, NULL}. */
extern const ca_statement_t ca_store_statements[];

/* The entry for a label, or NULL. */
const ca_statement_t *ca_store_statement(const char *label);

/* apr_dbd_init + apr_dbd_get_driver + apr_dbd_open_ex (sqlite3: also runs
 * CA_DB_SQLITE3_INIT_SQL). Prepares nothing (migrations run on such a handle).
 * The handle is closed when pool is destroyed (or by ca_db_close). params is
 * never copied into *perr (it may hold a password). */
apr_status_t ca_db_connect(apr_pool_t *pool, const char *driver_name,
                           const char *params, ca_db_t **db, const char **perr);

/* apr_dbd_prepare every statement of ca_store_statements into db->prepared
 * (created if NULL). Fails on the first statement that does not prepare, naming
 * its label (e.g. the schema is not migrated), or that uses a placeholder other
 * than %s / %lld (CA_DB_ESTATEMENT). */
apr_status_t ca_db_prepare_all(apr_pool_t *pool, ca_db_t *db, const char **perr);

/* ca_db_connect + ca_db_prepare_all. */
apr_status_t ca_db_open(apr_pool_t *pool, const char *driver_name,
                        const char *params, ca_db_t **db, const char **perr);

/* Close a handle opened by ca_db_connect/ca_db_open now (idempotent). */
void ca_db_close(ca_db_t *db);

/* "pgsql", "sqlite3", ... */
const char *ca_db_driver_name(const ca_db_t *db);

/* Rows of a select: rows holds const char ** (ncols entries each, NULL = NULL). */
typedef struct {
    int ncols;
    apr_array_header_t *rows;
} ca_db_rows_t;

#define CA_DB_ROW(r, i) (APR_ARRAY_IDX((r)->rows, (i), const char **))

/* Run a statement that returns rows (SELECT, or INSERT/UPDATE ... RETURNING).
 * nargs must equal the statement's placeholder count. */
apr_status_t ca_db_select_rows(apr_pool_t *pool, ca_db_t *db, const char *label,
                               int nargs, const char *const *args,
                               ca_db_rows_t **rows, const char **perr);

/* As ca_db_select_rows, for at most one row: *row is the first row (the rest
 * are drained and dropped); CA_DB_ENOTFOUND when there is none. ncols may be
 * NULL. */
apr_status_t ca_db_select_one(apr_pool_t *pool, ca_db_t *db, const char *label,
                              int nargs, const char *const *args,
                              const char ***row, int *ncols, const char **perr);

/* Run a statement; *nrows (may be NULL) = rows changed (for a RETURNING
 * statement: rows returned). */
apr_status_t ca_db_exec(apr_pool_t *pool, ca_db_t *db, const char *label,
                        int nargs, const char *const *args, int *nrows,
                        const char **perr);

/* Run one SQL text without parameters or results, unprepared (DDL, pragmas). */
apr_status_t ca_db_exec_sql(apr_pool_t *pool, ca_db_t *db, const char *sql,
                            const char **perr);

/* Run one SELECT text without parameters, unprepared (tools, migrations). */
apr_status_t ca_db_select_sql(apr_pool_t *pool, ca_db_t *db, const char *sql,
                              ca_db_rows_t **rows, const char **perr);

/* Map a failed apr_dbd call (its return code rc) on db to a status
 * (CA_DB_EUNAVAILABLE / CA_DB_ECONSTRAINT / CA_DB_EQUERY) and "<what>: <driver
 * message>" (what NULL: the message alone) in *perr. */
apr_status_t ca_db_error(apr_pool_t *pool, ca_db_t *db, int rc, const char *what,
                         const char **perr);

/* Transactions. Not nestable; sqlite3 takes the write lock at begin (BEGIN
 * IMMEDIATE). ca_db_txn_end commits when rv is APR_SUCCESS and rolls back
 * otherwise; it returns rv unchanged after a rollback, or the commit's status. */
typedef struct ca_db_txn_t ca_db_txn_t;

apr_status_t ca_db_txn_begin(apr_pool_t *pool, ca_db_t *db, ca_db_txn_t **txn,
                             const char **perr);
apr_status_t ca_db_txn_end(ca_db_txn_t *txn, apr_status_t rv, const char **perr);

/* Integer helpers: decimal string of v; value of a column (dflt for NULL or a
 * non-integer). */
const char *ca_db_i64(apr_pool_t *pool, apr_int64_t v);
apr_int64_t ca_db_col_i64(const char *col, apr_int64_t dflt);

/* ---------------------------------------------------------------------------
 * Statement labels (arguments in order; "i" = integer, "s" = text)
 * ------------------------------------------------------------------------- */

/* endpoints + keys. ENDPOINT columns (26), in order: e.id, public_id, user_id,
 * connection_id, name, scope_kind, company_id, company_name, client_id,
 * client_name, access_mode, status, expires_at, ip_allow, rate_limit,
 * managed_by_config, created_at, updated_at, rotated_at, last_used_at,
 * c.provider, c.status, c.account_id, k.id, k.key_hint, k.expires_at */
#define CA_SQL_ENDPOINT_BY_KEY        "ca_endpoint_by_key"       /* s hash, i now */
#define CA_SQL_ENDPOINT_BY_PUBLIC_ID  "ca_endpoint_by_public_id" /* s public_id */
#define CA_SQL_ENDPOINT_BY_ID         "ca_endpoint_by_id"        /* i id */
#define CA_SQL_ENDPOINTS_BY_USER      "ca_endpoints_by_user"     /* i user_id */
#define CA_SQL_ENDPOINTS_BY_CONNECTION "ca_endpoints_by_connection" /* i conn_id */
#define CA_SQL_ENDPOINTS_PAGE         "ca_endpoints_page"        /* i after_id, i limit */
#define CA_SQL_ENDPOINT_INSERT        "ca_endpoint_insert"
    /* s public_id, i user_id, i connection_id, s name, s scope_kind, s company_id,
     * s company_name, s client_id, s client_name, s access_mode, s status,
     * i expires_at, s ip_allow, i rate_limit, i managed_by_config, i created_at,
     * i updated_at -> RETURNING id */
#define CA_SQL_ENDPOINT_UPDATE        "ca_endpoint_update"
    /* s name, s access_mode, i expires_at, s ip_allow, i rate_limit, i now, i id */
#define CA_SQL_ENDPOINT_SET_STATUS    "ca_endpoint_set_status"   /* s status, i now, i id */
#define CA_SQL_ENDPOINT_SET_ROTATED   "ca_endpoint_set_rotated"  /* i now, i now, i id */
#define CA_SQL_ENDPOINT_TOUCH         "ca_endpoint_touch"
    /* i now, i id, i not_before: sets last_used_at only if older than not_before */
#define CA_SQL_ENDPOINT_DELETE        "ca_endpoint_delete"       /* i id */
#define CA_SQL_ENDPOINT_UPSERT_CONFIG "ca_endpoint_upsert_config"
    /* s public_id, i connection_id (twice), s name, s scope_kind, s company_id,
     * s client_id, s access_mode, i now, i now -> RETURNING id (no row: the
     * public id belongs to a dashboard endpoint). Keeps an existing status. */
#define CA_SQL_ENDPOINTS_DELETE_FOR_CONNECTION "ca_endpoints_delete_for_connection" /* i */
#define CA_SQL_KEY_INSERT             "ca_key_insert"    /* i endpoint, s hash, s hint, i now */
#define CA_SQL_KEY_INSERT_IF_ABSENT   "ca_key_insert_if_absent"  /* same args */
#define CA_SQL_KEY_BY_HASH            "ca_key_by_hash"
    /* s hash -> id, endpoint_id, key_hint, created_at, expires_at, revoked_at */
#define CA_SQL_KEYS_BY_ENDPOINT       "ca_keys_by_endpoint"
    /* i endpoint -> id, key_hint, created_at, expires_at, revoked_at (newest first) */
#define CA_SQL_KEY_EXPIRE_CURRENT     "ca_key_expire_current"    /* i expires_at, i endpoint */
#define CA_SQL_KEY_EXPIRE_GRACED      "ca_key_expire_graced"     /* i now, i endpoint, i now */
#define CA_SQL_KEY_REVOKE_ALL         "ca_key_revoke_all"        /* i now, i endpoint */
#define CA_SQL_KEY_REVOKE_OTHERS      "ca_key_revoke_others"     /* i now, i endpoint, s hash */
#define CA_SQL_KEY_REINSTATE          "ca_key_reinstate"         /* s hash, i endpoint */
#define CA_SQL_KEYS_DELETE_FOR_ENDPOINT "ca_keys_delete_for_endpoint"     /* i endpoint */
#define CA_SQL_KEYS_DELETE_FOR_CONNECTION "ca_keys_delete_for_connection" /* i conn */
#define CA_SQL_KEYS_PURGE             "ca_keys_purge"    /* i before, i before */

/* provider_connections. CONNECTION columns (20): id, user_id, provider,
 * account_id, account_label, auth_mode, access_token_enc, refresh_token_enc,
 * api_key_enc, client_id, client_secret_enc, tenant_id, scopes, expires_at,
 * status, refresh_lock_until, refresh_lock_owner, last_refresh_at, created_at,
 * updated_at */
#define CA_SQL_CONNECTION_INSERT      "ca_connection_insert"
    /* i user_id, s provider, s account_id, s account_label, s auth_mode,
     * s access_token_enc, s refresh_token_enc, s api_key_enc, s client_id,
     * s client_secret_enc, s tenant_id, s scopes, i expires_at, i now, i now
     * -> RETURNING id */
#define CA_SQL_CONNECTION_GET         "ca_connection_get"        /* i id */
#define CA_SQL_CONNECTIONS_BY_USER    "ca_connections_by_user"   /* i user_id */
#define CA_SQL_CONNECTION_UPDATE_TOKENS "ca_connection_update_tokens"
    /* s access_enc, s refresh_enc (NULL keeps the stored one), i expires_at,
     * s scopes, i now, i now, i id; sets status active */
#define CA_SQL_CONNECTION_STORE_REFRESH "ca_connection_store_refresh"
    /* as UPDATE_TOKENS + s lock_owner; only while owner holds the refresh lock,
     * which it releases */
#define CA_SQL_CONNECTION_UPDATE_CREDENTIALS "ca_connection_update_credentials"
    /* s api_key_enc, s client_id, s client_secret_enc, s tenant_id, i now, i id */
#define CA_SQL_CONNECTION_UPDATE_ACCOUNT "ca_connection_update_account"
    /* s account_id, s account_label, i now, i id */
#define CA_SQL_CONNECTION_CLAIM_REFRESH "ca_connection_claim_refresh"
    /* i lock_until, s owner, i id, i now: 1 row changed = claimed */
#define CA_SQL_CONNECTION_RELEASE_REFRESH "ca_connection_release_refresh" /* i id, s owner */
#define CA_SQL_CONNECTION_SET_STATUS  "ca_connection_set_status" /* s status, i now, i id */
#define CA_SQL_CONNECTION_DISCONNECT  "ca_connection_disconnect"
    /* i now, i id: status disconnected, every token/key/secret set to NULL */
#define CA_SQL_CONNECTION_DELETE      "ca_connection_delete"     /* i id */

/* request_logs. LOG columns (15): id, endpoint_id, ts, method, resource,
 * record_id, status, item_count, duration_us, query, error_code, error_detail,
 * client_ip, user_agent, request_id */
#define CA_SQL_REQUEST_LOG_INSERT     "ca_request_log_insert"
    /* the 14 LOG columns after id, in order (endpoint_id is the public id) */
#define CA_SQL_REQUEST_LOGS_BY_ENDPOINT "ca_request_logs_by_endpoint"
    /* s endpoint, i since, i until, i status_min, i status_max, s method (twice),
     * s resource (twice), i cursor_ts, i cursor_ts, i cursor_id, i limit */
#define CA_SQL_REQUEST_LOGS_ALL       "ca_request_logs_all"  /* same without endpoint */
#define CA_SQL_REQUEST_USAGE          "ca_request_usage"
    /* i bucket_sec (twice), s endpoint, i since, i until -> bucket_start, requests,
     * errors (status >= 400), items, duration_us_total */
#define CA_SQL_REQUEST_LOGS_PURGE     "ca_request_logs_purge"    /* i before, i batch */
#define CA_SQL_REQUEST_LOGS_DELETE_FOR_ENDPOINT "ca_request_logs_delete_for_endpoint"
    /* s endpoint public id */
/* Batches of n = 1, 2, 4, ..., 256 rows: the 14 LOG columns after id, n times; a row whose
 * request_id is already stored is skipped -> RETURNING request_id of the rows inserted. */
#define CA_SQL_REQUEST_LOGS_WRITE_1   "ca_request_logs_write_1"
#define CA_SQL_REQUEST_LOGS_WRITE_2   "ca_request_logs_write_2"
#define CA_SQL_REQUEST_LOGS_WRITE_4   "ca_request_logs_write_4"
#define CA_SQL_REQUEST_LOGS_WRITE_8   "ca_request_logs_write_8"
#define CA_SQL_REQUEST_LOGS_WRITE_16  "ca_request_logs_write_16"
#define CA_SQL_REQUEST_LOGS_WRITE_32  "ca_request_logs_write_32"
#define CA_SQL_REQUEST_LOGS_WRITE_64  "ca_request_logs_write_64"
#define CA_SQL_REQUEST_LOGS_WRITE_128 "ca_request_logs_write_128"
#define CA_SQL_REQUEST_LOGS_WRITE_256 "ca_request_logs_write_256"
/* request_rollups. ROLLUP counters (31): requests, status_2xx, status_3xx, status_4xx,
 * status_5xx, items, duration_us, h00..h23 */
#define CA_SQL_ROLLUP_ADD             "ca_rollup_add"
    /* s endpoint, i hour_start, i x 31 counters: added to the row (created if absent) */
#define CA_SQL_ROLLUPS_DELETE_SINCE   "ca_rollups_delete_since"  /* i hour_start */
#define CA_SQL_ROLLUPS_REBUILD        "ca_rollups_rebuild"
    /* i since (an hour start): adds the counts of request_logs with ts >= since */
#define CA_SQL_ROLLUPS_PURGE          "ca_rollups_purge"         /* i before (hour start) */
#define CA_SQL_ROLLUPS_DELETE_FOR_ENDPOINT "ca_rollups_delete_for_endpoint" /* s endpoint */

/* users. USER columns (9): id, email, password_hash, role, created_at,
 * updated_at, disabled_at, failed_logins, locked_until */
#define CA_SQL_USER_INSERT            "ca_user_insert"
    /* s email, s password_hash, s role, i now, i now -> RETURNING id */
#define CA_SQL_USER_BY_EMAIL          "ca_user_by_email"         /* s email */
#define CA_SQL_USER_BY_ID             "ca_user_by_id"            /* i id */
#define CA_SQL_USERS_PAGE             "ca_users_page"            /* i after_id, i limit */
#define CA_SQL_USER_COUNT             "ca_user_count"            /* -> count */
#define CA_SQL_USER_SET_PASSWORD      "ca_user_set_password"     /* s hash, i now, i id */
#define CA_SQL_USER_SET_ROLE          "ca_user_set_role"         /* s role, i now, i id */
#define CA_SQL_USER_SET_DISABLED      "ca_user_set_disabled"     /* i at|NULL, i now, i id */
#define CA_SQL_USER_LOGIN_FAILED      "ca_user_login_failed"
    /* i max_failures, i lock_until, i now, i id: failed_logins + 1, and
     * locked_until = lock_until once failed_logins reaches max_failures */
#define CA_SQL_USER_LOGIN_OK          "ca_user_login_ok"         /* i id */
#define CA_SQL_USER_DELETE            "ca_user_delete"           /* i id */
#define CA_SQL_LOGIN_ATTEMPT_INSERT   "ca_login_attempt_insert"  /* s email, s ip, i ts, i 0|1 */
#define CA_SQL_LOGIN_FAILURES_BY_IP   "ca_login_failures_by_ip"  /* s ip, i since -> count */
#define CA_SQL_LOGIN_FAILURES_BY_EMAIL "ca_login_failures_by_email" /* s email, i since */
#define CA_SQL_LOGIN_ATTEMPTS_PURGE   "ca_login_attempts_purge"  /* i before */
#define CA_SQL_LOGIN_ATTEMPTS_DELETE_FOR_EMAIL "ca_login_attempts_delete_for_email"
    /* s email */

/* sessions */
#define CA_SQL_SESSION_INSERT         "ca_session_insert"
    /* s id_hash, i user_id, s csrf_hash, i now, i now, i expires_at, s ip, s ua */
#define CA_SQL_SESSION_GET            "ca_session_get"
    /* s id_hash, i now -> id_hash, user_id, csrf_token_hash, created_at,
     * last_seen_at, expires_at, ip, user_agent, u.email, u.role, u.disabled_at */
#define CA_SQL_SESSION_TOUCH          "ca_session_touch"    /* i now, i expires_at, s id_hash */
#define CA_SQL_SESSION_DELETE         "ca_session_delete"        /* s id_hash */
#define CA_SQL_SESSIONS_DELETE_FOR_USER "ca_sessions_delete_for_user" /* i user_id */
#define CA_SQL_SESSIONS_PURGE         "ca_sessions_purge"        /* i now */

/* oauth_states */
#define CA_SQL_OAUTH_STATE_INSERT     "ca_oauth_state_insert"
    /* s state_hash, s session_id_hash, i user_id, s provider, s verifier_enc,
     * s redirect_after, i now, i expires_at */
#define CA_SQL_OAUTH_STATE_CONSUME    "ca_oauth_state_consume"
    /* i now, s state_hash, i now -> state_hash, session_id_hash, user_id,
     * provider, code_verifier_enc, redirect_after, created_at, expires_at;
     * a row only the first time, and only before expiry */
#define CA_SQL_OAUTH_STATES_PURGE     "ca_oauth_states_purge"    /* i now */
#define CA_SQL_OAUTH_STATES_DELETE_FOR_USER "ca_oauth_states_delete_for_user" /* i user */

/* idempotency_records (endpoint_id is endpoints.id) */
#define CA_SQL_IDEM_CLAIM             "ca_idem_claim"
    /* i endpoint, s key_hash, s request_hash, i now, i expires_at: 1 row = claimed
     * (a new key, or one whose record has expired); 0 = a live record exists */
#define CA_SQL_IDEM_COMPLETE          "ca_idem_complete"
    /* i status, s headers, s body, i endpoint, s key_hash */
#define CA_SQL_IDEM_GET               "ca_idem_get"
    /* i endpoint, s key_hash, i now -> endpoint_id, idem_key_hash, request_hash,
     * status (NULL while in progress), headers, body, created_at, expires_at */
#define CA_SQL_IDEM_RELEASE           "ca_idem_release"     /* i endpoint, s key_hash */
#define CA_SQL_IDEM_PURGE             "ca_idem_purge"            /* i now */
#define CA_SQL_IDEM_DELETE_FOR_ENDPOINT "ca_idem_delete_for_endpoint"     /* i endpoint */
#define CA_SQL_IDEM_DELETE_FOR_CONNECTION "ca_idem_delete_for_connection" /* i conn */

/* contact_messages: id, name, email, company, message, ip, created_at, handled_at */
#define CA_SQL_CONTACT_INSERT         "ca_contact_insert"
    /* s name, s email, s company, s message, s ip, i now -> RETURNING id */
#define CA_SQL_CONTACTS_PAGE          "ca_contacts_page"   /* i before_id, i limit */
#define CA_SQL_CONTACT_SET_HANDLED    "ca_contact_set_handled"   /* i at|NULL, i id */
#define CA_SQL_CONTACT_DELETE         "ca_contact_delete"        /* i id */
#define CA_SQL_CONTACTS_PURGE_HANDLED "ca_contacts_purge_handled" /* i before */

/* audit_events: id, user_id, actor_email, action, target_kind, target_id,
 * detail, ip, created_at */
#define CA_SQL_AUDIT_INSERT           "ca_audit_insert"
    /* i user_id, s actor_email, s action, s target_kind, s target_id, s detail,
     * s ip, i now */
#define CA_SQL_AUDIT_PAGE             "ca_audit_page"
    /* i before_id, s target_kind (twice), s target_id (twice), i user_id (twice),
     * i limit (newest first; NULL filters match all) */
#define CA_SQL_AUDIT_PURGE            "ca_audit_purge"           /* i before */

/* ---------------------------------------------------------------------------
 * Typed access
 * ------------------------------------------------------------------------- */

typedef struct {
    apr_int64_t id;
    const char *public_id;
    apr_int64_t user_id;            /* 0: none (endpoint declared in httpd.conf) */
    apr_int64_t connection_id;
    const char *name;
    const char *scope_kind;         /* "company" | "client" */
    const char *company_id;
    const char *company_name;
    const char *client_id;          /* NULL for company scope */
    const char *client_name;
    const char *access_mode;        /* "read-only" | "read-write" */
    const char *status;             /* "active" | "inactive" */
    apr_int64_t expires_at;         /* 0: never */
    const char *ip_allow;           /* CIDR list text or NULL */
    int rate_limit;                 /* 0: server default */
    int managed_by_config;
    apr_int64_t created_at;
    apr_int64_t updated_at;
    apr_int64_t rotated_at;
    apr_int64_t last_used_at;
    /* joined */
    const char *provider;           /* the connection's */
    const char *connection_status;  /* active | reauthorization_required | disconnected */
    const char *account_id;         /* the connection's provider account */
    apr_int64_t key_id;             /* by key: the matched key; else the current one */
    const char *key_hint;           /* (0 / NULL when there is none) */
    apr_int64_t key_expires_at;     /* 0: current key (no expiry) */
} ca_endpoint_t;

/* Endpoint of a usable key: key_hash matches a key that is not revoked and not
 * expired at now. CA_DB_ENOTFOUND otherwise. The caller still checks that
 * (*ep)->public_id is the endpoint of the URL, the endpoint's status and expiry,
 * and the connection's status. */
apr_status_t ca_store_endpoint_by_key(apr_pool_t *pool, ca_db_t *db,
                                      const char *key_hash, apr_int64_t now,
                                      ca_endpoint_t **ep, const char **perr);
/* Endpoint by public id or by id, with its current key's id and hint. */
apr_status_t ca_store_endpoint_by_public_id(apr_pool_t *pool, ca_db_t *db,
                                            const char *public_id,
                                            ca_endpoint_t **ep, const char **perr);
apr_status_t ca_store_endpoint_by_id(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                     ca_endpoint_t **ep, const char **perr);
/* Endpoints of a user (*eps: ca_endpoint_t *), oldest first. */
apr_status_t ca_store_endpoints_by_user(apr_pool_t *pool, ca_db_t *db,
                                        apr_int64_t user_id,
                                        apr_array_header_t **eps, const char **perr);
/* Endpoints ordered by id, after after_id, at most limit (1..1000; default 50) of
 * them (*eps: ca_endpoint_t *). */
apr_status_t ca_store_endpoints_page(apr_pool_t *pool, ca_db_t *db, apr_int64_t after_id,
                                     int limit, apr_array_header_t **eps,
                                     const char **perr);

/* Insert ep (public_id, user_id, connection_id, name, scope, access_mode, status
 * ("active" if NULL), expires_at, ip_allow, rate_limit, managed_by_config) and
 * its first key, in one transaction. Sets ep->id, created_at, updated_at. */
apr_status_t ca_store_endpoint_create(apr_pool_t *pool, ca_db_t *db,
                                      ca_endpoint_t *ep, const char *key_hash,
                                      const char *key_hint, apr_int64_t now,
                                      const char **perr);

/* "active" / "inactive"; CA_DB_ENOTFOUND for an unknown id. */
apr_status_t ca_store_endpoint_set_status(apr_pool_t *pool, ca_db_t *db,
                                          apr_int64_t id, const char *status,
                                          apr_int64_t now, const char **perr);

#define CA_STORE_MAX_GRACE 86400    /* seconds a reissued key's predecessor may live */

/* Reissue, in one transaction: keys still in an earlier grace period end now,
 * the current key expires at now + grace_sec (0: at once; at most
 * CA_STORE_MAX_GRACE, else APR_EINVAL), the new key becomes current, and
 * rotated_at is set. CA_DB_ENOTFOUND for an unknown endpoint id. */
apr_status_t ca_store_endpoint_reissue_key(apr_pool_t *pool, ca_db_t *db,
                                           apr_int64_t endpoint_id,
                                           const char *key_hash,
                                           const char *key_hint, apr_int64_t now,
                                           apr_int64_t grace_sec, const char **perr);

/* Delete an endpoint with its keys and idempotency records (explicitly, so that
 * it does not depend on sqlite3's foreign-key pragma). Its request logs stay
 * until the retention purge. CA_DB_ENOTFOUND for an unknown id. */
apr_status_t ca_store_endpoint_delete(apr_pool_t *pool, ca_db_t *db,
                                      apr_int64_t id, const char **perr);

/* Make the database match an endpoint declared in httpd.conf, in one
 * transaction: upsert by public id (managed_by_config = 1, active), its key
 * (key_hash) current, every other key of it revoked. CA_DB_ECONSTRAINT when the
 * public id belongs to a dashboard endpoint, the key hash to another endpoint, or
 * the connection does not exist. Sets ep->id. */
apr_status_t ca_store_endpoint_sync_config(apr_pool_t *pool, ca_db_t *db,
                                           ca_endpoint_t *ep, const char *key_hash,
                                           const char *key_hint, apr_int64_t now,
                                           const char **perr);

typedef struct {
    apr_int64_t id;
    apr_int64_t user_id;
    const char *provider;
    const char *account_id;
    const char *account_label;
    const char *auth_mode;          /* e.g. "oauth2", "client_credentials", "api_key" */
    const char *access_token_enc;   /* sealed (ca_seal), never plaintext */
    const char *refresh_token_enc;
    const char *api_key_enc;
    const char *client_id;
    const char *client_secret_enc;
    const char *tenant_id;
    const char *scopes;
    apr_int64_t expires_at;         /* access token expiry, 0: unknown / none */
    const char *status;
    apr_int64_t refresh_lock_until;
    const char *refresh_lock_owner;
    apr_int64_t last_refresh_at;
    apr_int64_t created_at;
    apr_int64_t updated_at;
} ca_connection_t;

/* Insert c (status active); sets c->id, created_at, updated_at. */
apr_status_t ca_store_connection_insert(apr_pool_t *pool, ca_db_t *db,
                                        ca_connection_t *c, apr_int64_t now,
                                        const char **perr);
apr_status_t ca_store_connection_get(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                     ca_connection_t **c, const char **perr);
/* Connections of a user, ordered by id (*list: ca_connection_t *). */
apr_status_t ca_store_connections_by_user(apr_pool_t *pool, ca_db_t *db,
                                          apr_int64_t user_id, apr_array_header_t **list,
                                          const char **perr);
/* Take the refresh lock until lock_until, if free or expired at now:
 * APR_SUCCESS, or CA_DB_ENOTCLAIMED (held by someone, or no such connection). */
apr_status_t ca_store_connection_claim_refresh(apr_pool_t *pool, ca_db_t *db,
                                               apr_int64_t id, const char *owner,
                                               apr_int64_t now, apr_int64_t lock_until,
                                               const char **perr);
/* Release the lock if owner holds it (CA_DB_ENOTCLAIMED if not). */
apr_status_t ca_store_connection_release_refresh(apr_pool_t *pool, ca_db_t *db,
                                                 apr_int64_t id, const char *owner,
                                                 const char **perr);
/* Delete a connection with its endpoints, their keys and idempotency records. */
apr_status_t ca_store_connection_delete(apr_pool_t *pool, ca_db_t *db,
                                        apr_int64_t id, const char **perr);

typedef struct {
    apr_int64_t id;
    const char *email;
    const char *password_hash;
    const char *role;               /* "admin" | "member" */
    apr_int64_t created_at;
    apr_int64_t updated_at;
    apr_int64_t disabled_at;        /* 0: enabled */
    int failed_logins;
    apr_int64_t locked_until;       /* 0: not locked */
} ca_user_t;

/* Emails are stored and looked up with ASCII letters lower-cased.
 * A second account with the same email: CA_DB_ECONSTRAINT. */
apr_status_t ca_store_user_create(apr_pool_t *pool, ca_db_t *db, const char *email,
                                  const char *password_hash, const char *role,
                                  apr_int64_t now, apr_int64_t *id, const char **perr);
apr_status_t ca_store_user_by_email(apr_pool_t *pool, ca_db_t *db, const char *email,
                                    ca_user_t **u, const char **perr);
apr_status_t ca_store_user_by_id(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                 ca_user_t **u, const char **perr);
/* Users ordered by id, after after_id, at most limit (1..1000; default 50) of them
 * (*list: ca_user_t *). */
apr_status_t ca_store_users_page(apr_pool_t *pool, ca_db_t *db, apr_int64_t after_id,
                                 int limit, apr_array_header_t **list, const char **perr);
/* Delete an account and everything it owns (sessions, OAuth states,
 * connections, endpoints, keys, idempotency records, request logs of its
 * endpoints, login attempts of its email), in one transaction. Audit events
 * stay (until their purge). CA_DB_ENOTFOUND for an unknown id. */
apr_status_t ca_store_user_delete(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                  const char **perr);

typedef struct {
    const char *id_hash;
    apr_int64_t user_id;
    const char *csrf_token_hash;
    apr_int64_t created_at;
    apr_int64_t last_seen_at;
    apr_int64_t expires_at;
    const char *ip;
    const char *user_agent;
    const char *email;              /* the user's */
    const char *role;
    apr_int64_t user_disabled_at;
} ca_session_t;

/* A session that has not expired at now, with its user. */
apr_status_t ca_store_session_get(apr_pool_t *pool, ca_db_t *db, const char *id_hash,
                                  apr_int64_t now, ca_session_t **s,
                                  const char **perr);

typedef struct {
    const char *state_hash;
    const char *session_id_hash;
    apr_int64_t user_id;
    const char *provider;
    const char *code_verifier_enc;
    const char *redirect_after;
    apr_int64_t created_at;
    apr_int64_t expires_at;
} ca_oauth_state_t;

/* Mark the state used and return it: succeeds once per state, before expiry;
 * CA_DB_ENOTFOUND for unknown, used or expired states. */
apr_status_t ca_store_oauth_state_consume(apr_pool_t *pool, ca_db_t *db,
                                          const char *state_hash, apr_int64_t now,
                                          ca_oauth_state_t **st, const char **perr);

typedef struct {
    apr_int64_t endpoint_id;
    const char *idem_key_hash;
    const char *request_hash;
    int status;                     /* 0: in progress (no response stored yet) */
    const char *headers;
    const char *body;
    apr_int64_t created_at;
    apr_int64_t expires_at;
} ca_idem_record_t;

/* Claim an Idempotency-Key for a write: APR_SUCCESS (go ahead, then
 * CA_SQL_IDEM_COMPLETE or CA_SQL_IDEM_RELEASE), or CA_DB_ENOTCLAIMED when a
 * live record exists (read it with ca_store_idem_get). */
apr_status_t ca_store_idem_claim(apr_pool_t *pool, ca_db_t *db,
                                 apr_int64_t endpoint_id, const char *key_hash,
                                 const char *request_hash, apr_int64_t now,
                                 apr_int64_t expires_at, const char **perr);
apr_status_t ca_store_idem_get(apr_pool_t *pool, ca_db_t *db,
                               apr_int64_t endpoint_id, const char *key_hash,
                               apr_int64_t now, ca_idem_record_t **rec,
                               const char **perr);

typedef struct {
    apr_int64_t id;                 /* set by the database */
    const char *endpoint_id;        /* public id */
    apr_int64_t ts;
    const char *method;
    const char *resource;
    const char *record_id;
    int status;
    apr_int64_t item_count;         /* -1: none (NULL) */
    apr_int64_t duration_us;
    const char *query;              /* already redacted by the caller */
    const char *error_code;
    const char *error_detail;
    const char *client_ip;
    const char *user_agent;
    const char *request_id;
} ca_request_log_t;

apr_status_t ca_store_request_log_insert(apr_pool_t *pool, ca_db_t *db,
                                         const ca_request_log_t *log,
                                         const char **perr);

/* The most rows ca_store_request_logs_write takes at once. */
#define CA_STORE_LOG_BATCH_MAX 256

/* Write n (1..CA_STORE_LOG_BATCH_MAX) request logs and add them to their hourly rollups, in
 * one transaction, with as few statements as the sizes 256, 128, ..., 1 allow. Idempotent:
 * a row whose request_id is already stored (a batch written again after a crash, a replayed
 * spool) is skipped and not counted twice. Every row needs a request_id (CA_DB_EARG
 * otherwise). *written (may be NULL) = rows inserted. */
apr_status_t ca_store_request_logs_write(apr_pool_t *pool, ca_db_t *db,
                                         const ca_request_log_t *const *rows, int n,
                                         int *written, const char **perr);

/* Recompute the rollups of the hours from since (rounded down to the hour) from the raw
 * request logs, in one transaction (`clientapi rollup rebuild`). *groups (may be NULL) =
 * rollup rows written. Logs already purged cannot be recounted: rebuild no further back
 * than the retention. */
apr_status_t ca_store_rollups_rebuild(apr_pool_t *pool, ca_db_t *db, apr_int64_t since,
                                      int *groups, const char **perr);

/* Duration histogram of the rollups: CA_ROLLUP_BUCKETS buckets; bucket i holds durations d
 * with bound[i-1] < d <= bound[i] (bound[-1] = 0, the last bucket has no upper bound). */
#define CA_ROLLUP_BUCKETS 24
extern const apr_int64_t ca_rollup_bounds_us[CA_ROLLUP_BUCKETS - 1];
int ca_rollup_bucket(apr_int64_t duration_us);
/* Nearest-rank percentile (q in 0..1) of a histogram, interpolated linearly inside its
 * bucket, in microseconds; -1 for an empty histogram. Exact when the durations of a bucket
 * are spread evenly; otherwise off by at most the bucket's width. */
double ca_rollup_percentile_us(const apr_int64_t *hist, double q);

/* Filters for listing logs; zero / NULL fields do not filter. Newest first;
 * to page, pass the last row's ts and id as cursor_ts / cursor_id. */
typedef struct {
    const char *endpoint_id;        /* public id; NULL: every endpoint */
    apr_int64_t since;              /* ts >= since */
    apr_int64_t until;              /* ts < until */
    int status_min;                 /* status >= */
    int status_max;                 /* status <= */
    const char *method;
    const char *resource;
    apr_int64_t cursor_ts;          /* rows strictly after (cursor_ts, cursor_id) */
    apr_int64_t cursor_id;
    int limit;                      /* 0: 50; capped at 1000 */
} ca_log_filter_t;

/* *logs: ca_request_log_t * */
apr_status_t ca_store_request_logs_list(apr_pool_t *pool, ca_db_t *db,
                                        const ca_log_filter_t *f,
                                        apr_array_header_t **logs, const char **perr);

/* Append an audit event (user_id 0: none). */
apr_status_t ca_store_audit(apr_pool_t *pool, ca_db_t *db, apr_int64_t user_id,
                            const char *actor_email, const char *action,
                            const char *target_kind, const char *target_id,
                            const char *detail, const char *ip, apr_int64_t now,
                            const char **perr);

/* Retention: delete request logs older than now - log_retention_sec (in batches,
 * so no single statement holds locks long; log_retention_sec <= 0 keeps logs),
 * expired sessions, OAuth states, idempotency records, login attempts older than a
 * day and keys that ended more than 30 days ago. *purged (may be NULL) = rows. */
apr_status_t ca_store_purge(apr_pool_t *pool, ca_db_t *db, apr_int64_t now,
                            apr_int64_t log_retention_sec, apr_int64_t *purged,
                            const char **perr);


/* ---------------------------------------------------------------------------
 * Dashboard, sessions, login throttling, contact form
 * (mod_clientapi_dashboard.c, mod_clientapi_session.c, mod_clientapi_contact.c)
 * ------------------------------------------------------------------------- */

/* Statements (arguments in order; "i" = integer, "s" = text). */
#define CA_SQL_CONNECTIONS_LIST       "ca_connections_list"
    /* i user_id (twice; NULL: every user), i after_id, i limit -> id, user_id,
     * provider, account_id, account_label, auth_mode, scopes, expires_at, status,
     * last_refresh_at, created_at, updated_at, u.email, has_credentials (0/1),
     * endpoint count. No sealed column is selected. */
#define CA_SQL_ENDPOINTS_LIST         "ca_endpoints_list"
    /* i user_id (twice; NULL: every user), i after_id, i limit -> the 26
     * ENDPOINT columns + the owner's email */
#define CA_SQL_REQUEST_LOGS_BY_USER   "ca_request_logs_by_user"
    /* i user_id (logs of the endpoints the user owns), then the arguments of
     * CA_SQL_REQUEST_LOGS_ALL */
#define CA_SQL_REQUEST_LOG_GET        "ca_request_log_get"       /* i id -> LOG */
#define CA_SQL_USAGE_ENDPOINT         "ca_usage_endpoint"
    /* i bucket_sec (twice), s endpoint, i since, i until -> bucket_start,
     * requests, errors_4xx, errors_5xx, items (per bucket, oldest first) */
#define CA_SQL_USAGE_USER             "ca_usage_user"
    /* i bucket_sec (twice), i user_id, i since, i until -> as above */
#define CA_SQL_USAGE_ALL              "ca_usage_all"
    /* i bucket_sec (twice), i since, i until -> as above */
#define CA_SQL_CONTACTS_COUNT_BY_IP   "ca_contacts_count_by_ip"
    /* s ip, i since -> count */

/* A provider connection as the dashboard lists it: never a secret. */
typedef struct {
    apr_int64_t id;
    apr_int64_t user_id;
    const char *provider;
    const char *account_id;
    const char *account_label;
    const char *auth_mode;
    const char *scopes;
    apr_int64_t expires_at;         /* 0: unknown / none */
    const char *status;
    apr_int64_t last_refresh_at;
    apr_int64_t created_at;
    apr_int64_t updated_at;
    const char *owner_email;
    int has_credentials;            /* some sealed secret is stored */
    int endpoint_count;
} ca_connection_info_t;

/* Connections ordered by id, after after_id, at most limit (1..1000) of them;
 * user_id 0: every user's. *list: ca_connection_info_t *. */
apr_status_t ca_store_connections_list(apr_pool_t *pool, ca_db_t *db,
                                       apr_int64_t user_id, apr_int64_t after_id,
                                       int limit, apr_array_header_t **list,
                                       const char **perr);

/* An endpoint with its owner's email (NULL when it has no owner). */
typedef struct {
    ca_endpoint_t *ep;
    const char *owner_email;
} ca_endpoint_listed_t;

/* Endpoints ordered by id, after after_id, at most limit (1..1000); user_id 0:
 * every user's. *list: ca_endpoint_listed_t. */
apr_status_t ca_store_endpoints_list(apr_pool_t *pool, ca_db_t *db,
                                     apr_int64_t user_id, apr_int64_t after_id,
                                     int limit, apr_array_header_t **list,
                                     const char **perr);

/* Keys of an endpoint, newest first (hints only). */
typedef struct {
    apr_int64_t id;
    const char *key_hint;
    apr_int64_t created_at;
    apr_int64_t expires_at;         /* 0: current key */
    apr_int64_t revoked_at;         /* 0: not revoked */
} ca_key_info_t;

/* *keys: ca_key_info_t * */
apr_status_t ca_store_keys_by_endpoint(apr_pool_t *pool, ca_db_t *db,
                                       apr_int64_t endpoint_id,
                                       apr_array_header_t **keys, const char **perr);

/* As ca_store_request_logs_list, restricted to the logs of the endpoints that
 * user_id owns (f->endpoint_id is ignored). */
apr_status_t ca_store_request_logs_of_user(apr_pool_t *pool, ca_db_t *db,
                                           apr_int64_t user_id,
                                           const ca_log_filter_t *f,
                                           apr_array_header_t **logs,
                                           const char **perr);

/* One request log row; CA_DB_ENOTFOUND for an unknown id. */
apr_status_t ca_store_request_log_get(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                      ca_request_log_t **log, const char **perr);

/* Usage per time bucket, read from the hourly rollups (request_rollups) of the hours
 * that start in [since rounded down to the hour, until): of one endpoint (endpoint_id,
 * public id), else of the endpoints user_id owns (user_id != 0), else of every endpoint.
 * Only buckets with requests. bucket_sec is a multiple of 3600. */
typedef struct {
    apr_int64_t t;                  /* bucket start: ts rounded down to bucket_sec */
    apr_int64_t requests;
    apr_int64_t errors_4xx;
    apr_int64_t errors_5xx;
    apr_int64_t items;              /* sum of item counts */
    apr_int64_t status_2xx;
    apr_int64_t status_3xx;
    apr_int64_t duration_us;        /* sum of durations */
    apr_int64_t hist[CA_ROLLUP_BUCKETS];
} ca_usage_bucket_t;

/* *buckets: ca_usage_bucket_t, oldest first. bucket_sec >= 1. */
apr_status_t ca_store_usage(apr_pool_t *pool, ca_db_t *db, const char *endpoint_id,
                            apr_int64_t user_id, apr_int64_t since, apr_int64_t until,
                            apr_int64_t bucket_sec, apr_array_header_t **buckets,
                            const char **perr);

/* users: login throttling and password change */
apr_status_t ca_store_user_login_failed(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                        int max_failures, apr_int64_t lock_until,
                                        apr_int64_t now, const char **perr);
apr_status_t ca_store_user_login_ok(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                    const char **perr);
/* One transaction: new password hash, every session of the user ended, login
 * lock lifted. *ended (may be NULL) = sessions deleted. */
apr_status_t ca_store_user_set_password(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                        const char *password_hash, apr_int64_t now,
                                        int *ended, const char **perr);
/* Record a login attempt (email lower-cased; email or ip may be NULL). */
apr_status_t ca_store_login_attempt(apr_pool_t *pool, ca_db_t *db, const char *email,
                                    const char *ip, apr_int64_t ts, int success,
                                    const char **perr);
/* Failed attempts since `since` by address / by (lower-cased) email. */
apr_status_t ca_store_login_failures_by_ip(apr_pool_t *pool, ca_db_t *db,
                                           const char *ip, apr_int64_t since,
                                           apr_int64_t *count, const char **perr);
apr_status_t ca_store_login_failures_by_email(apr_pool_t *pool, ca_db_t *db,
                                              const char *email, apr_int64_t since,
                                              apr_int64_t *count, const char **perr);

/* sessions: s->id_hash, user_id, csrf_token_hash, created_at, last_seen_at,
 * expires_at, ip, user_agent are stored. */
apr_status_t ca_store_session_insert(apr_pool_t *pool, ca_db_t *db,
                                     const ca_session_t *s, const char **perr);
apr_status_t ca_store_session_touch(apr_pool_t *pool, ca_db_t *db, const char *id_hash,
                                    apr_int64_t now, apr_int64_t expires_at,
                                    const char **perr);
/* Deleting a session that does not exist is not an error. */
apr_status_t ca_store_session_delete(apr_pool_t *pool, ca_db_t *db, const char *id_hash,
                                     const char **perr);

/* contact messages */
typedef struct {
    apr_int64_t id;
    const char *name;
    const char *email;
    const char *company;            /* NULL when not given */
    const char *message;
    const char *ip;
    apr_int64_t created_at;
    apr_int64_t handled_at;         /* 0: not handled */
} ca_contact_t;

/* Store a message (c->id and c->created_at are set from now). */
apr_status_t ca_store_contact_insert(apr_pool_t *pool, ca_db_t *db, ca_contact_t *c,
                                     apr_int64_t now, const char **perr);
/* Messages stored from ip since `since`. */
apr_status_t ca_store_contacts_count_by_ip(apr_pool_t *pool, ca_db_t *db,
                                           const char *ip, apr_int64_t since,
                                           apr_int64_t *count, const char **perr);
/* Newest first, ids below before_id (0: from the newest), at most limit
 * (1..1000). *list: ca_contact_t * */
apr_status_t ca_store_contacts_page(apr_pool_t *pool, ca_db_t *db,
                                    apr_int64_t before_id, int limit,
                                    apr_array_header_t **list, const char **perr);
/* Mark handled at `at` (0: not handled). CA_DB_ENOTFOUND for an unknown id. */
apr_status_t ca_store_contact_set_handled(apr_pool_t *pool, ca_db_t *db,
                                          apr_int64_t id, apr_int64_t at,
                                          const char **perr);
apr_status_t ca_store_contact_delete(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                     const char **perr);

/* audit trail */
typedef struct {
    apr_int64_t id;
    apr_int64_t user_id;            /* 0: system / configuration */
    const char *actor_email;
    const char *action;
    const char *target_kind;
    const char *target_id;
    const char *detail;
    const char *ip;
    apr_int64_t created_at;
} ca_audit_event_t;

/* Newest first, ids below before_id (0: from the newest); NULL / 0 filters
 * match every event; at most limit (1..1000). *list: ca_audit_event_t * */
apr_status_t ca_store_audit_page(apr_pool_t *pool, ca_db_t *db, apr_int64_t before_id,
                                 const char *target_kind, const char *target_id,
                                 apr_int64_t user_id, int limit,
                                 apr_array_header_t **list, const char **perr);

/* ---------------------------------------------------------------------------
 * Provider connections: connect, reconnect, disconnect (mod_clientapi_connect.c)
 * ------------------------------------------------------------------------- */

#define CA_SQL_CONNECTION_FIND        "ca_connection_find"
    /* i user_id, s provider, s account_id -> id (the oldest such connection) */
#define CA_SQL_CONNECTION_SET_SECRETS "ca_connection_set_secrets"
    /* s account_label, s auth_mode, s access_enc, s refresh_enc, s api_key_enc,
     * s client_id, s client_secret_enc, s tenant_id, s scopes, i expires_at, i now,
     * i id: every credential column set exactly as given (NULL clears it), status
     * active, refresh lock released (a refresh of the old credentials in flight can
     * then no longer store its result) */
#define CA_SQL_ENDPOINTS_DEACTIVATE_FOR_CONNECTION "ca_endpoints_deactivate_for_connection"
    /* i now, i conn_id: active endpoints of the connection become inactive, except
     * those declared in httpd.conf (managed_by_config = 1) */

#ifdef __cplusplus
}
#endif

#endif /* CA_STORE_H */
