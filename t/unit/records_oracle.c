/*
 * records_oracle.c - see records_oracle.h.
 */
#include <string.h>

#include <apr_strings.h>

#include "records_oracle.h"

#define DISAGREE(...) do { *why = apr_psprintf(p, __VA_ARGS__); return -3; } while (0)

int ca_test_records_agree(apr_pool_t *p, const char *text, apr_size_t len, const char *path,
                          const ca_json_limits_t *lim, int nkeys, const char *const *keys,
                          const char **why)
{
    apr_size_t *klens = apr_pcalloc(p, sizeof(*klens) * (apr_size_t)nkeys);
    apr_size_t *vals = apr_pcalloc(p, sizeof(*vals) * (apr_size_t)nkeys);
    int *counts = apr_pcalloc(p, sizeof(*counts) * (apr_size_t)nkeys);
    apr_size_t arr, e, end;
    int i, k, more;
    ca_json_want_t want;
    ca_json_records_t recs;
    ca_json_doc_t *d1 = NULL, *d2 = NULL;
    const char *e1 = NULL, *e2 = NULL;
    apr_status_t s1, s2;

    *why = NULL;
    for (k = 0; k < nkeys; k++) {
        klens[k] = strlen(keys[k]);
    }
    want.path = path;
    want.nkeys = nkeys;
    want.keys = keys;
    want.klens = klens;
    s1 = ca_json_scan(p, text, len, lim, &d1, &e1);
    s2 = ca_json_scan_records(p, text, len, lim, &want, &d2, &e2);
    if (s1 != s2) {
        DISAGREE("ca_json_scan says %d, ca_json_scan_records says %d", s1, s2);
    }
    if (s1 != APR_SUCCESS) {
        if (!e1 || !e2 || strcmp(e1, e2)) {
            DISAGREE("messages differ: '%s' vs '%s'", e1 ? e1 : "(none)", e2 ? e2 : "(none)");
        }
        if (d2) {
            DISAGREE("ca_json_scan_records refused the text but returned a document");
        }
        return -1;
    }
    if (ca_json_doc_has_nul(d1) != ca_json_doc_has_nul(d2)) {
        DISAGREE("they differ on whether a string holds \\u0000");
    }
    if (ca_json_raw_lookup(d1, ca_json_raw_root(d1), path, &arr) != APR_SUCCESS
        || ca_json_raw_type(d1, arr) != CA_JSON_ARRAY) {
        return -2;
    }
    if (!ca_json_doc_records(d2, arr, &recs)) {
        return 0;
    }
    if (recs.arr != arr || recs.nkeys != nkeys) {
        DISAGREE("collected array %lu with %d keys, walk: array %lu, %d keys",
                 (unsigned long)recs.arr, recs.nkeys, (unsigned long)arr, nkeys);
    }
    more = ca_json_raw_first(d1, arr, &e);
    for (i = 0; more; i++) {
        const ca_json_member_t *m = recs.members + (apr_size_t)i * (apr_size_t)nkeys;

        if (i >= recs.nrecs) {
            DISAGREE("fewer records collected (%d) than walked", recs.nrecs);
        }
        if (recs.recs[i].off != e || recs.recs[i].len != ca_json_raw_len(d1, e)) {
            DISAGREE("record %d: span differs", i);
        }
        end = ca_json_raw_members(d1, e, nkeys, keys, klens, vals, counts);
        if (end && end != e + recs.recs[i].len) {
            DISAGREE("record %d: the walk ends at %lu, the span at %lu", i,
                     (unsigned long)end, (unsigned long)(e + recs.recs[i].len));
        }
        for (k = 0; k < nkeys; k++) {
            if (end == 0 ? m[k].count != 0
                         : (m[k].count != counts[k] || m[k].val != vals[k])) {
                DISAGREE("record %d key '%s': count %d val %lu, walk %d %lu", i, keys[k],
                         m[k].count, (unsigned long)m[k].val, end ? counts[k] : 0,
                         (unsigned long)(end ? vals[k] : 0));
            }
        }
        more = ca_json_raw_next(d1, &e);
    }
    if (i != recs.nrecs) {
        DISAGREE("more records collected (%d) than walked (%d)", recs.nrecs, i);
    }
    return 1;
}
