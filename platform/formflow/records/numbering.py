"""Auto numbers such as ``HT-20261124-0001``: unique, and gap-free under concurrent writers.

Each number is taken from a counter row in ``ff_counters`` by one upsert that increments and
returns it, inside the same transaction as the record's insert. The counter row stays locked
until that transaction ends (a row lock on PostgreSQL, the write lock on SQLite), so two
writers never get the same number; and a transaction that fails rolls its increment back
with it, so no number is skipped.

A counter is named after the table, the field and the pattern with its date parts filled in,
so ``HT-{YYYY}{MM}{DD}-{####}`` starts again at 1 every day.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from formflow.storage.platform_tables import counters

_COUNTER = re.compile(r"\{(#+)\}")


def render_prefix(pattern: str, now: datetime) -> str:
    """The pattern with its date tokens filled in and its counter left in place."""
    return (
        pattern.replace("{YYYY}", f"{now:%Y}")
        .replace("{YY}", f"{now:%y}")
        .replace("{MM}", f"{now:%m}")
        .replace("{DD}", f"{now:%d}")
    )


def next_number(
    connection: Connection, table_name: str, field_key: str, pattern: str, now: datetime
) -> str:
    """Take the next number for ``pattern`` at ``now`` (call inside the insert's transaction)."""
    return next_numbers(connection, table_name, field_key, pattern, now, 1)[0]


def next_numbers(
    connection: Connection,
    table_name: str,
    field_key: str,
    pattern: str,
    now: datetime,
    count: int,
) -> list[str]:
    """Take the next ``count`` numbers for ``pattern`` at ``now`` in one upsert (a batch
    of records, such as an import, numbered in order)."""
    prefix = render_prefix(pattern, now)
    name = f"{table_name}.{field_key}:{prefix}"
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(counters).values(name=name, value=count)
    statement = statement.on_conflict_do_update(
        index_elements=[counters.c.name], set_={"value": counters.c.value + count}
    ).returning(counters.c.value)
    last = connection.execute(statement).scalar_one()
    match = _COUNTER.search(prefix)
    assert match is not None, "patterns are checked to hold one counter when loaded"
    width = len(match.group(1))
    head, tail = prefix[: match.start()], prefix[match.end() :]
    return [head + str(value).zfill(width) + tail for value in range(last - count + 1, last + 1)]
