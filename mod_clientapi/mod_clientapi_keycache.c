/* mod_clientapi: the key cache (ClientAPIKeyCache), so that authenticating a caller needs no
 * SQL in steady state, and the connection-credential cache of each process.
 *
 * What authentication reads from the database (ca_store_endpoint_by_key: the endpoint, its
 * scope, mode, status, expiry, IP allow list, the matched key's grace expiry, the connection's
 * provider and status) is kept in a mod_socache instance, keyed by the key's hash (never the
 * key), together with the connection's credential as it is stored (sealed; the key file never
 * leaves the process). shmcb by default (this node's processes), memcache or redis for several
 * nodes sharing one cache.
 *
 * Invalidation is a generation number kept in the cache itself: every change that affects
 * authentication (dashboard: deactivate, activate, reissue, delete; connections: connect,
 * reconnect, disconnect, status changes, token renewals) bumps it with ca_keycache_invalidate()
 * after the database change is committed, and an entry counts only while it carries the current
 * generation. A request reads the generation before it reads the database, and stamps what it
 * caches with that generation, so a change that commits meanwhile is never hidden. With shmcb
 * the generation is this node's: other nodes and the `clientapi` command rely on the entry's
 * lifetime (ttl=); with memcache or redis every node sees the bump at once.
 *
 * Entries are trusted for ttl= seconds after they were read from the database. After that they
 * are read again; only when the database cannot answer is a stale entry of the current
 * generation still used, for at most stale= more seconds (cached endpoints keep serving while
 * the database is down). Unknown key hashes are never cached (a key created on another process
 * or node works at once); guessing is limited by ClientAPIAuthFailLimit.
 *
 * Each process also keeps the decrypted credential of recently used connections (a small
 * direct-mapped table, malloc'd and wiped on replacement), valid for the generation it was
 * read in, so that a steady request needs neither SQL nor an AES-GCM open for its token.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_socache.h"
#include "apr_strings.h"
#include "apr_global_mutex.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"

#include "mod_clientapi.h"
#include "mod_clientapi_api.h"
#include "ca_conn.h"
#include "ca_crypto.h"

#define KC_MUTEX          "clientapi-keycache"
#define KC_DEFAULT_TTL    60        /* s an entry is trusted */
#define KC_DEFAULT_STALE  3600      /* s a stale entry serves while the database is down */
#define KC_GEN_ID         "clientapi:gen"
#define KC_GEN_LIFE       604800    /* the generation's own expiry (recreated afresh after) */
#define KC_MAX_ENTRY      8192      /* largest entry stored or read back */
#define KC_TOUCH_EVERY    60        /* mod_clientapi_log.c writes last_used_at this often */
#define KC_MAGIC          "CAK2"
#define KC_MAC_PURPOSE    "clientapi key cache entries v1"
#define KC_MAC_HEX        (2 * CA_SHA256_LEN)
#define KC_CRED_SLOTS     256       /* per-process credential table (direct-mapped) */

static ca_socache_t kc = {
    .name = KC_MUTEX, .what = "key cache", .hint = ", or ClientAPIKeyCache off"
};
static unsigned char kc_local_key[CA_SHA256_LEN];   /* without a key file: this server's */
/* The entry MAC key of this process, derived once at child_init (not on every request) for
 * the main server's keyring (kc_mac_ring; NULL: kc_local_key). Other keyrings derive per call. */
static ca_hmac_key_t *kc_mac_key;
static const ca_keyring_t *kc_mac_ring;

/* ---- configuration ------------------------------------------------------------------ */

int ca_keycache_ttl(const ca_server_conf *sc)
{
    return sc->keycache_ttl != CA_UNSET ? sc->keycache_ttl : KC_DEFAULT_TTL;
}

static int conf_stale(const ca_server_conf *sc)
{
    return sc->keycache_stale != CA_UNSET ? sc->keycache_stale : KC_DEFAULT_STALE;
}

static int conf_on(const ca_server_conf *sc)
{
    return kc.inst && !(sc->keycache && !strcmp(sc->keycache, "off"));
}

void ca_keycache_pre_config(apr_pool_t *pconf)
{
    ca_socache_pre_config(pconf, KC_MUTEX);
}

/* The spec a server's cache is made from ("shmcb" when none is configured). */
static const char *spec_of(const ca_server_conf *sc)
{
    return sc->keycache ? sc->keycache : "shmcb";
}

apr_status_t ca_keycache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    ca_server_conf *sc = ap_get_module_config(s->module_config, &clientapi_module);
    struct ap_socache_hints hints = { 80, 1024, apr_time_from_sec(KC_DEFAULT_TTL) };
    server_rec *vs;
    apr_status_t rv;

    /* the first pass of a start only checks the configuration */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return APR_SUCCESS;
    }
    /* one cache for the whole server: a virtual host may turn it off or change ttl=/stale=,
     * not name another one */
    for (vs = s->next; vs; vs = vs->next) {
        ca_server_conf *vc = ap_get_module_config(vs->module_config, &clientapi_module);
        if (vc->keycache && strcmp(vc->keycache, "off")
            && strcmp(spec_of(vc), spec_of(sc))) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, vs, CA_LOGNO(01001)
                         "ClientAPIKeyCache: '%s' in a virtual host differs from the server's "
                         "'%s': the cache is server-wide (a virtual host may only use 'off', "
                         "ttl= and stale=)", vc->keycache, spec_of(sc));
            return APR_EINVAL;
        }
    }
    if (sc->keycache && !strcmp(sc->keycache, "off")) {
        return APR_SUCCESS;
    }
    /* a memcache or redis cache was made by the directive; shmcb is made here */
    rv = ca_socache_setup(&kc, sc->keycache_prov, sc->keycache_inst, &hints, pconf, ptemp, s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (ca_random_bytes(kc_local_key, sizeof(kc_local_key)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, CA_LOGNO(01011)
                     "key cache: no random bytes for its entry key");
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* ---- the per-process credential table ------------------------------------------------ */

typedef struct {
    apr_int64_t conn;                   /* 0: empty */
    apr_uint64_t gen;
    apr_int64_t valid_until;            /* read from the database at most ttl= before */
    apr_int64_t expires_at;
    char *cred;                         /* malloc'd, wiped before free */
    char *tenant;
} kc_slot_t;

static kc_slot_t kc_slots[KC_CRED_SLOTS];
#if APR_HAS_THREADS
static apr_thread_mutex_t *kc_slot_mutex;
#endif

static void slot_clear(kc_slot_t *sl)
{
    if (sl->cred) {
        ca_cleanse(sl->cred, strlen(sl->cred));
        free(sl->cred);
    }
    free(sl->tenant);
    memset(sl, 0, sizeof(*sl));
}

static apr_status_t slots_cleanup(void *data)
{
    int i;

    for (i = 0; i < KC_CRED_SLOTS; i++) {
        slot_clear(&kc_slots[i]);
    }
    return APR_SUCCESS;
}

static void slots_lock(void)
{
#if APR_HAS_THREADS
    if (kc_slot_mutex) {
        apr_thread_mutex_lock(kc_slot_mutex);
    }
#endif
}

static void slots_unlock(void)
{
#if APR_HAS_THREADS
    if (kc_slot_mutex) {
        apr_thread_mutex_unlock(kc_slot_mutex);
    }
#endif
}

static apr_status_t mac_key_cleanup(void *data)
{
    (void)data;
    kc_mac_key = NULL;          /* freed by its own cleanup on the same pool */
    kc_mac_ring = NULL;
    return APR_SUCCESS;
}

/* The entry MAC key of the main server, once per process (still single-threaded here). */
static void mac_key_init(apr_pool_t *pchild, server_rec *s)
{
    ca_server_conf *sc = ap_get_module_config(s->module_config, &clientapi_module);
    unsigned char key[CA_SHA256_LEN];

    if (sc->keyring) {
        if (ca_keyring_derive(sc->keyring, KC_MAC_PURPOSE, key) != APR_SUCCESS) {
            return;
        }
    }
    else {
        memcpy(key, kc_local_key, sizeof(key));
    }
    if (ca_hmac_key_create(pchild, key, sizeof(key), &kc_mac_key) == APR_SUCCESS) {
        kc_mac_ring = sc->keyring;
        apr_pool_cleanup_register(pchild, NULL, mac_key_cleanup, apr_pool_cleanup_null);
    }
    ca_cleanse(key, sizeof(key));
}

void ca_keycache_child_init(apr_pool_t *pchild, server_rec *s)
{
    ca_crypto_process_init(pchild);     /* SHA-256 and HMAC fetched once per process */
    mac_key_init(pchild, s);
#if APR_HAS_THREADS
    apr_thread_mutex_create(&kc_slot_mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
#endif
    apr_pool_cleanup_register(pchild, NULL, slots_cleanup, apr_pool_cleanup_null);
    ca_socache_child_init(&kc, pchild, s);
}

/* ---- the shared cache: locking, generation ------------------------------------------- */

static apr_status_t kc_get(request_rec *r, const char *id, unsigned char *buf,
                           unsigned int *len)
{
    return kc.provider->retrieve(kc.inst, r->server, (const unsigned char *)id,
                                 (unsigned int)strlen(id), buf, len, r->pool);
}

static apr_status_t kc_put(request_rec *r, const char *id, apr_time_t expiry, const char *val,
                           apr_size_t len)
{
    return kc.provider->store(kc.inst, r->server, (const unsigned char *)id,
                              (unsigned int)strlen(id), expiry, (unsigned char *)val,
                              (unsigned int)len, r->pool);
}

/* The current generation (locked by the caller); created when missing. Generations are times
 * in microseconds, so one recreated after an eviction never repeats an earlier one. */
static apr_uint64_t gen_locked(request_rec *r, int bump)
{
    unsigned char buf[32];
    unsigned int len = sizeof(buf) - 1;
    apr_uint64_t gen = 0, now = (apr_uint64_t)apr_time_now();
    const char *val;

    if (kc_get(r, KC_GEN_ID, buf, &len) == APR_SUCCESS) {
        buf[len] = '\0';
        gen = apr_strtoi64((const char *)buf, NULL, 10);
    }
    if (gen && !bump) {
        return gen;
    }
    gen = gen + 1 > now ? gen + 1 : now;
    val = apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, gen);
    if (kc_put(r, KC_GEN_ID, apr_time_now() + apr_time_from_sec(KC_GEN_LIFE), val,
               strlen(val)) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(01007)
                      "key cache: the generation could not be stored");
        return 0;
    }
    return gen;
}

void ca_keycache_invalidate(request_rec *r)
{
    apr_uint64_t gen;

    if (!kc.inst || ca_socache_lock(&kc) != APR_SUCCESS) {
        return;
    }
    gen = gen_locked(r, 1);
    ca_socache_unlock(&kc);
    if (!gen) {
        /* the bump failed: the cache must not keep answering from what it holds */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(01008)
                      "key cache: invalidation failed; cached entries live until their ttl");
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, CA_LOGNO(01009)
                      "key cache invalidated (generation %" APR_UINT64_T_FMT ")", gen);
    }
}

/* ---- entries: "CAK1" then fields, each "<len>:<bytes>" or "-:" for NULL ------------------ */

typedef struct {
    apr_uint64_t gen;
    apr_int64_t stored_at;
    ca_endpoint_t ep;
    ca_keycache_cred_t cred;
} kc_entry_t;

#define KC_NFIELDS 30

static void put_str(apr_pool_t *p, struct iovec *v, int *n, const char *s)
{
    if (!s) {
        v[(*n)++].iov_base = "-:";
        v[*n - 1].iov_len = 2;
        return;
    }
    v[*n].iov_base = apr_psprintf(p, "%" APR_SIZE_T_FMT ":", strlen(s));
    v[*n].iov_len = strlen(v[*n].iov_base);
    (*n)++;
    v[*n].iov_base = (char *)s;
    v[*n].iov_len = strlen(s);
    (*n)++;
}

static const char *i64(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

/* Entries are authenticated (HMAC-SHA-256 over their id and body) with a key derived from the
 * key file, so that whoever can write to a shared memcached or redis cannot forge one. */
static int entry_mac(const ca_server_conf *sc, const char *id, const char *body,
                     apr_size_t len, char hex[KC_MAC_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char key[CA_SHA256_LEN], mac[CA_SHA256_LEN];
    char *msg;
    apr_size_t idlen = strlen(id);
    int i, ok;

    if (!(msg = malloc(idlen + 1 + len))) {
        return 0;
    }
    memcpy(msg, id, idlen);
    msg[idlen] = '\n';
    memcpy(msg + idlen + 1, body, len);
    if (kc_mac_key && sc->keyring == kc_mac_ring) {
        /* the usual case: this process's key, derived and scheduled at child_init */
        ok = ca_hmac_key_sha256(kc_mac_key, msg, idlen + 1 + len, mac) == APR_SUCCESS;
    }
    else if (sc->keyring
             && ca_keyring_derive(sc->keyring, KC_MAC_PURPOSE, key) != APR_SUCCESS) {
        ok = 0;
    }
    else {
        if (!sc->keyring) {
            memcpy(key, kc_local_key, sizeof(key));
        }
        ok = ca_hmac_sha256(key, sizeof(key), msg, idlen + 1 + len, mac) == APR_SUCCESS;
        ca_cleanse(key, sizeof(key));
    }
    free(msg);
    if (!ok) {
        return 0;
    }
    for (i = 0; i < CA_SHA256_LEN; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[KC_MAC_HEX] = '\0';
    return ok;
}

static char *entry_encode(apr_pool_t *p, const ca_server_conf *sc, const char *id,
                          const kc_entry_t *e, apr_size_t *len)
{
    struct iovec v[2 * KC_NFIELDS + 2];
    const ca_endpoint_t *ep = &e->ep;
    char *mac = apr_palloc(p, KC_MAC_HEX + 1), *body;
    apr_size_t blen;
    int n = 0;

    v[n].iov_base = KC_MAGIC;
    v[n++].iov_len = 4;
    v[n].iov_base = mac;
    v[n++].iov_len = KC_MAC_HEX;
    put_str(p, v, &n, apr_psprintf(p, "%" APR_UINT64_T_FMT, e->gen));
    put_str(p, v, &n, i64(p, e->stored_at));
    put_str(p, v, &n, i64(p, ep->id));
    put_str(p, v, &n, ep->public_id);
    put_str(p, v, &n, i64(p, ep->user_id));
    put_str(p, v, &n, i64(p, ep->connection_id));
    put_str(p, v, &n, ep->name);
    put_str(p, v, &n, ep->scope_kind);
    put_str(p, v, &n, ep->company_id);
    put_str(p, v, &n, ep->company_name);
    put_str(p, v, &n, ep->client_id);
    put_str(p, v, &n, ep->client_name);
    put_str(p, v, &n, ep->access_mode);
    put_str(p, v, &n, ep->status);
    put_str(p, v, &n, i64(p, ep->expires_at));
    put_str(p, v, &n, ep->ip_allow);
    put_str(p, v, &n, i64(p, ep->rate_limit));
    put_str(p, v, &n, i64(p, ep->managed_by_config));
    put_str(p, v, &n, i64(p, ep->last_used_at));
    put_str(p, v, &n, ep->provider);
    put_str(p, v, &n, ep->connection_status);
    put_str(p, v, &n, ep->account_id);
    put_str(p, v, &n, i64(p, ep->key_id));
    put_str(p, v, &n, ep->key_hint);
    put_str(p, v, &n, i64(p, ep->key_expires_at));
    put_str(p, v, &n, e->cred.field);
    put_str(p, v, &n, e->cred.sealed);
    put_str(p, v, &n, e->cred.tenant);
    put_str(p, v, &n, i64(p, e->cred.expires_at));
    put_str(p, v, &n, e->cred.status);
    body = apr_pstrcatv(p, v + 2, n - 2, &blen);
    if (!entry_mac(sc, id, body, blen, mac)) {
        return NULL;
    }
    return apr_pstrcatv(p, v, n, len);
}

/* The next field of [*s, end): a pool copy (NULL for "-:"); -1 when malformed. */
static int get_str(apr_pool_t *p, const char **s, const char *end, const char **out)
{
    const char *c = *s;
    apr_size_t n = 0;

    if (c < end && *c == '-') {
        if (c + 1 >= end || c[1] != ':') {
            return -1;
        }
        *out = NULL;
        *s = c + 2;
        return 0;
    }
    while (c < end && *c >= '0' && *c <= '9' && n < KC_MAX_ENTRY) {
        n = n * 10 + (apr_size_t)(*c++ - '0');
    }
    if (c >= end || *c != ':' || c == *s || (apr_size_t)(end - c - 1) < n) {
        return -1;
    }
    *out = apr_pstrmemdup(p, c + 1, n);
    *s = c + 1 + n;
    return 0;
}

static int get_i64(apr_pool_t *p, const char **s, const char *end, apr_int64_t *out)
{
    const char *v;

    if (get_str(p, s, end, &v) || !v) {
        return -1;
    }
    *out = apr_atoi64(v);
    return 0;
}

/* Per worker thread: the exact bytes (and id and key) of the last entry whose MAC checked
 * out. An entry read again unchanged, the usual case (entries change when stored and once a
 * minute for last_used_at), is authentic for the same reason it was then, so its HMAC is not
 * computed again; any other bytes are checked in full. */
typedef struct {
    const ca_keyring_t *ring;   /* the key it was checked with (NULL: kc_local_key) */
    char id[128];
    char *buf;                  /* malloc'd */
    apr_size_t len, cap;
} kc_seen_t;

static apr_status_t seen_cleanup(void *data)
{
    kc_seen_t *m = data;

    if (m->buf) {
        ca_cleanse(m->buf, m->cap);
        free(m->buf);
    }
    m->buf = NULL;
    m->len = m->cap = 0;
    return APR_SUCCESS;
}

static kc_seen_t *seen_of(request_rec *r)
{
    apr_thread_t *t = r->connection->current_thread;
    kc_seen_t *m = NULL;

    if (!t) {
        return NULL;
    }
    apr_thread_data_get((void **)&m, "clientapi-kc-seen", t);
    if (!m) {
        /* the thread's pool: freed (and the cleanup run) when the thread goes */
        m = apr_pcalloc(apr_thread_pool_get(t), sizeof(*m));
        apr_thread_data_set(m, "clientapi-kc-seen", seen_cleanup, t);
    }
    return m;
}

static int seen_match(const kc_seen_t *m, const ca_server_conf *sc, const char *id,
                      const char *buf, apr_size_t len)
{
    return m && m->len && m->len == len && m->ring == sc->keyring && !strcmp(m->id, id)
           && !memcmp(m->buf, buf, len);
}

static void seen_set(kc_seen_t *m, const ca_server_conf *sc, const char *id,
                     const char *buf, apr_size_t len)
{
    apr_size_t idlen = strlen(id);

    if (!m || idlen >= sizeof(m->id)) {
        return;
    }
    m->len = 0;
    if (len > m->cap) {
        char *nb = malloc(len);
        if (!nb) {
            return;
        }
        seen_cleanup(m);
        m->buf = nb;
        m->cap = len;
    }
    memcpy(m->id, id, idlen + 1);
    memcpy(m->buf, buf, len);
    m->ring = sc->keyring;
    m->len = len;
}

static int entry_decode(apr_pool_t *p, const ca_server_conf *sc, const char *id,
                        const char *buf, apr_size_t len, kc_seen_t *seen, kc_entry_t *e)
{
    const char *s = buf + 4 + KC_MAC_HEX, *end = buf + len, *g;
    char mac[KC_MAC_HEX + 1];
    ca_endpoint_t *ep = &e->ep;
    apr_int64_t v = 0;
    int bad = 0;

    memset(e, 0, sizeof(*e));
    if (len < 4 + KC_MAC_HEX || memcmp(buf, KC_MAGIC, 4)) {
        return -1;
    }
    if (!seen_match(seen, sc, id, buf, len)) {
        if (!entry_mac(sc, id, s, (apr_size_t)(end - s), mac)
            || !ca_ct_equal(mac, KC_MAC_HEX, buf + 4, KC_MAC_HEX)) {
            return -1;
        }
        seen_set(seen, sc, id, buf, len);
    }
    bad |= get_str(p, &s, end, &g);
    e->gen = g ? (apr_uint64_t)apr_strtoi64(g, NULL, 10) : 0;
    bad |= get_i64(p, &s, end, &e->stored_at);
    bad |= get_i64(p, &s, end, &ep->id);
    bad |= get_str(p, &s, end, &ep->public_id);
    bad |= get_i64(p, &s, end, &ep->user_id);
    bad |= get_i64(p, &s, end, &ep->connection_id);
    bad |= get_str(p, &s, end, &ep->name);
    bad |= get_str(p, &s, end, &ep->scope_kind);
    bad |= get_str(p, &s, end, &ep->company_id);
    bad |= get_str(p, &s, end, &ep->company_name);
    bad |= get_str(p, &s, end, &ep->client_id);
    bad |= get_str(p, &s, end, &ep->client_name);
    bad |= get_str(p, &s, end, &ep->access_mode);
    bad |= get_str(p, &s, end, &ep->status);
    bad |= get_i64(p, &s, end, &ep->expires_at);
    bad |= get_str(p, &s, end, &ep->ip_allow);
    bad |= get_i64(p, &s, end, &v);
    ep->rate_limit = (int)v;
    bad |= get_i64(p, &s, end, &v);
    ep->managed_by_config = (int)v;
    bad |= get_i64(p, &s, end, &ep->last_used_at);
    bad |= get_str(p, &s, end, &ep->provider);
    bad |= get_str(p, &s, end, &ep->connection_status);
    bad |= get_str(p, &s, end, &ep->account_id);
    bad |= get_i64(p, &s, end, &ep->key_id);
    bad |= get_str(p, &s, end, &ep->key_hint);
    bad |= get_i64(p, &s, end, &ep->key_expires_at);
    bad |= get_str(p, &s, end, &e->cred.field);
    bad |= get_str(p, &s, end, &e->cred.sealed);
    bad |= get_str(p, &s, end, &e->cred.tenant);
    bad |= get_i64(p, &s, end, &e->cred.expires_at);
    bad |= get_str(p, &s, end, &e->cred.status);
    if (bad || s != end || !ep->public_id || !ep->status || !ep->scope_kind
        || !ep->access_mode || !e->gen) {
        return -1;
    }
    return 0;
}

static const char *entry_id(request_rec *r, const char *key_hash)
{
    return apr_pstrcat(r->pool, "clientapi:k:", key_hash, NULL);
}

static apr_time_t entry_expiry(const ca_server_conf *sc, apr_int64_t stored_at)
{
    return apr_time_from_sec(stored_at + ca_keycache_ttl(sc) + conf_stale(sc) + 1);
}

/* ---- the request path ---------------------------------------------------------------- */

int ca_keycache_lookup(request_rec *r, ca_api_req_t *q, const char *key_hash,
                       const ca_endpoint_t **ep)
{
    apr_int64_t now = apr_time_sec(q->start);
    unsigned char *buf;
    unsigned int len = KC_MAX_ENTRY;
    const char *id;
    kc_entry_t *e;
    apr_status_t rv;
    apr_uint64_t gen;
    int fresh, touch = 0;
    kc_seen_t *seen;

    *ep = NULL;
    q->cache_gen = 0;
    q->cache_cred = NULL;
    if (!conf_on(q->sc)) {
        return CA_KEYCACHE_MISS;
    }
    seen = seen_of(r);
    if (ca_socache_lock(&kc) != APR_SUCCESS) {
        return CA_KEYCACHE_MISS;
    }
    q->cache_gen = gen = gen_locked(r, 0);
    if (!gen) {
        ca_socache_unlock(&kc);
        return CA_KEYCACHE_MISS;
    }
    id = entry_id(r, key_hash);
    buf = apr_palloc(r->pool, KC_MAX_ENTRY);
    rv = kc_get(r, id, buf, &len);
    e = apr_palloc(r->pool, sizeof(*e));
    if (rv != APR_SUCCESS || entry_decode(r->pool, q->sc, id, (const char *)buf, len, seen, e)
        || e->gen != gen) {
        ca_socache_unlock(&kc);
        return CA_KEYCACHE_MISS;
    }
    e->cred.read_at = e->stored_at;
    fresh = now >= e->stored_at && now < e->stored_at + ca_keycache_ttl(q->sc);
    if (fresh && e->ep.last_used_at <= now - KC_TOUCH_EVERY) {
        /* this request writes last_used_at (mod_clientapi_log.c reads the value it was
         * given): the entry records the write, so that the others of the minute do not */
        apr_size_t elen;
        const char *enc;
        apr_int64_t used = e->ep.last_used_at;

        e->ep.last_used_at = now;
        if ((enc = entry_encode(r->pool, q->sc, id, e, &elen))) {
            kc_put(r, id, entry_expiry(q->sc, e->stored_at), enc, elen);
        }
        e->ep.last_used_at = used;
        touch = 1;
    }
    ca_socache_unlock(&kc);
    if (e->ep.key_expires_at && e->ep.key_expires_at <= now) {
        /* a reissued key's grace period ended: the key is refused, as the database would */
        return CA_KEYCACHE_MISS;
    }
    q->cache_cred = e->cred.sealed ? &e->cred : NULL;
    *ep = &e->ep;
    ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, CA_LOGNO(01010) "key cache %s for %s%s",
                  fresh ? "hit" : "stale entry", e->ep.public_id, touch ? " (touch)" : "");
    return fresh ? CA_KEYCACHE_HIT : CA_KEYCACHE_STALE;
}

void ca_keycache_store(request_rec *r, ca_api_req_t *q, const char *key_hash,
                       ca_endpoint_t *ep)
{
    apr_int64_t now = apr_time_sec(q->start);
    const ca_provider_t *prov;
    ca_connection_t *c = NULL;
    const char *enc, *err = NULL, *id = entry_id(r, key_hash);
    apr_size_t len;
    kc_entry_t e;

    if (!q->cache_gen || !conf_on(q->sc)) {
        return;
    }
    memset(&e, 0, sizeof(e));
    e.gen = q->cache_gen;
    e.stored_at = now;
    e.ep = *ep;
    if (e.ep.last_used_at <= now - KC_TOUCH_EVERY) {
        e.ep.last_used_at = now;        /* this request writes it (see above) */
    }
    /* the connection's credential, sealed as stored, so that any process can serve */
    prov = ep->provider ? apr_hash_get(q->sc->providers, ep->provider, APR_HASH_KEY_STRING)
                        : NULL;
    if (prov && q->have_db
        && ca_store_connection_get(r->pool, &q->db, ep->connection_id, &c, &err)
           == APR_SUCCESS) {
        if (prov->auth.mode == CA_AUTH_API_KEY) {
            e.cred.field = "api_key";
            e.cred.sealed = c->api_key_enc;
        }
        else {
            e.cred.field = "access_token";
            e.cred.sealed = c->access_token_enc;
            e.cred.expires_at = c->expires_at;
        }
        e.cred.tenant = c->tenant_id;
        e.cred.status = c->status;
        e.cred.read_at = now;
        if (!e.cred.sealed || !*e.cred.sealed) {
            e.cred.field = e.cred.sealed = e.cred.tenant = e.cred.status = NULL;
            e.cred.expires_at = 0;
        }
    }
    enc = entry_encode(r->pool, q->sc, id, &e, &len);
    if (!enc || len > KC_MAX_ENTRY) {
        return;
    }
    q->cache_cred = e.cred.sealed ? apr_pmemdup(r->pool, &e.cred, sizeof(e.cred)) : NULL;
    if (ca_socache_lock(&kc) != APR_SUCCESS) {
        return;
    }
    /* storing is always safe: the generation is compared at read time */
    kc_put(r, id, entry_expiry(q->sc, now), enc, len);
    /* shmcb makes room by dropping the oldest stored items: the generation is stored again
     * after every entry, so that it is never the oldest (losing it invalidates everything).
     * Only where the global mutex covers every writer: with memcache or redis another node
     * may bump it meanwhile, and their LRU eviction keeps an item read by every call anyway */
    if (kc.mutex && gen_locked(r, 0) == q->cache_gen) {
        const char *val = apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, q->cache_gen);
        kc_put(r, KC_GEN_ID, apr_time_now() + apr_time_from_sec(KC_GEN_LIFE), val,
               strlen(val));
    }
    ca_socache_unlock(&kc);
}

/* ---- connection credentials of this process -------------------------------------------- */

static kc_slot_t *slot_of(apr_int64_t conn)
{
    return &kc_slots[(apr_uint64_t)conn % KC_CRED_SLOTS];
}

int ca_keycache_cred_get(request_rec *r, ca_api_req_t *q, const char **cred,
                         const char **tenant, apr_int64_t *expires_at)
{
    apr_int64_t conn = q->ep->connection_id, now = apr_time_sec(apr_time_now());
    kc_slot_t *sl;
    const ca_keycache_cred_t *cc = q->cache_cred;
    char *plain = NULL;
    const char *err = NULL;

    if (!q->cache_gen || !conn) {
        return 0;
    }
    slots_lock();
    sl = slot_of(conn);
    if (sl->conn == conn && sl->gen == q->cache_gen && now < sl->valid_until) {
        *cred = apr_pstrdup(r->pool, sl->cred);
        *tenant = sl->tenant ? apr_pstrdup(r->pool, sl->tenant) : NULL;
        *expires_at = sl->expires_at;
        slots_unlock();
        return 1;
    }
    slots_unlock();
    if (!cc || !cc->sealed || !cc->status || strcmp(cc->status, "active") || !q->sc->keyring) {
        return 0;
    }
    if (ca_conn_open(r->pool, q->sc->keyring, conn, cc->field, cc->sealed, &plain, &err)
        != APR_SUCCESS) {
        return 0;                       /* the database path reports it */
    }
    *cred = plain;
    *tenant = cc->tenant;
    *expires_at = cc->expires_at;
    ca_keycache_cred_put(r, q, plain, cc->tenant, cc->expires_at, cc->read_at);
    return 1;
}

void ca_keycache_cred_put(request_rec *r, ca_api_req_t *q, const char *cred,
                          const char *tenant, apr_int64_t expires_at, apr_int64_t read_at)
{
    apr_int64_t conn = q->ep->connection_id;
    kc_slot_t *sl;
    char *c, *t = NULL;

    if (!q->cache_gen || !conn || !cred) {
        return;
    }
    if (!(c = strdup(cred)) || (tenant && !(t = strdup(tenant)))) {
        free(c);
        return;
    }
    slots_lock();
    sl = slot_of(conn);
    slot_clear(sl);
    sl->conn = conn;
    sl->gen = q->cache_gen;
    sl->valid_until = read_at + ca_keycache_ttl(q->sc);
    sl->expires_at = expires_at;
    sl->cred = c;
    sl->tenant = t;
    slots_unlock();
}
