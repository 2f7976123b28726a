"""The instance's background jobs for notifications and step timeouts: the sweep of
timed-out approval tasks runs every minute, and what it tells people goes out by e-mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from huey import Huey, SqliteHuey
from sqlalchemy import update

from formflow.jobs import Jobs
from formflow.lifecycle.instance import TIMEOUTS_JOB, Instance
from formflow.notifications.jobs import SWEEP
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import workflow_tasks
from web.test_api import Api, token_for
from web.test_api_notifications import submitted_contract


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Huey]:
    huey = SqliteHuey("formflow", filename=str(tmp_path / "jobs.db"), results=False)
    yield huey
    huey.storage.close()


def run_the_minute(huey: Huey) -> list[str]:
    """Run the periodic jobs due this minute, as the consumer's scheduler would."""
    ran = []
    for task in huey.read_periodic(datetime.now(UTC).replace(tzinfo=None)):
        huey.execute(task)
        ran.append(task.name)
    return ran


def run_the_queue(huey: Huey) -> None:
    """Run the jobs waiting in the queue (the relay's deliveries), as a worker would."""
    while (task := huey.dequeue()) is not None:
        huey.execute(task)


def test_the_timeout_sweep_runs_every_minute_and_reminds_the_approver(
    app: Flask, client: FlaskClient, queue: Huey
) -> None:
    instance: Instance = app.extensions["formflow"]
    instance.attach_jobs(Jobs(queue, instance.relay))
    submitted_contract(app, client)
    with write_transaction(instance.engine) as connection:
        connection.execute(
            update(workflow_tasks).values(remind_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert {TIMEOUTS_JOB, SWEEP} <= set(run_the_minute(queue))
    admin = Api(client, token_for(app, "admin"))
    # what the steps tell people is written by the outbox's job, not in the request
    assert admin.get("/api/v1/notifications").json["data"] == []
    run_the_queue(queue)
    kinds = [n["kind"] for n in admin.get("/api/v1/notifications").json["data"]]
    assert kinds == ["reminder", "task"]
    run_the_queue(queue)  # a repeated delivery tells nobody twice
    assert len(admin.get("/api/v1/notifications").json["data"]) == 2
