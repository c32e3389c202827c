/* mod_clientapi: module declaration and hooks.
 *
 * Configuration errors are caught while the configuration is read (so `apachectl -t` reports
 * them, naming the directive); post_config finishes what needs every directive read (provider
 * URL overrides, database statements) and sets up process-wide libraries once.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_request.h"
#include "ap_expr.h"
#include "http_protocol.h"
#include "ap_mpm.h"

#define CA_DECLARING_MODULE
#include "mod_clientapi.h"
#include "mod_clientapi_session.h"
#include "mod_clientapi_connect.h"
#include "ca_http.h"

static int curl_ready;

static apr_status_t http_global_cleanup(void *data)
{
    ca_http_global_cleanup();
    curl_ready = 0;
    return APR_SUCCESS;
}

static int ca_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    ca_ratelimit_pre_config(pconf);
    ca_keycache_pre_config(pconf);
    return OK;
}

/* Runs after the configuration is read, for `apachectl -t` too. */
static int ca_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                           server_rec *s)
{
    server_rec *vs;

    for (vs = s; vs; vs = vs->next) {
        if (ca_config_check(pconf, ptemp, vs) != APR_SUCCESS) {
            return !OK; /* logged why */
        }
    }
    return OK;
}

static int ca_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *s)
{
    server_rec *vs;
    apr_status_t rv;

    for (vs = s; vs; vs = vs->next) {
        ca_dbd_register(pconf, vs);
    }
    if (ca_ratelimit_post_config(pconf, ptemp, s) != APR_SUCCESS
        || ca_keycache_post_config(pconf, ptemp, s) != APR_SUCCESS
        || ca_retention_post_config(pconf, s) != APR_SUCCESS
        || ca_log_post_config(pconf, ptemp, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR; /* logged why */
    }
    if (!curl_ready) {
        /* libcurl's global state is set up once per process, before any thread exists */
        const char *err = NULL;
        if ((rv = ca_http_global_init(&err)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, CA_LOGNO(00001)
                         "libcurl global initialisation failed: %s", err ? err : "");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        /* on pconf, not the process pool: mod_so unloads this module when pconf goes, and
         * the process pool's cleanups run after that (a cleanup there would jump into
         * unmapped code when the process exits; valgrind of httpd -X showed it) */
        apr_pool_cleanup_register(pconf, NULL, http_global_cleanup, apr_pool_cleanup_null);
        curl_ready = 1;
    }
    return OK;
}

static void ca_child_init(apr_pool_t *pchild, server_rec *s)
{
    ca_dbd_child_init(pchild, s);
    ca_ratelimit_child_init(pchild, s);
    ca_keycache_child_init(pchild, s);
    ca_log_child_init(pchild, s);
}

static int ca_handler(request_rec *r)
{
    if (!r->handler) {
        return DECLINED;
    }
    if (!strcmp(r->handler, CA_HANDLER_API)) {
        return ca_api_handler(r);
    }
    if (!strcmp(r->handler, CA_HANDLER_DASHBOARD)) {
        return ca_dashboard_handler(r);
    }
    if (!strcmp(r->handler, CA_HANDLER_CONTACT)) {
        return ca_contact_handler(r);
    }
    if (!strcmp(r->handler, CA_HANDLER_OAUTH)) {
        return ca_connect_callback_handler(r);
    }
    return DECLINED;
}

/* httpd answers TRACE itself in a map_to_storage hook (ap_send_http_trace, with TraceEnable
 * on, its default) by echoing the request back, the caller's key or the session cookie
 * included. For a URL one of our handlers serves, TRACE goes to that handler instead, which
 * answers it as any other method it does not take. translate_name runs after the first
 * <Location> walk, so SetHandler is known there; map_to_storage then claims the request
 * before httpd's TRACE hook can. */
static int is_our_handler(const char *h)
{
    return h && (!strcmp(h, CA_HANDLER_API) || !strcmp(h, CA_HANDLER_DASHBOARD)
                 || !strcmp(h, CA_HANDLER_CONTACT) || !strcmp(h, CA_HANDLER_OAUTH));
}

static int ca_trace_translate(request_rec *r)
{
    core_dir_config *d;
    const char *err = NULL;
    const char *h;

    d = ap_get_core_module_config(r->per_dir_config);
    if (!d || !d->expr_handler) {
        return DECLINED;
    }
    h = ap_expr_str_exec(r, d->expr_handler, &err);
    if (r->method_number == M_TRACE && is_our_handler(h)) {
        apr_table_setn(r->notes, "clientapi-trace", "1");
    }
    else if (h && !strcmp(h, CA_HANDLER_API)) {
        apr_table_setn(r->notes, "clientapi-api", "1");
    }
    return DECLINED;
}

/* An API URL is not a file either. Left to core_map_to_storage, every request would walk the
 * file system under DocumentRoot: a stat of each directory from / down and an open() of each
 * level's .htaccess, 15 system calls per request, about a tenth of httpd's CPU in the
 * benchmark's list. The API handler never reads r->filename or r->finfo, and it authenticates
 * every call itself, so it claims the request here, as mod_proxy does for its URLs; <Location>
 * sections still apply (httpd walks them again after this hook), <Directory> and .htaccess do
 * not. The dashboard and the other handlers keep the walk. */
static int ca_trace_map(request_rec *r)
{
    if (r->method_number == M_TRACE && apr_table_get(r->notes, "clientapi-trace")) {
        return OK;              /* not a file; our handler answers it */
    }
    if (apr_table_get(r->notes, "clientapi-api")) {
        return OK;
    }
    return DECLINED;
}

static void ca_register_hooks(apr_pool_t *p)
{
    /* our statements must be declared before mod_dbd sets up its connection pools */
    static const char *const succ_dbd[] = { "mod_dbd.c", NULL };

    ap_hook_pre_config(ca_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(ca_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ca_post_config, NULL, succ_dbd, APR_HOOK_MIDDLE);
    ap_hook_child_init(ca_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ca_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(ca_trace_translate, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_map_to_storage(ca_trace_map, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_log_transaction(ca_log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(clientapi) = {
    STANDARD20_MODULE_STUFF,
    ca_create_dir_conf,
    ca_merge_dir_conf,
    ca_create_server_conf,
    ca_merge_server_conf,
    ca_cmds,
    ca_register_hooks,
    AP_MODULE_FLAG_NONE
};
