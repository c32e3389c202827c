/*
 * ca_key.c - API key codec and endpoint ids. See ca_key.h for the format.
 */
#include "ca_key.h"
#include "ca_crypto.h"

#include <string.h>

#include <apr_strings.h>

#define ELLIPSIS "\xe2\x80\xa6"   /* U+2026 in UTF-8 */

static int is_b64u_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* checksum of the 47 chars "cak_" + body into out[6]. */
static apr_status_t key_checksum(const char *prefix_and_body,
                                 char out[CA_KEY_CHECKSUM_LEN])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char md[CA_SHA256_LEN];
    unsigned long long bits;
    int i;

    if (ca_sha256(prefix_and_body, CA_KEY_PREFIX_LEN + CA_KEY_BODY_LEN, md)
        != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* first 36 bits of the digest, big-endian, in 6-bit groups */
    bits = ((unsigned long long)md[0] << 28) | ((unsigned long long)md[1] << 20)
           | ((unsigned long long)md[2] << 12) | ((unsigned long long)md[3] << 4)
           | ((unsigned long long)md[4] >> 4);
    for (i = 0; i < CA_KEY_CHECKSUM_LEN; i++) {
        out[i] = alphabet[(bits >> (30 - 6 * i)) & 0x3f];
    }
    ca_cleanse(md, sizeof(md));
    return APR_SUCCESS;
}

char *ca_key_from_bytes(apr_pool_t *p, const unsigned char raw[CA_KEY_RAW_LEN])
{
    char *key, *body;

    if (raw == NULL) {
        return NULL;
    }
    body = ca_b64url_encode(p, raw, CA_KEY_RAW_LEN);
    if (body == NULL) {
        return NULL;
    }
    key = apr_palloc(p, CA_KEY_LEN + 1);
    memcpy(key, CA_KEY_PREFIX, CA_KEY_PREFIX_LEN);
    memcpy(key + CA_KEY_PREFIX_LEN, body, CA_KEY_BODY_LEN);
    ca_cleanse(body, CA_KEY_BODY_LEN);
    if (key_checksum(key, key + CA_KEY_PREFIX_LEN + CA_KEY_BODY_LEN)
        != APR_SUCCESS) {
        ca_cleanse(key, CA_KEY_LEN + 1);
        return NULL;
    }
    key[CA_KEY_LEN] = '\0';
    return key;
}

apr_status_t ca_key_generate(apr_pool_t *p, char **key)
{
    unsigned char raw[CA_KEY_RAW_LEN];

    *key = NULL;
    if (ca_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        ca_cleanse(raw, sizeof(raw));
        return APR_EGENERAL;
    }
    *key = ca_key_from_bytes(p, raw);
    ca_cleanse(raw, sizeof(raw));
    return *key ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t ca_key_check_format(const char *key, apr_size_t len)
{
    char sum[CA_KEY_CHECKSUM_LEN];
    apr_size_t i;
    int ok;

    if (key == NULL) {
        key = "";
        len = 0;
    }
    if (len < CA_KEY_PREFIX_LEN) {
        return memcmp(key, CA_KEY_PREFIX, len) == 0 ? CA_KEY_ELENGTH
                                                    : CA_KEY_EPREFIX;
    }
    if (memcmp(key, CA_KEY_PREFIX, CA_KEY_PREFIX_LEN) != 0) {
        return CA_KEY_EPREFIX;
    }
    if (len != CA_KEY_LEN) {
        return CA_KEY_ELENGTH;
    }
    for (i = CA_KEY_PREFIX_LEN; i < CA_KEY_LEN; i++) {
        if (!is_b64u_char((unsigned char)key[i])) {
            return CA_KEY_ECHARS;
        }
    }
    /* 43 chars of base64url = 32 bytes + 2 unused bits that must be zero */
    if (!ca_b64url_valid(key + CA_KEY_PREFIX_LEN, CA_KEY_BODY_LEN)) {
        return CA_KEY_ECHECKSUM;
    }
    if (key_checksum(key, sum) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    ok = ca_ct_equal(sum, sizeof(sum), key + CA_KEY_PREFIX_LEN + CA_KEY_BODY_LEN,
                     CA_KEY_CHECKSUM_LEN);
    return ok ? APR_SUCCESS : CA_KEY_ECHECKSUM;
}

const char *ca_key_strerror(apr_status_t rv)
{
    switch (rv) {
    case APR_SUCCESS:
        return "key format is valid";
    case CA_KEY_EPREFIX:
        return "key does not start with \"" CA_KEY_PREFIX "\"";
    case CA_KEY_ELENGTH:
        return "key has the wrong length";
    case CA_KEY_ECHARS:
        return "key contains characters outside the base64url alphabet";
    case CA_KEY_ECHECKSUM:
        return "key checksum does not match (mistyped or corrupted key)";
    default:
        return "key could not be checked";
    }
}

char *ca_key_hash(apr_pool_t *p, const char *key)
{
    char *hex;

    if (key == NULL) {
        return NULL;
    }
    hex = ca_sha256_hex(p, key, strlen(key));
    if (hex == NULL) {
        return NULL;
    }
    return apr_pstrcat(p, CA_KEY_HASH_PREFIX, hex, NULL);
}

int ca_key_hash_valid(const char *s)
{
    apr_size_t i, plen = sizeof(CA_KEY_HASH_PREFIX) - 1;

    if (s == NULL || strncmp(s, CA_KEY_HASH_PREFIX, plen) != 0) {
        return 0;
    }
    for (i = plen; i < CA_KEY_HASH_LEN; i++) {
        char c = s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;   /* also stops at a NUL before the full length */
        }
    }
    return s[CA_KEY_HASH_LEN] == '\0';
}

const char *ca_key_hint(apr_pool_t *p, const char *key)
{
    apr_size_t n, i;

    if (key == NULL || (n = strlen(key)) < 12) {
        return CA_KEY_PREFIX ELLIPSIS;
    }
    for (i = n - 4; i < n; i++) {
        if (key[i] < 0x21 || key[i] > 0x7e) {
            return CA_KEY_PREFIX ELLIPSIS;
        }
    }
    return apr_pstrcat(p, CA_KEY_PREFIX ELLIPSIS, key + n - 4, NULL);
}

apr_status_t ca_endpoint_id_generate(apr_pool_t *p, char **id)
{
    char *tok = ca_random_token(p, CA_EPID_RAW_LEN);

    if (tok == NULL) {
        *id = NULL;
        return APR_EGENERAL;
    }
    *id = apr_pstrcat(p, CA_EPID_PREFIX, tok, NULL);
    return APR_SUCCESS;
}

int ca_endpoint_id_valid(const char *s)
{
    apr_size_t i, plen = sizeof(CA_EPID_PREFIX) - 1;

    if (s == NULL || strncmp(s, CA_EPID_PREFIX, plen) != 0) {
        return 0;
    }
    for (i = plen; s[i] != '\0'; i++) {
        if (i >= CA_EPID_MAX_LEN || !is_b64u_char((unsigned char)s[i])) {
            return 0;
        }
    }
    return i >= CA_EPID_MIN_LEN;
}
