/*
 * clientapi.c - the `clientapi` admin command (docs/cli.md).
 *
 *     clientapi <command> [subcommand] [options]
 *
 * Each command is one static function in the tables below; add new ones there.
 * Exit status: 0 ok, 1 runtime error (database, unknown user/connection/endpoint,
 * unreadable file), 2 usage error or refused input (bad option, bad value,
 * password policy). Errors go to stderr, results to stdout.
 *
 * Secrets (passwords, provider tokens, API keys) are never taken from the
 * command line, which other users can see in the process list: they are read
 * from files (--*-file PATH, "-" for stdin) or stdin. Database parameters may
 * hold a password: they can come from the environment and are never printed.
 * An endpoint key is printed once, when it is made, and never stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_lib.h>
#include <apr_md5.h>            /* apr_password_get */
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ca_conn.h"
#include "ca_crypto.h"
#include "ca_key.h"
#include "ca_migrate.h"
#include "ca_password.h"
#include "ca_store.h"

#ifndef CA_SQL_DIR
#define CA_SQL_DIR "sql"
#endif

#ifndef CA_VERSION
#ifdef PACKAGE_VERSION
#define CA_VERSION PACKAGE_VERSION
#else
#define CA_VERSION "0.1.0"
#endif
#endif

#define EXIT_OK    0
#define EXIT_ERROR 1
#define EXIT_USAGE 2

/* Environment read when the matching option is not given (keeps a database
 * password out of the process list). */
#define DRIVER_ENV  "CLIENTAPI_DBD_DRIVER"
#define PARAMS_ENV  "CLIENTAPI_DBD_PARAMS"
#define KEYFILE_ENV "CLIENTAPI_KEY_FILE"

#define MAX_SECRET_FILE   (64 * 1024)   /* largest provider token / key file read */
#define MAX_TEXT          255           /* ids, names, labels */
#define MAX_SCOPES        1024
#define MAX_EXPIRES_IN    (10LL * 365 * 86400)
#define MAX_DAYS          3650

typedef struct command_t command_t;

typedef int (*command_fn)(apr_pool_t *pool, const command_t *cmd, int argc,
                          const char *const *argv);

struct command_t {
    const char *name;           /* full name, e.g. "endpoint add" */
    command_fn run;             /* NULL for a group */
    const char *usage;          /* after "clientapi " */
    const char *summary;
    const command_t *subs;      /* a group's subcommands */
};

static int cmd_migrate(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_keygen(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_key(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_useradd(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_passwd(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_userdel(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_connection_add(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_connection_list(apr_pool_t *, const command_t *, int,
                               const char *const *);
static int cmd_endpoint_add(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_endpoint_list(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_endpoint_activate(apr_pool_t *, const command_t *, int,
                                 const char *const *);
static int cmd_endpoint_deactivate(apr_pool_t *, const command_t *, int,
                                   const char *const *);
static int cmd_endpoint_reissue(apr_pool_t *, const command_t *, int,
                                const char *const *);
static int cmd_endpoint_delete(apr_pool_t *, const command_t *, int,
                               const char *const *);
static int cmd_rekey(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_purge(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_rollup_rebuild(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_version(apr_pool_t *, const command_t *, int, const char *const *);
static int cmd_help(apr_pool_t *, const command_t *, int, const char *const *);

#define DB_USAGE "[--driver pgsql|sqlite3] [--params \"<apr_dbd params>\"]"
#define KEY_USAGE "[--key-file FILE]"

static const command_t connection_commands[] = {
    {"connection add", cmd_connection_add,
     "connection add --user EMAIL --provider NAME --account-id ID [--label LABEL]"
     " (--api-key-file FILE | --access-token-file FILE [--refresh-token-file FILE]"
     " [--expires-in SECONDS]) [--scopes \"S1 S2\"] " DB_USAGE " " KEY_USAGE,
     "store a provider connection, its secrets sealed with the key file; prints its id",
     NULL},
    {"connection list", cmd_connection_list,
     "connection list [--user EMAIL] " DB_USAGE,
     "list provider connections (never their secrets)", NULL},
    {NULL, NULL, NULL, NULL, NULL}
};

static const command_t endpoint_commands[] = {
    {"endpoint add", cmd_endpoint_add,
     "endpoint add --connection N --scope company:ID[:NAME]|client:CO/CL[:NAME]"
     " --mode read-only|read-write [--name NAME] [--expires-at EPOCH]"
     " [--ip-allow CIDR,...] " DB_USAGE,
     "create an endpoint; prints its id and its key (once)", NULL},
    {"endpoint list", cmd_endpoint_list,
     "endpoint list [--user EMAIL] [--connection N] " DB_USAGE,
     "list endpoints with their key hints", NULL},
    {"endpoint deactivate", cmd_endpoint_deactivate,
     "endpoint deactivate ep_ID " DB_USAGE,
     "deactivate an endpoint (403 endpoint_inactive)", NULL},
    {"endpoint activate", cmd_endpoint_activate,
     "endpoint activate ep_ID " DB_USAGE, "activate an endpoint again", NULL},
    {"endpoint reissue", cmd_endpoint_reissue,
     "endpoint reissue ep_ID [--grace SECONDS] " DB_USAGE,
     "new key (printed once); the old one stops now or after --grace (<= 86400 s)",
     NULL},
    {"endpoint delete", cmd_endpoint_delete,
     "endpoint delete ep_ID " DB_USAGE, "delete an endpoint and its keys", NULL},
    {NULL, NULL, NULL, NULL, NULL}
};

static const command_t rollup_commands[] = {
    {"rollup rebuild", cmd_rollup_rebuild,
     "rollup rebuild [--since EPOCH | --days N] " DB_USAGE,
     "recompute the hourly usage rollups from the stored request logs (default: all)",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}
};

static const command_t commands[] = {
    {"migrate", cmd_migrate,
     "migrate " DB_USAGE " [--sql-dir DIR] [--status]",
     "apply the pending schema migrations (sql/<driver>/NNNN_*.sql)", NULL},
    {"keygen", cmd_keygen, "keygen [--kid KID]",
     "print a new key-file line \"<kid> <key>\" (append it to the key file)", NULL},
    {"key", cmd_key,
     "key [--endpoint ep_ID] [--connection N] [--scope company:ID|client:CO/CL]"
     " [--mode read-only|read-write]",
     "print a new endpoint key (once) and the ClientAPIEndpoint line to paste", NULL},
    {"useradd", cmd_useradd,
     "useradd --email EMAIL [--role admin|member] [--password-file FILE] " DB_USAGE,
     "create a dashboard user (password from the file or stdin)", NULL},
    {"passwd", cmd_passwd,
     "passwd --email EMAIL [--password-file FILE] " DB_USAGE,
     "change a dashboard user's password (ends its sessions)", NULL},
    {"userdel", cmd_userdel, "userdel --email EMAIL " DB_USAGE,
     "delete a dashboard user and everything it owns", NULL},
    {"connection", NULL, "connection add|list ...", "provider connections",
     connection_commands},
    {"endpoint", NULL, "endpoint add|list|deactivate|activate|reissue|delete ...",
     "scoped endpoints", endpoint_commands},
    {"rekey", cmd_rekey, "rekey " DB_USAGE " " KEY_USAGE,
     "re-encrypt stored provider secrets with the key file's current (last) key", NULL},
    {"purge", cmd_purge, "purge --days N " DB_USAGE,
     "delete request logs older than N days and expired sessions, states, keys", NULL},
    {"rollup", NULL, "rollup rebuild ...", "usage rollups (request_rollups)", rollup_commands},
    {"version", cmd_version, "version", "print the version and the schema version", NULL},
    {"help", cmd_help, "help [command [subcommand]]", "print this help", NULL},
    {NULL, NULL, NULL, NULL, NULL}
};

/* Long-only option ids (above any character). */
enum {
    OPT_DRIVER = 256, OPT_PARAMS, OPT_KEY_FILE, OPT_SQL_DIR, OPT_STATUS, OPT_KID,
    OPT_ENDPOINT, OPT_CONNECTION, OPT_SCOPE, OPT_MODE, OPT_EMAIL, OPT_ROLE,
    OPT_PASSWORD_FILE, OPT_USER, OPT_PROVIDER, OPT_ACCOUNT_ID, OPT_LABEL,
    OPT_API_KEY_FILE, OPT_ACCESS_TOKEN_FILE, OPT_REFRESH_TOKEN_FILE, OPT_EXPIRES_IN,
    OPT_SCOPES, OPT_NAME, OPT_EXPIRES_AT, OPT_IP_ALLOW, OPT_GRACE, OPT_DAYS, OPT_SINCE
};

#define O_DRIVER {"driver", OPT_DRIVER, 1, "apr_dbd driver: pgsql or sqlite3"}
#define O_PARAMS {"params", OPT_PARAMS, 1, "apr_dbd connection parameters"}
#define O_KEY_FILE {"key-file", OPT_KEY_FILE, 1, "key file (clientapi keygen)"}
#define O_END {NULL, 0, 0, NULL}

/* ---------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------- */

static apr_int64_t now_sec(void)
{
    return apr_time_sec(apr_time_now());
}

static const command_t *find_in(const command_t *table, const char *name)
{
    const command_t *c;

    for (c = table; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

static int usage_error(const command_t *cmd, const char *msg)
{
    fprintf(stderr, "clientapi %s: %s\n", cmd->name, msg);
    fprintf(stderr, "usage: clientapi %s\n", cmd->usage);
    return EXIT_USAGE;
}

/* Refused input that is not about the command line's syntax: exit 2 too. */
static int bad_input(const command_t *cmd, const char *msg)
{
    fprintf(stderr, "clientapi %s: %s\n", cmd->name, msg);
    return EXIT_USAGE;
}

static int fail(const command_t *cmd, const char *msg)
{
    fprintf(stderr, "clientapi %s: %s\n", cmd->name, msg ? msg : "failed");
    return EXIT_ERROR;
}

/* Parse options into values (option name -> value, "1" for flags) and the
 * remaining positional arguments into pos (npos_min..npos_max of them).
 * Options and positional arguments may come in any order. An option given
 * twice is refused. EXIT_OK or EXIT_USAGE (printed). */
static int parse_opts(apr_pool_t *pool, const command_t *cmd, int argc,
                      const char *const *argv, const apr_getopt_option_t *opts,
                      apr_table_t *values, int npos_min, int npos_max,
                      const char **pos)
{
    apr_getopt_t *os;
    const char *arg;
    int optch, npos = 0;
    apr_status_t rv;

    apr_getopt_init(&os, pool, argc, argv);
    os->errfn = NULL;
    os->interleave = 1;
    while ((rv = apr_getopt_long(os, opts, &optch, &arg)) == APR_SUCCESS) {
        const apr_getopt_option_t *o;
        for (o = opts; o->name; o++) {
            if (o->optch == optch) {
                if (apr_table_get(values, o->name)) {
                    return usage_error(cmd, apr_psprintf(pool, "--%s given twice",
                                                         o->name));
                }
                apr_table_setn(values, o->name, o->has_arg ? arg : "1");
            }
        }
    }
    if (rv == APR_BADCH) {
        return usage_error(cmd, apr_psprintf(pool, "unknown option \"%s\"",
                                             os->argv[os->ind > 0 ? os->ind - 1 : 0]));
    }
    if (rv == APR_BADARG) {
        return usage_error(cmd, "an option is missing its value");
    }
    for (; os->ind < argc; os->ind++) {
        if (npos >= npos_max) {
            return usage_error(cmd, apr_psprintf(pool, "unexpected argument \"%s\"",
                                                 os->argv[os->ind]));
        }
        pos[npos++] = os->argv[os->ind];
    }
    if (npos < npos_min) {
        return usage_error(cmd, "missing argument");
    }
    return EXIT_OK;
}

/* Decimal integer in [min, max]; 1 on success. */
static int parse_i64(const char *s, apr_int64_t min, apr_int64_t max, apr_int64_t *out)
{
    char *end;
    apr_int64_t v;

    if (s == NULL || *s == '\0' || !(apr_isdigit(*s) || (*s == '-' && s[1]))) {
        return 0;
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return 0;
    }
    *out = v;
    return 1;
}

/* parse_opts for a command that names one endpoint: *public_id = its ep_ID argument. */
static int parse_endpoint_opts(apr_pool_t *pool, const command_t *cmd, int argc,
                               const char *const *argv, const apr_getopt_option_t *opts,
                               apr_table_t *values, const char **public_id)
{
    const char *pos[1];
    int rc = parse_opts(pool, cmd, argc, argv, opts, values, 1, 1, pos);

    if (rc != EXIT_OK) {
        return rc;
    }
    if (!ca_endpoint_id_valid(pos[0])) {
        return usage_error(cmd, apr_psprintf(pool, "\"%s\" is not an endpoint id", pos[0]));
    }
    *public_id = pos[0];
    return EXIT_OK;
}

/* The usage error for a --connection that is not a connection id. */
static int bad_connection_opt(const command_t *cmd)
{
    return usage_error(cmd, "--connection must be a connection id (a positive integer)");
}

/* 1 if s (NUL-terminated) is 1..max bytes without control characters. */
static int plain_text(const char *s, apr_size_t max)
{
    apr_size_t n = s ? strlen(s) : 0;
    apr_size_t i;

    if (n == 0 || n > max) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* The usage error for an option whose value is not plain_text(value, max). */
static int bad_text_opt(apr_pool_t *pool, const command_t *cmd, const char *name,
                        apr_size_t max)
{
    return usage_error(cmd, apr_psprintf(pool, "--%s must be 1..%lu characters without "
                                         "control characters", name, (unsigned long)max));
}

/* An id as it appears in a scope (and in an httpd.conf line): 1..255 visible
 * ASCII characters other than : / \ " ' */
static int scope_id_valid(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || len > MAX_TEXT) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == ':' || c == '/' || c == '\\' || c == '"'
            || c == '\'') {
            return 0;
        }
    }
    return 1;
}

typedef struct {
    const char *kind;           /* "company" | "client" */
    const char *company_id;
    const char *client_id;
    const char *name;           /* NULL if not given */
} scope_arg_t;

/* company:ID[:NAME] or client:CO/CL[:NAME] (NAME only if allow_name). NULL on
 * success, else the reason. */
static const char *parse_scope(apr_pool_t *p, const char *s, int allow_name,
                               scope_arg_t *out)
{
    const char *rest, *colon, *slash;
    const char *form = allow_name ? "company:ID[:NAME] or client:COMPANY/CLIENT[:NAME]"
                                  : "company:ID or client:COMPANY/CLIENT";

    memset(out, 0, sizeof(*out));
    if (strncmp(s, "company:", 8) == 0) {
        out->kind = "company";
        rest = s + 8;
    }
    else if (strncmp(s, "client:", 7) == 0) {
        out->kind = "client";
        rest = s + 7;
    }
    else {
        return apr_psprintf(p, "bad --scope: expected %s", form);
    }
    colon = strchr(rest, ':');
    if (colon) {
        if (!allow_name) {
            return apr_psprintf(p, "bad --scope: expected %s (ids cannot contain ':')",
                                form);
        }
        out->name = colon + 1;
        if (!plain_text(out->name, MAX_TEXT)) {
            return "bad --scope: the NAME after the id must be 1..255 characters without"
                   " control characters";
        }
    }
    else {
        colon = rest + strlen(rest);
    }
    if (strcmp(out->kind, "company") == 0) {
        if (!scope_id_valid(rest, (apr_size_t)(colon - rest))) {
            return apr_psprintf(p, "bad --scope: the company id must be 1..255 visible "
                                "characters other than : / \\ \" ' (expected %s)", form);
        }
        out->company_id = apr_pstrmemdup(p, rest, colon - rest);
        return NULL;
    }
    slash = memchr(rest, '/', colon - rest);
    if (slash == NULL || !scope_id_valid(rest, (apr_size_t)(slash - rest))
        || !scope_id_valid(slash + 1, (apr_size_t)(colon - slash - 1))) {
        return apr_psprintf(p, "bad --scope: expected %s, with ids of 1..255 visible "
                            "characters other than : / \\ \" '", form);
    }
    out->company_id = apr_pstrmemdup(p, rest, slash - rest);
    out->client_id = apr_pstrmemdup(p, slash + 1, colon - slash - 1);
    return NULL;
}

static const char *scope_text(apr_pool_t *p, const char *kind, const char *co,
                              const char *cl)
{
    if (kind && strcmp(kind, "client") == 0) {
        return apr_pstrcat(p, "client:", co ? co : "?", "/", cl ? cl : "?", NULL);
    }
    return apr_pstrcat(p, "company:", co ? co : "?", NULL);
}

static int mode_valid(const char *m)
{
    return m && (strcmp(m, "read-only") == 0 || strcmp(m, "read-write") == 0);
}

/* Lowercase provider file name: [a-z0-9_], 1..64. */
static int provider_valid(const char *s)
{
    apr_size_t n = s ? strlen(s) : 0, i;

    if (n == 0 || n > 64) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '_')) {
            return 0;
        }
    }
    return 1;
}

/* "a.b.c.d[/n]" or an IPv6 address [/n]; 1 if valid. */
static int cidr_valid(apr_pool_t *p, const char *s)
{
    const char *slash = strchr(s, '/');
    const char *addr = slash ? apr_pstrmemdup(p, s, slash - s) : s;
    unsigned char buf[16];
    apr_int64_t bits;
    int v6 = strchr(addr, ':') != NULL;

    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1) {
        return 0;
    }
    if (slash && !(apr_isdigit(slash[1]) && parse_i64(slash + 1, 0, v6 ? 128 : 32, &bits)
                   && (slash[1] != '0' || slash[2] == '\0'))) {
        return 0;
    }
    return 1;
}

/* --ip-allow "CIDR,CIDR": normalized "CIDR,CIDR" (blanks removed), or NULL
 * with *bad = the offending entry. */
static const char *parse_ip_allow(apr_pool_t *p, const char *s, const char **bad)
{
    char *copy = apr_pstrdup(p, s), *tok, *last = NULL;
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));

    *bad = NULL;
    for (tok = apr_strtok(copy, ", \t", &last); tok; tok = apr_strtok(NULL, ", \t", &last)) {
        if (!cidr_valid(p, tok)) {
            *bad = tok;
            return NULL;
        }
        APR_ARRAY_PUSH(out, const char *) = tok;
    }
    if (out->nelts == 0) {
        *bad = s;
        return NULL;
    }
    return apr_array_pstrcat(p, out, ',');
}

static const char *fmt_time(apr_pool_t *p, apr_int64_t t)
{
    apr_time_exp_t tm;

    if (t <= 0) {
        return "-";
    }
    apr_time_exp_gmt(&tm, apr_time_from_sec(t));
    return apr_psprintf(p, "%04d-%02d-%02d %02d:%02d:%02dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---------------------------------------------------------------------------
 * Tables for list output: columns padded to the widest cell (UTF-8 aware)
 * ------------------------------------------------------------------------- */

typedef struct {
    int ncols;
    apr_array_header_t *rows;   /* const char ** */
} table_t;

static table_t *table_make(apr_pool_t *p, int ncols, const char *const *header)
{
    table_t *t = apr_pcalloc(p, sizeof(*t));
    const char **row = apr_pcalloc(p, ncols * sizeof(*row));
    int i;

    t->ncols = ncols;
    t->rows = apr_array_make(p, 16, sizeof(const char **));
    for (i = 0; i < ncols; i++) {
        row[i] = header[i];
    }
    APR_ARRAY_PUSH(t->rows, const char **) = row;
    return t;
}

static const char **table_row(apr_pool_t *p, table_t *t)
{
    const char **row = apr_pcalloc(p, t->ncols * sizeof(*row));

    APR_ARRAY_PUSH(t->rows, const char **) = row;
    return row;
}

static apr_size_t display_width(const char *s)
{
    apr_size_t w = 0;

    for (; s && *s; s++) {
        w += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return w;
}

/* Cells are shown with control characters replaced by '?'. */
static void print_cell(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        putchar(c < 0x20 || c == 0x7f ? '?' : c);
    }
}

static void table_print(apr_pool_t *p, const table_t *t)
{
    apr_size_t *w = apr_pcalloc(p, t->ncols * sizeof(*w));
    int r, c;

    for (r = 0; r < t->rows->nelts; r++) {
        const char **row = APR_ARRAY_IDX(t->rows, r, const char **);
        for (c = 0; c < t->ncols; c++) {
            apr_size_t n = display_width(row[c] ? row[c] : "-");
            w[c] = n > w[c] ? n : w[c];
        }
    }
    for (r = 0; r < t->rows->nelts; r++) {
        const char **row = APR_ARRAY_IDX(t->rows, r, const char **);
        for (c = 0; c < t->ncols; c++) {
            const char *cell = row[c] ? row[c] : "-";
            print_cell(cell);
            if (c < t->ncols - 1) {
                apr_size_t n = display_width(cell);
                for (; n < w[c] + 2; n++) {
                    putchar(' ');
                }
            }
        }
        putchar('\n');
    }
}

/* ---------------------------------------------------------------------------
 * Secrets: read from files or stdin, wiped when the pool goes
 * ------------------------------------------------------------------------- */

typedef struct {
    char *buf;
    apr_size_t size;
} wipe_t;

static apr_status_t wipe_cleanup(void *data)
{
    wipe_t *w = data;

    ca_cleanse(w->buf, w->size);
    return APR_SUCCESS;
}

static char *secret_alloc(apr_pool_t *p, apr_size_t size)
{
    wipe_t *w = apr_palloc(p, sizeof(*w));

    w->buf = apr_pcalloc(p, size);
    w->size = size;
    apr_pool_cleanup_register(p, w, wipe_cleanup, apr_pool_cleanup_null);
    return w->buf;
}

/* Remember a pool string holding a secret, to be wiped with the pool. */
static void secret_track(apr_pool_t *p, const char *s)
{
    wipe_t *w;

    if (s == NULL) {
        return;
    }
    w = apr_palloc(p, sizeof(*w));
    w->buf = (char *)s;
    w->size = strlen(s);
    apr_pool_cleanup_register(p, w, wipe_cleanup, apr_pool_cleanup_null);
}

/* A new endpoint key (wiped with the pool), its hash and, if hint is not NULL, its
 * hint; 0 if there were no random bytes. */
static int new_key(apr_pool_t *p, char **key, const char **hash, const char **hint)
{
    if (ca_key_generate(p, key) != APR_SUCCESS || (*hash = ca_key_hash(p, *key)) == NULL
        || (hint && (*hint = ca_key_hint(p, *key)) == NULL)) {
        return 0;
    }
    secret_track(p, *key);
    return 1;
}

/* Read all of path ("-": stdin), at most max bytes, without stdio buffers.
 * NULL on success, else an error message. */
static const char *read_all(apr_pool_t *p, const char *path, apr_size_t max,
                            char **out, apr_size_t *outlen)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    char *buf;
    apr_size_t len = 0;

    if (fd < 0) {
        return apr_psprintf(p, "cannot open %s: %s", path, strerror(errno));
    }
    buf = secret_alloc(p, max + 2);
    for (;;) {
        ssize_t n = read(fd, buf + len, max + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const char *e = apr_psprintf(p, "cannot read %s: %s",
                                         strcmp(path, "-") ? path : "stdin",
                                         strerror(errno));
            if (fd != STDIN_FILENO) {
                close(fd);
            }
            return e;
        }
        if (n == 0) {
            break;
        }
        len += (apr_size_t)n;
        if (len > max) {
            break;
        }
    }
    if (fd != STDIN_FILENO) {
        close(fd);
    }
    if (len > max) {
        return apr_psprintf(p, "%s is larger than %lu bytes",
                            strcmp(path, "-") ? path : "stdin", (unsigned long)max);
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return NULL;
}

/* A provider token, key or secret from a file: surrounding whitespace is
 * removed; what is left must be non-empty, with no whitespace or control
 * characters inside. NULL on success, else the error (never the value). */
static const char *read_token_file(apr_pool_t *p, const char *path, const char *what,
                                   const char **out)
{
    char *buf, *s, *e;
    apr_size_t len, i;
    const char *err = read_all(p, path, MAX_SECRET_FILE, &buf, &len);

    if (err) {
        return apr_psprintf(p, "%s: %s", what, err);
    }
    s = buf;
    e = buf + len;
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
        s++;
    }
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) {
        e--;
    }
    if (s == e) {
        return apr_psprintf(p, "%s: %s is empty", what, path);
    }
    for (i = 0; s + i < e; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f) {
            return apr_psprintf(p, "%s: %s holds whitespace or control characters inside "
                                "the value (one value per file)", what, path);
        }
    }
    *e = '\0';
    *out = s;
    return NULL;
}

/* A new password: from path ("-": stdin), else stdin (prompting twice without
 * echo on a terminal). One trailing newline (LF or CR LF) is removed; the rest
 * is the password, checked against ca_password_policy. Returns EXIT_OK or an
 * exit code (message printed). */
static int read_new_password(apr_pool_t *p, const command_t *cmd, const char *path,
                             const char **out)
{
    const char *why, *err;
    char *buf;
    apr_size_t len;

    if (path == NULL && isatty(STDIN_FILENO)) {
        char *a = secret_alloc(p, CA_PASSWORD_MAX_LEN + 2);
        char *b = secret_alloc(p, CA_PASSWORD_MAX_LEN + 2);
        apr_size_t na = CA_PASSWORD_MAX_LEN + 2, nb = CA_PASSWORD_MAX_LEN + 2;

        if (apr_password_get("New password: ", a, &na) != APR_SUCCESS
            || apr_password_get("Repeat it: ", b, &nb) != APR_SUCCESS) {
            return fail(cmd, "cannot read the password from the terminal");
        }
        if (strcmp(a, b) != 0) {
            return bad_input(cmd, "the two passwords differ");
        }
        buf = a;
        len = strlen(a);
    }
    else {
        err = read_all(p, path ? path : "-", CA_PASSWORD_MAX_LEN + 2, &buf, &len);
        if (err) {
            return fail(cmd, apr_psprintf(p, "password: %s", err));
        }
        if (len > 0 && buf[len - 1] == '\n') {
            buf[--len] = '\0';
            if (len > 0 && buf[len - 1] == '\r') {
                buf[--len] = '\0';
            }
        }
    }
    if (ca_password_policy_len(buf, len, &why) != APR_SUCCESS) {
        return bad_input(cmd, apr_psprintf(p, "refused: %s (10..1024 bytes of UTF-8, "
                                           "read from %s)", why,
                                           path && strcmp(path, "-") ? path : "stdin"));
    }
    *out = buf;
    return EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * Database and key file
 * ------------------------------------------------------------------------- */

/* Driver and parameters from --driver/--params or the environment; EXIT_OK
 * or EXIT_USAGE (printed). */
static int db_args(const command_t *cmd, apr_table_t *v, const char **driver,
                   const char **params)
{
    *driver = apr_table_get(v, "driver");
    if (*driver == NULL) {
        *driver = getenv(DRIVER_ENV);
    }
    *params = apr_table_get(v, "params");
    if (*params == NULL) {
        *params = getenv(PARAMS_ENV);
    }
    if (*driver == NULL || **driver == '\0') {
        return usage_error(cmd, "--driver (or $" DRIVER_ENV ") is required");
    }
    if (strcmp(*driver, "pgsql") != 0 && strcmp(*driver, "sqlite3") != 0) {
        return usage_error(cmd, "--driver must be pgsql or sqlite3");
    }
    if (*params == NULL || **params == '\0') {
        return usage_error(cmd, "--params (or $" PARAMS_ENV ") is required");
    }
    return EXIT_OK;
}

/* Connect and prepare every statement. EXIT_OK or an exit code (printed). */
static int open_db(apr_pool_t *pool, const command_t *cmd, apr_table_t *v, ca_db_t **db)
{
    const char *driver, *params, *err = NULL;
    int rc = db_args(cmd, v, &driver, &params);
    apr_status_t rv;

    if (rc != EXIT_OK) {
        return rc;
    }
    rv = ca_db_connect(pool, driver, params, db, &err);
    if (rv == APR_SUCCESS) {
        rv = ca_db_prepare_all(pool, *db, &err);
        if (rv != APR_SUCCESS) {
            err = apr_pstrcat(pool, err ? err : "cannot prepare statements",
                              " (is the database migrated? run clientapi migrate)", NULL);
            ca_db_close(*db);
        }
    }
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    return EXIT_OK;
}

static int load_ring(apr_pool_t *pool, const command_t *cmd, apr_table_t *v,
                     ca_keyring_t **ring)
{
    const char *path = apr_table_get(v, "key-file"), *err = NULL;
    int loose = 0;

    if (path == NULL) {
        path = getenv(KEYFILE_ENV);
    }
    if (path == NULL || *path == '\0') {
        return usage_error(cmd, "--key-file (or $" KEYFILE_ENV ") is required");
    }
    if (ca_keyring_load(pool, path, ring, &loose, &err) != APR_SUCCESS) {
        return fail(cmd, err);
    }
    if (loose) {
        fprintf(stderr, "clientapi %s: warning: key file %s can be read or written by "
                "group or others (chmod 600 it)\n", cmd->name, path);
    }
    return EXIT_OK;
}

/* Audit trail entry for a change made here. The actor is the command line (an
 * admin on the server), recorded like the system: no user id, no email, and
 * "clientapi command" in the detail. A failure is reported as a warning: the
 * change itself is done. */
static void audit(apr_pool_t *pool, ca_db_t *db, const command_t *cmd,
                  const char *action, const char *kind, const char *target,
                  const char *detail)
{
    const char *err = NULL;

    if (ca_store_audit(pool, db, 0, NULL, action, kind, target,
                       apr_pstrcat(pool, "clientapi command: ", detail, NULL), NULL,
                       now_sec(), &err) != APR_SUCCESS) {
        fprintf(stderr, "clientapi %s: warning: audit event not stored: %s\n", cmd->name,
                err ? err : "error");
    }
}

static int user_by_email(apr_pool_t *pool, const command_t *cmd, ca_db_t *db,
                         const char *email, ca_user_t **u)
{
    const char *err = NULL;
    apr_status_t rv = ca_store_user_by_email(pool, db, email, u, &err);

    if (rv == CA_DB_ENOTFOUND) {
        return fail(cmd, apr_psprintf(pool, "no user with email %s", email));
    }
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    return EXIT_OK;
}

/* Open the database and look up the user of the required --email. */
static int open_db_user(apr_pool_t *pool, const command_t *cmd, apr_table_t *v,
                        ca_db_t **db, ca_user_t **u)
{
    const char *email = apr_table_get(v, "email");
    int rc;

    if (email == NULL) {
        return usage_error(cmd, "--email is required");
    }
    if ((rc = open_db(pool, cmd, v, db)) != EXIT_OK) {
        return rc;
    }
    return user_by_email(pool, cmd, *db, email, u);
}

static int endpoint_by_public_id(apr_pool_t *pool, const command_t *cmd, ca_db_t *db,
                                 const char *public_id, ca_endpoint_t **ep)
{
    const char *err = NULL;
    apr_status_t rv;

    if (!ca_endpoint_id_valid(public_id)) {
        return bad_input(cmd, apr_psprintf(pool, "\"%s\" is not an endpoint id (ep_ "
                                           "followed by letters, digits, - and _)",
                                           public_id));
    }
    rv = ca_store_endpoint_by_public_id(pool, db, public_id, ep, &err);
    if (rv == CA_DB_ENOTFOUND) {
        return fail(cmd, apr_psprintf(pool, "no endpoint %s", public_id));
    }
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    return EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * migrate
 * ------------------------------------------------------------------------- */

static void print_pending(apr_pool_t *pool, ca_db_t *db, const char *sql_dir)
{
    apr_array_header_t *files, *have;
    const char *err = NULL;
    int max = 0, i, pending = 0;

    if (ca_migrate_applied(pool, db, &have, &max, &err) != APR_SUCCESS
        || ca_migrate_list(pool, sql_dir, ca_db_driver_name(db), &files, &err)
           != APR_SUCCESS) {
        fprintf(stderr, "clientapi migrate: %s\n", err);
        return;
    }
    printf("database schema version: %d\n", max);
    for (i = 0; i < files->nelts; i++) {
        const ca_migration_t *m = &APR_ARRAY_IDX(files, i, ca_migration_t);
        int j, done = 0;
        for (j = 0; j < have->nelts; j++) {
            done |= APR_ARRAY_IDX(have, j, int) == m->version;
        }
        if (!done) {
            printf("pending: %s\n", m->name);
            pending++;
        }
    }
    if (!pending) {
        printf("up to date\n");
    }
}

static int cmd_migrate(apr_pool_t *pool, const command_t *cmd, int argc,
                       const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        O_DRIVER, O_PARAMS,
        {"sql-dir", OPT_SQL_DIR, 1, "directory holding <driver>/NNNN_*.sql"},
        {"status", OPT_STATUS, 0, "show the schema version and pending files only"},
        O_END
    };
    apr_table_t *v = apr_table_make(pool, 4);
    const char *driver, *params, *sql_dir, *err = NULL;
    apr_array_header_t *applied = NULL;
    ca_db_t *db;
    int version = 0, i, rc;
    apr_status_t rv;

    rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);
    if (rc == EXIT_OK) {
        rc = db_args(cmd, v, &driver, &params);
    }
    if (rc != EXIT_OK) {
        return rc;
    }
    sql_dir = apr_table_get(v, "sql-dir");
    if (sql_dir == NULL) {
        sql_dir = CA_SQL_DIR;
    }
    rv = ca_db_connect(pool, driver, params, &db, &err);
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    if (apr_table_get(v, "status")) {
        print_pending(pool, db, sql_dir);
        ca_db_close(db);
        return EXIT_OK;
    }
    rv = ca_migrate_run(pool, db, sql_dir, now_sec(), &applied, &version, &err);
    for (i = 0; applied && i < applied->nelts; i++) {
        printf("applied %s\n", APR_ARRAY_IDX(applied, i, ca_migration_t).name);
    }
    ca_db_close(db);
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    if (applied->nelts == 0) {
        printf("up to date (schema version %d)\n", version);
    }
    else {
        printf("schema version %d\n", version);
    }
    return EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * keygen, key (no database)
 * ------------------------------------------------------------------------- */

static int cmd_keygen(apr_pool_t *pool, const command_t *cmd, int argc,
                      const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"kid", OPT_KID, 1, "key id (1..32 of A-Z a-z 0-9 - _)"}, O_END
    };
    apr_table_t *v = apr_table_make(pool, 2);
    const char *kid, *line = NULL;
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    kid = apr_table_get(v, "kid");
    if (kid == NULL) {
        apr_time_exp_t tm;
        const char *suffix = ca_random_token(pool, 3);
        if (suffix == NULL) {
            return fail(cmd, "no random bytes");
        }
        apr_time_exp_gmt(&tm, apr_time_now());
        kid = apr_psprintf(pool, "k%04d%02d%02d-%s", tm.tm_year + 1900, tm.tm_mon + 1,
                           tm.tm_mday, suffix);
    }
    else if (!ca_kid_valid(kid)) {
        return usage_error(cmd, "--kid must be 1..32 characters of A-Z a-z 0-9 - _");
    }
    if (ca_keyring_new_line(pool, kid, &line) != APR_SUCCESS) {
        return fail(cmd, "cannot make a key (no random bytes?)");
    }
    printf("%s\n", line);
    fflush(stdout);
    ca_cleanse((char *)line, strlen(line));
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, "# append this line to the key file (chmod 600), restart httpd, "
                "then run: clientapi rekey\n");
    }
    return EXIT_OK;
}

static int cmd_key(apr_pool_t *pool, const command_t *cmd, int argc,
                   const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"endpoint", OPT_ENDPOINT, 1, "endpoint id (default: a new ep_ id)"},
        {"connection", OPT_CONNECTION, 1, "connection id"},
        {"scope", OPT_SCOPE, 1, "company:ID or client:CO/CL"},
        {"mode", OPT_MODE, 1, "read-only (default) or read-write"},
        O_END
    };
    apr_table_t *v = apr_table_make(pool, 4);
    const char *ep, *conn, *scope, *mode, *hash, *err;
    char *key = NULL, *newid = NULL;
    apr_int64_t n;
    scope_arg_t sc;
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    ep = apr_table_get(v, "endpoint");
    conn = apr_table_get(v, "connection");
    scope = apr_table_get(v, "scope");
    mode = apr_table_get(v, "mode");
    if (ep && !ca_endpoint_id_valid(ep)) {
        return usage_error(cmd, "--endpoint must be ep_ followed by letters, digits, - and"
                           " _ (4..64 characters)");
    }
    if (conn && !parse_i64(conn, 1, 0x7fffffff, &n)) {
        return bad_connection_opt(cmd);
    }
    if (scope && (err = parse_scope(pool, scope, 0, &sc)) != NULL) {
        return usage_error(cmd, err);
    }
    if (mode == NULL) {
        mode = "read-only";
    }
    else if (!mode_valid(mode)) {
        return usage_error(cmd, "--mode must be read-only or read-write");
    }
    if (ep == NULL) {
        if (ca_endpoint_id_generate(pool, &newid) != APR_SUCCESS) {
            return fail(cmd, "no random bytes");
        }
        ep = newid;
    }
    if (!new_key(pool, &key, &hash, NULL)) {
        return fail(cmd, "cannot make a key (no random bytes?)");
    }
    printf("key: %s\n", key);
    printf("ClientAPIEndpoint %s connection=%s scope=%s mode=%s key=%s\n", ep,
           conn ? apr_psprintf(pool, "%" APR_INT64_T_FMT, n) : "CONNECTION-ID",
           scope ? scope_text(pool, sc.kind, sc.company_id, sc.client_id)
                 : "company:COMPANY-ID",
           mode, hash);
    fflush(stdout);
    fprintf(stderr, "# The key is shown only now and is not stored anywhere: give it to "
            "the caller.\n# Paste the ClientAPIEndpoint line into httpd.conf%s.\n",
            conn && scope ? "" : " after filling in connection= and scope=");
    return EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * useradd, passwd, userdel
 * ------------------------------------------------------------------------- */

static int cmd_useradd(apr_pool_t *pool, const command_t *cmd, int argc,
                       const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"email", OPT_EMAIL, 1, "login email"},
        {"role", OPT_ROLE, 1, "admin or member (default)"},
        {"password-file", OPT_PASSWORD_FILE, 1, "file holding the password (- = stdin)"},
        O_DRIVER, O_PARAMS, O_END
    };
    apr_table_t *v = apr_table_make(pool, 6);
    const char *email, *role, *pw = NULL, *hash = NULL, *err = NULL, *d, *pa;
    apr_int64_t id = 0;
    ca_db_t *db;
    apr_status_t rv;
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    email = apr_table_get(v, "email");
    role = apr_table_get(v, "role");
    if (email == NULL) {
        return usage_error(cmd, "--email is required");
    }
    if (!ca_email_valid(email)) {
        return usage_error(cmd, apr_psprintf(pool, "\"%s\" is not an email address",
                                             email));
    }
    if (role == NULL) {
        role = "member";
    }
    else if (strcmp(role, "admin") != 0 && strcmp(role, "member") != 0) {
        return usage_error(cmd, "--role must be admin or member");
    }
    if ((rc = db_args(cmd, v, &d, &pa)) != EXIT_OK
        || (rc = read_new_password(pool, cmd, apr_table_get(v, "password-file"), &pw))
           != EXIT_OK) {
        return rc;
    }
    if (ca_password_hash(pool, pw, 0, &hash, &err) != APR_SUCCESS) {
        return fail(cmd, err);
    }
    if ((rc = open_db(pool, cmd, v, &db)) != EXIT_OK) {
        return rc;
    }
    rv = ca_store_user_create(pool, db, email, hash, role, now_sec(), &id, &err);
    if (rv == CA_DB_ECONSTRAINT) {
        return fail(cmd, apr_psprintf(pool, "a user with email %s already exists", email));
    }
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    audit(pool, db, cmd, "user.create", "user", ca_db_i64(pool, id),
          apr_pstrcat(pool, "role ", role, NULL));
    {
        char *lower = apr_pstrdup(pool, email), *q;
        for (q = lower; *q; q++) {
            *q = (char)apr_tolower(*q);     /* as the storage layer stores it */
        }
        printf("created user %s (id %" APR_INT64_T_FMT ", role %s)\n", lower, id, role);
    }
    return EXIT_OK;
}

static int cmd_passwd(apr_pool_t *pool, const command_t *cmd, int argc,
                      const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"email", OPT_EMAIL, 1, "login email"},
        {"password-file", OPT_PASSWORD_FILE, 1, "file holding the password (- = stdin)"},
        O_DRIVER, O_PARAMS, O_END
    };
    apr_table_t *v = apr_table_make(pool, 6);
    const char *pw = NULL, *hash = NULL, *err = NULL;
    ca_user_t *u;
    ca_db_t *db;
    apr_status_t rv;
    int ended = 0;
    int rc;

    if ((rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL)) != EXIT_OK
        || (rc = open_db_user(pool, cmd, v, &db, &u)) != EXIT_OK
        || (rc = read_new_password(pool, cmd, apr_table_get(v, "password-file"), &pw))
           != EXIT_OK) {
        return rc;
    }
    if (ca_password_hash(pool, pw, 0, &hash, &err) != APR_SUCCESS) {
        return fail(cmd, err);
    }
    /* a new password ends every session and lifts a login lock */
    rv = ca_store_user_set_password(pool, db, u->id, hash, now_sec(), &ended, &err);
    if (rv == CA_DB_ENOTFOUND) {
        err = apr_psprintf(pool, "no user with email %s", apr_table_get(v, "email"));
    }
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    audit(pool, db, cmd, "user.password", "user", ca_db_i64(pool, u->id),
          "password changed");
    printf("password changed for %s (%d session%s ended)\n", u->email, ended,
           ended == 1 ? "" : "s");
    return EXIT_OK;
}

static int cmd_userdel(apr_pool_t *pool, const command_t *cmd, int argc,
                       const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"email", OPT_EMAIL, 1, "login email"}, O_DRIVER, O_PARAMS, O_END
    };
    apr_table_t *v = apr_table_make(pool, 4);
    const char *err = NULL;
    ca_user_t *u;
    ca_db_t *db;
    int rc;

    if ((rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL)) != EXIT_OK
        || (rc = open_db_user(pool, cmd, v, &db, &u)) != EXIT_OK) {
        return rc;
    }
    if (ca_store_user_delete(pool, db, u->id, &err) != APR_SUCCESS) {
        return fail(cmd, err);
    }
    audit(pool, db, cmd, "user.delete", "user", ca_db_i64(pool, u->id),
          "account and everything it owned deleted");
    printf("deleted user %s with its connections, endpoints, keys and sessions\n",
           u->email);
    return EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * connection add, connection list
 * ------------------------------------------------------------------------- */

static int cmd_connection_add(apr_pool_t *pool, const command_t *cmd, int argc,
                              const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"user", OPT_USER, 1, "owner's email"},
        {"provider", OPT_PROVIDER, 1, "provider file name, e.g. clientcommander"},
        {"account-id", OPT_ACCOUNT_ID, 1, "the provider's account id"},
        {"label", OPT_LABEL, 1, "display name of the account"},
        {"api-key-file", OPT_API_KEY_FILE, 1, "file holding a pasted API key"},
        {"access-token-file", OPT_ACCESS_TOKEN_FILE, 1, "file holding an access token"},
        {"refresh-token-file", OPT_REFRESH_TOKEN_FILE, 1, "file holding a refresh token"},
        {"expires-in", OPT_EXPIRES_IN, 1, "seconds the access token is valid"},
        {"scopes", OPT_SCOPES, 1, "granted scopes, space-separated"},
        O_DRIVER, O_PARAMS, O_KEY_FILE, O_END
    };
    apr_table_t *v = apr_table_make(pool, 12);
    const char *email, *provider, *account, *label, *kfile, *afile, *rfile, *exp, *scopes;
    const char *apikey = NULL, *access = NULL, *refresh = NULL, *err = NULL, *d, *pa;
    const char *s_api = NULL, *s_access = NULL, *s_refresh = NULL;
    apr_int64_t expires_in = 0, now = now_sec();
    ca_connection_t c;
    ca_keyring_t *ring;
    ca_user_t *u;
    ca_db_t *db;
    ca_db_txn_t *txn;
    apr_status_t rv;
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    email = apr_table_get(v, "user");
    provider = apr_table_get(v, "provider");
    account = apr_table_get(v, "account-id");
    label = apr_table_get(v, "label");
    kfile = apr_table_get(v, "api-key-file");
    afile = apr_table_get(v, "access-token-file");
    rfile = apr_table_get(v, "refresh-token-file");
    exp = apr_table_get(v, "expires-in");
    scopes = apr_table_get(v, "scopes");
    if (!email || !provider || !account) {
        return usage_error(cmd, "--user, --provider and --account-id are required");
    }
    if (!provider_valid(provider)) {
        return usage_error(cmd, apr_psprintf(pool, "bad provider name \"%s\": a provider "
                                             "file name is 1..64 of a-z 0-9 _",
                                             provider));
    }
    if (!plain_text(account, MAX_TEXT)) {
        return bad_text_opt(pool, cmd, "account-id", MAX_TEXT);
    }
    if (label && !plain_text(label, MAX_TEXT)) {
        return bad_text_opt(pool, cmd, "label", MAX_TEXT);
    }
    if (scopes && !plain_text(scopes, MAX_SCOPES)) {
        return bad_text_opt(pool, cmd, "scopes", MAX_SCOPES);
    }
    if ((kfile != NULL) == (afile != NULL)) {
        return usage_error(cmd, "give exactly one of --api-key-file and "
                           "--access-token-file");
    }
    if (kfile && (rfile || exp)) {
        return usage_error(cmd, "--refresh-token-file and --expires-in go with "
                           "--access-token-file");
    }
    if (exp && !parse_i64(exp, 1, MAX_EXPIRES_IN, &expires_in)) {
        return usage_error(cmd, "--expires-in must be a number of seconds (1..315360000)");
    }
    if (afile && rfile && strcmp(afile, "-") == 0 && strcmp(rfile, "-") == 0) {
        return usage_error(cmd, "only one secret can come from stdin (-)");
    }
    if ((rc = db_args(cmd, v, &d, &pa)) != EXIT_OK
        || (rc = load_ring(pool, cmd, v, &ring)) != EXIT_OK) {
        return rc;
    }
    if ((kfile && (err = read_token_file(pool, kfile, "--api-key-file", &apikey)))
        || (afile && (err = read_token_file(pool, afile, "--access-token-file", &access)))
        || (rfile && (err = read_token_file(pool, rfile, "--refresh-token-file",
                                            &refresh)))) {
        return fail(cmd, err);
    }
    if ((rc = open_db(pool, cmd, v, &db)) != EXIT_OK
        || (rc = user_by_email(pool, cmd, db, email, &u)) != EXIT_OK) {
        return rc;
    }

    /* insert without secrets to get the id their associated data names, then
     * store them sealed, in one transaction */
    memset(&c, 0, sizeof(c));
    c.user_id = u->id;
    c.provider = provider;
    c.account_id = account;
    c.account_label = label;
    c.auth_mode = kfile ? "api_key" : "oauth2";
    c.scopes = scopes;
    c.expires_at = expires_in ? now + expires_in : 0;
    rv = ca_db_txn_begin(pool, db, &txn, &err);
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    rv = ca_store_connection_insert(pool, db, &c, now, &err);
    if (rv == APR_SUCCESS) {
        if ((apikey && ca_conn_seal(pool, ring, c.id, CA_CONN_API_KEY, apikey, &s_api))
            || (access && ca_conn_seal(pool, ring, c.id, CA_CONN_ACCESS_TOKEN, access,
                                       &s_access))
            || (refresh && ca_conn_seal(pool, ring, c.id, CA_CONN_REFRESH_TOKEN, refresh,
                                        &s_refresh))) {
            rv = APR_EGENERAL;
            err = "cannot seal the secrets";
        }
    }
    if (rv == APR_SUCCESS && s_api) {
        const char *a[] = {s_api, NULL, NULL, NULL, ca_db_i64(pool, now),
                           ca_db_i64(pool, c.id)};
        rv = ca_db_exec(pool, db, CA_SQL_CONNECTION_UPDATE_CREDENTIALS, 6, a, NULL, &err);
    }
    if (rv == APR_SUCCESS && s_access) {
        const char *a[] = {s_access, s_refresh,
                           c.expires_at ? ca_db_i64(pool, c.expires_at) : NULL, scopes,
                           NULL, ca_db_i64(pool, now), ca_db_i64(pool, c.id)};
        rv = ca_db_exec(pool, db, CA_SQL_CONNECTION_UPDATE_TOKENS, 7, a, NULL, &err);
    }
    rv = ca_db_txn_end(txn, rv, &err);
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    audit(pool, db, cmd, "connection.create", "connection", ca_db_i64(pool, c.id),
          apr_pstrcat(pool, provider, " account ", account, NULL));
    printf("%" APR_INT64_T_FMT "\n", c.id);
    fflush(stdout);
    fprintf(stderr, "# stored connection %" APR_INT64_T_FMT " (%s, account %s) for %s; "
            "secrets sealed with key %s\n", c.id, provider, account, u->email,
            ca_keyring_current_kid(ring));
    return EXIT_OK;
}

/* "sealed (kid k1)", "sealed (kids k0, k1)" or "none": never the values. */
static const char *sealed_summary(apr_pool_t *p, const ca_connection_t *c)
{
    const char *vals[] = {c->access_token_enc, c->refresh_token_enc, c->api_key_enc,
                          c->client_secret_enc};
    apr_array_header_t *kids = apr_array_make(p, 4, sizeof(const char *));
    int i, j, n = 0;

    for (i = 0; i < 4; i++) {
        const char *kid;
        int seen = 0;
        if (vals[i] == NULL) {
            continue;
        }
        n++;
        kid = ca_sealed_kid(p, vals[i]);
        kid = kid ? kid : "?";
        for (j = 0; j < kids->nelts; j++) {
            seen |= strcmp(APR_ARRAY_IDX(kids, j, const char *), kid) == 0;
        }
        if (!seen) {
            APR_ARRAY_PUSH(kids, const char *) = kid;
        }
    }
    if (n == 0) {
        return "none";
    }
    return apr_psprintf(p, "%d sealed (kid%s %s)", n, kids->nelts > 1 ? "s" : "",
                        apr_array_pstrcat(p, kids, ','));
}

static int cmd_connection_list(apr_pool_t *pool, const command_t *cmd, int argc,
                               const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"user", OPT_USER, 1, "only this user's connections"}, O_DRIVER, O_PARAMS, O_END
    };
    static const char *const header[] = {
        "ID", "USER", "PROVIDER", "ACCOUNT", "LABEL", "AUTH", "STATUS", "EXPIRES",
        "SECRETS"
    };
    apr_table_t *v = apr_table_make(pool, 4);
    const char *email, *err = NULL;
    apr_int64_t after = 0;
    ca_db_t *db;
    ca_user_t *only = NULL;
    table_t *t = table_make(pool, 9, header);
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    email = apr_table_get(v, "user");
    if ((rc = open_db(pool, cmd, v, &db)) != EXIT_OK
        || (email && (rc = user_by_email(pool, cmd, db, email, &only)) != EXIT_OK)) {
        return rc;
    }
    for (;;) {
        apr_array_header_t *users;
        int u, i;

        if (only) {
            users = apr_array_make(pool, 1, sizeof(ca_user_t *));
            APR_ARRAY_PUSH(users, ca_user_t *) = only;
        }
        else if (ca_store_users_page(pool, db, after, 500, &users, &err) != APR_SUCCESS) {
            return fail(cmd, err);
        }
        for (u = 0; u < users->nelts; u++) {
            const ca_user_t *owner = APR_ARRAY_IDX(users, u, ca_user_t *);
            apr_array_header_t *conns;
            after = owner->id;
            if (ca_store_connections_by_user(pool, db, owner->id, &conns, &err)
                != APR_SUCCESS) {
                return fail(cmd, err);
            }
            for (i = 0; i < conns->nelts; i++) {
                const ca_connection_t *c = APR_ARRAY_IDX(conns, i, ca_connection_t *);
                const char **row = table_row(pool, t);
                row[0] = ca_db_i64(pool, c->id);
                row[1] = owner->email;
                row[2] = c->provider;
                row[3] = c->account_id;
                row[4] = c->account_label;
                row[5] = c->auth_mode;
                row[6] = c->status;
                row[7] = fmt_time(pool, c->expires_at);
                row[8] = sealed_summary(pool, c);
            }
        }
        if (only || users->nelts < 500) {
            break;
        }
    }
    table_print(pool, t);
    return EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * endpoint add, list, deactivate, activate, reissue, delete
 * ------------------------------------------------------------------------- */

static int cmd_endpoint_add(apr_pool_t *pool, const command_t *cmd, int argc,
                            const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"connection", OPT_CONNECTION, 1, "connection id"},
        {"scope", OPT_SCOPE, 1, "company:ID[:NAME] or client:CO/CL[:NAME]"},
        {"mode", OPT_MODE, 1, "read-only or read-write"},
        {"name", OPT_NAME, 1, "label shown in the dashboard"},
        {"expires-at", OPT_EXPIRES_AT, 1, "end of validity (unix time)"},
        {"ip-allow", OPT_IP_ALLOW, 1, "caller addresses allowed, CIDR,..."},
        O_DRIVER, O_PARAMS, O_END
    };
    apr_table_t *v = apr_table_make(pool, 8);
    const char *conn, *scope, *mode, *name, *exp, *ipa, *ip_allow = NULL, *bad, *err;
    const char *hash, *hint;
    char *key = NULL, *public_id = NULL;
    apr_int64_t conn_id = 0, expires_at = 0, now = now_sec();
    ca_connection_t *c;
    ca_endpoint_t ep;
    scope_arg_t sc;
    ca_db_t *db;
    apr_status_t rv;
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    conn = apr_table_get(v, "connection");
    scope = apr_table_get(v, "scope");
    mode = apr_table_get(v, "mode");
    name = apr_table_get(v, "name");
    exp = apr_table_get(v, "expires-at");
    ipa = apr_table_get(v, "ip-allow");
    if (!conn || !scope || !mode) {
        return usage_error(cmd, "--connection, --scope and --mode are required");
    }
    if (!parse_i64(conn, 1, APR_INT64_MAX, &conn_id)) {
        return bad_connection_opt(cmd);
    }
    if ((err = parse_scope(pool, scope, 1, &sc)) != NULL) {
        return usage_error(cmd, err);
    }
    if (!mode_valid(mode)) {
        return usage_error(cmd, "--mode must be read-only or read-write");
    }
    if (name && !plain_text(name, MAX_TEXT)) {
        return bad_text_opt(pool, cmd, "name", MAX_TEXT);
    }
    if (exp && !parse_i64(exp, 1, APR_INT64_C(253402300799), &expires_at)) {
        return usage_error(cmd, "--expires-at must be a unix time (seconds)");
    }
    if (exp && expires_at <= now) {
        return usage_error(cmd, "--expires-at is in the past");
    }
    if (ipa && (ip_allow = parse_ip_allow(pool, ipa, &bad)) == NULL) {
        return usage_error(cmd, apr_psprintf(pool, "--ip-allow: \"%s\" is not an IPv4 or "
                                             "IPv6 address or CIDR block", bad));
    }
    if ((rc = open_db(pool, cmd, v, &db)) != EXIT_OK) {
        return rc;
    }
    rv = ca_store_connection_get(pool, db, conn_id, &c, &err);
    if (rv == CA_DB_ENOTFOUND) {
        return fail(cmd, apr_psprintf(pool, "unknown connection %s", conn));
    }
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    if (c->status && strcmp(c->status, "disconnected") == 0) {
        return fail(cmd, apr_psprintf(pool, "connection %s is disconnected", conn));
    }
    if (ca_endpoint_id_generate(pool, &public_id) != APR_SUCCESS
        || !new_key(pool, &key, &hash, &hint)) {
        return fail(cmd, "cannot make an endpoint id or key (no random bytes?)");
    }
    memset(&ep, 0, sizeof(ep));
    ep.public_id = public_id;
    ep.user_id = c->user_id;
    ep.connection_id = c->id;
    ep.name = name ? name : sc.name ? sc.name
                          : apr_pstrcat(pool, c->provider, " ",
                                        scope_text(pool, sc.kind, sc.company_id,
                                                   sc.client_id), NULL);
    ep.scope_kind = sc.kind;
    ep.company_id = sc.company_id;
    ep.client_id = sc.client_id;
    if (strcmp(sc.kind, "company") == 0) {
        ep.company_name = sc.name;
    }
    else {
        ep.client_name = sc.name;
    }
    ep.access_mode = mode;
    ep.status = "active";
    ep.expires_at = expires_at;
    ep.ip_allow = ip_allow;
    rv = ca_store_endpoint_create(pool, db, &ep, hash, hint, now, &err);
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    audit(pool, db, cmd, "endpoint.create", "endpoint", public_id,
          apr_pstrcat(pool, scope_text(pool, sc.kind, sc.company_id, sc.client_id), " ",
                      mode, NULL));
    printf("endpoint: %s\nkey: %s\n", public_id, key);
    fflush(stdout);
    fprintf(stderr, "# WARNING: the key is shown only now and is not stored (only its "
            "hash): give it to the caller.\n# Callers send it as \"Authorization: Bearer "
            "<key>\" to {base}/api/%s\n", public_id);
    return EXIT_OK;
}

static int cmd_endpoint_list(apr_pool_t *pool, const command_t *cmd, int argc,
                             const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"user", OPT_USER, 1, "only this user's endpoints"},
        {"connection", OPT_CONNECTION, 1, "only this connection's endpoints"},
        O_DRIVER, O_PARAMS, O_END
    };
    static const char *const header[] = {
        "ENDPOINT", "CONN", "PROVIDER", "SCOPE", "MODE", "STATUS", "KEY", "EXPIRES",
        "NAME"
    };
    apr_table_t *v = apr_table_make(pool, 4);
    const char *email, *conn, *err = NULL;
    apr_int64_t after = 0, conn_id = 0;
    ca_user_t *u = NULL;
    ca_db_t *db;
    table_t *t = table_make(pool, 9, header);
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    email = apr_table_get(v, "user");
    conn = apr_table_get(v, "connection");
    if (conn && !parse_i64(conn, 1, APR_INT64_MAX, &conn_id)) {
        return bad_connection_opt(cmd);
    }
    if ((rc = open_db(pool, cmd, v, &db)) != EXIT_OK
        || (email && (rc = user_by_email(pool, cmd, db, email, &u)) != EXIT_OK)) {
        return rc;
    }
    for (;;) {
        apr_array_header_t *eps;
        int i;

        if (ca_store_endpoints_page(pool, db, after, 500, &eps, &err) != APR_SUCCESS) {
            return fail(cmd, err);
        }
        for (i = 0; i < eps->nelts; i++) {
            const ca_endpoint_t *ep = APR_ARRAY_IDX(eps, i, ca_endpoint_t *);
            const char **row;
            after = ep->id;
            if ((u && ep->user_id != u->id) || (conn_id && ep->connection_id != conn_id)) {
                continue;
            }
            row = table_row(pool, t);
            row[0] = ep->public_id;
            row[1] = ca_db_i64(pool, ep->connection_id);
            row[2] = ep->provider;
            row[3] = scope_text(pool, ep->scope_kind, ep->company_id, ep->client_id);
            row[4] = ep->access_mode;
            row[5] = ep->managed_by_config ? apr_pstrcat(pool, ep->status, " (httpd.conf)",
                                                         NULL) : ep->status;
            row[6] = ep->key_hint ? ep->key_hint : "none";
            row[7] = fmt_time(pool, ep->expires_at);
            row[8] = ep->name;
        }
        if (eps->nelts < 500) {
            break;
        }
    }
    table_print(pool, t);
    return EXIT_OK;
}

static int endpoint_set_status(apr_pool_t *pool, const command_t *cmd, int argc,
                               const char *const *argv, const char *status)
{
    static const apr_getopt_option_t opts[] = {O_DRIVER, O_PARAMS, O_END};
    apr_table_t *v = apr_table_make(pool, 4);
    const char *id, *err = NULL;
    ca_endpoint_t *ep;
    ca_db_t *db;
    apr_status_t rv;
    int rc;

    if ((rc = parse_endpoint_opts(pool, cmd, argc, argv, opts, v, &id)) != EXIT_OK
        || (rc = open_db(pool, cmd, v, &db)) != EXIT_OK
        || (rc = endpoint_by_public_id(pool, cmd, db, id, &ep)) != EXIT_OK) {
        return rc;
    }
    if (strcmp(ep->status, status) == 0) {
        printf("%s is already %s\n", ep->public_id, status);
        return EXIT_OK;
    }
    rv = ca_store_endpoint_set_status(pool, db, ep->id, status, now_sec(), &err);
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    audit(pool, db, cmd, strcmp(status, "active") == 0
          ? "endpoint.activate" : "endpoint.deactivate", "endpoint", ep->public_id,
          status);
    printf("%s %s\n", ep->public_id,
           strcmp(status, "active") == 0 ? "activated" : "deactivated");
    return EXIT_OK;
}

static int cmd_endpoint_deactivate(apr_pool_t *pool, const command_t *cmd, int argc,
                                   const char *const *argv)
{
    return endpoint_set_status(pool, cmd, argc, argv, "inactive");
}

static int cmd_endpoint_activate(apr_pool_t *pool, const command_t *cmd, int argc,
                                 const char *const *argv)
{
    return endpoint_set_status(pool, cmd, argc, argv, "active");
}

static int cmd_endpoint_reissue(apr_pool_t *pool, const command_t *cmd, int argc,
                                const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"grace", OPT_GRACE, 1, "seconds the old key keeps working (0..86400)"},
        O_DRIVER, O_PARAMS, O_END
    };
    apr_table_t *v = apr_table_make(pool, 4);
    const char *id, *grace, *err = NULL, *hash, *hint;
    char *key = NULL;
    apr_int64_t grace_sec = 0, now = now_sec();
    ca_endpoint_t *ep;
    ca_db_t *db;
    apr_status_t rv;
    int rc = parse_endpoint_opts(pool, cmd, argc, argv, opts, v, &id);

    if (rc != EXIT_OK) {
        return rc;
    }
    grace = apr_table_get(v, "grace");
    if (grace && !parse_i64(grace, 0, CA_STORE_MAX_GRACE, &grace_sec)) {
        return usage_error(cmd, "--grace must be a number of seconds from 0 to 86400 "
                           "(24 h)");
    }
    if ((rc = open_db(pool, cmd, v, &db)) != EXIT_OK
        || (rc = endpoint_by_public_id(pool, cmd, db, id, &ep)) != EXIT_OK) {
        return rc;
    }
    if (ep->managed_by_config) {
        return fail(cmd, apr_psprintf(pool, "%s is declared in httpd.conf: make a new key "
                                      "with clientapi key --endpoint %s and replace its "
                                      "ClientAPIEndpoint line", ep->public_id,
                                      ep->public_id));
    }
    if (!new_key(pool, &key, &hash, &hint)) {
        return fail(cmd, "cannot make a key (no random bytes?)");
    }
    rv = ca_store_endpoint_reissue_key(pool, db, ep->id, hash, hint, now, grace_sec, &err);
    if (rv != APR_SUCCESS) {
        return fail(cmd, err);
    }
    audit(pool, db, cmd, "key.reissue", "endpoint", ep->public_id,
          apr_psprintf(pool, "grace %" APR_INT64_T_FMT " s", grace_sec));
    printf("endpoint: %s\nkey: %s\n", ep->public_id, key);
    fflush(stdout);
    if (grace_sec > 0) {
        fprintf(stderr, "# the previous key keeps working until %s\n",
                fmt_time(pool, now + grace_sec));
    }
    else {
        fprintf(stderr, "# the previous key stopped working now\n");
    }
    fprintf(stderr, "# WARNING: the new key is shown only now and is not stored.\n");
    return EXIT_OK;
}

static int cmd_endpoint_delete(apr_pool_t *pool, const command_t *cmd, int argc,
                               const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {O_DRIVER, O_PARAMS, O_END};
    apr_table_t *v = apr_table_make(pool, 4);
    const char *id, *err = NULL;
    ca_endpoint_t *ep;
    ca_db_t *db;
    int rc;

    if ((rc = parse_endpoint_opts(pool, cmd, argc, argv, opts, v, &id)) != EXIT_OK
        || (rc = open_db(pool, cmd, v, &db)) != EXIT_OK
        || (rc = endpoint_by_public_id(pool, cmd, db, id, &ep)) != EXIT_OK) {
        return rc;
    }
    if (ca_store_endpoint_delete(pool, db, ep->id, &err) != APR_SUCCESS) {
        return fail(cmd, err);
    }
    audit(pool, db, cmd, "endpoint.delete", "endpoint", ep->public_id,
          "deleted");
    printf("deleted %s\n", ep->public_id);
    if (ep->managed_by_config) {
        fprintf(stderr, "# %s is declared in httpd.conf: remove its ClientAPIEndpoint "
                "line too, or httpd recreates it at the next start\n", ep->public_id);
    }
    return EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * rekey, purge
 * ------------------------------------------------------------------------- */

static int cmd_rekey(apr_pool_t *pool, const command_t *cmd, int argc,
                     const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {O_DRIVER, O_PARAMS, O_KEY_FILE, O_END};
    apr_table_t *v = apr_table_make(pool, 4);
    const char *err = NULL, *d, *pa;
    ca_keyring_t *ring;
    ca_db_t *db;
    int count = 0;
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    if ((rc = db_args(cmd, v, &d, &pa)) != EXIT_OK
        || (rc = load_ring(pool, cmd, v, &ring)) != EXIT_OK
        || (rc = open_db(pool, cmd, v, &db)) != EXIT_OK) {
        return rc;
    }
    if (ca_conn_rekey(pool, db, ring, &count, &err) != APR_SUCCESS) {
        return fail(cmd, apr_pstrcat(pool, err ? err : "failed",
                                     " (nothing was changed)", NULL));
    }
    if (count > 0) {
        audit(pool, db, cmd, "connection.rekey", "connection", NULL,
              apr_psprintf(pool, "%d secrets re-sealed with key %s", count,
                           ca_keyring_current_kid(ring)));
    }
    printf("re-encrypted %d secret%s with key %s\n", count, count == 1 ? "" : "s",
           ca_keyring_current_kid(ring));
    return EXIT_OK;
}

static int cmd_purge(apr_pool_t *pool, const command_t *cmd, int argc,
                     const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"days", OPT_DAYS, 1, "keep request logs this many days (1..3650)"},
        O_DRIVER, O_PARAMS, O_END
    };
    apr_table_t *v = apr_table_make(pool, 4);
    const char *days, *err = NULL;
    apr_int64_t ndays = 0, purged = 0;
    ca_db_t *db;
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    days = apr_table_get(v, "days");
    if (days == NULL) {
        return usage_error(cmd, "--days is required");
    }
    if (!parse_i64(days, 1, MAX_DAYS, &ndays)) {
        return usage_error(cmd, "--days must be a number of days from 1 to 3650");
    }
    if ((rc = open_db(pool, cmd, v, &db)) != EXIT_OK) {
        return rc;
    }
    if (ca_store_purge(pool, db, now_sec(), ndays * 86400, &purged, &err) != APR_SUCCESS) {
        return fail(cmd, err);
    }
    printf("purged %" APR_INT64_T_FMT " row%s (request logs older than %" APR_INT64_T_FMT
           " day%s, expired sessions, OAuth states, idempotency records, login attempts, "
           "ended keys)\n", purged, purged == 1 ? "" : "s", ndays, ndays == 1 ? "" : "s");
    return EXIT_OK;
}

static int cmd_rollup_rebuild(apr_pool_t *pool, const command_t *cmd, int argc,
                              const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"since", OPT_SINCE, 1, "first hour to rebuild (unix time, rounded down to the hour)"},
        {"days", OPT_DAYS, 1, "rebuild the last N days (1..3650)"},
        O_DRIVER, O_PARAMS, O_END
    };
    apr_table_t *v = apr_table_make(pool, 4);
    const char *since = NULL, *days = NULL, *err = NULL;
    apr_int64_t from = 0, ndays = 0;
    ca_db_t *db;
    int groups = 0;
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    since = apr_table_get(v, "since");
    days = apr_table_get(v, "days");
    if (since && days) {
        return usage_error(cmd, "--since and --days exclude each other");
    }
    if (since && !parse_i64(since, 0, APR_INT64_C(253402300799), &from)) {
        return usage_error(cmd, "--since must be a unix time in seconds");
    }
    if (days) {
        if (!parse_i64(days, 1, MAX_DAYS, &ndays)) {
            return usage_error(cmd, "--days must be a number of days from 1 to 3650");
        }
        from = now_sec() - ndays * 86400;
    }
    if ((rc = open_db(pool, cmd, v, &db)) != EXIT_OK) {
        return rc;
    }
    if (ca_store_rollups_rebuild(pool, db, from, &groups, &err) != APR_SUCCESS) {
        return fail(cmd, err);
    }
    printf("rebuilt %d rollup row%s (endpoint and hour) from the request logs since %"
           APR_INT64_T_FMT "\n", groups, groups == 1 ? "" : "s", from - (from % 3600));
    return EXIT_OK;
}

/* ---------------------------------------------------------------------------
 * version, help, main
 * ------------------------------------------------------------------------- */

static int cmd_version(apr_pool_t *pool, const command_t *cmd, int argc,
                       const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {O_END};
    apr_table_t *v = apr_table_make(pool, 1);
    int rc = parse_opts(pool, cmd, argc, argv, opts, v, 0, 0, NULL);

    if (rc != EXIT_OK) {
        return rc;
    }
    printf("clientapi %s (schema version %d)\n", CA_VERSION, CA_SCHEMA_VERSION);
    return EXIT_OK;
}

static void print_help(FILE *out)
{
    const command_t *c, *s;

    fprintf(out, "usage: clientapi <command> [options]\n\ncommands:\n");
    for (c = commands; c->name; c++) {
        if (c->subs) {
            for (s = c->subs; s->name; s++) {
                fprintf(out, "  %-20s %s\n", s->name, s->summary);
            }
        }
        else {
            fprintf(out, "  %-20s %s\n", c->name, c->summary);
        }
    }
    fprintf(out, "\nclientapi help <command> shows a command's options. Database "
            "options may come from\n$" DRIVER_ENV " and $" PARAMS_ENV ", the key file "
            "from $" KEYFILE_ENV ".\nSecrets are read from files or stdin, never from "
            "the command line.\n");
}

static void print_usage(FILE *out, const command_t *c)
{
    const command_t *s;

    if (c->subs) {
        for (s = c->subs; s->name; s++) {
            fprintf(out, "usage: clientapi %s\n  %s\n", s->usage, s->summary);
        }
        return;
    }
    fprintf(out, "usage: clientapi %s\n  %s\n", c->usage, c->summary);
    if (strcmp(c->name, "migrate") == 0) {
        fprintf(out, "  default --sql-dir: %s\n", CA_SQL_DIR);
    }
}

/* The command named by argv[0] (and argv[1] for a group); *used = words taken.
 * NULL (message printed) if there is none. */
static const command_t *lookup(apr_pool_t *pool, int argc, const char *const *argv,
                               int *used)
{
    const command_t *c = find_in(commands, argv[0]), *s;

    *used = 1;
    if (c == NULL) {
        fprintf(stderr, "clientapi: unknown command \"%s\"\n", argv[0]);
        print_help(stderr);
        return NULL;
    }
    if (c->subs == NULL) {
        return c;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "clientapi %s: which one?\n", c->name);
        print_usage(stderr, c);
        return NULL;
    }
    s = find_in(c->subs, apr_pstrcat(pool, c->name, " ", argv[1], NULL));
    if (s == NULL) {
        fprintf(stderr, "clientapi %s: unknown subcommand \"%s\"\n", c->name, argv[1]);
        print_usage(stderr, c);
        return NULL;
    }
    *used = 2;
    return s;
}

static int cmd_help(apr_pool_t *pool, const command_t *cmd, int argc,
                    const char *const *argv)
{
    const command_t *c;
    int used;

    if (argc > 3) {
        return usage_error(cmd, "too many arguments");
    }
    if (argc >= 2) {
        c = find_in(commands, argv[1]);
        if (c && c->subs && argc == 2) {
            print_usage(stdout, c);
            return EXIT_OK;
        }
        c = lookup(pool, argc - 1, argv + 1, &used);
        if (c == NULL) {
            return EXIT_USAGE;
        }
        print_usage(stdout, c);
        return EXIT_OK;
    }
    print_help(stdout);
    return EXIT_OK;
}

int main(int argc, const char *const *argv)
{
    const command_t *c;
    apr_pool_t *pool;
    int rc, used, i;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        fprintf(stderr, "clientapi: cannot initialize APR\n");
        return EXIT_ERROR;
    }
    atexit(apr_terminate);
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        fprintf(stderr, "clientapi: out of memory\n");
        return EXIT_ERROR;
    }
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        return cmd_help(pool, find_in(commands, "help"), 1, argv + 1);
    }
    if (strcmp(argv[1], "--version") == 0) {
        return cmd_version(pool, find_in(commands, "version"), 1, argv + 1);
    }
    c = lookup(pool, argc - 1, argv + 1, &used);
    if (c == NULL) {
        return EXIT_USAGE;
    }
    for (i = 1 + used; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout, c);
            return EXIT_OK;
        }
    }
    /* the command sees argv[0] = its own (last) name word */
    rc = c->run(pool, c, argc - used, argv + used);
    apr_pool_destroy(pool);
    return rc;
}
