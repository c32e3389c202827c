/*
 * ca_store.c - statements and storage access over apr_dbd. See ca_store.h.
 *
 * Driver notes that shape this file (apr-util 1.6):
 * - pgsql declares "%s" parameters as varchar and "%lld" as bigint; sqlite3 binds
 *   every apr_dbd_pselect argument as text but apr_dbd_pbselect arguments by type,
 *   so arguments go through apr_dbd_pb{select,query} with real int64 values.
 * - pgsql returns "" for NULL from apr_dbd_get_entry, so values are read with
 *   apr_dbd_datum_get, which reports NULL (APR_ENOENT) on both drivers.
 * - pgsql with random = 0 sends the query asynchronously and loses its errors;
 *   selects here always use random = 1 and read every row.
 * - sqlite3 cannot execute a statement that returns rows with apr_dbd_pquery, so
 *   ca_db_exec runs SELECT / RETURNING statements as selects.
 * - a pgsql connection reset by apr_dbd_check_conn (mod_dbd does it) loses its
 *   prepared statements; they are prepared again on "does not exist".
 */
#include "ca_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))
/* the widest statement: a 256-row request-log insert (256 x 14 arguments) */
#define MAX_ARGS 4096

/* ---------------------------------------------------------------------------
 * Statements
 * ------------------------------------------------------------------------- */

#define EP_COLS \
    "e.id, e.public_id, e.user_id, e.connection_id, e.name, e.scope_kind, " \
    "e.company_id, e.company_name, e.client_id, e.client_name, e.access_mode, " \
    "e.status, e.expires_at, e.ip_allow, e.rate_limit, e.managed_by_config, " \
    "e.created_at, e.updated_at, e.rotated_at, e.last_used_at, c.provider, " \
    "c.status, c.account_id, k.id, k.key_hint, k.expires_at"
#define EP_NCOLS 26

/* endpoints with their connection and current key */
#define EP_FROM_CURRENT \
    " FROM endpoints e JOIN provider_connections c ON c.id = e.connection_id" \
    " LEFT JOIN endpoint_keys k ON k.endpoint_id = e.id" \
    " AND k.expires_at IS NULL AND k.revoked_at IS NULL"

#define CONN_COLS \
    "id, user_id, provider, account_id, account_label, auth_mode, " \
    "access_token_enc, refresh_token_enc, api_key_enc, client_id, " \
    "client_secret_enc, tenant_id, scopes, expires_at, status, " \
    "refresh_lock_until, refresh_lock_owner, last_refresh_at, created_at, updated_at"
#define CONN_NCOLS 20

#define LOG_COLS \
    "id, endpoint_id, ts, method, resource, record_id, status, item_count, " \
    "duration_us, query, error_code, error_detail, client_ip, user_agent, request_id"
#define LOG_NCOLS 15

#define LOG_FILTERS \
    " ts >= %lld AND ts < %lld AND status >= %lld AND status <= %lld" \
    " AND (%s IS NULL OR method = %s) AND (%s IS NULL OR resource = %s)" \
    " AND (ts < %lld OR (ts = %lld AND id < %lld))" \
    " ORDER BY ts DESC, id DESC LIMIT %lld"

#define USER_COLS \
    "id, email, password_hash, role, created_at, updated_at, disabled_at, " \
    "failed_logins, locked_until"
#define USER_NCOLS 9

#define IDEM_COLS \
    "endpoint_id, idem_key_hash, request_hash, status, headers, body, " \
    "created_at, expires_at"
#define IDEM_NCOLS 8

/* endpoints that hang off a connection */
#define EP_OF_CONN "(SELECT id FROM endpoints WHERE connection_id = %lld)"

/* usage per bucket: 4xx, 5xx, items */
#define USAGE_SUMS \
    " sum(CASE WHEN status >= 400 AND status < 500 THEN 1 ELSE 0 END)," \
    " sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END), sum(COALESCE(item_count, 0))"

/* request-log batches: one row of the multi-row insert (the 14 LOG columns after id) */
#define LOG_INSERT_COLS \
    "INSERT INTO request_logs (endpoint_id, ts, method, resource, record_id, status," \
    " item_count, duration_us, query, error_code, error_detail, client_ip, user_agent," \
    " request_id) VALUES "
#define LR1 "(%s, %lld, %s, %s, %s, %lld, %lld, %lld, %s, %s, %s, %s, %s, %s)"
#define LR2 LR1 ", " LR1
#define LR4 LR2 ", " LR2
#define LR8 LR4 ", " LR4
#define LR16 LR8 ", " LR8
#define LR32 LR16 ", " LR16
#define LR64 LR32 ", " LR32
#define LR128 LR64 ", " LR64
#define LR256 LR128 ", " LR128
/* a row already stored (same request_id: a replay) is skipped; the ids inserted come back */
#define LOG_BATCH(rows) \
    LOG_INSERT_COLS rows " ON CONFLICT (request_id) DO NOTHING RETURNING request_id"

/* request_rollups: counters and the duration histogram (bounds in ca_rollup_bounds_us) */
#define ROLLUP_COLS \
    "requests, status_2xx, status_3xx, status_4xx, status_5xx, items, duration_us," \
    " h00, h01, h02, h03, h04, h05, h06, h07, h08, h09, h10, h11," \
    " h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22, h23"
#define ROLLUP_ADD(c) " " #c " = request_rollups." #c " + excluded." #c
#define ROLLUP_UPSERT \
    " ON CONFLICT (endpoint_id, hour_start) DO UPDATE SET" \
    ROLLUP_ADD(requests) "," ROLLUP_ADD(status_2xx) "," ROLLUP_ADD(status_3xx) "," \
    ROLLUP_ADD(status_4xx) "," ROLLUP_ADD(status_5xx) "," ROLLUP_ADD(items) "," \
    ROLLUP_ADD(duration_us) "," ROLLUP_ADD(h00) "," ROLLUP_ADD(h01) "," ROLLUP_ADD(h02) "," \
    ROLLUP_ADD(h03) "," ROLLUP_ADD(h04) "," ROLLUP_ADD(h05) "," ROLLUP_ADD(h06) "," \
    ROLLUP_ADD(h07) "," ROLLUP_ADD(h08) "," ROLLUP_ADD(h09) "," ROLLUP_ADD(h10) "," \
    ROLLUP_ADD(h11) "," ROLLUP_ADD(h12) "," ROLLUP_ADD(h13) "," ROLLUP_ADD(h14) "," \
    ROLLUP_ADD(h15) "," ROLLUP_ADD(h16) "," ROLLUP_ADD(h17) "," ROLLUP_ADD(h18) "," \
    ROLLUP_ADD(h19) "," ROLLUP_ADD(h20) "," ROLLUP_ADD(h21) "," ROLLUP_ADD(h22) "," \
    ROLLUP_ADD(h23)
/* the same counters computed from request_logs (rebuild); must match ca_rollup_bucket() */
#define HB(lo, hi) \
    " sum(CASE WHEN duration_us > " #lo " AND duration_us <= " #hi " THEN 1 ELSE 0 END),"
#define ROLLUP_FROM_LOGS \
    " count(*), sum(CASE WHEN status >= 200 AND status < 300 THEN 1 ELSE 0 END)," \
    " sum(CASE WHEN status >= 300 AND status < 400 THEN 1 ELSE 0 END)," \
    " sum(CASE WHEN status >= 400 AND status < 500 THEN 1 ELSE 0 END)," \
    " sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END)," \
    " sum(COALESCE(item_count, 0)), sum(duration_us)," \
    " sum(CASE WHEN duration_us <= 500 THEN 1 ELSE 0 END)," \
    HB(500, 1000) HB(1000, 2000) HB(2000, 3000) HB(3000, 5000) HB(5000, 7500) \
    HB(7500, 10000) HB(10000, 15000) HB(15000, 20000) HB(20000, 30000) HB(30000, 50000) \
    HB(50000, 75000) HB(75000, 100000) HB(100000, 150000) HB(150000, 200000) \
    HB(200000, 300000) HB(300000, 500000) HB(500000, 750000) HB(750000, 1000000) \
    HB(1000000, 2000000) HB(2000000, 5000000) HB(5000000, 10000000) \
    HB(10000000, 30000000) \
    " sum(CASE WHEN duration_us > 30000000 THEN 1 ELSE 0 END)"
/* usage per bucket from the rollups: bucket, requests, 4xx, 5xx, items, 2xx, 3xx,
 * duration sum, h00..h23 (32 columns) */
#define RS(c) " sum(" #c "),"
#define USAGE_ROLLUP_SUMS \
    RS(requests) RS(status_4xx) RS(status_5xx) RS(items) RS(status_2xx) RS(status_3xx) \
    RS(duration_us) RS(h00) RS(h01) RS(h02) RS(h03) RS(h04) RS(h05) RS(h06) RS(h07) \
    RS(h08) RS(h09) RS(h10) RS(h11) RS(h12) RS(h13) RS(h14) RS(h15) RS(h16) RS(h17) \
    RS(h18) RS(h19) RS(h20) RS(h21) RS(h22) " sum(h23)"
#define USAGE_NCOLS 32

const ca_statement_t ca_store_statements[] = {
    /* --- endpoints ------------------------------------------------------ */
    {CA_SQL_ENDPOINT_BY_KEY,
     "SELECT " EP_COLS
     " FROM endpoint_keys k JOIN endpoints e ON e.id = k.endpoint_id"
     " JOIN provider_connections c ON c.id = e.connection_id"
     " WHERE k.key_hash = %s AND k.revoked_at IS NULL"
     " AND (k.expires_at IS NULL OR k.expires_at > %lld)"},
    {CA_SQL_ENDPOINT_BY_PUBLIC_ID,
     "SELECT " EP_COLS EP_FROM_CURRENT " WHERE e.public_id = %s"},
    {CA_SQL_ENDPOINT_BY_ID,
     "SELECT " EP_COLS EP_FROM_CURRENT " WHERE e.id = %lld"},
    {CA_SQL_ENDPOINTS_BY_USER,
     "SELECT " EP_COLS EP_FROM_CURRENT " WHERE e.user_id = %lld ORDER BY e.id"},
    {CA_SQL_ENDPOINTS_BY_CONNECTION,
     "SELECT " EP_COLS EP_FROM_CURRENT " WHERE e.connection_id = %lld ORDER BY e.id"},
    {CA_SQL_ENDPOINTS_PAGE,
     "SELECT " EP_COLS EP_FROM_CURRENT " WHERE e.id > %lld ORDER BY e.id LIMIT %lld"},
    {CA_SQL_ENDPOINT_INSERT,
     "INSERT INTO endpoints (public_id, user_id, connection_id, name, scope_kind,"
     " company_id, company_name, client_id, client_name, access_mode, status,"
     " expires_at, ip_allow, rate_limit, managed_by_config, created_at, updated_at)"
     " VALUES (%s, %lld, %lld, %s, %s, %s, %s, %s, %s, %s, %s, %lld, %s, %lld, %lld,"
     " %lld, %lld) RETURNING id"},
    {CA_SQL_ENDPOINT_UPDATE,
     "UPDATE endpoints SET name = %s, access_mode = %s, expires_at = %lld,"
     " ip_allow = %s, rate_limit = %lld, updated_at = %lld WHERE id = %lld"},
    {CA_SQL_ENDPOINT_SET_STATUS,
     "UPDATE endpoints SET status = %s, updated_at = %lld WHERE id = %lld"},
    {CA_SQL_ENDPOINT_SET_ROTATED,
     "UPDATE endpoints SET rotated_at = %lld, updated_at = %lld WHERE id = %lld"},
    {CA_SQL_ENDPOINT_TOUCH,
     "UPDATE endpoints SET last_used_at = %lld WHERE id = %lld"
     " AND (last_used_at IS NULL OR last_used_at < %lld)"},
    {CA_SQL_ENDPOINT_DELETE,
     "DELETE FROM endpoints WHERE id = %lld"},
    {CA_SQL_ENDPOINT_UPSERT_CONFIG,
     "INSERT INTO endpoints (public_id, user_id, connection_id, name, scope_kind,"
     " company_id, client_id, access_mode, status, managed_by_config, created_at,"
     " updated_at)"
     " VALUES (%s, (SELECT user_id FROM provider_connections WHERE id = %lld), %lld,"
     " %s, %s, %s, %s, %s, 'active', 1, %lld, %lld)"
     " ON CONFLICT (public_id) DO UPDATE SET user_id = excluded.user_id,"
     " connection_id = excluded.connection_id, scope_kind = excluded.scope_kind,"
     " company_id = excluded.company_id, client_id = excluded.client_id,"
     " access_mode = excluded.access_mode, updated_at = excluded.updated_at"
     " WHERE endpoints.managed_by_config = 1"
     " RETURNING id"},
    {CA_SQL_ENDPOINTS_DELETE_FOR_CONNECTION,
     "DELETE FROM endpoints WHERE connection_id = %lld"},

    /* --- endpoint keys -------------------------------------------------- */
    {CA_SQL_KEY_INSERT,
     "INSERT INTO endpoint_keys (endpoint_id, key_hash, key_hint, created_at)"
     " VALUES (%lld, %s, %s, %lld)"},
    {CA_SQL_KEY_INSERT_IF_ABSENT,
     "INSERT INTO endpoint_keys (endpoint_id, key_hash, key_hint, created_at)"
     " VALUES (%lld, %s, %s, %lld) ON CONFLICT (key_hash) DO NOTHING"},
    {CA_SQL_KEY_BY_HASH,
     "SELECT id, endpoint_id, key_hint, created_at, expires_at, revoked_at"
     " FROM endpoint_keys WHERE key_hash = %s"},
    {CA_SQL_KEYS_BY_ENDPOINT,
     "SELECT id, key_hint, created_at, expires_at, revoked_at FROM endpoint_keys"
     " WHERE endpoint_id = %lld ORDER BY id DESC"},
    {CA_SQL_KEY_EXPIRE_CURRENT,
     "UPDATE endpoint_keys SET expires_at = %lld WHERE endpoint_id = %lld"
     " AND expires_at IS NULL AND revoked_at IS NULL"},
    {CA_SQL_KEY_EXPIRE_GRACED,
     "UPDATE endpoint_keys SET expires_at = %lld WHERE endpoint_id = %lld"
     " AND revoked_at IS NULL AND expires_at IS NOT NULL AND expires_at > %lld"},
    {CA_SQL_KEY_REVOKE_ALL,
     "UPDATE endpoint_keys SET revoked_at = %lld WHERE endpoint_id = %lld"
     " AND revoked_at IS NULL"},
    {CA_SQL_KEY_REVOKE_OTHERS,
     "UPDATE endpoint_keys SET revoked_at = %lld WHERE endpoint_id = %lld"
     " AND key_hash <> %s AND revoked_at IS NULL"},
    {CA_SQL_KEY_REINSTATE,
     "UPDATE endpoint_keys SET revoked_at = NULL, expires_at = NULL"
     " WHERE key_hash = %s AND endpoint_id = %lld"},
    {CA_SQL_KEYS_DELETE_FOR_ENDPOINT,
     "DELETE FROM endpoint_keys WHERE endpoint_id = %lld"},
    {CA_SQL_KEYS_DELETE_FOR_CONNECTION,
     "DELETE FROM endpoint_keys WHERE endpoint_id IN " EP_OF_CONN},
    {CA_SQL_KEYS_PURGE,
     "DELETE FROM endpoint_keys WHERE (expires_at IS NOT NULL AND expires_at < %lld)"
     " OR (revoked_at IS NOT NULL AND revoked_at < %lld)"},

    /* --- provider connections ------------------------------------------- */
    {CA_SQL_CONNECTION_INSERT,
     "INSERT INTO provider_connections (user_id, provider, account_id,"
     " account_label, auth_mode, access_token_enc, refresh_token_enc, api_key_enc,"
     " client_id, client_secret_enc, tenant_id, scopes, expires_at, status,"
     " created_at, updated_at)"
     " VALUES (%lld, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %lld, 'active',"
     " %lld, %lld) RETURNING id"},
    {CA_SQL_CONNECTION_GET,
     "SELECT " CONN_COLS " FROM provider_connections WHERE id = %lld"},
    {CA_SQL_CONNECTIONS_BY_USER,
     "SELECT " CONN_COLS " FROM provider_connections WHERE user_id = %lld"
     " ORDER BY id"},
    {CA_SQL_CONNECTION_UPDATE_TOKENS,
     "UPDATE provider_connections SET access_token_enc = %s,"
     " refresh_token_enc = COALESCE(%s, refresh_token_enc), expires_at = %lld,"
     " scopes = %s, status = 'active', last_refresh_at = %lld, updated_at = %lld"
     " WHERE id = %lld"},
    {CA_SQL_CONNECTION_STORE_REFRESH,
     "UPDATE provider_connections SET access_token_enc = %s,"
     " refresh_token_enc = COALESCE(%s, refresh_token_enc), expires_at = %lld,"
     " scopes = %s, status = 'active', last_refresh_at = %lld, updated_at = %lld,"
     " refresh_lock_until = NULL, refresh_lock_owner = NULL"
     " WHERE id = %lld AND refresh_lock_owner = %s"},
    {CA_SQL_CONNECTION_UPDATE_CREDENTIALS,
     "UPDATE provider_connections SET api_key_enc = %s, client_id = %s,"
     " client_secret_enc = %s, tenant_id = %s, status = 'active', updated_at = %lld"
     " WHERE id = %lld"},
    {CA_SQL_CONNECTION_UPDATE_ACCOUNT,
     "UPDATE provider_connections SET account_id = %s, account_label = %s,"
     " updated_at = %lld WHERE id = %lld"},
    {CA_SQL_CONNECTION_CLAIM_REFRESH,
     "UPDATE provider_connections SET refresh_lock_until = %lld,"
     " refresh_lock_owner = %s WHERE id = %lld"
     " AND (refresh_lock_until IS NULL OR refresh_lock_until < %lld)"},
    {CA_SQL_CONNECTION_RELEASE_REFRESH,
     "UPDATE provider_connections SET refresh_lock_until = NULL,"
     " refresh_lock_owner = NULL WHERE id = %lld AND refresh_lock_owner = %s"},
    {CA_SQL_CONNECTION_SET_STATUS,
     "UPDATE provider_connections SET status = %s, updated_at = %lld WHERE id = %lld"},
    {CA_SQL_CONNECTION_DISCONNECT,
     "UPDATE provider_connections SET status = 'disconnected',"
     " access_token_enc = NULL, refresh_token_enc = NULL, api_key_enc = NULL,"
     " client_secret_enc = NULL, expires_at = NULL, refresh_lock_until = NULL,"
     " refresh_lock_owner = NULL, updated_at = %lld WHERE id = %lld"},
    {CA_SQL_CONNECTION_DELETE,
     "DELETE FROM provider_connections WHERE id = %lld"},

    /* --- request logs --------------------------------------------------- */
    {CA_SQL_REQUEST_LOG_INSERT,
     "INSERT INTO request_logs (endpoint_id, ts, method, resource, record_id,"
     " status, item_count, duration_us, query, error_code, error_detail, client_ip,"
     " user_agent, request_id)"
     " VALUES (%s, %lld, %s, %s, %s, %lld, %lld, %lld, %s, %s, %s, %s, %s, %s)"},
    {CA_SQL_REQUEST_LOGS_BY_ENDPOINT,
     "SELECT " LOG_COLS " FROM request_logs WHERE endpoint_id = %s AND" LOG_FILTERS},
    {CA_SQL_REQUEST_LOGS_ALL,
     "SELECT " LOG_COLS " FROM request_logs WHERE" LOG_FILTERS},
    {CA_SQL_REQUEST_USAGE,
     "SELECT (ts / %lld) * %lld AS bucket, count(*),"
     " sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), sum(COALESCE(item_count, 0)),"
     " sum(duration_us) FROM request_logs"
     " WHERE endpoint_id = %s AND ts >= %lld AND ts < %lld"
     " GROUP BY 1 ORDER BY 1"},
    {CA_SQL_REQUEST_LOGS_PURGE,
     "DELETE FROM request_logs WHERE id IN (SELECT id FROM request_logs"
     " WHERE ts < %lld ORDER BY id LIMIT %lld)"},
    {CA_SQL_REQUEST_LOGS_DELETE_FOR_ENDPOINT,
     "DELETE FROM request_logs WHERE endpoint_id = %s"},
    {CA_SQL_REQUEST_LOGS_WRITE_1, LOG_BATCH(LR1)},
    {CA_SQL_REQUEST_LOGS_WRITE_2, LOG_BATCH(LR2)},
    {CA_SQL_REQUEST_LOGS_WRITE_4, LOG_BATCH(LR4)},
    {CA_SQL_REQUEST_LOGS_WRITE_8, LOG_BATCH(LR8)},
    {CA_SQL_REQUEST_LOGS_WRITE_16, LOG_BATCH(LR16)},
    {CA_SQL_REQUEST_LOGS_WRITE_32, LOG_BATCH(LR32)},
    {CA_SQL_REQUEST_LOGS_WRITE_64, LOG_BATCH(LR64)},
    {CA_SQL_REQUEST_LOGS_WRITE_128, LOG_BATCH(LR128)},
    {CA_SQL_REQUEST_LOGS_WRITE_256, LOG_BATCH(LR256)},
    {CA_SQL_ROLLUP_ADD,
     "INSERT INTO request_rollups (endpoint_id, hour_start, " ROLLUP_COLS ")"
     " VALUES (%s, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld,"
     " %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld,"
     " %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld)" ROLLUP_UPSERT},
    {CA_SQL_ROLLUPS_DELETE_SINCE,
     "DELETE FROM request_rollups WHERE hour_start >= %lld"},
    {CA_SQL_ROLLUPS_REBUILD,
     "INSERT INTO request_rollups (endpoint_id, hour_start, " ROLLUP_COLS ")"
     " SELECT endpoint_id, (ts / 3600) * 3600," ROLLUP_FROM_LOGS
     " FROM request_logs WHERE ts >= %lld GROUP BY endpoint_id, (ts / 3600) * 3600"
     ROLLUP_UPSERT},
    {CA_SQL_ROLLUPS_PURGE,
     "DELETE FROM request_rollups WHERE hour_start < %lld"},
    {CA_SQL_ROLLUPS_DELETE_FOR_ENDPOINT,
     "DELETE FROM request_rollups WHERE endpoint_id = %s"},

    /* --- users, login throttling ---------------------------------------- */
    {CA_SQL_USER_INSERT,
     "INSERT INTO users (email, password_hash, role, created_at, updated_at)"
     " VALUES (%s, %s, %s, %lld, %lld) RETURNING id"},
    {CA_SQL_USER_BY_EMAIL,
     "SELECT " USER_COLS " FROM users WHERE email = %s"},
    {CA_SQL_USER_BY_ID,
     "SELECT " USER_COLS " FROM users WHERE id = %lld"},
    {CA_SQL_USERS_PAGE,
     "SELECT " USER_COLS " FROM users WHERE id > %lld ORDER BY id LIMIT %lld"},
    {CA_SQL_USER_COUNT,
     "SELECT count(*) FROM users"},
    {CA_SQL_USER_SET_PASSWORD,
     "UPDATE users SET password_hash = %s, updated_at = %lld WHERE id = %lld"},
    {CA_SQL_USER_SET_ROLE,
     "UPDATE users SET role = %s, updated_at = %lld WHERE id = %lld"},
    {CA_SQL_USER_SET_DISABLED,
     "UPDATE users SET disabled_at = %lld, updated_at = %lld WHERE id = %lld"},
    {CA_SQL_USER_LOGIN_FAILED,
     "UPDATE users SET failed_logins = failed_logins + 1,"
     " locked_until = CASE WHEN failed_logins + 1 >= %lld THEN %lld"
     " ELSE locked_until END, updated_at = %lld WHERE id = %lld"},
    {CA_SQL_USER_LOGIN_OK,
     "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = %lld"},
    {CA_SQL_USER_DELETE,
     "DELETE FROM users WHERE id = %lld"},
    {CA_SQL_LOGIN_ATTEMPT_INSERT,
     "INSERT INTO login_attempts (email, ip, ts, success) VALUES (%s, %s, %lld, %lld)"},
    {CA_SQL_LOGIN_FAILURES_BY_IP,
     "SELECT count(*) FROM login_attempts WHERE ip = %s AND ts >= %lld"
     " AND success = 0"},
    {CA_SQL_LOGIN_FAILURES_BY_EMAIL,
     "SELECT count(*) FROM login_attempts WHERE email = %s AND ts >= %lld"
     " AND success = 0"},
    {CA_SQL_LOGIN_ATTEMPTS_PURGE,
     "DELETE FROM login_attempts WHERE ts < %lld"},
    {CA_SQL_LOGIN_ATTEMPTS_DELETE_FOR_EMAIL,
     "DELETE FROM login_attempts WHERE email = %s"},

    /* --- sessions ------------------------------------------------------- */
    {CA_SQL_SESSION_INSERT,
     "INSERT INTO sessions (id_hash, user_id, csrf_token_hash, created_at,"
     " last_seen_at, expires_at, ip, user_agent)"
     " VALUES (%s, %lld, %s, %lld, %lld, %lld, %s, %s)"},
    {CA_SQL_SESSION_GET,
     "SELECT s.id_hash, s.user_id, s.csrf_token_hash, s.created_at, s.last_seen_at,"
     " s.expires_at, s.ip, s.user_agent, u.email, u.role, u.disabled_at"
     " FROM sessions s JOIN users u ON u.id = s.user_id"
     " WHERE s.id_hash = %s AND s.expires_at > %lld"},
    {CA_SQL_SESSION_TOUCH,
     "UPDATE sessions SET last_seen_at = %lld, expires_at = %lld WHERE id_hash = %s"},
    {CA_SQL_SESSION_DELETE,
     "DELETE FROM sessions WHERE id_hash = %s"},
    {CA_SQL_SESSIONS_DELETE_FOR_USER,
     "DELETE FROM sessions WHERE user_id = %lld"},
    {CA_SQL_SESSIONS_PURGE,
     "DELETE FROM sessions WHERE expires_at <= %lld"},

    /* --- OAuth states --------------------------------------------------- */
    {CA_SQL_OAUTH_STATE_INSERT,
     "INSERT INTO oauth_states (state_hash, session_id_hash, user_id, provider,"
     " code_verifier_enc, redirect_after, created_at, expires_at)"
     " VALUES (%s, %s, %lld, %s, %s, %s, %lld, %lld)"},
    {CA_SQL_OAUTH_STATE_CONSUME,
     "UPDATE oauth_states SET used_at = %lld"
     " WHERE state_hash = %s AND used_at IS NULL AND expires_at > %lld"
     " RETURNING state_hash, session_id_hash, user_id, provider, code_verifier_enc,"
     " redirect_after, created_at, expires_at"},
    {CA_SQL_OAUTH_STATES_PURGE,
     "DELETE FROM oauth_states WHERE expires_at <= %lld"},
    {CA_SQL_OAUTH_STATES_DELETE_FOR_USER,
     "DELETE FROM oauth_states WHERE user_id = %lld"},

    /* --- idempotency ---------------------------------------------------- */
    {CA_SQL_IDEM_CLAIM,
     "INSERT INTO idempotency_records (endpoint_id, idem_key_hash, request_hash,"
     " created_at, expires_at) VALUES (%lld, %s, %s, %lld, %lld)"
     " ON CONFLICT (endpoint_id, idem_key_hash) DO UPDATE SET"
     " request_hash = excluded.request_hash, status = NULL, headers = NULL,"
     " body = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at"
     " WHERE idempotency_records.expires_at <= excluded.created_at"},
    {CA_SQL_IDEM_COMPLETE,
     "UPDATE idempotency_records SET status = %lld, headers = %s, body = %s"
     " WHERE endpoint_id = %lld AND idem_key_hash = %s AND status IS NULL"},
    {CA_SQL_IDEM_GET,
     "SELECT " IDEM_COLS " FROM idempotency_records"
     " WHERE endpoint_id = %lld AND idem_key_hash = %s AND expires_at > %lld"},
    {CA_SQL_IDEM_RELEASE,
     "DELETE FROM idempotency_records WHERE endpoint_id = %lld"
     " AND idem_key_hash = %s AND status IS NULL"},
    {CA_SQL_IDEM_PURGE,
     "DELETE FROM idempotency_records WHERE expires_at <= %lld"},
    {CA_SQL_IDEM_DELETE_FOR_ENDPOINT,
     "DELETE FROM idempotency_records WHERE endpoint_id = %lld"},
    {CA_SQL_IDEM_DELETE_FOR_CONNECTION,
     "DELETE FROM idempotency_records WHERE endpoint_id IN " EP_OF_CONN},

    /* --- contact messages ----------------------------------------------- */
    {CA_SQL_CONTACT_INSERT,
     "INSERT INTO contact_messages (name, email, company, message, ip, created_at)"
     " VALUES (%s, %s, %s, %s, %s, %lld) RETURNING id"},
    {CA_SQL_CONTACTS_PAGE,
     "SELECT id, name, email, company, message, ip, created_at, handled_at"
     " FROM contact_messages WHERE id < %lld ORDER BY id DESC LIMIT %lld"},
    {CA_SQL_CONTACT_SET_HANDLED,
     "UPDATE contact_messages SET handled_at = %lld WHERE id = %lld"},
    {CA_SQL_CONTACT_DELETE,
     "DELETE FROM contact_messages WHERE id = %lld"},
    {CA_SQL_CONTACTS_PURGE_HANDLED,
     "DELETE FROM contact_messages WHERE handled_at IS NOT NULL AND handled_at < %lld"},

    /* --- audit events --------------------------------------------------- */
    {CA_SQL_AUDIT_INSERT,
     "INSERT INTO audit_events (user_id, actor_email, action, target_kind,"
     " target_id, detail, ip, created_at) VALUES (%lld, %s, %s, %s, %s, %s, %s, %lld)"},
    {CA_SQL_AUDIT_PAGE,
     "SELECT id, user_id, actor_email, action, target_kind, target_id, detail, ip,"
     " created_at FROM audit_events WHERE id < %lld"
     " AND (%s IS NULL OR target_kind = %s) AND (%s IS NULL OR target_id = %s)"
     " AND (%lld IS NULL OR user_id = %lld) ORDER BY id DESC LIMIT %lld"},
    {CA_SQL_AUDIT_PURGE,
     "DELETE FROM audit_events WHERE created_at < %lld"},

    /* --- dashboard, contact form ---------------------------------------- */
    {CA_SQL_CONNECTIONS_LIST,
     "SELECT c.id, c.user_id, c.provider, c.account_id, c.account_label, c.auth_mode,"
     " c.scopes, c.expires_at, c.status, c.last_refresh_at, c.created_at, c.updated_at,"
     " u.email, CASE WHEN c.access_token_enc IS NULL AND c.refresh_token_enc IS NULL"
     " AND c.api_key_enc IS NULL AND c.client_secret_enc IS NULL THEN 0 ELSE 1 END,"
     " (SELECT count(*) FROM endpoints e WHERE e.connection_id = c.id)"
     " FROM provider_connections c JOIN users u ON u.id = c.user_id"
     " WHERE (%lld IS NULL OR c.user_id = %lld) AND c.id > %lld"
     " ORDER BY c.id LIMIT %lld"},
    {CA_SQL_ENDPOINTS_LIST,
     "SELECT " EP_COLS ", u.email" EP_FROM_CURRENT
     " LEFT JOIN users u ON u.id = e.user_id"
     " WHERE (%lld IS NULL OR e.user_id = %lld) AND e.id > %lld"
     " ORDER BY e.id LIMIT %lld"},
    {CA_SQL_REQUEST_LOGS_BY_USER,
     "SELECT " LOG_COLS " FROM request_logs WHERE endpoint_id IN"
     " (SELECT public_id FROM endpoints WHERE user_id = %lld) AND" LOG_FILTERS},
    {CA_SQL_REQUEST_LOG_GET,
     "SELECT " LOG_COLS " FROM request_logs WHERE id = %lld"},
    {CA_SQL_USAGE_ENDPOINT,
     "SELECT (hour_start / %lld) * %lld AS bucket," USAGE_ROLLUP_SUMS
     " FROM request_rollups WHERE endpoint_id = %s AND hour_start >= %lld"
     " AND hour_start < %lld GROUP BY 1 ORDER BY 1"},
    {CA_SQL_USAGE_USER,
     "SELECT (hour_start / %lld) * %lld AS bucket," USAGE_ROLLUP_SUMS
     " FROM request_rollups WHERE endpoint_id IN"
     " (SELECT public_id FROM endpoints WHERE user_id = %lld)"
     " AND hour_start >= %lld AND hour_start < %lld GROUP BY 1 ORDER BY 1"},
    {CA_SQL_USAGE_ALL,
     "SELECT (hour_start / %lld) * %lld AS bucket," USAGE_ROLLUP_SUMS
     " FROM request_rollups WHERE hour_start >= %lld AND hour_start < %lld"
     " GROUP BY 1 ORDER BY 1"},
    {CA_SQL_CONTACTS_COUNT_BY_IP,
     "SELECT count(*) FROM contact_messages WHERE ip = %s AND created_at >= %lld"},

    /* --- provider connections: connect, reconnect, disconnect ----------- */
    {CA_SQL_CONNECTION_FIND,
     "SELECT id FROM provider_connections WHERE user_id = %lld AND provider = %s"
     " AND account_id = %s ORDER BY id LIMIT 1"},
    {CA_SQL_CONNECTION_SET_SECRETS,
     "UPDATE provider_connections SET account_label = %s, auth_mode = %s,"
     " access_token_enc = %s, refresh_token_enc = %s, api_key_enc = %s, client_id = %s,"
     " client_secret_enc = %s, tenant_id = %s, scopes = %s, expires_at = %lld,"
     " status = 'active', refresh_lock_until = NULL, refresh_lock_owner = NULL,"
     " updated_at = %lld WHERE id = %lld"},
    {CA_SQL_ENDPOINTS_DEACTIVATE_FOR_CONNECTION,
     "UPDATE endpoints SET status = 'inactive', updated_at = %lld"
     " WHERE connection_id = %lld AND status = 'active' AND managed_by_config = 0"},

    {NULL, NULL}
};

const ca_statement_t *ca_store_statement(const char *label)
{
    const ca_statement_t *st;

    if (label == NULL) {
        return NULL;
    }
    for (st = ca_store_statements; st->label; st++) {
        if (strcmp(st->label, label) == 0) {
            return st;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------- */

static void set_err(const char **perr, const char *msg)
{
    if (perr) {
        *perr = msg;
    }
}

/* First line of a driver message, trimmed (PostgreSQL adds DETAIL lines that
 * may quote row values). */
static const char *first_line(apr_pool_t *pool, const char *raw)
{
    const char *s = raw ? raw : "";
    const char *nl;
    apr_size_t n;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
        s++;
    }
    nl = strpbrk(s, "\r\n");
    n = nl ? (apr_size_t)(nl - s) : strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    if (n == 0) {
        return "unknown database error";
    }
    return apr_pstrmemdup(pool, s, n);
}

static int has(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static int is_pgsql(const ca_db_t *db)
{
    return strcmp(apr_dbd_name(db->driver), "pgsql") == 0;
}

/* Messages (PostgreSQL with English lc_messages, SQLite) that mean the database
 * cannot be used right now rather than that the statement is wrong. */
static int msg_unavailable(const char *m)
{
    static const char *const pats[] = {
        "server closed the connection", "no connection to the server",
        "could not connect", "connection to server", "terminating connection",
        "could not receive data", "could not send data", "SSL SYSCALL",
        "the database system is", "connection pointer is NULL",
        "recovery is in progress", "too many clients", "connection is bad",
        "database is locked", "database table is locked", "unable to open database",
        "disk I/O error", "database or disk is full", "file is not a database",
        "database disk image is malformed", "attempt to write a readonly database",
        NULL
    };
    int i;

    for (i = 0; pats[i]; i++) {
        if (has(m, pats[i])) {
            return 1;
        }
    }
    return 0;
}

static int msg_constraint(const char *m)
{
    return (has(m, "violates") && has(m, "constraint"))   /* PostgreSQL */
           || has(m, "constraint failed");                  /* SQLite */
}

apr_status_t ca_db_error(apr_pool_t *pool, ca_db_t *db, int rc, const char *what,
                         const char **perr)
{
    const char *msg = first_line(pool, apr_dbd_error(db->driver, db->handle, rc));
    apr_status_t rv;

    if (msg_constraint(msg)) {
        rv = CA_DB_ECONSTRAINT;
    }
    else if (msg_unavailable(msg)) {
        rv = CA_DB_EUNAVAILABLE;
    }
    else if (is_pgsql(db)
             && apr_dbd_check_conn(db->driver, pool, db->handle) != APR_SUCCESS) {
        rv = CA_DB_EUNAVAILABLE;
    }
    else {
        rv = CA_DB_EQUERY;
    }
    set_err(perr, what ? apr_psprintf(pool, "%s: %s", what, msg) : msg);
    return rv;
}

/* ---------------------------------------------------------------------------
 * Connections
 * ------------------------------------------------------------------------- */

static int stmt_types(const char *sql, char *types, int max);

typedef struct {
    ca_db_t db;                 /* first: ca_db_close casts back */
    apr_pool_t *pool;
} owned_db_t;

static apr_status_t db_cleanup(void *data)
{
    owned_db_t *o = data;

    if (o->db.handle) {
        apr_dbd_close(o->db.driver, o->db.handle);
        o->db.handle = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t ca_db_connect(apr_pool_t *pool, const char *driver_name,
                           const char *params, ca_db_t **db, const char **perr)
{
    owned_db_t *o;
    const apr_dbd_driver_t *driver = NULL;
    apr_dbd_t *handle = NULL;
    const char *derr = NULL;
    apr_status_t rv;

    *db = NULL;
    if (driver_name == NULL || params == NULL) {
        set_err(perr, "database driver and parameters are required");
        return APR_EINVAL;
    }
    rv = apr_dbd_init(pool);
    if (rv != APR_SUCCESS) {
        set_err(perr, "apr_dbd_init failed");
        return rv;
    }
    rv = apr_dbd_get_driver(pool, driver_name, &driver);
    if (rv != APR_SUCCESS) {
        set_err(perr, apr_psprintf(pool, "apr_dbd driver \"%s\" is not available%s",
                                   driver_name,
                                   rv == APR_EDSOOPEN
                                   ? " (is its libaprutil1-dbd package installed?)"
                                   : ""));
        return APR_ENOTIMPL;
    }
    rv = apr_dbd_open_ex(driver, pool, params, &handle, &derr);
    if (rv != APR_SUCCESS || handle == NULL) {
        set_err(perr, apr_psprintf(pool, "cannot open %s database: %s", driver_name,
                                   first_line(pool, derr ? derr : "open failed")));
        return CA_DB_EUNAVAILABLE;
    }
    o = apr_pcalloc(pool, sizeof(*o));
    o->db.driver = driver;
    o->db.handle = handle;
    o->db.prepared = NULL;
    o->pool = pool;
    apr_pool_cleanup_register(pool, o, db_cleanup, apr_pool_cleanup_null);

    if (strcmp(driver_name, "sqlite3") == 0) {
        rv = ca_db_exec_sql(pool, &o->db, CA_DB_SQLITE3_INIT_SQL, perr);
        if (rv != APR_SUCCESS) {
            apr_pool_cleanup_run(pool, o, db_cleanup);
            return rv;
        }
    }
    *db = &o->db;
    return APR_SUCCESS;
}

apr_status_t ca_db_prepare_all(apr_pool_t *pool, ca_db_t *db, const char **perr)
{
    const ca_statement_t *st;

    if (db->prepared == NULL) {
        db->prepared = apr_hash_make(pool);
    }
    for (st = ca_store_statements; st->label; st++) {
        apr_dbd_prepared_t *stmt = NULL;
        char types[MAX_ARGS];
        int rc;

        if (stmt_types(st->sql, types, MAX_ARGS) < 0) {
            set_err(perr, apr_psprintf(pool, "%s: placeholders must be %%s or %%lld "
                                       "(at most %d)", st->label, MAX_ARGS));
            return CA_DB_ESTATEMENT;
        }
        rc = apr_dbd_prepare(db->driver, pool, db->handle, st->sql, st->label, &stmt);
        if (rc != 0 || stmt == NULL) {
            return ca_db_error(pool, db, rc,
                            apr_psprintf(pool, "cannot prepare %s", st->label), perr);
        }
        apr_hash_set(db->prepared, st->label, APR_HASH_KEY_STRING, stmt);
    }
    return APR_SUCCESS;
}

apr_status_t ca_db_open(apr_pool_t *pool, const char *driver_name,
                        const char *params, ca_db_t **db, const char **perr)
{
    apr_status_t rv = ca_db_connect(pool, driver_name, params, db, perr);

    if (rv == APR_SUCCESS) {
        rv = ca_db_prepare_all(pool, *db, perr);
        if (rv != APR_SUCCESS) {
            ca_db_close(*db);
            *db = NULL;
        }
    }
    return rv;
}

void ca_db_close(ca_db_t *db)
{
    owned_db_t *o = (owned_db_t *)db;

    if (o && o->db.handle) {
        apr_pool_cleanup_run(o->pool, o, db_cleanup);
    }
}

const char *ca_db_driver_name(const ca_db_t *db)
{
    return apr_dbd_name(db->driver);
}

/* ---------------------------------------------------------------------------
 * Arguments and execution
 * ------------------------------------------------------------------------- */

/* Placeholder types of sql ('s' text, 'i' int64), as apr_dbd_prepare reads
 * them. -1 for a placeholder other than %s / %lld, or too many. */
static int stmt_types(const char *sql, char *types, int max)
{
    const char *q;
    int n = 0;

    for (q = sql; *q; q++) {
        if (q[0] != '%') {
            continue;
        }
        if (q[1] == '%') {
            q++;
            continue;
        }
        if (!apr_isalpha(q[1])) {
            continue;
        }
        if (n >= max) {
            return -1;
        }
        if (q[1] == 's') {
            types[n++] = 's';
            q += 1;
        }
        else if (q[1] == 'l' && q[2] == 'l' && q[3] == 'd') {
            types[n++] = 'i';
            q += 3;
        }
        else {
            return -1;
        }
    }
    return n;
}

static int parse_i64(const char *s, apr_int64_t *out)
{
    char *end = NULL;
    apr_int64_t v;
    const char *p = s;

    if (s == NULL || *s == '\0') {
        return 0;
    }
    if (*p == '-') {
        p++;
    }
    if (!apr_isdigit(*p)) {
        return 0;
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0') {
        return 0;
    }
    *out = v;
    return 1;
}

const char *ca_db_i64(apr_pool_t *pool, apr_int64_t v)
{
    return apr_psprintf(pool, "%" APR_INT64_T_FMT, v);
}

apr_int64_t ca_db_col_i64(const char *col, apr_int64_t dflt)
{
    apr_int64_t v;

    return parse_i64(col, &v) ? v : dflt;
}

typedef struct {
    const ca_statement_t *st;
    apr_dbd_prepared_t *stmt;
    const void **vals;
    int returns_rows;
} bound_t;

static apr_status_t bind_args(apr_pool_t *pool, ca_db_t *db, const char *label,
                              int nargs, const char *const *args, bound_t *b,
                              const char **perr)
{
    char types[MAX_ARGS];
    int n, i;

    b->st = ca_store_statement(label);
    if (b->st == NULL) {
        set_err(perr, apr_psprintf(pool, "unknown statement %s", label ? label : "(null)"));
        return CA_DB_ESTATEMENT;
    }
    b->stmt = db->prepared
              ? apr_hash_get(db->prepared, b->st->label, APR_HASH_KEY_STRING) : NULL;
    if (b->stmt == NULL) {
        set_err(perr, apr_psprintf(pool, "statement %s is not prepared on this "
                                   "connection", b->st->label));
        return CA_DB_ESTATEMENT;
    }
    n = stmt_types(b->st->sql, types, MAX_ARGS);
    if (n < 0 || n != nargs || (nargs > 0 && args == NULL)) {
        set_err(perr, apr_psprintf(pool, "%s takes %d arguments, %d given",
                                   b->st->label, n, nargs));
        return CA_DB_EARG;
    }
    b->vals = apr_pcalloc(pool, sizeof(*b->vals) * (n > 0 ? n : 1));
    for (i = 0; i < n; i++) {
        if (args[i] == NULL) {
            b->vals[i] = NULL;
        }
        else if (types[i] == 'i') {
            apr_int64_t *v = apr_palloc(pool, sizeof(*v));
            if (!parse_i64(args[i], v)) {
                set_err(perr, apr_psprintf(pool, "%s: argument %d is not an integer",
                                           b->st->label, i + 1));
                return CA_DB_EARG;
            }
            b->vals[i] = v;
        }
        else {
            b->vals[i] = args[i];
        }
    }
    b->returns_rows = strncmp(b->st->sql, "SELECT", 6) == 0
                      || has(b->st->sql, " RETURNING ");
    return APR_SUCCESS;
}

/* pgsql: a connection that was reset has lost its prepared statements. */
static int lost_statement(ca_db_t *db, int rc)
{
    const char *m;

    if (!is_pgsql(db)) {
        return 0;
    }
    m = apr_dbd_error(db->driver, db->handle, rc);
    return m && has(m, "prepared statement") && has(m, "does not exist");
}

static void reprepare(apr_pool_t *pool, ca_db_t *db)
{
    const ca_statement_t *st;

    for (st = ca_store_statements; st->label; st++) {
        apr_dbd_prepared_t *stmt = NULL;
        (void)apr_dbd_prepare(db->driver, pool, db->handle, st->sql, st->label, &stmt);
    }
}

/* Copy every row of res into the pool (so reading drains the result set). */
static ca_db_rows_t *read_rows(apr_pool_t *pool, ca_db_t *db, apr_dbd_results_t *res)
{
    ca_db_rows_t *rows = apr_pcalloc(pool, sizeof(*rows));
    apr_dbd_row_t *row = NULL;      /* pgsql keeps its row cursor in *row */

    rows->ncols = apr_dbd_num_cols(db->driver, res);
    rows->rows = apr_array_make(pool, 4, sizeof(const char **));
    while (apr_dbd_get_row(db->driver, pool, res, &row, -1) == 0) {
        const char **vals = apr_pcalloc(pool, sizeof(*vals)
                                        * (rows->ncols > 0 ? rows->ncols : 1));
        int i;

        for (i = 0; i < rows->ncols; i++) {
            const char *v = NULL;
            if (apr_dbd_datum_get(db->driver, row, i, APR_DBD_TYPE_STRING, &v)
                == APR_SUCCESS && v != NULL) {
                vals[i] = apr_pstrdup(pool, v);
            }
        }
        APR_ARRAY_PUSH(rows->rows, const char **) = vals;
    }
    return rows;
}

static apr_status_t run(apr_pool_t *pool, ca_db_t *db, const char *label,
                        int nargs, const char *const *args, int want_rows,
                        ca_db_rows_t **rowsp, int *nrows, const char **perr)
{
    bound_t b;
    apr_dbd_results_t *res = NULL;
    ca_db_rows_t *rows;
    apr_status_t rv;
    int rc = 0, attempt, n = 0;

    if (rowsp) {
        *rowsp = NULL;
    }
    if (nrows) {
        *nrows = 0;
    }
    if (db == NULL || db->handle == NULL) {
        set_err(perr, "no database connection");
        return CA_DB_EUNAVAILABLE;
    }
    rv = bind_args(pool, db, label, nargs, args, &b, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (want_rows && !b.returns_rows) {
        set_err(perr, apr_psprintf(pool, "%s returns no rows", b.st->label));
        return CA_DB_ESTATEMENT;
    }

    for (attempt = 0; attempt < 2; attempt++) {
        res = NULL;
        if (b.returns_rows) {
            rc = apr_dbd_pbselect(db->driver, pool, db->handle, &res, b.stmt, 1,
                                  b.vals);
        }
        else {
            rc = apr_dbd_pbquery(db->driver, pool, db->handle, &n, b.stmt, b.vals);
        }
        if (rc == 0) {
            break;
        }
        if (attempt == 0 && lost_statement(db, rc)) {
            reprepare(pool, db);
            continue;
        }
        rv = ca_db_error(pool, db, rc, b.st->label, perr);
        if (attempt > 0 && perr && *perr) {
            /* inside a transaction the PREPAREs failed too (it is aborted): say what
             * happened first, so that ca_db_txn_end prepares them after its rollback */
            *perr = apr_pstrcat(pool, "prepared statement ", b.st->label, " does not exist "
                                "(the connection was reset): ", *perr, NULL);
        }
        return rv;
    }
    if (rc != 0) {
        return ca_db_error(pool, db, rc, b.st->label, perr);
    }
    if (!b.returns_rows) {
        if (nrows) {
            *nrows = n;
        }
        return APR_SUCCESS;
    }

    rows = read_rows(pool, db, res);
    if (nrows) {
        *nrows = rows->rows->nelts;
    }
    if (rowsp) {
        *rowsp = rows;
    }
    return APR_SUCCESS;
}

apr_status_t ca_db_select_rows(apr_pool_t *pool, ca_db_t *db, const char *label,
                               int nargs, const char *const *args,
                               ca_db_rows_t **rows, const char **perr)
{
    return run(pool, db, label, nargs, args, 1, rows, NULL, perr);
}

apr_status_t ca_db_select_one(apr_pool_t *pool, ca_db_t *db, const char *label,
                              int nargs, const char *const *args,
                              const char ***row, int *ncols, const char **perr)
{
    ca_db_rows_t *rows = NULL;
    apr_status_t rv = run(pool, db, label, nargs, args, 1, &rows, NULL, perr);

    *row = NULL;
    if (ncols) {
        *ncols = 0;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (ncols) {
        *ncols = rows->ncols;
    }
    if (rows->rows->nelts == 0) {
        set_err(perr, apr_psprintf(pool, "%s: no such row", label));
        return CA_DB_ENOTFOUND;
    }
    *row = CA_DB_ROW(rows, 0);
    return APR_SUCCESS;
}

apr_status_t ca_db_exec(apr_pool_t *pool, ca_db_t *db, const char *label,
                        int nargs, const char *const *args, int *nrows,
                        const char **perr)
{
    return run(pool, db, label, nargs, args, 0, NULL, nrows, perr);
}

apr_status_t ca_db_exec_sql(apr_pool_t *pool, ca_db_t *db, const char *sql,
                            const char **perr)
{
    int n = 0;
    int rc;

    if (db == NULL || db->handle == NULL) {
        set_err(perr, "no database connection");
        return CA_DB_EUNAVAILABLE;
    }
    rc = apr_dbd_query(db->driver, db->handle, &n, sql);
    if (rc != 0) {
        return ca_db_error(pool, db, rc, NULL, perr);
    }
    return APR_SUCCESS;
}

apr_status_t ca_db_select_sql(apr_pool_t *pool, ca_db_t *db, const char *sql,
                              ca_db_rows_t **rows, const char **perr)
{
    apr_dbd_results_t *res = NULL;
    int rc;

    *rows = NULL;
    if (db == NULL || db->handle == NULL) {
        set_err(perr, "no database connection");
        return CA_DB_EUNAVAILABLE;
    }
    rc = apr_dbd_select(db->driver, pool, db->handle, &res, sql, 1);
    if (rc != 0) {
        return ca_db_error(pool, db, rc, "select", perr);
    }
    *rows = read_rows(pool, db, res);
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------- */

/* The layout of apr-util 1.6's pgsql and sqlite3 transactions, read only to know whether
 * a failed BEGIN attached the transaction to its connection (handle set). */
typedef struct {
    int mode;
    int errnum;
    apr_dbd_t *handle;
} dbd_trans_layout_t;

struct ca_db_txn_t {
    ca_db_t *db;
    apr_pool_t *pool;
    apr_dbd_transaction_t *trans;
};

apr_status_t ca_db_txn_begin(apr_pool_t *pool, ca_db_t *db, ca_db_txn_t **txn,
                             const char **perr)
{
    ca_db_txn_t *t;
    int rc, attempt;

    *txn = NULL;
    if (db == NULL || db->handle == NULL) {
        set_err(perr, "no database connection");
        return CA_DB_EUNAVAILABLE;
    }
    /* the pgsql driver dereferences a NULL transaction when BEGIN fails: make
     * sure the connection is up first */
    if (is_pgsql(db) && apr_dbd_check_conn(db->driver, pool, db->handle)
                        != APR_SUCCESS) {
        set_err(perr, apr_psprintf(pool, "begin: %s",
                                   first_line(pool, apr_dbd_error(db->driver,
                                                                  db->handle, 0))));
        return CA_DB_EUNAVAILABLE;
    }
    t = apr_pcalloc(pool, sizeof(*t));
    t->db = db;
    t->pool = pool;
    for (attempt = 0;; attempt++) {
        apr_status_t rv;

        /* A pgsql connection can still look up and die before BEGIN (the server was
         * stopped): the driver then writes through the transaction pointer it did not
         * allocate. It takes one the caller passes in, so one is passed, zeroed and larger
         * than its own. (sqlite3 must get NULL: it attaches only a transaction it
         * allocates.) */
        t->trans = is_pgsql(db) ? apr_pcalloc(pool, sizeof(dbd_trans_layout_t)
                                                    + 4 * sizeof(void *))
                                : NULL;
        rc = apr_dbd_transaction_start(db->driver, pool, db->handle, &t->trans);
        if (rc == 0) {
            break;
        }
        rv = ca_db_error(pool, db, rc, "begin", perr);
        if (t->trans && ((dbd_trans_layout_t *)t->trans)->handle) {
            /* both drivers attach the transaction to the connection even when BEGIN
             * failed (pgsql: when the query could be sent): detach it, or every later
             * query on the connection fails */
            apr_dbd_transaction_mode_set(db->driver, t->trans,
                                         APR_DBD_TRANSACTION_ROLLBACK);
            (void)apr_dbd_transaction_end(db->driver, pool, t->trans);
        }
        /* A pooled pgsql connection whose server restarted looks up until its first query,
         * which is this BEGIN: nothing has run yet, so once the connection is reset (new
         * session: its statements are prepared again) BEGIN is tried once more. */
        if (attempt == 0 && rv == CA_DB_EUNAVAILABLE && is_pgsql(db)
            && apr_dbd_check_conn(db->driver, pool, db->handle) == APR_SUCCESS) {
            reprepare(pool, db);
            set_err(perr, NULL);        /* the first BEGIN's error is not this call's */
            continue;
        }
        return rv;
    }
    *txn = t;
    return APR_SUCCESS;
}

apr_status_t ca_db_txn_end(ca_db_txn_t *txn, apr_status_t rv, const char **perr)
{
    ca_db_t *db;
    int rc, n = 0;

    if (txn == NULL) {
        return rv;
    }
    db = txn->db;
    if (rv == APR_SUCCESS) {
        /* A driver error inside the transaction makes apr_dbd roll back at the
         * end and still report success; a no-op statement fails at once if such
         * an error was recorded. */
        rc = apr_dbd_query(db->driver, db->handle, &n, "SELECT 1 WHERE 1 = 0");
        if (rc != 0) {
            rv = CA_DB_EQUERY;
            set_err(perr, "transaction aborted by an earlier error");
        }
    }
    if (rv != APR_SUCCESS) {
        apr_dbd_transaction_mode_set(db->driver, txn->trans,
                                     APR_DBD_TRANSACTION_ROLLBACK);
        (void)apr_dbd_transaction_end(db->driver, txn->pool, txn->trans);
        /* a pgsql connection that was reset (the server restarted) has lost its prepared
         * statements; inside the transaction they could not be prepared again (it was
         * aborted), so it is done now: otherwise every transaction on this pooled
         * connection fails the same way until a statement outside one repairs it */
        if (perr && *perr && is_pgsql(db) && has(*perr, "prepared statement")
            && has(*perr, "does not exist")) {
            reprepare(txn->pool, db);
        }
        return rv;
    }
    rc = apr_dbd_transaction_end(db->driver, txn->pool, txn->trans);
    if (rc != 0) {
        return ca_db_error(txn->pool, db, rc, "commit", perr);
    }
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * Typed access
 * ------------------------------------------------------------------------- */

#define I64_MAX_STR "9223372036854775807"

static const char *opt_i64(apr_pool_t *pool, apr_int64_t v)
{
    return v ? ca_db_i64(pool, v) : NULL;
}

static apr_int64_t col(const char *v)
{
    return ca_db_col_i64(v, 0);
}

#define LIST_MAX 1000

/* a page size: 50 by default, at most LIST_MAX */
static const char *list_limit(apr_pool_t *pool, int limit)
{
    return ca_db_i64(pool, limit <= 0 ? 50 : (limit > LIST_MAX ? LIST_MAX : limit));
}

/* the start of t's hour (t may be negative) */
static apr_int64_t hour_start(apr_int64_t t)
{
    return t - (t % 3600 + 3600) % 3600;
}

/* select with a known column count */
static apr_status_t select_n(apr_pool_t *pool, ca_db_t *db, const char *label,
                             int nargs, const char *const *args, int ncols,
                             ca_db_rows_t **rows, const char **perr)
{
    apr_status_t rv = ca_db_select_rows(pool, db, label, nargs, args, rows, perr);

    if (rv == APR_SUCCESS && (*rows)->ncols != ncols) {
        set_err(perr, apr_psprintf(pool, "%s returned %d columns, expected %d",
                                   label, (*rows)->ncols, ncols));
        return CA_DB_EQUERY;
    }
    return rv;
}

static apr_status_t select_first(apr_pool_t *pool, ca_db_t *db, const char *label,
                                 int nargs, const char *const *args, int ncols,
                                 const char ***row, const char **perr)
{
    ca_db_rows_t *rows;
    apr_status_t rv = select_n(pool, db, label, nargs, args, ncols, &rows, perr);

    *row = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (rows->rows->nelts == 0) {
        set_err(perr, apr_psprintf(pool, "%s: no such row", label));
        return CA_DB_ENOTFOUND;
    }
    *row = CA_DB_ROW(rows, 0);
    return APR_SUCCESS;
}

/* Maps row r into elt: a list element (select_list), or the T * that a single-row
 * lookup returns (select_obj). */
typedef void (*row_fill_fn)(apr_pool_t *pool, const char **r, void *elt);

/* The first row mapped by fill into *out (a T *); NULL there when there is none. */
static apr_status_t select_obj(apr_pool_t *pool, ca_db_t *db, const char *label,
                               int nargs, const char *const *args, int ncols,
                               row_fill_fn fill, void *out, const char **perr)
{
    const char **r;
    apr_status_t rv = select_first(pool, db, label, nargs, args, ncols, &r, perr);

    if (rv == APR_SUCCESS) {
        fill(pool, r, out);
    }
    else {
        memset(out, 0, sizeof(void *));
    }
    return rv;
}

/* Every row mapped by fill into a new array of elt_size elements (*list NULL on error). */
static apr_status_t select_list(apr_pool_t *pool, ca_db_t *db, const char *label,
                                int nargs, const char *const *args, int ncols,
                                row_fill_fn fill, apr_size_t elt_size,
                                apr_array_header_t **list, const char **perr)
{
    ca_db_rows_t *rows;
    apr_status_t rv = select_n(pool, db, label, nargs, args, ncols, &rows, perr);
    int i;

    *list = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *list = apr_array_make(pool, rows->rows->nelts + 1, (int)elt_size);
    for (i = 0; i < rows->rows->nelts; i++) {
        fill(pool, CA_DB_ROW(rows, i), apr_array_push(*list));
    }
    return APR_SUCCESS;
}

/* exec that must change at least one row (else CA_DB_ENOTFOUND) */
static apr_status_t exec_some(apr_pool_t *pool, ca_db_t *db, const char *label,
                              int nargs, const char *const *args, const char **perr)
{
    int n = 0;
    apr_status_t rv = ca_db_exec(pool, db, label, nargs, args, &n, perr);

    if (rv == APR_SUCCESS && n == 0) {
        set_err(perr, apr_psprintf(pool, "%s: no such row", label));
        return CA_DB_ENOTFOUND;
    }
    return rv;
}

/* In one transaction, each statement of labels[0..n) with the one argument id; the
 * last must delete a row (else CA_DB_ENOTFOUND). */
static apr_status_t delete_cascade(apr_pool_t *pool, ca_db_t *db,
                                   const char *const *labels, int n, apr_int64_t id,
                                   const char **perr)
{
    ca_db_txn_t *txn;
    const char *a[] = {ca_db_i64(pool, id)};
    apr_status_t rv = ca_db_txn_begin(pool, db, &txn, perr);
    int i;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; rv == APR_SUCCESS && i < n - 1; i++) {
        rv = ca_db_exec(pool, db, labels[i], NARGS(a), a, NULL, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = exec_some(pool, db, labels[n - 1], NARGS(a), a, perr);
    }
    return ca_db_txn_end(txn, rv, perr);
}

static char *ascii_lower(apr_pool_t *pool, const char *s)
{
    char *r, *p;

    if (s == NULL) {
        return NULL;
    }
    r = apr_pstrdup(pool, s);
    for (p = r; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    return r;
}

static void endpoint_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_endpoint_t *ep = apr_pcalloc(pool, sizeof(*ep));

    ep->id = col(r[0]);
    ep->public_id = r[1];
    ep->user_id = col(r[2]);
    ep->connection_id = col(r[3]);
    ep->name = r[4];
    ep->scope_kind = r[5];
    ep->company_id = r[6];
    ep->company_name = r[7];
    ep->client_id = r[8];
    ep->client_name = r[9];
    ep->access_mode = r[10];
    ep->status = r[11];
    ep->expires_at = col(r[12]);
    ep->ip_allow = r[13];
    ep->rate_limit = (int)col(r[14]);
    ep->managed_by_config = col(r[15]) != 0;
    ep->created_at = col(r[16]);
    ep->updated_at = col(r[17]);
    ep->rotated_at = col(r[18]);
    ep->last_used_at = col(r[19]);
    ep->provider = r[20];
    ep->connection_status = r[21];
    ep->account_id = r[22];
    ep->key_id = col(r[23]);
    ep->key_hint = r[24];
    ep->key_expires_at = col(r[25]);
    *(ca_endpoint_t **)elt = ep;
}

apr_status_t ca_store_endpoint_by_key(apr_pool_t *pool, ca_db_t *db,
                                      const char *key_hash, apr_int64_t now,
                                      ca_endpoint_t **ep, const char **perr)
{
    const char *a[] = {key_hash, ca_db_i64(pool, now)};

    if (key_hash == NULL) {
        *ep = NULL;
        set_err(perr, "no key hash");
        return CA_DB_ENOTFOUND;
    }
    return select_obj(pool, db, CA_SQL_ENDPOINT_BY_KEY, NARGS(a), a, EP_NCOLS,
                      endpoint_fill, ep, perr);
}

apr_status_t ca_store_endpoint_by_public_id(apr_pool_t *pool, ca_db_t *db,
                                            const char *public_id,
                                            ca_endpoint_t **ep, const char **perr)
{
    const char *a[] = {public_id};

    if (public_id == NULL) {
        *ep = NULL;
        set_err(perr, "no endpoint id");
        return CA_DB_ENOTFOUND;
    }
    return select_obj(pool, db, CA_SQL_ENDPOINT_BY_PUBLIC_ID, NARGS(a), a, EP_NCOLS,
                      endpoint_fill, ep, perr);
}

apr_status_t ca_store_endpoint_by_id(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                     ca_endpoint_t **ep, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, id)};

    return select_obj(pool, db, CA_SQL_ENDPOINT_BY_ID, NARGS(a), a, EP_NCOLS,
                      endpoint_fill, ep, perr);
}

static apr_status_t endpoint_list(apr_pool_t *pool, ca_db_t *db, const char *label,
                                  int nargs, const char *const *args,
                                  apr_array_header_t **eps, const char **perr)
{
    return select_list(pool, db, label, nargs, args, EP_NCOLS, endpoint_fill,
                       sizeof(ca_endpoint_t *), eps, perr);
}

apr_status_t ca_store_endpoints_by_user(apr_pool_t *pool, ca_db_t *db,
                                        apr_int64_t user_id,
                                        apr_array_header_t **eps, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, user_id)};

    return endpoint_list(pool, db, CA_SQL_ENDPOINTS_BY_USER, NARGS(a), a, eps, perr);
}

apr_status_t ca_store_endpoints_page(apr_pool_t *pool, ca_db_t *db, apr_int64_t after_id,
                                     int limit, apr_array_header_t **eps,
                                     const char **perr)
{
    const char *a[] = {ca_db_i64(pool, after_id), list_limit(pool, limit)};

    return endpoint_list(pool, db, CA_SQL_ENDPOINTS_PAGE, NARGS(a), a, eps, perr);
}

apr_status_t ca_store_endpoint_create(apr_pool_t *pool, ca_db_t *db,
                                      ca_endpoint_t *ep, const char *key_hash,
                                      const char *key_hint, apr_int64_t now,
                                      const char **perr)
{
    ca_db_txn_t *txn;
    const char **r;
    const char *snow = ca_db_i64(pool, now);
    const char *ins[] = {
        ep->public_id, opt_i64(pool, ep->user_id), ca_db_i64(pool, ep->connection_id),
        ep->name, ep->scope_kind, ep->company_id, ep->company_name, ep->client_id,
        ep->client_name, ep->access_mode ? ep->access_mode : "read-only",
        ep->status ? ep->status : "active", opt_i64(pool, ep->expires_at),
        ep->ip_allow, opt_i64(pool, ep->rate_limit),
        ep->managed_by_config ? "1" : "0", snow, snow
    };
    apr_status_t rv;

    if (key_hash == NULL || key_hint == NULL) {
        set_err(perr, "an endpoint needs a key hash and hint");
        return APR_EINVAL;
    }
    rv = ca_db_txn_begin(pool, db, &txn, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = select_first(pool, db, CA_SQL_ENDPOINT_INSERT, NARGS(ins), ins, 1, &r, perr);
    if (rv == APR_SUCCESS) {
        const char *k[] = {r[0], key_hash, key_hint, snow};
        ep->id = col(r[0]);
        rv = ca_db_exec(pool, db, CA_SQL_KEY_INSERT, NARGS(k), k, NULL, perr);
    }
    rv = ca_db_txn_end(txn, rv, perr);
    if (rv == APR_SUCCESS) {
        ep->created_at = ep->updated_at = now;
        if (ep->status == NULL) {
            ep->status = "active";
        }
        if (ep->access_mode == NULL) {
            ep->access_mode = "read-only";
        }
    }
    else {
        ep->id = 0;
    }
    return rv;
}

apr_status_t ca_store_endpoint_set_status(apr_pool_t *pool, ca_db_t *db,
                                          apr_int64_t id, const char *status,
                                          apr_int64_t now, const char **perr)
{
    const char *a[] = {status, ca_db_i64(pool, now), ca_db_i64(pool, id)};

    return exec_some(pool, db, CA_SQL_ENDPOINT_SET_STATUS, NARGS(a), a, perr);
}

apr_status_t ca_store_endpoint_reissue_key(apr_pool_t *pool, ca_db_t *db,
                                           apr_int64_t endpoint_id,
                                           const char *key_hash,
                                           const char *key_hint, apr_int64_t now,
                                           apr_int64_t grace_sec, const char **perr)
{
    ca_db_txn_t *txn;
    const char *sid = ca_db_i64(pool, endpoint_id);
    const char *snow = ca_db_i64(pool, now);
    const char *rot[] = {snow, snow, sid};
    const char *graced[] = {snow, sid, snow};
    const char *cur[] = {ca_db_i64(pool, now + grace_sec), sid};
    const char *ins[] = {sid, key_hash, key_hint, snow};
    apr_status_t rv;

    if (grace_sec < 0 || grace_sec > CA_STORE_MAX_GRACE) {
        set_err(perr, apr_psprintf(pool, "grace period must be 0 to %d seconds",
                                   CA_STORE_MAX_GRACE));
        return APR_EINVAL;
    }
    if (key_hash == NULL || key_hint == NULL) {
        set_err(perr, "a key needs a hash and hint");
        return APR_EINVAL;
    }
    rv = ca_db_txn_begin(pool, db, &txn, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = exec_some(pool, db, CA_SQL_ENDPOINT_SET_ROTATED, NARGS(rot), rot, perr);
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_KEY_EXPIRE_GRACED, NARGS(graced), graced,
                        NULL, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_KEY_EXPIRE_CURRENT, NARGS(cur), cur, NULL,
                        perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_KEY_INSERT, NARGS(ins), ins, NULL, perr);
    }
    return ca_db_txn_end(txn, rv, perr);
}

apr_status_t ca_store_endpoint_delete(apr_pool_t *pool, ca_db_t *db,
                                      apr_int64_t id, const char **perr)
{
    static const char *const labels[] = {
        CA_SQL_IDEM_DELETE_FOR_ENDPOINT, CA_SQL_KEYS_DELETE_FOR_ENDPOINT,
        CA_SQL_ENDPOINT_DELETE
    };

    return delete_cascade(pool, db, labels, NARGS(labels), id, perr);
}

apr_status_t ca_store_endpoint_sync_config(apr_pool_t *pool, ca_db_t *db,
                                           ca_endpoint_t *ep, const char *key_hash,
                                           const char *key_hint, apr_int64_t now,
                                           const char **perr)
{
    ca_db_txn_t *txn;
    ca_connection_t *conn;
    const char **r;
    const char *snow = ca_db_i64(pool, now);
    const char *sconn = ca_db_i64(pool, ep->connection_id);
    const char *up[] = {
        ep->public_id, sconn, sconn, ep->name ? ep->name : ep->public_id,
        ep->scope_kind, ep->company_id, ep->client_id,
        ep->access_mode ? ep->access_mode : "read-only", snow, snow
    };
    const char *sid;
    apr_status_t rv;

    if (key_hash == NULL || key_hint == NULL || ep->public_id == NULL) {
        set_err(perr, "a declared endpoint needs a public id, key hash and hint");
        return APR_EINVAL;
    }
    rv = ca_db_txn_begin(pool, db, &txn, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = ca_store_connection_get(pool, db, ep->connection_id, &conn, perr);
    if (rv == CA_DB_ENOTFOUND) {
        set_err(perr, apr_psprintf(pool, "endpoint %s: connection %" APR_INT64_T_FMT
                                   " does not exist", ep->public_id,
                                   ep->connection_id));
        rv = CA_DB_ECONSTRAINT;
    }
    if (rv == APR_SUCCESS) {
        rv = select_first(pool, db, CA_SQL_ENDPOINT_UPSERT_CONFIG, NARGS(up), up, 1, &r,
                          perr);
        if (rv == CA_DB_ENOTFOUND) {
            set_err(perr, apr_psprintf(pool, "endpoint %s already exists and was not "
                                       "declared in the configuration", ep->public_id));
            rv = CA_DB_ECONSTRAINT;
        }
    }
    if (rv == APR_SUCCESS) {
        const char *kh[] = {key_hash};
        sid = r[0];
        ep->id = col(sid);
        rv = select_first(pool, db, CA_SQL_KEY_BY_HASH, 1, kh, 6, &r, perr);
        if (rv == APR_SUCCESS && col(r[1]) != ep->id) {
            set_err(perr, apr_psprintf(pool, "endpoint %s: its key hash is already "
                                       "used by another endpoint", ep->public_id));
            rv = CA_DB_ECONSTRAINT;
        }
        else if (rv == APR_SUCCESS || rv == CA_DB_ENOTFOUND) {
            int exists = rv == APR_SUCCESS;
            const char *rev[] = {snow, sid, key_hash};
            rv = ca_db_exec(pool, db, CA_SQL_KEY_REVOKE_OTHERS, NARGS(rev), rev, NULL,
                            perr);
            if (rv == APR_SUCCESS && exists) {
                const char *re[] = {key_hash, sid};
                rv = ca_db_exec(pool, db, CA_SQL_KEY_REINSTATE, NARGS(re), re, NULL,
                                perr);
            }
            else if (rv == APR_SUCCESS) {
                const char *ins[] = {sid, key_hash, key_hint, snow};
                rv = ca_db_exec(pool, db, CA_SQL_KEY_INSERT, NARGS(ins), ins, NULL,
                                perr);
            }
        }
    }
    rv = ca_db_txn_end(txn, rv, perr);
    if (rv != APR_SUCCESS) {
        ep->id = 0;
    }
    return rv;
}

/* --- connections -------------------------------------------------------- */

static void connection_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_connection_t *c = apr_pcalloc(pool, sizeof(*c));

    c->id = col(r[0]);
    c->user_id = col(r[1]);
    c->provider = r[2];
    c->account_id = r[3];
    c->account_label = r[4];
    c->auth_mode = r[5];
    c->access_token_enc = r[6];
    c->refresh_token_enc = r[7];
    c->api_key_enc = r[8];
    c->client_id = r[9];
    c->client_secret_enc = r[10];
    c->tenant_id = r[11];
    c->scopes = r[12];
    c->expires_at = col(r[13]);
    c->status = r[14];
    c->refresh_lock_until = col(r[15]);
    c->refresh_lock_owner = r[16];
    c->last_refresh_at = col(r[17]);
    c->created_at = col(r[18]);
    c->updated_at = col(r[19]);
    *(ca_connection_t **)elt = c;
}

apr_status_t ca_store_connection_insert(apr_pool_t *pool, ca_db_t *db,
                                        ca_connection_t *c, apr_int64_t now,
                                        const char **perr)
{
    const char *snow = ca_db_i64(pool, now);
    const char *a[] = {
        ca_db_i64(pool, c->user_id), c->provider, c->account_id, c->account_label,
        c->auth_mode, c->access_token_enc, c->refresh_token_enc, c->api_key_enc,
        c->client_id, c->client_secret_enc, c->tenant_id, c->scopes,
        opt_i64(pool, c->expires_at), snow, snow
    };
    const char **r;
    apr_status_t rv = select_first(pool, db, CA_SQL_CONNECTION_INSERT, NARGS(a), a, 1,
                                   &r, perr);

    if (rv == APR_SUCCESS) {
        c->id = col(r[0]);
        c->status = "active";
        c->created_at = c->updated_at = now;
    }
    return rv;
}

apr_status_t ca_store_connection_get(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                     ca_connection_t **c, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, id)};

    return select_obj(pool, db, CA_SQL_CONNECTION_GET, NARGS(a), a, CONN_NCOLS,
                      connection_fill, c, perr);
}

apr_status_t ca_store_connections_by_user(apr_pool_t *pool, ca_db_t *db,
                                          apr_int64_t user_id, apr_array_header_t **list,
                                          const char **perr)
{
    const char *a[] = {ca_db_i64(pool, user_id)};

    return select_list(pool, db, CA_SQL_CONNECTIONS_BY_USER, NARGS(a), a, CONN_NCOLS,
                       connection_fill, sizeof(ca_connection_t *), list, perr);
}

apr_status_t ca_store_connection_claim_refresh(apr_pool_t *pool, ca_db_t *db,
                                               apr_int64_t id, const char *owner,
                                               apr_int64_t now, apr_int64_t lock_until,
                                               const char **perr)
{
    const char *a[] = {ca_db_i64(pool, lock_until), owner, ca_db_i64(pool, id),
                       ca_db_i64(pool, now)};
    int n = 0;
    apr_status_t rv;

    if (owner == NULL) {
        set_err(perr, "a refresh lock needs an owner");
        return APR_EINVAL;
    }
    rv = ca_db_exec(pool, db, CA_SQL_CONNECTION_CLAIM_REFRESH, NARGS(a), a, &n, perr);
    if (rv == APR_SUCCESS && n == 0) {
        set_err(perr, "refresh lock is held");
        return CA_DB_ENOTCLAIMED;
    }
    return rv;
}

apr_status_t ca_store_connection_release_refresh(apr_pool_t *pool, ca_db_t *db,
                                                 apr_int64_t id, const char *owner,
                                                 const char **perr)
{
    const char *a[] = {ca_db_i64(pool, id), owner};
    int n = 0;
    apr_status_t rv = ca_db_exec(pool, db, CA_SQL_CONNECTION_RELEASE_REFRESH, NARGS(a),
                                 a, &n, perr);

    if (rv == APR_SUCCESS && n == 0) {
        set_err(perr, "refresh lock is not held by this owner");
        return CA_DB_ENOTCLAIMED;
    }
    return rv;
}

apr_status_t ca_store_connection_delete(apr_pool_t *pool, ca_db_t *db,
                                        apr_int64_t id, const char **perr)
{
    static const char *const labels[] = {
        CA_SQL_IDEM_DELETE_FOR_CONNECTION, CA_SQL_KEYS_DELETE_FOR_CONNECTION,
        CA_SQL_ENDPOINTS_DELETE_FOR_CONNECTION, CA_SQL_CONNECTION_DELETE
    };

    return delete_cascade(pool, db, labels, NARGS(labels), id, perr);
}

/* --- users -------------------------------------------------------------- */

static void user_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_user_t *u = apr_pcalloc(pool, sizeof(*u));

    u->id = col(r[0]);
    u->email = r[1];
    u->password_hash = r[2];
    u->role = r[3];
    u->created_at = col(r[4]);
    u->updated_at = col(r[5]);
    u->disabled_at = col(r[6]);
    u->failed_logins = (int)col(r[7]);
    u->locked_until = col(r[8]);
    *(ca_user_t **)elt = u;
}

apr_status_t ca_store_user_create(apr_pool_t *pool, ca_db_t *db, const char *email,
                                  const char *password_hash, const char *role,
                                  apr_int64_t now, apr_int64_t *id, const char **perr)
{
    const char *snow = ca_db_i64(pool, now);
    const char *a[] = {ascii_lower(pool, email), password_hash,
                       role ? role : "member", snow, snow};
    const char **r;
    apr_status_t rv = select_first(pool, db, CA_SQL_USER_INSERT, NARGS(a), a, 1, &r,
                                   perr);

    if (id) {
        *id = rv == APR_SUCCESS ? col(r[0]) : 0;
    }
    return rv;
}

apr_status_t ca_store_user_by_email(apr_pool_t *pool, ca_db_t *db, const char *email,
                                    ca_user_t **u, const char **perr)
{
    const char *a[] = {ascii_lower(pool, email)};

    return select_obj(pool, db, CA_SQL_USER_BY_EMAIL, NARGS(a), a, USER_NCOLS, user_fill,
                      u, perr);
}

apr_status_t ca_store_user_by_id(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                 ca_user_t **u, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, id)};

    return select_obj(pool, db, CA_SQL_USER_BY_ID, NARGS(a), a, USER_NCOLS, user_fill, u,
                      perr);
}

apr_status_t ca_store_users_page(apr_pool_t *pool, ca_db_t *db, apr_int64_t after_id,
                                 int limit, apr_array_header_t **list, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, after_id), list_limit(pool, limit)};

    return select_list(pool, db, CA_SQL_USERS_PAGE, NARGS(a), a, USER_NCOLS, user_fill,
                       sizeof(ca_user_t *), list, perr);
}

/* everything of one endpoint, for account deletion */
static apr_status_t purge_endpoint(apr_pool_t *pool, ca_db_t *db,
                                   const ca_endpoint_t *ep, const char **perr)
{
    const char *pub[] = {ep->public_id};
    const char *id[] = {ca_db_i64(pool, ep->id)};
    apr_status_t rv;

    rv = ca_db_exec(pool, db, CA_SQL_REQUEST_LOGS_DELETE_FOR_ENDPOINT, 1, pub, NULL,
                    perr);
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_ROLLUPS_DELETE_FOR_ENDPOINT, 1, pub, NULL, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_IDEM_DELETE_FOR_ENDPOINT, 1, id, NULL, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_KEYS_DELETE_FOR_ENDPOINT, 1, id, NULL, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_ENDPOINT_DELETE, 1, id, NULL, perr);
    }
    return rv;
}

static apr_status_t user_delete_all(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                    const char **perr)
{
    const char *uid[] = {ca_db_i64(pool, id)};
    ca_user_t *u;
    apr_array_header_t *eps, *conns;
    apr_status_t rv;
    int i, j;

    rv = ca_store_user_by_id(pool, db, id, &u, perr);
    if (rv == APR_SUCCESS) {
        rv = endpoint_list(pool, db, CA_SQL_ENDPOINTS_BY_USER, 1, uid, &eps, perr);
    }
    for (i = 0; rv == APR_SUCCESS && i < eps->nelts; i++) {
        rv = purge_endpoint(pool, db, APR_ARRAY_IDX(eps, i, ca_endpoint_t *), perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ca_store_connections_by_user(pool, db, id, &conns, perr);
    }
    for (i = 0; rv == APR_SUCCESS && i < conns->nelts; i++) {
        const char *cid[] = {ca_db_i64(pool, APR_ARRAY_IDX(conns, i, ca_connection_t *)->id)};
        rv = endpoint_list(pool, db, CA_SQL_ENDPOINTS_BY_CONNECTION, 1, cid, &eps,
                           perr);
        for (j = 0; rv == APR_SUCCESS && j < eps->nelts; j++) {
            rv = purge_endpoint(pool, db, APR_ARRAY_IDX(eps, j, ca_endpoint_t *), perr);
        }
        if (rv == APR_SUCCESS) {
            rv = ca_db_exec(pool, db, CA_SQL_CONNECTION_DELETE, 1, cid, NULL, perr);
        }
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_SESSIONS_DELETE_FOR_USER, 1, uid, NULL, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_OAUTH_STATES_DELETE_FOR_USER, 1, uid, NULL,
                        perr);
    }
    if (rv == APR_SUCCESS) {
        const char *em[] = {u->email};
        rv = ca_db_exec(pool, db, CA_SQL_LOGIN_ATTEMPTS_DELETE_FOR_EMAIL, 1, em, NULL,
                        perr);
    }
    if (rv == APR_SUCCESS) {
        rv = exec_some(pool, db, CA_SQL_USER_DELETE, 1, uid, perr);
    }
    return rv;
}

apr_status_t ca_store_user_delete(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                  const char **perr)
{
    ca_db_txn_t *txn;
    apr_status_t rv = ca_db_txn_begin(pool, db, &txn, perr);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = user_delete_all(pool, db, id, perr);
    return ca_db_txn_end(txn, rv, perr);
}

/* --- sessions, OAuth states, idempotency -------------------------------- */

static void session_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_session_t *x = apr_pcalloc(pool, sizeof(*x));

    x->id_hash = r[0];
    x->user_id = col(r[1]);
    x->csrf_token_hash = r[2];
    x->created_at = col(r[3]);
    x->last_seen_at = col(r[4]);
    x->expires_at = col(r[5]);
    x->ip = r[6];
    x->user_agent = r[7];
    x->email = r[8];
    x->role = r[9];
    x->user_disabled_at = col(r[10]);
    *(ca_session_t **)elt = x;
}

apr_status_t ca_store_session_get(apr_pool_t *pool, ca_db_t *db, const char *id_hash,
                                  apr_int64_t now, ca_session_t **s,
                                  const char **perr)
{
    const char *a[] = {id_hash, ca_db_i64(pool, now)};

    if (id_hash == NULL) {
        *s = NULL;
        set_err(perr, "no session");
        return CA_DB_ENOTFOUND;
    }
    return select_obj(pool, db, CA_SQL_SESSION_GET, NARGS(a), a, 11, session_fill, s,
                      perr);
}

static void oauth_state_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_oauth_state_t *x = apr_pcalloc(pool, sizeof(*x));

    x->state_hash = r[0];
    x->session_id_hash = r[1];
    x->user_id = col(r[2]);
    x->provider = r[3];
    x->code_verifier_enc = r[4];
    x->redirect_after = r[5];
    x->created_at = col(r[6]);
    x->expires_at = col(r[7]);
    *(ca_oauth_state_t **)elt = x;
}

apr_status_t ca_store_oauth_state_consume(apr_pool_t *pool, ca_db_t *db,
                                          const char *state_hash, apr_int64_t now,
                                          ca_oauth_state_t **st, const char **perr)
{
    const char *snow = ca_db_i64(pool, now);
    const char *a[] = {snow, state_hash, snow};
    apr_status_t rv;

    if (state_hash == NULL) {
        *st = NULL;
        set_err(perr, "no state");
        return CA_DB_ENOTFOUND;
    }
    rv = select_obj(pool, db, CA_SQL_OAUTH_STATE_CONSUME, NARGS(a), a, 8, oauth_state_fill,
                    st, perr);
    if (rv == CA_DB_ENOTFOUND) {
        set_err(perr, "unknown, used or expired state");
    }
    return rv;
}

apr_status_t ca_store_idem_claim(apr_pool_t *pool, ca_db_t *db,
                                 apr_int64_t endpoint_id, const char *key_hash,
                                 const char *request_hash, apr_int64_t now,
                                 apr_int64_t expires_at, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, endpoint_id), key_hash, request_hash,
                       ca_db_i64(pool, now), ca_db_i64(pool, expires_at)};
    int n = 0;
    apr_status_t rv = ca_db_exec(pool, db, CA_SQL_IDEM_CLAIM, NARGS(a), a, &n, perr);

    if (rv == APR_SUCCESS && n == 0) {
        set_err(perr, "idempotency key already used");
        return CA_DB_ENOTCLAIMED;
    }
    return rv;
}

static void idem_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_idem_record_t *x = apr_pcalloc(pool, sizeof(*x));

    x->endpoint_id = col(r[0]);
    x->idem_key_hash = r[1];
    x->request_hash = r[2];
    x->status = (int)col(r[3]);
    x->headers = r[4];
    x->body = r[5];
    x->created_at = col(r[6]);
    x->expires_at = col(r[7]);
    *(ca_idem_record_t **)elt = x;
}

apr_status_t ca_store_idem_get(apr_pool_t *pool, ca_db_t *db,
                               apr_int64_t endpoint_id, const char *key_hash,
                               apr_int64_t now, ca_idem_record_t **rec,
                               const char **perr)
{
    const char *a[] = {ca_db_i64(pool, endpoint_id), key_hash, ca_db_i64(pool, now)};

    return select_obj(pool, db, CA_SQL_IDEM_GET, NARGS(a), a, IDEM_NCOLS, idem_fill, rec,
                      perr);
}

/* --- request logs, audit, retention ------------------------------------- */

apr_status_t ca_store_request_log_insert(apr_pool_t *pool, ca_db_t *db,
                                         const ca_request_log_t *l, const char **perr)
{
    const char *a[] = {
        l->endpoint_id, ca_db_i64(pool, l->ts), l->method, l->resource, l->record_id,
        ca_db_i64(pool, l->status),
        l->item_count >= 0 ? ca_db_i64(pool, l->item_count) : NULL,
        ca_db_i64(pool, l->duration_us), l->query, l->error_code, l->error_detail,
        l->client_ip, l->user_agent, l->request_id
    };

    return ca_db_exec(pool, db, CA_SQL_REQUEST_LOG_INSERT, NARGS(a), a, NULL, perr);
}

const apr_int64_t ca_rollup_bounds_us[CA_ROLLUP_BUCKETS - 1] = {
    500, 1000, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 50000, 75000, 100000,
    150000, 200000, 300000, 500000, 750000, 1000000, 2000000, 5000000, 10000000, 30000000
};

int ca_rollup_bucket(apr_int64_t duration_us)
{
    int lo = 0, hi = CA_ROLLUP_BUCKETS - 1;

    /* the first bound >= duration_us; past the last bound: the open bucket */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (ca_rollup_bounds_us[mid] >= duration_us) {
            hi = mid;
        }
        else {
            lo = mid + 1;
        }
    }
    return lo;
}

double ca_rollup_percentile_us(const apr_int64_t *hist, double q)
{
    apr_int64_t total = 0, rank, cum = 0;
    int i;

    for (i = 0; i < CA_ROLLUP_BUCKETS; i++) {
        total += hist[i] > 0 ? hist[i] : 0;
    }
    if (total == 0) {
        return -1;
    }
    rank = (apr_int64_t)(q * (double)total + 0.999999);
    rank = rank < 1 ? 1 : (rank > total ? total : rank);
    for (i = 0; i < CA_ROLLUP_BUCKETS; i++) {
        apr_int64_t c = hist[i] > 0 ? hist[i] : 0;
        if (c > 0 && cum + c >= rank) {
            double lo = i ? (double)ca_rollup_bounds_us[i - 1] : 0.0;
            double hi = i < CA_ROLLUP_BUCKETS - 1 ? (double)ca_rollup_bounds_us[i] : lo;
            return lo + (hi - lo) * (double)(rank - cum) / (double)c;
        }
        cum += c;
    }
    return -1;
}

/* counts of one (endpoint, hour) in a batch */
typedef struct {
    const char *endpoint_id;
    apr_int64_t hour;
    apr_int64_t c[7 + CA_ROLLUP_BUCKETS];   /* the ROLLUP counters, in column order */
} rollup_t;

static void rollup_count(rollup_t *g, const ca_request_log_t *l)
{
    g->c[0]++;
    if (l->status >= 200 && l->status < 300) {
        g->c[1]++;
    }
    else if (l->status >= 300 && l->status < 400) {
        g->c[2]++;
    }
    else if (l->status >= 400 && l->status < 500) {
        g->c[3]++;
    }
    else if (l->status >= 500) {
        g->c[4]++;
    }
    g->c[5] += l->item_count > 0 ? l->item_count : 0;
    g->c[6] += l->duration_us;
    g->c[7 + ca_rollup_bucket(l->duration_us)]++;
}

static int rollup_cmp(const void *a, const void *b)
{
    const rollup_t *x = *(const rollup_t *const *)a, *y = *(const rollup_t *const *)b;

    if (x->hour != y->hour) {
        return x->hour < y->hour ? -1 : 1;
    }
    return strcmp(x->endpoint_id, y->endpoint_id);
}

static const char *const log_write_labels[] = {
    CA_SQL_REQUEST_LOGS_WRITE_256, CA_SQL_REQUEST_LOGS_WRITE_128, CA_SQL_REQUEST_LOGS_WRITE_64,
    CA_SQL_REQUEST_LOGS_WRITE_32, CA_SQL_REQUEST_LOGS_WRITE_16, CA_SQL_REQUEST_LOGS_WRITE_8,
    CA_SQL_REQUEST_LOGS_WRITE_4, CA_SQL_REQUEST_LOGS_WRITE_2, CA_SQL_REQUEST_LOGS_WRITE_1
};

/* insert rows[0..n) (n a power of two), adding the request ids inserted to `inserted` */
static apr_status_t logs_insert(apr_pool_t *pool, ca_db_t *db, const char *label,
                                const ca_request_log_t *const *rows, int n,
                                apr_hash_t *inserted, const char **perr)
{
    const char **a = apr_palloc(pool, sizeof(*a) * 14 * n);
    ca_db_rows_t *res;
    apr_status_t rv;
    int i, k = 0;

    for (i = 0; i < n; i++) {
        const ca_request_log_t *l = rows[i];
        a[k++] = l->endpoint_id;
        a[k++] = ca_db_i64(pool, l->ts);
        a[k++] = l->method;
        a[k++] = l->resource;
        a[k++] = l->record_id;
        a[k++] = ca_db_i64(pool, l->status);
        a[k++] = l->item_count >= 0 ? ca_db_i64(pool, l->item_count) : NULL;
        a[k++] = ca_db_i64(pool, l->duration_us);
        a[k++] = l->query;
        a[k++] = l->error_code;
        a[k++] = l->error_detail;
        a[k++] = l->client_ip;
        a[k++] = l->user_agent;
        a[k++] = l->request_id;
    }
    rv = ca_db_select_rows(pool, db, label, k, a, &res, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < res->rows->nelts; i++) {
        const char *id = CA_DB_ROW(res, i)[0];
        if (id) {
            apr_hash_set(inserted, id, APR_HASH_KEY_STRING, id);
        }
    }
    return APR_SUCCESS;
}

apr_status_t ca_store_request_logs_write(apr_pool_t *pool, ca_db_t *db,
                                         const ca_request_log_t *const *rows, int n,
                                         int *written, const char **perr)
{
    apr_hash_t *inserted = apr_hash_make(pool), *groups = apr_hash_make(pool);
    apr_array_header_t *sorted;
    apr_hash_index_t *hi;
    ca_db_txn_t *txn = NULL;
    apr_status_t rv;
    int i, done = 0, count = 0;

    if (written) {
        *written = 0;
    }
    if (n < 1 || n > CA_STORE_LOG_BATCH_MAX) {
        set_err(perr, "a request-log batch holds 1 to 256 rows");
        return CA_DB_EARG;
    }
    for (i = 0; i < n; i++) {
        if (!rows[i] || !rows[i]->request_id || !rows[i]->endpoint_id) {
            set_err(perr, "a request log without request id or endpoint");
            return CA_DB_EARG;
        }
    }
    if ((rv = ca_db_txn_begin(pool, db, &txn, perr)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; rv == APR_SUCCESS && done < n; i++) {
        int size = CA_STORE_LOG_BATCH_MAX >> i;
        while (rv == APR_SUCCESS && n - done >= size) {
            rv = logs_insert(pool, db, log_write_labels[i], rows + done, size, inserted, perr);
            done += size;
        }
    }
    /* rollups of the rows actually inserted, once per (endpoint, hour) */
    for (i = 0; rv == APR_SUCCESS && i < n; i++) {
        const ca_request_log_t *l = rows[i];
        apr_int64_t hour = hour_start(l->ts);
        const char *key;
        rollup_t *g;

        if (!apr_hash_get(inserted, l->request_id, APR_HASH_KEY_STRING)) {
            continue;           /* stored before, or twice in this batch */
        }
        apr_hash_set(inserted, l->request_id, APR_HASH_KEY_STRING, NULL);
        count++;
        key = apr_psprintf(pool, "%" APR_INT64_T_FMT " %s", hour, l->endpoint_id);
        if (!(g = apr_hash_get(groups, key, APR_HASH_KEY_STRING))) {
            g = apr_pcalloc(pool, sizeof(*g));
            g->endpoint_id = l->endpoint_id;
            g->hour = hour;
            apr_hash_set(groups, key, APR_HASH_KEY_STRING, g);
        }
        rollup_count(g, l);
    }
    /* in one order (hour, endpoint) in every process, so that two batches updating the
     * same rollup rows never wait for each other in a cycle (deadlock) */
    sorted = apr_array_make(pool, (int)apr_hash_count(groups) + 1, sizeof(rollup_t *));
    for (hi = apr_hash_first(pool, groups); hi; hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(sorted, rollup_t *) = apr_hash_this_val(hi);
    }
    qsort(sorted->elts, (size_t)sorted->nelts, sizeof(rollup_t *), rollup_cmp);
    for (i = 0; rv == APR_SUCCESS && i < sorted->nelts; i++) {
        const rollup_t *g = APR_ARRAY_IDX(sorted, i, rollup_t *);
        const char *a[2 + 7 + CA_ROLLUP_BUCKETS];
        int j;

        a[0] = g->endpoint_id;
        a[1] = ca_db_i64(pool, g->hour);
        for (j = 0; j < 7 + CA_ROLLUP_BUCKETS; j++) {
            a[2 + j] = ca_db_i64(pool, g->c[j]);
        }
        rv = ca_db_exec(pool, db, CA_SQL_ROLLUP_ADD, NARGS(a), a, NULL, perr);
    }
    rv = ca_db_txn_end(txn, rv, perr);
    if (rv == APR_SUCCESS && written) {
        *written = count;
    }
    return rv;
}

apr_status_t ca_store_rollups_rebuild(apr_pool_t *pool, ca_db_t *db, apr_int64_t since,
                                      int *groups, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, hour_start(since))};
    ca_db_txn_t *txn = NULL;
    apr_status_t rv;
    int n = 0;

    if (groups) {
        *groups = 0;
    }
    if ((rv = ca_db_txn_begin(pool, db, &txn, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = ca_db_exec(pool, db, CA_SQL_ROLLUPS_DELETE_SINCE, 1, a, NULL, perr);
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_ROLLUPS_REBUILD, 1, a, &n, perr);
    }
    rv = ca_db_txn_end(txn, rv, perr);
    if (rv == APR_SUCCESS && groups) {
        *groups = n;
    }
    return rv;
}

static void log_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_request_log_t *l = apr_pcalloc(pool, sizeof(*l));

    l->id = col(r[0]);
    l->endpoint_id = r[1];
    l->ts = col(r[2]);
    l->method = r[3];
    l->resource = r[4];
    l->record_id = r[5];
    l->status = (int)col(r[6]);
    l->item_count = ca_db_col_i64(r[7], -1);
    l->duration_us = col(r[8]);
    l->query = r[9];
    l->error_code = r[10];
    l->error_detail = r[11];
    l->client_ip = r[12];
    l->user_agent = r[13];
    l->request_id = r[14];
    *(ca_request_log_t **)elt = l;
}

/* Logs by a LOG_FILTERS statement: its first argument (none if NULL), then f's. */
static apr_status_t logs_select(apr_pool_t *pool, ca_db_t *db, const char *label,
                                const char *first, const ca_log_filter_t *f,
                                apr_array_header_t **logs, const char **perr)
{
    ca_log_filter_t none;
    const char *cts, *cid;
    const char *a[15];
    int n = 0;

    if (f == NULL) {
        memset(&none, 0, sizeof(none));
        f = &none;
    }
    cts = f->cursor_ts ? ca_db_i64(pool, f->cursor_ts) : I64_MAX_STR;
    cid = f->cursor_ts ? ca_db_i64(pool, f->cursor_id) : I64_MAX_STR;
    if (first) {
        a[n++] = first;
    }
    a[n++] = ca_db_i64(pool, f->since);
    a[n++] = f->until ? ca_db_i64(pool, f->until) : I64_MAX_STR;
    a[n++] = ca_db_i64(pool, f->status_min);
    a[n++] = f->status_max ? ca_db_i64(pool, f->status_max) : I64_MAX_STR;
    a[n++] = f->method;
    a[n++] = f->method;
    a[n++] = f->resource;
    a[n++] = f->resource;
    a[n++] = cts;
    a[n++] = cts;
    a[n++] = cid;
    a[n++] = list_limit(pool, f->limit);
    return select_list(pool, db, label, n, a, LOG_NCOLS, log_fill,
                       sizeof(ca_request_log_t *), logs, perr);
}

apr_status_t ca_store_request_logs_list(apr_pool_t *pool, ca_db_t *db,
                                        const ca_log_filter_t *f,
                                        apr_array_header_t **logs, const char **perr)
{
    const char *ep = f ? f->endpoint_id : NULL;

    return logs_select(pool, db, ep ? CA_SQL_REQUEST_LOGS_BY_ENDPOINT
                                    : CA_SQL_REQUEST_LOGS_ALL, ep, f, logs, perr);
}

apr_status_t ca_store_audit(apr_pool_t *pool, ca_db_t *db, apr_int64_t user_id,
                            const char *actor_email, const char *action,
                            const char *target_kind, const char *target_id,
                            const char *detail, const char *ip, apr_int64_t now,
                            const char **perr)
{
    const char *a[] = {opt_i64(pool, user_id), actor_email, action, target_kind,
                       target_id, detail, ip, ca_db_i64(pool, now)};

    return ca_db_exec(pool, db, CA_SQL_AUDIT_INSERT, NARGS(a), a, NULL, perr);
}

#define PURGE_BATCH 5000

apr_status_t ca_store_purge(apr_pool_t *pool, ca_db_t *db, apr_int64_t now,
                            apr_int64_t log_retention_sec, apr_int64_t *purged,
                            const char **perr)
{
    const char *snow = ca_db_i64(pool, now);
    const char *day_ago = ca_db_i64(pool, now - 86400);
    const char *keys_before = ca_db_i64(pool, now - 30 * 86400);
    const char *one[] = {snow};
    const char *attempts[] = {day_ago};
    const char *keys[] = {keys_before, keys_before};
    apr_int64_t total = 0;
    apr_status_t rv = APR_SUCCESS;
    int n = 0;

    if (log_retention_sec > 0) {
        const char *logs[] = {ca_db_i64(pool, now - log_retention_sec),
                              ca_db_i64(pool, PURGE_BATCH)};
        do {
            rv = ca_db_exec(pool, db, CA_SQL_REQUEST_LOGS_PURGE, NARGS(logs), logs, &n,
                            perr);
            total += n;
        } while (rv == APR_SUCCESS && n >= PURGE_BATCH);
        if (rv == APR_SUCCESS) {
            /* the hours that ended before the cutoff: all of their logs are gone */
            const char *hours[] = {ca_db_i64(pool, hour_start(now - log_retention_sec))};
            rv = ca_db_exec(pool, db, CA_SQL_ROLLUPS_PURGE, 1, hours, &n, perr);
            total += n;
        }
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_SESSIONS_PURGE, 1, one, &n, perr);
        total += n;
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_OAUTH_STATES_PURGE, 1, one, &n, perr);
        total += n;
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_IDEM_PURGE, 1, one, &n, perr);
        total += n;
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_LOGIN_ATTEMPTS_PURGE, 1, attempts, &n, perr);
        total += n;
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_KEYS_PURGE, NARGS(keys), keys, &n, perr);
        total += n;
    }
    if (purged) {
        *purged = total;
    }
    return rv;
}

/* ---------------------------------------------------------------------------
 * Dashboard, sessions, login throttling, contact form
 * ------------------------------------------------------------------------- */

static void connection_info_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_connection_info_t *c = apr_pcalloc(pool, sizeof(*c));

    c->id = col(r[0]);
    c->user_id = col(r[1]);
    c->provider = r[2];
    c->account_id = r[3];
    c->account_label = r[4];
    c->auth_mode = r[5];
    c->scopes = r[6];
    c->expires_at = col(r[7]);
    c->status = r[8];
    c->last_refresh_at = col(r[9]);
    c->created_at = col(r[10]);
    c->updated_at = col(r[11]);
    c->owner_email = r[12];
    c->has_credentials = col(r[13]) != 0;
    c->endpoint_count = (int)col(r[14]);
    *(ca_connection_info_t **)elt = c;
}

apr_status_t ca_store_connections_list(apr_pool_t *pool, ca_db_t *db,
                                       apr_int64_t user_id, apr_int64_t after_id,
                                       int limit, apr_array_header_t **list,
                                       const char **perr)
{
    const char *uid = opt_i64(pool, user_id);
    const char *a[] = {uid, uid, ca_db_i64(pool, after_id), list_limit(pool, limit)};

    return select_list(pool, db, CA_SQL_CONNECTIONS_LIST, NARGS(a), a, 15,
                       connection_info_fill, sizeof(ca_connection_info_t *), list, perr);
}

static void endpoint_listed_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_endpoint_listed_t *l = elt;

    endpoint_fill(pool, r, &l->ep);
    l->owner_email = r[EP_NCOLS];
}

apr_status_t ca_store_endpoints_list(apr_pool_t *pool, ca_db_t *db,
                                     apr_int64_t user_id, apr_int64_t after_id,
                                     int limit, apr_array_header_t **list,
                                     const char **perr)
{
    const char *uid = opt_i64(pool, user_id);
    const char *a[] = {uid, uid, ca_db_i64(pool, after_id), list_limit(pool, limit)};

    return select_list(pool, db, CA_SQL_ENDPOINTS_LIST, NARGS(a), a, EP_NCOLS + 1,
                       endpoint_listed_fill, sizeof(ca_endpoint_listed_t), list, perr);
}

static void key_info_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_key_info_t *k = apr_pcalloc(pool, sizeof(*k));

    k->id = col(r[0]);
    k->key_hint = r[1];
    k->created_at = col(r[2]);
    k->expires_at = col(r[3]);
    k->revoked_at = col(r[4]);
    *(ca_key_info_t **)elt = k;
}

apr_status_t ca_store_keys_by_endpoint(apr_pool_t *pool, ca_db_t *db,
                                       apr_int64_t endpoint_id,
                                       apr_array_header_t **keys, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, endpoint_id)};

    return select_list(pool, db, CA_SQL_KEYS_BY_ENDPOINT, NARGS(a), a, 5, key_info_fill,
                       sizeof(ca_key_info_t *), keys, perr);
}

apr_status_t ca_store_request_logs_of_user(apr_pool_t *pool, ca_db_t *db,
                                           apr_int64_t user_id,
                                           const ca_log_filter_t *f,
                                           apr_array_header_t **logs,
                                           const char **perr)
{
    return logs_select(pool, db, CA_SQL_REQUEST_LOGS_BY_USER, ca_db_i64(pool, user_id), f,
                       logs, perr);
}

apr_status_t ca_store_request_log_get(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                      ca_request_log_t **log, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, id)};

    return select_obj(pool, db, CA_SQL_REQUEST_LOG_GET, NARGS(a), a, LOG_NCOLS, log_fill,
                      log, perr);
}

static void usage_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_usage_bucket_t *u = elt;
    int h;

    u->t = col(r[0]);
    u->requests = col(r[1]);
    u->errors_4xx = col(r[2]);
    u->errors_5xx = col(r[3]);
    u->items = col(r[4]);
    u->status_2xx = col(r[5]);
    u->status_3xx = col(r[6]);
    u->duration_us = col(r[7]);
    for (h = 0; h < CA_ROLLUP_BUCKETS; h++) {
        u->hist[h] = col(r[8 + h]);
    }
}

apr_status_t ca_store_usage(apr_pool_t *pool, ca_db_t *db, const char *endpoint_id,
                            apr_int64_t user_id, apr_int64_t since, apr_int64_t until,
                            apr_int64_t bucket_sec, apr_array_header_t **buckets,
                            const char **perr)
{
    const char *b = ca_db_i64(pool, bucket_sec);
    const char *a[5];
    const char *label;
    int n = 0;

    *buckets = NULL;
    if (bucket_sec < 1) {
        set_err(perr, "the bucket must be at least one second");
        return APR_EINVAL;
    }
    a[n++] = b;
    a[n++] = b;
    if (endpoint_id) {
        a[n++] = endpoint_id;
        label = CA_SQL_USAGE_ENDPOINT;
    }
    else if (user_id) {
        a[n++] = ca_db_i64(pool, user_id);
        label = CA_SQL_USAGE_USER;
    }
    else {
        label = CA_SQL_USAGE_ALL;
    }
    a[n++] = ca_db_i64(pool, hour_start(since));
    a[n++] = ca_db_i64(pool, until);
    return select_list(pool, db, label, n, a, USAGE_NCOLS, usage_fill,
                       sizeof(ca_usage_bucket_t), buckets, perr);
}

apr_status_t ca_store_user_login_failed(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                        int max_failures, apr_int64_t lock_until,
                                        apr_int64_t now, const char **perr)
{
    const char *a[] = {ca_db_i64(pool, max_failures), ca_db_i64(pool, lock_until),
                       ca_db_i64(pool, now), ca_db_i64(pool, id)};

    return exec_some(pool, db, CA_SQL_USER_LOGIN_FAILED, NARGS(a), a, perr);
}

apr_status_t ca_store_user_login_ok(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                    const char **perr)
{
    const char *a[] = {ca_db_i64(pool, id)};

    return exec_some(pool, db, CA_SQL_USER_LOGIN_OK, NARGS(a), a, perr);
}

apr_status_t ca_store_user_set_password(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                        const char *password_hash, apr_int64_t now,
                                        int *ended, const char **perr)
{
    const char *sid = ca_db_i64(pool, id);
    const char *a[] = {password_hash, ca_db_i64(pool, now), sid};
    const char *one[] = {sid};
    ca_db_txn_t *txn;
    apr_status_t rv;
    int n = 0;

    if (ended) {
        *ended = 0;
    }
    if (password_hash == NULL) {
        set_err(perr, "no password hash");
        return APR_EINVAL;
    }
    rv = ca_db_txn_begin(pool, db, &txn, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = exec_some(pool, db, CA_SQL_USER_SET_PASSWORD, NARGS(a), a, perr);
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_SESSIONS_DELETE_FOR_USER, 1, one, &n, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ca_db_exec(pool, db, CA_SQL_USER_LOGIN_OK, 1, one, NULL, perr);
    }
    rv = ca_db_txn_end(txn, rv, perr);
    if (rv == APR_SUCCESS && ended) {
        *ended = n;
    }
    return rv;
}

apr_status_t ca_store_login_attempt(apr_pool_t *pool, ca_db_t *db, const char *email,
                                    const char *ip, apr_int64_t ts, int success,
                                    const char **perr)
{
    const char *a[] = {ascii_lower(pool, email), ip, ca_db_i64(pool, ts),
                       success ? "1" : "0"};

    return ca_db_exec(pool, db, CA_SQL_LOGIN_ATTEMPT_INSERT, NARGS(a), a, NULL, perr);
}

/* The count of a statement taking (s key, i since); 0 without a key (nothing asked). */
static apr_status_t count_since(apr_pool_t *pool, ca_db_t *db, const char *label,
                                const char *key, apr_int64_t since, apr_int64_t *count,
                                const char **perr)
{
    const char *a[] = {key, ca_db_i64(pool, since)};
    const char **r;
    apr_status_t rv;

    if (key == NULL) {
        *count = 0;
        return APR_SUCCESS;
    }
    rv = select_first(pool, db, label, NARGS(a), a, 1, &r, perr);
    *count = rv == APR_SUCCESS ? col(r[0]) : 0;
    return rv;
}

apr_status_t ca_store_login_failures_by_ip(apr_pool_t *pool, ca_db_t *db,
                                           const char *ip, apr_int64_t since,
                                           apr_int64_t *count, const char **perr)
{
    return count_since(pool, db, CA_SQL_LOGIN_FAILURES_BY_IP, ip, since, count, perr);
}

apr_status_t ca_store_login_failures_by_email(apr_pool_t *pool, ca_db_t *db,
                                              const char *email, apr_int64_t since,
                                              apr_int64_t *count, const char **perr)
{
    return count_since(pool, db, CA_SQL_LOGIN_FAILURES_BY_EMAIL, ascii_lower(pool, email),
                       since, count, perr);
}

apr_status_t ca_store_session_insert(apr_pool_t *pool, ca_db_t *db,
                                     const ca_session_t *s, const char **perr)
{
    const char *a[] = {s->id_hash, ca_db_i64(pool, s->user_id), s->csrf_token_hash,
                       ca_db_i64(pool, s->created_at), ca_db_i64(pool, s->last_seen_at),
                       ca_db_i64(pool, s->expires_at), s->ip, s->user_agent};

    if (s->id_hash == NULL || s->csrf_token_hash == NULL) {
        set_err(perr, "a session needs an id hash and a CSRF token hash");
        return APR_EINVAL;
    }
    return ca_db_exec(pool, db, CA_SQL_SESSION_INSERT, NARGS(a), a, NULL, perr);
}

apr_status_t ca_store_session_touch(apr_pool_t *pool, ca_db_t *db, const char *id_hash,
                                    apr_int64_t now, apr_int64_t expires_at,
                                    const char **perr)
{
    const char *a[] = {ca_db_i64(pool, now), ca_db_i64(pool, expires_at), id_hash};

    return ca_db_exec(pool, db, CA_SQL_SESSION_TOUCH, NARGS(a), a, NULL, perr);
}

apr_status_t ca_store_session_delete(apr_pool_t *pool, ca_db_t *db, const char *id_hash,
                                     const char **perr)
{
    const char *a[] = {id_hash};

    if (id_hash == NULL) {
        return APR_SUCCESS;
    }
    return ca_db_exec(pool, db, CA_SQL_SESSION_DELETE, NARGS(a), a, NULL, perr);
}

apr_status_t ca_store_contact_insert(apr_pool_t *pool, ca_db_t *db, ca_contact_t *c,
                                     apr_int64_t now, const char **perr)
{
    const char *a[] = {c->name, c->email, c->company, c->message, c->ip,
                       ca_db_i64(pool, now)};
    const char **r;
    apr_status_t rv = select_first(pool, db, CA_SQL_CONTACT_INSERT, NARGS(a), a, 1, &r,
                                   perr);

    if (rv == APR_SUCCESS) {
        c->id = col(r[0]);
        c->created_at = now;
    }
    return rv;
}

apr_status_t ca_store_contacts_count_by_ip(apr_pool_t *pool, ca_db_t *db,
                                           const char *ip, apr_int64_t since,
                                           apr_int64_t *count, const char **perr)
{
    return count_since(pool, db, CA_SQL_CONTACTS_COUNT_BY_IP, ip, since, count, perr);
}

static void contact_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_contact_t *c = apr_pcalloc(pool, sizeof(*c));

    c->id = col(r[0]);
    c->name = r[1];
    c->email = r[2];
    c->company = r[3];
    c->message = r[4];
    c->ip = r[5];
    c->created_at = col(r[6]);
    c->handled_at = col(r[7]);
    *(ca_contact_t **)elt = c;
}

apr_status_t ca_store_contacts_page(apr_pool_t *pool, ca_db_t *db,
                                    apr_int64_t before_id, int limit,
                                    apr_array_header_t **list, const char **perr)
{
    const char *a[] = {before_id > 0 ? ca_db_i64(pool, before_id) : I64_MAX_STR,
                       list_limit(pool, limit)};

    return select_list(pool, db, CA_SQL_CONTACTS_PAGE, NARGS(a), a, 8, contact_fill,
                       sizeof(ca_contact_t *), list, perr);
}

apr_status_t ca_store_contact_set_handled(apr_pool_t *pool, ca_db_t *db,
                                          apr_int64_t id, apr_int64_t at,
                                          const char **perr)
{
    const char *a[] = {opt_i64(pool, at), ca_db_i64(pool, id)};

    return exec_some(pool, db, CA_SQL_CONTACT_SET_HANDLED, NARGS(a), a, perr);
}

apr_status_t ca_store_contact_delete(apr_pool_t *pool, ca_db_t *db, apr_int64_t id,
                                     const char **perr)
{
    const char *a[] = {ca_db_i64(pool, id)};

    return exec_some(pool, db, CA_SQL_CONTACT_DELETE, NARGS(a), a, perr);
}

static void audit_fill(apr_pool_t *pool, const char **r, void *elt)
{
    ca_audit_event_t *e = apr_pcalloc(pool, sizeof(*e));

    e->id = col(r[0]);
    e->user_id = col(r[1]);
    e->actor_email = r[2];
    e->action = r[3];
    e->target_kind = r[4];
    e->target_id = r[5];
    e->detail = r[6];
    e->ip = r[7];
    e->created_at = col(r[8]);
    *(ca_audit_event_t **)elt = e;
}

apr_status_t ca_store_audit_page(apr_pool_t *pool, ca_db_t *db, apr_int64_t before_id,
                                 const char *target_kind, const char *target_id,
                                 apr_int64_t user_id, int limit,
                                 apr_array_header_t **list, const char **perr)
{
    const char *uid = opt_i64(pool, user_id);
    const char *a[] = {before_id > 0 ? ca_db_i64(pool, before_id) : I64_MAX_STR,
                       target_kind, target_kind, target_id, target_id, uid, uid,
                       list_limit(pool, limit)};

    return select_list(pool, db, CA_SQL_AUDIT_PAGE, NARGS(a), a, 9, audit_fill,
                       sizeof(ca_audit_event_t *), list, perr);
}
