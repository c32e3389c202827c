/*
 * ca_password.h - password hashing for dashboard accounts (bcrypt via apr-util).
 *
 * Core unit: libc + APR + APR-util + ca_crypto only, no httpd headers, no logging.
 *
 * Scheme "$ca1$" (the only one ca_password_verify accepts):
 *
 *     pre    = base64url(HMAC-SHA-256(key = "mod_clientapi password v1", msg = password))
 *     bcrypt = apr_bcrypt_encode(pre, cost, 16 salt bytes from ca_random_bytes)
 *                                  -> "$2y$CC$" + 22 salt chars + 31 hash chars (60 chars)
 *     stored = "$ca1" + bcrypt     -> "$ca1$2y$12$...", 64 chars
 *
 * Why the pre-hash: bcrypt uses only the first 72 bytes of its input (and stops
 * at a NUL byte), so two long passwords that differ only after byte 72 would
 * verify against each other. Every password, whatever its length, is first
 * reduced to 43 base64url characters (no NUL, well under 72, 256 bits); the HMAC
 * key is public and only separates this use of SHA-256 from others (a list of
 * plain SHA-256 hashes from elsewhere cannot be tested against stored values).
 * The result is no weaker than bcrypt on short passwords and does not truncate
 * long ones.
 *
 * Verification runs apr_password_validate (bcrypt recomputation and apr's own
 * comparison) on a stored value that first passed a strict format check, so a
 * stored value in any other format (plain text, MD5, SHA-1, crypt) never
 * verifies.
 */
#ifndef CA_PASSWORD_H
#define CA_PASSWORD_H

#include <apr_pools.h>
#include <apr_errno.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CA_PASSWORD_SCHEME        "$ca1$"
#define CA_PASSWORD_HASH_LEN      64    /* "$ca1" + 60 bcrypt chars */
#define CA_PASSWORD_COST_DEFAULT  12    /* bcrypt cost (2^12 rounds) */
#define CA_PASSWORD_COST_MIN      4
#define CA_PASSWORD_COST_MAX      31
#define CA_PASSWORD_MIN_LEN       10    /* bytes */
#define CA_PASSWORD_MAX_LEN       1024  /* bytes */

/* Hash pw (NUL-terminated) with bcrypt at cost (0: CA_PASSWORD_COST_DEFAULT,
 * else CA_PASSWORD_COST_MIN..MAX). *hash: "$ca1$2y$CC$..." in p.
 * APR_EINVAL (NULL pw, bad cost, pw longer than CA_PASSWORD_MAX_LEN) or
 * APR_EGENERAL (CSPRNG or library failure), with *perr set (never containing
 * the password); perr may be NULL. Does not apply ca_password_policy: callers
 * that accept a new password check it first. */
apr_status_t ca_password_hash(apr_pool_t *p, const char *pw, unsigned int cost,
                              const char **hash, const char **perr);

/* APR_SUCCESS when pw matches hash, APR_EMISMATCH otherwise: wrong password,
 * NULL pw, or a hash that is not a well-formed "$ca1$" value.
 * With hash == NULL (e.g. an unknown account), verifies against a fixed dummy
 * hash of the default cost and returns APR_EMISMATCH, so that a login with an
 * unknown email takes as long as one with a wrong password. */
apr_status_t ca_password_verify(const char *pw, const char *hash);

/* 1 if hash is a well-formed "$ca1$" value (scheme, cost, bcrypt alphabet,
 * length), else 0. */
int ca_password_hash_valid(const char *hash);

/* bcrypt cost of a well-formed hash (to notice hashes below the current
 * default and rehash at the next login), or -1. */
int ca_password_hash_cost(const char *hash);

/* Policy for a new password of len bytes: CA_PASSWORD_MIN_LEN..MAX_LEN bytes,
 * no NUL byte, valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF).
 * APR_SUCCESS, or APR_EINVAL with a static reason in *why (may be NULL). */
apr_status_t ca_password_policy_len(const char *pw, apr_size_t len, const char **why);

/* ca_password_policy_len(pw, strlen(pw), why); NULL pw fails. */
apr_status_t ca_password_policy(const char *pw, const char **why);

/* 1 when s is a plausible account email address: local@domain, 3..254 visible ASCII
 * characters, one '@', a '.' in the domain, no characters that need quoting. The dashboard,
 * the contact form and the clientapi command all check addresses with it. */
int ca_email_valid(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* CA_PASSWORD_H */
