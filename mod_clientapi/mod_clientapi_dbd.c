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

#include "mod_clientapi.h"

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
