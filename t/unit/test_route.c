/* Unit tests for ca_route: the caller-facing URL router. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "apr_general.h"
#include "apr_pools.h"

#include "ca_route.h"
#include "ca_http.h"

static apr_pool_t *pool;

static ca_route_t route(const char *path)
{
    ca_route_t r;

    ca_route_parse(pool, path, &r);
    return r;
}

static void test_shapes(void **state)
{
    ca_route_t r;

    r = route("/ep_abc123");
    assert_int_equal(r.kind, CA_ROUTE_DESCRIBE);
    assert_string_equal(r.endpoint_id, "ep_abc123");

    r = route("/ep_abc123/");
    assert_int_equal(r.kind, CA_ROUTE_DESCRIBE);
    assert_string_equal(r.endpoint_id, "ep_abc123");

    r = route("/ep_abc123/openapi.json");
    assert_int_equal(r.kind, CA_ROUTE_OPENAPI);

    r = route("/ep_abc123/clients");
    assert_int_equal(r.kind, CA_ROUTE_COLLECTION);
    assert_string_equal(r.resource, "clients");

    r = route("/ep_abc123/jobs/job_acme_1_01");
    assert_int_equal(r.kind, CA_ROUTE_ITEM);
    assert_string_equal(r.resource, "jobs");
    assert_string_equal(r.id, "job_acme_1_01");

    r = route("/ep_abc123/invoices/inv-9/line_items");
    assert_int_equal(r.kind, CA_ROUTE_NESTED);
    assert_string_equal(r.resource, "invoices");
    assert_string_equal(r.id, "inv-9");
    assert_string_equal(r.sub, "line_items");

    r = route("/public/ep_abc123/query/");
    assert_int_equal(r.kind, CA_ROUTE_COMPAT);
    assert_string_equal(r.endpoint_id, "ep_abc123");
    r = route("/public/ep_abc123/query");
    assert_int_equal(r.kind, CA_ROUTE_COMPAT);

    /* ids of the shapes providers use: uuids, numbers, base64 */
    assert_int_equal(route("/ep_a/jobs/0c6f1b2e-8d5a-4f0e-9a0b-1c2d3e4f5a6b").kind,
                     CA_ROUTE_ITEM);
    assert_int_equal(route("/ep_a/jobs/12345").kind, CA_ROUTE_ITEM);
    assert_int_equal(route("/ep_a/clients/Z2lkOi8vSm9iYmVyL0NsaWVudC8x=").kind, CA_ROUTE_ITEM);
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "", "/", "//", "ep_abc", "/ep_abc//", "/ep_abc//clients", "/ep_abc/clients/",
        "/ep_abc/Clients", "/ep_abc/CLIENTS", "/ep_abc/clients%2F1", "/ep_abc/jobs/..",
        "/ep_abc/jobs/.", "/ep_abc/jobs/%2e%2e", "/ep_abc/jobs/%252e%252e",
        "/ep_abc/jobs/a b", "/ep_abc/jobs/a;b", "/ep_abc/jobs/a\\b", "/ep_abc/jobs/1/2/3",
        "/ep_abc/jobs/1/line_items/x", "/xx_abc/clients", "/ep_abc/cl\xc3\xa9nts",
        "/ep_abc/clients\xef\xbc\x8f""1", "/ep_abc/openapi.json/x", "/public/ep_abc",
        "/public/ep_abc/query/x", "/public/nope/query/", "/ep_abc/jobs/1/Line_items",
        "/ep_abc/1clients/x/y/z", "/ep_abc/jobs/x\r\n", "/ep_abc/jobs/\x01",
        NULL
    };
    int i;

    for (i = 0; bad[i]; i++) {
        ca_route_t r = route(bad[i]);
        if (r.kind != CA_ROUTE_NONE) {
            fail_msg("path '%s' was routed (kind %d)", bad[i], r.kind);
        }
        assert_non_null(r.why);
    }
    assert_int_equal(route(NULL).kind, CA_ROUTE_NONE);
}

static void test_long_inputs(void **state)
{
    char buf[4096];

    /* an id of 256 chars is fine, 257 is not */
    memcpy(buf, "/ep_a/jobs/", 11);
    memset(buf + 11, 'a', 256);
    buf[11 + 256] = '\0';
    assert_int_equal(route(buf).kind, CA_ROUTE_ITEM);
    buf[11 + 256] = 'a';
    buf[11 + 257] = '\0';
    assert_int_equal(route(buf).kind, CA_ROUTE_NONE);
    /* a path over 2 KiB is refused whatever it holds */
    memset(buf, 'a', sizeof(buf) - 1);
    buf[0] = '/';
    buf[sizeof(buf) - 1] = '\0';
    assert_int_equal(route(buf).kind, CA_ROUTE_NONE);
}

static void test_key_in_query(void **state)
{
    apr_array_header_t *params;
    const char *err = NULL;
    static const char *const keyed[] = {
        "key=cak_x", "api_key=1", "limit=5&apikey=1", "ACCESS_TOKEN=1", "Key=", NULL
    };
    int i;

    for (i = 0; keyed[i]; i++) {
        assert_int_equal(ca_http_parse_form(pool, keyed[i], strlen(keyed[i]), &params, &err),
                         APR_SUCCESS);
        if (!ca_query_has_key(params)) {
            fail_msg("query '%s' not seen as carrying a key", keyed[i]);
        }
    }
    assert_int_equal(ca_http_parse_form(pool, "limit=5&cursor=abc&keyword=x", 28, &params, &err),
                     APR_SUCCESS);
    assert_false(ca_query_has_key(params));
}

static void test_valid_helpers(void **state)
{
    assert_true(ca_route_valid_resource("line_items"));
    assert_false(ca_route_valid_resource(""));
    assert_false(ca_route_valid_resource("a-b"));
    assert_true(ca_route_valid_id("a:b@c~d.e"));
    assert_false(ca_route_valid_id(""));
    assert_false(ca_route_valid_id(".."));
    assert_false(ca_route_valid_id("a%2e"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_long_inputs),
        cmocka_unit_test(test_key_in_query),
        cmocka_unit_test(test_valid_helpers),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("ca_route", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
