/*
 * ca_migrate.h - schema migrations: sql/<driver>/NNNN_name.sql applied in order.
 *
 * Core unit: libc + APR + APR-util (apr_dbd, through ca_store) only, no httpd
 * headers, no logging.
 *
 * Files. <sql_dir>/<driver name>/NNNN_name.sql, NNNN = 4 digits (the version,
 * > 0, each used once), name = letters, digits, '_' or '-'. Other ".sql" names
 * in that directory are an error; files not ending in ".sql" are ignored.
 *
 * Statements. A file is split into statements at lines whose last non-blank
 * character is ';'. Lines whose first non-blank characters are "--" are comments
 * and are dropped (so they never end a statement). Text after the last ';' is an
 * error. So: no ';' at the end of a line inside a statement (no trigger or
 * function bodies), and nothing that cannot run in a transaction (e.g.
 * PostgreSQL's CREATE INDEX CONCURRENTLY).
 *
 * Applying. Versions already recorded in schema_version are skipped; each
 * pending file runs in its own transaction together with the INSERT that records
 * it, so a failing file leaves no trace (it is rolled back and nothing after it
 * runs). Version 1 creates schema_version itself. Refused, before anything runs:
 * a database whose newest version is newer than the newest file (an older
 * clientapi against a newer database), a file version older than the newest
 * applied one that is not applied, and an applied version that no file provides.
 */
#ifndef CA_MIGRATE_H
#define CA_MIGRATE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>

#include "ca_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The schema version this build's statements (ca_store) are written for. */
#define CA_SCHEMA_VERSION 2

#define CA_MIGRATE_ENEWER   (CA_DB_ERRSPACE + 20)  /* database newer than the files */
#define CA_MIGRATE_EFILES   (CA_DB_ERRSPACE + 21)  /* bad directory, name or file text */
#define CA_MIGRATE_EFAILED  (CA_DB_ERRSPACE + 22)  /* a statement failed (rolled back) */
#define CA_MIGRATE_EHISTORY (CA_DB_ERRSPACE + 23)  /* applied set does not match files */

typedef struct {
    int version;
    const char *name;               /* file name, e.g. "0001_init.sql" */
    const char *path;
} ca_migration_t;

typedef struct {
    const char *sql;                /* without the final ';' */
    int line;                       /* line of the file where it starts */
} ca_sql_stmt_t;

/* The migrations of a driver (*files: ca_migration_t, by version). */
apr_status_t ca_migrate_list(apr_pool_t *pool, const char *sql_dir,
                             const char *driver_name, apr_array_header_t **files,
                             const char **perr);

/* Split a file's text by the rule above (*stmts: ca_sql_stmt_t). */
apr_status_t ca_migrate_split(apr_pool_t *pool, const char *text,
                              apr_array_header_t **stmts, const char **perr);

/* Versions recorded in schema_version, ascending (*versions: int); empty for a
 * database without schema_version. *max (may be NULL) = newest or 0. */
apr_status_t ca_migrate_applied(apr_pool_t *pool, ca_db_t *db,
                                apr_array_header_t **versions, int *max,
                                const char **perr);

/* Apply the pending migrations of db's driver from sql_dir (e.g. "sql"), with
 * now (unix seconds) as applied_at. *applied (may be NULL): ca_migration_t of the
 * files applied by this call, empty when up to date. *version (may be NULL): the
 * database's version afterwards (as far as it got, on error). */
apr_status_t ca_migrate_run(apr_pool_t *pool, ca_db_t *db, const char *sql_dir,
                            apr_int64_t now, apr_array_header_t **applied,
                            int *version, const char **perr);

#ifdef __cplusplus
}
#endif

#endif /* CA_MIGRATE_H */
