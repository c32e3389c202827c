/*
 * ca_logspool.c - the request-log spool file format and files. See ca_logspool.h.
 */
#include "ca_logspool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>

#define LOG_FIELDS 14
#define MAGIC "R1"

static apr_uint32_t fnv1a(const char *s, apr_size_t len)
{
    apr_uint32_t h = 2166136261u;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* escaped text of s into b (NULL: "\N") */
static void put_text(apr_array_header_t *b, const char *s)
{
    if (!s) {
        APR_ARRAY_PUSH(b, char) = '\\';
        APR_ARRAY_PUSH(b, char) = 'N';
        return;
    }
    for (; *s; s++) {
        char c = *s, e = 0;
        switch (c) {
        case '\\': e = '\\'; break;
        case '\t': e = 't'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        default: break;
        }
        if (e) {
            APR_ARRAY_PUSH(b, char) = '\\';
            APR_ARRAY_PUSH(b, char) = e;
        }
        else {
            APR_ARRAY_PUSH(b, char) = c;
        }
    }
}

static void put_raw(apr_array_header_t *b, const char *s)
{
    for (; *s; s++) {
        APR_ARRAY_PUSH(b, char) = *s;
    }
}

static void put_int(apr_pool_t *p, apr_array_header_t *b, apr_int64_t v, int null_if_neg)
{
    if (null_if_neg && v < 0) {
        put_text(b, NULL);
    }
    else {
        put_raw(b, apr_psprintf(p, "%" APR_INT64_T_FMT, v));
    }
}

char *ca_logspool_line(apr_pool_t *p, const ca_request_log_t *l, apr_size_t *len)
{
    apr_array_header_t *b = apr_array_make(p, 256, 1);
    char sum[16];

    put_raw(b, MAGIC "\t");
    put_text(b, l->endpoint_id);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_int(p, b, l->ts, 0);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_text(b, l->method);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_text(b, l->resource);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_text(b, l->record_id);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_int(p, b, l->status, 0);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_int(p, b, l->item_count, 1);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_int(p, b, l->duration_us, 0);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_text(b, l->query);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_text(b, l->error_code);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_text(b, l->error_detail);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_text(b, l->client_ip);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_text(b, l->user_agent);
    APR_ARRAY_PUSH(b, char) = '\t';
    put_text(b, l->request_id);
    apr_snprintf(sum, sizeof(sum), "\t%08x\n", (unsigned)fnv1a(b->elts, (apr_size_t)b->nelts));
    put_raw(b, sum);
    if (len) {
        *len = (apr_size_t)b->nelts;
    }
    APR_ARRAY_PUSH(b, char) = '\0';
    return b->elts;
}

/* unescape field [s, s + n) into a new string; NULL for "\N"; *ok = 0 on a bad escape */
static const char *get_text(apr_pool_t *p, const char *s, apr_size_t n, int *ok)
{
    char *out, *o;
    apr_size_t i;

    if (n == 2 && s[0] == '\\' && s[1] == 'N') {
        return NULL;
    }
    o = out = apr_palloc(p, n + 1);
    for (i = 0; i < n; i++) {
        if (s[i] == '\0') {
            *ok = 0;
            return NULL;
        }
        if (s[i] != '\\') {
            *o++ = s[i];
            continue;
        }
        if (++i >= n) {
            *ok = 0;
            return NULL;
        }
        switch (s[i]) {
        case '\\': *o++ = '\\'; break;
        case 't': *o++ = '\t'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        default:
            *ok = 0;
            return NULL;
        }
    }
    *o = '\0';
    return out;
}

static int get_int(const char *s, apr_size_t n, apr_int64_t *v, int null_ok)
{
    char buf[24];
    char *end = NULL;
    apr_size_t i = 0;

    if (null_ok && n == 2 && s[0] == '\\' && s[1] == 'N') {
        *v = -1;
        return 1;
    }
    if (n == 0 || n >= sizeof(buf)) {
        return 0;
    }
    if (s[0] == '-') {
        i = 1;
    }
    if (i >= n) {
        return 0;
    }
    for (; i < n; i++) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    *v = apr_strtoi64(buf, &end, 10);
    return errno == 0 && end && *end == '\0';
}

apr_status_t ca_logspool_parse_line(apr_pool_t *p, const char *line, apr_size_t len,
                                    ca_request_log_t *out)
{
    const char *f[LOG_FIELDS + 2];
    apr_size_t fl[LOG_FIELDS + 2];
    apr_size_t i, start = 0;
    int nf = 0, ok = 1;
    apr_int64_t v;
    char sum[9];

    for (i = 0; i <= len; i++) {
        if (i == len || line[i] == '\t') {
            if (nf == LOG_FIELDS + 2) {
                return APR_EINVAL;
            }
            f[nf] = line + start;
            fl[nf++] = i - start;
            start = i + 1;
        }
    }
    if (nf != LOG_FIELDS + 2 || fl[0] != 2 || memcmp(f[0], MAGIC, 2) || fl[LOG_FIELDS + 1] != 8) {
        return APR_EINVAL;
    }
    /* the checksum covers everything before its TAB */
    apr_snprintf(sum, sizeof(sum), "%08x",
                 (unsigned)fnv1a(line, (apr_size_t)(f[LOG_FIELDS + 1] - 1 - line)));
    if (memcmp(sum, f[LOG_FIELDS + 1], 8)) {
        return APR_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    out->endpoint_id = get_text(p, f[1], fl[1], &ok);
    if (!get_int(f[2], fl[2], &out->ts, 0)) {
        return APR_EINVAL;
    }
    out->method = get_text(p, f[3], fl[3], &ok);
    out->resource = get_text(p, f[4], fl[4], &ok);
    out->record_id = get_text(p, f[5], fl[5], &ok);
    if (!get_int(f[6], fl[6], &v, 0)) {
        return APR_EINVAL;
    }
    out->status = (int)v;
    if (!get_int(f[7], fl[7], &out->item_count, 1)
        || !get_int(f[8], fl[8], &out->duration_us, 0)) {
        return APR_EINVAL;
    }
    out->query = get_text(p, f[9], fl[9], &ok);
    out->error_code = get_text(p, f[10], fl[10], &ok);
    out->error_detail = get_text(p, f[11], fl[11], &ok);
    out->client_ip = get_text(p, f[12], fl[12], &ok);
    out->user_agent = get_text(p, f[13], fl[13], &ok);
    out->request_id = get_text(p, f[14], fl[14], &ok);
    if (!ok || !out->endpoint_id || !out->method || !out->request_id) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

void ca_logspool_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                       apr_array_header_t **rows, apr_size_t *used, int *bad)
{
    apr_size_t pos = 0;
    int nbad = 0;

    *rows = apr_array_make(p, 64, sizeof(ca_request_log_t *));
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        ca_request_log_t *l;

        if (!nl) {
            break;              /* torn tail */
        }
        l = apr_palloc(p, sizeof(*l));
        if (ca_logspool_parse_line(p, buf + pos, (apr_size_t)(nl - (buf + pos)), l)
            == APR_SUCCESS) {
            APR_ARRAY_PUSH(*rows, ca_request_log_t *) = l;
        }
        else {
            nbad++;
        }
        pos = (apr_size_t)(nl - buf) + 1;
    }
    *used = pos;
    if (bad) {
        *bad = nbad;
    }
}

apr_status_t ca_logspool_append(apr_pool_t *p, const char *path,
                                const ca_request_log_t *const *rows, int n, apr_off_t *size)
{
    apr_array_header_t *lines = apr_array_make(p, n > 0 ? n : 1, sizeof(const char *));
    const char *buf;
    apr_file_t *f = NULL;
    apr_off_t before = 0;
    apr_size_t len;
    apr_status_t rv;
    int i;

    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(lines, const char *) = ca_logspool_line(p, rows[i], NULL);
    }
    buf = apr_array_pstrcat(p, lines, 0);     /* lines hold no NUL */
    rv = apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND
                       | APR_FOPEN_BINARY, APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_file_seek(f, APR_END, &before)) == APR_SUCCESS) {
        len = strlen(buf);
        rv = apr_file_write_full(f, buf, len, NULL);
        if (rv == APR_SUCCESS) {
            rv = apr_file_sync(f);
        }
        if (rv != APR_SUCCESS) {
            /* no torn line left for the next append to glue onto */
            (void)apr_file_trunc(f, before);
        }
        else if (size) {
            *size = before + (apr_off_t)len;
        }
    }
    apr_file_close(f);
    return rv;
}

apr_status_t ca_logspool_read(apr_pool_t *p, const char *path, apr_array_header_t **rows,
                              int *bad, apr_size_t *torn)
{
    apr_file_t *f = NULL;
    apr_finfo_t fi;
    apr_size_t used = 0, got = 0;
    char *buf;
    apr_status_t rv;

    *rows = NULL;
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) != APR_SUCCESS) {
        apr_file_close(f);
        return rv;
    }
    buf = apr_palloc(p, (apr_size_t)fi.size + 1);
    if (fi.size > 0) {
        rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, &got);
        if (rv == APR_EOF) {
            rv = APR_SUCCESS;
        }
    }
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    ca_logspool_parse(p, buf, got, rows, &used, bad);
    if (torn) {
        *torn = got - used;
    }
    return APR_SUCCESS;
}

static int tag_ok(const char *tag)
{
    if (!tag || !*tag) {
        return 0;
    }
    for (; *tag; tag++) {
        if (!apr_isalnum(*tag) && *tag != '-' && *tag != '_') {
            return 0;
        }
    }
    return 1;
}

const char *ca_logspool_name(apr_pool_t *p, const char *tag, long pid, unsigned seq)
{
    return apr_psprintf(p, "reqlog.%s.%ld.%u.spool", tag_ok(tag) ? tag : "x", pid, seq);
}

int ca_logspool_parse_name(const char *name, const char *tag, long *pid, unsigned *seq)
{
    apr_size_t tl = strlen(tag);
    const char *s;
    char *end;
    long v;
    unsigned long q;

    if (strncmp(name, "reqlog.", 7) || strncmp(name + 7, tag, tl) || name[7 + tl] != '.') {
        return 0;
    }
    s = name + 8 + tl;
    if (!apr_isdigit(*s)) {
        return 0;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end != '.' || v <= 0 || !apr_isdigit(end[1])) {
        return 0;
    }
    q = strtoul(end + 1, &end, 10);
    if (errno || strcmp(end, ".spool") || q > 0xffffffffUL) {
        return 0;
    }
    *pid = v;
    *seq = (unsigned)q;
    return 1;
}

static int is_spool_file(const char *name)
{
    apr_size_t n = strlen(name);

    return n > 13 && !strncmp(name, "reqlog.", 7) && !strcmp(name + n - 6, ".spool");
}

apr_status_t ca_logspool_dir_size(apr_pool_t *p, const char *dir, apr_off_t *size)
{
    apr_dir_t *d = NULL;
    apr_finfo_t fi;
    apr_status_t rv;

    *size = 0;
    rv = apr_dir_open(&d, dir, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_SIZE | APR_FINFO_TYPE, d)
           == APR_SUCCESS) {
        if (fi.filetype == APR_REG && is_spool_file(fi.name)) {
            *size += fi.size;
        }
    }
    apr_dir_close(d);
    return APR_SUCCESS;
}

apr_status_t ca_logspool_claim(apr_pool_t *p, const char *dir, const char *tag, long me,
                               unsigned *seq, int (*alive)(long pid),
                               apr_array_header_t **paths)
{
    apr_dir_t *d = NULL;
    apr_finfo_t fi;
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    apr_status_t rv;
    int i;

    *paths = apr_array_make(p, 4, sizeof(const char *));
    rv = apr_dir_open(&d, dir, p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        if (fi.filetype == APR_REG) {
            APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, fi.name);
        }
    }
    apr_dir_close(d);
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        long owner;
        unsigned s;

        if (!ca_logspool_parse_name(name, tag, &owner, &s)) {
            continue;
        }
        if (s > *seq && owner == me) {
            *seq = s;           /* never reuse a seq of ours */
        }
    }
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *from, *to;
        long owner;
        unsigned s;

        if (!ca_logspool_parse_name(name, tag, &owner, &s)) {
            continue;
        }
        from = apr_pstrcat(p, dir, "/", name, NULL);
        if (owner == me) {
            if (s > 0) {
                APR_ARRAY_PUSH(*paths, const char *) = from;
            }
            continue;
        }
        if (alive(owner)) {
            continue;
        }
        to = apr_pstrcat(p, dir, "/", ca_logspool_name(p, tag, me, ++*seq), NULL);
        if (apr_file_rename(from, to, p) == APR_SUCCESS) {
            APR_ARRAY_PUSH(*paths, const char *) = to;
        }
        /* else another process claimed it first */
    }
    return APR_SUCCESS;
}
