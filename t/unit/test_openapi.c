/* Unit tests for ca_openapi: the endpoint description and its OpenAPI document. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apr_general.h"
#include "apr_pools.h"
#include "apr_strings.h"
#include "apr_hash.h"

#include "ca_json.h"
#include "ca_provider.h"
#include "ca_openapi.h"

static apr_pool_t *pool;

static const char *provider_dir(void)
{
    const char *d = getenv("CA_PROVIDER_DIR");

    return d && *d ? d : "conf/providers";
}

static const ca_provider_t *load(const char *name)
{
    const ca_provider_t *def = NULL;
    const char *err = NULL;
    const char *path = apr_pstrcat(pool, provider_dir(), "/", name, ".json", NULL);

    if (ca_provider_load_file(pool, path, &def, &err) != APR_SUCCESS) {
        fail_msg("%s: %s", path, err ? err : "?");
    }
    return def;
}

static ca_json_t *parse(const char *text)
{
    ca_json_doc_t *doc = NULL;
    const char *err = NULL;

    assert_non_null(text);
    if (ca_json_parse(pool, text, strlen(text), NULL, &doc, &err) != APR_SUCCESS) {
        fail_msg("not JSON: %s\n%s", err ? err : "?", text);
    }
    return ca_json_doc_root(doc);
}

static ca_endpoint_info_t endpoint(int client_scope, int read_write)
{
    ca_endpoint_info_t ep;

    memset(&ep, 0, sizeof(ep));
    ep.endpoint_id = "ep_test123";
    ep.url = "https://api.example.test/api/ep_test123";
    ep.client_scope = client_scope;
    ep.company_id = "co_acme";
    ep.company_name = "Acme Plumbing";
    ep.client_id = client_scope ? "cl_42" : NULL;
    ep.client_name = client_scope ? "Jane Doe" : NULL;
    ep.read_write = read_write;
    ep.max_limit = 250;
    return ep;
}

/* The rule of the brief, independent of the implementation: company rules, and client rules
 * for client scope. */
static int expect_visible(const ca_provider_resource_t *res, int client_scope)
{
    return res->company_rules->nelts > 0
           && (!client_scope || (res->client_rules && res->client_rules->nelts > 0));
}

static const char *joined(const ca_json_t *arr)
{
    const char *out = "";
    ca_json_t *e;

    assert_int_equal(ca_json_type(arr), CA_JSON_ARRAY);
    CA_JSON_FOREACH(e, arr) {
        assert_non_null(ca_json_string(e));
        out = *out ? apr_pstrcat(pool, out, ", ", ca_json_string(e), NULL) : ca_json_string(e);
    }
    return out;
}

static int array_has(const ca_json_t *arr, const char *s)
{
    ca_json_t *e;

    CA_JSON_FOREACH(e, arr) {
        if (ca_json_string(e) && strcmp(ca_json_string(e), s) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- generic document checks ------------------------------------------------------------ */

/* Every "$ref" below n points into #/components/ at a node that exists. */
static int check_refs(const ca_json_t *root, const ca_json_t *n)
{
    ca_json_t *c;
    int count = 0;

    if (!ca_json_is_container(n)) {
        return 0;
    }
    CA_JSON_FOREACH(c, n) {
        const char *k = ca_json_key(c);

        if (k && strcmp(k, "$ref") == 0) {
            const char *ref = ca_json_string(c);
            char *path, *s;

            assert_non_null(ref);
            if (strncmp(ref, "#/components/", 13) != 0) {
                fail_msg("$ref outside components: %s", ref);
            }
            path = apr_pstrdup(pool, ref + 2);
            for (s = path; *s; s++) {
                if (*s == '/') {
                    *s = '.';
                }
            }
            if (ca_json_get(root, path) == NULL) {
                fail_msg("$ref does not resolve: %s", ref);
            }
            count++;
        }
        count += check_refs(root, c);
    }
    return count;
}

static int is_method(const char *k)
{
    static const char *const m[] = {
        "get", "put", "post", "delete", "options", "head", "patch", "trace", NULL
    };
    int i;

    for (i = 0; m[i]; i++) {
        if (strcmp(k, m[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Operations: unique operationIds, responses present; counts write operations. */
static int check_operations(const ca_json_t *doc)
{
    apr_hash_t *ids = apr_hash_make(pool);
    ca_json_t *paths = ca_json_get(doc, "paths"), *pi, *op;
    int writes = 0, ops = 0;

    assert_int_equal(ca_json_type(paths), CA_JSON_OBJECT);
    CA_JSON_FOREACH(pi, paths) {
        assert_true(ca_json_key(pi)[0] == '/');
        CA_JSON_FOREACH(op, pi) {
            const char *m = ca_json_key(op), *id;
            ca_json_t *rs;

            if (strcmp(m, "parameters") == 0) {
                continue;
            }
            assert_true(is_method(m));
            id = ca_json_get_string(op, "operationId");
            assert_non_null(id);
            if (apr_hash_get(ids, id, APR_HASH_KEY_STRING)) {
                fail_msg("duplicate operationId %s", id);
            }
            apr_hash_set(ids, id, APR_HASH_KEY_STRING, id);
            rs = ca_json_get(op, "responses");
            assert_int_equal(ca_json_type(rs), CA_JSON_OBJECT);
            assert_true(ca_json_size(rs) > 0);
            if (strcmp(m, "get") != 0) {
                writes++;
            }
            if (strcmp(m, "post") == 0 || strcmp(m, "put") == 0 || strcmp(m, "patch") == 0) {
                assert_non_null(ca_json_get(op, "requestBody.content.application/json"));
            }
            ops++;
        }
    }
    assert_true(ops >= 2);
    return writes;
}

/* The path item's operations, as an Allow-style list without HEAD ("GET, POST"). */
static const char *path_methods(const ca_json_t *doc, const char *path)
{
    static const char *const order[] = { "get", "post", "patch", "put", "delete", NULL };
    ca_json_t *paths = ca_json_get(doc, "paths"), *pi = NULL, *c;
    const char *out = "";
    int i;

    CA_JSON_FOREACH(c, paths) {           /* keys contain '.', no ca_json_get */
        if (strcmp(ca_json_key(c), path) == 0) {
            pi = c;
        }
    }
    if (pi == NULL) {
        return NULL;
    }
    for (i = 0; order[i]; i++) {
        if (ca_json_get(pi, order[i])) {
            char *u = apr_pstrdup(pool, order[i]), *s;

            for (s = u; *s; s++) {
                *s = (char)(*s - 'a' + 'A');
            }
            out = *out ? apr_pstrcat(pool, out, ", ", u, NULL) : u;
        }
    }
    return out;
}

/* "GET, HEAD, POST" -> "GET, POST" */
static const char *without_head(const char *allow)
{
    char *copy = apr_pstrdup(pool, allow), *tok, *last = NULL;
    const char *out = "";

    for (tok = apr_strtok(copy, ", ", &last); tok; tok = apr_strtok(NULL, ", ", &last)) {
        if (strcmp(tok, "HEAD") != 0) {
            out = *out ? apr_pstrcat(pool, out, ", ", tok, NULL) : tok;
        }
    }
    return out;
}

/* The filters a list offers: the provider's, less limit/cursor, each once. */
static apr_array_header_t *usable_filters(const ca_provider_resource_t *res)
{
    apr_array_header_t *out = apr_array_make(pool, 4, sizeof(const char *));
    int i, j;

    for (i = 0; i < res->filters->nelts; i++) {
        const char *f = APR_ARRAY_IDX(res->filters, i, const char *);
        int dup = strcmp(f, "limit") == 0 || strcmp(f, "cursor") == 0;

        for (j = 0; j < out->nelts; j++) {
            dup |= strcmp(APR_ARRAY_IDX(out, j, const char *), f) == 0;
        }
        if (!dup) {
            APR_ARRAY_PUSH(out, const char *) = f;
        }
    }
    return out;
}

static void check_components(const ca_json_t *doc)
{
    static const char *const responses[] = {
        "BadRequest", "Unauthorized", "Forbidden", "NotFound", "MethodNotAllowed",
        "PayloadTooLarge", "UnsupportedMediaType", "UnprocessableEntity", "TooManyRequests",
        "BadGateway", "ServiceUnavailable", "GatewayTimeout", NULL
    };
    static const char *const list_props[] = {
        "provider", "company_external_id", "client_external_id", "count", "data",
        "next_cursor", NULL
    };
    static const char *const problem_props[] = {
        "type", "title", "status", "detail", "code", "request_id", NULL
    };
    ca_json_t *comp = ca_json_get(doc, "components"), *sec;
    int i, b;

    assert_non_null(comp);
    assert_string_equal(ca_json_get_string(comp, "securitySchemes.bearer.type"), "http");
    assert_string_equal(ca_json_get_string(comp, "securitySchemes.bearer.scheme"), "bearer");
    assert_string_equal(ca_json_get_string(comp, "securitySchemes.apiKey.type"), "apiKey");
    assert_string_equal(ca_json_get_string(comp, "securitySchemes.apiKey.in"), "header");
    assert_string_equal(ca_json_get_string(comp, "securitySchemes.apiKey.name"), "X-API-Key");
    sec = ca_json_get(doc, "security");
    assert_int_equal(ca_json_size(sec), 2);
    assert_non_null(ca_json_get(sec, "0.bearer"));
    assert_non_null(ca_json_get(sec, "1.apiKey"));

    for (i = 0; list_props[i]; i++) {
        assert_non_null(ca_json_get(comp, apr_pstrcat(pool, "schemas.ListEnvelope.properties.",
                                                      list_props[i], NULL)));
    }
    assert_int_equal(ca_json_size(ca_json_get(comp, "schemas.ListEnvelope.required")), 6);
    assert_non_null(ca_json_get(comp, "schemas.SingleEnvelope.properties.provider"));
    assert_non_null(ca_json_get(comp, "schemas.SingleEnvelope.properties.data"));
    for (i = 0; problem_props[i]; i++) {
        assert_non_null(ca_json_get(comp, apr_pstrcat(pool, "schemas.Problem.properties.",
                                                      problem_props[i], NULL)));
    }
    assert_true(ca_json_bool(ca_json_get(comp, "schemas.Record.additionalProperties"), &b));
    assert_true(b);
    assert_true(ca_json_bool(ca_json_get(comp, "schemas.ListEnvelope.properties."
                                         "client_external_id.nullable"), &b));
    assert_true(b);

    assert_int_equal(ca_json_size(ca_json_get(comp, "responses")), 12);
    for (i = 0; responses[i]; i++) {
        ca_json_t *r = ca_json_get(comp, apr_pstrcat(pool, "responses.", responses[i], NULL));

        assert_non_null(r);
        assert_non_null(ca_json_get_string(r, "description"));
        assert_string_equal(ca_json_get_string(r, "content.application/problem+json.schema.$ref"),
                            "#/components/schemas/Problem");
        assert_non_null(ca_json_get(r, "headers.X-Request-Id"));
    }
    assert_string_equal(ca_json_get_string(comp, "responses.TooManyRequests.headers."
                                           "Retry-After.$ref"),
                        "#/components/headers/Retry-After");
    assert_string_equal(ca_json_get_string(comp, "parameters.limit.in"), "query");
    assert_string_equal(ca_json_get_string(comp, "parameters.cursor.in"), "query");
    assert_string_equal(ca_json_get_string(comp, "parameters.id.in"), "path");
}

/* Both documents of one configuration, against the provider definition. */
static void check_endpoint(const ca_provider_t *def, const ca_endpoint_info_t *ep)
{
    ca_json_t *d = parse(ca_describe_json(pool, def, ep));
    ca_json_t *o = parse(ca_openapi_json(pool, def, ep));
    ca_json_t *rs = ca_json_get(d, "resources"), *r;
    const char *title;
    double num;
    int i, n = ca_provider_resource_count(def), seen = 0, writes;
    int expect_writes = 0;

    /* description */
    assert_string_equal(ca_json_get_string(d, "endpoint_id"), ep->endpoint_id);
    assert_string_equal(ca_json_get_string(d, "provider"), def->name);
    assert_string_equal(ca_json_get_string(d, "provider_name"), def->display_name);
    assert_string_equal(ca_json_get_string(d, "access_mode"),
                        ep->read_write ? "read-write" : "read-only");
    assert_string_equal(ca_json_get_string(d, "scope.kind"),
                        ep->client_scope ? "client" : "company");
    assert_string_equal(ca_json_get_string(d, "scope.company_external_id"), ep->company_id);
    assert_string_equal(ca_json_get_string(d, "scope.company_name"), ep->company_name);
    if (ep->client_scope) {
        assert_string_equal(ca_json_get_string(d, "scope.client_external_id"), ep->client_id);
        assert_string_equal(ca_json_get_string(d, "scope.client_name"), ep->client_name);
    }
    else {
        assert_int_equal(ca_json_type(ca_json_get(d, "scope.client_external_id")), CA_JSON_NULL);
        assert_int_equal(ca_json_type(ca_json_get(d, "scope.client_name")), CA_JSON_NULL);
    }
    assert_int_equal(ca_json_number(ca_json_get(d, "limits.max_limit"), &num), APR_SUCCESS);
    assert_true(num == ep->max_limit);
    assert_string_equal(ca_json_get_string(d, "openapi"),
                        apr_pstrcat(pool, ep->url, "/openapi.json", NULL));

    r = ca_json_first(rs);
    for (i = 0; i < n; i++) {
        const ca_provider_resource_t *res = ca_provider_resource_at(def, i);
        const char *coll = ca_endpoint_methods_scoped(pool, res, ep->read_write,
                                                      ep->client_scope, 0);
        const char *item = ca_endpoint_methods_scoped(pool, res, ep->read_write,
                                                      ep->client_scope, 1);
        const char *base = apr_pstrcat(pool, "/", res->name, NULL);
        apr_array_header_t *filters;
        ca_json_t *a, *e;
        int j;

        assert_int_equal(ca_endpoint_resource_visible(res, ep->client_scope),
                         expect_visible(res, ep->client_scope));
        if (!expect_visible(res, ep->client_scope)) {
            assert_null(path_methods(o, base));
            assert_null(path_methods(o, apr_pstrcat(pool, base, "/{id}", NULL)));
            continue;
        }
        seen++;
        assert_non_null(r);
        assert_string_equal(ca_json_get_string(r, "name"), res->name);
        assert_string_equal(ca_json_get_string(r, "url"),
                            apr_pstrcat(pool, ep->url, "/", res->name, NULL));
        assert_string_equal(joined(ca_json_get(r, "methods")), coll);
        assert_string_equal(joined(ca_json_get(r, "item_methods")), item);
        if (!ep->read_write) {
            assert_string_equal(coll, "GET, HEAD");
            assert_string_equal(item, "GET, HEAD");
        }
        else if (res->writable) {
            expect_writes = 1;
        }
        filters = usable_filters(res);
        a = ca_json_get(r, "filters");
        assert_int_equal(ca_json_size(a), filters->nelts);
        for (j = 0; j < filters->nelts; j++) {
            assert_string_equal(ca_json_string(ca_json_index(a, j)),
                                APR_ARRAY_IDX(filters, j, const char *));
        }
        a = ca_json_get(r, "nested");
        CA_JSON_FOREACH(e, a) {
            const ca_provider_nested_t *ne = ca_provider_nested(res, ca_json_string(e));

            assert_non_null(ne);
            assert_true(expect_visible(ne->resource, ep->client_scope));
        }
        for (j = 0; j < res->nested->nelts; j++) {
            const ca_provider_nested_t *ne = &APR_ARRAY_IDX(res->nested, j,
                                                            ca_provider_nested_t);
            const char *np = apr_pstrcat(pool, base, "/{id}/", ne->name, NULL);

            if (array_has(a, ne->name)) {
                assert_string_equal(path_methods(o, np), "GET");
            }
            else {
                assert_null(path_methods(o, np));
            }
        }

        /* OpenAPI paths carry exactly the methods of the description */
        if (*coll) {
            assert_string_equal(path_methods(o, base), without_head(coll));
        }
        else {
            assert_null(path_methods(o, base));
        }
        assert_string_equal(path_methods(o, apr_pstrcat(pool, base, "/{id}", NULL)),
                            without_head(item));
        if (strstr(coll, "GET")) {
            ca_json_t *ps = NULL, *pi;

            CA_JSON_FOREACH(pi, ca_json_get(o, "paths")) {
                if (strcmp(ca_json_key(pi), base) == 0) {
                    ps = ca_json_get(pi, "get.parameters");
                }
            }
            assert_non_null(ps);
            assert_string_equal(ca_json_get_string(ps, "0.$ref"),
                                "#/components/parameters/limit");
            assert_string_equal(ca_json_get_string(ps, "1.$ref"),
                                "#/components/parameters/cursor");
            for (j = 0; j < filters->nelts; j++) {
                const char *f = APR_ARRAY_IDX(filters, j, const char *);
                ca_json_t *pp;
                int found = 0;

                CA_JSON_FOREACH(pp, ps) {
                    const char *pn = ca_json_get_string(pp, "name");

                    if (pn && strcmp(pn, f) == 0) {
                        assert_string_equal(ca_json_get_string(pp, "in"), "query");
                        found++;
                    }
                }
                assert_int_equal(found, 1);
            }
        }
        r = ca_json_next(r);
    }
    assert_null(r);
    assert_int_equal(ca_json_size(rs), seen);

    /* OpenAPI document */
    assert_string_equal(ca_json_get_string(o, "openapi"), "3.0.3");
    title = apr_pstrcat(pool, def->display_name, " endpoint ", ep->endpoint_id, NULL);
    assert_string_equal(ca_json_get_string(o, "info.title"), title);
    assert_non_null(ca_json_get_string(o, "info.version"));
    assert_string_equal(ca_json_get_string(o, "servers.0.url"), ep->url);
    assert_string_equal(path_methods(o, "/"), "GET");
    assert_string_equal(path_methods(o, "/openapi.json"), "GET");
    check_components(o);
    assert_true(check_refs(o, o) > 10);
    assert_int_equal(check_refs(d, d), 0);
    writes = check_operations(o);
    if (!ep->read_write) {
        assert_int_equal(writes, 0);
    }
    else {
        assert_int_equal(writes > 0, expect_writes);
    }
}

static void check_all_kinds(const ca_provider_t *def)
{
    int cs, rw;

    for (cs = 0; cs < 2; cs++) {
        for (rw = 0; rw < 2; rw++) {
            ca_endpoint_info_t ep = endpoint(cs, rw);

            check_endpoint(def, &ep);
        }
    }
}

/* ---- tests ------------------------------------------------------------------------------ */

static const char *names_of(const char *json)
{
    ca_json_t *d = parse(json), *r;
    const char *out = "";

    CA_JSON_FOREACH(r, ca_json_get(d, "resources")) {
        const char *n = ca_json_get_string(r, "name");

        out = *out ? apr_pstrcat(pool, out, " ", n, NULL) : n;
    }
    return out;
}

static void test_sandbox(void **state)
{
    const ca_provider_t *def = load("sandbox");
    ca_endpoint_info_t co = endpoint(0, 1), cl = endpoint(1, 1), ro = endpoint(1, 0);
    ca_json_t *d, *r;
    (void)state;

    check_all_kinds(def);

    /* concrete expectations for the shipped sandbox file */
    assert_string_equal(names_of(ca_describe_json(pool, def, &co)),
                        "company clients jobs invoices line_items attachments");
    assert_string_equal(names_of(ca_describe_json(pool, def, &cl)),
                        "clients jobs invoices line_items attachments");

    d = parse(ca_describe_json(pool, def, &co));
    r = ca_json_get(d, "resources.2");
    assert_string_equal(ca_json_get_string(r, "name"), "jobs");
    assert_string_equal(joined(ca_json_get(r, "nested")), "attachments");
    assert_string_equal(joined(ca_json_get(r, "filters")), "client_id, status, updated_since");
    assert_string_equal(joined(ca_json_get(r, "methods")), "GET, HEAD, POST");
    assert_string_equal(joined(ca_json_get(r, "item_methods")), "GET, HEAD, PATCH, PUT, DELETE");
    r = ca_json_get(d, "resources.3");
    assert_string_equal(joined(ca_json_get(r, "nested")), "line_items");
    r = ca_json_get(d, "resources.4");
    assert_string_equal(ca_json_get_string(r, "name"), "line_items");
    assert_string_equal(ca_json_get_string(r, "parent.resource"), "invoices");
    assert_string_equal(ca_json_get_string(r, "parent.param"), "invoice_id");
    r = ca_json_get(d, "resources.0");
    assert_string_equal(joined(ca_json_get(r, "methods")), "GET, HEAD");
    assert_null(ca_json_get(r, "parent"));

    /* client scope: clients are the scope itself and cannot be created */
    d = parse(ca_describe_json(pool, def, &cl));
    r = ca_json_get(d, "resources.0");
    assert_string_equal(ca_json_get_string(r, "name"), "clients");
    assert_string_equal(joined(ca_json_get(r, "methods")), "GET, HEAD");
    assert_string_equal(joined(ca_json_get(r, "item_methods")), "GET, HEAD, PATCH, PUT, DELETE");
    r = ca_json_get(d, "resources.1");
    assert_string_equal(joined(ca_json_get(r, "methods")), "GET, HEAD, POST");

    d = parse(ca_openapi_json(pool, def, &cl));
    assert_string_equal(path_methods(d, "/clients"), "GET");
    assert_string_equal(path_methods(d, "/jobs"), "GET, POST");
    assert_string_equal(path_methods(d, "/invoices/{id}"), "GET, PATCH, PUT, DELETE");
    assert_string_equal(path_methods(d, "/invoices/{id}/line_items"), "GET");
    assert_string_equal(path_methods(d, "/attachments/{id}"), "GET");
    assert_null(path_methods(d, "/company"));
    assert_string_equal(ca_json_get_string(d, "paths./jobs.post.parameters.0.$ref"),
                        "#/components/parameters/Idempotency-Key");

    d = parse(ca_openapi_json(pool, def, &ro));
    assert_string_equal(path_methods(d, "/jobs"), "GET");
    assert_string_equal(path_methods(d, "/jobs/{id}"), "GET");
}

static void test_clientcommander(void **state)
{
    const ca_provider_t *def = load("clientcommander");
    ca_endpoint_info_t co = endpoint(0, 1), cl = endpoint(1, 1);
    ca_json_t *d;
    (void)state;

    check_all_kinds(def);
    assert_string_equal(names_of(ca_describe_json(pool, def, &co)), "people deals");
    assert_string_equal(names_of(ca_describe_json(pool, def, &cl)), "people deals");

    d = parse(ca_openapi_json(pool, def, &co));
    assert_string_equal(ca_json_get_string(d, "info.title"),
                        "Client Commander endpoint ep_test123");
    assert_string_equal(path_methods(d, "/people"), "GET, POST");
    assert_string_equal(path_methods(d, "/people/{id}"), "GET, PATCH, DELETE");
    assert_string_equal(path_methods(d, "/deals/{id}"), "GET, PATCH, DELETE");
    d = parse(ca_openapi_json(pool, def, &cl));
    assert_string_equal(path_methods(d, "/people"), "GET");
    assert_string_equal(path_methods(d, "/deals"), "GET, POST");
}

static void test_methods(void **state)
{
    const ca_provider_t *sb = load("sandbox"), *cc = load("clientcommander");
    const ca_provider_resource_t *clients = ca_provider_resource(sb, "clients");
    const ca_provider_resource_t *att = ca_provider_resource(sb, "attachments");
    const ca_provider_resource_t *company = ca_provider_resource(sb, "company");
    const ca_provider_resource_t *li = ca_provider_resource(sb, "line_items");
    const ca_provider_resource_t *people = ca_provider_resource(cc, "people");
    const ca_provider_resource_t *deals = ca_provider_resource(cc, "deals");
    (void)state;

    assert_string_equal(ca_endpoint_methods(pool, clients, 1, 0), "GET, HEAD, POST");
    assert_string_equal(ca_endpoint_methods(pool, clients, 1, 1),
                        "GET, HEAD, PATCH, PUT, DELETE");
    assert_string_equal(ca_endpoint_methods(pool, clients, 0, 0), "GET, HEAD");
    assert_string_equal(ca_endpoint_methods(pool, clients, 0, 1), "GET, HEAD");
    assert_string_equal(ca_endpoint_methods(pool, att, 1, 0), "GET, HEAD");
    assert_string_equal(ca_endpoint_methods(pool, att, 1, 1), "GET, HEAD");
    assert_string_equal(ca_endpoint_methods(pool, company, 1, 1), "GET, HEAD");
    assert_string_equal(ca_endpoint_methods(pool, people, 1, 0), "GET, HEAD, POST");
    assert_string_equal(ca_endpoint_methods(pool, people, 1, 1), "GET, HEAD, PATCH, DELETE");
    assert_string_equal(ca_endpoint_methods(pool, NULL, 1, 1), "");

    assert_string_equal(ca_endpoint_methods_scoped(pool, clients, 1, 0, 0), "GET, HEAD, POST");
    assert_string_equal(ca_endpoint_methods_scoped(pool, clients, 1, 1, 0), "GET, HEAD");
    assert_string_equal(ca_endpoint_methods_scoped(pool, clients, 1, 1, 1),
                        "GET, HEAD, PATCH, PUT, DELETE");
    assert_string_equal(ca_endpoint_methods_scoped(pool, li, 1, 1, 0), "GET, HEAD, POST");
    assert_string_equal(ca_endpoint_methods_scoped(pool, people, 1, 1, 0), "GET, HEAD");
    assert_string_equal(ca_endpoint_methods_scoped(pool, people, 1, 0, 0), "GET, HEAD, POST");
    assert_string_equal(ca_endpoint_methods_scoped(pool, deals, 1, 1, 0), "GET, HEAD, POST");
    assert_string_equal(ca_endpoint_methods_scoped(pool, deals, 0, 1, 0), "GET, HEAD");

    assert_true(ca_endpoint_can_create(clients, 0));
    assert_false(ca_endpoint_can_create(clients, 1));
    assert_false(ca_endpoint_can_create(att, 0));
    assert_true(ca_endpoint_can_create(deals, 1));

    assert_true(ca_endpoint_resource_visible(company, 0));
    assert_false(ca_endpoint_resource_visible(company, 1));
    assert_true(ca_endpoint_resource_visible(li, 1));
    assert_false(ca_endpoint_resource_visible(NULL, 0));
}

/* A definition with the unusual shapes: parent-only scope under a company-only parent,
 * an item-only resource, colliding operationIds, odd filters. */
static const char synthetic[] =
    "{\"format\": 1, \"name\": \"synthetic\", \"display_name\": \"Syn <b>&</b>\","
    " \"auth\": {\"mode\": \"api_key\", \"identity\": {\"path\": \"/me\", \"id\": \"id\","
    "  \"label\": \"name\"}},"
    " \"api\": {\"base_url\": \"https://example.invalid/v1\", \"style\": \"rest\"},"
    " \"pagination\": {\"style\": \"cursor_body\", \"next_cursor_path\": \"next\"},"
    " \"company_list\": {\"source\": \"identity\"},"
    " \"resources\": {"
    "  \"orders\": {\"list\": {\"path\": \"/orders\", \"records\": \"data\"},"
    "   \"item\": {\"path\": \"/orders/{id}\", \"record\": \"data\"},"
    "   \"scope\": {\"company\": {\"kind\": \"field\", \"path\": \"company_id\"}}},"
    "  \"items\": {\"list\": {\"path\": \"/items\", \"records\": \"data\"},"
    "   \"item\": {\"path\": \"/items/{id}\", \"record\": \"data\"},"
    "   \"create\": {\"path\": \"/items\", \"record\": \"data\"}, \"writable\": true,"
    "   \"scope\": {\"company\": {\"kind\": \"parent\"}, \"client\": {\"kind\": \"parent\"}},"
    "   \"parent\": {\"resource\": \"orders\", \"field\": \"order_id\", \"param\": \"order_id\"},"
    "   \"filters\": [\"order_id\", \"limit\", \"order_id\"]},"
    "  \"jobs\": {\"list\": {\"path\": \"/jobs\", \"records\": \"data\"},"
    "   \"item\": {\"path\": \"/jobs/{id}\", \"record\": \"data\"},"
    "   \"scope\": {\"company\": {\"kind\": \"connection\"},"
    "    \"client\": {\"kind\": \"field\", \"path\": \"client_id\"}},"
    "   \"nested\": {\"attachments\": {\"resource\": \"jobs_attachments\","
    "    \"path\": \"/jobs/{parent_id}/files\", \"records\": \"data\"},"
    "    \"orders\": {\"resource\": \"orders\", \"path\": \"/jobs/{parent_id}/orders\"}}},"
    "  \"jobs_attachments\": {\"list\": {\"path\": \"/files\", \"records\": \"data\"},"
    "   \"item\": {\"path\": \"/files/{id}\", \"record\": \"data\"},"
    "   \"delete\": {\"path\": \"/files/{id}\"}, \"writable\": true,"
    "   \"scope\": {\"company\": {\"kind\": \"connection\"},"
    "    \"client\": {\"kind\": \"field\", \"path\": \"client_id\"}}},"
    "  \"notes\": {\"item\": {\"path\": \"/notes/{id}\", \"record\": \"data\"},"
    "   \"update\": {\"method\": \"POST\", \"path\": \"/notes/{id}\", \"record\": \"data\"},"
    "   \"writable\": true, \"description\": \"Notes </script> \\\"q\\\" \\\\\","
    "   \"scope\": {\"company\": {\"kind\": \"connection\"}}}"
    " }}";

static void test_synthetic(void **state)
{
    const ca_provider_t *def = NULL;
    const char *err = NULL, *text;
    ca_endpoint_info_t co = endpoint(0, 1), cl = endpoint(1, 1);
    const ca_provider_resource_t *items, *notes;
    ca_json_t *o, *d, *ps;
    (void)state;

    if (ca_provider_load_buffer(pool, "synthetic.json", synthetic, strlen(synthetic), &def,
                                &err) != APR_SUCCESS) {
        fail_msg("%s", err);
    }
    items = ca_provider_resource(def, "items");
    notes = ca_provider_resource(def, "notes");

    /* parent-scoped under a parent without client rules: hidden from client scope */
    assert_true(ca_endpoint_resource_visible(items, 0));
    assert_false(ca_endpoint_resource_visible(items, 1));
    assert_string_equal(names_of(ca_describe_json(pool, def, &co)),
                        "orders items jobs jobs_attachments notes");
    assert_string_equal(names_of(ca_describe_json(pool, def, &cl)), "jobs jobs_attachments");

    /* item-only resource: no collection */
    assert_string_equal(ca_endpoint_methods(pool, notes, 1, 0), "");
    assert_string_equal(ca_endpoint_methods(pool, notes, 1, 1), "GET, HEAD, PATCH");

    text = ca_openapi_json(pool, def, &co);
    assert_null(strstr(text, "</script>"));
    assert_null(strstr(text, "<b>"));
    o = parse(text);
    check_operations(o);
    check_refs(o, o);
    assert_string_equal(ca_json_get_string(o, "info.title"), "Syn <b>&</b> endpoint ep_test123");
    assert_null(path_methods(o, "/notes"));
    assert_string_equal(path_methods(o, "/notes/{id}"), "GET, PATCH");
    assert_string_equal(path_methods(o, "/jobs/{id}/attachments"), "GET");
    assert_string_equal(path_methods(o, "/jobs_attachments/{id}"), "GET, DELETE");
    assert_string_equal(path_methods(o, "/items"), "GET, POST");
    assert_string_equal(ca_json_get_string(o, "tags.5.description"), "Notes </script> \"q\" \\");

    /* filters: "limit" is the module's own parameter, duplicates once */
    ps = NULL;
    CA_JSON_FOREACH(d, ca_json_get(o, "paths")) {
        if (strcmp(ca_json_key(d), "/items") == 0) {
            ps = ca_json_get(d, "get.parameters");
        }
    }
    assert_non_null(ps);
    assert_int_equal(ca_json_size(ps), 3);
    assert_string_equal(ca_json_get_string(ps, "2.name"), "order_id");

    /* a nested child hidden from the scope is not offered */
    d = parse(ca_describe_json(pool, def, &cl));
    assert_string_equal(joined(ca_json_get(d, "resources.0.nested")), "attachments");
    o = parse(ca_openapi_json(pool, def, &cl));
    assert_null(path_methods(o, "/jobs/{id}/orders"));
    assert_string_equal(path_methods(o, "/jobs/{id}/attachments"), "GET");
    assert_null(path_methods(o, "/items"));
    d = parse(ca_describe_json(pool, def, &co));
    assert_string_equal(joined(ca_json_get(d, "resources.2.nested")), "attachments, orders");
    assert_int_equal(ca_json_size(ca_json_get(d, "resources.4.methods")), 0);
    assert_string_equal(joined(ca_json_get(d, "resources.1.filters")), "order_id");
    check_endpoint(def, &co);
}

static void test_hostile(void **state)
{
    static const char *const nasty[] = {
        "ep_\"quote\\back</script><!--&amp;\xe2\x80\xa8\xe2\x80\xa9",
        "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe4\xb8\xad",
        "tab\there\nnew\rline\x01\x1f\x7f",
        "\\u0022 \\\" }]{[",
        NULL
    };
    const ca_provider_t *def = load("sandbox");
    int i, cs;
    (void)state;

    for (i = 0; nasty[i]; i++) {
        for (cs = 0; cs < 2; cs++) {
            ca_endpoint_info_t ep = endpoint(cs, 1);
            const char *ds, *os;
            ca_json_t *d, *o;

            ep.endpoint_id = nasty[i];
            ep.url = apr_pstrcat(pool, "https://h/api/", nasty[i], NULL);
            ep.company_id = nasty[(i + 1) % 4];
            ep.company_name = nasty[(i + 2) % 4];
            ep.client_id = cs ? nasty[(i + 3) % 4] : NULL;
            ep.client_name = cs ? nasty[i] : NULL;

            ds = ca_describe_json(pool, def, &ep);
            os = ca_openapi_json(pool, def, &ep);
            assert_non_null(ds);
            assert_non_null(os);
            assert_null(strchr(ds, '<'));
            assert_null(strchr(os, '<'));
            assert_null(strstr(ds, "\xe2\x80\xa8"));
            assert_null(strstr(os, "\xe2\x80\xa9"));
            assert_null(strchr(ds, '\n'));
            d = parse(ds);
            o = parse(os);
            assert_string_equal(ca_json_get_string(d, "endpoint_id"), ep.endpoint_id);
            assert_string_equal(ca_json_get_string(d, "scope.company_external_id"),
                                ep.company_id);
            assert_string_equal(ca_json_get_string(d, "scope.company_name"), ep.company_name);
            if (cs) {
                assert_string_equal(ca_json_get_string(d, "scope.client_external_id"),
                                    ep.client_id);
                assert_string_equal(ca_json_get_string(d, "scope.client_name"), ep.client_name);
            }
            assert_string_equal(ca_json_get_string(d, "resources.0.url"),
                                apr_pstrcat(pool, ep.url, "/", ca_json_get_string(
                                    d, "resources.0.name"), NULL));
            assert_string_equal(ca_json_get_string(o, "info.title"),
                                apr_pstrcat(pool, "Provider Sandbox endpoint ", ep.endpoint_id,
                                            NULL));
            assert_string_equal(ca_json_get_string(o, "servers.0.url"), ep.url);
            check_operations(o);
            check_refs(o, o);
        }
    }

    /* invalid UTF-8 is replaced, the document stays valid JSON */
    {
        ca_endpoint_info_t ep = endpoint(1, 0);
        ca_json_t *d;

        ep.company_name = "bad \xff\xfe \xc3 end";
        ep.client_name = "\xed\xa0\x80";          /* a UTF-16 surrogate in UTF-8 */
        d = parse(ca_describe_json(pool, def, &ep));
        assert_string_equal(ca_json_get_string(d, "scope.company_name"),
                            "bad \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd end");
        assert_null(strchr(ca_json_get_string(d, "scope.client_name"), '\xed'));
        parse(ca_openapi_json(pool, def, &ep));
    }

    /* missing pieces: NULL names, no URL, odd limits */
    {
        ca_endpoint_info_t ep = endpoint(1, 1);
        ca_json_t *d, *o;
        double num;

        ep.company_name = NULL;
        ep.client_name = NULL;
        ep.url = "https://h/api/ep_x/";
        ep.max_limit = 0;
        d = parse(ca_describe_json(pool, def, &ep));
        assert_int_equal(ca_json_type(ca_json_get(d, "scope.company_name")), CA_JSON_NULL);
        assert_int_equal(ca_json_type(ca_json_get(d, "scope.client_name")), CA_JSON_NULL);
        assert_string_equal(ca_json_get_string(d, "openapi"), "https://h/api/ep_x/openapi.json");
        assert_int_equal(ca_json_number(ca_json_get(d, "limits.max_limit"), &num), APR_SUCCESS);
        assert_true(num == 100);
        ep.max_limit = 5000;
        d = parse(ca_describe_json(pool, def, &ep));
        assert_int_equal(ca_json_number(ca_json_get(d, "limits.max_limit"), &num), APR_SUCCESS);
        assert_true(num == 1000);
        o = parse(ca_openapi_json(pool, def, &ep));
        assert_string_equal(ca_json_get_string(o, "servers.0.url"), "https://h/api/ep_x");
        assert_null(ca_describe_json(pool, NULL, &ep));
        assert_null(ca_openapi_json(pool, def, NULL));
    }
}

/* Every provider file the tests ship (if any loads) gives valid documents too. */
static void test_more_providers(void **state)
{
    static const char *const files[] = { "jobber", "servicem8", "servicetitan", NULL };
    int i, cs, rw;
    (void)state;

    for (i = 0; files[i]; i++) {
        /* servicem8, servicetitan and jobber are shipped in conf/providers since issue 5 */
        const char *path = apr_pstrcat(pool, provider_dir(), "/", files[i], ".json", NULL);
        const ca_provider_t *def = NULL;
        const char *err = NULL;

        if (ca_provider_load_file(pool, path, &def, &err) != APR_SUCCESS) {
            fail_msg("%s: %s", path, err ? err : "?");
        }
        for (cs = 0; cs < 2; cs++) {
            for (rw = 0; rw < 2; rw++) {
                ca_endpoint_info_t ep = endpoint(cs, rw);
                ca_json_t *o = parse(ca_openapi_json(pool, def, &ep));

                parse(ca_describe_json(pool, def, &ep));
                assert_int_equal(check_operations(o) > 0 && !rw, 0);
                check_refs(o, o);
                check_components(o);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_sandbox),
        cmocka_unit_test(test_clientcommander),
        cmocka_unit_test(test_synthetic),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_more_providers),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
