/* mod_clientapi: the shared caches (the key cache, the rate limiter's counters). Each is one
 * mod_socache instance for every process of the server, set up at post_config the way
 * mod_authn_socache does it, with a global mutex when its provider is not safe across processes
 * (shmcb). The mutex is registered under the cache's name, so `Mutex` can choose its mechanism.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_provider.h"
#include "util_mutex.h"

#include "mod_clientapi.h"

void ca_socache_pre_config(apr_pool_t *pconf, const char *name)
{
    ap_mutex_register(pconf, name, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t socache_destroy(void *data)
{
    ca_socache_t *c = data;

    if (c->inst && c->provider) {
        c->provider->destroy(c->inst, c->s);
    }
    c->provider = NULL;
    c->inst = NULL;
    c->mutex = NULL;                    /* went with the same pool */
    c->s = NULL;
    return APR_SUCCESS;
}

apr_status_t ca_socache_setup(ca_socache_t *c, const ap_socache_provider_t *provider,
                              ap_socache_instance_t *inst, const struct ap_socache_hints *hints,
                              apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    const char *err;
    apr_status_t rv;

    c->provider = provider;
    c->inst = inst;
    c->mutex = NULL;
    c->s = s;
    if (!c->provider) {
        c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, "shmcb",
                                         AP_SOCACHE_PROVIDER_VERSION);
        if (!c->provider) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, CA_LOGNO(01601)
                         "mod_clientapi needs mod_socache_shmcb for its %s "
                         "(LoadModule socache_shmcb_module, or a2enmod socache_shmcb)%s",
                         c->what, c->hint ? c->hint : "");
            return APR_EGENERAL;
        }
    }
    if (!c->inst && (err = c->provider->create(&c->inst, NULL, ptemp, pconf))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, CA_LOGNO(01602) "%s: %s", c->what, err);
        c->provider = NULL;
        return APR_EGENERAL;
    }
    if (c->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&c->mutex, NULL, c->name, NULL, s, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, CA_LOGNO(01603)
                         "%s: its mutex (%s) could not be created", c->what, c->name);
            c->inst = NULL;
            c->provider = NULL;
            return rv;
        }
    }
    rv = c->provider->init(c->inst, c->name, hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, CA_LOGNO(01604)
                     "%s could not be initialised", c->what);
        c->inst = NULL;
        c->provider = NULL;
        return rv;
    }
    apr_pool_cleanup_register(pconf, c, socache_destroy, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

void ca_socache_child_init(ca_socache_t *c, apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!c->mutex) {
        return;
    }
    rv = apr_global_mutex_child_init(&c->mutex, apr_global_mutex_lockfile(c->mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, CA_LOGNO(01605)
                     "%s: its mutex (%s) failed to attach in this process", c->what, c->name);
    }
}

apr_status_t ca_socache_lock(ca_socache_t *c)
{
    return c->mutex ? apr_global_mutex_lock(c->mutex) : APR_SUCCESS;
}

void ca_socache_unlock(ca_socache_t *c)
{
    if (c->mutex) {
        apr_global_mutex_unlock(c->mutex);
    }
}
