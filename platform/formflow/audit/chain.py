"""Writing the audit log: one entry per act, chained to the one before by a hash.

An entry is written by :func:`log` on the connection of the act it records, so it commits
or rolls back with it. Every writer first updates the one-row head table
(``ff_audit_head``): the update takes that row's lock on PostgreSQL, and SQLite's writers
already queue for the whole database, so writers append one at a time, each after the head
it read. Entries are numbered from the head without gaps, so a deleted entry leaves a hole
that :mod:`formflow.audit.verify` names.

A single entry, what a save writes, is chained after the head as it is once its lock is
held (:mod:`formflow.audit.locked`): on PostgreSQL the database numbers and hashes it in
one statement, which also carries the unit's other kept-back rows (the records' history,
events no one is owed...) as ``WITH`` clauses; on SQLite, whose writers hold the
database's write lock, the head is read and the entry chained in Python. A write's trail
then costs one round trip on PostgreSQL where it cost three to six, whatever other
processes wrote meanwhile.

A batch of entries (a unit of work's) is chained in Python after the head this process
last wrote, and its one update advances the head and sets the hash only if the head is
still that one, which the update checks under the lock; when another writer came
between, the update returns the true head and the entries are chained after it, with a
second update for the hash.

Inside a unit of work (:mod:`formflow.records.unit`) the entries are kept back and
appended together just before the unit commits: one advance of the head and one insert
for the whole unit (a workflow decision logs two or more), instead of two or three
statements per entry; on PostgreSQL the head's lock is then held only
for the end of the unit. An entry logged in a savepoint that rolls back is dropped with it.

Who acts and from where is set once per request or command with :func:`acting`; the
record service and the account functions need not be told.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Connection,
    Engine,
    String,
    and_,
    bindparam,
    case,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from formflow.audit.entry import Entry, chain_hash, utc
from formflow.audit.locked import Riders, append_locked
from formflow.storage.platform_tables import GENESIS_HASH, audit_entries, audit_head

__all__ = [
    "Entry",
    "Origin",
    "Riders",
    "acting",
    "append",
    "chain_hash",
    "head",
    "log",
    "origin",
    "utc",
]


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


def append(connection: Connection, entries: Sequence[Entry], riders: Riders = ()) -> list[Entry]:
    """Number ``entries`` from the head on, chain them and write them, and the rows of
    ``riders`` with them: one advance of the head for them all. Returns them as stored.

    A single entry is chained after the head as it is under the head's lock
    (:func:`~formflow.audit.locked.append_locked`: on PostgreSQL one statement with the
    riders, the hash computed by the database). Several are chained after the head this process last wrote, which the
    advance checks (:func:`_append_guessed`)."""
    if len(entries) == 1:
        stored = [_append_one(connection, entries[0], riders)]
    else:
        stored = _append_guessed(connection, entries, riders)
    _last_written[connection.engine] = (stored[-1].id, stored[-1].hash)
    return stored


def _append_one(connection: Connection, entry: Entry, riders: Riders) -> Entry:
    stored = append_locked(connection, entry, riders)
    if stored is None:  # the very first entry of this instance; the riders are written
        _start_chain(connection)
        stored = append_locked(connection, entry)
    if stored is None:
        raise ChainHeadMissing("the audit chain's head row is missing after it was made")
    return stored


class ChainHeadMissing(RuntimeError):
    """The head row was made, yet the append found none: the table is not the one made."""


def _append_guessed(
    connection: Connection, entries: Sequence[Entry], riders: Riders
) -> list[Entry]:
    """The entries are first chained after the head this process last wrote, and the
    advance sets the head's hash to theirs only if the head is still that one, checked by
    the update itself under the head's lock (see :data:`_ADVANCE_HEAD`); otherwise another
    writer came between, and they are chained again after the head the advance returned
    and its hash set by a second update. The riders' rows are inserted with
    ``executemany`` beside the advance, in as many statements whatever their count."""
    guess_id, guess_hash = _last_written.get(connection.engine, (-1, ""))
    stored = _chained(entries, guess_id, guess_hash)
    guess = {
        "count": len(entries),
        "guess_id": guess_id,
        "guess_hash": guess_hash,
        "digest": stored[-1].hash,
    }
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
    connection.execute(_INSERT, [entry.row() for entry in stored])
    if missed:
        connection.execute(_SET_HEAD_HASH, {"digest": stored[-1].hash})
    return stored


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
(committed or not): only a guess at its head, which a batch's advance checks."""
_KEPT = "formflow.audit.chain"
"""The key of a unit's kept-back entries."""
LAST = 100
"""Their flush's order: after every other kept-back row, so that PostgreSQL holds the head's
lock for the shortest time."""
_ADVANCE_HEAD = (  # the first statement of a batch's append: takes the head's lock
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
