/*
 * ca_oauth.c - provider-side OAuth 2 / credential client (see ca_oauth.h and
 * docs/oauth.md).
 *
 * Core unit: no httpd headers, no logging.  Secrets (client secret, codes,
 * verifiers, tokens) go only into request bodies and headers, which ca_http
 * never reports; the request buffers holding them are wiped after each call.
 */
#include <limits.h>
#include <string.h>

#include <apr_base64.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "ca_crypto.h"
#include "ca_http.h"
#include "ca_json.h"
#include "ca_oauth.h"
#include "ca_provider.h"

/* longest expires_in honoured (10 years): larger values are clamped */
#define MAX_EXPIRES_IN 315360000
/* exp claims beyond this (year 9999) are not believed */
#define MAX_JWT_EXP    253402300799LL
/* longest JWT read for its exp claim */
#define MAX_JWT_LEN    16384
/* longest unregistered OAuth error code passed to perr */
#define MAX_CODE_LEN   48

/* which endpoint answered: decides how a bare 401/403 is read */
typedef enum {
    EP_TOKEN = 1,
    EP_REVOKE,
    EP_IDENTITY
} endpoint_e;

static void set_err(const char **perr, const char *msg)
{
    if (perr) {
        *perr = msg;
    }
}

static int empty(const char *s)
{
    return s == NULL || *s == '\0';
}

/* 1 if every byte of s is printable ASCII (VSCHAR, %x20-7E) and s is not empty:
 * what RFC 6749 allows in tokens and codes, and safe in a header value */
static int vschar_only(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    if (empty(s)) {
        return 0;
    }
    for (; *u; u++) {
        if (*u < 0x20 || *u > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static int has_crlf(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* ---- error codes -------------------------------------------------------------------- */

/* codes of RFC 6749, 6750, 7009 and 8628 that are passed to perr as they are */
static const char *const registered_codes[] = {
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
    "unsupported_grant_type", "invalid_scope", "access_denied",
    "unsupported_response_type", "server_error", "temporarily_unavailable",
    "unsupported_token_type", "invalid_token", "insufficient_scope", "slow_down",
    "authorization_pending", "expired_token", NULL
};

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

/*
 * The provider's error code as it may appear in perr, or NULL.  Registered
 * codes pass.  Others pass only when they look like a code (lower-case
 * letters and '_', at most MAX_CODE_LEN) and contain none of the secrets of
 * the request (a provider could echo what it was sent); error_description is
 * never used.
 */
static const char *safe_code(const char *code, const char *const *secrets)
{
    const char *s;
    int i;

    if (empty(code)) {
        return NULL;
    }
    if (in_list(code, registered_codes)) {
        return code;
    }
    if (strlen(code) > MAX_CODE_LEN) {
        return NULL;
    }
    for (s = code; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || *s == '_')) {
            return NULL;
        }
    }
    for (i = 0; secrets && secrets[i] != NULL; i++) {
        if (*secrets[i] != '\0' && (strstr(code, secrets[i]) != NULL
                                    || strstr(secrets[i], code) != NULL)) {
            return NULL;
        }
    }
    return code;
}

static int rate_limit_status(const ca_provider_t *def, int status)
{
    const apr_array_header_t *st = def->rate_limit.statuses;
    int i;

    if (status == 429) {
        return 1;
    }
    for (i = 0; st != NULL && i < st->nelts; i++) {
        if (APR_ARRAY_IDX(st, i, int) == status) {
            return 1;
        }
    }
    return 0;
}

/* the provider's rate-limit body signal (GraphQL THROTTLED) in a parsed answer */
static int rate_limit_body(const ca_provider_t *def, const ca_json_t *root)
{
    const char *v;

    if (root == NULL || empty(def->rate_limit.body_code_path)
        || def->rate_limit.body_code_value == NULL) {
        return 0;
    }
    v = ca_json_get_string(root, def->rate_limit.body_code_path);
    return v != NULL && strcmp(v, def->rate_limit.body_code_value) == 0;
}

static ca_json_t *parse_body(apr_pool_t *p, const ca_http_response_t *resp,
                             apr_status_t *rv)
{
    ca_json_limits_t lim = { CA_OAUTH_MAX_RESPONSE, 32 };
    ca_json_doc_t *doc = NULL;
    const char *err = NULL;

    *rv = ca_json_parse(p, resp->body, resp->body_len, &lim, &doc, &err);
    if (*rv != APR_SUCCESS) {
        return NULL;
    }
    return ca_json_doc_root(doc);
}

/*
 * Classification of an answer that is not a success (non-2xx, or a 2xx token
 * answer carrying "error").  root is the parsed body or NULL.
 */
static apr_status_t classify(apr_pool_t *p, const ca_provider_t *def,
                             const ca_http_response_t *resp, const ca_json_t *root,
                             const char *what, endpoint_e ep,
                             const char *const *secrets, const char **perr)
{
    const char *code = NULL, *shown;
    int st = resp->status;
    apr_status_t rv;

    if (root != NULL && ca_json_type(root) == CA_JSON_OBJECT) {
        code = ca_json_get_string(root, "error");
    }
    shown = safe_code(code, secrets);
    if (st >= 500 || st == 408 || rate_limit_status(def, st)
        || rate_limit_body(def, root)) {
        rv = CA_OAUTH_ETEMPORARY;
    }
    else if (code && (strcmp(code, "invalid_grant") == 0
                      || strcmp(code, "invalid_client") == 0
                      || strcmp(code, "unauthorized_client") == 0)) {
        rv = CA_OAUTH_EGRANT;
    }
    else if (code && (strcmp(code, "temporarily_unavailable") == 0
                      || strcmp(code, "slow_down") == 0
                      || strcmp(code, "server_error") == 0)) {
        rv = CA_OAUTH_ETEMPORARY;
    }
    else if (st == 401 && ep != EP_IDENTITY && code == NULL) {
        /* RFC 6749 5.2: 401 is the token endpoint's answer to a client whose
         * authentication failed */
        rv = CA_OAUTH_EGRANT;
    }
    else if ((st == 401 || st == 403) && ep == EP_IDENTITY) {
        rv = CA_OAUTH_EGRANT;
    }
    else {
        rv = CA_OAUTH_EREFUSED;
    }
    if (shown) {
        set_err(perr, apr_psprintf(p, "%s answered HTTP %d, error %s", what, st, shown));
    }
    else if (code) {
        set_err(perr, apr_psprintf(p, "%s answered HTTP %d, unrecognized error code",
                                   what, st));
    }
    else {
        set_err(perr, apr_psprintf(p, "%s answered HTTP %d", what, st));
    }
    return rv;
}

/* apr_status_t for a transfer that got no complete answer */
static apr_status_t transport_error(apr_pool_t *p, const ca_http_response_t *resp,
                                    const char *what, const char *herr, const char **perr)
{
    ca_http_result_t r = resp ? resp->result : CA_HTTP_ERR_OTHER;

    set_err(perr, apr_psprintf(p, "%s: %s%s%s", what, ca_http_result_reason(r),
                               herr ? ": " : "", herr ? herr : ""));
    switch (r) {
    case CA_HTTP_ERR_TOO_LARGE:
        return CA_OAUTH_EMALFORMED;
    case CA_HTTP_ERR_INVALID:
        return APR_EINVAL;
    default:
        return CA_OAUTH_ETEMPORARY;
    }
}

/* ---- requests to the token and revocation endpoints -------------------------------- */

/* one value encoded the application/x-www-form-urlencoded way (RFC 6749 2.3.1) */
static const char *form_component(apr_pool_t *p, const char *s)
{
    apr_array_header_t *one;
    ca_http_param_t *pm;

    if (empty(s)) {
        return "";
    }
    one = apr_array_make(p, 1, sizeof(ca_http_param_t));
    pm = apr_array_push(one);
    pm->name = s;             /* a name without value encodes as just the name */
    pm->value = NULL;
    return ca_http_form_encode(p, one, NULL);
}

static void add_param(apr_array_header_t *params, const char *name, const char *value)
{
    ca_http_param_t *pm = apr_array_push(params);

    pm->name = name;
    pm->value = value;
}

typedef struct {
    char *body;
    apr_size_t body_len;
    char *basic;              /* Authorization header value, or NULL */
} token_req_t;

static void wipe_req(token_req_t *tr)
{
    if (tr->body) {
        ca_cleanse(tr->body, tr->body_len);
    }
    if (tr->basic) {
        ca_cleanse(tr->basic, strlen(tr->basic));
    }
}

/*
 * POST params (plus client authentication) to url, encoded per
 * auth.token_request.  *resp is a complete answer on APR_SUCCESS.
 */
static apr_status_t post_form(apr_pool_t *p, const ca_oauth_ctx_t *ctx, const char *url,
                              apr_array_header_t *params, const char *what,
                              ca_http_response_t **resp, const char **perr)
{
    const ca_provider_auth_t *a = &ctx->def->auth;
    const ca_oauth_client_t *cl = ctx->client;
    apr_table_t *headers = apr_table_make(p, 4);
    ca_http_request_t req;
    token_req_t tr;
    const char *herr = NULL;
    apr_status_t rv;
    int i;

    memset(&tr, 0, sizeof(tr));
    if (a->token_auth == CA_TOKEN_AUTH_BODY) {
        add_param(params, "client_id", cl->client_id);
        if (!empty(cl->client_secret)) {
            add_param(params, "client_secret", cl->client_secret);
        }
    }
    else {
        const char *id = form_component(p, cl->client_id);
        const char *sec = form_component(p, cl->client_secret);
        char *pair = apr_pstrcat(p, id, ":", sec, NULL);
        int plen = (int)strlen(pair);
        char *b64 = apr_palloc(p, (apr_size_t)apr_base64_encode_len(plen));

        apr_base64_encode(b64, pair, plen);
        tr.basic = apr_pstrcat(p, "Basic ", b64, NULL);
        ca_cleanse(pair, (apr_size_t)plen);
        ca_cleanse(b64, strlen(b64));
        if (*sec) {
            ca_cleanse((char *)sec, strlen(sec));
        }
        apr_table_setn(headers, "Authorization", tr.basic);
    }
    if (a->token_request == CA_TOKEN_REQUEST_JSON) {
        ca_json_t *obj = ca_json_new_object(p);

        for (i = 0; obj && i < params->nelts; i++) {
            const ca_http_param_t *pm = &APR_ARRAY_IDX(params, i, ca_http_param_t);
            ca_json_add_string(obj, pm->name, pm->value);
        }
        tr.body = obj ? ca_json_print(p, obj) : NULL;
        apr_table_setn(headers, "Content-Type", "application/json");
    }
    else {
        tr.body = ca_http_form_encode(p, params, NULL);
        apr_table_setn(headers, "Content-Type", "application/x-www-form-urlencoded");
    }
    if (tr.body == NULL) {
        wipe_req(&tr);
        set_err(perr, apr_pstrcat(p, what, ": cannot encode the request", NULL));
        return APR_ENOMEM;
    }
    tr.body_len = strlen(tr.body);
    apr_table_setn(headers, "Accept", "application/json");

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.body = tr.body;
    req.body_len = tr.body_len;
    req.options = ctx->http_opts;
    /* never retried: a refresh may already have rotated the token */
    rv = ca_http_perform(ctx->http, &req, p, resp, &herr);
    wipe_req(&tr);
    if (rv != APR_SUCCESS) {
        return transport_error(p, *resp, what, herr, perr);
    }
    return APR_SUCCESS;
}

static apr_status_t check_ctx(const ca_oauth_ctx_t *ctx, int need_http, int need_client,
                              const char **perr)
{
    if (ctx == NULL || ctx->def == NULL) {
        set_err(perr, "no provider definition");
        return APR_EINVAL;
    }
    if (need_http && ctx->http == NULL) {
        set_err(perr, "no HTTP client");
        return APR_EINVAL;
    }
    if (need_client) {
        if (ctx->client == NULL || empty(ctx->client->client_id)) {
            set_err(perr, "no OAuth client id");
            return APR_EINVAL;
        }
        if (has_crlf(ctx->client->client_id)) {
            set_err(perr, "the OAuth client id contains a line break");
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static const char *join_scopes(apr_pool_t *p, const ca_provider_auth_t *a)
{
    apr_array_header_t *parts;
    int i;

    if (a->scopes == NULL || a->scopes->nelts == 0) {
        return NULL;
    }
    parts = apr_array_make(p, a->scopes->nelts * 2, sizeof(const char *));
    for (i = 0; i < a->scopes->nelts; i++) {
        if (i > 0) {
            APR_ARRAY_PUSH(parts, const char *) = a->scope_separator
                                                  ? a->scope_separator : " ";
        }
        APR_ARRAY_PUSH(parts, const char *) = APR_ARRAY_IDX(a->scopes, i, const char *);
    }
    return apr_array_pstrcat(p, parts, '\0');
}

/* ---- token answers ------------------------------------------------------------------- */

static int parse_expires_in(const ca_json_t *n)
{
    double d;

    if (n == NULL) {
        return -1;
    }
    if (ca_json_type(n) == CA_JSON_STRING) {
        /* some providers send "3600" */
        const char *s = ca_json_string(n), *c;
        apr_int64_t v = 0;

        if (empty(s) || strlen(s) > 12) {
            return -1;
        }
        for (c = s; *c; c++) {
            if (!apr_isdigit(*c)) {
                return -1;
            }
            v = v * 10 + (*c - '0');
        }
        return v > MAX_EXPIRES_IN ? MAX_EXPIRES_IN : (int)v;
    }
    if (ca_json_number(n, &d) != APR_SUCCESS || !(d >= 0)) {
        return -1;
    }
    return d > MAX_EXPIRES_IN ? MAX_EXPIRES_IN : (int)d;
}

static const char *parse_scope(apr_pool_t *p, const ca_json_t *n)
{
    const ca_json_t *e;
    apr_array_header_t *parts;

    if (n == NULL) {
        return NULL;
    }
    if (ca_json_type(n) == CA_JSON_STRING) {
        return apr_pstrdup(p, ca_json_string(n));
    }
    if (ca_json_type(n) != CA_JSON_ARRAY) {
        return NULL;
    }
    parts = apr_array_make(p, 8, sizeof(const char *));
    CA_JSON_FOREACH(e, n) {
        const char *s = ca_json_string(e);
        if (s == NULL) {
            return NULL;
        }
        if (parts->nelts > 0) {
            APR_ARRAY_PUSH(parts, const char *) = " ";
        }
        APR_ARRAY_PUSH(parts, const char *) = s;
    }
    return apr_array_pstrcat(p, parts, '\0');
}

static apr_status_t read_token(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                               const ca_http_response_t *resp, apr_int64_t now,
                               const char *const *secrets, ca_oauth_token_t **token,
                               const char **perr)
{
    const char *what = "token endpoint";
    ca_oauth_token_t *t;
    ca_json_t *root, *n;
    const char *s;
    apr_status_t jrv;

    root = parse_body(p, resp, &jrv);
    if (resp->status < 200 || resp->status > 299) {
        return classify(p, ctx->def, resp, root, what, EP_TOKEN, secrets, perr);
    }
    if (root == NULL) {
        set_err(perr, apr_psprintf(p, "%s answered HTTP %d with %s", what, resp->status,
                                   jrv == APR_ENOSPC ? "a body that is too large"
                                                     : "a body that is not JSON"));
        return CA_OAUTH_EMALFORMED;
    }
    if (ca_json_type(root) != CA_JSON_OBJECT) {
        set_err(perr, apr_psprintf(p, "%s answered HTTP %d with JSON that is not an "
                                   "object", what, resp->status));
        return CA_OAUTH_EMALFORMED;
    }
    n = ca_json_get(root, "access_token");
    if (n == NULL && ca_json_get(root, "error") != NULL) {
        /* an error in a 2xx answer */
        return classify(p, ctx->def, resp, root, what, EP_TOKEN, secrets, perr);
    }
    if (n == NULL) {       /* absent, or given twice (ambiguous) */
        set_err(perr, apr_psprintf(p, "%s answered HTTP %d without an access_token",
                                   what, resp->status));
        return CA_OAUTH_EMALFORMED;
    }
    s = ca_json_string(n);
    if (!vschar_only(s)) {
        set_err(perr, apr_psprintf(p, "%s answered HTTP %d with an access_token that is "
                                   "not a non-empty printable string", what, resp->status));
        return CA_OAUTH_EMALFORMED;
    }
    t = apr_pcalloc(p, sizeof(*t));
    t->access_token = apr_pstrdup(p, s);
    n = ca_json_get(root, "refresh_token");
    if (n != NULL && ca_json_type(n) != CA_JSON_NULL) {
        s = ca_json_string(n);
        if (s == NULL || (*s != '\0' && !vschar_only(s))) {
            set_err(perr, apr_psprintf(p, "%s answered HTTP %d with a refresh_token that "
                                       "is not a printable string", what, resp->status));
            return CA_OAUTH_EMALFORMED;
        }
        t->refresh_token = *s ? apr_pstrdup(p, s) : NULL;
    }
    s = ca_json_get_string(root, "token_type");
    t->token_type = s ? apr_pstrdup(p, s) : NULL;
    t->scope = parse_scope(p, ca_json_get(root, "scope"));
    t->expires_in = parse_expires_in(ca_json_get(root, "expires_in"));
    t->expires_at = ca_oauth_expires_at(p, ctx->def, t->access_token, t->expires_in, now);
    *token = t;
    return APR_SUCCESS;
}

static apr_status_t token_request(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                                  apr_array_header_t *params, apr_int64_t now,
                                  const char *const *secrets, ca_oauth_token_t **token,
                                  const char **perr)
{
    ca_http_response_t *resp = NULL;
    apr_status_t rv;

    if (empty(ctx->def->auth.token_url)) {
        set_err(perr, "the provider has no token URL");
        return APR_EINVAL;
    }
    rv = post_form(p, ctx, ctx->def->auth.token_url, params, "token endpoint", &resp, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return read_token(p, ctx, resp, now, secrets, token, perr);
}

static int code_mode(ca_auth_mode_e m)
{
    return m == CA_AUTH_OAUTH2_CODE || m == CA_AUTH_OAUTH2_CODE_PKCE;
}

/* ---- public: OAuth ------------------------------------------------------------------- */

apr_status_t ca_oauth_authorize_url(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                                    const char *redirect_uri, const char *state,
                                    const char *code_challenge, const char **url,
                                    const char **perr)
{
    const ca_provider_auth_t *a;
    apr_array_header_t *params;
    const char *scope, *err = NULL;
    char *u;
    apr_status_t rv;

    *url = NULL;
    if ((rv = check_ctx(ctx, 0, 1, perr)) != APR_SUCCESS) {
        return rv;
    }
    a = &ctx->def->auth;
    if (!code_mode(a->mode) || empty(a->authorize_url)) {
        set_err(perr, "the provider does not use the authorization code flow");
        return APR_EINVAL;
    }
    if (empty(redirect_uri) || empty(state)) {
        set_err(perr, "redirect_uri and state are required");
        return APR_EINVAL;
    }
    params = apr_array_make(p, 8, sizeof(ca_http_param_t));
    add_param(params, "response_type", "code");
    add_param(params, "client_id", ctx->client->client_id);
    add_param(params, "redirect_uri", redirect_uri);
    if ((scope = join_scopes(p, a)) != NULL) {
        add_param(params, "scope", scope);
    }
    add_param(params, "state", state);
    if (a->mode == CA_AUTH_OAUTH2_CODE_PKCE) {
        if (empty(code_challenge) || strlen(code_challenge) != 43
            || !ca_b64url_valid(code_challenge, 43)) {
            set_err(perr, "a PKCE S256 code_challenge (43 base64url characters) is "
                    "required");
            return APR_EINVAL;
        }
        add_param(params, "code_challenge", code_challenge);
        add_param(params, "code_challenge_method", "S256");
    }
    u = ca_http_build_url(p, a->authorize_url, NULL, params, &err);
    if (u == NULL) {
        set_err(perr, apr_pstrcat(p, "cannot build the authorize URL: ", err, NULL));
        return APR_EINVAL;
    }
    *url = u;
    return APR_SUCCESS;
}

apr_status_t ca_oauth_exchange_code(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                                    const char *code, const char *redirect_uri,
                                    const char *code_verifier, apr_int64_t now,
                                    ca_oauth_token_t **token, const char **perr)
{
    apr_array_header_t *params;
    const char *secrets[4];
    apr_status_t rv;
    int pkce;

    *token = NULL;
    if ((rv = check_ctx(ctx, 1, 1, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (!code_mode(ctx->def->auth.mode)) {
        set_err(perr, "the provider does not use the authorization code flow");
        return APR_EINVAL;
    }
    if (empty(code) || empty(redirect_uri)) {
        set_err(perr, "code and redirect_uri are required");
        return APR_EINVAL;
    }
    pkce = ctx->def->auth.mode == CA_AUTH_OAUTH2_CODE_PKCE;
    if (pkce && !ca_pkce_verifier_valid(code_verifier)) {
        set_err(perr, "a valid PKCE code_verifier is required");
        return APR_EINVAL;
    }
    params = apr_array_make(p, 8, sizeof(ca_http_param_t));
    add_param(params, "grant_type", "authorization_code");
    add_param(params, "code", code);
    add_param(params, "redirect_uri", redirect_uri);
    if (pkce) {
        add_param(params, "code_verifier", code_verifier);
    }
    secrets[0] = code;
    secrets[1] = pkce ? code_verifier : "";
    secrets[2] = ctx->client->client_secret ? ctx->client->client_secret : "";
    secrets[3] = NULL;
    return token_request(p, ctx, params, now, secrets, token, perr);
}

apr_status_t ca_oauth_refresh(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                              const char *refresh_token, apr_int64_t now,
                              ca_oauth_token_t **token, const char **perr)
{
    apr_array_header_t *params;
    const char *secrets[3];
    apr_status_t rv;

    *token = NULL;
    if ((rv = check_ctx(ctx, 1, 1, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (!code_mode(ctx->def->auth.mode)) {
        set_err(perr, "the provider has no refresh tokens");
        return APR_EINVAL;
    }
    if (empty(refresh_token)) {
        set_err(perr, "no refresh token");
        return APR_EINVAL;
    }
    params = apr_array_make(p, 4, sizeof(ca_http_param_t));
    add_param(params, "grant_type", "refresh_token");
    add_param(params, "refresh_token", refresh_token);
    secrets[0] = refresh_token;
    secrets[1] = ctx->client->client_secret ? ctx->client->client_secret : "";
    secrets[2] = NULL;
    return token_request(p, ctx, params, now, secrets, token, perr);
}

apr_status_t ca_oauth_client_credentials(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                                         apr_int64_t now, ca_oauth_token_t **token,
                                         const char **perr)
{
    apr_array_header_t *params;
    const char *secrets[2], *scope;
    apr_status_t rv;

    *token = NULL;
    if ((rv = check_ctx(ctx, 1, 1, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (ctx->def->auth.mode != CA_AUTH_CLIENT_CREDENTIALS) {
        set_err(perr, "the provider does not use the client credentials grant");
        return APR_EINVAL;
    }
    params = apr_array_make(p, 4, sizeof(ca_http_param_t));
    add_param(params, "grant_type", "client_credentials");
    if ((scope = join_scopes(p, &ctx->def->auth)) != NULL) {
        add_param(params, "scope", scope);
    }
    secrets[0] = ctx->client->client_secret ? ctx->client->client_secret : "";
    secrets[1] = NULL;
    return token_request(p, ctx, params, now, secrets, token, perr);
}

apr_status_t ca_oauth_revoke(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                             const char *token, const char *hint, const char **perr)
{
    const char *what = "revocation endpoint";
    apr_array_header_t *params;
    ca_http_response_t *resp = NULL;
    const char *secrets[3];
    ca_json_t *root;
    apr_status_t rv, jrv;

    if (ctx == NULL || ctx->def == NULL) {
        set_err(perr, "no provider definition");
        return APR_EINVAL;
    }
    if (ctx->def->auth.mode == CA_AUTH_API_KEY || empty(ctx->def->auth.revoke_url)) {
        set_err(perr, "the provider has no revocation endpoint");
        return APR_ENOTIMPL;
    }
    if ((rv = check_ctx(ctx, 1, 1, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (empty(token)) {
        set_err(perr, "no token to revoke");
        return APR_EINVAL;
    }
    if (hint != NULL && strcmp(hint, "access_token") != 0
        && strcmp(hint, "refresh_token") != 0) {
        set_err(perr, "token_type_hint must be access_token or refresh_token");
        return APR_EINVAL;
    }
    params = apr_array_make(p, 4, sizeof(ca_http_param_t));
    add_param(params, "token", token);
    if (hint != NULL) {
        add_param(params, "token_type_hint", hint);
    }
    rv = post_form(p, ctx, ctx->def->auth.revoke_url, params, what, &resp, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (resp->status >= 200 && resp->status <= 299) {
        return APR_SUCCESS;
    }
    secrets[0] = token;
    secrets[1] = ctx->client->client_secret ? ctx->client->client_secret : "";
    secrets[2] = NULL;
    root = parse_body(p, resp, &jrv);
    return classify(p, ctx->def, resp, root, what, EP_REVOKE, secrets, perr);
}

/* ---- public: identity ---------------------------------------------------------------- */

static apr_status_t expand(apr_pool_t *p, const char *tmpl, apr_table_t *vars, int mode,
                           const char *what, const char **out, const char **perr)
{
    const char *err = NULL;
    apr_status_t rv = ca_provider_expand(p, tmpl, vars, mode, out, &err);

    if (rv != APR_SUCCESS) {
        set_err(perr, apr_psprintf(p, "identity %s: %s", what, err ? err : "bad template"));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* text of the value at path: a string, or an integer as decimal text */
static const char *value_text(apr_pool_t *p, const ca_json_t *root, const char *path)
{
    const ca_json_t *n = ca_json_get(root, path);
    const char *s;

    if (n == NULL) {
        return NULL;
    }
    s = ca_json_id_text(p, n, 1);
    return empty(s) ? NULL : apr_pstrdup(p, s);
}

static apr_status_t identity_templates(apr_pool_t *p, const ca_provider_identity_t *id,
                                       apr_table_t *vars, const char **account_id,
                                       const char **label, const char **perr)
{
    const char *v;

    if (expand(p, id->id_template, vars, CA_EXPAND_RAW, "id_template", &v, perr)
        != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (empty(v)) {
        set_err(perr, "identity id_template gives an empty id");
        return APR_EINVAL;
    }
    *account_id = v;
    if (id->label_template != NULL) {
        if (expand(p, id->label_template, vars, CA_EXPAND_RAW, "label_template", &v,
                   perr) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        if (label) {
            *label = v;
        }
    }
    return APR_SUCCESS;
}

/* GraphQL request body {"query": ..., "variables": {...}} */
static apr_status_t graphql_body(apr_pool_t *p, const ca_provider_call_t *call,
                                 apr_table_t *vars, char **body, const char **perr)
{
    ca_json_t *obj = ca_json_new_object(p), *v;
    int i;

    if (obj == NULL || ca_json_add_string(obj, "query", call->graphql) == NULL
        || (v = ca_json_add_object(obj, "variables")) == NULL) {
        set_err(perr, "identity: cannot build the GraphQL request");
        return APR_ENOMEM;
    }
    for (i = 0; call->variables && i < call->variables->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(call->variables, i, ca_provider_kv_t);
        const char *val;

        if (expand(p, kv->value, vars, CA_EXPAND_RAW, "variables", &val, perr)
            != APR_SUCCESS) {
            return APR_EINVAL;
        }
        ca_json_add_string(v, kv->name, val);
    }
    *body = ca_json_print(p, obj);
    if (*body == NULL) {
        set_err(perr, "identity: cannot build the GraphQL request");
        return APR_ENOMEM;
    }
    return APR_SUCCESS;
}

apr_status_t ca_oauth_identity(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                               apr_table_t *vars, const char *credential,
                               const char **account_id, const char **label,
                               const char **perr)
{
    const char *what = "identity call";
    const ca_provider_t *def;
    const ca_provider_identity_t *id;
    const ca_provider_call_t *call;
    apr_array_header_t *params, *parts;
    apr_table_t *headers;
    ca_http_request_t req;
    ca_http_response_t *resp = NULL;
    const char *path, *url, *herr = NULL, *scheme, *v;
    const char *secrets[3];
    char *body = NULL, *authz;
    ca_json_t *root;
    apr_status_t rv, jrv;
    int i;

    *account_id = NULL;
    if (label) {
        *label = NULL;
    }
    if ((rv = check_ctx(ctx, 0, 0, perr)) != APR_SUCCESS) {
        return rv;
    }
    def = ctx->def;
    id = &def->auth.identity;
    if (vars == NULL) {
        vars = apr_table_make(p, 1);
    }
    if (id->id_template != NULL) {
        return identity_templates(p, id, vars, account_id, label, perr);
    }
    call = id->call;
    if (call == NULL || empty(id->id)) {
        set_err(perr, "the provider has no identity call");
        return APR_EINVAL;
    }
    if (ctx->http == NULL) {
        set_err(perr, "no HTTP client");
        return APR_EINVAL;
    }
    if (!vschar_only(credential)) {
        set_err(perr, "identity: the credential is empty or not printable");
        return APR_EINVAL;
    }

    if (expand(p, call->path ? call->path : "", vars, CA_EXPAND_PATH, "path", &path, perr)
        != APR_SUCCESS) {
        return APR_EINVAL;
    }
    params = apr_array_make(p, 4, sizeof(ca_http_param_t));
    for (i = 0; call->query && i < call->query->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(call->query, i, ca_provider_kv_t);

        if (expand(p, kv->value, vars, CA_EXPAND_RAW, "query", &v, perr) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        add_param(params, kv->name, v);
    }
    url = ca_http_build_url(p, def->api.base_url, path, params, &herr);
    if (url == NULL) {
        set_err(perr, apr_pstrcat(p, "identity: cannot build the URL: ", herr, NULL));
        return APR_EINVAL;
    }
    headers = apr_table_make(p, 8);
    for (i = 0; def->api.headers && i < def->api.headers->nelts; i++) {
        const ca_provider_kv_t *kv = &APR_ARRAY_IDX(def->api.headers, i, ca_provider_kv_t);

        if (expand(p, kv->value, vars, CA_EXPAND_RAW, "header", &v, perr) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        if (has_crlf(v)) {
            set_err(perr, apr_psprintf(p, "identity: value of header %s contains a line "
                                       "break", kv->name));
            return APR_EINVAL;
        }
        apr_table_setn(headers, kv->name, v);
    }
    scheme = def->auth.scheme ? def->auth.scheme : "Bearer";
    authz = *scheme ? apr_pstrcat(p, scheme, " ", credential, NULL)
                    : apr_pstrdup(p, credential);
    apr_table_setn(headers, def->auth.header ? def->auth.header : "Authorization", authz);
    apr_table_setn(headers, "Accept", "application/json");
    if (call->graphql != NULL) {
        if ((rv = graphql_body(p, call, vars, &body, perr)) != APR_SUCCESS) {
            return rv;
        }
        apr_table_setn(headers, "Content-Type", "application/json");
    }

    memset(&req, 0, sizeof(req));
    req.method = call->method ? call->method : (body ? "POST" : "GET");
    req.url = url;
    req.headers = headers;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.options = ctx->http_opts;
    rv = ca_http_perform(ctx->http, &req, p, &resp, &herr);
    ca_cleanse(authz, strlen(authz));
    if (rv != APR_SUCCESS) {
        return transport_error(p, resp, what, herr, perr);
    }
    root = parse_body(p, resp, &jrv);
    secrets[0] = credential;
    secrets[1] = ctx->client && ctx->client->client_secret ? ctx->client->client_secret : "";
    secrets[2] = NULL;
    if (resp->status < 200 || resp->status > 299 || rate_limit_body(def, root)) {
        return classify(p, def, resp, root, what, EP_IDENTITY, secrets, perr);
    }
    if (root == NULL) {
        set_err(perr, apr_psprintf(p, "%s answered HTTP %d with %s", what, resp->status,
                                   jrv == APR_ENOSPC ? "a body that is too large"
                                                     : "a body that is not JSON"));
        return CA_OAUTH_EMALFORMED;
    }
    v = value_text(p, root, id->id);
    if (v == NULL) {
        set_err(perr, apr_psprintf(p, "%s answered HTTP %d without an account id at %s",
                                   what, resp->status, id->id));
        return CA_OAUTH_EMALFORMED;
    }
    *account_id = v;
    if (label && id->label != NULL && id->label->nelts > 0) {
        parts = apr_array_make(p, id->label->nelts * 2, sizeof(const char *));
        for (i = 0; i < id->label->nelts; i++) {
            const char *t = value_text(p, root, APR_ARRAY_IDX(id->label, i, const char *));

            if (t == NULL) {
                continue;
            }
            if (parts->nelts > 0) {
                APR_ARRAY_PUSH(parts, const char *) = " ";
            }
            APR_ARRAY_PUSH(parts, const char *) = t;
        }
        *label = parts->nelts > 0 ? apr_array_pstrcat(p, parts, '\0') : NULL;
    }
    return APR_SUCCESS;
}

/* ---- public: expiry -------------------------------------------------------------------- */

apr_status_t ca_oauth_jwt_exp(apr_pool_t *p, const char *token, apr_int64_t *exp)
{
    const char *dot1, *dot2;
    unsigned char *payload = NULL;
    apr_size_t plen = 0;
    ca_json_t *root;
    const char *err = NULL;
    double d;

    *exp = 0;
    if (empty(token) || strlen(token) > MAX_JWT_LEN
        || (dot1 = strchr(token, '.')) == NULL
        || (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.') != NULL) {
        return APR_NOTFOUND;
    }
    if (ca_b64url_decode(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1), &payload, &plen)
        != APR_SUCCESS || plen == 0 || memchr(payload, '\0', plen) != NULL) {
        return APR_NOTFOUND;
    }
    root = ca_json_parse_str(p, (const char *)payload, &err);
    if (root == NULL || ca_json_type(root) != CA_JSON_OBJECT
        || ca_json_number(ca_json_get(root, "exp"), &d) != APR_SUCCESS
        || !(d > 0) || d > (double)MAX_JWT_EXP) {
        return APR_NOTFOUND;
    }
    *exp = (apr_int64_t)d;
    return APR_SUCCESS;
}

apr_int64_t ca_oauth_expires_at(apr_pool_t *p, const ca_provider_t *def,
                                const char *access_token, int expires_in,
                                apr_int64_t now)
{
    apr_int64_t exp;

    if (def == NULL || def->auth.expiry_source == CA_EXPIRY_NONE) {
        return 0;
    }
    if (def->auth.expiry_source == CA_EXPIRY_JWT_EXP
        && ca_oauth_jwt_exp(p, access_token, &exp) == APR_SUCCESS) {
        return exp;
    }
    if (expires_in >= 0) {
        return now + expires_in;
    }
    if (def->auth.default_expires_in > 0) {
        return now + def->auth.default_expires_in;
    }
    return 0;
}

int ca_oauth_token_expiring(apr_int64_t expires_at, apr_int64_t now, int margin)
{
    if (expires_at == 0) {
        return 0;
    }
    return now >= expires_at - (margin > 0 ? margin : 0);
}

const char *ca_oauth_status_name(apr_status_t rv)
{
    switch (rv) {
    case APR_SUCCESS:
        return "ok";
    case CA_OAUTH_EGRANT:
        return "grant";
    case CA_OAUTH_ETEMPORARY:
        return "temporary";
    case CA_OAUTH_EMALFORMED:
        return "malformed";
    case CA_OAUTH_EREFUSED:
        return "refused";
    case APR_EINVAL:
        return "invalid";
    case APR_ENOTIMPL:
        return "not_implemented";
    default:
        return "error";
    }
}
