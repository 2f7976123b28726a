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
:meth:`UnitOfWork.after_commit` and runs once, after the outermost unit commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Connection, Engine

from formflow.storage.database import write_transaction

logger = logging.getLogger(__name__)


class UnitOfWork:
    """The open transaction of a unit, and what is to run once it has committed."""

    def __init__(self, engine: Engine, connection: Connection) -> None:
        self.engine = engine
        self.connection = connection
        self._after_commit: dict[object, Callable[[], object]] = {}

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
    with write_transaction(engine) as connection:
        unit = UnitOfWork(engine, connection)
        token = _current.set(unit)
        try:
            yield unit
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


_current: ContextVar[UnitOfWork | None] = ContextVar("formflow_unit_of_work", default=None)
