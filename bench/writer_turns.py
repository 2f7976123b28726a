"""How long a SQLite writer waits behind another's short writes, with and without turns.

Run: ``.venv/bin/python bench/writer_turns.py [--writes N]``.

Another writer, in a thread of this process and then in a process of its own (as
gunicorn's other worker, or the job consumer), keeps writing: a transaction held 3 ms,
then 1 ms of rest, as the job consumer's short writes do. This process makes N writes, 2 ms
apart, and times each from asking for the write transaction until it has begun. Each
setting runs twice: with Formflow's writer turns (see :mod:`formflow.storage.database`),
and without them, where a writer that finds the lock taken sleeps in SQLite's busy handler
(1, 2, 5, 10, 15, 20 ms... between looks). Wall-clock milliseconds: the point is the
waiting, which CPU time does not see.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert

from formflow.storage import database
from formflow.storage.database import connect, write_transaction

metadata = MetaData()
rows = Table("rows", metadata, Column("n", Integer, primary_key=True, autoincrement=True))
HOLD_S, REST_S, APART_S = 0.003, 0.001, 0.002


def engine_for(path: str, turns: bool) -> Engine:
    engine = connect(f"sqlite:///{path}")
    if not turns:
        database._turns.pop(engine)  # as before: straight to SQLite's lock
    return engine


def keep_writing(path: str, turns: bool, stop: Any) -> None:
    """The other writer: short write transactions until ``stop`` is set."""
    engine = engine_for(path, turns)
    while not stop.is_set():
        with write_transaction(engine) as connection:
            connection.execute(insert(rows))
            time.sleep(HOLD_S)
        time.sleep(REST_S)


def waits(where: str, turns: bool, writes: int) -> list[float]:
    """Milliseconds each of ``writes`` writes waited to begin, sorted."""
    path = tempfile.mkdtemp(prefix="turns-") + "/bench.db"
    engine = engine_for(path, turns)
    metadata.create_all(engine)
    stop: Any
    if where == "thread":
        stop = threading.Event()
        other: Any = threading.Thread(target=keep_writing, args=(path, turns, stop))
    else:
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        other = context.Process(target=keep_writing, args=(path, turns, stop))
    other.start()
    time.sleep(2)  # the other writer is under way
    found = []
    try:
        for _ in range(writes):
            started = time.perf_counter()
            with write_transaction(engine) as connection:
                found.append((time.perf_counter() - started) * 1000)
                connection.execute(insert(rows))
            time.sleep(APART_S)
    finally:
        stop.set()
        other.join()
    engine.dispose()
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    pick: Callable[[list[float], float], float] = lambda s, f: s[round(f * (len(s) - 1))]  # noqa: E731
    print("other writer | turns | p50 ms | p95 ms | max ms")
    for where in ("thread", "process"):
        for turns in (False, True):
            found = waits(where, turns, args.writes)
            print(
                f"{where} | {'yes' if turns else 'no'} | {pick(found, 0.5):.2f} | "
                f"{pick(found, 0.95):.2f} | {found[-1]:.1f}"
            )


if __name__ == "__main__":
    main()
