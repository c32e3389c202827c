/*
 * records_oracle.h - the test oracle for ca_json_scan_records, shared by the unit test
 * (t/unit/test_json.c) and the fuzz target (fuzz/fuzz_scope.c): the fused scan must answer as
 * ca_json_scan does (status and message) and collect exactly what the walk it replaced finds
 * (ca_json_raw_first/next, ca_json_raw_len, ca_json_raw_members).
 */
#ifndef CA_RECORDS_ORACLE_H
#define CA_RECORDS_ORACLE_H

#include <apr_pools.h>

#include "ca_json.h"

/* 1: collected, and equal to the walk; 0: not collected (the filter walks instead); -1: both
 * refused the text alike; -2: no array at path; -3: they disagree, *why says how (pool p). */
int ca_test_records_agree(apr_pool_t *p, const char *text, apr_size_t len, const char *path,
                          const ca_json_limits_t *lim, int nkeys, const char *const *keys,
                          const char **why);

#endif /* CA_RECORDS_ORACLE_H */
