/*
 * ca_provider.h - provider definition files (conf/providers/NAME.json).
 *
 * The format is documented in docs/provider-format.md.  A loaded
 * definition is a tree of plain structs in pool memory, read-only after
 * loading and safe to share between threads.  Every string is
 * NUL-terminated; optional strings are NULL when absent.  Arrays are APR
 * arrays of the element type named in the comment.
 *
 * Core file: no httpd headers; errors through const char **perr, in the
 * form "FILE: JSON.PATH: reason".
 */
#ifndef CA_PROVIDER_H
#define CA_PROVIDER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include <apr_errno.h>

#define CA_PROVIDER_FORMAT       1
#define CA_PROVIDER_MAX_FILE     (1024 * 1024)
#define CA_PROVIDER_MAX_LIMIT    1000

typedef enum {
    CA_AUTH_OAUTH2_CODE = 1,
    CA_AUTH_OAUTH2_CODE_PKCE,
    CA_AUTH_CLIENT_CREDENTIALS,
    CA_AUTH_API_KEY
} ca_auth_mode_e;

typedef enum {
    CA_TOKEN_AUTH_BASIC = 1,       /* client id/secret in HTTP Basic */
    CA_TOKEN_AUTH_BODY             /* client_id/client_secret in the body */
} ca_token_auth_e;

typedef enum {
    CA_TOKEN_REQUEST_FORM = 1,     /* application/x-www-form-urlencoded */
    CA_TOKEN_REQUEST_JSON
} ca_token_request_e;

typedef enum {
    CA_EXPIRY_EXPIRES_IN = 1,      /* token response "expires_in" */
    CA_EXPIRY_JWT_EXP,             /* "exp" claim of the access token JWT */
    CA_EXPIRY_NONE                 /* never expires (API keys) */
} ca_expiry_e;

typedef enum {
    CA_API_REST = 1,
    CA_API_GRAPHQL
} ca_api_style_e;

typedef enum {
    CA_PAGE_NONE = 1,              /* single page */
    CA_PAGE_CURSOR_BODY,           /* next cursor at a body path */
    CA_PAGE_CURSOR_HEADER,         /* next cursor in a response header */
    CA_PAGE_PAGE_NUMBER,           /* page/pageSize + has-more flag */
    CA_PAGE_RELAY                  /* GraphQL pageInfo endCursor/hasNextPage */
} ca_page_style_e;

typedef enum {
    CA_RULE_FIELD = 1,             /* record field equals the id */
    CA_RULE_CONTAINS,              /* record array field contains the id */
    CA_RULE_SELF,                  /* the record's own id is the id */
    CA_RULE_CONNECTION,            /* every record of the connection */
    CA_RULE_PARENT                 /* decided by a verified parent record */
} ca_rule_kind_e;

typedef enum {
    CA_PICK_NONE = 0,              /* not offered */
    CA_PICK_IDENTITY,              /* the connection itself (one company) */
    CA_PICK_RESOURCE               /* records of a resource's list */
} ca_pick_source_e;

/* name -> template (query parameters, GraphQL variables, headers) */
typedef struct {
    const char *name;
    const char *value;
} ca_provider_kv_t;

/* One provider call.  path and values are templates (see ca_provider_expand). */
typedef struct {
    const char *method;            /* "GET", "POST", ... (always set) */
    const char *path;              /* appended to api.base_url; "" allowed */
    apr_array_header_t *query;     /* ca_provider_kv_t; REST query string */
    const char *graphql;           /* GraphQL document (style graphql) */
    apr_array_header_t *variables; /* ca_provider_kv_t; GraphQL variables */
    const char *records;           /* list: path of the records array */
    const char *record;            /* item/write: path of the record ("" = body) */
    const char *id_path;           /* create: body path of the new id */
    const char *id_header;         /* create: response header with the new id */
    const char *next_cursor_path;  /* list: effective (call or pagination) */
    const char *has_more_path;     /* list: effective (call or pagination) */
    int soft;                      /* delete: the provider soft-deletes */
} ca_provider_call_t;

typedef struct {
    ca_rule_kind_e kind;
    const char *path;              /* field, contains, self (record path) */
    int numeric;                   /* JSON integers match by canonical text */
} ca_provider_rule_t;

typedef struct ca_provider_resource_t ca_provider_resource_t;

typedef struct {
    const char *resource_name;
    const ca_provider_resource_t *resource;
    const char *field;             /* record path holding the parent id */
    const char *param;             /* list query parameter selecting a parent */
} ca_provider_parent_t;

typedef struct {
    const char *name;              /* sub-resource name in caller URLs */
    const ca_provider_resource_t *resource;   /* child resource */
    const ca_provider_call_t *list;           /* lists children of {parent_id} */
} ca_provider_nested_t;

struct ca_provider_resource_t {
    const char *name;              /* [a-z_]+, as callers use it */
    const char *description;       /* may be NULL */
    const char *id_field;          /* record path of the id, default "id" */
    const ca_provider_call_t *list;
    const ca_provider_call_t *item;
    const ca_provider_call_t *create;
    const ca_provider_call_t *update;
    const ca_provider_call_t *replace;
    const ca_provider_call_t *del;
    int writable;                  /* writes allowed at all */
    apr_array_header_t *company_rules;  /* ca_provider_rule_t, any-of, >= 1 */
    apr_array_header_t *client_rules;   /* ca_provider_rule_t, any-of; empty:
                                           not available to client scope */
    apr_array_header_t *company_query;  /* ca_provider_kv_t */
    apr_array_header_t *client_query;   /* ca_provider_kv_t */
    apr_array_header_t *filters;        /* const char *: passthrough names */
    const ca_provider_parent_t *parent; /* NULL if none */
    apr_array_header_t *nested;         /* ca_provider_nested_t */
};

typedef struct {
    const char *name;              /* placeholder name, [a-z_]+ */
    const char *label;
    int secret;
} ca_provider_field_t;

typedef struct {
    const ca_provider_call_t *call;     /* NULL when templates are used */
    const char *id;                     /* body path of the identity id */
    apr_array_header_t *label;          /* const char *: paths joined by ' ' */
    const char *id_template;            /* e.g. "{tenant}" */
    const char *label_template;
} ca_provider_identity_t;

typedef struct {
    ca_auth_mode_e mode;
    const char *authorize_url;     /* resolved absolute URL or NULL */
    const char *token_url;
    const char *revoke_url;
    const char *authorize_ref;     /* as written in the file */
    const char *token_ref;
    const char *revoke_ref;
    apr_array_header_t *scopes;    /* const char * */
    const char *scope_separator;   /* default " " */
    ca_token_auth_e token_auth;    /* default basic */
    ca_token_request_e token_request;   /* default form */
    ca_expiry_e expiry_source;     /* default expires_in (api_key: none) */
    int default_expires_in;        /* seconds, 0 = unknown */
    int refresh_rotates;           /* refresh tokens are single-use */
    const char *api_key_prefix;    /* api_key: pasted keys must start so */
    const char *header;            /* default "Authorization" */
    const char *scheme;            /* default "Bearer"; "" = bare value */
    int credentials_at_connect;    /* OAuth client id/secret pasted by the
                                      user at connect time, not admin's */
    apr_array_header_t *connect_fields; /* ca_provider_field_t */
    ca_provider_identity_t identity;
} ca_provider_auth_t;

typedef struct {
    const char *base_url;          /* no trailing '/' */
    ca_api_style_e style;
    const char *graphql_path;      /* graphql: default call path, "" */
    apr_array_header_t *headers;   /* ca_provider_kv_t */
    int local_sandbox;             /* plain http allowed */
    const char *idempotency_header;     /* forward callers' Idempotency-Key
                                           under this name; NULL: never */
    apr_array_header_t *config_params;  /* const char *: admin-set values */
} ca_provider_api_t;

typedef struct {
    ca_page_style_e style;
    const char *cursor_param;      /* REST query / GraphQL variable name */
    const char *limit_param;
    const char *page_param;        /* page_number */
    const char *first_cursor;      /* sent on the first page when set */
    int first_page;                /* page_number, default 1 */
    int max_limit;                 /* provider maximum page size */
    int default_limit;             /* 0: send no limit unless asked */
    const char *next_cursor_path;  /* default for list calls */
    const char *has_more_path;     /* default for list calls */
    const char *cursor_header;     /* cursor_header */
} ca_provider_paging_t;

typedef struct {
    apr_array_header_t *statuses;  /* int, default {429} */
    const char *retry_after_header;     /* default "Retry-After" */
    int default_retry_after;       /* seconds when no header, default 60 */
    const char *body_code_path;    /* e.g. "errors.0.extensions.code" */
    const char *body_code_value;   /* e.g. "THROTTLED" */
    int requests_per_minute;       /* pacing, 0 = none */
    int requests_per_day;          /* informative, 0 = none */
    /* throttle_cost (GraphQL cost buckets, Jobber): body paths of the cost asked for, the
     * points available and the restore rate (points/s); all three or none (NULL) */
    const char *cost_requested_path;
    const char *cost_available_path;
    const char *cost_restore_path;
} ca_provider_ratelimit_t;

typedef struct {
    ca_pick_source_e source;
    const ca_provider_resource_t *resource;
    const char *id;                /* record path of the id */
    apr_array_header_t *label;     /* const char *: record paths */
} ca_provider_pick_t;

typedef struct ca_provider_t {
    const char *file;              /* path it was loaded from */
    const char *name;              /* [a-z0-9_]+ */
    const char *display_name;
    const char *docs_url;          /* may be NULL */
    int numeric_ids;               /* default for rules' numeric */
    ca_provider_auth_t auth;
    ca_provider_api_t api;
    ca_provider_paging_t paging;
    ca_provider_ratelimit_t rate_limit;
    ca_provider_pick_t company_list;
    ca_provider_pick_t client_list;
    apr_array_header_t *resources; /* const ca_provider_resource_t *, file order */
    apr_hash_t *by_name;           /* name -> const ca_provider_resource_t * */
    unsigned endpoint_scopes;      /* CA_PROVIDER_SCOPE_* bits endpoints may have */
} ca_provider_t;

/* endpoint_scopes: which endpoint scopes a provider serves (default: company, plus client
 * when client_list is set). Jobber has no sub-companies: client only. */
#define CA_PROVIDER_SCOPE_COMPANY 0x1
#define CA_PROVIDER_SCOPE_CLIENT  0x2

typedef struct {
    apr_array_header_t *list;      /* const ca_provider_t *, sorted by name */
    apr_hash_t *by_name;
} ca_provider_set_t;

/* Overrides applied after loading (httpd.conf); NULL fields keep the file's. */
typedef struct {
    const char *base_url;
    const char *authorize_url;
    const char *token_url;
    const char *revoke_url;
    int local_sandbox;             /* plain http allowed for these URLs */
} ca_provider_override_t;

/* ---- loading ---------------------------------------------------------- */

apr_status_t ca_provider_load_file(apr_pool_t *p, const char *path,
                                   const ca_provider_t **def,
                                   const char **perr);

/* Parse a definition from memory; fname is used in messages. */
apr_status_t ca_provider_load_buffer(apr_pool_t *p, const char *fname,
                                     const char *buf, apr_size_t len,
                                     const ca_provider_t **def,
                                     const char **perr);

/* Every *.json of dir (names must be unique); stops at the first error. */
apr_status_t ca_provider_load_dir(apr_pool_t *p, const char *dir,
                                  ca_provider_set_t **set,
                                  const char **perr);

const ca_provider_t *ca_provider_set_get(const ca_provider_set_t *set,
                                         const char *name);

/*
 * Copy of def with other base/OAuth URLs.  Relative OAuth URLs of the file
 * ("/oauth/token") follow the new base.  Every URL must be https unless
 * ov->local_sandbox or the file's api.local_sandbox is set.  The copy
 * shares everything else with def.
 */
apr_status_t ca_provider_override_base(apr_pool_t *p,
                                       const ca_provider_t *def,
                                       const ca_provider_override_t *ov,
                                       const ca_provider_t **out,
                                       const char **perr);

/* ---- lookups ---------------------------------------------------------- */

/* Exact, case-sensitive; NULL if absent. */
const ca_provider_resource_t *ca_provider_resource(const ca_provider_t *def,
                                                   const char *name);
int ca_provider_resource_count(const ca_provider_t *def);
const ca_provider_resource_t *ca_provider_resource_at(const ca_provider_t *def,
                                                      int i);
const ca_provider_nested_t *ca_provider_nested(
    const ca_provider_resource_t *res, const char *name);

/* Non-zero when name is an allowed passthrough filter of res. */
int ca_provider_filter_allowed(const ca_provider_resource_t *res,
                               const char *name);

const char *ca_provider_auth_mode_name(ca_auth_mode_e m);
const char *ca_provider_rule_kind_name(ca_rule_kind_e k);
const char *ca_provider_page_style_name(ca_page_style_e s);

/* ---- templates and URLs ----------------------------------------------- */

#define CA_EXPAND_RAW  0           /* values inserted as they are */
#define CA_EXPAND_PATH 1           /* values percent-encoded as a path
                                      segment; "", "." and ".." refused */

/*
 * Replace {name} placeholders of tmpl with values from vars.  A missing
 * value is APR_NOTFOUND naming the placeholder; a value refused in a path
 * is APR_EINVAL.  Values never appear in error messages.
 */
apr_status_t ca_provider_expand(apr_pool_t *p, const char *tmpl,
                                apr_table_t *vars, int mode,
                                const char **out, const char **perr);

/* base_url + path (path already expanded). */
const char *ca_provider_api_url(apr_pool_t *p, const ca_provider_t *def,
                                const char *path);

/* ---- GraphQL transport (api.style graphql) ---------------------------- */

/*
 * The request body {"query": call->graphql, "variables": {...}} of a
 * GraphQL call.  Variables come from call->variables (templates expanded
 * with vars: a value that is exactly "{limit}" is a JSON number, exactly
 * "{cursor}" is null when vars has no cursor, any other template is a
 * string and null when one of its placeholders has no value), then from
 * extra (ca_provider_kv_t, plain string values: scope variables and
 * filters), which replace variables of the same name.  Values are never
 * put into the query text.
 */
apr_status_t ca_provider_graphql_body(apr_pool_t *p,
                                      const ca_provider_call_t *call,
                                      apr_table_t *vars,
                                      const apr_array_header_t *extra,
                                      const char **body, apr_size_t *len,
                                      const char **perr);

/*
 * Number of GraphQL errors in an answer (the top-level "errors" array;
 * an "errors" member that is not an array counts as one), 0 when there
 * are none, -1 when the body is not a JSON object.  *code (may be NULL)
 * is the first error's extensions.code when it is a short
 * [A-Za-z0-9_] word, else NULL: it is safe to log.
 */
int ca_provider_graphql_errors(apr_pool_t *p, const char *body,
                               apr_size_t len, const char **code);

/*
 * Seconds to wait after a throttled answer, from rate_limit.throttle_cost:
 * ceil((requested - available) / restore_rate), at least 1, at most 3600.
 * 0 when the file has no throttle_cost or the body lacks the numbers.
 */
int ca_provider_throttle_wait(apr_pool_t *p, const ca_provider_t *def,
                              const char *body, apr_size_t len);

#endif /* CA_PROVIDER_H */
