/*
 * ca_scope.h - is a provider record inside an endpoint's scope?
 *
 * Fail closed: a record is IN only when the resource's rules establish it.
 * A field that is missing, null, of the wrong type, empty, or reached
 * through a duplicated key (parsers disagree on which value wins): OUT.
 * Records are judged on their original text (no re-parse, no re-print):
 * ids compare as exact strings after JSON unescaping, so "a\u0000b" is not
 * "a".  A JSON number matches only when the rule is numeric (provider
 * "numeric_ids" or rule "numeric"), and only an integer literal whose text
 * is the id (42 matches "42"; 42.0, 4.2e1 and integers beyond +-2^53
 * never match).
 *
 * Rules (ca_provider_rule_t), any-of per scope part:
 *   field       record value at path equals the id
 *   contains    record array at path has an element equal to the id
 *   self        the record's own id (rule path, else resource id_field)
 *   connection  always (company part only: one company per connection)
 *   parent      ctx->parent_id is set (the caller fetched the parent
 *               record and found it in this same scope) and, when the
 *               resource names parent.field, the record's value there
 *               equals ctx->parent_id
 * A company-scoped endpoint needs the company rules; a client-scoped one
 * needs the company rules AND the client rules (a resource without client
 * rules shows nothing to client-scoped endpoints).
 *
 * Core file: no httpd headers.
 */
#ifndef CA_SCOPE_H
#define CA_SCOPE_H

#include <apr_pools.h>
#include <apr_errno.h>

#include "ca_json.h"
#include "ca_provider.h"

typedef enum {
    CA_SCOPE_COMPANY = 1,
    CA_SCOPE_CLIENT
} ca_scope_kind_e;

typedef struct {
    ca_scope_kind_e kind;
    const char *company_id;        /* always required */
    const char *client_id;         /* required for CA_SCOPE_CLIENT */
} ca_scope_t;

typedef struct {
    const ca_provider_t *prov;
    const ca_provider_resource_t *res;
    const ca_scope_t *scope;
    const char *parent_id;         /* verified parent record id, or NULL */
    const ca_json_limits_t *limits;     /* provider bodies; NULL: defaults */
} ca_scope_ctx_t;

/* A write body names another company/client (answer 422 scope_violation). */
#define CA_SCOPE_EVIOLATION (APR_OS_START_USERERR + 2201)

/* Result of filtering a list page. */
typedef struct {
    const char *json;              /* "[rec,rec,...]" from original bytes */
    apr_size_t json_len;
    int kept;
    int dropped;
    const char *next_cursor;       /* provider cursor, NULL: last page */
} ca_scope_list_t;

/* Result of checking one record. */
typedef struct {
    int in_scope;
    const char *json;              /* original text of the record */
    apr_size_t json_len;
    const char *id;                /* record id text (id_field) or NULL */
    int need_parent;               /* OUT only because no verified parent:
                                      fetch parent_id, check it, retry with
                                      ctx->parent_id = parent_id */
    const char *parent_id;         /* record's parent.field value */
} ca_scope_item_t;

typedef enum {
    CA_SCOPE_WRITE_CREATE = 1,     /* scope fields set, checked if present */
    CA_SCOPE_WRITE_UPDATE,         /* checked if present (partial) */
    CA_SCOPE_WRITE_REPLACE         /* scope fields set, checked if present */
} ca_scope_write_e;

typedef struct {
    const char *body;              /* JSON to forward (re-serialized) */
    apr_size_t body_len;
    const char *field;             /* CA_SCOPE_EVIOLATION: offending path */
    const char *parent_id;         /* parent rules: parent id named by the
                                      body, to verify before forwarding */
} ca_scope_write_t;

/* APR_SUCCESS or APR_EINVAL (missing ids) with a message. */
apr_status_t ca_scope_validate(apr_pool_t *p, const ca_scope_t *scope,
                               const char **perr);

/*
 * Core predicate: the record is the value at offset rec of doc (from
 * ca_json_scan or ca_json_parse) and must be an object.
 */
int ca_scope_record_in(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                       const ca_json_doc_t *doc, apr_size_t rec);

/*
 * Filter a provider list response.  call is the list call used (NULL:
 * ctx->res->list; a nested call for sub-resources): its records path
 * locates the array, its cursor paths the next cursor.  cursor_sent is the
 * cursor of this request (page_number: the page), header_cursor the value
 * of pagination.cursor_header in the response (cursor_header style).
 * Linear in len.  Errors (APR_EINVAL...) mean an unusable provider body.
 */
apr_status_t ca_scope_filter_list(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                                  const ca_provider_call_t *call,
                                  const char *body, apr_size_t len,
                                  const char *cursor_sent,
                                  const char *header_cursor,
                                  ca_scope_list_t *out, const char **perr);

/*
 * Check a single-record response; record_path NULL means the item call's
 * record path ("" = whole body).
 */
apr_status_t ca_scope_check_item(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                                 const char *record_path,
                                 const char *body, apr_size_t len,
                                 ca_scope_item_t *out, const char **perr);

/*
 * Enforce the scope on a write body (must be a JSON object).  Fields of
 * field/contains rules that are present must equal the scope id (contains:
 * an array holding only the id); on create/replace they are set.  Creating
 * through a self-only rule is refused (a record cannot be created as the
 * scope itself).  Parent rules: parent.field present is reported in
 * out->parent_id (must equal ctx->parent_id when that is set); on create
 * it is required unless ctx->parent_id is set, then it is filled in.
 * Returns APR_SUCCESS, APR_EINVAL (not a JSON object: 400) or
 * CA_SCOPE_EVIOLATION (422, out->field and perr name the field).
 */
apr_status_t ca_scope_write_body(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                                 ca_scope_write_e op,
                                 const char *body, apr_size_t len,
                                 ca_scope_write_t *out, const char **perr);

#endif /* CA_SCOPE_H */
