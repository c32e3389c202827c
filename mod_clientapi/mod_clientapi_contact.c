/* mod_clientapi: the public contact form (SetHandler clientapi-contact), contract section 5.
 *
 * POST only, either
 *  - application/x-www-form-urlencoded from the HTML form (htdocs/contact.html): answered
 *    303 See Other to CA_CONTACT_THANKS_PATH once the message is stored, or to
 *    CA_CONTACT_ERROR_PATH?reason=CODE otherwise (same host, fixed paths; nothing the
 *    sender typed is put into the URL);
 *  - application/json: answered 201 {"status": "received", "request_id": ...} once stored,
 *    or problem+json.
 * Fields: name (1..200 characters), email (an address, at most 254 bytes), company
 * (optional, at most 200 characters), message (1..5000 characters); valid UTF-8, no control
 * characters (the message may hold line breaks; CR LF is stored as LF). Unknown or repeated
 * fields are refused. At most CA_CONTACT_MAX_PER_IP messages per address within
 * CA_CONTACT_WINDOW_SEC are stored (counted in the database, so across processes and
 * nodes); more are answered 429 rate_limited. The sender is thanked only after the row is
 * stored: with the database down the answer is 503 storage_unavailable (the form's error
 * page says the message was not sent).
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "mod_clientapi.h"
#include "mod_clientapi_session.h"
#include "ca_password.h"
#include "ca_http.h"
#include "ca_json.h"
#include "ca_store.h"

#define CA_CONTACT_THANKS_PATH  "/thanks.html"
#define CA_CONTACT_ERROR_PATH   "/contact-error.html"
#define CA_CONTACT_MAX_PER_IP   5            /* messages stored per address ... */
#define CA_CONTACT_WINDOW_SEC   3600         /* ... within this window */
#define CA_CONTACT_MAX_NAME     200          /* characters */
#define CA_CONTACT_MAX_COMPANY  200
#define CA_CONTACT_MAX_MESSAGE  5000
#define CA_CONTACT_MAX_EMAIL    254          /* bytes */

typedef struct {
    request_rec *r;
    int form;                   /* 1: HTML form (answers are redirects) */
    const char *fields[4];      /* name, email, company, message as sent */
} contact_t;

static const char *const field_names[] = { "name", "email", "company", "message", NULL };

/* An error: a redirect to the error page for the form, problem+json otherwise. */
static int refuse(contact_t *c, int status, const char *code, const char *reason,
                  const char *detail)
{
    request_rec *r = c->r;

    if (status == HTTP_TOO_MANY_REQUESTS) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%d", CA_CONTACT_WINDOW_SEC));
    }
    if (!c->form) {
        return ca_web_problem(r, status, code, detail);
    }
    ca_web_security_headers(r);
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, CA_CONTACT_ERROR_PATH, "?reason=", reason, NULL));
    r->status = HTTP_SEE_OTHER;
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_rputs("Your message was not sent. See " CA_CONTACT_ERROR_PATH "\n", r);
    return CA_WEB_ANSWERED;
}

static int invalid(contact_t *c, const char *field, const char *detail)
{
    return refuse(c, HTTP_BAD_REQUEST, "bad_request",
                  field ? apr_pstrcat(c->r->pool, "invalid_", field, NULL) : "invalid_form",
                  detail);
}

static int field_index(const char *name)
{
    int i;

    for (i = 0; field_names[i]; i++) {
        if (!strcmp(field_names[i], name)) {
            return i;
        }
    }
    return -1;
}

static int set_field(contact_t *c, const char *name, const char *value)
{
    int i = field_index(name);

    if (i < 0) {
        return invalid(c, NULL, apr_psprintf(c->r->pool, "unknown field '%s'",
                                             ca_json_escape(c->r->pool, name)));
    }
    if (c->fields[i]) {
        return invalid(c, NULL, apr_psprintf(c->r->pool, "field '%s' given twice", name));
    }
    c->fields[i] = value;
    return OK;
}

static int parse_form(contact_t *c, const char *body, apr_size_t len)
{
    apr_array_header_t *params;
    const char *why = NULL;
    int i, st;

    if (ca_http_parse_form(c->r->pool, body, len, &params, &why) != APR_SUCCESS) {
        return invalid(c, NULL, why ? why : "the form data is malformed");
    }
    for (i = 0; i < params->nelts; i++) {
        const ca_http_param_t *p = &APR_ARRAY_IDX(params, i, ca_http_param_t);
        if ((st = set_field(c, p->name, p->value)) != OK) {
            return st;
        }
    }
    return OK;
}

static int parse_json(contact_t *c, const char *body, apr_size_t len)
{
    ca_json_limits_t lim = { CA_WEB_MAX_BODY, 8 };
    ca_json_doc_t *doc;
    ca_json_t *root, *m;
    const char *err = NULL;
    int st;

    if (ca_json_parse(c->r->pool, body, len, &lim, &doc, &err) != APR_SUCCESS) {
        return invalid(c, NULL, err ? err : "the body is not valid JSON");
    }
    root = ca_json_doc_root(doc);
    if (!root || ca_json_type(root) != CA_JSON_OBJECT) {
        return invalid(c, NULL, "the body must be a JSON object");
    }
    if (ca_json_doc_has_nul(doc)) {
        return invalid(c, NULL, "strings must not contain NUL characters");
    }
    CA_JSON_FOREACH(m, root) {
        const char *k = ca_json_key(m);
        const char *v = ca_json_string(m);
        if (!v && ca_json_type(m) != CA_JSON_NULL) {
            return invalid(c, field_index(k) >= 0 ? k : NULL,
                           apr_psprintf(c->r->pool, "%s must be a string",
                                        ca_json_escape(c->r->pool, k)));
        }
        if ((st = set_field(c, k, v ? v : "")) != OK) {
            return st;
        }
    }
    return OK;
}

/* Trim blanks (space, tab, CR, LF) at both ends. */
static const char *trim(apr_pool_t *p, const char *s)
{
    const char *e;

    if (!s) {
        return NULL;
    }
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
        s++;
    }
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) {
        e--;
    }
    return apr_pstrmemdup(p, s, e - s);
}

/* CR LF (what browsers send for line breaks) -> LF; a lone CR stays (and is refused). */
static char *crlf_to_lf(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *w = out;
    const char *q;

    for (q = s; *q; q++) {
        if (q[0] == '\r' && q[1] == '\n') {
            continue;
        }
        *w++ = *q;
    }
    *w = '\0';
    return out;
}

/* 1..max characters of UTF-8 without control characters (newlines if allowed). */
static const char *check_text(apr_pool_t *p, const char *label, const char *s, long max,
                              int newlines)
{
    long n = ca_utf8_chars(s, strlen(s));

    if (n < 0) {
        return apr_pstrcat(p, label, " is not valid UTF-8 text", NULL);
    }
    if (n == 0) {
        return apr_pstrcat(p, label, " is required", NULL);
    }
    if (n > max) {
        return apr_psprintf(p, "%s is too long (at most %ld characters)", label, max);
    }
    if (!ca_web_no_controls(s, newlines)) {
        return apr_pstrcat(p, label, " must not contain control characters", NULL);
    }
    return NULL;
}

static int contact(contact_t *c)
{
    request_rec *r = c->r;
    const char *mt = ca_web_media_type(r), *why, *err = NULL;
    ca_contact_t msg;
    apr_int64_t now = ca_web_now(r), n = 0;
    ca_db_t db;
    char *body;
    apr_size_t len;
    apr_status_t rv;
    int st;

    if (r->method_number != M_POST) {
        apr_table_setn(r->err_headers_out, "Allow", "POST");
        return ca_web_problem(r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                              "send the contact form with POST");
    }
    if (!strcmp(mt, "application/x-www-form-urlencoded")) {
        c->form = 1;
    }
    else if (strcmp(mt, "application/json")) {
        return ca_web_problem(r, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                              "send the form as application/x-www-form-urlencoded or "
                              "application/json");
    }
    if (r->args && *r->args) {
        return invalid(c, NULL, "the contact form takes no query parameters");
    }
    rv = ca_web_read_body(r, CA_WEB_MAX_BODY, &body, &len);
    if (rv == APR_ENOSPC) {
        return refuse(c, HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large", "too_large",
                      apr_psprintf(r->pool, "the message is larger than %d bytes",
                                   CA_WEB_MAX_BODY));
    }
    if (rv != APR_SUCCESS) {
        return invalid(c, NULL, "the request body cannot be read");
    }
    if ((st = c->form ? parse_form(c, body, len) : parse_json(c, body, len)) != OK) {
        return st;
    }
    memset(&msg, 0, sizeof(msg));
    msg.name = trim(r->pool, c->fields[0] ? c->fields[0] : "");
    msg.email = trim(r->pool, c->fields[1] ? c->fields[1] : "");
    msg.company = trim(r->pool, c->fields[2]);
    msg.message = crlf_to_lf(r->pool, c->fields[3] ? c->fields[3] : "");
    if ((why = check_text(r->pool, "name", msg.name, CA_CONTACT_MAX_NAME, 0))) {
        return invalid(c, "name", why);
    }
    if (!*msg.email) {
        return invalid(c, "email", "email is required");
    }
    if (strlen(msg.email) > CA_CONTACT_MAX_EMAIL || !ca_email_valid(msg.email)) {
        return invalid(c, "email", "email must be an email address such as "
                       "name@example.com (at most 254 characters)");
    }
    if (msg.company && !*msg.company) {
        msg.company = NULL;
    }
    if (msg.company
        && (why = check_text(r->pool, "company", msg.company, CA_CONTACT_MAX_COMPANY, 0))) {
        return invalid(c, "company", why);
    }
    if (!*trim(r->pool, msg.message)) {
        return invalid(c, "message", "message is required");
    }
    if ((why = check_text(r->pool, "message", msg.message, CA_CONTACT_MAX_MESSAGE, 1))) {
        return invalid(c, "message", why);
    }
    msg.ip = r->useragent_ip;

    if (ca_dbd_acquire(r, &db) != APR_SUCCESS) {
        return refuse(c, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                      "storage_unavailable", "your message could not be stored and was not "
                      "sent; please try again later");
    }
    rv = ca_store_contacts_count_by_ip(r->pool, &db, msg.ip, now - CA_CONTACT_WINDOW_SEC, &n,
                                       &err);
    if (rv == APR_SUCCESS && n >= CA_CONTACT_MAX_PER_IP) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, CA_LOGNO(00601)
                      "contact form: %s sent %" APR_INT64_T_FMT " messages within %d s; "
                      "refused", msg.ip, n, CA_CONTACT_WINDOW_SEC);
        return refuse(c, HTTP_TOO_MANY_REQUESTS, "rate_limited", "rate_limited",
                      "too many messages from your address; please try again later");
    }
    if (rv == APR_SUCCESS) {
        rv = ca_store_contact_insert(r->pool, &db, &msg, now, &err);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, CA_LOGNO(00602)
                      "contact form: message not stored (request %s): %s", ca_request_id(r),
                      err ? err : "database error");
        if (CA_DB_IS_UNAVAILABLE(rv)) {
            return refuse(c, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                          "storage_unavailable", "your message could not be stored and was "
                          "not sent; please try again later");
        }
        return refuse(c, HTTP_INTERNAL_SERVER_ERROR, "internal_error", "server_error",
                      "your message could not be stored and was not sent");
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, CA_LOGNO(00603)
                  "contact form: message %" APR_INT64_T_FMT " stored (request %s)", msg.id,
                  ca_request_id(r));
    if (c->form) {
        ca_web_security_headers(r);
        apr_table_setn(r->headers_out, "Location", CA_CONTACT_THANKS_PATH);
        r->status = HTTP_SEE_OTHER;
        ap_set_content_type(r, "text/plain; charset=utf-8");
        ap_rputs("Thank you: your message was received. See " CA_CONTACT_THANKS_PATH "\n", r);
        return CA_WEB_ANSWERED;
    }
    {
        ca_json_t *doc = ca_json_new_object(r->pool);
        ca_json_add_string(doc, "status", "received");
        ca_json_add_string(doc, "request_id", ca_request_id(r));
        return ca_web_json(r, HTTP_CREATED, ca_json_print(r->pool, doc));
    }
}

int ca_contact_handler(request_rec *r)
{
    contact_t *c = apr_pcalloc(r->pool, sizeof(*c));
    int st;

    c->r = r;
    ca_request_id(r);
    ca_web_security_headers(r);
    st = contact(c);
    return st == CA_WEB_ANSWERED ? OK : st;
}
