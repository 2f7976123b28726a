"""Plugins' background jobs: declared with ``formflow_jobs``, enqueued with the kit inside
the caller's unit of work, run on the queue with retries, and never run twice at once.

Each test runs on SQLite and on PostgreSQL (``database_url``); those with a queue run on
huey's SQLite queue and on Redis, drained in the test's thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from huey import Huey
from queues import drain
from sqlalchemy import select, update

from formflow import hookimpl
from formflow.cli import main
from formflow.jobs import Jobs
from formflow.jobs.plugin_jobs import DONE, FAILED, QUEUED, RUNNING, PluginJobs
from formflow.plugin_kit import JobRun, PluginJob, PluginJobError, enqueue
from formflow.plugins import PluginLoadError, load_plugins
from formflow.records.access import Actor
from formflow.records.unit import unit_of_work
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import plugin_jobs
from formflow.testing import Sandbox


class Worker:
    """A plugin with one job that records its payloads and fails while told to."""

    def __init__(self) -> None:
        self.runs: list[tuple[dict[str, Any], int]] = []
        self.failing = False
        self.log: list[str] = []
        self.done = 0

    def work(self, run: JobRun) -> None:
        if self.failing:
            raise RuntimeError("the provider is down")
        assert run.instance is not None
        self.runs.append((dict(run.payload), run.attempt))
        self.log.append("work")

    def in_slices(self, run: JobRun) -> None:
        """Works through ``payload["n"]`` items two at a time, a slice a run."""
        self.done = min(self.done + 2, int(run.payload["n"]))
        self.log.append(f"slice to {self.done} (attempt {run.attempt})")
        if self.done < int(run.payload["n"]):
            run.again()

    @hookimpl
    def formflow_jobs(self) -> list[PluginJob]:
        return [
            PluginJob("worker.work", self.work, retries=2, retry_delay=0),
            PluginJob("worker.slices", self.in_slices, retries=0),
        ]


@pytest.fixture
def worker() -> Worker:
    return Worker()


@pytest.fixture
def box(tmp_path: Path, worker: Worker, database_url: str) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, plugins=[worker], database_url=database_url) as box:
        yield box


@pytest.fixture
def queue(huey: Huey) -> Huey:
    """The queue: huey on a SQLite file, then on Redis (the jobs tests' ``huey``)."""
    return huey


def on_queue(box: Sandbox, queue: Huey) -> PluginJobs:
    box.instance.attach_jobs(Jobs(queue, box.instance.relay))
    return box.instance.plugin_jobs


def status_of(box: Sandbox, job_id: int) -> str:
    with read_transaction(box.instance.engine) as connection:
        return str(
            connection.execute(
                select(plugin_jobs.c.status).where(plugin_jobs.c.id == job_id)
            ).scalar_one()
        )


def test_formflow_jobs_declares_the_jobs_the_kit_runs(box: Sandbox, worker: Worker) -> None:
    assert list(box.plugins.jobs) == ["worker.work", "worker.slices"]
    job_id = enqueue("worker.work", {"blast": 7}, instance=box.instance)
    assert worker.runs == [({"blast": 7}, 1)]  # no queue attached: run at once
    assert status_of(box, job_id) == DONE


def test_a_job_asking_to_go_again_runs_its_slices_at_once_without_a_queue(
    box: Sandbox, worker: Worker
) -> None:
    job_id = enqueue("worker.slices", {"n": 5}, instance=box.instance)
    assert worker.log == [
        "slice to 2 (attempt 1)",
        "slice to 4 (attempt 1)",
        "slice to 5 (attempt 1)",
    ]
    assert status_of(box, job_id) == DONE


def test_a_job_asking_to_go_again_lets_the_jobs_waiting_run_first(
    box: Sandbox, worker: Worker, queue: Huey
) -> None:
    jobs = on_queue(box, queue)
    job_id = jobs.enqueue("worker.slices", {"n": 4})
    jobs.enqueue("worker.work", {"n": 1})
    drain(queue)
    assert worker.log == ["slice to 2 (attempt 1)", "work", "slice to 4 (attempt 1)"]
    assert status_of(box, job_id) == DONE


def test_formflow_jobs_names_are_unique() -> None:
    with pytest.raises(PluginLoadError, match=r"worker\.work"):
        load_plugins(entry_points=False, extra=[Worker(), Worker()])


def test_an_unknown_job_or_a_payload_that_is_not_json_is_refused(box: Sandbox) -> None:
    with pytest.raises(PluginJobError, match="no plugin job 'nope'"):
        enqueue("nope", {}, instance=box.instance)
    with pytest.raises(PluginJobError, match="not JSON"):
        enqueue("worker.work", {"when": datetime.now(UTC)}, instance=box.instance)


def test_a_job_enqueued_in_a_unit_runs_after_the_commit_and_not_after_a_rollback(
    box: Sandbox, worker: Worker, queue: Huey
) -> None:
    jobs = on_queue(box, queue)
    with unit_of_work(box.instance.engine):
        box.records.create(Actor.system(), "member", {"name": "One"})
        jobs.enqueue("worker.work", {"n": 1})
        assert queue.pending_count() == 0  # not before the commit
    assert queue.pending_count() == 1

    def enqueue_then_fail() -> None:
        with unit_of_work(box.instance.engine):
            jobs.enqueue("worker.work", {"n": 2})
            raise RuntimeError("the caller's work failed")

    with pytest.raises(RuntimeError):
        enqueue_then_fail()
    with read_transaction(box.instance.engine) as connection:
        assert connection.execute(select(plugin_jobs.c.id)).scalars().all() == [1]
    drain(queue)
    assert worker.runs == [({"n": 1}, 1)]


def test_a_failing_job_is_retried_then_failed_then_run_again_on_request(
    box: Sandbox, worker: Worker, queue: Huey
) -> None:
    jobs = on_queue(box, queue)
    worker.failing = True
    job_id = jobs.enqueue("worker.work", {"n": 1})
    drain(queue)  # the first run and its two retries (no wait: retry_delay 0)
    assert status_of(box, job_id) == FAILED
    with read_transaction(box.instance.engine) as connection:
        (failed,) = jobs.failed(connection)
        assert jobs.count_failed(connection) == 1
    assert (failed.id, failed.attempts) == (job_id, 3)
    assert "the provider is down" in failed.error

    worker.failing = False
    jobs.rerun(job_id)
    drain(queue)
    assert status_of(box, job_id) == DONE
    assert worker.runs == [({"n": 1}, 1)]


def test_a_job_runs_once_at_a_time_and_again_after_its_worker_died(
    box: Sandbox, worker: Worker, queue: Huey
) -> None:
    jobs = on_queue(box, queue)
    job_id = jobs.enqueue("worker.work", {"n": 1})
    engine = box.instance.engine
    with write_transaction(engine) as connection:  # as if a worker had taken it
        connection.execute(
            update(plugin_jobs).values(
                status=RUNNING,
                attempts=1,
                lease_holder="someone",
                leased_until=datetime.now(UTC) + timedelta(minutes=5),
            )
        )
    drain(queue)
    assert worker.runs == []  # the other worker holds it
    assert jobs.sweep() == 0
    with write_transaction(engine) as connection:  # that worker was killed
        connection.execute(
            update(plugin_jobs).values(leased_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert jobs.sweep() == 1
    drain(queue)
    assert worker.runs == [({"n": 1}, 2)]
    assert status_of(box, job_id) == DONE
    assert jobs.run(job_id) == DONE  # a repeated message finds it done
    assert len(worker.runs) == 1


def test_a_queued_job_whose_message_was_lost_is_swept(box: Sandbox, worker: Worker) -> None:
    jobs = box.instance.plugin_jobs
    jobs.dispatch = lambda _id: None  # the queue lost it
    job_id = jobs.enqueue("worker.work", {"n": 1})
    assert jobs.due() == []  # not yet: its message may still be waiting
    with write_transaction(box.instance.engine) as connection:
        connection.execute(
            update(plugin_jobs).values(available_at=datetime.now(UTC) - timedelta(minutes=2))
        )
    assert jobs.due() == [job_id]
    jobs.dispatch = jobs.run
    assert jobs.sweep() == 1
    assert status_of(box, job_id) == DONE
    assert status_of(box, job_id) != QUEUED


def test_keep_alive_extends_the_lease_until_another_worker_takes_over(box: Sandbox) -> None:
    seen: list[bool] = []

    def long_job(run: JobRun) -> None:
        seen.append(run.keep_alive())
        with write_transaction(box.instance.engine) as connection:
            connection.execute(update(plugin_jobs).values(lease_holder="another"))
        seen.append(run.keep_alive())

    box.instance.plugin_jobs.definitions = {"long": PluginJob("long", long_job)}
    box.instance.plugin_jobs.enqueue("long")
    assert seen == [True, False]


def test_formflow_jobs_failed_lists_them_and_rerun_queues_them_again(
    box: Sandbox, worker: Worker, tmp_path: Path, database_url: str
) -> None:
    worker.failing = True
    job_id = enqueue("worker.work", {"n": 1}, instance=box.instance)
    jobs = box.instance.plugin_jobs
    while status_of(box, job_id) == QUEUED:  # no queue: retries wait for the sweep
        jobs.run(job_id)
    environment = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": database_url,
    }
    runner = CliRunner()
    listed = runner.invoke(main, ["jobs", "failed"], env=environment)
    assert listed.exit_code == 0, listed.output
    assert f"{job_id:>5}" in listed.output
    assert "worker.work" in listed.output
    assert "after 3 attempts: RuntimeError: the provider is down" in listed.output

    rerun = runner.invoke(main, ["jobs", "rerun", str(job_id)], env=environment)
    assert rerun.exit_code == 0, rerun.output
    assert "queued 1 plugin job(s) again" in rerun.output
    assert status_of(box, job_id) == QUEUED  # on the instance's queue, for a worker
    assert runner.invoke(main, ["jobs", "failed"], env=environment).output == (
        "no failed plugin jobs\n"
    )
    again = runner.invoke(main, ["jobs", "rerun", str(job_id)], env=environment)
    assert again.exit_code == 1
    assert f"no failed plugin job {job_id}" in again.output
