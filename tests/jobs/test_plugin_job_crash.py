"""A worker killed in the middle of a plugin job: the sweep hands the job on once its
lease has run out, another worker carries on from the job's recorded progress, and the
job completes once."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from plugin_job_workers import (
    LEASE_SECONDS,
    STEPS,
    finished,
    plugin_jobs,
    run_plugin_worker,
    steps,
    steps_metadata,
)
from queues import wait_until
from sqlalchemy import Engine, func, select

from formflow.jobs.plugin_jobs import DONE, RUNNING
from formflow.storage.platform_tables import plugin_jobs as jobs_table

STEP_COUNT = 60


def count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def job(engine: Engine) -> tuple[str, int, datetime | None]:
    with engine.connect() as connection:
        row = connection.execute(
            select(jobs_table.c.status, jobs_table.c.attempts, jobs_table.c.leased_until)
        ).one()
    until = row.leased_until
    return row.status, row.attempts, until.replace(tzinfo=UTC) if until else None


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_plugin_job_killed_mid_way_is_resumed_and_completes_once(
    request: pytest.FixtureRequest,
    backend: str,
    database_url: str,
    engine: Engine,
    tmp_path: Path,
) -> None:
    queue = (
        request.getfixturevalue("redis_queue").spec
        if backend == "redis"
        else str(tmp_path / "jobs.db")
    )
    jobs_table.create(engine)
    steps_metadata.create_all(engine)
    here = plugin_jobs(engine, queue)
    job_id = here.enqueue(STEPS, {"steps": STEP_COUNT})

    spawn = multiprocessing.get_context("spawn")
    worker = spawn.Process(target=run_plugin_worker, args=(database_url, queue, 0.05))
    worker.start()
    try:
        wait_until(lambda: count(engine, steps) >= STEP_COUNT // 4, "the job to get going")
    finally:
        worker.kill()
        worker.join()
    assert worker.exitcode == -9
    assert count(engine, steps) < STEP_COUNT  # killed in the middle
    assert job(engine)[0] == RUNNING
    assert here.sweep() == 0  # its lease still holds

    time.sleep(LEASE_SECONDS + 0.5)
    wait_until(lambda: job(engine)[2] < datetime.now(UTC), "the dead worker's lease")  # type: ignore[operator]
    assert here.sweep() == 1
    restarted = spawn.Process(target=run_plugin_worker, args=(database_url, queue, 0.0))
    restarted.start()
    try:
        wait_until(lambda: job(engine)[0] == DONE, "the job to complete")
    finally:
        restarted.terminate()
        restarted.join()

    assert count(engine, steps) == STEP_COUNT
    with engine.connect() as connection:
        completions = connection.execute(select(finished.c.job_id, finished.c.attempt)).all()
    assert [tuple(row) for row in completions] == [(job_id, 2)]
    assert job(engine)[:2] == (DONE, 2)
