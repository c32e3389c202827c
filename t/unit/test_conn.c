/*
 * test_conn.c - unit tests for ca_conn (cmocka): sealing of connection secrets
 * bound to their row and field, and the rekey.
 *
 * The rekey tests run against sqlite3 (a database file in a mkdtemp directory,
 * migrated with ca_migrate from CA_SQL_DIR, default "sql") and, when
 * CA_TEST_PGSQL_PARAMS (or CA_PG_PARAMS) is set, against that PostgreSQL
 * database too, each test in a schema of its own (created, migrated, dropped
 * with CASCADE at the end): tables outside it are never touched, so the
 * database may be shared. The user needs CREATE on the database.
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

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "ca_conn.h"
#include "ca_crypto.h"
#include "ca_migrate.h"
#include "ca_store.h"

#define NOW ((apr_int64_t)1800000000)

static apr_pool_t *root_pool;
static const char *sql_dir;

/* ---------------------------------------------------------------------------
 * Key rings
 * ------------------------------------------------------------------------- */

typedef struct {
    const char *k1_line;
    const char *k2_line;
    ca_keyring_t *r1;           /* k1 only */
    ca_keyring_t *r12;          /* k1, k2 (current) */
    ca_keyring_t *r2;           /* k2 only */
} rings_t;

static ca_keyring_t *ring_of(apr_pool_t *p, const char *text)
{
    ca_keyring_t *r = NULL;
    const char *err = NULL;

    if (ca_keyring_parse(p, text, strlen(text), &r, &err) != APR_SUCCESS) {
        fail_msg("keyring: %s", err);
    }
    return r;
}

static void make_rings(apr_pool_t *p, rings_t *k)
{
    assert_int_equal(ca_keyring_new_line(p, "k1", &k->k1_line), APR_SUCCESS);
    assert_int_equal(ca_keyring_new_line(p, "k2", &k->k2_line), APR_SUCCESS);
    k->r1 = ring_of(p, k->k1_line);
    k->r2 = ring_of(p, k->k2_line);
    k->r12 = ring_of(p, apr_pstrcat(p, k->k1_line, "\n", k->k2_line, "\n", NULL));
    assert_string_equal(ca_keyring_current_kid(k->r12), "k2");
}

/* ---------------------------------------------------------------------------
 * Sealing
 * ------------------------------------------------------------------------- */

static void test_aad(void **state)
{
    apr_pool_t *p;

    (void)state;
    apr_pool_create(&p, root_pool);
    assert_string_equal(ca_conn_aad(p, 42, "access_token"),
                        "clientapi:connection:42:access_token");
    assert_string_equal(ca_conn_aad(p, 7, CA_CONN_CLIENT_SECRET),
                        "clientapi:connection:7:client_secret");
    assert_null(ca_conn_aad(p, 0, "access_token"));
    assert_null(ca_conn_aad(p, -1, "access_token"));
    assert_null(ca_conn_aad(p, 1, "password"));
    assert_null(ca_conn_aad(p, 1, NULL));
    assert_true(ca_conn_field_valid("refresh_token"));
    assert_true(ca_conn_field_valid("api_key"));
    assert_false(ca_conn_field_valid("access_token_enc"));
    apr_pool_destroy(p);
}

static void test_round_trip(void **state)
{
    apr_pool_t *p;
    rings_t k;
    const char *s = NULL, *s2 = NULL, *err = NULL;
    char *plain = NULL;

    (void)state;
    apr_pool_create(&p, root_pool);
    make_rings(p, &k);
    assert_int_equal(ca_conn_seal(p, k.r12, 42, CA_CONN_ACCESS_TOKEN, "tok-secret-1", &s),
                     APR_SUCCESS);
    assert_true(strncmp(s, "v1.k2.", 6) == 0);
    assert_null(strstr(s, "tok-secret"));
    assert_string_equal(ca_sealed_kid(p, s), "k2");
    assert_int_equal(ca_conn_open(p, k.r12, 42, CA_CONN_ACCESS_TOKEN, s, &plain, &err),
                     APR_SUCCESS);
    assert_string_equal(plain, "tok-secret-1");
    /* the documented associated data is what binds it */
    assert_int_equal(ca_open(p, k.r12, "clientapi:connection:42:access_token", s, &plain,
                             NULL, &err), APR_SUCCESS);
    assert_string_equal(plain, "tok-secret-1");
    /* random nonce: two seals differ */
    assert_int_equal(ca_conn_seal(p, k.r12, 42, CA_CONN_ACCESS_TOKEN, "tok-secret-1", &s2),
                     APR_SUCCESS);
    assert_string_not_equal(s, s2);
    /* a ring with the old key only cannot open it */
    assert_int_equal(ca_conn_open(p, k.r1, 42, CA_CONN_ACCESS_TOKEN, s, &plain, &err),
                     APR_ENOENT);
    assert_null(plain);
    assert_non_null(strstr(err, "access_token"));
    /* every field */
    assert_int_equal(ca_conn_seal(p, k.r1, 9, CA_CONN_CLIENT_SECRET, "cs", &s),
                     APR_SUCCESS);
    assert_int_equal(ca_conn_open(p, k.r12, 9, CA_CONN_CLIENT_SECRET, s, &plain, &err),
                     APR_SUCCESS);
    assert_string_equal(plain, "cs");
    apr_pool_destroy(p);
}

/* A value moved to another connection or another field does not open. */
static void test_aad_binds(void **state)
{
    apr_pool_t *p;
    rings_t k;
    const char *a1 = NULL, *a2 = NULL, *r1 = NULL, *err = NULL;
    char *plain = NULL;

    (void)state;
    apr_pool_create(&p, root_pool);
    make_rings(p, &k);
    assert_int_equal(ca_conn_seal(p, k.r12, 1, CA_CONN_ACCESS_TOKEN, "access-of-1", &a1),
                     APR_SUCCESS);
    assert_int_equal(ca_conn_seal(p, k.r12, 2, CA_CONN_ACCESS_TOKEN, "access-of-2", &a2),
                     APR_SUCCESS);
    assert_int_equal(ca_conn_seal(p, k.r12, 1, CA_CONN_REFRESH_TOKEN, "refresh-of-1",
                                  &r1), APR_SUCCESS);
    /* swapped between connections */
    assert_int_equal(ca_conn_open(p, k.r12, 2, CA_CONN_ACCESS_TOKEN, a1, &plain, &err),
                     APR_EGENERAL);
    assert_null(plain);
    assert_int_equal(ca_conn_open(p, k.r12, 1, CA_CONN_ACCESS_TOKEN, a2, &plain, &err),
                     APR_EGENERAL);
    /* id 1 vs 11 vs 10: no prefix confusion */
    assert_int_equal(ca_conn_open(p, k.r12, 11, CA_CONN_ACCESS_TOKEN, a1, &plain, &err),
                     APR_EGENERAL);
    /* swapped between fields of one connection */
    assert_int_equal(ca_conn_open(p, k.r12, 1, CA_CONN_REFRESH_TOKEN, a1, &plain, &err),
                     APR_EGENERAL);
    assert_int_equal(ca_conn_open(p, k.r12, 1, CA_CONN_ACCESS_TOKEN, r1, &plain, &err),
                     APR_EGENERAL);
    assert_int_equal(ca_conn_open(p, k.r12, 1, CA_CONN_API_KEY, a1, &plain, &err),
                     APR_EGENERAL);
    /* the message names the field, never the value */
    assert_non_null(strstr(err, "api_key"));
    assert_null(strstr(err, "access-of"));
    /* in place, they still open */
    assert_int_equal(ca_conn_open(p, k.r12, 1, CA_CONN_ACCESS_TOKEN, a1, &plain, &err),
                     APR_SUCCESS);
    assert_string_equal(plain, "access-of-1");
    assert_int_equal(ca_conn_open(p, k.r12, 1, CA_CONN_REFRESH_TOKEN, r1, &plain, &err),
                     APR_SUCCESS);
    assert_string_equal(plain, "refresh-of-1");
    apr_pool_destroy(p);
}

static void test_bad_args(void **state)
{
    apr_pool_t *p;
    rings_t k;
    const char *s = NULL, *err = NULL;
    char *plain = NULL;

    (void)state;
    apr_pool_create(&p, root_pool);
    make_rings(p, &k);
    assert_int_equal(ca_conn_seal(p, k.r1, 0, CA_CONN_API_KEY, "x", &s), APR_EINVAL);
    assert_null(s);
    assert_int_equal(ca_conn_seal(p, k.r1, 1, "password", "x", &s), APR_EINVAL);
    assert_int_equal(ca_conn_seal(p, k.r1, 1, CA_CONN_API_KEY, "", &s), APR_EINVAL);
    assert_int_equal(ca_conn_seal(p, k.r1, 1, CA_CONN_API_KEY, NULL, &s), APR_EINVAL);
    assert_int_equal(ca_conn_seal(p, NULL, 1, CA_CONN_API_KEY, "x", &s), APR_EINVAL);
    assert_int_equal(ca_conn_open(p, k.r1, 1, CA_CONN_API_KEY, "not sealed", &plain, &err),
                     APR_EINVAL);
    assert_int_equal(ca_conn_open(p, k.r1, 1, CA_CONN_API_KEY, NULL, &plain, &err),
                     APR_EINVAL);
    assert_int_equal(ca_conn_open(p, k.r1, 1, "nope", "v1.k1.AAAA", &plain, &err),
                     APR_EINVAL);
    /* a sealed value with a NUL inside (not one ca_conn_seal makes) is refused */
    assert_int_equal(ca_seal(p, k.r1, ca_conn_aad(p, 3, CA_CONN_API_KEY), "a\0b", 3, &s),
                     APR_SUCCESS);
    assert_int_equal(ca_conn_open(p, k.r1, 3, CA_CONN_API_KEY, s, &plain, &err),
                     APR_EINVAL);
    assert_null(plain);
    apr_pool_destroy(p);
}

/* ---------------------------------------------------------------------------
 * Rekey against a migrated database
 * ------------------------------------------------------------------------- */

typedef struct {
    const char *driver;
    const char *params;         /* pgsql only; sqlite3 gets a temp file */
} backend_t;

typedef struct {
    apr_pool_t *pool;
    const backend_t *be;
    const char *schema;         /* pgsql: private schema, dropped at teardown */
    char *tmpdir;
    ca_db_t *db;
    rings_t k;
    apr_int64_t user_id;
} fx_t;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* PostgreSQL: a private schema per test (the database may be shared with other
 * tests and a running httpd: nothing outside that schema is touched). */
static int pg_schema(apr_pool_t *pool, const char *params, const char *schema, int create)
{
    ca_db_t *db;
    const char *err = NULL;
    const char *sql = create ? apr_psprintf(pool, "CREATE SCHEMA %s", schema)
                             : apr_psprintf(pool, "DROP SCHEMA IF EXISTS %s CASCADE",
                                            schema);

    if (ca_db_connect(pool, "pgsql", params, &db, &err) != APR_SUCCESS
        || ca_db_exec_sql(pool, db, sql, &err) != APR_SUCCESS) {
        fprintf(stderr, "# pgsql: %s\n", err);
        return -1;
    }
    ca_db_close(db);
    return 0;
}

static int db_setup(void **state)
{
    const backend_t *be = *state;
    const char *params, *err = NULL;
    char tmpl[] = "/tmp/ca_conn_test.XXXXXX";
    apr_pool_t *pool;
    fx_t *f;

    if (apr_pool_create(&pool, root_pool) != APR_SUCCESS || mkdtemp(tmpl) == NULL) {
        return -1;
    }
    f = apr_pcalloc(pool, sizeof(*f));
    f->pool = pool;
    f->tmpdir = apr_pstrdup(pool, tmpl);
    f->be = be;
    if (strcmp(be->driver, "sqlite3") == 0) {
        params = apr_pstrcat(pool, f->tmpdir, "/test.db", NULL);
    }
    else {
        static int seq;
        f->schema = apr_psprintf(pool, "ca_conn_test_%ld_%d", (long)getpid(), ++seq);
        if (pg_schema(pool, be->params, f->schema, 1) != 0) {
            return -1;
        }
        params = apr_pstrcat(pool, be->params, " options=-csearch_path=", f->schema,
                             NULL);
    }
    if (ca_db_connect(pool, be->driver, params, &f->db, &err) != APR_SUCCESS
        || ca_migrate_run(pool, f->db, sql_dir, NOW, NULL, NULL, &err) != APR_SUCCESS
        || ca_db_prepare_all(pool, f->db, &err) != APR_SUCCESS
        || ca_store_user_create(pool, f->db, "owner@example.com", "$ca1$x", "member", NOW,
                                &f->user_id, &err) != APR_SUCCESS) {
        fprintf(stderr, "# setup: %s\n", err);
        return -1;
    }
    make_rings(pool, &f->k);
    *state = f;
    return 0;
}

static int db_teardown(void **state)
{
    fx_t *f = *state;

    if (f == NULL || f->pool == NULL) {
        return 0;
    }
    ca_db_close(f->db);
    if (f->schema) {
        pg_schema(f->pool, f->be->params, f->schema, 0);
    }
    nftw(f->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(f->pool);
    return 0;
}

/* A connection with the given secrets (NULL: none) sealed with ring. */
static apr_int64_t add_conn(fx_t *f, const ca_keyring_t *ring, const char *access,
                            const char *refresh, const char *api_key,
                            const char *client_secret)
{
    ca_connection_t c;
    const char *err = NULL, *sa = NULL, *sr = NULL, *sk = NULL, *ss = NULL;

    memset(&c, 0, sizeof(c));
    c.user_id = f->user_id;
    c.provider = "sandbox";
    c.account_id = "acct";
    c.auth_mode = api_key ? "api_key" : client_secret ? "client_credentials" : "oauth2";
    c.client_id = client_secret ? "cid" : NULL;
    c.tenant_id = client_secret ? "tenant" : NULL;
    c.scopes = "read write";
    c.expires_at = NOW + 3600;
    if (ca_store_connection_insert(f->pool, f->db, &c, NOW, &err) != APR_SUCCESS) {
        fail_msg("insert: %s", err);
    }
    if (access) {
        assert_int_equal(ca_conn_seal(f->pool, ring, c.id, CA_CONN_ACCESS_TOKEN, access,
                                      &sa), APR_SUCCESS);
    }
    if (refresh) {
        assert_int_equal(ca_conn_seal(f->pool, ring, c.id, CA_CONN_REFRESH_TOKEN, refresh,
                                      &sr), APR_SUCCESS);
    }
    if (api_key) {
        assert_int_equal(ca_conn_seal(f->pool, ring, c.id, CA_CONN_API_KEY, api_key, &sk),
                         APR_SUCCESS);
    }
    if (client_secret) {
        assert_int_equal(ca_conn_seal(f->pool, ring, c.id, CA_CONN_CLIENT_SECRET,
                                      client_secret, &ss), APR_SUCCESS);
    }
    if (sa || sr) {
        const char *a[] = {sa, sr, ca_db_i64(f->pool, NOW + 3600), "read write",
                           ca_db_i64(f->pool, NOW - 60), ca_db_i64(f->pool, NOW),
                           ca_db_i64(f->pool, c.id)};
        if (ca_db_exec(f->pool, f->db, CA_SQL_CONNECTION_UPDATE_TOKENS, 7, a, NULL, &err)
            != APR_SUCCESS) {
            fail_msg("tokens: %s", err);
        }
    }
    if (sk || ss) {
        const char *a[] = {sk, c.client_id, ss, c.tenant_id, ca_db_i64(f->pool, NOW),
                           ca_db_i64(f->pool, c.id)};
        if (ca_db_exec(f->pool, f->db, CA_SQL_CONNECTION_UPDATE_CREDENTIALS, 6, a, NULL,
                       &err) != APR_SUCCESS) {
            fail_msg("credentials: %s", err);
        }
    }
    return c.id;
}

static ca_connection_t *get_conn(fx_t *f, apr_int64_t id)
{
    ca_connection_t *c = NULL;
    const char *err = NULL;

    if (ca_store_connection_get(f->pool, f->db, id, &c, &err) != APR_SUCCESS) {
        fail_msg("get: %s", err);
    }
    return c;
}

static void expect_secret(fx_t *f, const ca_keyring_t *ring, apr_int64_t id,
                          const char *field, const char *sealed, const char *kid,
                          const char *plain_expected)
{
    char *plain = NULL;
    const char *err = NULL;

    assert_non_null(sealed);
    assert_string_equal(ca_sealed_kid(f->pool, sealed), kid);
    if (ca_conn_open(f->pool, ring, id, field, sealed, &plain, &err) != APR_SUCCESS) {
        fail_msg("open %s: %s", field, err);
    }
    assert_string_equal(plain, plain_expected);
}

static void test_rekey_two_keys(void **state)
{
    fx_t *f = *state;
    apr_int64_t c1, c2, c3, c4;
    ca_connection_t *c, *before3;
    const char *err = NULL;
    int count = -1;

    c1 = add_conn(f, f->k.r1, "access-1", "refresh-1", NULL, NULL);
    c2 = add_conn(f, f->k.r1, NULL, NULL, "apikey-2", NULL);
    c3 = add_conn(f, f->k.r12, "access-3", NULL, NULL, NULL);   /* already k2 */
    c4 = add_conn(f, f->k.r1, NULL, NULL, NULL, "secret-4");
    {   /* c4 needs reauthorization: the rekey keeps that status */
        const char *a[] = {"reauthorization_required", ca_db_i64(f->pool, NOW),
                           ca_db_i64(f->pool, c4)};
        assert_int_equal(ca_db_exec(f->pool, f->db, CA_SQL_CONNECTION_SET_STATUS, 3, a,
                                    NULL, &err), APR_SUCCESS);
    }
    before3 = get_conn(f, c3);

    if (ca_conn_rekey(f->pool, f->db, f->k.r12, &count, &err) != APR_SUCCESS) {
        fail_msg("rekey: %s", err);
    }
    assert_int_equal(count, 4);             /* access-1, refresh-1, apikey-2, secret-4 */

    c = get_conn(f, c1);
    expect_secret(f, f->k.r2, c1, CA_CONN_ACCESS_TOKEN, c->access_token_enc, "k2",
                  "access-1");
    expect_secret(f, f->k.r2, c1, CA_CONN_REFRESH_TOKEN, c->refresh_token_enc, "k2",
                  "refresh-1");
    assert_null(c->api_key_enc);
    assert_string_equal(c->status, "active");
    assert_int_equal(c->expires_at, NOW + 3600);
    assert_string_equal(c->scopes, "read write");
    assert_int_equal(c->last_refresh_at, NOW - 60);
    assert_null(c->refresh_lock_owner);
    assert_int_equal(c->refresh_lock_until, 0);

    c = get_conn(f, c2);
    expect_secret(f, f->k.r2, c2, CA_CONN_API_KEY, c->api_key_enc, "k2", "apikey-2");
    assert_null(c->access_token_enc);
    assert_null(c->refresh_token_enc);

    c = get_conn(f, c3);                    /* untouched */
    assert_string_equal(c->access_token_enc, before3->access_token_enc);
    assert_int_equal(c->updated_at, before3->updated_at);

    c = get_conn(f, c4);
    expect_secret(f, f->k.r2, c4, CA_CONN_CLIENT_SECRET, c->client_secret_enc, "k2",
                  "secret-4");
    assert_string_equal(c->status, "reauthorization_required");
    assert_string_equal(c->client_id, "cid");
    assert_string_equal(c->tenant_id, "tenant");
    assert_null(c->refresh_lock_owner);

    /* again: nothing left to do */
    assert_int_equal(ca_conn_rekey(f->pool, f->db, f->k.r12, &count, &err), APR_SUCCESS);
    assert_int_equal(count, 0);
    /* and the old key can now leave the key file */
    assert_int_equal(ca_conn_rekey(f->pool, f->db, f->k.r2, &count, &err), APR_SUCCESS);
    assert_int_equal(count, 0);
}

/* A value whose key is not in the ring: the whole rekey is refused and nothing
 * changes. */
static void test_rekey_unknown_kid(void **state)
{
    fx_t *f = *state;
    apr_int64_t c1, c2;
    ca_connection_t *before1;
    const char *err = NULL;
    int count = -1;

    c1 = add_conn(f, f->k.r1, "access-1", NULL, NULL, NULL);
    before1 = get_conn(f, c1);
    c2 = add_conn(f, f->k.r1, NULL, NULL, "apikey-2", NULL);
    assert_int_equal(ca_conn_rekey(f->pool, f->db, f->k.r2, &count, &err), APR_ENOENT);
    assert_non_null(strstr(err, apr_psprintf(f->pool, "connection %" APR_INT64_T_FMT,
                                              c1)));
    assert_non_null(strstr(err, "access_token"));
    assert_null(strstr(err, "access-1"));
    assert_string_equal(get_conn(f, c1)->access_token_enc, before1->access_token_enc);
    assert_string_equal(ca_sealed_kid(f->pool, get_conn(f, c2)->api_key_enc), "k1");
    assert_null(get_conn(f, c1)->refresh_lock_owner);
}

/* A connection being refreshed (lock held): refused, rolled back, and the
 * other connections keep their old values. */
static void test_rekey_locked(void **state)
{
    fx_t *f = *state;
    apr_int64_t c1, c2, now = apr_time_sec(apr_time_now());
    const char *err = NULL, *old1;
    int count = -1;

    c1 = add_conn(f, f->k.r1, "access-1", NULL, NULL, NULL);
    c2 = add_conn(f, f->k.r1, "access-2", NULL, NULL, NULL);
    old1 = get_conn(f, c1)->access_token_enc;
    assert_int_equal(ca_store_connection_claim_refresh(f->pool, f->db, c2, "worker-7", now,
                                                       now + 120, &err), APR_SUCCESS);
    assert_int_equal(ca_conn_rekey(f->pool, f->db, f->k.r12, &count, &err),
                     CA_DB_ENOTCLAIMED);
    assert_non_null(strstr(err, "refresh"));
    assert_string_equal(get_conn(f, c1)->access_token_enc, old1);
    assert_null(get_conn(f, c1)->refresh_lock_owner);
    assert_string_equal(get_conn(f, c2)->refresh_lock_owner, "worker-7");
    /* once released, it goes through */
    assert_int_equal(ca_store_connection_release_refresh(f->pool, f->db, c2, "worker-7",
                                                         &err), APR_SUCCESS);
    assert_int_equal(ca_conn_rekey(f->pool, f->db, f->k.r12, &count, &err), APR_SUCCESS);
    assert_int_equal(count, 2);
}

/* A disconnected connection has no secrets: nothing to do, status kept. */
static void test_rekey_disconnected(void **state)
{
    fx_t *f = *state;
    apr_int64_t c1;
    const char *err = NULL;
    int count = -1;

    c1 = add_conn(f, f->k.r1, "access-1", "refresh-1", NULL, NULL);
    {
        const char *a[] = {ca_db_i64(f->pool, NOW), ca_db_i64(f->pool, c1)};
        assert_int_equal(ca_db_exec(f->pool, f->db, CA_SQL_CONNECTION_DISCONNECT, 2, a,
                                    NULL, &err), APR_SUCCESS);
    }
    assert_int_equal(ca_conn_rekey(f->pool, f->db, f->k.r12, &count, &err), APR_SUCCESS);
    assert_int_equal(count, 0);
    assert_string_equal(get_conn(f, c1)->status, "disconnected");
    assert_null(get_conn(f, c1)->access_token_enc);
}

int main(void)
{
    static const struct CMUnitTest seal_tests[] = {
        cmocka_unit_test(test_aad),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_aad_binds),
        cmocka_unit_test(test_bad_args),
    };
    static const struct CMUnitTest db_tests[] = {
        cmocka_unit_test_setup_teardown(test_rekey_two_keys, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_rekey_unknown_kid, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_rekey_locked, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_rekey_disconnected, db_setup, db_teardown),
    };
    static backend_t sqlite = {"sqlite3", NULL};
    static backend_t pg = {"pgsql", NULL};
    const size_t nseal = sizeof(seal_tests) / sizeof(seal_tests[0]);
    const size_t ndb = sizeof(db_tests) / sizeof(db_tests[0]);
    struct CMUnitTest *tests;
    size_t n = 0, i;
    int rc;

    apr_initialize();
    apr_pool_create(&root_pool, NULL);
    sql_dir = getenv("CA_SQL_DIR");
    if (sql_dir == NULL || *sql_dir == '\0') {
        sql_dir = "sql";
    }
    pg.params = getenv("CA_TEST_PGSQL_PARAMS");
    if (pg.params == NULL || *pg.params == '\0') {
        pg.params = getenv("CA_PG_PARAMS");
    }
    tests = apr_pcalloc(root_pool, sizeof(*tests) * (nseal + 2 * ndb));
    for (i = 0; i < nseal; i++) {
        tests[n++] = seal_tests[i];
    }
    for (i = 0; i < ndb; i++) {
        tests[n] = db_tests[i];
        tests[n].name = apr_psprintf(root_pool, "sqlite3: %s", db_tests[i].name + 5);
        tests[n++].initial_state = &sqlite;
    }
    for (i = 0; pg.params && *pg.params && i < ndb; i++) {
        tests[n] = db_tests[i];
        tests[n].name = apr_psprintf(root_pool, "pgsql: %s", db_tests[i].name + 5);
        tests[n++].initial_state = &pg;
    }
    rc = _cmocka_run_group_tests("ca_conn", tests, n, NULL, NULL);
    apr_pool_destroy(root_pool);
    apr_terminate();
    return rc;
}
