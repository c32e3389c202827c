/* mod_clientapi: the request log. Every request to an endpoint URL is recorded after its answer
 * was sent (log_transaction), so the caller never waits for the write: endpoint, time, method,
 * resource, record id, status, item count, duration, query (secrets redacted), error code and
 * detail, client IP (mod_remoteip's useragent_ip), user agent and request id.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_clientapi.h"
#include "mod_clientapi_api.h"
#include "ca_http.h"

#define CA_LAST_USED_GRANULARITY 60 /* seconds: last_used_at is written at most this often */

/* last_used_at without a write per request: only when the value read at authentication is
 * older than the granularity (the UPDATE's own condition absorbs concurrent requests). */
static void touch_endpoint(request_rec *r, ca_api_req_t *q, ca_db_t *db)
{
    apr_int64_t now = apr_time_sec(q->start);
    const char *args[3], *err = NULL;
    apr_status_t rv;

    if (!q->ep || !q->endpoint_id || q->ep->last_used_at > now - CA_LAST_USED_GRANULARITY) {
        return;
    }
    args[0] = apr_ltoa(r->pool, (long)now);
    args[1] = apr_ltoa(r->pool, (long)q->ep->id);
    args[2] = apr_ltoa(r->pool, (long)(now - CA_LAST_USED_GRANULARITY));
    rv = ca_db_exec(r->pool, db, CA_SQL_ENDPOINT_TOUCH, 3, args, NULL, &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, CA_LOGNO(00402)
                      "last_used_at of %s not updated: %s", q->endpoint_id, err ? err : "");
    }
}

static const char *clip(apr_pool_t *p, const char *s, apr_size_t max)
{
    return (s && strlen(s) > max) ? apr_pstrndup(p, s, max) : s;
}

int ca_log_transaction(request_rec *r)
{
    ca_api_req_t *q = ca_api_req(r);
    ca_request_log_t log;
    ca_db_t db;
    const char *err = NULL;
    apr_status_t rv;

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

    if (!q->have_db) {
        if (ca_dbd_acquire(r, &db) != APR_SUCCESS) {
            return DECLINED;
        }
    }
    else {
        db = q->db;
    }
    touch_endpoint(r, q, &db);
    rv = ca_store_request_log_insert(r->pool, &db, &log, &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, CA_LOGNO(00401)
                      "request log entry not written (request %s): %s", log.request_id,
                      err ? err : "");
    }
    return OK;
}
