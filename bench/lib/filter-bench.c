/*
 * filter-bench.c - instructions per call of ca_scope_filter_list on the benchmark's list
 * (bench/RESULTS.md, "One JSON pass"): validation, records, scope rules and the copy of the
 * kept records, nothing of httpd or libcurl.  Not built by make; from the top of the tree:
 *
 *   perl bench/lib/gen-upstream.pl /tmp/up
 *   gcc -std=gnu11 -O2 -g $(apr-1-config --cppflags --cflags --includes) \
 *       $(pkg-config --cflags libcjson) -Imod_clientapi -o /tmp/filter-bench \
 *       bench/lib/filter-bench.c mod_clientapi/{ca_json,ca_scope,ca_provider,ca_crypto,ca_key,\
 *       ca_http,ca_route}.c $(apr-1-config --link-ld --libs) $(apu-1-config --link-ld --libs) \
 *       -lcjson -lcurl -lcrypto -ldl -lm
 *   valgrind --tool=callgrind /tmp/filter-bench bench/provider/bench.json \
 *       /tmp/up/v1/jobs.json 1000 [client]
 *
 * Instructions per call: (total of N calls - total of 1 call) / (N - 1).  With a fourth
 * argument the scope is the client cl_bench_1 (7 of the 50 records kept), else the company
 * co_bench (all kept).
 */
#include <stdio.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include "ca_scope.h"
#include "ca_provider.h"

int main(int argc, char **argv)
{
    apr_pool_t *p, *sub;
    const ca_provider_t *def = NULL;
    const char *err = NULL;
    char *body;
    apr_size_t len;
    FILE *f;
    long sz;
    int i, n = argc > 3 ? atoi(argv[3]) : 1000, client = argc > 4;
    ca_scope_t sc = { CA_SCOPE_COMPANY, "co_bench", NULL };
    ca_scope_ctx_t ctx;
    ca_scope_list_t out;

    apr_initialize();
    apr_pool_create(&p, NULL);
    if (ca_provider_load_file(p, argv[1], &def, &err) != APR_SUCCESS) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    f = fopen(argv[2], "rb");
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    rewind(f);
    body = malloc(sz);
    len = fread(body, 1, sz, f);
    fclose(f);
    if (client) {
        sc.kind = CA_SCOPE_CLIENT;
        sc.client_id = "cl_bench_1";
    }
    ctx.prov = def;
    ctx.res = ca_provider_resource(def, "jobs");
    ctx.scope = &sc;
    ctx.parent_id = NULL;
    ctx.limits = NULL;
    apr_pool_create(&sub, p);
    for (i = 0; i < n; i++) {
        apr_pool_clear(sub);
        if (ca_scope_filter_list(sub, &ctx, NULL, body, len, NULL, NULL, &out, &err)
            != APR_SUCCESS) {
            fprintf(stderr, "filter: %s\n", err);
            return 1;
        }
    }
    printf("kept %d dropped %d len %lu\n", out.kept, out.dropped,
           (unsigned long)out.json_len);
    return 0;
}
