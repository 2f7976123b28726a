"""Steps that create records read what earlier steps created; a converted record is read-only."""

from __future__ import annotations

import pytest
from pool_support import Pool

from formflow.errors import PermissionDenied
from formflow.records.query import Query


def _convert(pool: Pool) -> dict[str, object]:
    ann = pool.actor("ann")
    lead = pool.records.create(
        ann, "lead", {"company": "Acme", "person": "Li Lei", "amount": "500"}
    )
    pool.actions.run(ann, "lead", [lead["id"]], "convert")
    return pool.get("lead", lead["id"])


def test_converting_creates_the_account_its_contact_and_deal(pool: Pool) -> None:
    lead = _convert(pool)
    account = pool.get("account", int(str(lead["account"])))
    contacts = pool.records.find(pool.actor("ann"), "contact", Query()).rows
    deals = pool.records.find(pool.actor("ann"), "deal", Query()).rows
    assert account["owner"] == pool.users["ann"]
    assert [(c["name"], c["account"]) for c in contacts] == [("Li Lei", account["id"])]
    assert [(d["title"], d["account"], str(d["amount"])) for d in deals] == [
        ("Acme", account["id"], "500.00")
    ]


def test_a_converted_lead_is_marked(pool: Pool) -> None:
    assert _convert(pool)["status"] == "converted"


def test_a_converted_lead_is_read_only(pool: Pool) -> None:
    lead = _convert(pool)
    with pytest.raises(PermissionDenied, match="read-only"):
        pool.records.update(
            pool.actor("ann"),
            "lead",
            int(str(lead["id"])),
            {"person": "Han Meimei"},
            expected_version=int(str(lead["version"])),
        )


def test_a_converted_lead_offers_no_conversion(pool: Pool) -> None:
    lead = _convert(pool)
    assert pool.actions.offered(pool.actor("ann"), "lead", lead) == []
