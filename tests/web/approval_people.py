"""The CRM test company with its sales manager managing the reps' team, so an invoice
request goes to them first (then to finance), as in a real company."""

from __future__ import annotations

from typing import Any

from flask import Flask

from formflow import accounts
from formflow.storage.database import write_transaction
from web.records_support import add, user_id


def manager_runs_east(app: Flask) -> None:
    """``manager`` manages 华东区, the team of ``rep1`` and ``rep2``."""
    engine = app.extensions["formflow"].engine
    with write_transaction(engine) as connection:
        for department in accounts.list_departments(connection):
            if department.name == "华东区":
                accounts.update_department(
                    connection,
                    department.id,
                    name=department.name,
                    parent_id=department.parent_id,
                    manager_id=user_id(app, "manager"),
                )


def an_invoice(app: Flask, username: str = "rep1", title: str = "ACME") -> dict[str, Any]:
    """A draft invoice request of ``username``'s, for a contract of theirs."""
    customer = add(app, username, "customer", name=f"{title} Co")
    contract = add(app, username, "contract", name="Deal", customer=customer["id"], amount="10000")
    return add(
        app,
        username,
        "invoice",
        contract=contract["id"],
        amount="1000",
        invoice_type="vat_general",
        invoice_title=title,
    )
