#!/usr/bin/env python3
"""Regenerate the broken provider files used by t/unit/test_provider.c.

Each file is a small valid definition (BASE) with exactly one rule broken.
The expected error of each file is in the table of test_provider.c.
Run from this directory: python3 generate.py
"""
import copy
import json

BASE = {
    "format": 1,
    "name": "mini",
    "auth": {"mode": "api_key", "identity": {"path": "/me", "id": "data.id"}},
    "api": {"base_url": "https://api.example.com/v1"},
    "pagination": {"style": "cursor_body", "next_cursor_path": "next"},
    "company_list": {"source": "identity"},
    "resources": {
        "jobs": {
            "list": {"path": "/jobs", "records": "data"},
            "item": {"path": "/jobs/{id}", "record": "data"},
            "scope": {"company": {"kind": "field", "path": "company_id"}},
        }
    },
}

OAUTH = {"mode": "oauth2_code",
         "authorize_url": "https://auth.example.com/authorize",
         "token_url": "https://auth.example.com/token",
         "identity": {"path": "/me", "id": "data.id"}}


def variant(fn):
    d = copy.deepcopy(BASE)
    fn(d)
    return d


def jobs(d):
    return d["resources"]["jobs"]


def graphql_filter_is_variable(d):
    """A GraphQL list whose caller filter would replace one of its variables."""
    d["api"].update(style="graphql", graphql_path="/graphql")
    d["auth"]["identity"] = {"graphql": "query { me { id } }", "id": "data.me.id"}
    d["pagination"] = {"style": "none"}
    d["resources"]["jobs"] = {
        "list": {"graphql": "query($owner: ID) { jobs { id } }",
                 "variables": {"owner": "{company_id}"},
                 "records": "data.jobs"},
        "scope": {"company": {"kind": "connection"}},
        "filters": ["status", "owner"]}


CASES = {
    "unknown_top_key": lambda d: d.update(resorces={}),
    "missing_name": lambda d: d.pop("name"),
    "bad_name": lambda d: d.update(name="Mini-Provider"),
    "wrong_type": lambda d: d.update(display_name=5),
    "format_version": lambda d: d.update(format=2),
    "format_missing": lambda d: d.pop("format"),
    "numeric_ids_type": lambda d: d.update(numeric_ids="yes"),
    "auth_missing": lambda d: d.pop("auth"),
    "auth_mode_unknown": lambda d: d["auth"].update(mode="oauth3"),
    "oauth_no_token_url": lambda d: d.update(auth=dict(
        (k, v) for k, v in OAUTH.items() if k != "token_url")),
    "pkce_no_authorize_url": lambda d: d.update(auth=dict(
        [(k, v) for k, v in OAUTH.items() if k != "authorize_url"]
        + [("mode", "oauth2_code_pkce")])),
    "api_key_with_token_url": lambda d: d["auth"].update(
        token_url="https://auth.example.com/token"),
    "api_key_prefix_on_oauth": lambda d: d.update(
        auth=dict(OAUTH, api_key_prefix="x_")),
    "http_auth_url": lambda d: d.update(
        auth=dict(OAUTH, authorize_url="http://auth.example.com/authorize")),
    "identity_missing": lambda d: d["auth"].pop("identity"),
    "connect_field_reserved": lambda d: d["auth"].update(
        connect_fields=[{"name": "client_id"}]),
    "http_base": lambda d: d["api"].update(base_url="http://api.example.com"),
    "not_https_url": lambda d: d["api"].update(base_url="ftp://api.example.com"),
    "base_with_query": lambda d: d["api"].update(
        base_url="https://api.example.com/v1?x=1"),
    "base_no_host": lambda d: d["api"].update(base_url="https:///v1"),
    "reserved_header": lambda d: d["api"].update(headers={"User-Agent": "x"}),
    "pagination_style": lambda d: d["pagination"].update(style="cursor"),
    "cursor_body_no_path": lambda d: d["pagination"].pop("next_cursor_path"),
    "cursor_header_missing": lambda d: d.update(
        pagination={"style": "cursor_header"}),
    "max_limit_range": lambda d: d["pagination"].update(max_limit=5000),
    "relay_no_cursor_path": lambda d: d.update(pagination={"style": "relay"}),
    "rate_limit_status": lambda d: d.update(rate_limit={"statuses": [200]}),
    "body_code_half": lambda d: d.update(
        rate_limit={"body_code_path": "errors.0.extensions.code"}),
    "company_list_missing": lambda d: d.pop("company_list"),
    "company_list_unknown_resource": lambda d: d.update(
        company_list={"source": "resource", "resource": "nope"}),
    "resources_missing": lambda d: d.pop("resources"),
    "resource_name": lambda d: d.update(resources={"Jobs": jobs(d)}),
    "unknown_resource_key": lambda d: jobs(d).update(scopee={}),
    "no_list_no_item": lambda d: [jobs(d).pop("list"), jobs(d).pop("item")],
    "list_no_records": lambda d: jobs(d)["list"].pop("records"),
    "path_no_slash": lambda d: jobs(d)["list"].update(path="jobs"),
    "unknown_placeholder": lambda d: jobs(d)["item"].update(
        path="/jobs/{jobid}"),
    "unbalanced_brace": lambda d: jobs(d)["item"].update(path="/jobs/{id"),
    "item_without_id": lambda d: jobs(d)["item"].update(path="/jobs/x"),
    "id_in_list_path": lambda d: jobs(d)["list"].update(path="/jobs/{id}"),
    "parent_id_outside_nested": lambda d: jobs(d)["item"].update(
        path="/invoices/{parent_id}/jobs/{id}"),
    "identity_request_placeholder": lambda d: d["auth"]["identity"].update(
        query={"company": "{company_id}"}),
    "method_unknown": lambda d: jobs(d).update(
        create={"method": "FETCH", "path": "/jobs"}),
    "graphql_on_rest": lambda d: jobs(d)["list"].update(graphql="{ jobs }"),
    "variables_on_rest": lambda d: jobs(d)["list"].update(
        variables={"first": "{limit}"}),
    "graphql_missing_query": lambda d: [
        d["api"].update(style="graphql"),
        d["auth"].update(identity={"graphql": "{ me { id } }",
                                   "id": "data.me.id"})],
    "writable_no_ops": lambda d: jobs(d).update(writable=True),
    "scope_missing": lambda d: jobs(d).pop("scope"),
    "scope_company_missing": lambda d: jobs(d).update(scope={}),
    "scope_kind_unknown": lambda d: jobs(d)["scope"]["company"].update(
        kind="fieldd"),
    "field_without_path": lambda d: jobs(d)["scope"]["company"].pop("path"),
    "bad_json_path": lambda d: jobs(d)["scope"]["company"].update(
        path="a..b"),
    "client_connection": lambda d: jobs(d)["scope"].update(
        client={"kind": "connection"}),
    "parent_without_parent": lambda d: jobs(d)["scope"].update(
        company={"kind": "parent"}),
    "parent_unknown_resource": lambda d: jobs(d).update(
        parent={"resource": "invoices", "field": "invoice_id"}),
    "parent_loop": lambda d: d["resources"].update(
        jobs=dict(jobs(d), scope={"company": {"kind": "parent"}},
                  parent={"resource": "visits", "field": "visit_id"}),
        visits=dict(jobs(d), scope={"company": {"kind": "parent"}},
                    parent={"resource": "jobs", "field": "job_id"})),
    "nested_unknown": lambda d: jobs(d).update(
        nested={"files": {"resource": "files"}}),
    "nested_no_path": lambda d: d["resources"].update(
        jobs=dict(jobs(d), nested={"notes": {"resource": "notes"}}),
        notes=copy.deepcopy(jobs(d))),
    "filter_bad_name": lambda d: jobs(d).update(filters=["a b"]),
    "scope_query_client_in_company": lambda d: jobs(d).update(
        scope_query={"company": {"owner": "{client_id}"}}),
    # ---- GraphQL transport options (Jobber) ----
    "endpoint_scopes_unknown": lambda d: d.update(
        endpoint_scopes=["company", "site"]),
    "endpoint_scopes_client_no_list": lambda d: d.update(
        endpoint_scopes=["client"]),
    "endpoint_scopes_empty": lambda d: d.update(endpoint_scopes=[]),
    "endpoint_scopes_twice": lambda d: d.update(
        endpoint_scopes=["company", "company"]),
    "endpoint_scopes_type": lambda d: d.update(endpoint_scopes="client"),
    "throttle_cost_unknown_key": lambda d: d.update(rate_limit={
        "throttle_cost": {"requested": "a", "available": "b",
                          "restore": "c"}}),
    "throttle_cost_missing": lambda d: d.update(rate_limit={
        "throttle_cost": {"requested": "a", "available": "b"}}),
    "graphql_filter_is_variable": lambda d: graphql_filter_is_variable(d),
    "throttle_cost_bad_path": lambda d: d.update(rate_limit={
        "throttle_cost": {"requested": "a..b", "available": "b",
                          "restore_rate": "c"}}),
}

RAW = {
    "duplicate_key": '{"format": 1, "name": "mini", "name": "other"}\n',
    "invalid_json": '{\n  "format": 1,\n  "name": "mini",,\n}\n',
    "not_object": '[1, 2]\n',
    "nul_string": json.dumps(dict(BASE, display_name="a\u0000b"), indent=2)
    + "\n",
}

if __name__ == "__main__":
    for name, fn in CASES.items():
        with open(name + ".json", "w") as f:
            json.dump(variant(fn), f, indent=2)
            f.write("\n")
    for name, text in RAW.items():
        with open(name + ".json", "w") as f:
            f.write(text)
    print(len(CASES) + len(RAW), "files")
