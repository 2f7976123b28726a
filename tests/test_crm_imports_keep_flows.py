"""No CRM flow is bypassed by an import: a rep's file cannot hand a customer to someone
else, take it out of or put it into the pool, approve a contract, or invoice more than a
contract has left, whether the rows create records or update them. Imports go through the
record service, so its field access and rules hold here as on pages and in the API; a blank
cell of a new record takes the field's default, as a form left alone would. On SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

from formflow.records.access import Actor
from formflow.testing import Sandbox
from formflow.transfer.importing import Duplicates, ImportOptions, Outcome, import_file


def imported(
    crm: Sandbox, actor: Actor, form_key: str, rows: list[list[str]], fields: list[str], **more: Any
) -> Outcome:
    path = crm.instance.settings.instance / f"{form_key}.csv"
    path.write_text("\n".join(",".join(row) for row in [fields, *rows]) + "\n", encoding="utf-8")
    mapping = dict(enumerate(fields))
    return import_file(crm.records, actor, form_key, path, ImportOptions(mapping, **more))


def test_a_rep_cannot_hand_a_customer_to_someone_else_by_import(crm: Sandbox, rep: Actor) -> None:
    crm.add_user("other", roles=["sales_rep"])
    mine = crm.records.create(rep, "customer", {"name": "华信科技有限公司"})
    outcome = imported(
        crm,
        rep,
        "customer",
        [["华信科技有限公司", "other"]],
        ["name", "owner"],
        duplicates=Duplicates.UPDATE,
        match_on=("name",),
    )
    assert (outcome.updated, outcome.failed) == (0, 1)
    assert crm.records.stored("customer", mine["id"])["owner"] == rep.user_id


def test_a_rep_cannot_move_customers_into_or_out_of_the_pool_by_import(
    crm: Sandbox, rep: Actor
) -> None:
    outcome = imported(crm, rep, "customer", [["远景贸易", "true"]], ["name", "in_pool"])
    assert (outcome.created, outcome.failed) == (0, 1)
    assert {error.column for error in outcome.errors} == {"in_pool"}


def test_a_rep_cannot_approve_a_contract_by_import(crm: Sandbox, rep: Actor) -> None:
    crm.records.create(rep, "customer", {"name": "华信科技有限公司"})
    outcome = imported(
        crm,
        rep,
        "contract",
        [["年度服务合同", "华信科技有限公司", "1000", "approved"]],
        ["name", "customer", "amount", "status"],
    )
    assert (outcome.created, outcome.failed) == (0, 1)
    assert "status" in {error.column for error in outcome.errors}


def test_an_imported_invoice_stays_within_what_is_left_to_invoice(crm: Sandbox, rep: Actor) -> None:
    customer = crm.records.create(rep, "customer", {"name": "华信科技有限公司"})
    values = {
        "name": "年度服务合同",
        "customer": customer["id"],
        "amount": "1000",
        "status": "approved",
    }
    crm.records.create(rep, "contract", values, grant={"status"})
    outcome = imported(
        crm,
        rep,
        "invoice",
        [["年度服务合同", "1500", "vat_general", "华信科技有限公司"]],
        ["contract", "amount", "invoice_type", "invoice_title"],
    )
    assert (outcome.created, outcome.failed) == (0, 1)
    assert "amount" in {error.column for error in outcome.errors}


def test_a_blank_cell_takes_the_field_s_default(crm: Sandbox, rep: Actor) -> None:
    crm.records.create(rep, "customer", {"name": "华信科技有限公司"})
    outcome = imported(
        crm,
        rep,
        "contract",
        [["年度服务合同", "华信科技有限公司", "1000", ""]],
        ["name", "customer", "amount", "status"],
    )
    assert (outcome.created, outcome.failed) == (1, 0)
    [contract] = crm.records.find(rep, "contract").rows
    assert contract["status"] == "draft"
