"""A small app with a field of every kind, and plain inserts, for the query-side tests.

``lab`` has companies, deals and memos (which have no search fields); a deal links to a company and has text, textarea, select,
multiselect, money, whole and decimal numbers, date, datetime, bool, user, subtable and
attachment fields. Rows go in with SQLAlchemy Core, not the record service, so these
tests depend only on the tables.
"""

from __future__ import annotations

import tempfile
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, select

from databases import postgres_schema_url
from formflow.definitions import App, load_app
from formflow.records.search import ensure_search_index, search_document
from formflow.storage.database import connect, write_transaction
from formflow.storage.platform_tables import users
from formflow.storage.tables import DELETED_AT, SEARCH, AppSchema

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

LAB_FILES = {
    "app.yaml": """\
        key: lab
        version: "1.0"
        label: Lab
        roles:
          - {key: staff, label: Staff}
        include:
          forms: [forms/*.yaml]
        """,
    "forms/company.yaml": """\
        key: company
        label: Company
        title_field: name
        fields:
          - {key: name, type: text, label: Name}
          - key: tier
            type: select
            label: Tier
            options: [{value: gold, label: Gold}, {value: silver, label: Silver}]
        list:
          search: [name]
        permissions:
          staff: {create: all, read: all, update: all, delete: all}
        """,
    "forms/deal.yaml": """\
        key: deal
        label: Deal
        title_field: name
        fields:
          - {key: name, type: text, label: Name}
          - {key: notes, type: textarea, label: Notes}
          - key: stage
            type: select
            label: Stage
            options: [{value: new, label: New}, {value: won, label: Won}, {value: lost, label: Lost}]
          - key: tags
            type: multiselect
            label: Tags
            options: [{value: red, label: Red}, {value: green, label: Green}, {value: blue, label: Blue}]
          - {key: amount, type: money, label: Amount}
          - {key: quantity, type: number, label: Quantity}
          - {key: weight, type: number, label: Weight, scale: 3}
          - {key: close_date, type: date, label: Close date}
          - {key: met_at, type: datetime, label: Met at}
          - {key: active, type: bool, label: Active}
          - {key: owner, type: user, label: Owner}
          - {key: company, type: link, label: Company, form: company, on_delete: set_null}
          - key: items
            type: subtable
            label: Items
            fields: [{key: sku, type: text, label: SKU}]
          - {key: files, type: attachment, label: Files}
        list:
          search: [name, notes]
          sort: ["-created_at"]
        permissions:
          staff: {create: all, read: all, update: all, delete: all}
        """,
    "forms/memo.yaml": """\
        key: memo
        label: Memo
        title_field: title
        fields:
          - {key: title, type: text, label: Title}
        permissions:
          staff: {create: all, read: all, update: all, delete: all}
        """,
}


@cache
def lab_app() -> App:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "forms").mkdir()
        for name, text in LAB_FILES.items():
            (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
        return load_app(root)


@cache
def lab_schema() -> AppSchema:
    """The lab tables, described; tables are only created by :func:`create_lab`."""
    return AppSchema(lab_app())


def create_lab(engine: Engine) -> AppSchema:
    """The lab tables, with their search indexes, in the engine's fresh database."""
    schema = lab_schema()
    schema.metadata.create_all(engine)
    with write_transaction(engine) as connection:
        for form_key in schema.app.forms:
            ensure_search_index(connection, schema, form_key)
    return schema


def insert(
    connection: Connection, schema: AppSchema, form_key: str, rows: Iterable[Mapping[str, Any]]
) -> list[int]:
    """Insert rows one by one (system columns defaulted, ``_search`` derived); their ids."""
    table = schema.table(form_key)
    search_keys = schema.app.form(form_key).list_view.search
    ids = []
    for row in rows:
        values = {"created_at": NOW, "updated_at": NOW, **row}
        for key, value in values.items():
            if isinstance(value, datetime):  # as the record service stores them
                values[key] = value.astimezone(UTC)
        if search_keys:
            values[SEARCH] = search_document(values.get(key) for key in search_keys)
        result = connection.execute(table.insert().values(**values))
        ids.append(result.inserted_primary_key[0])
    return ids


def add_users(connection: Connection, *names: str) -> list[int]:
    return [
        connection.execute(
            users.insert().values(
                username=name, display_name=name, password_hash="-", created_at=NOW
            )
        ).inserted_primary_key[0]
        for name in names
    ]


def soft_delete(connection: Connection, schema: AppSchema, form_key: str, record_id: int) -> None:
    table = schema.table(form_key)
    connection.execute(table.update().where(table.c.id == record_id).values({DELETED_AT: NOW}))


def names(
    connection: Connection, schema: AppSchema, form_key: str, ids: Iterable[int]
) -> list[str]:
    """The names of records, in the order of ``ids``."""
    table = schema.table(form_key)
    found = dict(connection.execute(select(table.c.id, table.c.name)).tuples().all())
    return [found[record_id] for record_id in ids]


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""The parameters of a module-scoped database fixture, as ``database_url`` has them."""


def module_engine(
    kind: str, tmp_path_factory: pytest.TempPathFactory, postgres_database: str | None
) -> Iterator[Engine]:
    """An engine on a fresh database shared by one module's read-only tests.

    The per-test ``engine`` costs a new database each time; tests that only read a fixed
    data set share one instead, which keeps hundreds of operator cases fast.
    """
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('lab')}/formflow.db"
        urls: Iterator[str] = iter([url])
    elif postgres_database is None:
        pytest.skip("PostgreSQL unavailable")
    else:
        urls = postgres_schema_url(postgres_database)
    for url in urls:
        engine = connect(url)
        yield engine
        engine.dispose()


class StatementCounter:
    """Counts the SQL statements an engine sends while it is attached."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def _count(self, *_args: Any) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)
