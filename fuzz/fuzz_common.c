/*
 * fuzz_common.c - pools and helpers shared by the fuzz targets (see fuzz_common.h).
 *
 * apr_palloc is defined here, so the fuzz binary's definition wins over
 * libapr's for every caller: the core objects linked in, and libapr itself
 * (its internal calls go through the PLT).  Each allocation is a separate
 * malloc block recorded in a per-pool list; a cleanup registered on the pool
 * before any other (at its first allocation) frees the list.  Cleanups run
 * last-registered first, so this one runs after every cleanup that could
 * still read pool memory.  apr_psprintf and friends still write into the
 * pool's own blocks (they do not call apr_palloc); that is harmless, just
 * less precise.  Not thread-safe: the targets are single-threaded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "fuzz_common.h"

apr_pool_t *fz_root;

typedef void *(*palloc_fn)(apr_pool_t *, apr_size_t);

typedef struct chunks_t {
    apr_pool_t *pool;
    void **v;
    size_t n, cap;
    struct chunks_t *next;
} chunks_t;

static palloc_fn real_palloc;
static chunks_t *live;           /* pools that have blocks (reachable: no leak) */
static chunks_t *last;           /* lookup cache */
static int in_real;
static int use_blocks = -1;      /* CA_FUZZ_POOL_BLOCKS=1: APR's allocator */

static apr_status_t free_chunks(void *data)
{
    chunks_t *c = data, **pp;
    size_t i;

    for (i = 0; i < c->n; i++) {
        free(c->v[i]);
    }
    free(c->v);
    for (pp = &live; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (last == c) {
        last = NULL;
    }
    free(c);
    return APR_SUCCESS;
}

static chunks_t *chunks_of(apr_pool_t *p)
{
    chunks_t *c;

    if (last != NULL && last->pool == p) {
        return last;
    }
    for (c = live; c != NULL; c = c->next) {
        if (c->pool == p) {
            return last = c;
        }
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        abort();
    }
    c->pool = p;
    c->next = live;
    live = c;
    /* this registration's own record comes from the real apr_palloc */
    in_real = 1;
    apr_pool_cleanup_register(p, c, free_chunks, apr_pool_cleanup_null);
    in_real = 0;
    return last = c;
}

void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    chunks_t *c;
    void *m;

    if (real_palloc == NULL) {
        real_palloc = (palloc_fn)dlsym(RTLD_NEXT, "apr_palloc");
        if (real_palloc == NULL) {
            abort();
        }
    }
    if (use_blocks < 0) {
        const char *e = getenv("CA_FUZZ_POOL_BLOCKS");

        use_blocks = e != NULL && strcmp(e, "1") == 0;
    }
    if (in_real || use_blocks) {
        return real_palloc(p, size);
    }
    c = chunks_of(p);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        void **v = realloc(c->v, cap * sizeof(*v));

        if (v == NULL) {
            abort();
        }
        c->v = v;
        c->cap = cap;
    }
    m = malloc(size ? size : 1);
    if (m == NULL) {
        abort();
    }
    c->v[c->n++] = m;
    return m;
}

void fz_init(void)
{
    if (fz_root != NULL) {
        return;
    }
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&fz_root, NULL) != APR_SUCCESS) {
        fprintf(stderr, "fuzz: cannot initialise APR\n");
        abort();
    }
}

apr_pool_t *fz_input_begin(void)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, fz_root) != APR_SUCCESS) {
        abort();
    }
    return p;
}

void fz_input_end(apr_pool_t *p)
{
    apr_pool_destroy(p);
}

char *fz_cstr(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *s = apr_palloc(p, size + 1);

    if (size > 0) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

int fz_known(const char *id)
{
    const char *list = getenv("CA_FUZZ_KNOWN"), *s;
    size_t n = strlen(id);

    for (s = list; s != NULL && (s = strstr(s, id)) != NULL; s += n) {
        if ((s == list || s[-1] == ',' || s[-1] == ' ') && (s[n] == '\0' || s[n] == ','
                                                             || s[n] == ' ')) {
            return 1;
        }
    }
    return 0;
}
