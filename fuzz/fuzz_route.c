/*
 * fuzz_route.c - libFuzzer target for the caller-facing URL router (ca_route.c) and the
 * query parsing in front of it (ca_http_parse_form, ca_query_has_key).
 *
 * Input: "PATH?QUERY".  PATH (up to the first '?', or all of it) goes to ca_route_parse as a
 * C string (so it ends at a NUL byte, as a path from httpd would); QUERY (everything after the
 * first '?', possibly empty, NUL bytes included) goes to ca_http_parse_form as exactly its
 * bytes, unterminated.
 *
 * Invariants checked (abort = crash report):
 *   - a route is either CA_ROUTE_NONE with a reason and no parts, or a kind with no reason
 *     whose parts are valid by the header's rules and rebuild exactly the path routed;
 *   - ca_route_valid_resource / ca_route_valid_id agree with their definitions;
 *   - ca_http_parse_form agrees with a straightforward reference decoder (split on '&', skip
 *     empty pairs, first '=' splits, %XX and '+' decoded, bad escapes, %00 and NUL refused);
 *   - ca_query_has_key is "some name is key/api_key/apikey/access_token, any case";
 *   - ca_http_form_encode of the parsed pairs parses back to the same pairs (pairs with an
 *     empty name, which it refuses, aside);
 *   - ca_http_redact_query hides something when a key-like parameter has a value, and splits
 *     the query as ca_http_parse_form does: the redacted query parses to the same names, every
 *     secret parameter's value is "[redacted]" (or stays empty), every other value is kept.
 */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "ca_route.h"
#include "ca_key.h"
#include "ca_http.h"
#include "fuzz_common.h"

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int ref_resource(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 1 || n > 64) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) {
            return 0;
        }
    }
    return 1;
}

static int ref_id(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 1 || n > 256 || !strcmp(s, ".") || !strcmp(s, "..")) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!is_alnum(s[i]) && !strchr("-._~:@=+", s[i])) {
            return 0;
        }
    }
    return 1;
}

static void check_route(apr_pool_t *p, const char *path)
{
    ca_route_t r;
    const char *want = NULL;

    ca_route_parse(p, path, &r);
    if (r.kind == CA_ROUTE_NONE) {
        FZ_ASSERT(r.why != NULL && *r.why != '\0', "no route without a reason");
        FZ_ASSERT(r.endpoint_id == NULL && r.resource == NULL && r.id == NULL
                  && r.sub == NULL, "no route, yet parts are set for %s", path);
        return;
    }
    FZ_ASSERT(r.why == NULL, "route %d with reason %s", (int)r.kind, r.why);
    FZ_ASSERT(r.endpoint_id != NULL && ca_endpoint_id_valid(r.endpoint_id),
              "route %d without a valid endpoint id for %s", (int)r.kind, path);
    switch (r.kind) {
    case CA_ROUTE_DESCRIBE:
        FZ_ASSERT(!r.resource && !r.id && !r.sub, "describe with parts");
        want = apr_pstrcat(p, "/", r.endpoint_id, NULL);
        if (strcmp(path, want) != 0) {
            want = apr_pstrcat(p, want, "/", NULL);
        }
        break;
    case CA_ROUTE_OPENAPI:
        FZ_ASSERT(!r.resource && !r.id && !r.sub, "openapi with parts");
        want = apr_pstrcat(p, "/", r.endpoint_id, "/openapi.json", NULL);
        break;
    case CA_ROUTE_COLLECTION:
        FZ_ASSERT(r.resource && ref_resource(r.resource) && !r.id && !r.sub,
                  "bad collection route for %s", path);
        want = apr_pstrcat(p, "/", r.endpoint_id, "/", r.resource, NULL);
        break;
    case CA_ROUTE_ITEM:
        FZ_ASSERT(r.resource && ref_resource(r.resource) && r.id && ref_id(r.id) && !r.sub,
                  "bad item route for %s", path);
        want = apr_pstrcat(p, "/", r.endpoint_id, "/", r.resource, "/", r.id, NULL);
        break;
    case CA_ROUTE_NESTED:
        FZ_ASSERT(r.resource && ref_resource(r.resource) && r.id && ref_id(r.id)
                  && r.sub && ref_resource(r.sub), "bad nested route for %s", path);
        want = apr_pstrcat(p, "/", r.endpoint_id, "/", r.resource, "/", r.id, "/", r.sub,
                           NULL);
        break;
    case CA_ROUTE_COMPAT:
        FZ_ASSERT(!r.resource && !r.id && !r.sub, "compat route with parts");
        want = apr_pstrcat(p, "/public/", r.endpoint_id, "/query", NULL);
        if (strcmp(path, want) != 0) {
            want = apr_pstrcat(p, want, "/", NULL);
        }
        break;
    default:
        FZ_ASSERT(0, "unknown route kind %d", (int)r.kind);
    }
    FZ_ASSERT(strcmp(path, want) == 0, "route %d of '%s' rebuilds as '%s'", (int)r.kind,
              path, want);
}

/* ---- reference form decoder ------------------------------------------------------------ */

static int hexv(char c)
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

/* Decoded s[0..n) or NULL (bad escape, %00, NUL). */
static char *ref_decode(apr_pool_t *p, const char *s, size_t n)
{
    char *out = apr_palloc(p, n + 1);
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '\0') {
            return NULL;
        }
        if (s[i] == '%') {
            int h, l;

            if (n - i < 3 || (h = hexv(s[i + 1])) < 0 || (l = hexv(s[i + 2])) < 0
                || (h == 0 && l == 0)) {
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        }
        else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Reference parse: NULL when the query must be refused. */
static apr_array_header_t *ref_parse(apr_pool_t *p, const char *q, size_t len)
{
    apr_array_header_t *arr = apr_array_make(p, 4, sizeof(ca_http_param_t));
    size_t start = 0;

    while (start <= len) {
        const char *amp = memchr(q + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - q) : len;

        if (end > start) {
            const char *eq = memchr(q + start, '=', end - start);
            size_t nend = eq ? (size_t)(eq - q) : end;
            ca_http_param_t *pm = apr_array_push(arr);

            pm->name = ref_decode(p, q + start, nend - start);
            pm->value = eq ? ref_decode(p, eq + 1, end - nend - 1) : "";
            if (pm->name == NULL || pm->value == NULL) {
                return NULL;
            }
        }
        if (!amp) {
            break;
        }
        start = end + 1;
    }
    return arr;
}

static void same_params(const apr_array_header_t *a, const apr_array_header_t *b,
                        const char *what)
{
    int i;

    FZ_ASSERT(a->nelts == b->nelts, "%s: %d pairs vs %d", what, a->nelts, b->nelts);
    for (i = 0; i < a->nelts; i++) {
        const ca_http_param_t *x = &APR_ARRAY_IDX(a, i, ca_http_param_t);
        const ca_http_param_t *y = &APR_ARRAY_IDX(b, i, ca_http_param_t);

        FZ_ASSERT(x->name && y->name && strcmp(x->name, y->name) == 0, "%s: name %d", what, i);
        FZ_ASSERT(x->value && y->value && strcmp(x->value, y->value) == 0,
                  "%s: value %d of '%s'", what, i, x->name);
    }
}

static int ref_key_name(const char *n)
{
    return !strcasecmp(n, "key") || !strcasecmp(n, "api_key") || !strcasecmp(n, "apikey")
           || !strcasecmp(n, "access_token");
}

static void check_query(apr_pool_t *p, const char *q, size_t len)
{
    apr_array_header_t *params = NULL, *ref, *again = NULL;
    const char *err = NULL, *enc, *red;
    apr_status_t rv;
    int i, has = 0, valued = 0, unnamed = 0;

    rv = ca_http_parse_form(p, q, len, &params, &err);
    ref = ref_parse(p, q ? q : "", len);
    if (rv != APR_SUCCESS) {
        FZ_ASSERT(rv == APR_EINVAL && err != NULL, "parse_form: status %d", rv);
        FZ_ASSERT(ref == NULL, "parse_form refused a query the reference accepts");
        return;
    }
    FZ_ASSERT(ref != NULL, "parse_form accepted a query the reference refuses");
    FZ_ASSERT(params != NULL && params->elt_size == (int)sizeof(ca_http_param_t),
              "parse_form: bad array");
    same_params(params, ref, "parse_form vs reference");

    for (i = 0; i < params->nelts; i++) {
        const ca_http_param_t *pm = &APR_ARRAY_IDX(params, i, ca_http_param_t);

        unnamed |= pm->name[0] == '\0';
        if (ref_key_name(pm->name)) {
            has = 1;
            valued |= pm->value[0] != '\0';
        }
    }
    FZ_ASSERT(ca_query_has_key(params) == has, "ca_query_has_key is %d, expected %d",
              ca_query_has_key(params), has);

    /* "=v" parses to an empty name, which the encoder refuses (as ca_http_build_url) */
    enc = ca_http_form_encode(p, params, &err);
    if (unnamed) {
        FZ_ASSERT(enc == NULL, "form_encode accepted an empty name");
    }
    else {
        FZ_ASSERT(enc != NULL, "form_encode failed: %s", err ? err : "?");
        rv = ca_http_parse_form(p, enc, strlen(enc), &again, &err);
        FZ_ASSERT(rv == APR_SUCCESS, "form_encode output '%s' does not parse", enc);
        same_params(params, again, "form_encode round trip");
    }

    /* the query is NUL-free here (parse_form refuses NUL bytes) */
    red = ca_http_redact_query(p, q ? apr_pstrmemdup(p, q, len) : "");
    FZ_ASSERT(red != NULL, "redact_query returned NULL");
    if (valued) {
        FZ_ASSERT(strstr(red, "[redacted]") != NULL, "key in the query not redacted: %s", red);
    }
    rv = ca_http_parse_form(p, red, strlen(red), &again, &err);
    FZ_ASSERT(rv == APR_SUCCESS, "redacted query '%s' does not parse", red);
    FZ_ASSERT(again->nelts == params->nelts, "redact: %d pairs vs %d", again->nelts,
              params->nelts);
    for (i = 0; i < params->nelts; i++) {
        const ca_http_param_t *x = &APR_ARRAY_IDX(params, i, ca_http_param_t);
        const ca_http_param_t *y = &APR_ARRAY_IDX(again, i, ca_http_param_t);

        FZ_ASSERT(strcmp(x->name, y->name) == 0, "redact: name %d changed", i);
        if (ca_http_param_is_secret(x->name)) {
            FZ_ASSERT(strcmp(y->value, "[redacted]") == 0
                      || (x->value[0] == '\0' && y->value[0] == '\0'),
                      "redact: secret '%s' kept", x->name);
        }
        else {
            FZ_ASSERT(strcmp(x->value, y->value) == 0, "redact: value of '%s' changed",
                      x->name);
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_input_begin();
    const uint8_t *qm = memchr(data, '?', size);
    size_t plen = qm ? (size_t)(qm - data) : size;
    const char *path = fz_cstr(p, data, plen);
    const char *q = NULL;
    size_t qlen = qm ? size - plen - 1 : 0;

    check_route(p, path);
    FZ_ASSERT(ca_route_valid_resource(path) == ref_resource(path), "valid_resource(%s)", path);
    FZ_ASSERT(ca_route_valid_id(path) == ref_id(path), "valid_id(%s)", path);

    if (qlen > 0) {
        q = apr_pmemdup(p, qm + 1, qlen);      /* exactly the bytes, no NUL after them */
    }
    check_query(p, q, qlen);

    fz_input_end(p);
    return 0;
}
