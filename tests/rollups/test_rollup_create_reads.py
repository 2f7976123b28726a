"""A create hands back its record's roll-ups, lookups and formulas as stored, and checks
its rules against the record as stored, without reading its row back when the insert
returned it and the write changed no other record; when it did, the values read back
afterwards are the ones handed back."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rollup_app import ACCOUNT, FILES

from formflow.errors import ValidationFailed
from formflow.records.access import Actor
from formflow.testing import Sandbox
from support import counting_statements

CAPPED = (
    ACCOUNT
    + """\
rules:
  - key: credit_capped
    expression: "credit is none or credit <= 5000"
    message: {en: "Credit above the cap", zh: 信用额度超过上限}
    field: credit
"""
)


@pytest.fixture
def capped(tmp_path: Path, database_url: str) -> Iterator[Sandbox]:
    """The roll-up app with a rule on the account's own values."""
    files = {**FILES, "forms/account.yaml": CAPPED}
    with Sandbox(tmp_path, files, database_url=database_url) as sandbox:
        yield sandbox


@pytest.fixture
def clerk(capped: Sandbox) -> Actor:
    capped.add_user("clerk", roles=["staff"])
    return capped.actor("clerk")


def _derived(box: Sandbox, form: str, record: dict[str, Any]) -> list[tuple[str, Any, type]]:
    fields = box.app.form(form).fields
    keys = [f.key for f in fields if f.is_derived or f.is_formula]
    return [(key, record[key], type(record[key])) for key in keys]


def test_a_new_records_derived_values_are_handed_back_as_stored(
    capped: Sandbox, clerk: Actor
) -> None:
    created = capped.records.create(clerk, "account", {"name": "Acme", "credit": "1000"})
    assert created["headroom"] == Decimal("1000.00")
    found = capped.records.get(clerk, "account", created["id"])
    assert _derived(capped, "account", created) == _derived(capped, "account", found)


def test_a_create_that_changes_no_other_record_reads_nothing_back(
    capped: Sandbox, clerk: Actor
) -> None:
    table = capped.records.schema.table("account").name
    with counting_statements(capped.instance.engine) as statements:
        capped.records.create(clerk, "account", {"name": "Acme", "credit": "1000"})
    assert not [s for s in statements if s.startswith("SELECT") and f"FROM {table}" in s]


def test_a_rule_broken_by_a_new_records_own_values_refuses_it(
    capped: Sandbox, clerk: Actor
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        capped.records.create(clerk, "account", {"name": "Acme", "credit": "6000"})
    assert [p.code for p in refused.value.problems["credit"]] == ["rule"]
    assert capped.records.find(clerk, "account").rows == []


def test_a_create_that_moves_its_parents_rollups_hands_back_its_lookups_as_stored(
    capped: Sandbox, clerk: Actor
) -> None:
    acme = capped.records.create(clerk, "account", {"name": "Acme", "credit": "1000"})
    values = {"title": "Deal", "account": acme["id"], "amount": "250", "stage": "won"}
    created = capped.records.create(clerk, "deal", values)
    assert created["account_headroom"] == Decimal("750.00")
    found = capped.records.get(clerk, "deal", created["id"])
    assert _derived(capped, "deal", created) == _derived(capped, "deal", found)


def test_a_batch_create_refuses_the_rows_that_break_a_rule_and_stores_the_others(
    capped: Sandbox, clerk: Actor
) -> None:
    items = [{"name": "Acme", "credit": "1000"}, {"name": "Bolt", "credit": "6000"}]
    batch = capped.records.create_many(clerk, "account", items)
    assert [p.code for p in batch.problems[1]["credit"]] == ["rule"]
    assert [row["name"] for row in capped.records.find(clerk, "account").rows] == ["Acme"]


def test_a_batch_create_refuses_a_row_whose_rule_a_rollup_it_moves_breaks(
    box: Sandbox, staff: Actor
) -> None:
    account = box.records.create(staff, "account", {"name": "Acme", "credit": "100"})
    deals = [
        {"title": "Small", "account": account["id"], "amount": "60", "stage": "won"},
        {"title": "Big", "account": account["id"], "amount": "60", "stage": "won"},
    ]
    batch = box.records.create_many(staff, "deal", deals)
    assert [p.code for p in batch.problems[1]["amount"]] == ["rule"]
    assert [row["title"] for row in box.records.find(staff, "deal").rows] == ["Small"]


def test_a_new_records_insert_returns_only_what_its_rules_and_derived_values_read(
    capped: Sandbox, clerk: Actor
) -> None:
    """psycopg describes each returned column at every insert: the row's other columns are
    not returned, and the create hands back the values it stored."""
    table = capped.records.schema.table("account")
    with counting_statements(capped.instance.engine) as statements:
        created = capped.records.create(clerk, "account", {"name": "Acme", "credit": "1000"})
    insert = next(s for s in statements if s.startswith(f"INSERT INTO {table.name} "))
    returned = {
        part.strip().rpartition(".")[2] for part in insert.split(" RETURNING ")[1].split(",")
    }
    assert {"id", "version", "credit", "headroom"} <= returned
    assert "name" not in returned
    assert created == capped.records.get(clerk, "account", created["id"])
