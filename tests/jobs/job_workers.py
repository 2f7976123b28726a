"""Worker processes for the jobs tests (importable by spawned children).

The subscriber ``tally`` adds one to a record's tally: not idempotent by itself, so it
keeps the idempotency keys it has acted on, in the same transaction as the tally. A
delivery repeated after a crash then changes nothing: every job runs once in effect.
"""

from __future__ import annotations

import time
from datetime import timedelta

from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)

from formflow.events import Event, Relay, Subscriber
from formflow.jobs import Jobs
from formflow.storage.database import connect, write_transaction

TALLY = "tally"
LEASE = timedelta(seconds=2)

test_metadata = MetaData()
tallies = Table(
    "test_tallies",
    test_metadata,
    Column("record_id", Integer, primary_key=True),
    Column("count", Integer, nullable=False),
)
acted = Table("test_acted", test_metadata, Column("key", String(100), primary_key=True))
calls = Table(
    "test_calls",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(100), nullable=False),
)


def open_queue(queue: str) -> Huey:
    """A SQLite file's path, or a Redis URL with the queue's name after a ``#``."""
    if queue.startswith("redis://"):
        url, _, name = queue.partition("#")
        return RedisHuey(name or "formflow", url=url, results=False)
    return SqliteHuey("formflow", filename=queue, results=False)


def tally(engine: Engine, pause: float = 0.0) -> Subscriber:
    def deliver(event: Event, key: str) -> None:
        with write_transaction(engine) as connection:
            connection.execute(insert(calls).values(key=key))  # every call, repeats too
        with write_transaction(engine) as connection:
            if connection.execute(select(acted.c.key).where(acted.c.key == key)).first():
                return
            connection.execute(insert(acted).values(key=key))
            added = connection.execute(
                update(tallies)
                .where(tallies.c.record_id == event.record_id)
                .values(count=tallies.c.count + 1)
            ).rowcount
            if not added:
                connection.execute(insert(tallies).values(record_id=event.record_id, count=1))
        time.sleep(pause)

    return deliver


def relay(engine: Engine, pause: float = 0.0) -> Relay:
    return Relay(engine, {TALLY: tally(engine, pause)}, lease=LEASE)


def run_worker(database_url: str, queue: str, threads: int, pause: float) -> None:
    """What `formflow worker` does, with the test's subscriber: consume until killed."""
    engine = connect(database_url)
    Jobs(open_queue(queue), relay(engine, pause)).consumer(threads).run()
