/* mod_clientapi: directives, per-server and per-directory configuration, merges.
 *
 * Every field has an "unset" value and an explicit merge line. Every directive validates its
 * argument so that `apachectl -t` stops with a message naming the directive and what it allows.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_file_info.h"
#include "ap_provider.h"
#include "ap_socache.h"

#include "mod_clientapi.h"
#include "ca_key.h"

#define CA_DEFAULT_CONNECT_MS     5000
#define CA_DEFAULT_TIMEOUT_MS     30000
#define CA_DEFAULT_MAX_RESPONSE   (16 * 1024 * 1024)
#define CA_DEFAULT_MAX_LIMIT      100
#define CA_HARD_MAX_LIMIT         1000
#define CA_DEFAULT_MAX_BODY       (1024 * 1024)
#define CA_DEFAULT_RETENTION_DAYS 90

void *ca_create_server_conf(apr_pool_t *p, server_rec *s)
{
    ca_server_conf *sc = apr_pcalloc(p, sizeof(*sc));

    sc->provider_paths = apr_array_make(p, 2, sizeof(const char *));
    sc->provider_settings = apr_hash_make(p);
    sc->endpoints = apr_array_make(p, 2, sizeof(ca_declared_endpoint_t));
    sc->connect_timeout_ms = CA_UNSET;
    sc->timeout_ms = CA_UNSET;
    sc->max_response_bytes = CA_UNSET;
    sc->rate_limit = CA_UNSET;
    sc->rate_window = CA_UNSET;
    sc->authfail_limit = CA_UNSET;
    sc->authfail_window = CA_UNSET;
    sc->log_retention_days = CA_UNSET;
    sc->log_spool_max = CA_UNSET;
    sc->max_limit = CA_UNSET;
    sc->max_body_bytes = CA_UNSET;
    sc->keycache_ttl = CA_UNSET;
    sc->keycache_stale = CA_UNSET;
    sc->signup = CA_UNSET;
    sc->loaded = apr_hash_make(p);
    sc->providers = sc->loaded;
    return sc;
}

#define MERGE_PTR(f) (add->f ? add->f : base->f)
#define MERGE_NUM(f) (add->f != CA_UNSET ? add->f : base->f)

void *ca_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    const ca_server_conf *base = basev, *add = addv;
    ca_server_conf *sc = apr_pcalloc(p, sizeof(*sc));

    sc->provider_paths = apr_array_append(p, base->provider_paths, add->provider_paths);
    sc->provider_settings = apr_hash_overlay(p, add->provider_settings, base->provider_settings);
    sc->endpoints = apr_array_append(p, base->endpoints, add->endpoints);
    sc->public_url = MERGE_PTR(public_url);
    sc->secret_key_file = MERGE_PTR(secret_key_file);
    sc->keyring = MERGE_PTR(keyring);
    sc->deployment = MERGE_PTR(deployment);
    sc->ca_file = MERGE_PTR(ca_file);
    sc->connect_timeout_ms = MERGE_NUM(connect_timeout_ms);
    sc->timeout_ms = MERGE_NUM(timeout_ms);
    sc->max_response_bytes = MERGE_NUM(max_response_bytes);
    sc->rate_limit = MERGE_NUM(rate_limit);
    sc->rate_window = MERGE_NUM(rate_window);
    sc->authfail_limit = MERGE_NUM(authfail_limit);
    sc->authfail_window = MERGE_NUM(authfail_window);
    sc->log_retention_days = MERGE_NUM(log_retention_days);
    sc->log_spool_dir = MERGE_PTR(log_spool_dir);
    sc->log_spool_max = MERGE_NUM(log_spool_max);
    sc->max_limit = MERGE_NUM(max_limit);
    sc->max_body_bytes = MERGE_NUM(max_body_bytes);
    /* the spec, its provider and instance go together */
    sc->keycache = add->keycache ? add->keycache : base->keycache;
    sc->keycache_inst = add->keycache ? add->keycache_inst : base->keycache_inst;
    sc->keycache_prov = add->keycache ? add->keycache_prov : base->keycache_prov;
    sc->keycache_ttl = MERGE_NUM(keycache_ttl);
    sc->keycache_stale = MERGE_NUM(keycache_stale);
    sc->signup = MERGE_NUM(signup);
    sc->loaded = apr_hash_overlay(p, add->loaded, base->loaded);
    sc->providers = sc->loaded;
    return sc;
}

void *ca_create_dir_conf(apr_pool_t *p, char *dir)
{
    ca_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));

    dc->location = dir ? apr_pstrdup(p, dir) : NULL;
    return dc;
}

void *ca_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const ca_dir_conf *base = basev, *add = addv;
    ca_dir_conf *dc = apr_pcalloc(p, sizeof(*dc));

    dc->location = MERGE_PTR(location);
    return dc;
}

int ca_conf_max_limit(const ca_server_conf *sc)
{
    return sc->max_limit != CA_UNSET ? sc->max_limit : CA_DEFAULT_MAX_LIMIT;
}

apr_off_t ca_conf_max_body(const ca_server_conf *sc)
{
    return sc->max_body_bytes != CA_UNSET ? sc->max_body_bytes : CA_DEFAULT_MAX_BODY;
}

/* --- argument parsing helpers: all messages name the directive --- */

static const char *bad_arg(cmd_parms *cmd, const char *arg, const char *allowed)
{
    return apr_psprintf(cmd->pool, "%s: '%s' is not allowed (expected %s)",
                        cmd->cmd->name, arg, allowed);
}

static const char *parse_int(cmd_parms *cmd, const char *arg, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (!*arg || !apr_isdigit(*arg)) {
        return bad_arg(cmd, arg, apr_psprintf(cmd->pool, "an integer from %ld to %ld", lo, hi));
    }
    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        return bad_arg(cmd, arg, apr_psprintf(cmd->pool, "an integer from %ld to %ld", lo, hi));
    }
    *out = v;
    return NULL;
}

/* Sizes: bytes with an optional K, M or G suffix. */
static const char *parse_size(cmd_parms *cmd, const char *arg, apr_off_t lo, apr_off_t hi,
                              apr_off_t *out)
{
    char *end;
    apr_off_t v;
    const char *allowed = apr_psprintf(cmd->pool, "a size from %" APR_OFF_T_FMT " to %"
                                       APR_OFF_T_FMT " bytes, optionally with K, M or G",
                                       lo, hi);

    if (!*arg || !apr_isdigit(*arg) || apr_strtoff(&v, arg, &end, 10) != APR_SUCCESS) {
        return bad_arg(cmd, arg, allowed);
    }
    switch (apr_toupper(*end)) {
    case 'K': v *= 1024; end++; break;
    case 'M': v *= 1024 * 1024; end++; break;
    case 'G': v *= 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end || v < lo || v > hi) {
        return bad_arg(cmd, arg, allowed);
    }
    *out = v;
    return NULL;
}

/* Durations: "30" (seconds), "500ms", "2s", "1m" as httpd's own timeouts. */
static const char *parse_ms(cmd_parms *cmd, const char *arg, int lo_ms, int hi_ms, int *out)
{
    apr_interval_time_t t;

    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS
        || t < (apr_interval_time_t)lo_ms * 1000 || t > (apr_interval_time_t)hi_ms * 1000) {
        return bad_arg(cmd, arg, apr_psprintf(cmd->pool, "a duration from %dms to %ds, "
                                              "e.g. 30 or 500ms", lo_ms, hi_ms / 1000));
    }
    *out = (int)(t / 1000);
    return NULL;
}

static const char *check_url(cmd_parms *cmd, const char *url, int allow_http)
{
    apr_uri_t u;

    if (apr_uri_parse(cmd->pool, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || u.query || u.fragment || u.user || u.password) {
        return bad_arg(cmd, url, "an absolute URL like https://host/path, without query");
    }
    if (strcasecmp(u.scheme, "https") && !(allow_http && !strcasecmp(u.scheme, "http"))) {
        return bad_arg(cmd, url, allow_http ? "an http:// or https:// URL"
                                            : "an https:// URL (plain http only for a base URL "
                                              "marked local-sandbox)");
    }
    return NULL;
}

static int valid_provider_name(const char *s)
{
    if (!*s || strlen(s) > 64) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_islower(*s) && !apr_isdigit(*s) && *s != '_' && *s != '-') {
            return 0;
        }
    }
    return 1;
}

static ca_server_conf *sconf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &clientapi_module);
}

static ca_provider_setting_t *setting_for(cmd_parms *cmd, const char *name)
{
    ca_server_conf *sc = sconf(cmd);
    ca_provider_setting_t *ps = apr_hash_get(sc->provider_settings, name, APR_HASH_KEY_STRING);

    if (!ps) {
        ps = apr_pcalloc(cmd->pool, sizeof(*ps));
        ps->name = apr_pstrdup(cmd->pool, name);
        apr_hash_set(sc->provider_settings, ps->name, APR_HASH_KEY_STRING, ps);
    }
    return ps;
}

/* --- directive handlers --- */

static const char *add_provider(cmd_parms *cmd, const ca_provider_t *def)
{
    ca_server_conf *sc = sconf(cmd);
    const ca_provider_t *old = apr_hash_get(sc->loaded, def->name, APR_HASH_KEY_STRING);

    if (old) {
        return apr_psprintf(cmd->pool, "%s: provider '%s' is defined twice (%s and %s)",
                            cmd->cmd->name, def->name, old->file, def->file);
    }
    apr_hash_set(sc->loaded, def->name, APR_HASH_KEY_STRING, def);
    return NULL;
}

/* Provider files are read and validated while the configuration is read: a broken file
 * stops `apachectl -t` with the file, the field and the reason. */
static const char *cmd_provider_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg), *err = NULL, *msg;
    const ca_provider_t *def;
    ca_provider_set_t *set;
    apr_finfo_t fi;
    int i;

    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || (fi.filetype != APR_REG && fi.filetype != APR_DIR)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a readable file or directory "
                            "(expected a provider .json file or a directory of them)",
                            cmd->cmd->name, arg);
    }
    APR_ARRAY_PUSH(sconf(cmd)->provider_paths, const char *) = path;
    if (fi.filetype == APR_REG) {
        if (ca_provider_load_file(cmd->pool, path, &def, &err) != APR_SUCCESS) {
            return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
        }
        return add_provider(cmd, def);
    }
    if (ca_provider_load_dir(cmd->pool, path, &set, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    for (i = 0; i < set->list->nelts; i++) {
        if ((msg = add_provider(cmd, APR_ARRAY_IDX(set->list, i, const ca_provider_t *)))) {
            return msg;
        }
    }
    return NULL;
}

/* ClientAPIProviderURL NAME BASE-URL [auth=URL] [local-sandbox] */
static const char *cmd_provider_url(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    ca_provider_setting_t *ps;
    const char *err;
    int i, sandbox = 0;

    if (argc < 2 || argc > 4) {
        return apr_psprintf(cmd->pool, "%s: expected NAME BASE-URL [auth=URL] [local-sandbox]",
                            cmd->cmd->name);
    }
    if (!valid_provider_name(argv[0])) {
        return bad_arg(cmd, argv[0], "a provider name of lower-case letters, digits, - and _");
    }
    for (i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "local-sandbox")) {
            sandbox = 1;
        }
        else if (strncmp(argv[i], "auth=", 5)) {
            return bad_arg(cmd, argv[i], "auth=URL or local-sandbox");
        }
    }
    ps = setting_for(cmd, argv[0]);
    ps->local_sandbox = sandbox;
    if ((err = check_url(cmd, argv[1], sandbox))) {
        return err;
    }
    ps->base_url = apr_pstrdup(cmd->pool, argv[1]);
    for (i = 2; i < argc; i++) {
        if (!strncmp(argv[i], "auth=", 5)) {
            if ((err = check_url(cmd, argv[i] + 5, sandbox))) {
                return err;
            }
            ps->auth_base_url = apr_pstrdup(cmd->pool, argv[i] + 5);
        }
    }
    return NULL;
}

/* ClientAPIProviderParam NAME PARAM VALUE|file:/path|env:VAR: a value of the provider file's
 * api.config_params (e.g. ServiceTitan's app_key), checked against the file at check_config */
static const char *cmd_provider_param(cmd_parms *cmd, void *dc, const char *name,
                                      const char *param, const char *value)
{
    ca_provider_setting_t *ps;
    const char *c;

    if (!valid_provider_name(name)) {
        return bad_arg(cmd, name, "a provider name of lower-case letters, digits, - and _");
    }
    for (c = param; *c; c++) {
        if (!apr_islower(*c) && *c != '_') {
            break;
        }
    }
    if (!*param || *c || strlen(param) > 64) {
        return bad_arg(cmd, param, "a parameter name of lower-case letters and _");
    }
    if (!*value) {
        return apr_psprintf(cmd->pool, "%s: the value of %s must not be empty", cmd->cmd->name,
                            param);
    }
    ps = setting_for(cmd, name);
    if (!ps->param_src) {
        ps->param_src = apr_table_make(cmd->pool, 2);
    }
    if (apr_table_get(ps->param_src, param)) {
        return apr_psprintf(cmd->pool, "%s: %s %s is set twice", cmd->cmd->name, name, param);
    }
    apr_table_set(ps->param_src, param, value);
    return NULL;
}

const apr_table_t *ca_conf_provider_params(const ca_server_conf *sc, const char *provider)
{
    const ca_provider_setting_t *ps = sc->provider_settings
        ? apr_hash_get(sc->provider_settings, provider, APR_HASH_KEY_STRING) : NULL;

    return ps ? ps->params : NULL;
}

/* ClientAPIProviderClient NAME CLIENT-ID file:/path|env:NAME */
static const char *cmd_provider_client(cmd_parms *cmd, void *dc, const char *name,
                                       const char *client_id, const char *secret)
{
    ca_provider_setting_t *ps;

    if (!valid_provider_name(name)) {
        return bad_arg(cmd, name, "a provider name of lower-case letters, digits, - and _");
    }
    if (!*client_id) {
        return apr_psprintf(cmd->pool, "%s: the client id must not be empty", cmd->cmd->name);
    }
    if (strncmp(secret, "file:", 5) && strncmp(secret, "env:", 4)) {
        /* never echo what may be a pasted secret */
        return apr_psprintf(cmd->pool, "%s: the client secret must be given as file:/path or "
                            "env:VARIABLE, never inline", cmd->cmd->name);
    }
    ps = setting_for(cmd, name);
    ps->client_id = apr_pstrdup(cmd->pool, client_id);
    ps->client_secret_src = apr_pstrdup(cmd->pool, secret);
    return NULL;
}

static const char *cmd_public_url(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = check_url(cmd, arg, 1);

    if (err) {
        return err;
    }
    sconf(cmd)->public_url = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* The key file is read while the configuration is read, so that `apachectl -t` reports a
 * missing or broken file; key material stays in the config pool, wiped when it goes. */
static const char *cmd_secret_key_file(cmd_parms *cmd, void *dc, const char *arg)
{
    ca_server_conf *sc = sconf(cmd);
    const char *path = ap_server_root_relative(cmd->pool, arg), *err = NULL;
    int loose = 0;
    apr_status_t rv;

    if (!path) {
        return bad_arg(cmd, arg, "a file path");
    }
    rv = ca_keyring_load(cmd->pool, path, &sc->keyring, &loose, &err);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err ? err : "unreadable");
    }
    if (loose) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, CA_LOGNO(00010)
                     "%s: %s can be read or written by group or others; chmod 600 it",
                     cmd->cmd->name, path);
    }
    sc->secret_key_file = path;
    return NULL;
}

static const char *cmd_deployment(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *s;

    for (s = arg; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("._-", *s)) {
            return bad_arg(cmd, arg, "a name of letters, digits, '.', '_' and '-'");
        }
    }
    if (!*arg || strlen(arg) > 64) {
        return bad_arg(cmd, arg, "a name of 1 to 64 characters");
    }
    sconf(cmd)->deployment = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *cmd_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;

    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_REG) {
        return bad_arg(cmd, arg, "a readable PEM file of CA certificates");
    }
    sconf(cmd)->ca_file = path;
    return NULL;
}

/* ClientAPIUpstreamTimeout TOTAL [CONNECT] */
static const char *cmd_timeout(cmd_parms *cmd, void *dc, const char *total, const char *conn)
{
    ca_server_conf *sc = sconf(cmd);
    const char *err;

    if ((err = parse_ms(cmd, total, 100, 600000, &sc->timeout_ms))) {
        return err;
    }
    if (conn && (err = parse_ms(cmd, conn, 100, 600000, &sc->connect_timeout_ms))) {
        return err;
    }
    if (conn && sc->connect_timeout_ms > sc->timeout_ms) {
        return apr_psprintf(cmd->pool, "%s: the connect timeout (%s) must not exceed the total "
                            "timeout (%s)", cmd->cmd->name, conn, total);
    }
    return NULL;
}

static const char *cmd_max_response(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_size(cmd, arg, 1024, (apr_off_t)1024 * 1024 * 1024,
                      &sconf(cmd)->max_response_bytes);
}

static const char *cmd_max_body(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_size(cmd, arg, 1024, (apr_off_t)64 * 1024 * 1024, &sconf(cmd)->max_body_bytes);
}

static const char *cmd_max_limit(cmd_parms *cmd, void *dc, const char *arg)
{
    long v;
    const char *err = parse_int(cmd, arg, 1, CA_HARD_MAX_LIMIT, &v);

    if (!err) {
        sconf(cmd)->max_limit = (int)v;
    }
    return err;
}

/* N [per SECONDS] | off, for ClientAPIRateLimit and ClientAPIAuthFailLimit. */
static const char *parse_limit(cmd_parms *cmd, int argc, char *const argv[], long dflt_window,
                               int *limit, int *window)
{
    long v, w = dflt_window;
    const char *err;

    if (argc == 1 && !strcasecmp(argv[0], "off")) {
        *limit = 0;
        *window = (int)dflt_window;
        return NULL;
    }
    if (argc != 1 && !(argc == 3 && !strcmp(argv[1], "per"))) {
        return apr_psprintf(cmd->pool, "%s: expected 'off', N or 'N per SECONDS'",
                            cmd->cmd->name);
    }
    if ((err = parse_int(cmd, argv[0], 1, 1000000, &v))) {
        return err;
    }
    if (argc == 3 && (err = parse_int(cmd, argv[2], 1, 86400, &w))) {
        return err;
    }
    *limit = (int)v;
    *window = (int)w;
    return NULL;
}

static const char *cmd_rate_limit(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    ca_server_conf *sc = sconf(cmd);

    return parse_limit(cmd, argc, argv, 60, &sc->rate_limit, &sc->rate_window);
}

static const char *cmd_authfail_limit(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    ca_server_conf *sc = sconf(cmd);

    return parse_limit(cmd, argc, argv, 300, &sc->authfail_limit, &sc->authfail_window);
}

/* off | shmcb[:ARG] | memcache:HOST:PORT[,...] | redis:HOST:PORT[,...], then [ttl=SECONDS]
 * [stale=SECONDS]. The provider's own create() checks its argument now, as mod_ssl does for
 * SSLSessionCache, so that `apachectl -t` reports a bad one. */
static const char *cmd_keycache(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    static const char *const allowed = "off, shmcb, shmcb:/PATH(BYTES), memcache:HOST:PORT "
                                       "or redis:HOST:PORT, then ttl=SECONDS, stale=SECONDS";
    ca_server_conf *sc = sconf(cmd);
    const ap_socache_provider_t *prov;
    ap_socache_instance_t *inst = NULL;
    const char *arg = NULL, *err;
    char *name, *colon;
    long v;
    int i;

    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: expected %s", cmd->cmd->name, allowed);
    }
    for (i = 1; i < argc; i++) {
        if (!strncasecmp(argv[i], "ttl=", 4)) {
            if ((err = parse_int(cmd, argv[i] + 4, 1, 86400, &v))) {
                return err;
            }
            sc->keycache_ttl = (int)v;
        }
        else if (!strncasecmp(argv[i], "stale=", 6)) {
            if ((err = parse_int(cmd, argv[i] + 6, 0, 604800, &v))) {
                return err;
            }
            sc->keycache_stale = (int)v;
        }
        else {
            return bad_arg(cmd, argv[i], allowed);
        }
    }
    if (!strcasecmp(argv[0], "off")) {
        sc->keycache = "off";
        sc->keycache_prov = NULL;
        sc->keycache_inst = NULL;
        return NULL;
    }
    name = apr_pstrdup(cmd->pool, argv[0]);
    if ((colon = strchr(name, ':'))) {
        *colon = '\0';
        arg = colon + 1;
    }
    if (strcmp(name, "shmcb") && strcmp(name, "memcache") && strcmp(name, "redis")) {
        return bad_arg(cmd, argv[0], allowed);
    }
    if (strcmp(name, "shmcb") && (!arg || !*arg)) {
        return apr_psprintf(cmd->pool, "%s: %s needs HOST:PORT (e.g. %s:127.0.0.1:%s)",
                            cmd->cmd->name, name, name,
                            *name == 'm' ? "11211" : "6379");
    }
    prov = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (!prov) {
        return apr_psprintf(cmd->pool, "%s: the %s cache needs mod_socache_%s "
                            "(LoadModule socache_%s_module before this line)",
                            cmd->cmd->name, name, name, name);
    }
    if ((err = prov->create(&inst, arg && *arg ? arg : NULL, cmd->temp_pool, cmd->pool))) {
        return apr_psprintf(cmd->pool, "%s: '%s': %s", cmd->cmd->name, argv[0], err);
    }
    sc->keycache = apr_pstrdup(cmd->pool, argv[0]);
    sc->keycache_prov = prov;
    sc->keycache_inst = inst;
    return NULL;
}

static const char *cmd_retention(cmd_parms *cmd, void *dc, const char *arg)
{
    long v;
    const char *err = parse_int(cmd, arg, 1, 3650, &v);

    if (!err) {
        sconf(cmd)->log_retention_days = (int)v;
    }
    return err;
}

/* ClientAPILogSpool DIR [max=SIZE]: where request logs wait while the database is down. */
static const char *cmd_log_spool(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    ca_server_conf *sc = sconf(cmd);

    if (argc < 1 || argc > 2 || !*argv[0]) {
        return apr_psprintf(cmd->pool, "%s takes a directory and optionally max=SIZE "
                            "(K, M or G, 1M to 1T)", cmd->cmd->name);
    }
    sc->log_spool_dir = ap_server_root_relative(cmd->pool, argv[0]);
    if (!sc->log_spool_dir) {
        return bad_arg(cmd, argv[0], "a directory path");
    }
    if (argc == 2) {
        if (strncmp(argv[1], "max=", 4)) {
            return bad_arg(cmd, argv[1], "max=SIZE (K, M or G, 1M to 1T)");
        }
        return parse_size(cmd, argv[1] + 4, (apr_off_t)1024 * 1024,
                          (apr_off_t)1024 * 1024 * 1024 * 1024, &sc->log_spool_max);
    }
    return NULL;
}

/* ClientAPISignup on|off: may visitors make their own (member) accounts in the dashboard */
static const char *cmd_signup(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!strcasecmp(arg, "on")) {
        sconf(cmd)->signup = 1;
    }
    else if (!strcasecmp(arg, "off")) {
        sconf(cmd)->signup = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "ClientAPISignup: '%s' is not allowed (on or off)",
                            arg);
    }
    return NULL;
}

/* ClientAPIEndpoint ep_ID connection=N scope=company:ID|client:COMPANY/CLIENT
 *                   mode=read-only|read-write key=sha256:HEX */
static const char *cmd_endpoint(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    ca_server_conf *sc = sconf(cmd);
    ca_declared_endpoint_t ep;
    int i, j;
    const char *usage = "ep_ID connection=N scope=company:ID|client:COMPANY/CLIENT "
                        "mode=read-only|read-write key=sha256:HEX";

    memset(&ep, 0, sizeof(ep));
    ep.read_write = CA_UNSET;
    if (argc != 5) {
        return apr_psprintf(cmd->pool, "%s: expected %s", cmd->cmd->name, usage);
    }
    if (!ca_endpoint_id_valid(argv[0])) {
        return bad_arg(cmd, argv[0], "an endpoint id like ep_ followed by letters, digits, "
                       "- and _");
    }
    ep.public_id = apr_pstrdup(cmd->pool, argv[0]);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strncmp(a, "connection=", 11)) {
            long v;
            const char *err = parse_int(cmd, a + 11, 1, 0x7fffffffL, &v);
            if (err) {
                return err;
            }
            ep.connection = apr_pstrdup(cmd->pool, a + 11);
        }
        else if (!strncmp(a, "scope=company:", 14) && a[14]) {
            ep.company_id = apr_pstrdup(cmd->pool, a + 14);
        }
        else if (!strncmp(a, "scope=client:", 13) && strchr(a + 13, '/')) {
            const char *slash = strchr(a + 13, '/');
            ep.scope_client = 1;
            ep.company_id = apr_pstrmemdup(cmd->pool, a + 13, slash - (a + 13));
            ep.client_id = apr_pstrdup(cmd->pool, slash + 1);
            if (!*ep.company_id || !*ep.client_id) {
                return bad_arg(cmd, a, "scope=client:COMPANY/CLIENT");
            }
        }
        else if (!strcmp(a, "mode=read-only") || !strcmp(a, "mode=read-write")) {
            ep.read_write = !strcmp(a + 5, "read-write");
        }
        else if (!strncmp(a, "key=", 4)) {
            if (!ca_key_hash_valid(a + 4)) {
                return apr_psprintf(cmd->pool, "%s: key= must be a key hash as printed by "
                                    "'clientapi key' (sha256:<64 hex>), never a key",
                                    cmd->cmd->name);
            }
            ep.key_hash = apr_pstrdup(cmd->pool, a + 4);
        }
        else {
            return bad_arg(cmd, strncmp(a, "key=", 4) ? a : "key=...", usage);
        }
    }
    if (!ep.connection || !ep.company_id || ep.read_write == CA_UNSET || !ep.key_hash) {
        return apr_psprintf(cmd->pool, "%s: %s needs connection=, scope=, mode= and key= "
                            "(expected %s)", cmd->cmd->name, ep.public_id, usage);
    }
    for (j = 0; j < sc->endpoints->nelts; j++) {
        const ca_declared_endpoint_t *o = &APR_ARRAY_IDX(sc->endpoints, j,
                                                         ca_declared_endpoint_t);
        if (!strcmp(o->public_id, ep.public_id)) {
            return apr_psprintf(cmd->pool, "%s: endpoint %s is declared twice (first at %s)",
                                cmd->cmd->name, ep.public_id, o->defined_at);
        }
    }
    ep.defined_at = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                                 cmd->directive->line_num);
    APR_ARRAY_PUSH(sc->endpoints, ca_declared_endpoint_t) = ep;
    return NULL;
}

const command_rec ca_cmds[] = {
    AP_INIT_ITERATE("ClientAPIProviderFile", cmd_provider_file, NULL, RSRC_CONF,
                    "Provider definition file(s) or directories of *.json files"),
    AP_INIT_TAKE_ARGV("ClientAPIProviderURL", cmd_provider_url, NULL, RSRC_CONF,
                      "NAME BASE-URL [auth=URL] [local-sandbox]: override a provider's API "
                      "(and OAuth) base URL"),
    AP_INIT_TAKE3("ClientAPIProviderClient", cmd_provider_client, NULL, RSRC_CONF,
                  "NAME CLIENT-ID file:/path|env:VAR: OAuth client credentials of a provider"),
    AP_INIT_TAKE3("ClientAPIProviderParam", cmd_provider_param, NULL, RSRC_CONF,
                  "NAME PARAM VALUE|file:/path|env:VAR: a value the provider file declares in "
                  "api.config_params (e.g. servicetitan app_key)"),
    AP_INIT_TAKE1("ClientAPIPublicURL", cmd_public_url, NULL, RSRC_CONF,
                  "Public base URL of this server, used to build OAuth redirect URIs"),
    AP_INIT_TAKE1("ClientAPISecretKeyFile", cmd_secret_key_file, NULL, RSRC_CONF,
                  "File of '<kid> <base64url 32 bytes>' lines encrypting tokens at rest; the "
                  "last key encrypts"),
    AP_INIT_TAKE1("ClientAPIDeployment", cmd_deployment, NULL, RSRC_CONF,
                  "Name of this deployment, sent to providers in the User-Agent"),
    AP_INIT_TAKE1("ClientAPIUpstreamCAFile", cmd_ca_file, NULL, RSRC_CONF,
                  "PEM file of CA certificates to verify providers (default: system store)"),
    AP_INIT_TAKE12("ClientAPIUpstreamTimeout", cmd_timeout, NULL, RSRC_CONF,
                   "TOTAL [CONNECT]: timeouts for provider calls, e.g. 30 5 or 2s 500ms"),
    AP_INIT_TAKE1("ClientAPIMaxResponseSize", cmd_max_response, NULL, RSRC_CONF,
                  "Largest provider response accepted (bytes, K, M or G)"),
    AP_INIT_TAKE1("ClientAPIMaxBodySize", cmd_max_body, NULL, RSRC_CONF,
                  "Largest request body accepted on writes (bytes, K, M or G)"),
    AP_INIT_TAKE1("ClientAPIMaxLimit", cmd_max_limit, NULL, RSRC_CONF,
                  "Cap for ?limit= on lists (1-1000, default 100)"),
    AP_INIT_TAKE_ARGV("ClientAPIRateLimit", cmd_rate_limit, NULL, RSRC_CONF,
                      "Default per-endpoint rate limit: N [per SECONDS] or off"),
    AP_INIT_TAKE_ARGV("ClientAPIAuthFailLimit", cmd_authfail_limit, NULL, RSRC_CONF,
                      "Failed authentications per client address before 429: N [per SECONDS] "
                      "or off (default 30 per 300)"),
    AP_INIT_TAKE_ARGV("ClientAPIKeyCache", cmd_keycache, NULL, RSRC_CONF,
                      "Key cache shared by processes or nodes: off, shmcb[:ARG], "
                      "memcache:HOST:PORT or redis:HOST:PORT [ttl=SECONDS] [stale=SECONDS]"),
    AP_INIT_TAKE1("ClientAPILogRetention", cmd_retention, NULL, RSRC_CONF,
                  "Days request logs are kept (1-3650, default 90)"),
    AP_INIT_TAKE_ARGV("ClientAPILogSpool", cmd_log_spool, NULL, RSRC_CONF,
                      "Directory for request logs while the database is down: DIR "
                      "[max=SIZE] (default DefaultRuntimeDir/clientapi-logspool, max=256M)"),
    AP_INIT_TAKE1("ClientAPISignup", cmd_signup, NULL, RSRC_CONF,
                  "on: visitors may make member accounts in the dashboard; off (default)"),
    AP_INIT_TAKE_ARGV("ClientAPIEndpoint", cmd_endpoint, NULL, RSRC_CONF,
                      "Declare an endpoint: ep_ID connection=N scope=company:ID|"
                      "client:COMPANY/CLIENT mode=read-only|read-write key=sha256:HEX"),
    {NULL}
};

/* Read a secret named "file:/path" or "env:NAME": first line, without the line end. */
static const char *read_secret(apr_pool_t *p, apr_pool_t *ptemp, const char *src,
                               const char **err)
{
    if (!strncmp(src, "env:", 4)) {
        const char *v = getenv(src + 4);
        if (!v || !*v) {
            *err = apr_psprintf(p, "environment variable %s is not set", src + 4);
            return NULL;
        }
        return apr_pstrdup(p, v);
    }
    else {
        apr_file_t *f;
        char buf[4096];
        apr_size_t n = sizeof(buf) - 1;
        apr_status_t rv = apr_file_open(&f, src + 5, APR_FOPEN_READ, 0, ptemp);
        char *nl;

        if (rv == APR_SUCCESS) {
            rv = apr_file_read(f, buf, &n);
            apr_file_close(f);
        }
        if (rv != APR_SUCCESS && rv != APR_EOF) {
            *err = apr_psprintf(p, "cannot read %s", src + 5);
            return NULL;
        }
        buf[n] = '\0';
        if ((nl = strpbrk(buf, "\r\n"))) {
            *nl = '\0';
        }
        if (!*buf) {
            *err = apr_psprintf(p, "%s is empty", src + 5);
            return NULL;
        }
        return apr_pstrdup(p, buf);
    }
}

/* auth=URL of ClientAPIProviderURL replaces the origin of a provider file's OAuth URL: a
 * "/path" is appended, an absolute URL keeps its path (https://go.servicem8.com/oauth/x with
 * auth=http://127.0.0.1:8089 is http://127.0.0.1:8089/oauth/x). */
static const char *auth_override(apr_pool_t *p, const char *base, const char *ref)
{
    const char *path = ref;

    if (!ref) {
        return NULL;
    }
    if (*ref != '/') {
        const char *host = strstr(ref, "://");
        path = host ? strchr(host + 3, '/') : NULL;
        if (!path) {
            path = "";
        }
    }
    return apr_pstrcat(p, base, path, NULL);
}

/* Resolve the ClientAPIProviderParam values of one provider and check them against the
 * names its file declares. */
static apr_status_t resolve_params(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                                   ca_provider_setting_t *ps, const ca_provider_t *def)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i, j;

    if (!ps->param_src || ps->params) {
        return APR_SUCCESS;
    }
    ps->params = apr_table_make(pconf, 2);
    arr = apr_table_elts(ps->param_src);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        const char *err = NULL, *v;
        int declared = 0;

        for (j = 0; def->api.config_params && j < def->api.config_params->nelts; j++) {
            if (!strcmp(APR_ARRAY_IDX(def->api.config_params, j, const char *), e[i].key)) {
                declared = 1;
            }
        }
        if (!declared) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, CA_LOGNO(01201)
                         "ClientAPIProviderParam %s %s: the provider file declares no such "
                         "parameter in api.config_params", ps->name, e[i].key);
            return APR_EINVAL;
        }
        if (!strncmp(e[i].val, "file:", 5) || !strncmp(e[i].val, "env:", 4)) {
            v = read_secret(pconf, ptemp, e[i].val, &err);
            if (!v) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, CA_LOGNO(01202)
                             "ClientAPIProviderParam %s %s: %s", ps->name, e[i].key, err);
                return APR_EINVAL;
            }
        }
        else {
            v = apr_pstrdup(pconf, e[i].val);
        }
        if (strpbrk(v, "\r\n")) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, CA_LOGNO(01203)
                         "ClientAPIProviderParam %s %s: the value must be one line", ps->name,
                         e[i].key);
            return APR_EINVAL;
        }
        apr_table_setn(ps->params, e[i].key, v);
    }
    return APR_SUCCESS;
}

/* After the whole configuration is read (check_config, which `apachectl -t` runs too):
 * apply ClientAPIProviderURL overrides and read ClientAPIProviderClient secrets. */
apr_status_t ca_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    ca_server_conf *sc = ap_get_module_config(s->module_config, &clientapi_module);
    apr_hash_index_t *hi;
    apr_hash_t *providers = apr_hash_copy(pconf, sc->loaded);

    for (hi = apr_hash_first(ptemp, sc->provider_settings); hi; hi = apr_hash_next(hi)) {
        ca_provider_setting_t *ps = apr_hash_this_val(hi);
        const ca_provider_t *def = apr_hash_get(providers, ps->name, APR_HASH_KEY_STRING);
        const char *err = NULL;

        if (!def) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, CA_LOGNO(00011)
                         "ClientAPIProviderURL/ClientAPIProviderClient: no ClientAPIProviderFile "
                         "defines a provider named '%s'", ps->name);
            return APR_EINVAL;
        }
        if (ps->base_url) {
            ca_provider_override_t ov;
            const ca_provider_t *copy;

            memset(&ov, 0, sizeof(ov));
            ov.base_url = ps->base_url;
            ov.local_sandbox = ps->local_sandbox;
            if (ps->auth_base_url) {
                ov.authorize_url = auth_override(pconf, ps->auth_base_url,
                                                 def->auth.authorize_ref);
                ov.token_url = auth_override(pconf, ps->auth_base_url, def->auth.token_ref);
                ov.revoke_url = auth_override(pconf, ps->auth_base_url, def->auth.revoke_ref);
            }
            if (ca_provider_override_base(pconf, def, &ov, &copy, &err) != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, CA_LOGNO(00012)
                             "ClientAPIProviderURL %s: %s", ps->name, err ? err : "refused");
                return APR_EINVAL;
            }
            apr_hash_set(providers, ps->name, APR_HASH_KEY_STRING, copy);
        }
        if (resolve_params(pconf, ptemp, s, ps, def) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        if (ps->client_secret_src && !ps->client_secret) {
            ps->client_secret = read_secret(pconf, ptemp, ps->client_secret_src, &err);
            if (!ps->client_secret) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, s, CA_LOGNO(00013)
                             "ClientAPIProviderClient %s: %s", ps->name, err);
                return APR_EINVAL;
            }
        }
    }
    sc->providers = providers;
    return APR_SUCCESS;
}
