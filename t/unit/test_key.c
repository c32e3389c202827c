/*
 * test_key.c - unit tests for ca_key (cmocka).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ca_crypto.h"
#include "ca_key.h"

#define ELLIPSIS "\xe2\x80\xa6"

/* Known answers, computed independently (Python hashlib/base64). */
#define KEY_ZERO "cak_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQiNCOe"
#define KEY_ZERO_HASH \
    "sha256:b68f0f19572643502fd462d6627a1ef457d1632387d1622887c6b454168bab1e"
#define KEY_SEQ  "cak_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8hScZH8"
#define KEY_SEQ_HASH \
    "sha256:14e00e408750f58a783392dcbad92ca176f8495c8da1b56a4792389d78122352"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static apr_pool_t *root_pool;

static int setup(void **state)
{
    apr_pool_t *p = NULL;

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

static apr_status_t check(const char *key)
{
    return ca_key_check_format(key, strlen(key));
}

static void test_known_answer(void **state)
{
    apr_pool_t *p = *state;
    unsigned char raw[CA_KEY_RAW_LEN];
    int i;

    memset(raw, 0, sizeof(raw));
    assert_string_equal(ca_key_from_bytes(p, raw), KEY_ZERO);
    for (i = 0; i < CA_KEY_RAW_LEN; i++) {
        raw[i] = (unsigned char)i;
    }
    assert_string_equal(ca_key_from_bytes(p, raw), KEY_SEQ);
    assert_null(ca_key_from_bytes(p, NULL));

    assert_int_equal(check(KEY_ZERO), APR_SUCCESS);
    assert_int_equal(check(KEY_SEQ), APR_SUCCESS);
    assert_string_equal(ca_key_hash(p, KEY_ZERO), KEY_ZERO_HASH);
    assert_string_equal(ca_key_hash(p, KEY_SEQ), KEY_SEQ_HASH);
    assert_string_equal(ca_key_hint(p, KEY_SEQ), "cak_" ELLIPSIS "cZH8");
}

static void test_generate_many(void **state)
{
    apr_pool_t *p = *state;
    apr_hash_t *seen = apr_hash_make(p);
    int i;

    for (i = 0; i < 1000; i++) {
        char *key = NULL;
        apr_status_t rv;
        size_t j;

        assert_int_equal(ca_key_generate(p, &key), APR_SUCCESS);
        assert_non_null(key);
        assert_int_equal(strlen(key), CA_KEY_LEN);
        assert_int_equal(CA_KEY_LEN, 53);
        assert_int_equal(strncmp(key, "cak_", 4), 0);
        for (j = 4; j < CA_KEY_LEN; j++) {
            assert_non_null(strchr(alphabet, key[j]));
        }
        rv = check(key);
        if (rv != APR_SUCCESS) {
            fail_msg("generated key %d refused: %s", i, ca_key_strerror(rv));
        }
        assert_null(apr_hash_get(seen, key, APR_HASH_KEY_STRING));
        apr_hash_set(seen, key, APR_HASH_KEY_STRING, key);
    }
    assert_int_equal(apr_hash_count(seen), 1000);
}

/* Every single-character substitution of a valid key must be refused, with
 * the error that matches the position and the replacement character. */
static void substitutions_fail(const char *valid)
{
    static const char extra[] = "=+/.~ !%\t\n\x7f\x80\xff";
    char key[CA_KEY_LEN + 1];
    size_t pos, k;

    assert_int_equal(strlen(valid), CA_KEY_LEN);
    for (pos = 0; pos < CA_KEY_LEN; pos++) {
        const size_t nalpha = sizeof(alphabet) - 1, nextra = sizeof(extra) - 1;

        for (k = 0; k < nalpha + nextra; k++) {
            char c = k < nalpha ? alphabet[k] : extra[k - nalpha];
            apr_status_t rv, want;

            if (c == valid[pos]) {
                continue;
            }
            memcpy(key, valid, sizeof(key));
            key[pos] = c;
            rv = ca_key_check_format(key, CA_KEY_LEN);
            if (pos < 4) {
                want = CA_KEY_EPREFIX;
            }
            else if (k >= nalpha) {
                want = CA_KEY_ECHARS;
            }
            else {
                want = CA_KEY_ECHECKSUM;
            }
            if (rv != want) {
                fail_msg("substitution at %zu with 0x%02x: got %d (%s), want %d",
                         pos, (unsigned char)c, rv, ca_key_strerror(rv), want);
            }
        }
    }
}

static void test_substitutions(void **state)
{
    apr_pool_t *p = *state;
    int i;

    substitutions_fail(KEY_ZERO);
    substitutions_fail(KEY_SEQ);
    for (i = 0; i < 5; i++) {
        char *key = NULL;

        assert_int_equal(ca_key_generate(p, &key), APR_SUCCESS);
        substitutions_fail(key);
    }
}

static void test_truncation_and_length(void **state)
{
    apr_pool_t *p = *state;
    size_t n;

    for (n = 0; n < CA_KEY_LEN; n++) {
        apr_status_t rv = ca_key_check_format(KEY_SEQ, n);

        if (rv != CA_KEY_ELENGTH) {
            fail_msg("truncated to %zu: got %s", n, ca_key_strerror(rv));
        }
        /* same through a NUL-terminated copy */
        assert_int_equal(check(apr_pstrndup(p, KEY_SEQ, n)), CA_KEY_ELENGTH);
    }
    assert_int_equal(check(apr_pstrcat(p, KEY_SEQ, "A", NULL)), CA_KEY_ELENGTH);
    assert_int_equal(check(apr_pstrcat(p, KEY_SEQ, "=", NULL)), CA_KEY_ELENGTH);
    assert_int_equal(check(apr_pstrcat(p, KEY_SEQ, "==", NULL)), CA_KEY_ELENGTH);
    assert_int_equal(check(apr_pstrcat(p, KEY_SEQ, "\n", NULL)), CA_KEY_ELENGTH);
    assert_int_equal(check(apr_pstrcat(p, " ", KEY_SEQ, NULL)), CA_KEY_EPREFIX);
    /* body one char short with the checksum kept */
    assert_int_equal(check(apr_pstrcat(p, "cak_", &KEY_SEQ[5], NULL)), CA_KEY_ELENGTH);
    assert_int_equal(ca_key_check_format(NULL, 0), CA_KEY_ELENGTH);
    assert_int_equal(ca_key_check_format(NULL, 53), CA_KEY_ELENGTH);

    /* only len bytes are read: a key inside a longer buffer */
    assert_int_equal(ca_key_check_format(apr_pstrcat(p, KEY_SEQ, "trailing", NULL),
                                         CA_KEY_LEN), APR_SUCCESS);
    /* an embedded NUL counts as a bad character */
    {
        char buf[CA_KEY_LEN + 1];

        memcpy(buf, KEY_SEQ, sizeof(buf));
        buf[20] = '\0';
        assert_int_equal(ca_key_check_format(buf, CA_KEY_LEN), CA_KEY_ECHARS);
    }
}

static void test_prefix(void **state)
{
    static const char *bad[] = {
        "CAK_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8hScZH8",
        "cak-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8hScZH8",
        "cab_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8hScZH8",
        "sk_live_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8h",
        "ccmd_live_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH",
        "Bearer cak_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH",
        "x", "ca-", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8hScZH8",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(bad[i]) != CA_KEY_EPREFIX) {
            fail_msg("case %zu (\"%s\") not refused as wrong prefix", i, bad[i]);
        }
    }
    assert_int_equal(check("c"), CA_KEY_ELENGTH);
    assert_int_equal(check("cak"), CA_KEY_ELENGTH);
    assert_int_equal(check("cak_"), CA_KEY_ELENGTH);
}

static void test_chars(void **state)
{
    apr_pool_t *p = *state;
    /* standard base64 spelling of the same bytes, and padding inside */
    char *plus = apr_pstrdup(p, KEY_SEQ);
    char *slash = apr_pstrdup(p, KEY_SEQ);
    char *pad = apr_pstrdup(p, KEY_SEQ);

    plus[10] = '+';
    slash[30] = '/';
    pad[CA_KEY_LEN - 1] = '=';
    assert_int_equal(check(plus), CA_KEY_ECHARS);
    assert_int_equal(check(slash), CA_KEY_ECHARS);
    assert_int_equal(check(pad), CA_KEY_ECHARS);
    /* the checksum part only holds url-safe characters too */
    pad[CA_KEY_LEN - 1] = '8';
    pad[CA_KEY_LEN - 3] = '+';
    assert_int_equal(check(pad), CA_KEY_ECHARS);

    /* body with non-canonical trailing bits: refused although every char is
     * in the alphabet ('8' -> '9' sets an unused bit) */
    {
        char *nc = apr_pstrdup(p, KEY_SEQ);

        assert_int_equal(nc[4 + 42], '8');
        nc[4 + 42] = '9';
        assert_int_equal(check(nc), CA_KEY_ECHECKSUM);
    }
    /* ... even when its checksum is recomputed to match: every key string
     * maps to exactly one 32-byte value */
    {
        char *nc = apr_pstrdup(p, KEY_SEQ);
        unsigned char md[CA_SHA256_LEN];
        const char *sum;

        nc[4 + 42] = '9';
        assert_int_equal(ca_sha256(nc, 4 + 43, md), APR_SUCCESS);
        sum = ca_b64url_encode(p, md, sizeof(md));
        memcpy(nc + 4 + 43, sum, 6);
        assert_int_equal(check(nc), CA_KEY_ECHECKSUM);
        /* the same construction on the canonical body gives the valid key */
        nc[4 + 42] = '8';
        assert_int_equal(ca_sha256(nc, 4 + 43, md), APR_SUCCESS);
        sum = ca_b64url_encode(p, md, sizeof(md));
        memcpy(nc + 4 + 43, sum, 6);
        assert_string_equal(nc, KEY_SEQ);
        assert_int_equal(check(nc), APR_SUCCESS);
    }
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_not_equal(ca_key_strerror(CA_KEY_EPREFIX),
                            ca_key_strerror(CA_KEY_ELENGTH));
    assert_string_not_equal(ca_key_strerror(CA_KEY_ECHARS),
                            ca_key_strerror(CA_KEY_ECHECKSUM));
    assert_non_null(strstr(ca_key_strerror(CA_KEY_EPREFIX), "cak_"));
    assert_non_null(strstr(ca_key_strerror(CA_KEY_ECHECKSUM), "checksum"));
    assert_non_null(ca_key_strerror(APR_EGENERAL));
    /* the four codes are distinct and none is success */
    assert_true(CA_KEY_EPREFIX != APR_SUCCESS && CA_KEY_EPREFIX != CA_KEY_ELENGTH
                && CA_KEY_ELENGTH != CA_KEY_ECHARS && CA_KEY_ECHARS != CA_KEY_ECHECKSUM
                && CA_KEY_EPREFIX != CA_KEY_ECHECKSUM);
}

static void test_hash(void **state)
{
    apr_pool_t *p = *state;
    char *key = NULL, *h1, *h2;
    size_t i;

    assert_int_equal(ca_key_generate(p, &key), APR_SUCCESS);
    h1 = ca_key_hash(p, key);
    h2 = ca_key_hash(p, key);
    assert_non_null(h1);
    assert_string_equal(h1, h2);
    assert_int_equal(strlen(h1), CA_KEY_HASH_LEN);
    assert_int_equal(strlen(h1), 71);
    assert_int_equal(strncmp(h1, "sha256:", 7), 0);
    for (i = 7; i < 71; i++) {
        assert_non_null(strchr("0123456789abcdef", h1[i]));
    }
    assert_true(ca_key_hash_valid(h1));
    assert_null(strstr(h1, key + 4));
    assert_string_not_equal(h1, ca_key_hash(p, KEY_SEQ));
    assert_null(ca_key_hash(p, NULL));
    /* independent of the format check: hashes exactly what was presented */
    assert_string_equal(ca_key_hash(p, ""),
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hash_valid(void **state)
{
    apr_pool_t *p = *state;
    const char *hex = &KEY_SEQ_HASH[7];
    char *upper = apr_pstrdup(p, KEY_SEQ_HASH);
    char *s;

    assert_true(ca_key_hash_valid(KEY_SEQ_HASH));
    assert_true(ca_key_hash_valid(KEY_ZERO_HASH));
    assert_false(ca_key_hash_valid(NULL));
    assert_false(ca_key_hash_valid(""));
    assert_false(ca_key_hash_valid("sha256:"));
    assert_false(ca_key_hash_valid(hex));                              /* no prefix */
    assert_false(ca_key_hash_valid(apr_pstrcat(p, "SHA256:", hex, NULL)));
    assert_false(ca_key_hash_valid(apr_pstrcat(p, "sha512:", hex, NULL)));
    assert_false(ca_key_hash_valid(apr_pstrcat(p, "sha256: ", hex, NULL)));
    assert_false(ca_key_hash_valid(apr_pstrndup(p, KEY_SEQ_HASH, 70)));  /* 63 hex */
    assert_false(ca_key_hash_valid(apr_pstrcat(p, KEY_SEQ_HASH, "0", NULL)));
    assert_false(ca_key_hash_valid(apr_pstrcat(p, KEY_SEQ_HASH, "\n", NULL)));
    assert_false(ca_key_hash_valid(apr_pstrcat(p, KEY_SEQ_HASH, " ", NULL)));
    upper[20] = 'E';
    upper[21] = 'F';
    assert_false(ca_key_hash_valid(upper));
    s = apr_pstrdup(p, KEY_SEQ_HASH);
    s[40] = 'g';
    assert_false(ca_key_hash_valid(s));
    /* a raw key is not a hash */
    assert_false(ca_key_hash_valid(KEY_SEQ));
}

static void test_hint(void **state)
{
    apr_pool_t *p = *state;
    char *key = NULL;
    const char *hint;

    assert_int_equal(ca_key_generate(p, &key), APR_SUCCESS);
    hint = ca_key_hint(p, key);
    assert_int_equal(strlen(hint), 4 + 3 + 4);
    assert_int_equal(strncmp(hint, "cak_" ELLIPSIS, 7), 0);
    assert_string_equal(hint + 7, key + CA_KEY_LEN - 4);
    assert_string_equal(ca_key_hint(p, NULL), "cak_" ELLIPSIS);
    assert_string_equal(ca_key_hint(p, "cak_short"), "cak_" ELLIPSIS);
    assert_string_equal(ca_key_hint(p, "cak_12345678"), "cak_" ELLIPSIS "5678");
    assert_string_equal(ca_key_hint(p, "cak_1234567\n9"), "cak_" ELLIPSIS);
}

static void test_endpoint_id(void **state)
{
    apr_pool_t *p = *state;
    apr_hash_t *seen = apr_hash_make(p);
    char *id64 = apr_palloc(p, 66);
    int i;

    for (i = 0; i < 1000; i++) {
        char *id = NULL;

        assert_int_equal(ca_endpoint_id_generate(p, &id), APR_SUCCESS);
        assert_int_equal(strlen(id), 3 + 22);
        assert_int_equal(strncmp(id, "ep_", 3), 0);
        assert_true(ca_endpoint_id_valid(id));
        assert_null(apr_hash_get(seen, id, APR_HASH_KEY_STRING));
        apr_hash_set(seen, id, APR_HASH_KEY_STRING, id);
    }

    assert_true(ca_endpoint_id_valid("ep_a"));
    assert_true(ca_endpoint_id_valid("ep_-"));
    assert_true(ca_endpoint_id_valid("ep__"));
    assert_true(ca_endpoint_id_valid("ep_ServiceM8-demo_01"));
    memcpy(id64, "ep_", 3);
    memset(id64 + 3, 'x', 61);
    id64[64] = '\0';
    assert_true(ca_endpoint_id_valid(id64));             /* 64 chars */
    id64[64] = 'x';
    id64[65] = '\0';
    assert_false(ca_endpoint_id_valid(id64));            /* 65 chars */

    assert_false(ca_endpoint_id_valid(NULL));
    assert_false(ca_endpoint_id_valid(""));
    assert_false(ca_endpoint_id_valid("ep_"));
    assert_false(ca_endpoint_id_valid("ep"));
    assert_false(ca_endpoint_id_valid("EP_abc"));
    assert_false(ca_endpoint_id_valid("ep-abc"));
    assert_false(ca_endpoint_id_valid("xep_abc"));
    assert_false(ca_endpoint_id_valid("ep_a.b"));
    assert_false(ca_endpoint_id_valid("ep_a/b"));
    assert_false(ca_endpoint_id_valid("ep_a+b"));
    assert_false(ca_endpoint_id_valid("ep_ab="));
    assert_false(ca_endpoint_id_valid("ep_a b"));
    assert_false(ca_endpoint_id_valid("ep_ab\n"));
    assert_false(ca_endpoint_id_valid("ep_%2e%2e"));
    assert_false(ca_endpoint_id_valid("ep_\xc3\xa9"));
    assert_false(ca_endpoint_id_valid("ep_abc/../x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_known_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generate_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_substitutions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_and_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strerror, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_id, setup, teardown),
    };
    int rc;

    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&root_pool, NULL) != APR_SUCCESS) {
        fprintf(stderr, "APR initialisation failed\n");
        return 1;
    }
    rc = cmocka_run_group_tests_name("ca_key", tests, NULL, NULL);
    apr_pool_destroy(root_pool);
    apr_terminate();
    return rc;
}
