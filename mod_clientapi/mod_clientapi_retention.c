/* mod_clientapi: request-log retention (ClientAPILogRetention, default 90 days) and the purge
 * of what expires anyway (sessions, OAuth states, idempotency records, ended keys), run by
 * mod_watchdog's singleton child thread at start and then hourly, off every request path.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "apr_dbd.h"
#include "mod_dbd.h"
#include "mod_watchdog.h"

#include "mod_clientapi.h"

#define CA_RETENTION_DEFAULT_DAYS 90
#define CA_PURGE_INTERVAL apr_time_from_sec(3600)
#define CA_PURGE_RETRY    apr_time_from_sec(5)   /* the watchdog's tick: a purge that found
                                                    no database is tried again this soon */

/* When the next purge is due, in the one child that runs the singleton. The watchdog starts
 * its thread in child_init, possibly before mod_dbd's child_init has set up the connection
 * pool: the first purge is one tick after the start, and one that finds no database is tried
 * again a tick later, not an hour later. */
static apr_time_t next_due;
static int postponed;

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;

static apr_status_t purge(int state, void *data, apr_pool_t *pool)
{
    server_rec *s = data;
    ca_server_conf *sc = ap_get_module_config(s->module_config, &clientapi_module);
    int days = sc->log_retention_days > 0 ? sc->log_retention_days
                                          : CA_RETENTION_DEFAULT_DAYS;
    apr_int64_t purged = 0;
    const char *err = NULL;
    ap_dbd_t *dbd;
    ca_db_t db;
    apr_status_t rv;

    if (state == AP_WATCHDOG_STATE_STOPPING || apr_time_now() < next_due) {
        return APR_SUCCESS;
    }
    if (state == AP_WATCHDOG_STATE_STARTING) {
        /* mod_dbd's pool may not be there yet: the first purge comes one tick later, so a
         * normal start does not warn of a missing database */
        next_due = apr_time_now() + CA_PURGE_RETRY;
        return APR_SUCCESS;
    }
    if (!(dbd = dbd_open_fn(pool, s))) {
        if (!postponed++) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, CA_LOGNO(00911)
                         "retention purge postponed: no database connection (retried every "
                         "%d s)", (int)apr_time_sec(CA_PURGE_RETRY));
        }
        next_due = apr_time_now() + CA_PURGE_RETRY;
        return APR_SUCCESS;
    }
    postponed = 0;
    next_due = apr_time_now() + CA_PURGE_INTERVAL;
    db.driver = dbd->driver;
    db.handle = dbd->handle;
    db.prepared = dbd->prepared;
    rv = ca_store_purge(pool, &db, apr_time_sec(apr_time_now()),
                        (apr_int64_t)days * 86400, &purged, &err);
    dbd_close_fn(s, dbd);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, CA_LOGNO(00912)
                     "retention purge failed, retried in an hour: %s", err ? err : "");
    }
    else if (purged) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, CA_LOGNO(00913)
                     "retention purge: %" APR_INT64_T_FMT " rows (request logs older than "
                     "%d days, expired sessions, states and records)", purged, days);
    }
    return APR_SUCCESS;
}

apr_status_t ca_retention_post_config(apr_pool_t *pconf, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *wd_get;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *wd_register;
    ap_watchdog_t *wd;
    apr_status_t rv;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return APR_SUCCESS;
    }
    wd_get = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    if (!wd_get || !wd_register || !dbd_open_fn || !dbd_close_fn) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, CA_LOGNO(00914)
                     "mod_clientapi needs mod_watchdog and mod_dbd for its log retention");
        return APR_EGENERAL;
    }
    /* one child runs it (singleton), so each purge happens once per server */
    if ((rv = wd_get(&wd, AP_WATCHDOG_SINGLETON, 0, 1, pconf)) != APR_SUCCESS
        || (rv = wd_register(wd, CA_PURGE_RETRY, s, purge)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, CA_LOGNO(00915)
                     "log retention could not be scheduled with mod_watchdog");
        return rv;
    }
    return APR_SUCCESS;
}
