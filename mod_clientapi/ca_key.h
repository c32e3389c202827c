/*
 * ca_key.h - the scoped-endpoint API key and endpoint id (contract section 2).
 *
 * Core unit: libc + APR + ca_crypto (OpenSSL 3) only, no httpd headers.
 *
 * Key format (53 ASCII chars, URL-safe, no padding):
 *
 *     cak_ <body: 43 chars> <checksum: 6 chars>
 *
 *   body     = base64url(32 bytes from RAND_bytes), unpadded (256 bits of entropy)
 *   checksum = the first 36 bits of SHA-256("cak_" + body), written as 6 base64url
 *              characters (i.e. the first 6 characters of base64url(SHA-256(...)))
 *
 * The checksum lets a malformed or mistyped key be refused before any database
 * lookup: any single-character change is caught for certain in the prefix and
 * checksum parts, and in the body with probability 1 - 2^-36. It is a public
 * function of the body, so it adds no secret and takes none away.
 *
 * Storage: keys are stored only as "sha256:" + hex(SHA-256(key)). A fast,
 * unsalted hash is sound here, unlike for passwords: every key carries 256 bits
 * from a CSPRNG, so neither brute force nor precomputed tables over the key space
 * are feasible, and a salt or slow KDF would add nothing but CPU per request.
 * A deterministic hash also lets the key be found by an indexed equality lookup
 * (the hash column), so no per-endpoint scan is needed.
 */
#ifndef CA_KEY_H
#define CA_KEY_H

#include <apr_pools.h>
#include <apr_errno.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CA_KEY_PREFIX        "cak_"
#define CA_KEY_PREFIX_LEN    4
#define CA_KEY_RAW_LEN       32     /* random bytes in a key */
#define CA_KEY_BODY_LEN      43     /* base64url of 32 bytes, unpadded */
#define CA_KEY_CHECKSUM_LEN  6      /* 36 bits */
#define CA_KEY_LEN           (CA_KEY_PREFIX_LEN + CA_KEY_BODY_LEN + CA_KEY_CHECKSUM_LEN)

#define CA_KEY_HASH_PREFIX   "sha256:"
#define CA_KEY_HASH_LEN      (7 + 64)   /* "sha256:" + 64 lowercase hex */

#define CA_EPID_PREFIX       "ep_"
#define CA_EPID_RAW_LEN      16     /* random bytes in a generated endpoint id */
#define CA_EPID_MIN_LEN      4
#define CA_EPID_MAX_LEN      64

/* Errors of ca_key_check_format (apr_status_t values in APR's user range). */
#define CA_KEY_ERRSPACE      (APR_OS_START_USERERR + 7100)
#define CA_KEY_EPREFIX       (CA_KEY_ERRSPACE + 1)  /* does not start with "cak_" */
#define CA_KEY_ELENGTH       (CA_KEY_ERRSPACE + 2)  /* not 53 chars (incl. truncated) */
#define CA_KEY_ECHARS        (CA_KEY_ERRSPACE + 3)  /* char outside A-Z a-z 0-9 - _ */
#define CA_KEY_ECHECKSUM     (CA_KEY_ERRSPACE + 4)  /* checksum mismatch, or a body
                                                      * that is not canonical base64url
                                                      * (cannot have been generated) */

/* New random key (RAND_bytes). APR_SUCCESS, or APR_EGENERAL if the CSPRNG or
 * the hash fails (*key = NULL). Show it once; store only ca_key_hash(). */
apr_status_t ca_key_generate(apr_pool_t *p, char **key);

/* Format a key from 32 given bytes (known-answer tests and tooling only: real
 * keys must come from ca_key_generate). NULL on a library failure. */
char *ca_key_from_bytes(apr_pool_t *p, const unsigned char raw[CA_KEY_RAW_LEN]);

/* Check key[0..len) (need not be NUL-terminated). Checks, in this order: prefix
 * (a string shorter than 4 chars that is a prefix of "cak_" counts as a length
 * error), length, characters, checksum (constant-time compare). Returns
 * APR_SUCCESS or one of the CA_KEY_E* codes above. NULL key = empty string. */
apr_status_t ca_key_check_format(const char *key, apr_size_t len);

/* Short static description of a CA_KEY_E* code (for problem details / logs). */
const char *ca_key_strerror(apr_status_t rv);

/* "sha256:" + 64 lowercase hex of SHA-256(key). NULL if key is NULL or on a
 * library failure. Hash exactly the bytes the caller presented. */
char *ca_key_hash(apr_pool_t *p, const char *key);

/* 1 if s is exactly "sha256:" + 64 lowercase hex digits (as ca_key_hash makes
 * and as an admin pastes into httpd.conf), else 0. Uppercase hex is refused so
 * that stored and computed hashes compare byte for byte. */
int ca_key_hash_valid(const char *s);

/* Dashboard hint: "cak_…" + last 4 chars of the key ("…" is U+2026 in UTF-8).
 * Just "cak_…" if the key is NULL, shorter than 12 chars, or its last 4 chars
 * are not printable ASCII. */
const char *ca_key_hint(apr_pool_t *p, const char *key);

/* New endpoint id "ep_" + base64url(16 random bytes) (25 chars). APR_SUCCESS or
 * APR_EGENERAL (*id = NULL). */
apr_status_t ca_endpoint_id_generate(apr_pool_t *p, char **id);

/* 1 if s is "ep_" followed by [A-Za-z0-9_-] only, total length 4..64. */
int ca_endpoint_id_valid(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* CA_KEY_H */
