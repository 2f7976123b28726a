"""Small apps, rows and snapshots for migration tests.

Forms are written with one field per line in YAML flow style, so a test shows the whole
definition it migrates to: ``item_form("{key: level, type: text, label: Level}")``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, column, insert, inspect, select, table, text, update
from sqlalchemy.sql import TableClause

from formflow.definitions import load_app
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.migrations import MigrationPlan, MigrationResult, migrate
from formflow.storage.tables import AppSchema
from formflow.storage.versions import RecordVersion
from support import AppWriter

NOW = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
NAME = "{key: name, type: text, label: Name}"

Rows = dict[int, dict[str, Any]]


def form(key: str, *fields: str, indexes: Iterable[str] = (), list_view: str | None = None) -> str:
    """A form file whose title is its first field; everyone may do everything."""
    lines = [f"key: {key}", f"label: {key.title()}", "title_field: name", "fields:"]
    lines += [f"  - {field}" for field in (NAME, *fields)]
    if list_view:
        lines.append(f"list: {list_view}")
    if indexes:
        lines.append("indexes:")
        lines += [f"  - {index}" for index in indexes]
    lines.append("permissions:")
    lines.append("  staff: {create: all, read: all, update: all, delete: all}")
    return "\n".join(lines) + "\n"


def item_form(*fields: str, **options: Any) -> str:
    return form("item", *fields, **options)


def write_forms(write_app: AppWriter, **forms: str) -> Path:
    """The demo app with exactly these forms (files of forms no longer given are removed)."""
    app_dir = write_app(forms=forms)
    for path in (app_dir / "forms").glob("*.yaml"):
        if path.stem not in forms:
            path.unlink()
    return app_dir


def migrate_to(engine: Engine, write_app: AppWriter, **forms: str) -> MigrationResult:
    """Write the demo app with these forms and migrate the database to it."""
    return migrate(engine, write_forms(write_app, **forms), dry_run=False)


def plan_lines(engine: Engine, write_app: AppWriter, **forms: str) -> list[str]:
    """What migrating to these forms would do, without doing it."""
    return changes(migrate(engine, write_forms(write_app, **forms), dry_run=True).plan)


def changes(plan: MigrationPlan) -> list[str]:
    """The plan's lines but the one of its last step, which records the definition version."""
    steps = [op.describe() for op in plan.operations if not isinstance(op, RecordVersion)]
    return steps + [f"refused: {refusal}" for refusal in plan.refusals]


def schema_of(app_dir: Path) -> AppSchema:
    return AppSchema(load_app(app_dir))


def live_table(engine: Engine, name: str) -> TableClause:
    """A table as the database has it now, hidden columns included.

    Only the columns are read from the catalogue: full reflection costs several queries per
    table, and the property test reads every table after every step.
    """
    with read_transaction(engine) as connection:
        columns = inspect(connection).get_columns(name)
    return table(name, *(column(info["name"], info["type"]) for info in columns))


def insert_rows(engine: Engine, table_name: str, *rows: Mapping[str, Any]) -> list[int]:
    """Insert rows into a live table, filling the system columns; their ids, in order."""
    target = live_table(engine, table_name)
    ids = []
    with write_transaction(engine) as connection:
        for row in rows:
            values = dict(row)
            if "created_at" in target.c:
                values = {"created_at": NOW, "updated_at": NOW, **values}
            statement = insert(target).values(values).returning(target.c.id)
            ids.append(connection.execute(statement).scalar_one())
    return ids


def update_rows(engine: Engine, table_name: str, column: str, values: Mapping[int, Any]) -> None:
    """Set one column of several rows, by id, in one transaction (empty first, so that a
    unique column never holds one value twice along the way)."""
    target = live_table(engine, table_name)
    with write_transaction(engine) as connection:
        connection.execute(update(target).values({column: None}))
        for row_id, value in values.items():
            connection.execute(update(target).where(target.c.id == row_id).values({column: value}))


def stored_rows(engine: Engine, table_name: str) -> Rows:
    """Every row of a live table by id, with every column it has."""
    source = live_table(engine, table_name)
    with read_transaction(engine) as connection:
        rows = connection.execute(select(source).order_by(source.c.id)).mappings()
        return {row["id"]: dict(row) for row in rows}


def column_values(engine: Engine, table_name: str, column: str) -> dict[int, Any]:
    return {row_id: row[column] for row_id, row in stored_rows(engine, table_name).items()}


_POSTGRES_CATALOGUE = (
    "SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision, "
    "numeric_scale, ordinal_position FROM information_schema.columns "
    "WHERE table_schema = current_schema() ORDER BY 1, 7",
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1",
    "SELECT trigger_name, event_manipulation, event_object_table, action_statement "
    "FROM information_schema.triggers WHERE trigger_schema = current_schema() ORDER BY 1, 2",
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = current_schema()::regnamespace ORDER BY 1",
)


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything the database holds: its catalogue (tables, columns, indexes, triggers and
    constraints; on SQLite the search index's virtual and shadow tables too) and every row
    of every table, so that two snapshots are equal only if nothing changed in between."""
    with read_transaction(engine) as connection:
        if engine.dialect.name == "sqlite":
            catalogue = connection.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
            ).all()
            tables = [row[1] for row in catalogue if row[0] == "table"]
        else:
            catalogue = [
                row for query in _POSTGRES_CATALOGUE for row in connection.execute(text(query))
            ]
            tables = inspect(connection).get_table_names()
        quote = connection.dialect.identifier_preparer.quote
        rows = {
            name: sorted(
                repr(tuple(row))
                for row in connection.exec_driver_sql(f"SELECT * FROM {quote(name)}")
            )
            for name in tables
        }
    return {"catalogue": [tuple(row) for row in catalogue], "rows": rows}
