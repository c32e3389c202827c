/*
 * ca_http.h - upstream HTTP client of mod_clientapi (libcurl lives behind this API).
 *
 * Core unit: no httpd headers.  Only ca_http.c includes curl.h; everything here is
 * expressed in APR types so callers never see libcurl.
 *
 * Life cycle
 *   - ca_http_global_init() once per process before any client is created
 *     (httpd: post_config, or child_init), paired with ca_http_global_cleanup().
 *     Both are NOT thread-safe: call them while the process is single-threaded.
 *   - One ca_http_client_t per thread, created in a long-lived pool of that thread
 *     (httpd: e.g. apr_thread_data_get/set on c->current_thread with the thread's
 *     pool).  A client is NOT thread-safe.  It keeps one libcurl easy handle whose
 *     connection cache gives keep-alive reuse to the providers across requests.
 *     The handle is reset and fully re-configured before every transfer, so
 *     per-request options (timeouts, plain-http permission, CA, proxy) are cheap.
 *     After a failed transfer the handle (and its connections) is dropped and a
 *     fresh one is created on the next request.
 *   - fork: connections must not be shared between processes.  The owner should
 *     call ca_http_client_reset() (or destroy + create) in the child.  As a safety
 *     net every transfer checks that it runs in the process that created the handle
 *     (a fork counter kept by a pthread_atfork handler that ca_http_global_init
 *     registers; getpid() when that failed): a handle created in another process is
 *     abandoned (deliberately leaked, never cleaned up, because a cleanup would
 *     send TLS close_notify on the parent's sockets) and a new one is created.
 *
 * Errors
 *   Functions return apr_status_t; *perr (if perr != NULL) receives a human readable,
 *   pool-allocated (or static) message for the admin log.  Messages never contain
 *   request headers, bodies, or query strings, so no tokens or keys.  libcurl's own
 *   error text (host name, port, OS error) may be included.
 *
 * Transfer policy, always applied
 *   https only (http too only when options.allow_plain_http), redirects never
 *   followed (a 3xx is returned as is), TLS peer and host verified (TLS >= 1.2),
 *   connect and total timeouts, response body cap enforced while receiving
 *   (decoded size), total response header cap, proxy only when configured (the
 *   environment's http_proxy/https_proxy are ignored), no "Expect: 100-continue",
 *   "Accept-Encoding: gzip" (the body handed back is decoded; the response headers
 *   are kept as received, so Content-Encoding/Content-Length describe the wire form
 *   and must not be forwarded), no cookies, no netrc, no signals.
 */
#ifndef CA_HTTP_H
#define CA_HTTP_H

#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* apr_status_t for TLS failures (handshake, certificate, CA file).  There is no APR
 * code for these; this one is in the application range of apr_errno.h. */
#define CA_HTTP_ETLS (APR_OS_START_USERERR + 3100)

/* Built-in defaults used for options left at 0 / NULL. */
#define CA_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define CA_HTTP_DEFAULT_TIMEOUT_MS 30000L
#define CA_HTTP_DEFAULT_MAX_RESPONSE_BYTES ((apr_size_t)8 * 1024 * 1024)
#define CA_HTTP_DEFAULT_MAX_HEADER_BYTES ((apr_size_t)64 * 1024)
#define CA_HTTP_DEFAULT_USER_AGENT "mod_clientapi"

/*
 * Classification of a transfer's outcome, so the module can answer the contract's
 * 502/503/504 without knowing libcurl.  apr_status_t values produced for each:
 *   CA_HTTP_OK            APR_SUCCESS (any HTTP status, including 3xx/4xx/5xx)
 *   CA_HTTP_ERR_TIMEOUT   APR_TIMEUP          (connect or total timeout)
 *   CA_HTTP_ERR_CONNECT   APR_ECONNREFUSED    (TCP connect failed)
 *                         APR_EHOSTUNREACH    (DNS resolution of host/proxy failed)
 *   CA_HTTP_ERR_TLS       CA_HTTP_ETLS
 *   CA_HTTP_ERR_TOO_LARGE APR_ENOSPC          (body or header cap hit; transfer aborted)
 *   CA_HTTP_ERR_RESET     APR_EOF             (nothing received / body cut short)
 *                         APR_ECONNRESET      (send or receive error, HTTP/2 stream)
 *   CA_HTTP_ERR_INVALID   APR_EINVAL          (bad URL/method/header, scheme refused:
 *                                              a configuration or caller bug)
 *   CA_HTTP_ERR_OTHER     APR_EGENERAL or APR_ENOMEM
 * Only CA_HTTP_ERR_RESET is worth one retry, and only for idempotent methods
 * (a stale keep-alive connection closed by the provider).
 */
typedef enum {
    CA_HTTP_OK = 0,
    CA_HTTP_ERR_TIMEOUT,
    CA_HTTP_ERR_CONNECT,
    CA_HTTP_ERR_TLS,
    CA_HTTP_ERR_TOO_LARGE,
    CA_HTTP_ERR_RESET,
    CA_HTTP_ERR_INVALID,
    CA_HTTP_ERR_OTHER
} ca_http_result_t;

/* Options of a client (defaults) or of one request.  Fields left 0 / NULL take the
 * built-in defaults above.  Strings must stay valid for the duration of the call that
 * receives them (ca_http_client_create copies them into the client pool). */
typedef struct ca_http_options_t {
    long connect_timeout_ms;
    long timeout_ms;                /* whole transfer, connect included */
    apr_size_t max_response_bytes;  /* decoded body cap */
    apr_size_t max_header_bytes;    /* all response header lines together */
    const char *ca_file;            /* optional CA bundle (PEM) */
    const char *ca_path;            /* optional hashed CA directory */
    const char *user_agent;         /* identifies system and deployment */
    const char *proxy;              /* optional, e.g. "http://proxy:3128" */
    const char *no_proxy;           /* optional host list bypassing proxy */
    int allow_plain_http;           /* only for a base URL marked local sandbox */
} ca_http_options_t;

typedef struct ca_http_client_t ca_http_client_t;

typedef struct ca_http_request_t {
    const char *method;             /* GET POST PUT PATCH DELETE HEAD; NULL = GET */
    const char *url;                /* absolute https:// (or http://) URL */
    const apr_table_t *headers;     /* optional extra request headers */
    const char *body;               /* optional; not allowed with GET/HEAD */
    apr_size_t body_len;
    /* NULL: the client's defaults.  Otherwise these options replace the client's
     * defaults entirely for this request (0/NULL fields -> built-in defaults). */
    const ca_http_options_t *options;
} ca_http_request_t;
/* Request headers: names must be tokens, values free of CR/LF.  Content-Length,
 * Transfer-Encoding and Expect given by the caller are ignored (libcurl computes
 * framing).  With a body and no Content-Type libcurl sends
 * application/x-www-form-urlencoded: set Content-Type for anything else. */

typedef struct ca_http_response_t {
    ca_http_result_t result;
    const char *reason;             /* short public reason for result (static) */
    int status;                     /* HTTP status, 0 when no response arrived */
    apr_table_t *headers;           /* final response's headers, multi-valued kept */
    const char *body;               /* decoded, NUL-terminated, never NULL */
    apr_size_t body_len;
    apr_interval_time_t total_time; /* microseconds */
    int reused;                     /* 1 when an existing connection was reused */
} ca_http_response_t;

/* name/value pair used by the URL/form helpers (value NULL allowed when encoding:
 * "name" without "=") */
typedef struct ca_http_param_t {
    const char *name;
    const char *value;
} ca_http_param_t;

/* ---- process ---------------------------------------------------------------- */

/* curl_global_init plus capability checks (TLS backend, CURLOPT_PROTOCOLS_STR).
 * *perr is a static string. */
apr_status_t ca_http_global_init(const char **perr);
void ca_http_global_cleanup(void);

/* ---- client ------------------------------------------------------------------- */

/* Creates a client in pool (long-lived); a pool cleanup releases it.  defaults may
 * be NULL (all built-in defaults). */
apr_status_t ca_http_client_create(apr_pool_t *pool, const ca_http_options_t *defaults,
                                   ca_http_client_t **client, const char **perr);

/* Drops the handle and its connections; the next request starts fresh (use in a
 * forked child, or to forget connections after a configuration change). */
void ca_http_client_reset(ca_http_client_t *client);

/* Releases the client now (also done by the pool cleanup); client is invalid after. */
void ca_http_client_destroy(ca_http_client_t *client);

/* Number of easy handles this client has created (for tests and diagnostics). */
unsigned ca_http_client_handles_created(const ca_http_client_t *client);

/*
 * Performs one request.  All response memory comes from pool p (request pool).
 * *resp is always set (also on error: result, reason, total_time, maybe status).
 * Returns APR_SUCCESS whenever an HTTP response was received completely, whatever
 * its status; otherwise the apr_status_t of the classification above.
 */
apr_status_t ca_http_perform(ca_http_client_t *client, const ca_http_request_t *req,
                             apr_pool_t *p, ca_http_response_t **resp,
                             const char **perr);

/* ---- classification ------------------------------------------------------------ */

/* THE mapping from a libcurl CURLcode (passed as int) to classification, status and
 * short public reason.  status/reason may be NULL. */
ca_http_result_t ca_http_classify_curl_code(int curl_code, apr_status_t *status,
                                            const char **reason);

/* "ok", "timeout", "connect", "tls", "too_large", "reset", "invalid", "other" */
const char *ca_http_result_name(ca_http_result_t r);
/* short public reason, e.g. "provider did not answer in time" */
const char *ca_http_result_reason(ca_http_result_t r);
/* contract status for an upstream failure: 504 for timeout, 502 otherwise, 0 for ok */
int ca_http_result_http_status(ca_http_result_t r);
/* 1 only for CA_HTTP_ERR_RESET: a caller may retry an idempotent request once */
int ca_http_result_retryable(ca_http_result_t r);

/* ---- URL and form helpers ------------------------------------------------------ */

/* Percent-encodes s for a query component or a path segment: RFC 3986 unreserved
 * (ALPHA DIGIT - . _ ~) kept, every other byte %XX (upper-case hex, space = %20). */
char *ca_http_url_encode(apr_pool_t *p, const char *s);

/* base + "/" + path (exactly one slash between them; path may be NULL/"") and, if
 * params has entries (ca_http_param_t), "?" (or "&" when the URL has a query
 * already) + name=value pairs joined by "&".  Values are encoded with
 * ca_http_url_encode; names too, except that "$" is kept (OData-style "$filter").
 * The path is used as given: encode ids put into it with ca_http_url_encode.
 * Returns NULL with *perr set when base is empty, a name is NULL or empty, or params
 * is not an array of ca_http_param_t; params may be NULL. */
char *ca_http_build_url(apr_pool_t *p, const char *base, const char *path,
                        const apr_array_header_t *params, const char **perr);

/* application/x-www-form-urlencoded body (OAuth token requests): unreserved kept,
 * space as "+", everything else %XX.  Entries with a NULL name are an error
 * (returns NULL). */
char *ca_http_form_encode(apr_pool_t *p, const apr_array_header_t *params,
                          const char **perr);

/* Parses a form body or query string (without the leading "?") of len bytes into an
 * array of ca_http_param_t (pool strings; a pair without "=" gets value "").  Pairs
 * are split on "&", empty pairs skipped; "+" decodes to space.  Refuses bad escapes
 * ("%", "%4", "%zz"), escaped or raw NUL: APR_EINVAL with *perr. */
apr_status_t ca_http_parse_form(apr_pool_t *p, const char *s, apr_size_t len,
                                apr_array_header_t **params, const char **perr);

/* First value of name (case-sensitive) in a ca_http_param_t array, or NULL. */
const char *ca_http_param_get(const apr_array_header_t *params, const char *name);

/* 1 if a (decoded) parameter name is secret: access_token, key, api_key, apikey,
 * token, client_secret, code, refresh_token, password (ASCII case-insensitive), or
 * any name containing "token", "secret" or "password". */
int ca_http_param_is_secret(const char *name);

/* Copy of a raw query string (no leading "?") whose secret parameters' values are
 * replaced by "[redacted]"; names are decoded before the check (so "api%5Fkey" is
 * caught), other pairs are kept byte for byte.  Pairs split exactly as
 * ca_http_parse_form splits them (on "&" only: "a=1;key=x" is one pair named "a"), so
 * a value is redacted whole.  NULL in, NULL out. */
char *ca_http_redact_query(apr_pool_t *p, const char *query);

/* Copy of a URL with its query and fragment redacted as above and the password of
 * any userinfo replaced ("https://user:[redacted]@host/..."). NULL in, NULL out. */
char *ca_http_redact_url(apr_pool_t *p, const char *url);

#ifdef __cplusplus
}
#endif

#endif /* CA_HTTP_H */
