/*
 * test_store.c - unit tests for ca_store and ca_migrate (cmocka).
 *
 * Every test runs against sqlite3 (a database file in a mkdtemp directory) and,
 * when CA_TEST_PGSQL_PARAMS is set (e.g. "host=/tmp/pg port=5433 dbname=ci
 * user=ci"), against that PostgreSQL database too. WARNING: the PostgreSQL
 * database is emptied (every table of its current schema dropped) before each
 * test. Migrations come from CA_SQL_DIR (default "sql").
 */
#define _GNU_SOURCE 1           /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "ca_migrate.h"
#include "ca_store.h"

#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define NOW ((apr_int64_t)1800000000)

#define HASH_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HASH_C "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HASH_D "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

typedef struct {
    const char *driver;
    const char *params;             /* pgsql only; sqlite3 gets a temp file */
} backend_t;

typedef struct {
    apr_pool_t *pool;
    const backend_t *be;
    const char *params;
    char *tmpdir;
    ca_db_t *db;
} fx_t;

static apr_pool_t *root_pool;
static const char *sql_dir;

/* ---------------------------------------------------------------------------
 * Fixture
 * ------------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    if (dir) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* Drop every table of the PostgreSQL test database's current schema. */
static int pg_reset(apr_pool_t *pool, const char *params)
{
    ca_db_t *db;
    ca_db_rows_t *rows;
    const char *err = NULL;
    int i;

    if (ca_db_connect(pool, "pgsql", params, &db, &err) != APR_SUCCESS) {
        fprintf(stderr, "# pgsql: %s\n", err);
        return -1;
    }
    if (ca_db_select_sql(pool, db, "SELECT tablename FROM pg_tables"
                         " WHERE schemaname = current_schema()", &rows, &err)
        != APR_SUCCESS) {
        fprintf(stderr, "# pgsql: %s\n", err);
        return -1;
    }
    for (i = 0; i < rows->rows->nelts; i++) {
        const char *sql = apr_psprintf(pool, "DROP TABLE IF EXISTS \"%s\" CASCADE",
                                       CA_DB_ROW(rows, i)[0]);
        if (ca_db_exec_sql(pool, db, sql, &err) != APR_SUCCESS) {
            fprintf(stderr, "# pgsql: %s\n", err);
            return -1;
        }
    }
    ca_db_close(db);
    return 0;
}

static int setup_raw(void **state)
{
    const backend_t *be = *state;
    fx_t *f;
    apr_pool_t *pool;
    const char *err = NULL;
    char tmpl[] = "/tmp/ca_store_test.XXXXXX";

    if (apr_pool_create(&pool, root_pool) != APR_SUCCESS) {
        return -1;
    }
    f = apr_pcalloc(pool, sizeof(*f));
    f->pool = pool;
    f->be = be;
    if (mkdtemp(tmpl) == NULL) {
        return -1;
    }
    f->tmpdir = apr_pstrdup(pool, tmpl);
    if (strcmp(be->driver, "sqlite3") == 0) {
        f->params = apr_pstrcat(pool, f->tmpdir, "/test.db", NULL);
    }
    else {
        f->params = be->params;
        if (pg_reset(pool, f->params) != 0) {
            return -1;
        }
    }
    if (ca_db_connect(pool, be->driver, f->params, &f->db, &err) != APR_SUCCESS) {
        fprintf(stderr, "# connect: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup(void **state)
{
    fx_t *f;
    const char *err = NULL;

    if (setup_raw(state) != 0) {
        return -1;
    }
    f = *state;
    if (ca_migrate_run(f->pool, f->db, sql_dir, NOW, NULL, NULL, &err) != APR_SUCCESS
        || ca_db_prepare_all(f->pool, f->db, &err) != APR_SUCCESS) {
        fprintf(stderr, "# setup: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;

    if (f == NULL || f->pool == NULL) {
        return 0;
    }
    ca_db_close(f->db);
    rm_rf(f->tmpdir);
    apr_pool_destroy(f->pool);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------- */

static const char *I(fx_t *f, apr_int64_t v)
{
    return ca_db_i64(f->pool, v);
}

static void exec_ok(fx_t *f, const char *label, int nargs, const char *const *args,
                    int expect_rows)
{
    const char *err = NULL;
    int n = -1;
    apr_status_t rv = ca_db_exec(f->pool, f->db, label, nargs, args, &n, &err);

    if (rv != APR_SUCCESS) {
        fail_msg("%s: %s", label, err);
    }
    if (expect_rows >= 0) {
        assert_int_equal(n, expect_rows);
    }
}

static apr_int64_t count(fx_t *f, const char *sql)
{
    ca_db_rows_t *rows;
    const char *err = NULL;

    if (ca_db_select_sql(f->pool, f->db, sql, &rows, &err) != APR_SUCCESS) {
        fail_msg("%s: %s", sql, err);
    }
    assert_int_equal(rows->rows->nelts, 1);
    return ca_db_col_i64(CA_DB_ROW(rows, 0)[0], -1);
}

static apr_int64_t mk_user(fx_t *f, const char *email)
{
    apr_int64_t id = 0;
    const char *err = NULL;

    if (ca_store_user_create(f->pool, f->db, email, "$argon2id$v=19$x", "member", NOW,
                             &id, &err) != APR_SUCCESS) {
        fail_msg("user: %s", err);
    }
    assert_true(id > 0);
    return id;
}

static apr_int64_t mk_conn(fx_t *f, apr_int64_t user)
{
    ca_connection_t c;
    const char *err = NULL;

    memset(&c, 0, sizeof(c));
    c.user_id = user;
    c.provider = "servicem8";
    c.account_id = "acct-1";
    c.account_label = "Acme Plumbing";
    c.auth_mode = "oauth2";
    c.access_token_enc = "v1:k1:sealed-access";
    c.refresh_token_enc = "v1:k1:sealed-refresh";
    c.scopes = "read_jobs read_customers";
    c.expires_at = NOW + 3600;
    if (ca_store_connection_insert(f->pool, f->db, &c, NOW, &err) != APR_SUCCESS) {
        fail_msg("connection: %s", err);
    }
    assert_true(c.id > 0);
    return c.id;
}

static ca_endpoint_t *mk_endpoint(fx_t *f, apr_int64_t user, apr_int64_t conn,
                                  const char *public_id, const char *key_hash)
{
    ca_endpoint_t *ep = apr_pcalloc(f->pool, sizeof(*ep));
    const char *err = NULL;

    ep->public_id = public_id;
    ep->user_id = user;
    ep->connection_id = conn;
    ep->name = "Partner feed";
    ep->scope_kind = "company";
    ep->company_id = "comp-42";
    ep->company_name = "Acme";
    if (ca_store_endpoint_create(f->pool, f->db, ep, key_hash, "cak_\xe2\x80\xa6" "abcd",
                                 NOW, &err) != APR_SUCCESS) {
        fail_msg("endpoint: %s", err);
    }
    assert_true(ep->id > 0);
    return ep;
}

static apr_status_t by_key(fx_t *f, const char *hash, apr_int64_t now,
                           ca_endpoint_t **ep)
{
    return ca_store_endpoint_by_key(f->pool, f->db, hash, now, ep, NULL);
}

static void write_file(apr_pool_t *pool, const char *path, const char *text)
{
    apr_file_t *fp;
    apr_size_t n = strlen(text);

    assert_int_equal(apr_file_open(&fp, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                                   | APR_FOPEN_TRUNCATE, APR_OS_DEFAULT, pool),
                     APR_SUCCESS);
    assert_int_equal(apr_file_write_full(fp, text, n, NULL), APR_SUCCESS);
    apr_file_close(fp);
}

static char *read_text(apr_pool_t *pool, const char *path)
{
    apr_file_t *fp;
    apr_finfo_t fi;
    char *buf;

    assert_int_equal(apr_file_open(&fp, path, APR_FOPEN_READ, APR_OS_DEFAULT, pool),
                     APR_SUCCESS);
    assert_int_equal(apr_file_info_get(&fi, APR_FINFO_SIZE, fp), APR_SUCCESS);
    buf = apr_pcalloc(pool, (apr_size_t)fi.size + 1);
    assert_int_equal(apr_file_read_full(fp, buf, (apr_size_t)fi.size, NULL),
                     APR_SUCCESS);
    apr_file_close(fp);
    return buf;
}

/* A private migration directory: <tmp>/sql/<driver>/0001_init.sql copied from
 * the real one. Returns the sql dir. */
static const char *private_sql_dir(fx_t *f)
{
    const char *dir = apr_pstrcat(f->pool, f->tmpdir, "/sql", NULL);
    const char *sub = apr_pstrcat(f->pool, dir, "/", f->be->driver, NULL);
    const char *src = apr_pstrcat(f->pool, sql_dir, "/", f->be->driver,
                                  "/0001_init.sql", NULL);

    assert_int_equal(apr_dir_make_recursive(sub, APR_OS_DEFAULT, f->pool), APR_SUCCESS);
    write_file(f->pool, apr_pstrcat(f->pool, sub, "/0001_init.sql", NULL),
               read_text(f->pool, src));
    return dir;
}

static void add_migration(fx_t *f, const char *dir, const char *name, const char *text)
{
    write_file(f->pool, apr_pstrcat(f->pool, dir, "/", f->be->driver, "/", name, NULL),
               text);
}

/* ---------------------------------------------------------------------------
 * Migrations
 * ------------------------------------------------------------------------- */

static void test_migrate_fresh(void **state)
{
    fx_t *f = *state;
    apr_array_header_t *applied = NULL, *files = NULL;
    const char *err = NULL;
    ca_db_rows_t *rows;
    int version = -1;

    assert_int_equal(ca_migrate_list(f->pool, sql_dir, f->be->driver, &files, &err),
                     APR_SUCCESS);
    /* the build's statements are written for the newest migration */
    assert_int_equal(APR_ARRAY_IDX(files, files->nelts - 1, ca_migration_t).version,
                     CA_SCHEMA_VERSION);

    if (ca_migrate_run(f->pool, f->db, sql_dir, NOW, &applied, &version, &err)
        != APR_SUCCESS) {
        fail_msg("migrate: %s", err);
    }
    assert_int_equal(applied->nelts, files->nelts);
    assert_string_equal(APR_ARRAY_IDX(applied, 0, ca_migration_t).name,
                        "0001_init.sql");
    assert_int_equal(version, CA_SCHEMA_VERSION);
    assert_int_equal(ca_db_select_sql(f->pool, f->db, "SELECT version, name, applied_at"
                                      " FROM schema_version ORDER BY version", &rows,
                                      &err), APR_SUCCESS);
    assert_int_equal(rows->rows->nelts, files->nelts);
    assert_string_equal(CA_DB_ROW(rows, 0)[0], "1");
    assert_string_equal(CA_DB_ROW(rows, 0)[1], "0001_init.sql");
    assert_string_equal(CA_DB_ROW(rows, 0)[2], "1800000000");
    if (ca_db_prepare_all(f->pool, f->db, &err) != APR_SUCCESS) {
        fail_msg("prepare: %s", err);
    }
}

static void test_migrate_twice_is_noop(void **state)
{
    fx_t *f = *state;
    apr_array_header_t *applied = NULL;
    const char *err = NULL;
    int version = -1;

    assert_int_equal(ca_migrate_run(f->pool, f->db, sql_dir, NOW, &applied, &version,
                                    &err), APR_SUCCESS);
    assert_true(applied->nelts >= 1);
    assert_int_equal(ca_migrate_run(f->pool, f->db, sql_dir, NOW + 5, &applied,
                                    &version, &err), APR_SUCCESS);
    assert_int_equal(applied->nelts, 0);
    assert_int_equal(version, CA_SCHEMA_VERSION);
    assert_int_equal(count(f, "SELECT count(*) FROM schema_version"), CA_SCHEMA_VERSION);
    assert_int_equal(count(f, "SELECT count(*) FROM schema_version WHERE applied_at = "
                          "1800000000"), CA_SCHEMA_VERSION);
}

static void test_migrate_refuses_newer_schema(void **state)
{
    fx_t *f = *state;
    apr_array_header_t *applied = NULL;
    const char *err = NULL;
    int version = 0;

    assert_int_equal(ca_migrate_run(f->pool, f->db, sql_dir, NOW, NULL, NULL, &err),
                     APR_SUCCESS);
    assert_int_equal(ca_db_exec_sql(f->pool, f->db, "INSERT INTO schema_version"
                                    " (version, name, applied_at) VALUES"
                                    " (9999, '9999_future.sql', 0)", &err),
                     APR_SUCCESS);
    assert_int_equal(ca_migrate_run(f->pool, f->db, sql_dir, NOW, &applied, &version,
                                    &err), CA_MIGRATE_ENEWER);
    assert_non_null(strstr(err, "9999"));
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(applied->nelts, 0);
    assert_int_equal(version, 9999);
}

static void test_migrate_broken_file_rolls_back(void **state)
{
    fx_t *f = *state;
    const char *dir = private_sql_dir(f);
    apr_array_header_t *applied = NULL, *have = NULL;
    const char *err = NULL;
    ca_db_rows_t *rows;
    int version = 0, max = -1;

    add_migration(f, dir, "0002_broken.sql",
                  "-- creates a table, changes a row, then fails;\n"
                  "CREATE TABLE partial_thing (id INTEGER);\n"
                  "INSERT INTO partial_thing (id) VALUES (7);\n"
                  "\n"
                  "INSERT INTO no_such_table_xyz (x)\n"
                  "    VALUES (1);\n");
    assert_int_equal(ca_migrate_run(f->pool, f->db, dir, NOW, &applied, &version,
                                    &err), CA_MIGRATE_EFAILED);
    assert_non_null(strstr(err, "0002_broken.sql"));
    assert_non_null(strstr(err, "statement 3"));
    assert_non_null(strstr(err, "line 5"));
    assert_non_null(strstr(err, "no_such_table_xyz"));
    /* 0001 went in, 0002 left nothing behind */
    assert_int_equal(applied->nelts, 1);
    assert_int_equal(version, 1);
    assert_int_equal(ca_migrate_applied(f->pool, f->db, &have, &max, &err), APR_SUCCESS);
    assert_int_equal(have->nelts, 1);
    assert_int_equal(max, 1);
    assert_int_not_equal(ca_db_select_sql(f->pool, f->db,
                                          "SELECT id FROM partial_thing", &rows, &err),
                         APR_SUCCESS);

    /* fixed file: applies, once */
    add_migration(f, dir, "0002_broken.sql",
                  "CREATE TABLE partial_thing (id INTEGER);\n"
                  "INSERT INTO partial_thing (id) VALUES (7);\n");
    assert_int_equal(ca_migrate_run(f->pool, f->db, dir, NOW, &applied, &version,
                                    &err), APR_SUCCESS);
    assert_int_equal(applied->nelts, 1);
    assert_int_equal(version, 2);
    assert_int_equal(count(f, "SELECT count(*) FROM partial_thing"), 1);
    assert_int_equal(ca_migrate_run(f->pool, f->db, dir, NOW, &applied, &version,
                                    &err), APR_SUCCESS);
    assert_int_equal(applied->nelts, 0);
    assert_int_equal(count(f, "SELECT count(*) FROM partial_thing"), 1);
}

static void test_migrate_checks_files_first(void **state)
{
    fx_t *f = *state;
    const char *dir = private_sql_dir(f);
    apr_array_header_t *applied = NULL, *have = NULL;
    const char *err = NULL;
    int max = -1;

    /* an unterminated statement in 0002: nothing at all is applied */
    add_migration(f, dir, "0002_unterminated.sql",
                  "CREATE TABLE t2 (id INTEGER);\nCREATE TABLE t3 (id INTEGER)\n");
    assert_int_equal(ca_migrate_run(f->pool, f->db, dir, NOW, &applied, NULL, &err),
                     CA_MIGRATE_EFILES);
    assert_non_null(strstr(err, "0002_unterminated.sql"));
    assert_non_null(strstr(err, "line 2"));
    assert_int_equal(applied->nelts, 0);
    assert_int_equal(ca_migrate_applied(f->pool, f->db, &have, &max, &err), APR_SUCCESS);
    assert_int_equal(max, 0);

    /* badly named file */
    add_migration(f, dir, "0002_unterminated.sql", "CREATE TABLE t2 (id INTEGER);\n");
    add_migration(f, dir, "3_bad name.sql", "SELECT 1;\n");
    assert_int_equal(ca_migrate_run(f->pool, f->db, dir, NOW, NULL, NULL, &err),
                     CA_MIGRATE_EFILES);
    assert_non_null(strstr(err, "3_bad name.sql"));
    rm_rf(apr_pstrcat(f->pool, dir, "/", f->be->driver, "/3_bad name.sql", NULL));

    /* duplicate version */
    add_migration(f, dir, "0002_other.sql", "CREATE TABLE t4 (id INTEGER);\n");
    assert_int_equal(ca_migrate_run(f->pool, f->db, dir, NOW, NULL, NULL, &err),
                     CA_MIGRATE_EFILES);
    assert_non_null(strstr(err, "same version"));
    rm_rf(apr_pstrcat(f->pool, dir, "/", f->be->driver, "/0002_other.sql", NULL));

    /* a hole in the applied history is refused (the real migrations are 0001 and 0002) */
    add_migration(f, dir, "0003_more.sql", "CREATE TABLE t5 (id INTEGER);\n");
    add_migration(f, dir, "0004_more.sql", "CREATE TABLE t6 (id INTEGER);\n");
    assert_int_equal(ca_migrate_run(f->pool, f->db, sql_dir, NOW, NULL, NULL, &err),
                     APR_SUCCESS);
    assert_int_equal(ca_db_exec_sql(f->pool, f->db, "INSERT INTO schema_version"
                                    " (version, name, applied_at) VALUES"
                                    " (4, '0004_more.sql', 0)", &err), APR_SUCCESS);
    assert_int_equal(ca_migrate_run(f->pool, f->db, dir, NOW, NULL, NULL, &err),
                     CA_MIGRATE_EHISTORY);
    assert_non_null(strstr(err, "0003_more.sql"));

    /* a missing directory */
    assert_int_equal(ca_migrate_run(f->pool, f->db, "/nonexistent/sql", NOW, NULL,
                                    NULL, &err), CA_MIGRATE_EFILES);
    assert_non_null(strstr(err, "/nonexistent/sql"));
}

static void test_split_rules(void **state)
{
    fx_t *f = *state;
    apr_array_header_t *st = NULL;
    const char *err = NULL;
    const ca_sql_stmt_t *s;

    assert_int_equal(ca_migrate_split(f->pool,
                                      "-- header; not a statement;\r\n"
                                      "\r\n"
                                      "CREATE TABLE a (x TEXT DEFAULT 'a;b');\r\n"
                                      "  -- indented comment;\n"
                                      "INSERT INTO a VALUES ('1'); INSERT INTO a\n"
                                      "  VALUES ('2')   ;   \n"
                                      "\n"
                                      "   ;\n"
                                      "SELECT 1;", &st, &err), APR_SUCCESS);
    assert_int_equal(st->nelts, 3);
    s = &APR_ARRAY_IDX(st, 0, ca_sql_stmt_t);
    assert_string_equal(s->sql, "CREATE TABLE a (x TEXT DEFAULT 'a;b')");
    assert_int_equal(s->line, 3);
    s = &APR_ARRAY_IDX(st, 1, ca_sql_stmt_t);
    assert_string_equal(s->sql, "INSERT INTO a VALUES ('1'); INSERT INTO a\n"
                        "  VALUES ('2')");
    assert_int_equal(s->line, 5);
    s = &APR_ARRAY_IDX(st, 2, ca_sql_stmt_t);
    assert_string_equal(s->sql, "SELECT 1");
    assert_int_equal(s->line, 9);

    assert_int_equal(ca_migrate_split(f->pool, "", &st, &err), APR_SUCCESS);
    assert_int_equal(st->nelts, 0);
    assert_int_equal(ca_migrate_split(f->pool, "SELECT 1;\nSELECT 2 -- ;x\n", &st,
                                      &err), CA_MIGRATE_EFILES);
    assert_non_null(strstr(err, "line 2"));
}

/* ---------------------------------------------------------------------------
 * Statements
 * ------------------------------------------------------------------------- */

static void test_every_statement_prepares(void **state)
{
    fx_t *f = *state;
    const ca_statement_t *st;
    apr_hash_t *seen = apr_hash_make(f->pool);
    int n = 0;

    /* setup ran ca_db_prepare_all; every label is there, once, well named */
    for (st = ca_store_statements; st->label; st++, n++) {
        assert_non_null(apr_hash_get(f->db->prepared, st->label, APR_HASH_KEY_STRING));
        assert_null(apr_hash_get(seen, st->label, APR_HASH_KEY_STRING));
        apr_hash_set(seen, st->label, APR_HASH_KEY_STRING, st);
        assert_int_equal(strncmp(st->label, "ca_", 3), 0);
        assert_ptr_equal(ca_store_statement(st->label), st);
    }
    assert_true(n > 60);
    assert_int_equal((int)apr_hash_count(f->db->prepared), n);
    assert_null(ca_store_statement("ca_no_such_statement"));
}

static void test_bad_calls(void **state)
{
    fx_t *f = *state;
    const char *err = NULL;
    const char *one[] = {"1"};
    const char *notint[] = {"12abc"};
    const char *inj[] = {"1 OR 1=1"};
    const char *big[] = {"99999999999999999999"};
    ca_db_rows_t *rows;

    assert_int_equal(ca_db_exec(f->pool, f->db, "ca_no_such", 0, NULL, NULL, &err),
                     CA_DB_ESTATEMENT);
    assert_int_equal(ca_db_exec(f->pool, f->db, CA_SQL_USER_BY_ID, 0, NULL, NULL, &err),
                     CA_DB_EARG);
    assert_int_equal(ca_db_exec(f->pool, f->db, CA_SQL_USER_BY_ID, 2, one, NULL, &err),
                     CA_DB_EARG);
    assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_USER_BY_ID, 1, notint,
                                       &rows, &err), CA_DB_EARG);
    assert_non_null(strstr(err, "argument 1"));
    assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_USER_BY_ID, 1, inj,
                                       &rows, &err), CA_DB_EARG);
    assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_USER_BY_ID, 1, big,
                                       &rows, &err), CA_DB_EARG);
    /* a statement without rows asked for rows */
    assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_USER_DELETE, 1, one,
                                       &rows, &err), CA_DB_ESTATEMENT);
    /* empty result */
    assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_USER_BY_ID, 1, one,
                                       &rows, &err), APR_SUCCESS);
    assert_int_equal(rows->rows->nelts, 0);
    assert_int_equal(rows->ncols, 9);
    /* a handle without prepared statements */
    {
        ca_db_t bare = *f->db;
        bare.prepared = NULL;
        assert_int_equal(ca_db_exec(f->pool, &bare, CA_SQL_USER_BY_ID, 1, one, NULL,
                                    &err), CA_DB_ESTATEMENT);
    }
}

static void test_endpoint_key_lookup(void **state)
{
    fx_t *f = *state;
    apr_int64_t u = mk_user(f, "owner@example.com");
    apr_int64_t c = mk_conn(f, u);
    ca_endpoint_t *ep = mk_endpoint(f, u, c, "ep_first", HASH_A), *got = NULL, *dup;
    apr_array_header_t *eps = NULL;
    const char *err = NULL;

    assert_int_equal(by_key(f, HASH_A, NOW, &got), APR_SUCCESS);
    assert_int_equal(got->id, ep->id);
    assert_string_equal(got->public_id, "ep_first");
    assert_int_equal(got->user_id, u);
    assert_int_equal(got->connection_id, c);
    assert_string_equal(got->scope_kind, "company");
    assert_string_equal(got->company_id, "comp-42");
    assert_null(got->client_id);
    assert_string_equal(got->access_mode, "read-only");
    assert_string_equal(got->status, "active");
    assert_int_equal(got->expires_at, 0);
    assert_string_equal(got->provider, "servicem8");
    assert_string_equal(got->connection_status, "active");
    assert_string_equal(got->account_id, "acct-1");
    assert_string_equal(got->key_hint, "cak_\xe2\x80\xa6" "abcd");
    assert_int_equal(got->key_expires_at, 0);
    assert_int_equal(got->created_at, NOW);

    assert_int_equal(by_key(f, HASH_B, NOW, &got), CA_DB_ENOTFOUND);
    assert_null(got);
    assert_int_equal(by_key(f, NULL, NOW, &got), CA_DB_ENOTFOUND);

    assert_int_equal(ca_store_endpoint_by_public_id(f->pool, f->db, "ep_first", &got,
                                                    &err), APR_SUCCESS);
    assert_int_equal(got->key_id > 0, 1);
    assert_int_equal(ca_store_endpoint_by_public_id(f->pool, f->db, "ep_nope", &got,
                                                    &err), CA_DB_ENOTFOUND);
    assert_int_equal(ca_store_endpoints_by_user(f->pool, f->db, u, &eps, &err),
                     APR_SUCCESS);
    assert_int_equal(eps->nelts, 1);

    /* a second endpoint with the same public id or key hash is refused */
    dup = apr_pcalloc(f->pool, sizeof(*dup));
    *dup = *ep;
    assert_int_equal(ca_store_endpoint_create(f->pool, f->db, dup, HASH_B, "h", NOW,
                                              &err), CA_DB_ECONSTRAINT);
    dup->public_id = "ep_second";
    assert_int_equal(ca_store_endpoint_create(f->pool, f->db, dup, HASH_A, "h", NOW,
                                              &err), CA_DB_ECONSTRAINT);
    /* ... and leaves nothing behind (the transaction rolled back) */
    assert_int_equal(ca_store_endpoint_by_public_id(f->pool, f->db, "ep_second", &got,
                                                    &err), CA_DB_ENOTFOUND);
    /* a client scope needs a client id (CHECK constraint) */
    dup->client_id = NULL;
    dup->scope_kind = "client";
    assert_int_equal(ca_store_endpoint_create(f->pool, f->db, dup, HASH_B, "h", NOW,
                                              &err), CA_DB_ECONSTRAINT);
    dup->scope_kind = "galaxy";
    dup->client_id = "x";
    assert_int_equal(ca_store_endpoint_create(f->pool, f->db, dup, HASH_B, "h", NOW,
                                              &err), CA_DB_ECONSTRAINT);

    /* deactivate / activate */
    assert_int_equal(ca_store_endpoint_set_status(f->pool, f->db, ep->id, "inactive",
                                                  NOW + 1, &err), APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_A, NOW + 1, &got), APR_SUCCESS);
    assert_string_equal(got->status, "inactive");
    assert_int_equal(got->updated_at, NOW + 1);
    assert_int_equal(ca_store_endpoint_set_status(f->pool, f->db, ep->id, "bogus",
                                                  NOW + 1, &err), CA_DB_ECONSTRAINT);
    assert_int_equal(ca_store_endpoint_set_status(f->pool, f->db, 999999, "active",
                                                  NOW + 1, &err), CA_DB_ENOTFOUND);
    assert_int_equal(ca_store_endpoint_set_status(f->pool, f->db, ep->id, "active",
                                                  NOW + 2, &err), APR_SUCCESS);

    /* disconnect: tokens gone, status visible through the key lookup */
    {
        const char *a[] = {I(f, NOW + 3), I(f, c)};
        ca_connection_t *conn;
        exec_ok(f, CA_SQL_CONNECTION_DISCONNECT, NARGS(a), a, 1);
        assert_int_equal(by_key(f, HASH_A, NOW + 3, &got), APR_SUCCESS);
        assert_string_equal(got->connection_status, "disconnected");
        assert_int_equal(ca_store_connection_get(f->pool, f->db, c, &conn, &err),
                         APR_SUCCESS);
        assert_null(conn->access_token_enc);
        assert_null(conn->refresh_token_enc);
        assert_null(conn->api_key_enc);
        assert_null(conn->client_secret_enc);
        assert_string_equal(conn->status, "disconnected");
    }

    /* delete: the key stops working, keys are gone */
    assert_int_equal(ca_store_endpoint_delete(f->pool, f->db, ep->id, &err),
                     APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_A, NOW + 4, &got), CA_DB_ENOTFOUND);
    assert_int_equal(count(f, "SELECT count(*) FROM endpoint_keys"), 0);
    assert_int_equal(ca_store_endpoint_delete(f->pool, f->db, ep->id, &err),
                     CA_DB_ENOTFOUND);
}

static void test_reissue_with_grace(void **state)
{
    fx_t *f = *state;
    apr_int64_t u = mk_user(f, "rot@example.com");
    apr_int64_t c = mk_conn(f, u);
    ca_endpoint_t *ep = mk_endpoint(f, u, c, "ep_rot", HASH_A), *got = NULL;
    const char *err = NULL;
    ca_db_rows_t *rows;

    /* immediate: the old key stops at once */
    assert_int_equal(ca_store_endpoint_reissue_key(f->pool, f->db, ep->id, HASH_B,
                                                   "hint-b", NOW + 10, 0, &err),
                     APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_A, NOW + 10, &got), CA_DB_ENOTFOUND);
    assert_int_equal(by_key(f, HASH_B, NOW + 10, &got), APR_SUCCESS);
    assert_int_equal(got->rotated_at, NOW + 10);
    assert_int_equal(got->key_expires_at, 0);
    assert_string_equal(got->key_hint, "hint-b");

    /* with a one-hour grace: both work until then */
    assert_int_equal(ca_store_endpoint_reissue_key(f->pool, f->db, ep->id, HASH_C,
                                                   "hint-c", NOW + 20, 3600, &err),
                     APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_B, NOW + 20, &got), APR_SUCCESS);
    assert_int_equal(got->key_expires_at, NOW + 3620);
    assert_int_equal(by_key(f, HASH_B, NOW + 3619, &got), APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_B, NOW + 3620, &got), CA_DB_ENOTFOUND);
    assert_int_equal(by_key(f, HASH_C, NOW + 3620, &got), APR_SUCCESS);
    assert_int_equal(ca_store_endpoint_by_id(f->pool, f->db, ep->id, &got, &err),
                     APR_SUCCESS);
    assert_string_equal(got->key_hint, "hint-c");

    /* another reissue ends the earlier grace at once */
    assert_int_equal(ca_store_endpoint_reissue_key(f->pool, f->db, ep->id, HASH_D,
                                                   "hint-d", NOW + 30, 600, &err),
                     APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_B, NOW + 30, &got), CA_DB_ENOTFOUND);
    assert_int_equal(by_key(f, HASH_C, NOW + 30, &got), APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_D, NOW + 30, &got), APR_SUCCESS);

    /* one current key at most: the history has 4 keys, 1 without expiry */
    assert_int_equal(count(f, "SELECT count(*) FROM endpoint_keys"), 4);
    assert_int_equal(count(f, "SELECT count(*) FROM endpoint_keys"
                          " WHERE expires_at IS NULL"), 1);
    assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_KEYS_BY_ENDPOINT, 1,
                                       (const char *[]){I(f, ep->id)}, &rows, &err),
                     APR_SUCCESS);
    assert_int_equal(rows->rows->nelts, 4);
    assert_string_equal(CA_DB_ROW(rows, 0)[1], "hint-d");

    /* limits and bad input, nothing changed */
    assert_int_equal(ca_store_endpoint_reissue_key(f->pool, f->db, ep->id, HASH_A, "x",
                                                   NOW + 40, 86401, &err), APR_EINVAL);
    assert_int_equal(ca_store_endpoint_reissue_key(f->pool, f->db, ep->id, HASH_A, "x",
                                                   NOW + 40, -1, &err), APR_EINVAL);
    assert_int_equal(ca_store_endpoint_reissue_key(f->pool, f->db, 424242, HASH_A, "x",
                                                   NOW + 40, 0, &err), CA_DB_ENOTFOUND);
    /* reusing a hash fails and rolls back: D stays current */
    assert_int_equal(ca_store_endpoint_reissue_key(f->pool, f->db, ep->id, HASH_C, "x",
                                                   NOW + 40, 0, &err),
                     CA_DB_ECONSTRAINT);
    assert_int_equal(by_key(f, HASH_D, NOW + 40, &got), APR_SUCCESS);
    assert_int_equal(got->key_expires_at, 0);

    /* revoke all */
    exec_ok(f, CA_SQL_KEY_REVOKE_ALL, 2, (const char *[]){I(f, NOW + 50), I(f, ep->id)},
            -1);
    assert_int_equal(by_key(f, HASH_D, NOW + 50, &got), CA_DB_ENOTFOUND);
    assert_int_equal(by_key(f, HASH_C, NOW + 50, &got), CA_DB_ENOTFOUND);
}

static void test_sync_config_endpoint(void **state)
{
    fx_t *f = *state;
    apr_int64_t u = mk_user(f, "cfg@example.com");
    apr_int64_t c = mk_conn(f, u);
    ca_endpoint_t cfg, *got = NULL;
    const char *err = NULL;

    mk_endpoint(f, u, c, "ep_dash", HASH_D);
    memset(&cfg, 0, sizeof(cfg));
    cfg.public_id = "ep_conf";
    cfg.connection_id = c;
    cfg.scope_kind = "client";
    cfg.company_id = "comp-1";
    cfg.client_id = "client-9";
    cfg.access_mode = "read-write";
    assert_int_equal(ca_store_endpoint_sync_config(f->pool, f->db, &cfg, HASH_A, "a",
                                                   NOW, &err), APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_A, NOW, &got), APR_SUCCESS);
    assert_int_equal(got->id, cfg.id);
    assert_int_equal(got->managed_by_config, 1);
    assert_int_equal(got->user_id, u);
    assert_string_equal(got->client_id, "client-9");
    assert_string_equal(got->access_mode, "read-write");

    /* same again: no change; new key: the old one is revoked */
    assert_int_equal(ca_store_endpoint_sync_config(f->pool, f->db, &cfg, HASH_A, "a",
                                                   NOW + 1, &err), APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_A, NOW + 1, &got), APR_SUCCESS);
    cfg.access_mode = "read-only";
    assert_int_equal(ca_store_endpoint_sync_config(f->pool, f->db, &cfg, HASH_B, "b",
                                                   NOW + 2, &err), APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_A, NOW + 2, &got), CA_DB_ENOTFOUND);
    assert_int_equal(by_key(f, HASH_B, NOW + 2, &got), APR_SUCCESS);
    assert_string_equal(got->access_mode, "read-only");
    /* and back to the first key */
    assert_int_equal(ca_store_endpoint_sync_config(f->pool, f->db, &cfg, HASH_A, "a",
                                                   NOW + 3, &err), APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_A, NOW + 3, &got), APR_SUCCESS);
    assert_int_equal(by_key(f, HASH_B, NOW + 3, &got), CA_DB_ENOTFOUND);

    /* refused: a dashboard endpoint's id, another endpoint's key, no connection */
    cfg.public_id = "ep_dash";
    assert_int_equal(ca_store_endpoint_sync_config(f->pool, f->db, &cfg, HASH_C, "c",
                                                   NOW, &err), CA_DB_ECONSTRAINT);
    assert_non_null(strstr(err, "ep_dash"));
    cfg.public_id = "ep_conf2";
    assert_int_equal(ca_store_endpoint_sync_config(f->pool, f->db, &cfg, HASH_D, "d",
                                                   NOW, &err), CA_DB_ECONSTRAINT);
    assert_int_equal(ca_store_endpoint_by_public_id(f->pool, f->db, "ep_conf2", &got,
                                                    &err), CA_DB_ENOTFOUND);
    cfg.connection_id = 987654;
    assert_int_equal(ca_store_endpoint_sync_config(f->pool, f->db, &cfg, HASH_C, "c",
                                                   NOW, &err), CA_DB_ECONSTRAINT);
    assert_non_null(strstr(err, "987654"));
}

static void test_refresh_lock_exclusive(void **state)
{
    fx_t *f = *state;
    apr_int64_t u = mk_user(f, "lock@example.com");
    apr_int64_t c = mk_conn(f, u);
    ca_connection_t *conn;
    const char *err = NULL;

    assert_int_equal(ca_store_connection_claim_refresh(f->pool, f->db, c, "proc-a", NOW,
                                                       NOW + 30, &err), APR_SUCCESS);
    /* second claim fails until the lock expires */
    assert_int_equal(ca_store_connection_claim_refresh(f->pool, f->db, c, "proc-b", NOW,
                                                       NOW + 30, &err),
                     CA_DB_ENOTCLAIMED);
    assert_int_equal(ca_store_connection_claim_refresh(f->pool, f->db, c, "proc-a",
                                                       NOW + 29, NOW + 60, &err),
                     CA_DB_ENOTCLAIMED);
    assert_int_equal(ca_store_connection_claim_refresh(f->pool, f->db, c, "proc-b",
                                                       NOW + 30, NOW + 60, &err),
                     CA_DB_ENOTCLAIMED);
    assert_int_equal(ca_store_connection_get(f->pool, f->db, c, &conn, &err),
                     APR_SUCCESS);
    assert_string_equal(conn->refresh_lock_owner, "proc-a");
    assert_int_equal(conn->refresh_lock_until, NOW + 30);
    assert_int_equal(ca_store_connection_claim_refresh(f->pool, f->db, c, "proc-b",
                                                       NOW + 31, NOW + 61, &err),
                     APR_SUCCESS);
    /* the old owner can neither release nor store */
    assert_int_equal(ca_store_connection_release_refresh(f->pool, f->db, c, "proc-a",
                                                         &err), CA_DB_ENOTCLAIMED);
    {
        const char *a[] = {"v1:new-access-a", NULL, I(f, NOW + 3600), "s",
                           I(f, NOW + 32), I(f, NOW + 32), I(f, c), "proc-a"};
        exec_ok(f, CA_SQL_CONNECTION_STORE_REFRESH, NARGS(a), a, 0);
    }
    /* the owner stores (NULL refresh token keeps the stored one) and so releases */
    {
        const char *a[] = {"v1:new-access-b", NULL, I(f, NOW + 3600), "s2",
                           I(f, NOW + 33), I(f, NOW + 33), I(f, c), "proc-b"};
        exec_ok(f, CA_SQL_CONNECTION_STORE_REFRESH, NARGS(a), a, 1);
    }
    assert_int_equal(ca_store_connection_get(f->pool, f->db, c, &conn, &err),
                     APR_SUCCESS);
    assert_string_equal(conn->access_token_enc, "v1:new-access-b");
    assert_string_equal(conn->refresh_token_enc, "v1:k1:sealed-refresh");
    assert_null(conn->refresh_lock_owner);
    assert_int_equal(conn->refresh_lock_until, 0);
    assert_int_equal(conn->last_refresh_at, NOW + 33);
    assert_int_equal(ca_store_connection_claim_refresh(f->pool, f->db, c, "proc-c",
                                                       NOW + 34, NOW + 64, &err),
                     APR_SUCCESS);
    assert_int_equal(ca_store_connection_release_refresh(f->pool, f->db, c, "proc-c",
                                                         &err), APR_SUCCESS);
    assert_int_equal(ca_store_connection_claim_refresh(f->pool, f->db, 777777, "x",
                                                       NOW, NOW + 1, &err),
                     CA_DB_ENOTCLAIMED);
}

static void test_oauth_state_single_consume(void **state)
{
    fx_t *f = *state;
    apr_int64_t u = mk_user(f, "oauth@example.com");
    ca_oauth_state_t *st = NULL;
    const char *err = NULL;
    const char *a[] = {"state-hash-1", "sess-hash", I(f, u), "jobber", "v1:verifier",
                       "/dashboard/connections", I(f, NOW), I(f, NOW + 600)};
    const char *b[] = {"state-hash-2", NULL, I(f, u), "jobber", NULL, NULL, I(f, NOW),
                       I(f, NOW + 600)};

    exec_ok(f, CA_SQL_OAUTH_STATE_INSERT, NARGS(a), a, 1);
    exec_ok(f, CA_SQL_OAUTH_STATE_INSERT, NARGS(b), b, 1);
    assert_int_equal(ca_store_oauth_state_consume(f->pool, f->db, "state-hash-1",
                                                  NOW + 5, &st, &err), APR_SUCCESS);
    assert_string_equal(st->session_id_hash, "sess-hash");
    assert_int_equal(st->user_id, u);
    assert_string_equal(st->provider, "jobber");
    assert_string_equal(st->code_verifier_enc, "v1:verifier");
    assert_string_equal(st->redirect_after, "/dashboard/connections");
    assert_int_equal(st->expires_at, NOW + 600);
    /* second use fails */
    assert_int_equal(ca_store_oauth_state_consume(f->pool, f->db, "state-hash-1",
                                                  NOW + 6, &st, &err), CA_DB_ENOTFOUND);
    assert_null(st);
    /* expired and unknown states fail; nothing is marked used by a failed try */
    assert_int_equal(ca_store_oauth_state_consume(f->pool, f->db, "state-hash-2",
                                                  NOW + 600, &st, &err),
                     CA_DB_ENOTFOUND);
    assert_int_equal(count(f, "SELECT count(*) FROM oauth_states WHERE used_at IS NULL"),
                     1);
    assert_int_equal(ca_store_oauth_state_consume(f->pool, f->db, "nope", NOW, &st,
                                                  &err), CA_DB_ENOTFOUND);
    assert_int_equal(ca_store_oauth_state_consume(f->pool, f->db, "state-hash-2",
                                                  NOW + 599, &st, &err), APR_SUCCESS);
    assert_null(st->session_id_hash);
    assert_null(st->code_verifier_enc);
}

static void test_idempotency(void **state)
{
    fx_t *f = *state;
    apr_int64_t u = mk_user(f, "idem@example.com");
    apr_int64_t c = mk_conn(f, u);
    ca_endpoint_t *ep = mk_endpoint(f, u, c, "ep_idem", HASH_A);
    ca_idem_record_t *rec = NULL;
    const char *err = NULL;

    assert_int_equal(ca_store_idem_claim(f->pool, f->db, ep->id, "idem-1", "req-1", NOW,
                                         NOW + 86400, &err), APR_SUCCESS);
    /* a second claim conflicts and changes nothing */
    assert_int_equal(ca_store_idem_claim(f->pool, f->db, ep->id, "idem-1", "req-2",
                                         NOW + 1, NOW + 86401, &err),
                     CA_DB_ENOTCLAIMED);
    assert_int_equal(ca_store_idem_get(f->pool, f->db, ep->id, "idem-1", NOW + 1, &rec,
                                       &err), APR_SUCCESS);
    assert_string_equal(rec->request_hash, "req-1");
    assert_int_equal(rec->status, 0);
    assert_null(rec->body);
    /* complete, then replay */
    {
        const char *a[] = {"201", "{\"Location\":\"/x\"}", "{\"data\":{\"id\":\"1\"}}",
                           I(f, ep->id), "idem-1"};
        exec_ok(f, CA_SQL_IDEM_COMPLETE, NARGS(a), a, 1);
        exec_ok(f, CA_SQL_IDEM_COMPLETE, NARGS(a), a, 0);
    }
    assert_int_equal(ca_store_idem_get(f->pool, f->db, ep->id, "idem-1", NOW + 2, &rec,
                                       &err), APR_SUCCESS);
    assert_int_equal(rec->status, 201);
    assert_string_equal(rec->body, "{\"data\":{\"id\":\"1\"}}");
    /* the same key on another endpoint is independent */
    {
        ca_endpoint_t *ep2 = mk_endpoint(f, u, c, "ep_idem2", HASH_B);
        assert_int_equal(ca_store_idem_claim(f->pool, f->db, ep2->id, "idem-1", "req-9",
                                             NOW, NOW + 86400, &err), APR_SUCCESS);
    }
    /* released (failed write): claimable again */
    assert_int_equal(ca_store_idem_claim(f->pool, f->db, ep->id, "idem-2", "req-3", NOW,
                                         NOW + 60, &err), APR_SUCCESS);
    exec_ok(f, CA_SQL_IDEM_RELEASE, 2, (const char *[]){I(f, ep->id), "idem-2"}, 1);
    assert_int_equal(ca_store_idem_claim(f->pool, f->db, ep->id, "idem-2", "req-3", NOW,
                                         NOW + 60, &err), APR_SUCCESS);
    /* expired: invisible, and a new claim takes it over */
    assert_int_equal(ca_store_idem_get(f->pool, f->db, ep->id, "idem-2", NOW + 60, &rec,
                                       &err), CA_DB_ENOTFOUND);
    assert_int_equal(ca_store_idem_claim(f->pool, f->db, ep->id, "idem-2", "req-4",
                                         NOW + 60, NOW + 120, &err), APR_SUCCESS);
    assert_int_equal(ca_store_idem_get(f->pool, f->db, ep->id, "idem-2", NOW + 61, &rec,
                                       &err), APR_SUCCESS);
    assert_string_equal(rec->request_hash, "req-4");
    /* purge */
    exec_ok(f, CA_SQL_IDEM_PURGE, 1, (const char *[]){I(f, NOW + 200)}, -1);
    assert_int_equal(count(f, "SELECT count(*) FROM idempotency_records"), 2);
}

static const char *const nasty[] = {
    "'; DROP TABLE request_logs; --",
    "%s %d %lld %% $1 ? ?1 :name @x",
    "\"double\" 'single' `back` \\backslash\\ \\' \\\"",
    "\xc3\xbcn\xc3\xaf\x63\xc3\xb8\x64\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
    "\xf0\x9f\x9a\x80",
    "line1\nline2\r\n\ttab",
    "",
};

static void test_request_logs_verbatim(void **state)
{
    fx_t *f = *state;
    apr_array_header_t *logs = NULL;
    ca_log_filter_t flt;
    const char *err = NULL;
    int i, n = (int)(sizeof(nasty) / sizeof(nasty[0]));

    for (i = 0; i < n; i++) {
        ca_request_log_t l;
        memset(&l, 0, sizeof(l));
        l.endpoint_id = "ep_logs";
        l.ts = NOW + i;
        l.method = i % 2 ? "POST" : "GET";
        l.resource = nasty[i];
        l.record_id = nasty[(i + 1) % n];
        l.status = 200 + i * 100;          /* 200 .. 700 */
        l.item_count = i == 0 ? -1 : i;
        l.duration_us = 1000 + i;
        l.query = nasty[(i + 2) % n];
        l.error_code = i ? "provider_error" : NULL;
        l.error_detail = nasty[(i + 3) % n];
        l.client_ip = "2001:db8::1";
        l.user_agent = nasty[(i + 4) % n];
        l.request_id = apr_psprintf(f->pool, "req-%d", i);
        if (ca_store_request_log_insert(f->pool, f->db, &l, &err) != APR_SUCCESS) {
            fail_msg("insert %d: %s", i, err);
        }
    }
    /* the table survived the injection attempt; everything reads back verbatim */
    memset(&flt, 0, sizeof(flt));
    flt.endpoint_id = "ep_logs";
    assert_int_equal(ca_store_request_logs_list(f->pool, f->db, &flt, &logs, &err),
                     APR_SUCCESS);
    assert_int_equal(logs->nelts, n);
    for (i = 0; i < n; i++) {
        const ca_request_log_t *l = APR_ARRAY_IDX(logs, n - 1 - i, ca_request_log_t *);
        assert_int_equal(l->ts, NOW + i);
        assert_string_equal(l->resource, nasty[i]);
        assert_string_equal(l->record_id, nasty[(i + 1) % n]);
        assert_string_equal(l->query, nasty[(i + 2) % n]);
        assert_string_equal(l->error_detail, nasty[(i + 3) % n]);
        assert_string_equal(l->user_agent, nasty[(i + 4) % n]);
        assert_int_equal(l->item_count, i == 0 ? -1 : i);
        assert_int_equal(l->duration_us, 1000 + i);
        assert_int_equal(l->status, 200 + i * 100);
        if (i == 0) {
            assert_null(l->error_code);
        }
    }

    /* filters */
    flt.status_min = 400;
    assert_int_equal(ca_store_request_logs_list(f->pool, f->db, &flt, &logs, &err),
                     APR_SUCCESS);
    assert_int_equal(logs->nelts, n - 2);
    flt.status_max = 499;
    assert_int_equal(ca_store_request_logs_list(f->pool, f->db, &flt, &logs, &err),
                     APR_SUCCESS);
    assert_int_equal(logs->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(logs, 0, ca_request_log_t *)->status, 400);
    memset(&flt, 0, sizeof(flt));
    flt.endpoint_id = "ep_logs";
    flt.method = "POST";
    assert_int_equal(ca_store_request_logs_list(f->pool, f->db, &flt, &logs, &err),
                     APR_SUCCESS);
    assert_int_equal(logs->nelts, n / 2);
    flt.method = NULL;
    flt.resource = nasty[3];
    assert_int_equal(ca_store_request_logs_list(f->pool, f->db, &flt, &logs, &err),
                     APR_SUCCESS);
    assert_int_equal(logs->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(logs, 0, ca_request_log_t *)->request_id, "req-3");
    flt.resource = NULL;
    flt.since = NOW + 1;
    flt.until = NOW + 3;
    assert_int_equal(ca_store_request_logs_list(f->pool, f->db, &flt, &logs, &err),
                     APR_SUCCESS);
    assert_int_equal(logs->nelts, 2);
    flt.endpoint_id = "ep_other";
    flt.since = flt.until = 0;
    assert_int_equal(ca_store_request_logs_list(f->pool, f->db, &flt, &logs, &err),
                     APR_SUCCESS);
    assert_int_equal(logs->nelts, 0);
    assert_int_equal(ca_store_request_logs_list(f->pool, f->db, NULL, &logs, &err),
                     APR_SUCCESS);
    assert_int_equal(logs->nelts, n);
}

static void test_request_logs_paging_usage_purge(void **state)
{
    fx_t *f = *state;
    apr_array_header_t *logs = NULL;
    ca_log_filter_t flt;
    ca_db_rows_t *rows;
    const char *err = NULL;
    apr_int64_t seen[7], purged = 0;
    int i, got = 0;

    for (i = 0; i < 7; i++) {
        ca_request_log_t l;
        memset(&l, 0, sizeof(l));
        l.endpoint_id = "ep_page";
        l.ts = i < 4 ? NOW : NOW + 86400 + i;  /* four rows share a timestamp */
        l.method = "GET";
        l.status = i == 6 ? 502 : 200;
        l.item_count = 10;
        l.duration_us = 100;
        assert_int_equal(ca_store_request_log_insert(f->pool, f->db, &l, &err),
                         APR_SUCCESS);
    }
    /* pages of 3: no row twice, none missed, newest first */
    memset(&flt, 0, sizeof(flt));
    flt.endpoint_id = "ep_page";
    flt.limit = 3;
    for (;;) {
        assert_int_equal(ca_store_request_logs_list(f->pool, f->db, &flt, &logs, &err),
                         APR_SUCCESS);
        for (i = 0; i < logs->nelts; i++) {
            const ca_request_log_t *l = APR_ARRAY_IDX(logs, i, ca_request_log_t *);
            int j;
            for (j = 0; j < got; j++) {
                assert_true(seen[j] != l->id);
            }
            if (got) {
                assert_true(l->ts <= APR_ARRAY_IDX(logs, 0, ca_request_log_t *)->ts);
            }
            seen[got++] = l->id;
            flt.cursor_ts = l->ts;
            flt.cursor_id = l->id;
        }
        if (logs->nelts < 3) {
            break;
        }
    }
    assert_int_equal(got, 7);

    /* usage by day */
    {
        const char *a[] = {"86400", "86400", "ep_page", I(f, 0), I(f, NOW + 3 * 86400)};
        assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_REQUEST_USAGE,
                                           NARGS(a), a, &rows, &err), APR_SUCCESS);
    }
    assert_int_equal(rows->rows->nelts, 2);
    assert_string_equal(CA_DB_ROW(rows, 0)[0], I(f, NOW / 86400 * 86400));
    assert_string_equal(CA_DB_ROW(rows, 0)[1], "4");
    assert_string_equal(CA_DB_ROW(rows, 0)[2], "0");
    assert_string_equal(CA_DB_ROW(rows, 0)[3], "40");
    assert_string_equal(CA_DB_ROW(rows, 0)[4], "400");
    assert_string_equal(CA_DB_ROW(rows, 1)[1], "3");
    assert_string_equal(CA_DB_ROW(rows, 1)[2], "1");

    /* retention: 1 day at NOW + 1 day + 3 s drops the four old rows */
    assert_int_equal(ca_store_purge(f->pool, f->db, NOW + 86400 + 3, 86400, &purged,
                                    &err), APR_SUCCESS);
    assert_int_equal(purged, 4);
    assert_int_equal(count(f, "SELECT count(*) FROM request_logs"), 3);
    assert_int_equal(ca_store_purge(f->pool, f->db, NOW + 10 * 86400, 0, &purged, &err),
                     APR_SUCCESS);
    assert_int_equal(count(f, "SELECT count(*) FROM request_logs"), 3);
}

/* Batched writes: idempotent, rollups equal to a rebuild from the raw rows, purged along */
static void test_request_log_batches_rollups(void **state)
{
    fx_t *f = *state;
    ca_request_log_t l[300];
    const ca_request_log_t *rows[300];
    ca_db_rows_t *live = NULL, *rebuilt = NULL;
    apr_array_header_t *buckets = NULL;
    apr_int64_t hist[CA_ROLLUP_BUCKETS], total = 0, purged = 0;
    const char *err = NULL;
    int i, j, written = -1, groups = -1;
    const char *snap = "SELECT * FROM request_rollups ORDER BY hour_start, endpoint_id";
    static const int status[] = {200, 301, 404, 503, 201};

    for (i = 0; i < 300; i++) {
        memset(&l[i], 0, sizeof(l[i]));
        l[i].endpoint_id = i % 2 ? "ep_b1" : "ep_b2";
        l[i].ts = NOW + i * 30;
        l[i].method = "GET";
        l[i].status = status[i % 5];
        l[i].item_count = i % 7 ? i % 5 : -1;
        l[i].duration_us = (apr_int64_t)i * i * 400;   /* 0 us .. 36 s: every bucket */
        l[i].request_id = apr_psprintf(f->pool, "batch-%d", i);
        rows[i] = &l[i];
    }
    assert_int_equal(ca_store_request_logs_write(f->pool, f->db, rows, 256, &written, &err),
                     APR_SUCCESS);
    assert_int_equal(written, 256);
    /* 44 = 32 + 8 + 4 rows, 20 of them written already: only the 24 new ones count */
    assert_int_equal(ca_store_request_logs_write(f->pool, f->db, rows + 236, 64, &written,
                                                 &err), APR_SUCCESS);
    assert_int_equal(written, 44);
    assert_int_equal(ca_store_request_logs_write(f->pool, f->db, rows, 100, &written, &err),
                     APR_SUCCESS);
    assert_int_equal(written, 0);
    assert_int_equal(count(f, "SELECT count(*) FROM request_logs"), 300);
    assert_int_equal(count(f, "SELECT sum(requests) FROM request_rollups"), 300);
    assert_int_equal(count(f, "SELECT sum(status_3xx) FROM request_rollups"), 60);
    assert_int_equal(count(f, "SELECT sum(h00 + h01 + h02 + h03 + h04 + h05 + h06 + h07 + h08"
                              " + h09 + h10 + h11 + h12 + h13 + h14 + h15 + h16 + h17 + h18"
                              " + h19 + h20 + h21 + h22 + h23) FROM request_rollups"), 300);

    /* the same counts as the SQL rebuild from the raw rows */
    assert_int_equal(ca_db_select_sql(f->pool, f->db, snap, &live, &err), APR_SUCCESS);
    assert_int_equal(ca_store_rollups_rebuild(f->pool, f->db, 0, &groups, &err), APR_SUCCESS);
    assert_int_equal(groups, live->rows->nelts);
    assert_int_equal(ca_db_select_sql(f->pool, f->db, snap, &rebuilt, &err), APR_SUCCESS);
    assert_int_equal(rebuilt->rows->nelts, live->rows->nelts);
    for (i = 0; i < live->rows->nelts; i++) {
        for (j = 0; j < live->ncols; j++) {
            assert_string_equal(CA_DB_ROW(live, i)[j], CA_DB_ROW(rebuilt, i)[j]);
        }
    }
    /* a rebuild from a later hour leaves the earlier ones alone and changes nothing */
    assert_int_equal(ca_store_rollups_rebuild(f->pool, f->db, NOW + 3600, &groups, &err),
                     APR_SUCCESS);
    assert_int_equal(count(f, "SELECT sum(requests) FROM request_rollups"), 300);

    /* usage of one endpoint from the rollups */
    assert_int_equal(ca_store_usage(f->pool, f->db, "ep_b1", 0, NOW, NOW + 86400, 86400,
                                    &buckets, &err), APR_SUCCESS);
    for (i = 0; i < buckets->nelts; i++) {
        total += APR_ARRAY_IDX(buckets, i, ca_usage_bucket_t).requests;
    }
    assert_int_equal(total, 150);

    /* buckets and percentiles */
    assert_int_equal(ca_rollup_bucket(0), 0);
    assert_int_equal(ca_rollup_bucket(500), 0);
    assert_int_equal(ca_rollup_bucket(501), 1);
    assert_int_equal(ca_rollup_bucket(30000000), CA_ROLLUP_BUCKETS - 2);
    assert_int_equal(ca_rollup_bucket(30000001), CA_ROLLUP_BUCKETS - 1);
    memset(hist, 0, sizeof(hist));
    for (i = 1; i <= 20; i++) {                 /* 1 .. 20 ms */
        hist[ca_rollup_bucket(i * 1000)]++;
    }
    assert_true(ca_rollup_percentile_us(hist, 0.5) == 10000.0);
    assert_true(ca_rollup_percentile_us(hist, 0.95) == 19000.0);
    memset(hist, 0, sizeof(hist));
    assert_true(ca_rollup_percentile_us(hist, 0.5) < 0);

    /* no request id: refused before anything is written */
    l[0].request_id = NULL;
    assert_int_equal(ca_store_request_logs_write(f->pool, f->db, rows, 1, NULL, &err),
                     CA_DB_EARG);

    /* retention: logs and the rollups of the hours before the cutoff go together */
    assert_int_equal(ca_store_purge(f->pool, f->db, NOW + 2 * 86400, 86400, &purged, &err),
                     APR_SUCCESS);
    assert_int_equal(count(f, "SELECT count(*) FROM request_logs"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM request_rollups"), 0);
}

static void test_users_sessions(void **state)
{
    fx_t *f = *state;
    apr_int64_t u = mk_user(f, "Mixed.Case@Example.COM"), id2 = 0;
    ca_user_t *user = NULL;
    ca_session_t *s = NULL;
    const char *err = NULL;
    int i;

    assert_int_equal(ca_store_user_by_email(f->pool, f->db, "mixed.case@example.com",
                                            &user, &err), APR_SUCCESS);
    assert_int_equal(user->id, u);
    assert_string_equal(user->email, "mixed.case@example.com");
    assert_string_equal(user->role, "member");
    assert_int_equal(user->failed_logins, 0);
    assert_int_equal(user->locked_until, 0);
    assert_int_equal(ca_store_user_by_email(f->pool, f->db, "MIXED.case@example.com",
                                            &user, &err), APR_SUCCESS);
    assert_int_equal(ca_store_user_create(f->pool, f->db, "mixed.CASE@example.com", "h",
                                          "member", NOW, &id2, &err), CA_DB_ECONSTRAINT);
    assert_int_equal(id2, 0);
    assert_int_equal(ca_store_user_create(f->pool, f->db, "x@example.com", "h", "root",
                                          NOW, &id2, &err), CA_DB_ECONSTRAINT);
    assert_int_equal(ca_store_user_by_email(f->pool, f->db, "nobody@example.com", &user,
                                            &err), CA_DB_ENOTFOUND);

    /* failed logins: locked on the 3rd */
    for (i = 1; i <= 3; i++) {
        const char *a[] = {"3", I(f, NOW + 900), I(f, NOW), I(f, u)};
        exec_ok(f, CA_SQL_USER_LOGIN_FAILED, NARGS(a), a, 1);
        assert_int_equal(ca_store_user_by_id(f->pool, f->db, u, &user, &err),
                         APR_SUCCESS);
        assert_int_equal(user->failed_logins, i);
        assert_int_equal(user->locked_until, i < 3 ? 0 : NOW + 900);
    }
    exec_ok(f, CA_SQL_USER_LOGIN_OK, 1, (const char *[]){I(f, u)}, 1);
    assert_int_equal(ca_store_user_by_id(f->pool, f->db, u, &user, &err), APR_SUCCESS);
    assert_int_equal(user->failed_logins, 0);
    assert_int_equal(user->locked_until, 0);
    /* throttling by ip */
    for (i = 0; i < 4; i++) {
        const char *a[] = {"mixed.case@example.com", "192.0.2.7", I(f, NOW - 100 + i),
                           i == 3 ? "1" : "0"};
        exec_ok(f, CA_SQL_LOGIN_ATTEMPT_INSERT, NARGS(a), a, 1);
    }
    {
        const char **r;
        const char *a[] = {"192.0.2.7", I(f, NOW - 99)};
        assert_int_equal(ca_db_select_one(f->pool, f->db, CA_SQL_LOGIN_FAILURES_BY_IP,
                                          NARGS(a), a, &r, NULL, &err), APR_SUCCESS);
        assert_string_equal(r[0], "2");
    }

    /* sessions */
    {
        const char *a[] = {"sess-1", I(f, u), "csrf-1", I(f, NOW), I(f, NOW),
                           I(f, NOW + 3600), "198.51.100.1", "Mozilla/5.0 \"x\""};
        exec_ok(f, CA_SQL_SESSION_INSERT, NARGS(a), a, 1);
    }
    assert_int_equal(ca_store_session_get(f->pool, f->db, "sess-1", NOW + 10, &s, &err),
                     APR_SUCCESS);
    assert_int_equal(s->user_id, u);
    assert_string_equal(s->csrf_token_hash, "csrf-1");
    assert_string_equal(s->email, "mixed.case@example.com");
    assert_string_equal(s->role, "member");
    assert_string_equal(s->user_agent, "Mozilla/5.0 \"x\"");
    assert_int_equal(s->user_disabled_at, 0);
    assert_int_equal(ca_store_session_get(f->pool, f->db, "sess-1", NOW + 3600, &s,
                                          &err), CA_DB_ENOTFOUND);
    exec_ok(f, CA_SQL_SESSION_TOUCH, 3,
            (const char *[]){I(f, NOW + 3000), I(f, NOW + 7200), "sess-1"}, 1);
    assert_int_equal(ca_store_session_get(f->pool, f->db, "sess-1", NOW + 3600, &s,
                                          &err), APR_SUCCESS);
    assert_int_equal(s->last_seen_at, NOW + 3000);
    /* a foreign key protects sessions from unknown users */
    {
        const char *a[] = {"sess-x", "99999", "c", I(f, NOW), I(f, NOW), I(f, NOW + 1),
                           NULL, NULL};
        assert_int_equal(ca_db_exec(f->pool, f->db, CA_SQL_SESSION_INSERT, NARGS(a), a,
                                    NULL, &err), CA_DB_ECONSTRAINT);
    }
    /* deleting the user row cascades to its sessions */
    {
        apr_int64_t v = mk_user(f, "cascade@example.com");
        const char *a[] = {"sess-2", I(f, v), "c", I(f, NOW), I(f, NOW), I(f, NOW + 9),
                           NULL, NULL};
        exec_ok(f, CA_SQL_SESSION_INSERT, NARGS(a), a, 1);
        exec_ok(f, CA_SQL_USER_DELETE, 1, (const char *[]){I(f, v)}, 1);
        assert_int_equal(count(f, "SELECT count(*) FROM sessions WHERE id_hash ="
                              " 'sess-2'"), 0);
    }
    /* purge expired sessions */
    exec_ok(f, CA_SQL_SESSIONS_PURGE, 1, (const char *[]){I(f, NOW + 7200)}, 1);
}

static void test_user_delete_removes_everything(void **state)
{
    fx_t *f = *state;
    apr_int64_t u = mk_user(f, "leaving@example.com");
    apr_int64_t keep = mk_user(f, "staying@example.com");
    apr_int64_t c = mk_conn(f, u), c2 = mk_conn(f, keep);
    ca_endpoint_t *ep = mk_endpoint(f, u, c, "ep_gone", HASH_A);
    const char *err = NULL;
    ca_request_log_t l;

    mk_endpoint(f, keep, c2, "ep_kept", HASH_B);
    memset(&l, 0, sizeof(l));
    l.endpoint_id = "ep_gone";
    l.ts = NOW;
    l.method = "GET";
    l.status = 200;
    assert_int_equal(ca_store_request_log_insert(f->pool, f->db, &l, &err), APR_SUCCESS);
    l.endpoint_id = "ep_kept";
    assert_int_equal(ca_store_request_log_insert(f->pool, f->db, &l, &err), APR_SUCCESS);
    assert_int_equal(ca_store_idem_claim(f->pool, f->db, ep->id, "k", "r", NOW, NOW + 9,
                                         &err), APR_SUCCESS);
    exec_ok(f, CA_SQL_SESSION_INSERT, 8, (const char *[]){"s-gone", I(f, u), "c",
            I(f, NOW), I(f, NOW), I(f, NOW + 9), NULL, NULL}, 1);
    exec_ok(f, CA_SQL_OAUTH_STATE_INSERT, 8, (const char *[]){"st-gone", NULL, I(f, u),
            "jobber", NULL, NULL, I(f, NOW), I(f, NOW + 9)}, 1);
    exec_ok(f, CA_SQL_LOGIN_ATTEMPT_INSERT, 4, (const char *[]){"leaving@example.com",
            "192.0.2.1", I(f, NOW), "0"}, 1);

    assert_int_equal(ca_store_user_delete(f->pool, f->db, u, &err), APR_SUCCESS);
    assert_int_equal(count(f, "SELECT count(*) FROM users"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM provider_connections"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM endpoints"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM endpoint_keys"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM request_logs"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM idempotency_records"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM sessions"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM oauth_states"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM login_attempts"), 0);
    assert_int_equal(ca_store_user_delete(f->pool, f->db, u, &err), CA_DB_ENOTFOUND);

    /* connection delete takes its endpoints along */
    assert_int_equal(ca_store_connection_delete(f->pool, f->db, c2, &err), APR_SUCCESS);
    assert_int_equal(count(f, "SELECT count(*) FROM endpoints"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM endpoint_keys"), 0);
}

/* the typed pages the clientapi list commands read */
static void test_pages(void **state)
{
    fx_t *f = *state;
    apr_int64_t a = mk_user(f, "pa@example.com"), b = mk_user(f, "pb@example.com");
    apr_int64_t ca = mk_conn(f, a), cb = mk_conn(f, b), cb2 = mk_conn(f, b);
    apr_array_header_t *list;
    const char *err = NULL;

    mk_endpoint(f, a, ca, "ep_page_a", HASH_A);
    mk_endpoint(f, b, cb2, "ep_page_b", HASH_B);

    assert_int_equal(ca_store_users_page(f->pool, f->db, 0, 1, &list, &err), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(list, 0, ca_user_t *)->id, a);
    assert_int_equal(ca_store_users_page(f->pool, f->db, a, 0, &list, &err), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(list, 0, ca_user_t *)->email, "pb@example.com");

    assert_int_equal(ca_store_connections_by_user(f->pool, f->db, b, &list, &err),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 2);
    assert_int_equal(APR_ARRAY_IDX(list, 0, ca_connection_t *)->id, cb);
    assert_int_equal(APR_ARRAY_IDX(list, 1, ca_connection_t *)->id, cb2);
    assert_string_equal(APR_ARRAY_IDX(list, 1, ca_connection_t *)->refresh_token_enc,
                        "v1:k1:sealed-refresh");
    assert_null(APR_ARRAY_IDX(list, 1, ca_connection_t *)->api_key_enc);

    assert_int_equal(ca_store_endpoints_page(f->pool, f->db, 0, 500, &list, &err),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(list, 0, ca_endpoint_t *)->public_id, "ep_page_a");
    assert_int_equal(APR_ARRAY_IDX(list, 1, ca_endpoint_t *)->connection_id, cb2);
    assert_string_equal(APR_ARRAY_IDX(list, 1, ca_endpoint_t *)->provider, "servicem8");
    assert_non_null(APR_ARRAY_IDX(list, 1, ca_endpoint_t *)->key_hint);
    assert_int_equal(ca_store_endpoints_page(f->pool, f->db,
                                             APR_ARRAY_IDX(list, 1, ca_endpoint_t *)->id,
                                             500, &list, &err), APR_SUCCESS);
    assert_int_equal(list->nelts, 0);
}

static void test_contact_audit(void **state)
{
    fx_t *f = *state;
    ca_db_rows_t *rows;
    const char *err = NULL;
    const char **r;
    int i;

    for (i = 0; i < 3; i++) {
        const char *a[] = {nasty[i], "someone@example.com", i ? NULL : "Acme",
                           nasty[3], "203.0.113.9", I(f, NOW + i)};
        assert_int_equal(ca_db_select_one(f->pool, f->db, CA_SQL_CONTACT_INSERT,
                                          NARGS(a), a, &r, NULL, &err), APR_SUCCESS);
        assert_true(ca_db_col_i64(r[0], 0) > 0);
    }
    {
        const char *a[] = {"9223372036854775807", "2"};
        assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_CONTACTS_PAGE,
                                           NARGS(a), a, &rows, &err), APR_SUCCESS);
    }
    assert_int_equal(rows->rows->nelts, 2);
    assert_string_equal(CA_DB_ROW(rows, 0)[1], nasty[2]);
    assert_string_equal(CA_DB_ROW(rows, 0)[4], nasty[3]);
    assert_null(CA_DB_ROW(rows, 0)[3]);
    assert_null(CA_DB_ROW(rows, 0)[7]);

    assert_int_equal(ca_store_audit(f->pool, f->db, 0, NULL, "endpoint.create",
                                    "endpoint", "ep_1", nasty[0], "::1", NOW, &err),
                     APR_SUCCESS);
    assert_int_equal(ca_store_audit(f->pool, f->db, 5, "a@example.com", "key.reissue",
                                    "endpoint", "ep_2", NULL, NULL, NOW + 1, &err),
                     APR_SUCCESS);
    {
        const char *all[] = {"9223372036854775807", NULL, NULL, NULL, NULL, NULL, NULL,
                             "10"};
        const char *by[] = {"9223372036854775807", "endpoint", "endpoint", "ep_1",
                            "ep_1", NULL, NULL, "10"};
        const char *user[] = {"9223372036854775807", NULL, NULL, NULL, NULL, "5", "5",
                              "10"};
        assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_AUDIT_PAGE, 8, all,
                                           &rows, &err), APR_SUCCESS);
        assert_int_equal(rows->rows->nelts, 2);
        assert_string_equal(CA_DB_ROW(rows, 0)[3], "key.reissue");
        assert_null(CA_DB_ROW(rows, 1)[1]);
        assert_string_equal(CA_DB_ROW(rows, 1)[6], nasty[0]);
        assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_AUDIT_PAGE, 8, by,
                                           &rows, &err), APR_SUCCESS);
        assert_int_equal(rows->rows->nelts, 1);
        assert_string_equal(CA_DB_ROW(rows, 0)[5], "ep_1");
        assert_int_equal(ca_db_select_rows(f->pool, f->db, CA_SQL_AUDIT_PAGE, 8, user,
                                           &rows, &err), APR_SUCCESS);
        assert_int_equal(rows->rows->nelts, 1);
        assert_string_equal(CA_DB_ROW(rows, 0)[2], "a@example.com");
    }
}

static void test_transactions(void **state)
{
    fx_t *f = *state;
    ca_db_txn_t *txn;
    const char *err = NULL;
    const char *a[] = {"n", "e@example.com", NULL, "m", NULL, I(f, NOW)};
    const char **r;

    /* rollback on a caller's error */
    assert_int_equal(ca_db_txn_begin(f->pool, f->db, &txn, &err), APR_SUCCESS);
    assert_int_equal(ca_db_select_one(f->pool, f->db, CA_SQL_CONTACT_INSERT, 6, a, &r,
                                      NULL, &err), APR_SUCCESS);
    assert_int_equal(ca_db_txn_end(txn, APR_EGENERAL, &err), APR_EGENERAL);
    assert_int_equal(count(f, "SELECT count(*) FROM contact_messages"), 0);

    /* a driver error inside the transaction: commit is refused, nothing kept */
    assert_int_equal(ca_db_txn_begin(f->pool, f->db, &txn, &err), APR_SUCCESS);
    assert_int_equal(ca_db_select_one(f->pool, f->db, CA_SQL_CONTACT_INSERT, 6, a, &r,
                                      NULL, &err), APR_SUCCESS);
    {
        const char *bad[] = {NULL, "e@example.com", NULL, "m", NULL, I(f, NOW)};
        assert_int_equal(ca_db_select_one(f->pool, f->db, CA_SQL_CONTACT_INSERT, 6,
                                          bad, &r, NULL, &err), CA_DB_ECONSTRAINT);
    }
    assert_int_not_equal(ca_db_txn_end(txn, APR_SUCCESS, &err), APR_SUCCESS);
    assert_int_equal(count(f, "SELECT count(*) FROM contact_messages"), 0);

    /* commit */
    assert_int_equal(ca_db_txn_begin(f->pool, f->db, &txn, &err), APR_SUCCESS);
    assert_int_equal(ca_db_select_one(f->pool, f->db, CA_SQL_CONTACT_INSERT, 6, a, &r,
                                      NULL, &err), APR_SUCCESS);
    assert_int_equal(ca_db_txn_end(txn, APR_SUCCESS, &err), APR_SUCCESS);
    assert_int_equal(count(f, "SELECT count(*) FROM contact_messages"), 1);
    /* and the handle is usable outside a transaction afterwards */
    assert_int_equal(ca_db_select_one(f->pool, f->db, CA_SQL_CONTACT_INSERT, 6, a, &r,
                                      NULL, &err), APR_SUCCESS);
    assert_int_equal(count(f, "SELECT count(*) FROM contact_messages"), 2);
}

static void test_unavailable(void **state)
{
    fx_t *f = *state;
    ca_db_t *db2 = NULL;
    const char *err = NULL;
    apr_status_t rv;

    if (strcmp(f->be->driver, "sqlite3") == 0) {
        ca_db_txn_t *txn;
        /* a database that cannot be opened */
        rv = ca_db_connect(f->pool, "sqlite3", "/nonexistent-dir/x/y.db", &db2, &err);
        assert_int_equal(rv, CA_DB_EUNAVAILABLE);
        assert_null(db2);
        /* a database locked by another connection's write transaction */
        assert_int_equal(ca_db_open(f->pool, "sqlite3", f->params, &db2, &err),
                         APR_SUCCESS);
        assert_int_equal(ca_db_txn_begin(f->pool, db2, &txn, &err), APR_SUCCESS);
        rv = ca_store_audit(f->pool, f->db, 0, NULL, "x", NULL, NULL, NULL, NULL, NOW,
                            &err);
        assert_int_equal(rv, CA_DB_EUNAVAILABLE);
        assert_non_null(strstr(err, "locked"));
        assert_int_equal(ca_db_txn_end(txn, APR_EGENERAL, &err), APR_EGENERAL);
        assert_int_equal(ca_store_audit(f->pool, f->db, 0, NULL, "x", NULL, NULL, NULL,
                                        NULL, NOW, &err), APR_SUCCESS);
        ca_db_close(db2);
    }
    else {
        ca_db_rows_t *rows;
        ca_user_t *u;
        /* nothing listening */
        rv = ca_db_connect(f->pool, "pgsql", "host=/nonexistent-dir port=1 dbname=x"
                           " user=x password=sekrit-value", &db2, &err);
        assert_int_equal(rv, CA_DB_EUNAVAILABLE);
        assert_null(strstr(err, "sekrit-value"));
        /* the server drops our connection */
        assert_int_equal(ca_db_select_sql(f->pool, f->db, "SELECT pg_backend_pid()",
                                          &rows, &err), APR_SUCCESS);
        assert_int_equal(ca_db_connect(f->pool, "pgsql", f->params, &db2, &err),
                         APR_SUCCESS);
        assert_int_equal(ca_db_select_sql(f->pool, db2,
                                          apr_psprintf(f->pool, "SELECT "
                                                       "pg_terminate_backend(%s)",
                                                       CA_DB_ROW(rows, 0)[0]),
                                          &rows, &err), APR_SUCCESS);
        ca_db_close(db2);
        apr_sleep(apr_time_from_msec(100));
        rv = ca_store_user_by_id(f->pool, f->db, 1, &u, &err);
        assert_int_equal(rv, CA_DB_EUNAVAILABLE);
        /* mod_dbd checks (and so resets) the connection before the next request:
         * the statements the reset lost are prepared again on first use */
        assert_int_equal(apr_dbd_check_conn(f->db->driver, f->pool, f->db->handle),
                         APR_SUCCESS);
        rv = ca_store_user_by_id(f->pool, f->db, 1, &u, &err);
        if (rv != CA_DB_ENOTFOUND) {
            fail_msg("after reset: %d %s", rv, err);
        }
        mk_user(f, "after-reset@example.com");
    }
}

static void test_purge_all(void **state)
{
    fx_t *f = *state;
    apr_int64_t u = mk_user(f, "purge@example.com");
    apr_int64_t c = mk_conn(f, u);
    ca_endpoint_t *ep = mk_endpoint(f, u, c, "ep_purge", HASH_A);
    apr_int64_t purged = -1;
    const char *err = NULL;

    exec_ok(f, CA_SQL_SESSION_INSERT, 8, (const char *[]){"s-old", I(f, u), "c",
            I(f, NOW), I(f, NOW), I(f, NOW + 10), NULL, NULL}, 1);
    exec_ok(f, CA_SQL_SESSION_INSERT, 8, (const char *[]){"s-new", I(f, u), "c",
            I(f, NOW), I(f, NOW), I(f, NOW + 99999), NULL, NULL}, 1);
    exec_ok(f, CA_SQL_OAUTH_STATE_INSERT, 8, (const char *[]){"st-old", NULL, I(f, u),
            "p", NULL, NULL, I(f, NOW), I(f, NOW + 10)}, 1);
    exec_ok(f, CA_SQL_LOGIN_ATTEMPT_INSERT, 4, (const char *[]){"a@b", "ip", I(f, NOW),
            "0"}, 1);
    assert_int_equal(ca_store_idem_claim(f->pool, f->db, ep->id, "k", "r", NOW,
                                         NOW + 10, &err), APR_SUCCESS);
    assert_int_equal(ca_store_endpoint_reissue_key(f->pool, f->db, ep->id, HASH_B, "b",
                                                   NOW, 0, &err), APR_SUCCESS);
    /* at NOW + 40 days: the expired session, state, record, attempt and old key */
    assert_int_equal(ca_store_purge(f->pool, f->db, NOW + 40 * 86400, 30 * 86400,
                                    &purged, &err), APR_SUCCESS);
    assert_int_equal(purged, 6);    /* 2 sessions (s-new too), state, idem, attempt, key */
    assert_int_equal(count(f, "SELECT count(*) FROM endpoint_keys"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM sessions"), 0);
}

/* ---------------------------------------------------------------------------
 * Runner
 * ------------------------------------------------------------------------- */

#define T(fn, su) {#fn, fn, su, teardown, NULL}

static const struct CMUnitTest base_tests[] = {
    T(test_migrate_fresh, setup_raw),
    T(test_migrate_twice_is_noop, setup_raw),
    T(test_migrate_refuses_newer_schema, setup_raw),
    T(test_migrate_broken_file_rolls_back, setup_raw),
    T(test_migrate_checks_files_first, setup_raw),
    T(test_split_rules, setup_raw),
    T(test_every_statement_prepares, setup),
    T(test_bad_calls, setup),
    T(test_endpoint_key_lookup, setup),
    T(test_reissue_with_grace, setup),
    T(test_sync_config_endpoint, setup),
    T(test_refresh_lock_exclusive, setup),
    T(test_oauth_state_single_consume, setup),
    T(test_idempotency, setup),
    T(test_request_logs_verbatim, setup),
    T(test_request_logs_paging_usage_purge, setup),
    T(test_request_log_batches_rollups, setup),
    T(test_users_sessions, setup),
    T(test_user_delete_removes_everything, setup),
    T(test_pages, setup),
    T(test_contact_audit, setup),
    T(test_transactions, setup),
    T(test_unavailable, setup),
    T(test_purge_all, setup),
};

int main(void)
{
    static backend_t sqlite = {"sqlite3", NULL};
    static backend_t pg = {"pgsql", NULL};
    const backend_t *backends[2];
    size_t nb = 0, nbase = sizeof(base_tests) / sizeof(base_tests[0]), i, b;
    struct CMUnitTest *tests;
    int rc;

    apr_initialize();
    apr_pool_create(&root_pool, NULL);
    sql_dir = getenv("CA_SQL_DIR");
    if (sql_dir == NULL || *sql_dir == '\0') {
        sql_dir = "sql";
    }
    backends[nb++] = &sqlite;
    pg.params = getenv("CA_TEST_PGSQL_PARAMS");
    if (pg.params && *pg.params) {
        backends[nb++] = &pg;
    }
    tests = apr_pcalloc(root_pool, sizeof(*tests) * nbase * nb);
    for (b = 0; b < nb; b++) {
        for (i = 0; i < nbase; i++) {
            struct CMUnitTest *t = &tests[b * nbase + i];
            *t = base_tests[i];
            t->name = apr_psprintf(root_pool, "%s: %s", backends[b]->driver,
                                   base_tests[i].name + 5);
            t->initial_state = (void *)backends[b];
        }
    }
    rc = _cmocka_run_group_tests("ca_store", tests, nbase * nb, NULL, NULL);
    apr_pool_destroy(root_pool);
    apr_terminate();
    return rc;
}
