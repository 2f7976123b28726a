"""Writing the audit log: one entry per act, chained to the one before by a hash.

An entry is written by :func:`log` on the connection of the act it records, so it commits
or rolls back with it. Every writer first updates the one-row head table
(``ff_audit_head``): the update takes that row's lock on PostgreSQL, and SQLite's writers
already queue for the whole database, so writers append one at a time, each after the head
it read. Entries are numbered from the head without gaps, so a deleted entry leaves a hole
that :mod:`formflow.audit.verify` names.

The head's hash could only be set once the head was read, in a second update. A writer now
chains its entries after the head it last wrote itself, and its one update advances the
head and sets the hash only if the head is still that one, which the update checks under
the lock; when another writer came between, the update returns the true head and the
entries are chained after it, with a second update for the hash, as before. The guess
saves a statement, and a wrong one costs nothing but that statement.

Inside a unit of work (:mod:`formflow.records.unit`) the entries are kept back and
appended together just before the unit commits: one advance of the head and one insert
for the whole unit (a workflow decision logs two or more), instead of two or three
statements per entry; on PostgreSQL the head's lock is then held only
for the end of the unit. An entry logged in a savepoint that rolls back is dropped with it.

On PostgreSQL the advance and the insert are one statement, which also carries the unit's
other kept-back rows (the records' history, events no one is owed...): ``WITH`` clauses
insert those, advance the head, and insert the entries only if the head was the one they
were chained after. When it was not, the entries are chained again and written after it,
as above. A write's trail then costs one round trip where it cost three to six.

Who acts and from where is set once per request or command with :func:`acting`; the
record service and the account functions need not be told.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from formflow.storage.platform_tables import GENESIS_HASH, audit_entries, audit_head


@dataclass(frozen=True)
class Origin:
    """Who is acting and from where, as far as the code doing the act cannot tell."""

    user_id: int | None = None
    address: str | None = None
    channel: str = ""
    """How the act arrived: ``web``, ``api``, ``cli``, ``job`` (or empty when unknown)."""
    who: Callable[[], int | None] | None = None
    """Asked for the user when ``user_id`` is not given: a web request knows who signs in
    only once it reads the session, and most requests write nothing to the log."""

    def actor(self) -> int | None:
        if self.user_id is not None or self.who is None:
            return self.user_id
        return self.who()


_origin: ContextVar[Origin | None] = ContextVar("formflow_audit_origin", default=None)
_NOBODY = Origin()


@contextmanager
def acting(
    *,
    user_id: int | None = None,
    address: str | None = None,
    channel: str = "",
    who: Callable[[], int | None] | None = None,
) -> Iterator[Origin]:
    """Within the block, entries without their own user or address take these."""
    origin = Origin(user_id, address, channel, who)
    token = _origin.set(origin)
    try:
        yield origin
    finally:
        _origin.reset(token)


def origin() -> Origin:
    """Who acts now, as the innermost :func:`acting` block says."""
    return _origin.get() or _NOBODY


@dataclass(frozen=True)
class Entry:
    """One audit entry as stored."""

    id: int
    at: datetime
    user_id: int | None
    action: str
    app_key: str | None = None
    form_key: str | None = None
    record_id: int | None = None
    address: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    previous_hash: str = ""
    hash: str = ""

    def canonical(self) -> bytes:
        """The entry's content as the hash covers it: every column but the hashes, as
        JSON with sorted keys, the moment in UTC to the microsecond."""
        content = {
            "id": self.id,
            "at": utc(self.at).isoformat(timespec="microseconds"),
            "user_id": self.user_id,
            "action": self.action,
            "app_key": self.app_key,
            "form_key": self.form_key,
            "record_id": self.record_id,
            "address": self.address,
            "detail": self.detail,
        }
        return json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    def expected_hash(self) -> str:
        return chain_hash(self.previous_hash, self.canonical())


def chain_hash(previous_hash: str, canonical: bytes) -> str:
    """SHA-256 over the previous entry's hash and this entry's canonical content."""
    return hashlib.sha256(previous_hash.encode() + b"\n" + canonical).hexdigest()


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; SQLite hands back naive values, which were stored as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def log(
    connection: Connection,
    action: str,
    *,
    user_id: int | None = None,
    app_key: str | None = None,
    form_key: str | None = None,
    record_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> Entry | None:
    """Append an entry for ``action`` in ``connection``'s transaction; returns it as
    stored, or None when the unit of work open on ``connection`` keeps it back until its
    commit.

    ``user_id`` and the address default to those of the enclosing :func:`acting` block.
    ``detail`` must be JSON (keys of changed fields, a token's name...): never a secret,
    and never a field's value, which the record's own history keeps under field access.
    """
    now = origin()
    entry = Entry(
        id=0,  # numbered when appended
        at=utc(at or datetime.now(UTC)),
        user_id=user_id if user_id is not None else now.actor(),
        action=str(action),
        app_key=app_key,
        form_key=form_key,
        record_id=record_id,
        address=now.address,
        detail={**(detail or {}), **({"via": now.channel} if now.channel else {})},
    )
    # imported here: the record service, which the units module's package loads, logs
    from formflow.records.unit import current_unit

    unit = current_unit()
    if unit is not None and unit.connection is connection:
        unit.kept(_KEPT, append, order=LAST, carrier=append).append(entry)
        return None
    return append(connection, [entry])[-1]


Riders = Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
"""Rows to insert with the entries: each table with its rows (each row with the same keys)."""


def append(connection: Connection, entries: Sequence[Entry], riders: Riders = ()) -> list[Entry]:
    """Number ``entries`` from the head on, chain them and write them, and the rows of
    ``riders`` with them: one advance of the head for them all. Returns them as stored.

    The entries are first chained after the head this process last wrote, and the advance
    sets the head's hash to theirs only if the head is still that one, checked by the
    update itself under the head's lock (see :data:`_ADVANCE_HEAD`); otherwise another
    writer came between, and they are chained again after the head the advance returned
    and its hash set by a second update. On PostgreSQL the riders, the advance and the
    entries (when the guess held) are one statement for a single save
    (:data:`CARRIED_RIDERS_AT_MOST`; see :func:`_carried`)."""
    engine = connection.engine
    guess_id, guess_hash = _last_written.get(engine, (-1, ""))
    stored = _chained(entries, guess_id, guess_hash)
    guess = {
        "count": len(entries),
        "guess_id": guess_id,
        "guess_hash": guess_hash,
        "digest": stored[-1].hash,
    }
    written = False  # the entries, by the advance itself
    if connection.dialect.name == "postgresql" and _carriable(riders, entries):
        statement, values = _carried(riders, stored)
        head = connection.execute(statement, {**values, **guess}).one_or_none()
        written = head is not None
    else:
        for table, rows in riders:
            connection.execute(insert(table), list(rows))
        head = connection.execute(_ADVANCE_HEAD, guess).one_or_none()
    if head is None:  # the very first entry of this instance
        _start_chain(connection)
        head = connection.execute(_ADVANCE_HEAD, guess).one()
    last_id, last_hash = int(head.last_id), str(head.last_hash)
    missed = (last_id, last_hash) != (guess_id + len(entries), stored[-1].hash)
    if missed:
        stored = _chained(entries, last_id - len(entries), last_hash)
    if missed or not written:
        connection.execute(_INSERT, [_row(entry) for entry in stored])
    if missed:
        connection.execute(_SET_HEAD_HASH, {"digest": stored[-1].hash})
    _last_written[engine] = (stored[-1].id, stored[-1].hash)
    return stored


CARRIED_RIDERS_AT_MOST = 16
"""The most riders' rows the advance carries, and only for one entry: a single save
writes one entry and a handful of rows. A batch's append (a sweep slice, a batch create)
would build a statement of a ``SELECT`` a row, a shape per batch size, whose compiling
costs far more than the round trips it saves; it inserts each table's rows with
``executemany`` beside the advance instead, in as many statements whatever its size."""


def _carriable(riders: Riders, entries: Sequence[Entry]) -> bool:
    return len(entries) == 1 and sum(len(rows) for _table, rows in riders) <= CARRIED_RIDERS_AT_MOST


_COLUMNS = tuple(column.name for column in audit_entries.c)


def _row(entry: Entry) -> dict[str, Any]:
    """The entry as a row of ``ff_audit_entries``, whose columns its fields are named after."""
    row = {name: getattr(entry, name) for name in _COLUMNS}
    row["detail"] = dict(entry.detail)
    return row


def _carried(riders: Riders, entries: Sequence[Entry]) -> tuple[Select[Any], dict[str, Any]]:
    """PostgreSQL's one statement for an append: ``WITH`` clauses that insert the riders'
    rows, advance the head (:data:`_ADVANCE_HEAD`) and insert ``entries`` only if the head
    then holds their last number and hash (the guess held); it returns the head. Built
    once per shape (tables, columns and row counts), with the values to run it with."""
    shape = (
        tuple((table, tuple(rows[0]), len(rows)) for table, rows in riders),
        len(entries),
    )
    statement = _CARRIED.get(shape)
    if statement is None:
        if len(_CARRIED) > 256:
            _CARRIED.clear()
        statement = _CARRIED[shape] = _carrying(shape)
    values: dict[str, Any] = {"advanced_id": entries[-1].id}
    for number, (_table, rows) in enumerate(riders):
        for index, row in enumerate(rows):
            for key, value in row.items():
                values[f"r{number}_{index}_{key}"] = value
    for index, entry in enumerate(entries):
        for key, value in _row(entry).items():
            values[f"e{index}_{key}"] = value
    return statement, values


def _carrying(
    shape: tuple[tuple[tuple[Table, tuple[str, ...], int], ...], int],
) -> Select[Any]:
    riders, count = shape
    head = _ADVANCE_HEAD.cte("head")
    held = and_(
        head.c.last_id == bindparam("advanced_id"),
        head.c.last_hash == bindparam("digest", type_=String),
    )
    keys = [column.name for column in audit_entries.c]
    prefixes = [f"e{index}_" for index in range(count)]
    added = insert(audit_entries).from_select(
        keys, _selected(prefixes, audit_entries, keys, head, held)
    )
    ctes = [
        insert(table)
        .from_select(keys, _selected([f"r{number}_{index}_" for index in range(rows)], table, keys))
        .cte(f"rider_{number}")
        for number, (table, keys, rows) in enumerate(riders)
    ]
    return select(head.c.last_id, head.c.last_hash).add_cte(*ctes, added.cte("added"))


def _selected(
    prefixes: Sequence[str],
    table: Table,
    keys: Sequence[str],
    head: Any = None,
    held: Any = None,
) -> Any:
    """Rows of bound values as a ``SELECT`` (a ``UNION ALL`` of one a row; from ``head``
    where ``held``, if given): unlike a multi-row ``VALUES``, SQLAlchemy compiles it once
    and keeps it in its cache."""
    chosen = []
    for prefix in prefixes:
        row = select(*(bindparam(prefix + key, type_=table.c[key].type).label(key) for key in keys))
        if head is not None:
            row = row.select_from(head).where(held)
        chosen.append(row)
    return chosen[0] if len(chosen) == 1 else union_all(*chosen)


_CARRIED: dict[Any, Select[Any]] = {}
"""The statement of :func:`_carried` for each shape met so far."""


def _chained(entries: Sequence[Entry], last_id: int, last_hash: str) -> list[Entry]:
    """``entries`` numbered and hashed after the entry ``last_id`` whose hash is ``last_hash``."""
    number, previous = last_id, last_hash
    stored: list[Entry] = []
    for entry in entries:
        number += 1
        chained = replace(entry, id=number, previous_hash=previous)
        previous = chained.expected_hash()
        stored.append(replace(chained, hash=previous))
    return stored


_last_written: WeakKeyDictionary[Engine, tuple[int, str]] = WeakKeyDictionary()
"""The number and hash of the newest entry each database's writers in this process wrote
(committed or not): only a guess at its head, which the advance checks."""
_KEPT = "formflow.audit.chain"
"""The key of a unit's kept-back entries."""
LAST = 100
"""Their flush's order: after every other kept-back row, so that PostgreSQL holds the head's
lock for the shortest time."""
_ADVANCE_HEAD = (  # the first statement of every append: takes the head's lock
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(
        last_id=audit_head.c.last_id + bindparam("count"),
        last_hash=case(
            (
                and_(
                    audit_head.c.last_id == bindparam("guess_id"),
                    audit_head.c.last_hash == bindparam("guess_hash"),
                ),
                bindparam("digest", type_=String),
            ),
            else_=audit_head.c.last_hash,
        ),
    )
    .returning(audit_head.c.last_id, audit_head.c.last_hash)
)
"""Advance the head by the entries' count; and set its hash to the last entry's when the
head was the one they were chained after (the ``SET`` reads the row as it is once the lock
is held: on PostgreSQL a writer that waited for it sees the row its predecessor committed).
It returns the head as it now is: the guessed number plus the count and the entries' hash
when the guess held, else the true number plus the count and the hash to chain after."""
_INSERT = insert(audit_entries)
_SET_HEAD_HASH = (
    update(audit_head).where(audit_head.c.id == 1).values(last_hash=bindparam("digest"))
)


def _start_chain(connection: Connection) -> None:
    """Make the head row; two first writers may race here, and the second finds it made."""
    dialect = connection.dialect.name
    values = {"id": 1, "last_id": 0, "last_hash": GENESIS_HASH}
    if dialect == "postgresql":
        connection.execute(pg_insert(audit_head).values(values).on_conflict_do_nothing())
    else:
        connection.execute(sqlite_insert(audit_head).values(values).on_conflict_do_nothing())


def head(connection: Connection) -> tuple[int, str]:
    """The number and hash of the newest entry (0 and the genesis hash before any)."""
    row = connection.execute(select(audit_head.c.last_id, audit_head.c.last_hash)).one_or_none()
    return (int(row.last_id), str(row.last_hash)) if row else (0, GENESIS_HASH)
