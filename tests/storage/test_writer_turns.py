"""Writers on one SQLite database take turns before they begin, in threads and processes.

Each engine here has SQLite's busy timeout at zero: a writer that met another's lock
inside SQLite would fail at once with "database is locked", so a write that succeeds
behind another waited its turn outside SQLite.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, event, insert, select
from sqlalchemy.exc import OperationalError

from formflow.storage.database import connect, write_transaction

metadata = MetaData()
numbers = Table("numbers", metadata, Column("n", Integer, primary_key=True))
HOLD_SECONDS = 0.2


def impatient(path: Path) -> Engine:
    """An engine whose connections give up at once on SQLite's own lock."""
    engine = connect(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    metadata.create_all(engine)
    return engine


def hold_write(engine: Engine, started: Any, n: int) -> None:
    """Store ``n`` in a write held open for HOLD_SECONDS."""
    with write_transaction(engine) as connection:
        connection.execute(insert(numbers).values(n=n))
        started.set()
        time.sleep(HOLD_SECONDS)


def write_slowly(path: str, started: Any, n: int) -> None:
    """:func:`hold_write` in a process of its own."""
    engine = impatient(Path(path))
    hold_write(engine, started, n)
    engine.dispose()


def stored(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(numbers.c.n)).scalars())


def test_a_thread_writes_after_another_threads_write_instead_of_failing(tmp_path: Path) -> None:
    engine = impatient(tmp_path / "turns.db")
    started = threading.Event()
    first = threading.Thread(target=hold_write, args=(engine, started, 1))
    first.start()
    assert started.wait(10)
    with write_transaction(engine) as connection:
        connection.execute(insert(numbers).values(n=2))
    first.join()
    assert stored(engine) == [1, 2]


def test_a_process_writes_after_another_processs_write_instead_of_failing(
    tmp_path: Path,
) -> None:
    engine = impatient(tmp_path / "turns.db")
    context = multiprocessing.get_context("spawn")
    started = context.Event()
    other = context.Process(target=write_slowly, args=(str(tmp_path / "turns.db"), started, 1))
    other.start()
    try:
        assert started.wait(30)
        with write_transaction(engine) as connection:
            connection.execute(insert(numbers).values(n=2))
    finally:
        other.join(30)
    assert other.exitcode == 0
    assert stored(engine) == [1, 2]


def test_a_write_inside_a_write_of_the_same_thread_meets_sqlites_lock_as_before(
    tmp_path: Path,
) -> None:
    engine = impatient(tmp_path / "turns.db")
    with write_transaction(engine) as outer:
        outer.execute(insert(numbers).values(n=1))
        with (
            pytest.raises(OperationalError, match="locked"),
            write_transaction(engine) as inner,
        ):
            inner.execute(insert(numbers).values(n=2))
    assert stored(engine) == [1]
