"""The API as a client written from the docs and the OpenAPI document alone sees it, and as
a caller sending what no client should: every answer says what a program needs to go on
(the version a conflict is at, the parameter at fault), in one bounded JSON shape."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.records.access import Actor
from formflow.web import api
from support import ROOT
from web.test_api import CUSTOMERS, OPPORTUNITY, Api, admin, api_as, new_customer
from web.test_api_workflows import CONTRACTS, a_contract

__all__ = ["admin", "api_as"]  # fixtures

OPPORTUNITIES = "/api/v1/crm_sfa/opportunity/records"
PRODUCTS = "/api/v1/crm_sfa/product/records"
DOCUMENT = "/api/v1/openapi.json"


# conflicts ------------------------------------------------------------------------


def test_a_stale_update_says_which_version_the_record_is_at(admin: Api) -> None:
    path = f"{CUSTOMERS}/{new_customer(admin)['id']}"
    assert admin.patch(path, json={"short_name": "A", "version": 1}).status_code == 200
    stale = admin.patch(path, json={"short_name": "B", "version": 1})
    assert stale.status_code == 409
    assert stale.json["error"]["code"] == "stale_record"
    assert stale.json["error"]["version"] == 2


def test_a_stale_if_match_says_which_version_the_record_is_at(admin: Api) -> None:
    path = f"{CUSTOMERS}/{new_customer(admin)['id']}"
    assert admin.patch(path, json={"short_name": "A", "version": 1}).status_code == 200
    stale = admin.patch(path, json={"short_name": "B"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json["error"]["version"] == 2


def test_a_stale_delete_says_which_version_the_record_is_at(admin: Api) -> None:
    path = f"{CUSTOMERS}/{new_customer(admin)['id']}"
    stale = admin.delete(path, query_string={"version": 7})
    assert stale.status_code == 409
    assert stale.json["error"]["version"] == 1


def test_the_document_gives_a_conflicts_version(admin: Api) -> None:
    error = admin.get(DOCUMENT).json["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["properties"]["version"]["type"] == "integer"


# filters as the docs give them ----------------------------------------------------


def new_opportunity(api: Api, stage: str) -> dict[str, Any]:
    customer = new_customer(api, name=f"Buyer in {stage}")
    response = api.post(
        OPPORTUNITIES, json={**OPPORTUNITY, "customer": customer["id"], "stage": stage}
    )
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json
    return record


def test_the_ever_operator_works_through_the_api(admin: Api) -> None:
    record = new_opportunity(admin, "proposal")
    path = f"{OPPORTUNITIES}/{record['id']}"
    assert admin.patch(path, json={"stage": "negotiation", "version": 1}).status_code == 200
    new_opportunity(admin, "needs_analysis")
    ever = {"field": "stage", "op": "ever", "value": ["proposal"]}
    page = admin.get(OPPORTUNITIES, query_string={"filter": json.dumps(ever)})
    assert page.status_code == 200, page.text
    assert [row["id"] for row in page.json["data"]] == [record["id"]]


def test_the_document_lists_ever_for_a_stage_field_whose_history_is_kept(admin: Api) -> None:
    schemas = admin.get(DOCUMENT).json["components"]["schemas"]
    titles = {alternative.get("title") for alternative in schemas_of(schemas, "Condition")}
    assert "CrmSfa_Opportunity_Where_Stage_Ever" in titles
    assert "CrmSfa_Opportunity_Where_Rating_Ever" not in titles  # no history kept


def schemas_of(schemas: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = schemas[f"CrmSfa_Opportunity_{name}"]["anyOf"]
    return found


def test_ever_on_a_field_without_history_is_an_invalid_query(admin: Api) -> None:
    ever = {"field": "rating", "op": "ever", "value": ["hot"]}
    page = admin.get(OPPORTUNITIES, query_string={"filter": json.dumps(ever)})
    assert page.status_code == 400
    assert page.json["error"] == {**page.json["error"], "code": "invalid_query", "field": "rating"}


# answers of a bounded size ----------------------------------------------------------


def test_thousands_of_unknown_keys_get_an_answer_of_bounded_size(admin: Api) -> None:
    body = {"name": "Acme Ltd", **{f"k{n}": 1 for n in range(5000)}}
    response = admin.post(CUSTOMERS, json=body)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    assert len(response.data) < 20_000
    assert 0 < len(error["fields"]) <= 50
    assert all(
        problem["code"] == "unknown_field" for p in error["fields"].values() for problem in p
    )
    assert "4950" in error["message"]  # how many more were left out


def test_a_huge_unknown_key_is_not_echoed_whole(admin: Api) -> None:
    response = admin.post(CUSTOMERS, json={"name": "Acme Ltd", "k" * 100_000: 1})
    assert response.status_code == 422
    assert len(response.data) < 5_000
    (key,) = response.json["error"]["fields"]
    assert key.startswith("kkk")
    assert len(key) <= 201


def test_a_few_problems_are_all_named(admin: Api) -> None:
    response = admin.post(CUSTOMERS, json={"level": "Z", "colour": "red"})
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"level", "colour", "name"}


# values as a client may write them ------------------------------------------------


@pytest.mark.parametrize("zero", ["-0", "-0.00", "-0.0"])
def test_a_negative_zero_is_stored_as_zero(admin: Api, zero: str) -> None:
    start = '{"code": "Z-1", "name": "Free", "category": "software", "list_price": '
    for sent in (start + zero + "}", start + json.dumps(zero) + "}"):
        response = admin.post(PRODUCTS, data=sent, headers={"Content-Type": "application/json"})
        assert response.status_code == 201, response.text
        assert response.json["list_price"] == "0.00"
        admin.delete(f"{PRODUCTS}/{response.json['id']}")


# an invalid query names the parameter at fault --------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1000000000"}, "limit"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"cursor": "bm90IGEgY3Vyc29y", "offset": "5"}, "cursor"),
        ({"search": "x" * 201}, "search"),
        ({"filter": '{"and": {}}'}, "filter"),
        ({"filter": '{"and": [], "or": []}'}, "filter"),
        ({"filter": '{"and": [1]}'}, "filter"),
        ({"filter": '{"not": ' * 12 + '{"field": "name", "op": "is_empty"}' + "}" * 12}, "filter"),
    ],
)
def test_an_invalid_query_names_the_parameter_at_fault(
    admin: Api, query: dict[str, str], parameter: str
) -> None:
    response = admin.get(CUSTOMERS, query_string=query)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_query"
    assert response.json["error"].get("field") == parameter


def test_a_damaged_cursor_sent_in_a_search_body_names_the_cursor(admin: Api) -> None:
    response = admin.post("/api/v1/crm_sfa/customer/search", json={"cursor": "bm90IGEgY3Vyc29y"})
    assert response.status_code == 400
    assert response.json["error"]["field"] == "cursor"


# the docs, read by an integrator ----------------------------------------------------


def test_the_search_body_takes_the_members_the_docs_name(admin: Api) -> None:
    docs = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    sentence = docs.split("Send the same query as a JSON body instead; it", 1)[1]
    sentence = sentence.split("answers exactly as the list does", 1)[0]
    named = re.findall(r"`([a-z_]+)`", sentence)
    assert "filter" in named
    schema = admin.get(DOCUMENT).json["components"]["schemas"]["CrmSfa_Customer_Search"]
    assert set(named) == set(schema["properties"])


def test_delegations_can_be_narrowed_to_an_app_as_the_docs_say(admin: Api) -> None:
    response = admin.get("/api/v1/delegations", query_string={"app": "crm_sfa"})
    assert response.status_code == 200, response.text
    assert response.json == {"data": []}


def test_every_endpoint_takes_the_query_parameters_the_document_gives(app: Flask) -> None:
    """A parameter the document offers but the endpoint refuses as unknown breaks a client
    generated from the document."""
    document = app.test_client().get(DOCUMENT).json
    adapter = app.url_map.bind("localhost")
    for path, operations in document["paths"].items():
        concrete = "/api/v1" + re.sub(r"\{[a-z_]+\}", "1", path)
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            endpoint, _args = adapter.match(concrete, method=method.upper())
            listed = [*operations.get("parameters", []), *operation.get("parameters", [])]
            resolved = [resolve(document, parameter) for parameter in listed]
            offered = {p["name"] for p in resolved if p["in"] == "query"}
            taken = api._PARAMETERS.get(endpoint, frozenset())
            assert offered <= taken, (method, path, endpoint)


def resolve(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in item:
        return item
    found: dict[str, Any] = document
    for part in item["$ref"].removeprefix("#/").split("/"):
        found = found[part]
    return found


# dashboards' filters ----------------------------------------------------------------

MY_SALES = "/api/v1/crm_sfa/dashboards/my_sales"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"to": "31/12/2026"}, "to"),
        ({"from": "20260101"}, "from"),
        ({"from": "2026-12-31", "to": "2026-01-01"}, "from"),
        ({"owner": "abc"}, "owner"),
        ({"department": "99999999999999999999999"}, "department"),
    ],
)
def test_a_dashboard_filter_that_does_not_parse_is_refused_not_ignored(
    admin: Api, query: dict[str, str], parameter: str
) -> None:
    """Ignored, it would answer with the figures of everyone and every day, as if narrowed."""
    for path in (MY_SALES, f"{MY_SALES}/widgets/won_month"):
        response = admin.get(path, query_string=query)
        assert response.status_code == 400, (path, response.text)
        assert response.json["error"]["code"] == "invalid_query"
        assert response.json["error"]["field"] == parameter


def test_a_dashboard_takes_a_range_of_days(admin: Api) -> None:
    response = admin.get(MY_SALES, query_string={"from": "2026-01-01", "to": "2026-12-31"})
    assert response.status_code == 200, response.text


# a body read as the client meant it ------------------------------------------------

SEARCH = "/api/v1/crm_sfa/customer/search"


@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        (CUSTOMERS, '{"name": "Acme Ltd", "phone": "1", "phone": "2"}', "phone"),
        (SEARCH, '{"filter": {"field": "name", "op": "eq", "value": "a", "value": "b"}}', "value"),
    ],
)
def test_a_key_given_twice_is_refused_naming_the_key(
    admin: Api, path: str, body: str, key: str
) -> None:
    """Not the last one winning: a proxy that reads the first would check other values
    than the ones stored."""
    response = admin.post(path, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_json"
    assert key in response.json["error"]["message"]
    assert admin.get(CUSTOMERS).json["data"] == []


def test_the_same_key_in_two_objects_is_no_repeat(admin: Api) -> None:
    body = '{"filter": {"and": [{"field": "name", "op": "eq", "value": "a"}, '
    body += '{"field": "name", "op": "eq", "value": "b"}]}}'
    response = admin.post(SEARCH, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def test_a_member_the_search_body_does_not_take_is_named(admin: Api) -> None:
    response = admin.post(SEARCH, json={"limit": 1, "sorting": "name"})
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "invalid_query"
    assert error["field"] == "sorting"
    assert error["message"].startswith("sorting")


def test_a_member_another_body_does_not_take_is_named_in_its_fields(admin: Api) -> None:
    response = admin.post("/api/v1/tasks/1/decision", json={"decision": "approve", "note": "x"})
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == ["note"]


def test_a_huge_member_the_search_body_does_not_take_is_not_echoed_whole(admin: Api) -> None:
    response = admin.post(SEARCH, json={"limit": 1, "k" * 100_000: 1})
    assert response.status_code == 400
    assert len(response.data) < 5_000


# an action's permission before its input ---------------------------------------------


def test_an_action_the_caller_may_not_run_is_refused_before_its_input_is_read(
    app: Flask, api_as: Any
) -> None:
    """A 422 would tell the caller the shape of an action that is not theirs."""
    records = app.extensions["formflow"].records("crm_sfa")
    pooled = records.create(Actor.system(), "customer", {"name": "Pooled", "owner": None, "in_pool": True})  # fmt: skip
    path = f"{CUSTOMERS}/{pooled['id']}"
    refused = api_as("rep1").post(f"{path}/actions/assign", json={"inputs": {"to": "nobody"}})
    assert refused.status_code == 403, refused.text
    assert refused.json["error"]["code"] == "action_not_available"


def test_a_workflow_button_the_caller_may_not_press_is_refused_before_its_input_is_read(
    app: Flask, api_as: Any
) -> None:
    record_id = a_contract(app)
    rep = api_as("rep1")
    assert rep.post(f"{CONTRACTS}/{record_id}/actions/submit").status_code == 200
    refused = rep.post(f"{CONTRACTS}/{record_id}/actions/approve", json={"values": {"amount": []}})
    assert refused.json["error"]["code"] == "not_submittable", refused.text


# OPTIONS ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CUSTOMERS, "/api/v1/apps", DOCUMENT, f"{CUSTOMERS}/1"])
def test_options_says_which_methods_a_path_takes_and_nothing_else(admin: Api, path: str) -> None:
    response = admin.client.options(path, headers=admin.headers)
    assert response.status_code == 204
    assert response.data == b""
    assert "text/html" not in response.headers.get("Content-Type", "")
    assert "GET" in response.headers["Allow"].split(", ")


def test_options_on_a_form_s_records_lists_reading_and_creating(admin: Api) -> None:
    allowed = admin.client.options(CUSTOMERS, headers=admin.headers).headers["Allow"]
    assert set(allowed.split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_options_needs_a_token_like_any_other_method(client: FlaskClient) -> None:
    response = client.options(CUSTOMERS)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
