/*
 * ca_provider.c - load and validate provider definition files.
 *
 * The file is parsed with ca_json and copied into plain structs; nothing
 * of the JSON tree is kept.  Every check reports "FILE: PATH: reason".
 * Keys starting with '_' are comments and ignored; any other unknown key
 * is an error.
 */
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <stdlib.h>

#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_lib.h>

#include "ca_json.h"
#include "ca_provider.h"

/* ------------------------------------------------------------------ */
/* loader context and helpers                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    apr_pool_t *p;
    const char *file;
    const char *err;
    ca_provider_t *def;
    apr_hash_t *vars;              /* allowed placeholder names */
    apr_hash_t *res_objs;          /* name -> resource JSON object */
} ld_t;

typedef enum {
    CALL_LIST, CALL_ITEM, CALL_CREATE, CALL_UPDATE, CALL_REPLACE,
    CALL_DELETE, CALL_NESTED, CALL_IDENTITY
} call_kind_e;

static const char *const request_vars[] = {
    "id", "parent_id", "company_id", "client_id", "cursor", "limit", NULL
};

static int fail(ld_t *ld, const char *path, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (ld->err != NULL) {
        return -1;
    }
    va_start(ap, fmt);
    msg = apr_pvsprintf(ld->p, fmt, ap);
    va_end(ap);
    if (path != NULL && *path != '\0') {
        ld->err = apr_psprintf(ld->p, "%s: %s: %s", ld->file, path, msg);
    }
    else {
        ld->err = apr_psprintf(ld->p, "%s: %s", ld->file, msg);
    }
    return -1;
}

static const char *jp(ld_t *ld, const char *base, const char *key)
{
    if (base == NULL || *base == '\0') {
        return key;
    }
    return apr_pstrcat(ld->p, base, ".", key, NULL);
}

static const char *jpi(ld_t *ld, const char *base, int i)
{
    return apr_psprintf(ld->p, "%s.%d", base, i);
}

static const char *join_names(ld_t *ld, const char *const *names)
{
    const char *out = "";
    int i;

    for (i = 0; names[i] != NULL; i++) {
        out = i ? apr_pstrcat(ld->p, out, ", ", names[i], NULL) : names[i];
    }
    return out;
}

static const char *type_name(const ca_json_t *n)
{
    return ca_json_type_name(ca_json_type(n));
}

static int is_name(const char *s, int digits)
{
    const char *c;

    if (s == NULL || *s == '\0' || strlen(s) > 64) {
        return 0;
    }
    for (c = s; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || *c == '_'
              || (digits && *c >= '0' && *c <= '9'))) {
            return 0;
        }
    }
    return 1;
}

static int is_token(const char *s)
{
    const char *c;

    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (c = s; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("!#$%&'*+-.^_`|~", *c)) {
            return 0;
        }
    }
    return 1;
}

static int is_param_name(const char *s)
{
    const char *c;

    if (s == NULL || *s == '\0' || strlen(s) > 64) {
        return 0;
    }
    for (c = s; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("_.$-[]", *c)) {
            return 0;
        }
    }
    return 1;
}

static int in_list(const char *s, const char *const *list)
{
    int i;

    for (i = 0; list[i] != NULL; i++) {
        if (strcmp(s, list[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* obj must be an object whose keys are all in allowed (or start '_'),
 * none duplicated. */
static int check_obj(ld_t *ld, const ca_json_t *obj, const char *path,
                     const char *const *allowed)
{
    ca_json_t *m;

    if (ca_json_type(obj) != CA_JSON_OBJECT) {
        return fail(ld, path, "expected an object, got %s", type_name(obj));
    }
    CA_JSON_FOREACH(m, obj) {
        const char *k = ca_json_key(m);

        if (ca_json_key_count(obj, k) > 1) {
            return fail(ld, jp(ld, path, k), "duplicated key");
        }
        if (k[0] == '_') {
            continue;
        }
        if (!in_list(k, allowed)) {
            return fail(ld, jp(ld, path, k),
                        "unknown key (expected one of %s)",
                        join_names(ld, allowed));
        }
    }
    return 0;
}

/* String member; *out untouched when absent. */
static int get_str(ld_t *ld, const ca_json_t *obj, const char *path,
                   const char *key, int required, int nonempty,
                   const char **out)
{
    ca_json_t *v = ca_json_get(obj, key);

    if (v == NULL) {
        return required ? fail(ld, jp(ld, path, key), "required") : 0;
    }
    if (ca_json_type(v) != CA_JSON_STRING) {
        return fail(ld, jp(ld, path, key), "expected a string, got %s",
                    type_name(v));
    }
    if (nonempty && *ca_json_string(v) == '\0') {
        return fail(ld, jp(ld, path, key), "must not be empty");
    }
    *out = apr_pstrdup(ld->p, ca_json_string(v));
    return 0;
}

static int get_bool(ld_t *ld, const ca_json_t *obj, const char *path,
                    const char *key, int *out)
{
    ca_json_t *v = ca_json_get(obj, key);

    if (v == NULL) {
        return 0;
    }
    if (!ca_json_bool(v, out)) {
        return fail(ld, jp(ld, path, key), "expected true or false, got %s",
                    type_name(v));
    }
    return 0;
}

static int get_int(ld_t *ld, const ca_json_t *obj, const char *path,
                   const char *key, long min, long max, int *out)
{
    ca_json_t *v = ca_json_get(obj, key);
    double d;

    if (v == NULL) {
        return 0;
    }
    if (ca_json_number(v, &d) != APR_SUCCESS) {
        return fail(ld, jp(ld, path, key), "expected an integer, got %s",
                    type_name(v));
    }
    if (d < (double)min || d > (double)max) {
        return fail(ld, jp(ld, path, key), "%g out of range %ld..%ld",
                    d, min, max);
    }
    if (d != (double)(long)d) {
        return fail(ld, jp(ld, path, key), "expected an integer, got %g", d);
    }
    *out = (int)d;
    return 0;
}

/* Enum member: error at the object's path, "unknown KEY 'V' (...)". */
static int get_enum(ld_t *ld, const ca_json_t *obj, const char *path,
                    const char *key, const char *const *names,
                    const int *vals, int required, int *out)
{
    const char *s = NULL;
    int i;

    if (get_str(ld, obj, path, key, required, 0, &s) < 0) {
        return -1;
    }
    if (s == NULL) {
        return 0;
    }
    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = vals[i];
            return 0;
        }
    }
    return fail(ld, path, "unknown %s '%s' (expected one of %s)", key, s,
                join_names(ld, names));
}

/* A JSON path inside records/bodies; "" allowed only when empty_ok. */
static int get_jpath(ld_t *ld, const ca_json_t *obj, const char *path,
                     const char *key, int required, int empty_ok,
                     const char **out)
{
    const char *s = NULL;

    if (get_str(ld, obj, path, key, required, 0, &s) < 0) {
        return -1;
    }
    if (s == NULL) {
        return 0;
    }
    if ((*s == '\0' && !empty_ok) || !ca_json_path_valid(s)) {
        return fail(ld, jp(ld, path, key), "malformed JSON path '%s' "
                    "(dotted keys and indexes, e.g. \"data.0.id\")", s);
    }
    *out = s;
    return 0;
}

/* Array of strings (or a single string when single_ok). */
static int get_str_list(ld_t *ld, const ca_json_t *obj, const char *path,
                        const char *key, int single_ok,
                        apr_array_header_t **out)
{
    ca_json_t *v = ca_json_get(obj, key), *e;
    const char *kp = jp(ld, path, key);
    int i = 0;

    if (v == NULL) {
        return 0;
    }
    *out = apr_array_make(ld->p, 4, sizeof(const char *));
    if (single_ok && ca_json_type(v) == CA_JSON_STRING) {
        APR_ARRAY_PUSH(*out, const char *) =
            apr_pstrdup(ld->p, ca_json_string(v));
        return 0;
    }
    if (ca_json_type(v) != CA_JSON_ARRAY) {
        return fail(ld, kp, "expected an array of strings, got %s",
                    type_name(v));
    }
    CA_JSON_FOREACH(e, v) {
        if (ca_json_type(e) != CA_JSON_STRING) {
            return fail(ld, jpi(ld, kp, i), "expected a string, got %s",
                        type_name(e));
        }
        APR_ARRAY_PUSH(*out, const char *) =
            apr_pstrdup(ld->p, ca_json_string(e));
        i++;
    }
    return 0;
}

/* Placeholders {name} must be known; braces balanced. */
static int check_template(ld_t *ld, const char *path, const char *t)
{
    const char *s = t, *close;

    while ((s = strpbrk(s, "{}")) != NULL) {
        char *name;

        if (*s == '}') {
            return fail(ld, path, "unbalanced '}' in template");
        }
        close = strchr(s, '}');
        if (close == NULL) {
            return fail(ld, path, "unbalanced '{' in template");
        }
        name = apr_pstrmemdup(ld->p, s + 1, close - s - 1);
        if (!is_name(name, 1)) {
            return fail(ld, path, "malformed placeholder '{%s}'", name);
        }
        if (apr_hash_get(ld->vars, name, APR_HASH_KEY_STRING) == NULL) {
            return fail(ld, path, "unknown placeholder {%s}", name);
        }
        s = close + 1;
    }
    return 0;
}

/* Object of string templates -> array of ca_provider_kv_t. */
static int get_kv(ld_t *ld, const ca_json_t *obj, const char *path,
                  const char *key, int header_names,
                  apr_array_header_t **out)
{
    ca_json_t *v = ca_json_get(obj, key), *m;
    const char *kp = jp(ld, path, key);

    *out = apr_array_make(ld->p, 2, sizeof(ca_provider_kv_t));
    if (v == NULL) {
        return 0;
    }
    if (ca_json_type(v) != CA_JSON_OBJECT) {
        return fail(ld, kp, "expected an object of strings, got %s",
                    type_name(v));
    }
    CA_JSON_FOREACH(m, v) {
        const char *k = ca_json_key(m), *mp = jp(ld, kp, k);
        ca_provider_kv_t *kv;

        if (ca_json_key_count(v, k) > 1) {
            return fail(ld, mp, "duplicated key");
        }
        if (header_names ? !is_token(k) : !is_param_name(k)) {
            return fail(ld, mp, "malformed %s name",
                        header_names ? "header" : "parameter");
        }
        if (ca_json_type(m) != CA_JSON_STRING) {
            return fail(ld, mp, "expected a string, got %s", type_name(m));
        }
        if (check_template(ld, mp, ca_json_string(m)) < 0) {
            return -1;
        }
        kv = apr_array_push(*out);
        kv->name = apr_pstrdup(ld->p, k);
        kv->value = apr_pstrdup(ld->p, ca_json_string(m));
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* URLs                                                                */
/* ------------------------------------------------------------------ */

/* Checks an absolute URL (or a "/path" when relative_ok).  Returns the
 * URL without trailing '/' for bases. */
static int check_url(ld_t *ld, const char *path, const char *url,
                     int allow_http, int relative_ok, int is_base,
                     const char **out)
{
    const char *rest, *c;
    apr_size_t hostlen;

    for (c = url; *c; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7F) {
            return fail(ld, path, "URL contains spaces or control "
                        "characters");
        }
    }
    if (relative_ok && url[0] == '/') {
        if (strchr(url, '#') != NULL) {
            return fail(ld, path, "URL must not contain a fragment");
        }
        *out = url;
        return 0;
    }
    if (strncmp(url, "https://", 8) == 0) {
        rest = url + 8;
    }
    else if (strncmp(url, "http://", 7) == 0) {
        if (!allow_http) {
            return fail(ld, path, "'%s' must use https (plain http only "
                        "when api.local_sandbox is true)", url);
        }
        rest = url + 7;
    }
    else {
        return fail(ld, path, "'%s' is not an https URL%s", url,
                    relative_ok ? " or a path starting with '/'" : "");
    }
    hostlen = strcspn(rest, "/?#");
    if (hostlen == 0) {
        return fail(ld, path, "URL has no host");
    }
    if (memchr(rest, '@', hostlen) != NULL) {
        return fail(ld, path, "URL must not contain credentials");
    }
    if (strchr(url, '#') != NULL) {
        return fail(ld, path, "URL must not contain a fragment");
    }
    if (is_base && strchr(url, '?') != NULL) {
        return fail(ld, path, "base URL must not contain a query");
    }
    if (is_base) {
        apr_size_t len = strlen(url);

        while (len > 0 && url[len - 1] == '/') {
            len--;
        }
        *out = apr_pstrmemdup(ld->p, url, len);
    }
    else {
        *out = url;
    }
    return 0;
}

/* scheme://host[:port] of an absolute URL. */
static const char *url_origin(apr_pool_t *p, const char *url)
{
    const char *rest = strstr(url, "://");

    if (rest == NULL) {
        return url;
    }
    rest += 3;
    return apr_pstrmemdup(p, url, (rest - url) + strcspn(rest, "/?#"));
}

static const char *resolve_ref(apr_pool_t *p, const char *base,
                               const char *ref)
{
    if (ref == NULL) {
        return NULL;
    }
    if (ref[0] == '/') {
        return apr_pstrcat(p, url_origin(p, base), ref, NULL);
    }
    return ref;
}

/* ------------------------------------------------------------------ */
/* calls                                                               */
/* ------------------------------------------------------------------ */

static const char *const methods[] = {
    "GET", "POST", "PUT", "PATCH", "DELETE", NULL
};

static const char *const keys_list[] = {
    "method", "path", "query", "graphql", "variables", "records",
    "next_cursor_path", "has_more_path", NULL
};
static const char *const keys_item[] = {
    "method", "path", "query", "graphql", "variables", "record", NULL
};
static const char *const keys_create[] = {
    "method", "path", "query", "graphql", "variables", "record",
    "id_path", "id_header", NULL
};
static const char *const keys_delete[] = {
    "method", "path", "query", "graphql", "variables", "record", "soft", NULL
};
static const char *const keys_nested[] = {
    "resource", "method", "path", "query", "graphql", "variables", "records",
    "next_cursor_path", "has_more_path", NULL
};
static const char *const keys_identity[] = {
    "method", "path", "query", "graphql", "variables", "id", "label",
    "id_template", "label_template", NULL
};

static int kv_mentions(const apr_array_header_t *kvs, const char *needle)
{
    int i;

    for (i = 0; kvs != NULL && i < kvs->nelts; i++) {
        if (strstr(APR_ARRAY_IDX(kvs, i, ca_provider_kv_t).value, needle)) {
            return 1;
        }
    }
    return 0;
}

static int kv_named(const apr_array_header_t *kvs, const char *name)
{
    int i;

    for (i = 0; kvs != NULL && i < kvs->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(kvs, i, ca_provider_kv_t).name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Does the call use placeholder ph (e.g. "{id}") anywhere? */
static int call_mentions(const ca_provider_call_t *c, const char *ph)
{
    return strstr(c->path, ph) != NULL || kv_mentions(c->query, ph)
           || kv_mentions(c->variables, ph);
}

static int parse_call(ld_t *ld, const ca_json_t *obj, const char *path,
                      call_kind_e kind, ca_provider_call_t **out)
{
    const ca_provider_t *def = ld->def;
    int graphql = def->api.style == CA_API_GRAPHQL;
    const char *const *keys;
    const char *dflt_method;
    ca_provider_call_t *c;

    switch (kind) {
    case CALL_LIST:
        keys = keys_list;
        dflt_method = "GET";
        break;
    case CALL_ITEM:
        keys = keys_item;
        dflt_method = "GET";
        break;
    case CALL_CREATE:
        keys = keys_create;
        dflt_method = "POST";
        break;
    case CALL_UPDATE:
        keys = keys_item;
        dflt_method = "PATCH";
        break;
    case CALL_REPLACE:
        keys = keys_item;
        dflt_method = "PUT";
        break;
    case CALL_DELETE:
        keys = keys_delete;
        dflt_method = "DELETE";
        break;
    case CALL_NESTED:
        keys = keys_nested;
        dflt_method = "GET";
        break;
    default:
        keys = keys_identity;
        dflt_method = "GET";
        break;
    }
    if (graphql) {
        dflt_method = "POST";
    }
    if (check_obj(ld, obj, path, keys) < 0) {
        return -1;
    }
    c = apr_pcalloc(ld->p, sizeof(*c));
    c->method = dflt_method;
    if (get_str(ld, obj, path, "method", 0, 1, &c->method) < 0) {
        return -1;
    }
    if (!in_list(c->method, methods)) {
        return fail(ld, path, "unknown method '%s' (expected one of %s)",
                    c->method, join_names(ld, methods));
    }
    if (get_str(ld, obj, path, "path", !graphql, 0, &c->path) < 0
        || get_str(ld, obj, path, "graphql", 0, 1, &c->graphql) < 0
        || get_kv(ld, obj, path, "query", 0, &c->query) < 0
        || get_kv(ld, obj, path, "variables", 0, &c->variables) < 0) {
        return -1;
    }
    if (c->path == NULL) {
        c->path = def->api.graphql_path;
    }
    if (c->path[0] != '\0' && c->path[0] != '/') {
        return fail(ld, jp(ld, path, "path"), "must start with '/'");
    }
    if (!graphql && c->path[0] == '\0') {
        return fail(ld, jp(ld, path, "path"), "must not be empty");
    }
    if (check_template(ld, jp(ld, path, "path"), c->path) < 0) {
        return -1;
    }
    if (graphql && c->graphql == NULL) {
        return fail(ld, jp(ld, path, "graphql"),
                    "required when api.style is graphql");
    }
    if (!graphql && c->graphql != NULL) {
        return fail(ld, jp(ld, path, "graphql"),
                    "only allowed when api.style is graphql");
    }
    if (!graphql && c->variables->nelts > 0) {
        return fail(ld, jp(ld, path, "variables"),
                    "only allowed when api.style is graphql");
    }
    if (!graphql && (kind == CALL_ITEM || kind == CALL_UPDATE
                     || kind == CALL_REPLACE || kind == CALL_DELETE)
        && strstr(c->path, "{id}") == NULL) {
        return fail(ld, jp(ld, path, "path"), "must contain {id}");
    }
    if (kind == CALL_NESTED && strstr(c->path, "{parent_id}") == NULL
        && !kv_mentions(c->query, "{parent_id}")
        && !kv_mentions(c->variables, "{parent_id}")) {
        return fail(ld, path, "must use {parent_id} (in path, query or "
                    "variables)");
    }
    if ((kind == CALL_LIST || kind == CALL_CREATE || kind == CALL_NESTED
         || kind == CALL_IDENTITY) && call_mentions(c, "{id}")) {
        return fail(ld, strstr(c->path, "{id}") ? jp(ld, path, "path") : path,
                    "{id} is not available here");
    }
    if (kind != CALL_NESTED && call_mentions(c, "{parent_id}")) {
        return fail(ld, strstr(c->path, "{parent_id}") ? jp(ld, path, "path")
                    : path, "{parent_id} is only available in nested calls");
    }
    if (kind == CALL_IDENTITY) {
        int i;

        for (i = 0; request_vars[i] != NULL; i++) {
            const char *ph = apr_pstrcat(ld->p, "{", request_vars[i], "}",
                                         NULL);

            if (call_mentions(c, ph)) {
                return fail(ld, path, "%s is not available here (only "
                            "connection placeholders)", ph);
            }
        }
    }
    if (get_jpath(ld, obj, path, "records", kind == CALL_LIST, 1,
                  &c->records) < 0
        || get_jpath(ld, obj, path, "record", 0, 1, &c->record) < 0
        || get_jpath(ld, obj, path, "id_path", 0, 0, &c->id_path) < 0
        || get_str(ld, obj, path, "id_header", 0, 1, &c->id_header) < 0
        || get_jpath(ld, obj, path, "next_cursor_path", 0, 0,
                     &c->next_cursor_path) < 0
        || get_jpath(ld, obj, path, "has_more_path", 0, 0,
                     &c->has_more_path) < 0
        || get_bool(ld, obj, path, "soft", &c->soft) < 0) {
        return -1;
    }
    if (c->record == NULL) {
        c->record = "";
    }
    if (c->id_header != NULL && !is_token(c->id_header)) {
        return fail(ld, jp(ld, path, "id_header"), "malformed header name");
    }
    if (kind == CALL_LIST || kind == CALL_NESTED) {
        if (c->next_cursor_path == NULL) {
            c->next_cursor_path = def->paging.next_cursor_path;
        }
        if (c->has_more_path == NULL) {
            c->has_more_path = def->paging.has_more_path;
        }
        if ((def->paging.style == CA_PAGE_CURSOR_BODY
             || def->paging.style == CA_PAGE_RELAY)
            && c->next_cursor_path == NULL) {
            return fail(ld, jp(ld, path, "next_cursor_path"),
                        "required for pagination style %s (here or in "
                        "pagination)",
                        ca_provider_page_style_name(def->paging.style));
        }
        if ((def->paging.style == CA_PAGE_RELAY
             || def->paging.style == CA_PAGE_PAGE_NUMBER)
            && c->has_more_path == NULL) {
            return fail(ld, jp(ld, path, "has_more_path"),
                        "required for pagination style %s (here or in "
                        "pagination)",
                        ca_provider_page_style_name(def->paging.style));
        }
    }
    *out = c;
    return 0;
}

/* ------------------------------------------------------------------ */
/* sections                                                            */
/* ------------------------------------------------------------------ */

static const char *const auth_mode_names[] = {
    "oauth2_code", "oauth2_code_pkce", "client_credentials", "api_key", NULL
};
static const int auth_mode_vals[] = {
    CA_AUTH_OAUTH2_CODE, CA_AUTH_OAUTH2_CODE_PKCE,
    CA_AUTH_CLIENT_CREDENTIALS, CA_AUTH_API_KEY
};
static const char *const token_auth_names[] = { "basic", "body", NULL };
static const int token_auth_vals[] = {
    CA_TOKEN_AUTH_BASIC, CA_TOKEN_AUTH_BODY
};
static const char *const token_req_names[] = { "form", "json", NULL };
static const int token_req_vals[] = {
    CA_TOKEN_REQUEST_FORM, CA_TOKEN_REQUEST_JSON
};
static const char *const expiry_names[] = {
    "expires_in", "jwt_exp", "none", NULL
};
static const int expiry_vals[] = {
    CA_EXPIRY_EXPIRES_IN, CA_EXPIRY_JWT_EXP, CA_EXPIRY_NONE
};
static const char *const style_names[] = { "rest", "graphql", NULL };
static const int style_vals[] = { CA_API_REST, CA_API_GRAPHQL };
static const char *const page_names[] = {
    "none", "cursor_body", "cursor_header", "page_number", "relay", NULL
};
static const int page_vals[] = {
    CA_PAGE_NONE, CA_PAGE_CURSOR_BODY, CA_PAGE_CURSOR_HEADER,
    CA_PAGE_PAGE_NUMBER, CA_PAGE_RELAY
};
static const char *const rule_names[] = {
    "field", "contains", "self", "connection", "parent", NULL
};
static const int rule_vals[] = {
    CA_RULE_FIELD, CA_RULE_CONTAINS, CA_RULE_SELF, CA_RULE_CONNECTION,
    CA_RULE_PARENT
};
static const char *const pick_names[] = { "identity", "resource", NULL };
static const int pick_vals[] = { CA_PICK_IDENTITY, CA_PICK_RESOURCE };

/* Headers the module sets itself. */
static const char *const reserved_headers[] = {
    "authorization", "host", "content-length", "content-type",
    "transfer-encoding", "connection", "user-agent", "idempotency-key",
    "cookie", NULL
};

static int parse_connect_fields(ld_t *ld, const ca_json_t *auth,
                                const char *path)
{
    static const char *const keys[] = { "name", "label", "secret", NULL };
    ca_provider_auth_t *a = &ld->def->auth;
    ca_json_t *v = ca_json_get(auth, "connect_fields"), *e;
    const char *kp = jp(ld, path, "connect_fields");
    int i = 0;

    a->connect_fields = apr_array_make(ld->p, 2, sizeof(ca_provider_field_t));
    if (v == NULL) {
        return 0;
    }
    if (ca_json_type(v) != CA_JSON_ARRAY) {
        return fail(ld, kp, "expected an array, got %s", type_name(v));
    }
    CA_JSON_FOREACH(e, v) {
        const char *ep = jpi(ld, kp, i++);
        ca_provider_field_t *f = apr_array_push(a->connect_fields);

        memset(f, 0, sizeof(*f));
        if (check_obj(ld, e, ep, keys) < 0
            || get_str(ld, e, ep, "name", 1, 1, &f->name) < 0
            || get_str(ld, e, ep, "label", 0, 1, &f->label) < 0
            || get_bool(ld, e, ep, "secret", &f->secret) < 0) {
            return -1;
        }
        if (!is_name(f->name, 0)) {
            return fail(ld, jp(ld, ep, "name"), "'%s' is not a name "
                        "([a-z_]+)", f->name);
        }
        if (in_list(f->name, request_vars)
            || apr_hash_get(ld->vars, f->name, APR_HASH_KEY_STRING)) {
            return fail(ld, jp(ld, ep, "name"), "'%s' is already a "
                        "placeholder name", f->name);
        }
        if (f->label == NULL) {
            f->label = f->name;
        }
        apr_hash_set(ld->vars, f->name, APR_HASH_KEY_STRING, f->name);
    }
    return 0;
}

static int parse_identity(ld_t *ld, const ca_json_t *auth, const char *path)
{
    ca_provider_identity_t *id = &ld->def->auth.identity;
    ca_json_t *v = ca_json_get(auth, "identity");
    const char *ip = jp(ld, path, "identity");
    ca_provider_call_t *call;
    int has_call;

    if (v == NULL) {
        return fail(ld, ip, "required (how to identify the connected "
                    "account)");
    }
    if (check_obj(ld, v, ip, keys_identity) < 0
        || get_str(ld, v, ip, "id_template", 0, 1, &id->id_template) < 0
        || get_str(ld, v, ip, "label_template", 0, 1,
                   &id->label_template) < 0) {
        return -1;
    }
    has_call = ca_json_get(v, "path") || ca_json_get(v, "graphql");
    if (id->id_template != NULL) {
        static const char *const forbidden[] = {
            "method", "path", "query", "graphql", "variables", "id",
            "label", NULL
        };
        int i;

        for (i = 0; forbidden[i] != NULL; i++) {
            if (ca_json_get(v, forbidden[i]) != NULL) {
                return fail(ld, jp(ld, ip, forbidden[i]), "not allowed "
                            "together with id_template");
            }
        }
        if (check_template(ld, jp(ld, ip, "id_template"),
                           id->id_template) < 0
            || (id->label_template != NULL
                && check_template(ld, jp(ld, ip, "label_template"),
                                  id->label_template) < 0)) {
            return -1;
        }
        return 0;
    }
    if (id->label_template != NULL) {
        return fail(ld, jp(ld, ip, "label_template"),
                    "only allowed together with id_template");
    }
    if (!has_call) {
        return fail(ld, ip, "needs a call (path or graphql) or "
                    "id_template");
    }
    if (parse_call(ld, v, ip, CALL_IDENTITY, &call) < 0
        || get_jpath(ld, v, ip, "id", 1, 0, &id->id) < 0
        || get_str_list(ld, v, ip, "label", 1, &id->label) < 0) {
        return -1;
    }
    id->call = call;
    if (id->label != NULL) {
        int i;

        for (i = 0; i < id->label->nelts; i++) {
            if (!ca_json_path_valid(APR_ARRAY_IDX(id->label, i, char *))
                || !*APR_ARRAY_IDX(id->label, i, char *)) {
                return fail(ld, jp(ld, ip, "label"), "malformed JSON path");
            }
        }
    }
    return 0;
}

static int parse_auth(ld_t *ld, const ca_json_t *root)
{
    static const char *const keys[] = {
        "mode", "authorize_url", "token_url", "revoke_url", "scopes",
        "scope_separator", "token_auth", "token_request", "expiry_source",
        "default_expires_in", "refresh_rotates", "api_key_prefix", "header",
        "scheme", "credentials_at_connect", "connect_fields", "identity",
        NULL
    };
    ca_provider_auth_t *a = &ld->def->auth;
    ca_json_t *v = ca_json_get(root, "auth");
    int mode = 0, e = 0, oauth, i;

    if (v == NULL) {
        return fail(ld, "auth", "required");
    }
    if (check_obj(ld, v, "auth", keys) < 0
        || get_enum(ld, v, "auth", "mode", auth_mode_names, auth_mode_vals,
                    1, &mode) < 0) {
        return -1;
    }
    a->mode = (ca_auth_mode_e)mode;
    oauth = a->mode != CA_AUTH_API_KEY;
    a->token_auth = CA_TOKEN_AUTH_BASIC;
    a->token_request = CA_TOKEN_REQUEST_FORM;
    a->expiry_source = oauth ? CA_EXPIRY_EXPIRES_IN : CA_EXPIRY_NONE;
    a->scope_separator = " ";
    a->header = "Authorization";
    a->scheme = "Bearer";
    if (get_str(ld, v, "auth", "authorize_url", 0, 1, &a->authorize_ref) < 0
        || get_str(ld, v, "auth", "token_url", 0, 1, &a->token_ref) < 0
        || get_str(ld, v, "auth", "revoke_url", 0, 1, &a->revoke_ref) < 0
        || get_str_list(ld, v, "auth", "scopes", 0, &a->scopes) < 0
        || get_str(ld, v, "auth", "scope_separator", 0, 1,
                   &a->scope_separator) < 0
        || get_enum(ld, v, "auth", "token_auth", token_auth_names,
                    token_auth_vals, 0, &e) < 0) {
        return -1;
    }
    if (e) {
        a->token_auth = (ca_token_auth_e)e;
        e = 0;
    }
    if (get_enum(ld, v, "auth", "token_request", token_req_names,
                 token_req_vals, 0, &e) < 0) {
        return -1;
    }
    if (e) {
        a->token_request = (ca_token_request_e)e;
        e = 0;
    }
    if (get_enum(ld, v, "auth", "expiry_source", expiry_names, expiry_vals,
                 0, &e) < 0) {
        return -1;
    }
    if (e) {
        a->expiry_source = (ca_expiry_e)e;
    }
    if (get_int(ld, v, "auth", "default_expires_in", 0, 31536000,
                &a->default_expires_in) < 0
        || get_bool(ld, v, "auth", "refresh_rotates", &a->refresh_rotates) < 0
        || get_str(ld, v, "auth", "api_key_prefix", 0, 1,
                   &a->api_key_prefix) < 0
        || get_str(ld, v, "auth", "header", 0, 1, &a->header) < 0
        || get_str(ld, v, "auth", "scheme", 0, 0, &a->scheme) < 0
        || get_bool(ld, v, "auth", "credentials_at_connect",
                    &a->credentials_at_connect) < 0) {
        return -1;
    }
    if (a->credentials_at_connect && a->mode == CA_AUTH_API_KEY) {
        return fail(ld, "auth.credentials_at_connect", "not used with mode "
                    "api_key");
    }
    if (!is_token(a->header)) {
        return fail(ld, "auth.header", "malformed header name");
    }
    if (strchr(a->scheme, ' ') != NULL) {
        return fail(ld, "auth.scheme", "must be one word");
    }
    if (a->scopes == NULL) {
        a->scopes = apr_array_make(ld->p, 1, sizeof(const char *));
    }
    for (i = 0; i < a->scopes->nelts; i++) {
        const char *s = APR_ARRAY_IDX(a->scopes, i, const char *);

        if (*s == '\0' || strpbrk(s, " \t\r\n\"") != NULL) {
            return fail(ld, jpi(ld, "auth.scopes", i), "malformed scope");
        }
    }
    switch (a->mode) {
    case CA_AUTH_OAUTH2_CODE:
    case CA_AUTH_OAUTH2_CODE_PKCE:
        if (a->authorize_ref == NULL) {
            return fail(ld, "auth.authorize_url", "required for mode %s",
                        ca_provider_auth_mode_name(a->mode));
        }
        /* fall through */
    case CA_AUTH_CLIENT_CREDENTIALS:
        if (a->token_ref == NULL) {
            return fail(ld, "auth.token_url", "required for mode %s",
                        ca_provider_auth_mode_name(a->mode));
        }
        if (a->mode == CA_AUTH_CLIENT_CREDENTIALS
            && a->authorize_ref != NULL) {
            return fail(ld, "auth.authorize_url", "not used with mode "
                        "client_credentials");
        }
        if (a->api_key_prefix != NULL) {
            return fail(ld, "auth.api_key_prefix", "only for mode api_key");
        }
        break;
    case CA_AUTH_API_KEY:
        if (a->authorize_ref || a->token_ref || a->revoke_ref) {
            return fail(ld, a->authorize_ref ? "auth.authorize_url"
                        : a->token_ref ? "auth.token_url"
                        : "auth.revoke_url", "not used with mode api_key");
        }
        if (a->scopes->nelts > 0) {
            return fail(ld, "auth.scopes", "not used with mode api_key");
        }
        if (a->expiry_source != CA_EXPIRY_NONE) {
            return fail(ld, "auth.expiry_source", "must be none for mode "
                        "api_key");
        }
        break;
    }
    return parse_connect_fields(ld, v, "auth");
}

static int parse_api(ld_t *ld, const ca_json_t *root)
{
    static const char *const keys[] = {
        "base_url", "style", "graphql_path", "headers", "local_sandbox",
        "config_params", "idempotency_header", NULL
    };
    ca_provider_api_t *a = &ld->def->api;
    ca_json_t *v = ca_json_get(root, "api");
    const char *base = NULL;
    int style = CA_API_REST, i;

    if (v == NULL) {
        return fail(ld, "api", "required");
    }
    a->graphql_path = "";
    if (check_obj(ld, v, "api", keys) < 0
        || get_bool(ld, v, "api", "local_sandbox", &a->local_sandbox) < 0
        || get_str(ld, v, "api", "base_url", 1, 1, &base) < 0
        || check_url(ld, "api.base_url", base, a->local_sandbox, 0, 1,
                     &a->base_url) < 0
        || get_enum(ld, v, "api", "style", style_names, style_vals, 0,
                    &style) < 0
        || get_str(ld, v, "api", "graphql_path", 0, 0,
                   &a->graphql_path) < 0
        || get_str_list(ld, v, "api", "config_params", 0,
                        &a->config_params) < 0
        || get_str(ld, v, "api", "idempotency_header", 0, 1,
                   &a->idempotency_header) < 0) {
        return -1;
    }
    if (a->idempotency_header != NULL && !is_token(a->idempotency_header)) {
        return fail(ld, "api.idempotency_header", "malformed header name");
    }
    a->style = (ca_api_style_e)style;
    if (a->graphql_path[0] != '\0' && a->graphql_path[0] != '/') {
        return fail(ld, "api.graphql_path", "must start with '/'");
    }
    if (a->style != CA_API_GRAPHQL && ca_json_get(v, "graphql_path")) {
        return fail(ld, "api.graphql_path", "only allowed when api.style "
                    "is graphql");
    }
    if (a->config_params == NULL) {
        a->config_params = apr_array_make(ld->p, 1, sizeof(const char *));
    }
    for (i = 0; i < a->config_params->nelts; i++) {
        const char *n = APR_ARRAY_IDX(a->config_params, i, const char *);

        if (!is_name(n, 0)) {
            return fail(ld, jpi(ld, "api.config_params", i),
                        "'%s' is not a name ([a-z_]+)", n);
        }
        if (in_list(n, request_vars)
            || apr_hash_get(ld->vars, n, APR_HASH_KEY_STRING)) {
            return fail(ld, jpi(ld, "api.config_params", i),
                        "'%s' is already a placeholder name", n);
        }
        apr_hash_set(ld->vars, n, APR_HASH_KEY_STRING, n);
    }
    if (get_kv(ld, v, "api", "headers", 1, &a->headers) < 0) {
        return -1;
    }
    for (i = 0; i < a->headers->nelts; i++) {
        const ca_provider_kv_t *kv =
            &APR_ARRAY_IDX(a->headers, i, ca_provider_kv_t);
        int k;

        for (k = 0; reserved_headers[k] != NULL; k++) {
            if (strcasecmp(kv->name, reserved_headers[k]) == 0) {
                return fail(ld, jp(ld, "api.headers", kv->name),
                            "set by the module, not by provider files");
            }
        }
        if (strcasecmp(kv->name, ld->def->auth.header) == 0) {
            return fail(ld, jp(ld, "api.headers", kv->name),
                        "carries the credential (auth.header)");
        }
        if (strpbrk(kv->value, "\r\n") != NULL) {
            return fail(ld, jp(ld, "api.headers", kv->name),
                        "value contains a line break");
        }
    }
    return 0;
}

static int resolve_auth_urls(ld_t *ld, ca_provider_t *def, int allow_http)
{
    ca_provider_auth_t *a = &def->auth;
    const char *u;

    if (a->authorize_ref != NULL) {
        if (check_url(ld, "auth.authorize_url", a->authorize_ref, allow_http,
                      1, 0, &u) < 0) {
            return -1;
        }
        a->authorize_url = resolve_ref(ld->p, def->api.base_url, u);
    }
    if (a->token_ref != NULL) {
        if (check_url(ld, "auth.token_url", a->token_ref, allow_http, 1, 0,
                      &u) < 0) {
            return -1;
        }
        a->token_url = resolve_ref(ld->p, def->api.base_url, u);
    }
    if (a->revoke_ref != NULL) {
        if (check_url(ld, "auth.revoke_url", a->revoke_ref, allow_http, 1, 0,
                      &u) < 0) {
            return -1;
        }
        a->revoke_url = resolve_ref(ld->p, def->api.base_url, u);
    }
    return 0;
}

static int parse_paging(ld_t *ld, const ca_json_t *root)
{
    static const char *const keys[] = {
        "style", "cursor_param", "limit_param", "page_param", "first_cursor",
        "first_page", "max_limit", "default_limit", "next_cursor_path",
        "has_more_path", "cursor_header", NULL
    };
    ca_provider_paging_t *g = &ld->def->paging;
    ca_json_t *v = ca_json_get(root, "pagination");
    int style = 0, relay;

    if (v == NULL) {
        return fail(ld, "pagination", "required");
    }
    if (check_obj(ld, v, "pagination", keys) < 0
        || get_enum(ld, v, "pagination", "style", page_names, page_vals, 1,
                    &style) < 0) {
        return -1;
    }
    g->style = (ca_page_style_e)style;
    relay = g->style == CA_PAGE_RELAY;
    g->cursor_param = relay ? "after" : "cursor";
    g->limit_param = relay ? "first" : "limit";
    g->page_param = "page";
    g->first_page = 1;
    g->max_limit = 100;
    if (get_str(ld, v, "pagination", "cursor_param", 0, 1,
                &g->cursor_param) < 0
        || get_str(ld, v, "pagination", "limit_param", 0, 1,
                   &g->limit_param) < 0
        || get_str(ld, v, "pagination", "page_param", 0, 1,
                   &g->page_param) < 0
        || get_str(ld, v, "pagination", "first_cursor", 0, 1,
                   &g->first_cursor) < 0
        || get_int(ld, v, "pagination", "first_page", 0, 1,
                   &g->first_page) < 0
        || get_int(ld, v, "pagination", "max_limit", 1, CA_PROVIDER_MAX_LIMIT,
                   &g->max_limit) < 0
        || get_int(ld, v, "pagination", "default_limit", 0,
                   CA_PROVIDER_MAX_LIMIT, &g->default_limit) < 0
        || get_jpath(ld, v, "pagination", "next_cursor_path", 0, 0,
                     &g->next_cursor_path) < 0
        || get_jpath(ld, v, "pagination", "has_more_path", 0, 0,
                     &g->has_more_path) < 0
        || get_str(ld, v, "pagination", "cursor_header", 0, 1,
                   &g->cursor_header) < 0) {
        return -1;
    }
    if (!is_param_name(g->cursor_param)) {
        return fail(ld, "pagination.cursor_param", "malformed name");
    }
    if (!is_param_name(g->limit_param)) {
        return fail(ld, "pagination.limit_param", "malformed name");
    }
    if (!is_param_name(g->page_param)) {
        return fail(ld, "pagination.page_param", "malformed name");
    }
    if (g->default_limit > g->max_limit) {
        return fail(ld, "pagination.default_limit", "%d is above "
                    "max_limit %d", g->default_limit, g->max_limit);
    }
    if (g->style == CA_PAGE_CURSOR_HEADER) {
        if (g->cursor_header == NULL) {
            return fail(ld, "pagination.cursor_header", "required for "
                        "style cursor_header");
        }
        if (!is_token(g->cursor_header)) {
            return fail(ld, "pagination.cursor_header",
                        "malformed header name");
        }
    }
    else if (g->cursor_header != NULL) {
        return fail(ld, "pagination.cursor_header", "only for style "
                    "cursor_header");
    }
    if (g->style == CA_PAGE_CURSOR_BODY && g->next_cursor_path == NULL) {
        return fail(ld, "pagination.next_cursor_path", "required for style "
                    "cursor_body");
    }
    if (g->style != CA_PAGE_PAGE_NUMBER
        && ca_json_get(v, "first_page") != NULL) {
        return fail(ld, "pagination.first_page", "only for style "
                    "page_number");
    }
    return 0;
}

/* ---- rate_limit.throttle_cost (GraphQL cost buckets) ---- */
static int parse_throttle_cost(ld_t *ld, const ca_json_t *rl)
{
    static const char *const keys[] = {
        "requested", "available", "restore_rate", NULL
    };
    const char *path = "rate_limit.throttle_cost";
    ca_provider_ratelimit_t *r = &ld->def->rate_limit;
    ca_json_t *v = ca_json_get(rl, "throttle_cost");

    if (v == NULL) {
        return 0;
    }
    if (check_obj(ld, v, path, keys) < 0
        || get_jpath(ld, v, path, "requested", 1, 0,
                     &r->cost_requested_path) < 0
        || get_jpath(ld, v, path, "available", 1, 0,
                     &r->cost_available_path) < 0
        || get_jpath(ld, v, path, "restore_rate", 1, 0,
                     &r->cost_restore_path) < 0) {
        return -1;
    }
    return 0;
}

static int parse_rate_limit(ld_t *ld, const ca_json_t *root)
{
    static const char *const keys[] = {
        "statuses", "retry_after_header", "default_retry_after",
        "body_code_path", "body_code_value", "requests_per_minute",
        "requests_per_day", "throttle_cost", NULL
    };
    ca_provider_ratelimit_t *r = &ld->def->rate_limit;
    ca_json_t *v = ca_json_get(root, "rate_limit"), *st, *e;
    int i = 0;

    r->statuses = apr_array_make(ld->p, 2, sizeof(int));
    r->retry_after_header = "Retry-After";
    r->default_retry_after = 60;
    if (v == NULL) {
        APR_ARRAY_PUSH(r->statuses, int) = 429;
        return 0;
    }
    if (check_obj(ld, v, "rate_limit", keys) < 0
        || get_str(ld, v, "rate_limit", "retry_after_header", 0, 0,
                   &r->retry_after_header) < 0
        || get_int(ld, v, "rate_limit", "default_retry_after", 1, 3600,
                   &r->default_retry_after) < 0
        || get_jpath(ld, v, "rate_limit", "body_code_path", 0, 0,
                     &r->body_code_path) < 0
        || get_str(ld, v, "rate_limit", "body_code_value", 0, 1,
                   &r->body_code_value) < 0
        || get_int(ld, v, "rate_limit", "requests_per_minute", 0, 100000,
                   &r->requests_per_minute) < 0
        || get_int(ld, v, "rate_limit", "requests_per_day", 0, 100000000,
                   &r->requests_per_day) < 0) {
        return -1;
    }
    if (*r->retry_after_header != '\0' && !is_token(r->retry_after_header)) {
        return fail(ld, "rate_limit.retry_after_header",
                    "malformed header name");
    }
    if ((r->body_code_path == NULL) != (r->body_code_value == NULL)) {
        return fail(ld, r->body_code_path ? "rate_limit.body_code_value"
                    : "rate_limit.body_code_path",
                    "body_code_path and body_code_value go together");
    }
    if (parse_throttle_cost(ld, v) < 0) {
        return -1;
    }
    st = ca_json_get(v, "statuses");
    if (st == NULL) {
        APR_ARRAY_PUSH(r->statuses, int) = 429;
        return 0;
    }
    if (ca_json_type(st) != CA_JSON_ARRAY || ca_json_size(st) == 0) {
        return fail(ld, "rate_limit.statuses", "expected a non-empty array "
                    "of HTTP statuses");
    }
    CA_JSON_FOREACH(e, st) {
        double d;

        if (ca_json_number(e, &d) != APR_SUCCESS || d < 400 || d > 599
            || d != (double)(int)d) {
            return fail(ld, jpi(ld, "rate_limit.statuses", i),
                        "expected an HTTP status 400..599");
        }
        APR_ARRAY_PUSH(r->statuses, int) = (int)d;
        i++;
    }
    return 0;
}

/* One rule object. */
static int parse_rule(ld_t *ld, const ca_json_t *o, const char *path,
                      int client, ca_provider_rule_t *r)
{
    static const char *const keys[] = { "kind", "path", "numeric", NULL };
    int kind = 0;

    if (check_obj(ld, o, path, keys) < 0
        || get_enum(ld, o, path, "kind", rule_names, rule_vals, 1,
                    &kind) < 0) {
        return -1;
    }
    r->kind = (ca_rule_kind_e)kind;
    r->numeric = ld->def->numeric_ids;
    if (get_bool(ld, o, path, "numeric", &r->numeric) < 0) {
        return -1;
    }
    switch (r->kind) {
    case CA_RULE_FIELD:
    case CA_RULE_CONTAINS:
        return get_jpath(ld, o, path, "path", 1, 0, &r->path);
    case CA_RULE_SELF:
        return get_jpath(ld, o, path, "path", 0, 0, &r->path);
    case CA_RULE_CONNECTION:
        if (client) {
            return fail(ld, path, "kind 'connection' cannot establish a "
                        "client (a connection is one company)");
        }
        /* fall through */
    case CA_RULE_PARENT:
        if (ca_json_get(o, "path") != NULL) {
            return fail(ld, jp(ld, path, "path"), "not used with kind '%s'",
                        ca_provider_rule_kind_name(r->kind));
        }
        break;
    }
    return 0;
}

/* A rule object or a non-empty array of them (any-of). */
static int parse_rules(ld_t *ld, const ca_json_t *scope, const char *path,
                       const char *key, int client,
                       apr_array_header_t **out)
{
    ca_json_t *v = ca_json_get(scope, key), *e;
    const char *kp = jp(ld, path, key);
    int i = 0;

    *out = apr_array_make(ld->p, 1, sizeof(ca_provider_rule_t));
    if (v == NULL) {
        return client ? 0 : fail(ld, kp, "required");
    }
    if (ca_json_type(v) == CA_JSON_OBJECT) {
        return parse_rule(ld, v, kp, client, apr_array_push(*out));
    }
    if (ca_json_type(v) != CA_JSON_ARRAY || ca_json_size(v) == 0) {
        return fail(ld, kp, "expected a rule object or a non-empty array "
                    "of rules");
    }
    CA_JSON_FOREACH(e, v) {
        if (parse_rule(ld, e, jpi(ld, kp, i++), client,
                       apr_array_push(*out)) < 0) {
            return -1;
        }
    }
    return 0;
}

static int has_rule(const apr_array_header_t *rules, ca_rule_kind_e kind)
{
    int i;

    for (i = 0; i < rules->nelts; i++) {
        if (APR_ARRAY_IDX(rules, i, ca_provider_rule_t).kind == kind) {
            return 1;
        }
    }
    return 0;
}

static const char *const resource_keys[] = {
    "description", "id_field", "list", "item", "create", "update", "replace",
    "delete", "writable", "scope", "scope_query", "filters", "parent",
    "nested", NULL
};

/* First pass: everything but cross references. */
static int parse_resource(ld_t *ld, const char *name, const ca_json_t *o,
                          ca_provider_resource_t *r)
{
    static const char *const scope_keys[] = { "company", "client", NULL };
    static const char *const parent_keys[] = {
        "resource", "field", "param", NULL
    };
    const char *path = apr_pstrcat(ld->p, "resources.", name, NULL);
    const char *sp;
    ca_json_t *v;
    ca_provider_call_t *call;
    int i;

    r->name = apr_pstrdup(ld->p, name);
    r->id_field = "id";
    if (check_obj(ld, o, path, resource_keys) < 0
        || get_str(ld, o, path, "description", 0, 1, &r->description) < 0
        || get_jpath(ld, o, path, "id_field", 0, 0, &r->id_field) < 0
        || get_bool(ld, o, path, "writable", &r->writable) < 0) {
        return -1;
    }

#define CALL(key, kind, field) \
    if ((v = ca_json_get(o, key)) != NULL) { \
        if (parse_call(ld, v, jp(ld, path, key), kind, &call) < 0) { \
            return -1; \
        } \
        r->field = call; \
    }
    CALL("list", CALL_LIST, list)
    CALL("item", CALL_ITEM, item)
    CALL("create", CALL_CREATE, create)
    CALL("update", CALL_UPDATE, update)
    CALL("replace", CALL_REPLACE, replace)
    CALL("delete", CALL_DELETE, del)
#undef CALL

    if (r->list == NULL && r->item == NULL) {
        return fail(ld, path, "needs list or item");
    }
    if (r->writable && !r->create && !r->update && !r->replace && !r->del) {
        return fail(ld, jp(ld, path, "writable"), "true but no create, "
                    "update, replace or delete call");
    }

    sp = jp(ld, path, "scope");
    v = ca_json_get(o, "scope");
    if (v == NULL) {
        return fail(ld, sp, "required (where records' company and client "
                    "ids live)");
    }
    if (check_obj(ld, v, sp, scope_keys) < 0
        || parse_rules(ld, v, sp, "company", 0, &r->company_rules) < 0
        || parse_rules(ld, v, sp, "client", 1, &r->client_rules) < 0) {
        return -1;
    }

    sp = jp(ld, path, "scope_query");
    v = ca_json_get(o, "scope_query");
    r->company_query = apr_array_make(ld->p, 1, sizeof(ca_provider_kv_t));
    r->client_query = apr_array_make(ld->p, 1, sizeof(ca_provider_kv_t));
    if (v != NULL) {
        if (check_obj(ld, v, sp, scope_keys) < 0
            || get_kv(ld, v, sp, "company", 0, &r->company_query) < 0
            || get_kv(ld, v, sp, "client", 0, &r->client_query) < 0) {
            return -1;
        }
        for (i = 0; i < r->company_query->nelts; i++) {
            const char *t =
                APR_ARRAY_IDX(r->company_query, i, ca_provider_kv_t).value;

            if (strstr(t, "{client_id}") != NULL) {
                return fail(ld, jp(ld, sp, "company"), "{client_id} is not "
                            "known for company-scoped endpoints");
            }
        }
    }

    if (get_str_list(ld, o, path, "filters", 0, &r->filters) < 0) {
        return -1;
    }
    if (r->filters == NULL) {
        r->filters = apr_array_make(ld->p, 1, sizeof(const char *));
    }
    for (i = 0; i < r->filters->nelts; i++) {
        const char *fn = APR_ARRAY_IDX(r->filters, i, const char *);

        if (!is_param_name(fn)) {
            return fail(ld, jpi(ld, jp(ld, path, "filters"), i),
                        "malformed parameter name");
        }
        /* GraphQL: a caller's filter is a variable; it must not replace one
         * the list call sets itself (e.g. its {client_id}) */
        if (r->list != NULL && kv_named(r->list->variables, fn)) {
            return fail(ld, jpi(ld, jp(ld, path, "filters"), i),
                        "'%s' is a variable of the list call", fn);
        }
    }

    v = ca_json_get(o, "parent");
    if (v != NULL) {
        ca_provider_parent_t *pa = apr_pcalloc(ld->p, sizeof(*pa));

        sp = jp(ld, path, "parent");
        if (check_obj(ld, v, sp, parent_keys) < 0
            || get_str(ld, v, sp, "resource", 1, 1, &pa->resource_name) < 0
            || get_jpath(ld, v, sp, "field", 0, 0, &pa->field) < 0
            || get_str(ld, v, sp, "param", 0, 1, &pa->param) < 0) {
            return -1;
        }
        if (pa->param != NULL && !is_param_name(pa->param)) {
            return fail(ld, jp(ld, sp, "param"), "malformed parameter name");
        }
        r->parent = pa;
    }
    if ((has_rule(r->company_rules, CA_RULE_PARENT)
         || has_rule(r->client_rules, CA_RULE_PARENT)) && r->parent == NULL) {
        return fail(ld, jp(ld, path, "scope"), "kind 'parent' needs %s.parent",
                    path);
    }
    r->nested = apr_array_make(ld->p, 1, sizeof(ca_provider_nested_t));
    return 0;
}

/* Second pass: parents, nested sub-resources. */
static int link_resource(ld_t *ld, ca_provider_resource_t *r)
{
    const char *path = apr_pstrcat(ld->p, "resources.", r->name, NULL);
    const ca_json_t *o = apr_hash_get(ld->res_objs, r->name,
                                      APR_HASH_KEY_STRING);
    ca_json_t *v, *m;

    if (r->parent != NULL) {
        ca_provider_parent_t *pa = (ca_provider_parent_t *)r->parent;
        const ca_provider_resource_t *q;
        int hops = 0;

        pa->resource = ca_provider_resource(ld->def, pa->resource_name);
        if (pa->resource == NULL) {
            return fail(ld, jp(ld, path, "parent.resource"), "unknown "
                        "resource '%s'", pa->resource_name);
        }
        if (pa->resource->item == NULL) {
            return fail(ld, jp(ld, path, "parent.resource"), "resource '%s' "
                        "has no item call to fetch the parent",
                        pa->resource_name);
        }
        for (q = r; q != NULL && q->parent != NULL; q = q->parent->resource) {
            if (++hops > 8 || q->parent->resource == r) {
                return fail(ld, jp(ld, path, "parent"), "parent chain loops");
            }
            if (q->parent->resource == NULL) {
                break;          /* not linked yet: checked on its own turn */
            }
        }
    }

    v = ca_json_get(o, "nested");
    if (v == NULL) {
        return 0;
    }
    path = jp(ld, path, "nested");
    if (ca_json_type(v) != CA_JSON_OBJECT) {
        return fail(ld, path, "expected an object, got %s", type_name(v));
    }
    CA_JSON_FOREACH(m, v) {
        const char *k = ca_json_key(m), *np = jp(ld, path, k), *child = NULL;
        ca_provider_nested_t *ne;
        ca_provider_call_t *call;

        if (ca_json_key_count(v, k) > 1) {
            return fail(ld, np, "duplicated key");
        }
        if (!is_name(k, 0)) {
            return fail(ld, np, "'%s' is not a name ([a-z_]+)", k);
        }
        if (ca_json_type(m) != CA_JSON_OBJECT) {
            return fail(ld, np, "expected an object, got %s", type_name(m));
        }
        if (get_str(ld, m, np, "resource", 1, 1, &child) < 0) {
            return -1;
        }
        ne = apr_array_push(r->nested);
        ne->name = apr_pstrdup(ld->p, k);
        ne->resource = ca_provider_resource(ld->def, child);
        if (ne->resource == NULL) {
            return fail(ld, jp(ld, np, "resource"), "unknown resource '%s'",
                        child);
        }
        if (ca_json_get(m, "path") || ca_json_get(m, "graphql")) {
            if (parse_call(ld, m, np, CALL_NESTED, &call) < 0) {
                return -1;
            }
            if (call->records == NULL) {
                if (ne->resource->list == NULL) {
                    return fail(ld, jp(ld, np, "records"), "required "
                                "(resource '%s' has no list)", child);
                }
                call->records = ne->resource->list->records;
            }
        }
        else {
            const ca_provider_parent_t *cp = ne->resource->parent;
            ca_provider_kv_t *kv;

            if (check_obj(ld, m, np, keys_nested) < 0) {
                return -1;
            }
            if (ca_json_size(m) > 1) {
                return fail(ld, np, "needs path (or graphql) when it sets "
                            "more than resource");
            }
            if (ne->resource->list == NULL || cp == NULL
                || cp->param == NULL) {
                return fail(ld, np, "needs path (or graphql), or resource "
                            "'%s' with a list call and parent.param", child);
            }
            call = apr_pmemdup(ld->p, ne->resource->list, sizeof(*call));
            call->query = apr_array_copy(ld->p, call->query);
            kv = apr_array_push(call->query);
            kv->name = cp->param;
            kv->value = "{parent_id}";
        }
        ne->list = call;
    }
    return 0;
}

static int parse_pick(ld_t *ld, const ca_json_t *root, const char *key,
                      int required, ca_provider_pick_t *pk)
{
    static const char *const keys[] = {
        "source", "resource", "id", "label", NULL
    };
    ca_json_t *v = ca_json_get(root, key);
    const char *rname = NULL;
    int src = 0, i;

    pk->source = CA_PICK_NONE;
    if (v == NULL) {
        return required ? fail(ld, key, "required") : 0;
    }
    if (check_obj(ld, v, key, keys) < 0
        || get_enum(ld, v, key, "source", pick_names, pick_vals, 1,
                    &src) < 0) {
        return -1;
    }
    pk->source = (ca_pick_source_e)src;
    if (pk->source == CA_PICK_IDENTITY) {
        if (ca_json_size(v) > 1) {
            return fail(ld, key, "source identity takes no other keys");
        }
        return 0;
    }
    if (get_str(ld, v, key, "resource", 1, 1, &rname) < 0
        || get_jpath(ld, v, key, "id", 0, 0, &pk->id) < 0
        || get_str_list(ld, v, key, "label", 1, &pk->label) < 0) {
        return -1;
    }
    pk->resource = ca_provider_resource(ld->def, rname);
    if (pk->resource == NULL) {
        return fail(ld, jp(ld, key, "resource"), "unknown resource '%s'",
                    rname);
    }
    if (pk->resource->list == NULL) {
        return fail(ld, jp(ld, key, "resource"), "resource '%s' has no list "
                    "call", rname);
    }
    if (pk->id == NULL) {
        pk->id = pk->resource->id_field;
    }
    if (pk->label == NULL) {
        pk->label = apr_array_make(ld->p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(pk->label, const char *) = pk->id;
    }
    for (i = 0; i < pk->label->nelts; i++) {
        const char *lp = APR_ARRAY_IDX(pk->label, i, const char *);

        if (*lp == '\0' || !ca_json_path_valid(lp)) {
            return fail(ld, jp(ld, key, "label"), "malformed JSON path '%s'",
                        lp);
        }
    }
    return 0;
}

static int parse_resources(ld_t *ld, const ca_json_t *root)
{
    ca_provider_t *def = ld->def;
    ca_json_t *v = ca_json_get(root, "resources"), *m;
    int i;

    def->resources = apr_array_make(ld->p, 8,
                                    sizeof(const ca_provider_resource_t *));
    def->by_name = apr_hash_make(ld->p);
    ld->res_objs = apr_hash_make(ld->p);
    if (v == NULL) {
        return fail(ld, "resources", "required");
    }
    if (ca_json_type(v) != CA_JSON_OBJECT || ca_json_size(v) == 0) {
        return fail(ld, "resources", "expected a non-empty object");
    }
    CA_JSON_FOREACH(m, v) {
        const char *k = ca_json_key(m);
        ca_provider_resource_t *r;

        if (k[0] == '_') {
            continue;
        }
        if (ca_json_key_count(v, k) > 1) {
            return fail(ld, jp(ld, "resources", k), "duplicated key");
        }
        if (!is_name(k, 0)) {
            return fail(ld, jp(ld, "resources", k), "resource names are "
                        "[a-z_]+ only");
        }
        r = apr_pcalloc(ld->p, sizeof(*r));
        if (parse_resource(ld, k, m, r) < 0) {
            return -1;
        }
        APR_ARRAY_PUSH(def->resources, const ca_provider_resource_t *) = r;
        apr_hash_set(def->by_name, r->name, APR_HASH_KEY_STRING, r);
        apr_hash_set(ld->res_objs, r->name, APR_HASH_KEY_STRING, m);
    }
    for (i = 0; i < def->resources->nelts; i++) {
        if (link_resource(ld, APR_ARRAY_IDX(def->resources, i,
                                            ca_provider_resource_t *)) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- endpoint_scopes: which endpoint scopes the provider serves ---- */
static int parse_endpoint_scopes(ld_t *ld, const ca_json_t *root)
{
    static const char *const names[] = { "company", "client", NULL };
    ca_provider_t *def = ld->def;
    apr_array_header_t *list = NULL;
    int i;

    def->endpoint_scopes = CA_PROVIDER_SCOPE_COMPANY;
    if (def->client_list.source != CA_PICK_NONE) {
        def->endpoint_scopes |= CA_PROVIDER_SCOPE_CLIENT;
    }
    if (ca_json_get(root, "endpoint_scopes") != NULL
        && ca_json_type(ca_json_get(root, "endpoint_scopes"))
           != CA_JSON_ARRAY) {
        return fail(ld, "endpoint_scopes", "expected an array of strings, "
                    "got %s", type_name(ca_json_get(root, "endpoint_scopes")));
    }
    if (get_str_list(ld, root, "", "endpoint_scopes", 0, &list) < 0) {
        return -1;
    }
    if (list == NULL) {
        return 0;
    }
    if (list->nelts == 0) {
        return fail(ld, "endpoint_scopes", "must not be empty");
    }
    def->endpoint_scopes = 0;
    for (i = 0; i < list->nelts; i++) {
        const char *n = APR_ARRAY_IDX(list, i, const char *);
        unsigned bit = strcmp(n, "company") == 0 ? CA_PROVIDER_SCOPE_COMPANY
                       : strcmp(n, "client") == 0 ? CA_PROVIDER_SCOPE_CLIENT
                       : 0;

        if (bit == 0) {
            return fail(ld, jpi(ld, "endpoint_scopes", i), "unknown scope "
                        "'%s' (expected one of %s)", n,
                        join_names(ld, names));
        }
        if (def->endpoint_scopes & bit) {
            return fail(ld, jpi(ld, "endpoint_scopes", i), "'%s' given "
                        "twice", n);
        }
        if (bit == CA_PROVIDER_SCOPE_CLIENT
            && def->client_list.source == CA_PICK_NONE) {
            return fail(ld, jpi(ld, "endpoint_scopes", i), "client needs "
                        "client_list");
        }
        def->endpoint_scopes |= bit;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* entry points                                                        */
/* ------------------------------------------------------------------ */

apr_status_t ca_provider_load_buffer(apr_pool_t *p, const char *fname,
                                     const char *buf, apr_size_t len,
                                     const ca_provider_t **out,
                                     const char **perr)
{
    static const char *const keys[] = {
        "format", "name", "display_name", "docs_url", "numeric_ids", "auth",
        "api", "pagination", "rate_limit", "company_list", "client_list",
        "resources", "endpoint_scopes", NULL
    };
    ca_json_limits_t lim = { CA_PROVIDER_MAX_FILE, 32 };
    ca_json_doc_t *doc;
    ca_json_t *root;
    const char *jerr = NULL;
    apr_pool_t *tmp;
    ld_t ld;
    ca_provider_t *def;
    int format = 0, i;
    apr_status_t rv;

    *out = NULL;
    memset(&ld, 0, sizeof(ld));
    ld.p = p;
    ld.file = fname ? fname : "(provider)";
    /* the JSON tree lives in tmp: everything kept is copied into p */
    rv = apr_pool_create(&tmp, p);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = apr_psprintf(p, "%s: out of memory", ld.file);
        }
        return rv;
    }
    rv = ca_json_parse(tmp, buf, len, &lim, &doc, &jerr);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = apr_psprintf(p, "%s: %s", ld.file, jerr);
        }
        apr_pool_destroy(tmp);
        return APR_EINVAL;
    }
    root = ca_json_doc_root(doc);
    if (ca_json_doc_has_nul(doc)) {
        fail(&ld, NULL, "strings must not contain \\u0000");
        goto done;
    }
    def = apr_pcalloc(p, sizeof(*def));
    def->file = apr_pstrdup(p, ld.file);
    ld.def = def;
    ld.vars = apr_hash_make(p);
    for (i = 0; request_vars[i] != NULL; i++) {
        apr_hash_set(ld.vars, request_vars[i], APR_HASH_KEY_STRING, "");
    }

    if (check_obj(&ld, root, "", keys) < 0
        || get_int(&ld, root, "", "format", 1, 1000, &format) < 0) {
        goto done;
    }
    if (ca_json_get(root, "format") == NULL) {
        fail(&ld, "format", "required (use %d)", CA_PROVIDER_FORMAT);
        goto done;
    }
    if (format != CA_PROVIDER_FORMAT) {
        fail(&ld, "format", "unsupported version %d (this module reads %d)",
             format, CA_PROVIDER_FORMAT);
        goto done;
    }
    if (get_str(&ld, root, "", "name", 1, 1, &def->name) < 0) {
        goto done;
    }
    if (!is_name(def->name, 1)) {
        fail(&ld, "name", "'%s' is not a name ([a-z0-9_]+)", def->name);
        goto done;
    }
    def->display_name = def->name;
    if (get_str(&ld, root, "", "display_name", 0, 1, &def->display_name) < 0
        || get_str(&ld, root, "", "docs_url", 0, 1, &def->docs_url) < 0
        || get_bool(&ld, root, "", "numeric_ids", &def->numeric_ids) < 0
        || parse_auth(&ld, root) < 0
        || parse_api(&ld, root) < 0
        || resolve_auth_urls(&ld, def, def->api.local_sandbox) < 0
        || parse_identity(&ld, ca_json_get(root, "auth"), "auth") < 0
        || parse_paging(&ld, root) < 0
        || parse_rate_limit(&ld, root) < 0
        || parse_resources(&ld, root) < 0
        || parse_pick(&ld, root, "company_list", 1, &def->company_list) < 0
        || parse_pick(&ld, root, "client_list", 0, &def->client_list) < 0
        || parse_endpoint_scopes(&ld, root) < 0) {
        goto done;
    }
    if (def->docs_url != NULL) {
        const char *u;

        if (check_url(&ld, "docs_url", def->docs_url, 1, 0, 0, &u) < 0) {
            goto done;
        }
    }
    *out = def;

done:
    apr_pool_destroy(tmp);
    if (ld.err != NULL) {
        *out = NULL;
        if (perr) {
            *perr = ld.err;
        }
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Reads the file into tmp (freed by the caller), definition into p. */
static apr_status_t load_file_in(apr_pool_t *p, apr_pool_t *tmp,
                                 const char *path, const ca_provider_t **def,
                                 const char **perr)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_size_t got = 0;
    char *buf, ebuf[128];

    *def = NULL;
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, tmp);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = apr_psprintf(p, "%s: cannot open: %s", path,
                                 apr_strerror(rv, ebuf, sizeof(ebuf)));
        }
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv == APR_SUCCESS && fi.filetype != APR_REG) {
        apr_file_close(f);
        if (perr) {
            *perr = apr_psprintf(p, "%s: not a regular file", path);
        }
        return APR_EINVAL;
    }
    if (rv == APR_SUCCESS && fi.size > CA_PROVIDER_MAX_FILE) {
        apr_file_close(f);
        if (perr) {
            *perr = apr_psprintf(p, "%s: larger than %d bytes", path,
                                 CA_PROVIDER_MAX_FILE);
        }
        return APR_ENOSPC;
    }
    if (rv != APR_SUCCESS) {
        apr_file_close(f);
        if (perr) {
            *perr = apr_psprintf(p, "%s: cannot stat: %s", path,
                                 apr_strerror(rv, ebuf, sizeof(ebuf)));
        }
        return rv;
    }
    buf = apr_palloc(tmp, (apr_size_t)fi.size + 1);
    rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, &got);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !(APR_STATUS_IS_EOF(rv) && got == 0
                               && fi.size == 0)) {
        if (perr) {
            *perr = apr_psprintf(p, "%s: cannot read: %s", path,
                                 apr_strerror(rv, ebuf, sizeof(ebuf)));
        }
        return rv;
    }
    buf[got] = '\0';
    return ca_provider_load_buffer(p, path, buf, got, def, perr);
}

apr_status_t ca_provider_load_file(apr_pool_t *p, const char *path,
                                   const ca_provider_t **def,
                                   const char **perr)
{
    apr_pool_t *tmp;
    apr_status_t rv;

    *def = NULL;
    rv = apr_pool_create(&tmp, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = load_file_in(p, tmp, path, def, perr);
    apr_pool_destroy(tmp);
    return rv;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_status_t ca_provider_load_dir(apr_pool_t *p, const char *dir,
                                  ca_provider_set_t **out,
                                  const char **perr)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_array_header_t *names = apr_array_make(p, 8, sizeof(const char *));
    ca_provider_set_t *set;
    apr_status_t rv;
    char ebuf[128];
    int i;

    *out = NULL;
    rv = apr_dir_open(&d, dir, p);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = apr_psprintf(p, "%s: cannot open directory: %s", dir,
                                 apr_strerror(rv, ebuf, sizeof(ebuf)));
        }
        return rv;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d)
           == APR_SUCCESS) {
        apr_size_t n = strlen(fi.name);

        if (fi.name[0] == '.' || n < 6 || strcmp(fi.name + n - 5, ".json")) {
            continue;
        }
        APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, fi.name);
    }
    apr_dir_close(d);
    qsort(names->elts, names->nelts, sizeof(const char *), cmp_str);

    set = apr_pcalloc(p, sizeof(*set));
    set->list = apr_array_make(p, names->nelts + 1,
                               sizeof(const ca_provider_t *));
    set->by_name = apr_hash_make(p);
    for (i = 0; i < names->nelts; i++) {
        const char *fpath = apr_pstrcat(p, dir, "/",
                                        APR_ARRAY_IDX(names, i, char *),
                                        NULL);
        const ca_provider_t *def, *prev;

        rv = ca_provider_load_file(p, fpath, &def, perr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        prev = apr_hash_get(set->by_name, def->name, APR_HASH_KEY_STRING);
        if (prev != NULL) {
            if (perr) {
                *perr = apr_psprintf(p, "%s: name: '%s' already defined by "
                                     "%s", fpath, def->name, prev->file);
            }
            return APR_EINVAL;
        }
        apr_hash_set(set->by_name, def->name, APR_HASH_KEY_STRING, def);
        APR_ARRAY_PUSH(set->list, const ca_provider_t *) = def;
    }
    *out = set;
    return APR_SUCCESS;
}

const ca_provider_t *ca_provider_set_get(const ca_provider_set_t *set,
                                         const char *name)
{
    if (set == NULL || name == NULL) {
        return NULL;
    }
    return apr_hash_get(set->by_name, name, APR_HASH_KEY_STRING);
}

apr_status_t ca_provider_override_base(apr_pool_t *p,
                                       const ca_provider_t *def,
                                       const ca_provider_override_t *ov,
                                       const ca_provider_t **out,
                                       const char **perr)
{
    ca_provider_t *cp;
    ld_t ld;
    int allow_http;

    *out = NULL;
    memset(&ld, 0, sizeof(ld));
    ld.p = p;
    ld.file = def->file;
    cp = apr_pmemdup(p, def, sizeof(*cp));
    allow_http = def->api.local_sandbox || (ov && ov->local_sandbox);
    cp->api.local_sandbox = allow_http;
    if (ov != NULL && ov->base_url != NULL) {
        if (check_url(&ld, "api.base_url (override)", ov->base_url,
                      allow_http, 0, 1, &cp->api.base_url) < 0) {
            goto done;
        }
    }
    else if (check_url(&ld, "api.base_url", def->api.base_url, allow_http, 0,
                       1, &cp->api.base_url) < 0) {
        goto done;
    }
    if (ov != NULL) {
        if (ov->authorize_url != NULL) {
            cp->auth.authorize_ref = ov->authorize_url;
        }
        if (ov->token_url != NULL) {
            cp->auth.token_ref = ov->token_url;
        }
        if (ov->revoke_url != NULL) {
            cp->auth.revoke_ref = ov->revoke_url;
        }
        if ((ov->authorize_url || ov->token_url || ov->revoke_url)
            && cp->auth.mode == CA_AUTH_API_KEY) {
            fail(&ld, "auth", "mode api_key has no OAuth URLs to override");
            goto done;
        }
        if (ov->authorize_url && cp->auth.mode == CA_AUTH_CLIENT_CREDENTIALS) {
            fail(&ld, "auth.authorize_url", "not used with mode "
                 "client_credentials");
            goto done;
        }
    }
    resolve_auth_urls(&ld, cp, allow_http);

done:
    if (ld.err != NULL) {
        if (perr) {
            *perr = ld.err;
        }
        return APR_EINVAL;
    }
    *out = cp;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* lookups                                                             */
/* ------------------------------------------------------------------ */

const ca_provider_resource_t *ca_provider_resource(const ca_provider_t *def,
                                                   const char *name)
{
    if (def == NULL || name == NULL || def->by_name == NULL) {
        return NULL;
    }
    return apr_hash_get(def->by_name, name, APR_HASH_KEY_STRING);
}

int ca_provider_resource_count(const ca_provider_t *def)
{
    return (def && def->resources) ? def->resources->nelts : 0;
}

const ca_provider_resource_t *ca_provider_resource_at(const ca_provider_t *def,
                                                      int i)
{
    if (i < 0 || i >= ca_provider_resource_count(def)) {
        return NULL;
    }
    return APR_ARRAY_IDX(def->resources, i, const ca_provider_resource_t *);
}

const ca_provider_nested_t *ca_provider_nested(
    const ca_provider_resource_t *res, const char *name)
{
    int i;

    if (res == NULL || name == NULL || res->nested == NULL) {
        return NULL;
    }
    for (i = 0; i < res->nested->nelts; i++) {
        const ca_provider_nested_t *ne =
            &APR_ARRAY_IDX(res->nested, i, ca_provider_nested_t);

        if (strcmp(ne->name, name) == 0) {
            return ne;
        }
    }
    return NULL;
}

int ca_provider_filter_allowed(const ca_provider_resource_t *res,
                               const char *name)
{
    int i;

    if (res == NULL || name == NULL || res->filters == NULL) {
        return 0;
    }
    for (i = 0; i < res->filters->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(res->filters, i, const char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *ca_provider_auth_mode_name(ca_auth_mode_e m)
{
    int i;

    for (i = 0; auth_mode_names[i] != NULL; i++) {
        if (auth_mode_vals[i] == (int)m) {
            return auth_mode_names[i];
        }
    }
    return "unknown";
}

const char *ca_provider_rule_kind_name(ca_rule_kind_e k)
{
    int i;

    for (i = 0; rule_names[i] != NULL; i++) {
        if (rule_vals[i] == (int)k) {
            return rule_names[i];
        }
    }
    return "unknown";
}

const char *ca_provider_page_style_name(ca_page_style_e s)
{
    int i;

    for (i = 0; page_names[i] != NULL; i++) {
        if (page_vals[i] == (int)s) {
            return page_names[i];
        }
    }
    return "unknown";
}

/* ------------------------------------------------------------------ */
/* templates                                                           */
/* ------------------------------------------------------------------ */

static const char *pct_encode(apr_pool_t *p, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t n = 0;
    const unsigned char *s;
    char *out, *o;

    for (s = (const unsigned char *)v; *s; s++) {
        n += (apr_isalnum(*s) || strchr("-._~", *s)) ? 1 : 3;
    }
    out = o = apr_palloc(p, n + 1);
    for (s = (const unsigned char *)v; *s; s++) {
        if (apr_isalnum(*s) || strchr("-._~", *s)) {
            *o++ = (char)*s;
        }
        else {
            *o++ = '%';
            *o++ = hex[*s >> 4];
            *o++ = hex[*s & 0xF];
        }
    }
    *o = '\0';
    return out;
}

apr_status_t ca_provider_expand(apr_pool_t *p, const char *tmpl,
                                apr_table_t *vars, int mode,
                                const char **out, const char **perr)
{
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(const char *));
    const char *s = tmpl, *open, *close;

    *out = NULL;
    if (tmpl == NULL) {
        if (perr) {
            *perr = "no template";
        }
        return APR_EINVAL;
    }
    while ((open = strchr(s, '{')) != NULL) {
        const char *name, *val;

        close = strchr(open, '}');
        if (close == NULL) {
            if (perr) {
                *perr = "unbalanced '{' in template";
            }
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(parts, const char *) = apr_pstrmemdup(p, s, open - s);
        name = apr_pstrmemdup(p, open + 1, close - open - 1);
        val = vars ? apr_table_get(vars, name) : NULL;
        if (val == NULL) {
            if (perr) {
                *perr = apr_psprintf(p, "no value for {%s}", name);
            }
            return APR_NOTFOUND;
        }
        if (mode == CA_EXPAND_PATH) {
            if (*val == '\0' || strcmp(val, ".") == 0
                || strcmp(val, "..") == 0) {
                if (perr) {
                    *perr = apr_psprintf(p, "value of {%s} is not allowed in "
                                         "a URL path", name);
                }
                return APR_EINVAL;
            }
            val = pct_encode(p, val);
        }
        APR_ARRAY_PUSH(parts, const char *) = val;
        s = close + 1;
    }
    APR_ARRAY_PUSH(parts, const char *) = s;
    *out = apr_array_pstrcat(p, parts, 0);
    return APR_SUCCESS;
}

const char *ca_provider_api_url(apr_pool_t *p, const ca_provider_t *def,
                                const char *path)
{
    return apr_pstrcat(p, def->api.base_url, path ? path : "", NULL);
}

/* ------------------------------------------------------------------ */
/* GraphQL transport                                                   */
/* ------------------------------------------------------------------ */

#define GQL_MAX_ANSWER  (64 * 1024 * 1024)

apr_status_t ca_provider_graphql_body(apr_pool_t *p,
                                      const ca_provider_call_t *call,
                                      apr_table_t *vars,
                                      const apr_array_header_t *extra,
                                      const char **body, apr_size_t *len,
                                      const char **perr)
{
    ca_json_t *obj, *v;
    char *out;
    int i;

    *body = NULL;
    if (call == NULL || call->graphql == NULL) {
        if (perr) {
            *perr = "not a GraphQL call";
        }
        return APR_EINVAL;
    }
    obj = ca_json_new_object(p);
    if (obj == NULL || ca_json_add_string(obj, "query", call->graphql) == NULL
        || (v = ca_json_add_object(obj, "variables")) == NULL) {
        if (perr) {
            *perr = "cannot build the GraphQL request";
        }
        return APR_ENOMEM;
    }
    for (i = 0; call->variables != NULL && i < call->variables->nelts; i++) {
        const ca_provider_kv_t *kv =
            &APR_ARRAY_IDX(call->variables, i, ca_provider_kv_t);
        const char *val = NULL;

        if (strcmp(kv->value, "{limit}") == 0) {
            const char *l = vars ? apr_table_get(vars, "limit") : NULL;
            char *end = NULL;
            long n = l ? strtol(l, &end, 10) : 0;

            if (l != NULL && *l != '\0' && *end == '\0' && n > 0) {
                ca_json_set_number(v, kv->name, (double)n);
            }
            else {
                ca_json_remove(v, kv->name);
                ca_json_add_null(v, kv->name);
            }
            continue;
        }
        if (ca_provider_expand(p, kv->value, vars, CA_EXPAND_RAW, &val, NULL)
            != APR_SUCCESS) {
            val = NULL;
        }
        ca_json_remove(v, kv->name);
        if (val == NULL) {
            ca_json_add_null(v, kv->name);
        }
        else {
            ca_json_add_string(v, kv->name, val);
        }
    }
    for (i = 0; extra != NULL && i < extra->nelts; i++) {
        const ca_provider_kv_t *kv =
            &APR_ARRAY_IDX(extra, i, ca_provider_kv_t);

        ca_json_remove(v, kv->name);
        ca_json_add_string(v, kv->name, kv->value ? kv->value : "");
    }
    out = ca_json_print(p, obj);
    if (out == NULL) {
        if (perr) {
            *perr = "cannot build the GraphQL request";
        }
        return APR_ENOMEM;
    }
    *body = out;
    if (len) {
        *len = strlen(out);
    }
    return APR_SUCCESS;
}

static ca_json_t *gql_parse(apr_pool_t *p, const char *body, apr_size_t len)
{
    ca_json_limits_t lim = { GQL_MAX_ANSWER, 0 };
    ca_json_doc_t *doc = NULL;
    ca_json_t *root;

    if (body == NULL
        || ca_json_parse(p, body, len, &lim, &doc, NULL) != APR_SUCCESS) {
        return NULL;
    }
    root = ca_json_doc_root(doc);
    return ca_json_type(root) == CA_JSON_OBJECT ? root : NULL;
}

static int short_word(const char *s)
{
    apr_size_t n = 0;

    for (; s != NULL && *s; s++, n++) {
        if (!apr_isalnum(*s) && *s != '_') {
            return 0;
        }
    }
    return n > 0 && n <= 64;
}

int ca_provider_graphql_errors(apr_pool_t *p, const char *body,
                               apr_size_t len, const char **code)
{
    ca_json_t *root = gql_parse(p, body, len), *e;
    const char *c;

    if (code) {
        *code = NULL;
    }
    if (root == NULL) {
        return -1;
    }
    e = ca_json_get(root, "errors");
    if (e == NULL || ca_json_type(e) == CA_JSON_NULL) {
        return 0;
    }
    if (ca_json_type(e) != CA_JSON_ARRAY) {
        return 1;
    }
    c = ca_json_get_string(e, "0.extensions.code");
    if (code && short_word(c)) {
        *code = c;
    }
    return ca_json_size(e);
}

int ca_provider_throttle_wait(apr_pool_t *p, const ca_provider_t *def,
                              const char *body, apr_size_t len)
{
    const ca_provider_ratelimit_t *r = &def->rate_limit;
    double req, avail, rate, w;
    ca_json_t *root;

    if (r->cost_requested_path == NULL || r->cost_available_path == NULL
        || r->cost_restore_path == NULL
        || (root = gql_parse(p, body, len)) == NULL
        || ca_json_number(ca_json_get(root, r->cost_requested_path), &req)
           != APR_SUCCESS
        || ca_json_number(ca_json_get(root, r->cost_available_path), &avail)
           != APR_SUCCESS
        || ca_json_number(ca_json_get(root, r->cost_restore_path), &rate)
           != APR_SUCCESS
        || !(rate > 0) || !(req >= 0) || !(avail >= 0)) {
        return 0;
    }
    w = (req - avail) / rate;
    if (!(w > 1)) {
        return 1;
    }
    if (w > 3600) {
        return 3600;
    }
    return (int)w + ((double)(int)w < w ? 1 : 0);
}
