/* mod_clientapi: request ids and RFC 9457 problem+json answers.
 *
 * Every response under /api/ carries X-Request-Id; every error is a problem document whose
 * request_id equals that header. Problem details never carry secrets: callers pass fixed texts
 * or texts built from validated, public values only.
 */
#include "httpd.h"
#include "http_protocol.h"
#include "http_log.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"

#include "mod_clientapi.h"
#include "ca_crypto.h"
#include "ca_json.h"

#define CA_NOTE_REQUEST_ID "clientapi-request-id"
#define RID_BYTES 16                /* random bytes of a request id */
#define RID_BATCH 16                /* ids drawn from one RAND_bytes call */

/* Random bytes for request ids, per worker thread: one RAND_bytes call (its locking and its
 * fork check, a getpid() system call) per RID_BATCH requests instead of one per request. Bytes
 * are handed out once and wiped as they go; the rest is wiped when the thread's pool goes. */
typedef struct {
    unsigned char buf[RID_BYTES * RID_BATCH];
    apr_size_t left;                /* unused bytes at the start of buf */
} rid_pool_t;

static apr_status_t rid_pool_cleanup(void *data)
{
    rid_pool_t *rp = data;

    ca_cleanse(rp->buf, sizeof(rp->buf));
    rp->left = 0;
    return APR_SUCCESS;
}

/* RID_BYTES random bytes into out: from the thread's batch when there is a thread. */
static apr_status_t rid_random(request_rec *r, unsigned char out[RID_BYTES])
{
    apr_thread_t *t = r->connection->current_thread;
    rid_pool_t *rp = NULL;

    if (t) {
        apr_thread_data_get((void **)&rp, "clientapi-rid", t);
        if (!rp) {
            rp = apr_pcalloc(apr_thread_pool_get(t), sizeof(*rp));
            apr_thread_data_set(rp, "clientapi-rid", rid_pool_cleanup, t);
        }
    }
    if (!rp) {
        return ca_random_bytes(out, RID_BYTES);
    }
    if (rp->left < RID_BYTES) {
        if (ca_random_bytes(rp->buf, sizeof(rp->buf)) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        rp->left = sizeof(rp->buf);
    }
    rp->left -= RID_BYTES;
    memcpy(out, rp->buf + rp->left, RID_BYTES);
    ca_cleanse(rp->buf + rp->left, RID_BYTES);
    return APR_SUCCESS;
}

const char *ca_request_id(request_rec *r)
{
    request_rec *main = r->main ? r->main : r;
    const char *id = apr_table_get(main->notes, CA_NOTE_REQUEST_ID);

    if (!id) {
        /* mod_unique_id's id when loaded, else 16 random bytes */
        const char *uid = apr_table_get(main->subprocess_env, "UNIQUE_ID");
        unsigned char rnd[RID_BYTES];

        if (uid && *uid && strlen(uid) <= 64) {
            id = uid;
        }
        else if (rid_random(main, rnd) == APR_SUCCESS
                 && (id = ca_b64url_encode(main->pool, rnd, sizeof(rnd)))) {
            ca_cleanse(rnd, sizeof(rnd));
        }
        else {
            id = apr_psprintf(main->pool, "%" APR_TIME_T_FMT "-%" APR_PID_T_FMT,
                              main->request_time, getpid());
        }
        apr_table_setn(main->notes, CA_NOTE_REQUEST_ID, id);
        apr_table_setn(main->err_headers_out, "X-Request-Id", id);
    }
    return id;
}

int ca_problem(request_rec *r, int status, const char *code, const char *detail)
{
    const char *line = ap_get_status_line(status);
    const char *title = (line && strlen(line) > 4) ? line + 4 : "Error";
    ca_json_t *doc = ca_json_new_object(r->pool);
    const char *body;

    ca_json_set_string(doc, "type", apr_pstrcat(r->pool, "urn:clientapi:problem:", code, NULL));
    ca_json_set_string(doc, "title", title);
    ca_json_set_number(doc, "status", status);
    ca_json_set_string(doc, "detail", detail ? detail : title);
    ca_json_set_string(doc, "code", code);
    ca_json_set_string(doc, "request_id", ca_request_id(r));
    body = ca_json_print(r->pool, doc);

    apr_table_setn(r->notes, "clientapi-error-code", code);
    if (detail) {
        apr_table_setn(r->notes, "clientapi-error-detail", detail);
    }
    r->status = status;
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_type(r, "application/problem+json");
    ap_set_content_length(r, strlen(body));
    if (!r->header_only) {
        ap_rputs(body, r);
    }
    return OK;
}

void ca_redact_request_line(request_rec *r, const char *query)
{
    const char *q = r->the_request ? strchr(r->the_request, '?') : NULL;

    if (q) {
        const char *rest = strchr(q, ' ');
        r->the_request = apr_pstrcat(r->pool,
                                     apr_pstrmemdup(r->pool, r->the_request,
                                                    (apr_size_t)(q - r->the_request)),
                                     "?", query, rest ? rest : "", NULL);
    }
    if (r->args) {
        r->args = apr_pstrdup(r->pool, query);
        r->parsed_uri.query = r->args;
    }
    if (r->unparsed_uri && strchr(r->unparsed_uri, '?')) {
        r->unparsed_uri = apr_pstrcat(r->pool,
                                      apr_pstrmemdup(r->pool, r->unparsed_uri,
                                                     strcspn(r->unparsed_uri, "?")),
                                      "?", query, NULL);
    }
}
