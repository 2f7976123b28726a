"""Reading every row of a table in id order, a batch at a time.

Migration steps (formulas, roll-ups, search text) and rebuilds (duplicate keys) walk every
record of a form, which may be millions. Each batch is read by a query of its own that
starts after the last id of the one before (keyset paging), so memory stays flat, no batch
skips or repeats a row, and the caller may write to the rows it was handed before the next
batch is read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, Table


def id_batches(
    connection: Connection, query: Select[Any], table: Table, size: int
) -> Iterator[Sequence[RowMapping]]:
    """The rows ``query`` selects from ``table`` (its ``id`` among them), ``size`` at a
    time in id order; ``query`` may filter, but not order or limit."""
    last = 0
    while True:
        batch = (
            connection.execute(query.where(table.c.id > last).order_by(table.c.id).limit(size))
            .mappings()
            .all()
        )
        if not batch:
            return
        yield batch
        last = batch[-1]["id"]
