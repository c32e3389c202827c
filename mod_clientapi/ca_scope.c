/*
 * ca_scope.c - scope decisions on provider records, list filtering that
 * passes kept records' original bytes through, and write-body enforcement.
 */
#include <string.h>
#include <stdlib.h>

#include <apr_strings.h>

#include "ca_scope.h"

/* ------------------------------------------------------------------ */
/* predicate                                                           */
/* ------------------------------------------------------------------ */

/* Id text of a tree value (string; integer when numeric); NULL if
 * unusable.  Used on write bodies. */
static const char *value_id(apr_pool_t *p, const ca_json_t *n, int numeric)
{
    const char *s = ca_json_id_text(p, n, numeric);

    return (s != NULL && *s != '\0') ? s : NULL;
}

/*
 * A record being judged: its top-level members that the rules name are
 * collected in one pass (ca_json_raw_members); deeper path segments are
 * looked up inside those values.
 */
#define CA_SCOPE_MAX_KEYS 16

typedef struct {
    const ca_json_doc_t *doc;
    apr_size_t rec;
    apr_size_t end;                     /* just past the record */
    int nkeys;
    const char *keys[CA_SCOPE_MAX_KEYS];
    apr_size_t klens[CA_SCOPE_MAX_KEYS];
    apr_size_t vals[CA_SCOPE_MAX_KEYS];
    int counts[CA_SCOPE_MAX_KEYS];
} view_t;

static void view_want(view_t *v, const char *path)
{
    const char *dot;
    apr_size_t len;
    int k;

    if (path == NULL || *path == '\0') {
        return;
    }
    dot = strchr(path, '.');
    len = dot ? (apr_size_t)(dot - path) : strlen(path);
    for (k = 0; k < v->nkeys; k++) {
        if (v->klens[k] == len && memcmp(v->keys[k], path, len) == 0) {
            return;
        }
    }
    if (v->nkeys < CA_SCOPE_MAX_KEYS) {
        v->keys[v->nkeys] = path;
        v->klens[v->nkeys] = len;
        v->nkeys++;
    }
}

static void view_want_rules(view_t *v, const ca_scope_ctx_t *ctx,
                            const apr_array_header_t *rules)
{
    int i;

    for (i = 0; rules != NULL && i < rules->nelts; i++) {
        const ca_provider_rule_t *r =
            &APR_ARRAY_IDX(rules, i, ca_provider_rule_t);

        switch (r->kind) {
        case CA_RULE_FIELD:
        case CA_RULE_CONTAINS:
            view_want(v, r->path);
            break;
        case CA_RULE_SELF:
            view_want(v, r->path ? r->path : ctx->res->id_field);
            break;
        case CA_RULE_PARENT:
            if (ctx->res->parent != NULL) {
                view_want(v, ctx->res->parent->field);
            }
            break;
        default:
            break;
        }
    }
}

/* Keys every record of this context needs. */
static void view_init(view_t *v, const ca_scope_ctx_t *ctx,
                      const ca_json_doc_t *doc)
{
    v->doc = doc;
    v->nkeys = 0;
    view_want_rules(v, ctx, ctx->res->company_rules);
    if (ctx->scope->kind == CA_SCOPE_CLIENT) {
        view_want_rules(v, ctx, ctx->res->client_rules);
    }
}

/* Load a record collected by ca_json_scan_records (same keys, same
 * order); 0 if it is not an object. */
static int view_set(view_t *v, const ca_json_span_t *sp,
                    const ca_json_member_t *m)
{
    int k;

    if (ca_json_raw_type(v->doc, sp->off) != CA_JSON_OBJECT) {
        return 0;
    }
    v->rec = sp->off;
    v->end = sp->off + sp->len;
    for (k = 0; k < v->nkeys; k++) {
        v->vals[k] = m[k].val;
        v->counts[k] = m[k].count;
    }
    return 1;
}

/* Load the record at rec; 0 if it is not an object. */
static int view_load(view_t *v, apr_size_t rec)
{
    v->rec = rec;
    v->end = ca_json_raw_members(v->doc, rec, v->nkeys, v->keys, v->klens,
                                 v->vals, v->counts);
    return v->end != 0;
}

static apr_status_t view_lookup(const view_t *v, const char *path,
                                apr_size_t *out)
{
    const char *dot;
    apr_size_t len;
    int k;

    if (path == NULL || *path == '\0') {
        return APR_EINVAL;
    }
    dot = strchr(path, '.');
    len = dot ? (apr_size_t)(dot - path) : strlen(path);
    for (k = 0; k < v->nkeys; k++) {
        if (v->klens[k] == len && memcmp(v->keys[k], path, len) == 0) {
            if (v->counts[k] == 0) {
                return APR_NOTFOUND;
            }
            if (v->counts[k] > 1) {
                return CA_JSON_EAMBIGUOUS;
            }
            if (dot == NULL) {
                *out = v->vals[k];
                return APR_SUCCESS;
            }
            return ca_json_raw_lookup(v->doc, v->vals[k], dot + 1, out);
        }
    }
    return ca_json_raw_lookup(v->doc, v->rec, path, out);
}

/* Record value at path is an id equal to want. */
static int field_equals(const view_t *v, const char *path, int numeric,
                        const char *want)
{
    apr_size_t val;

    if (path == NULL || view_lookup(v, path, &val) != APR_SUCCESS) {
        return 0;
    }
    return ca_json_raw_id_equals(v->doc, val, want, numeric);
}

static int rule_match(const ca_scope_ctx_t *ctx, const ca_provider_rule_t *r,
                      const view_t *v, const char *want)
{
    apr_size_t arr, e;

    switch (r->kind) {
    case CA_RULE_CONNECTION:
        return 1;
    case CA_RULE_PARENT:
        if (ctx->parent_id == NULL || *ctx->parent_id == '\0') {
            return 0;
        }
        if (ctx->res->parent == NULL || ctx->res->parent->field == NULL) {
            return 1;
        }
        return field_equals(v, ctx->res->parent->field, r->numeric,
                            ctx->parent_id);
    case CA_RULE_CONTAINS:
        if (view_lookup(v, r->path, &arr) != APR_SUCCESS
            || !ca_json_raw_first(v->doc, arr, &e)) {
            return 0;
        }
        do {
            if (ca_json_raw_id_equals(v->doc, e, want, r->numeric)) {
                return 1;
            }
        } while (ca_json_raw_next(v->doc, &e));
        return 0;
    case CA_RULE_SELF:
        return field_equals(v, r->path ? r->path : ctx->res->id_field,
                            r->numeric, want);
    case CA_RULE_FIELD:
        return field_equals(v, r->path, r->numeric, want);
    }
    return 0;
}

static int any_match(const ca_scope_ctx_t *ctx,
                     const apr_array_header_t *rules, const view_t *v,
                     const char *want)
{
    int i;

    if (rules == NULL) {
        return 0;
    }
    for (i = 0; i < rules->nelts; i++) {
        if (rule_match(ctx, &APR_ARRAY_IDX(rules, i, ca_provider_rule_t), v,
                       want)) {
            return 1;
        }
    }
    return 0;
}

/* The decision on a loaded record (scope already validated). */
static int view_in(const ca_scope_ctx_t *ctx, const view_t *v)
{
    const ca_scope_t *sc = ctx->scope;

    if (!any_match(ctx, ctx->res->company_rules, v, sc->company_id)) {
        return 0;
    }
    if (sc->kind == CA_SCOPE_CLIENT) {
        return any_match(ctx, ctx->res->client_rules, v, sc->client_id);
    }
    return 1;
}

apr_status_t ca_scope_validate(apr_pool_t *p, const ca_scope_t *scope,
                               const char **perr)
{
    const char *why = NULL;

    (void)p;
    if (scope == NULL) {
        why = "no scope";
    }
    else if (scope->kind != CA_SCOPE_COMPANY && scope->kind != CA_SCOPE_CLIENT) {
        why = "unknown scope kind";
    }
    else if (scope->company_id == NULL || *scope->company_id == '\0') {
        why = "scope has no company id";
    }
    else if (scope->kind == CA_SCOPE_CLIENT
             && (scope->client_id == NULL || *scope->client_id == '\0')) {
        why = "client scope has no client id";
    }
    if (why != NULL) {
        if (perr) {
            *perr = why;
        }
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

int ca_scope_record_in(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                       const ca_json_doc_t *doc, apr_size_t rec)
{
    view_t v;

    if (ctx == NULL || ctx->res == NULL || doc == NULL
        || ca_scope_validate(p, ctx->scope, NULL) != APR_SUCCESS) {
        return 0;
    }
    view_init(&v, ctx, doc);
    return view_load(&v, rec) && view_in(ctx, &v);
}

static apr_status_t check_ctx(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                              const char **perr)
{
    if (ctx == NULL || ctx->prov == NULL || ctx->res == NULL) {
        if (perr) {
            *perr = "no provider resource";
        }
        return APR_EINVAL;
    }
    return ca_scope_validate(p, ctx->scope, perr);
}

/* ------------------------------------------------------------------ */
/* lists                                                               */
/* ------------------------------------------------------------------ */

static int parse_page(const char *s, long *page)
{
    long v = 0;
    int k = 0;

    if (s == NULL || *s == '\0' || (s[0] == '0' && s[1] != '\0')) {
        return 0;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || ++k > 9) {
            return 0;
        }
        v = v * 10 + (*s - '0');
    }
    *page = v;
    return 1;
}

static apr_status_t next_cursor(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                                const ca_provider_call_t *call,
                                const ca_json_doc_t *doc,
                                const char *cursor_sent,
                                const char *header_cursor,
                                const char **out, const char **perr)
{
    const ca_provider_paging_t *g = &ctx->prov->paging;
    apr_size_t root = ca_json_raw_root(doc), v;
    long page;
    int more;

    *out = NULL;
    switch (g->style) {
    case CA_PAGE_CURSOR_HEADER:
        if (header_cursor != NULL && *header_cursor != '\0') {
            *out = apr_pstrdup(p, header_cursor);
        }
        return APR_SUCCESS;
    case CA_PAGE_CURSOR_BODY:
    case CA_PAGE_RELAY:
        if (call->has_more_path != NULL
            && (ca_json_raw_lookup(doc, root, call->has_more_path, &v)
                != APR_SUCCESS || !ca_json_raw_bool(doc, v, &more)
                || !more)) {
            return APR_SUCCESS;
        }
        if (call->next_cursor_path != NULL
            && ca_json_raw_lookup(doc, root, call->next_cursor_path, &v)
               == APR_SUCCESS) {
            if (ca_json_raw_type(doc, v) == CA_JSON_STRING) {
                const char *c = ca_json_raw_string(p, doc, v);

                *out = (c != NULL && *c != '\0') ? c : NULL;
            }
            else if (ca_json_raw_type(doc, v) == CA_JSON_NUMBER) {
                *out = apr_pstrmemdup(p, ca_json_doc_text(doc, NULL) + v,
                                      ca_json_raw_len(doc, v));
            }
        }
        return APR_SUCCESS;
    case CA_PAGE_PAGE_NUMBER:
        if (call->has_more_path == NULL
            || ca_json_raw_lookup(doc, root, call->has_more_path, &v)
               != APR_SUCCESS
            || !ca_json_raw_bool(doc, v, &more) || !more) {
            return APR_SUCCESS;
        }
        if (cursor_sent == NULL || *cursor_sent == '\0') {
            page = g->first_page;
        }
        else if (!parse_page(cursor_sent, &page)) {
            if (perr) {
                *perr = "cursor is not a page number";
            }
            return APR_EINVAL;
        }
        *out = apr_psprintf(p, "%ld", page + 1);
        return APR_SUCCESS;
    default:
        return APR_SUCCESS;
    }
}

apr_status_t ca_scope_filter_list(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                                  const ca_provider_call_t *call,
                                  const char *body, apr_size_t len,
                                  const char *cursor_sent,
                                  const char *header_cursor,
                                  ca_scope_list_t *out, const char **perr)
{
    ca_json_doc_t *doc;
    const char *jerr = NULL, *text;
    apr_status_t rv;
    apr_size_t o = 0, arr, rec;
    ca_json_want_t want;
    ca_json_records_t recs;
    view_t v;
    char *buf;
    int more, r = 0, fused;

    memset(out, 0, sizeof(*out));
    rv = check_ctx(p, ctx, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (call == NULL) {
        call = ctx->res->list;
    }
    if (call == NULL || call->records == NULL) {
        if (perr) {
            *perr = apr_psprintf(p, "resource '%s' has no list call",
                                 ctx->res->name);
        }
        return APR_EINVAL;
    }
    /* the keys the rules need, collected for every record while the
     * response is validated */
    view_init(&v, ctx, NULL);
    want.path = call->records;
    want.nkeys = v.nkeys;
    want.keys = v.keys;
    want.klens = v.klens;
    rv = ca_json_scan_records(p, body, len, ctx->limits, &want, &doc, &jerr);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = apr_psprintf(p, "provider response: %s", jerr);
        }
        return rv;
    }
    v.doc = doc;
    rv = ca_json_raw_lookup(doc, ca_json_raw_root(doc), call->records, &arr);
    if (rv != APR_SUCCESS || ca_json_raw_type(doc, arr) != CA_JSON_ARRAY) {
        if (perr) {
            *perr = apr_psprintf(p, "provider response: %s at '%s'",
                                 rv == CA_JSON_EAMBIGUOUS
                                 ? "duplicated key on the way to the records"
                                 : "no records array", call->records);
        }
        return APR_EINVAL;
    }
    text = ca_json_doc_text(doc, NULL);
    buf = apr_palloc(p, len + 3);
    buf[o++] = '[';
    /* the records as the scan saw them; else (a path through an array
     * index, say) walk the text again */
    fused = ca_json_doc_records(doc, arr, &recs);
    if (fused) {
        more = recs.nrecs > 0;
        rec = more ? recs.recs[0].off : 0;
    }
    else {
        more = ca_json_raw_first(doc, arr, &rec);
    }
    while (more) {
        apr_size_t end;
        int in;

        if (fused) {
            in = view_set(&v, &recs.recs[r], recs.members + r * recs.nkeys)
                 && view_in(ctx, &v);
        }
        else {
            in = view_load(&v, rec) && view_in(ctx, &v);
        }

        if (in) {
            end = v.end;
            if (out->kept++) {
                buf[o++] = ',';
            }
            memcpy(buf + o, text + rec, end - rec);
            o += end - rec;
        }
        else {
            out->dropped++;
        }
        if (fused) {
            more = ++r < recs.nrecs;
            rec = more ? recs.recs[r].off : 0;
        }
        else {
            more = ca_json_raw_next(doc, &rec);
        }
    }
    buf[o++] = ']';
    buf[o] = '\0';
    out->json = buf;
    out->json_len = o;

    return next_cursor(p, ctx, call, doc, cursor_sent, header_cursor,
                       &out->next_cursor, perr);
}

/* ------------------------------------------------------------------ */
/* single records                                                      */
/* ------------------------------------------------------------------ */

static int uses_parent(const ca_scope_ctx_t *ctx)
{
    const ca_provider_resource_t *r = ctx->res;
    const apr_array_header_t *sets[2];
    int s, i;

    sets[0] = r->company_rules;
    sets[1] = ctx->scope->kind == CA_SCOPE_CLIENT ? r->client_rules : NULL;
    for (s = 0; s < 2; s++) {
        for (i = 0; sets[s] != NULL && i < sets[s]->nelts; i++) {
            if (APR_ARRAY_IDX(sets[s], i, ca_provider_rule_t).kind
                == CA_RULE_PARENT) {
                return 1;
            }
        }
    }
    return 0;
}

apr_status_t ca_scope_check_item(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                                 const char *record_path,
                                 const char *body, apr_size_t len,
                                 ca_scope_item_t *out, const char **perr)
{
    ca_json_doc_t *doc;
    const char *jerr = NULL, *text;
    apr_size_t rec, v;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    rv = check_ctx(p, ctx, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (record_path == NULL) {
        record_path = ctx->res->item ? ctx->res->item->record : "";
    }
    rv = ca_json_scan(p, body, len, ctx->limits, &doc, &jerr);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = apr_psprintf(p, "provider response: %s", jerr);
        }
        return rv;
    }
    rv = ca_json_raw_lookup(doc, ca_json_raw_root(doc), record_path, &rec);
    if (rv != APR_SUCCESS || ca_json_raw_type(doc, rec) != CA_JSON_OBJECT) {
        if (perr) {
            *perr = apr_psprintf(p, "provider response: no record object at "
                                 "'%s'", record_path);
        }
        return APR_EINVAL;
    }
    text = ca_json_doc_text(doc, NULL);
    out->json_len = ca_json_raw_len(doc, rec);
    out->json = apr_pstrmemdup(p, text + rec, out->json_len);
    if (ca_json_raw_lookup(doc, rec, ctx->res->id_field, &v) == APR_SUCCESS) {
        out->id = ca_json_raw_id_text(p, doc, v, 1);
    }
    out->in_scope = ca_scope_record_in(p, ctx, doc, rec);
    if (!out->in_scope && ctx->parent_id == NULL && ctx->res->parent != NULL
        && ctx->res->parent->field != NULL && uses_parent(ctx)
        && ca_json_raw_lookup(doc, rec, ctx->res->parent->field, &v)
           == APR_SUCCESS) {
        const char *ref = ca_json_raw_id_text(p, doc, v,
                                              ctx->prov->numeric_ids);

        if (ref != NULL) {
            ca_scope_ctx_t tmp = *ctx;

            tmp.parent_id = ref;
            if (ca_scope_record_in(p, &tmp, doc, rec)) {
                out->need_parent = 1;
                out->parent_id = ref;
            }
        }
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* write bodies                                                        */
/* ------------------------------------------------------------------ */

static apr_status_t violation(apr_pool_t *p, ca_scope_write_t *out,
                              const char *field, const char **perr,
                              const char *why)
{
    out->field = field;
    if (perr) {
        *perr = apr_psprintf(p, "%s: %s", field, why);
    }
    return CA_SCOPE_EVIOLATION;
}

/* Canonical integer text (safe for a JSON number)? */
static int integer_text(const char *s)
{
    const char *c = s;
    int digits = 0;

    if (*c == '-') {
        c++;
    }
    if (*c == '0' && c[1] != '\0') {
        return 0;
    }
    for (; *c; c++) {
        if (*c < '0' || *c > '9' || ++digits > 15) {
            return 0;
        }
    }
    return digits > 0 && strcmp(s, "-0") != 0;
}

/*
 * Set the value at a dotted path of object root, creating intermediate
 * objects.  as_array: an array holding the one value.  Returns 0, or -1
 * when an intermediate value exists and is not an object.
 */
static int set_path(apr_pool_t *p, ca_json_t *root, const char *path,
                    const char *val, int numeric, int as_array)
{
    ca_json_t *cur = root, *n;
    const char *seg = path, *dot;
    int as_number = numeric && integer_text(val);

    while ((dot = strchr(seg, '.')) != NULL) {
        const char *key = apr_pstrmemdup(p, seg, dot - seg);
        apr_status_t rv = ca_json_lookup(cur, key, &n);

        if (rv == APR_NOTFOUND) {
            n = ca_json_set_object(cur, key);
        }
        else if (rv != APR_SUCCESS || ca_json_type(n) != CA_JSON_OBJECT) {
            return -1;
        }
        if (n == NULL) {
            return -1;
        }
        cur = n;
        seg = dot + 1;
    }
    if (as_array) {
        n = ca_json_set_array(cur, seg);
        if (n == NULL) {
            return -1;
        }
        if (as_number) {
            n = ca_json_add_number(n, NULL, strtod(val, NULL));
        }
        else {
            n = ca_json_add_string(n, NULL, val);
        }
    }
    else if (as_number) {
        n = ca_json_set_number(cur, seg, strtod(val, NULL));
    }
    else {
        n = ca_json_set_string(cur, seg, val);
    }
    return n != NULL ? 0 : -1;
}

static const char *rule_path(const ca_scope_ctx_t *ctx,
                             const ca_provider_rule_t *r)
{
    if (r->kind == CA_RULE_SELF) {
        return r->path ? r->path : ctx->res->id_field;
    }
    return r->path;
}

/* One rule set (company or client) on a write body. */
static apr_status_t enforce_set(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                                ca_scope_write_e op, ca_json_t *root,
                                const apr_array_header_t *rules,
                                const char *want, const char *what,
                                ca_scope_write_t *out, const char **perr)
{
    const ca_provider_rule_t *settable = NULL, *self = NULL;
    int others = 0, i;

    for (i = 0; i < rules->nelts; i++) {
        const ca_provider_rule_t *r =
            &APR_ARRAY_IDX(rules, i, ca_provider_rule_t);

        if (r->kind == CA_RULE_FIELD || r->kind == CA_RULE_CONTAINS) {
            if (settable == NULL) {
                settable = r;
            }
        }
        else if (r->kind == CA_RULE_SELF) {
            self = r;
        }
        else {
            others++;           /* connection, parent */
        }
    }

    for (i = 0; i < rules->nelts; i++) {
        const ca_provider_rule_t *r =
            &APR_ARRAY_IDX(rules, i, ca_provider_rule_t);
        const char *path = rule_path(ctx, r), *got;
        ca_json_t *n, *e;
        apr_status_t rv;

        if (r->kind == CA_RULE_CONNECTION || r->kind == CA_RULE_PARENT) {
            continue;
        }
        /* an id field only speaks for the scope when it is the only way */
        if (r->kind == CA_RULE_SELF && (settable != NULL || others > 0)) {
            continue;
        }
        rv = ca_json_lookup(root, path, &n);
        if (rv == APR_NOTFOUND) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            return violation(p, out, path, perr, "duplicated key");
        }
        if (r->kind == CA_RULE_CONTAINS) {
            int count = 0;

            if (ca_json_type(n) != CA_JSON_ARRAY) {
                return violation(p, out, path, perr, apr_psprintf(p,
                                 "must be an array holding only the "
                                 "endpoint's %s id", what));
            }
            CA_JSON_FOREACH(e, n) {
                got = value_id(p, e, r->numeric);
                if (got == NULL || strcmp(got, want) != 0) {
                    return violation(p, out, path, perr, apr_psprintf(p,
                                     "must hold only the endpoint's %s id",
                                     what));
                }
                count++;
            }
            if (count == 0 && op == CA_SCOPE_WRITE_UPDATE) {
                return violation(p, out, path, perr, apr_psprintf(p,
                                 "must hold the endpoint's %s id", what));
            }
            continue;
        }
        got = value_id(p, n, r->numeric);
        if (got == NULL || strcmp(got, want) != 0) {
            return violation(p, out, path, perr, apr_psprintf(p,
                             "must be the endpoint's %s id", what));
        }
    }

    if (op == CA_SCOPE_WRITE_UPDATE) {
        return APR_SUCCESS;
    }
    if (settable != NULL) {
        ca_json_t *n;

        if (ca_json_lookup(root, settable->path, &n) == APR_SUCCESS
            && !(settable->kind == CA_RULE_CONTAINS && ca_json_size(n) == 0)) {
            return APR_SUCCESS;         /* present and checked above */
        }
        if (set_path(p, root, settable->path, want, settable->numeric,
                     settable->kind == CA_RULE_CONTAINS) < 0) {
            return violation(p, out, settable->path, perr,
                             "cannot be set (a value on the way is not an "
                             "object)");
        }
        return APR_SUCCESS;
    }
    if (self != NULL && others == 0 && op == CA_SCOPE_WRITE_CREATE) {
        return violation(p, out, ctx->res->name, perr, apr_psprintf(p,
                         "a %s-scoped endpoint cannot create %s (the new "
                         "record would be outside its scope)", what,
                         ctx->res->name));
    }
    return APR_SUCCESS;
}

static apr_status_t enforce_parent(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                                   ca_scope_write_e op, ca_json_t *root,
                                   ca_scope_write_t *out, const char **perr)
{
    const ca_provider_parent_t *pa = ctx->res->parent;
    int numeric = ctx->prov->numeric_ids;
    const char *ref;
    ca_json_t *n;
    apr_status_t rv;

    if (pa == NULL || pa->field == NULL) {
        if (op == CA_SCOPE_WRITE_CREATE && ctx->parent_id == NULL) {
            return violation(p, out, ctx->res->name, perr,
                             "can only be created under a parent record");
        }
        return APR_SUCCESS;
    }
    rv = ca_json_lookup(root, pa->field, &n);
    if (rv == APR_SUCCESS) {
        ref = value_id(p, n, numeric);
        if (ref == NULL) {
            return violation(p, out, pa->field, perr, "must be the id of a "
                             "parent record in the endpoint's scope");
        }
        if (ctx->parent_id != NULL && strcmp(ref, ctx->parent_id) != 0) {
            return violation(p, out, pa->field, perr,
                             "must be the parent record's id");
        }
        out->parent_id = ref;
        return APR_SUCCESS;
    }
    if (rv != APR_NOTFOUND) {
        return violation(p, out, pa->field, perr, "duplicated key");
    }
    if (ctx->parent_id != NULL && op != CA_SCOPE_WRITE_UPDATE) {
        if (set_path(p, root, pa->field, ctx->parent_id, numeric, 0) < 0) {
            return violation(p, out, pa->field, perr, "cannot be set");
        }
        out->parent_id = ctx->parent_id;
        return APR_SUCCESS;
    }
    if (op == CA_SCOPE_WRITE_CREATE) {
        return violation(p, out, pa->field, perr, apr_psprintf(p,
                         "required (the %s record this belongs to)",
                         pa->resource_name));
    }
    return APR_SUCCESS;
}

apr_status_t ca_scope_write_body(apr_pool_t *p, const ca_scope_ctx_t *ctx,
                                 ca_scope_write_e op,
                                 const char *body, apr_size_t len,
                                 ca_scope_write_t *out, const char **perr)
{
    ca_json_limits_t lim = { 0, 0 };
    ca_json_doc_t *doc;
    ca_json_t *root;
    const char *jerr = NULL;
    apr_status_t rv;
    char *txt;

    memset(out, 0, sizeof(*out));
    rv = check_ctx(p, ctx, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (op != CA_SCOPE_WRITE_CREATE && op != CA_SCOPE_WRITE_UPDATE
        && op != CA_SCOPE_WRITE_REPLACE) {
        if (perr) {
            *perr = "unknown write operation";
        }
        return APR_EINVAL;
    }
    rv = ca_json_parse(p, body, len, ctx->limits ? ctx->limits : &lim, &doc,
                       &jerr);
    if (rv != APR_SUCCESS) {
        if (perr) {
            *perr = apr_psprintf(p, "request body: %s", jerr);
        }
        return rv == APR_ENOMEM ? rv : APR_EINVAL;
    }
    root = ca_json_doc_root(doc);
    if (ca_json_type(root) != CA_JSON_OBJECT) {
        if (perr) {
            *perr = "request body must be a JSON object";
        }
        return APR_EINVAL;
    }
    if (ca_json_doc_has_nul(doc)) {
        if (perr) {
            *perr = "request body: strings must not contain \\u0000";
        }
        return APR_EINVAL;
    }

    rv = enforce_set(p, ctx, op, root, ctx->res->company_rules,
                     ctx->scope->company_id, "company", out, perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (ctx->scope->kind == CA_SCOPE_CLIENT) {
        if (ctx->res->client_rules == NULL
            || ctx->res->client_rules->nelts == 0) {
            return violation(p, out, ctx->res->name, perr,
                             "not available to client-scoped endpoints");
        }
        rv = enforce_set(p, ctx, op, root, ctx->res->client_rules,
                         ctx->scope->client_id, "client", out, perr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (uses_parent(ctx)) {
        rv = enforce_parent(p, ctx, op, root, out, perr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }

    txt = ca_json_print(p, root);
    if (txt == NULL) {
        if (perr) {
            *perr = "out of memory";
        }
        return APR_ENOMEM;
    }
    out->body = txt;
    out->body_len = strlen(txt);
    return APR_SUCCESS;
}
