/* ca_route: the caller-facing URL router. See ca_route.h. */
#include <string.h>

#include "apr_strings.h"
#include "apr_lib.h"

#include "ca_route.h"
#include "ca_key.h"
#include "ca_http.h"

#define CA_MAX_SEGMENTS 6
#define CA_MAX_ID_LEN 256

int ca_route_valid_resource(const char *s)
{
    size_t n = 0;

    for (; *s; s++, n++) {
        if (!((*s >= 'a' && *s <= 'z') || *s == '_') || n >= 64) {
            return 0;
        }
    }
    return n > 0;
}

/* Provider ids: letters, digits and "-._~:@=+" (uuids, numbers, base64 ids); "." and ".."
 * are never ids. Everything else, '%' and '/' included, is refused. */
int ca_route_valid_id(const char *s)
{
    size_t n = 0;
    const char *c;

    if (!strcmp(s, ".") || !strcmp(s, "..")) {
        return 0;
    }
    for (c = s; *c; c++, n++) {
        if (n >= CA_MAX_ID_LEN || !(apr_isalnum(*c) || strchr("-._~:@=+", *c))) {
            return 0;
        }
    }
    return n > 0;
}

/* Split "/a/b/c" into segments. An empty segment ("//", or a trailing "/") makes the path
 * invalid, except that a single trailing "/" is reported through *trailing. */
static int split(apr_pool_t *p, const char *path, const char **seg, int max, int *trailing)
{
    int n = 0;
    const char *s = path, *e;

    *trailing = 0;
    if (*s != '/') {
        return -1;
    }
    s++;
    if (!*s) {
        return 0;
    }
    while (1) {
        e = strchr(s, '/');
        if (!e) {
            if (!*s) {
                return -1;
            }
            if (n == max) {
                return -1;
            }
            seg[n++] = s;
            return n;
        }
        if (e == s) {
            return -1;
        }
        if (n == max) {
            return -1;
        }
        seg[n++] = apr_pstrmemdup(p, s, e - s);
        s = e + 1;
        if (!*s) {
            *trailing = 1;
            return n;
        }
    }
}

void ca_route_parse(apr_pool_t *p, const char *path, ca_route_t *out)
{
    const char *seg[CA_MAX_SEGMENTS];
    int n, trailing;

    memset(out, 0, sizeof(*out));
    out->kind = CA_ROUTE_NONE;
    if (!path || strlen(path) > 2048) {
        out->why = "no such URL";
        return;
    }
    n = split(p, path, seg, CA_MAX_SEGMENTS, &trailing);
    if (n <= 0) {
        out->why = "no such URL";
        return;
    }
    /* compatibility route: /public/{ep}/query/ (trailing slash optional) */
    if (!strcmp(seg[0], "public")) {
        if (n == 3 && !strcmp(seg[2], "query") && ca_endpoint_id_valid(seg[1])) {
            out->kind = CA_ROUTE_COMPAT;
            out->endpoint_id = seg[1];
            return;
        }
        out->why = "no such URL";
        return;
    }
    if (n == 1 && trailing && ca_endpoint_id_valid(seg[0])) {
        /* "{ep}/": the OpenAPI document's server URL plus its "/" path */
        out->kind = CA_ROUTE_DESCRIBE;
        out->endpoint_id = seg[0];
        return;
    }
    if (trailing || !ca_endpoint_id_valid(seg[0])) {
        out->why = trailing ? "no such URL (trailing slash)" : "no such endpoint";
        return;
    }
    out->endpoint_id = seg[0];
    switch (n) {
    case 1:
        out->kind = CA_ROUTE_DESCRIBE;
        return;
    case 2:
        if (!strcmp(seg[1], "openapi.json")) {
            out->kind = CA_ROUTE_OPENAPI;
            return;
        }
        if (ca_route_valid_resource(seg[1])) {
            out->kind = CA_ROUTE_COLLECTION;
            out->resource = seg[1];
            return;
        }
        break;
    case 3:
        if (ca_route_valid_resource(seg[1]) && ca_route_valid_id(seg[2])) {
            out->kind = CA_ROUTE_ITEM;
            out->resource = seg[1];
            out->id = seg[2];
            return;
        }
        break;
    case 4:
        if (ca_route_valid_resource(seg[1]) && ca_route_valid_id(seg[2])
            && ca_route_valid_resource(seg[3])) {
            out->kind = CA_ROUTE_NESTED;
            out->resource = seg[1];
            out->id = seg[2];
            out->sub = seg[3];
            return;
        }
        break;
    default:
        break;
    }
    out->endpoint_id = NULL;
    out->why = "no such resource";
}

int ca_query_has_key(const apr_array_header_t *params)
{
    static const char *const names[] = { "key", "api_key", "apikey", "access_token", NULL };
    int i, j;

    for (i = 0; i < params->nelts; i++) {
        const ca_http_param_t *pm = &APR_ARRAY_IDX(params, i, ca_http_param_t);
        for (j = 0; names[j]; j++) {
            if (!strcasecmp(pm->name, names[j])) {
                return 1;
            }
        }
    }
    return 0;
}
