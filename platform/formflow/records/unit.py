"""Units of work: several record writes, across forms and apps, in one transaction.

A workflow step changes a record's state, creates another record and decides a task; an
import stores an account with its people. Either all of it is stored, with every audit
entry and event, or none of it::

    with unit_of_work(engine):
        account = records.create(actor, "account", {...})
        records.create(actor, "person", {"account": account["id"], ...})

Each write inside keeps its own checks, permissions and audit, and runs in a savepoint, so a
write that is refused (and caught) leaves the unit's other writes intact. Work that must wait
for the commit, such as handing the unit's events on, is registered with
:meth:`UnitOfWork.after_commit` and runs once, after the outermost unit commits. Rows that
are cheaper written together, such as the audit chain's entries (one advance of the
chain's head for the whole unit instead of one per entry), are kept back with
:meth:`UnitOfWork.kept` and written just before the commit; what a rolled-back savepoint
kept back is dropped with it. Plain rows for a table that nothing reads before the commit
(a record's history, an event no subscriber is owed) are kept with
:meth:`UnitOfWork.kept_inserts`: on PostgreSQL they ride in the statement of the unit's
*carrier* (the audit chain's advance), as data-modifying ``WITH`` clauses, so that a
write's traces cost one round trip instead of one each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakSet

from sqlalchemy import Connection, Engine, Table, event

from formflow.storage.database import write_transaction
from formflow.storage.prepared import insert_into

logger = logging.getLogger(__name__)


@dataclass
class _Kept:
    """Rows kept back under one key, and how they are written."""

    flush: Flush | None
    order: int
    carrier: Carrier | None = None
    table: Table | None = None
    """For plain inserts (:meth:`UnitOfWork.kept_inserts`): the table they go into."""
    rows: list[Any] = field(default_factory=list)


class UnitOfWork:
    """The open transaction of a unit, and what is to run once it has committed."""

    def __init__(self, engine: Engine, connection: Connection) -> None:
        self.engine = engine
        self.connection = connection
        self._after_commit: dict[object, Callable[[], object]] = {}
        self._kept: dict[object, _Kept] = {}
        self._marks: list[dict[object, int]] = []
        """How many rows each list kept, as each open savepoint began."""
        self.memo: dict[object, Any] = {}
        """Answers a unit may reuse, about what its own writes do not change (whether a
        record has followers, asked by each of its events)."""

    def kept(
        self,
        key: object,
        flush: Flush,
        *,
        order: int = 0,
        carrier: Carrier | None = None,
    ) -> list[Any]:
        """The rows kept back under ``key``, to which the caller appends: just before the
        commit, ``flush`` writes them all on the unit's connection (lists of a lower
        ``order`` first). Rows appended in a savepoint that rolls back are dropped.

        A ``carrier`` writes them instead when the unit also kept plain inserts
        (:meth:`kept_inserts`), and writes those too (in its own statement on PostgreSQL)."""
        found = self._kept.get(key)
        if found is None:
            found = self._kept[key] = _Kept(flush, order, carrier)
        return found.rows

    def kept_inserts(self, table: Table) -> list[dict[str, Any]]:
        """Rows to insert into ``table`` just before the commit, each with the same keys:
        taken along by the unit's carrier when it has one (on PostgreSQL, in the same
        statement), else in one insert. Only for rows nothing reads, numbers after, or
        needs the id of before the commit."""
        key = (_INSERTS, table)
        found = self._kept.get(key)
        if found is None:
            found = self._kept[key] = _Kept(None, _INSERTS_ORDER, table=table)
        rows: list[dict[str, Any]] = found.rows
        return rows

    def _flush(self) -> None:
        kept = sorted(self._kept.values(), key=lambda found: found.order)
        carrier = next((found for found in kept if found.carrier and found.rows), None)
        riders = [
            (found.table, found.rows)
            for found in kept
            if carrier is not None and found.table is not None and found.rows
        ]
        for found in kept:
            if not found.rows:
                continue
            if found is carrier and found.carrier is not None:
                found.carrier(self.connection, found.rows, riders)
                for _table, rows in riders:
                    rows.clear()
            elif found.table is not None:
                if carrier is not None:
                    continue  # taken along by the carrier
                insert_into(found.table).run(self.connection, found.rows)
            elif found.flush is not None:
                found.flush(self.connection, found.rows)
            found.rows.clear()

    def after_commit(self, callback: Callable[[], object], *, key: object = None) -> None:
        """Run ``callback`` after the commit, once per ``key`` (the callback itself by default)."""
        self._after_commit.setdefault(callback if key is None else key, callback)

    def _committed(self) -> None:
        for callback in self._after_commit.values():
            try:
                callback()
            except Exception:  # the change is committed; what failed runs again later
                logger.exception("after-commit work failed; the change stays committed")


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[UnitOfWork]:
    """Open a unit on ``engine``, or join the one this context already has open there."""
    current = _current.get()
    if current is not None and current.engine is engine:
        yield current
        return
    _watch_savepoints(engine)
    with write_transaction(engine) as connection:
        unit = UnitOfWork(engine, connection)
        token = _current.set(unit)
        try:
            yield unit
            unit._flush()
        finally:
            _current.reset(token)
    unit._committed()


@contextmanager
def one_write(engine: Engine) -> Iterator[UnitOfWork]:
    """The unit one write runs in: a savepoint of the open unit, else a unit of its own."""
    current = _current.get()
    if current is None or current.engine is not engine:
        with unit_of_work(engine) as unit:
            yield unit
        return
    with current.connection.begin_nested():
        yield current


def current_unit() -> UnitOfWork | None:
    """The unit of work open in this context, if any (actions write inside it)."""
    return _current.get()


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (each with the same keys) into ``table`` in one statement: kept back
    until the commit by the unit of work open on ``connection`` (see
    :meth:`UnitOfWork.kept_inserts`), so that they cost no round trip of their own, else
    at once."""
    unit = _unit_on(connection)
    if unit is not None:
        unit.kept_inserts(table).extend(rows)
    elif rows:
        insert_into(table).run(connection, rows)


_current: ContextVar[UnitOfWork | None] = ContextVar("formflow_unit_of_work", default=None)
Flush = Callable[[Connection, list[Any]], object]
"""Writes the rows a unit kept back under one key, on the unit's connection."""
Riders = Sequence[tuple[Table, list[dict[str, Any]]]]
"""Plain inserts a carrier takes along: each table with its rows."""
Carrier = Callable[[Connection, list[Any], Riders], object]
"""Writes the rows a unit kept back under one key and the unit's plain inserts."""
_INSERTS = "formflow.records.unit.inserts"
_INSERTS_ORDER = -1
_watched: WeakSet[Engine] = WeakSet()


def _watch_savepoints(engine: Engine) -> None:
    """Follow the savepoints of ``engine``'s units (once per engine), so that rows kept
    back in one that rolls back are dropped with its writes."""
    if engine in _watched:
        return
    _watched.add(engine)
    event.listen(engine, "savepoint", _savepoint_begun)
    event.listen(engine, "release_savepoint", _savepoint_released)
    event.listen(engine, "rollback_savepoint", _savepoint_rolled_back)


def _unit_on(connection: Connection) -> UnitOfWork | None:
    unit = _current.get()
    return unit if unit is not None and unit.connection is connection else None


def _savepoint_begun(connection: Connection, _name: object) -> None:
    unit = _unit_on(connection)
    if unit is not None:
        unit._marks.append({key: len(kept.rows) for key, kept in unit._kept.items()})


def _savepoint_released(connection: Connection, _name: object, _context: object) -> None:
    unit = _unit_on(connection)
    if unit is not None and unit._marks:
        unit._marks.pop()


def _savepoint_rolled_back(connection: Connection, _name: object, _context: object) -> None:
    unit = _unit_on(connection)
    if unit is not None and unit._marks:
        marks = unit._marks.pop()
        for key, kept in unit._kept.items():
            del kept.rows[marks.get(key, 0) :]
