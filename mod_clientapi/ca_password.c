/*
 * ca_password.c - password hashing and the address rule for dashboard accounts: see ca_password.h.
 */
#include <string.h>

#include <apr_md5.h>            /* apr_bcrypt_encode, apr_password_validate */
#include <apr_strings.h>

#include "ca_crypto.h"
#include "ca_password.h"
#include "ca_json.h"

#define PREHASH_KEY     "mod_clientapi password v1"
#define BCRYPT_LEN      60
#define BCRYPT_SALT_LEN 16      /* raw salt bytes */
#define BCRYPT_PREFIX   "$2y$"

/* A well-formed hash of the default cost whose password nobody knows (the
 * bcrypt of a random value, generated once). Verified against when there is no
 * account, so that path costs the same as a wrong password. */
#define DUMMY_HASH \
    "$ca1$2y$12$uHN8OKsnwk1nACYcC4rkRO5Kd5Gp.0KoXh59vNDESuOGQZns5/Z3y"

static void set_err(const char **perr, const char *msg)
{
    if (perr) {
        *perr = msg;
    }
}

static int bcrypt_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '.' || c == '/';
}

int ca_password_hash_cost(const char *hash)
{
    const char *b;
    int cost, i;

    if (hash == NULL || strlen(hash) != CA_PASSWORD_HASH_LEN
        || strncmp(hash, CA_PASSWORD_SCHEME, sizeof(CA_PASSWORD_SCHEME) - 1) != 0) {
        return -1;
    }
    b = hash + sizeof(CA_PASSWORD_SCHEME) - 2;      /* the bcrypt part, at "$2y$" */
    if (strncmp(b, BCRYPT_PREFIX, 4) != 0
        || b[4] < '0' || b[4] > '9' || b[5] < '0' || b[5] > '9' || b[6] != '$') {
        return -1;
    }
    cost = (b[4] - '0') * 10 + (b[5] - '0');
    if (cost < CA_PASSWORD_COST_MIN || cost > CA_PASSWORD_COST_MAX) {
        return -1;
    }
    for (i = 7; i < BCRYPT_LEN; i++) {
        if (!bcrypt_char((unsigned char)b[i])) {
            return -1;
        }
    }
    return cost;
}

int ca_password_hash_valid(const char *hash)
{
    return ca_password_hash_cost(hash) > 0;
}

/* pre = base64url(HMAC-SHA-256(PREHASH_KEY, pw)), 43 chars + NUL into out. */
static apr_status_t prehash(const char *pw, char out[44])
{
    unsigned char mac[CA_SHA256_LEN];
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    apr_size_t i, o = 0;
    apr_status_t rv;

    rv = ca_hmac_sha256(PREHASH_KEY, sizeof(PREHASH_KEY) - 1, pw, strlen(pw), mac);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* base64url without padding, written here so that no copy of the value is
     * left in a pool */
    for (i = 0; i + 3 <= CA_SHA256_LEN; i += 3) {
        unsigned long v = ((unsigned long)mac[i] << 16) | ((unsigned long)mac[i + 1] << 8)
                          | mac[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    {   /* 32 = 30 + 2: two bytes left -> three chars */
        unsigned long v = ((unsigned long)mac[30] << 16) | ((unsigned long)mac[31] << 8);
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    ca_cleanse(mac, sizeof(mac));
    return APR_SUCCESS;
}

apr_status_t ca_password_hash(apr_pool_t *p, const char *pw, unsigned int cost,
                              const char **hash, const char **perr)
{
    unsigned char salt[BCRYPT_SALT_LEN];
    char pre[44];
    char out[BCRYPT_LEN + 8];
    apr_status_t rv;

    if (hash) {
        *hash = NULL;
    }
    if (hash == NULL || pw == NULL) {
        set_err(perr, "no password");
        return APR_EINVAL;
    }
    if (cost == 0) {
        cost = CA_PASSWORD_COST_DEFAULT;
    }
    if (cost < CA_PASSWORD_COST_MIN || cost > CA_PASSWORD_COST_MAX) {
        set_err(perr, "bcrypt cost must be between 4 and 31");
        return APR_EINVAL;
    }
    if (strlen(pw) > CA_PASSWORD_MAX_LEN) {
        set_err(perr, "password longer than 1024 bytes");
        return APR_EINVAL;
    }
    if (ca_random_bytes(salt, sizeof(salt)) != APR_SUCCESS) {
        set_err(perr, "no random bytes for the salt");
        return APR_EGENERAL;
    }
    rv = prehash(pw, pre);
    if (rv != APR_SUCCESS) {
        set_err(perr, "HMAC-SHA-256 failed");
        return APR_EGENERAL;
    }
    rv = apr_bcrypt_encode(pre, cost, salt, sizeof(salt), out, sizeof(out));
    ca_cleanse(pre, sizeof(pre));
    ca_cleanse(salt, sizeof(salt));
    if (rv != APR_SUCCESS || strlen(out) != BCRYPT_LEN
        || strncmp(out, BCRYPT_PREFIX, 4) != 0) {
        set_err(perr, "bcrypt failed");
        return APR_EGENERAL;
    }
    *hash = apr_pstrcat(p, "$ca1", out, NULL);
    if (!ca_password_hash_valid(*hash)) {
        *hash = NULL;
        set_err(perr, "bcrypt produced an unexpected value");
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t ca_password_verify(const char *pw, const char *hash)
{
    const char *use = hash;
    char pre[44];
    apr_status_t rv;
    int dummy = 0;

    if (pw == NULL || strlen(pw) > CA_PASSWORD_MAX_LEN) {
        return APR_EMISMATCH;
    }
    if (hash == NULL) {
        use = DUMMY_HASH;
        dummy = 1;
    }
    else if (!ca_password_hash_valid(hash)) {
        return APR_EMISMATCH;
    }
    if (prehash(pw, pre) != APR_SUCCESS) {
        return APR_EMISMATCH;
    }
    rv = apr_password_validate(pre, use + sizeof(CA_PASSWORD_SCHEME) - 2);
    ca_cleanse(pre, sizeof(pre));
    return (rv == APR_SUCCESS && !dummy) ? APR_SUCCESS : APR_EMISMATCH;
}

apr_status_t ca_password_policy_len(const char *pw, apr_size_t len, const char **why)
{
    if (pw == NULL) {
        set_err(why, "no password");
        return APR_EINVAL;
    }
    if (len < CA_PASSWORD_MIN_LEN) {
        set_err(why, "password shorter than 10 bytes");
        return APR_EINVAL;
    }
    if (len > CA_PASSWORD_MAX_LEN) {
        set_err(why, "password longer than 1024 bytes");
        return APR_EINVAL;
    }
    if (memchr(pw, '\0', len) != NULL) {
        set_err(why, "password contains a NUL byte");
        return APR_EINVAL;
    }
    if (ca_utf8_chars(pw, len) < 0) {
        set_err(why, "password is not valid UTF-8");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t ca_password_policy(const char *pw, const char **why)
{
    return ca_password_policy_len(pw, pw ? strlen(pw) : 0, why);
}

int ca_email_valid(const char *s)
{
    apr_size_t n = s ? strlen(s) : 0, i;
    const char *at;

    if (n < 3 || n > 254) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]", c)) {
            return 0;
        }
    }
    at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || at - s > 64 || at[1] == '\0'
        || at[1] == '.' || s[n - 1] == '.' || !strchr(at + 1, '.') || strstr(at + 1, "..")) {
        return 0;
    }
    return 1;
}
