/*
 * ca_json.h - the JSON layer of mod_clientapi (the only user of cJSON).
 *
 * Every tree (parsed or built) belongs to an APR pool: a pool cleanup frees
 * it, so callers never free anything.  Nodes are opaque ca_json_t pointers,
 * valid as long as the pool that owns their tree.
 *
 * Parsing is strict RFC 8259 (UTF-8 validated, no trailing garbage, a
 * leading UTF-8 BOM is skipped) with a size and a depth limit.  A document
 * also keeps its original text so that the byte span of any value (for
 * instance each record of a list) can be passed through without
 * re-printing.
 *
 * Paths are dotted: "data", "meta.nextCursor", "data.0.id".  A segment is an
 * object key, or a decimal index when the node is an array; "" is the node
 * itself.  Keys containing '.' cannot be addressed.  A key that occurs more
 * than once in an object is ambiguous (parsers disagree on which value
 * wins): lookups through it fail as if it were missing.
 *
 * Two ways to read a document:
 *   - the tree (ca_json_t, cJSON underneath): convenient, allocates a node
 *     per value; for small documents, configuration, write bodies;
 *   - raw accessors (ca_json_raw_*): work on the validated original text by
 *     byte offset, allocate nothing per value; for provider responses on the
 *     request path (scope filtering of lists).
 * Both see the same values: the scanner that validates a document is
 * stricter than cJSON, so cJSON's tree has exactly the structure of the
 * text.  A document is meant for one thread (the tree is built lazily).
 *
 * Core file: no httpd headers; errors through const char **perr.
 */
#ifndef CA_JSON_H
#define CA_JSON_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_errno.h>

/* A node in a tree (opaque). */
typedef struct ca_json_t ca_json_t;

/* A parsed document: tree plus the original text. */
typedef struct ca_json_doc_t ca_json_doc_t;

typedef enum {
    CA_JSON_INVALID = 0,
    CA_JSON_NULL,
    CA_JSON_FALSE,
    CA_JSON_TRUE,
    CA_JSON_NUMBER,
    CA_JSON_STRING,
    CA_JSON_ARRAY,
    CA_JSON_OBJECT
} ca_json_type_e;

#define CA_JSON_DEFAULT_MAX_SIZE  (16 * 1024 * 1024)
#define CA_JSON_DEFAULT_MAX_DEPTH 64
#define CA_JSON_HARD_MAX_DEPTH    512

typedef struct {
    apr_size_t max_size;   /* bytes; 0 = CA_JSON_DEFAULT_MAX_SIZE */
    int max_depth;         /* nested arrays/objects; 0 = default; capped at HARD_MAX */
} ca_json_limits_t;

/* Byte span of a value inside a document's original text. */
typedef struct {
    apr_size_t off;        /* offset of the first byte of the value */
    apr_size_t len;        /* length of the value's text */
} ca_json_span_t;

/* Status returned for a lookup through a duplicated key. */
#define CA_JSON_EAMBIGUOUS (APR_OS_START_USERERR + 2101)

/* ---- parsing ---------------------------------------------------------- */

/*
 * Parse len bytes of buf (need not be NUL-terminated).  lim may be NULL.
 * The document references buf: buf must stay unchanged while the document
 * is used.  Keys containing \u0000 are refused; string values containing
 * it are accepted and flagged (ca_json_doc_has_nul): the tree's strings
 * stop at such a NUL, the raw accessors compare exactly.
 * Errors: APR_EINVAL with "invalid JSON at offset N (line L, column C):
 * reason", APR_ENOSPC (too large), APR_ENOMEM.
 */
apr_status_t ca_json_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                           const ca_json_limits_t *lim, ca_json_doc_t **doc,
                           const char **perr);

/*
 * Validate only (same checks and errors as ca_json_parse) without building
 * the tree: for the raw accessors below, which are several times faster.
 * ca_json_doc_root builds the tree on first use.
 */
apr_status_t ca_json_scan(apr_pool_t *p, const char *buf, apr_size_t len,
                          const ca_json_limits_t *lim, ca_json_doc_t **doc,
                          const char **perr);

/*
 * Validation and the records of a list in one pass.  ca_json_scan_records
 * checks and answers exactly as ca_json_scan; meanwhile it notes, for the
 * array at want->path (object keys from the root, "" the root itself), the
 * span of each element and, in each element that is an object, how many
 * of its own members carry each name keys[k] (decoded, klens[k] bytes) and
 * where the value of the first one starts: what ca_json_raw_first/next
 * and ca_json_raw_members would find, without a second walk.
 * ca_json_doc_records gives them when the array at offset arr (found by
 * the caller with ca_json_raw_lookup) is the one collected, else 0: then
 * walk the text as before (a path through an array index, a duplicated
 * key on the path, more than CA_JSON_WANT_MAX_SEGS segments).
 */
#define CA_JSON_WANT_MAX_SEGS 8

typedef struct {
    const char *path;              /* the records array */
    int nkeys;
    const char *const *keys;       /* member names, need not end in NUL */
    const apr_size_t *klens;
} ca_json_want_t;

typedef struct {
    apr_size_t val;                /* value offset of the first such member */
    int count;                     /* members with the name (0: none) */
} ca_json_member_t;

typedef struct {
    apr_size_t arr;                /* offset of the array */
    int nrecs;
    int nkeys;
    const ca_json_span_t *recs;    /* element i: its span */
    const ca_json_member_t *members;   /* element i, name k: [i * nkeys + k];
                                      all count 0 when it is not an object */
} ca_json_records_t;

apr_status_t ca_json_scan_records(apr_pool_t *p, const char *buf,
                                  apr_size_t len, const ca_json_limits_t *lim,
                                  const ca_json_want_t *want,
                                  ca_json_doc_t **doc, const char **perr);

int ca_json_doc_records(const ca_json_doc_t *doc, apr_size_t arr,
                        ca_json_records_t *out);

/* Parse a NUL-terminated string with default limits; root or NULL. */
ca_json_t *ca_json_parse_str(apr_pool_t *p, const char *s, const char **perr);

/* Tree of the document (built now if the document was only scanned);
 * NULL on allocation failure. */
ca_json_t *ca_json_doc_root(ca_json_doc_t *doc);
const char *ca_json_doc_text(const ca_json_doc_t *doc, apr_size_t *len);
/* Non-zero when some string value of the document contains \u0000. */
int ca_json_doc_has_nul(const ca_json_doc_t *doc);

/*
 * Span of the value at path in the original text.  APR_NOTFOUND,
 * CA_JSON_EAMBIGUOUS (duplicated key on the way) or APR_EINVAL (bad path).
 */
apr_status_t ca_json_doc_span(const ca_json_doc_t *doc, const char *path,
                              ca_json_span_t *span, const char **perr);

/*
 * Spans of every element of the array at path, in order, as an array of
 * ca_json_span_t (element i of the tree's array is span i).  Linear in the
 * size of the text up to the end of the array.
 */
apr_status_t ca_json_doc_array_spans(apr_pool_t *p, const ca_json_doc_t *doc,
                                     const char *path,
                                     apr_array_header_t **spans,
                                     const char **perr);

/* ---- raw access: values of the original text, by offset --------------- */

/*
 * A value is named by the offset of its first byte in the document text.
 * Strings are compared after decoding escapes, byte for byte; keys too, so
 * "company\u005fid" is "company_id" and two of them are a duplicate.
 */
apr_size_t ca_json_raw_root(const ca_json_doc_t *doc);

/* Value at path below the value at off: APR_SUCCESS, APR_NOTFOUND,
 * CA_JSON_EAMBIGUOUS (duplicated key on the way), APR_EINVAL (path). */
apr_status_t ca_json_raw_lookup(const ca_json_doc_t *doc, apr_size_t off,
                                const char *path, apr_size_t *out);

ca_json_type_e ca_json_raw_type(const ca_json_doc_t *doc, apr_size_t off);

/* Length of the value's text. */
apr_size_t ca_json_raw_len(const ca_json_doc_t *doc, apr_size_t off);

/*
 * Identifier equality without allocation: a string that decodes exactly to
 * s, or (allow_number) an integer literal -?(0|[1-9][0-9]*) within +-2^53
 * whose text is s ("-0" reads "0").  Fractions and exponents never match.
 * s must be non-empty.
 */
int ca_json_raw_id_equals(const ca_json_doc_t *doc, apr_size_t off,
                          const char *s, int allow_number);

/* Identifier text with the same rules (NULL if not an id or empty). */
const char *ca_json_raw_id_text(apr_pool_t *p, const ca_json_doc_t *doc,
                                apr_size_t off, int allow_number);

/* Decoded string (NULL if not a string; stops at an embedded NUL). */
const char *ca_json_raw_string(apr_pool_t *p, const ca_json_doc_t *doc,
                               apr_size_t off);

/*
 * One pass over the members of the object at off: for each of the nkeys
 * names keys[k] (decoded, klens[k] bytes), counts[k] members carry it and
 * vals[k] is the value offset of the first.  Returns the offset just past
 * the object, 0 if the value at off is not an object.
 */
apr_size_t ca_json_raw_members(const ca_json_doc_t *doc, apr_size_t off,
                               int nkeys, const char *const *keys,
                               const apr_size_t *klens, apr_size_t *vals,
                               int *counts);

/* 1 if a boolean (value in *out), else 0. */
int ca_json_raw_bool(const ca_json_doc_t *doc, apr_size_t off, int *out);

/* Array iteration: first element (0 if not an array or empty), next. */
int ca_json_raw_first(const ca_json_doc_t *doc, apr_size_t off,
                      apr_size_t *elem);
int ca_json_raw_next(const ca_json_doc_t *doc, apr_size_t *elem);

/* ---- reading the tree ------------------------------------------------- */

ca_json_type_e ca_json_type(const ca_json_t *n);
const char *ca_json_type_name(ca_json_type_e t);
int ca_json_is_container(const ca_json_t *n);

/* Node at path or NULL (missing, ambiguous, bad path). */
ca_json_t *ca_json_get(const ca_json_t *n, const char *path);

/* As ca_json_get with the reason: APR_SUCCESS, APR_NOTFOUND,
 * CA_JSON_EAMBIGUOUS or APR_EINVAL (malformed path). */
apr_status_t ca_json_lookup(const ca_json_t *n, const char *path,
                            ca_json_t **out);

/* Non-zero when path is well formed (non-empty segments). */
int ca_json_path_valid(const char *path);

/* String value (decoded UTF-8) or NULL if not a string. */
const char *ca_json_string(const ca_json_t *n);
const char *ca_json_get_string(const ca_json_t *n, const char *path);

/* Number value; APR_EINVAL if not a number. */
apr_status_t ca_json_number(const ca_json_t *n, double *out);

/*
 * Canonical text of a number: integral values within +-2^53 as plain
 * decimal ("42", "-7"), others as %.17g.  NULL if not a number.
 */
const char *ca_json_number_text(apr_pool_t *p, const ca_json_t *n);

/*
 * Text of an identifier: a string as is; when allow_number, an integral
 * number within +-2^53 as its canonical decimal text.  Anything else
 * (null, bool, fractions, huge numbers, containers): NULL.  The tree only
 * knows values, so 42.0 reads "42" here; ca_json_raw_id_text looks at the
 * literal and refuses it.
 */
const char *ca_json_id_text(apr_pool_t *p, const ca_json_t *n,
                            int allow_number);

/* Boolean: 1 if n is a bool (value in *out), 0 otherwise. */
int ca_json_bool(const ca_json_t *n, int *out);

/* Elements of an array / members of an object; -1 if neither. */
int ca_json_size(const ca_json_t *n);
ca_json_t *ca_json_index(const ca_json_t *n, int i);   /* O(i) */

/* Iteration over arrays and objects (in document order). */
ca_json_t *ca_json_first(const ca_json_t *n);
ca_json_t *ca_json_next(const ca_json_t *n);
/* Member name of an object member, else NULL. */
const char *ca_json_key(const ca_json_t *member);
/* Number of members named key in object n (0 if n is not an object). */
int ca_json_key_count(const ca_json_t *n, const char *key);

#define CA_JSON_FOREACH(child, parent) \
    for ((child) = ca_json_first(parent); (child) != NULL; \
         (child) = ca_json_next(child))

/* ---- building --------------------------------------------------------- */

/* New empty root owned by p. */
ca_json_t *ca_json_new_object(apr_pool_t *p);
ca_json_t *ca_json_new_array(apr_pool_t *p);

/*
 * Append to parent: with key for objects (duplicates are not checked, use
 * ca_json_set_* to replace), key NULL for arrays.  The new node is owned by
 * parent's tree.  NULL on type mismatch or allocation failure.
 * add_string with val NULL adds null.
 */
ca_json_t *ca_json_add_object(ca_json_t *parent, const char *key);
ca_json_t *ca_json_add_array(ca_json_t *parent, const char *key);
ca_json_t *ca_json_add_string(ca_json_t *parent, const char *key,
                              const char *val);
ca_json_t *ca_json_add_number(ca_json_t *parent, const char *key, double v);
ca_json_t *ca_json_add_bool(ca_json_t *parent, const char *key, int v);
ca_json_t *ca_json_add_null(ca_json_t *parent, const char *key);
/* Raw JSON text inserted verbatim when printing: caller guarantees it is
 * valid JSON (e.g. spans of a parsed document). */
ca_json_t *ca_json_add_raw(ca_json_t *parent, const char *key,
                           const char *raw);
/* Deep copy of src (any tree) into parent. */
ca_json_t *ca_json_add_copy(ca_json_t *parent, const char *key,
                            const ca_json_t *src);

/*
 * Replace every member named key of object obj by one new value (at the
 * place of the first one), or append it.  NULL if obj is not an object.
 */
ca_json_t *ca_json_set_string(ca_json_t *obj, const char *key,
                              const char *val);
ca_json_t *ca_json_set_number(ca_json_t *obj, const char *key, double v);
ca_json_t *ca_json_set_object(ca_json_t *obj, const char *key);
ca_json_t *ca_json_set_array(ca_json_t *obj, const char *key);
/* Remove every member named key; returns how many were removed. */
int ca_json_remove(ca_json_t *obj, const char *key);

/* ---- output ----------------------------------------------------------- */

/* Unformatted JSON text in p; NULL on allocation failure. */
char *ca_json_print(apr_pool_t *p, const ca_json_t *n);

/*
 * Escape s for use inside a JSON string literal (no quotes added):
 * '"', '\\' and control characters escaped, invalid UTF-8 bytes replaced
 * by \ufffd.  ca_json_quote adds the surrounding quotes; NULL s gives null
 * (the bare word) from ca_json_quote and "" from ca_json_escape.
 */
/* Number of code points of s[0..len) when it is valid UTF-8 (shortest forms, no UTF-16
 * surrogates, at most U+10FFFF), else -1. The one UTF-8 check of the project. */
long ca_utf8_chars(const char *s, apr_size_t len);

char *ca_json_escape(apr_pool_t *p, const char *s);
char *ca_json_escape_len(apr_pool_t *p, const char *s, apr_size_t len);
char *ca_json_quote(apr_pool_t *p, const char *s);

#endif /* CA_JSON_H */
