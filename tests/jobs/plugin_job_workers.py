"""A plugin job and a worker process running it, for the plugin jobs' crash test
(importable by spawned children).

The job ``steps.count`` records each of its steps in a table of its own, skipping those
recorded already, as a resumable plugin job should, and records once that it finished.
"""

from __future__ import annotations

import time

from job_workers import open_queue
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select

from formflow.events import Relay
from formflow.jobs import Jobs
from formflow.jobs.plugin_jobs import JobRun, PluginJob, PluginJobs, attach
from formflow.storage.database import connect, write_transaction

STEPS = "steps.count"
LEASE_SECONDS = 2

steps_metadata = MetaData()
steps = Table(
    "test_steps",
    steps_metadata,
    Column("job_id", Integer, primary_key=True),
    Column("step", Integer, primary_key=True),
)
finished = Table(
    "test_finished",
    steps_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
)


def definitions(engine: Engine, pause: float) -> dict[str, PluginJob]:
    def count(run: JobRun) -> None:
        with engine.connect() as connection:
            done = set(
                connection.execute(select(steps.c.step).where(steps.c.job_id == run.id)).scalars()
            )
        for step in range(int(run.payload["steps"])):
            if step in done:
                continue
            with write_transaction(engine) as connection:
                connection.execute(insert(steps).values(job_id=run.id, step=step))
            if not run.keep_alive():
                return
            time.sleep(pause)
        with write_transaction(engine) as connection:
            connection.execute(insert(finished).values(job_id=run.id, attempt=run.attempt))

    return {STEPS: PluginJob(STEPS, count, lease_seconds=LEASE_SECONDS)}


def plugin_jobs(engine: Engine, queue: str, pause: float = 0.0) -> PluginJobs:
    """The plugin jobs on ``queue``, as a process with the plugin has them."""
    jobs = PluginJobs(engine, definitions(engine, pause), instance=None)
    attach(Jobs(open_queue(queue), Relay(engine, {})), jobs)
    return jobs


def run_plugin_worker(database_url: str, queue: str, pause: float) -> None:
    """What `formflow worker` does for plugin jobs: consume until killed."""
    engine = connect(database_url)
    jobs = Jobs(open_queue(queue), Relay(engine, {}))
    attach(jobs, PluginJobs(engine, definitions(engine, pause), instance=None))
    jobs.consumer(2).run()
