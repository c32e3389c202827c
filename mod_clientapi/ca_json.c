/*
 * ca_json.c - JSON layer: cJSON behind pool-owned opaque handles, a strict
 * validating scanner (limits, UTF-8, exact error offsets) and a fast
 * skipper that yields the original byte span of values.
 *
 * Parsing runs the strict scanner first, then cJSON on the same bytes.
 * cJSON alone is lenient (leading zeros, "1.", raw control characters,
 * invalid UTF-8, \u0000 truncating strings); after the scanner accepted a
 * text both agree on its structure, which is what lets span i of an array
 * describe element i of the tree.
 */
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>

#include <apr_strings.h>

#include <cjson/cJSON.h>

#include "ca_json.h"

#define J(x) ((cJSON *)(x))
#define H(x) ((ca_json_t *)(x))

struct ca_json_doc_t {
    apr_pool_t *pool;
    cJSON *root;               /* NULL until built (ca_json_scan) */
    const unsigned char *text;
    apr_size_t len;
    apr_size_t start;          /* first byte after an optional BOM */
    int has_nul;
    apr_array_header_t *cidx;  /* cidx_t of large containers, by start */
    /* ca_json_scan_records: elements of the array at the wanted path */
    int nkeys;
    int found;                 /* values met at the end of the path */
    apr_size_t arr;            /* offset of the first (the one collected) */
    apr_array_header_t *recs;  /* ca_json_span_t */
    apr_array_header_t *members;   /* ca_json_member_t, nkeys per record */
};

/*
 * Container index: the scanner notes where every array/object of at least
 * CA_JSON_IDX_MIN bytes ends, so that later skips over records (or over a
 * whole records array) are a binary search instead of a re-scan.  Entries
 * are in order of their start (pre-order), at most len / CA_JSON_IDX_MIN.
 */
typedef struct {
    apr_size_t start;
    apr_size_t end;            /* offset just past the closing bracket */
} cidx_t;

#define CA_JSON_IDX_MIN 64

/* Bytes that end the fast path inside a string while validating:
 * '"', '\\', control characters and non-ASCII. */
static APR_INLINE int str_attn(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

/* Bytes that matter when skipping validated text. */
static APR_INLINE int quote_attn(unsigned char c)
{
    return c == '"' || c == '\\';
}

static APR_INLINE int struct_attn(unsigned char c)
{
    return c == '"' || c == '{' || c == '}' || c == '[' || c == ']';
}

/*
 * Word-at-a-time tests over 8 bytes (exact: no false negatives).  Macros
 * rather than functions so that unoptimized builds stay fast too.
 */
#define CA_ONES  0x0101010101010101ULL
#define CA_HIGHS 0x8080808080808080ULL

/* some byte of v is zero / equals b / is below b (b <= 128) */
#define HAS_ZERO(v)    (((v) - CA_ONES) & ~(v) & CA_HIGHS)
#define HAS_BYTE(v, b) HAS_ZERO((v) ^ (CA_ONES * (unsigned char)(b)))
#define HAS_LESS(v, b) (((v) - CA_ONES * (b)) & ~(v) & CA_HIGHS)

static APR_INLINE uint64_t load64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/*
 * Index of the first flagged byte of a non-zero mask from the tests above
 * (the lowest flag is always exact; higher ones may be false).  Big-endian
 * hosts answer 0 and let the byte loop find it.
 */
static APR_INLINE apr_size_t first_flag(uint64_t mask)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (apr_size_t)(__builtin_ctzll(mask) >> 3);
#else
    (void)mask;
    return 0;
#endif
}

/* 2^53: integers strictly inside +-2^53 are exact in a double. */
#define CA_JSON_SAFE_INT 9007199254740992.0

/* ------------------------------------------------------------------ */
/* pool ownership                                                      */
/* ------------------------------------------------------------------ */

static apr_status_t tree_cleanup(void *data)
{
    cJSON_Delete((cJSON *)data);
    return APR_SUCCESS;
}

static void own(apr_pool_t *p, cJSON *root)
{
    apr_pool_cleanup_register(p, root, tree_cleanup, apr_pool_cleanup_null);
}

/* ------------------------------------------------------------------ */
/* UTF-8 and escapes                                                   */
/* ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if
 * invalid (overlong, surrogate, above U+10FFFF, truncated). */
static apr_size_t utf8_seq(const unsigned char *s, apr_size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) {
            lo = 0xA0;
        }
        else if (c == 0xED) {
            hi = 0x9F;
        }
        return (n >= 3 && s[1] >= lo && s[1] <= hi
                && (s[2] & 0xC0) == 0x80) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) {
            lo = 0x90;
        }
        else if (c == 0xF4) {
            hi = 0x8F;
        }
        return (n >= 4 && s[1] >= lo && s[1] <= hi
                && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80) ? 4 : 0;
    }
    return 0;
}

long ca_utf8_chars(const char *s, apr_size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0, k;
    long chars = 0;

    while (i < len) {
        if (!(k = utf8_seq(u + i, len - i))) {
            return -1;
        }
        i += k;
        chars++;
    }
    return chars;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Four hex digits at s[i..i+3]; -1 if not available or not hex. */
static long hex4(const unsigned char *s, apr_size_t n, apr_size_t i)
{
    long v = 0;
    int k, h;

    if (i + 4 > n) {
        return -1;
    }
    for (k = 0; k < 4; k++) {
        h = hexval(s[i + k]);
        if (h < 0) {
            return -1;
        }
        v = (v << 4) | h;
    }
    return v;
}

static apr_size_t utf8_encode(unsigned long cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------ */
/* strict scanner                                                      */
/* ------------------------------------------------------------------ */

typedef struct {
    const unsigned char *s;
    apr_size_t n;
    apr_size_t i;
    int depth;
    int max_depth;
    int has_nul;
    int esc;                            /* the last string had an escape */
    const char *why;
    apr_array_header_t *cidx;
    /* ca_json_scan_records: the records array and its elements' members */
    const ca_json_want_t *want;         /* NULL: validate only */
    int nsegs;                          /* object keys from the root to it */
    const char *segs[CA_JSON_WANT_MAX_SEGS];
    apr_size_t seglens[CA_JSON_WANT_MAX_SEGS];
    int found;                          /* values met at the end of the path */
    apr_size_t arr;                     /* offset of the first of them */
    apr_array_header_t *recs;           /* ca_json_span_t of its elements */
    apr_array_header_t *members;        /* ca_json_member_t, want->nkeys each */
} scan_t;

/*
 * What a value is to the collection of ca_json_scan_records: SCAN_TAG_NONE
 * (nothing), SCAN_TAG_RECORD (an element of the records array), or k >= 0:
 * the first k segments of the path lead to it (k == nsegs: the array).
 */
#define SCAN_TAG_NONE   (-1)
#define SCAN_TAG_RECORD (-2)

#define SCAN_FAIL(sc, pos, msg) \
    do { (sc)->i = (pos); (sc)->why = (msg); return -1; } while (0)

static APR_INLINE int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static APR_INLINE void skip_ws(scan_t *sc)
{
    while (sc->i < sc->n && is_ws(sc->s[sc->i])) {
        sc->i++;
    }
}

static int scan_string(scan_t *sc, int is_key)
{
    const unsigned char *s = sc->s;
    apr_size_t n = sc->n, i = sc->i + 1, k;
    long cp, lo;

    for (;;) {
        unsigned char c;

        while (i + 8 <= n) {
            uint64_t w = load64(s + i);
            uint64_t m = (w & CA_HIGHS) | HAS_LESS(w, 0x20)
                         | HAS_BYTE(w, '"') | HAS_BYTE(w, '\\');

            if (m) {
                i += first_flag(m);
                break;
            }
            i += 8;
        }
        while (i < n && !str_attn(s[i])) {
            i++;
        }
        if (i >= n) {
            SCAN_FAIL(sc, i, "unterminated string");
        }
        c = s[i];
        if (c == '"') {
            sc->i = i + 1;
            return 0;
        }
        if (c == '\\') {
            sc->esc = 1;
            if (i + 1 >= n) {
                SCAN_FAIL(sc, i, "unterminated string");
            }
            switch (s[i + 1]) {
            case '"': case '\\': case '/': case 'b':
            case 'f': case 'n': case 'r': case 't':
                i += 2;
                continue;
            case 'u':
                cp = hex4(s, n, i + 2);
                if (cp < 0) {
                    SCAN_FAIL(sc, i, "invalid \\u escape");
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    SCAN_FAIL(sc, i, "unpaired UTF-16 surrogate");
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    k = i + 6;
                    if (k + 1 >= n || s[k] != '\\' || s[k + 1] != 'u') {
                        SCAN_FAIL(sc, i, "unpaired UTF-16 surrogate");
                    }
                    lo = hex4(s, n, k + 2);
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        SCAN_FAIL(sc, i, "unpaired UTF-16 surrogate");
                    }
                    i += 12;
                    continue;
                }
                if (cp == 0) {
                    if (is_key) {
                        SCAN_FAIL(sc, i, "\\u0000 in an object key");
                    }
                    sc->has_nul = 1;
                }
                i += 6;
                continue;
            default:
                SCAN_FAIL(sc, i, "invalid escape in string");
            }
        }
        if (c < 0x20) {
            SCAN_FAIL(sc, i, "control character in string");
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        k = utf8_seq(s + i, n - i);
        if (k == 0) {
            SCAN_FAIL(sc, i, "invalid UTF-8 in string");
        }
        i += k;
    }
}

static APR_INLINE int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int scan_number(scan_t *sc)
{
    const unsigned char *s = sc->s;
    apr_size_t n = sc->n, i = sc->i;

    if (s[i] == '-') {
        i++;
    }
    if (i >= n) {
        SCAN_FAIL(sc, i, "invalid number");
    }
    if (s[i] == '0') {
        i++;
    }
    else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && is_digit(s[i])) {
            i++;
        }
    }
    else {
        SCAN_FAIL(sc, i, "invalid number");
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i])) {
            SCAN_FAIL(sc, i, "invalid number");
        }
        while (i < n && is_digit(s[i])) {
            i++;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        if (i >= n || !is_digit(s[i])) {
            SCAN_FAIL(sc, i, "invalid number");
        }
        while (i < n && is_digit(s[i])) {
            i++;
        }
    }
    sc->i = i;
    return 0;
}

static int scan_literal(scan_t *sc, const char *lit, apr_size_t len)
{
    if (sc->n - sc->i < len || memcmp(sc->s + sc->i, lit, len) != 0) {
        SCAN_FAIL(sc, sc->i, "invalid literal");
    }
    sc->i += len;
    return 0;
}

static int scan_value(scan_t *sc, int tag);
static int key_equals(const unsigned char *r, apr_size_t rn,
                      const char *seg, apr_size_t sn);

/* Container closed at sc->i (just past the bracket): keep or drop the
 * index entry pushed at its opening.  A small container holds no large
 * one, so its entry is the last. */
static void index_close(scan_t *sc, int slot, apr_size_t start)
{
    if (sc->i - start >= CA_JSON_IDX_MIN) {
        APR_ARRAY_IDX(sc->cidx, slot, cidx_t).end = sc->i;
    }
    else {
        sc->cidx->nelts = slot;
    }
}

/* Does the key text r[0..rn) (esc: it has escapes) decode to seg[0..sn)? */
static APR_INLINE int key_is(const unsigned char *r, apr_size_t rn, int esc,
                             const char *seg, apr_size_t sn)
{
    if (!esc) {
        return rn == sn && memcmp(r, seg, sn) == 0;
    }
    return key_equals(r, rn, seg, sn);
}

/* Tag of the value of the member whose key text (escaped, no quotes) is
 * r[0..rn), in an object tagged tag; counts it when the object is a record. */
static int member_tag(scan_t *sc, int tag, const unsigned char *r,
                      apr_size_t rn, apr_size_t val)
{
    const ca_json_want_t *w = sc->want;
    int k;

    if (tag == SCAN_TAG_RECORD) {
        for (k = 0; k < w->nkeys; k++) {
            if (key_is(r, rn, sc->esc, w->keys[k], w->klens[k])) {
                ca_json_member_t *m = &APR_ARRAY_IDX(sc->members,
                    sc->members->nelts - w->nkeys + k, ca_json_member_t);

                if (m->count++ == 0) {
                    m->val = val;
                }
                break;
            }
        }
        return SCAN_TAG_NONE;
    }
    if (tag >= 0 && tag < sc->nsegs
        && key_is(r, rn, sc->esc, sc->segs[tag], sc->seglens[tag])) {
        return tag + 1;
    }
    return SCAN_TAG_NONE;
}

/* An element of the records array starts at sc->i: note its span. */
static int record_open(scan_t *sc)
{
    ca_json_span_t *sp;
    int k;

    sp = apr_array_push(sc->recs);
    sp->off = sc->i;
    sp->len = 0;
    for (k = 0; k < sc->want->nkeys; k++) {
        ca_json_member_t *m = apr_array_push(sc->members);

        m->val = 0;
        m->count = 0;
    }
    return sc->recs->nelts - 1;
}

static int scan_container(scan_t *sc, int is_object, int tag)
{
    unsigned char close = is_object ? '}' : ']';
    apr_size_t start = sc->i;
    int slot = sc->cidx->nelts, collect = 0, child = SCAN_TAG_NONE, r = 0;
    cidx_t *e;

    if (++sc->depth > sc->max_depth) {
        SCAN_FAIL(sc, sc->i, "nesting too deep");
    }
    if (tag >= 0 && tag == sc->nsegs) {
        /* the end of the path: collect the elements of the first one */
        collect = !is_object && sc->found++ == 0;
        if (collect) {
            sc->arr = start;
            child = SCAN_TAG_RECORD;
        }
    }
    e = apr_array_push(sc->cidx);
    e->start = start;
    e->end = 0;
    sc->i++;
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == close) {
        sc->i++;
        sc->depth--;
        index_close(sc, slot, start);
        return 0;
    }
    for (;;) {
        if (is_object) {
            apr_size_t key = sc->i, kend;

            if (sc->i >= sc->n || sc->s[sc->i] != '"') {
                SCAN_FAIL(sc, sc->i, "expected a string key");
            }
            sc->esc = 0;
            if (scan_string(sc, 1) < 0) {
                return -1;
            }
            kend = sc->i - 1;                   /* the closing quote */
            skip_ws(sc);
            if (sc->i >= sc->n || sc->s[sc->i] != ':') {
                SCAN_FAIL(sc, sc->i, "expected ':'");
            }
            sc->i++;
            if (tag != SCAN_TAG_NONE) {
                skip_ws(sc);
                child = member_tag(sc, tag, sc->s + key + 1, kend - key - 1,
                                   sc->i);
            }
        }
        else if (collect) {
            skip_ws(sc);
            r = record_open(sc);
        }
        if (scan_value(sc, child) < 0) {
            return -1;
        }
        if (collect) {
            ca_json_span_t *sp = &APR_ARRAY_IDX(sc->recs, r, ca_json_span_t);

            sp->len = sc->i - sp->off;
        }
        skip_ws(sc);
        if (sc->i < sc->n && sc->s[sc->i] == ',') {
            sc->i++;
            skip_ws(sc);
            continue;
        }
        if (sc->i < sc->n && sc->s[sc->i] == close) {
            sc->i++;
            sc->depth--;
            index_close(sc, slot, start);
            return 0;
        }
        SCAN_FAIL(sc, sc->i, is_object ? "expected ',' or '}'"
                                       : "expected ',' or ']'");
    }
}

static int scan_value(scan_t *sc, int tag)
{
    skip_ws(sc);
    if (sc->i >= sc->n) {
        SCAN_FAIL(sc, sc->i, "unexpected end of input");
    }
    switch (sc->s[sc->i]) {
    case '{':
        return scan_container(sc, 1, tag);
    case '[':
        return scan_container(sc, 0, tag);
    case '"':
        return scan_string(sc, 0);
    case 't':
        return scan_literal(sc, "true", 4);
    case 'f':
        return scan_literal(sc, "false", 5);
    case 'n':
        return scan_literal(sc, "null", 4);
    default:
        if (sc->s[sc->i] == '-' || is_digit(sc->s[sc->i])) {
            return scan_number(sc);
        }
        SCAN_FAIL(sc, sc->i, "unexpected character");
    }
}

/* ------------------------------------------------------------------ */
/* parsing                                                             */
/* ------------------------------------------------------------------ */

static cJSON *build_tree(apr_pool_t *p, const char *buf, apr_size_t len,
                         const char **perr)
{
    const char *end = NULL;
    cJSON *root;

    /* the scanner skipped a BOM; cJSON 1.7.15 only does so for texts over 4 bytes */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (root == NULL) {
        if (perr) {
            *perr = apr_psprintf(p, "JSON parser failed at offset %ld "
                                 "(out of memory?)",
                                 end ? (long)(end - buf) : -1L);
        }
        return NULL;
    }
    own(p, root);
    while (end != NULL && end < buf + len && is_ws((unsigned char)*end)) {
        end++;
    }
    if (end != buf + len) {
        /* cannot happen after the scanner accepted the text */
        if (perr) {
            *perr = apr_psprintf(p, "invalid JSON at offset %ld: trailing "
                                 "characters after the JSON value",
                                 end ? (long)(end - buf) : -1L);
        }
        return NULL;
    }
    return root;
}

/* Split want->path into sc's segments; 0 (collect nothing) when it is not
 * a valid path or has too many segments. */
static int want_path(scan_t *sc, const ca_json_want_t *want)
{
    const char *seg, *dot;

    if (want->path == NULL || !ca_json_path_valid(want->path)
        || want->nkeys < 0 || (want->nkeys > 0 && want->keys == NULL)) {
        return 0;
    }
    sc->nsegs = 0;
    if (*want->path == '\0') {
        return 1;
    }
    for (seg = want->path; ; seg = dot + 1) {
        if (sc->nsegs == CA_JSON_WANT_MAX_SEGS) {
            return 0;
        }
        dot = strchr(seg, '.');
        sc->segs[sc->nsegs] = seg;
        sc->seglens[sc->nsegs] = dot ? (apr_size_t)(dot - seg) : strlen(seg);
        sc->nsegs++;
        if (dot == NULL) {
            return 1;
        }
    }
}

static apr_status_t do_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                             const ca_json_limits_t *lim, int tree,
                             const ca_json_want_t *want,
                             ca_json_doc_t **doc, const char **perr)
{
    int tag = SCAN_TAG_NONE;
    apr_size_t max_size = CA_JSON_DEFAULT_MAX_SIZE;
    int max_depth = CA_JSON_DEFAULT_MAX_DEPTH;
    scan_t sc;
    cJSON *root;
    ca_json_doc_t *d;

    *doc = NULL;
    if (lim != NULL) {
        if (lim->max_size > 0) {
            max_size = lim->max_size;
        }
        if (lim->max_depth > 0) {
            max_depth = lim->max_depth;
        }
    }
    if (max_depth > CA_JSON_HARD_MAX_DEPTH) {
        max_depth = CA_JSON_HARD_MAX_DEPTH;
    }
    if (buf == NULL) {
        buf = "";
        len = 0;
    }
    if (len > max_size) {
        if (perr) {
            *perr = apr_psprintf(p, "JSON text too large (%" APR_SIZE_T_FMT
                                 " bytes, limit %" APR_SIZE_T_FMT ")",
                                 len, max_size);
        }
        return APR_ENOSPC;
    }

    memset(&sc, 0, sizeof(sc));
    sc.s = (const unsigned char *)buf;
    sc.n = len;
    sc.max_depth = max_depth;
    sc.cidx = apr_array_make(p, 16, sizeof(cidx_t));
    if (want != NULL && want_path(&sc, want)) {
        sc.want = want;
        sc.recs = apr_array_make(p, 64, sizeof(ca_json_span_t));
        sc.members = apr_array_make(p, 64 * (want->nkeys ? want->nkeys : 1),
                                    sizeof(ca_json_member_t));
        tag = 0;
    }
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        sc.i = 3;
    }
    if (scan_value(&sc, tag) == 0) {
        skip_ws(&sc);
        if (sc.i != sc.n) {
            sc.why = "trailing characters after the JSON value";
        }
    }
    if (sc.why != NULL) {
        if (perr) {
            apr_size_t k, line = 1, col = 1;

            for (k = 0; k < sc.i && k < len; k++) {
                if (buf[k] == '\n') {
                    line++;
                    col = 1;
                }
                else {
                    col++;
                }
            }
            *perr = apr_psprintf(p, "invalid JSON at offset %" APR_SIZE_T_FMT
                                 " (line %" APR_SIZE_T_FMT ", column %"
                                 APR_SIZE_T_FMT "): %s",
                                 sc.i, line, col, sc.why);
        }
        return APR_EINVAL;
    }

    root = NULL;
    if (tree) {
        root = build_tree(p, buf, len, perr);
        if (root == NULL) {
            return APR_ENOMEM;
        }
    }

    d = apr_pcalloc(p, sizeof(*d));
    d->pool = p;
    d->root = root;
    d->text = (const unsigned char *)buf;
    d->len = len;
    d->start = (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
    d->has_nul = sc.has_nul;
    d->cidx = sc.cidx;
    if (sc.want != NULL) {
        d->nkeys = sc.want->nkeys;
        d->found = sc.found;
        d->arr = sc.arr;
        d->recs = sc.recs;
        d->members = sc.members;
    }
    *doc = d;
    return APR_SUCCESS;
}

apr_status_t ca_json_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                           const ca_json_limits_t *lim, ca_json_doc_t **doc,
                           const char **perr)
{
    return do_parse(p, buf, len, lim, 1, NULL, doc, perr);
}

apr_status_t ca_json_scan(apr_pool_t *p, const char *buf, apr_size_t len,
                          const ca_json_limits_t *lim, ca_json_doc_t **doc,
                          const char **perr)
{
    return do_parse(p, buf, len, lim, 0, NULL, doc, perr);
}

apr_status_t ca_json_scan_records(apr_pool_t *p, const char *buf,
                                  apr_size_t len, const ca_json_limits_t *lim,
                                  const ca_json_want_t *want,
                                  ca_json_doc_t **doc, const char **perr)
{
    return do_parse(p, buf, len, lim, 0, want, doc, perr);
}

int ca_json_doc_records(const ca_json_doc_t *doc, apr_size_t arr,
                        ca_json_records_t *out)
{
    if (doc == NULL || doc->recs == NULL || doc->found != 1
        || doc->arr != arr) {
        return 0;
    }
    out->arr = doc->arr;
    out->nrecs = doc->recs->nelts;
    out->nkeys = doc->nkeys;
    out->recs = (const ca_json_span_t *)doc->recs->elts;
    out->members = (const ca_json_member_t *)doc->members->elts;
    return 1;
}

ca_json_t *ca_json_parse_str(apr_pool_t *p, const char *s, const char **perr)
{
    ca_json_doc_t *doc;

    if (s == NULL) {
        s = "";
    }
    if (ca_json_parse(p, s, strlen(s), NULL, &doc, perr) != APR_SUCCESS) {
        return NULL;
    }
    return H(doc->root);
}

ca_json_t *ca_json_doc_root(ca_json_doc_t *doc)
{
    if (doc == NULL) {
        return NULL;
    }
    if (doc->root == NULL) {
        doc->root = build_tree(doc->pool, (const char *)doc->text, doc->len,
                               NULL);
    }
    return H(doc->root);
}

const char *ca_json_doc_text(const ca_json_doc_t *doc, apr_size_t *len)
{
    if (len) {
        *len = doc ? doc->len : 0;
    }
    return doc ? (const char *)doc->text : NULL;
}

int ca_json_doc_has_nul(const ca_json_doc_t *doc)
{
    return doc ? doc->has_nul : 0;
}

/* ------------------------------------------------------------------ */
/* paths                                                               */
/* ------------------------------------------------------------------ */

int ca_json_path_valid(const char *path)
{
    const char *s;
    int seglen = 0;

    if (path == NULL) {
        return 0;
    }
    if (*path == '\0') {
        return 1;
    }
    for (s = path; *s; s++) {
        if (*s == '.') {
            if (seglen == 0) {
                return 0;
            }
            seglen = 0;
        }
        else {
            seglen++;
        }
    }
    return seglen > 0;
}

/* Canonical decimal index ("0", "17"; no sign, no leading zero). */
static int parse_index(const char *seg, apr_size_t len, long *idx)
{
    long v = 0;
    apr_size_t k;

    if (len == 0 || len > 9 || (len > 1 && seg[0] == '0')) {
        return 0;
    }
    for (k = 0; k < len; k++) {
        if (!is_digit((unsigned char)seg[k])) {
            return 0;
        }
        v = v * 10 + (seg[k] - '0');
    }
    *idx = v;
    return 1;
}

static apr_status_t tree_lookup(const cJSON *n, const char *path,
                                cJSON **out)
{
    const char *seg = path, *dot;
    apr_size_t len;

    *out = NULL;
    if (!ca_json_path_valid(path)) {
        return APR_EINVAL;
    }
    if (n == NULL) {
        return APR_NOTFOUND;
    }
    if (*path == '\0') {
        *out = J(n);
        return APR_SUCCESS;
    }
    for (;;) {
        dot = strchr(seg, '.');
        len = dot ? (apr_size_t)(dot - seg) : strlen(seg);
        if (len == 0) {
            return APR_EINVAL;
        }
        if (cJSON_IsObject(n)) {
            const cJSON *c, *found = NULL;
            int count = 0;

            for (c = n->child; c != NULL; c = c->next) {
                if (c->string != NULL && strncmp(c->string, seg, len) == 0
                    && c->string[len] == '\0') {
                    found = c;
                    count++;
                }
            }
            if (count == 0) {
                return APR_NOTFOUND;
            }
            if (count > 1) {
                return CA_JSON_EAMBIGUOUS;
            }
            n = found;
        }
        else if (cJSON_IsArray(n)) {
            long idx;
            const cJSON *c;

            if (!parse_index(seg, len, &idx)) {
                return APR_NOTFOUND;
            }
            for (c = n->child; c != NULL && idx > 0; c = c->next) {
                idx--;
            }
            if (c == NULL) {
                return APR_NOTFOUND;
            }
            n = c;
        }
        else {
            return APR_NOTFOUND;
        }
        if (dot == NULL) {
            break;
        }
        seg = dot + 1;
    }
    *out = J(n);
    return APR_SUCCESS;
}

apr_status_t ca_json_lookup(const ca_json_t *n, const char *path,
                            ca_json_t **out)
{
    cJSON *c;
    apr_status_t rv = tree_lookup(J(n), path, &c);

    *out = H(c);
    return rv;
}

ca_json_t *ca_json_get(const ca_json_t *n, const char *path)
{
    cJSON *c;

    return tree_lookup(J(n), path, &c) == APR_SUCCESS ? H(c) : NULL;
}

/* ------------------------------------------------------------------ */
/* spans: fast skipper over already validated text                     */
/* ------------------------------------------------------------------ */

/* s[i] == '"'; returns the index after the closing quote. */
static apr_size_t fskip_string(const unsigned char *s, apr_size_t n,
                               apr_size_t i)
{
    i++;
    while (i < n) {
        while (i + 8 <= n) {
            uint64_t w = load64(s + i);
            uint64_t m = HAS_BYTE(w, '"') | HAS_BYTE(w, '\\');

            if (m) {
                i += first_flag(m);
                break;
            }
            i += 8;
        }
        while (i < n && !quote_attn(s[i])) {
            i++;
        }
        if (i >= n) {
            break;
        }
        if (s[i] == '"') {
            return i + 1;
        }
        i += 2;                 /* backslash and the escaped byte */
    }
    return n;
}

/* End of the indexed container starting at i, 0 if not indexed. */
static apr_size_t cidx_end(const ca_json_doc_t *doc, apr_size_t i)
{
    const cidx_t *e;
    int lo = 0, hi, mid;

    if (doc->cidx == NULL || doc->cidx->nelts == 0) {
        return 0;
    }
    e = (const cidx_t *)doc->cidx->elts;
    hi = doc->cidx->nelts - 1;
    while (lo <= hi) {
        mid = lo + (hi - lo) / 2;
        if (e[mid].start == i) {
            return e[mid].end;
        }
        if (e[mid].start < i) {
            lo = mid + 1;
        }
        else {
            hi = mid - 1;
        }
    }
    return 0;
}

/* Offset just past the (validated) value starting at i. */
static apr_size_t fskip_value(const ca_json_doc_t *doc, apr_size_t i)
{
    const unsigned char *s = doc->text;
    apr_size_t n = doc->len, end;
    unsigned char c = s[i];

    if (c == '"') {
        return fskip_string(s, n, i);
    }
    if (c == '{' || c == '[') {
        long depth = 0;

        end = cidx_end(doc, i);
        if (end != 0) {
            return end;
        }
        while (i < n) {
            while (i < n && !struct_attn(s[i])) {
                i++;
            }
            if (i >= n) {
                break;
            }
            c = s[i];
            if (c == '"') {
                i = fskip_string(s, n, i);
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            }
            else if (--depth == 0) {
                return i + 1;
            }
            i++;
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != ']' && s[i] != '}'
           && !is_ws(s[i])) {
        i++;
    }
    return i;
}

static APR_INLINE apr_size_t fskip_ws(const unsigned char *s, apr_size_t n,
                                      apr_size_t i)
{
    while (i < n && is_ws(s[i])) {
        i++;
    }
    return i;
}

/* Does the raw (escaped) key text r[0..rn) decode to seg[0..sn)? */
static int key_equals(const unsigned char *r, apr_size_t rn,
                      const char *seg, apr_size_t sn)
{
    apr_size_t i = 0, j = 0, bl;
    unsigned char buf[4];
    long cp, lo;

    while (i < rn) {
        if (r[i] != '\\') {
            if (j >= sn || (unsigned char)seg[j] != r[i]) {
                return 0;
            }
            i++;
            j++;
            continue;
        }
        bl = 1;
        switch (r[i + 1]) {
        case 'b': buf[0] = '\b'; i += 2; break;
        case 'f': buf[0] = '\f'; i += 2; break;
        case 'n': buf[0] = '\n'; i += 2; break;
        case 'r': buf[0] = '\r'; i += 2; break;
        case 't': buf[0] = '\t'; i += 2; break;
        case 'u':
            cp = hex4(r, rn, i + 2);
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                lo = hex4(r, rn, i + 2);
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            bl = utf8_encode((unsigned long)cp, buf);
            break;
        default:               /* '"', '\\', '/' */
            buf[0] = r[i + 1];
            i += 2;
            break;
        }
        if (j + bl > sn || memcmp(seg + j, buf, bl) != 0) {
            return 0;
        }
        j += bl;
    }
    return j == sn;
}

/* Walk path from the value at i; *pos = start of the value found. */
static apr_status_t raw_walk(const ca_json_doc_t *doc, apr_size_t i,
                             const char *path, apr_size_t *pos)
{
    const unsigned char *s = doc->text;
    apr_size_t n = doc->len;
    const char *seg = path, *dot;
    apr_size_t len;

    if (!ca_json_path_valid(path)) {
        return APR_EINVAL;
    }
    if (*path == '\0') {
        *pos = i;
        return APR_SUCCESS;
    }
    for (;;) {
        dot = strchr(seg, '.');
        len = dot ? (apr_size_t)(dot - seg) : strlen(seg);
        if (len == 0) {
            return APR_EINVAL;
        }
        if (i >= n) {
            return APR_NOTFOUND;
        }
        if (s[i] == '{') {
            apr_size_t found = 0, kend;
            int count = 0;

            i = fskip_ws(s, n, i + 1);
            while (i < n && s[i] == '"') {
                int match;

                kend = fskip_string(s, n, i);
                match = key_equals(s + i + 1, kend - i - 2, seg, len);
                i = fskip_ws(s, n, kend);
                i = fskip_ws(s, n, i + 1);          /* ':' */
                if (match && count++ == 0) {
                    found = i;
                }
                i = fskip_ws(s, n, fskip_value(doc, i));
                if (i < n && s[i] == ',') {
                    i = fskip_ws(s, n, i + 1);
                }
            }
            if (count == 0) {
                return APR_NOTFOUND;
            }
            if (count > 1) {
                return CA_JSON_EAMBIGUOUS;
            }
            i = found;
        }
        else if (s[i] == '[') {
            long idx;

            if (!parse_index(seg, len, &idx)) {
                return APR_NOTFOUND;
            }
            i = fskip_ws(s, n, i + 1);
            if (i >= n || s[i] == ']') {
                return APR_NOTFOUND;
            }
            while (idx > 0) {
                i = fskip_ws(s, n, fskip_value(doc, i));
                if (i >= n || s[i] != ',') {
                    return APR_NOTFOUND;
                }
                i = fskip_ws(s, n, i + 1);
                idx--;
            }
        }
        else {
            return APR_NOTFOUND;
        }
        if (dot == NULL) {
            break;
        }
        seg = dot + 1;
    }
    *pos = i;
    return APR_SUCCESS;
}

static const char *walk_error(apr_pool_t *p, apr_status_t rv,
                              const char *path)
{
    if (rv == APR_NOTFOUND) {
        return apr_psprintf(p, "no value at '%s'", path);
    }
    if (rv == CA_JSON_EAMBIGUOUS) {
        return apr_psprintf(p, "duplicated key on the way to '%s'", path);
    }
    return apr_psprintf(p, "malformed path '%s'", path ? path : "(null)");
}

apr_size_t ca_json_raw_root(const ca_json_doc_t *doc)
{
    return fskip_ws(doc->text, doc->len, doc->start);
}

apr_status_t ca_json_doc_span(const ca_json_doc_t *doc, const char *path,
                              ca_json_span_t *span, const char **perr)
{
    apr_size_t pos, end;
    apr_status_t rv;

    rv = raw_walk(doc, ca_json_raw_root(doc), path, &pos);
    if (rv != APR_SUCCESS) {
        /* no pool here: static messages only */
        if (perr) {
            *perr = rv == APR_NOTFOUND ? "no value at path"
                  : rv == CA_JSON_EAMBIGUOUS ? "duplicated key on the path"
                  : "malformed path";
        }
        return rv;
    }
    end = fskip_value(doc, pos);
    span->off = pos;
    span->len = end - pos;
    return APR_SUCCESS;
}

apr_status_t ca_json_doc_array_spans(apr_pool_t *p, const ca_json_doc_t *doc,
                                     const char *path,
                                     apr_array_header_t **spans,
                                     const char **perr)
{
    const unsigned char *s = doc->text;
    apr_size_t n = doc->len, i, end;
    apr_array_header_t *arr;
    apr_status_t rv;
    cJSON *node;

    *spans = NULL;
    rv = raw_walk(doc, ca_json_raw_root(doc), path, &i);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = walk_error(p, rv, path);
        }
        return rv;
    }
    if (i >= n || s[i] != '[') {
        if (perr) {
            *perr = apr_psprintf(p, "value at '%s' is not an array", path);
        }
        return APR_EINVAL;
    }
    arr = apr_array_make(p, 64, sizeof(ca_json_span_t));
    i = fskip_ws(s, n, i + 1);
    while (i < n && s[i] != ']') {
        ca_json_span_t *sp = apr_array_push(arr);

        end = fskip_value(doc, i);
        sp->off = i;
        sp->len = end - i;
        i = fskip_ws(s, n, end);
        if (i < n && s[i] == ',') {
            i = fskip_ws(s, n, i + 1);
        }
    }
    /* with a tree, element i of the tree must be span i */
    if (doc->root != NULL && tree_lookup(doc->root, path, &node) == APR_SUCCESS
        && cJSON_GetArraySize(node) != arr->nelts) {
        if (perr) {
            *perr = apr_psprintf(p, "array at '%s': %d spans for %d elements",
                                 path, arr->nelts, cJSON_GetArraySize(node));
        }
        return APR_EGENERAL;
    }
    *spans = arr;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* raw access                                                          */
/* ------------------------------------------------------------------ */

apr_status_t ca_json_raw_lookup(const ca_json_doc_t *doc, apr_size_t off,
                                const char *path, apr_size_t *out)
{
    if (doc == NULL || off >= doc->len) {
        return APR_NOTFOUND;
    }
    return raw_walk(doc, off, path, out);
}

ca_json_type_e ca_json_raw_type(const ca_json_doc_t *doc, apr_size_t off)
{
    if (doc == NULL || off >= doc->len) {
        return CA_JSON_INVALID;
    }
    switch (doc->text[off]) {
    case '{':
        return CA_JSON_OBJECT;
    case '[':
        return CA_JSON_ARRAY;
    case '"':
        return CA_JSON_STRING;
    case 't':
        return CA_JSON_TRUE;
    case 'f':
        return CA_JSON_FALSE;
    case 'n':
        return CA_JSON_NULL;
    default:
        return CA_JSON_NUMBER;
    }
}

apr_size_t ca_json_raw_len(const ca_json_doc_t *doc, apr_size_t off)
{

    if (doc == NULL || off >= doc->len) {
        return 0;
    }
    return fskip_value(doc, off) - off;
}

/* Integer literal at off: sets *len (literal length) and returns 1 when
 * -?(0|[1-9][0-9]*) within +-2^53 (exclusive). */
static int raw_integer(const ca_json_doc_t *doc, apr_size_t off,
                       apr_size_t *len)
{
    const unsigned char *s = doc->text;
    apr_size_t n = doc->len, i = off, d0, nd;

    if (s[i] == '-') {
        i++;
    }
    d0 = i;
    while (i < n && is_digit(s[i])) {
        i++;
    }
    nd = i - d0;
    if (nd == 0 || (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E'))) {
        return 0;
    }
    if (nd > 16 || (nd == 16 && memcmp(s + d0, "9007199254740992", 16) >= 0)) {
        return 0;
    }
    *len = i - off;
    return 1;
}

int ca_json_raw_id_equals(const ca_json_doc_t *doc, apr_size_t off,
                          const char *want, int allow_number)
{
    const unsigned char *s;
    apr_size_t wlen, end, len;

    if (doc == NULL || off >= doc->len || want == NULL || *want == '\0') {
        return 0;
    }
    s = doc->text;
    wlen = strlen(want);
    if (s[off] == '"') {
        end = fskip_string(s, doc->len, off);
        return key_equals(s + off + 1, end - off - 2, want, wlen);
    }
    if (allow_number && (s[off] == '-' || is_digit(s[off]))
        && raw_integer(doc, off, &len)) {
        if (len == 2 && memcmp(s + off, "-0", 2) == 0) {
            return strcmp(want, "0") == 0;
        }
        return len == wlen && memcmp(s + off, want, len) == 0;
    }
    return 0;
}

/* Decode the escaped string text r[0..rn) into out (>= rn bytes). */
static apr_size_t decode_into(const unsigned char *r, apr_size_t rn,
                              unsigned char *out)
{
    apr_size_t i = 0, o = 0;
    long cp, lo;

    while (i < rn) {
        if (r[i] != '\\') {
            out[o++] = r[i++];
            continue;
        }
        switch (r[i + 1]) {
        case 'b': out[o++] = '\b'; i += 2; break;
        case 'f': out[o++] = '\f'; i += 2; break;
        case 'n': out[o++] = '\n'; i += 2; break;
        case 'r': out[o++] = '\r'; i += 2; break;
        case 't': out[o++] = '\t'; i += 2; break;
        case 'u':
            cp = hex4(r, rn, i + 2);
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                lo = hex4(r, rn, i + 2);
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o += utf8_encode((unsigned long)cp, out + o);
            break;
        default:
            out[o++] = r[i + 1];
            i += 2;
            break;
        }
    }
    return o;
}

const char *ca_json_raw_string(apr_pool_t *p, const ca_json_doc_t *doc,
                               apr_size_t off)
{
    const unsigned char *s;
    apr_size_t end, rn, dn;
    unsigned char *out;

    if (doc == NULL || off >= doc->len || doc->text[off] != '"') {
        return NULL;
    }
    s = doc->text;
    end = fskip_string(s, doc->len, off);
    rn = end - off - 2;
    out = apr_palloc(p, rn + 1);
    dn = decode_into(s + off + 1, rn, out);
    out[dn] = '\0';
    return (const char *)out;
}

const char *ca_json_raw_id_text(apr_pool_t *p, const ca_json_doc_t *doc,
                                apr_size_t off, int allow_number)
{
    const char *str;
    apr_size_t len;

    if (doc == NULL || off >= doc->len) {
        return NULL;
    }
    if (doc->text[off] == '"') {
        str = ca_json_raw_string(p, doc, off);
        return (str != NULL && *str != '\0') ? str : NULL;
    }
    if (allow_number && (doc->text[off] == '-' || is_digit(doc->text[off]))
        && raw_integer(doc, off, &len)) {
        if (len == 2 && memcmp(doc->text + off, "-0", 2) == 0) {
            return "0";
        }
        return apr_pstrmemdup(p, (const char *)doc->text + off, len);
    }
    return NULL;
}

apr_size_t ca_json_raw_members(const ca_json_doc_t *doc, apr_size_t off,
                               int nkeys, const char *const *keys,
                               const apr_size_t *klens, apr_size_t *vals,
                               int *counts)
{
    const unsigned char *s;
    apr_size_t n, i, kend;
    int k, hit;

    if (doc == NULL || off >= doc->len || doc->text[off] != '{') {
        return 0;
    }
    s = doc->text;
    n = doc->len;
    for (k = 0; k < nkeys; k++) {
        counts[k] = 0;
        vals[k] = 0;
    }
    i = fskip_ws(s, n, off + 1);
    while (i < n && s[i] == '"') {
        kend = fskip_string(s, n, i);
        hit = -1;
        for (k = 0; k < nkeys; k++) {
            if (key_equals(s + i + 1, kend - i - 2, keys[k], klens[k])) {
                hit = k;
                break;
            }
        }
        i = fskip_ws(s, n, kend);
        i = fskip_ws(s, n, i + 1);              /* ':' */
        if (hit >= 0 && counts[hit]++ == 0) {
            vals[hit] = i;
        }
        i = fskip_ws(s, n, fskip_value(doc, i));
        if (i < n && s[i] == ',') {
            i = fskip_ws(s, n, i + 1);
        }
    }
    return i + 1;                               /* past '}' */
}

int ca_json_raw_bool(const ca_json_doc_t *doc, apr_size_t off, int *out)
{
    if (doc == NULL || off >= doc->len) {
        return 0;
    }
    if (doc->text[off] == 't') {
        *out = 1;
        return 1;
    }
    if (doc->text[off] == 'f') {
        *out = 0;
        return 1;
    }
    return 0;
}

int ca_json_raw_first(const ca_json_doc_t *doc, apr_size_t off,
                      apr_size_t *elem)
{
    apr_size_t i;

    if (doc == NULL || off >= doc->len || doc->text[off] != '[') {
        return 0;
    }
    i = fskip_ws(doc->text, doc->len, off + 1);
    if (i >= doc->len || doc->text[i] == ']') {
        return 0;
    }
    *elem = i;
    return 1;
}

int ca_json_raw_next(const ca_json_doc_t *doc, apr_size_t *elem)
{
    const unsigned char *s = doc->text;
    apr_size_t n = doc->len, i;

    i = fskip_ws(s, n, fskip_value(doc, *elem));
    if (i >= n || s[i] != ',') {
        return 0;
    }
    *elem = fskip_ws(s, n, i + 1);
    return 1;
}

/* ------------------------------------------------------------------ */
/* reading                                                             */
/* ------------------------------------------------------------------ */

ca_json_type_e ca_json_type(const ca_json_t *n)
{
    const cJSON *c = J(n);

    if (c == NULL) {
        return CA_JSON_INVALID;
    }
    switch (c->type & 0xFF) {
    case cJSON_NULL:
        return CA_JSON_NULL;
    case cJSON_False:
        return CA_JSON_FALSE;
    case cJSON_True:
        return CA_JSON_TRUE;
    case cJSON_Number:
        return CA_JSON_NUMBER;
    case cJSON_String:
        return CA_JSON_STRING;
    case cJSON_Array:
        return CA_JSON_ARRAY;
    case cJSON_Object:
        return CA_JSON_OBJECT;
    default:
        return CA_JSON_INVALID;
    }
}

const char *ca_json_type_name(ca_json_type_e t)
{
    switch (t) {
    case CA_JSON_NULL:
        return "null";
    case CA_JSON_FALSE:
    case CA_JSON_TRUE:
        return "boolean";
    case CA_JSON_NUMBER:
        return "number";
    case CA_JSON_STRING:
        return "string";
    case CA_JSON_ARRAY:
        return "array";
    case CA_JSON_OBJECT:
        return "object";
    default:
        return "invalid";
    }
}

int ca_json_is_container(const ca_json_t *n)
{
    return cJSON_IsArray(J(n)) || cJSON_IsObject(J(n));
}

const char *ca_json_string(const ca_json_t *n)
{
    return cJSON_IsString(J(n)) ? J(n)->valuestring : NULL;
}

const char *ca_json_get_string(const ca_json_t *n, const char *path)
{
    return ca_json_string(ca_json_get(n, path));
}

apr_status_t ca_json_number(const ca_json_t *n, double *out)
{
    if (!cJSON_IsNumber(J(n))) {
        return APR_EINVAL;
    }
    *out = J(n)->valuedouble;
    return APR_SUCCESS;
}

static int safe_integer(double d)
{
    return isfinite(d) && d > -CA_JSON_SAFE_INT && d < CA_JSON_SAFE_INT
           && d == (double)(apr_int64_t)d;
}

const char *ca_json_number_text(apr_pool_t *p, const ca_json_t *n)
{
    double d;

    if (!cJSON_IsNumber(J(n))) {
        return NULL;
    }
    d = J(n)->valuedouble;
    if (safe_integer(d)) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)d);
    }
    return apr_psprintf(p, "%.17g", d);
}

const char *ca_json_id_text(apr_pool_t *p, const ca_json_t *n,
                            int allow_number)
{
    if (cJSON_IsString(J(n))) {
        return J(n)->valuestring;
    }
    if (allow_number && cJSON_IsNumber(J(n))
        && safe_integer(J(n)->valuedouble)) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT,
                            (apr_int64_t)J(n)->valuedouble);
    }
    return NULL;
}

int ca_json_bool(const ca_json_t *n, int *out)
{
    if (!cJSON_IsBool(J(n))) {
        return 0;
    }
    *out = cJSON_IsTrue(J(n)) ? 1 : 0;
    return 1;
}

int ca_json_size(const ca_json_t *n)
{
    if (!ca_json_is_container(n)) {
        return -1;
    }
    return cJSON_GetArraySize(J(n));
}

ca_json_t *ca_json_index(const ca_json_t *n, int i)
{
    if (!ca_json_is_container(n) || i < 0) {
        return NULL;
    }
    return H(cJSON_GetArrayItem(J(n), i));
}

ca_json_t *ca_json_first(const ca_json_t *n)
{
    return ca_json_is_container(n) ? H(J(n)->child) : NULL;
}

ca_json_t *ca_json_next(const ca_json_t *n)
{
    return n ? H(J(n)->next) : NULL;
}

const char *ca_json_key(const ca_json_t *member)
{
    return member ? J(member)->string : NULL;
}

int ca_json_key_count(const ca_json_t *n, const char *key)
{
    const cJSON *c;
    int count = 0;

    if (!cJSON_IsObject(J(n)) || key == NULL) {
        return 0;
    }
    for (c = J(n)->child; c != NULL; c = c->next) {
        if (c->string != NULL && strcmp(c->string, key) == 0) {
            count++;
        }
    }
    return count;
}

/* ------------------------------------------------------------------ */
/* building                                                            */
/* ------------------------------------------------------------------ */

ca_json_t *ca_json_new_object(apr_pool_t *p)
{
    cJSON *o = cJSON_CreateObject();

    if (o != NULL) {
        own(p, o);
    }
    return H(o);
}

ca_json_t *ca_json_new_array(apr_pool_t *p)
{
    cJSON *a = cJSON_CreateArray();

    if (a != NULL) {
        own(p, a);
    }
    return H(a);
}

/*
 * Strings handed to cJSON must be valid UTF-8 (its printer copies bytes):
 * returns s itself when valid, else a malloc'ed copy with U+FFFD for each
 * invalid byte (*tmp set, to free).
 */
static const char *clean_utf8(const char *s, char **tmp)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t n, i, k, bad = 0, o = 0;
    char *out;

    *tmp = NULL;
    if (s == NULL) {
        return NULL;
    }
    n = strlen(s);
    for (i = 0; i < n; i += k ? k : 1) {
        k = utf8_seq(u + i, n - i);
        bad += (k == 0);
    }
    if (bad == 0) {
        return s;
    }
    out = malloc(n + bad * 2 + 1);
    if (out == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i += k ? k : 1) {
        k = utf8_seq(u + i, n - i);
        if (k == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
        else {
            memcpy(out + o, s + i, k);
            o += k;
        }
    }
    out[o] = '\0';
    *tmp = out;
    return out;
}

static cJSON *new_string(const char *val)
{
    char *tmp;
    const char *v;
    cJSON *item;

    if (val == NULL) {
        return cJSON_CreateNull();
    }
    v = clean_utf8(val, &tmp);
    item = v ? cJSON_CreateString(v) : NULL;
    free(tmp);
    return item;
}

/* Attach item to parent; takes ownership of item in every case. */
static ca_json_t *attach(ca_json_t *parent, const char *key, cJSON *item)
{
    cJSON *par = J(parent);
    cJSON_bool ok = 0;

    if (item == NULL) {
        return NULL;
    }
    if (cJSON_IsObject(par) && key != NULL) {
        char *tmp;
        const char *k = clean_utf8(key, &tmp);

        ok = k ? cJSON_AddItemToObject(par, k, item) : 0;
        free(tmp);
    }
    else if (cJSON_IsArray(par) && key == NULL) {
        ok = cJSON_AddItemToArray(par, item);
    }
    if (!ok) {
        cJSON_Delete(item);
        return NULL;
    }
    return H(item);
}

ca_json_t *ca_json_add_object(ca_json_t *parent, const char *key)
{
    return attach(parent, key, cJSON_CreateObject());
}

ca_json_t *ca_json_add_array(ca_json_t *parent, const char *key)
{
    return attach(parent, key, cJSON_CreateArray());
}

ca_json_t *ca_json_add_string(ca_json_t *parent, const char *key,
                              const char *val)
{
    return attach(parent, key, new_string(val));
}

ca_json_t *ca_json_add_number(ca_json_t *parent, const char *key, double v)
{
    return attach(parent, key, cJSON_CreateNumber(v));
}

ca_json_t *ca_json_add_bool(ca_json_t *parent, const char *key, int v)
{
    return attach(parent, key, cJSON_CreateBool(v ? 1 : 0));
}

ca_json_t *ca_json_add_null(ca_json_t *parent, const char *key)
{
    return attach(parent, key, cJSON_CreateNull());
}

ca_json_t *ca_json_add_raw(ca_json_t *parent, const char *key,
                           const char *raw)
{
    if (raw == NULL) {
        return NULL;
    }
    return attach(parent, key, cJSON_CreateRaw(raw));
}

ca_json_t *ca_json_add_copy(ca_json_t *parent, const char *key,
                            const ca_json_t *src)
{
    if (src == NULL) {
        return NULL;
    }
    return attach(parent, key, cJSON_Duplicate(J(src), 1));
}

/* Replace all members named key by item (takes ownership). */
static ca_json_t *set_member(ca_json_t *obj, const char *key, cJSON *item)
{
    cJSON *o = J(obj), *c, *next;
    ca_json_t *res;
    char *tmp = NULL;
    int seen = 0;

    if (item == NULL) {
        return NULL;
    }
    if (!cJSON_IsObject(o) || key == NULL
        || (key = clean_utf8(key, &tmp)) == NULL) {
        cJSON_Delete(item);
        return NULL;
    }
    for (c = o->child; c != NULL; c = next) {
        next = c->next;
        if (c->string != NULL && strcmp(c->string, key) == 0) {
            if (seen++) {
                cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
            }
        }
    }
    if (!seen) {
        res = attach(obj, key, item);
    }
    else if (cJSON_ReplaceItemInObjectCaseSensitive(o, key, item)) {
        res = H(item);
    }
    else {
        cJSON_Delete(item);
        res = NULL;
    }
    free(tmp);
    return res;
}

ca_json_t *ca_json_set_string(ca_json_t *obj, const char *key,
                              const char *val)
{
    return set_member(obj, key, new_string(val));
}

ca_json_t *ca_json_set_number(ca_json_t *obj, const char *key, double v)
{
    return set_member(obj, key, cJSON_CreateNumber(v));
}

ca_json_t *ca_json_set_object(ca_json_t *obj, const char *key)
{
    return set_member(obj, key, cJSON_CreateObject());
}

ca_json_t *ca_json_set_array(ca_json_t *obj, const char *key)
{
    return set_member(obj, key, cJSON_CreateArray());
}

int ca_json_remove(ca_json_t *obj, const char *key)
{
    cJSON *o = J(obj), *c, *next;
    int removed = 0;

    if (!cJSON_IsObject(o) || key == NULL) {
        return 0;
    }
    for (c = o->child; c != NULL; c = next) {
        next = c->next;
        if (c->string != NULL && strcmp(c->string, key) == 0) {
            cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
            removed++;
        }
    }
    return removed;
}

/* ------------------------------------------------------------------ */
/* output                                                              */
/* ------------------------------------------------------------------ */

char *ca_json_print(apr_pool_t *p, const ca_json_t *n)
{
    char *s, *out;

    if (n == NULL) {
        return NULL;
    }
    s = cJSON_PrintUnformatted(J(n));
    if (s == NULL) {
        return NULL;
    }
    out = apr_pstrdup(p, s);
    cJSON_free(s);
    return out;
}

static const char hexdig[] = "0123456789abcdef";

/* Writes the escaped form of s into out (if not NULL); returns length. */
static apr_size_t escape_into(const unsigned char *s, apr_size_t len,
                              char *out)
{
    apr_size_t i = 0, o = 0, k;

    while (i < len) {
        unsigned char c = s[i];

        if (c == '"' || c == '\\') {
            if (out) {
                out[o] = '\\';
                out[o + 1] = (char)c;
            }
            o += 2;
            i++;
        }
        else if (c < 0x20) {
            char e = 0;

            switch (c) {
            case '\b': e = 'b'; break;
            case '\f': e = 'f'; break;
            case '\n': e = 'n'; break;
            case '\r': e = 'r'; break;
            case '\t': e = 't'; break;
            default: break;
            }
            if (e) {
                if (out) {
                    out[o] = '\\';
                    out[o + 1] = e;
                }
                o += 2;
            }
            else {
                if (out) {
                    memcpy(out + o, "\\u00", 4);
                    out[o + 4] = hexdig[c >> 4];
                    out[o + 5] = hexdig[c & 0xF];
                }
                o += 6;
            }
            i++;
        }
        else if (c < 0x80) {
            if (out) {
                out[o] = (char)c;
            }
            o++;
            i++;
        }
        else {
            k = utf8_seq(s + i, len - i);
            if (k == 0) {
                if (out) {
                    memcpy(out + o, "\\ufffd", 6);
                }
                o += 6;
                i++;
            }
            else {
                if (out) {
                    memcpy(out + o, s + i, k);
                }
                o += k;
                i += k;
            }
        }
    }
    return o;
}

char *ca_json_escape_len(apr_pool_t *p, const char *s, apr_size_t len)
{
    apr_size_t olen;
    char *out;

    if (s == NULL) {
        return apr_pstrdup(p, "");
    }
    olen = escape_into((const unsigned char *)s, len, NULL);
    out = apr_palloc(p, olen + 1);
    escape_into((const unsigned char *)s, len, out);
    out[olen] = '\0';
    return out;
}

char *ca_json_escape(apr_pool_t *p, const char *s)
{
    return ca_json_escape_len(p, s, s ? strlen(s) : 0);
}

char *ca_json_quote(apr_pool_t *p, const char *s)
{
    apr_size_t len, olen;
    char *out;

    if (s == NULL) {
        return apr_pstrdup(p, "null");
    }
    len = strlen(s);
    olen = escape_into((const unsigned char *)s, len, NULL);
    out = apr_palloc(p, olen + 3);
    out[0] = '"';
    escape_into((const unsigned char *)s, len, out + 1);
    out[olen + 1] = '"';
    out[olen + 2] = '\0';
    return out;
}
