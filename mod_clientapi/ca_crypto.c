/*
 * ca_crypto.c - randomness, encodings, hashes, keyring and AES-256-GCM sealing.
 * Core unit: no httpd headers, no logging; see ca_crypto.h for the contract.
 */
#include "ca_crypto.h"

#include <limits.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define KEYFILE_MAX   (64 * 1024)
#define SEAL_VERSION  "v1."
#define SEAL_OVERHEAD (CA_SEAL_NONCE_LEN + CA_SEAL_TAG_LEN)
#define ELLIPSIS      "\xe2\x80\xa6"   /* U+2026 in UTF-8 */

/* ---------------------------------------------------------------------------
 * Randomness
 * ------------------------------------------------------------------------- */

apr_status_t ca_random_bytes(unsigned char *buf, apr_size_t len)
{
    while (len > 0) {
        int chunk = len > (apr_size_t)INT_MAX ? INT_MAX : (int)len;

        if (buf == NULL || RAND_bytes(buf, chunk) != 1) {
            return APR_EGENERAL;
        }
        buf += chunk;
        len -= (apr_size_t)chunk;
    }
    return APR_SUCCESS;
}

char *ca_random_token(apr_pool_t *p, apr_size_t nbytes)
{
    unsigned char stackbuf[64];
    unsigned char *buf = stackbuf;
    char *res = NULL;

    if (nbytes > sizeof(stackbuf)) {
        buf = apr_palloc(p, nbytes);
    }
    if (ca_random_bytes(buf, nbytes) == APR_SUCCESS) {
        res = ca_b64url_encode(p, buf, nbytes);
    }
    OPENSSL_cleanse(buf, nbytes);
    return res;
}

/* ---------------------------------------------------------------------------
 * Encodings
 * ------------------------------------------------------------------------- */

static const char b64u_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64u_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

apr_size_t ca_b64url_encoded_len(apr_size_t len)
{
    apr_size_t rem = len % 3;

    return (len / 3) * 4 + (rem ? rem + 1 : 0);
}

char *ca_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len)
{
    const unsigned char *in = data;
    apr_size_t i, o = 0;
    char *out;

    if (len > ((apr_size_t)-1 / 4) * 3 - 3) {
        return NULL;
    }
    out = apr_palloc(p, ca_b64url_encoded_len(len) + 1);
    for (i = 0; i + 3 <= len; i += 3) {
        unsigned long v = ((unsigned long)in[i] << 16)
                          | ((unsigned long)in[i + 1] << 8) | in[i + 2];

        out[o++] = b64u_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64u_alphabet[(v >> 12) & 0x3f];
        out[o++] = b64u_alphabet[(v >> 6) & 0x3f];
        out[o++] = b64u_alphabet[v & 0x3f];
    }
    if (len - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;

        out[o++] = b64u_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64u_alphabet[(v >> 12) & 0x3f];
    }
    else if (len - i == 2) {
        unsigned long v = ((unsigned long)in[i] << 16)
                          | ((unsigned long)in[i + 1] << 8);

        out[o++] = b64u_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64u_alphabet[(v >> 12) & 0x3f];
        out[o++] = b64u_alphabet[(v >> 6) & 0x3f];
    }
    out[o] = '\0';
    return out;
}

/* Strict decode into out (may be NULL to only validate). Returns the decoded
 * length, or -1 if the input is not canonical unpadded base64url. */
static apr_ssize_t b64u_decode_into(const char *in, apr_size_t inlen,
                                    unsigned char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    apr_size_t i, o = 0, rem = inlen % 4;
    int v[4];

    if (rem == 1 || (in == NULL && inlen > 0)) {
        return -1;
    }
    for (i = 0; i + 4 <= inlen; i += 4) {
        v[0] = b64u_val(s[i]);
        v[1] = b64u_val(s[i + 1]);
        v[2] = b64u_val(s[i + 2]);
        v[3] = b64u_val(s[i + 3]);
        if ((v[0] | v[1] | v[2] | v[3]) < 0) {
            return -1;
        }
        if (out) {
            out[o] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
            out[o + 1] = (unsigned char)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
            out[o + 2] = (unsigned char)(((v[2] & 0x03) << 6) | v[3]);
        }
        o += 3;
    }
    if (rem == 2) {
        v[0] = b64u_val(s[i]);
        v[1] = b64u_val(s[i + 1]);
        /* the low 4 bits of the last character carry no data: must be 0 */
        if ((v[0] | v[1]) < 0 || (v[1] & 0x0f) != 0) {
            return -1;
        }
        if (out) {
            out[o] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
        }
        o += 1;
    }
    else if (rem == 3) {
        v[0] = b64u_val(s[i]);
        v[1] = b64u_val(s[i + 1]);
        v[2] = b64u_val(s[i + 2]);
        /* the low 2 bits of the last character carry no data: must be 0 */
        if ((v[0] | v[1] | v[2]) < 0 || (v[2] & 0x03) != 0) {
            return -1;
        }
        if (out) {
            out[o] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
            out[o + 1] = (unsigned char)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
        }
        o += 2;
    }
    return (apr_ssize_t)o;
}

int ca_b64url_valid(const char *in, apr_size_t inlen)
{
    return b64u_decode_into(in, inlen, NULL) >= 0;
}

apr_status_t ca_b64url_decode(apr_pool_t *p, const char *in, apr_size_t inlen,
                              unsigned char **out, apr_size_t *outlen)
{
    apr_ssize_t n;
    unsigned char *buf;

    *out = NULL;
    if (outlen) {
        *outlen = 0;
    }
    if (b64u_decode_into(in, inlen, NULL) < 0) {
        return APR_EINVAL;
    }
    buf = apr_palloc(p, (inlen / 4) * 3 + 3);
    n = b64u_decode_into(in, inlen, buf);
    buf[n] = '\0';
    *out = buf;
    if (outlen) {
        *outlen = (apr_size_t)n;
    }
    return APR_SUCCESS;
}

char *ca_hex_encode(apr_pool_t *p, const void *data, apr_size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *in = data;
    char *out;
    apr_size_t i;

    if (len > ((apr_size_t)-1 - 1) / 2) {
        return NULL;
    }
    out = apr_palloc(p, len * 2 + 1);
    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return out;
}

/* ---------------------------------------------------------------------------
 * Hashes, MACs, comparison
 * ------------------------------------------------------------------------- */

/* Fetched once per process by ca_crypto_process_init (NULL: fetch on every call). Set
 * and cleared only while the process is single-threaded; read-only in between. */
static EVP_MD *proc_sha256;
static EVP_MAC *proc_hmac;

static apr_status_t process_cleanup(void *data)
{
    (void)data;
    EVP_MAC_free(proc_hmac);
    EVP_MD_free(proc_sha256);
    proc_hmac = NULL;
    proc_sha256 = NULL;
    return APR_SUCCESS;
}

apr_status_t ca_crypto_process_init(apr_pool_t *p)
{
    if (p == NULL) {
        return APR_EINVAL;
    }
    if (proc_sha256 != NULL || proc_hmac != NULL) {
        return APR_SUCCESS;
    }
    proc_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    proc_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    /* registered even on failure: whatever was fetched is freed with p */
    apr_pool_cleanup_register(p, NULL, process_cleanup, apr_pool_cleanup_null);
    return (proc_sha256 != NULL && proc_hmac != NULL) ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t ca_sha256(const void *data, apr_size_t len,
                       unsigned char out[CA_SHA256_LEN])
{
    unsigned int n = 0;

    if (data == NULL) {
        if (len > 0) {
            return APR_EINVAL;
        }
        data = "";
    }
    if (EVP_Digest(data, len, out, &n, proc_sha256 ? proc_sha256 : EVP_sha256(), NULL) != 1
        || n != CA_SHA256_LEN) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

char *ca_sha256_hex(apr_pool_t *p, const void *data, apr_size_t len)
{
    unsigned char md[CA_SHA256_LEN];

    if (ca_sha256(data, len, md) != APR_SUCCESS) {
        return NULL;
    }
    return ca_hex_encode(p, md, sizeof(md));
}

apr_status_t ca_hmac_sha256(const void *key, apr_size_t keylen,
                            const void *data, apr_size_t len,
                            unsigned char out[CA_SHA256_LEN])
{
    static const unsigned char empty[1] = { 0 };
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    size_t outl = 0;
    apr_status_t rv = APR_EGENERAL;

    if ((key == NULL && keylen > 0) || (data == NULL && len > 0)) {
        return APR_EINVAL;
    }
    /* A non-NULL pointer even for an empty key: EVP_MAC_init treats a NULL
     * key as "keep the previous key", and there is none. */
    if (key == NULL) {
        key = empty;
    }
    if (data == NULL) {
        data = empty;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();

    mac = proc_hmac ? proc_hmac : EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL || (ctx = EVP_MAC_CTX_new(mac)) == NULL) {
        goto done;
    }
    if (EVP_MAC_init(ctx, key, keylen, params) != 1
        || EVP_MAC_update(ctx, data, len) != 1
        || EVP_MAC_final(ctx, out, &outl, CA_SHA256_LEN) != 1
        || outl != CA_SHA256_LEN) {
        goto done;
    }
    rv = APR_SUCCESS;
done:
    EVP_MAC_CTX_free(ctx);
    if (mac != proc_hmac) {
        EVP_MAC_free(mac);
    }
    return rv;
}

struct ca_hmac_key {
    EVP_MAC_CTX *ctx;       /* initialized with the key; copied for every MAC */
};

static apr_status_t hmac_key_cleanup(void *data)
{
    ca_hmac_key_t *k = data;

    EVP_MAC_CTX_free(k->ctx);   /* cleanses the key schedule */
    k->ctx = NULL;
    return APR_SUCCESS;
}

apr_status_t ca_hmac_key_create(apr_pool_t *p, const void *key, apr_size_t keylen,
                                ca_hmac_key_t **out)
{
    static const unsigned char empty[1] = { 0 };
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    EVP_MAC *mac;
    ca_hmac_key_t *k;

    if (p == NULL || out == NULL || (key == NULL && keylen > 0)) {
        return APR_EINVAL;
    }
    k = apr_pcalloc(p, sizeof(*k));
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    mac = proc_hmac ? proc_hmac : EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return APR_EGENERAL;
    }
    k->ctx = EVP_MAC_CTX_new(mac);
    if (mac != proc_hmac) {
        EVP_MAC_free(mac);      /* the context keeps its own reference */
    }
    if (k->ctx == NULL) {
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, k, hmac_key_cleanup, apr_pool_cleanup_null);
    if (EVP_MAC_init(k->ctx, key ? key : empty, keylen, params) != 1) {
        apr_pool_cleanup_run(p, k, hmac_key_cleanup);
        return APR_EGENERAL;
    }
    *out = k;
    return APR_SUCCESS;
}

apr_status_t ca_hmac_key_sha256(const ca_hmac_key_t *k, const void *data, apr_size_t len,
                                unsigned char out[CA_SHA256_LEN])
{
    static const unsigned char empty[1] = { 0 };
    EVP_MAC_CTX *ctx;
    size_t outl = 0;
    apr_status_t rv = APR_EGENERAL;

    if (k == NULL || k->ctx == NULL || (data == NULL && len > 0)) {
        return APR_EINVAL;
    }
    /* the template is only read: a copy per call keeps it usable from any thread */
    if ((ctx = EVP_MAC_CTX_dup(k->ctx)) == NULL) {
        return APR_EGENERAL;
    }
    if (EVP_MAC_update(ctx, data ? data : empty, len) == 1
        && EVP_MAC_final(ctx, out, &outl, CA_SHA256_LEN) == 1
        && outl == CA_SHA256_LEN) {
        rv = APR_SUCCESS;
    }
    EVP_MAC_CTX_free(ctx);
    return rv;
}

int ca_ct_equal(const void *a, apr_size_t alen, const void *b, apr_size_t blen)
{
    if (alen != blen || (alen > 0 && (a == NULL || b == NULL))) {
        return 0;
    }
    if (alen == 0) {
        return 1;
    }
    return CRYPTO_memcmp(a, b, alen) == 0;
}

void ca_cleanse(void *ptr, apr_size_t len)
{
    if (ptr != NULL && len > 0) {
        OPENSSL_cleanse(ptr, len);
    }
}

/* ---------------------------------------------------------------------------
 * PKCE
 * ------------------------------------------------------------------------- */

char *ca_pkce_challenge_s256(apr_pool_t *p, const char *verifier)
{
    unsigned char md[CA_SHA256_LEN];

    if (verifier == NULL
        || ca_sha256(verifier, strlen(verifier), md) != APR_SUCCESS) {
        return NULL;
    }
    return ca_b64url_encode(p, md, sizeof(md));
}

int ca_pkce_verifier_valid(const char *v)
{
    apr_size_t i, n;

    if (v == NULL) {
        return 0;
    }
    n = strlen(v);
    if (n < 43 || n > 128) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];

        if (b64u_val(c) < 0 && c != '.' && c != '~') {
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------------------
 * Keyring
 * ------------------------------------------------------------------------- */

typedef struct {
    char kid[CA_KID_MAX + 1];
    unsigned char key[CA_SEAL_KEY_LEN];
    int line;
} ring_key_t;

struct ca_keyring {
    ring_key_t *keys;
    int nalloc;
    int nkeys;
    int current;
};

static apr_status_t keyring_cleanup(void *data)
{
    ca_keyring_t *ring = data;

    if (ring->keys != NULL && ring->nalloc > 0) {
        OPENSSL_cleanse(ring->keys, sizeof(ring_key_t) * (apr_size_t)ring->nalloc);
    }
    ring->nkeys = 0;
    return APR_SUCCESS;
}

static int kid_valid_n(const char *kid, apr_size_t n)
{
    apr_size_t i;

    if (kid == NULL || n < 1 || n > CA_KID_MAX) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (b64u_val((unsigned char)kid[i]) < 0) {
            return 0;
        }
    }
    return 1;
}

int ca_kid_valid(const char *kid)
{
    return kid != NULL && kid_valid_n(kid, strlen(kid));
}

static const ring_key_t *ring_find(const ca_keyring_t *ring, const char *kid,
                                   apr_size_t kidlen)
{
    int i;

    for (i = 0; i < ring->nkeys; i++) {
        if (strlen(ring->keys[i].kid) == kidlen
            && memcmp(ring->keys[i].kid, kid, kidlen) == 0) {
            return &ring->keys[i];
        }
    }
    return NULL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Count lines that may hold a key (neither blank nor comment): an exact upper
 * bound, so the key array is allocated once and never copied around. */
static int count_candidate_lines(const char *text, apr_size_t len)
{
    apr_size_t i = 0;
    int n = 0;

    while (i < len) {
        while (i < len && (is_blank(text[i]) || text[i] == '\r')) {
            i++;
        }
        if (i < len && text[i] != '\n' && text[i] != '#') {
            n++;
        }
        while (i < len && text[i] != '\n') {
            i++;
        }
        i++;
    }
    return n;
}

apr_status_t ca_keyring_parse(apr_pool_t *p, const char *text, apr_size_t len,
                              ca_keyring_t **ring_out, const char **perr)
{
    ca_keyring_t *ring;
    apr_size_t pos = 0;
    int lineno = 0;
    const char *err = NULL;

    *ring_out = NULL;
    if (perr) {
        *perr = NULL;
    }
    if (text == NULL && len > 0) {
        if (perr) {
            *perr = "no key file text";
        }
        return APR_EINVAL;
    }
    if (len > INT_MAX) {
        if (perr) {
            *perr = "key file text too large";
        }
        return APR_EINVAL;
    }

    ring = apr_pcalloc(p, sizeof(*ring));
    ring->nalloc = count_candidate_lines(text, len);
    if (ring->nalloc > 0) {
        ring->keys = apr_pcalloc(p, sizeof(ring_key_t) * (apr_size_t)ring->nalloc);
    }
    apr_pool_cleanup_register(p, ring, keyring_cleanup, apr_pool_cleanup_null);

    while (pos < len && err == NULL) {
        apr_size_t start = pos, end, kb, ke, vb, ve;
        const char *nl = memchr(text + pos, '\n', len - pos);
        const ring_key_t *dup;
        ring_key_t *k;
        apr_ssize_t n;

        lineno++;
        end = nl ? (apr_size_t)(nl - text) : len;
        pos = end + 1;
        if (memchr(text + start, '\0', end - start) != NULL) {
            err = apr_psprintf(p, "line %d: contains a NUL byte", lineno);
            break;
        }
        if (end > start && text[end - 1] == '\r') {
            end--;
        }
        while (start < end && is_blank(text[start])) {
            start++;
        }
        while (end > start && is_blank(text[end - 1])) {
            end--;
        }
        if (start == end || text[start] == '#') {
            continue;
        }
        kb = start;
        ke = kb;
        while (ke < end && !is_blank(text[ke])) {
            ke++;
        }
        vb = ke;
        while (vb < end && is_blank(text[vb])) {
            vb++;
        }
        ve = vb;
        while (ve < end && !is_blank(text[ve])) {
            ve++;
        }
        if (vb == end || ve != end) {
            err = apr_psprintf(p, "line %d: expected '<key id> <base64url key>'",
                               lineno);
            break;
        }
        if (!kid_valid_n(text + kb, ke - kb)) {
            err = apr_psprintf(p, "line %d: invalid key id (1-%d characters "
                               "of A-Z a-z 0-9 _ -)", lineno, CA_KID_MAX);
            break;
        }
        dup = ring_find(ring, text + kb, ke - kb);
        if (dup != NULL) {
            err = apr_psprintf(p, "line %d: duplicate key id '%s' (first on "
                               "line %d)", lineno, dup->kid, dup->line);
            break;
        }
        n = b64u_decode_into(text + vb, ve - vb, NULL);
        if (n < 0) {
            err = apr_psprintf(p, "line %d: key is not valid unpadded "
                               "base64url", lineno);
            break;
        }
        if (n != CA_SEAL_KEY_LEN) {
            err = apr_psprintf(p, "line %d: key must decode to %d bytes, not "
                               "%ld", lineno, CA_SEAL_KEY_LEN, (long)n);
            break;
        }
        /* nkeys < nalloc: every key line was counted as a candidate */
        k = &ring->keys[ring->nkeys++];
        memcpy(k->kid, text + kb, ke - kb);
        k->kid[ke - kb] = '\0';
        k->line = lineno;
        b64u_decode_into(text + vb, ve - vb, k->key);
    }

    if (err == NULL && ring->nkeys == 0) {
        err = "no keys (expected lines of '<key id> <base64url key>')";
    }
    if (err != NULL) {
        keyring_cleanup(ring);
        if (perr) {
            *perr = err;
        }
        return APR_EINVAL;
    }
    ring->current = ring->nkeys - 1;
    *ring_out = ring;
    return APR_SUCCESS;
}

apr_status_t ca_keyring_load(apr_pool_t *p, const char *path,
                             ca_keyring_t **ring, int *loose_perms,
                             const char **perr)
{
    apr_file_t *f = NULL;
    apr_finfo_t finfo;
    apr_status_t rv;
    char *buf = NULL;
    apr_size_t total = 0;
    const char *err = NULL;
    char ebuf[128];

    *ring = NULL;
    if (loose_perms) {
        *loose_perms = 0;
    }
    if (perr) {
        *perr = NULL;
    }
    if (path == NULL || *path == '\0') {
        if (perr) {
            *perr = "key file: no path given";
        }
        return APR_EINVAL;
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = apr_psprintf(p, "key file %s: cannot open: %s", path,
                                 apr_strerror(rv, ebuf, sizeof(ebuf)));
        }
        return rv;
    }
    rv = apr_file_info_get(&finfo, APR_FINFO_TYPE | APR_FINFO_PROT, f);
    if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
        err = apr_psprintf(p, "cannot stat: %s",
                           apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto done;
    }
    if ((finfo.valid & APR_FINFO_TYPE) && finfo.filetype != APR_REG) {
        err = "not a regular file";
        rv = APR_EINVAL;
        goto done;
    }
    if (loose_perms && (finfo.valid & APR_FINFO_PROT)) {
        *loose_perms = (finfo.protection & (APR_FPROT_GREAD | APR_FPROT_GWRITE
                                            | APR_FPROT_WREAD
                                            | APR_FPROT_WWRITE)) != 0;
    }

    /* read at most KEYFILE_MAX + 1 bytes to detect an oversized file */
    buf = apr_palloc(p, KEYFILE_MAX + 1);
    for (;;) {
        apr_size_t n = KEYFILE_MAX + 1 - total;

        if (n == 0) {
            break;
        }
        rv = apr_file_read(f, buf + total, &n);
        total += n;
        if (rv == APR_EOF) {
            rv = APR_SUCCESS;
            break;
        }
        if (rv != APR_SUCCESS) {
            err = apr_psprintf(p, "read error: %s",
                               apr_strerror(rv, ebuf, sizeof(ebuf)));
            goto done;
        }
    }
    if (total > KEYFILE_MAX) {
        err = apr_psprintf(p, "larger than %d bytes", KEYFILE_MAX);
        rv = APR_EINVAL;
        goto done;
    }
    rv = ca_keyring_parse(p, buf, total, ring, &err);

done:
    if (buf != NULL) {
        OPENSSL_cleanse(buf, KEYFILE_MAX + 1);
    }
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        *ring = NULL;
        if (perr) {
            *perr = apr_psprintf(p, "key file %s: %s", path,
                                 err ? err : "error");
        }
    }
    return rv;
}

const char *ca_keyring_current_kid(const ca_keyring_t *ring)
{
    if (ring == NULL || ring->nkeys == 0) {
        return NULL;
    }
    return ring->keys[ring->current].kid;
}

apr_status_t ca_keyring_derive(const ca_keyring_t *ring, const char *purpose,
                               unsigned char out[CA_SHA256_LEN])
{
    if (ring == NULL || ring->nkeys == 0 || purpose == NULL) {
        return APR_EINVAL;
    }
    return ca_hmac_sha256(ring->keys[ring->current].key, CA_SEAL_KEY_LEN, purpose,
                          strlen(purpose), out);
}

int ca_keyring_count(const ca_keyring_t *ring)
{
    return ring ? ring->nkeys : 0;
}

int ca_keyring_has_kid(const ca_keyring_t *ring, const char *kid)
{
    return ring != NULL && kid != NULL
           && ring_find(ring, kid, strlen(kid)) != NULL;
}

apr_status_t ca_keyring_set_current(ca_keyring_t *ring, const char *kid)
{
    const ring_key_t *k;

    if (ring == NULL || kid == NULL) {
        return APR_EINVAL;
    }
    k = ring_find(ring, kid, strlen(kid));
    if (k == NULL) {
        return APR_ENOENT;
    }
    ring->current = (int)(k - ring->keys);
    return APR_SUCCESS;
}

apr_status_t ca_keyring_new_line(apr_pool_t *p, const char *kid,
                                 const char **line)
{
    unsigned char key[CA_SEAL_KEY_LEN];
    char *enc;

    *line = NULL;
    if (!ca_kid_valid(kid)) {
        return APR_EINVAL;
    }
    if (ca_random_bytes(key, sizeof(key)) != APR_SUCCESS) {
        OPENSSL_cleanse(key, sizeof(key));
        return APR_EGENERAL;
    }
    enc = ca_b64url_encode(p, key, sizeof(key));
    OPENSSL_cleanse(key, sizeof(key));
    *line = apr_pstrcat(p, kid, " ", enc, NULL);
    OPENSSL_cleanse(enc, strlen(enc));
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * Sealing
 * ------------------------------------------------------------------------- */

/* Split "v1.<kid>.<blob>". Returns 0 if well formed (kid valid, blob canonical
 * base64url of at least nonce + tag), -1 if malformed, -2 for another
 * version ("v<digits>."). */
static int seal_split(const char *in, const char **kid, apr_size_t *kidlen,
                      const char **blob, apr_size_t *bloblen)
{
    const char *dot;
    apr_ssize_t n;

    if (in == NULL) {
        return -1;
    }
    if (strncmp(in, SEAL_VERSION, sizeof(SEAL_VERSION) - 1) != 0) {
        const char *s = in;

        if (*s++ == 'v' && *s >= '0' && *s <= '9') {
            while (*s >= '0' && *s <= '9') {
                s++;
            }
            if (*s == '.') {
                return -2;
            }
        }
        return -1;
    }
    *kid = in + sizeof(SEAL_VERSION) - 1;
    dot = strchr(*kid, '.');
    if (dot == NULL) {
        return -1;
    }
    *kidlen = (apr_size_t)(dot - *kid);
    if (!kid_valid_n(*kid, *kidlen)) {
        return -1;
    }
    *blob = dot + 1;
    *bloblen = strlen(*blob);
    n = b64u_decode_into(*blob, *bloblen, NULL);
    if (n < (apr_ssize_t)SEAL_OVERHEAD) {
        return -1;
    }
    return 0;
}

const char *ca_sealed_kid(apr_pool_t *p, const char *in)
{
    const char *kid, *blob;
    apr_size_t kidlen, bloblen;

    if (seal_split(in, &kid, &kidlen, &blob, &bloblen) != 0) {
        return NULL;
    }
    return apr_pstrmemdup(p, kid, kidlen);
}

apr_status_t ca_seal(apr_pool_t *p, const ca_keyring_t *ring, const char *aad,
                     const void *plaintext, apr_size_t len, const char **out)
{
    const ring_key_t *k;
    unsigned char *blob;
    apr_size_t aadlen = aad ? strlen(aad) : 0;
    EVP_CIPHER_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    int outl = 0;
    apr_status_t rv = APR_EGENERAL;

    if (out == NULL) {
        return APR_EINVAL;
    }
    *out = NULL;
    if (ring == NULL || ring->nkeys == 0 || len > CA_SEAL_MAX_PLAIN
        || aadlen > INT_MAX || (plaintext == NULL && len > 0)) {
        return APR_EINVAL;
    }
    k = &ring->keys[ring->current];
    blob = apr_palloc(p, SEAL_OVERHEAD + len);
    if (ca_random_bytes(blob, CA_SEAL_NONCE_LEN) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL
        || EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), k->key, blob, NULL) != 1) {
        goto done;
    }
    if (aadlen > 0
        && EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad,
                             (int)aadlen) != 1) {
        goto done;
    }
    if (len > 0
        && (EVP_EncryptUpdate(ctx, blob + CA_SEAL_NONCE_LEN, &outl, plaintext,
                              (int)len) != 1
            || (apr_size_t)outl != len)) {
        goto done;
    }
    if (EVP_EncryptFinal_ex(ctx, blob + CA_SEAL_NONCE_LEN + len, &outl) != 1
        || outl != 0) {
        goto done;
    }
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                  blob + CA_SEAL_NONCE_LEN + len,
                                                  CA_SEAL_TAG_LEN);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_CIPHER_CTX_get_params(ctx, params) != 1) {
        goto done;
    }
    *out = apr_pstrcat(p, SEAL_VERSION, k->kid, ".",
                       ca_b64url_encode(p, blob, SEAL_OVERHEAD + len), NULL);
    rv = APR_SUCCESS;
done:
    EVP_CIPHER_CTX_free(ctx);
    if (rv != APR_SUCCESS) {
        /* the ciphertext area may hold partial output; wipe all of it */
        OPENSSL_cleanse(blob, SEAL_OVERHEAD + len);
    }
    return rv;
}

apr_status_t ca_open(apr_pool_t *p, const ca_keyring_t *ring, const char *aad,
                     const char *in, char **plain, apr_size_t *plen,
                     const char **perr)
{
    const char *kid, *b64;
    apr_size_t kidlen, b64len, bloblen, ctlen;
    apr_size_t aadlen = aad ? strlen(aad) : 0;
    const ring_key_t *k;
    unsigned char *blob = NULL, *pt = NULL;
    apr_ssize_t n;
    EVP_CIPHER_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    int outl = 0, split;
    const char *err = NULL;
    apr_status_t rv = APR_EGENERAL;

    if (plain == NULL) {
        return APR_EINVAL;
    }
    *plain = NULL;
    if (plen) {
        *plen = 0;
    }
    if (perr) {
        *perr = NULL;
    }
    if (ring == NULL || ring->nkeys == 0) {
        if (perr) {
            *perr = "no keyring configured";
        }
        return APR_EINVAL;
    }
    split = seal_split(in, &kid, &kidlen, &b64, &b64len);
    if (split != 0) {
        if (perr) {
            *perr = split == -2 ? "sealed value has an unsupported version"
                                : "sealed value is malformed";
        }
        return APR_EINVAL;
    }
    k = ring_find(ring, kid, kidlen);
    if (k == NULL) {
        if (perr) {
            *perr = apr_psprintf(p, "unknown key id '%.*s' (not in the key file)",
                                 (int)kidlen, kid);
        }
        return APR_ENOENT;
    }
    if (aadlen > INT_MAX || b64len / 4 * 3 > CA_SEAL_MAX_PLAIN + SEAL_OVERHEAD) {
        if (perr) {
            *perr = "sealed value is too large";
        }
        return APR_EINVAL;
    }
    blob = apr_palloc(p, b64len / 4 * 3 + 3);
    n = b64u_decode_into(b64, b64len, blob);
    bloblen = (apr_size_t)n;
    ctlen = bloblen - SEAL_OVERHEAD;
    pt = apr_palloc(p, ctlen + 1);

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                  blob + CA_SEAL_NONCE_LEN + ctlen,
                                                  CA_SEAL_TAG_LEN);
    params[1] = OSSL_PARAM_construct_end();
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL
        || EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), k->key, blob, NULL) != 1
        || EVP_CIPHER_CTX_set_params(ctx, params) != 1) {
        err = "cipher setup failed";
        goto done;
    }
    if (aadlen > 0
        && EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad,
                             (int)aadlen) != 1) {
        err = "cipher failure";
        goto done;
    }
    if (ctlen > 0
        && (EVP_DecryptUpdate(ctx, pt, &outl, blob + CA_SEAL_NONCE_LEN,
                              (int)ctlen) != 1
            || (apr_size_t)outl != ctlen)) {
        err = "cipher failure";
        goto done;
    }
    if (EVP_DecryptFinal_ex(ctx, pt + ctlen, &outl) != 1) {
        err = "authentication failed (wrong key or context, or tampered value)";
        goto done;
    }
    pt[ctlen] = '\0';
    *plain = (char *)pt;
    if (plen) {
        *plen = ctlen;
    }
    rv = APR_SUCCESS;
done:
    EVP_CIPHER_CTX_free(ctx);
    if (rv != APR_SUCCESS) {
        if (pt != NULL) {
            OPENSSL_cleanse(pt, ctlen + 1);
        }
        if (perr) {
            *perr = err;
        }
    }
    return rv;
}

/* ---------------------------------------------------------------------------
 * Logging help
 * ------------------------------------------------------------------------- */

const char *ca_mask_secret(apr_pool_t *p, const char *s)
{
    apr_size_t n, i;

    if (s == NULL) {
        return ELLIPSIS;
    }
    n = strlen(s);
    if (n < 12) {
        return ELLIPSIS;
    }
    for (i = n - 4; i < n; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            return ELLIPSIS;
        }
    }
    return apr_pstrcat(p, ELLIPSIS, s + n - 4, NULL);
}
