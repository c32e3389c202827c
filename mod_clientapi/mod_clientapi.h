/* mod_clientapi: shared declarations of the httpd glue (config, hooks, handlers).
 *
 * The glue is thin: everything that does not need httpd lives in the core (ca_*.c), which the
 * module, the `clientapi` command and the unit tests all link.
 */
#ifndef MOD_CLIENTAPI_H
#define MOD_CLIENTAPI_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_socache.h"
#include "apr_global_mutex.h"
#include "apr_hash.h"
#include "apr_tables.h"

#include "ca_crypto.h"
#include "ca_provider.h"
#include "ca_store.h"

/* Our own log tag: "CA" + 5 digits, so messages are greppable and never collide with httpd's
 * AH numbers. Every ap_log_*error() call in the module carries one, numbered once. */
#define CA_LOGNO(n) "CA" #n ": "

#ifndef CA_DECLARING_MODULE
APLOG_USE_MODULE(clientapi);
#endif
extern module AP_MODULE_DECLARE_DATA clientapi_module;

#define CA_UNSET (-1)

/* Handler names bound with SetHandler in separate <Location> blocks. */
#define CA_HANDLER_API       "clientapi-api"
#define CA_HANDLER_DASHBOARD "clientapi-dashboard"
#define CA_HANDLER_OAUTH     "clientapi-oauth-callback"
#define CA_HANDLER_CONTACT   "clientapi-contact"

/* Per-provider settings from httpd.conf (ClientAPIProviderURL / ClientAPIProviderClient). */
typedef struct {
    const char *name;
    const char *base_url;          /* NULL: keep the provider file's */
    const char *auth_base_url;     /* NULL: keep the provider file's OAuth URLs */
    int local_sandbox;             /* the admin marked base_url as a local sandbox */
    const char *client_id;
    const char *client_secret_src; /* "file:/path" or "env:NAME"; never the secret itself */
    const char *client_secret;     /* resolved at post_config; never logged */
    apr_table_t *param_src;        /* ClientAPIProviderParam: name -> file:, env: or value */
    apr_table_t *params;           /* resolved at check_config; values never logged */
} ca_provider_setting_t;

/* An endpoint declared in httpd.conf (ClientAPIEndpoint). */
typedef struct {
    const char *public_id;
    const char *connection;        /* connection id in the database */
    int scope_client;              /* 0: company scope, 1: client scope */
    const char *company_id;
    const char *client_id;
    int read_write;
    const char *key_hash;          /* "sha256:<hex>" */
    const char *defined_at;        /* "file:line" for messages */
} ca_declared_endpoint_t;

typedef struct {
    apr_array_header_t *provider_paths;    /* const char *: files or directories */
    apr_hash_t *provider_settings;         /* name -> ca_provider_setting_t* */
    apr_array_header_t *endpoints;         /* ca_declared_endpoint_t */
    const char *public_url;
    const char *secret_key_file;
    const char *deployment;                /* identifies this deployment in User-Agent */
    const char *ca_file;
    int connect_timeout_ms;
    int timeout_ms;
    apr_off_t max_response_bytes;
    int rate_limit;                        /* requests per window per endpoint; 0 = off */
    int rate_window;                       /* seconds */
    int authfail_limit;                    /* failed authentications per address; 0 = off */
    int authfail_window;                   /* seconds */
    int log_retention_days;
    const char *log_spool_dir;             /* ClientAPILogSpool; NULL: under DefaultRuntimeDir */
    apr_off_t log_spool_max;               /* bytes of spool files at most */
    int max_limit;                         /* cap for ?limit= (default 100, never > 1000) */
    apr_off_t max_body_bytes;
    const char *keycache;                  /* ClientAPIKeyCache spec: "off", "shmcb[:ARG]", ... */
    struct ap_socache_instance_t *keycache_inst;       /* created when the directive is read */
    const struct ap_socache_provider_t *keycache_prov; /* NULL: off, or shmcb by default */
    int keycache_ttl;                      /* seconds an entry is trusted */
    int keycache_stale;                    /* seconds a stale entry serves while the db is down */
    int signup;                            /* ClientAPISignup: 1 on, 0 off (default) */

    apr_hash_t *loaded;                    /* name -> const ca_provider_t*, as in the files */

    /* Filled at check_config, read-only afterwards (shared by all threads). A virtual host
     * without ClientAPI directives shares its main server's record, so this is always
     * derived from `loaded` afresh, never from itself. */
    apr_hash_t *providers;                 /* name -> const ca_provider_t*, overrides applied */
    ca_keyring_t *keyring;
    volatile int declared_synced;          /* runtime: declared endpoints are in the db */
    struct ca_logq *logq;                  /* runtime: this process's request-log queue */
} ca_server_conf;

typedef struct {
    const char *location;                  /* the <Location> path the handler is bound to */
} ca_dir_conf;

extern const command_rec ca_cmds[];
void *ca_create_server_conf(apr_pool_t *p, server_rec *s);
void *ca_merge_server_conf(apr_pool_t *p, void *basev, void *addv);
void *ca_create_dir_conf(apr_pool_t *p, char *dir);
void *ca_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);

/* Effective values (config value or built-in default). */
int ca_conf_max_limit(const ca_server_conf *sc);
apr_off_t ca_conf_max_body(const ca_server_conf *sc);

/* The values of a provider's api.config_params set with ClientAPIProviderParam (NULL: none);
 * they fill the {NAME} placeholders of its calls. */
const apr_table_t *ca_conf_provider_params(const ca_server_conf *sc, const char *provider);

/* check_config: apply provider URL overrides, read provider client secrets. */
apr_status_t ca_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* mod_clientapi_dbd.c: statements registered with mod_dbd at config time. */
void ca_dbd_register(apr_pool_t *pconf, server_rec *s);
/* Acquire this request's database connection; NULL when the database is unavailable. */
apr_status_t ca_dbd_acquire(request_rec *r, ca_db_t *db);
/* Make the database match the endpoints declared in httpd.conf (once per process). */
void ca_dbd_sync_declared(request_rec *r, ca_db_t *db);
void ca_dbd_child_init(apr_pool_t *pchild, server_rec *s);
/* mod_dbd is loaded (its optional functions were found). */
int ca_dbd_available(void);

/* mod_clientapi_problem.c: RFC 9457 answers and request ids. */
const char *ca_request_id(request_rec *r);
int ca_problem(request_rec *r, int status, const char *code, const char *detail);
/* Replace the query of the request line, r->args and r->unparsed_uri with `query`, so that
 * a secret sent in the URL reaches no log (access log included). */
void ca_redact_request_line(request_rec *r, const char *query);

/* Handlers. */
int ca_api_handler(request_rec *r);

/* mod_clientapi_socache.c: a mod_socache instance shared by every process of the server, with
 * the global mutex its provider needs when it is not safe across processes (shmcb). The key
 * cache and the rate limiter have one each. */
typedef struct {
    const char *name;                       /* mutex type and cache namespace */
    const char *what;                       /* in messages: "key cache" */
    const char *hint;                       /* appended to "needs mod_socache_shmcb", or NULL */
    const ap_socache_provider_t *provider;  /* NULL: not set up (or turned off) */
    ap_socache_instance_t *inst;
    apr_global_mutex_t *mutex;              /* NULL: the provider needs none */
    server_rec *s;
} ca_socache_t;

/* pre_config: registers the mutex type c->name. */
void ca_socache_pre_config(apr_pool_t *pconf, const char *name);
/* post_config: sets c up with provider (NULL: shmcb) and inst (NULL: created here; else made
 * by a directive), its mutex when needed; torn down with pconf. Failures are logged. */
apr_status_t ca_socache_setup(ca_socache_t *c, const ap_socache_provider_t *provider,
                              ap_socache_instance_t *inst, const struct ap_socache_hints *hints,
                              apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void ca_socache_child_init(ca_socache_t *c, apr_pool_t *pchild, server_rec *s);
apr_status_t ca_socache_lock(ca_socache_t *c);
void ca_socache_unlock(ca_socache_t *c);

/* mod_clientapi_ratelimit.c: the shared counters of per-endpoint rate limits. */
void ca_ratelimit_pre_config(apr_pool_t *pconf);
apr_status_t ca_ratelimit_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void ca_ratelimit_child_init(apr_pool_t *pchild, server_rec *s);

/* mod_clientapi_keycache.c: the key cache (what authentication reads, by key hash) shared by
 * every process (shmcb) or node (memcache, redis). */
void ca_keycache_pre_config(apr_pool_t *pconf);
apr_status_t ca_keycache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void ca_keycache_child_init(apr_pool_t *pchild, server_rec *s);
/* Call after committing any change that affects authenticating a key or using a connection
 * (endpoint status, keys, deletion; connection status or credentials): every cached entry of
 * this node (of every node with memcache or redis) is ignored from now on. */
void ca_keycache_invalidate(request_rec *r);
/* Seconds an entry is trusted (ClientAPIKeyCache ttl=). */
int ca_keycache_ttl(const ca_server_conf *sc);

/* mod_clientapi_retention.c: the hourly purge (mod_watchdog singleton). */
apr_status_t ca_retention_post_config(apr_pool_t *pconf, server_rec *s);

/* mod_clientapi_log.c: one request-log row per endpoint request, queued after the answer
 * and written in batches by a thread of each process (spooled to disk while the database
 * is down). */
int ca_log_transaction(request_rec *r);
void ca_log_child_init(apr_pool_t *pchild, server_rec *s);
/* post_config: create the spool directories (ClientAPILogSpool). */
apr_status_t ca_log_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

#endif /* MOD_CLIENTAPI_H */
