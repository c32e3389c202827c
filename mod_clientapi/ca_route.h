/* ca_route: the caller-facing URL router (contract section 2), httpd-free so that it can be
 * unit-tested and fuzzed directly.
 *
 * Input is the request path below the handler's <Location> (already %-decoded and normalised
 * by httpd) and the query string. Anything that is not exactly one of the contract's shapes is
 * CA_ROUTE_NONE (answered 404 not_found); nothing is guessed or repaired.
 */
#ifndef CA_ROUTE_H
#define CA_ROUTE_H

#include "apr_pools.h"
#include "apr_tables.h"

typedef enum {
    CA_ROUTE_NONE = 0,   /* no such URL: 404 */
    CA_ROUTE_DESCRIBE,   /* /{ep} */
    CA_ROUTE_OPENAPI,    /* /{ep}/openapi.json */
    CA_ROUTE_COLLECTION, /* /{ep}/{resource} */
    CA_ROUTE_ITEM,       /* /{ep}/{resource}/{id} */
    CA_ROUTE_NESTED,     /* /{ep}/{resource}/{id}/{sub} */
    CA_ROUTE_COMPAT      /* /public/{ep}/query/?resource=...[&id=...] */
} ca_route_kind_e;

typedef struct {
    ca_route_kind_e kind;
    const char *endpoint_id;
    const char *resource;    /* canonical or provider resource name, [a-z_]{1,64} */
    const char *id;          /* record id */
    const char *sub;         /* nested resource name */
    const char *why;         /* for CA_ROUTE_NONE and bad queries: a short public reason */
} ca_route_t;

/* Route `path` (must start with '/'). Never fails on input: a bad path is CA_ROUTE_NONE. */
void ca_route_parse(apr_pool_t *p, const char *path, ca_route_t *out);

/* True when the query (ca_http_param_t pairs, from ca_http_parse_form) carries a key-like
 * parameter (key, api_key, apikey, access_token):
 * the contract refuses those with 400 key_in_query. Names compare case-insensitively. */
int ca_query_has_key(const apr_array_header_t *params);

/* Valid names and ids as the router accepts them. */
int ca_route_valid_resource(const char *s);
int ca_route_valid_id(const char *s);

#endif /* CA_ROUTE_H */
