"""Pages and links that fill: choosing a contract on an invoice shows its customer, amount
and what is left to invoice at once (the conditions endpoint answers with them), the
customer is no input of its own, and a transfer's customer picker lists only the
from-owner's customers."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web import records_support
from web.records_support import add, send, service, user_id
from web.test_api import Api, token_for

sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]


def approved_contract(app: Flask, company: str) -> dict[str, object]:
    customer = add(app, "rep1", "customer", name=company)
    values = {"name": f"{company} 合同", "customer": customer["id"], "amount": "1000"}
    rep = records_support.actor(app, "rep1")
    return service(app).create(rep, "contract", {**values, "status": "approved"}, grant={"status"})


def test_an_invoice_page_has_no_customer_input(client: FlaskClient, sign_in: Login) -> None:
    sign_in("rep1")
    page = client.get("/crm_sfa/invoice/new").text
    assert not re.search(r'name="customer"', page)
    assert 'data-field="customer"' in page
    assert 'hx-get="/crm_sfa/invoice/lookup/contract"' in page


def test_choosing_a_contract_shows_what_it_fills_and_looks_up(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    contract = approved_contract(app, "Acme")
    sign_in("rep1")
    answer = send(
        client,
        "/crm_sfa/invoice/conditions",
        {"contract": str(contract["id"])},
        page="/crm_sfa/invoice/new",
    )
    assert answer.status_code == 200
    values = answer.json["values"]
    assert values["customer"] == "Acme"
    assert "1,000" in values["contract_amount"]
    assert "1,000" in values["left_to_invoice"]


def test_a_contract_the_user_may_not_read_fills_nothing(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    contract = approved_contract(app, "Acme")
    sign_in("rep2")
    answer = send(
        client,
        "/crm_sfa/invoice/conditions",
        {"contract": str(contract["id"])},
        page="/crm_sfa/invoice/new",
    )
    assert answer.status_code == 200
    assert answer.json["values"]["customer"] == ""
    assert answer.json["values"]["contract_amount"] == ""


INVOICE = {"amount": "10", "invoice_title": "Acme", "invoice_type": "vat_general"}


def test_saving_a_link_to_a_record_the_user_may_not_read_does_not_tell_what_it_fills(
    app: Flask, client: FlaskClient
) -> None:
    contract = approved_contract(app, "Acme")
    api = Api(client, token_for(app, "rep2"))
    answer = api.post(
        "/api/v1/crm_sfa/invoice/records", json={**INVOICE, "contract": contract["id"]}
    )
    assert answer.status_code == 422
    assert set(answer.json["error"]["fields"]) == {"contract"}


def test_a_guess_at_what_an_unreadable_link_fills_is_not_checked_against_it(
    app: Flask, client: FlaskClient
) -> None:
    contract = approved_contract(app, "Acme")
    api = Api(client, token_for(app, "rep2"))
    guess = {**INVOICE, "contract": contract["id"], "customer": contract["customer"] + 1}
    answer = api.post("/api/v1/crm_sfa/invoice/records", json=guess)
    assert answer.status_code == 422
    assert "filled" not in {p["code"] for p in answer.json["error"]["fields"].get("customer", [])}


def test_the_transfer_picker_sends_the_from_owner(client: FlaskClient, sign_in: Login) -> None:
    sign_in("rep1")
    page = client.get("/crm_sfa/transfer_request/new").text
    assert 'hx-include="[name=from_owner]"' in page


def test_the_transfer_picker_lists_only_the_from_owners_customers(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep1", "customer", name="Acme")
    add(app, "rep2", "customer", name="Globex")
    sign_in("admin")
    lookup = "/crm_sfa/transfer_request/lookup/customers.customer"
    narrowed = client.get(lookup, query_string={"from_owner": user_id(app, "rep1"), "q": ""})
    assert "Acme" in narrowed.text
    assert "Globex" not in narrowed.text


def test_a_payment_page_shows_the_contracts_customer_and_owner(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    contract = approved_contract(app, "Acme")
    sign_in("finance")
    page = client.get("/crm_sfa/payment/new")
    assert page.status_code == 200
    assert not re.search(r'name="owner"', page.text)
    answer = send(
        client,
        "/crm_sfa/payment/conditions",
        {"contract": str(contract["id"])},
        page="/crm_sfa/payment/new",
    )
    values = answer.json["values"]
    assert values["customer"] == "Acme"
    assert values["owner"]  # the rep's name
    assert "1,000" in values["contract_outstanding"]
