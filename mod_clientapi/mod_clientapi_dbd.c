/* mod_clientapi: the database through mod_dbd, as mod_authn_dbd does it.
 *
 * Every statement of the core's table (ca_store) is declared with ap_dbd_prepare at config time;
 * requests take their connection with ap_dbd_acquire(r) and hand the core a ca_db_t, which has
 * the same three members as ap_dbd_t. The SQL is the same on the pgsql and sqlite3 drivers.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_dbd.h"
#include "mod_dbd.h"

#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include "mod_clientapi.h"
#include "ca_key.h"

static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire_fn;

void ca_dbd_register(apr_pool_t *pconf, server_rec *s)
{
    const ca_statement_t *st;

    if (!dbd_prepare_fn) {
        dbd_prepare_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
        dbd_acquire_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    }
    if (!dbd_prepare_fn || !dbd_acquire_fn) {
        return; /* checked and reported at post_config */
    }
    for (st = ca_store_statements; st->label; st++) {
        dbd_prepare_fn(s, st->sql, st->label);
    }
}

int ca_dbd_available(void)
{
    return dbd_prepare_fn && dbd_acquire_fn;
}

apr_status_t ca_dbd_acquire(request_rec *r, ca_db_t *db)
{
    ap_dbd_t *dbd = dbd_acquire_fn ? dbd_acquire_fn(r) : NULL;

    if (!dbd) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00101)
                      "no database connection from mod_dbd (request %s)", ca_request_id(r));
        return APR_ECONNREFUSED;
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    return APR_SUCCESS;
}

#if APR_HAS_THREADS
static apr_thread_mutex_t *sync_mutex;
#endif

void ca_dbd_child_init(apr_pool_t *pchild, server_rec *s)
{
#if APR_HAS_THREADS
    apr_thread_mutex_create(&sync_mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
#endif
}

static void sync_one(request_rec *r, ca_db_t *db, const ca_declared_endpoint_t *d)
{
    ca_endpoint_t ep;
    const char *err = NULL;
    apr_status_t rv;

    memset(&ep, 0, sizeof(ep));
    ep.public_id = d->public_id;
    ep.name = d->public_id;
    ep.connection_id = apr_atoi64(d->connection);
    ep.scope_kind = d->scope_client ? "client" : "company";
    ep.company_id = d->company_id;
    ep.client_id = d->client_id;
    ep.access_mode = d->read_write ? "read-write" : "read-only";
    ep.status = "active";
    ep.managed_by_config = 1;
    rv = ca_store_endpoint_sync_config(r->pool, db, &ep, d->key_hash, "cak_\xe2\x80\xa6 (config)",
                                       apr_time_sec(apr_time_now()), &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, CA_LOGNO(00102)
                      "ClientAPIEndpoint %s (%s) cannot be used: %s", d->public_id,
                      d->defined_at, err ? err : "database error");
    }
}

void ca_dbd_sync_declared(request_rec *r, ca_db_t *db)
{
    ca_server_conf *sc = ap_get_module_config(r->server->module_config, &clientapi_module);
    int i;

    if (sc->declared_synced) {
        return;
    }
#if APR_HAS_THREADS
    if (sync_mutex) {
        apr_thread_mutex_lock(sync_mutex);
    }
#endif
    if (!sc->declared_synced) {
        for (i = 0; i < sc->endpoints->nelts; i++) {
            sync_one(r, db, &APR_ARRAY_IDX(sc->endpoints, i, ca_declared_endpoint_t));
        }
        sc->declared_synced = 1;
    }
#if APR_HAS_THREADS
    if (sync_mutex) {
        apr_thread_mutex_unlock(sync_mutex);
    }
#endif
}
