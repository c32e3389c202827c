/*
 * test_json.c - unit tests of ca_json (parsing, limits, paths, spans, raw
 * accessors, building, printing, escaping).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "ca_json.h"
#include "records_oracle.h"

static apr_pool_t *pool;

static int setup(void **state)
{
    (void)state;
    return apr_pool_create(&pool, NULL) == APR_SUCCESS ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    return 0;
}

static const char *data_path(const char *rel)
{
    const char *dir = getenv("CA_TEST_DATA");

    return apr_pstrcat(pool, dir ? dir : "t/unit/data", "/", rel, NULL);
}

static char *slurp(const char *path, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;

    assert_int_equal(apr_file_open(&f, path, APR_FOPEN_READ, 0, pool),
                     APR_SUCCESS);
    assert_int_equal(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    buf = apr_palloc(pool, (apr_size_t)fi.size + 1);
    *len = (apr_size_t)fi.size;
    assert_int_equal(apr_file_read_full(f, buf, *len, NULL), APR_SUCCESS);
    buf[*len] = '\0';
    apr_file_close(f);
    return buf;
}

static ca_json_doc_t *parse_ok(const char *text)
{
    ca_json_doc_t *doc = NULL;
    const char *err = NULL;
    apr_status_t rv = ca_json_parse(pool, text, strlen(text), NULL, &doc,
                                    &err);

    if (rv != APR_SUCCESS) {
        fail_msg("parse failed: %s", err ? err : "?");
    }
    return doc;
}

/* Parse must fail; returns the message. */
static const char *parse_bad(const char *text, apr_size_t len)
{
    ca_json_doc_t *doc = NULL;
    const char *err = NULL;
    apr_status_t rv = ca_json_parse(pool, text, len, NULL, &doc, &err);

    if (rv == APR_SUCCESS) {
        fail_msg("parse accepted: %s", text);
    }
    assert_null(doc);
    assert_non_null(err);
    return err;
}

/* ------------------------------------------------------------------ */

static void test_paths(void **state)
{
    ca_json_doc_t *doc = parse_ok(
        "{\"data\":[{\"id\":\"r1\",\"n\":7},{\"id\":\"r2\"}],"
        "\"meta\":{\"nextCursor\":\"abc\",\"hasMore\":true},"
        "\"0\":\"zero-key\",\"empty\":{}}");
    ca_json_t *root = ca_json_doc_root(doc), *n;

    (void)state;
    assert_int_equal(ca_json_type(root), CA_JSON_OBJECT);
    assert_string_equal(ca_json_get_string(root, "meta.nextCursor"), "abc");
    assert_string_equal(ca_json_get_string(root, "data.0.id"), "r1");
    assert_string_equal(ca_json_get_string(root, "data.1.id"), "r2");
    assert_null(ca_json_get(root, "data.2.id"));
    assert_int_equal(ca_json_type(ca_json_get(root, "data")), CA_JSON_ARRAY);
    assert_ptr_equal(ca_json_get(root, ""), root);
    /* a digit segment is a key on objects */
    assert_string_equal(ca_json_get_string(root, "0"), "zero-key");
    /* non-canonical indexes are not indexes */
    assert_null(ca_json_get(root, "data.00.id"));
    assert_null(ca_json_get(root, "data.-1"));
    assert_null(ca_json_get(root, "data.+1"));
    /* through scalars */
    assert_null(ca_json_get(root, "meta.nextCursor.x"));
    /* malformed paths */
    assert_int_equal(ca_json_lookup(root, "data..id", &n), APR_EINVAL);
    assert_int_equal(ca_json_lookup(root, "meta.", &n), APR_EINVAL);
    assert_int_equal(ca_json_lookup(root, ".meta", &n), APR_EINVAL);
    assert_int_equal(ca_json_lookup(root, "nope", &n), APR_NOTFOUND);
    assert_null(n);
    assert_true(ca_json_path_valid(""));
    assert_true(ca_json_path_valid("a.b.0"));
    assert_false(ca_json_path_valid("a..b"));
    assert_false(ca_json_path_valid("a."));
    assert_false(ca_json_path_valid(NULL));
    /* case-sensitive */
    assert_null(ca_json_get(root, "Meta"));
    assert_null(ca_json_get(root, "meta.nextcursor"));
    assert_int_equal(ca_json_size(ca_json_get(root, "empty")), 0);
}

typedef struct {
    const char *text;
    const char *expect;        /* substring of the error */
} bad_t;

static void test_invalid(void **state)
{
    static const bad_t cases[] = {
        { "", "offset 0 (line 1, column 1): unexpected end of input" },
        { "   \n ", "unexpected end of input" },
        { "[1] x", "offset 4 (line 1, column 5): trailing characters" },
        { "{\"a\":1}}", "offset 7" },
        { "[01]", "offset 2" },
        { "[1.]", "invalid number" },
        { "[.5]", "unexpected character" },
        { "[+1]", "unexpected character" },
        { "[1e]", "invalid number" },
        { "[-]", "invalid number" },
        { "[NaN]", "unexpected character" },
        { "[Infinity]", "unexpected character" },
        { "[tru]", "invalid literal" },
        { "[nul", "invalid literal" },
        { "['a']", "unexpected character" },
        { "{a:1}", "expected a string key" },
        { "{\"a\" 1}", "expected ':'" },
        { "{\"a\":1,}", "expected a string key" },
        { "[1,]", "unexpected character" },
        { "[1 2]", "expected ',' or ']'" },
        { "{\"a\":1 \"b\":2}", "expected ',' or '}'" },
        { "[\"abc", "unterminated string" },
        { "[\"a\\", "unterminated string" },
        { "[\"a\\x\"]", "invalid escape" },
        { "[\"a\\u12\"]", "invalid \\u escape" },
        { "[\"a\\u12G4\"]", "invalid \\u escape" },
        { "[\"\\ud800\"]", "unpaired UTF-16 surrogate" },
        { "[\"\\ud800\\u0041\"]", "unpaired UTF-16 surrogate" },
        { "[\"\\udc00\"]", "unpaired UTF-16 surrogate" },
        { "[\"tab\there\"]", "control character in string" },
        { "[\"line\nbreak\"]", "offset 6 (line 1, column 7): control" },
        { "/* c */ 1", "unexpected character" },
        { "[1]\n\n  ]", "offset 7 (line 3, column 3)" },
        { "{\"k\\u0000\":1}", "\\u0000 in an object key" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *err = parse_bad(cases[i].text, strlen(cases[i].text));

        if (strstr(err, cases[i].expect) == NULL) {
            fail_msg("'%s': got '%s', want '%s'", cases[i].text, err,
                     cases[i].expect);
        }
        assert_non_null(strstr(err, "invalid JSON at offset"));
    }
    /* embedded NUL byte is not whitespace */
    assert_non_null(strstr(parse_bad("[1]\0", 4), "trailing"));
    /* NULL buffer = empty */
    {
        ca_json_doc_t *doc;
        const char *err = NULL;

        assert_int_equal(ca_json_parse(pool, NULL, 0, NULL, &doc, &err),
                         APR_EINVAL);
        assert_null(ca_json_parse_str(pool, "{", &err));
        assert_non_null(err);
    }
}

static void test_utf8(void **state)
{
    static const char *const bad[] = {
        "[\"\xC0\x80\"]",              /* overlong NUL */
        "[\"\xC1\xBF\"]",              /* overlong */
        "[\"\xE0\x80\xAF\"]",          /* overlong 3-byte */
        "[\"\xED\xA0\x80\"]",          /* UTF-16 surrogate */
        "[\"\xF0\x80\x80\xAF\"]",      /* overlong 4-byte */
        "[\"\xF4\x90\x80\x80\"]",      /* above U+10FFFF */
        "[\"\xF5\x80\x80\x80\"]",
        "[\"\xFF\"]",
        "[\"\x80\"]",                  /* lone continuation */
        "[\"\xC3\"]",                  /* truncated */
        "[\"\xE2\x82\"]",              /* truncated */
        "[\"abcdefgh\xE2\x82\"]",      /* after the word-at-a-time path */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = parse_bad(bad[i], strlen(bad[i]));

        assert_non_null(strstr(err, "invalid UTF-8"));
    }
    /* good ones: 2, 3, 4 bytes, max code point, in keys too */
    {
        ca_json_doc_t *doc = parse_ok(
            "{\"cl\xC3\xA9\":\"\xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"
            " \xEF\xBF\xBD\"}");
        ca_json_t *root = ca_json_doc_root(doc);

        assert_string_equal(ca_json_get_string(root, "cl\xC3\xA9"),
                            "\xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"
                            " \xEF\xBF\xBD");
    }
}

static void test_limits(void **state)
{
    ca_json_limits_t lim = { 0, 3 };
    ca_json_doc_t *doc;
    const char *err = NULL;
    char *deep;
    int i;

    (void)state;
    /* depth: 3 nested containers pass, 4 fail */
    assert_int_equal(ca_json_parse(pool, "[[[1]]]", 7, &lim, &doc, &err),
                     APR_SUCCESS);
    assert_int_equal(ca_json_parse(pool, "[[[[1]]]]", 9, &lim, &doc, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "nesting too deep"));
    assert_int_equal(ca_json_parse(pool, "{\"a\":{\"b\":{\"c\":{}}}}", 20,
                                   &lim, &doc, &err), APR_EINVAL);
    /* default depth 64 */
    deep = apr_palloc(pool, 200);
    for (i = 0; i < 65; i++) {
        deep[i] = '[';
        deep[65 + i] = ']';
    }
    assert_int_equal(ca_json_parse(pool, deep, 130, NULL, &doc, &err),
                     APR_EINVAL);
    assert_int_equal(ca_json_parse(pool, deep + 1, 128, NULL, &doc, &err),
                     APR_SUCCESS);
    /* hard cap: asking for more than 512 still stops at 512 */
    lim.max_depth = 100000;
    deep = apr_palloc(pool, 1200);
    for (i = 0; i < 600; i++) {
        deep[i] = '[';
        deep[600 + i] = ']';
    }
    assert_int_equal(ca_json_parse(pool, deep, 1200, &lim, &doc, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "nesting too deep"));
    /* size */
    lim.max_depth = 0;
    lim.max_size = 10;
    assert_int_equal(ca_json_parse(pool, "[1,2,3,4,5]", 11, &lim, &doc, &err),
                     APR_ENOSPC);
    assert_non_null(strstr(err, "too large"));
    assert_int_equal(ca_json_parse(pool, "[1,2,3,4]", 9, &lim, &doc, &err),
                     APR_SUCCESS);
}

static void test_nul_and_bom(void **state)
{
    ca_json_doc_t *doc;
    ca_json_t *root;
    apr_size_t v;
    const char *t = "{\"a\":\"x\\u0000y\"}";

    (void)state;
    doc = parse_ok(t);
    assert_true(ca_json_doc_has_nul(doc));
    root = ca_json_doc_root(doc);
    /* the tree's string stops at the NUL ... */
    assert_string_equal(ca_json_get_string(root, "a"), "x");
    /* ... the raw accessors compare exactly */
    assert_int_equal(ca_json_raw_lookup(doc, ca_json_raw_root(doc), "a", &v),
                     APR_SUCCESS);
    assert_false(ca_json_raw_id_equals(doc, v, "x", 0));
    assert_false(ca_json_raw_id_equals(doc, v, "xy", 0));
    assert_false(ca_json_doc_has_nul(parse_ok("{\"a\":\"\\\\u0000\"}")));

    /* BOM skipped, offsets stay relative to the buffer */
    doc = parse_ok("\xEF\xBB\xBF {\"k\":1}");
    assert_int_equal(ca_json_raw_root(doc), 4);
    assert_int_equal(ca_json_type(ca_json_doc_root(doc)), CA_JSON_OBJECT);
    /* a BOM elsewhere is an error */
    parse_bad("[\xEF\xBB\xBF]", 5);
}

static void test_duplicates_and_escaped_keys(void **state)
{
    ca_json_doc_t *doc = parse_ok(
        "{\"a\":1,\"b\":{\"c\":1,\"c\":2},\"a\":2,\"d\\u0061ta\":[\"x\"],"
        "\"e\":{\"f\":\"g\"},\"data\":[\"y\"],\"k\":{\"z\\/\":\"s\"}}");
    ca_json_t *root = ca_json_doc_root(doc), *n;
    apr_size_t v;
    apr_size_t r = ca_json_raw_root(doc);

    (void)state;
    assert_int_equal(ca_json_lookup(root, "a", &n), CA_JSON_EAMBIGUOUS);
    assert_null(ca_json_get(root, "a"));
    assert_int_equal(ca_json_lookup(root, "b.c", &n), CA_JSON_EAMBIGUOUS);
    assert_int_equal(ca_json_key_count(root, "a"), 2);
    /* "d\u0061ta" is "data": a duplicate too */
    assert_int_equal(ca_json_lookup(root, "data", &n), CA_JSON_EAMBIGUOUS);
    assert_int_equal(ca_json_raw_lookup(doc, r, "data", &v),
                     CA_JSON_EAMBIGUOUS);
    assert_int_equal(ca_json_raw_lookup(doc, r, "a", &v), CA_JSON_EAMBIGUOUS);
    assert_int_equal(ca_json_raw_lookup(doc, r, "b.c", &v),
                     CA_JSON_EAMBIGUOUS);
    assert_int_equal(ca_json_raw_lookup(doc, r, "e.f", &v), APR_SUCCESS);
    assert_true(ca_json_raw_id_equals(doc, v, "g", 0));
    /* escaped solidus in a key */
    assert_int_equal(ca_json_raw_lookup(doc, r, "k.z/", &v), APR_SUCCESS);
    assert_string_equal(ca_json_get_string(root, "k.z/"), "s");
    /* spans refuse ambiguous paths as well */
    {
        apr_array_header_t *sp;
        const char *err = NULL;

        assert_int_equal(ca_json_doc_array_spans(pool, doc, "data", &sp,
                                                 &err), CA_JSON_EAMBIGUOUS);
        assert_non_null(strstr(err, "duplicated key"));
    }
}

static void test_getters(void **state)
{
    ca_json_doc_t *doc = parse_ok(
        "{\"s\":\"str\",\"i\":42,\"f\":42.0,\"e\":4.2e1,\"x\":42.5,"
        "\"neg\":-7,\"big\":9007199254740993,\"edge\":9007199254740991,"
        "\"t\":true,\"no\":false,\"z\":null,\"arr\":[1,\"2\",null],"
        "\"obj\":{\"k1\":1,\"k2\":2},\"empty\":\"\",\"huge\":1e400}");
    ca_json_t *root = ca_json_doc_root(doc), *c;
    double d;
    int b, count = 0;

    (void)state;
    assert_string_equal(ca_json_string(ca_json_get(root, "s")), "str");
    assert_null(ca_json_string(ca_json_get(root, "i")));
    assert_int_equal(ca_json_number(ca_json_get(root, "i"), &d), APR_SUCCESS);
    assert_true(d == 42.0);
    assert_int_equal(ca_json_number(ca_json_get(root, "s"), &d), APR_EINVAL);
    assert_string_equal(ca_json_number_text(pool, ca_json_get(root, "i")),
                        "42");
    assert_string_equal(ca_json_number_text(pool, ca_json_get(root, "x")),
                        "42.5");
    assert_string_equal(ca_json_number_text(pool, ca_json_get(root, "neg")),
                        "-7");
    assert_null(ca_json_number_text(pool, ca_json_get(root, "s")));
    /* ids */
    assert_string_equal(ca_json_id_text(pool, ca_json_get(root, "s"), 0),
                        "str");
    assert_null(ca_json_id_text(pool, ca_json_get(root, "i"), 0));
    assert_string_equal(ca_json_id_text(pool, ca_json_get(root, "i"), 1),
                        "42");
    assert_string_equal(ca_json_id_text(pool, ca_json_get(root, "f"), 1),
                        "42");
    assert_string_equal(ca_json_id_text(pool, ca_json_get(root, "e"), 1),
                        "42");
    assert_null(ca_json_id_text(pool, ca_json_get(root, "x"), 1));
    assert_null(ca_json_id_text(pool, ca_json_get(root, "big"), 1));
    assert_null(ca_json_id_text(pool, ca_json_get(root, "huge"), 1));
    assert_string_equal(ca_json_id_text(pool, ca_json_get(root, "edge"), 1),
                        "9007199254740991");
    assert_null(ca_json_id_text(pool, ca_json_get(root, "z"), 1));
    assert_null(ca_json_id_text(pool, ca_json_get(root, "t"), 1));
    assert_null(ca_json_id_text(pool, ca_json_get(root, "arr"), 1));
    /* bools */
    assert_true(ca_json_bool(ca_json_get(root, "t"), &b));
    assert_int_equal(b, 1);
    assert_true(ca_json_bool(ca_json_get(root, "no"), &b));
    assert_int_equal(b, 0);
    assert_false(ca_json_bool(ca_json_get(root, "z"), &b));
    assert_int_equal(ca_json_type(ca_json_get(root, "z")), CA_JSON_NULL);
    assert_string_equal(ca_json_type_name(CA_JSON_TRUE), "boolean");
    assert_int_equal(ca_json_type(NULL), CA_JSON_INVALID);
    /* arrays and objects */
    assert_int_equal(ca_json_size(ca_json_get(root, "arr")), 3);
    assert_int_equal(ca_json_size(ca_json_get(root, "s")), -1);
    assert_string_equal(ca_json_string(ca_json_index(ca_json_get(root, "arr"),
                                                     1)), "2");
    assert_null(ca_json_index(ca_json_get(root, "arr"), 3));
    assert_null(ca_json_index(ca_json_get(root, "arr"), -1));
    CA_JSON_FOREACH(c, ca_json_get(root, "obj")) {
        count++;
        assert_string_equal(ca_json_key(c), count == 1 ? "k1" : "k2");
    }
    assert_int_equal(count, 2);
    assert_null(ca_json_first(ca_json_get(root, "s")));
    assert_null(ca_json_key(ca_json_index(ca_json_get(root, "arr"), 0)));
}

/* Print of a value through the tree of its own span text. */
static const char *reprint_span(const char *text, const ca_json_span_t *sp)
{
    const char *err = NULL;
    ca_json_t *n = ca_json_parse_str(pool,
                                     apr_pstrmemdup(pool, text + sp->off,
                                                    sp->len), &err);

    if (n == NULL) {
        fail_msg("span does not parse: %s", err);
    }
    return ca_json_print(pool, n);
}

static void check_spans_match_tree(ca_json_doc_t *doc, const char *path)
{
    apr_array_header_t *spans;
    const char *err = NULL, *text = ca_json_doc_text(doc, NULL);
    ca_json_t *arr = ca_json_get(ca_json_doc_root(doc), path), *e;
    int i = 0;

    assert_int_equal(ca_json_doc_array_spans(pool, doc, path, &spans, &err),
                     APR_SUCCESS);
    assert_int_equal(spans->nelts, ca_json_size(arr));
    CA_JSON_FOREACH(e, arr) {
        const ca_json_span_t *sp = &APR_ARRAY_IDX(spans, i, ca_json_span_t);

        assert_string_equal(reprint_span(text, sp), ca_json_print(pool, e));
        i++;
    }
}

static void test_spans_fixture(void **state)
{
    apr_size_t len;
    char *text = slurp(data_path("json/spans.json"), &len);
    ca_json_doc_t *doc;
    apr_array_header_t *spans;
    const char *err = NULL;
    ca_json_span_t sp;
    const ca_json_span_t *s;

    (void)state;
    assert_int_equal(ca_json_parse(pool, text, len, NULL, &doc, &err),
                     APR_SUCCESS);
    check_spans_match_tree(doc, "data");
    assert_int_equal(ca_json_doc_array_spans(pool, doc, "data", &spans, &err),
                     APR_SUCCESS);
    assert_int_equal(spans->nelts, 13);
#define SPAN_IS(i, str) \
    s = &APR_ARRAY_IDX(spans, i, ca_json_span_t); \
    assert_int_equal(s->len, strlen(str)); \
    assert_memory_equal(text + s->off, str, strlen(str))
    SPAN_IS(0, "{\"id\": \"a\", \"s\": \"quote \\\" inside\", "
               "\"b\": \"backslash at end \\\\\"}");
    SPAN_IS(2, "\"plain string with \\\\\\\" escaped\"");
    SPAN_IS(4, "12.5e-3");
    SPAN_IS(5, "-0");
    SPAN_IS(6, "true");
    SPAN_IS(8, "null");
    SPAN_IS(9, "[]");
    SPAN_IS(10, "{}");
    SPAN_IS(11, "[ \"nested\", [ \"arrays\" , [ ] ] ]");
#undef SPAN_IS
    /* nested arrays */
    check_spans_match_tree(doc, "data.1.n");
    check_spans_match_tree(doc, "data.11");
    /* single spans */
    assert_int_equal(ca_json_doc_span(doc, "meta.nextCursor", &sp, &err),
                     APR_SUCCESS);
    assert_int_equal(sp.len, strlen("\"c\\\"ur\\\\sor\""));
    assert_memory_equal(text + sp.off, "\"c\\\"ur\\\\sor\"", sp.len);
    assert_int_equal(ca_json_doc_span(doc, "tail", &sp, &err), APR_SUCCESS);
    assert_memory_equal(text + sp.off, "\"after\"", sp.len);
    assert_int_equal(ca_json_doc_span(doc, "", &sp, &err), APR_SUCCESS);
    assert_int_equal(sp.off, 0);
    assert_int_equal(sp.len, len - 1);          /* final newline */
    assert_int_equal(ca_json_doc_span(doc, "nope", &sp, &err), APR_NOTFOUND);
    assert_int_equal(ca_json_doc_span(doc, "a..b", &sp, &err), APR_EINVAL);
    /* not an array */
    assert_int_equal(ca_json_doc_array_spans(pool, doc, "meta", &spans, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "not an array"));
    assert_int_equal(ca_json_doc_array_spans(pool, doc, "nope", &spans, &err),
                     APR_NOTFOUND);
    /* decoded tree strings */
    assert_string_equal(ca_json_get_string(ca_json_doc_root(doc), "data.3"),
                        "unicode \xC3\xA9 \xF0\x9F\x98\x80 and raw "
                        "\xC3\xA9 \xF0\x9F\x98\x80");
    assert_string_equal(ca_json_get_string(ca_json_doc_root(doc),
                                           "data.12.k\"ey"), "v");
}

/* ---- random documents: spans must agree with the tree ---------------- */

static unsigned long rnd_state = 12345;

static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned)((rnd_state >> 33) % n);
}

static const char *rnd_ws(void)
{
    static const char *const ws[] = { "", "", " ", "\n", "\t ", "\r\n  " };

    return ws[rnd(6)];
}

static const char *rnd_string(int key)
{
    static const char *const parts[] = {
        "a", "bc", "\\\"", "\\\\", "\\/", "\\n", "\\u00e9", "\\ud83d\\ude00",
        "\xC3\xA9", "\xF0\x9F\x98\x80", "]", "}", "[", "{", ",", ":", " ",
        "\\u0000", "long text long text long text ", "x\\\\\\\"y", "\\t"
    };
    const char *s = "\"";
    unsigned k = rnd(6);

    while (k-- > 0) {
        const char *part = parts[rnd(sizeof(parts) / sizeof(parts[0]))];

        if (key && strcmp(part, "\\u0000") == 0) {
            part = "\\u0001";             /* refused in keys */
        }
        s = apr_pstrcat(pool, s, part, NULL);
    }
    return apr_pstrcat(pool, s, "\"", NULL);
}

static const char *rnd_value(int depth)
{
    static const char *const scalars[] = {
        "0", "-0", "12", "-3.25", "1e10", "2E-5", "true", "false", "null",
        "123456789012345678901234567890"
    };
    unsigned k = rnd(depth > 4 ? 3 : 6);
    const char *s;
    unsigned n, i;

    switch (k) {
    case 0:
        return scalars[rnd(sizeof(scalars) / sizeof(scalars[0]))];
    case 1:
    case 2:
        return rnd_string(0);
    case 3:
    case 4:
        n = rnd(5);
        s = apr_pstrcat(pool, "{", rnd_ws(), NULL);
        for (i = 0; i < n; i++) {
            s = apr_pstrcat(pool, s, i ? "," : "", rnd_ws(), rnd_string(1),
                            rnd_ws(), ":", rnd_ws(), rnd_value(depth + 1),
                            rnd_ws(), NULL);
        }
        return apr_pstrcat(pool, s, "}", NULL);
    default:
        n = rnd(5);
        s = apr_pstrcat(pool, "[", rnd_ws(), NULL);
        for (i = 0; i < n; i++) {
            s = apr_pstrcat(pool, s, i ? "," : "", rnd_ws(),
                            rnd_value(depth + 1), rnd_ws(), NULL);
        }
        return apr_pstrcat(pool, s, "]", NULL);
    }
}

static void test_spans_random(void **state)
{
    int doc_no;

    (void)state;
    for (doc_no = 0; doc_no < 300; doc_no++) {
        const char *s = apr_pstrcat(pool, rnd_ws(), "{\"pre\":",
                                    rnd_value(2), ",\"data\":[", rnd_ws(),
                                    NULL);
        unsigned n = rnd(12), i;
        ca_json_doc_t *doc;
        const char *err = NULL;

        for (i = 0; i < n; i++) {
            s = apr_pstrcat(pool, s, i ? "," : "", rnd_ws(), rnd_value(1),
                            rnd_ws(), NULL);
        }
        s = apr_pstrcat(pool, s, "]", rnd_ws(), ",\"post\":", rnd_value(2),
                        "}", rnd_ws(), NULL);
        if (ca_json_parse(pool, s, strlen(s), NULL, &doc, &err)
            != APR_SUCCESS) {
            fail_msg("generated text does not parse: %s\n%s", err, s);
        }
        check_spans_match_tree(doc, "data");
        /* the lazily built tree of a scanned doc agrees too */
        assert_int_equal(ca_json_scan(pool, s, strlen(s), NULL, &doc, &err),
                         APR_SUCCESS);
        check_spans_match_tree(doc, "data");
    }
}

/* Large records: skips go through the container index. */
static void test_spans_large(void **state)
{
    apr_array_header_t *parts = apr_array_make(pool, 2000, sizeof(char *));
    ca_json_doc_t *doc;
    const char *text, *err = NULL;
    apr_size_t v, e;
    int i, n = 0;

    (void)state;
    APR_ARRAY_PUSH(parts, const char *) = "{\"data\":[";
    for (i = 0; i < 1000; i++) {
        APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(pool,
            "%s{\"id\":\"r%d\",\"pad\":\"%0*d\",\"sub\":{\"deep\":[[%d],"
            "{\"q\":\"]}\\\"\"}]},\"x\":[]}", i ? "," : "", i, (i % 90) + 1,
            i, i);
    }
    APR_ARRAY_PUSH(parts, const char *) = "],\"data2\":[1,2]}";
    text = apr_array_pstrcat(pool, parts, 0);
    assert_int_equal(ca_json_parse(pool, text, strlen(text), NULL, &doc,
                                   &err), APR_SUCCESS);
    check_spans_match_tree(doc, "data");
    /* raw iteration and lookups over the same records */
    assert_int_equal(ca_json_raw_lookup(doc, ca_json_raw_root(doc), "data",
                                        &v), APR_SUCCESS);
    assert_true(ca_json_raw_first(doc, v, &e));
    do {
        apr_size_t id;

        assert_int_equal(ca_json_raw_lookup(doc, e, "id", &id), APR_SUCCESS);
        assert_true(ca_json_raw_id_equals(doc, id,
                                          apr_psprintf(pool, "r%d", n), 0));
        n++;
    } while (ca_json_raw_next(doc, &e));
    assert_int_equal(n, 1000);
    assert_int_equal(ca_json_raw_lookup(doc, ca_json_raw_root(doc),
                                        "data2.1", &v), APR_SUCCESS);
    assert_true(ca_json_raw_id_equals(doc, v, "2", 1));
}

static void test_raw(void **state)
{
    const char *t =
        "{\"s\":\"a\\u00e9\\ud83d\\ude00\\n\\\"\",\"i\":42,\"f\":42.0,"
        "\"e\":4e1,\"z\":-0,\"neg\":-12,\"b\":9007199254740991,"
        "\"c\":9007199254740992,\"t\":true,\"n\":null,\"arr\":[\"x\",1,[]],"
        "\"empty\":\"\",\"esc\":\"c\\u006f_1\",\"bad\":\"co_1\\u0000\"}";
    ca_json_doc_t *doc;
    const char *err = NULL;
    apr_size_t r, v, e;
    int b;

    (void)state;
    assert_int_equal(ca_json_scan(pool, t, strlen(t), NULL, &doc, &err),
                     APR_SUCCESS);
    r = ca_json_raw_root(doc);
    assert_int_equal(ca_json_raw_type(doc, r), CA_JSON_OBJECT);
#define AT(path) \
    (assert_int_equal(ca_json_raw_lookup(doc, r, path, &v), APR_SUCCESS), v)
    assert_string_equal(ca_json_raw_string(pool, doc, AT("s")),
                        "a\xC3\xA9\xF0\x9F\x98\x80\n\"");
    assert_true(ca_json_raw_id_equals(doc, AT("s"),
                                      "a\xC3\xA9\xF0\x9F\x98\x80\n\"", 0));
    assert_false(ca_json_raw_id_equals(doc, AT("s"), "a", 0));
    assert_int_equal(ca_json_raw_type(doc, AT("i")), CA_JSON_NUMBER);
    assert_true(ca_json_raw_id_equals(doc, AT("i"), "42", 1));
    assert_false(ca_json_raw_id_equals(doc, AT("i"), "42", 0));
    assert_false(ca_json_raw_id_equals(doc, AT("i"), "4", 1));
    assert_false(ca_json_raw_id_equals(doc, AT("f"), "42", 1));
    assert_false(ca_json_raw_id_equals(doc, AT("e"), "40", 1));
    assert_true(ca_json_raw_id_equals(doc, AT("z"), "0", 1));
    assert_string_equal(ca_json_raw_id_text(pool, doc, AT("z"), 1), "0");
    assert_true(ca_json_raw_id_equals(doc, AT("neg"), "-12", 1));
    assert_true(ca_json_raw_id_equals(doc, AT("b"), "9007199254740991", 1));
    assert_false(ca_json_raw_id_equals(doc, AT("c"), "9007199254740992", 1));
    assert_null(ca_json_raw_id_text(pool, doc, AT("c"), 1));
    assert_null(ca_json_raw_id_text(pool, doc, AT("f"), 1));
    assert_string_equal(ca_json_raw_id_text(pool, doc, AT("i"), 1), "42");
    assert_null(ca_json_raw_id_text(pool, doc, AT("i"), 0));
    assert_null(ca_json_raw_id_text(pool, doc, AT("empty"), 0));
    assert_false(ca_json_raw_id_equals(doc, AT("empty"), "", 0));
    assert_true(ca_json_raw_id_equals(doc, AT("esc"), "co_1", 0));
    assert_false(ca_json_raw_id_equals(doc, AT("bad"), "co_1", 0));
    assert_true(ca_json_raw_bool(doc, AT("t"), &b));
    assert_int_equal(b, 1);
    assert_false(ca_json_raw_bool(doc, AT("n"), &b));
    assert_int_equal(ca_json_raw_type(doc, AT("n")), CA_JSON_NULL);
    assert_null(ca_json_raw_string(pool, doc, AT("n")));
    assert_false(ca_json_raw_id_equals(doc, AT("n"), "null", 1));
    assert_false(ca_json_raw_id_equals(doc, AT("t"), "true", 1));
    assert_int_equal(ca_json_raw_len(doc, AT("arr")), strlen("[\"x\",1,[]]"));
    assert_true(ca_json_raw_first(doc, AT("arr"), &e));
    assert_true(ca_json_raw_id_equals(doc, e, "x", 0));
    assert_true(ca_json_raw_next(doc, &e));
    assert_true(ca_json_raw_id_equals(doc, e, "1", 1));
    assert_true(ca_json_raw_next(doc, &e));
    assert_int_equal(ca_json_raw_type(doc, e), CA_JSON_ARRAY);
    assert_false(ca_json_raw_first(doc, e, &e));        /* empty */
    assert_false(ca_json_raw_first(doc, AT("s"), &e));  /* not an array */
    assert_int_equal(ca_json_raw_lookup(doc, r, "arr.1", &v), APR_SUCCESS);
    assert_int_equal(ca_json_raw_lookup(doc, r, "arr.3", &v), APR_NOTFOUND);
    assert_int_equal(ca_json_raw_lookup(doc, r, "s.x", &v), APR_NOTFOUND);
    assert_int_equal(ca_json_raw_lookup(doc, r, "", &v), APR_SUCCESS);
    assert_int_equal(v, r);
    assert_int_equal(ca_json_raw_type(doc, 100000), CA_JSON_INVALID);
#undef AT
}

static void test_raw_members(void **state)
{
    const char *t = "{\"a\":1,\"b\":{\"x\":[1,2]},\"a\":3,\"c\\u0061\":\"v\","
                    "\"ca\":\"w\",\"d\":null}";
    static const char *const keys[] = { "a", "b", "ca", "zz", "d" };
    apr_size_t klens[5], vals[5], end;
    int counts[5], k;
    ca_json_doc_t *doc = parse_ok(t);

    (void)state;
    for (k = 0; k < 5; k++) {
        klens[k] = strlen(keys[k]);
    }
    end = ca_json_raw_members(doc, ca_json_raw_root(doc), 5, keys, klens,
                              vals, counts);
    assert_int_equal(end, strlen(t));
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 1);
    assert_int_equal(ca_json_raw_type(doc, vals[1]), CA_JSON_OBJECT);
    assert_int_equal(counts[2], 2);             /* "c\u0061" and "ca" */
    assert_true(ca_json_raw_id_equals(doc, vals[2], "v", 0));
    assert_int_equal(counts[3], 0);
    assert_int_equal(counts[4], 1);
    assert_int_equal(ca_json_raw_members(doc, vals[4], 5, keys, klens, vals,
                                         counts), 0);
    /* empty object */
    doc = parse_ok(" { } ");
    assert_int_equal(ca_json_raw_members(doc, ca_json_raw_root(doc), 5, keys,
                                         klens, vals, counts), 4);
    assert_int_equal(counts[0], 0);
}

/* ---- ca_json_scan_records against the walk it replaces ----------------- */

static const char *const rk_keys[] = { "a", "bc", "", "\xC3\xA9", "a\"",
                                        "company_id", "client_id" };
#define RK_N ((int)(sizeof(rk_keys) / sizeof(rk_keys[0])))

/* ca_test_records_agree (records_oracle.c, shared with fuzz/fuzz_scope.c): 1 (collected and
 * equal to the walk), 0 (not collected: the caller walks), -1 (refused alike), -2 (no array
 * at path); a disagreement fails the test with what differs. */
static int records_agree(const char *text, apr_size_t len, const char *path,
                         const ca_json_limits_t *lim)
{
    const char *why = NULL;
    int r = ca_test_records_agree(pool, text, len, path, lim, RK_N, rk_keys, &why);

    if (r == -3) {
        fail_msg("%s", why);
    }
    return r;
}

static int records_agree_str(const char *text, const char *path)
{
    return records_agree(text, strlen(text), path, NULL);
}

static void test_scan_records_edges(void **state)
{
    static const struct {
        const char *text;
        const char *path;
        int want;
    } cases[] = {
        { "{\"data\":[]}", "data", 1 },
        { "{\"data\":[ ]}", "data", 1 },
        { "{\"data\":[{}]}", "data", 1 },
        { "{\"data\":[{\"company_id\":\"c\",\"client_id\":1}]}", "data", 1 },
        /* whitespace everywhere */
        { " \t\n{ \"data\" :\r[ { \"company_id\" : \"c\" ,\n\"a\"\t:\t1 } , 1 ,"
          " \"x\" , [ ] , null ] } \n", "data", 1 },
        /* duplicate scope keys in a record */
        { "{\"data\":[{\"a\":1,\"a\":2,\"company_id\":\"x\",\"company_id\":\"y\"}]}",
          "data", 1 },
        /* escaped member names, on the path and in records */
        { "{\"d\\u0061ta\":[{\"client\\u005fid\":\"c\",\"client_id\":\"d\","
          "\"\\u00e9\":1,\"\\u0061\\\"\":2}]}", "data", 1 },
        { "{\"data\":[{\"b\\u0063\":1,\"\\/a\":2,\"a\\/\":3,\"a\\\\\":4}]}",
          "data", 1 },
        { "{\"data\":[{\"\\ud83d\\ude00\":1,\"a\":2,\"a\\\"\":3}]}", "data", 1 },
        /* the same names at other depths */
        { "{\"company_id\":\"r\",\"data\":[{\"x\":{\"company_id\":\"n\",\"a\":"
          "[{\"a\":1}]},\"company_id\":\"c\",\"y\":[{\"client_id\":2}]}]}",
          "data", 1 },
        { "{\"meta\":{\"data\":[{\"a\":9}]},\"data\":[{\"a\":1}],"
          "\"x\":[{\"data\":[{\"a\":3}]}]}", "data", 1 },
        /* prefixes and empty names */
        { "{\"data\":[{\"ab\":1,\"\":2,\"a\":3,\"company_idx\":4,"
          "\"company_i\":5}]}", "data", 1 },
        /* numbers vs strings */
        { "{\"data\":[{\"a\":12,\"company_id\":\"12\",\"client_id\":-0}]}",
          "data", 1 },
        /* records that are not objects */
        { "{\"data\":[1,\"a\",null,true,false,[{\"a\":1}],-0.5e3,{\"a\":2}]}",
          "data", 1 },
        /* the root, deeper paths, a BOM */
        { "[{\"a\":1},{\"bc\":2},3]", "", 1 },
        { "{\"x\":{\"y\":[{\"a\":\"1\"}]},\"y\":[{\"a\":2}]}", "x.y", 1 },
        { "\xEF\xBB\xBF{\"data\":[{\"a\":1}]}", "data", 1 },
        /* duplicated key on the path: no records array, as before */
        { "{\"data\":[{\"a\":1}],\"data\":[{\"a\":2}]}", "data", -2 },
        { "{\"data\":[{\"a\":1}],\"data\":3}", "data", -2 },
        { "{\"data\":[{\"a\":1}],\"d\\u0061ta\":[]}", "data", -2 },
        { "{\"x\":{\"y\":[]},\"x\":{\"y\":[]}}", "x.y", -2 },
        /* a path through an array index: the caller walks */
        { "{\"data\":[{\"items\":[{\"a\":1}]}]}", "data.0.items", 0 },
        /* not an array, nothing there */
        { "{\"data\":{\"a\":1}}", "data", -2 },
        { "{\"data\":null}", "data", -2 },
        { "{}", "data", -2 },
        { "[]", "data", -2 },
        { "{\"data\":[]}", "data..x", -2 },
        /* refused */
        { "", "data", -1 },
        { "{\"data\":[{\"a\":1},{\"a\"", "data", -1 },
        { "{\"data\":[{\"a\":\"x", "data", -1 },
        { "{\"data\":[{\"a\":1}", "data", -1 },
        { "{\"data\":[{\"a\":1}]", "data", -1 },
        { "{\"data\":[{\"a\":1}]} x", "data", -1 },
        { "{\"data\":[{\"a\":\"\xC3\x28\"}]}", "data", -1 },
        { "{\"data\":[{\"\xFF\":1}]}", "data", -1 },
        { "{\"data\":[{\"a\xED\xA0\x80\":1}]}", "data", -1 },
        { "{\"data\":[{\"a\\u0000\":1}]}", "data", -1 },
        { "{\"data\":[{\"a\\ud800\":1}]}", "data", -1 },
        { "{\"data\":[{\"a\\x\":1}]}", "data", -1 },
        { "{\"data\":[{\"a\":01}]}", "data", -1 },
        { "{\"data\":[{\"a\" 1}]}", "data", -1 },
        { "{\"data\":[{\"a\":1,}]}", "data", -1 },
        { "{\"data\":[{\"a\":1}],}", "data", -1 },
        { "{\"data\":[,{\"a\":1}]}", "data", -1 },
        { "{\"data\":[{a:1}]}", "data", -1 },
    };
    static const ca_json_limits_t tight = { 0, 4 }, small = { 20, 0 };
    char *deep;
    int i;

    (void)state;
    for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
        int got = records_agree_str(cases[i].text, cases[i].path);

        if (got != cases[i].want) {
            fail_msg("case %d (%s at '%s'): %d, expected %d", i,
                     cases[i].text, cases[i].path, got, cases[i].want);
        }
    }
    /* a string value with \u0000 is flagged the same */
    assert_int_equal(records_agree_str("{\"data\":[{\"a\":\"x\\u0000\"}]}",
                                       "data"), 1);
    /* depth and size limits */
    assert_int_equal(records_agree("{\"data\":[{\"a\":[1]}]}", 20, "data",
                                   &tight), 1);
    assert_int_equal(records_agree("{\"data\":[{\"a\":[[1]]}]}", 22, "data",
                                   &tight), -1);
    assert_int_equal(records_agree("{\"data\":[{\"a\":[1]}]}  ", 22, "data",
                                   &small), -1);
    deep = apr_pstrcat(pool, "{\"data\":[{\"a\":",
                       apr_psprintf(pool, "%0*d", 140, 0), "}]}", NULL);
    for (i = 0; i < 140; i++) {                 /* depth 3 + 70 > 64 */
        deep[14 + i] = i < 70 ? '[' : ']';
    }
    assert_int_equal(records_agree_str(deep, "data"), -1);
    for (i = 0; i < 140; i++) {                 /* depth 3 + 61 */
        deep[14 + i] = i < 61 ? '[' : i < 122 ? ']' : ' ';
    }
    assert_int_equal(records_agree_str(deep, "data"), 1);
    /* more segments than collected: the caller walks */
    assert_int_equal(records_agree_str("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{"
                                       "\"a\":{\"a\":{\"a\":{\"a\":[1]}}}}}}}}}",
                                       "a.a.a.a.a.a.a.a.a"), 0);
    assert_int_equal(records_agree_str("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{"
                                       "\"a\":{\"a\":{\"a\":[1]}}}}}}}}",
                                       "a.a.a.a.a.a.a.a"), 1);
    /* no keys wanted */
    {
        ca_json_want_t w = { "data", 0, NULL, NULL };
        ca_json_doc_t *doc;
        ca_json_records_t recs;

        assert_int_equal(ca_json_scan_records(pool, "{\"data\":[{},2]}", 15,
                                              NULL, &w, &doc, NULL),
                         APR_SUCCESS);
        assert_true(ca_json_doc_records(doc, 8, &recs));
        assert_int_equal(recs.nrecs, 2);
        assert_int_equal(recs.recs[1].off, 12);
        assert_int_equal(recs.recs[1].len, 1);
        assert_false(ca_json_doc_records(doc, 9, &recs));
        /* a plain scan collects nothing */
        assert_int_equal(ca_json_scan(pool, "{\"data\":[]}", 11, NULL, &doc,
                                      NULL), APR_SUCCESS);
        assert_false(ca_json_doc_records(doc, 8, &recs));
    }
}

/* Random documents, their records, and every prefix of some of them. */
static void test_scan_records_random(void **state)
{
    static const char *const names[] = {
        "\"a\"", "\"\\u0061\"", "\"bc\"", "\"b\\u0063\"", "\"\"", "\"\\u00e9\"",
        "\"\xC3\xA9\"", "\"a\\\"\"", "\"company_id\"", "\"client\\u005fid\""
    };
    int doc_no, got[3] = { 0, 0, 0 };

    (void)state;
    for (doc_no = 0; doc_no < 400; doc_no++) {
        const char *s = apr_pstrcat(pool, rnd_ws(), "{\"pre\":",
                                    rnd_value(2), ",\"data\":[", rnd_ws(),
                                    NULL);
        unsigned n = rnd(12), i, j, m;
        apr_size_t len, cut;
        int r;

        for (i = 0; i < n; i++) {
            const char *rec;

            if (rnd(4) == 0) {
                rec = rnd_value(1);
            }
            else {
                m = rnd(6);
                rec = apr_pstrcat(pool, "{", rnd_ws(), NULL);
                for (j = 0; j < m; j++) {
                    const char *k = rnd(3) ? names[rnd(sizeof(names)
                                                       / sizeof(names[0]))]
                                           : rnd_string(1);

                    rec = apr_pstrcat(pool, rec, j ? "," : "", rnd_ws(), k,
                                      rnd_ws(), ":", rnd_ws(), rnd_value(2),
                                      rnd_ws(), NULL);
                }
                rec = apr_pstrcat(pool, rec, "}", NULL);
            }
            s = apr_pstrcat(pool, s, i ? "," : "", rnd_ws(), rec, rnd_ws(),
                            NULL);
        }
        s = apr_pstrcat(pool, s, "]", rnd_ws(), ",\"post\":", rnd_value(2),
                        "}", rnd_ws(), NULL);
        len = strlen(s);
        r = records_agree(s, len, "data", NULL);
        if (r != 1) {
            fail_msg("generated text: %d\n%s", r, s);
        }
        got[0]++;
        if (doc_no % 20 == 0) {
            for (cut = 0; cut < len; cut++) {
                r = records_agree(s, cut, "data", NULL);
                got[r == -1 ? 1 : 2]++;
            }
        }
        /* one byte changed */
        {
            char *t = apr_pstrdup(pool, s);
            static const char bad[] = "\"\\{}[],: x\x80\xC3\x01";

            t[rnd((unsigned)len)] = bad[rnd(sizeof(bad) - 1)];
            records_agree(t, len, "data", NULL);
        }
    }
    assert_true(got[1] > 0);
}

static void test_build_print(void **state)
{
    ca_json_t *o = ca_json_new_object(pool), *a, *sub, *src;

    (void)state;
    assert_non_null(o);
    assert_non_null(ca_json_add_string(o, "provider", "sand\"box"));
    assert_non_null(ca_json_add_number(o, "count", 3));
    assert_non_null(ca_json_add_bool(o, "ok", 1));
    assert_non_null(ca_json_add_null(o, "next_cursor"));
    assert_non_null(ca_json_add_string(o, "client", NULL));
    a = ca_json_add_array(o, "data");
    assert_non_null(a);
    assert_non_null(ca_json_add_raw(a, NULL, "{\"id\":1}"));
    assert_non_null(ca_json_add_string(a, NULL, "x"));
    sub = ca_json_add_object(a, NULL);
    assert_non_null(ca_json_add_number(sub, "n", -1.5));
    /* type mismatches */
    assert_null(ca_json_add_string(o, NULL, "no key"));
    assert_null(ca_json_add_string(a, "key", "array"));
    assert_null(ca_json_add_raw(a, NULL, NULL));
    assert_string_equal(ca_json_print(pool, o),
                        "{\"provider\":\"sand\\\"box\",\"count\":3,\"ok\":true,"
                        "\"next_cursor\":null,\"client\":null,\"data\":"
                        "[{\"id\":1},\"x\",{\"n\":-1.5}]}");
    /* deep copy from a parsed tree */
    src = ca_json_parse_str(pool, "{\"k\":[1,{\"z\":\"\xC3\xA9\"}]}", NULL);
    assert_non_null(ca_json_add_copy(o, "copy", ca_json_get(src, "k")));
    assert_string_equal(ca_json_print(pool, ca_json_get(o, "copy")),
                        "[1,{\"z\":\"\xC3\xA9\"}]");
    a = ca_json_new_array(pool);
    assert_non_null(ca_json_add_number(a, NULL, 1));
    assert_string_equal(ca_json_print(pool, a), "[1]");
    /* built strings and keys are always valid UTF-8 */
    sub = ca_json_new_object(pool);
    assert_non_null(ca_json_add_string(sub, "k\xFF", "a\xC3\xA9\xC3" "b\x80"));
    assert_non_null(ca_json_set_string(sub, "s\xE2\x82", "\xFF"));
    assert_string_equal(ca_json_print(pool, sub),
                        "{\"k\xEF\xBF\xBD\":\"a\xC3\xA9\xEF\xBF\xBD" "b"
                        "\xEF\xBF\xBD\",\"s\xEF\xBF\xBD\xEF\xBF\xBD\":"
                        "\"\xEF\xBF\xBD\"}");
    assert_non_null(ca_json_parse_str(pool, ca_json_print(pool, sub), NULL));
    assert_null(ca_json_print(pool, NULL));
}

static void test_set_remove(void **state)
{
    ca_json_t *o = ca_json_parse_str(
        pool, "{\"a\":1,\"b\":2,\"a\":3,\"c\":{\"d\":4}}", NULL);

    (void)state;
    assert_non_null(o);
    assert_non_null(ca_json_set_string(o, "a", "x"));
    assert_string_equal(ca_json_print(pool, o),
                        "{\"a\":\"x\",\"b\":2,\"c\":{\"d\":4}}");
    assert_non_null(ca_json_set_number(o, "new", 7));
    assert_non_null(ca_json_set_object(o, "c"));
    assert_non_null(ca_json_set_array(o, "b"));
    assert_string_equal(ca_json_print(pool, o),
                        "{\"a\":\"x\",\"b\":[],\"c\":{},\"new\":7}");
    assert_int_equal(ca_json_remove(o, "a"), 1);
    assert_int_equal(ca_json_remove(o, "a"), 0);
    assert_string_equal(ca_json_print(pool, o),
                        "{\"b\":[],\"c\":{},\"new\":7}");
    assert_null(ca_json_set_string(ca_json_get(o, "b"), "k", "v"));
    assert_int_equal(ca_json_remove(ca_json_get(o, "b"), "k"), 0);
    assert_non_null(ca_json_set_string(o, "n", NULL));
    assert_int_equal(ca_json_type(ca_json_get(o, "n")), CA_JSON_NULL);
}

static void test_escape(void **state)
{
    (void)state;
    assert_string_equal(ca_json_escape(pool, "plain"), "plain");
    assert_string_equal(ca_json_escape(pool, "q\"b\\s/"), "q\\\"b\\\\s/");
    assert_string_equal(ca_json_escape(pool, "\b\f\n\r\t\x01\x1f"),
                        "\\b\\f\\n\\r\\t\\u0001\\u001f");
    assert_string_equal(ca_json_escape(pool, "\xC3\xA9\xF0\x9F\x98\x80"),
                        "\xC3\xA9\xF0\x9F\x98\x80");
    assert_string_equal(ca_json_escape(pool, "a\xFF" "b\xC3"),
                        "a\\ufffdb\\ufffd");
    assert_string_equal(ca_json_escape(pool, "\xED\xA0\x80"),
                        "\\ufffd\\ufffd\\ufffd");
    assert_string_equal(ca_json_escape(pool, NULL), "");
    assert_string_equal(ca_json_escape_len(pool, "a\0b", 3), "a\\u0000b");
    assert_string_equal(ca_json_quote(pool, "x\"y"), "\"x\\\"y\"");
    assert_string_equal(ca_json_quote(pool, ""), "\"\"");
    assert_string_equal(ca_json_quote(pool, NULL), "null");
    /* round trip through the parser */
    {
        const char *q = ca_json_quote(pool, "\x01 \"\\ \xC3\xA9 \xFF");
        ca_json_t *n = ca_json_parse_str(pool, q, NULL);

        assert_non_null(n);
        assert_string_equal(ca_json_string(n),
                            "\x01 \"\\ \xC3\xA9 \xEF\xBF\xBD");
    }
}

static void test_lazy_tree(void **state)
{
    ca_json_doc_t *doc;
    const char *err = NULL;
    const char *t = "{\"data\":[{\"id\":\"a\"}]}";

    (void)state;
    assert_int_equal(ca_json_scan(pool, t, strlen(t), NULL, &doc, &err),
                     APR_SUCCESS);
    assert_string_equal(ca_json_get_string(ca_json_doc_root(doc),
                                           "data.0.id"), "a");
    /* the same tree on the second call */
    assert_ptr_equal(ca_json_doc_root(doc), ca_json_doc_root(doc));
    assert_null(ca_json_doc_root(NULL));
    /* scan reports errors like parse */
    assert_int_equal(ca_json_scan(pool, "[1,", 3, NULL, &doc, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "offset 3"));
}

/* Trees die with their pool (run under valgrind to see no leaks). */
static void test_pool_ownership(void **state)
{
    apr_pool_t *sub;
    int i;

    (void)state;
    for (i = 0; i < 50; i++) {
        ca_json_t *o;

        assert_int_equal(apr_pool_create(&sub, pool), APR_SUCCESS);
        assert_non_null(ca_json_parse_str(sub, "{\"a\":[1,2,{\"b\":\"c\"}]}",
                                          NULL));
        o = ca_json_new_object(sub);
        assert_non_null(ca_json_add_string(o, "k", "v"));
        apr_pool_destroy(sub);
    }
}

/* ca_utf8_chars: the project's one UTF-8 check (passwords, form fields, JSON). */
static void test_utf8_chars(void **state)
{
    ca_json_doc_t *doc = NULL;
    apr_pool_t *p;

    (void)state;
    /* a BOM before a one-byte value: scanned and parsed alike (found by fuzz_scope) */
    apr_pool_create(&p, NULL);
    assert_int_equal(ca_json_parse(p, "\xEF\xBB\xBF" "7", 4, NULL, &doc, NULL), APR_SUCCESS);
    assert_non_null(ca_json_doc_root(doc));
    assert_int_equal(ca_json_scan(p, "\xEF\xBB\xBF" "7", 4, NULL, &doc, NULL), APR_SUCCESS);
    assert_non_null(ca_json_doc_root(doc));
    apr_pool_destroy(p);
    assert_int_equal(ca_utf8_chars("", 0), 0);
    assert_int_equal(ca_utf8_chars("abc", 3), 3);
    assert_int_equal(ca_utf8_chars("\xc3\xa9t\xc3\xa9", 5), 3);          /* été */
    assert_int_equal(ca_utf8_chars("\xf0\x9f\x98\x80", 4), 1);           /* U+1F600 */
    assert_int_equal(ca_utf8_chars("\xc0\xaf", 2), -1);                   /* overlong '/' */
    assert_int_equal(ca_utf8_chars("\xe0\x80\xaf", 3), -1);              /* overlong */
    assert_int_equal(ca_utf8_chars("\xed\xa0\x80", 3), -1);              /* surrogate */
    assert_int_equal(ca_utf8_chars("\xf4\x90\x80\x80", 4), -1);         /* > U+10FFFF */
    assert_int_equal(ca_utf8_chars("\xc3", 1), -1);                       /* truncated */
    assert_int_equal(ca_utf8_chars("a\x80", 2), -1);                      /* stray byte */
    assert_int_equal(ca_utf8_chars("\xff\xfe", 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
        cmocka_unit_test(test_utf8_chars),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_and_bom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_and_escaped_keys,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_getters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spans_fixture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spans_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spans_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_records_edges, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scan_records_random, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_build_print, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_ownership, setup, teardown),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
