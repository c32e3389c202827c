/* mod_clientapi: connecting provider accounts (contract section 5, docs/connect.md).
 *
 * The dashboard handler hands everything below {dashboard}/connections/ of a signed-in session
 * to ca_connect_route(); the OAuth callback is its own handler (SetHandler
 * clientapi-oauth-callback) at CA_CONNECT_CALLBACK_PATH below ClientAPIPublicURL.
 */
#ifndef MOD_CLIENTAPI_CONNECT_H
#define MOD_CLIENTAPI_CONNECT_H

#include "httpd.h"

#include "mod_clientapi.h"
#include "ca_store.h"

/* The OAuth redirect URI is ClientAPIPublicURL (without a trailing '/') followed by this path;
 * bind SetHandler clientapi-oauth-callback to the same path. */
#define CA_CONNECT_CALLBACK_PATH "/oauth/callback"

/* Every outcome of the callback redirects to this page below ClientAPIPublicURL, with
 * "#connections?result=connected|denied|error&reason=<code>[&connection=<id>]". */
#define CA_CONNECT_RESULT_PAGE   "/dashboard.html"

/* How long a started authorization may take (seconds). */
#define CA_CONNECT_STATE_TTL     600

/*
 * The connection routes of the dashboard API, for a signed-in session s; subpath is the URL
 * path below {dashboard}/connections (e.g. "/sandbox/start", "/12/companies"). Answers and
 * returns OK, or returns DECLINED (nothing sent) when subpath is none of these:
 *   POST   /{provider}/start                       OAuth: {"authorize_url": ...}
 *   POST   /{provider}/apikey                      {"api_key"}
 *   POST   /{provider}/credentials                 {"client_id", "client_secret", "tenant"}
 *   POST   /{id}/refresh                           renew the access now (API key: re-check)
 *   DELETE /{id}                                   disconnect (revoke, delete credentials)
 *   GET    /{id}/companies?cursor=                 the provider's companies {id, name}
 *   GET    /{id}/companies/{company}/clients?cursor=
 * The caller has acquired db and checked the CSRF token of state-changing methods; it is
 * checked here again.
 */
int ca_connect_route(request_rec *r, ca_db_t *db, const ca_session_t *s, const char *subpath);

/* Disconnect connection id exactly as DELETE /{id} does (credentials deleted and revoked at
 * the provider, its dashboard endpoints inactive, audit event as session s), without an
 * answer; for account deletion. The caller checked that s may do it. A connection already
 * disconnected is left alone. */
apr_status_t ca_connect_disconnect(request_rec *r, ca_db_t *db, const ca_session_t *s,
                                   apr_int64_t id, const char **err);

/* SetHandler clientapi-oauth-callback. */
int ca_connect_callback_handler(request_rec *r);

#endif /* MOD_CLIENTAPI_CONNECT_H */
