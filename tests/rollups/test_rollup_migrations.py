"""A migration that adds a roll-up or lookup, or changes what one computes, works it out for
every stored record."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, column, insert, select, table

from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.migrations import MigrationResult, migrate
from formflow.storage.versions import RecordVersion
from support import AppWriter

NOW = datetime(2026, 3, 1, tzinfo=UTC)
AMOUNT = "{key: amount, type: money, label: Amount}"
STATUS = "{key: status, type: text, label: Status}"
LINK = "{key: parent, type: link, label: Parent, form: parent}"
PARENT = "demo__parent"
CHILD = "demo__child"


def form(key: str, *fields: str) -> str:
    lines = [f"key: {key}", f"label: {key}", "title_field: name", "fields:"]
    lines += [f"  - {field}" for field in ("{key: name, type: text, label: Name}", *fields)]
    return "\n".join([*lines, "permissions: {}", ""])


def migrate_to(
    engine: Engine, write_app: AppWriter, *, dry_run: bool = False, **forms: str
) -> MigrationResult:
    app_dir = write_app(forms=forms)
    for path in (app_dir / "forms").glob("*.yaml"):
        if path.stem not in forms:
            path.unlink()
    return migrate(engine, app_dir, dry_run=dry_run)


def plan_lines(engine: Engine, write_app: AppWriter, **forms: str) -> list[str]:
    plan = migrate_to(engine, write_app, dry_run=True, **forms).plan
    return [op.describe() for op in plan.operations if not isinstance(op, RecordVersion)]


def insert_rows(engine: Engine, name: str, *rows: dict[str, Any]) -> list[int]:
    """Rows written straight into a table, as an older version of the app left them."""
    system = {"created_at": NOW, "updated_at": NOW, "version": 1}
    target = table(name, column("id"), *(column(key) for key in [*rows[0], *system]))
    with write_transaction(engine) as connection:
        return [
            connection.execute(
                insert(target).values({**system, **row}).returning(target.c.id)
            ).scalar_one()
            for row in rows
        ]


def column_values(engine: Engine, name: str, key: str) -> dict[int, Any]:
    target = table(name, column("id"), column(key))
    with read_transaction(engine) as connection:
        return {
            row_id: value
            for row_id, value in connection.execute(select(target.c.id, target.c[key]))
        }


def total(filter_value: str | None = None) -> str:
    where = f", filter: {{field: status, op: eq, value: {filter_value}}}" if filter_value else ""
    return (
        "{key: total, type: rollup, label: Total, form: child, link: parent, "
        f"aggregate: sum, field: amount{where}}}"
    )


def stored_family(engine: Engine, write_app: AppWriter) -> int:
    migrate_to(engine, write_app, parent=form("parent"), child=form("child", LINK, AMOUNT, STATUS))
    (parent,) = insert_rows(engine, PARENT, {"name": "p"})
    insert_rows(
        engine,
        CHILD,
        {"name": "a", "parent": parent, "amount": 2.5, "status": "paid"},
        {"name": "b", "parent": parent, "amount": 4.0, "status": "open"},
    )
    return parent


def test_a_new_rollup_is_worked_out_for_the_stored_records(
    engine: Engine, write_app: AppWriter
) -> None:
    parent = stored_family(engine, write_app)
    children = form("child", LINK, AMOUNT, STATUS)
    result = migrate_to(engine, write_app, parent=form("parent", total()), child=children)
    assert result.plan is not None
    assert column_values(engine, PARENT, "total") == {parent: Decimal("6.50")}


def test_a_changed_filter_is_planned_and_recomputed(engine: Engine, write_app: AppWriter) -> None:
    parent = stored_family(engine, write_app)
    children = form("child", LINK, AMOUNT, STATUS)
    migrate_to(engine, write_app, parent=form("parent", total()), child=children)
    planned = plan_lines(engine, write_app, parent=form("parent", total("paid")), child=children)
    assert planned == ["recompute roll-up/lookup total of form parent for 1 row"]
    migrate_to(engine, write_app, parent=form("parent", total("paid")), child=children)
    assert column_values(engine, PARENT, "total") == {parent: Decimal("2.50")}


def test_a_new_lookup_is_filled_in_from_the_linked_records(
    engine: Engine, write_app: AppWriter
) -> None:
    stored_family(engine, write_app)
    shown = "{key: parent_name, type: lookup, label: P, link: parent, field: name}"
    children = form("child", LINK, AMOUNT, STATUS, shown)
    migrate_to(engine, write_app, parent=form("parent"), child=children)
    assert set(column_values(engine, CHILD, "parent_name").values()) == {"p"}
