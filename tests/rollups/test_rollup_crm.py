"""The CRM app's roll-ups, lookups and rules: contracts total their invoices and payments,
an invoice stays within what is left to invoice, payments need an approved contract, and
follow-ups keep their customer's last and next follow-up current."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from formflow.errors import ValidationFailed
from formflow.records.access import Actor
from formflow.testing import Sandbox


@pytest.fixture
def finance(crm: Sandbox) -> Actor:
    return crm.add_user("finance", roles=["finance"])


def customer(crm: Sandbox, rep: Actor) -> dict[str, Any]:
    return crm.records.create(rep, "customer", {"name": "华信科技有限公司"})


def contract(crm: Sandbox, rep: Actor, status: str = "approved") -> dict[str, Any]:
    values = {"name": "年度服务合同", "customer": customer(crm, rep)["id"], "amount": "1000"}
    return crm.records.create(rep, "contract", {**values, "status": status}, grant={"status"})


def invoice(crm: Sandbox, rep: Actor, contract_id: int, amount: str, **values: Any) -> Any:
    body = {
        "contract": contract_id,
        "amount": amount,
        "invoice_type": "vat_general",
        "invoice_title": "华信科技有限公司",
    }
    return crm.records.create(rep, "invoice", {**body, **values}, grant=set(values))


def payment(crm: Sandbox, finance: Actor, contract_id: int, amount: str) -> Any:
    body = {"contract": contract_id, "amount": amount}  # customer and owner: the contract's
    return crm.records.create(finance, "payment", body)


def test_an_invoice_shows_its_contract_and_what_is_left_to_invoice(
    crm: Sandbox, rep: Actor
) -> None:
    signed = contract(crm, rep)
    first = invoice(crm, rep, signed["id"], "300")
    assert (first["contract_amount"], first["left_to_invoice"]) == (
        Decimal("1000.00"),
        Decimal("700.00"),
    )


def test_an_invoice_above_what_is_left_to_invoice_is_refused(crm: Sandbox, rep: Actor) -> None:
    signed = contract(crm, rep)
    invoice(crm, rep, signed["id"], "600")
    with pytest.raises(ValidationFailed) as refused:
        invoice(crm, rep, signed["id"], "400.01")
    assert [p.code for p in refused.value.problems["amount"]] == ["rule"]


def test_a_rejected_invoice_leaves_its_amount_to_invoice(crm: Sandbox, rep: Actor) -> None:
    signed = contract(crm, rep)
    invoice(crm, rep, signed["id"], "600", status="rejected")
    assert invoice(crm, rep, signed["id"], "1000")["left_to_invoice"] == Decimal("0.00")


def test_a_contract_totals_what_is_invoiced_and_received(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    signed = contract(crm, rep)
    invoice(crm, rep, signed["id"], "250", status="approved")
    invoice(crm, rep, signed["id"], "100")  # a draft request: not invoiced yet
    payment(crm, finance, signed["id"], "120.5")
    found = crm.records.get(rep, "contract", signed["id"])
    assert found["invoiced_amount"] == Decimal("250.00")
    assert found["requested_invoice_amount"] == Decimal("350.00")
    assert found["received_amount"] == Decimal("120.50")
    assert found["outstanding_amount"] == Decimal("879.50")


def test_a_payment_against_a_contract_not_yet_approved_is_refused(
    crm: Sandbox, rep: Actor, finance: Actor
) -> None:
    draft = contract(crm, rep, status="draft")
    with pytest.raises(ValidationFailed) as refused:
        payment(crm, finance, draft["id"], "10")
    assert [p.code for p in refused.value.problems["contract"]] == ["rule"]


def test_a_follow_up_keeps_its_customers_last_and_next_follow_up(crm: Sandbox, rep: Actor) -> None:
    client = customer(crm, rep)
    for moment, planned in (
        ("2026-03-09T15:00:00+08:00", "2026-03-20"),
        ("2026-03-02T09:00:00+08:00", "2026-03-05"),
    ):
        crm.records.create(
            rep,
            "follow_up",
            {
                "customer": client["id"],
                "followed_at": moment,
                "content": "电话沟通报价",
                "next_follow_up": planned,
            },
        )
    found = crm.records.get(rep, "customer", client["id"])
    assert found["last_follow_up_at"].isoformat() == "2026-03-09T07:00:00+00:00"
    assert found["next_follow_up"] == date(2026, 3, 20)  # what the latest follow-up planned
