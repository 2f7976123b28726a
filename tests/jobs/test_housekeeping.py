"""Nightly housekeeping deletes operational logs past their kept days, and nothing else.

Rows are written straight into the platform tables with chosen ages (the services that
normally write them are tested elsewhere); the question here is which rows survive.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, Table, insert, select

from formflow import accounts
from formflow.cli import main
from formflow.config import load_settings
from formflow.jobs import Jobs, housekeeping
from formflow.jobs.housekeeping import tidy
from formflow.lifecycle.instance import Instance
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import (
    GENESIS_HASH,
    audit_entries,
    audit_log,
    automation_runs,
    dead_letters,
    event_deliveries,
    events,
    notifications,
    platform_metadata,
    plugin_jobs,
    record_action_runs,
    webhook_calls,
)

NOW = datetime(2026, 6, 1, 4, 30, tzinfo=UTC)
OLD = NOW - timedelta(days=120)
RECENT = NOW - timedelta(days=10)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def user_id(engine: Engine) -> int:
    platform_metadata.create_all(engine)
    with write_transaction(engine) as connection:
        return accounts.create_user(connection, "someone", "pass-word-1")


def add_event(engine: Engine, at: datetime) -> int:
    return _add(
        engine,
        events,
        app_key="app",
        form_key="form",
        record_id=1,
        kind="updated",
        at=at,
        data={},
    )


def _add(engine: Engine, table: Table, **values: Any) -> int:
    with write_transaction(engine) as connection:
        return int(connection.execute(insert(table).values(**values)).inserted_primary_key[0])


def ids(engine: Engine, table: Table) -> list[int]:
    with read_transaction(engine) as connection:
        return list(connection.execute(select(table.c.id).order_by(table.c.id)).scalars())


def test_events_older_than_the_kept_days_are_deleted(engine: Engine, user_id: int) -> None:
    old = add_event(engine, OLD)
    recent = add_event(engine, RECENT)

    removed = tidy(engine, 90, now=NOW)

    assert ids(engine, events) == [recent]
    assert removed["events"] == 1
    assert old not in ids(engine, events)


def test_an_event_still_owed_to_a_subscriber_is_kept(engine: Engine, user_id: int) -> None:
    owed = add_event(engine, OLD)
    add_event(engine, RECENT)
    with write_transaction(engine) as connection:
        connection.execute(insert(event_deliveries).values(subscriber="s", event_id=owed))

    tidy(engine, 90, now=NOW)

    assert owed in ids(engine, events)


def test_an_event_a_dead_letter_points_at_is_kept(engine: Engine, user_id: int) -> None:
    failed = add_event(engine, OLD)
    add_event(engine, RECENT)
    _add(engine, dead_letters, subscriber="s", event_id=failed, attempts=5, failed_at=OLD)

    tidy(engine, 90, now=NOW)

    assert failed in ids(engine, events)
    assert ids(engine, dead_letters) != []


def test_the_newest_event_is_kept_however_old(engine: Engine, user_id: int) -> None:
    add_event(engine, OLD - timedelta(days=1))
    newest = add_event(engine, OLD)

    tidy(engine, 90, now=NOW)

    assert ids(engine, events) == [newest]


def test_automation_and_action_runs_go_by_age(engine: Engine, user_id: int) -> None:
    run = {
        "app_key": "app",
        "automation_key": "rule",
        "trigger": "created",
        "form_key": "form",
        "status": "done",
        "depth": 0,
        "changes": {},
        "duration_ms": 1,
    }
    _add(engine, automation_runs, started_at=OLD, **run)
    kept_run = _add(engine, automation_runs, started_at=RECENT, **run)
    action = {"app_key": "app", "form_key": "form", "action_key": "claim", "record_id": 1}
    _add(engine, record_action_runs, at=OLD, inputs={}, user_id=user_id, **action)
    kept_action = _add(engine, record_action_runs, at=RECENT, inputs={}, user_id=user_id, **action)

    tidy(engine, 90, now=NOW)

    assert ids(engine, automation_runs) == [kept_run]
    assert ids(engine, record_action_runs) == [kept_action]


def test_only_finished_jobs_and_sent_webhook_calls_go(engine: Engine, user_id: int) -> None:
    job = {"name": "p.job", "payload": {}, "attempts": 1, "available_at": OLD, "created_at": OLD}
    _add(engine, plugin_jobs, status="done", **job)
    failed = _add(engine, plugin_jobs, status="failed", **job)
    queued = _add(engine, plugin_jobs, status="queued", **job)
    call = {"app_key": "a", "automation_key": "r", "url": "http://x", "body": "{}", "attempts": 1}
    _add(engine, webhook_calls, status="sent", created_at=OLD, **call)
    pending = _add(engine, webhook_calls, status="pending", created_at=OLD, **call)
    add_event(engine, RECENT)

    tidy(engine, 90, now=NOW)

    assert ids(engine, plugin_jobs) == [failed, queued]
    assert ids(engine, webhook_calls) == [pending]


def test_only_read_notifications_go(engine: Engine, user_id: int) -> None:
    notice = {"user_id": user_id, "kind": "info", "title": "t", "body": "b", "params": {}}
    _add(engine, notifications, created_at=OLD, read_at=OLD, **notice)
    unread = _add(engine, notifications, created_at=OLD, **notice)

    tidy(engine, 90, now=NOW)

    assert ids(engine, notifications) == [unread]


def test_the_audit_log_is_never_touched(engine: Engine, user_id: int) -> None:
    _add(engine, audit_log, table_name="t", record_id=1, action="create", at=OLD, changes={})
    _add(
        engine,
        audit_entries,
        id=10_000,
        at=OLD,
        action="sign_in",
        detail={},
        previous_hash=GENESIS_HASH,
        hash="1" * 64,
    )

    before = ids(engine, audit_log), ids(engine, audit_entries)

    tidy(engine, 1, now=NOW + timedelta(days=3650))

    assert (ids(engine, audit_log), ids(engine, audit_entries)) == before


def test_many_old_rows_go_in_several_batches(
    engine: Engine, user_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, "BATCH", 3)
    for day in range(10):
        add_event(engine, OLD + timedelta(days=day))
    recent = add_event(engine, RECENT)

    assert tidy(engine, 90, now=NOW)["events"] == 10
    assert ids(engine, events) == [recent]


def test_at_least_one_day_is_kept(engine: Engine, user_id: int) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        tidy(engine, 0, now=NOW)


def test_the_command_reports_what_it_deleted(tmp_path: Path) -> None:
    env = {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_DATABASE_URL": ""}
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--password", "pass-word-1"], env=env).exit_code == 0

    result = runner.invoke(main, ["housekeeping", "--days", "30"], env=env)

    assert result.exit_code == 0, result.output
    assert "events: 0 deleted" in result.output
    assert "notifications: 0 deleted" in result.output


def nightly(jobs: Jobs, moment: datetime) -> list[Any]:
    """The housekeeping tasks huey's scheduler would hand over at ``moment``."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return [task for task in jobs.huey.read_periodic(naive) if task.name == housekeeping.JOB]


def test_a_served_instance_keeps_house_every_night_in_its_zone(tmp_path: Path) -> None:
    instance = Instance(load_settings({"FORMFLOW_INSTANCE": str(tmp_path / "instance")}))
    try:
        jobs = Jobs.open(instance.settings, instance.relay)
        instance.attach_jobs(jobs)
        assert len(nightly(jobs, datetime(2026, 12, 3, 4, 30, tzinfo=SHANGHAI))) == 1
        assert nightly(jobs, datetime(2026, 12, 3, 4, 31, tzinfo=SHANGHAI)) == []
    finally:
        instance.close()


def test_keeping_zero_days_turns_the_nightly_job_off(tmp_path: Path) -> None:
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_KEEP_DAYS": "0"}
    )
    instance = Instance(settings)
    try:
        jobs = Jobs.open(instance.settings, instance.relay)
        instance.attach_jobs(jobs)
        assert nightly(jobs, datetime(2026, 12, 3, 4, 30, tzinfo=SHANGHAI)) == []
    finally:
        instance.close()
