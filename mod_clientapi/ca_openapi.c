/*
 * ca_openapi.c - the endpoint description and its OpenAPI 3.0.3 document.
 *
 * Both are built with ca_json from the provider definition and the
 * endpoint's scope and mode (see ca_openapi.h).  Every variable string is
 * written through ca_json_quote and then made safe for HTML embedding.
 *
 * Core file: no httpd headers.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>

#include "ca_json.h"
#include "ca_provider.h"
#include "ca_openapi.h"

#define DEFAULT_MAX_LIMIT 100
#define MAX_PARENT_HOPS   8

/* ------------------------------------------------------------------ */
/* visibility and methods                                              */
/* ------------------------------------------------------------------ */

static int visible_at(const ca_provider_resource_t *res, int client_scope,
                      int depth);

/* Some rule of the set can establish the scope. */
static int rules_usable(const apr_array_header_t *rules,
                        const ca_provider_resource_t *res, int client_scope,
                        int depth)
{
    int i;

    if (rules == NULL) {
        return 0;
    }
    for (i = 0; i < rules->nelts; i++) {
        const ca_provider_rule_t *r =
            &APR_ARRAY_IDX(rules, i, ca_provider_rule_t);

        if (r->kind != CA_RULE_PARENT) {
            return 1;
        }
        if (res->parent != NULL
            && visible_at(res->parent->resource, client_scope, depth + 1)) {
            return 1;
        }
    }
    return 0;
}

static int visible_at(const ca_provider_resource_t *res, int client_scope,
                      int depth)
{
    if (res == NULL || depth > MAX_PARENT_HOPS) {
        return 0;
    }
    if (!rules_usable(res->company_rules, res, client_scope, depth)) {
        return 0;
    }
    if (client_scope
        && !rules_usable(res->client_rules, res, client_scope, depth)) {
        return 0;
    }
    return 1;
}

int ca_endpoint_resource_visible(const ca_provider_resource_t *res,
                                 int client_scope)
{
    return visible_at(res, client_scope ? 1 : 0, 0);
}

/* A new record can satisfy this rule set (as ca_scope_write_body sees it). */
static int set_creatable(const ca_provider_resource_t *res,
                         const apr_array_header_t *rules)
{
    int i, self = 0, settable = 0, parent = 0, other = 0;

    if (rules == NULL || rules->nelts == 0) {
        return 0;
    }
    for (i = 0; i < rules->nelts; i++) {
        switch (APR_ARRAY_IDX(rules, i, ca_provider_rule_t).kind) {
        case CA_RULE_SELF:
            self = 1;
            break;
        case CA_RULE_FIELD:
        case CA_RULE_CONTAINS:
            settable = 1;
            break;
        case CA_RULE_PARENT:
            parent = 1;
            break;
        default:
            other = 1;
            break;
        }
    }
    if (settable || other) {
        return 1;
    }
    if (parent) {
        /* top-level creates name their parent in parent.field */
        return res->parent != NULL && res->parent->field != NULL;
    }
    return !self;
}

int ca_endpoint_can_create(const ca_provider_resource_t *res,
                           int client_scope)
{
    if (res == NULL || res->create == NULL) {
        return 0;
    }
    if (!set_creatable(res, res->company_rules)) {
        return 0;
    }
    return !client_scope || set_creatable(res, res->client_rules);
}

enum {
    M_GET = 1 << 0,
    M_HEAD = 1 << 1,
    M_POST = 1 << 2,
    M_PATCH = 1 << 3,
    M_PUT = 1 << 4,
    M_DELETE = 1 << 5
};

static const char *const method_names[] = {
    "GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", NULL
};

/* client_scope < 0: do not look at the scope. */
static unsigned methods_mask(const ca_provider_resource_t *res,
                             int read_write, int client_scope, int item)
{
    unsigned m = 0;
    int writes = read_write && res->writable;

    if (item) {
        if (res->item != NULL) {
            m |= M_GET | M_HEAD;
        }
        if (writes) {
            m |= (res->update ? M_PATCH : 0) | (res->replace ? M_PUT : 0)
                 | (res->del ? M_DELETE : 0);
        }
    }
    else {
        if (res->list != NULL) {
            m |= M_GET | M_HEAD;
        }
        if (writes && res->create != NULL
            && (client_scope < 0
                || ca_endpoint_can_create(res, client_scope))) {
            m |= M_POST;
        }
    }
    return m;
}

static const char *methods_text(apr_pool_t *p, unsigned m)
{
    const char *out = "";
    int i;

    for (i = 0; method_names[i] != NULL; i++) {
        if (m & (1u << i)) {
            out = *out ? apr_pstrcat(p, out, ", ", method_names[i], NULL)
                       : method_names[i];
        }
    }
    return out;
}

const char *ca_endpoint_methods(apr_pool_t *p,
                                const ca_provider_resource_t *res,
                                int read_write, int item)
{
    if (res == NULL) {
        return "";
    }
    return methods_text(p, methods_mask(res, read_write, -1, item));
}

const char *ca_endpoint_methods_scoped(apr_pool_t *p,
                                       const ca_provider_resource_t *res,
                                       int read_write, int client_scope,
                                       int item)
{
    if (res == NULL) {
        return "";
    }
    return methods_text(p, methods_mask(res, read_write,
                                        client_scope ? 1 : 0, item));
}

/* ------------------------------------------------------------------ */
/* building                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
    apr_pool_t *p;
    const ca_provider_t *def;
    const ca_endpoint_info_t *ep;
    int client_scope;
    int max_limit;
    const char *base;              /* ep->url without trailing '/' */
    apr_hash_t *opids;             /* operationIds given so far */
    int failed;
} bld_t;

static void bld_init(bld_t *b, apr_pool_t *p, const ca_provider_t *def,
                     const ca_endpoint_info_t *ep)
{
    const char *u = ep->url ? ep->url : "";
    apr_size_t n = strlen(u);

    while (n > 0 && u[n - 1] == '/') {
        n--;
    }
    b->p = p;
    b->def = def;
    b->ep = ep;
    b->client_scope = ep->client_scope ? 1 : 0;
    b->max_limit = ep->max_limit > 0 ? ep->max_limit : DEFAULT_MAX_LIMIT;
    if (b->max_limit > CA_PROVIDER_MAX_LIMIT) {
        b->max_limit = CA_PROVIDER_MAX_LIMIT;
    }
    b->base = apr_pstrmemdup(p, u, n);
    b->opids = apr_hash_make(p);
    b->failed = 0;
}

/*
 * A JSON string literal for s (NULL: null): ca_json_quote's escaping plus
 * \u escapes for the characters that matter when JSON sits inside HTML
 * (<, >, &) or JavaScript source (U+2028, U+2029).
 */
static const char *safe_literal(apr_pool_t *p, const char *s)
{
    const char *q = ca_json_quote(p, s), *c;
    apr_size_t extra = 0;
    char *out, *o;

    for (c = q; *c; c++) {
        if (*c == '<' || *c == '>' || *c == '&') {
            extra += 5;
        }
        else if ((unsigned char)c[0] == 0xe2 && (unsigned char)c[1] == 0x80
                 && ((unsigned char)c[2] == 0xa8
                     || (unsigned char)c[2] == 0xa9)) {
            extra += 3;
            c += 2;
        }
    }
    if (extra == 0) {
        return q;
    }
    out = o = apr_palloc(p, strlen(q) + extra + 1);
    for (c = q; *c; c++) {
        if (*c == '<' || *c == '>' || *c == '&') {
            memcpy(o, *c == '<' ? "\\u003c" : *c == '>' ? "\\u003e"
                                              : "\\u0026", 6);
            o += 6;
        }
        else if ((unsigned char)c[0] == 0xe2 && (unsigned char)c[1] == 0x80
                 && ((unsigned char)c[2] == 0xa8
                     || (unsigned char)c[2] == 0xa9)) {
            memcpy(o, (unsigned char)c[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            o += 6;
            c += 2;
        }
        else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}

static ca_json_t *chk(bld_t *b, ca_json_t *n)
{
    if (n == NULL) {
        b->failed = 1;
    }
    return n;
}

static ca_json_t *put_str(bld_t *b, ca_json_t *parent, const char *key,
                          const char *s)
{
    return chk(b, ca_json_add_raw(parent, key, safe_literal(b->p, s)));
}

static ca_json_t *put_obj(bld_t *b, ca_json_t *parent, const char *key)
{
    return chk(b, ca_json_add_object(parent, key));
}

static ca_json_t *put_arr(bld_t *b, ca_json_t *parent, const char *key)
{
    return chk(b, ca_json_add_array(parent, key));
}

static ca_json_t *put_num(bld_t *b, ca_json_t *parent, const char *key,
                          double v)
{
    return chk(b, ca_json_add_number(parent, key, v));
}

static ca_json_t *put_bool(bld_t *b, ca_json_t *parent, const char *key,
                           int v)
{
    return chk(b, ca_json_add_bool(parent, key, v));
}

static ca_json_t *put_null(bld_t *b, ca_json_t *parent, const char *key)
{
    return chk(b, ca_json_add_null(parent, key));
}

static ca_json_t *put_ref(bld_t *b, ca_json_t *parent, const char *key,
                          const char *section, const char *name)
{
    ca_json_t *o = put_obj(b, parent, key);

    put_str(b, o, "$ref", apr_pstrcat(b->p, "#/components/", section, "/",
                                      name, NULL));
    return o;
}

static char *finish(bld_t *b, ca_json_t *root)
{
    char *s;

    if (b->failed || root == NULL) {
        return NULL;
    }
    s = ca_json_print(b->p, root);
    return s;
}

static const char *display_name(const ca_provider_t *def)
{
    return def->display_name ? def->display_name : def->name;
}

static const char *resource_url(bld_t *b, const char *name)
{
    return apr_pstrcat(b->p, b->base, "/", name, NULL);
}

static void put_methods(bld_t *b, ca_json_t *parent, const char *key,
                        unsigned m)
{
    ca_json_t *a = put_arr(b, parent, key);
    int i;

    for (i = 0; method_names[i] != NULL; i++) {
        if (m & (1u << i)) {
            put_str(b, a, NULL, method_names[i]);
        }
    }
}

/* The nested entry is served to this endpoint. */
static int nested_visible(bld_t *b, const ca_provider_resource_t *res,
                          const ca_provider_nested_t *ne)
{
    return res->item != NULL && ne->list != NULL
           && ca_endpoint_resource_visible(ne->resource, b->client_scope);
}

/* Filter i is listed: not the module's own limit/cursor, not seen before. */
static int filter_usable(const apr_array_header_t *filters, int i)
{
    const char *f = APR_ARRAY_IDX(filters, i, const char *);
    int j;

    if (strcmp(f, "limit") == 0 || strcmp(f, "cursor") == 0) {
        return 0;
    }
    for (j = 0; j < i; j++) {
        if (strcmp(APR_ARRAY_IDX(filters, j, const char *), f) == 0) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* description                                                         */
/* ------------------------------------------------------------------ */

static void describe_resource(bld_t *b, ca_json_t *arr,
                              const ca_provider_resource_t *res)
{
    ca_json_t *o = put_obj(b, arr, NULL), *a;
    int i;

    put_str(b, o, "name", res->name);
    put_str(b, o, "description", res->description);
    put_methods(b, o, "methods", methods_mask(res, b->ep->read_write,
                                              b->client_scope, 0));
    put_methods(b, o, "item_methods", methods_mask(res, b->ep->read_write,
                                                   b->client_scope, 1));
    a = put_arr(b, o, "nested");
    for (i = 0; res->nested != NULL && i < res->nested->nelts; i++) {
        const ca_provider_nested_t *ne =
            &APR_ARRAY_IDX(res->nested, i, ca_provider_nested_t);

        if (nested_visible(b, res, ne)) {
            put_str(b, a, NULL, ne->name);
        }
    }
    a = put_arr(b, o, "filters");
    for (i = 0; res->filters != NULL && i < res->filters->nelts; i++) {
        if (filter_usable(res->filters, i)) {
            put_str(b, a, NULL, APR_ARRAY_IDX(res->filters, i, const char *));
        }
    }
    if (res->parent != NULL && res->parent->resource != NULL) {
        a = put_obj(b, o, "parent");
        put_str(b, a, "resource", res->parent->resource->name);
        put_str(b, a, "param", res->parent->param);
    }
    put_str(b, o, "url", resource_url(b, res->name));
}

char *ca_describe_json(apr_pool_t *p, const ca_provider_t *def,
                       const ca_endpoint_info_t *ep)
{
    bld_t b;
    ca_json_t *root, *o, *a;
    int i, n;

    if (def == NULL || ep == NULL) {
        return NULL;
    }
    bld_init(&b, p, def, ep);
    root = ca_json_new_object(p);
    put_str(&b, root, "endpoint_id", ep->endpoint_id);
    put_str(&b, root, "provider", def->name);
    put_str(&b, root, "provider_name", display_name(def));
    put_str(&b, root, "access_mode", ep->read_write ? "read-write"
                                                    : "read-only");
    o = put_obj(&b, root, "scope");
    put_str(&b, o, "kind", b.client_scope ? "client" : "company");
    put_str(&b, o, "company_external_id", ep->company_id);
    put_str(&b, o, "company_name", ep->company_name);
    if (b.client_scope) {
        put_str(&b, o, "client_external_id", ep->client_id);
        put_str(&b, o, "client_name", ep->client_name);
    }
    else {
        put_null(&b, o, "client_external_id");
        put_null(&b, o, "client_name");
    }

    a = put_arr(&b, root, "resources");
    n = ca_provider_resource_count(def);
    for (i = 0; i < n; i++) {
        const ca_provider_resource_t *res = ca_provider_resource_at(def, i);

        if (ca_endpoint_resource_visible(res, b.client_scope)) {
            describe_resource(&b, a, res);
        }
    }
    o = put_obj(&b, root, "limits");
    put_num(&b, o, "max_limit", b.max_limit);
    put_str(&b, root, "openapi", apr_pstrcat(p, b.base, "/openapi.json",
                                             NULL));
    return finish(&b, root);
}

/* ------------------------------------------------------------------ */
/* OpenAPI: components                                                 */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *status;
    const char *name;
    const char *description;
} problem_response_t;

/* The contract's error table. */
static const problem_response_t problem_responses[] = {
    { "400", "BadRequest", "Malformed input (code bad_request), or a key in "
      "the query string (code key_in_query)." },
    { "401", "Unauthorized", "No key (code key_missing), or a key that is "
      "unknown, revoked or for another endpoint (code key_invalid)." },
    { "403", "Forbidden", "The endpoint is deactivated (code "
      "endpoint_inactive)." },
    { "404", "NotFound", "Unknown endpoint, resource or record; a record "
      "outside the endpoint's scope is answered the same way (code "
      "not_found)." },
    { "405", "MethodNotAllowed", "A write on a read-only endpoint, or a "
      "method the resource does not support (code read_only); the Allow "
      "header lists the methods." },
    { "413", "PayloadTooLarge", "The request body is larger than the "
      "module's limit (code body_too_large)." },
    { "415", "UnsupportedMediaType", "The request body is not "
      "application/json (code unsupported_media_type)." },
    { "422", "UnprocessableEntity", "The body names another company or "
      "client than the endpoint's, or a record that cannot be in its scope "
      "(code scope_violation)." },
    { "429", "TooManyRequests", "The endpoint's or the provider's rate "
      "limit was reached (code rate_limited); retry after Retry-After "
      "seconds." },
    { "502", "BadGateway", "The provider answered with an error or an "
      "unusable body (code provider_error)." },
    { "503", "ServiceUnavailable", "The provider is unavailable (code "
      "provider_unavailable), its connection needs to be authorized again "
      "(code reauthorization_required), or the module's database is "
      "unavailable (code storage_unavailable)." },
    { "504", "GatewayTimeout", "The provider did not answer in time (code "
      "provider_timeout)." },
    { NULL, NULL, NULL }
};

static const problem_response_t *problem_response(const char *status)
{
    int i;

    for (i = 0; problem_responses[i].status != NULL; i++) {
        if (strcmp(problem_responses[i].status, status) == 0) {
            return &problem_responses[i];
        }
    }
    return NULL;
}

static ca_json_t *put_type(bld_t *b, ca_json_t *parent, const char *key,
                           const char *type, const char *description)
{
    ca_json_t *o = put_obj(b, parent, key);

    put_str(b, o, "type", type);
    if (description != NULL) {
        put_str(b, o, "description", description);
    }
    return o;
}

static ca_json_t *put_required(bld_t *b, ca_json_t *schema,
                               const char *const *names)
{
    ca_json_t *a = put_arr(b, schema, "required");
    int i;

    for (i = 0; names[i] != NULL; i++) {
        put_str(b, a, NULL, names[i]);
    }
    return a;
}

static void schemas(bld_t *b, ca_json_t *comp)
{
    static const char *const list_req[] = {
        "provider", "company_external_id", "client_external_id", "count",
        "data", "next_cursor", NULL
    };
    static const char *const single_req[] = { "provider", "data", NULL };
    static const char *const problem_req[] = {
        "type", "title", "status", "code", "request_id", NULL
    };
    static const char *const desc_req[] = {
        "endpoint_id", "provider", "provider_name", "access_mode", "scope",
        "resources", "limits", "openapi", NULL
    };
    ca_json_t *s = put_obj(b, comp, "schemas"), *o, *pr, *v, *a;

    /* a record: the provider's own fields, kept as they are */
    o = put_type(b, s, "Record", "object", apr_pstrcat(b->p, "A record as ",
                 display_name(b->def), " returns it: the provider's own "
                 "fields, kept as they are.", NULL));
    put_bool(b, o, "additionalProperties", 1);

    o = put_type(b, s, "ListEnvelope", "object", "One page of a list.");
    put_required(b, o, list_req);
    pr = put_obj(b, o, "properties");
    v = put_type(b, pr, "provider", "string", "Provider name.");
    put_str(b, v, "example", b->def->name);
    put_type(b, pr, "company_external_id", "string",
             "The provider's id of the endpoint's company.");
    v = put_type(b, pr, "client_external_id", "string",
                 "The provider's id of the endpoint's client; null on "
                 "company-scoped endpoints.");
    put_bool(b, v, "nullable", 1);
    v = put_type(b, pr, "count", "integer",
                 "Number of records in this page.");
    put_num(b, v, "minimum", 0);
    v = put_type(b, pr, "data", "array", NULL);
    put_ref(b, v, "items", "schemas", "Record");
    v = put_type(b, pr, "next_cursor", "string",
                 "Opaque cursor of the next page (pass it as ?cursor=); "
                 "null on the last page.");
    put_bool(b, v, "nullable", 1);

    o = put_type(b, s, "SingleEnvelope", "object", "One record.");
    put_required(b, o, single_req);
    pr = put_obj(b, o, "properties");
    v = put_type(b, pr, "provider", "string", "Provider name.");
    put_str(b, v, "example", b->def->name);
    put_ref(b, pr, "data", "schemas", "Record");

    o = put_type(b, s, "Problem", "object", "RFC 9457 problem details, "
                 "with a stable code and the request id.");
    put_required(b, o, problem_req);
    pr = put_obj(b, o, "properties");
    v = put_type(b, pr, "type", "string", "urn:clientapi:problem:{code}");
    put_str(b, v, "format", "uri-reference");
    put_type(b, pr, "title", "string", "Short summary (the HTTP reason).");
    v = put_type(b, pr, "status", "integer", "HTTP status.");
    put_num(b, v, "minimum", 400);
    put_num(b, v, "maximum", 599);
    put_type(b, pr, "detail", "string", "What went wrong in this request.");
    put_type(b, pr, "code", "string", "Stable snake_case error code.");
    put_type(b, pr, "request_id", "string",
             "Equal to the X-Request-Id response header.");

    o = put_type(b, s, "EndpointDescription", "object",
                 "What this endpoint is and the resources it serves.");
    put_required(b, o, desc_req);
    pr = put_obj(b, o, "properties");
    put_type(b, pr, "endpoint_id", "string", NULL);
    put_type(b, pr, "provider", "string", NULL);
    put_type(b, pr, "provider_name", "string", NULL);
    v = put_type(b, pr, "access_mode", "string", NULL);
    a = put_arr(b, v, "enum");
    put_str(b, a, NULL, "read-only");
    put_str(b, a, NULL, "read-write");
    v = put_type(b, pr, "scope", "object", NULL);
    put_bool(b, v, "additionalProperties", 1);
    v = put_type(b, pr, "resources", "array", NULL);
    v = put_type(b, v, "items", "object", NULL);
    put_bool(b, v, "additionalProperties", 1);
    v = put_type(b, pr, "limits", "object", NULL);
    put_bool(b, v, "additionalProperties", 1);
    v = put_type(b, pr, "openapi", "string", "URL of this document.");
    put_str(b, v, "format", "uri");

    o = put_type(b, s, "OpenApiDocument", "object", "An OpenAPI 3.0 "
                 "document.");
    put_bool(b, o, "additionalProperties", 1);
}

static void headers(bld_t *b, ca_json_t *comp)
{
    ca_json_t *h = put_obj(b, comp, "headers"), *o;

    o = put_obj(b, h, "X-Request-Id");
    put_str(b, o, "description", "Id of this request (also in problem "
            "documents and in the endpoint's request log).");
    put_type(b, o, "schema", "string", NULL);

    o = put_obj(b, h, "Retry-After");
    put_str(b, o, "description", "Seconds to wait before retrying.");
    put_bool(b, o, "required", 1);
    put_type(b, o, "schema", "integer", NULL);

    o = put_obj(b, h, "Allow");
    put_str(b, o, "description", "Methods the URL supports.");
    put_type(b, o, "schema", "string", NULL);

    o = put_obj(b, h, "Location");
    put_str(b, o, "description", "URL of the created record.");
    put_type(b, o, "schema", "string", NULL);
}

static void parameters(bld_t *b, ca_json_t *comp)
{
    ca_json_t *ps = put_obj(b, comp, "parameters"), *o, *v;

    o = put_obj(b, ps, "limit");
    put_str(b, o, "name", "limit");
    put_str(b, o, "in", "query");
    put_bool(b, o, "required", 0);
    put_str(b, o, "description", apr_psprintf(b->p, "Records per page; "
            "larger values are silently capped at %d.", b->max_limit));
    v = put_type(b, o, "schema", "integer", NULL);
    put_num(b, v, "minimum", 1);

    o = put_obj(b, ps, "cursor");
    put_str(b, o, "name", "cursor");
    put_str(b, o, "in", "query");
    put_bool(b, o, "required", 0);
    put_str(b, o, "description", "The next_cursor of the previous page. "
            "Opaque and bound to this endpoint.");
    put_type(b, o, "schema", "string", NULL);

    o = put_obj(b, ps, "id");
    put_str(b, o, "name", "id");
    put_str(b, o, "in", "path");
    put_bool(b, o, "required", 1);
    put_str(b, o, "description", "The provider's id of the record.");
    put_type(b, o, "schema", "string", NULL);

    o = put_obj(b, ps, "Idempotency-Key");
    put_str(b, o, "name", "Idempotency-Key");
    put_str(b, o, "in", "header");
    put_bool(b, o, "required", 0);
    put_str(b, o, "description", "Repeating a POST with the same key "
            "replays the first result instead of creating twice.");
    v = put_type(b, o, "schema", "string", NULL);
    put_num(b, v, "maxLength", 255);
}

static void responses(bld_t *b, ca_json_t *comp)
{
    ca_json_t *rs = put_obj(b, comp, "responses"), *o, *h, *c;
    int i;

    for (i = 0; problem_responses[i].status != NULL; i++) {
        const problem_response_t *pr = &problem_responses[i];

        o = put_obj(b, rs, pr->name);
        put_str(b, o, "description", pr->description);
        h = put_obj(b, o, "headers");
        put_ref(b, h, "X-Request-Id", "headers", "X-Request-Id");
        if (strcmp(pr->status, "429") == 0) {
            put_ref(b, h, "Retry-After", "headers", "Retry-After");
        }
        else if (strcmp(pr->status, "405") == 0) {
            put_ref(b, h, "Allow", "headers", "Allow");
        }
        c = put_obj(b, o, "content");
        c = put_obj(b, c, "application/problem+json");
        put_ref(b, c, "schema", "schemas", "Problem");
    }
}

static void security_schemes(bld_t *b, ca_json_t *comp)
{
    ca_json_t *s = put_obj(b, comp, "securitySchemes"), *o;

    o = put_obj(b, s, "bearer");
    put_str(b, o, "type", "http");
    put_str(b, o, "scheme", "bearer");
    put_str(b, o, "description", "Authorization: Bearer <key>, the "
            "endpoint's key (cak_...). Never put a key in the query string.");
    o = put_obj(b, s, "apiKey");
    put_str(b, o, "type", "apiKey");
    put_str(b, o, "in", "header");
    put_str(b, o, "name", "X-API-Key");
    put_str(b, o, "description", "The same key in an X-API-Key header.");
}

/* Either scheme (global requirement). */
static void security(bld_t *b, ca_json_t *root)
{
    ca_json_t *a = put_arr(b, root, "security");

    put_arr(b, put_obj(b, a, NULL), "bearer");
    put_arr(b, put_obj(b, a, NULL), "apiKey");
}

/* ------------------------------------------------------------------ */
/* OpenAPI: paths                                                      */
/* ------------------------------------------------------------------ */

/* "line_items" -> "LineItems" */
static const char *camel(apr_pool_t *p, const char *name)
{
    char *out = apr_palloc(p, strlen(name) + 1), *o = out;
    int up = 1;

    for (; *name; name++) {
        if (*name == '_') {
            up = 1;
            continue;
        }
        *o++ = (char)(up ? apr_toupper(*name) : *name);
        up = 0;
    }
    *o = '\0';
    return out;
}

/* A unique operationId from verb and the parts' camel forms. */
static const char *opid(bld_t *b, const char *verb, const char *a,
                        const char *c)
{
    const char *id = apr_pstrcat(b->p, verb, a ? camel(b->p, a) : "",
                                 c ? camel(b->p, c) : "", NULL);
    const char *cand = id;
    int n = 2;

    while (apr_hash_get(b->opids, cand, APR_HASH_KEY_STRING) != NULL) {
        cand = apr_psprintf(b->p, "%s_%d", id, n++);
    }
    apr_hash_set(b->opids, cand, APR_HASH_KEY_STRING, "");
    return cand;
}

/* The problem statuses an operation can answer, by kind. */
static const char *const st_meta[] = {
    "400", "401", "403", "404", "429", "503", NULL
};
static const char *const st_read[] = {
    "400", "401", "403", "404", "429", "502", "503", "504", NULL
};
static const char *const st_write[] = {
    "400", "401", "403", "404", "413", "415", "422", "429", "502", "503",
    "504", NULL
};
static const char *const st_delete[] = {
    "400", "401", "403", "404", "422", "429", "502", "503", "504", NULL
};

static ca_json_t *operation(bld_t *b, ca_json_t *item, const char *method,
                            const char *id, const char *tag,
                            const char *summary, const char *description)
{
    ca_json_t *op = put_obj(b, item, method);

    put_str(b, op, "operationId", id);
    put_str(b, op, "summary", summary);
    if (description != NULL) {
        put_str(b, op, "description", description);
    }
    put_str(b, put_arr(b, op, "tags"), NULL, tag);
    return op;
}

/* responses: the success one (schema may be NULL: no body) + problems */
static void op_responses(bld_t *b, ca_json_t *op, const char *status,
                         const char *description, const char *schema,
                         int location, const char *const *problems)
{
    ca_json_t *rs = put_obj(b, op, "responses"), *o, *h, *c;
    int i;

    o = put_obj(b, rs, status);
    put_str(b, o, "description", description);
    h = put_obj(b, o, "headers");
    put_ref(b, h, "X-Request-Id", "headers", "X-Request-Id");
    if (location) {
        put_ref(b, h, "Location", "headers", "Location");
    }
    if (schema != NULL) {
        c = put_obj(b, o, "content");
        c = put_obj(b, c, "application/json");
        put_ref(b, c, "schema", "schemas", schema);
    }
    for (i = 0; problems[i] != NULL; i++) {
        const problem_response_t *pr = problem_response(problems[i]);

        put_ref(b, rs, pr->status, "responses", pr->name);
    }
}

static void request_body(bld_t *b, ca_json_t *op, const char *description)
{
    ca_json_t *o = put_obj(b, op, "requestBody"), *c;

    put_str(b, o, "description", description);
    put_bool(b, o, "required", 1);
    c = put_obj(b, o, "content");
    c = put_obj(b, c, "application/json");
    put_ref(b, c, "schema", "schemas", "Record");
}

static void list_parameters(bld_t *b, ca_json_t *op,
                            const ca_provider_resource_t *filters_of)
{
    ca_json_t *ps = put_arr(b, op, "parameters"), *o;
    const apr_array_header_t *f = filters_of ? filters_of->filters : NULL;
    int i;

    put_ref(b, ps, NULL, "parameters", "limit");
    put_ref(b, ps, NULL, "parameters", "cursor");
    for (i = 0; f != NULL && i < f->nelts; i++) {
        const char *name = APR_ARRAY_IDX(f, i, const char *);
        const char *d;

        if (!filter_usable(f, i)) {
            continue;
        }
        if (filters_of->parent != NULL && filters_of->parent->param != NULL
            && strcmp(filters_of->parent->param, name) == 0) {
            d = apr_pstrcat(b->p, "Id of the ",
                            filters_of->parent->resource_name, " record "
                            "whose records to list (it must be in the "
                            "endpoint's scope).", NULL);
        }
        else {
            d = "Filter passed to the provider; it can narrow the "
                "endpoint's scope, never widen it.";
        }
        o = put_obj(b, ps, NULL);
        put_str(b, o, "name", name);
        put_str(b, o, "in", "query");
        put_bool(b, o, "required", 0);
        put_str(b, o, "description", d);
        put_type(b, o, "schema", "string", NULL);
    }
}

static void resource_paths(bld_t *b, ca_json_t *paths,
                           const ca_provider_resource_t *res)
{
    const char *name = res->name;
    unsigned coll = methods_mask(res, b->ep->read_write, b->client_scope, 0);
    unsigned item = methods_mask(res, b->ep->read_write, b->client_scope, 1);
    const char *what = apr_pstrcat(b->p, "a record of ", name, NULL);
    ca_json_t *pi, *op, *ps;
    int i;

    if (coll & (M_GET | M_POST)) {
        pi = put_obj(b, paths, apr_pstrcat(b->p, "/", name, NULL));
        if (coll & M_GET) {
            op = operation(b, pi, "get", opid(b, "list", name, NULL), name,
                           apr_pstrcat(b->p, "List ", name, NULL),
                           res->description);
            list_parameters(b, op, res);
            op_responses(b, op, "200", "One page of records.",
                         "ListEnvelope", 0, st_read);
        }
        if (coll & M_POST) {
            op = operation(b, pi, "post", opid(b, "create", name, NULL),
                           name, apr_pstrcat(b->p, "Create ", what, NULL),
                           "The endpoint's company and client ids are set "
                           "by the module; a body naming others is refused "
                           "(422).");
            ps = put_arr(b, op, "parameters");
            put_ref(b, ps, NULL, "parameters", "Idempotency-Key");
            request_body(b, op, "The new record, in the provider's fields.");
            op_responses(b, op, "201", "The created record.",
                         "SingleEnvelope", 1, st_write);
        }
    }

    if (item != 0) {
        pi = put_obj(b, paths, apr_pstrcat(b->p, "/", name, "/{id}", NULL));
        ps = put_arr(b, pi, "parameters");
        put_ref(b, ps, NULL, "parameters", "id");
        if (item & M_GET) {
            op = operation(b, pi, "get", opid(b, "get", name, NULL), name,
                           apr_pstrcat(b->p, "Get ", what, NULL), NULL);
            op_responses(b, op, "200", "The record.", "SingleEnvelope", 0,
                         st_read);
        }
        if (item & M_PATCH) {
            op = operation(b, pi, "patch", opid(b, "update", name, NULL),
                           name, apr_pstrcat(b->p, "Update ", what, NULL),
                           "Changes the fields given. The record must be "
                           "in the endpoint's scope.");
            request_body(b, op, "The fields to change.");
            op_responses(b, op, "200", "The updated record.",
                         "SingleEnvelope", 0, st_write);
        }
        if (item & M_PUT) {
            op = operation(b, pi, "put", opid(b, "replace", name, NULL),
                           name, apr_pstrcat(b->p, "Replace ", what, NULL),
                           "The record must be in the endpoint's scope.");
            request_body(b, op, "The whole record.");
            op_responses(b, op, "200", "The replaced record.",
                         "SingleEnvelope", 0, st_write);
        }
        if (item & M_DELETE) {
            op = operation(b, pi, "delete", opid(b, "delete", name, NULL),
                           name, apr_pstrcat(b->p, "Delete ", what, NULL),
                           "The record must be in the endpoint's scope.");
            op_responses(b, op, "204", "Deleted.", NULL, 0, st_delete);
        }
    }

    for (i = 0; res->nested != NULL && i < res->nested->nelts; i++) {
        const ca_provider_nested_t *ne =
            &APR_ARRAY_IDX(res->nested, i, ca_provider_nested_t);

        if (!nested_visible(b, res, ne)) {
            continue;
        }
        pi = put_obj(b, paths, apr_pstrcat(b->p, "/", name, "/{id}/",
                                           ne->name, NULL));
        ps = put_arr(b, pi, "parameters");
        put_ref(b, ps, NULL, "parameters", "id");
        op = operation(b, pi, "get", opid(b, "list", name, ne->name), name,
                       apr_pstrcat(b->p, "List the ", ne->name, " of ", what,
                                   NULL),
                       ne->resource->description);
        list_parameters(b, op, NULL);
        op_responses(b, op, "200", "One page of records.", "ListEnvelope", 0,
                     st_read);
    }
}

static void meta_paths(bld_t *b, ca_json_t *paths)
{
    ca_json_t *pi, *op;

    pi = put_obj(b, paths, "/");
    op = operation(b, pi, "get", opid(b, "describeEndpoint", NULL, NULL),
                   "Endpoint", "Describe the endpoint",
                   "Scope, access mode, limits and the resources this "
                   "endpoint serves.");
    op_responses(b, op, "200", "The endpoint description.",
                 "EndpointDescription", 0, st_meta);

    pi = put_obj(b, paths, "/openapi.json");
    op = operation(b, pi, "get", opid(b, "getOpenApiDocument", NULL, NULL),
                   "Endpoint", "This OpenAPI document", NULL);
    op_responses(b, op, "200", "OpenAPI 3.0 document of the endpoint.",
                 "OpenApiDocument", 0, st_meta);
}

static const char *info_description(bld_t *b)
{
    const ca_endpoint_info_t *ep = b->ep;
    const char *who;

    if (b->client_scope) {
        who = apr_pstrcat(b->p, "client ", ep->client_id ? ep->client_id : "",
                          ep->client_name ? " (" : "",
                          ep->client_name ? ep->client_name : "",
                          ep->client_name ? ")" : "", " of company ",
                          ep->company_id ? ep->company_id : "", NULL);
    }
    else {
        who = apr_pstrcat(b->p, "company ",
                          ep->company_id ? ep->company_id : "",
                          ep->company_name ? " (" : "",
                          ep->company_name ? ep->company_name : "",
                          ep->company_name ? ")" : "", NULL);
    }
    return apr_psprintf(b->p, "A %s endpoint on %s, scoped to %s: it "
                        "returns only the records of this scope. Lists are "
                        "paged with ?limit= (at most %d) and the opaque "
                        "?cursor= of next_cursor. Errors are "
                        "application/problem+json (RFC 9457) with a stable "
                        "code and the request_id of the X-Request-Id "
                        "header. HEAD is accepted wherever GET is.",
                        ep->read_write ? "read-write" : "read-only",
                        display_name(b->def), who, b->max_limit);
}

char *ca_openapi_json(apr_pool_t *p, const ca_provider_t *def,
                      const ca_endpoint_info_t *ep)
{
    bld_t b;
    ca_json_t *root, *o, *a, *tags, *paths, *comp;
    int i, n;

    if (def == NULL || ep == NULL) {
        return NULL;
    }
    bld_init(&b, p, def, ep);
    root = ca_json_new_object(p);
    put_str(&b, root, "openapi", CA_OPENAPI_VERSION);

    o = put_obj(&b, root, "info");
    put_str(&b, o, "title", apr_pstrcat(p, display_name(def), " endpoint ",
                                        ep->endpoint_id ? ep->endpoint_id
                                                        : "", NULL));
    put_str(&b, o, "version", CA_OPENAPI_API_VERSION);
    put_str(&b, o, "description", info_description(&b));

    a = put_arr(&b, root, "servers");
    o = put_obj(&b, a, NULL);
    put_str(&b, o, "url", *b.base ? b.base : "/");

    security(&b, root);

    tags = put_arr(&b, root, "tags");
    o = put_obj(&b, tags, NULL);
    put_str(&b, o, "name", "Endpoint");
    put_str(&b, o, "description", "The endpoint itself.");

    paths = put_obj(&b, root, "paths");
    meta_paths(&b, paths);
    n = ca_provider_resource_count(def);
    for (i = 0; i < n; i++) {
        const ca_provider_resource_t *res = ca_provider_resource_at(def, i);

        if (!ca_endpoint_resource_visible(res, b.client_scope)) {
            continue;
        }
        o = put_obj(&b, tags, NULL);
        put_str(&b, o, "name", res->name);
        if (res->description != NULL) {
            put_str(&b, o, "description", res->description);
        }
        resource_paths(&b, paths, res);
    }

    comp = put_obj(&b, root, "components");
    security_schemes(&b, comp);
    schemas(&b, comp);
    responses(&b, comp);
    parameters(&b, comp);
    headers(&b, comp);
    return finish(&b, root);
}
