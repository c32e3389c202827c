/*
 * test_password.c - unit tests for ca_password (cmocka).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <apr_general.h>
#include <apr_md5.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ca_password.h"

#define FAST 4                  /* bcrypt cost for tests that need no real cost */

static apr_pool_t *root_pool;

static int setup(void **state)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, root_pool) != APR_SUCCESS) {
        return -1;
    }
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

static const char *hash_of(apr_pool_t *p, const char *pw, unsigned int cost)
{
    const char *h = NULL, *err = NULL;
    apr_status_t rv = ca_password_hash(p, pw, cost, &h, &err);

    if (rv != APR_SUCCESS) {
        fail_msg("ca_password_hash: %s", err ? err : "?");
    }
    assert_non_null(h);
    return h;
}

static void test_hash_verify(void **state)
{
    apr_pool_t *p = *state;
    const char *h = hash_of(p, "correct horse battery", FAST);

    assert_int_equal(strlen(h), CA_PASSWORD_HASH_LEN);
    assert_true(strncmp(h, "$ca1$2y$04$", 11) == 0);
    assert_true(ca_password_hash_valid(h));
    assert_int_equal(ca_password_hash_cost(h), 4);
    assert_int_equal(ca_password_verify("correct horse battery", h), APR_SUCCESS);
    /* the password never shows in the stored value */
    assert_null(strstr(h, "correct"));
}

static void test_default_cost(void **state)
{
    apr_pool_t *p = *state;
    const char *h = hash_of(p, "correct horse battery", 0);

    assert_true(strncmp(h, "$ca1$2y$12$", 11) == 0);
    assert_int_equal(ca_password_hash_cost(h), CA_PASSWORD_COST_DEFAULT);
    assert_int_equal(ca_password_verify("correct horse battery", h), APR_SUCCESS);
    assert_int_equal(ca_password_verify("correct horse batterY", h), APR_EMISMATCH);
}

static void test_wrong_password(void **state)
{
    apr_pool_t *p = *state;
    const char *h = hash_of(p, "correct horse battery", FAST);

    assert_int_equal(ca_password_verify("correct horse batter", h), APR_EMISMATCH);
    assert_int_equal(ca_password_verify("correct horse battery ", h), APR_EMISMATCH);
    assert_int_equal(ca_password_verify("Correct horse battery", h), APR_EMISMATCH);
    assert_int_equal(ca_password_verify("", h), APR_EMISMATCH);
    assert_int_equal(ca_password_verify(NULL, h), APR_EMISMATCH);
}

static void test_salted(void **state)
{
    apr_pool_t *p = *state;
    const char *a = hash_of(p, "same password here", FAST);
    const char *b = hash_of(p, "same password here", FAST);

    assert_string_not_equal(a, b);
    assert_int_equal(ca_password_verify("same password here", a), APR_SUCCESS);
    assert_int_equal(ca_password_verify("same password here", b), APR_SUCCESS);
}

/* Two 100-byte passwords that differ only in byte 80: plain bcrypt would take
 * them for the same (it reads 72 bytes); the pre-hash keeps them apart. */
static void test_long_passwords(void **state)
{
    apr_pool_t *p = *state;
    char a[101], b[101], raw_a[64], raw_b[64];
    static const unsigned char salt[16] = "0123456789abcdef";
    const char *ha, *hb;

    memset(a, 'x', 100);
    a[100] = '\0';
    memcpy(b, a, sizeof(a));
    b[80] = 'y';
    /* what bcrypt alone would do */
    assert_int_equal(apr_bcrypt_encode(a, FAST, salt, 16, raw_a, sizeof(raw_a)),
                     APR_SUCCESS);
    assert_int_equal(apr_bcrypt_encode(b, FAST, salt, 16, raw_b, sizeof(raw_b)),
                     APR_SUCCESS);
    assert_string_equal(raw_a, raw_b);
    /* what ca_password does */
    ha = hash_of(p, a, FAST);
    hb = hash_of(p, b, FAST);
    assert_int_equal(ca_password_verify(a, ha), APR_SUCCESS);
    assert_int_equal(ca_password_verify(b, hb), APR_SUCCESS);
    assert_int_equal(ca_password_verify(b, ha), APR_EMISMATCH);
    assert_int_equal(ca_password_verify(a, hb), APR_EMISMATCH);
    /* and a prefix of 72 bytes is not the password either */
    a[72] = '\0';
    assert_int_equal(ca_password_verify(a, ha), APR_EMISMATCH);
}

static void test_max_length(void **state)
{
    apr_pool_t *p = *state;
    char *pw = apr_palloc(p, CA_PASSWORD_MAX_LEN + 2);
    const char *h = NULL, *err = NULL;

    memset(pw, 'a', CA_PASSWORD_MAX_LEN);
    pw[CA_PASSWORD_MAX_LEN] = '\0';
    h = hash_of(p, pw, FAST);
    assert_int_equal(ca_password_verify(pw, h), APR_SUCCESS);
    pw[CA_PASSWORD_MAX_LEN] = 'a';
    pw[CA_PASSWORD_MAX_LEN + 1] = '\0';
    assert_int_equal(ca_password_hash(p, pw, FAST, &h, &err), APR_EINVAL);
    assert_null(h);
    assert_non_null(err);
    assert_int_equal(ca_password_verify(pw, hash_of(p, "aaaaaaaaaaaa", FAST)),
                     APR_EMISMATCH);
}

static void test_bad_cost(void **state)
{
    apr_pool_t *p = *state;
    const char *h = NULL, *err = NULL;

    assert_int_equal(ca_password_hash(p, "correct horse", 3, &h, &err), APR_EINVAL);
    assert_null(h);
    assert_non_null(err);
    assert_int_equal(ca_password_hash(p, "correct horse", 32, &h, &err), APR_EINVAL);
    assert_int_equal(ca_password_hash(p, NULL, FAST, &h, &err), APR_EINVAL);
    assert_int_equal(ca_password_hash(p, "correct horse", FAST, NULL, NULL), APR_EINVAL);
}

/* Stored values in any other format never verify, whatever apr accepts. */
static void test_foreign_hashes(void **state)
{
    apr_pool_t *p = *state;
    const char *h = hash_of(p, "correct horse battery", FAST);
    char raw[64], md5[128];
    static const unsigned char salt[16] = "0123456789abcdef";
    char *t;

    /* plain text (apr_password_validate may compare clear text) */
    assert_int_equal(ca_password_verify("correct horse battery", "correct horse battery"),
                     APR_EMISMATCH);
    /* bcrypt of the password itself, without the scheme and pre-hash */
    assert_int_equal(apr_bcrypt_encode("correct horse battery", FAST, salt, 16, raw,
                                       sizeof(raw)), APR_SUCCESS);
    assert_int_equal(apr_password_validate("correct horse battery", raw), APR_SUCCESS);
    assert_int_equal(ca_password_verify("correct horse battery", raw), APR_EMISMATCH);
    /* apr's MD5 */
    assert_int_equal(apr_md5_encode("correct horse battery", "saltsalt", md5, sizeof(md5)),
                     APR_SUCCESS);
    assert_int_equal(ca_password_verify("correct horse battery", md5), APR_EMISMATCH);
    /* damaged values of our scheme */
    assert_int_equal(ca_password_verify("correct horse battery", h + 4), APR_EMISMATCH);
    t = apr_pstrdup(p, h);
    t[strlen(t) - 1] = '\0';
    assert_false(ca_password_hash_valid(t));
    assert_int_equal(ca_password_verify("correct horse battery", t), APR_EMISMATCH);
    t = apr_pstrdup(p, h);
    t[20] = '!';
    assert_int_equal(ca_password_verify("correct horse battery", t), APR_EMISMATCH);
    t = apr_pstrdup(p, h);
    memcpy(t + 8, "03", 2);         /* cost below the minimum */
    assert_int_equal(ca_password_hash_cost(t), -1);
    assert_int_equal(ca_password_verify("correct horse battery", t), APR_EMISMATCH);
    t = apr_pstrdup(p, h);
    t[3] = '2';                     /* unknown scheme $ca2$ */
    assert_int_equal(ca_password_verify("correct horse battery", t), APR_EMISMATCH);
    assert_false(ca_password_hash_valid(NULL));
    assert_false(ca_password_hash_valid(""));
}

/* No account: a dummy verification that always fails. */
static void test_null_hash(void **state)
{
    (void)state;
    assert_int_equal(ca_password_verify("correct horse battery", NULL), APR_EMISMATCH);
    assert_int_equal(ca_password_verify("", NULL), APR_EMISMATCH);
}

static void test_policy(void **state)
{
    apr_pool_t *p = *state;
    const char *why = NULL;
    char *big = apr_palloc(p, CA_PASSWORD_MAX_LEN + 2);

    assert_int_equal(ca_password_policy("0123456789", &why), APR_SUCCESS);
    assert_int_equal(ca_password_policy("012345678", &why), APR_EINVAL);
    assert_non_null(strstr(why, "shorter"));
    assert_int_equal(ca_password_policy(NULL, &why), APR_EINVAL);
    assert_int_equal(ca_password_policy("", NULL), APR_EINVAL);
    memset(big, 'z', CA_PASSWORD_MAX_LEN + 1);
    big[CA_PASSWORD_MAX_LEN] = '\0';
    assert_int_equal(ca_password_policy(big, &why), APR_SUCCESS);
    big[CA_PASSWORD_MAX_LEN] = 'z';
    big[CA_PASSWORD_MAX_LEN + 1] = '\0';
    assert_int_equal(ca_password_policy(big, &why), APR_EINVAL);
    assert_non_null(strstr(why, "longer"));
    /* UTF-8 */
    assert_int_equal(ca_password_policy("p\xc3\xa4sswort-gr\xc3\xbc\xc3\x9f", &why),
                     APR_SUCCESS);
    assert_int_equal(ca_password_policy("emoji \xf0\x9f\x94\x91 key!", &why), APR_SUCCESS);
    assert_int_equal(ca_password_policy("caf\xe9 latte 123", &why), APR_EINVAL);
    assert_non_null(strstr(why, "UTF-8"));
    assert_int_equal(ca_password_policy("overlong \xc0\xaf slash", &why), APR_EINVAL);
    assert_int_equal(ca_password_policy("overlong \xe0\x80\xaf slash", &why), APR_EINVAL);
    assert_int_equal(ca_password_policy("surrogate \xed\xa0\x80 x", &why), APR_EINVAL);
    assert_int_equal(ca_password_policy("too big \xf4\x90\x80\x80 x", &why), APR_EINVAL);
    assert_int_equal(ca_password_policy("bad lead \xf8\x88\x80\x80\x80", &why), APR_EINVAL);
    assert_int_equal(ca_password_policy("lone continuation \x80", &why), APR_EINVAL);
    assert_int_equal(ca_password_policy("truncated at end \xe2\x82", &why), APR_EINVAL);
    /* NUL inside (length-aware check) */
    assert_int_equal(ca_password_policy_len("0123456789\0abc", 14, &why), APR_EINVAL);
    assert_non_null(strstr(why, "NUL"));
    assert_int_equal(ca_password_policy_len("0123456789abcd", 14, &why), APR_SUCCESS);
}

static void test_email(void **state)
{
    static const char *const good[] = {
        "a@b.c", "team.member+tag@example.co.uk", "x_y-z@sub.example.test", NULL
    };
    static const char *const bad[] = {
        "", "a@", "@b.c", "ab.c", "a@@b.c", "a@b@c.d", "a@.b.c", "a@b.c.", "a@b..c",
        "a@bc", "a b@c.d", "a\tb@c.d", "\"a\"@b.c", "a<b>@c.d", "a@b.c\r\n",
        "caf\xc3\xa9@b.c", "a;b@c.d", "a(b)@c.d", NULL
    };
    char local[80], longer[300];
    int i;

    (void)state;
    for (i = 0; good[i]; i++) {
        assert_true(ca_email_valid(good[i]));
    }
    for (i = 0; bad[i]; i++) {
        assert_false(ca_email_valid(bad[i]));
    }
    assert_false(ca_email_valid(NULL));
    /* the local part at most 64 characters, the whole at most 254 */
    memset(local, 'l', 64);
    strcpy(local + 64, "@b.c");
    assert_true(ca_email_valid(local));
    memset(local, 'l', 65);
    strcpy(local + 65, "@b.c");
    assert_false(ca_email_valid(local));
    strcpy(longer, "a@");
    memset(longer + 2, 'd', 248);
    strcpy(longer + 250, ".com");
    assert_true(ca_email_valid(longer));      /* 254 */
    strcpy(longer + 250, ".comm");
    assert_false(ca_email_valid(longer));     /* 255 */
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_cost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_passwords, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
        cmocka_unit_test(test_email),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&root_pool, NULL);
    rc = cmocka_run_group_tests_name("ca_password", tests, NULL, NULL);
    apr_pool_destroy(root_pool);
    apr_terminate();
    return rc;
}
