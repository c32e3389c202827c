/* mod_clientapi: the request log, off the request path.
 *
 * Every request to an endpoint URL is recorded after its answer was sent (log_transaction):
 * endpoint, time, method, resource, record id, status, item count, duration, query (secrets
 * redacted), error code and detail, client IP (mod_remoteip's useragent_ip), user agent and
 * request id. The row is copied into memory the queue owns and put on a bounded queue of
 * this process; the request never waits for the database.
 *
 * One thread per process (created at child_init) takes rows off the queue in batches (256
 * rows, or whatever is there once the oldest row waited CA_LOG_FLUSH_INTERVAL) and writes
 * each batch with its hourly rollups in one transaction on its own mod_dbd connection
 * (ap_dbd_open / ap_dbd_close). When the database does not answer, the batch is appended to
 * this process's spool file (ca_logspool.c) instead, and the spool is replayed by the thread
 * once a write succeeds again; files left by dead processes are claimed (rename) and
 * replayed by whichever process finds them. Writes are idempotent (unique request_id), so a
 * replay after a crash never stores a row twice. When neither the database nor the spool
 * takes rows, they stay queued; a full queue drops new rows, counted and reported at error
 * level every CA_LOG_DROP_REPORT. The child pool's pre-cleanup stops the thread, which
 * writes (or spools) what is queued before the process exits. docs/operations.md.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"
#include "apr_thread_mutex.h"
#include "apr_thread_cond.h"
#include "apr_dbd.h"
#include "mod_dbd.h"
#include "unixd.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "mod_clientapi.h"
#include "mod_clientapi_api.h"
#include "ca_http.h"
#include "ca_logspool.h"

#define CA_LAST_USED_GRANULARITY 60            /* s: last_used_at written at most this often */
#define CA_LOG_QUEUE_MAX 16384                 /* rows queued per process at most */
#define CA_LOG_FLUSH_INTERVAL apr_time_from_sec(1)
#define CA_LOG_DB_RETRY apr_time_from_sec(2)   /* after a failed write, spool for this long */
#define CA_LOG_CLAIM_INTERVAL apr_time_from_sec(30)
#define CA_LOG_DROP_REPORT apr_time_from_sec(10)
#define CA_LOG_SPOOL_FILE_MAX (4 * 1024 * 1024) /* own spool file frozen beyond this size */
#define CA_LOG_SPOOL_DEFAULT_MAX ((apr_off_t)256 * 1024 * 1024)

/* A queued row: one malloc'd block holding the struct and its strings. */
typedef struct {
    ca_request_log_t log;
    apr_int64_t ep_row_id;         /* endpoints.id of the authenticated endpoint, or 0 */
    apr_int64_t ep_last_used;      /* its last_used_at as read at authentication */
    apr_time_t queued_at;
} entry_t;

typedef enum { BATCH_WRITTEN, BATCH_SPOOLED, BATCH_FAILED } batch_fate_t;

struct ca_logq {
    server_rec *s;                 /* whose mod_dbd database the rows go to */
    const char *tag;               /* names this pipeline's spool files */
    const char *spool_dir;
    apr_off_t spool_max;

    apr_thread_mutex_t *mutex;     /* guards ring, head, count, stopping, dropped */
    apr_thread_cond_t *cond;
    entry_t **ring;
    int head, count;
    int stopping;
    apr_uint64_t dropped;

    /* the writer thread's own state */
    apr_thread_t *thread;
    apr_pool_t *pool;              /* own allocator: used by the thread only */
    const char *own_path;          /* the spool file this process appends to */
    unsigned seq;
    int db_down;
    int spool_pending;             /* spool files of ours may hold rows */
    apr_time_t db_retry_at;
    apr_time_t claim_at;
    apr_time_t drop_report_at;
    apr_uint64_t spooled;          /* rows spooled in the current outage */
    apr_hash_t *touched;           /* endpoints.id -> our last touch (touch_endpoints) */
};

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;

/* ---- the request side ------------------------------------------------------------------ */

static apr_size_t slen(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *scopy(char **at, const char *s)
{
    char *d = *at;
    apr_size_t n;

    if (!s) {
        return NULL;
    }
    n = strlen(s) + 1;
    memcpy(d, s, n);
    *at += n;
    return d;
}

/* a copy of l in one block the queue owns (freed by the writer thread) */
static entry_t *entry_new(const ca_request_log_t *l)
{
    apr_size_t n = sizeof(entry_t) + slen(l->endpoint_id) + slen(l->method) + slen(l->resource)
                   + slen(l->record_id) + slen(l->query) + slen(l->error_code)
                   + slen(l->error_detail) + slen(l->client_ip) + slen(l->user_agent)
                   + slen(l->request_id);
    entry_t *e = malloc(n);
    char *at;

    if (!e) {
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    at = (char *)(e + 1);
    e->log = *l;
    e->log.endpoint_id = scopy(&at, l->endpoint_id);
    e->log.method = scopy(&at, l->method);
    e->log.resource = scopy(&at, l->resource);
    e->log.record_id = scopy(&at, l->record_id);
    e->log.query = scopy(&at, l->query);
    e->log.error_code = scopy(&at, l->error_code);
    e->log.error_detail = scopy(&at, l->error_detail);
    e->log.client_ip = scopy(&at, l->client_ip);
    e->log.user_agent = scopy(&at, l->user_agent);
    e->log.request_id = scopy(&at, l->request_id);
    return e;
}

/* queue e: 0 when the queue is full (e is not taken) */
static int enqueue(struct ca_logq *q, entry_t *e)
{
    int ok = 0;

    apr_thread_mutex_lock(q->mutex);
    if (q->count < CA_LOG_QUEUE_MAX && !q->stopping) {
        q->ring[(q->head + q->count) % CA_LOG_QUEUE_MAX] = e;
        q->count++;
        ok = 1;
        if (q->count == CA_STORE_LOG_BATCH_MAX) {
            apr_thread_cond_signal(q->cond);
        }
    }
    else {
        q->dropped++;
    }
    apr_thread_mutex_unlock(q->mutex);
    return ok;
}

static const char *clip(apr_pool_t *p, const char *s, apr_size_t max)
{
    return (s && strlen(s) > max) ? apr_pstrndup(p, s, max) : s;
}

static void write_now(request_rec *r, ca_api_req_t *q, const ca_request_log_t *log);

int ca_log_transaction(request_rec *r)
{
    ca_api_req_t *q = ca_api_req(r);
    ca_server_conf *sc;
    ca_request_log_t log;
    entry_t *e;

    if (!q || !q->route.endpoint_id) {
        return DECLINED;
    }
    memset(&log, 0, sizeof(log));
    log.endpoint_id = q->route.endpoint_id;
    log.ts = apr_time_sec(q->start);
    log.method = r->method;
    log.resource = q->route.resource ? q->route.resource
                   : q->route.kind == CA_ROUTE_DESCRIBE ? "" : q->route.kind == CA_ROUTE_OPENAPI
                   ? "openapi.json" : (q->res ? q->res->name : NULL);
    log.record_id = q->record_id ? q->record_id : q->route.id;
    log.status = r->status;
    log.item_count = q->item_count > 0 || (q->status >= 200 && q->status < 300 && q->item_count == 0
                                           && q->route.kind == CA_ROUTE_COLLECTION)
                     ? q->item_count : -1;
    log.duration_us = apr_time_now() - q->start;
    log.query = clip(r->pool, r->args ? ca_http_redact_query(r->pool, r->args) : NULL, 2048);
    log.error_code = q->error_code;
    log.error_detail = clip(r->pool, q->error_detail, 1024);
    log.client_ip = r->useragent_ip;
    log.user_agent = clip(r->pool, apr_table_get(r->headers_in, "User-Agent"), 512);
    log.request_id = ca_request_id(r);

    sc = ap_get_module_config(r->server->module_config, &clientapi_module);
    if (!sc->logq || !sc->logq->thread) {
        write_now(r, q, &log);      /* no writer thread in this process */
        return OK;
    }
    if (!(e = entry_new(&log))) {
        apr_thread_mutex_lock(sc->logq->mutex);
        sc->logq->dropped++;
        apr_thread_mutex_unlock(sc->logq->mutex);
        return OK;
    }
    if (q->ep && q->endpoint_id) {
        e->ep_row_id = q->ep->id;
        e->ep_last_used = q->ep->last_used_at;
    }
    e->queued_at = apr_time_now();
    if (!enqueue(sc->logq, e)) {
        free(e);                    /* counted; reported by the writer thread */
    }
    return OK;
}

/* Without a writer thread (it could not be started): the row is written here, after the
 * answer, on the request's connection. */
static void write_now(request_rec *r, ca_api_req_t *q, const ca_request_log_t *log)
{
    const ca_request_log_t *rows[1];
    const char *err = NULL;
    ca_db_t db;
    apr_status_t rv;

    if (q->have_db) {
        db = q->db;
    }
    else if (ca_dbd_acquire(r, &db) != APR_SUCCESS) {
        return;
    }
    rows[0] = log;
    rv = ca_store_request_logs_write(r->pool, &db, rows, 1, NULL, &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, CA_LOGNO(01101)
                      "request log entry not written (request %s): %s", log->request_id,
                      err ? err : "");
    }
}

/* ---- the writer thread ----------------------------------------------------------------- */

/* last_used_at without a write per request: only when the value read at authentication is
 * older than a minute, and at most once a minute per endpoint and process for the same
 * value read (the UPDATE's own condition absorbs the other processes). */
static void touch_endpoints(struct ca_logq *q, apr_pool_t *p, ca_db_t *db,
                            entry_t *const *batch, int n)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    int i;

    for (i = 0; i < n; i++) {
        const entry_t *e = batch[i];
        apr_int64_t *last;
        const char *args[3], *err = NULL;
        apr_status_t rv;

        if (!e->ep_row_id || e->ep_last_used > now - CA_LAST_USED_GRANULARITY) {
            continue;
        }
        /* [0] id, [1] when we touched it, [2] the last_used_at requests saw then */
        last = apr_hash_get(q->touched, &e->ep_row_id, sizeof(e->ep_row_id));
        if (last && last[1] > now - CA_LAST_USED_GRANULARITY && last[2] == e->ep_last_used) {
            continue;
        }
        if (!last) {
            last = apr_palloc(q->pool, 3 * sizeof(*last));
            last[0] = e->ep_row_id;
            apr_hash_set(q->touched, &last[0], sizeof(last[0]), last);
        }
        last[1] = now;
        last[2] = e->ep_last_used;
        args[0] = apr_ltoa(p, (long)now);
        args[1] = apr_ltoa(p, (long)e->ep_row_id);
        args[2] = apr_ltoa(p, (long)(now - CA_LAST_USED_GRANULARITY));
        rv = ca_db_exec(p, db, CA_SQL_ENDPOINT_TOUCH, 3, args, NULL, &err);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, q->s, CA_LOGNO(01102)
                         "last_used_at of %s not updated: %s", e->log.endpoint_id,
                         err ? err : "");
        }
    }
}

/* Write rows (at most CA_STORE_LOG_BATCH_MAX) on a connection of our own. */
static apr_status_t db_write(struct ca_logq *q, apr_pool_t *p,
                             const ca_request_log_t *const *rows, int n,
                             entry_t *const *touch, const char **err)
{
    ap_dbd_t *dbd = dbd_open_fn ? dbd_open_fn(p, q->s) : NULL;
    ca_db_t db;
    apr_status_t rv;
    int written = 0;

    if (!dbd) {
        *err = "no database connection from mod_dbd";
        return CA_DB_EUNAVAILABLE;
    }
    db.driver = dbd->driver;
    db.handle = dbd->handle;
    db.prepared = dbd->prepared;
    rv = ca_store_request_logs_write(p, &db, rows, n, &written, err);
    if (rv == APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, q->s, CA_LOGNO(01119)
                     "request logs: batch of %d rows written (%d new)", n, written);
    }
    if (rv == APR_SUCCESS && touch) {
        touch_endpoints(q, p, &db, touch, n);
    }
    dbd_close_fn(q->s, dbd);
    return rv;
}

static int pid_alive(long pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Own spool file aside (seq > 0) so that appends go to a fresh one. */
static void spool_freeze(struct ca_logq *q, apr_pool_t *p)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, q->own_path, APR_FINFO_SIZE, p) == APR_SUCCESS && fi.size > 0) {
        const char *to;
        apr_status_t rv;

        do {    /* never onto a file left by an earlier process with our pid */
            to = apr_pstrcat(p, q->spool_dir, "/",
                             ca_logspool_name(p, q->tag, (long)getpid(), ++q->seq), NULL);
        } while (apr_stat(&fi, to, APR_FINFO_TYPE, p) == APR_SUCCESS);
        rv = apr_file_rename(q->own_path, to, p);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, q->s, CA_LOGNO(01103)
                         "request-log spool file %s cannot be renamed", q->own_path);
        }
    }
}

static apr_status_t spool_append(struct ca_logq *q, apr_pool_t *p,
                                 const ca_request_log_t *const *rows, int n)
{
    apr_off_t used = 0, size = 0;
    apr_status_t rv;

    rv = ca_logspool_dir_size(p, q->spool_dir, &used);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, q->s, CA_LOGNO(01104)
                     "request-log spool directory %s cannot be read (ClientAPILogSpool)",
                     q->spool_dir);
        return rv;
    }
    if (used + (apr_off_t)n * 512 > q->spool_max) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, q->s, CA_LOGNO(01105)
                     "request-log spool %s is full (%" APR_OFF_T_FMT " of %" APR_OFF_T_FMT
                     " bytes, ClientAPILogSpool max=): %d rows wait in memory", q->spool_dir,
                     used, q->spool_max, n);
        return APR_ENOSPC;
    }
    rv = ca_logspool_append(p, q->own_path, rows, n, &size);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, q->s, CA_LOGNO(01106)
                     "request logs cannot be spooled to %s: %d rows wait in memory",
                     q->own_path, n);
        return rv;
    }
    q->spool_pending = 1;
    if (size > CA_LOG_SPOOL_FILE_MAX) {
        spool_freeze(q, p);
    }
    return APR_SUCCESS;
}

/* A write failed: spool for CA_LOG_DB_RETRY; said once per outage. */
static void db_failed(struct ca_logq *q, apr_status_t rv, const char *err)
{
    if (!q->db_down) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, q->s, CA_LOGNO(01113)
                     "request logs cannot be written (%s): spooled to %s until the "
                     "database answers", err ? err : "database error", q->spool_dir);
    }
    q->db_down = 1;
    q->db_retry_at = apr_time_now() + CA_LOG_DB_RETRY;
}

static void db_back(struct ca_logq *q)
{
    if (q->db_down) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, q->s, CA_LOGNO(01112)
                     "request logs: the database answers again (%" APR_UINT64_T_FMT
                     " rows were spooled)", q->spooled);
        q->db_down = 0;
        q->spooled = 0;
    }
}

/* Replay a spool file we own or can claim (one per call, so that the queue is served in
 * between); stops at the first failed write. */
static void spool_replay(struct ca_logq *q, apr_pool_t *parent)
{
    apr_array_header_t *paths = NULL;
    apr_uint64_t total = 0;
    apr_pool_t *p;
    apr_status_t rv;
    int i, left = 0;

    apr_pool_create(&p, parent);
    spool_freeze(q, p);
    rv = ca_logspool_claim(p, q->spool_dir, q->tag, (long)getpid(), &q->seq, pid_alive, &paths);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, q->s, CA_LOGNO(01107)
                     "request-log spool directory %s cannot be read (ClientAPILogSpool)",
                     q->spool_dir);
        apr_pool_destroy(p);
        return;
    }
    for (i = 0; i < paths->nelts; i++) {
        const char *path = APR_ARRAY_IDX(paths, i, const char *);
        apr_array_header_t *rows = NULL;
        apr_size_t torn = 0;
        const char *err = NULL;
        apr_pool_t *fp;
        int bad = 0, off;

        if (left || i > 0) {
            left = 1;           /* the next one on the next round */
            continue;
        }
        apr_pool_create(&fp, p);
        rv = ca_logspool_read(fp, path, &rows, &bad, &torn);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, q->s, CA_LOGNO(01108)
                         "request-log spool file %s cannot be read", path);
            left = 1;
            apr_pool_destroy(fp);
            continue;
        }
        if (bad || torn) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, q->s, CA_LOGNO(01109)
                         "request-log spool file %s: %d damaged lines and %" APR_SIZE_T_FMT
                         " bytes of a torn last line skipped", path, bad, torn);
        }
        for (off = 0; off < rows->nelts; off += CA_STORE_LOG_BATCH_MAX) {
            int n = rows->nelts - off;
            n = n > CA_STORE_LOG_BATCH_MAX ? CA_STORE_LOG_BATCH_MAX : n;
            rv = db_write(q, fp, (const ca_request_log_t *const *)rows->elts + off, n, NULL,
                          &err);
            if (rv != APR_SUCCESS) {
                break;
            }
        }
        if (rv != APR_SUCCESS) {
            /* kept: written rows are skipped by the next replay (unique request_id) */
            ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, q->s, CA_LOGNO(01110)
                         "request-log spool replay of %s interrupted, retried later: %s",
                         path, err ? err : "");
            db_failed(q, rv, err);
            left = 1;
        }
        else {
            db_back(q);
            total += (apr_uint64_t)rows->nelts;
            apr_file_remove(path, fp);
        }
        apr_pool_destroy(fp);
    }
    q->spool_pending = left;
    if (total) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, q->s, CA_LOGNO(01111)
                     "request logs: %" APR_UINT64_T_FMT " spooled rows written to the "
                     "database", total);
    }
    apr_pool_destroy(p);
}

static batch_fate_t write_batch(struct ca_logq *q, apr_pool_t *p, entry_t *const *batch, int n)
{
    const ca_request_log_t **rows = apr_palloc(p, sizeof(*rows) * n);
    apr_time_t now = apr_time_now();
    const char *err = NULL;
    apr_status_t rv;
    int i;

    for (i = 0; i < n; i++) {
        rows[i] = &batch[i]->log;
    }
    if (now >= q->db_retry_at) {
        rv = db_write(q, p, rows, n, batch, &err);
        if (rv == APR_SUCCESS) {
            db_back(q);
            return BATCH_WRITTEN;
        }
        db_failed(q, rv, err);
    }
    if (spool_append(q, p, rows, n) == APR_SUCCESS) {
        q->spooled += (apr_uint64_t)n;
        return BATCH_SPOOLED;
    }
    return BATCH_FAILED;
}

static void report_drops(struct ca_logq *q, apr_time_t now)
{
    apr_uint64_t dropped;

    if (now < q->drop_report_at) {
        return;
    }
    apr_thread_mutex_lock(q->mutex);
    dropped = q->dropped;
    q->dropped = 0;
    apr_thread_mutex_unlock(q->mutex);
    if (dropped) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, q->s, CA_LOGNO(01114)
                     "request logs: %" APR_UINT64_T_FMT " rows dropped: the queue of this "
                     "process was full (%d rows; the database and the spool do not take "
                     "them fast enough)", dropped, CA_LOG_QUEUE_MAX);
        q->drop_report_at = now + CA_LOG_DROP_REPORT;
    }
}

static void *APR_THREAD_FUNC writer_main(apr_thread_t *thd, void *data)
{
    struct ca_logq *q = data;
    entry_t *batch[CA_STORE_LOG_BATCH_MAX];

    for (;;) {
        apr_time_t now = apr_time_now();
        int n = 0, stopping, i;
        apr_pool_t *p;

        apr_thread_mutex_lock(q->mutex);
        if (!q->stopping && q->count < CA_STORE_LOG_BATCH_MAX
            && (q->count == 0 || now - q->ring[q->head]->queued_at < CA_LOG_FLUSH_INTERVAL)) {
            apr_interval_time_t wait = CA_LOG_FLUSH_INTERVAL;
            if (q->count) {
                wait = q->ring[q->head]->queued_at + CA_LOG_FLUSH_INTERVAL - now;
            }
            apr_thread_cond_timedwait(q->cond, q->mutex, wait > 0 ? wait : 1);
            now = apr_time_now();
        }
        stopping = q->stopping;
        if (q->count >= CA_STORE_LOG_BATCH_MAX || (q->count && stopping)
            || (q->count && now - q->ring[q->head]->queued_at >= CA_LOG_FLUSH_INTERVAL)) {
            n = q->count < CA_STORE_LOG_BATCH_MAX ? q->count : CA_STORE_LOG_BATCH_MAX;
            for (i = 0; i < n; i++) {
                batch[i] = q->ring[(q->head + i) % CA_LOG_QUEUE_MAX];
            }
        }
        apr_thread_mutex_unlock(q->mutex);

        apr_pool_create(&p, q->pool);
        if (n) {
            batch_fate_t fate = write_batch(q, p, batch, n);
            if (fate == BATCH_FAILED && stopping) {
                apr_thread_mutex_lock(q->mutex);
                q->dropped += (apr_uint64_t)n;
                apr_thread_mutex_unlock(q->mutex);
                q->drop_report_at = 0;
                fate = BATCH_WRITTEN;   /* nowhere to keep them: counted and reported */
            }
            if (fate != BATCH_FAILED) {
                apr_thread_mutex_lock(q->mutex);
                q->head = (q->head + n) % CA_LOG_QUEUE_MAX;
                q->count -= n;
                apr_thread_mutex_unlock(q->mutex);
                for (i = 0; i < n; i++) {
                    free(batch[i]);
                }
            }
            else {
                /* kept in the queue; try again after a pause */
                apr_sleep(apr_time_from_sec(1));
            }
        }
        now = apr_time_now();
        if (!stopping && now >= q->db_retry_at && (q->spool_pending || now >= q->claim_at)) {
            if (now >= q->claim_at) {
                q->claim_at = now + CA_LOG_CLAIM_INTERVAL;
            }
            spool_replay(q, p);
        }
        report_drops(q, now);
        apr_pool_destroy(p);

        if (stopping) {
            apr_thread_mutex_lock(q->mutex);
            n = q->count;
            apr_thread_mutex_unlock(q->mutex);
            if (!n) {
                break;
            }
        }
    }
    report_drops(q, apr_time_now());
    /* a plain return, not apr_thread_exit(): pthread_exit's forced unwind leaves the
     * stack's sanitizer shadow behind (a false ASan report at thread exit); the thread's
     * pool goes with q->pool */
    return NULL;
}

/* pchild pre-cleanup: before mod_dbd's pools go (they are subpools of pchild). */
static apr_status_t writer_stop(void *data)
{
    struct ca_logq *q = data;
    apr_status_t trv;

    if (!q->thread) {
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(q->mutex);
    q->stopping = 1;
    apr_thread_cond_signal(q->cond);
    apr_thread_mutex_unlock(q->mutex);
    apr_thread_join(&trv, q->thread);
    q->thread = NULL;
    return APR_SUCCESS;
}

static const char *spool_dir(apr_pool_t *p, const ca_server_conf *sc)
{
    return sc->log_spool_dir ? sc->log_spool_dir
                             : ap_runtime_dir_relative(p, "clientapi-logspool");
}

/* post_config: the spool directories exist and belong to the user the children run as. */
apr_status_t ca_log_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;

    dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return APR_SUCCESS;
    }
    for (vs = s; vs; vs = vs->next) {
        ca_server_conf *sc = ap_get_module_config(vs->module_config, &clientapi_module);
        const char *dir = spool_dir(ptemp, sc);
        apr_status_t rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                                 | APR_FPROT_UEXECUTE, ptemp);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, CA_LOGNO(01115)
                         "ClientAPILogSpool: directory %s cannot be created", dir);
            return rv;
        }
        if (geteuid() == 0 && chown(dir, ap_unixd_config.user_id, (gid_t)-1) != 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, vs, CA_LOGNO(01116)
                         "ClientAPILogSpool: directory %s cannot be given to the server's "
                         "User", dir);
            return APR_FROM_OS_ERROR(errno);
        }
    }
    return APR_SUCCESS;
}

static void logq_start(apr_pool_t *pchild, server_rec *vs, ca_server_conf *sc, int index)
{
    struct ca_logq *q = apr_pcalloc(pchild, sizeof(*q));
    apr_allocator_t *alloc = NULL;
    apr_status_t rv;

    q->s = vs;
    q->tag = index ? apr_psprintf(pchild, "s%d", index) : "main";
    q->spool_dir = spool_dir(pchild, sc);
    q->spool_max = sc->log_spool_max > 0 ? sc->log_spool_max : CA_LOG_SPOOL_DEFAULT_MAX;
    q->own_path = apr_pstrcat(pchild, q->spool_dir, "/",
                              ca_logspool_name(pchild, q->tag, (long)getpid(), 0), NULL);
    q->ring = apr_pcalloc(pchild, sizeof(*q->ring) * CA_LOG_QUEUE_MAX);
    sc->logq = q;
    /* the thread's pool has an allocator of its own: pchild's is not shared safely in
     * every MPM */
    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS
        || (rv = apr_pool_create_ex(&q->pool, pchild, NULL, alloc)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, vs, CA_LOGNO(01117)
                     "request-log writer: no memory; rows are written by the requests");
        return;
    }
    apr_allocator_owner_set(alloc, q->pool);
    q->touched = apr_hash_make(q->pool);
    if ((rv = apr_thread_mutex_create(&q->mutex, APR_THREAD_MUTEX_DEFAULT, pchild))
        != APR_SUCCESS
        || (rv = apr_thread_cond_create(&q->cond, pchild)) != APR_SUCCESS
        || (rv = apr_thread_create(&q->thread, NULL, writer_main, q, q->pool)) != APR_SUCCESS) {
        q->thread = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, vs, CA_LOGNO(01118)
                     "request-log writer thread not started; rows are written by the "
                     "requests");
        return;
    }
    apr_pool_pre_cleanup_register(pchild, q, writer_stop);
}

void ca_log_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *vs;
    int index = 0;

    if (!dbd_open_fn || !dbd_close_fn) {
        return;
    }
    /* one queue per distinct configuration: a virtual host without ClientAPI directives
     * shares its main server's (and so its queue and database) */
    for (vs = s; vs; vs = vs->next, index++) {
        ca_server_conf *sc = ap_get_module_config(vs->module_config, &clientapi_module);
        if (!sc->logq) {
            logq_start(pchild, vs, sc, index);
        }
    }
}
