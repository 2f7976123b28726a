"""Record actions on the pages and in the API: the customer pool and lead conversion.

The buttons appear where the service would allow them, run through it, and say what
happened (or why nothing was done) on the page they came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.records.access import Actor
from web import records_support
from web.records_support import add, csrf_token, service, user_id
from web.test_api import Api, token_for

sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]
API = "/api/v1/crm_sfa/customer/records"
PAGES = "/crm_sfa/customer"


def pooled(app: Flask, name: str = "Acme") -> dict[str, Any]:
    return service(app).create(
        Actor.system(), "customer", {"name": name, "owner": None, "in_pool": True}
    )


def api(app: Flask, client: FlaskClient, username: str) -> Api:
    return Api(client, token_for(app, username))


def post(client: FlaskClient, path: str, page: str, **data: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


# pages --------------------------------------------------------------------------------


def test_a_rep_sees_a_claim_button_on_a_pool_customer(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = pooled(app)
    sign_in("rep1")
    page = client.get(f"{PAGES}/{customer['id']}").text
    assert f"{PAGES}/{customer['id']}/do/claim" in page
    assert f"{PAGES}/{customer['id']}/edit" not in page


def test_claiming_from_the_page_makes_the_rep_the_owner(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = pooled(app)
    sign_in("rep1")
    page = f"{PAGES}/{customer['id']}"
    done = post(client, f"{page}/do/claim", page)
    assert done.status_code == 302
    assert "Done: Claim" in client.get(done.location).text
    assert service(app).get(Actor.system(), "customer", customer["id"])["owner"] == user_id(
        app, "rep1"
    )


def test_an_action_with_inputs_asks_them_first(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("rep1")
    asked = client.get(f"{PAGES}/{customer['id']}/do/return_to_pool")
    assert asked.status_code == 200
    assert 'name="reason"' in asked.text


def test_a_missing_input_is_asked_again_with_its_problem(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("rep1")
    address = f"{PAGES}/{customer['id']}/do/return_to_pool"
    again = post(client, address, address, _asked="1", reason="")
    assert again.status_code == 422
    assert 'class="error"' in again.text
    assert service(app).get(Actor.system(), "customer", customer["id"])["owner"] is not None


def test_returning_with_a_reason_puts_the_customer_in_the_pool(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("rep1")
    address = f"{PAGES}/{customer['id']}/do/return_to_pool"
    post(client, address, address, _asked="1", reason="No budget this year")
    returned = service(app).get(Actor.system(), "customer", customer["id"])
    assert (returned["owner"], returned["in_pool"], returned["pool_reason"]) == (
        None,
        True,
        "No budget this year",
    )
    assert returned["previous_owner"] == user_id(app, "rep1")


def test_a_refusal_names_the_field_by_its_label(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("rep1")
    address = f"{PAGES}/{customer['id']}/do/return_to_pool"
    post(client, address, address, _asked="1", reason="No budget this year")
    page = f"{PAGES}/{customer['id']}"
    refused = post(client, f"{page}/do/claim", page)  # within the pool's cool-down
    told = client.get(refused.location).text
    assert "Nothing was done: Owner: " in told
    assert "owner: " not in told


def test_the_list_claims_the_selected_customers(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    first, second = pooled(app, "Acme"), pooled(app, "Beta")
    sign_in("rep1")
    listing = client.get(f"{PAGES}/").text
    assert 'data-bulk-action="claim"' in listing
    done = post(client, f"{PAGES}/do/claim", f"{PAGES}/", ids=[first["id"], second["id"]])
    assert done.status_code == 302
    owners = {service(app).get(Actor.system(), "customer", c["id"])["owner"] for c in (first, second)}  # fmt: skip
    assert owners == {user_id(app, "rep1")}


@pytest.mark.parametrize("sent", ["/\t/evil.example", "/\n/evil.example"])
def test_the_address_to_return_to_stays_on_the_site(
    client: FlaskClient, sign_in: Login, sent: str
) -> None:
    sign_in("rep1")
    done = post(client, f"{PAGES}/do/claim", f"{PAGES}/", _next=sent)
    assert done.status_code == 302
    assert done.location == f"{PAGES}/"


def test_the_daily_limit_is_told_on_the_page(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customers = [pooled(app, f"Pooled {n}") for n in range(11)]
    sign_in("rep1")
    post(client, f"{PAGES}/do/claim", f"{PAGES}/", ids=[c["id"] for c in customers[:10]])
    page = f"{PAGES}/{customers[10]['id']}"
    refused = post(client, f"{page}/do/claim", page)
    assert "at most 10 times a day" in client.get(refused.location).text


def test_a_converted_lead_offers_no_edit_button(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    lead = add(app, "rep1", "lead", company="Acme", contact_name="Li Lei", source="website")
    sign_in("rep1")
    address = f"/crm_sfa/lead/{lead['id']}/do/convert"
    done = post(
        client, address, address, _asked="1", amount="1000", expected_close_date="2026-12-31"
    )
    assert done.status_code == 302, done.text
    page = client.get(f"/crm_sfa/lead/{lead['id']}").text
    assert f"/crm_sfa/lead/{lead['id']}/edit" not in page
    assert "/do/convert" not in page


# the API ------------------------------------------------------------------------------


def test_the_api_lists_a_form_s_actions_beside_the_workflow_s(
    app: Flask, client: FlaskClient
) -> None:
    customer = pooled(app)
    listed = api(app, client, "rep1").get(f"{API}/{customer['id']}/actions")
    assert listed.status_code == 200
    assert [(a["key"], a["kind"]) for a in listed.json["data"]] == [("claim", "form")]


def test_the_api_claims_and_says_what_changed(app: Flask, client: FlaskClient) -> None:
    customer = pooled(app)
    done = api(app, client, "rep1").post(f"{API}/{customer['id']}/actions/claim")
    assert done.status_code == 200, done.json
    assert done.json["records"] == [customer["id"]]
    assert done.json["changes"][0]["action"] == "update_records"


def test_the_api_reports_a_reached_limit_as_a_conflict(app: Flask, client: FlaskClient) -> None:
    rep = api(app, client, "rep1")
    for n in range(10):
        assert rep.post(f"{API}/{pooled(app, f'P{n}')['id']}/actions/claim").status_code == 200
    refused = rep.post(f"{API}/{pooled(app, 'P10')['id']}/actions/claim")
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "action_limit"


def test_the_api_checks_an_action_s_inputs(app: Flask, client: FlaskClient) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    refused = api(app, client, "rep1").post(
        f"{API}/{customer['id']}/actions/return_to_pool", json={"inputs": {}}
    )
    assert refused.status_code == 422
    assert list(refused.json["error"]["fields"]) == ["reason"]


def test_the_api_refuses_an_action_whose_condition_is_false(
    app: Flask, client: FlaskClient
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    refused = api(app, client, "rep1").post(f"{API}/{customer['id']}/actions/claim")
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "action_not_available"


def test_the_api_cannot_set_the_pool_flag_by_editing(app: Flask, client: FlaskClient) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    refused = api(app, client, "rep1").patch(
        f"{API}/{customer['id']}", json={"owner": None, "in_pool": True, "version": 1}
    )
    assert refused.status_code == 422
    assert set(refused.json["error"]["fields"]) == {"owner", "in_pool"}
