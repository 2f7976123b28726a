"""Statements compiled once and sent as driver SQL store what Core would store."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
    update,
)

from formflow.storage.database import write_transaction
from formflow.storage.prepared import Prepared, insert_into

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50)),
    Column("at", DateTime(timezone=True)),
    Column("amount", Numeric(12, 2)),
    Column("detail", JSON),
    Column("kind", String(10), default="plain"),
)
ROW = {
    "name": "été",
    "at": datetime(2026, 12, 5, 9, 30, 1, 250, tzinfo=UTC),
    "amount": Decimal("12.50"),
    "detail": {"keys": ["a", "é"], "n": 1},
    "kind": "given",
}


@pytest.fixture
def db(engine: Engine) -> Engine:
    metadata.create_all(engine)
    return engine


def stored(engine: Engine) -> list[Any]:
    with write_transaction(engine) as connection:
        rows = connection.execute(select(things).order_by(things.c.id)).all()
    return [tuple(row)[1:] for row in rows]


def test_an_insert_stores_the_values_core_stores(db: Engine) -> None:
    with write_transaction(db) as connection:
        connection.execute(insert(things), ROW)
        insert_into(things).run(connection, ROW)
    core, prepared = stored(db)
    assert prepared == core


def test_a_list_of_rows_is_inserted_together(db: Engine) -> None:
    with write_transaction(db) as connection:
        insert_into(things).run(connection, [ROW, {**ROW, "name": "second"}])
    assert [row[0] for row in stored(db)] == ["été", "second"]


def test_a_column_default_computed_in_python_is_still_applied(db: Engine) -> None:
    without_kind = {key: value for key, value in ROW.items() if key != "kind"}
    with write_transaction(db) as connection:
        insert_into(things).run(connection, without_kind)
    assert stored(db)[0][-1] == "plain"


def test_bound_values_of_the_statement_are_sent_and_the_callers_too(db: Engine) -> None:
    with write_transaction(db) as connection:
        insert_into(things).run(connection, [ROW, ROW])
        rename = Prepared(update(things).where(things.c.id == 2).values(name=bindparam("new")))
        rename.run(connection, {"new": "renamed"})
        named = Prepared(select(things.c.name).where(things.c.id == 2)).run(connection, {})
        assert named.scalar_one() == "renamed"
    assert [row[0] for row in stored(db)] == ["été", "renamed"]


def test_a_statement_core_must_expand_is_run_by_core(db: Engine) -> None:
    with write_transaction(db) as connection:
        insert_into(things).run(connection, [ROW, ROW, ROW])
        chosen = Prepared(
            select(things.c.id).where(things.c.id.in_(bindparam("ids", expanding=True)))
        )
        found = chosen.run(connection, {"ids": [1, 3]}).scalars().all()
    assert sorted(found) == [1, 3]


def test_the_statements_are_seen_by_sqlalchemys_events(db: Engine) -> None:
    sent: list[str] = []
    event.listen(db, "before_cursor_execute", lambda *args: sent.append(args[2]))
    with write_transaction(db) as connection:
        before = len(sent)
        insert_into(things).run(connection, ROW)
        assert len(sent) == before + 1
    assert sent[-1].startswith("INSERT INTO things")
