/*
 * test_crypto.c - unit tests for ca_crypto (cmocka).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ca_crypto.h"

#define ELLIPSIS "\xe2\x80\xa6"

/* fixed test keys (base64url of 32 bytes) */
#define K_SEQ  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"   /* 00 01 .. 1f */
#define K_FF   "__________________________________________8"   /* ff x 32 */
#define K_5A   "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo"   /* 5a x 32 */
#define K_31B  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"    /* 31 zero bytes */
#define K_33B  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"  /* 33 zero bytes */

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

static void hex_to_bytes(const char *hex, unsigned char *out, size_t *outlen)
{
    size_t n = strlen(hex) / 2, i;

    for (i = 0; i < n; i++) {
        unsigned int v;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
    *outlen = n;
}

static void assert_contains(const char *haystack, const char *needle)
{
    assert_non_null(haystack);
    if (strstr(haystack, needle) == NULL) {
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
    }
}

static ca_keyring_t *ring_of(apr_pool_t *p, const char *text)
{
    ca_keyring_t *ring = NULL;
    const char *err = NULL;
    apr_status_t rv = ca_keyring_parse(p, text, strlen(text), &ring, &err);

    if (rv != APR_SUCCESS) {
        fail_msg("keyring parse failed: %s", err ? err : "(no message)");
    }
    assert_non_null(ring);
    return ring;
}

/* ------------------------------------------------------------------------ */

static void test_sha256_kat(void **state)
{
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    };
    apr_pool_t *p = *state;
    unsigned char md[CA_SHA256_LEN];
    char *million;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(ca_sha256(v[i].msg, strlen(v[i].msg), md), APR_SUCCESS);
        assert_string_equal(ca_hex_encode(p, md, sizeof(md)), v[i].hex);
        assert_string_equal(ca_sha256_hex(p, v[i].msg, strlen(v[i].msg)), v[i].hex);
    }
    million = apr_palloc(p, 1000000);
    memset(million, 'a', 1000000);
    assert_string_equal(ca_sha256_hex(p, million, 1000000),
                        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* NULL with length 0 is the empty message; NULL with a length is refused */
    assert_string_equal(ca_sha256_hex(p, NULL, 0), v[0].hex);
    assert_int_equal(ca_sha256(NULL, 3, md), APR_EINVAL);
}

static void test_hmac_rfc4231(void **state)
{
    apr_pool_t *p = *state;
    unsigned char key[131], md[CA_SHA256_LEN];
    const char *d;

    /* RFC 4231 test case 1 */
    memset(key, 0x0b, 20);
    d = "Hi There";
    assert_int_equal(ca_hmac_sha256(key, 20, d, strlen(d), md), APR_SUCCESS);
    assert_string_equal(ca_hex_encode(p, md, sizeof(md)),
                        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* test case 2 */
    d = "what do ya want for nothing?";
    assert_int_equal(ca_hmac_sha256("Jefe", 4, d, strlen(d), md), APR_SUCCESS);
    assert_string_equal(ca_hex_encode(p, md, sizeof(md)),
                        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* test case 6: key longer than the block size */
    memset(key, 0xaa, sizeof(key));
    d = "Test Using Larger Than Block-Size Key - Hash Key First";
    assert_int_equal(ca_hmac_sha256(key, sizeof(key), d, strlen(d), md), APR_SUCCESS);
    assert_string_equal(ca_hex_encode(p, md, sizeof(md)),
                        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* empty key and empty message */
    assert_int_equal(ca_hmac_sha256(NULL, 0, NULL, 0, md), APR_SUCCESS);
    assert_string_equal(ca_hex_encode(p, md, sizeof(md)),
                        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    assert_int_equal(ca_hmac_sha256(NULL, 5, "x", 1, md), APR_EINVAL);
    assert_int_equal(ca_hmac_sha256("k", 1, NULL, 5, md), APR_EINVAL);
}

/* The keyed HMAC and the per-process algorithm cache give the same answers as
 * ca_hmac_sha256 and ca_sha256, before and after ca_crypto_process_init, and the
 * cache goes with its pool (valgrind: nothing left at exit). */
static void test_hmac_key_and_process_cache(void **state)
{
    apr_pool_t *p = *state, *proc = NULL;
    unsigned char key[131], md[CA_SHA256_LEN], md2[CA_SHA256_LEN];
    ca_hmac_key_t *k = NULL, *k0 = NULL;
    const char *d = "Hi There";
    int pass;

    for (pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            assert_int_equal(apr_pool_create(&proc, p), APR_SUCCESS);
            assert_int_equal(ca_crypto_process_init(proc), APR_SUCCESS);
            assert_int_equal(ca_crypto_process_init(proc), APR_SUCCESS);  /* once only */
        }
        memset(key, 0x0b, 20);
        assert_int_equal(ca_hmac_key_create(p, key, 20, &k), APR_SUCCESS);
        memset(key, 0, 20);             /* the caller's copy may go at once */
        assert_int_equal(ca_hmac_key_sha256(k, d, strlen(d), md), APR_SUCCESS);
        assert_string_equal(ca_hex_encode(p, md, sizeof(md)),
                            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        /* the template is not consumed: the same again */
        assert_int_equal(ca_hmac_key_sha256(k, d, strlen(d), md2), APR_SUCCESS);
        assert_memory_equal(md, md2, sizeof(md));
        /* long key, and equal to ca_hmac_sha256 */
        memset(key, 0xaa, sizeof(key));
        assert_int_equal(ca_hmac_key_create(p, key, sizeof(key), &k), APR_SUCCESS);
        d = "Test Using Larger Than Block-Size Key - Hash Key First";
        assert_int_equal(ca_hmac_key_sha256(k, d, strlen(d), md), APR_SUCCESS);
        assert_int_equal(ca_hmac_sha256(key, sizeof(key), d, strlen(d), md2), APR_SUCCESS);
        assert_memory_equal(md, md2, sizeof(md));
        assert_string_equal(ca_hex_encode(p, md, sizeof(md)),
                            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
        /* empty key, empty message */
        assert_int_equal(ca_hmac_key_create(p, NULL, 0, &k0), APR_SUCCESS);
        assert_int_equal(ca_hmac_key_sha256(k0, NULL, 0, md), APR_SUCCESS);
        assert_string_equal(ca_hex_encode(p, md, sizeof(md)),
                            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
        assert_string_equal(ca_sha256_hex(p, "abc", 3),
                            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_int_equal(ca_hmac_key_sha256(k0, NULL, 3, md), APR_EINVAL);
        assert_int_equal(ca_hmac_key_sha256(NULL, "x", 1, md), APR_EINVAL);
        assert_int_equal(ca_hmac_key_create(p, NULL, 3, &k), APR_EINVAL);
        d = "Hi There";
    }
    apr_pool_destroy(proc);             /* back to fetching on every call */
    assert_string_equal(ca_sha256_hex(p, "abc", 3),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(ca_hmac_key_sha256(k0, "", 0, md), APR_SUCCESS);
    assert_int_equal(ca_crypto_process_init(NULL), APR_EINVAL);
}

static void test_b64url_vectors(void **state)
{
    static const struct {
        const char *raw;
        const char *enc;
    } v[] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
        { "\xfb\xff", "-_8" }, { "\xfb\xef\xbe", "----" },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        unsigned char *out = NULL;
        apr_size_t outlen = 99;
        size_t rl = strlen(v[i].raw);

        assert_string_equal(ca_b64url_encode(p, v[i].raw, rl), v[i].enc);
        assert_int_equal(ca_b64url_encoded_len(rl), strlen(v[i].enc));
        assert_int_equal(ca_b64url_decode(p, v[i].enc, strlen(v[i].enc), &out,
                                          &outlen), APR_SUCCESS);
        assert_int_equal(outlen, rl);
        assert_memory_equal(out, v[i].raw, rl);
        assert_int_equal(out[outlen], '\0');
        assert_true(ca_b64url_valid(v[i].enc, strlen(v[i].enc)));
    }
}

static void test_b64url_rejects(void **state)
{
    static const char *bad[] = {
        "Zg==", "Zg=", "Zm9v=", "Zm8=",        /* padding */
        "Z", "Zm9vY", "Zm9vYmFyY",             /* impossible lengths */
        "Zh", "Zm-", "Zm9vYh", "Zm9vYmF",      /* non-canonical trailing bits */
        "Zm+v", "Zm/v", "Zm v", "Zm\tv", "Zm9v\n", " Zm9v", "Zm.v", "Zm9vYg\r",
        "Zm9\xc3\xa9", "Zm%2",
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char *out = (unsigned char *)"x";
        apr_size_t outlen = 7;
        const char *s = bad[i];

        if (ca_b64url_valid(s, strlen(s))) {
            fail_msg("accepted bad base64url \"%s\"", s);
        }
        assert_int_equal(ca_b64url_decode(p, s, strlen(s), &out, &outlen), APR_EINVAL);
        assert_null(out);
        assert_int_equal(outlen, 0);
    }
    /* the canonical neighbours of the non-canonical cases are accepted */
    assert_true(ca_b64url_valid("Zg", 2));
    assert_true(ca_b64url_valid("Zm8", 3));
    assert_true(ca_b64url_valid("Zm9vYmE", 7));
    /* an embedded NUL inside the given length */
    assert_false(ca_b64url_valid("Zm\0v", 4));
    /* NULL input only valid as empty */
    assert_true(ca_b64url_valid(NULL, 0));
    assert_false(ca_b64url_valid(NULL, 4));
}

static void test_b64url_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    unsigned char buf[300];
    apr_size_t n;

    for (n = 0; n <= sizeof(buf); n++) {
        unsigned char *out = NULL;
        apr_size_t outlen = 0;
        char *enc;
        size_t j;

        assert_int_equal(ca_random_bytes(buf, n), APR_SUCCESS);
        enc = ca_b64url_encode(p, buf, n);
        assert_non_null(enc);
        assert_int_equal(strlen(enc), ca_b64url_encoded_len(n));
        for (j = 0; enc[j]; j++) {
            assert_null(strchr("=+/", enc[j]));
        }
        assert_int_equal(ca_b64url_decode(p, enc, strlen(enc), &out, &outlen),
                         APR_SUCCESS);
        assert_int_equal(outlen, n);
        if (n > 0) {
            assert_memory_equal(out, buf, n);
        }
    }
}

static void test_hex(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(ca_hex_encode(p, "", 0), "");
    assert_string_equal(ca_hex_encode(p, "\x00\x01\xab\xff\x7f", 5), "0001abff7f");
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_true(ca_ct_equal("abc", 3, "abc", 3));
    assert_false(ca_ct_equal("abc", 3, "abd", 3));
    assert_false(ca_ct_equal("xbc", 3, "abc", 3));
    assert_false(ca_ct_equal("abc", 3, "abcd", 4));
    assert_false(ca_ct_equal("abcd", 4, "abc", 3));
    assert_false(ca_ct_equal("abc", 3, "abc\0", 4));
    assert_true(ca_ct_equal("", 0, "", 0));
    assert_true(ca_ct_equal(NULL, 0, NULL, 0));
    assert_false(ca_ct_equal(NULL, 3, "abc", 3));
}

static void test_random(void **state)
{
    apr_pool_t *p = *state;
    unsigned char a[32], b[32], zero[32];
    unsigned char *dec = NULL;
    apr_size_t declen = 0;
    char *t1, *t2;

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(zero, 0, sizeof(zero));
    assert_int_equal(ca_random_bytes(a, sizeof(a)), APR_SUCCESS);
    assert_int_equal(ca_random_bytes(b, sizeof(b)), APR_SUCCESS);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_int_equal(ca_random_bytes(NULL, 0), APR_SUCCESS);
    assert_int_equal(ca_random_bytes(NULL, 4), APR_EGENERAL);

    t1 = ca_random_token(p, 32);
    t2 = ca_random_token(p, 32);
    assert_non_null(t1);
    assert_non_null(t2);
    assert_int_equal(strlen(t1), 43);
    assert_string_not_equal(t1, t2);
    assert_int_equal(ca_b64url_decode(p, t1, strlen(t1), &dec, &declen), APR_SUCCESS);
    assert_int_equal(declen, 32);
    assert_int_equal(strlen(ca_random_token(p, 16)), 22);
    assert_int_equal(strlen(ca_random_token(p, 100)), 134);
    assert_string_equal(ca_random_token(p, 0), "");
}

static void test_pkce(void **state)
{
    apr_pool_t *p = *state;
    char *v;

    /* RFC 7636 appendix B */
    assert_string_equal(ca_pkce_challenge_s256(p, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    assert_null(ca_pkce_challenge_s256(p, NULL));
    assert_true(ca_pkce_verifier_valid("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
    v = ca_random_token(p, 32);
    assert_true(ca_pkce_verifier_valid(v));
    assert_int_equal(strlen(ca_pkce_challenge_s256(p, v)), 43);
    assert_true(ca_pkce_verifier_valid(apr_pstrcat(p, v, ".~", NULL)));
    assert_false(ca_pkce_verifier_valid(apr_pstrndup(p, v, 42)));     /* too short */
    assert_false(ca_pkce_verifier_valid(apr_pstrcat(p, v, v, v, NULL))); /* 129 */
    assert_true(ca_pkce_verifier_valid(apr_pstrndup(p, apr_pstrcat(p, v, v, v, NULL),
                                                    128)));
    assert_false(ca_pkce_verifier_valid(apr_pstrcat(p, v, "+", NULL)));
    assert_false(ca_pkce_verifier_valid(apr_pstrcat(p, v, "=", NULL)));
    assert_false(ca_pkce_verifier_valid(apr_pstrcat(p, v, " ", NULL)));
    assert_false(ca_pkce_verifier_valid(NULL));
}

/* ------------------------------------------------------------------------ */

static void test_keyring_parse_ok(void **state)
{
    apr_pool_t *p = *state;
    const char *kid32 = "abcdefghijABCDEFGHIJ0123456789_-";
    const char *text = apr_pstrcat(p,
        "# token keys\r\n"
        "\r\n"
        "   \t\n"
        "  # indented comment\n"
        "old-1 " K_SEQ "\r\n"
        "\t", kid32, "\t\t" K_FF "   \n"
        "new_2  " K_5A, NULL);     /* no final newline */
    ca_keyring_t *ring = ring_of(p, text);

    assert_int_equal(ca_keyring_count(ring), 3);
    assert_string_equal(ca_keyring_current_kid(ring), "new_2");
    assert_true(ca_keyring_has_kid(ring, "old-1"));
    assert_true(ca_keyring_has_kid(ring, kid32));
    assert_true(ca_keyring_has_kid(ring, "new_2"));
    assert_false(ca_keyring_has_kid(ring, "new_"));
    assert_false(ca_keyring_has_kid(ring, "new_22"));
    assert_false(ca_keyring_has_kid(ring, NULL));

    assert_int_equal(ca_keyring_set_current(ring, "old-1"), APR_SUCCESS);
    assert_string_equal(ca_keyring_current_kid(ring), "old-1");
    assert_int_equal(ca_keyring_set_current(ring, "nope"), APR_ENOENT);
    assert_string_equal(ca_keyring_current_kid(ring), "old-1");

    /* a single key with a trailing newline; that key is current */
    ring = ring_of(p, "k " K_SEQ "\n");
    assert_int_equal(ca_keyring_count(ring), 1);
    assert_string_equal(ca_keyring_current_kid(ring), "k");

    /* text need not be NUL-terminated: only len bytes are read */
    {
        const char *full = "k1 " K_SEQ "\nk2 garbage";
        ca_keyring_t *r2 = NULL;
        const char *err = NULL;

        assert_int_equal(ca_keyring_parse(p, full, 3 + 43 + 1, &r2, &err), APR_SUCCESS);
        assert_string_equal(ca_keyring_current_kid(r2), "k1");
    }
}

static void test_keyring_parse_errors(void **state)
{
    static const struct {
        const char *text;
        const char *line;   /* expected "line N" fragment, or NULL */
        const char *what;   /* expected fragment of the message */
    } v[] = {
        { "k1 " K_SEQ "\nk2 " K_FF "\nk1 " K_5A "\n", "line 3:", "duplicate key id 'k1'" },
        { "k1 " K_SEQ "\nk1 " K_SEQ "\n", "line 2:", "first on line 1" },
        { "# c\n\nk1 " K_31B "\n", "line 3:", "32 bytes" },
        { "k1 " K_33B "\n", "line 1:", "32 bytes" },
        { "k1 " K_SEQ "=\n", "line 1:", "base64url" },
        { "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+\n", "line 1:", "base64url" },
        { "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh/\n", "line 1:", "base64url" },
        { "k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9\n", "line 1:", "base64url" },
        { "\n\n\nabcdefghijABCDEFGHIJ0123456789_-X " K_SEQ "\n", "line 4:",
          "invalid key id" },
        { "k.1 " K_SEQ "\n", "line 1:", "invalid key id" },
        { "k\xc3\xa9 " K_SEQ "\n", "line 1:", "invalid key id" },
        { "k1 " K_SEQ "\nk2\n", "line 2:", "expected" },
        { "k1 " K_SEQ " extra\n", "line 1:", "expected" },
        { "k1 " K_SEQ " # trailing comment\n", "line 1:", "expected" },
        { "k1=" K_SEQ "\n", "line 1:", "expected" },
        { "", NULL, "no keys" },
        { "# only a comment\n\n   \n", NULL, "no keys" },
    };
    apr_pool_t *p = *state;
    size_t i;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        ca_keyring_t *ring = (ca_keyring_t *)p;   /* any non-NULL */
        const char *err = NULL;
        apr_status_t rv = ca_keyring_parse(p, v[i].text, strlen(v[i].text), &ring, &err);

        if (rv == APR_SUCCESS) {
            fail_msg("case %zu: accepted bad key file", i);
        }
        assert_null(ring);
        assert_non_null(err);
        if (v[i].line) {
            assert_contains(err, v[i].line);
        }
        assert_contains(err, v[i].what);
        /* key material never appears in an error */
        assert_null(strstr(err, "AAECAwQFBgcICQoLDA0O"));
        assert_null(strstr(err, "____________"));
        assert_null(strstr(err, "AAAAAAAAAAAA"));
    }

    /* a NUL byte inside the text, on line 2 */
    {
        const char text[] = "k1 " K_SEQ "\nk2\0 " K_FF "\n";
        ca_keyring_t *ring = NULL;
        const char *err = NULL;

        assert_int_equal(ca_keyring_parse(p, text, sizeof(text) - 1, &ring, &err),
                         APR_EINVAL);
        assert_contains(err, "line 2:");
        assert_contains(err, "NUL");
    }
    /* perr may be NULL */
    {
        ca_keyring_t *ring = NULL;

        assert_int_equal(ca_keyring_parse(p, "bad", 3, &ring, NULL), APR_EINVAL);
        assert_null(ring);
    }
}

/* Pool cleanup: remove the temp dir and its files, also after a failed
 * assertion (cmocka still runs the teardown that destroys the pool). */
static apr_status_t rm_tmpdir(void *data)
{
    const char *dir = data;
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            char path[4096];

            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
    return APR_SUCCESS;
}

static char *make_tmpdir(apr_pool_t *p)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = apr_pstrcat(p, base && *base ? base : "/tmp",
                             "/ca_crypto_test.XXXXXX", NULL);

    assert_non_null(mkdtemp(tmpl));
    apr_pool_cleanup_register(p, tmpl, rm_tmpdir, apr_pool_cleanup_null);
    return tmpl;
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_keyring_load(void **state)
{
    apr_pool_t *p = *state;
    char *dir = make_tmpdir(p);
    char *path = apr_pstrcat(p, dir, "/keys", NULL);
    char *bad = apr_pstrcat(p, dir, "/bad", NULL);
    char *big = apr_pstrcat(p, dir, "/big", NULL);
    const char *text = "# keys\nk1 " K_SEQ "\nk2 " K_FF "\n";
    ca_keyring_t *ring = NULL;
    const char *err = NULL;
    int loose = -1;
    char *bigtext;
    size_t n;

    write_file(path, text, strlen(text), 0600);
    assert_int_equal(ca_keyring_load(p, path, &ring, &loose, &err), APR_SUCCESS);
    assert_non_null(ring);
    assert_null(err);
    assert_int_equal(loose, 0);
    assert_int_equal(ca_keyring_count(ring), 2);
    assert_string_equal(ca_keyring_current_kid(ring), "k2");

    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(ca_keyring_load(p, path, &ring, &loose, &err), APR_SUCCESS);
    assert_int_equal(loose, 0);

    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ca_keyring_load(p, path, &ring, &loose, &err), APR_SUCCESS);
    assert_int_equal(loose, 1);

    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(ca_keyring_load(p, path, &ring, &loose, &err), APR_SUCCESS);
    assert_int_equal(loose, 1);

    assert_int_equal(chmod(path, 0620), 0);
    assert_int_equal(ca_keyring_load(p, path, &ring, &loose, &err), APR_SUCCESS);
    assert_int_equal(loose, 1);

    /* loose_perms may be NULL */
    assert_int_equal(ca_keyring_load(p, path, &ring, NULL, &err), APR_SUCCESS);

    /* missing file: error names the path */
    assert_int_not_equal(ca_keyring_load(p, apr_pstrcat(p, dir, "/none", NULL),
                                         &ring, &loose, &err), APR_SUCCESS);
    assert_null(ring);
    assert_contains(err, "/none");
    assert_contains(err, "cannot open");

    /* a directory is not a key file */
    assert_int_not_equal(ca_keyring_load(p, dir, &ring, &loose, &err), APR_SUCCESS);
    assert_contains(err, "not a regular file");

    /* parse error: path and line number */
    write_file(bad, "k1 " K_SEQ "\nk1 " K_FF "\n", 3 + 43 + 1 + 3 + 43 + 1, 0600);
    assert_int_equal(ca_keyring_load(p, bad, &ring, &loose, &err), APR_EINVAL);
    assert_null(ring);
    assert_contains(err, bad);
    assert_contains(err, "line 2:");
    assert_contains(err, "duplicate");
    assert_null(strstr(err, K_FF));

    /* oversized file (comment padding, then a key) */
    n = 70000;
    bigtext = apr_palloc(p, n + 100);
    memset(bigtext, '#', n);
    bigtext[n - 1] = '\n';
    memcpy(bigtext + n, "k1 " K_SEQ "\n", 3 + 43 + 1);
    write_file(big, bigtext, n + 47, 0600);
    assert_int_equal(ca_keyring_load(p, big, &ring, &loose, &err), APR_EINVAL);
    assert_contains(err, "larger than");

    /* empty path */
    assert_int_equal(ca_keyring_load(p, "", &ring, &loose, &err), APR_EINVAL);
    assert_non_null(err);

    /* the directory and its files go with the pool (rm_tmpdir) */
}

/* ca_keyring_derive: HMAC-SHA-256 of the purpose under the current key */
static void test_keyring_derive(void **state)
{
    apr_pool_t *p = *state;
    ca_keyring_t *ring = ring_of(p, "old " K_SEQ "\nnew " K_5A "\n");
    unsigned char out[CA_SHA256_LEN], again[CA_SHA256_LEN];
    const char *purpose = "clientapi key cache entries v1";

    assert_int_equal(ca_keyring_derive(ring, purpose, out), APR_SUCCESS);
    assert_string_equal(ca_hex_encode(p, out, sizeof(out)),
                        "4e942ce3f7a1e628a643003f2099a579aff7f8ba3cd47ab019375c18ec05a5ec");
    assert_int_equal(ca_keyring_set_current(ring, "old"), APR_SUCCESS);
    assert_int_equal(ca_keyring_derive(ring, purpose, again), APR_SUCCESS);
    assert_string_equal(ca_hex_encode(p, again, sizeof(again)),
                        "f796ce805b2192445eac7ca8a5b2410c94d6899fb100db0a73f8ffd03e60dc18");
    assert_int_equal(ca_keyring_derive(ring, "another purpose", out), APR_SUCCESS);
    assert_memory_not_equal(out, again, sizeof(out));
    assert_int_equal(ca_keyring_derive(NULL, purpose, out), APR_EINVAL);
    assert_int_equal(ca_keyring_derive(ring, NULL, out), APR_EINVAL);
}

static void test_keyring_new_line(void **state)
{
    apr_pool_t *p = *state;
    const char *l1 = NULL, *l2 = NULL;
    const char *text;
    ca_keyring_t *ring;

    assert_int_equal(ca_keyring_new_line(p, "2026-11", &l1), APR_SUCCESS);
    assert_int_equal(ca_keyring_new_line(p, "2026-12", &l2), APR_SUCCESS);
    assert_int_equal(strlen(l1), 7 + 1 + 43);
    assert_int_equal(strncmp(l1, "2026-11 ", 8), 0);
    assert_null(strchr(l1, '\n'));
    assert_string_not_equal(l1 + 8, l2 + 8);
    text = apr_pstrcat(p, l1, "\n", l2, "\n", NULL);
    ring = ring_of(p, text);
    assert_int_equal(ca_keyring_count(ring), 2);
    assert_string_equal(ca_keyring_current_kid(ring), "2026-12");

    assert_int_equal(ca_keyring_new_line(p, "bad kid", &l1), APR_EINVAL);
    assert_null(l1);
    assert_int_equal(ca_keyring_new_line(p, "", &l1), APR_EINVAL);
    assert_int_equal(ca_keyring_new_line(p, NULL, &l1), APR_EINVAL);
    assert_int_equal(ca_keyring_new_line(p, "abcdefghijabcdefghijabcdefghijabc", &l1),
                     APR_EINVAL);
    assert_true(ca_kid_valid("abcdefghijabcdefghijabcdefghijab"));
    assert_false(ca_kid_valid("a.b"));
}

/* ------------------------------------------------------------------------ */

static void test_seal_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    ca_keyring_t *ring = ring_of(p, "k1 " K_SEQ "\n");
    const char *aad = "connection:42:access_token";
    static const apr_size_t lens[] = { 0, 1, 15, 16, 17, 100, 4096, 65537 };
    size_t i;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        unsigned char *pt = apr_palloc(p, lens[i] + 1);
        const char *s1 = NULL, *s2 = NULL;
        char *out = NULL;
        apr_size_t outlen = 12345;
        const char *err = "unset";
        unsigned char *blob = NULL;
        apr_size_t bloblen = 0;

        assert_int_equal(ca_random_bytes(pt, lens[i]), APR_SUCCESS);
        if (lens[i] > 2) {
            pt[1] = '\0';   /* binary plaintexts with NULs survive */
        }
        assert_int_equal(ca_seal(p, ring, aad, pt, lens[i], &s1), APR_SUCCESS);
        assert_int_equal(ca_seal(p, ring, aad, pt, lens[i], &s2), APR_SUCCESS);
        assert_int_equal(strncmp(s1, "v1.k1.", 6), 0);
        assert_string_not_equal(s1, s2);    /* fresh nonce each time */
        assert_int_equal(ca_b64url_decode(p, s1 + 6, strlen(s1 + 6), &blob, &bloblen),
                         APR_SUCCESS);
        assert_int_equal(bloblen, 12 + lens[i] + 16);
        {
            unsigned char *blob2 = NULL;

            assert_int_equal(ca_b64url_decode(p, s2 + 6, strlen(s2 + 6), &blob2, NULL),
                             APR_SUCCESS);
            assert_memory_not_equal(blob, blob2, 12);   /* nonces differ */
        }

        assert_int_equal(ca_open(p, ring, aad, s1, &out, &outlen, &err), APR_SUCCESS);
        assert_null(err);
        assert_int_equal(outlen, lens[i]);
        if (lens[i] > 0) {
            assert_memory_equal(out, pt, lens[i]);
        }
        assert_int_equal(out[outlen], '\0');
        assert_string_equal(ca_sealed_kid(p, s1), "k1");
    }

    /* text round trip, NUL-terminated output, plen may be NULL */
    {
        const char *s = NULL;
        char *out = NULL;

        assert_int_equal(ca_seal(p, ring, aad, "tok-abc", 7, &s), APR_SUCCESS);
        assert_int_equal(ca_open(p, ring, aad, s, &out, NULL, NULL), APR_SUCCESS);
        assert_string_equal(out, "tok-abc");
        /* the plaintext is not visible in the sealed form */
        assert_null(strstr(s, "tok-abc"));
    }
    /* a NULL aad is the same as "" */
    {
        const char *s = NULL;
        char *out = NULL;

        assert_int_equal(ca_seal(p, ring, NULL, "x", 1, &s), APR_SUCCESS);
        assert_int_equal(ca_open(p, ring, "", s, &out, NULL, NULL), APR_SUCCESS);
        assert_string_equal(out, "x");
    }
    /* bad arguments */
    {
        const char *s = "unchanged";

        assert_int_equal(ca_seal(p, NULL, aad, "x", 1, &s), APR_EINVAL);
        assert_null(s);
        assert_int_equal(ca_seal(p, ring, aad, NULL, 1, &s), APR_EINVAL);
        assert_int_equal(ca_seal(p, ring, aad, "x", CA_SEAL_MAX_PLAIN + 1, &s), APR_EINVAL);
    }
}

static void test_open_known_answer(void **state)
{
    apr_pool_t *p = *state;
    unsigned char expect[128], aad[32];
    size_t elen, alen;
    char *out = NULL;
    apr_size_t outlen = 0;
    const char *err = NULL;
    ca_keyring_t *ring;

    /* GCM spec (McGrew & Viega) test case 16: AES-256, 96-bit IV, with AAD */
    ring = ring_of(p, "tc16 _v_pkoZlcxxtao-UZzCDCP7_6ZKGZXMcbWqPlGcwgwg\n");
    hex_to_bytes("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
                 expect, &elen);
    hex_to_bytes("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, &alen);
    aad[alen] = '\0';
    assert_int_equal(ca_open(p, ring, (const char *)aad,
                             "v1.tc16.yv66vvrO263eyviIUi3B8JlWfQf0fzejKoRCfWQ6jNy_5cDJ"
                             "dZiivSVV0aqMsI5IWQ27PaewixBWgog4xfYeY5O6egq8yfZidvxuzg9O"
                             "F2jN34hTuy1VGw", &out, &outlen, &err), APR_SUCCESS);
    assert_int_equal(outlen, elen);
    assert_memory_equal(out, expect, elen);

    /* a value sealed by an independent AES-GCM implementation, text aad */
    ring = ring_of(p, "k1 " K_SEQ "\n");
    assert_int_equal(ca_open(p, ring, "connection:42:access_token",
                             "v1.k1.ZGVmZ2hpamtsbW5vOn64FByaPrNKDTSNtEgcnC63Y6JayDGDIGC9rq"
                             "tb73Jh9oM", &out, &outlen, &err), APR_SUCCESS);
    assert_string_equal(out, "refresh-token-value");
    assert_int_equal(outlen, 19);
}

static void test_open_wrong_aad(void **state)
{
    apr_pool_t *p = *state;
    ca_keyring_t *ring = ring_of(p, "k1 " K_SEQ "\n");
    const char *s = NULL, *err = NULL;
    char *out = (char *)"junk";
    apr_size_t outlen = 5;

    assert_int_equal(ca_seal(p, ring, "connection:42:access_token", "secret-tok", 10, &s),
                     APR_SUCCESS);
    assert_int_equal(ca_open(p, ring, "connection:43:access_token", s, &out, &outlen,
                             &err), APR_EGENERAL);
    assert_null(out);
    assert_int_equal(outlen, 0);
    assert_contains(err, "authentication failed");
    assert_null(strstr(err, "secret-tok"));
    assert_int_equal(ca_open(p, ring, "connection:42:refresh_token", s, &out, &outlen,
                             &err), APR_EGENERAL);
    assert_int_equal(ca_open(p, ring, NULL, s, &out, &outlen, &err), APR_EGENERAL);
    assert_int_equal(ca_open(p, ring, "connection:42:access_token", s, &out, &outlen,
                             &err), APR_SUCCESS);
}

static void test_open_tampered(void **state)
{
    apr_pool_t *p = *state;
    ca_keyring_t *ring = ring_of(p, "k1 " K_SEQ "\nk2 " K_FF "\n");
    const char *aad = "connection:7:refresh_token";
    const char *s = NULL, *err = NULL;
    unsigned char *blob = NULL;
    apr_size_t bloblen = 0, i;
    char *out = NULL;
    int bit;

    assert_int_equal(ca_seal(p, ring, aad, "refresh-me", 10, &s), APR_SUCCESS);
    assert_int_equal(strncmp(s, "v1.k2.", 6), 0);
    assert_int_equal(ca_b64url_decode(p, s + 6, strlen(s + 6), &blob, &bloblen),
                     APR_SUCCESS);

    /* flip every bit of nonce, ciphertext and tag in turn */
    for (i = 0; i < bloblen; i++) {
        for (bit = 0; bit < 8; bit++) {
            const char *t;

            blob[i] ^= (unsigned char)(1u << bit);
            t = apr_pstrcat(p, "v1.k2.", ca_b64url_encode(p, blob, bloblen), NULL);
            blob[i] ^= (unsigned char)(1u << bit);
            out = (char *)"junk";
            err = NULL;
            assert_int_equal(ca_open(p, ring, aad, t, &out, NULL, &err), APR_EGENERAL);
            assert_null(out);
            assert_contains(err, "authentication failed");
        }
    }
    /* truncated by one byte (shorter tag) and extended by one byte */
    {
        const char *t = apr_pstrcat(p, "v1.k2.", ca_b64url_encode(p, blob, bloblen - 1),
                                    NULL);
        unsigned char *longer = apr_palloc(p, bloblen + 1);

        assert_int_equal(ca_open(p, ring, aad, t, &out, NULL, &err), APR_EGENERAL);
        memcpy(longer, blob, bloblen);
        longer[bloblen] = 0;
        t = apr_pstrcat(p, "v1.k2.", ca_b64url_encode(p, longer, bloblen + 1), NULL);
        assert_int_equal(ca_open(p, ring, aad, t, &out, NULL, &err), APR_EGENERAL);
    }
    /* relabelled with another kid of the same ring: wrong key */
    {
        const char *t = apr_pstrcat(p, "v1.k1.", s + 6, NULL);

        assert_int_equal(ca_open(p, ring, aad, t, &out, NULL, &err), APR_EGENERAL);
        assert_contains(err, "authentication failed");
    }
    /* same kid, different key material */
    {
        ca_keyring_t *other = ring_of(p, "k2 " K_5A "\n");

        assert_int_equal(ca_open(p, other, aad, s, &out, NULL, &err), APR_EGENERAL);
        assert_contains(err, "authentication failed");
    }
    /* untouched value still opens */
    assert_int_equal(ca_open(p, ring, aad, s, &out, NULL, &err), APR_SUCCESS);
    assert_string_equal(out, "refresh-me");
}

static void test_open_unknown_kid(void **state)
{
    apr_pool_t *p = *state;
    ca_keyring_t *a = ring_of(p, "alpha " K_SEQ "\n");
    ca_keyring_t *b = ring_of(p, "beta " K_SEQ "\n");
    const char *s = NULL, *err = NULL;
    char *out = (char *)"junk";

    assert_int_equal(ca_seal(p, a, "ctx", "v", 1, &s), APR_SUCCESS);
    assert_int_equal(ca_open(p, b, "ctx", s, &out, NULL, &err), APR_ENOENT);
    assert_null(out);
    assert_contains(err, "unknown key id 'alpha'");
}

static void test_rotation(void **state)
{
    apr_pool_t *p = *state;
    ca_keyring_t *old = ring_of(p, "2026a " K_SEQ "\n");
    ca_keyring_t *rot = ring_of(p, "# rotated\n2026a " K_SEQ "\n2026b " K_FF "\n");
    const char *s_old = NULL, *s_new = NULL, *err = NULL;
    char *out = NULL;

    assert_int_equal(ca_seal(p, old, "connection:1:access_token", "old-token", 9, &s_old),
                     APR_SUCCESS);
    assert_string_equal(ca_sealed_kid(p, s_old), "2026a");

    /* after adding a key: old values still open, new ones use the last key */
    assert_string_equal(ca_keyring_current_kid(rot), "2026b");
    assert_int_equal(ca_open(p, rot, "connection:1:access_token", s_old, &out, NULL,
                             &err), APR_SUCCESS);
    assert_string_equal(out, "old-token");
    assert_int_equal(ca_seal(p, rot, "connection:1:access_token", out, 9, &s_new),
                     APR_SUCCESS);
    assert_string_equal(ca_sealed_kid(p, s_new), "2026b");
    assert_int_equal(strncmp(s_new, "v1.2026b.", 9), 0);
    assert_int_equal(ca_open(p, rot, "connection:1:access_token", s_new, &out, NULL,
                             &err), APR_SUCCESS);
    assert_string_equal(out, "old-token");

    /* the old ring cannot open values sealed with the new key */
    assert_int_equal(ca_open(p, old, "connection:1:access_token", s_new, &out, NULL,
                             &err), APR_ENOENT);
    assert_contains(err, "'2026b'");

    /* once the old key is retired, its values are refused with a clear error */
    {
        ca_keyring_t *retired = ring_of(p, "2026b " K_FF "\n");

        assert_int_equal(ca_open(p, retired, "connection:1:access_token", s_old, &out,
                                 NULL, &err), APR_ENOENT);
        assert_contains(err, "unknown key id '2026a'");
    }
}

static void test_open_malformed(void **state)
{
    static const char *bad[] = {
        "", "v1", "v1.", "v1.k1", "v1.k1.", "v1..AAAA", "v1.k1.short",
        "v1.k 1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+A",
        "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.A",
        "V1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "plaintext-token",
        "v1.abcdefghijabcdefghijabcdefghijabc.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        NULL,   /* filled in below: 27 bytes, shorter than nonce + tag */
    };
    apr_pool_t *p = *state;
    ca_keyring_t *ring = ring_of(p, "k1 " K_SEQ "\n");
    unsigned char zeros[64];
    const char *err = NULL, *min;
    char *out = NULL;
    size_t i, nbad = sizeof(bad) / sizeof(bad[0]);

    memset(zeros, 0, sizeof(zeros));
    bad[nbad - 1] = apr_pstrcat(p, "v1.k1.", ca_b64url_encode(p, zeros, 27), NULL);
    for (i = 0; i < nbad; i++) {
        out = (char *)"junk";
        err = NULL;
        if (ca_open(p, ring, "a", bad[i], &out, NULL, &err) != APR_EINVAL) {
            fail_msg("case %zu (\"%s\") not refused as malformed", i, bad[i]);
        }
        assert_null(out);
        assert_contains(err, "malformed");
        assert_null(ca_sealed_kid(p, bad[i]));
    }
    assert_int_equal(ca_open(p, ring, "a", NULL, &out, NULL, &err), APR_EINVAL);
    assert_int_equal(ca_open(p, ring, "a", apr_pstrcat(p, "v2.k1.",
                                                       ca_b64url_encode(p, zeros, 40),
                                                       NULL),
                             &out, NULL, &err), APR_EINVAL);
    assert_contains(err, "unsupported version");
    assert_int_equal(ca_open(p, NULL, "a", "v1.k1.AAAA", &out, NULL, &err), APR_EINVAL);
    /* exactly nonce + tag (empty plaintext) is well formed, but forged */
    min = apr_pstrcat(p, "v1.k1.", ca_b64url_encode(p, zeros, 28), NULL);
    assert_string_equal(ca_sealed_kid(p, min), "k1");
    assert_int_equal(ca_open(p, ring, "a", min, &out, NULL, &err), APR_EGENERAL);
    assert_contains(err, "authentication failed");
}

static void test_mask_secret(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(ca_mask_secret(p, NULL), ELLIPSIS);
    assert_string_equal(ca_mask_secret(p, ""), ELLIPSIS);
    assert_string_equal(ca_mask_secret(p, "abc"), ELLIPSIS);
    assert_string_equal(ca_mask_secret(p, "abcdefghijk"), ELLIPSIS);       /* 11 */
    assert_string_equal(ca_mask_secret(p, "abcdefghijkl"), ELLIPSIS "ijkl"); /* 12 */
    assert_string_equal(ca_mask_secret(p, "ccmd_live_0123456789abcdefWXYZ"),
                        ELLIPSIS "WXYZ");
    assert_int_equal(strlen(ca_mask_secret(p, "ccmd_live_0123456789abcdefWXYZ")), 3 + 4);
    /* control or non-ASCII bytes in the tail are not echoed */
    assert_string_equal(ca_mask_secret(p, "abcdefghijk\nlm"), ELLIPSIS);
    assert_string_equal(ca_mask_secret(p, "abcdefghijkl\xc3\xa9"), ELLIPSIS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sha256_kat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hmac_rfc4231, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hmac_key_and_process_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_b64url_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_b64url_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_b64url_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ct_equal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pkce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyring_parse_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyring_parse_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyring_derive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyring_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyring_new_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_known_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_wrong_aad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_unknown_kid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mask_secret, setup, teardown),
    };
    int rc;

    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&root_pool, NULL) != APR_SUCCESS) {
        fprintf(stderr, "APR initialisation failed\n");
        return 1;
    }
    rc = cmocka_run_group_tests_name("ca_crypto", tests, NULL, NULL);
    apr_pool_destroy(root_pool);
    apr_terminate();
    return rc;
}
