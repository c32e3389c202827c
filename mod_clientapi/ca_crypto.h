/*
 * ca_crypto.h - every cryptographic primitive mod_clientapi uses, in one place.
 *
 * Core unit: libc + APR + OpenSSL 3 libcrypto only, no httpd headers, no logging.
 * All functions are thread-safe (no global state). Memory comes from the pool the
 * caller passes in. Error strings never contain secret material.
 *
 * Contents:
 *   - randomness (RAND_bytes; a failure is an error, there is no fallback)
 *   - base64url without padding (strict decoder), lowercase hex
 *   - SHA-256, HMAC-SHA-256, constant-time compare, PKCE S256
 *   - a keyring (key file) and AES-256-GCM sealing of tokens at rest
 *   - masking of secrets for logs
 */
#ifndef CA_CRYPTO_H
#define CA_CRYPTO_H

#include <apr_pools.h>
#include <apr_errno.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CA_SHA256_LEN      32   /* bytes of a SHA-256 / HMAC-SHA-256 digest */
#define CA_SEAL_KEY_LEN    32   /* AES-256 key */
#define CA_SEAL_NONCE_LEN  12   /* GCM nonce, random per seal */
#define CA_SEAL_TAG_LEN    16   /* GCM tag */
#define CA_KID_MAX         32   /* key id: 1..32 chars of [A-Za-z0-9_-] */
#define CA_SEAL_MAX_PLAIN  (1024 * 1024)   /* largest plaintext ca_seal accepts */

/* ---------------------------------------------------------------------------
 * Randomness
 * ------------------------------------------------------------------------- */

/* Fill buf with len bytes from RAND_bytes. APR_SUCCESS, or APR_EGENERAL if the
 * CSPRNG fails (never falls back to a weaker source). len == 0 is a no-op. */
apr_status_t ca_random_bytes(unsigned char *buf, apr_size_t len);

/* base64url (no padding) of nbytes random bytes, e.g. 32 -> 43 chars.
 * Returns NULL if the CSPRNG fails: callers must check. */
char *ca_random_token(apr_pool_t *p, apr_size_t nbytes);

/* ---------------------------------------------------------------------------
 * Encodings
 * ------------------------------------------------------------------------- */

/* base64url (RFC 4648 section 5, alphabet A-Z a-z 0-9 - _) without padding.
 * Result is NUL-terminated; never NULL for a sane len. */
char *ca_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len);

/* Length of ca_b64url_encode's output for len input bytes (without the NUL). */
apr_size_t ca_b64url_encoded_len(apr_size_t len);

/* Strict base64url decode of in[0..inlen). Rejects: any character outside the
 * url alphabet (including '=', '+', '/', whitespace, NUL), an impossible length
 * (inlen % 4 == 1) and non-canonical trailing bits. On success *out is a pool
 * buffer of *outlen bytes plus a terminating NUL (not counted); on failure
 * APR_EINVAL and *out = NULL, *outlen = 0. outlen may be NULL. */
apr_status_t ca_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                              unsigned char **out, apr_size_t *outlen);

/* Same check as ca_b64url_decode without decoding: 1 if valid, else 0. */
int ca_b64url_valid(const char *in, apr_size_t inlen);

/* Lowercase hex of data (2 * len chars, NUL-terminated). */
char *ca_hex_encode(apr_pool_t *p, const void *data, apr_size_t len);

/* ---------------------------------------------------------------------------
 * Hashes, MACs, comparison
 * ------------------------------------------------------------------------- */

/* SHA-256 of data into out. APR_SUCCESS or APR_EGENERAL. */
apr_status_t ca_sha256(const void *data, apr_size_t len,
                       unsigned char out[CA_SHA256_LEN]);

/* Lowercase hex SHA-256 (64 chars), or NULL on a library failure. */
char *ca_sha256_hex(apr_pool_t *p, const void *data, apr_size_t len);

/* HMAC-SHA-256 (EVP_MAC). Any key length, including 0. APR_SUCCESS or
 * APR_EGENERAL. */
apr_status_t ca_hmac_sha256(const void *key, apr_size_t keylen,
                            const void *data, apr_size_t len,
                            unsigned char out[CA_SHA256_LEN]);

/* A keyed HMAC-SHA-256, for a key used on every request (e.g. the key cache's
 * entry MAC): the key schedule is computed once, each ca_hmac_key_sha256() only
 * copies it. The key is kept in OpenSSL's context (cleansed when freed), the
 * caller's copy may be wiped at once. A pool cleanup of p frees it. Safe to use
 * from several threads at a time once created. */
typedef struct ca_hmac_key ca_hmac_key_t;

apr_status_t ca_hmac_key_create(apr_pool_t *p, const void *key, apr_size_t keylen,
                                ca_hmac_key_t **out);

/* Same result as ca_hmac_sha256 with the key given to ca_hmac_key_create. */
apr_status_t ca_hmac_key_sha256(const ca_hmac_key_t *k, const void *data, apr_size_t len,
                                unsigned char out[CA_SHA256_LEN]);

/* Per-process cache of the algorithms above (OpenSSL 3 otherwise looks SHA-256 and
 * HMAC up in its provider store on every call). Call while the process is still
 * single-threaded (httpd: child_init with pchild); a cleanup of p frees them and
 * the functions go back to fetching on every call. Without it everything works
 * the same, only slower (the clientapi command, unit tests). */
apr_status_t ca_crypto_process_init(apr_pool_t *p);

/* Constant-time equality (CRYPTO_memcmp): 1 if equal, 0 otherwise. Different
 * lengths are never equal (the length itself is not treated as secret). */
int ca_ct_equal(const void *a, apr_size_t alen, const void *b, apr_size_t blen);

/* Overwrite memory in a way the compiler cannot elide (OPENSSL_cleanse), for
 * callers that hold secrets but do not link OpenSSL themselves. */
void ca_cleanse(void *ptr, apr_size_t len);

/* ---------------------------------------------------------------------------
 * PKCE (RFC 7636)
 * ------------------------------------------------------------------------- */

/* code_challenge for method S256: base64url(SHA-256(verifier)), 43 chars.
 * NULL if verifier is NULL or on a library failure. Does not validate the
 * verifier: use ca_pkce_verifier_valid for that. */
char *ca_pkce_challenge_s256(apr_pool_t *p, const char *verifier);

/* 1 if v is a valid RFC 7636 code_verifier: 43..128 chars of
 * [A-Za-z0-9-._~]. ca_random_token(p, 32) produces a valid verifier. */
int ca_pkce_verifier_valid(const char *v);

/* ---------------------------------------------------------------------------
 * Keyring (key file for tokens at rest)
 *
 * File format, one key per line:
 *     <kid> <base64url of exactly 32 bytes, no padding>
 * kid: 1..32 chars of [A-Za-z0-9_-]. Separator: spaces/tabs. Leading and trailing
 * spaces/tabs and a CR before the LF are ignored. Blank lines and lines whose
 * first non-blank character is '#' are ignored. Duplicate kid, bad kid, bad
 * encoding, wrong key length or extra fields are errors naming the line number.
 * The LAST key in the file is the current (sealing) key; every key opens.
 * A file with no key is an error. Key material is kept in pool memory that a
 * pool cleanup wipes with OPENSSL_cleanse.
 * ------------------------------------------------------------------------- */

typedef struct ca_keyring ca_keyring_t;

/* Parse key-file text (text need not be NUL-terminated; a NUL byte is an
 * error). On error *ring = NULL and *perr = "line N: ..." (perr may be NULL).
 * The caller's text is not modified or wiped. */
apr_status_t ca_keyring_parse(apr_pool_t *p, const char *text, apr_size_t len,
                              ca_keyring_t **ring, const char **perr);

/* Read and parse a key file (at most 64 KiB). *loose_perms (may be NULL) is
 * set to 1 when the file can be read or written by group or other (the caller
 * should warn), else 0. Errors name the path, e.g. "key file /x: line 3: ...".
 * The read buffer is wiped after parsing. */
apr_status_t ca_keyring_load(apr_pool_t *p, const char *path,
                             ca_keyring_t **ring, int *loose_perms,
                             const char **perr);

/* kid of the current (sealing) key: the last one in the file. */
const char *ca_keyring_current_kid(const ca_keyring_t *ring);

/* A key for `purpose` derived from the current key (HMAC-SHA-256 of the purpose
 * under it): the same on every server sharing the key file, useless for
 * anything else. APR_EINVAL for an empty ring. */
apr_status_t ca_keyring_derive(const ca_keyring_t *ring, const char *purpose,
                               unsigned char out[CA_SHA256_LEN]);

/* Number of keys; 1 if ring has the kid, else 0. */
int ca_keyring_count(const ca_keyring_t *ring);
int ca_keyring_has_kid(const ca_keyring_t *ring, const char *kid);

/* Make another key of the ring the current one (e.g. from a directive).
 * APR_ENOENT if the kid is not in the ring. */
apr_status_t ca_keyring_set_current(ca_keyring_t *ring, const char *kid);

/* 1 if kid is a valid key id (1..32 chars of [A-Za-z0-9_-]). */
int ca_kid_valid(const char *kid);

/* A fresh key-file line "<kid> <base64url(32 random bytes)>" without a
 * trailing newline. APR_EINVAL for a bad kid, APR_EGENERAL if the CSPRNG
 * fails. The caller should wipe *line (ca_cleanse) once written. */
apr_status_t ca_keyring_new_line(apr_pool_t *p, const char *kid,
                                 const char **line);

/* ---------------------------------------------------------------------------
 * Sealing (AES-256-GCM)
 *
 * Sealed form: "v1.<kid>.<base64url(nonce[12] || ciphertext || tag[16])>".
 * The nonce is random per seal (96 bits; fine for the number of values a
 * deployment seals per key). aad is authenticated, not encrypted: pass the
 * value's context, e.g. "connection:42:access_token", so a sealed value cannot
 * be moved to another row or column. The aad is used as given (a NULL aad is the
 * same as ""); the version and kid are not part of it (a wrong kid selects a
 * different key and fails authentication anyway).
 * ------------------------------------------------------------------------- */

/* Seal len bytes of plaintext with the ring's current key. APR_EINVAL for a
 * NULL ring/out or len > CA_SEAL_MAX_PLAIN, APR_EGENERAL on a library or
 * CSPRNG failure. */
apr_status_t ca_seal(apr_pool_t *p, const ca_keyring_t *ring, const char *aad,
                     const void *plaintext, apr_size_t len, const char **out);

/* Open a sealed value. On success *plain holds *len bytes plus a NUL (not
 * counted); plen may be NULL. Errors (with *perr set, *plain = NULL):
 *   APR_EINVAL   malformed value or unsupported version
 *   APR_ENOENT   "unknown key id '<kid>'" (kid not in the key file)
 *   APR_EGENERAL "authentication failed ..." (wrong key, wrong aad, tampered)
 * No partially decrypted data is left behind on failure. */
apr_status_t ca_open(apr_pool_t *p, const ca_keyring_t *ring, const char *aad,
                     const char *in, char **plain, apr_size_t *plen,
                     const char **perr);

/* kid that sealed a value (pool copy), or NULL if in is not a well-formed
 * "v1.<kid>.<...>" value. Compare with ca_keyring_current_kid to find values
 * to re-seal after a key rotation. */
const char *ca_sealed_kid(apr_pool_t *p, const char *in);

/* ---------------------------------------------------------------------------
 * Logging help
 * ------------------------------------------------------------------------- */

/* Mask for logs: "\u2026" (UTF-8 "…") + the last 4 chars when s has at least 12
 * chars and those 4 are printable ASCII; otherwise just "…". Never more. */
const char *ca_mask_secret(apr_pool_t *p, const char *s);

#ifdef __cplusplus
}
#endif

#endif /* CA_CRYPTO_H */
