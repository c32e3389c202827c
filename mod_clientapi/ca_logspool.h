/*
 * ca_logspool.h - the request-log spool: rows the database could not take, kept on disk
 * until it can (mod_clientapi_log.c writes and replays them; docs/operations.md).
 *
 * Core unit: libc + APR only, no httpd headers, no logging.
 *
 * Format. A spool file is append-only text, one row per line:
 *
 *     R1 <TAB> 14 fields separated by TAB <TAB> checksum <LF>
 *
 * The fields are the request_logs columns after id, in table order (endpoint_id, ts,
 * method, resource, record_id, status, item_count, duration_us, query, error_code,
 * error_detail, client_ip, user_agent, request_id). In a text field a backslash is written
 * "\\", TAB "\t", LF "\n", CR "\r"; SQL NULL is "\N". Integers are decimal. The checksum is
 * the FNV-1a 32-bit hash of everything before its TAB, as 8 lower-case hex digits.
 *
 * Appends write whole lines and fsync; a failed append is cut off again. A line without its
 * LF (a crash in the middle of a write: the torn tail) and a line that does not parse or
 * whose checksum is wrong are skipped, never guessed at.
 *
 * Files. One directory, files named "reqlog.<tag>.<pid>.<seq>.spool": <tag> names the log
 * pipeline (server), <pid> the process that owns the file, <seq> 0 for the file the owner
 * appends to, > 0 for a file frozen or claimed for replay. A process claims the files of a
 * dead owner by renaming them to its own pid (rename is atomic: of two processes trying,
 * one wins), so no file is replayed by two processes at once.
 */
#ifndef CA_LOGSPOOL_H
#define CA_LOGSPOOL_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>

#include "ca_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One row as a spool line (with its LF); *len (may be NULL) = its length. */
char *ca_logspool_line(apr_pool_t *p, const ca_request_log_t *l, apr_size_t *len);

/* Parse one line (without its LF) into *out (strings in p). APR_EINVAL when it is not a
 * valid line. */
apr_status_t ca_logspool_parse_line(apr_pool_t *p, const char *line, apr_size_t len,
                                    ca_request_log_t *out);

/* Parse a buffer of lines: *rows (ca_request_log_t *) = the valid complete lines, *used =
 * bytes up to the end of the last complete line (a torn tail after it is not counted),
 * *bad (may be NULL) = complete lines skipped as invalid. */
void ca_logspool_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                       apr_array_header_t **rows, apr_size_t *used, int *bad);

/* Append n rows to path (created with mode 0600), in one write, then fsync. On failure the
 * file is cut back to its former size (no torn line is left behind). *size (may be NULL) =
 * the file's size afterwards. */
apr_status_t ca_logspool_append(apr_pool_t *p, const char *path,
                                const ca_request_log_t *const *rows, int n, apr_off_t *size);

/* Read a spool file: *rows as ca_logspool_parse, *bad lines skipped (may be NULL), *torn
 * (may be NULL) = bytes of an incomplete last line. */
apr_status_t ca_logspool_read(apr_pool_t *p, const char *path, apr_array_header_t **rows,
                              int *bad, apr_size_t *torn);

/* "reqlog.<tag>.<pid>.<seq>.spool" (tag: letters, digits, '-' and '_' only). */
const char *ca_logspool_name(apr_pool_t *p, const char *tag, long pid, unsigned seq);
/* 1 when name is a spool file name of tag; its owner and seq. */
int ca_logspool_parse_name(const char *name, const char *tag, long *pid, unsigned *seq);

/* Total size of the spool files (of every tag) in dir; 0 when dir does not exist. */
apr_status_t ca_logspool_dir_size(apr_pool_t *p, const char *dir, apr_off_t *size);

/* Files of tag in dir to replay by process `me`: those it already owns with seq > 0, and
 * those whose owner is not alive (alive(pid) == 0), claimed by renaming them to me with
 * the next seq (*seq is the last seq used; updated). *paths: const char * (full paths). */
apr_status_t ca_logspool_claim(apr_pool_t *p, const char *dir, const char *tag, long me,
                               unsigned *seq, int (*alive)(long pid),
                               apr_array_header_t **paths);

#ifdef __cplusplus
}
#endif

#endif /* CA_LOGSPOOL_H */
