"""Walking a table in id order, a batch at a time (the migration steps' and rebuilds' reads)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select, update

from formflow.storage.id_batches import id_batches

IDS = [1, 2, 5, 7, 8, 10, 11]


@pytest.fixture
def items(engine: Engine) -> Table:
    table = Table(
        "items",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("note", String(20)),
    )
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"id": n, "note": None} for n in reversed(IDS)])
    return table


def test_every_row_comes_once_in_id_order_in_batches_of_the_size(
    engine: Engine, items: Table
) -> None:
    with engine.connect() as connection:
        batches = [
            [row["id"] for row in batch]
            for batch in id_batches(connection, select(items.c.id), items, 3)
        ]
    assert batches == [[1, 2, 5], [7, 8, 10], [11]]


def test_rows_written_between_batches_are_neither_skipped_nor_read_again(
    engine: Engine, items: Table
) -> None:
    unnoted = select(items.c.id).where(items.c.note.is_(None))
    seen: list[int] = []
    with engine.begin() as connection:
        for batch in id_batches(connection, unnoted, items, 2):
            ids = [row["id"] for row in batch]
            seen.extend(ids)
            connection.execute(update(items).where(items.c.id.in_(ids)).values(note="done"))
    assert seen == IDS
