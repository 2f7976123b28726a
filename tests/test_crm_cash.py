"""Stages to cash in the CRM, through the API as reps and finance would call it, on SQLite
and PostgreSQL: the customer of an invoice, a payment or an instalment comes from its
contract and cannot be set to another; an invoice stays within what is left to invoice and
a payment within what is outstanding, however the amount is sent; booked payments mark
their instalment partly received or received; a transfer names only customers the
from-owner holds. Each rule is the record service's, so no client gets past it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from formflow.accounts import tokens
from formflow.records.access import Actor
from formflow.storage.database import write_transaction
from formflow.testing import Sandbox

API = "/api/v1/crm_sfa"


class Api:
    """One user's bearer token sent with every JSON request."""

    def __init__(self, crm: Sandbox, actor: Actor) -> None:
        assert actor.user_id is not None
        with write_transaction(crm.instance.engine) as connection:
            _id, token = tokens.create_token(connection, actor.user_id, "tests")
        self.client: FlaskClient = crm.flask_app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, form: str, body: dict[str, Any]) -> Any:
        return self.client.post(f"{API}/{form}/records", json=body, headers=self.headers)

    def patch(self, form: str, record: dict[str, Any], body: dict[str, Any]) -> Any:
        headers = {**self.headers, "If-Match": f'"{record["version"]}"'}
        path = f"{API}/{form}/records/{record['id']}"
        return self.client.patch(path, json=body, headers=headers)


@pytest.fixture
def finance(crm: Sandbox) -> Actor:
    return crm.add_user("finance", roles=["finance"])


def customer(crm: Sandbox, rep: Actor, name: str = "华信科技有限公司") -> dict[str, Any]:
    return crm.records.create(rep, "customer", {"name": name})


def contract(crm: Sandbox, rep: Actor, amount: str = "1000") -> dict[str, Any]:
    values = {"name": "年度服务合同", "customer": customer(crm, rep)["id"], "amount": amount}
    return crm.records.create(rep, "contract", {**values, "status": "approved"}, grant={"status"})


def invoice_body(contract_id: int, amount: str) -> dict[str, Any]:
    return {
        "contract": contract_id,
        "amount": amount,
        "invoice_type": "vat_general",
        "invoice_title": "华信科技有限公司",
    }


def codes(response: Any, field: str) -> list[str]:
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    return [problem["code"] for problem in error["fields"][field]]


def test_an_invoice_takes_its_customer_from_the_contract(crm: Sandbox, rep: Actor) -> None:
    signed = contract(crm, rep)
    created = Api(crm, rep).post("invoice", invoice_body(signed["id"], "300"))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["customer"] == signed["customer"]
    assert Decimal(body["left_to_invoice"]) == Decimal("700")


def test_an_invoice_for_another_customer_is_refused(crm: Sandbox, rep: Actor) -> None:
    signed = contract(crm, rep)
    elsewhere = customer(crm, rep, "远东物流有限公司")
    body = {**invoice_body(signed["id"], "300"), "customer": elsewhere["id"]}
    assert codes(Api(crm, rep).post("invoice", body), "customer") == ["filled"]


def test_the_same_customer_sent_back_is_accepted(crm: Sandbox, rep: Actor) -> None:
    signed = contract(crm, rep)
    body = {**invoice_body(signed["id"], "300"), "customer": signed["customer"]}
    assert Api(crm, rep).post("invoice", body).status_code == 201


def test_an_invoice_above_what_is_left_to_invoice_is_refused(crm: Sandbox, rep: Actor) -> None:
    signed = contract(crm, rep)
    api = Api(crm, rep)
    assert api.post("invoice", invoice_body(signed["id"], "600")).status_code == 201
    assert codes(api.post("invoice", invoice_body(signed["id"], "400.01")), "amount") == ["rule"]


def test_raising_an_invoice_past_the_contract_is_refused(crm: Sandbox, rep: Actor) -> None:
    signed = contract(crm, rep)
    api = Api(crm, rep)
    first = api.post("invoice", invoice_body(signed["id"], "600")).get_json()
    assert codes(api.patch("invoice", first, {"amount": "1000.01"}), "amount") == ["rule"]


def test_a_payment_takes_customer_and_owner_from_the_contract(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    signed = contract(crm, rep)
    created = Api(crm, finance).post("payment", {"contract": signed["id"], "amount": "100"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["customer"], body["owner"]) == (signed["customer"], rep.user_id)


def test_a_payment_sent_with_its_invoice_alone_takes_the_contract_and_what_it_fills(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    signed = contract(crm, rep)
    invoice = crm.records.create(rep, "invoice", invoice_body(signed["id"], "100"))
    created = Api(crm, finance).post("payment", {"invoice": invoice["id"], "amount": "100"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["contract"], body["customer"], body["owner"]) == (
        signed["id"],
        signed["customer"],
        rep.user_id,
    )


def test_a_payment_for_another_customer_or_owner_is_refused(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    signed = contract(crm, rep)
    elsewhere = customer(crm, rep, "远东物流有限公司")
    api = Api(crm, finance)
    body = {"contract": signed["id"], "amount": "100", "customer": elsewhere["id"]}
    assert codes(api.post("payment", body), "customer") == ["filled"]
    body = {"contract": signed["id"], "amount": "100", "owner": finance.user_id}
    assert codes(api.post("payment", body), "owner") == ["filled"]


def test_a_payment_above_what_is_outstanding_is_refused(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    signed = contract(crm, rep)
    api = Api(crm, finance)
    first = api.post("payment", {"contract": signed["id"], "amount": "700"})
    assert first.status_code == 201
    refused = api.post("payment", {"contract": signed["id"], "amount": "300.01"})
    assert codes(refused, "amount") == ["rule"]
    assert codes(api.patch("payment", first.get_json(), {"amount": "1000.01"}), "amount") == [
        "rule"
    ]
    assert api.post("payment", {"contract": signed["id"], "amount": "300"}).status_code == 201


def test_a_payment_against_another_contracts_instalment_is_refused(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    signed, other = contract(crm, rep), contract(crm, rep)
    plan = plan_of(crm, rep, other, "1000")
    body = {"contract": signed["id"], "amount": "100", "payment_plan": plan["id"]}
    assert codes(Api(crm, finance).post("payment", body), "payment_plan") == ["link_filter"]


def plan_of(crm: Sandbox, rep: Actor, signed: dict[str, Any], amount: str) -> dict[str, Any]:
    values = {"contract": signed["id"], "due_date": "2026-12-31", "amount": amount}
    return crm.records.create(rep, "payment_plan", values)


def test_an_instalment_takes_its_customer_from_the_contract(crm: Sandbox, rep: Actor) -> None:
    signed = contract(crm, rep)
    assert plan_of(crm, rep, signed, "1000")["customer"] == signed["customer"]


def book(crm: Sandbox, finance: Actor, plan: dict[str, Any], amount: str) -> dict[str, Any]:
    """A confirmed payment finance books against ``plan``, its rules run."""
    body = {"contract": plan["contract"], "amount": amount, "payment_plan": plan["id"]}
    created = Api(crm, finance).post("payment", body)
    assert created.status_code == 201, created.get_json()
    crm.deliver_events()
    booked: dict[str, Any] = created.get_json()
    return booked


def status_of(crm: Sandbox, plan: dict[str, Any]) -> str:
    return str(crm.records.get(Actor.system(), "payment_plan", plan["id"])["status"])


def test_payments_mark_their_instalment_partly_then_wholly_received(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    plan = plan_of(crm, rep, contract(crm, rep), "1000")
    book(crm, finance, plan, "400")
    assert status_of(crm, plan) == "partial"
    book(crm, finance, plan, "600")
    assert status_of(crm, plan) == "received"


def test_a_transfer_names_only_the_from_owners_customers(crm: Sandbox, rep: Actor) -> None:
    other = crm.add_user("other", roles=["sales_rep"])
    mine, theirs = customer(crm, rep), customer(crm, other, "远东物流有限公司")
    api = Api(crm, rep)
    body = {
        "customers": [{"customer": mine["id"]}, {"customer": theirs["id"]}],
        "to_owner": other.user_id,
        "reason": "区域调整",
    }
    refused = api.post("transfer_request", body)
    assert codes(refused, "customers.1.customer") in (["link_filter"], ["not_found"])
    body["customers"] = [{"customer": mine["id"]}]
    assert api.post("transfer_request", body).status_code == 201


def test_changing_the_from_owner_is_checked_against_the_rows_kept(crm: Sandbox, rep: Actor) -> None:
    admin = crm.add_user("boss", is_admin=True)
    other = crm.add_user("other", roles=["sales_rep"])
    mine = customer(crm, rep)
    values = {"customers": [{"customer": mine["id"]}], "to_owner": other.user_id, "reason": "x"}
    request = crm.records.create(rep, "transfer_request", values)
    refused = Api(crm, admin).patch("transfer_request", request, {"from_owner": other.user_id})
    assert codes(refused, "customers.0.customer") == ["link_filter"]


def test_a_deleted_payment_no_longer_marks_its_instalment(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    plan = plan_of(crm, rep, contract(crm, rep), "1000")
    first, last = book(crm, finance, plan, "400"), book(crm, finance, plan, "600")
    admin = crm.add_user("boss", roles=["admin"])
    marks = []
    for payment in (last, first):
        crm.records.delete(admin, "payment", payment["id"])
        crm.deliver_events()
        marks.append(status_of(crm, plan))
    assert marks == ["partial", "pending"]


def test_a_restored_payment_marks_its_instalment_again(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    plan = plan_of(crm, rep, contract(crm, rep), "1000")
    paid = book(crm, finance, plan, "1000")
    admin = crm.add_user("boss", roles=["admin"])
    crm.records.delete(admin, "payment", paid["id"])
    crm.deliver_events()
    crm.records.restore(admin, "payment", paid["id"])
    crm.deliver_events()
    assert status_of(crm, plan) == "received"


def test_a_payment_moved_to_another_instalment_marks_both(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    signed = contract(crm, rep, amount="1500")
    left = plan_of(crm, rep, signed, "1000")
    joined = crm.records.create(
        rep,
        "payment_plan",
        {"contract": signed["id"], "due_date": "2026-12-31", "amount": "500", "instalment_no": 2},
    )
    paid = book(crm, finance, left, "500")
    assert (status_of(crm, left), status_of(crm, joined)) == ("partial", "pending")

    moved = Api(crm, finance).patch("payment", paid, {"payment_plan": joined["id"]})
    assert moved.status_code == 200, moved.get_json()
    crm.deliver_events()

    assert (status_of(crm, left), status_of(crm, joined)) == ("pending", "received")
