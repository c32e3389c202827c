/*
 * ca_openapi.h - what an endpoint offers: the description answered at
 * GET {base}/api/{endpoint_id} and the OpenAPI 3.0.3 document answered at
 * GET {base}/api/{endpoint_id}/openapi.json (contract section 2).
 *
 * Both documents are built from the provider definition and the
 * endpoint's scope and mode only: no provider call, no database.  Only
 * the resources the endpoint can serve are listed:
 *
 *   - a company-scoped endpoint needs the resource's company rules, a
 *     client-scoped one its company AND client rules (see ca_scope.h);
 *   - a rule of kind "parent" only counts when the parent resource is
 *     itself visible (the parent record is what proves the scope);
 *   - a nested sub-resource is listed when its child resource is visible
 *     and the holding resource has an item call (to verify the parent).
 *
 * Methods are those the resource defines calls for: GET and HEAD where
 * there is a list (collection) or item (record) call, and on read-write
 * endpoints of writable resources POST (create), PATCH (update), PUT
 * (replace), DELETE (delete).  The *_scoped variant also drops POST when
 * the endpoint's scope can never hold a new record (a scope established
 * only by the record's own id, e.g. clients on a client-scoped endpoint:
 * ca_scope_write_body refuses those creates).
 *
 * Every string from the endpoint, the scope or the provider file is
 * escaped through ca_json; '<', '>', '&', U+2028 and U+2029 are written
 * as \u escapes as well, so the output can be embedded in an HTML page.
 * Output is compact JSON in p.
 *
 * Core file: no httpd headers.
 */
#ifndef CA_OPENAPI_H
#define CA_OPENAPI_H

#include <apr_pools.h>

#include "ca_provider.h"

#define CA_OPENAPI_VERSION        "3.0.3"
/* Version of the endpoint API described (info.version). */
#define CA_OPENAPI_API_VERSION    "1.0.0"

typedef struct {
    const char *endpoint_id;       /* "ep_..." */
    const char *url;               /* absolute URL of the endpoint, e.g.
                                      https://h/api/ep_x (no trailing '/') */
    int client_scope;              /* 0 company, 1 client */
    const char *company_id;
    const char *company_name;      /* may be NULL */
    const char *client_id;         /* client scope only */
    const char *client_name;       /* may be NULL */
    int read_write;
    int max_limit;                 /* effective list limit cap; <= 0: 100 */
} ca_endpoint_info_t;

/* Non-zero when res can be served to an endpoint of this scope kind. */
int ca_endpoint_resource_visible(const ca_provider_resource_t *res,
                                 int client_scope);

/*
 * Non-zero when a record created through res can be in the endpoint's
 * scope (the resource has a create call and no scope part consists only
 * of "self" rules).  Says nothing about the mode.
 */
int ca_endpoint_can_create(const ca_provider_resource_t *res,
                           int client_scope);

/*
 * The Allow header value for the collection (item = 0) or a record
 * (item = 1): e.g. "GET, HEAD", "GET, HEAD, POST",
 * "GET, HEAD, PATCH, PUT, DELETE".  "" when nothing is allowed (a
 * resource without a list call has no collection GET).
 */
const char *ca_endpoint_methods(apr_pool_t *p,
                                const ca_provider_resource_t *res,
                                int read_write, int item);

/* As ca_endpoint_methods, without POST when !ca_endpoint_can_create(). */
const char *ca_endpoint_methods_scoped(apr_pool_t *p,
                                       const ca_provider_resource_t *res,
                                       int read_write, int client_scope,
                                       int item);

/*
 * The endpoint description:
 * {"endpoint_id", "provider", "provider_name",
 *  "access_mode": "read-only" | "read-write",
 *  "scope": {"kind": "company" | "client", "company_external_id",
 *            "company_name", "client_external_id", "client_name"},
 *  "resources": [{"name", "description", "methods": [...],
 *                 "item_methods": [...], "nested": [...], "filters": [...],
 *                 "parent": {"resource", "param"} (only when it has one),
 *                 "url"}],
 *  "limits": {"max_limit": N}, "openapi": url + "/openapi.json"}
 * NULL on allocation failure.
 */
char *ca_describe_json(apr_pool_t *p, const ca_provider_t *def,
                       const ca_endpoint_info_t *ep);

/* The OpenAPI 3.0.3 document of the endpoint; NULL on allocation failure. */
char *ca_openapi_json(apr_pool_t *p, const ca_provider_t *def,
                      const ca_endpoint_info_t *ep);

#endif /* CA_OPENAPI_H */
