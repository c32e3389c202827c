/*
 * test_provider.c - unit tests of ca_provider: the shipped provider files,
 * the example files of later providers, one broken file per validation
 * rule, directories, base URL overrides, templates and lookups.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "ca_provider.h"
#include "ca_json.h"

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

static const char *provider_dir(void)
{
    const char *dir = getenv("CA_PROVIDER_DIR");

    return dir ? dir : "conf/providers";
}

static const ca_provider_t *load_ok(const char *path)
{
    const ca_provider_t *def = NULL;
    const char *err = NULL;

    if (ca_provider_load_file(pool, path, &def, &err) != APR_SUCCESS) {
        fail_msg("%s", err ? err : "load failed");
    }
    assert_non_null(def);
    return def;
}

static const char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = apr_pstrcat(pool, base ? base : "/tmp",
                             "/ca_provider_XXXXXX", NULL);

    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

static void write_file(const char *path, const char *text, apr_size_t len)
{
    apr_file_t *f;

    assert_int_equal(apr_file_open(&f, path, APR_FOPEN_WRITE
                                   | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                                   APR_OS_DEFAULT, pool), APR_SUCCESS);
    assert_int_equal(apr_file_write_full(f, text, len, NULL), APR_SUCCESS);
    apr_file_close(f);
}

/* Remove a flat temporary directory. */
static void rm_tree(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, pool) != APR_SUCCESS) {
        return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d)
           == APR_SUCCESS) {
        if (fi.filetype == APR_REG) {
            apr_file_remove(apr_pstrcat(pool, dir, "/", fi.name, NULL), pool);
        }
    }
    apr_dir_close(d);
    assert_int_equal(apr_dir_remove(dir, pool), APR_SUCCESS);
}

static const char *kv(const apr_array_header_t *arr, const char *name)
{
    int i;

    for (i = 0; arr != NULL && i < arr->nelts; i++) {
        const ca_provider_kv_t *e = &APR_ARRAY_IDX(arr, i, ca_provider_kv_t);

        if (strcmp(e->name, name) == 0) {
            return e->value;
        }
    }
    return NULL;
}

static const ca_provider_rule_t *rule(const apr_array_header_t *rules, int i)
{
    assert_true(i < rules->nelts);
    return &APR_ARRAY_IDX(rules, i, ca_provider_rule_t);
}

static const char *str_at(const apr_array_header_t *arr, int i)
{
    assert_true(i < arr->nelts);
    return APR_ARRAY_IDX(arr, i, const char *);
}

/* ------------------------------------------------------------------ */

static void test_sandbox_file(void **state)
{
    const ca_provider_t *d = load_ok(apr_pstrcat(pool, provider_dir(),
                                                 "/sandbox.json", NULL));
    const ca_provider_resource_t *r;
    const ca_provider_nested_t *ne;
    static const char *const order[] = {
        "company", "clients", "jobs", "invoices", "line_items", "attachments"
    };
    int i;

    (void)state;
    assert_string_equal(d->name, "sandbox");
    assert_string_equal(d->display_name, "Provider Sandbox");
    assert_false(d->numeric_ids);
    assert_int_equal(d->auth.mode, CA_AUTH_OAUTH2_CODE_PKCE);
    assert_string_equal(d->auth.authorize_url,
                        "http://127.0.0.1:8089/oauth/authorize");
    assert_string_equal(d->auth.token_url, "http://127.0.0.1:8089/oauth/token");
    assert_string_equal(d->auth.revoke_url,
                        "http://127.0.0.1:8089/oauth/revoke");
    assert_string_equal(d->auth.authorize_ref, "/oauth/authorize");
    assert_int_equal(d->auth.expiry_source, CA_EXPIRY_EXPIRES_IN);
    assert_int_equal(d->auth.token_auth, CA_TOKEN_AUTH_BASIC);
    assert_true(d->auth.refresh_rotates);
    assert_string_equal(str_at(d->auth.scopes, 0), "read");
    assert_string_equal(d->auth.header, "Authorization");
    assert_string_equal(d->auth.scheme, "Bearer");
    assert_string_equal(d->auth.identity.call->path, "/me");
    assert_string_equal(d->auth.identity.call->method, "GET");
    assert_string_equal(d->auth.identity.id, "data.account_id");
    assert_string_equal(str_at(d->auth.identity.label, 0), "data.name");
    assert_string_equal(d->api.base_url, "http://127.0.0.1:8089/api/v1");
    assert_true(d->api.local_sandbox);
    assert_int_equal(d->api.style, CA_API_REST);
    assert_string_equal(d->api.idempotency_header, "Idempotency-Key");
    assert_int_equal(d->paging.style, CA_PAGE_CURSOR_BODY);
    assert_string_equal(d->paging.cursor_param, "cursor");
    assert_string_equal(d->paging.limit_param, "limit");
    assert_int_equal(d->paging.max_limit, 100);
    assert_string_equal(d->paging.next_cursor_path, "next_cursor");
    assert_int_equal(d->rate_limit.statuses->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(d->rate_limit.statuses, 0, int), 429);
    assert_string_equal(d->rate_limit.retry_after_header, "Retry-After");
    assert_int_equal(d->company_list.source, CA_PICK_RESOURCE);
    assert_string_equal(d->company_list.resource->name, "company");
    assert_string_equal(str_at(d->company_list.label, 0), "name");
    assert_string_equal(d->client_list.resource->name, "clients");

    assert_int_equal(ca_provider_resource_count(d), 6);
    for (i = 0; i < 6; i++) {
        assert_string_equal(ca_provider_resource_at(d, i)->name, order[i]);
    }
    assert_null(ca_provider_resource_at(d, 6));
    assert_null(ca_provider_resource_at(d, -1));

    r = ca_provider_resource(d, "company");
    assert_int_equal(rule(r->company_rules, 0)->kind, CA_RULE_SELF);
    assert_null(rule(r->company_rules, 0)->path);
    assert_int_equal(r->client_rules->nelts, 0);
    assert_string_equal(r->item->path, "/companies/{id}");

    r = ca_provider_resource(d, "jobs");
    assert_string_equal(r->id_field, "id");
    assert_string_equal(r->list->path, "/jobs");
    assert_string_equal(r->list->method, "GET");
    assert_string_equal(r->list->records, "data");
    assert_string_equal(r->list->next_cursor_path, "next_cursor");
    assert_null(r->list->has_more_path);
    assert_string_equal(r->item->record, "data");
    assert_string_equal(r->create->method, "POST");
    assert_string_equal(r->create->id_path, "data.id");
    assert_string_equal(r->update->method, "PATCH");
    assert_string_equal(r->replace->method, "PUT");
    assert_string_equal(r->del->method, "DELETE");
    assert_true(r->writable);
    assert_int_equal(rule(r->company_rules, 0)->kind, CA_RULE_FIELD);
    assert_string_equal(rule(r->company_rules, 0)->path, "company_id");
    assert_string_equal(rule(r->client_rules, 0)->path, "client_id");
    assert_string_equal(kv(r->company_query, "company_id"), "{company_id}");
    assert_string_equal(kv(r->client_query, "client_id"), "{client_id}");
    assert_true(ca_provider_filter_allowed(r, "status"));
    assert_true(ca_provider_filter_allowed(r, "client_id"));
    assert_false(ca_provider_filter_allowed(r, "company_id"));
    assert_false(ca_provider_filter_allowed(r, "Status"));
    ne = ca_provider_nested(r, "attachments");
    assert_non_null(ne);
    assert_string_equal(ne->resource->name, "attachments");
    assert_string_equal(ne->list->path, "/jobs/{parent_id}/attachments");
    assert_string_equal(ne->list->records, "data");
    assert_null(ca_provider_nested(r, "line_items"));

    r = ca_provider_resource(d, "line_items");
    assert_int_equal(rule(r->company_rules, 0)->kind, CA_RULE_PARENT);
    assert_int_equal(rule(r->client_rules, 0)->kind, CA_RULE_PARENT);
    assert_string_equal(r->parent->resource->name, "invoices");
    assert_string_equal(r->parent->field, "invoice_id");
    assert_string_equal(r->parent->param, "invoice_id");
    ne = ca_provider_nested(ca_provider_resource(d, "invoices"),
                            "line_items");
    assert_string_equal(ne->list->path, "/invoices/{parent_id}/line_items");

    r = ca_provider_resource(d, "attachments");
    assert_false(r->writable);
    assert_null(r->create);
    assert_string_equal(r->parent->resource->name, "jobs");

    assert_string_equal(ca_provider_api_url(pool, d, "/jobs/7"),
                        "http://127.0.0.1:8089/api/v1/jobs/7");
}

static void test_clientcommander_file(void **state)
{
    const ca_provider_t *d = load_ok(apr_pstrcat(pool, provider_dir(),
                                                 "/clientcommander.json",
                                                 NULL));
    const ca_provider_resource_t *r;

    (void)state;
    assert_string_equal(d->name, "clientcommander");
    assert_string_equal(d->display_name, "Client Commander");
    assert_int_equal(d->auth.mode, CA_AUTH_API_KEY);
    assert_int_equal(d->auth.expiry_source, CA_EXPIRY_NONE);
    assert_string_equal(d->auth.api_key_prefix, "ccmd_");
    assert_null(d->auth.authorize_url);
    assert_null(d->auth.token_url);
    assert_string_equal(d->auth.identity.call->path, "/me");
    /* the company is the account, not the key's user */
    assert_string_equal(d->auth.identity.id, "data.accountId");
    assert_int_equal(d->auth.identity.label->nelts, 1);
    assert_string_equal(str_at(d->auth.identity.label, 0), "data.accountName");
    assert_string_equal(d->api.base_url, "https://api.clientcommander.com/v1");
    assert_false(d->api.local_sandbox);
    assert_string_equal(d->api.idempotency_header, "Idempotency-Key");
    assert_int_equal(d->paging.style, CA_PAGE_CURSOR_BODY);
    assert_string_equal(d->paging.next_cursor_path, "meta.nextCursor");
    assert_string_equal(d->paging.has_more_path, "meta.hasMore");
    assert_int_equal(d->paging.max_limit, 100);
    assert_int_equal(d->company_list.source, CA_PICK_IDENTITY);
    assert_int_equal(d->client_list.source, CA_PICK_RESOURCE);
    assert_string_equal(d->client_list.resource->name, "people");
    assert_string_equal(str_at(d->client_list.label, 0), "firstName");
    assert_string_equal(str_at(d->client_list.label, 1), "lastName");
    assert_int_equal(ca_provider_resource_count(d), 2);

    r = ca_provider_resource(d, "people");
    assert_string_equal(r->list->path, "/people");
    assert_string_equal(r->list->has_more_path, "meta.hasMore");
    assert_int_equal(rule(r->company_rules, 0)->kind, CA_RULE_CONNECTION);
    assert_int_equal(rule(r->client_rules, 0)->kind, CA_RULE_SELF);
    assert_string_equal(r->update->method, "PATCH");
    assert_null(r->replace);
    assert_string_equal(r->del->path, "/people/{id}");

    r = ca_provider_resource(d, "deals");
    assert_int_equal(rule(r->client_rules, 0)->kind, CA_RULE_CONTAINS);
    assert_string_equal(rule(r->client_rules, 0)->path, "peopleIds");
    assert_false(rule(r->client_rules, 0)->numeric);
    assert_null(ca_provider_resource(d, "jobs"));
}

static void test_example_providers(void **state)
{
    const ca_provider_t *d;
    const ca_provider_resource_t *r;

    (void)state;
    /* servicem8, servicetitan and jobber are shipped (conf/providers) since
     * issue 5; jobber has its own test (test_jobber_file) */
    d = load_ok(apr_pstrcat(pool, provider_dir(), "/servicem8.json", NULL));
    assert_int_equal(d->paging.style, CA_PAGE_CURSOR_HEADER);
    assert_string_equal(d->paging.cursor_header, "x-next-cursor");
    assert_string_equal(d->paging.first_cursor, "-1");
    assert_string_equal(d->rate_limit.retry_after_header, "");
    assert_int_equal(d->rate_limit.requests_per_minute, 170);
    assert_int_equal(d->rate_limit.requests_per_day, 20000);
    r = ca_provider_resource(d, "jobs");
    assert_string_equal(r->id_field, "uuid");
    assert_string_equal(r->create->id_header, "x-record-uuid");
    assert_string_equal(r->update->method, "POST");
    assert_true(r->del->soft);
    assert_string_equal(kv(r->company_query, "$filter"),
                        "company_uuid eq '{company_id}'");
    assert_string_equal(r->list->records, "");
    r = ca_provider_resource(d, "company");
    assert_int_equal(r->company_rules->nelts, 2);
    assert_int_equal(rule(r->company_rules, 1)->kind, CA_RULE_FIELD);
    assert_string_equal(rule(r->company_rules, 1)->path,
                        "parent_company_uuid");
    assert_int_equal(d->client_list.source, CA_PICK_NONE);

    d = load_ok(apr_pstrcat(pool, provider_dir(), "/servicetitan.json", NULL));
    assert_int_equal(d->auth.mode, CA_AUTH_CLIENT_CREDENTIALS);
    assert_true(d->auth.credentials_at_connect);
    assert_true(d->numeric_ids);
    assert_string_equal(APR_ARRAY_IDX(d->auth.connect_fields, 0,
                                      ca_provider_field_t).name, "tenant");
    assert_string_equal(d->auth.identity.id_template, "{tenant}");
    assert_null(d->auth.identity.call);
    assert_string_equal(kv(d->api.headers, "ST-App-Key"), "{app_key}");
    assert_string_equal(str_at(d->api.config_params, 0), "app_key");
    assert_int_equal(d->paging.style, CA_PAGE_PAGE_NUMBER);
    assert_string_equal(d->paging.page_param, "page");
    assert_string_equal(d->paging.limit_param, "pageSize");
    r = ca_provider_resource(d, "jobs");
    assert_true(rule(r->client_rules, 0)->numeric);
    assert_string_equal(r->list->has_more_path, "hasMore");
    assert_string_equal(r->list->path, "/jpm/v2/tenant/{tenant}/jobs");
}

typedef struct {
    const char *file;
    const char *expect;        /* "FIELD: reason" part of the message */
} broken_t;

static const broken_t broken[] = {
    { "unknown_top_key", "resorces: unknown key (expected one of format, "
                         "name, display_name" },
    { "missing_name", "name: required" },
    { "bad_name", "name: 'Mini-Provider' is not a name ([a-z0-9_]+)" },
    { "wrong_type", "display_name: expected a string, got number" },
    { "format_version", "format: unsupported version 2" },
    { "format_missing", "format: required" },
    { "numeric_ids_type", "numeric_ids: expected true or false, got string" },
    { "auth_missing", "auth: required" },
    { "auth_mode_unknown", "auth: unknown mode 'oauth3' (expected one of "
                           "oauth2_code, oauth2_code_pkce, client_credentials,"
                           " api_key)" },
    { "oauth_no_token_url", "auth.token_url: required for mode oauth2_code" },
    { "pkce_no_authorize_url", "auth.authorize_url: required for mode "
                               "oauth2_code_pkce" },
    { "api_key_with_token_url", "auth.token_url: not used with mode "
                                "api_key" },
    { "api_key_prefix_on_oauth", "auth.api_key_prefix: only for mode "
                                 "api_key" },
    { "http_auth_url", "auth.authorize_url: 'http://auth.example.com/"
                       "authorize' must use https" },
    { "identity_missing", "auth.identity: required" },
    { "connect_field_reserved", "auth.connect_fields.0.name: 'client_id' is "
                                "already a placeholder name" },
    { "http_base", "api.base_url: 'http://api.example.com' must use https "
                   "(plain http only when api.local_sandbox is true)" },
    { "not_https_url", "api.base_url: 'ftp://api.example.com' is not an "
                       "https URL" },
    { "base_with_query", "api.base_url: base URL must not contain a query" },
    { "base_no_host", "api.base_url: URL has no host" },
    { "reserved_header", "api.headers.User-Agent: set by the module" },
    { "pagination_style", "pagination: unknown style 'cursor' (expected one "
                          "of none, cursor_body, cursor_header, page_number, "
                          "relay)" },
    { "cursor_body_no_path", "pagination.next_cursor_path: required for "
                             "style cursor_body" },
    { "cursor_header_missing", "pagination.cursor_header: required for style "
                               "cursor_header" },
    { "max_limit_range", "pagination.max_limit: 5000 out of range 1..1000" },
    { "relay_no_cursor_path", "resources.jobs.list.next_cursor_path: "
                              "required for pagination style relay" },
    { "rate_limit_status", "rate_limit.statuses.0: expected an HTTP status "
                           "400..599" },
    { "body_code_half", "rate_limit.body_code_value: body_code_path and "
                        "body_code_value go together" },
    { "company_list_missing", "company_list: required" },
    { "company_list_unknown_resource", "company_list.resource: unknown "
                                       "resource 'nope'" },
    { "resources_missing", "resources: required" },
    { "resource_name", "resources.Jobs: resource names are [a-z_]+ only" },
    { "unknown_resource_key", "resources.jobs.scopee: unknown key (expected "
                              "one of description, id_field, list" },
    { "no_list_no_item", "resources.jobs: needs list or item" },
    { "list_no_records", "resources.jobs.list.records: required" },
    { "path_no_slash", "resources.jobs.list.path: must start with '/'" },
    { "unknown_placeholder", "resources.jobs.item.path: unknown placeholder "
                             "{jobid}" },
    { "unbalanced_brace", "resources.jobs.item.path: unbalanced '{' in "
                          "template" },
    { "item_without_id", "resources.jobs.item.path: must contain {id}" },
    { "id_in_list_path", "resources.jobs.list.path: {id} is not available "
                         "here" },
    { "parent_id_outside_nested", "resources.jobs.item.path: {parent_id} is "
                                  "only available in nested calls" },
    { "identity_request_placeholder", "auth.identity: {company_id} is not "
                                      "available here (only connection "
                                      "placeholders)" },
    { "method_unknown", "resources.jobs.create: unknown method 'FETCH'" },
    { "graphql_on_rest", "resources.jobs.list.graphql: only allowed when "
                         "api.style is graphql" },
    { "variables_on_rest", "resources.jobs.list.variables: only allowed when "
                           "api.style is graphql" },
    { "graphql_missing_query", "resources.jobs.list.graphql: required when "
                               "api.style is graphql" },
    { "writable_no_ops", "resources.jobs.writable: true but no create, "
                         "update, replace or delete call" },
    { "scope_missing", "resources.jobs.scope: required" },
    { "scope_company_missing", "resources.jobs.scope.company: required" },
    { "scope_kind_unknown", "resources.jobs.scope.company: unknown kind "
                            "'fieldd' (expected one of field, contains, "
                            "self, connection, parent)" },
    { "field_without_path", "resources.jobs.scope.company.path: required" },
    { "bad_json_path", "resources.jobs.scope.company.path: malformed JSON "
                       "path 'a..b'" },
    { "client_connection", "resources.jobs.scope.client: kind 'connection' "
                           "cannot establish a client" },
    { "parent_without_parent", "resources.jobs.scope: kind 'parent' needs "
                               "resources.jobs.parent" },
    { "parent_unknown_resource", "resources.jobs.parent.resource: unknown "
                                 "resource 'invoices'" },
    { "parent_loop", "resources.visits.parent: parent chain loops" },
    { "nested_unknown", "resources.jobs.nested.files.resource: unknown "
                        "resource 'files'" },
    { "nested_no_path", "resources.jobs.nested.notes: needs path (or "
                        "graphql)" },
    { "filter_bad_name", "resources.jobs.filters.0: malformed parameter "
                         "name" },
    { "scope_query_client_in_company", "resources.jobs.scope_query.company: "
                                       "{client_id} is not known for "
                                       "company-scoped endpoints" },
    { "duplicate_key", "name: duplicated key" },
    { "invalid_json", "invalid JSON at offset 34 (line 3, column 18): "
                      "expected a string key" },
    { "not_object", "expected an object, got array" },
    { "nul_string", "strings must not contain \\u0000" },
    /* ---- GraphQL transport options (Jobber) ---- */
    { "endpoint_scopes_unknown", "endpoint_scopes.1: unknown scope 'site' "
                                 "(expected one of company, client)" },
    { "endpoint_scopes_client_no_list", "endpoint_scopes.0: client needs "
                                        "client_list" },
    { "endpoint_scopes_empty", "endpoint_scopes: must not be empty" },
    { "endpoint_scopes_twice", "endpoint_scopes.1: 'company' given twice" },
    { "endpoint_scopes_type", "endpoint_scopes: expected an array of "
                              "strings, got string" },
    { "throttle_cost_unknown_key", "rate_limit.throttle_cost.restore: "
                                   "unknown key (expected one of requested, "
                                   "available, restore_rate)" },
    { "throttle_cost_missing", "rate_limit.throttle_cost.restore_rate: "
                               "required" },
    { "throttle_cost_bad_path", "rate_limit.throttle_cost.requested: "
                                "malformed JSON path 'a..b'" },
    { "graphql_filter_is_variable", "resources.jobs.filters.1: 'owner' is a "
                                    "variable of the list call" },
};

/* ---- the shipped Jobber file and the GraphQL transport ---- */

static void test_jobber_file(void **state)
{
    const ca_provider_t *d = load_ok(apr_pstrcat(pool, provider_dir(),
                                                 "/jobber.json", NULL));
    const ca_provider_t *sb = load_ok(apr_pstrcat(pool, provider_dir(),
                                                  "/sandbox.json", NULL));
    const ca_provider_t *cc = load_ok(apr_pstrcat(pool, provider_dir(),
                                                  "/clientcommander.json",
                                                  NULL));
    const ca_provider_resource_t *r;
    const ca_provider_nested_t *n;
    const ca_provider_call_t *c;

    (void)state;
    /* OAuth without PKCE, JWT expiry, rotating refresh tokens */
    assert_int_equal(d->auth.mode, CA_AUTH_OAUTH2_CODE);
    assert_int_equal(d->auth.expiry_source, CA_EXPIRY_JWT_EXP);
    assert_true(d->auth.refresh_rotates);
    assert_int_equal(d->auth.token_auth, CA_TOKEN_AUTH_BODY);
    assert_string_equal(d->auth.token_url,
                        "https://api.getjobber.com/api/oauth/token");
    assert_string_equal(d->auth.authorize_ref, "/api/oauth/authorize");
    /* GraphQL, version header, Relay */
    assert_int_equal(d->api.style, CA_API_GRAPHQL);
    assert_string_equal(kv(d->api.headers, "X-JOBBER-GRAPHQL-VERSION"),
                        "2025-01-20");
    assert_int_equal(d->paging.style, CA_PAGE_RELAY);
    assert_string_equal(d->auth.identity.call->path, "/graphql");
    assert_string_equal(d->auth.identity.id, "data.account.id");
    /* THROTTLED and its cost */
    assert_string_equal(d->rate_limit.body_code_value, "THROTTLED");
    assert_string_equal(d->rate_limit.cost_requested_path,
                        "extensions.cost.requestedQueryCost");
    assert_string_equal(d->rate_limit.cost_restore_path,
                        "extensions.cost.throttleStatus.restoreRate");
    /* client-scoped endpoints only; the others keep both by default */
    assert_int_equal(d->endpoint_scopes, CA_PROVIDER_SCOPE_CLIENT);
    assert_int_equal(sb->endpoint_scopes,
                     CA_PROVIDER_SCOPE_COMPANY | CA_PROVIDER_SCOPE_CLIENT);
    assert_int_equal(cc->endpoint_scopes,
                     CA_PROVIDER_SCOPE_COMPANY | CA_PROVIDER_SCOPE_CLIENT);
    /* resources */
    r = ca_provider_resource(d, "jobs");
    c = r->list;
    assert_string_equal(c->method, "POST");
    assert_string_equal(c->records, "data.client.jobs.nodes");
    assert_string_equal(c->has_more_path,
                        "data.client.jobs.pageInfo.hasNextPage");
    assert_string_equal(kv(c->variables, "client_id"), "{client_id}");
    assert_string_equal(rule(r->client_rules, 0)->path, "client.id");
    assert_int_equal(rule(r->company_rules, 0)->kind, CA_RULE_CONNECTION);
    assert_false(r->writable);
    n = ca_provider_nested(ca_provider_resource(d, "invoices"), "line_items");
    assert_non_null(n);
    assert_string_equal(kv(n->list->query, "invoice_id"), "{parent_id}");
    assert_string_equal(n->list->records, "data.invoice.lineItems.nodes");
    r = ca_provider_resource(d, "attachments");
    assert_string_equal(r->parent->resource->name, "jobs");
    assert_int_equal(rule(r->client_rules, 0)->kind, CA_RULE_PARENT);
    assert_null(ca_provider_resource(d, "company"));
}

static void test_graphql_body(void **state)
{
    const ca_provider_t *d = load_ok(apr_pstrcat(pool, provider_dir(),
                                                 "/jobber.json", NULL));
    const ca_provider_call_t *c = ca_provider_resource(d, "jobs")->list;
    apr_table_t *vars = apr_table_make(pool, 4);
    apr_array_header_t *extra = apr_array_make(pool, 2,
                                               sizeof(ca_provider_kv_t));
    const char *hostile = "x\") { account { id } } #", *body = NULL;
    const char *err = NULL;
    ca_provider_kv_t *e;
    ca_json_t *doc;
    apr_size_t len = 0;
    double num;

    (void)state;
    /* first page: {cursor} is null, {limit} a number, the rest strings */
    apr_table_setn(vars, "client_id", hostile);
    apr_table_setn(vars, "limit", "7");
    assert_int_equal(ca_provider_graphql_body(pool, c, vars, NULL, &body,
                                              &len, &err), APR_SUCCESS);
    assert_int_equal(len, strlen(body));
    doc = ca_json_parse_str(pool, body, &err);
    assert_non_null(doc);
    /* the query text is the file's, byte for byte: values never enter it */
    assert_string_equal(ca_json_get_string(doc, "query"), c->graphql);
    assert_null(strstr(ca_json_get_string(doc, "query"), "account"));
    assert_string_equal(ca_json_get_string(doc, "variables.client_id"),
                        hostile);
    assert_int_equal(ca_json_number(ca_json_get(doc, "variables.first"),
                                    &num), APR_SUCCESS);
    assert_true(num == 7);
    assert_int_equal(ca_json_type(ca_json_get(doc, "variables.after")),
                     CA_JSON_NULL);
    /* next pages: the cursor is a string; extra values (scope, filters)
     * replace variables of the same name; a bad limit is null */
    apr_table_setn(vars, "cursor", "Y3Vyc29y");
    apr_table_setn(vars, "limit", "many");
    e = apr_array_push(extra);
    e->name = "client_id";
    e->value = "Q2xpZW50";
    e = apr_array_push(extra);
    e->name = "status";
    e->value = "active";
    assert_int_equal(ca_provider_graphql_body(pool, c, vars, extra, &body,
                                              NULL, &err), APR_SUCCESS);
    doc = ca_json_parse_str(pool, body, &err);
    assert_string_equal(ca_json_get_string(doc, "variables.after"),
                        "Y3Vyc29y");
    assert_string_equal(ca_json_get_string(doc, "variables.client_id"),
                        "Q2xpZW50");
    assert_int_equal(ca_json_key_count(ca_json_get(doc, "variables"),
                                       "client_id"), 1);
    assert_string_equal(ca_json_get_string(doc, "variables.status"),
                        "active");
    assert_int_equal(ca_json_type(ca_json_get(doc, "variables.first")),
                     CA_JSON_NULL);
    /* a template whose placeholder has no value is null */
    apr_table_unset(vars, "client_id");
    assert_int_equal(ca_provider_graphql_body(pool, c, vars, NULL, &body,
                                              NULL, &err), APR_SUCCESS);
    doc = ca_json_parse_str(pool, body, &err);
    assert_int_equal(ca_json_type(ca_json_get(doc, "variables.client_id")),
                     CA_JSON_NULL);
    /* REST calls have no GraphQL document */
    assert_int_equal(ca_provider_graphql_body(pool,
        ca_provider_resource(load_ok(apr_pstrcat(pool, provider_dir(),
                                                 "/sandbox.json", NULL)),
                             "jobs")->list, vars, NULL, &body, NULL, &err),
        APR_EINVAL);
}

/* A THROTTLED answer of Jobber's shape with these cost numbers (JSON texts). */
static const char *throttled(const char *req, const char *avail,
                             const char *rate)
{
    return apr_pstrcat(pool, "{\"errors\":[{\"message\":\"Throttled\","
                       "\"extensions\":{\"code\":\"THROTTLED\"}}],"
                       "\"extensions\":{\"cost\":{\"requestedQueryCost\":",
                       req, ",\"actualQueryCost\":null,\"throttleStatus\":"
                       "{\"maximumAvailable\":10000,\"currentlyAvailable\":",
                       avail, ",\"restoreRate\":", rate, "}}}}", NULL);
}

static void test_graphql_errors_and_throttle(void **state)
{
    const ca_provider_t *d = load_ok(apr_pstrcat(pool, provider_dir(),
                                                 "/jobber.json", NULL));
    const ca_provider_t *sb = load_ok(apr_pstrcat(pool, provider_dir(),
                                                  "/sandbox.json", NULL));
    const char *code = "x";
    const char *b;

    (void)state;
#define GQL(s) ca_provider_graphql_errors(pool, (s), strlen(s), &code)
    assert_int_equal(GQL("{\"data\":{\"a\":1}}"), 0);
    assert_null(code);
    assert_int_equal(GQL("{\"data\":{},\"errors\":null}"), 0);
    assert_int_equal(GQL("{\"data\":null,\"errors\":[{\"message\":\"m\"},"
                         "{\"message\":\"n\"}]}"), 2);
    assert_null(code);
    assert_int_equal(GQL("{\"errors\":[{\"message\":\"m\",\"extensions\":"
                         "{\"code\":\"NOT_FOUND\"}}]}"), 1);
    assert_string_equal(code, "NOT_FOUND");
    /* a code that is not a short word is not reported (it may be text) */
    assert_int_equal(GQL("{\"errors\":[{\"extensions\":"
                         "{\"code\":\"a b\"}}]}"), 1);
    assert_null(code);
    assert_int_equal(GQL("{\"errors\":\"boom\"}"), 1);
    assert_int_equal(GQL("[1]"), -1);
    assert_int_equal(GQL("{\"errors\":[1"), -1);
#undef GQL
    /* wait = ceil((requested - available) / restoreRate), 1..3600 */
    b = throttled("1502", "2", "500");
    assert_int_equal(ca_provider_throttle_wait(pool, d, b, strlen(b)), 3);
    b = throttled("1500", "500", "500");
    assert_int_equal(ca_provider_throttle_wait(pool, d, b, strlen(b)), 2);
    b = throttled("40", "39", "500");
    assert_int_equal(ca_provider_throttle_wait(pool, d, b, strlen(b)), 1);
    b = throttled("10", "600", "500");
    assert_int_equal(ca_provider_throttle_wait(pool, d, b, strlen(b)), 1);
    b = throttled("9999999", "0", "1");
    assert_int_equal(ca_provider_throttle_wait(pool, d, b, strlen(b)), 3600);
    /* numbers missing or unusable, or no throttle_cost in the file: 0 */
    b = throttled("100", "0", "0");
    assert_int_equal(ca_provider_throttle_wait(pool, d, b, strlen(b)), 0);
    b = throttled("\"100\"", "0", "5");
    assert_int_equal(ca_provider_throttle_wait(pool, d, b, strlen(b)), 0);
    b = throttled("100", "0", "5");
    assert_int_equal(ca_provider_throttle_wait(pool, sb, b, strlen(b)), 0);
    assert_int_equal(ca_provider_throttle_wait(pool, d, "{", 1), 0);
}

static void test_broken_files(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        const char *path = data_path(apr_pstrcat(pool, "providers_bad/",
                                                 broken[i].file, ".json",
                                                 NULL));
        const char *want = apr_pstrcat(pool, path, ": ", broken[i].expect,
                                       NULL);
        const ca_provider_t *def = (const ca_provider_t *)1;
        const char *err = NULL;
        apr_status_t rv = ca_provider_load_file(pool, path, &def, &err);

        if (rv == APR_SUCCESS) {
            fail_msg("%s loaded", path);
        }
        assert_null(def);
        if (err == NULL || strncmp(err, want, strlen(want)) != 0) {
            fail_msg("%s:\n got '%s'\nwant '%s...'", broken[i].file,
                     err ? err : "(null)", want);
        }
    }
    /* every fixture file of the directory is in the table */
    {
        apr_dir_t *d;
        apr_finfo_t fi;
        int files = 0;

        assert_int_equal(apr_dir_open(&d, data_path("providers_bad"), pool),
                         APR_SUCCESS);
        while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
            apr_size_t n = strlen(fi.name);

            if (n > 5 && strcmp(fi.name + n - 5, ".json") == 0) {
                files++;
            }
        }
        apr_dir_close(d);
        assert_int_equal(files, (int)(sizeof(broken) / sizeof(broken[0])));
    }
}

static const char *const mini =
    "{\"format\":1,\"name\":\"%s\",\"_note\":{\"anything\":[1]},"
    "\"auth\":{\"mode\":\"api_key\",\"identity\":{\"path\":\"/me\","
    "\"id\":\"data.id\",\"_c\":1}},"
    "\"api\":{\"base_url\":\"https://api.example.com/v1/\"},"
    "\"pagination\":{\"style\":\"none\"},"
    "\"company_list\":{\"source\":\"identity\"},"
    "\"resources\":{\"_disabled\":{\"x\":1},\"jobs\":{"
    "\"list\":{\"path\":\"/jobs\",\"records\":\"\"},"
    "\"scope\":{\"company\":{\"kind\":\"connection\"}}}}}";

static void test_load_dir_and_files(void **state)
{
    const char *dir = make_tmpdir(), *err = NULL;
    ca_provider_set_t *set = NULL;
    const ca_provider_t *def;
    char *big;

    (void)state;
    /* the shipped directory */
    if (ca_provider_load_dir(pool, provider_dir(), &set, &err)
        != APR_SUCCESS) {
        fail_msg("%s", err);
    }
    assert_int_equal(set->list->nelts, 5);
    assert_string_equal(APR_ARRAY_IDX(set->list, 0, ca_provider_t *)->name,
                        "clientcommander");
    assert_string_equal(APR_ARRAY_IDX(set->list, 1, ca_provider_t *)->name,
                        "jobber");
    assert_string_equal(APR_ARRAY_IDX(set->list, 2, ca_provider_t *)->name,
                        "sandbox");
    assert_string_equal(APR_ARRAY_IDX(set->list, 3, ca_provider_t *)->name,
                        "servicem8");
    assert_string_equal(APR_ARRAY_IDX(set->list, 4, ca_provider_t *)->name,
                        "servicetitan");
    assert_non_null(ca_provider_set_get(set, "sandbox"));
    assert_null(ca_provider_set_get(set, "Sandbox"));
    assert_null(ca_provider_set_get(set, NULL));

    /* comments ("_" keys), trailing '/' of the base */
    write_file(apr_pstrcat(pool, dir, "/a.json", NULL),
               apr_psprintf(pool, mini, "one"), strlen(mini) + 1);
    write_file(apr_pstrcat(pool, dir, "/notes.txt", NULL), "x", 1);
    def = load_ok(apr_pstrcat(pool, dir, "/a.json", NULL));
    assert_string_equal(def->api.base_url, "https://api.example.com/v1");
    assert_string_equal(def->display_name, "one");
    assert_int_equal(ca_provider_resource_count(def), 1);
    assert_int_equal(def->paging.style, CA_PAGE_NONE);
    assert_int_equal(APR_ARRAY_IDX(def->rate_limit.statuses, 0, int), 429);
    assert_int_equal(ca_provider_load_dir(pool, dir, &set, &err),
                     APR_SUCCESS);
    assert_int_equal(set->list->nelts, 1);

    /* two files, one name */
    write_file(apr_pstrcat(pool, dir, "/b.json", NULL),
               apr_psprintf(pool, mini, "one"), strlen(mini) + 1);
    assert_int_equal(ca_provider_load_dir(pool, dir, &set, &err),
                     APR_EINVAL);
    assert_null(set);
    assert_non_null(strstr(err, "/b.json: name: 'one' already defined by "));
    assert_non_null(strstr(err, "/a.json"));

    /* a broken file stops the directory, naming the file */
    write_file(apr_pstrcat(pool, dir, "/b.json", NULL), "{", 1);
    assert_int_equal(ca_provider_load_dir(pool, dir, &set, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "/b.json: invalid JSON at offset 1"));
    apr_file_remove(apr_pstrcat(pool, dir, "/b.json", NULL), pool);

    /* missing things */
    assert_int_not_equal(ca_provider_load_dir(pool, apr_pstrcat(pool, dir,
                                              "/nope", NULL), &set, &err),
                         APR_SUCCESS);
    assert_non_null(strstr(err, "cannot open directory"));
    assert_int_not_equal(ca_provider_load_file(pool, apr_pstrcat(pool, dir,
                                               "/nope.json", NULL), &def,
                                               &err), APR_SUCCESS);
    assert_non_null(strstr(err, "/nope.json: cannot open"));
    assert_int_equal(ca_provider_load_file(pool, dir, &def, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "not a regular file"));
    write_file(apr_pstrcat(pool, dir, "/empty.json", NULL), "", 0);
    assert_int_equal(ca_provider_load_file(pool, apr_pstrcat(pool, dir,
                                           "/empty.json", NULL), &def, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "unexpected end of input"));
    big = apr_palloc(pool, CA_PROVIDER_MAX_FILE + 2);
    memset(big, ' ', CA_PROVIDER_MAX_FILE + 1);
    big[0] = '{';
    big[CA_PROVIDER_MAX_FILE] = '}';
    write_file(apr_pstrcat(pool, dir, "/big.json", NULL), big,
               CA_PROVIDER_MAX_FILE + 1);
    assert_int_equal(ca_provider_load_file(pool, apr_pstrcat(pool, dir,
                                           "/big.json", NULL), &def, &err),
                     APR_ENOSPC);
    assert_non_null(strstr(err, "larger than"));

    rm_tree(dir);
}

static void test_override(void **state)
{
    const ca_provider_t *cc = load_ok(apr_pstrcat(pool, provider_dir(),
                                                  "/clientcommander.json",
                                                  NULL));
    const ca_provider_t *sb = load_ok(apr_pstrcat(pool, provider_dir(),
                                                  "/sandbox.json", NULL));
    const ca_provider_t *sm8 = load_ok(apr_pstrcat(pool, provider_dir(),
                                                   "/servicem8.json", NULL));
    ca_provider_override_t ov;
    const ca_provider_t *out;
    const char *err = NULL;

    (void)state;
    memset(&ov, 0, sizeof(ov));
    ov.base_url = "http://127.0.0.1:8123/cc/v1";
    assert_int_equal(ca_provider_override_base(pool, cc, &ov, &out, &err),
                     APR_EINVAL);
    assert_null(out);
    assert_non_null(strstr(err, "clientcommander.json: api.base_url "
                                "(override): 'http://127.0.0.1:8123/cc/v1' "
                                "must use https"));
    ov.local_sandbox = 1;
    assert_int_equal(ca_provider_override_base(pool, cc, &ov, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out->api.base_url, "http://127.0.0.1:8123/cc/v1");
    assert_true(out->api.local_sandbox);
    /* the loaded definition is untouched and the rest is shared */
    assert_string_equal(cc->api.base_url, "https://api.clientcommander.com/v1");
    assert_false(cc->api.local_sandbox);
    assert_ptr_equal(ca_provider_resource(out, "people"),
                     ca_provider_resource(cc, "people"));
    assert_string_equal(ca_provider_api_url(pool, out, "/people"),
                        "http://127.0.0.1:8123/cc/v1/people");
    /* https needs no flag; a trailing '/' goes */
    memset(&ov, 0, sizeof(ov));
    ov.base_url = "https://cc.example.net/v1/";
    assert_int_equal(ca_provider_override_base(pool, cc, &ov, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out->api.base_url, "https://cc.example.net/v1");
    ov.base_url = "https://cc.example.net/v1?x=1";
    assert_int_equal(ca_provider_override_base(pool, cc, &ov, &out, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "must not contain a query"));
    /* api_key providers have no OAuth URLs */
    memset(&ov, 0, sizeof(ov));
    ov.token_url = "https://x.example/token";
    assert_int_equal(ca_provider_override_base(pool, cc, &ov, &out, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "auth: mode api_key has no OAuth URLs"));

    /* the sandbox file is a local sandbox: http is fine, relative OAuth
     * URLs follow the new base */
    memset(&ov, 0, sizeof(ov));
    ov.base_url = "http://127.0.0.1:40123/api/v1";
    assert_int_equal(ca_provider_override_base(pool, sb, &ov, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out->auth.authorize_url,
                        "http://127.0.0.1:40123/oauth/authorize");
    assert_string_equal(out->auth.token_url,
                        "http://127.0.0.1:40123/oauth/token");
    assert_string_equal(out->auth.revoke_url,
                        "http://127.0.0.1:40123/oauth/revoke");
    assert_string_equal(sb->auth.token_url,
                        "http://127.0.0.1:8089/oauth/token");
    ov.token_url = "http://127.0.0.1:40124/t";
    assert_int_equal(ca_provider_override_base(pool, sb, &ov, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out->auth.token_url, "http://127.0.0.1:40124/t");

    /* absolute OAuth URLs of a real provider stay unless overridden, and
     * an http one needs the local flag */
    memset(&ov, 0, sizeof(ov));
    ov.base_url = "https://sm8.test/api_1.0";
    assert_int_equal(ca_provider_override_base(pool, sm8, &ov, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out->auth.token_url,
                        "https://go.servicem8.com/oauth/access_token");
    ov.authorize_url = "http://127.0.0.1:1/oauth/authorize";
    assert_int_equal(ca_provider_override_base(pool, sm8, &ov, &out, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "auth.authorize_url: "
                                "'http://127.0.0.1:1/oauth/authorize' must "
                                "use https"));
    ov.local_sandbox = 1;
    ov.base_url = "http://127.0.0.1:1/sm8";
    assert_int_equal(ca_provider_override_base(pool, sm8, &ov, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out->auth.authorize_url,
                        "http://127.0.0.1:1/oauth/authorize");
    /* no override at all re-checks and copies */
    assert_int_equal(ca_provider_override_base(pool, cc, NULL, &out, &err),
                     APR_SUCCESS);
    assert_ptr_not_equal(out, cc);
}

static void test_expand(void **state)
{
    apr_table_t *vars = apr_table_make(pool, 4);
    const char *out, *err = NULL;

    (void)state;
    apr_table_set(vars, "id", "a b/c?d");
    apr_table_set(vars, "tenant", "42");
    apr_table_set(vars, "company_id", "co'1");
    assert_int_equal(ca_provider_expand(pool, "/t/{tenant}/jobs/{id}", vars,
                                        CA_EXPAND_PATH, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out, "/t/42/jobs/a%20b%2Fc%3Fd");
    assert_int_equal(ca_provider_expand(pool, "company_uuid eq '{company_id}'",
                                        vars, CA_EXPAND_RAW, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out, "company_uuid eq 'co'1'");
    assert_int_equal(ca_provider_expand(pool, "no placeholders", vars,
                                        CA_EXPAND_PATH, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out, "no placeholders");
    assert_int_equal(ca_provider_expand(pool, "/x/{cursor}", vars,
                                        CA_EXPAND_RAW, &out, &err),
                     APR_NOTFOUND);
    assert_null(out);
    assert_string_equal(err, "no value for {cursor}");
    assert_int_equal(ca_provider_expand(pool, "/x/{id", vars, CA_EXPAND_RAW,
                                        &out, &err), APR_EINVAL);
    apr_table_set(vars, "id", "..");
    assert_int_equal(ca_provider_expand(pool, "/jobs/{id}", vars,
                                        CA_EXPAND_PATH, &out, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "{id}"));
    assert_null(strstr(err, ".."));          /* values never in errors */
    apr_table_set(vars, "id", ".");
    assert_int_equal(ca_provider_expand(pool, "/jobs/{id}", vars,
                                        CA_EXPAND_PATH, &out, &err),
                     APR_EINVAL);
    apr_table_set(vars, "id", "");
    assert_int_equal(ca_provider_expand(pool, "/jobs/{id}", vars,
                                        CA_EXPAND_PATH, &out, &err),
                     APR_EINVAL);
    assert_int_equal(ca_provider_expand(pool, "?q={id}", vars, CA_EXPAND_RAW,
                                        &out, &err), APR_SUCCESS);
    assert_string_equal(out, "?q=");
    apr_table_set(vars, "id", "...");
    assert_int_equal(ca_provider_expand(pool, "/jobs/{id}", vars,
                                        CA_EXPAND_PATH, &out, &err),
                     APR_SUCCESS);
    assert_string_equal(out, "/jobs/...");
    assert_int_equal(ca_provider_expand(pool, NULL, vars, CA_EXPAND_RAW,
                                        &out, &err), APR_EINVAL);
}

static void test_names_and_lookups(void **state)
{
    const ca_provider_t *d = load_ok(apr_pstrcat(pool, provider_dir(),
                                                 "/sandbox.json", NULL));
    const char *err = NULL;
    const ca_provider_t *def;
    const char *dup =
        "{\"format\":1,\"name\":\"x\",\"auth\":{\"mode\":\"api_key\","
        "\"identity\":{\"path\":\"/me\",\"id\":\"id\"}},\"api\":{"
        "\"base_url\":\"https://a.example\"},\"pagination\":{\"style\":"
        "\"none\"},\"company_list\":{\"source\":\"identity\"},"
        "\"resources\":{\"jobs\":{\"item\":{\"path\":\"/j/{id}\"},"
        "\"scope\":{\"company\":{\"kind\":\"connection\"}}},\"jobs\":{}}}";

    (void)state;
    assert_non_null(ca_provider_resource(d, "jobs"));
    assert_null(ca_provider_resource(d, "Jobs"));
    assert_null(ca_provider_resource(d, "job"));
    assert_null(ca_provider_resource(d, "jobs "));
    assert_null(ca_provider_resource(d, NULL));
    assert_null(ca_provider_resource(NULL, "jobs"));
    assert_int_equal(ca_provider_resource_count(NULL), 0);
    assert_string_equal(ca_provider_auth_mode_name(CA_AUTH_API_KEY),
                        "api_key");
    assert_string_equal(ca_provider_rule_kind_name(CA_RULE_CONTAINS),
                        "contains");
    assert_string_equal(ca_provider_page_style_name(CA_PAGE_RELAY), "relay");
    assert_string_equal(ca_provider_page_style_name((ca_page_style_e)99),
                        "unknown");
    /* from memory, with a duplicated resource */
    assert_int_equal(ca_provider_load_buffer(pool, "mem.json", dup,
                                             strlen(dup), &def, &err),
                     APR_EINVAL);
    assert_string_equal(err, "mem.json: resources.jobs: duplicated key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sandbox_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clientcommander_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_example_providers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_broken_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobber_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graphql_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graphql_errors_and_throttle,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_dir_and_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_and_lookups, setup,
                                        teardown),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
