/*
 * test_logspool.c - unit tests for ca_logspool (cmocka): the spool line format (round trip
 * of every byte that matters, NULLs), parsing a file with a torn last line and damaged
 * lines, appends, file names, and claiming the files of dead processes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ca_logspool.h"

static apr_pool_t *pool;

static ca_request_log_t sample(apr_pool_t *p, int i)
{
    ca_request_log_t l;

    memset(&l, 0, sizeof(l));
    l.endpoint_id = "ep_spool";
    l.ts = 1800000000 + i;
    l.method = "GET";
    l.resource = "jobs";
    l.record_id = i % 2 ? NULL : "job\t1\\n";
    l.status = 200 + i;
    l.item_count = i % 3 ? i : -1;
    l.duration_us = 1234 + i;
    l.query = "a=1&b=line1\nline2\r\n\\N";
    l.error_code = NULL;
    l.error_detail = "tab\there \\ back";
    l.client_ip = "2001:db8::1";
    l.user_agent = "\xc3\xbcn\xc3\xaf \xff\xfe raw bytes";
    l.request_id = apr_psprintf(p, "req-%d", i);
    return l;
}

static void same(const ca_request_log_t *a, const ca_request_log_t *b)
{
#define S(f) do { if (a->f || b->f) { assert_non_null(a->f); assert_non_null(b->f); \
                  assert_string_equal(a->f, b->f); } } while (0)
    S(endpoint_id); S(method); S(resource); S(record_id); S(query); S(error_code);
    S(error_detail); S(client_ip); S(user_agent); S(request_id);
#undef S
    assert_int_equal(a->ts, b->ts);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->item_count, b->item_count);
    assert_int_equal(a->duration_us, b->duration_us);
}

static void test_line_round_trip(void **state)
{
    int i;

    for (i = 0; i < 6; i++) {
        ca_request_log_t l = sample(pool, i), back;
        apr_size_t len = 0;
        char *line = ca_logspool_line(pool, &l, &len);

        assert_int_equal(strlen(line), len);
        assert_true(len > 0 && line[len - 1] == '\n');
        assert_null(memchr(line, '\n', len - 1));      /* one line, whatever the fields */
        assert_int_equal(ca_logspool_parse_line(pool, line, len - 1, &back), APR_SUCCESS);
        same(&l, &back);
    }
}

static void test_line_rejects_damage(void **state)
{
    ca_request_log_t l = sample(pool, 1), back;
    apr_size_t len = 0, i;
    char *line = ca_logspool_line(pool, &l, &len);

    /* any single changed byte is refused (field count, escape, integer or checksum) */
    for (i = 0; i < len - 1; i++) {
        char *copy = apr_pstrmemdup(pool, line, len);
        copy[i] = (char)(copy[i] == 'x' ? 'y' : 'x');
        assert_int_not_equal(ca_logspool_parse_line(pool, copy, len - 1, &back), APR_SUCCESS);
    }
    assert_int_not_equal(ca_logspool_parse_line(pool, line, len - 2, &back), APR_SUCCESS);
    assert_int_not_equal(ca_logspool_parse_line(pool, "", 0, &back), APR_SUCCESS);
    assert_int_not_equal(ca_logspool_parse_line(pool, "R1\tx", 4, &back), APR_SUCCESS);
}

static void test_parse_torn_and_bad(void **state)
{
    ca_request_log_t a = sample(pool, 0), b = sample(pool, 1), c = sample(pool, 2);
    apr_size_t la, lb, lc, used = 0;
    const char *sa = ca_logspool_line(pool, &a, &la);
    char *sb = ca_logspool_line(pool, &b, &lb);
    const char *sc = ca_logspool_line(pool, &c, &lc);
    apr_array_header_t *rows = NULL;
    char *buf;
    int bad = -1;

    /* a, b damaged, c, then a torn copy of a (no LF) */
    sb[3] = sb[3] == 'e' ? 'f' : 'e';
    buf = apr_pstrcat(pool, sa, sb, sc, apr_pstrndup(pool, sa, la - 10), NULL);
    ca_logspool_parse(pool, buf, strlen(buf), &rows, &used, &bad);
    assert_int_equal(rows->nelts, 2);
    assert_int_equal(bad, 1);
    assert_int_equal(used, la + lb + lc);
    same(APR_ARRAY_IDX(rows, 0, ca_request_log_t *), &a);
    same(APR_ARRAY_IDX(rows, 1, ca_request_log_t *), &c);

    /* nothing complete */
    ca_logspool_parse(pool, sa, la - 1, &rows, &used, &bad);
    assert_int_equal(rows->nelts, 0);
    assert_int_equal(used, 0);
    assert_int_equal(bad, 0);
}

static char *tmpdir(void)
{
    char *t = apr_pstrdup(pool, "/tmp/test_logspool.XXXXXX");

    assert_non_null(mkdtemp(t));
    return t;
}

static void rmdir_all(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, pool) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
            if (fi.filetype == APR_REG) {
                apr_file_remove(apr_pstrcat(pool, dir, "/", fi.name, NULL), pool);
            }
        }
        apr_dir_close(d);
    }
    apr_dir_remove(dir, pool);
}

static void test_append_read(void **state)
{
    char *dir = tmpdir();
    const char *path = apr_pstrcat(pool, dir, "/", ca_logspool_name(pool, "main", 42, 0), NULL);
    ca_request_log_t l[5];
    const ca_request_log_t *rows[5];
    apr_array_header_t *got = NULL;
    apr_off_t size = 0, dsize = 0;
    apr_size_t torn = 99;
    apr_file_t *f;
    apr_finfo_t fi;
    int i, bad = -1;

    for (i = 0; i < 5; i++) {
        l[i] = sample(pool, i);
        rows[i] = &l[i];
    }
    assert_int_equal(ca_logspool_append(pool, path, rows, 3, &size), APR_SUCCESS);
    assert_int_equal(ca_logspool_append(pool, path, rows + 3, 2, &size), APR_SUCCESS);
    assert_int_equal(apr_stat(&fi, path, APR_FINFO_SIZE | APR_FINFO_PROT, pool), APR_SUCCESS);
    assert_int_equal(fi.size, size);
    assert_int_equal(fi.protection & (APR_FPROT_GREAD | APR_FPROT_WREAD), 0);
    assert_int_equal(ca_logspool_dir_size(pool, dir, &dsize), APR_SUCCESS);
    assert_int_equal(dsize, size);

    /* a crash in the middle of a write: half a line at the end */
    assert_int_equal(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_APPEND, 0, pool),
                     APR_SUCCESS);
    assert_int_equal(apr_file_puts("R1\tep_spool\t18000", f), APR_SUCCESS);
    apr_file_close(f);
    assert_int_equal(ca_logspool_read(pool, path, &got, &bad, &torn), APR_SUCCESS);
    assert_int_equal(got->nelts, 5);
    assert_int_equal(bad, 0);
    assert_int_equal(torn, strlen("R1\tep_spool\t18000"));
    for (i = 0; i < 5; i++) {
        same(APR_ARRAY_IDX(got, i, ca_request_log_t *), &l[i]);
    }
    assert_int_not_equal(ca_logspool_read(pool, apr_pstrcat(pool, dir, "/none", NULL), &got,
                                          &bad, &torn), APR_SUCCESS);
    rmdir_all(dir);
}

static void test_names(void **state)
{
    long pid = 0;
    unsigned seq = 0;

    assert_string_equal(ca_logspool_name(pool, "main", 1234, 0), "reqlog.main.1234.0.spool");
    assert_string_equal(ca_logspool_name(pool, "../x", 1, 2), "reqlog.x.1.2.spool");
    assert_true(ca_logspool_parse_name("reqlog.main.1234.7.spool", "main", &pid, &seq));
    assert_int_equal(pid, 1234);
    assert_int_equal(seq, 7);
    assert_false(ca_logspool_parse_name("reqlog.s1.1234.7.spool", "main", &pid, &seq));
    assert_false(ca_logspool_parse_name("reqlog.main.1234.7.spool.tmp", "main", &pid, &seq));
    assert_false(ca_logspool_parse_name("reqlog.main.x.7.spool", "main", &pid, &seq));
    assert_false(ca_logspool_parse_name("reqlog.main.0.7.spool", "main", &pid, &seq));
    assert_false(ca_logspool_parse_name("reqlog.main.12..spool", "main", &pid, &seq));
}

static int alive_only_100(long pid)
{
    return pid == 100;
}

static void touch(const char *dir, const char *name)
{
    apr_file_t *f;

    assert_int_equal(apr_file_open(&f, apr_pstrcat(pool, dir, "/", name, NULL),
                                   APR_FOPEN_WRITE | APR_FOPEN_CREATE, APR_FPROT_OS_DEFAULT,
                                   pool), APR_SUCCESS);
    apr_file_close(f);
}

static int exists(const char *dir, const char *name)
{
    apr_finfo_t fi;

    return apr_stat(&fi, apr_pstrcat(pool, dir, "/", name, NULL), APR_FINFO_TYPE, pool)
           == APR_SUCCESS;
}

static void test_claim(void **state)
{
    char *dir = tmpdir();
    apr_array_header_t *paths = NULL;
    unsigned seq = 0;

    touch(dir, "reqlog.main.100.0.spool");     /* a live process's file: left alone */
    touch(dir, "reqlog.main.200.0.spool");     /* a dead one's: claimed */
    touch(dir, "reqlog.main.200.3.spool");     /* a dead one's frozen file: claimed */
    touch(dir, "reqlog.main.300.0.spool");     /* ours, being appended to: not replayed */
    touch(dir, "reqlog.main.300.5.spool");     /* ours, frozen: replayed */
    touch(dir, "reqlog.s1.200.0.spool");       /* another pipeline's */
    touch(dir, "unrelated.txt");
    assert_int_equal(ca_logspool_claim(pool, dir, "main", 300, &seq, alive_only_100, &paths),
                     APR_SUCCESS);
    assert_int_equal(paths->nelts, 3);
    assert_int_equal(seq, 7);                  /* continues after our own 5 */
    assert_true(exists(dir, "reqlog.main.100.0.spool"));
    assert_false(exists(dir, "reqlog.main.200.0.spool"));
    assert_false(exists(dir, "reqlog.main.200.3.spool"));
    assert_true(exists(dir, "reqlog.main.300.6.spool"));
    assert_true(exists(dir, "reqlog.main.300.7.spool"));
    assert_true(exists(dir, "reqlog.s1.200.0.spool"));

    /* a second claimer finds nothing of the dead process any more */
    seq = 0;
    assert_int_equal(ca_logspool_claim(pool, dir, "main", 400, &seq, alive_only_100, &paths),
                     APR_SUCCESS);
    /* 300 is not alive for this claimer: its files move once more, never duplicated */
    assert_int_equal(paths->nelts, 4);
    assert_false(exists(dir, "reqlog.main.300.6.spool"));
    assert_true(exists(dir, "reqlog.main.100.0.spool"));
    rmdir_all(dir);

    /* no directory: nothing to claim, no error */
    assert_int_equal(ca_logspool_claim(pool, "/nonexistent/spool", "main", 1, &seq,
                                       alive_only_100, &paths), APR_SUCCESS);
    assert_int_equal(paths->nelts, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_round_trip),
        cmocka_unit_test(test_line_rejects_damage),
        cmocka_unit_test(test_parse_torn_and_bad),
        cmocka_unit_test(test_append_read),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_claim),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
