"""Appending a single entry numbered and hashed by the database under the head's lock.

A save writes one entry. Chained in Python, it needs the head's number and hash before
its own hash can be written, and a guess at them (the head this process last wrote) misses
nearly always when several processes write: another statement and the hashing again on
each miss. Here the database itself reads the head under its lock and computes the
entry's hash, from the canonical text split around the id
(:meth:`~formflow.audit.entry.Entry.canonical_around_id`), so there is nothing to guess:

- PostgreSQL, one statement: ``WITH`` clauses lock the head (``SELECT ... FOR UPDATE``: a
  writer that waited for the lock reads the row its predecessor committed), advance it to
  the entry's number and hash (``sha256`` over the previous hash, a newline and the
  canonical text with the number), insert the entry from what the advance returns, and
  insert the unit's other kept-back rows (the riders) beside.
- SQLite, two statements: a writer holds the whole database's write lock from its
  ``BEGIN IMMEDIATE``, so the head a statement reads is the true one. The entry is
  inserted from the head row, hashed by a function registered on the connection, and the
  head set to what the insert returned. Reading the head first and chaining in Python
  costs a third statement and was the slower of the two.

Both write the bytes :meth:`~formflow.audit.entry.Entry.canonical` gives, so
:mod:`formflow.audit.verify` checks either. A batch of entries is chained in Python
(:func:`formflow.audit.chain.append`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    union_all,
    update,
)

from formflow.audit.entry import Entry
from formflow.storage.platform_tables import audit_entries, audit_head

Riders = Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
"""Rows to insert with the entries: each table with its rows (each row with the same keys)."""

CARRIED_RIDERS_AT_MOST = 16
"""The most riders' rows PostgreSQL's statement carries: a single save writes one entry
and a handful of rows. More would make a statement of a ``SELECT`` a row, a shape per
count, whose compiling costs more than the round trips it saves; they are inserted with
``executemany`` beside it instead."""


def append_locked(connection: Connection, entry: Entry, riders: Riders = ()) -> Entry | None:
    """Write ``entry`` after the head, numbered and hashed by the database, and the rows of
    ``riders`` with it; returns it as stored, or None when the head row is not made yet
    (the riders are written all the same)."""
    before_id, after_id = entry.canonical_around_id()
    values = {f"e_{key}": value for key, value in entry.row().items() if key not in _NUMBERED}
    values.update(before_id="\n" + before_id, after_id=after_id)
    if connection.dialect.name == "postgresql":
        return _append_postgresql(connection, entry, riders, values)
    for table, rows in riders:
        connection.execute(insert(table), list(rows))
    _hash_function_on(connection)
    row = connection.execute(_INSERT_AFTER_HEAD, values).one_or_none()
    if row is None:
        return None
    connection.execute(_SET_HEAD, {"number": row.id, "digest": row.hash})
    return replace(entry, id=int(row.id), previous_hash=str(row.previous_hash), hash=str(row.hash))


def _append_postgresql(
    connection: Connection, entry: Entry, riders: Riders, values: dict[str, Any]
) -> Entry | None:
    if sum(len(rows) for _table, rows in riders) > CARRIED_RIDERS_AT_MOST:
        for table, rows in riders:
            connection.execute(insert(table), list(rows))
        riders = ()
    statement = _carrying(riders)
    for number, (_table, rows) in enumerate(riders):
        for index, rider in enumerate(rows):
            for key, value in rider.items():
                values[f"r{number}_{index}_{key}"] = value
    row = connection.execute(statement, values).one_or_none()
    if row is None:
        return None
    return replace(
        entry, id=int(row.last_id), previous_hash=str(row.previous_hash), hash=str(row.last_hash)
    )


def _hashed(previous: ColumnElement[Any], number: ColumnElement[Any]) -> ColumnElement[str]:
    """PostgreSQL's :func:`~formflow.audit.entry.chain_hash` of the entry numbered
    ``number`` after the hash ``previous``: its bound text around the id joined around
    ``number``'s digits (``before_id`` begins with the newline after the previous hash)."""
    content = (
        previous.concat(bindparam("before_id", type_=String))
        .concat(cast(number, Text))
        .concat(bindparam("after_id", type_=String))
    )
    utf8 = func.convert_to(content, literal_column("'UTF8'"))
    return func.encode(func.sha256(utf8), literal_column("'hex'"), type_=String)


_ENTRY_KEYS = [column.name for column in audit_entries.c]
_NUMBERED = ("id", "previous_hash", "hash")
"""The entry's columns that the head gives; the others are bound."""


def _bound(key: str) -> Any:
    """The bound value of the entry's column ``key``: named apart from the head's columns,
    which an ``UPDATE`` would otherwise set from a value of the same name."""
    return bindparam(f"e_{key}", type_=audit_entries.c[key].type)


def _carrying(riders: Riders) -> Select[Any]:
    """The statement for an entry and ``riders``, built once per shape (tables, columns
    and row counts)."""
    shape = tuple((table, tuple(rows[0]), len(rows)) for table, rows in riders if rows)
    statement = _CARRIED.get(shape)
    if statement is None:
        if len(_CARRIED) > 256:
            _CARRIED.clear()
        statement = _CARRIED[shape] = _carried(shape)
    return statement


def _carried(shape: tuple[tuple[Table, tuple[str, ...], int], ...]) -> Select[Any]:
    held = (
        select(audit_head.c.id, audit_head.c.last_id, audit_head.c.last_hash)
        .where(audit_head.c.id == 1)
        .with_for_update()
        .cte("held")
    )
    number = held.c.last_id + 1
    head = (
        update(audit_head)
        .where(audit_head.c.id == held.c.id)
        .values(last_id=number, last_hash=_hashed(held.c.last_hash, number))
        .add_cte(held)
        .returning(
            audit_head.c.last_id,
            audit_head.c.last_hash,
            held.c.last_hash.label("previous_hash"),
        )
        .cte("head")
    )
    numbered = {
        "id": head.c.last_id,
        "previous_hash": head.c.previous_hash,
        "hash": head.c.last_hash,
    }
    entry = select(*(numbered.get(key, _bound(key)).label(key) for key in _ENTRY_KEYS))
    added = insert(audit_entries).from_select(_ENTRY_KEYS, entry.select_from(head))
    ctes = [
        insert(table)
        .from_select(keys, _rows(table, keys, [f"r{number}_{index}_" for index in range(rows)]))
        .cte(f"rider_{number}")
        for number, (table, keys, rows) in enumerate(shape)
    ]
    return select(head.c.last_id, head.c.last_hash, head.c.previous_hash).add_cte(
        *ctes, added.cte("added")
    )


def _rows(table: Table, keys: Sequence[str], prefixes: Sequence[str]) -> Any:
    """Rows of bound values as a ``SELECT`` (a ``UNION ALL`` of one a row): unlike a
    multi-row ``VALUES``, SQLAlchemy compiles it once and keeps it in its cache."""
    chosen = [
        select(*(bindparam(prefix + key, type_=table.c[key].type).label(key) for key in keys))
        for prefix in prefixes
    ]
    return chosen[0] if len(chosen) == 1 else union_all(*chosen)


_CARRIED: dict[Any, Select[Any]] = {}
"""PostgreSQL's statement for each shape of riders met so far."""


def _hash_function_on(connection: Connection) -> None:
    """Register SQLite's hash function on ``connection``'s database connection, once."""
    if connection.info.get(_HASH_FUNCTION):
        return
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection in use has one
    driver.create_function(_HASH_FUNCTION, 4, _sqlite_hash, deterministic=True)
    connection.info[_HASH_FUNCTION] = True


def _sqlite_hash(previous: str, before_id: str, number: int, after_id: str) -> str:
    return hashlib.sha256(f"{previous}{before_id}{number}{after_id}".encode()).hexdigest()


_HASH_FUNCTION = "ff_audit_chain_hash"
_AFTER_HEAD = {
    "id": audit_head.c.last_id + 1,
    "previous_hash": audit_head.c.last_hash,
    "hash": getattr(func, _HASH_FUNCTION)(
        audit_head.c.last_hash,
        bindparam("before_id", type_=String),
        audit_head.c.last_id + 1,
        bindparam("after_id", type_=String),
        type_=String,
    ),
}
_INSERT_AFTER_HEAD = (
    insert(audit_entries)
    .from_select(
        _ENTRY_KEYS,
        select(*(_AFTER_HEAD.get(key, _bound(key)).label(key) for key in _ENTRY_KEYS)).where(
            audit_head.c.id == 1
        ),
    )
    .returning(audit_entries.c.id, audit_entries.c.previous_hash, audit_entries.c.hash)
)
"""SQLite's entry, numbered and hashed after the head row."""
_SET_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(last_id=bindparam("number"), last_hash=bindparam("digest"))
)
