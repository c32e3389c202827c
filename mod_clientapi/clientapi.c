/*
 * clientapi.c - the `clientapi` admin command.
 *
 *     clientapi <command> [options]
 *
 * Each command is one static function in the table below; add new ones there.
 * Exit status: 0 ok, 1 error, 2 usage. Errors go to stderr, results to stdout.
 * Database parameters may hold a password: they are never printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ca_migrate.h"
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

/* Environment variable read when --params is not given (keeps a password out
 * of the process list). */
#define PARAMS_ENV "CLIENTAPI_DBD_PARAMS"

typedef struct {
    const char *name;
    int (*run)(apr_pool_t *pool, int argc, const char *const *argv);
    const char *usage;
    const char *summary;
} command_t;

static int cmd_migrate(apr_pool_t *pool, int argc, const char *const *argv);
static int cmd_version(apr_pool_t *pool, int argc, const char *const *argv);
static int cmd_help(apr_pool_t *pool, int argc, const char *const *argv);

static const command_t commands[] = {
    {"migrate", cmd_migrate,
     "migrate --driver pgsql|sqlite3 [--params \"<apr_dbd params>\"] [--sql-dir DIR]"
     " [--status]",
     "apply the pending schema migrations (sql/<driver>/NNNN_*.sql)"},
    {"version", cmd_version, "version", "print the version and the schema version"},
    {"help", cmd_help, "help [command]", "print this help"},
    {NULL, NULL, NULL, NULL}
};

static const command_t *find_command(const char *name)
{
    const command_t *c;

    for (c = commands; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

static int usage_error(const char *cmd, const char *msg)
{
    const command_t *c = find_command(cmd);

    fprintf(stderr, "clientapi %s: %s\n", cmd, msg);
    if (c) {
        fprintf(stderr, "usage: clientapi %s\n", c->usage);
    }
    return EXIT_USAGE;
}

/* Parse options; on a usage error print it and return EXIT_USAGE, else
 * EXIT_OK with os positioned after the options. */
static int parse_opts(apr_pool_t *pool, const char *cmd, int argc,
                      const char *const *argv, const apr_getopt_option_t *opts,
                      apr_table_t *values)
{
    apr_getopt_t *os;
    const char *arg;
    int optch;
    apr_status_t rv;

    apr_getopt_init(&os, pool, argc, argv);
    os->errfn = NULL;
    while ((rv = apr_getopt_long(os, opts, &optch, &arg)) == APR_SUCCESS) {
        const apr_getopt_option_t *o;
        for (o = opts; o->name; o++) {
            if (o->optch == optch) {
                apr_table_setn(values, o->name, o->has_arg ? arg : "1");
            }
        }
    }
    if (rv == APR_BADCH) {
        return usage_error(cmd, "unknown option");
    }
    if (rv == APR_BADARG) {
        return usage_error(cmd, "an option is missing its value");
    }
    if (os->ind < argc) {
        return usage_error(cmd, apr_psprintf(pool, "unexpected argument \"%s\"",
                                             argv[os->ind]));
    }
    return EXIT_OK;
}

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

static int cmd_migrate(apr_pool_t *pool, int argc, const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"driver", 'd', 1, "apr_dbd driver: pgsql or sqlite3"},
        {"params", 'p', 1, "apr_dbd connection parameters"},
        {"sql-dir", 's', 1, "directory holding <driver>/NNNN_*.sql"},
        {"status", 'S', 0, "show the schema version and pending files only"},
        {NULL, 0, 0, NULL}
    };
    apr_table_t *v = apr_table_make(pool, 4);
    const char *driver, *params, *sql_dir, *err = NULL;
    apr_array_header_t *applied = NULL;
    ca_db_t *db;
    int version = 0, i, rc;
    apr_status_t rv;

    rc = parse_opts(pool, "migrate", argc, argv, opts, v);
    if (rc != EXIT_OK) {
        return rc;
    }
    driver = apr_table_get(v, "driver");
    params = apr_table_get(v, "params");
    if (params == NULL) {
        params = getenv(PARAMS_ENV);
    }
    sql_dir = apr_table_get(v, "sql-dir");
    if (sql_dir == NULL) {
        sql_dir = CA_SQL_DIR;
    }
    if (driver == NULL) {
        return usage_error("migrate", "--driver is required");
    }
    if (strcmp(driver, "pgsql") != 0 && strcmp(driver, "sqlite3") != 0) {
        return usage_error("migrate", "--driver must be pgsql or sqlite3");
    }
    if (params == NULL || *params == '\0') {
        return usage_error("migrate", "--params (or " PARAMS_ENV ") is required");
    }

    rv = ca_db_connect(pool, driver, params, &db, &err);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "clientapi migrate: %s\n", err);
        return EXIT_ERROR;
    }
    if (apr_table_get(v, "status")) {
        print_pending(pool, db, sql_dir);
        ca_db_close(db);
        return EXIT_OK;
    }
    rv = ca_migrate_run(pool, db, sql_dir, apr_time_sec(apr_time_now()), &applied,
                        &version, &err);
    for (i = 0; applied && i < applied->nelts; i++) {
        printf("applied %s\n", APR_ARRAY_IDX(applied, i, ca_migration_t).name);
    }
    ca_db_close(db);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "clientapi migrate: %s\n", err);
        return EXIT_ERROR;
    }
    if (applied->nelts == 0) {
        printf("up to date (schema version %d)\n", version);
    }
    else {
        printf("schema version %d\n", version);
    }
    return EXIT_OK;
}

static int cmd_version(apr_pool_t *pool, int argc, const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {{NULL, 0, 0, NULL}};
    apr_table_t *v = apr_table_make(pool, 1);
    int rc = parse_opts(pool, "version", argc, argv, opts, v);

    if (rc != EXIT_OK) {
        return rc;
    }
    printf("clientapi %s (schema version %d)\n", CA_VERSION, CA_SCHEMA_VERSION);
    return EXIT_OK;
}

static void print_help(FILE *out)
{
    const command_t *c;

    fprintf(out, "usage: clientapi <command> [options]\n\ncommands:\n");
    for (c = commands; c->name; c++) {
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    }
    fprintf(out, "\nclientapi help <command> shows a command's options.\n");
}

static int cmd_help(apr_pool_t *pool, int argc, const char *const *argv)
{
    const command_t *c;

    (void)pool;
    if (argc > 2) {
        return usage_error("help", "too many arguments");
    }
    if (argc == 2) {
        c = find_command(argv[1]);
        if (c == NULL) {
            fprintf(stderr, "clientapi: unknown command \"%s\"\n", argv[1]);
            print_help(stderr);
            return EXIT_USAGE;
        }
        printf("usage: clientapi %s\n  %s\n", c->usage, c->summary);
        if (strcmp(c->name, "migrate") == 0) {
            printf("  default --sql-dir: %s; --params may come from $%s\n",
                   CA_SQL_DIR, PARAMS_ENV);
        }
        return EXIT_OK;
    }
    print_help(stdout);
    return EXIT_OK;
}

int main(int argc, const char *const *argv)
{
    const command_t *c;
    apr_pool_t *pool;
    int rc;

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
        return cmd_help(pool, 1, argv + 1);
    }
    if (strcmp(argv[1], "--version") == 0) {
        return cmd_version(pool, 1, argv + 1);
    }
    c = find_command(argv[1]);
    if (c == NULL) {
        fprintf(stderr, "clientapi: unknown command \"%s\"\n", argv[1]);
        print_help(stderr);
        return EXIT_USAGE;
    }
    /* the command sees argv[0] = its own name */
    rc = c->run(pool, argc - 1, argv + 1);
    apr_pool_destroy(pool);
    return rc;
}
