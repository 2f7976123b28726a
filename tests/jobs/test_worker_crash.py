"""A worker killed in the middle of a burst of jobs loses nothing and does nothing twice."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from job_workers import TALLY, acted, calls, open_queue, relay, run_worker, tallies, test_metadata
from queues import wait_until
from sqlalchemy import Engine, func, select

from formflow.jobs import Jobs
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.platform_tables import event_subscribers
from formflow.storage.tables import AppSchema

BURST = 200


def count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def lease_ran_out(engine: Engine) -> bool:
    with engine.connect() as connection:
        until = connection.execute(
            select(event_subscribers.c.leased_until).where(event_subscribers.c.name == TALLY)
        ).scalar()
    return until is None or until.replace(tzinfo=UTC) < datetime.now(UTC)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_worker_killed_mid_burst_loses_nothing_and_does_nothing_twice(
    request: pytest.FixtureRequest,
    backend: str,
    database_url: str,
    engine: Engine,
    schema: AppSchema,
    tmp_path: Path,
) -> None:
    queue = (
        request.getfixturevalue("redis_queue").spec
        if backend == "redis"
        else str(tmp_path / "jobs.db")
    )
    test_metadata.create_all(engine)
    writer = relay(engine)
    Jobs(open_queue(queue), writer)  # commits ring the queue, as in a server
    service = RecordService(engine, schema, relay=writer)
    ids = [
        service.create(Actor.system(), "account", {"name": f"Account {n}"})["id"]
        for n in range(BURST)
    ]

    spawn = multiprocessing.get_context("spawn")
    worker = spawn.Process(target=run_worker, args=(database_url, queue, 2, 0.01))
    worker.start()
    try:
        wait_until(lambda: count(engine, acted) >= BURST // 4, "the worker to get going")
    finally:
        worker.kill()
        worker.join()
    assert worker.exitcode == -9
    assert count(engine, acted) < BURST  # killed in the middle

    wait_until(lambda: lease_ran_out(engine), "the dead worker's lease to run out")
    restarted = spawn.Process(target=run_worker, args=(database_url, queue, 2, 0.0))
    restarted.start()
    try:
        wait_until(lambda: writer.owed(TALLY) == 0, "every delivery")
    finally:
        restarted.terminate()
        restarted.join()

    with engine.connect() as connection:
        counts = dict(connection.execute(select(tallies.c.record_id, tallies.c.count)).all())
    assert counts == dict.fromkeys(ids, 1)  # every job ran, once in effect
    assert count(engine, calls) >= BURST
