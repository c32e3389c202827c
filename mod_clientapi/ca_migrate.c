/*
 * ca_migrate.c - schema migrations. See ca_migrate.h for the rules.
 */
#include "ca_migrate.h"

#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_strings.h>

#define MAX_FILE_SIZE (4 * 1024 * 1024)

static void set_err(const char **perr, const char *msg)
{
    if (perr) {
        *perr = msg;
    }
}

/* "NNNN_name.sql" -> version, or 0 if the name does not follow the rule. */
static int parse_name(const char *name)
{
    apr_size_t len = strlen(name), i;
    int version = 0;

    if (len < 10 || strcmp(name + len - 4, ".sql") != 0) {
        return 0;
    }
    for (i = 0; i < 4; i++) {
        if (!apr_isdigit(name[i])) {
            return 0;
        }
        version = version * 10 + (name[i] - '0');
    }
    if (name[4] != '_') {
        return 0;
    }
    for (i = 5; i < len - 4; i++) {
        if (!apr_isalnum(name[i]) && name[i] != '_' && name[i] != '-') {
            return 0;
        }
    }
    return version;
}

static int by_version(const void *a, const void *b)
{
    const ca_migration_t *x = a, *y = b;

    return (x->version > y->version) - (x->version < y->version);
}

apr_status_t ca_migrate_list(apr_pool_t *pool, const char *sql_dir,
                             const char *driver_name, apr_array_header_t **files,
                             const char **perr)
{
    apr_dir_t *dir;
    apr_finfo_t fi;
    const char *path;
    apr_array_header_t *list;
    apr_status_t rv;
    int i;

    *files = NULL;
    if (sql_dir == NULL || driver_name == NULL || strchr(driver_name, '/')
        || strchr(driver_name, '.')) {
        set_err(perr, "migrations need a sql directory and a driver name");
        return APR_EINVAL;
    }
    path = apr_pstrcat(pool, sql_dir, "/", driver_name, NULL);
    rv = apr_dir_open(&dir, path, pool);
    if (rv != APR_SUCCESS) {
        char buf[120];
        set_err(perr, apr_psprintf(pool, "cannot open migration directory %s: %s",
                                   path, apr_strerror(rv, buf, sizeof(buf))));
        return CA_MIGRATE_EFILES;
    }
    list = apr_array_make(pool, 8, sizeof(ca_migration_t));
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dir) == APR_SUCCESS) {
        apr_size_t len = strlen(fi.name);
        ca_migration_t *m;
        int version;

        if (len < 4 || strcmp(fi.name + len - 4, ".sql") != 0) {
            continue;
        }
        version = parse_name(fi.name);
        if (version <= 0) {
            apr_dir_close(dir);
            set_err(perr, apr_psprintf(pool, "%s/%s: a migration is named NNNN_name.sql "
                                       "(NNNN > 0000; name of letters, digits, _ "
                                       "and -)", path, fi.name));
            return CA_MIGRATE_EFILES;
        }
        m = apr_array_push(list);
        m->version = version;
        m->name = apr_pstrdup(pool, fi.name);
        m->path = apr_pstrcat(pool, path, "/", fi.name, NULL);
    }
    apr_dir_close(dir);
    if (list->nelts == 0) {
        set_err(perr, apr_psprintf(pool, "no migrations (NNNN_name.sql) in %s", path));
        return CA_MIGRATE_EFILES;
    }
    qsort(list->elts, list->nelts, sizeof(ca_migration_t), by_version);
    for (i = 1; i < list->nelts; i++) {
        const ca_migration_t *a = &APR_ARRAY_IDX(list, i - 1, ca_migration_t);
        const ca_migration_t *b = &APR_ARRAY_IDX(list, i, ca_migration_t);
        if (a->version == b->version) {
            set_err(perr, apr_psprintf(pool, "%s: %s and %s have the same version",
                                       path, a->name, b->name));
            return CA_MIGRATE_EFILES;
        }
    }
    *files = list;
    return APR_SUCCESS;
}

typedef struct {
    apr_pool_t *pool;
    char *buf;
    apr_size_t len, cap;
} strbuf_t;

static void sb_add(strbuf_t *sb, const char *data, apr_size_t n)
{
    if (sb->len + n + 1 > sb->cap) {
        apr_size_t cap = (sb->len + n + 1) * 2;
        char *nb = apr_palloc(sb->pool, cap);
        if (sb->len) {
            memcpy(nb, sb->buf, sb->len);
        }
        sb->buf = nb;
        sb->cap = cap;
    }
    memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
}

apr_status_t ca_migrate_split(apr_pool_t *pool, const char *text,
                              apr_array_header_t **stmts, const char **perr)
{
    apr_array_header_t *list = apr_array_make(pool, 16, sizeof(ca_sql_stmt_t));
    const char *p = text ? text : "";
    strbuf_t cur = {pool, NULL, 0, 0};
    int line = 0, start_line = 0;

    *stmts = NULL;
    while (*p) {
        const char *eol = strchr(p, '\n');
        apr_size_t len = eol ? (apr_size_t)(eol - p) : strlen(p);
        apr_size_t end = len, b = 0;

        line++;
        while (end > 0 && (p[end - 1] == '\r' || p[end - 1] == ' '
                           || p[end - 1] == '\t')) {
            end--;
        }
        while (b < end && (p[b] == ' ' || p[b] == '\t')) {
            b++;
        }
        if (end - b >= 2 && p[b] == '-' && p[b + 1] == '-') {
            /* a comment line: dropped */
        }
        else if (b == end) {
            if (start_line) {
                sb_add(&cur, "\n", 1);     /* blank line inside a statement */
            }
        }
        else {
            if (!start_line) {
                start_line = line;
            }
            sb_add(&cur, p, end);
            if (p[end - 1] == ';') {
                apr_size_t n = cur.len - 1, b0 = 0;  /* drop the ';' */
                while (n > 0 && apr_isspace(cur.buf[n - 1])) {
                    n--;
                }
                while (b0 < n && apr_isspace(cur.buf[b0])) {
                    b0++;
                }
                if (n > b0) {
                    ca_sql_stmt_t *s = apr_array_push(list);
                    s->sql = apr_pstrmemdup(pool, cur.buf + b0, n - b0);
                    s->line = start_line;
                }
                cur.len = 0;
                start_line = 0;
            }
            else {
                sb_add(&cur, "\n", 1);
            }
        }
        p += len;
        if (*p == '\n') {
            p++;
        }
    }
    if (start_line) {
        set_err(perr, apr_psprintf(pool, "statement starting at line %d does not end "
                                   "with ';' at the end of a line", start_line));
        return CA_MIGRATE_EFILES;
    }
    *stmts = list;
    return APR_SUCCESS;
}

apr_status_t ca_migrate_applied(apr_pool_t *pool, ca_db_t *db,
                                apr_array_header_t **versions, int *max,
                                const char **perr)
{
    ca_db_rows_t *rows;
    const char *err = NULL;
    apr_status_t rv;
    int i;

    *versions = apr_array_make(pool, 8, sizeof(int));
    if (max) {
        *max = 0;
    }
    rv = ca_db_select_sql(pool, db, "SELECT version FROM schema_version ORDER BY version",
                          &rows, &err);
    if (rv != APR_SUCCESS) {
        if (rv != CA_DB_EUNAVAILABLE && err && strstr(err, "schema_version")) {
            return APR_SUCCESS;     /* no such table: nothing applied yet */
        }
        set_err(perr, apr_psprintf(pool, "cannot read schema_version: %s",
                                   err ? err : "unknown error"));
        return rv;
    }
    for (i = 0; i < rows->rows->nelts; i++) {
        int v = (int)ca_db_col_i64(CA_DB_ROW(rows, i)[0], -1);
        if (v <= 0) {
            set_err(perr, "schema_version holds a version that is not a positive "
                    "integer");
            return CA_MIGRATE_EHISTORY;
        }
        APR_ARRAY_PUSH(*versions, int) = v;
        if (max && v > *max) {
            *max = v;
        }
    }
    return APR_SUCCESS;
}

static int has_version(const apr_array_header_t *versions, int v)
{
    int i;

    for (i = 0; i < versions->nelts; i++) {
        if (APR_ARRAY_IDX(versions, i, int) == v) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t read_file(apr_pool_t *pool, const char *path, char **text,
                              const char **perr)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t got = 0;
    char buf[120];
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT,
                       pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
        if (rv == APR_SUCCESS && fi.size > MAX_FILE_SIZE) {
            apr_file_close(f);
            set_err(perr, apr_psprintf(pool, "%s is larger than %d bytes", path,
                                       MAX_FILE_SIZE));
            return CA_MIGRATE_EFILES;
        }
        if (rv == APR_SUCCESS) {
            *text = apr_palloc(pool, (apr_size_t)fi.size + 1);
            rv = fi.size > 0 ? apr_file_read_full(f, *text, (apr_size_t)fi.size, &got)
                             : APR_SUCCESS;
            (*text)[got] = '\0';
        }
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        set_err(perr, apr_psprintf(pool, "cannot read %s: %s", path,
                                   apr_strerror(rv, buf, sizeof(buf))));
        return CA_MIGRATE_EFILES;
    }
    if (strlen(*text) != got) {
        set_err(perr, apr_psprintf(pool, "%s contains a NUL byte", path));
        return CA_MIGRATE_EFILES;
    }
    return APR_SUCCESS;
}

static apr_status_t apply_one(apr_pool_t *pool, ca_db_t *db, const ca_migration_t *m,
                              const apr_array_header_t *stmts, apr_int64_t now,
                              const char **perr)
{
    ca_db_txn_t *txn;
    const char *err = NULL;
    apr_status_t rv;
    int i;

    rv = ca_db_txn_begin(pool, db, &txn, &err);
    if (rv != APR_SUCCESS) {
        set_err(perr, apr_psprintf(pool, "%s: %s", m->name, err));
        return rv;
    }
    for (i = 0; i < stmts->nelts; i++) {
        const ca_sql_stmt_t *s = &APR_ARRAY_IDX(stmts, i, ca_sql_stmt_t);
        rv = ca_db_exec_sql(pool, db, s->sql, &err);
        if (rv != APR_SUCCESS) {
            set_err(perr, apr_psprintf(pool, "%s: statement %d (line %d) failed, "
                                       "rolled back: %s", m->name, i + 1, s->line,
                                       err));
            if (rv != CA_DB_EUNAVAILABLE) {
                rv = CA_MIGRATE_EFAILED;
            }
            return ca_db_txn_end(txn, rv, NULL);
        }
    }
    /* the name is [A-Za-z0-9_.-] only (parse_name), so it needs no quoting */
    rv = ca_db_exec_sql(pool, db,
                        apr_psprintf(pool, "INSERT INTO schema_version (version, name, "
                                     "applied_at) VALUES (%d, '%s', %" APR_INT64_T_FMT
                                     ")", m->version, m->name, now),
                        &err);
    if (rv != APR_SUCCESS) {
        set_err(perr, apr_psprintf(pool, "%s: recording version %d failed, rolled "
                                   "back: %s", m->name, m->version, err));
        if (rv != CA_DB_EUNAVAILABLE) {
            rv = CA_MIGRATE_EFAILED;
        }
        return ca_db_txn_end(txn, rv, NULL);
    }
    rv = ca_db_txn_end(txn, APR_SUCCESS, &err);
    if (rv != APR_SUCCESS) {
        set_err(perr, apr_psprintf(pool, "%s: commit failed: %s", m->name, err));
        if (rv != CA_DB_EUNAVAILABLE) {
            rv = CA_MIGRATE_EFAILED;
        }
    }
    return rv;
}

apr_status_t ca_migrate_run(apr_pool_t *pool, ca_db_t *db, const char *sql_dir,
                            apr_int64_t now, apr_array_header_t **applied,
                            int *version, const char **perr)
{
    apr_array_header_t *files, *have, *done, *texts;
    const char *driver = ca_db_driver_name(db);
    const char *err = NULL;
    int max = 0, newest, i;
    apr_status_t rv;

    done = apr_array_make(pool, 4, sizeof(ca_migration_t));
    if (applied) {
        *applied = done;
    }
    if (version) {
        *version = 0;
    }
    rv = ca_migrate_list(pool, sql_dir, driver, &files, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!strcmp(driver, "sqlite3")) {
        /* WAL (kept in the file): readers, and httpd children preparing their statements,
         * are not blocked by a writer; without it a child starting while another writes
         * fails with "database is locked" (apr_dbd_sqlite3 does not retry a prepare) */
        ca_db_rows_t *rows = NULL;
        rv = ca_db_select_sql(pool, db, "PRAGMA journal_mode = WAL", &rows, perr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = ca_migrate_applied(pool, db, &have, &max, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (version) {
        *version = max;
    }
    newest = APR_ARRAY_IDX(files, files->nelts - 1, ca_migration_t).version;
    if (max > newest) {
        set_err(perr, apr_psprintf(pool, "the database schema is at version %d, newer "
                                   "than the newest migration (%04d) in %s/%s: this "
                                   "clientapi is too old for this database", max,
                                   newest, sql_dir, driver));
        return CA_MIGRATE_ENEWER;
    }
    for (i = 0; i < have->nelts; i++) {
        int v = APR_ARRAY_IDX(have, i, int);
        int j, found = 0;
        for (j = 0; j < files->nelts; j++) {
            found |= APR_ARRAY_IDX(files, j, ca_migration_t).version == v;
        }
        if (!found) {
            set_err(perr, apr_psprintf(pool, "the database has version %d applied, but "
                                       "no file in %s/%s provides it", v, sql_dir,
                                       driver));
            return CA_MIGRATE_EHISTORY;
        }
    }
    /* read and split every pending file before touching the database */
    texts = apr_array_make(pool, files->nelts, sizeof(apr_array_header_t *));
    for (i = 0; i < files->nelts; i++) {
        const ca_migration_t *m = &APR_ARRAY_IDX(files, i, ca_migration_t);
        apr_array_header_t *stmts = NULL;
        char *text;

        if (has_version(have, m->version)) {
            APR_ARRAY_PUSH(texts, apr_array_header_t *) = NULL;
            continue;
        }
        if (m->version < max) {
            set_err(perr, apr_psprintf(pool, "%s is not applied, but the database is "
                                       "already at version %d", m->name, max));
            return CA_MIGRATE_EHISTORY;
        }
        rv = read_file(pool, m->path, &text, perr);
        if (rv == APR_SUCCESS) {
            rv = ca_migrate_split(pool, text, &stmts, &err);
            if (rv != APR_SUCCESS) {
                set_err(perr, apr_psprintf(pool, "%s: %s", m->path, err));
            }
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(texts, apr_array_header_t *) = stmts;
    }
    for (i = 0; i < files->nelts; i++) {
        const ca_migration_t *m = &APR_ARRAY_IDX(files, i, ca_migration_t);
        const apr_array_header_t *stmts = APR_ARRAY_IDX(texts, i, apr_array_header_t *);

        if (stmts == NULL) {
            continue;
        }
        rv = apply_one(pool, db, m, stmts, now, perr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        *(ca_migration_t *)apr_array_push(done) = *m;
        if (version) {
            *version = m->version;
        }
    }
    return APR_SUCCESS;
}
