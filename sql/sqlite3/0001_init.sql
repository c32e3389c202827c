-- mod_clientapi schema, migration 0001 (SQLite 3.37+: STRICT tables).
--
-- Applied by `clientapi migrate`, which runs this whole file in one transaction and
-- records version 1 in schema_version. Splitting rule: a statement ends on a line
-- whose last non-blank character is ';'. Lines starting with '--' are comments and
-- never end a statement, so put no ';' at the end of a line inside a statement
-- (no function bodies or triggers with inner statements).
--
-- sql/pgsql/0001_init.sql declares the same tables, columns, constraints and
-- indexes; only the column types differ (INTEGER PRIMARY KEY AUTOINCREMENT for
-- identity ids, INTEGER for BIGINT). Tables are STRICT so that SQLite rejects a
-- value of the wrong type as PostgreSQL does. Foreign keys are enforced only on
-- connections that ran "PRAGMA foreign_keys = ON" (ca_db_connect does it; under
-- mod_dbd use DBDInitSQL).
-- Conventions: times are unix epoch seconds (INTEGER), durations microseconds,
-- booleans 0/1 integers, secrets stored encrypted ("_enc") or hashed ("_hash").
-- docs/schema.md documents every table and column.

CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    disabled_at   INTEGER,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER
) STRICT;

CREATE TABLE sessions (
    id_hash         TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token_hash TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ip              TEXT,
    user_agent      TEXT
) STRICT;
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE login_attempts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    email   TEXT,
    ip      TEXT,
    ts      INTEGER NOT NULL,
    success INTEGER NOT NULL DEFAULT 0 CHECK (success IN (0, 1))
) STRICT;
CREATE INDEX login_attempts_email_idx ON login_attempts (email, ts);
CREATE INDEX login_attempts_ip_idx ON login_attempts (ip, ts);
CREATE INDEX login_attempts_ts_idx ON login_attempts (ts);

CREATE TABLE provider_connections (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider           TEXT NOT NULL,
    account_id         TEXT,
    account_label      TEXT,
    auth_mode          TEXT NOT NULL,
    access_token_enc   TEXT,
    refresh_token_enc  TEXT,
    api_key_enc        TEXT,
    client_id          TEXT,
    client_secret_enc  TEXT,
    tenant_id          TEXT,
    scopes             TEXT,
    expires_at         INTEGER,
    status             TEXT NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active', 'reauthorization_required', 'disconnected')),
    refresh_lock_until INTEGER,
    refresh_lock_owner TEXT,
    last_refresh_at    INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX provider_connections_user_idx ON provider_connections (user_id);

CREATE TABLE endpoints (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id         TEXT NOT NULL UNIQUE,
    user_id           INTEGER REFERENCES users (id) ON DELETE CASCADE,
    connection_id     INTEGER NOT NULL REFERENCES provider_connections (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    scope_kind        TEXT NOT NULL CHECK (scope_kind IN ('company', 'client')),
    company_id        TEXT NOT NULL,
    company_name      TEXT,
    client_id         TEXT,
    client_name       TEXT,
    access_mode       TEXT NOT NULL DEFAULT 'read-only'
                      CHECK (access_mode IN ('read-only', 'read-write')),
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    expires_at        INTEGER,
    ip_allow          TEXT,
    rate_limit        INTEGER,
    managed_by_config INTEGER NOT NULL DEFAULT 0 CHECK (managed_by_config IN (0, 1)),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    rotated_at        INTEGER,
    last_used_at      INTEGER,
    CHECK (scope_kind = 'company' OR client_id IS NOT NULL)
) STRICT;
CREATE INDEX endpoints_user_idx ON endpoints (user_id);
CREATE INDEX endpoints_connection_idx ON endpoints (connection_id);

CREATE TABLE endpoint_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id INTEGER NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    key_hash    TEXT NOT NULL UNIQUE,
    key_hint    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX endpoint_keys_endpoint_idx ON endpoint_keys (endpoint_id);
-- At most one current key (no expiry, not revoked) per endpoint.
CREATE UNIQUE INDEX endpoint_keys_current_idx ON endpoint_keys (endpoint_id)
    WHERE expires_at IS NULL AND revoked_at IS NULL;

CREATE TABLE request_logs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id  TEXT NOT NULL,
    ts           INTEGER NOT NULL,
    method       TEXT NOT NULL,
    resource     TEXT,
    record_id    TEXT,
    status       INTEGER NOT NULL,
    item_count   INTEGER,
    duration_us  INTEGER NOT NULL,
    query        TEXT,
    error_code   TEXT,
    error_detail TEXT,
    client_ip    TEXT,
    user_agent   TEXT,
    request_id   TEXT
) STRICT;
CREATE INDEX request_logs_endpoint_ts_idx ON request_logs (endpoint_id, ts);
CREATE INDEX request_logs_ts_idx ON request_logs (ts);

CREATE TABLE contact_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    company    TEXT,
    message    TEXT NOT NULL,
    ip         TEXT,
    created_at INTEGER NOT NULL,
    handled_at INTEGER
) STRICT;
CREATE INDEX contact_messages_created_idx ON contact_messages (created_at);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER,
    actor_email TEXT,
    action      TEXT NOT NULL,
    target_kind TEXT,
    target_id   TEXT,
    detail      TEXT,
    ip          TEXT,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_events_created_idx ON audit_events (created_at);
CREATE INDEX audit_events_target_idx ON audit_events (target_kind, target_id);

CREATE TABLE oauth_states (
    state_hash        TEXT PRIMARY KEY,
    session_id_hash   TEXT,
    user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider          TEXT NOT NULL,
    code_verifier_enc TEXT,
    redirect_after    TEXT,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    used_at           INTEGER
) STRICT;
CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);

CREATE TABLE idempotency_records (
    endpoint_id   INTEGER NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    idem_key_hash TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER,
    headers       TEXT,
    body          TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, idem_key_hash)
) STRICT;
CREATE INDEX idempotency_records_expires_idx ON idempotency_records (expires_at);
