/*
 * test_scope.c - unit tests of ca_scope: keep/drop matrix, list filtering
 * with original bytes, cursors, single records, write bodies, and a
 * 10,000-record list (correctness; its speed is measured in bench/).
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
#include <apr_time.h>
#include <apr_file_io.h>

#include "ca_scope.h"

static apr_pool_t *pool;
static const ca_provider_t *sandbox, *cc, *sm8, *stitan, *jobber;

static const char *data_path(const char *rel)
{
    const char *dir = getenv("CA_TEST_DATA");

    return apr_pstrcat(pool, dir ? dir : "t/unit/data", "/", rel, NULL);
}

static const ca_provider_t *load(const char *path)
{
    const ca_provider_t *def = NULL;
    const char *err = NULL;

    if (ca_provider_load_file(pool, path, &def, &err) != APR_SUCCESS) {
        fail_msg("%s", err);
    }
    return def;
}

static int setup(void **state)
{
    const char *pdir = getenv("CA_PROVIDER_DIR");

    (void)state;
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    pdir = pdir ? pdir : "conf/providers";
    sandbox = load(apr_pstrcat(pool, pdir, "/sandbox.json", NULL));
    cc = load(apr_pstrcat(pool, pdir, "/clientcommander.json", NULL));
    sm8 = load(apr_pstrcat(pool, pdir, "/servicem8.json", NULL));
    stitan = load(apr_pstrcat(pool, pdir, "/servicetitan.json", NULL));
    jobber = load(apr_pstrcat(pool, pdir, "/jobber.json", NULL));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    return 0;
}

static ca_scope_t company_scope(const char *co)
{
    ca_scope_t s;

    s.kind = CA_SCOPE_COMPANY;
    s.company_id = co;
    s.client_id = NULL;
    return s;
}

static ca_scope_t client_scope(const char *co, const char *cl)
{
    ca_scope_t s;

    s.kind = CA_SCOPE_CLIENT;
    s.company_id = co;
    s.client_id = cl;
    return s;
}

static ca_scope_ctx_t ctx_for(const ca_provider_t *prov, const char *res,
                              const ca_scope_t *scope)
{
    ca_scope_ctx_t c;

    memset(&c, 0, sizeof(c));
    c.prov = prov;
    c.res = ca_provider_resource(prov, res);
    assert_non_null(c.res);
    c.scope = scope;
    return c;
}

static ca_scope_list_t filter_ok(const ca_scope_ctx_t *ctx, const char *body,
                                 const char *cursor, const char *hdr)
{
    ca_scope_list_t out;
    const char *err = NULL;

    if (ca_scope_filter_list(pool, ctx, NULL, body, strlen(body), cursor,
                             hdr, &out, &err) != APR_SUCCESS) {
        fail_msg("filter failed: %s", err);
    }
    /* the output is valid JSON with exactly the kept records */
    {
        ca_json_t *arr = ca_json_parse_str(pool, out.json, &err);

        if (arr == NULL) {
            fail_msg("output is not JSON: %s\n%s", err, out.json);
        }
        assert_int_equal(ca_json_size(arr), out.kept);
        assert_int_equal(strlen(out.json), out.json_len);
    }
    return out;
}

/* Body {"data":[r0,r1,...]} from records; returns the kept ones joined. */
typedef struct {
    const char *rec;
    int in;
} case_t;

static void run_cases(const ca_scope_ctx_t *ctx, const case_t *cases, int n)
{
    const char *body = "{\"data\":[", *want = "[";
    ca_scope_list_t out;
    int i, kept = 0;

    for (i = 0; i < n; i++) {
        body = apr_pstrcat(pool, body, i ? ", " : "", cases[i].rec, NULL);
        if (cases[i].in) {
            want = apr_pstrcat(pool, want, kept++ ? "," : "", cases[i].rec,
                               NULL);
        }
    }
    body = apr_pstrcat(pool, body, "], \"next_cursor\": null}", NULL);
    want = apr_pstrcat(pool, want, "]", NULL);
    out = filter_ok(ctx, body, NULL, NULL);
    if (strcmp(out.json, want) != 0) {
        /* find the culprit one by one for a readable failure */
        for (i = 0; i < n; i++) {
            const char *one = apr_pstrcat(pool, "{\"data\":[", cases[i].rec,
                                          "]}", NULL);
            ca_scope_list_t o = filter_ok(ctx, one, NULL, NULL);

            if (o.kept != cases[i].in) {
                fail_msg("record %d %s: expected %s", i, cases[i].rec,
                         cases[i].in ? "IN" : "OUT");
            }
        }
        fail_msg("got %s\nwant %s", out.json, want);
    }
    assert_int_equal(out.kept, kept);
    assert_int_equal(out.dropped, n - kept);
    assert_null(out.next_cursor);
}

#define RUN(ctx, cases) run_cases(ctx, cases, (int)(sizeof(cases) \
                                                  / sizeof(cases[0])))

/* ------------------------------------------------------------------ */

static void test_company_matrix(void **state)
{
    static const case_t cases[] = {
        { "{\"id\":\"j0\",\"company_id\":\"co_1\",\"client_id\":\"c1\"}", 1 },
        { "{\"id\":\"j1\",\"company_id\":\"co_2\"}", 0 },
        { "{\"id\":\"j2\"}", 0 },
        { "{\"id\":\"j3\",\"company_id\":null}", 0 },
        { "{\"id\":\"j4\",\"company_id\":1}", 0 },
        { "{\"id\":\"j5\",\"company_id\":\"\"}", 0 },
        { "{\"id\":\"j6\",\"company_id\":[\"co_1\"]}", 0 },
        { "{\"id\":\"j7\",\"company_id\":{\"id\":\"co_1\"}}", 0 },
        { "{\"id\":\"j8\",\"company_id\":true}", 0 },
        { "{\"id\":\"j9\",\"company_id\":\"co_1\",\"company_id\":\"co_2\"}", 0 },
        { "{\"id\":\"j10\",\"company_id\":\"co_2\",\"company_id\":\"co_1\"}",
          0 },
        { "{\"id\":\"j11\",\"company_id\":\"co_1\",\"company_id\":\"co_1\"}",
          0 },
        { "{\"id\":\"j12\",\"company\\u005fid\":\"co_1\"}", 1 },
        { "{\"id\":\"j13\",\"company\\u005fid\":\"co_2\","
          "\"company_id\":\"co_1\"}", 0 },
        { "{\"id\":\"j14\",\"company_id\":\"co\\u005f1\"}", 1 },
        { "{\"id\":\"j15\",\"company_id\":\"co_1\\u0000\"}", 0 },
        { "{\"id\":\"j16\",\"Company_id\":\"co_1\"}", 0 },
        { "{\"id\":\"j17\",\"company_id\":\"CO_1\"}", 0 },
        { "{\"id\":\"j18\",\"company_id\":\"co_1 \"}", 0 },
        { "\"co_1\"", 0 },
        { "[\"co_1\"]", 0 },
        { "null", 0 },
        { "{\"id\":\"j22\",\"x\":{\"company_id\":\"co_2\"},"
          "\"company_id\":\"co_1\"}", 1 },
        { "{ \"id\" : \"j23\" ,\n  \"company_id\" :\t\"co_1\" , \"note\": "
          "\"\xC3\xA9t\xC3\xA9 \\\"q\\\" ]}\" }", 1 },
        { "{}", 0 },
    };
    ca_scope_t sc = company_scope("co_1");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "jobs", &sc);

    (void)state;
    RUN(&ctx, cases);
}

static void test_string_ids_only(void **state)
{
    static const case_t cases[] = {
        { "{\"company_id\":1}", 0 },
        { "{\"company_id\":\"1\"}", 1 },
        { "{\"company_id\":1.0}", 0 },
    };
    ca_scope_t sc = company_scope("1");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "jobs", &sc);

    (void)state;
    RUN(&ctx, cases);
}

static void test_client_matrix(void **state)
{
    static const case_t jobs[] = {
        { "{\"company_id\":\"co_1\",\"client_id\":\"c1\"}", 1 },
        { "{\"company_id\":\"co_2\",\"client_id\":\"c1\"}", 0 },
        { "{\"company_id\":\"co_1\",\"client_id\":\"c2\"}", 0 },
        { "{\"company_id\":\"co_1\"}", 0 },
        { "{\"client_id\":\"c1\"}", 0 },
        { "{\"company_id\":\"co_1\",\"client_id\":\"c1\","
          "\"client_id\":\"c1\"}", 0 },
    };
    static const case_t clients[] = {
        { "{\"id\":\"c1\",\"company_id\":\"co_1\"}", 1 },
        { "{\"id\":\"c2\",\"company_id\":\"co_1\"}", 0 },
        { "{\"id\":\"c1\",\"company_id\":\"co_2\"}", 0 },
        { "{\"company_id\":\"co_1\",\"client_id\":\"c1\"}", 0 },
    };
    static const case_t company_for_client[] = {
        { "{\"id\":\"co_1\"}", 0 },
    };
    static const case_t company[] = {
        { "{\"id\":\"co_1\",\"name\":\"Acme\"}", 1 },
        { "{\"id\":\"co_2\",\"name\":\"Other\"}", 0 },
    };
    ca_scope_t sc = client_scope("co_1", "c1");
    ca_scope_t co = company_scope("co_1");
    ca_scope_ctx_t ctx;

    (void)state;
    ctx = ctx_for(sandbox, "jobs", &sc);
    RUN(&ctx, jobs);
    ctx = ctx_for(sandbox, "clients", &sc);
    RUN(&ctx, clients);
    ctx = ctx_for(sandbox, "company", &sc);    /* no client rules: nothing */
    RUN(&ctx, company_for_client);
    ctx = ctx_for(sandbox, "company", &co);
    RUN(&ctx, company);
}

static void test_numeric_ids(void **state)
{
    static const case_t jobs[] = {
        { "{\"id\":1,\"customerId\":42}", 1 },
        { "{\"id\":2,\"customerId\":\"42\"}", 1 },
        { "{\"id\":3,\"customerId\":42.0}", 0 },
        { "{\"id\":4,\"customerId\":4.2e1}", 0 },
        { "{\"id\":5,\"customerId\":420}", 0 },
        { "{\"id\":6,\"customerId\":-42}", 0 },
        { "{\"id\":7,\"customerId\":null}", 0 },
        { "{\"id\":8,\"customerId\":[42]}", 0 },
    };
    static const case_t big[] = {
        { "{\"customerId\":9007199254740993}", 0 },
        { "{\"customerId\":\"9007199254740993\"}", 1 },
    };
    static const case_t invoices[] = {
        { "{\"customer\":{\"id\":42}}", 1 },
        { "{\"customer\":{\"id\":\"42\",\"name\":\"x\"}}", 1 },
        { "{\"customer\":{\"id\":42},\"customer\":{\"id\":42}}", 0 },
        { "{\"customer\":{\"id\":42,\"id\":43}}", 0 },
        { "{\"customer\":null}", 0 },
        { "{\"customer\":[{\"id\":42}]}", 0 },
        { "{\"customer\":{\"ID\":42}}", 0 },
        { "{\"customerId\":42}", 0 },
    };
    ca_scope_t sc = client_scope("tenant-1", "42");
    ca_scope_t sbig = client_scope("tenant-1", "9007199254740993");
    ca_scope_ctx_t ctx;

    (void)state;
    ctx = ctx_for(stitan, "jobs", &sc);
    RUN(&ctx, jobs);
    ctx = ctx_for(stitan, "jobs", &sbig);
    RUN(&ctx, big);
    ctx = ctx_for(stitan, "invoices", &sc);
    RUN(&ctx, invoices);
}

static void test_contains_and_connection(void **state)
{
    static const case_t deals[] = {
        { "{\"id\":\"d1\",\"peopleIds\":[\"p1\"]}", 1 },
        { "{\"id\":\"d2\",\"peopleIds\":[\"p2\",\"p1\"]}", 1 },
        { "{\"id\":\"d3\",\"peopleIds\":[]}", 0 },
        { "{\"id\":\"d4\",\"peopleIds\":\"p1\"}", 0 },
        { "{\"id\":\"d5\"}", 0 },
        { "{\"id\":\"d6\",\"peopleIds\":[null,\"p1\"]}", 1 },
        { "{\"id\":\"d7\",\"peopleIds\":[[\"p1\"]]}", 0 },
        { "{\"id\":\"d8\",\"peopleIds\":[\"p2\"],\"peopleIds\":[\"p1\"]}", 0 },
        { "{\"id\":\"d9\",\"peopleIds\":[\"P1\",\"p1x\",\"\"]}", 0 },
        { "{\"id\":\"d10\",\"peopleIds\":null}", 0 },
        { "{\"id\":\"d11\",\"peopleIds\":[{\"id\":\"p1\"}]}", 0 },
    };
    static const case_t people[] = {
        { "{\"id\":\"p1\",\"firstName\":\"A\"}", 1 },
        { "{\"id\":\"p2\",\"firstName\":\"B\"}", 0 },
        { "{\"firstName\":\"C\"}", 0 },
    };
    static const case_t whole_company[] = {
        { "{\"id\":\"d1\",\"peopleIds\":[\"p9\"]}", 1 },
        { "{}", 1 },
        { "\"not a record\"", 0 },
        { "[]", 0 },
    };
    ca_scope_t sc = client_scope("acct-1", "p1");
    ca_scope_t co = company_scope("acct-1");
    ca_scope_ctx_t ctx;

    (void)state;
    ctx = ctx_for(cc, "deals", &sc);
    RUN(&ctx, deals);
    ctx = ctx_for(cc, "people", &sc);
    RUN(&ctx, people);
    ctx = ctx_for(cc, "deals", &co);
    RUN(&ctx, whole_company);
}

static void test_parent_rules(void **state)
{
    static const case_t none[] = {
        { "{\"id\":\"l1\",\"invoice_id\":\"inv_1\"}", 0 },
    };
    static const case_t lines[] = {
        { "{\"id\":\"l1\",\"invoice_id\":\"inv_1\"}", 1 },
        { "{\"id\":\"l2\",\"invoice_id\":\"inv_2\"}", 0 },
        { "{\"id\":\"l3\"}", 0 },
        { "{\"id\":\"l4\",\"invoice_id\":null}", 0 },
        { "{\"id\":\"l5\",\"invoice_id\":\"inv_1\",\"invoice_id\":\"inv_1\"}",
          0 },
    };
    ca_scope_t co = company_scope("co_1");
    ca_scope_t cl = client_scope("acct", "C1");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "line_items", &co);

    (void)state;
    RUN(&ctx, none);
    ctx.parent_id = "";
    RUN(&ctx, none);
    ctx.parent_id = "inv_1";
    RUN(&ctx, lines);
    /* Jobber: line items are listed through their invoice (the nested list or
     * ?invoice_id=), and in scope only through that verified invoice */
    {
        const ca_provider_nested_t *ne = ca_provider_nested(
            ca_provider_resource(jobber, "invoices"), "line_items");
        const char *b = "{\"data\":{\"invoice\":{\"lineItems\":{\"nodes\":["
                        "{\"id\":\"L1\"},{\"id\":\"L2\"},{\"id\":\"L3\"}],"
                        "\"pageInfo\":{\"endCursor\":\"Mw\","
                        "\"hasNextPage\":true}}}}}";
        ca_scope_list_t out;
        const char *err = NULL;

        ctx = ctx_for(jobber, "line_items", &cl);
        ctx.parent_id = "I1";
        assert_int_equal(ca_scope_filter_list(pool, &ctx, ne->list, b,
                                              strlen(b), NULL, NULL, &out,
                                              &err), APR_SUCCESS);
        assert_string_equal(out.json,
                            "[{\"id\":\"L1\"},{\"id\":\"L2\"},{\"id\":\"L3\"}]");
        assert_int_equal(out.dropped, 0);
        assert_string_equal(out.next_cursor, "Mw");
        ctx.parent_id = NULL;
        assert_int_equal(ca_scope_filter_list(pool, &ctx, ne->list, b,
                                              strlen(b), NULL, NULL, &out,
                                              &err), APR_SUCCESS);
        assert_int_equal(out.kept, 0);
    }
}

static void test_list_cursors(void **state)
{
    ca_scope_t co = company_scope("co_1");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "jobs", &co);
    ca_scope_list_t out;
    const char *rec = "{\"company_id\":\"co_1\"}";

    (void)state;
    out = filter_ok(&ctx, apr_pstrcat(pool, "{\"data\":[", rec, "],"
                                      "\"next_cursor\":\"abc\"}", NULL),
                    NULL, NULL);
    assert_string_equal(out.next_cursor, "abc");
    out = filter_ok(&ctx, "{\"next_cursor\":\"a\\/b\\u00e9\",\"data\":[]}",
                    NULL, NULL);
    assert_string_equal(out.next_cursor, "a/b\xC3\xA9");
    assert_string_equal(out.json, "[]");
    out = filter_ok(&ctx, "{\"data\":[],\"next_cursor\":\"\"}", NULL, NULL);
    assert_null(out.next_cursor);
    out = filter_ok(&ctx, "{\"data\":[],\"next_cursor\":17}", NULL, NULL);
    assert_string_equal(out.next_cursor, "17");
    out = filter_ok(&ctx, "{\"data\":[]}", NULL, NULL);
    assert_null(out.next_cursor);
    out = filter_ok(&ctx, "{\"data\":[],\"next_cursor\":{\"x\":1}}", NULL,
                    NULL);
    assert_null(out.next_cursor);

    /* Client Commander: meta.hasMore gates meta.nextCursor */
    ctx = ctx_for(cc, "people", &co);
    out = filter_ok(&ctx, "{\"data\":[{\"id\":\"p1\"}],\"meta\":{"
                    "\"hasMore\":true,\"nextCursor\":\"eyJpZCI6MX0=\"}}",
                    NULL, NULL);
    assert_string_equal(out.next_cursor, "eyJpZCI6MX0=");
    assert_int_equal(out.kept, 1);
    out = filter_ok(&ctx, "{\"data\":[],\"meta\":{\"hasMore\":false,"
                    "\"nextCursor\":\"x\"}}", NULL, NULL);
    assert_null(out.next_cursor);
    out = filter_ok(&ctx, "{\"data\":[],\"meta\":{\"nextCursor\":\"x\"}}",
                    NULL, NULL);
    assert_null(out.next_cursor);
    out = filter_ok(&ctx, "{\"data\":[],\"meta\":{\"hasMore\":\"true\","
                    "\"nextCursor\":\"x\"}}", NULL, NULL);
    assert_null(out.next_cursor);

    /* ServiceM8: bare array, cursor from the response header */
    ctx = ctx_for(sm8, "jobs", &co);
    out = filter_ok(&ctx, "[{\"uuid\":\"j1\",\"company_uuid\":\"co_1\"},"
                    "{\"uuid\":\"j2\",\"company_uuid\":\"co_9\"}]", "-1",
                    "c2");
    assert_string_equal(out.next_cursor, "c2");
    assert_int_equal(out.kept, 1);
    assert_int_equal(out.dropped, 1);
    out = filter_ok(&ctx, "[]", NULL, "");
    assert_null(out.next_cursor);
    out = filter_ok(&ctx, "[]", NULL, NULL);
    assert_null(out.next_cursor);

    /* ServiceTitan: page numbers */
    ctx = ctx_for(stitan, "clients", &co);
    out = filter_ok(&ctx, "{\"page\":1,\"data\":[{\"id\":1}],\"hasMore\":true}",
                    NULL, NULL);
    assert_string_equal(out.next_cursor, "2");
    out = filter_ok(&ctx, "{\"data\":[],\"hasMore\":true}", "7", NULL);
    assert_string_equal(out.next_cursor, "8");
    out = filter_ok(&ctx, "{\"data\":[],\"hasMore\":false}", "7", NULL);
    assert_null(out.next_cursor);
    {
        const char *err = NULL;
        const char *b = "{\"data\":[],\"hasMore\":true}";

        assert_int_equal(ca_scope_filter_list(pool, &ctx, NULL, b, strlen(b),
                                              "abc", NULL, &out, &err),
                         APR_EINVAL);
        assert_string_equal(err, "cursor is not a page number");
        assert_int_equal(ca_scope_filter_list(pool, &ctx, NULL, b, strlen(b),
                                              "02", NULL, &out, &err),
                         APR_EINVAL);
    }

    /* Jobber: Relay pageInfo at the resource's own paths */
    ctx = ctx_for(jobber, "jobs", &co);
    out = filter_ok(&ctx, "{\"data\":{\"client\":{\"jobs\":{\"nodes\":[{"
                    "\"id\":\"J1\",\"client\":{\"id\":\"C1\"}}],\"pageInfo\":{"
                    "\"endCursor\":\"MQ\",\"hasNextPage\":true}}}}}", NULL,
                    NULL);
    assert_string_equal(out.next_cursor, "MQ");
    assert_int_equal(out.kept, 1);
    out = filter_ok(&ctx, "{\"data\":{\"client\":{\"jobs\":{\"nodes\":[],"
                    "\"pageInfo\":{\"endCursor\":\"MQ\",\"hasNextPage\":false}}}}}",
                    NULL, NULL);
    assert_null(out.next_cursor);
}

static void test_list_errors(void **state)
{
    ca_scope_t co = company_scope("co_1");
    ca_scope_t bad = company_scope("");
    ca_scope_t nocl = client_scope("co_1", NULL);
    ca_scope_ctx_t ctx = ctx_for(sandbox, "jobs", &co);
    ca_scope_list_t out;
    const char *err = NULL;
    static const struct {
        const char *body;
        const char *expect;
    } cases[] = {
        { "{\"data\":[1,]}", "provider response: invalid JSON at offset 11" },
        { "", "provider response: invalid JSON at offset 0" },
        { "{\"items\":[]}", "no records array at 'data'" },
        { "{\"data\":{}}", "no records array at 'data'" },
        { "{\"data\":null}", "no records array at 'data'" },
        { "[]", "no records array at 'data'" },
        { "{\"data\":[],\"data\":[]}", "duplicated key on the way to the "
                                       "records" },
        { "{\"data\":[],\"d\\u0061ta\":[{\"company_id\":\"co_1\"}]}",
          "duplicated key" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err = NULL;
        assert_int_not_equal(ca_scope_filter_list(pool, &ctx, NULL,
                                                  cases[i].body,
                                                  strlen(cases[i].body),
                                                  NULL, NULL, &out, &err),
                             APR_SUCCESS);
        if (err == NULL || strstr(err, cases[i].expect) == NULL) {
            fail_msg("'%s': got '%s'", cases[i].body, err ? err : "(null)");
        }
        assert_null(out.json);
        assert_int_equal(out.kept, 0);
    }
    ctx.scope = &bad;
    assert_int_equal(ca_scope_filter_list(pool, &ctx, NULL, "[]", 2, NULL,
                                          NULL, &out, &err), APR_EINVAL);
    assert_string_equal(err, "scope has no company id");
    ctx.scope = &nocl;
    assert_int_equal(ca_scope_filter_list(pool, &ctx, NULL, "[]", 2, NULL,
                                          NULL, &out, &err), APR_EINVAL);
    assert_string_equal(err, "client scope has no client id");
    ctx.scope = NULL;
    assert_int_equal(ca_scope_validate(pool, NULL, &err), APR_EINVAL);
    /* a resource without list (ServiceM8 line items: through their job) */
    ctx = ctx_for(sm8, "line_items", &co);
    assert_int_equal(ca_scope_filter_list(pool, &ctx, NULL, "[]", 2, NULL,
                                          NULL, &out, &err), APR_EINVAL);
    assert_non_null(strstr(err, "has no list call"));
    /* the size limit of the context applies */
    {
        ca_json_limits_t lim = { 8, 0 };
        const char *b = "{\"data\":[]}";

        ctx = ctx_for(sandbox, "jobs", &co);
        ctx.limits = &lim;
        assert_int_equal(ca_scope_filter_list(pool, &ctx, NULL, b, strlen(b),
                                              NULL, NULL, &out, &err),
                         APR_ENOSPC);
    }
}

static void test_nested_and_fixture(void **state)
{
    ca_scope_t co = company_scope("co_1");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "line_items", &co);
    const ca_provider_nested_t *ne =
        ca_provider_nested(ca_provider_resource(sandbox, "invoices"),
                           "line_items");
    ca_scope_list_t out;
    const char *err = NULL;
    apr_file_t *f;
    apr_finfo_t fi;
    char *body;
    apr_size_t len;

    (void)state;
    ctx.parent_id = "inv_1";
    assert_int_equal(apr_file_open(&f, data_path("scope/line_items.json"),
                                   APR_FOPEN_READ, 0, pool), APR_SUCCESS);
    assert_int_equal(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    len = (apr_size_t)fi.size;
    body = apr_palloc(pool, len + 1);
    assert_int_equal(apr_file_read_full(f, body, len, NULL), APR_SUCCESS);
    apr_file_close(f);
    assert_int_equal(ca_scope_filter_list(pool, &ctx, ne->list, body, len,
                                          NULL, NULL, &out, &err),
                     APR_SUCCESS);
    assert_int_equal(out.kept, 2);
    assert_int_equal(out.dropped, 2);
    assert_string_equal(out.next_cursor, "next-2");
    /* kept records are the provider's bytes, spacing and escapes kept */
    assert_string_equal(out.json,
        "[{ \"id\": \"li_1\", \"invoice_id\": \"inv_1\", \"description\": "
        "\"Pipe \\\"1/2\\\" \\u00e9\\ud83d\\ude00 ]}[{\",\n"
        "      \"qty\": 2, \"price\": {\"amount\": 12.50, \"currency\": "
        "\"USD\"} },"
        "{\"id\":\"li_4\",\"invoice_id\":\"inv\\u005f1\",\"tags\":[[],{}]}]");
}

/* ---- big lists ------------------------------------------------------- */

static const char *make_list(int n, apr_size_t *len)
{
    apr_array_header_t *parts = apr_array_make(pool, n + 2, sizeof(char *));
    const char *s;
    int i;

    APR_ARRAY_PUSH(parts, const char *) = "{\"data\":[";
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(pool,
            "%s{\"id\":\"job_%06d\",\"company_id\":\"%s\",\"client_id\":"
            "\"cli_%04d\",\"title\":\"Replace water heater, unit %d\","
            "\"status\":\"scheduled\",\"notes\":\"Gate code \\\"4411\\\", "
            "\\u00e9t\\u00e9 visit\",\"scheduled_at\":"
            "\"2026-11-03T09:00:00Z\",\"total\":{\"amount\":1249.5,"
            "\"currency\":\"USD\"},\"tags\":[\"plumbing\",\"urgent\"]}",
            i ? "," : "", i, (i % 2) ? "co_2" : "co_1", i % 97, i);
    }
    APR_ARRAY_PUSH(parts, const char *) = "],\"next_cursor\":\"n\"}";
    s = apr_array_pstrcat(pool, parts, 0);
    *len = strlen(s);
    return s;
}

/*
 * The list filter judges the records ca_json_scan_records collected while
 * validating; ca_scope_record_in judges a record by walking its members
 * again.  Both must agree on every record of every list resource of the
 * shipped providers, and the output must be exactly the kept records' bytes.
 */
static const char *wrap_records(const char *path, const char *recs)
{
    const char *dot, *body;

    if (*path == '\0') {
        return recs;
    }
    dot = strchr(path, '.');
    if (dot == NULL) {
        return apr_psprintf(pool, " {\"other\":[{\"%s\":1}], \"%s\" : %s ,"
                            "\"n\":{\"%s\":[]}}", path, path, recs, path);
    }
    body = wrap_records(dot + 1, recs);
    return apr_psprintf(pool, "{\"%.*s\":%s}", (int)(dot - path), path, body);
}

static void test_filter_vs_record_walk(void **state)
{
    static const char *const recs[] = {
        "{\"id\":\"j0\",\"company_id\":\"co_1\",\"client_id\":\"c1\"}",
        "{\"id\":1,\"company_id\":1,\"client_id\":1,\"clientId\":1}",
        "{\"id\":\"j2\",\"company_id\":\"co_1\",\"company_id\":\"co_1\"}",
        "{\"id\":\"j3\",\"company\\u005fid\":\"co_1\",\"client\\u005fid\":\"c1\","
        "\"parent_id\":\"par_1\",\"job_id\":\"par_1\",\"jobId\":\"par_1\"}",
        "{\"x\":{\"company_id\":\"co_1\",\"client_id\":\"c1\"},\"company_id\":\"co_2\"}",
        "{ \"id\" : \"j5\" , \"company_id\" : \"co_1\" , \"client_id\" : \"c1\" ,"
        " \"clients\" : [ \"c1\" ] , \"client\" : { \"id\" : \"c1\" } }",
        "[{\"company_id\":\"co_1\"}]",
        "\"co_1\"",
        "12",
        "null",
        "{}",
        "{\"companyId\":\"co_1\",\"customerId\":\"c1\",\"company\":{\"id\":\"co_1\"},"
        "\"customer\":{\"id\":\"c1\"},\"company_uuid\":\"co_1\",\"client_uuid\":\"c1\"}",
        "{\"companyId\":1,\"customerId\":1,\"client\":{\"id\":1},\"id\":1,"
        "\"company_uuid\":1,\"job_uuid\":\"par_1\",\"clientId\":\"c1\"}",
    };
    const ca_provider_t *provs[5];
    ca_scope_t scopes[4];
    int pi, ri, si, k, nrec = (int)(sizeof(recs) / sizeof(recs[0]));
    const char *all = "[", *none = "[]";
    int total_kept = 0, total_dropped = 0;

    (void)state;
    provs[0] = sandbox;
    provs[1] = cc;
    provs[2] = sm8;
    provs[3] = stitan;
    provs[4] = jobber;
    scopes[0] = company_scope("co_1");
    scopes[1] = client_scope("co_1", "c1");
    scopes[2] = company_scope("1");
    scopes[3] = client_scope("1", "1");
    for (k = 0; k < nrec; k++) {
        all = apr_pstrcat(pool, all, k ? " ,\n" : "", recs[k], NULL);
    }
    all = apr_pstrcat(pool, all, " ]", NULL);
    for (pi = 0; pi < 5; pi++) {
        for (ri = 0; ri < ca_provider_resource_count(provs[pi]); ri++) {
            const ca_provider_resource_t *res =
                ca_provider_resource_at(provs[pi], ri);

            if (res->list == NULL || res->list->records == NULL) {
                continue;
            }
            for (si = 0; si < 8; si++) {
                ca_scope_ctx_t ctx;
                ca_scope_list_t out;
                ca_json_doc_t *doc;
                const char *err = NULL, *body, *want = "[";
                apr_size_t arr, e;
                int more, kept = 0, dropped = 0;

                memset(&ctx, 0, sizeof(ctx));
                ctx.prov = provs[pi];
                ctx.res = res;
                ctx.scope = &scopes[si % 4];
                ctx.parent_id = si >= 4 ? "par_1" : NULL;
                body = wrap_records(res->list->records,
                                    (si & 1) ? none : all);
                if (ca_scope_filter_list(pool, &ctx, NULL, body, strlen(body),
                                         NULL, NULL, &out, &err)
                    != APR_SUCCESS) {
                    fail_msg("%s: %s\n%s", res->name, err, body);
                }
                assert_int_equal(ca_json_scan(pool, body, strlen(body), NULL,
                                              &doc, &err), APR_SUCCESS);
                assert_int_equal(ca_json_raw_lookup(doc, ca_json_raw_root(doc),
                                                    res->list->records, &arr),
                                 APR_SUCCESS);
                more = ca_json_raw_first(doc, arr, &e);
                while (more) {
                    if (ca_scope_record_in(pool, &ctx, doc, e)) {
                        want = apr_pstrcat(pool, want, kept++ ? "," : "",
                                           apr_pstrndup(pool, body + e,
                                               ca_json_raw_len(doc, e)),
                                           NULL);
                    }
                    else {
                        dropped++;
                    }
                    more = ca_json_raw_next(doc, &e);
                }
                want = apr_pstrcat(pool, want, "]", NULL);
                if (strcmp(out.json, want) != 0 || out.kept != kept
                    || out.dropped != dropped) {
                    fail_msg("%s/%s scope %d: got %s\nwant %s", provs[pi]->name,
                             res->name, si, out.json, want);
                }
                assert_int_equal(out.json_len, strlen(want));
                total_kept += kept;
                total_dropped += dropped;
            }
        }
    }
    /* both outcomes were seen */
    assert_true(total_kept > 20);
    assert_true(total_dropped > 20);
}

static void test_big_list_linear(void **state)
{
    ca_scope_t co = company_scope("co_1");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "jobs", &co);
    apr_size_t len10k;
    const char *b10k = make_list(10000, &len10k);
    ca_scope_list_t out;
    ca_json_t *arr;

    (void)state;
    out = filter_ok(&ctx, b10k, NULL, NULL);
    assert_int_equal(out.kept, 5000);
    assert_int_equal(out.dropped, 5000);
    assert_string_equal(out.next_cursor, "n");
    arr = ca_json_parse_str(pool, out.json, NULL);
    assert_string_equal(ca_json_get_string(arr, "0.id"), "job_000000");
    assert_string_equal(ca_json_get_string(arr, "4999.id"), "job_009998");
    assert_string_equal(ca_json_get_string(arr, "1.notes"),
                        "Gate code \"4411\", \xC3\xA9t\xC3\xA9 visit");

    /* speed is measured by bench/, never asserted here: test machines are shared */
}

/* ---- single records -------------------------------------------------- */

static void test_check_item(void **state)
{
    ca_scope_t co = company_scope("co_1");
    ca_scope_t cl = client_scope("acct", "p1");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "jobs", &co);
    ca_scope_item_t it;
    const char *err = NULL;
    const char *b1 = "{\"data\": {\"id\": \"j1\", \"company_id\": \"co_1\"} }";
    const char *b2 = "{\"data\":{\"id\":\"j2\",\"company_id\":\"co_2\"}}";
    const char *b3 = "{\"data\":{\"id\":\"l1\",\"invoice_id\":\"inv_1\"}}";
    const char *b4 = "{\"data\":{\"id\":\"l2\"}}";
    const char *b5 = "{\"id\":\"p1\",\"firstName\":\"A\"}";

    (void)state;
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL, b1, strlen(b1),
                                         &it, &err), APR_SUCCESS);
    assert_true(it.in_scope);
    assert_string_equal(it.json, "{\"id\": \"j1\", \"company_id\": \"co_1\"}");
    assert_int_equal(it.json_len, strlen(it.json));
    assert_string_equal(it.id, "j1");
    assert_false(it.need_parent);
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL, b2, strlen(b2),
                                         &it, &err), APR_SUCCESS);
    assert_false(it.in_scope);
    assert_string_equal(it.id, "j2");
    /* errors */
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL, "{\"x\":1}", 7,
                                         &it, &err), APR_EINVAL);
    assert_non_null(strstr(err, "no record object at 'data'"));
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL, "{\"data\":[]}",
                                         11, &it, &err), APR_EINVAL);
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL, "{\"data\":",
                                         8, &it, &err), APR_EINVAL);
    assert_non_null(strstr(err, "provider response: invalid JSON"));
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL,
                                         "{\"data\":{},\"data\":{}}", 21,
                                         &it, &err), APR_EINVAL);

    /* parent flow: the record names its invoice; after the caller checked
     * the invoice, the line item is in */
    ctx = ctx_for(sandbox, "line_items", &co);
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL, b3, strlen(b3),
                                         &it, &err), APR_SUCCESS);
    assert_false(it.in_scope);
    assert_true(it.need_parent);
    assert_string_equal(it.parent_id, "inv_1");
    ctx.parent_id = it.parent_id;
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL, b3, strlen(b3),
                                         &it, &err), APR_SUCCESS);
    assert_true(it.in_scope);
    assert_false(it.need_parent);
    ctx.parent_id = "inv_9";
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL, b3, strlen(b3),
                                         &it, &err), APR_SUCCESS);
    assert_false(it.in_scope);
    assert_false(it.need_parent);
    ctx.parent_id = NULL;
    assert_int_equal(ca_scope_check_item(pool, &ctx, NULL, b4, strlen(b4),
                                         &it, &err), APR_SUCCESS);
    assert_false(it.in_scope);
    assert_false(it.need_parent);              /* no parent named */

    /* a bare record body, client scope by own id */
    ctx = ctx_for(cc, "people", &cl);
    assert_int_equal(ca_scope_check_item(pool, &ctx, "", b5, strlen(b5),
                                         &it, &err), APR_SUCCESS);
    assert_true(it.in_scope);
    assert_string_equal(it.json, b5);
    /* the predicate on its own */
    {
        ca_json_doc_t *doc;

        assert_int_equal(ca_json_scan(pool, b5, strlen(b5), NULL, &doc,
                                      &err), APR_SUCCESS);
        assert_true(ca_scope_record_in(pool, &ctx, doc,
                                       ca_json_raw_root(doc)));
        assert_false(ca_scope_record_in(pool, NULL, doc,
                                        ca_json_raw_root(doc)));
    }
}

/* ---- write bodies ---------------------------------------------------- */

static apr_status_t write_body(const ca_scope_ctx_t *ctx, ca_scope_write_e op,
                               const char *body, ca_scope_write_t *out,
                               const char **err)
{
    *err = NULL;
    return ca_scope_write_body(pool, ctx, op, body, strlen(body), out, err);
}

static void expect_body(const ca_scope_ctx_t *ctx, ca_scope_write_e op,
                        const char *body, const char *want)
{
    ca_scope_write_t out;
    const char *err;

    if (write_body(ctx, op, body, &out, &err) != APR_SUCCESS) {
        fail_msg("'%s' refused: %s", body, err);
    }
    assert_string_equal(out.body, want);
    assert_int_equal(out.body_len, strlen(want));
}

static void expect_violation(const ca_scope_ctx_t *ctx, ca_scope_write_e op,
                             const char *body, const char *field,
                             const char *why)
{
    ca_scope_write_t out;
    const char *err;

    if (write_body(ctx, op, body, &out, &err) != CA_SCOPE_EVIOLATION) {
        fail_msg("'%s' not refused (%s)", body, err ? err : "accepted");
    }
    assert_string_equal(out.field, field);
    assert_null(out.body);
    if (strncmp(err, field, strlen(field)) != 0 || !strstr(err, why)) {
        fail_msg("'%s': message '%s'", body, err);
    }
}

static void test_write_company(void **state)
{
    ca_scope_t co = company_scope("co_1");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "jobs", &co);
    ca_scope_write_t out;
    const char *err;

    (void)state;
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"title\":\"Fix\"}",
                "{\"title\":\"Fix\",\"company_id\":\"co_1\"}");
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE,
                "{\"company_id\":\"co_1\",\"client_id\":\"any\"}",
                "{\"company_id\":\"co_1\",\"client_id\":\"any\"}");
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE,
                     "{\"title\":\"x\",\"company_id\":\"co_2\"}",
                     "company_id", "must be the endpoint's company id");
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE, "{\"company_id\":null}",
                     "company_id", "must be the endpoint's company id");
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE, "{\"company_id\":\"\"}",
                     "company_id", "company id");
    expect_violation(&ctx, CA_SCOPE_WRITE_UPDATE,
                     "{\"company_id\":\"co_1\",\"company_id\":\"co_2\"}",
                     "company_id", "duplicated key");
    expect_violation(&ctx, CA_SCOPE_WRITE_UPDATE,
                     "{\"company\\u005fid\":\"co_2\"}", "company_id",
                     "company id");
    /* update: checked, not set */
    expect_body(&ctx, CA_SCOPE_WRITE_UPDATE, "{\"status\":\"done\"}",
                "{\"status\":\"done\"}");
    expect_violation(&ctx, CA_SCOPE_WRITE_UPDATE, "{\"company_id\":\"co_3\"}",
                     "company_id", "company id");
    /* replace: set */
    expect_body(&ctx, CA_SCOPE_WRITE_REPLACE, "{\"status\":\"done\"}",
                "{\"status\":\"done\",\"company_id\":\"co_1\"}");
    /* bad bodies are 400, not 422 */
    assert_int_equal(write_body(&ctx, CA_SCOPE_WRITE_CREATE, "[1]", &out,
                                &err), APR_EINVAL);
    assert_string_equal(err, "request body must be a JSON object");
    assert_int_equal(write_body(&ctx, CA_SCOPE_WRITE_CREATE, "\"x\"", &out,
                                &err), APR_EINVAL);
    assert_int_equal(write_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"a\":", &out,
                                &err), APR_EINVAL);
    assert_non_null(strstr(err, "request body: invalid JSON at offset 5"));
    assert_int_equal(write_body(&ctx, CA_SCOPE_WRITE_CREATE, "", &out, &err),
                     APR_EINVAL);
    assert_int_equal(write_body(&ctx, CA_SCOPE_WRITE_CREATE,
                                "{\"n\":\"a\\u0000b\"}", &out, &err),
                     APR_EINVAL);
    assert_non_null(strstr(err, "\\u0000"));
    assert_int_equal(write_body(&ctx, (ca_scope_write_e)9, "{}", &out, &err),
                     APR_EINVAL);
}

static void test_write_client(void **state)
{
    ca_scope_t cl = client_scope("co_1", "c1");
    ca_scope_t ccl = client_scope("acct", "p1");
    ca_scope_t cco = company_scope("acct");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "jobs", &cl);

    (void)state;
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"title\":\"Fix\"}",
                "{\"title\":\"Fix\",\"company_id\":\"co_1\","
                "\"client_id\":\"c1\"}");
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE, "{\"client_id\":\"c2\"}",
                     "client_id", "must be the endpoint's client id");
    expect_violation(&ctx, CA_SCOPE_WRITE_UPDATE, "{\"client_id\":7}",
                     "client_id", "client id");
    /* clients themselves: a client endpoint cannot create another client,
     * may update itself */
    ctx = ctx_for(sandbox, "clients", &cl);
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE, "{\"name\":\"New\"}",
                     "clients", "a client-scoped endpoint cannot create "
                     "clients");
    expect_body(&ctx, CA_SCOPE_WRITE_UPDATE, "{\"id\":\"c1\",\"name\":\"N\"}",
                "{\"id\":\"c1\",\"name\":\"N\"}");
    expect_violation(&ctx, CA_SCOPE_WRITE_UPDATE, "{\"id\":\"c2\"}", "id",
                     "client id");
    /* Client Commander deals: peopleIds holds only the person */
    ctx = ctx_for(cc, "deals", &ccl);
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"title\":\"T\","
                "\"pipelineId\":\"k9\"}", "{\"title\":\"T\","
                "\"pipelineId\":\"k9\",\"peopleIds\":[\"p1\"]}");
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"peopleIds\":[\"p1\"]}",
                "{\"peopleIds\":[\"p1\"]}");
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"peopleIds\":[]}",
                "{\"peopleIds\":[\"p1\"]}");
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE,
                     "{\"peopleIds\":[\"p1\",\"p2\"]}", "peopleIds",
                     "must hold only the endpoint's client id");
    expect_violation(&ctx, CA_SCOPE_WRITE_UPDATE, "{\"peopleIds\":\"p1\"}",
                     "peopleIds", "must be an array");
    expect_violation(&ctx, CA_SCOPE_WRITE_UPDATE, "{\"peopleIds\":[]}",
                     "peopleIds", "must hold the endpoint's client id");
    expect_body(&ctx, CA_SCOPE_WRITE_UPDATE, "{\"title\":\"T2\"}",
                "{\"title\":\"T2\"}");
    /* people: the connection is the company; a person cannot create
     * people; company endpoints can */
    ctx = ctx_for(cc, "people", &ccl);
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE, "{\"firstName\":\"A\"}",
                     "people", "cannot create people");
    ctx = ctx_for(cc, "people", &cco);
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"firstName\":\"A\"}",
                "{\"firstName\":\"A\"}");
    /* a resource with no client rules refuses client endpoints */
    ctx = ctx_for(sandbox, "company", &cl);
    expect_violation(&ctx, CA_SCOPE_WRITE_UPDATE, "{}", "company",
                     "not available to client-scoped endpoints");
}

static void test_write_parent_and_nested(void **state)
{
    ca_scope_t co = company_scope("co_1");
    ca_scope_t st = client_scope("tenant-1", "42");
    ca_scope_ctx_t ctx = ctx_for(sandbox, "line_items", &co);
    ca_scope_write_t out;
    const char *err;

    (void)state;
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE, "{\"qty\":1}", "invoice_id",
                     "required (the invoices record");
    assert_int_equal(write_body(&ctx, CA_SCOPE_WRITE_CREATE,
                                "{\"invoice_id\":\"inv_1\",\"qty\":1}", &out,
                                &err), APR_SUCCESS);
    assert_string_equal(out.parent_id, "inv_1");    /* caller verifies it */
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE, "{\"invoice_id\":5}",
                     "invoice_id", "must be the id of a parent record");
    ctx.parent_id = "inv_1";
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"qty\":1}",
                "{\"qty\":1,\"invoice_id\":\"inv_1\"}");
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE, "{\"invoice_id\":\"inv_2\"}",
                     "invoice_id", "must be the parent record's id");
    ctx.parent_id = NULL;
    assert_int_equal(write_body(&ctx, CA_SCOPE_WRITE_UPDATE, "{\"qty\":2}",
                                &out, &err), APR_SUCCESS);
    assert_null(out.parent_id);

    /* nested paths and numeric ids (ServiceTitan-like) */
    ctx = ctx_for(stitan, "invoices", &st);
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"total\":1}",
                "{\"total\":1,\"customer\":{\"id\":42}}");
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"customer\":{\"name\":\"x\"}}",
                "{\"customer\":{\"name\":\"x\",\"id\":42}}");
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{\"customer\":{\"id\":42.0}}",
                "{\"customer\":{\"id\":42}}");
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE,
                     "{\"customer\":{\"id\":43}}", "customer.id",
                     "client id");
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE, "{\"customer\":\"x\"}",
                     "customer.id", "cannot be set");
    expect_violation(&ctx, CA_SCOPE_WRITE_CREATE,
                     "{\"customer\":{},\"customer\":{}}", "customer.id",
                     "duplicated key");
    ctx = ctx_for(stitan, "jobs", &st);
    expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{}", "{\"customerId\":42}");
    {
        ca_scope_t s2 = client_scope("tenant-1", "C-7");

        ctx.scope = &s2;
        expect_body(&ctx, CA_SCOPE_WRITE_CREATE, "{}",
                    "{\"customerId\":\"C-7\"}");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_company_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_ids_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numeric_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contains_and_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_parent_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_cursors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_and_fixture, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_big_list_linear, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_filter_vs_record_walk, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_company, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_parent_and_nested, setup,
                                        teardown),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
