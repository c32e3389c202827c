/*
 * fuzz_key.c - libFuzzer target for the endpoint key codec (ca_key.c) and the
 * base64url coding under it (ca_crypto.c).
 *
 * The input is used three ways:
 *   - as a presented key, unterminated (ca_key_check_format reads exactly
 *     len bytes: AddressSanitizer sees any read past them) and as a C string
 *     (ca_key_hash, ca_key_hash_valid, ca_key_hint, ca_endpoint_id_valid);
 *   - its first 32 bytes as the random part of a new key (ca_key_from_bytes);
 *   - as base64url text (ca_b64url_valid / ca_b64url_decode) and as bytes
 *     to encode.
 * Invariants checked (abort = crash report):
 *   - a key that passes the format check is canonical: decoding its body and
 *     formatting the bytes again gives the same 53 characters;
 *   - a formatted key passes the check and decodes back to its bytes, and a
 *     change of any character of its prefix or checksum is refused;
 *   - ca_key_hash always gives a string that ca_key_hash_valid accepts;
 *   - ca_key_hint is "cak_..." + at most 4 printable characters;
 *   - ca_endpoint_id_valid and ca_b64url_valid agree with their definitions
 *     in the headers, and ca_b64url_decode(ca_b64url_encode(x)) == x.
 */
#include <string.h>

#include <apr_strings.h>

#include "ca_key.h"
#include "ca_crypto.h"
#include "fuzz_common.h"

#define ELLIPSIS "\xe2\x80\xa6"

static int b64u_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '-' || c == '_';
}

/* The header's definition of a valid endpoint id. */
static int epid_ref(const char *s)
{
    size_t n = strlen(s), i;

    if (n < CA_EPID_MIN_LEN || n > CA_EPID_MAX_LEN || strncmp(s, "ep_", 3) != 0) {
        return 0;
    }
    for (i = 3; i < n; i++) {
        if (!b64u_char((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static void check_formatted(apr_pool_t *p, const unsigned char raw[CA_KEY_RAW_LEN],
                            unsigned char flip)
{
    char *key = ca_key_from_bytes(p, raw), *copy;
    unsigned char *dec = NULL;
    apr_size_t declen = 0, i;
    size_t pos;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    FZ_ASSERT(key != NULL, "ca_key_from_bytes failed");
    FZ_ASSERT(strlen(key) == CA_KEY_LEN, "formatted key has length %zu", strlen(key));
    FZ_ASSERT(ca_key_check_format(key, CA_KEY_LEN) == APR_SUCCESS,
              "formatted key %s refused", key);
    FZ_ASSERT(ca_b64url_decode(p, key + CA_KEY_PREFIX_LEN, CA_KEY_BODY_LEN, &dec, &declen)
              == APR_SUCCESS && declen == CA_KEY_RAW_LEN
              && memcmp(dec, raw, CA_KEY_RAW_LEN) == 0,
              "body of %s does not decode to its bytes", key);

    /* one changed character in the prefix or the checksum is always caught */
    i = flip % (CA_KEY_PREFIX_LEN + CA_KEY_CHECKSUM_LEN);
    if (i >= CA_KEY_PREFIX_LEN) {
        i += CA_KEY_BODY_LEN;
    }
    copy = apr_pstrdup(p, key);
    pos = (size_t)(strchr(alphabet, copy[i]) - alphabet);   /* "cak_" is in it too */
    copy[i] = alphabet[(pos + 1 + (flip >> 4)) % 64];
    FZ_ASSERT(ca_key_check_format(copy, CA_KEY_LEN) != APR_SUCCESS,
              "%s (one character changed at %zu from %s) accepted", copy, (size_t)i, key);
    /* cut short: a length error, never a crash or success */
    FZ_ASSERT(ca_key_check_format(key, CA_KEY_LEN - 1 - flip % CA_KEY_LEN) != APR_SUCCESS,
              "truncated key accepted");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_input_begin();
    char *s = fz_cstr(p, data, size), *hash, *enc;
    const char *hint;
    unsigned char *dec = NULL;
    apr_size_t declen = 0, slen = strlen(s), i;
    apr_status_t rv;
    int valid;

    /* the raw bytes as a presented key, not NUL-terminated */
    {
        char *exact = size ? apr_pmemdup(p, data, size) : NULL;

        rv = ca_key_check_format(exact, size);
        FZ_ASSERT(rv == APR_SUCCESS || rv == CA_KEY_EPREFIX || rv == CA_KEY_ELENGTH
                  || rv == CA_KEY_ECHARS || rv == CA_KEY_ECHECKSUM,
                  "unexpected status %d", rv);
        FZ_ASSERT(ca_key_strerror(rv) != NULL, "no message");
    }
    if (rv == APR_SUCCESS) {
        char *again;

        FZ_ASSERT(size == CA_KEY_LEN && memcmp(data, "cak_", 4) == 0, "accepted odd key");
        rv = ca_b64url_decode(p, s + CA_KEY_PREFIX_LEN, CA_KEY_BODY_LEN, &dec, &declen);
        FZ_ASSERT(rv == APR_SUCCESS && declen == CA_KEY_RAW_LEN,
                  "accepted key whose body does not decode");
        again = ca_key_from_bytes(p, dec);
        FZ_ASSERT(again != NULL && memcmp(again, data, CA_KEY_LEN) == 0,
                  "accepted key is not canonical: %s vs %s", s, again ? again : "(null)");
    }

    /* as C strings */
    hash = ca_key_hash(p, s);
    FZ_ASSERT(hash != NULL && ca_key_hash_valid(hash), "ca_key_hash gave %s",
              hash ? hash : "(null)");
    valid = ca_key_hash_valid(s);
    if (valid) {
        FZ_ASSERT(slen == CA_KEY_HASH_LEN, "hash of length %zu accepted", slen);
        for (i = 7; i < slen; i++) {
            FZ_ASSERT(strchr("0123456789abcdef", s[i]) != NULL, "bad hex accepted");
        }
    }
    hint = ca_key_hint(p, s);
    FZ_ASSERT(hint != NULL && strncmp(hint, "cak_" ELLIPSIS, 7) == 0
              && (strlen(hint) == 7 || strlen(hint) == 11), "bad hint %s", hint);
    for (i = 7; hint[i]; i++) {
        FZ_ASSERT(hint[i] > 0x20 && hint[i] < 0x7f, "hint has a non-printable byte");
    }
    FZ_ASSERT(ca_endpoint_id_valid(s) == epid_ref(s), "ca_endpoint_id_valid(%s) is %d",
              s, ca_endpoint_id_valid(s));

    /* base64url: validity check and decoder agree; decoding is canonical */
    valid = ca_b64url_valid(size ? (const char *)data : "", size);
    rv = ca_b64url_decode(p, size ? (const char *)data : "", size, &dec, &declen);
    FZ_ASSERT((rv == APR_SUCCESS) == (valid == 1), "valid=%d but decode rv=%d", valid, rv);
    if (rv == APR_SUCCESS) {
        enc = ca_b64url_encode(p, dec, declen);
        FZ_ASSERT(enc != NULL && strlen(enc) == size && memcmp(enc, data, size) == 0,
                  "decode/encode is not the identity");
    }
    else {
        FZ_ASSERT(dec == NULL && declen == 0, "failed decode left output");
    }
    enc = ca_b64url_encode(p, data, size);
    FZ_ASSERT(enc != NULL && strlen(enc) == ca_b64url_encoded_len(size), "encoded length");
    FZ_ASSERT(ca_b64url_decode(p, enc, strlen(enc), &dec, &declen) == APR_SUCCESS
              && declen == size && (size == 0 || memcmp(dec, data, size) == 0),
              "encode/decode is not the identity");

    /* the first 32 bytes as a key's random part */
    if (size >= CA_KEY_RAW_LEN) {
        check_formatted(p, data, size > CA_KEY_RAW_LEN ? data[CA_KEY_RAW_LEN] : 0);
    }

    fz_input_end(p);
    return 0;
}
