"""Field rules hold through the pages and the API: a sales rep cannot hand a customer on,
change a workflow's state or a read-only field, and never sees a field hidden from reps."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.records.access import Actor
from web import records_support
from web.records_support import add, send, service, user_id
from web.test_api import Api, token_for

sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]
API = "/api/v1/crm_sfa"


def api(app: Flask, client: FlaskClient, username: str) -> Api:
    return Api(client, token_for(app, username))


def codes(response: Any) -> dict[str, list[str]]:
    fields = response.json["error"]["fields"]
    return {key: [problem["code"] for problem in found] for key, found in fields.items()}


def test_a_rep_edit_page_has_no_owner_input_and_a_sent_owner_changes_nothing(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("rep1")
    path = f"/crm_sfa/customer/{customer['id']}"
    assert 'name="owner"' not in client.get(f"{path}/edit").text
    saved = send(
        client,
        f"{path}/edit",
        {"version": "1", "name": "Acme", "status": "potential", "owner": user_id(app, "rep2")},
    )
    assert saved.status_code == 302, saved.text
    assert service(app).get(Actor.system(), "customer", customer["id"])["owner"] == user_id(
        app, "rep1"
    )


LEAD = {"company": "Acme", "contact_name": "Li Lei", "source": "website"}


def test_a_manager_edit_page_offers_the_owner(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    lead = add(app, "rep1", "lead", **LEAD)
    sign_in("manager")
    assert 'name="owner"' in client.get(f"/crm_sfa/lead/{lead['id']}/edit").text


def test_a_rep_cannot_hand_a_lead_on_through_the_api(app: Flask, client: FlaskClient) -> None:
    lead = add(app, "rep1", "lead", **LEAD)
    rep = api(app, client, "rep1")
    for owner in (user_id(app, "rep2"), None):
        refused = rep.patch(f"{API}/lead/records/{lead['id']}", json={"owner": owner, "version": 1})
        assert refused.status_code == 422
        assert codes(refused) == {"owner": ["reassign"]}


def test_a_manager_hands_a_lead_on_through_the_api(app: Flask, client: FlaskClient) -> None:
    lead = add(app, "rep1", "lead", **LEAD)
    moved = api(app, client, "manager").patch(
        f"{API}/lead/records/{lead['id']}", json={"owner": user_id(app, "rep3"), "version": 1}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json["owner"] == user_id(app, "rep3")


def test_nobody_changes_a_customer_s_owner_by_editing(app: Flask, client: FlaskClient) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    for who in ("rep1", "manager"):
        refused = api(app, client, who).patch(
            f"{API}/customer/records/{customer['id']}",
            json={"owner": user_id(app, "rep3"), "version": 1},
        )
        assert refused.status_code == 422
        assert codes(refused) == {"owner": ["read_only"]}


def test_the_customer_edit_page_offers_no_owner(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("manager")
    assert 'name="owner"' not in client.get(f"/crm_sfa/customer/{customer['id']}/edit").text


def test_no_one_sets_the_contract_approval_state_by_hand(app: Flask, client: FlaskClient) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    refused = api(app, client, "rep1").post(
        f"{API}/contract/records",
        json={"name": "Deal", "customer": customer["id"], "amount": "100", "status": "approved"},
    )
    assert refused.status_code == 422
    assert codes(refused) == {"status": ["workflow_owned"]}


def test_a_read_only_field_is_refused_through_the_api(app: Flask, client: FlaskClient) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    refused = api(app, client, "rep1").patch(
        f"{API}/customer/records/{customer['id']}", json={"in_pool": True, "version": 1}
    )
    assert refused.status_code == 422
    assert codes(refused) == {"in_pool": ["read_only"]}


def floor_priced_product(app: Flask) -> dict[str, Any]:
    return service(app).create(
        Actor.system(),
        "product",
        {
            "code": "SW-1",
            "name": "Seat",
            "category": "software",
            "list_price": "1000",
            "floor_price": "777.77",
        },
    )


def test_a_field_hidden_from_reps_is_in_no_page_they_open(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    product = floor_priced_product(app)
    sign_in("rep1")
    pages = [
        "/crm_sfa/product/",
        f"/crm_sfa/product/{product['id']}",
        "/crm_sfa/product/?sort=floor_price",
        f"/crm_sfa/product/?q={product['code']}",
    ]
    for page in pages:
        response = client.get(page)
        body = response.text
        assert response.status_code == 200, page
        assert "777.77" not in body, page
        assert "Floor price" not in body, page


def test_a_field_hidden_from_reps_is_in_no_api_response(app: Flask, client: FlaskClient) -> None:
    product = floor_priced_product(app)
    rep = api(app, client, "rep1")
    one = rep.get(f"{API}/product/records/{product['id']}")
    listed = rep.get(f"{API}/product/records")
    history = rep.get(f"{API}/product/records/{product['id']}/history")
    for response in (one, listed, history):
        assert response.status_code == 200
        assert "777.77" not in response.text
        assert "floor_price" not in response.text
    probe = rep.get(
        f"{API}/product/records",
        query_string={"filter": '{"field": "floor_price", "op": "gt", "value": 700}'},
    )
    assert probe.status_code == 400
    assert "777.77" not in probe.text


def test_a_manager_sees_the_field_hidden_from_reps(app: Flask, client: FlaskClient) -> None:
    product = floor_priced_product(app)
    one = api(app, client, "manager").get(f"{API}/product/records/{product['id']}")
    assert one.json["floor_price"] == "777.77"


def test_a_rep_s_probes_of_a_hidden_field_tell_nothing_on_the_pages(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    floor_priced_product(app)
    sign_in("rep1")
    right, wrong = (client.get(f"/crm_sfa/product/?f.floor_price={v}") for v in ("777.77", "1"))
    assert ("SW-1" in right.text) == ("SW-1" in wrong.text)  # the guess tells nothing
    probes = [
        "/crm_sfa/product/?sort=-floor_price",
        "/crm_sfa/product/?columns=code&columns=floor_price",
        "/crm_sfa/product/export.csv",
        "/crm_sfa/product/export.xlsx",
        "/crm_sfa/product/export.csv?sort=floor_price",
        "/crm_sfa/product/export.csv?columns=floor_price",
    ]
    for page in probes:
        response = client.get(page)
        assert response.status_code in (200, 400), page
        found = response.data.find(b"777.77")
        assert found == -1, (page, response.data[found - 300 : found + 50])
        assert b"Floor price" not in response.data, page


def test_a_rep_s_probes_of_a_hidden_field_tell_nothing_through_the_api(
    app: Flask, client: FlaskClient
) -> None:
    floor_priced_product(app)
    rep = api(app, client, "rep1")
    oracle = '{"field": "floor_price", "op": "eq", "value": "777.77"}'
    probes = [
        rep.get(f"{API}/product/records", query_string={"fields": "code,floor_price"}),
        rep.get(f"{API}/product/records", query_string={"sort": "-floor_price"}),
        rep.post(f"{API}/product/search", json={"filter": json.loads(oracle)}),
        rep.get(f"{API}/product/export", query_string={"format": "csv"}),
        rep.get(f"{API}/product/export", query_string={"format": "csv", "filter": oracle}),
        rep.get(f"{API}/product/export", query_string={"format": "xlsx", "sort": "floor_price"}),
    ]
    for response in probes:
        assert response.status_code in (200, 400), response.request.url
        assert b"777.77" not in response.data, response.request.url
        assert b"floor_price" not in response.data or response.status_code == 400


def test_a_rep_s_misspelt_keys_are_not_answered_with_a_hidden_field_s_name(
    app: Flask, client: FlaskClient
) -> None:
    rep = api(app, client, "rep1")
    probes = [
        rep.get(f"{API}/product/records", query_string={"fields": "code,floor_pric"}),
        rep.get(f"{API}/product/records", query_string={"sort": "floor_pric"}),
        rep.post(f"{API}/product/search", json={"fields": "code,floor_pric"}),
        rep.post(f"{API}/product/search", json={"sort": "-floor_pric"}),
        rep.post(
            f"{API}/product/search",
            json={"filter": {"field": "floor_pric", "op": "gt", "value": 1}},
        ),
    ]
    for response in probes:
        assert response.status_code == 400, response.request.url
        assert "floor_price" not in response.text, response.text
