-- mod_clientapi schema, migration 0002 (SQLite 3.37+): usage rollups and idempotent
-- request-log writes.
--
-- request_rollups: one row per endpoint per hour, maintained by the request-log writer in
-- the transaction that inserts the logs (INSERT ... ON CONFLICT DO UPDATE adding the
-- batch's counts), read by the dashboard's usage charts, purged with the logs. h00..h23
-- count requests per duration bucket (upper bounds in microseconds: 500, 1000, 2000,
-- 3000, 5000, 7500, 10000, 15000, 20000, 30000, 50000, 75000, 100000, 150000, 200000,
-- 300000, 500000, 750000, 1000000, 2000000, 5000000, 10000000, 30000000, then above;
-- a bucket holds durations d with lower < d <= upper). docs/schema.md has the rest.
--
-- request_logs.request_id becomes unique (NULL allowed, as before), so a batch replayed
-- from the spool after a crash is inserted with ON CONFLICT (request_id) DO NOTHING and
-- never twice. Request ids are 128-bit random (or mod_unique_id's).
-- The same statements in sql/pgsql/0002_rollups.sql; only column types differ.

CREATE UNIQUE INDEX request_logs_request_id_idx ON request_logs (request_id);

CREATE TABLE request_rollups (
    endpoint_id TEXT NOT NULL,
    hour_start  INTEGER NOT NULL,
    requests    INTEGER NOT NULL DEFAULT 0,
    status_2xx  INTEGER NOT NULL DEFAULT 0,
    status_3xx  INTEGER NOT NULL DEFAULT 0,
    status_4xx  INTEGER NOT NULL DEFAULT 0,
    status_5xx  INTEGER NOT NULL DEFAULT 0,
    items       INTEGER NOT NULL DEFAULT 0,
    duration_us INTEGER NOT NULL DEFAULT 0,
    h00         INTEGER NOT NULL DEFAULT 0,
    h01         INTEGER NOT NULL DEFAULT 0,
    h02         INTEGER NOT NULL DEFAULT 0,
    h03         INTEGER NOT NULL DEFAULT 0,
    h04         INTEGER NOT NULL DEFAULT 0,
    h05         INTEGER NOT NULL DEFAULT 0,
    h06         INTEGER NOT NULL DEFAULT 0,
    h07         INTEGER NOT NULL DEFAULT 0,
    h08         INTEGER NOT NULL DEFAULT 0,
    h09         INTEGER NOT NULL DEFAULT 0,
    h10         INTEGER NOT NULL DEFAULT 0,
    h11         INTEGER NOT NULL DEFAULT 0,
    h12         INTEGER NOT NULL DEFAULT 0,
    h13         INTEGER NOT NULL DEFAULT 0,
    h14         INTEGER NOT NULL DEFAULT 0,
    h15         INTEGER NOT NULL DEFAULT 0,
    h16         INTEGER NOT NULL DEFAULT 0,
    h17         INTEGER NOT NULL DEFAULT 0,
    h18         INTEGER NOT NULL DEFAULT 0,
    h19         INTEGER NOT NULL DEFAULT 0,
    h20         INTEGER NOT NULL DEFAULT 0,
    h21         INTEGER NOT NULL DEFAULT 0,
    h22         INTEGER NOT NULL DEFAULT 0,
    h23         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id, hour_start)
) STRICT;
CREATE INDEX request_rollups_hour_idx ON request_rollups (hour_start);

-- backfill from the request logs already stored (clientapi rollup rebuild does the same)
INSERT INTO request_rollups (endpoint_id, hour_start, requests, status_2xx, status_3xx,
    status_4xx, status_5xx, items, duration_us,
    h00, h01, h02, h03, h04, h05, h06, h07, h08, h09, h10, h11,
    h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22, h23)
SELECT endpoint_id, (ts / 3600) * 3600, count(*),
    sum(CASE WHEN status >= 200 AND status < 300 THEN 1 ELSE 0 END),
    sum(CASE WHEN status >= 300 AND status < 400 THEN 1 ELSE 0 END),
    sum(CASE WHEN status >= 400 AND status < 500 THEN 1 ELSE 0 END),
    sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END),
    sum(COALESCE(item_count, 0)), sum(duration_us),
    sum(CASE WHEN duration_us <= 500 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 500 AND duration_us <= 1000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 1000 AND duration_us <= 2000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 2000 AND duration_us <= 3000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 3000 AND duration_us <= 5000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 5000 AND duration_us <= 7500 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 7500 AND duration_us <= 10000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 10000 AND duration_us <= 15000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 15000 AND duration_us <= 20000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 20000 AND duration_us <= 30000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 30000 AND duration_us <= 50000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 50000 AND duration_us <= 75000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 75000 AND duration_us <= 100000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 100000 AND duration_us <= 150000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 150000 AND duration_us <= 200000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 200000 AND duration_us <= 300000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 300000 AND duration_us <= 500000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 500000 AND duration_us <= 750000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 750000 AND duration_us <= 1000000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 1000000 AND duration_us <= 2000000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 2000000 AND duration_us <= 5000000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 5000000 AND duration_us <= 10000000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 10000000 AND duration_us <= 30000000 THEN 1 ELSE 0 END),
    sum(CASE WHEN duration_us > 30000000 THEN 1 ELSE 0 END)
FROM request_logs GROUP BY endpoint_id, (ts / 3600) * 3600;
