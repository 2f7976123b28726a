"""Appending a single entry after the head read under its lock: nothing is guessed.

A save writes one entry. Chained in Python, it needs the head's number and hash before
its own hash can be written, and a guess at them (the head this process last wrote) misses
nearly always when several processes write: another statement and the hashing again on
each miss. Here the entry is chained after the head as it is once its lock is held:

- PostgreSQL, one statement: ``WITH`` clauses lock the head (``SELECT ... FOR UPDATE``: a
  writer that waited for the lock reads the row its predecessor committed), advance it to
  the entry's number and hash (``sha256`` over the previous hash, a newline and the
  canonical text with the number), insert the entry from what the advance returns, and
  insert the unit's other kept-back rows (the riders) beside.
  The database computes the hash, from the canonical text split around the id
  (:meth:`~formflow.audit.entry.Entry.canonical_around_id`), to the bytes
  :meth:`~formflow.audit.entry.Entry.canonical` gives, so :mod:`formflow.audit.verify`
  checks it as any other. (``sha256()`` needs PostgreSQL 11 or later; ``convert_to`` gives
  UTF-8 whatever the database's encoding.)
- SQLite, three statements: a writer holds the whole database's write lock from its
  ``BEGIN IMMEDIATE``, so the head it reads is the true one; it chains the entry in Python,
  inserts it and sets the head. Inserting the entry from the head row, hashed by a
  function registered on the connection, saves a statement but cost more CPU (216-228
  against 202-208 µs an append, 5,000 appends in one transaction, three rounds,
  2026-12-05): SQLite's statements are calls, not round trips.

A batch of entries is chained in Python after a checked guess
(:func:`formflow.audit.chain.append`).
"""

from __future__ import annotations

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
from formflow.storage.prepared import Prepared, insert_into

Riders = Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
"""Rows to insert with the entries: each table with its rows (each row with the same keys)."""

CARRIED_RIDERS_AT_MOST = 16
"""The most riders' rows PostgreSQL's statement carries: a single save writes one entry
and a handful of rows. More would make a statement of a ``SELECT`` a row, a shape per
count, whose compiling costs more than the round trips it saves; they are inserted with
``executemany`` beside it instead."""


def append_locked(connection: Connection, entry: Entry, riders: Riders = ()) -> Entry | None:
    """Write ``entry`` numbered and hashed after the head as it is under the head's lock,
    and the rows of ``riders`` with it; returns it as stored, or None when the head row is
    not made yet (the riders are written all the same)."""
    if connection.dialect.name == "postgresql":
        return _append_postgresql(connection, entry, riders)
    for table, rows in riders:
        if rows:
            insert_into(table).run(connection, rows)
    head = _HEAD.run(connection, {}).one_or_none()
    if head is None:
        return None
    chained = replace(entry, id=int(head.last_id) + 1, previous_hash=str(head.last_hash))
    stored = replace(chained, hash=chained.expected_hash())
    _INSERT.run(connection, stored.row())
    _SET_HEAD.run(connection, {"number": stored.id, "digest": stored.hash})
    return stored


def _append_postgresql(connection: Connection, entry: Entry, riders: Riders) -> Entry | None:
    before_id, after_id = entry.canonical_around_id()
    values = {f"e_{key}": value for key, value in entry.row().items() if key not in _NUMBERED}
    values.update(before_id="\n" + before_id, after_id=after_id)
    riders = [(table, rows) for table, rows in riders if rows]
    if sum(len(rows) for _table, rows in riders) > CARRIED_RIDERS_AT_MOST:
        for table, rows in riders:
            insert_into(table).run(connection, rows)
        riders = ()
    statement = _carrying(riders)
    for number, (_table, rows) in enumerate(riders):
        for index, rider in enumerate(rows):
            for key, value in rider.items():
                values[f"r{number}_{index}_{key}"] = value
    row = statement.run(connection, values).one_or_none()
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


def _carrying(riders: Riders) -> Prepared:
    """The statement for an entry and ``riders``, built and compiled once per shape
    (tables, columns and row counts)."""
    shape = tuple((table, tuple(rows[0]), len(rows)) for table, rows in riders)
    statement = _CARRIED.get(shape)
    if statement is None:
        if len(_CARRIED) > 256:
            _CARRIED.clear()
        statement = _CARRIED[shape] = Prepared(_carried(shape))
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


_CARRIED: dict[Any, Prepared] = {}
"""PostgreSQL's statement for each shape of riders met so far."""


_HEAD = Prepared(select(audit_head.c.last_id, audit_head.c.last_hash).where(audit_head.c.id == 1))
"""SQLite's three statements, compiled once (see :mod:`formflow.storage.prepared`)."""
_INSERT = Prepared(insert(audit_entries))
_SET_HEAD = Prepared(
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(last_id=bindparam("number"), last_hash=bindparam("digest"))
)
