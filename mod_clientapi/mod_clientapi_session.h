/* mod_clientapi: dashboard sessions, CSRF protection and the small web helpers shared by the
 * handlers that browsers talk to (dashboard JSON API, contact form, OAuth callback).
 *
 * Session cookie `ca_session`: 32 random bytes (base64url), HttpOnly, SameSite=Lax, Path=/,
 * Secure when the request came over TLS. The database keeps only its SHA-256 (hex) in
 * sessions.id_hash. A new id is issued at every login (session fixation), and the row is
 * deleted at logout.
 *
 * CSRF token: 32 random bytes in the cookie `ca_csrf` (readable by the page's script, not
 * HttpOnly, SameSite=Strict), its SHA-256 in sessions.csrf_token_hash. Every state-changing
 * request (POST, PUT, PATCH, DELETE) of a signed-in session sends it back in the
 * X-CSRF-Token header; the header must equal the cookie (double submit) and hash to the
 * session's stored value (bound to the session), compared in constant time.
 *
 * Lifetime: a session ends after CA_SESSION_IDLE_SEC without requests, and in any case
 * CA_SESSION_ABSOLUTE_SEC after login. sessions.expires_at holds the earlier of the two and
 * is moved forward (with last_seen_at) at most once per CA_SESSION_TOUCH_SEC, so an idle
 * session may end up to that much earlier than the idle timeout.
 */
#ifndef MOD_CLIENTAPI_SESSION_H
#define MOD_CLIENTAPI_SESSION_H

#include "httpd.h"
#include "apr_tables.h"

#include "mod_clientapi.h"
#include "ca_store.h"

#define CA_SESSION_COOKIE        "ca_session"
#define CA_CSRF_COOKIE           "ca_csrf"
#define CA_CSRF_HEADER           "X-CSRF-Token"
#define CA_SESSION_TOKEN_BYTES   32            /* random bytes of session id and CSRF token */
#define CA_SESSION_IDLE_SEC      (30 * 60)     /* idle timeout */
#define CA_SESSION_ABSOLUTE_SEC  (12 * 60 * 60) /* absolute lifetime */
#define CA_SESSION_TOUCH_SEC     60            /* last_seen_at written at most this often */

/* What the answering helpers below return once an answer (data or problem) was written; a
 * handler turns it into OK for httpd. Anything else (OK) means "go on". */
#define CA_WEB_ANSWERED          (-2)

/* Largest request body the browser-facing handlers read (dashboard API, contact form). */
#define CA_WEB_MAX_BODY          (64 * 1024)

/* Handlers (SetHandler clientapi-dashboard / clientapi-contact). */
int ca_dashboard_handler(request_rec *r);
int ca_contact_handler(request_rec *r);

/* ---- sessions ----------------------------------------------------------------------- */

/* The request's signed-in session: APR_SUCCESS with *s (user id, email and role joined),
 * CA_DB_ENOTFOUND when there is none (no cookie, unknown, expired by either timeout, or the
 * account is disabled: such rows are deleted), or a database error (*perr). A valid session
 * is touched (last_seen_at, sliding expires_at) when its last touch is older than
 * CA_SESSION_TOUCH_SEC. */
apr_status_t ca_session_load(request_rec *r, ca_db_t *db, apr_int64_t now, ca_session_t **s,
                             const char **perr);

/* Sign user_id in: a new session row (random id and CSRF token, the request's address and
 * User-Agent), both cookies set on the answer, and the session the request came with (if
 * any) deleted, so the id changes at every login. */
apr_status_t ca_session_start(request_rec *r, ca_db_t *db, apr_int64_t user_id,
                              apr_int64_t now, const char **perr);

/* Sign out: deletes the session of the request's cookie (if any) and clears both cookies. */
apr_status_t ca_session_end(request_rec *r, ca_db_t *db, const char **perr);

/* Set-Cookie headers that clear both cookies. */
void ca_session_clear_cookies(request_rec *r);

/* 1 when the request carries the session's CSRF token in X-CSRF-Token, equal to the
 * ca_csrf cookie and to the session's stored hash (constant-time compares); else 0. */
int ca_session_csrf_ok(request_rec *r, const ca_session_t *s);

/* 1 for POST, PUT, PATCH, DELETE (the methods that need the CSRF token). */
int ca_web_state_changing(const request_rec *r);

/* 1 when the session's user is an admin. */
int ca_session_is_admin(const ca_session_t *s);

/* ---- web helpers -------------------------------------------------------------------- */

/* Value of the first cookie `name` in the request's Cookie headers, or NULL. */
const char *ca_web_cookie(request_rec *r, const char *name);

/* 1 when the request came over TLS (cookies get Secure). */
int ca_web_is_tls(request_rec *r);

/* The request's time in unix seconds. */
apr_int64_t ca_web_now(const request_rec *r);

/* The path below the handler's <Location> ("/" for the location itself), or NULL when the
 * URL as sent holds dot segments ("/./", "/../", also %-encoded). */
const char *ca_web_path_below(request_rec *r);

/* The Content-Type's media type, lower-cased, without parameters ("" when absent). */
const char *ca_web_media_type(request_rec *r);

/* Read the request body (Content-Length or chunked) into a NUL-terminated pool buffer.
 * APR_SUCCESS; APR_ENOSPC when it is larger than max (the connection is then closed after
 * the answer instead of reading the rest); APR_EGENERAL when it cannot be read. */
apr_status_t ca_web_read_body(request_rec *r, apr_size_t max, char **body, apr_size_t *len);

/* Headers every answer of these handlers carries: no caching, nosniff, no framing, a CSP
 * that allows nothing (JSON is never rendered) and no referrer. */
void ca_web_security_headers(request_rec *r);

/* A JSON answer (application/json; '<', '>' and '&' inside strings are written as \u
 * escapes so that the text can never be read as HTML). Returns CA_WEB_ANSWERED. */
int ca_web_json(request_rec *r, int status, const char *json);

/* An RFC 9457 problem+json answer (ca_problem) with the security headers.
 * Returns CA_WEB_ANSWERED. */
int ca_web_problem(request_rec *r, int status, const char *code, const char *detail);

/* A database failure of a browser-facing handler: logged with `what`, the driver's message
 * and the request id; answered 503 storage_unavailable when the database is unavailable,
 * else 500 internal_error quoting the request id. Returns CA_WEB_ANSWERED. */
int ca_web_db_fail(request_rec *r, apr_status_t rv, const char *what, const char *err);

/* 429 rate_limited with Retry-After: retry_after seconds (at least 1).
 * Returns CA_WEB_ANSWERED. */
int ca_web_rate_limited(request_rec *r, apr_int64_t retry_after, const char *detail);

/* ---- input checks ------------------------------------------------------------------- */


/* 1 when s has no control characters (C0, DEL, C1); with allow_newlines, LF is allowed
 * (and CR directly before LF). */
int ca_web_no_controls(const char *s, int allow_newlines);

#endif /* MOD_CLIENTAPI_SESSION_H */
