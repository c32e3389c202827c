/* mod_clientapi: dashboard sessions, CSRF protection and web helpers (see
 * mod_clientapi_session.h). Session ids and CSRF tokens are never logged: messages name the
 * user id at most.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "mod_clientapi.h"
#include "mod_clientapi_session.h"
#include "ca_json.h"
#include "ca_crypto.h"

#define TOKEN_LEN 43    /* base64url of CA_SESSION_TOKEN_BYTES (32) */
#define UA_MAX 512

/* ---- web helpers -------------------------------------------------------------------- */

typedef struct {
    const char *name;
    apr_size_t nlen;
    const char *value;
    apr_pool_t *pool;
} cookie_find_t;

/* One Cookie header: "a=1; b=2". Stops at the first match. */
static int cookie_scan(void *data, const char *key, const char *val)
{
    cookie_find_t *f = data;
    const char *s = val;

    while (s && *s) {
        const char *end, *eq;
        apr_size_t n;

        while (*s == ' ' || *s == '\t' || *s == ';') {
            s++;
        }
        end = strchr(s, ';');
        n = end ? (apr_size_t)(end - s) : strlen(s);
        eq = memchr(s, '=', n);
        if (eq && (apr_size_t)(eq - s) == f->nlen && !memcmp(s, f->name, f->nlen)) {
            const char *v = eq + 1;
            apr_size_t vlen = n - f->nlen - 1;
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
                vlen--;
            }
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            f->value = apr_pstrmemdup(f->pool, v, vlen);
            return 0;
        }
        s = end;
    }
    return 1;
}

const char *ca_web_cookie(request_rec *r, const char *name)
{
    cookie_find_t f;

    f.name = name;
    f.nlen = strlen(name);
    f.value = NULL;
    f.pool = r->pool;
    apr_table_do(cookie_scan, &f, r->headers_in, "Cookie", NULL);
    return f.value;
}

int ca_web_is_tls(request_rec *r)
{
    const char *scheme = ap_http_scheme(r);

    return scheme && !strcasecmp(scheme, "https");
}

apr_int64_t ca_web_now(const request_rec *r)
{
    return apr_time_sec(r->request_time ? r->request_time : apr_time_now());
}

static int has_dot_segment(const char *raw)
{
    const char *s;

    if (ap_strcasestr(raw, "%2e")) {
        return 1;
    }
    for (s = raw; (s = strstr(s, "/.")); s++) {
        if (s[2] == '/' || s[2] == '\0' || (s[2] == '.' && (s[3] == '/' || s[3] == '\0'))) {
            return 1;
        }
    }
    return 0;
}

const char *ca_web_path_below(request_rec *r)
{
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
    const char *loc = (cd && cd->d && *cd->d == '/' && !cd->d_is_fnmatch) ? cd->d : "/";
    char *raw = apr_pstrdup(r->pool, r->unparsed_uri ? r->unparsed_uri : "");
    size_t n = strlen(loc);

    raw[strcspn(raw, "?#")] = '\0';
    if (has_dot_segment(raw)) {
        return NULL;
    }
    while (n && loc[n - 1] == '/') {
        n--;
    }
    if (strncmp(r->uri, loc, n) || (r->uri[n] && r->uri[n] != '/')) {
        return NULL;
    }
    return r->uri[n] ? r->uri + n : "/";
}

const char *ca_web_media_type(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    char *t, *p;

    if (!ct) {
        return "";
    }
    t = apr_pstrdup(r->pool, ct);
    t[strcspn(t, ";")] = '\0';
    while (*t == ' ' || *t == '\t') {
        t++;
    }
    for (p = t + strlen(t); p > t && (p[-1] == ' ' || p[-1] == '\t'); p--) {
        p[-1] = '\0';
    }
    ap_str_tolower(t);
    return t;
}

apr_status_t ca_web_read_body(request_rec *r, apr_size_t max, char **body, apr_size_t *len)
{
    apr_size_t size = 0, cap = 4096;
    char *buf;
    long n;

    *body = NULL;
    *len = 0;
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return APR_EGENERAL;
    }
    if (r->remaining > (apr_off_t)max) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return APR_ENOSPC;
    }
    buf = apr_palloc(r->pool, cap + 1);
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + size, cap - size)) > 0) {
            size += (apr_size_t)n;
            if (size > max) {
                r->connection->keepalive = AP_CONN_CLOSE;
                return APR_ENOSPC;
            }
            if (size == cap) {
                char *bigger = apr_palloc(r->pool, cap * 2 + 1);
                memcpy(bigger, buf, size);
                buf = bigger;
                cap *= 2;
            }
        }
        if (n < 0) {
            r->connection->keepalive = AP_CONN_CLOSE;
            return APR_EGENERAL;
        }
    }
    buf[size] = '\0';
    *body = buf;
    *len = size;
    return APR_SUCCESS;
}

void ca_web_security_headers(request_rec *r)
{
    apr_table_t *h = r->err_headers_out;

    apr_table_setn(h, "Cache-Control", "no-store");
    apr_table_setn(h, "X-Content-Type-Options", "nosniff");
    apr_table_setn(h, "X-Frame-Options", "DENY");
    apr_table_setn(h, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    apr_table_setn(h, "Referrer-Policy", "no-referrer");
}

/* '<', '>' and '&' only occur inside strings in JSON text: write them as \u escapes. */
static const char *html_safe(apr_pool_t *p, const char *json)
{
    apr_size_t extra = 0, i, j;
    const char *s;
    char *out;

    for (s = json; *s; s++) {
        if (*s == '<' || *s == '>' || *s == '&') {
            extra += 5;
        }
    }
    if (!extra) {
        return json;
    }
    out = apr_palloc(p, strlen(json) + extra + 1);
    for (i = 0, j = 0; json[i]; i++) {
        if (json[i] == '<' || json[i] == '>' || json[i] == '&') {
            memcpy(out + j, json[i] == '<' ? "\\u003c" : json[i] == '>' ? "\\u003e"
                            : "\\u0026", 6);
            j += 6;
        }
        else {
            out[j++] = json[i];
        }
    }
    out[j] = '\0';
    return out;
}

int ca_web_json(request_rec *r, int status, const char *json)
{
    const char *body = html_safe(r->pool, json ? json : "{}");
    apr_size_t len = strlen(body);

    ca_request_id(r);
    ca_web_security_headers(r);
    r->status = status;
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return CA_WEB_ANSWERED;
}

int ca_web_problem(request_rec *r, int status, const char *code, const char *detail)
{
    ca_web_security_headers(r);
    ca_problem(r, status, code, detail);
    return CA_WEB_ANSWERED;
}

int ca_web_rate_limited(request_rec *r, apr_int64_t retry_after, const char *detail)
{
    apr_table_setn(r->err_headers_out, "Retry-After",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                retry_after < 1 ? (apr_int64_t)1 : retry_after));
    return ca_web_problem(r, HTTP_TOO_MANY_REQUESTS, "rate_limited", detail);
}

/* ---- input checks ------------------------------------------------------------------- */

int ca_web_no_controls(const char *s, int allow_newlines)
{
    const unsigned char *p = (const unsigned char *)s;

    for (; *p; p++) {
        if (*p == '\n' && allow_newlines) {
            continue;
        }
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
        /* C1 controls U+0080..U+009F are C2 80..C2 9F in UTF-8 */
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            return 0;
        }
    }
    return 1;
}

/* ---- sessions ----------------------------------------------------------------------- */

int ca_web_state_changing(const request_rec *r)
{
    return r->method_number == M_POST || r->method_number == M_PUT
           || r->method_number == M_PATCH || r->method_number == M_DELETE;
}

int ca_session_is_admin(const ca_session_t *s)
{
    return s && s->role && !strcmp(s->role, "admin");
}

/* A cookie value that can be one of our tokens: 43 base64url characters. */
static int token_shaped(const char *t)
{
    return t && strlen(t) == TOKEN_LEN && ca_b64url_valid(t, TOKEN_LEN);
}

static apr_int64_t session_expiry(apr_int64_t created, apr_int64_t now)
{
    apr_int64_t idle = now + CA_SESSION_IDLE_SEC;
    apr_int64_t abs_end = created + CA_SESSION_ABSOLUTE_SEC;

    return idle < abs_end ? idle : abs_end;
}

apr_status_t ca_session_load(request_rec *r, ca_db_t *db, apr_int64_t now, ca_session_t **s,
                             const char **perr)
{
    const char *tok = ca_web_cookie(r, CA_SESSION_COOKIE);
    const char *hash, *err = NULL;
    ca_session_t *row;
    apr_status_t rv;

    *s = NULL;
    if (!token_shaped(tok)) {
        return CA_DB_ENOTFOUND;
    }
    if (!(hash = ca_sha256_hex(r->pool, tok, TOKEN_LEN))) {
        if (perr) {
            *perr = "SHA-256 failed";
        }
        return APR_EGENERAL;
    }
    rv = ca_store_session_get(r->pool, db, hash, now, &row, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (row->user_disabled_at || now >= row->last_seen_at + CA_SESSION_IDLE_SEC
        || now >= row->created_at + CA_SESSION_ABSOLUTE_SEC) {
        if (ca_store_session_delete(r->pool, db, hash, &err) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(00501)
                          "ending an expired session of user %" APR_INT64_T_FMT
                          " failed: %s", row->user_id, err ? err : "");
        }
        return CA_DB_ENOTFOUND;
    }
    if (now - row->last_seen_at >= CA_SESSION_TOUCH_SEC) {
        apr_int64_t exp = session_expiry(row->created_at, now);
        if (ca_store_session_touch(r->pool, db, hash, now, exp, &err) == APR_SUCCESS) {
            row->last_seen_at = now;
            row->expires_at = exp;
        }
        else {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, CA_LOGNO(00502)
                          "session of user %" APR_INT64_T_FMT " not touched: %s",
                          row->user_id, err ? err : "");
        }
    }
    *s = row;
    return APR_SUCCESS;
}

static const char *cookie_line(request_rec *r, const char *name, const char *value,
                               const char *attrs)
{
    return apr_pstrcat(r->pool, name, "=", value, "; Path=/", attrs,
                       ca_web_is_tls(r) ? "; Secure" : "", NULL);
}

apr_status_t ca_session_start(request_rec *r, ca_db_t *db, apr_int64_t user_id,
                              apr_int64_t now, const char **perr)
{
    const char *old = ca_web_cookie(r, CA_SESSION_COOKIE);
    const char *ua = apr_table_get(r->headers_in, "User-Agent");
    char *sid = ca_random_token(r->pool, CA_SESSION_TOKEN_BYTES);
    char *csrf = ca_random_token(r->pool, CA_SESSION_TOKEN_BYTES);
    ca_session_t row;
    apr_status_t rv;

    if (!sid || !csrf) {
        if (perr) {
            *perr = "no random bytes for a session id";
        }
        return APR_EGENERAL;
    }
    memset(&row, 0, sizeof(row));
    row.id_hash = ca_sha256_hex(r->pool, sid, strlen(sid));
    row.csrf_token_hash = ca_sha256_hex(r->pool, csrf, strlen(csrf));
    if (!row.id_hash || !row.csrf_token_hash) {
        if (perr) {
            *perr = "SHA-256 failed";
        }
        return APR_EGENERAL;
    }
    row.user_id = user_id;
    row.created_at = now;
    row.last_seen_at = now;
    row.expires_at = session_expiry(now, now);
    row.ip = r->useragent_ip;
    if (ua && strlen(ua) > UA_MAX) {
        ua = apr_pstrndup(r->pool, ua, UA_MAX);
    }
    row.user_agent = ua && ca_utf8_chars(ua, strlen(ua)) >= 0 ? ua : NULL;
    if (token_shaped(old)) {
        /* rotation: the id a browser had before signing in never stays valid */
        const char *oh = ca_sha256_hex(r->pool, old, TOKEN_LEN);
        if (oh && (rv = ca_store_session_delete(r->pool, db, oh, perr)) != APR_SUCCESS) {
            return rv;
        }
    }
    if ((rv = ca_store_session_insert(r->pool, db, &row, perr)) != APR_SUCCESS) {
        return rv;
    }
    apr_table_add(r->err_headers_out, "Set-Cookie",
                  cookie_line(r, CA_SESSION_COOKIE, sid, "; HttpOnly; SameSite=Lax"));
    apr_table_add(r->err_headers_out, "Set-Cookie",
                  cookie_line(r, CA_CSRF_COOKIE, csrf, "; SameSite=Strict"));
    ca_cleanse(sid, strlen(sid));
    return APR_SUCCESS;
}

void ca_session_clear_cookies(request_rec *r)
{
    apr_table_add(r->err_headers_out, "Set-Cookie",
                  cookie_line(r, CA_SESSION_COOKIE, "", "; Max-Age=0; HttpOnly; SameSite=Lax"));
    apr_table_add(r->err_headers_out, "Set-Cookie",
                  cookie_line(r, CA_CSRF_COOKIE, "", "; Max-Age=0; SameSite=Strict"));
}

apr_status_t ca_session_end(request_rec *r, ca_db_t *db, const char **perr)
{
    const char *tok = ca_web_cookie(r, CA_SESSION_COOKIE);
    apr_status_t rv = APR_SUCCESS;

    if (token_shaped(tok)) {
        const char *hash = ca_sha256_hex(r->pool, tok, TOKEN_LEN);
        rv = hash ? ca_store_session_delete(r->pool, db, hash, perr) : APR_EGENERAL;
    }
    ca_session_clear_cookies(r);
    return rv;
}

int ca_session_csrf_ok(request_rec *r, const ca_session_t *s)
{
    const char *hdr = apr_table_get(r->headers_in, CA_CSRF_HEADER);
    const char *ck = ca_web_cookie(r, CA_CSRF_COOKIE);
    const char *h;
    int same, bound;

    if (!s || !s->csrf_token_hash || !token_shaped(hdr) || !ck) {
        return 0;
    }
    same = ca_ct_equal(hdr, strlen(hdr), ck, strlen(ck));
    h = ca_sha256_hex(r->pool, hdr, strlen(hdr));
    bound = h && ca_ct_equal(h, strlen(h), s->csrf_token_hash, strlen(s->csrf_token_hash));
    return same & bound;
}

int ca_web_db_fail(request_rec *r, apr_status_t rv, const char *what, const char *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00520)
                  "%s: %s failed (request %s): %s", r->handler ? r->handler : "clientapi",
                  what, ca_request_id(r), err ? err : "database error");
    if (CA_DB_IS_UNAVAILABLE(rv)) {
        return ca_web_problem(r, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                              "the database is unavailable; try again shortly");
    }
    return ca_web_problem(r, HTTP_INTERNAL_SERVER_ERROR, "internal_error",
                          apr_psprintf(r->pool, "the request failed on the server; quote "
                                       "request id %s when you report it",
                                       ca_request_id(r)));
}
