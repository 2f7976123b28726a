"""Automatic backups: each is checked, the oldest are pruned, and the job runs on its
schedule; `formflow backup` and `formflow restore` by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from formflow.backups import list_backups, scheduled_backup
from formflow.backups.schedule import JOB, attach
from formflow.cli import main
from formflow.config import load_settings
from formflow.jobs import Jobs
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from support import AppWriter

PASSWORD = "password-1"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def instance(tmp_path: Path, write_app: AppWriter) -> Iterator[Instance]:
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_BACKUP_KEEP": "2"}
    )
    initialise(settings, [write_app()], "admin", PASSWORD)
    opened = Instance(settings)
    yield opened
    opened.close()


def test_scheduled_backups_keep_the_newest_few(instance: Instance) -> None:
    made = [scheduled_backup(instance).path for _ in range(3)]
    assert [path for path, _manifest in list_backups(instance.settings.backup_dir)] == made[1:]


def due(jobs: Jobs, moment: datetime) -> list[Any]:
    """The backup tasks huey's scheduler would hand over at ``moment``."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return [task for task in jobs.huey.read_periodic(naive) if task.name == JOB]


def test_the_backup_job_runs_on_the_backup_schedule_in_the_instance_zone(
    instance: Instance,
) -> None:
    jobs = Jobs.open(instance.settings, instance.relay)
    attach(jobs, instance)
    assert len(due(jobs, datetime(2026, 12, 3, 3, 0, tzinfo=SHANGHAI))) == 1
    assert due(jobs, datetime(2026, 12, 3, 4, 0, tzinfo=SHANGHAI)) == []


def test_the_backup_job_handed_over_twice_in_a_minute_backs_up_once(instance: Instance) -> None:
    jobs = Jobs.open(instance.settings, instance.relay)
    attach(jobs, instance)
    (task,) = due(jobs, datetime(2026, 12, 3, 3, 0, tzinfo=SHANGHAI))
    jobs.huey.execute(task)
    jobs.huey.execute(task)
    assert len(list_backups(instance.settings.backup_dir)) == 1


def test_an_empty_schedule_turns_automatic_backups_off(
    tmp_path: Path, write_app: AppWriter
) -> None:
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "off"), "FORMFLOW_BACKUP_SCHEDULE": ""}
    )
    initialise(settings, [write_app()], "admin", PASSWORD)
    instance = Instance(settings)
    jobs = Jobs.open(settings, instance.relay)
    attach(jobs, instance)
    assert due(jobs, datetime(2026, 12, 3, 3, 0, tzinfo=SHANGHAI)) == []
    instance.close()


def test_backup_and_restore_by_hand(instance: Instance, tmp_path: Path) -> None:
    env = {"FORMFLOW_INSTANCE": str(instance.settings.instance), "FORMFLOW_APPS": ""}
    runner = CliRunner()
    made = runner.invoke(main, ["backup", "--to", str(tmp_path / "by-hand")], env=env)
    assert made.exit_code == 0, made.output
    assert "checked: it restores" in made.output
    (backup,) = (tmp_path / "by-hand").iterdir()
    restored = runner.invoke(main, ["restore", str(backup), "--to", str(tmp_path / "new")], env=env)
    assert restored.exit_code == 0, restored.output
    assert (tmp_path / "new" / "formflow.db").is_file()
    again = runner.invoke(main, ["restore", str(backup), "--to", str(tmp_path / "new")], env=env)
    assert again.exit_code == 1
    assert "is not empty" in again.output
