/*
 * ca_oauth.h - the provider-side OAuth 2 / credential client of mod_clientapi.
 *
 * Everything is driven by the provider definition (ca_provider_t, auth.*):
 * mode, authorize/token/revoke URLs, scopes and their separator, client
 * authentication (token_auth basic|body), request encoding (token_request
 * form|json), expiry source (expires_in|jwt_exp|none, default_expires_in),
 * refresh-token rotation and the identity call.  docs/oauth.md describes the
 * behaviour in prose.
 *
 * Core unit: no httpd headers, no logging.  HTTP only through ca_http.h,
 * JSON only through ca_json.h.  Memory comes from the pool passed in.
 *
 * Errors: every function returns an apr_status_t whose value says what the
 * caller should do, and sets *perr (when perr != NULL) to a short message for
 * the admin log.  perr never contains a token, a secret, a code or a verifier,
 * and never the provider's error_description (it may echo what was sent): only
 * the provider's short OAuth `error` code and the HTTP status.
 *
 *   APR_SUCCESS
 *   CA_OAUTH_EGRANT      the grant or the credential is dead: the provider
 *                        answered invalid_grant, invalid_client or
 *                        unauthorized_client (token endpoint, any 4xx), a 401
 *                        without an error code (token endpoint), or 401/403 to
 *                        the identity call.  The connection needs to be
 *                        authorized (connected) again.  invalid_client can also
 *                        mean that the admin's client id/secret is wrong: the
 *                        code in *perr tells the admin.
 *   CA_OAUTH_ETEMPORARY  try again later, keep the connection: 5xx, 429 (or a
 *                        status / body code of the provider's rate_limit), 408,
 *                        temporarily_unavailable / slow_down / server_error,
 *                        timeout, connect or DNS failure, connection reset, TLS
 *                        failure.
 *   CA_OAUTH_EMALFORMED  the provider answered success with something unusable:
 *                        not JSON, not an object, no access_token, identity id
 *                        missing, answer too large.
 *   CA_OAUTH_EREFUSED    any other refusal (invalid_request, invalid_scope,
 *                        unsupported_grant_type, unsupported_token_type, other
 *                        4xx, 3xx): usually a configuration problem; retrying
 *                        the same request will not help, the grant may still be
 *                        alive.
 *   APR_EINVAL           caller or configuration bug: missing argument, wrong
 *                        auth mode for the operation, no token URL, a
 *                        placeholder without a value, a URL ca_http refuses.
 *   APR_ENOTIMPL         ca_oauth_revoke for a provider without revoke_url.
 *   APR_ENOMEM           a request could not be built.
 */
#ifndef CA_OAUTH_H
#define CA_OAUTH_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_errno.h>

#include "ca_http.h"
#include "ca_provider.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CA_OAUTH_EGRANT      (APR_OS_START_USERERR + 3300)
#define CA_OAUTH_ETEMPORARY  (APR_OS_START_USERERR + 3301)
#define CA_OAUTH_EMALFORMED  (APR_OS_START_USERERR + 3302)
#define CA_OAUTH_EREFUSED    (APR_OS_START_USERERR + 3303)

/* Largest token/identity answer parsed (bytes); larger: CA_OAUTH_EMALFORMED. */
#define CA_OAUTH_MAX_RESPONSE  (256 * 1024)

/* Refresh this many seconds before expires_at (see ca_oauth_token_expiring). */
#define CA_OAUTH_DEFAULT_MARGIN 60

/* OAuth client credentials: the admin's (ClientAPIProviderClient), or those the
 * user pasted when connecting (auth.credentials_at_connect, client_credentials
 * providers such as ServiceTitan; a tenant and other connect fields are
 * placeholders, passed as vars to ca_oauth_identity). */
typedef struct {
    const char *client_id;         /* required for every OAuth operation */
    const char *client_secret;     /* NULL or "" for a public client */
} ca_oauth_client_t;

/* What every call needs.  The caller owns all of it. */
typedef struct {
    const ca_provider_t *def;          /* provider definition (required) */
    const ca_oauth_client_t *client;   /* required except for identity */
    ca_http_client_t *http;            /* required except for authorize_url */
    /* per-request options (timeouts, user agent, CA file, allow_plain_http
     * for a local_sandbox provider); NULL: the http client's defaults */
    const ca_http_options_t *http_opts;
} ca_oauth_ctx_t;

/* A token endpoint's answer.  All strings are in the pool given to the call. */
typedef struct {
    const char *access_token;      /* never NULL on success */
    /* NULL: the answer had none, so the stored refresh token is unchanged (keep
     * the old one).  A rotating provider (auth.refresh_rotates) returns a new
     * one on every refresh: store it before using the access token. */
    const char *refresh_token;
    const char *token_type;        /* as answered ("Bearer"), NULL if absent */
    const char *scope;             /* granted scopes as answered, NULL if absent */
    apr_int64_t expires_at;        /* epoch seconds, 0 = unknown / never */
    int expires_in;                /* seconds as answered, -1 if absent */
} ca_oauth_token_t;

/*
 * Authorization request URL (RFC 6749 4.1.1): authorize_url + response_type=code,
 * client_id, redirect_uri, scope (auth.scopes joined with auth.scope_separator,
 * omitted when there are none), state, and for mode oauth2_code_pkce
 * code_challenge + code_challenge_method=S256.  Values are percent-encoded.
 * state is required (non-empty).  code_challenge is required (43 base64url
 * characters, ca_pkce_challenge_s256) for oauth2_code_pkce and ignored for
 * oauth2_code, so a caller may always make a PKCE pair: the definition decides.
 * Only ctx->def and ctx->client are used.  APR_EINVAL for other modes.
 */
apr_status_t ca_oauth_authorize_url(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                                    const char *redirect_uri, const char *state,
                                    const char *code_challenge, const char **url,
                                    const char **perr);

/*
 * Authorization code grant (RFC 6749 4.1.3): grant_type=authorization_code,
 * code, redirect_uri (identical to the authorize request's), and for
 * oauth2_code_pkce code_verifier (required; ignored for oauth2_code).
 * now: epoch seconds, the base of expires_at.
 */
apr_status_t ca_oauth_exchange_code(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                                    const char *code, const char *redirect_uri,
                                    const char *code_verifier, apr_int64_t now,
                                    ca_oauth_token_t **token, const char **perr);

/*
 * Refresh (RFC 6749 6): grant_type=refresh_token, refresh_token.  For a
 * rotating provider the presented refresh token is retired by the provider as
 * soon as it answers: store (*token)->refresh_token before anything else.
 * Modes oauth2_code*.
 */
apr_status_t ca_oauth_refresh(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                              const char *refresh_token, apr_int64_t now,
                              ca_oauth_token_t **token, const char **perr);

/*
 * Client credentials grant (RFC 6749 4.4): grant_type=client_credentials and
 * scope when auth.scopes is not empty.  Mode client_credentials only.
 */
apr_status_t ca_oauth_client_credentials(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                                         apr_int64_t now, ca_oauth_token_t **token,
                                         const char **perr);

/*
 * Token revocation (RFC 7009): POST revoke_url with token and token_type_hint
 * (hint may be NULL; else "access_token" or "refresh_token"), client
 * authentication as for the token endpoint, encoding per auth.token_request.
 * Any 2xx is success (RFC 7009: also for unknown tokens).  APR_ENOTIMPL when
 * the provider has no revoke_url (or is api_key).
 */
apr_status_t ca_oauth_revoke(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                             const char *token, const char *hint,
                             const char **perr);

/*
 * Who is connected: auth.identity of the definition.
 *   - id_template / label_template: expanded with vars, no HTTP call,
 *     credential unused (may be NULL).
 *   - a call: method, path and query (REST), or a POST of
 *     {"query": graphql, "variables": {...}} (GraphQL), to api.base_url, with
 *     credential (access token or API key) in auth.header / auth.scheme, the
 *     api.headers, Accept: application/json.  vars fill the placeholders
 *     (connect fields, config params).  A 2xx JSON answer gives *account_id
 *     (string, or integer as decimal text) at identity.id and *label from
 *     identity.label (paths joined with a space, missing ones skipped; NULL if
 *     none).  For api_key this is also the key's validation.
 * ctx->client may be NULL (when set, its secret is also kept out of perr).
 * label may be NULL.
 */
apr_status_t ca_oauth_identity(apr_pool_t *p, const ca_oauth_ctx_t *ctx,
                               apr_table_t *vars, const char *credential,
                               const char **account_id, const char **label,
                               const char **perr);

/*
 * expires_at of an access token according to the definition, given the
 * answer's expires_in (-1 if absent) and the access token itself:
 *   expires_in: now + expires_in, else now + default_expires_in, else 0;
 *   jwt_exp:    the token's JWT "exp" claim (see ca_oauth_jwt_exp), else as
 *               expires_in;
 *   none:       0.
 */
apr_int64_t ca_oauth_expires_at(apr_pool_t *p, const ca_provider_t *def,
                                const char *access_token, int expires_in,
                                apr_int64_t now);

/*
 * The "exp" claim of a JWS compact JWT (header.payload.signature), read from
 * the base64url payload WITHOUT verifying the signature.  It is only a hint of
 * when to refresh: the token came straight from the provider's token endpoint
 * over TLS, nothing is authorized from it, and a wrong value only moves the
 * refresh earlier or makes the provider answer 401 (then the caller refreshes).
 * APR_SUCCESS with *exp (epoch seconds, fraction dropped) or APR_NOTFOUND (not
 * a JWT, no numeric exp, exp out of range).
 */
apr_status_t ca_oauth_jwt_exp(apr_pool_t *p, const char *token, apr_int64_t *exp);

/* 1 when a token with this expires_at should be refreshed now: expires_at is
 * known (non-zero) and now >= expires_at - margin.  0 otherwise. */
int ca_oauth_token_expiring(apr_int64_t expires_at, apr_int64_t now, int margin);

/* "grant", "temporary", "malformed", "refused", "invalid", "not_implemented",
 * "ok" or "error" for other statuses: a short name for logs. */
const char *ca_oauth_status_name(apr_status_t rv);

#ifdef __cplusplus
}
#endif

#endif /* CA_OAUTH_H */
