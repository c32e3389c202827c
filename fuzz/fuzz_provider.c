/*
 * fuzz_provider.c - libFuzzer target for the provider-file parser (ca_provider_load_buffer),
 * and for the scope code (ca_scope.c) driven by the definitions it accepts.
 *
 * The input is a provider definition file, passed as exactly its bytes (no NUL after them).
 *
 * Invariants checked (abort = crash report):
 *   - a refused file gives APR_EINVAL and a message "fuzz.json: ..." (read in full: a message
 *     pointing into the freed JSON tree is a use after free);
 *   - an accepted definition is complete as ca_provider.h says, and nothing in it points into
 *     the JSON tree (freed by then: every string is read in full): names are names, resource
 *     names are ones the URL router accepts, calls have a method and a path, lists have a
 *     records path, JSON paths are well formed, every resource has company rules, parent and
 *     nested links are resolved, the name index finds every resource, URLs are absolute with
 *     no trailing '/' on the base;
 *   - every template of the file expands once all placeholders it may use have values (the
 *     loader refuses unknown placeholders), as a path and as raw text;
 *   - ca_provider_override_base without overrides accepts the definition and keeps its URLs;
 *   - for each resource (and nested list) and scope (company, client; with and without a
 *     verified parent; string ids and numeric ids): a record created from "{}" through
 *     ca_scope_write_body is in scope, is kept by ca_scope_filter_list when it is the only
 *     record of a page shaped by the list call's records path, and is in scope for
 *     ca_scope_check_item in a body shaped by the item call's record path.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>

#include "ca_provider.h"
#include "ca_scope.h"
#include "ca_json.h"
#include "ca_route.h"
#include "fuzz_common.h"

#define FNAME "fuzz.json"
#define MAX_RES 16
#define MAX_NESTED 4

static const char *const request_vars[] = {
    "id", "parent_id", "company_id", "client_id", "cursor", "limit", NULL
};

/* Read the whole string: AddressSanitizer reports a string left in freed memory. */
static size_t touch(const char *s)
{
    return s ? strlen(s) : 0;
}

static int is_name(const char *s, int digits)
{
    size_t n = 0;

    for (; s && *s; s++, n++) {
        if (!((*s >= 'a' && *s <= 'z') || *s == '_' || (digits && *s >= '0' && *s <= '9'))) {
            return 0;
        }
    }
    return n > 0 && n <= 64;
}

static void touch_strs(const apr_array_header_t *a)
{
    int i;

    for (i = 0; a != NULL && i < a->nelts; i++) {
        touch(APR_ARRAY_IDX(a, i, const char *));
    }
}

static void touch_kvs(const apr_array_header_t *a)
{
    int i;

    for (i = 0; a != NULL && i < a->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(a, i, ca_provider_kv_t);

        FZ_ASSERT(kv->name != NULL && *kv->name && kv->value != NULL, "kv without a name");
        touch(kv->name);
        touch(kv->value);
    }
}

static void check_jpath(const char *path, int empty_ok, const char *what)
{
    if (path == NULL) {
        return;
    }
    touch(path);
    FZ_ASSERT((empty_ok && *path == '\0') || ca_json_path_valid(path),
              "%s: malformed JSON path '%s'", what, path);
}

static void walk_call(const ca_provider_call_t *c, int list, const char *what)
{
    static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };
    int i, known = 0;

    if (c == NULL) {
        return;
    }
    FZ_ASSERT(c->method != NULL && c->path != NULL, "%s: call without method or path", what);
    for (i = 0; methods[i]; i++) {
        known |= strcmp(c->method, methods[i]) == 0;
    }
    FZ_ASSERT(known, "%s: method '%s'", what, c->method);
    touch(c->path);
    FZ_ASSERT(c->path[0] == '\0' || c->path[0] == '/', "%s: path '%s'", what, c->path);
    touch_kvs(c->query);
    touch_kvs(c->variables);
    touch(c->graphql);
    touch(c->id_header);
    if (list) {
        FZ_ASSERT(c->records != NULL, "%s: list call without records path", what);
    }
    check_jpath(c->records, 1, what);
    check_jpath(c->record, 1, what);
    check_jpath(c->id_path, 0, what);
    check_jpath(c->next_cursor_path, 0, what);
    check_jpath(c->has_more_path, 0, what);
}

static void walk_rules(const apr_array_header_t *rules, int client, const char *what)
{
    int i;

    FZ_ASSERT(rules != NULL, "%s: no rule array", what);
    for (i = 0; i < rules->nelts; i++) {
        const ca_provider_rule_t *r = &APR_ARRAY_IDX(rules, i, ca_provider_rule_t);

        FZ_ASSERT(r->kind >= CA_RULE_FIELD && r->kind <= CA_RULE_PARENT, "%s: rule kind %d",
                  what, (int)r->kind);
        FZ_ASSERT(ca_provider_rule_kind_name(r->kind) != NULL, "no rule kind name");
        if (r->kind == CA_RULE_FIELD || r->kind == CA_RULE_CONTAINS) {
            FZ_ASSERT(r->path != NULL, "%s: rule without a path", what);
        }
        FZ_ASSERT(!(client && r->kind == CA_RULE_CONNECTION), "%s: client connection rule",
                  what);
        check_jpath(r->path, 0, what);
    }
}

static int is_resource_of(const ca_provider_t *def, const ca_provider_resource_t *r)
{
    int i;

    for (i = 0; i < ca_provider_resource_count(def); i++) {
        if (ca_provider_resource_at(def, i) == r) {
            return 1;
        }
    }
    return 0;
}

static void check_url(const char *u, int allow_http, int base, const char *what)
{
    const char *c;

    if (u == NULL) {
        return;
    }
    FZ_ASSERT(strncmp(u, "https://", 8) == 0 || (allow_http && strncmp(u, "http://", 7) == 0),
              "%s: '%s' is not absolute", what, u);
    for (c = u; *c; c++) {
        FZ_ASSERT((unsigned char)*c > 0x20 && *c != 0x7f && *c != '#', "%s: '%s'", what, u);
    }
    if (base) {
        FZ_ASSERT(u[strlen(u) - 1] != '/' && strchr(u, '?') == NULL, "%s: base '%s'", what, u);
    }
}

static void walk_pick(const ca_provider_t *def, const ca_provider_pick_t *pk)
{
    FZ_ASSERT(pk->resource == NULL || is_resource_of(def, pk->resource), "pick resource");
    touch(pk->id);
    touch_strs(pk->label);
}

static void walk(const ca_provider_t *def)
{
    const ca_provider_auth_t *a = &def->auth;
    int i, j, n = ca_provider_resource_count(def);

    FZ_ASSERT(def->file && strcmp(def->file, FNAME) == 0, "file name");
    FZ_ASSERT(is_name(def->name, 1), "provider name '%s'", def->name);
    FZ_ASSERT(def->display_name != NULL, "no display name");
    touch(def->display_name);
    touch(def->docs_url);

    FZ_ASSERT(ca_provider_auth_mode_name(a->mode) != NULL, "auth mode %d", (int)a->mode);
    check_url(a->authorize_url, def->api.local_sandbox, 0, "authorize_url");
    check_url(a->token_url, def->api.local_sandbox, 0, "token_url");
    check_url(a->revoke_url, def->api.local_sandbox, 0, "revoke_url");
    touch(a->authorize_ref);
    touch(a->token_ref);
    touch(a->revoke_ref);
    touch_strs(a->scopes);
    touch(a->scope_separator);
    touch(a->api_key_prefix);
    touch(a->header);
    touch(a->scheme);
    for (i = 0; a->connect_fields && i < a->connect_fields->nelts; i++) {
        const ca_provider_field_t *f = &APR_ARRAY_IDX(a->connect_fields, i,
                                                      ca_provider_field_t);

        FZ_ASSERT(is_name(f->name, 0), "connect field name");
        touch(f->label);
    }
    walk_call(a->identity.call, 0, "identity");
    touch(a->identity.id);
    touch_strs(a->identity.label);
    touch(a->identity.id_template);
    touch(a->identity.label_template);

    FZ_ASSERT(def->api.base_url != NULL, "no base URL");
    check_url(def->api.base_url, def->api.local_sandbox, 1, "base_url");
    touch(def->api.graphql_path);
    touch_kvs(def->api.headers);
    touch(def->api.idempotency_header);
    touch_strs(def->api.config_params);

    FZ_ASSERT(ca_provider_page_style_name(def->paging.style) != NULL, "page style");
    FZ_ASSERT(def->paging.max_limit >= 0 && def->paging.max_limit <= CA_PROVIDER_MAX_LIMIT,
              "max_limit %d", def->paging.max_limit);
    touch(def->paging.cursor_param);
    touch(def->paging.limit_param);
    touch(def->paging.page_param);
    touch(def->paging.first_cursor);
    touch(def->paging.next_cursor_path);
    touch(def->paging.has_more_path);
    touch(def->paging.cursor_header);
    touch(def->rate_limit.retry_after_header);
    touch(def->rate_limit.body_code_path);
    touch(def->rate_limit.body_code_value);
    walk_pick(def, &def->company_list);
    walk_pick(def, &def->client_list);

    FZ_ASSERT(def->by_name != NULL && (int)apr_hash_count(def->by_name) == n,
              "name index has %u of %d resources", def->by_name ? apr_hash_count(def->by_name)
                                                                : 0, n);
    for (i = 0; i < n; i++) {
        const ca_provider_resource_t *r = ca_provider_resource_at(def, i);
        const char *w = r->name;

        FZ_ASSERT(r->name && ca_route_valid_resource(r->name), "resource name '%s'", r->name);
        FZ_ASSERT(ca_provider_resource(def, r->name) == r, "index misses '%s'", r->name);
        touch(r->description);
        FZ_ASSERT(r->id_field != NULL, "%s: no id_field", w);
        check_jpath(r->id_field, 0, w);
        FZ_ASSERT(r->list != NULL || r->item != NULL, "%s: neither list nor item", w);
        walk_call(r->list, 1, w);
        walk_call(r->item, 0, w);
        walk_call(r->create, 0, w);
        walk_call(r->update, 0, w);
        walk_call(r->replace, 0, w);
        walk_call(r->del, 0, w);
        FZ_ASSERT(r->company_rules && r->company_rules->nelts >= 1, "%s: no company rule", w);
        walk_rules(r->company_rules, 0, w);
        walk_rules(r->client_rules, 1, w);
        touch_kvs(r->company_query);
        touch_kvs(r->client_query);
        touch_strs(r->filters);
        for (j = 0; r->filters && j < r->filters->nelts; j++) {
            FZ_ASSERT(ca_provider_filter_allowed(r, APR_ARRAY_IDX(r->filters, j, const char *)),
                      "%s: filter not allowed", w);
        }
        if (r->parent != NULL) {
            touch(r->parent->resource_name);
            FZ_ASSERT(r->parent->resource && is_resource_of(def, r->parent->resource)
                      && r->parent->resource->item != NULL, "%s: parent not linked", w);
            check_jpath(r->parent->field, 0, w);
            touch(r->parent->param);
        }
        for (j = 0; r->nested && j < r->nested->nelts; j++) {
            const ca_provider_nested_t *ne = &APR_ARRAY_IDX(r->nested, j, ca_provider_nested_t);

            FZ_ASSERT(is_name(ne->name, 0) && ne->resource && is_resource_of(def, ne->resource)
                      && ne->list != NULL, "%s: nested entry %d", w, j);
            FZ_ASSERT(ca_provider_nested(r, ne->name) != NULL, "%s: nested lookup", w);
            walk_call(ne->list, 1, w);
        }
    }
}

/* ---- templates -------------------------------------------------------------------------- */

static void expand_ok(apr_pool_t *p, const char *tmpl, apr_table_t *vars, int path_too,
                      const char *what)
{
    const char *out = NULL, *err = NULL;
    apr_status_t rv;

    if (tmpl == NULL) {
        return;
    }
    rv = ca_provider_expand(p, tmpl, vars, CA_EXPAND_RAW, &out, &err);
    FZ_ASSERT(rv == APR_SUCCESS && out != NULL, "%s: template '%s' does not expand: %s", what,
              tmpl, err ? err : "?");
    if (path_too) {
        rv = ca_provider_expand(p, tmpl, vars, CA_EXPAND_PATH, &out, &err);
        FZ_ASSERT(rv == APR_SUCCESS && out != NULL,
                  "%s: path template '%s' does not expand: %s", what, tmpl, err ? err : "?");
    }
}

static void expand_kvs(apr_pool_t *p, const apr_array_header_t *a, apr_table_t *vars,
                       const char *what)
{
    int i;

    for (i = 0; a != NULL && i < a->nelts; i++) {
        expand_ok(p, APR_ARRAY_IDX(a, i, ca_provider_kv_t).value, vars, 0, what);
    }
}

static void expand_call(apr_pool_t *p, const ca_provider_call_t *c, apr_table_t *vars,
                        const char *what)
{
    if (c == NULL) {
        return;
    }
    expand_ok(p, c->path, vars, 1, what);
    expand_kvs(p, c->query, vars, what);
    expand_kvs(p, c->variables, vars, what);
}

static void expand_all(apr_pool_t *p, const ca_provider_t *def)
{
    apr_table_t *vars = apr_table_make(p, 16);
    int i, j;

    for (i = 0; request_vars[i]; i++) {
        apr_table_set(vars, request_vars[i], "v/1 \xc3\xbc");
    }
    for (i = 0; def->auth.connect_fields && i < def->auth.connect_fields->nelts; i++) {
        apr_table_set(vars, APR_ARRAY_IDX(def->auth.connect_fields, i,
                                          ca_provider_field_t).name, "f");
    }
    for (i = 0; def->api.config_params && i < def->api.config_params->nelts; i++) {
        apr_table_set(vars, APR_ARRAY_IDX(def->api.config_params, i, const char *), "c");
    }
    expand_kvs(p, def->api.headers, vars, "api.headers");
    expand_call(p, def->auth.identity.call, vars, "identity");
    expand_ok(p, def->auth.identity.id_template, vars, 0, "id_template");
    expand_ok(p, def->auth.identity.label_template, vars, 0, "label_template");
    for (i = 0; i < ca_provider_resource_count(def); i++) {
        const ca_provider_resource_t *r = ca_provider_resource_at(def, i);

        expand_call(p, r->list, vars, r->name);
        expand_call(p, r->item, vars, r->name);
        expand_call(p, r->create, vars, r->name);
        expand_call(p, r->update, vars, r->name);
        expand_call(p, r->replace, vars, r->name);
        expand_call(p, r->del, vars, r->name);
        expand_kvs(p, r->company_query, vars, r->name);
        expand_kvs(p, r->client_query, vars, r->name);
        for (j = 0; r->nested && j < r->nested->nelts; j++) {
            expand_call(p, APR_ARRAY_IDX(r->nested, j, ca_provider_nested_t).list, vars,
                        r->name);
        }
    }
}

/* ---- scope: a created record is visible ------------------------------------------------- */

/* body with value placed at the dotted path (objects all the way; "" is the value itself) */
static const char *wrap(apr_pool_t *p, const char *path, const char *value)
{
    const char *dot;

    if (path == NULL || *path == '\0') {
        return value;
    }
    dot = strchr(path, '.');
    if (dot == NULL) {
        return apr_pstrcat(p, "{", ca_json_quote(p, path), ":", value, "}", NULL);
    }
    return apr_pstrcat(p, "{", ca_json_quote(p, apr_pstrmemdup(p, path, dot - path)), ":",
                       wrap(p, dot + 1, value), "}", NULL);
}

static void created_is_visible(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                               const ca_provider_call_t *list, const char *what)
{
    ca_scope_write_t w;
    ca_scope_list_t l;
    ca_scope_item_t it;
    ca_scope_ctx_t tmp = *ctx;
    ca_json_doc_t *doc;
    const char *err = NULL, *body;
    apr_status_t rv;

    rv = ca_scope_write_body(p, ctx, CA_SCOPE_WRITE_CREATE, "{}", 2, &w, &err);
    if (rv != APR_SUCCESS) {
        FZ_ASSERT(rv == CA_SCOPE_EVIOLATION && err != NULL && w.field != NULL,
                  "%s: create from {} failed with %d: %s", what, rv, err ? err : "?");
        return;
    }
    if (tmp.parent_id == NULL) {
        tmp.parent_id = w.parent_id;
    }
    FZ_ASSERT(ca_json_scan(p, w.body, w.body_len, NULL, &doc, &err) == APR_SUCCESS,
              "%s: created body '%s' is not JSON", what, w.body);
    FZ_ASSERT(ca_scope_record_in(p, &tmp, doc, ca_json_raw_root(doc)),
              "%s: created record %s is out of scope (%s %s%s%s)", what, w.body,
              ctx->scope->company_id, ctx->scope->client_id ? ctx->scope->client_id : "-",
              tmp.parent_id ? " parent " : "", tmp.parent_id ? tmp.parent_id : "");

    if (list != NULL && list->records != NULL) {
        body = wrap(p, list->records, apr_pstrcat(p, "[", w.body, "]", NULL));
        rv = ca_scope_filter_list(p, &tmp, list, body, strlen(body), NULL, NULL, &l, &err);
        FZ_ASSERT(rv == APR_SUCCESS, "%s: list page %s refused: %s", what, body, err);
        FZ_ASSERT(l.kept == 1 && l.dropped == 0, "%s: created record dropped from %s", what,
                  body);
    }
    if (list == tmp.res->list && tmp.res->item != NULL) {
        body = wrap(p, tmp.res->item->record, w.body);
        rv = ca_scope_check_item(p, &tmp, NULL, body, strlen(body), &it, &err);
        FZ_ASSERT(rv == APR_SUCCESS, "%s: item %s refused: %s", what, body, err);
        FZ_ASSERT(it.in_scope, "%s: created record out of scope as an item: %s", what, body);
    }
}

static void scope_checks(apr_pool_t *p, const ca_provider_t *def)
{
    static const ca_scope_t scopes[] = {
        { CA_SCOPE_COMPANY, "co_1", NULL }, { CA_SCOPE_CLIENT, "co_1", "cl_1" },
        { CA_SCOPE_COMPANY, "42", NULL }, { CA_SCOPE_CLIENT, "42", "7" },
    };
    static const char *const parents[] = { "par_1", "99" };
    int i, j, s, n = ca_provider_resource_count(def);

    for (i = 0; i < n && i < MAX_RES; i++) {
        const ca_provider_resource_t *r = ca_provider_resource_at(def, i);

        for (s = 0; s < 4; s++) {
            ca_scope_ctx_t ctx;

            memset(&ctx, 0, sizeof(ctx));
            ctx.prov = def;
            ctx.res = r;
            ctx.scope = &scopes[s];
            created_is_visible(p, &ctx, r->list, r->name);
            ctx.parent_id = parents[s / 2];
            created_is_visible(p, &ctx, r->list, r->name);
            for (j = 0; r->nested && j < r->nested->nelts && j < MAX_NESTED; j++) {
                const ca_provider_nested_t *ne = &APR_ARRAY_IDX(r->nested, j,
                                                                ca_provider_nested_t);

                ctx.res = ne->resource;
                created_is_visible(p, &ctx, ne->list, ne->name);
            }
        }
    }
}

/* ---- entry ------------------------------------------------------------------------------ */

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
    const ca_provider_t *def = NULL, *cp = NULL;
    const char *err = NULL, *buf = size ? apr_pmemdup(p, data, size) : NULL;
    apr_status_t rv;

    rv = ca_provider_load_buffer(p, FNAME, buf, size, &def, &err);
    if (rv != APR_SUCCESS) {
        FZ_ASSERT(rv == APR_EINVAL, "load: status %d", rv);
        FZ_ASSERT(def == NULL, "load failed but returned a definition");
        FZ_ASSERT(err != NULL && strncmp(err, FNAME ": ", sizeof(FNAME ": ") - 1) == 0
                  && touch(err) > 0, "load: message '%s'", err ? err : "(null)");
        fz_input_end(p);
        return 0;
    }
    FZ_ASSERT(def != NULL, "load succeeded without a definition");
    walk(def);
    expand_all(p, def);

    rv = ca_provider_override_base(p, def, NULL, &cp, &err);
    FZ_ASSERT(rv == APR_SUCCESS && cp != NULL, "override without overrides refused: %s",
              err ? err : "?");
    FZ_ASSERT(strcmp(cp->api.base_url, def->api.base_url) == 0, "base URL changed");
    FZ_ASSERT((cp->auth.token_url == NULL) == (def->auth.token_url == NULL)
              && (!cp->auth.token_url || !strcmp(cp->auth.token_url, def->auth.token_url)),
              "token URL changed");
    {
        ca_provider_override_t ov = { "https://override.example/v2/", "/o/authorize",
                                      "https://token.example/t", NULL, 0 };

        rv = ca_provider_override_base(p, def, &ov, &cp, &err);
        if (rv == APR_SUCCESS) {
            FZ_ASSERT(strcmp(cp->api.base_url, "https://override.example/v2") == 0,
                      "override base URL is %s", cp->api.base_url);
            check_url(cp->auth.authorize_url, cp->api.local_sandbox, 0, "override authorize");
            check_url(cp->auth.token_url, cp->api.local_sandbox, 0, "override token");
            check_url(cp->auth.revoke_url, cp->api.local_sandbox, 0, "override revoke");
        }
        else {
            FZ_ASSERT(err != NULL && touch(err) > 0, "override refused without a message");
        }
    }
    scope_checks(p, def);

    fz_input_end(p);
    return 0;
}
