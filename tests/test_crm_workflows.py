"""The CRM app's approvals are real flows: transfer, contract, invoice request, quote
discounts, each owning its status field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event

from formflow import accounts
from formflow.definitions import App, load_app
from formflow.errors import ValidationFailed
from formflow.notifications import Notifications
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.tables import AppSchema
from formflow.workflows.service import WorkflowService
from support import CRM_APP


@pytest.fixture(scope="module")
def crm() -> App:
    return load_app(CRM_APP)


@pytest.fixture
def people(engine: Engine, crm: App) -> dict[str, Actor]:
    AppSchema(crm).metadata.create_all(engine)
    digest = accounts.hash_password("password1")
    roles = {"rep": "sales_rep", "manager": "sales_manager", "director": "sales_director", "finance": "finance"}  # fmt: skip
    with write_transaction(engine) as connection:
        sales = accounts.create_department(connection, "Sales")
        ids = {
            name: accounts.create_user(
                connection,
                name,
                None,
                password_hash=digest,
                department_id=sales,
                roles={"crm_sfa": [role]},
            )
            for name, role in roles.items()
        }
        accounts.update_department(connection, sales, name="Sales", parent_id=None, manager_id=ids["manager"])  # fmt: skip
        actors = {}
        for name, user_id in ids.items():
            user = accounts.get_user(connection, user_id)
            assert user is not None
            actors[name] = accounts.actor_for(connection, user, "crm_sfa")
    return actors


@pytest.fixture
def flows(engine: Engine, crm: App, people: dict[str, Actor]) -> WorkflowService:
    return WorkflowService(RecordService(engine, AppSchema(crm)))


def decide_all(flows: WorkflowService, actor: Actor, decision: str = "approve", **more: Any) -> Any:
    assert actor.user_id is not None
    (task,) = flows.open_tasks_of(actor.user_id)
    return flows.decide(actor, task.id, decision, **more)


def test_every_crm_status_is_owned_by_its_flow(crm: App) -> None:
    owned = {flow.form: flow.state_field for flow in crm.workflows.values()}
    assert owned == {
        "contract": "status",
        "transfer_request": "status",
        "invoice": "status",
        "quote": "status",
    }


def test_an_invoice_request_goes_to_the_manager_then_finance(
    flows: WorkflowService, people: dict[str, Actor]
) -> None:
    records = flows.records
    rep = people["rep"]
    customer = records.create(rep, "customer", {"name": "ACME"})
    contract = records.create(rep, "contract", {"name": "Deal", "customer": customer["id"], "amount": "10000"})  # fmt: skip
    invoice = records.create(
        rep,
        "invoice",
        {"contract": contract["id"], "amount": "1000", "invoice_type": "vat_general", "invoice_title": "ACME"},
    )  # fmt: skip
    with pytest.raises(ValidationFailed):
        records.update(rep, "invoice", invoice["id"], {"status": "approved"}, expected_version=invoice["version"])  # fmt: skip
    instance = flows.submit(rep, "invoice_request", invoice["id"])
    assert records.get(rep, "invoice", invoice["id"])["status"] == "pending_manager"
    decide_all(flows, people["manager"])
    assert records.get(rep, "invoice", invoice["id"])["status"] == "pending_finance"
    decide_all(flows, people["finance"], "reject", comment="wrong title")
    assert flows.instance(instance.id).status == "returned"
    current = records.get(rep, "invoice", invoice["id"])
    records.update(rep, "invoice", invoice["id"], {"invoice_title": "ACME Ltd"}, expected_version=current["version"])  # fmt: skip
    flows.resubmit(rep, instance.id)
    decide_all(flows, people["manager"])
    with pytest.raises(ValidationFailed):
        decide_all(flows, people["finance"])  # issuing needs the invoice number
    done = decide_all(flows, people["finance"], values={"invoice_no": "12345678", "issued_date": date(2026, 12, 1)})  # fmt: skip
    assert (done.status, done.outcome) == ("finished", "approved")
    assert records.get(rep, "invoice", invoice["id"])["invoice_no"] == "12345678"


@pytest.mark.parametrize(
    ("discount", "approvers"),
    [(Decimal(5), []), (Decimal(15), ["manager"]), (Decimal(25), ["manager", "director"])],
)
def test_quote_discounts_need_more_approvers_the_larger_they_are(
    flows: WorkflowService, people: dict[str, Actor], discount: Decimal, approvers: list[str]
) -> None:
    records = flows.records
    rep = people["rep"]
    customer = records.create(rep, "customer", {"name": "ACME"})
    opportunity = records.create(rep, "opportunity", {"name": "Deal", "customer": customer["id"], "amount": "1000", "expected_close_date": "2026-12-31"})  # fmt: skip
    product = records.create(
        Actor.system(),
        "product",
        {"name": "Widget", "code": "W-1", "category": "software", "list_price": "100"},
    )
    quote = records.create(
        rep,
        "quote",
        {"opportunity": opportunity["id"], "quote_date": "2026-01-31", "valid_until": "2026-03-01", "items": [{"product": product["id"], "qty": "1", "unit_price": "100", "discount": str(discount)}]},
    )  # fmt: skip
    instance = flows.submit(rep, "quote_discount", quote["id"])
    for name in approvers:
        instance = decide_all(flows, people[name])
    assert (instance.status, instance.outcome) == ("finished", "approved")
    assert records.get(rep, "quote", quote["id"])["status"] == "approved"


def test_a_transfer_and_a_large_contract(flows: WorkflowService, people: dict[str, Actor]) -> None:
    records = flows.records
    rep = people["rep"]
    customer = records.create(rep, "customer", {"name": "ACME"})
    contract = records.create(rep, "contract", {"name": "Big", "customer": customer["id"], "amount": "900000"})  # fmt: skip
    flows.submit(rep, "contract_approval", contract["id"])
    decide_all(flows, people["manager"])
    done = decide_all(flows, people["director"])
    assert done.outcome == "approved"
    transfer = records.create(rep, "transfer_request", {"customers": [{"customer": customer["id"]}], "from_owner": rep.user_id, "to_owner": people["manager"].user_id, "reason": "leaving"})  # fmt: skip
    flows.submit(rep, "customer_transfer", transfer["id"])
    done = decide_all(flows, people["manager"], "reject", to="rejected")
    assert records.get(rep, "transfer_request", transfer["id"])["status"] == "rejected"


def statements_of(engine: Engine, work: Callable[[], object]) -> int:
    """How many statements ``work`` sends the database."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


DECISION_STATEMENTS = 23
"""What one decision may cost at most: claim, task, history, the record's update with its
audit entry and events, the contract's roll-ups, the next task and its holder's notice
(the unit's history rows, events and audit entries each written together)."""


def test_a_decision_costs_a_bounded_number_of_statements_however_many_invoices_the_contract_has(
    engine: Engine, crm: App, people: dict[str, Actor]
) -> None:
    records = RecordService(engine, AppSchema(crm))
    flows = WorkflowService(records, notifications=Notifications(engine))
    rep, manager, finance = people["rep"], people["manager"], people["finance"]
    customer = records.create(rep, "customer", {"name": "ACME"})
    contract = records.create(rep, "contract", {"name": "Deal", "customer": customer["id"], "amount": "100000"})  # fmt: skip
    asked = {"contract": contract["id"], "amount": "10", "invoice_type": "vat_general"}
    for number in range(12):
        invoice = records.create(rep, "invoice", {**asked, "invoice_title": f"ACME {number}"})
        flows.submit(rep, "invoice_request", invoice["id"])

    def decide(actor: Actor, **more: Any) -> list[int]:
        """The statements of deciding the first and the last of the actor's open tasks."""
        assert actor.user_id is not None
        tasks = flows.open_tasks_of(actor.user_id)
        return [
            statements_of(engine, lambda task=task: flows.decide(actor, task.id, "approve", **more))
            for task in (tasks[0], tasks[-1])
        ]

    by_manager = decide(manager)
    by_finance = decide(
        finance, values={"invoice_no": "12345678", "issued_date": date(2026, 12, 1)}
    )
    assert by_manager[0] == by_manager[1] <= DECISION_STATEMENTS
    assert by_finance[0] == by_finance[1] <= DECISION_STATEMENTS
    stored = records.get(rep, "contract", contract["id"])
    assert stored["invoiced_amount"] == Decimal("20.00")  # the two issued
    assert stored["requested_invoice_amount"] == Decimal("120.00")
