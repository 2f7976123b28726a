"""Automatic backups: a job on the instance's clock that backs up, checks and prunes.

Every server process runs the queue's scheduler, so the job may be handed over once per
process in the same minute; the queue's ``put_if_empty`` on a key per minute lets the first
one through. A backup that fails its check is kept under its name with ``.failed`` added,
for an administrator to look at, and counts as no backup for the monitoring page.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from formflow.backups.making import PARTIAL, PREFIX, Backup, create_backup
from formflow.backups.manifest import MANIFEST, BackupError, Manifest, read_manifest
from formflow.backups.restoring import check_backup

if TYPE_CHECKING:
    from formflow.jobs import Jobs
    from formflow.lifecycle.instance import Instance

JOB = "formflow.backup"
FAILED = ".failed"


def scheduled_backup(instance: Instance) -> Backup:
    """Back up, prove the backup restores, and keep only the newest ``backup_keep``."""
    settings = instance.settings
    made = create_backup(instance)
    try:
        check_backup(made.path, settings.database_url)
    except BackupError:
        made.path.rename(made.path.with_name(made.path.name + FAILED))
        raise
    prune(settings.backup_dir, settings.backup_keep)
    return made


def list_backups(folder: Path) -> list[tuple[Path, Manifest]]:
    """The complete backups in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob(PREFIX + "*")):
        if path.suffix in (PARTIAL, FAILED) or not (path / MANIFEST).is_file():
            continue
        try:
            found.append((path, read_manifest(path)))
        except BackupError:
            continue
    return found


def latest_backup(folder: Path) -> datetime | None:
    """When the newest complete backup in ``folder`` was taken."""
    found = list_backups(folder)
    if not found:
        return None
    return datetime.fromisoformat(found[-1][1].created_at).astimezone(UTC)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` complete backups; returns those deleted."""
    found = [path for path, _manifest in list_backups(folder)]
    doomed = found[: max(0, len(found) - keep)]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def attach(jobs: Jobs, instance: Instance) -> None:
    """Run :func:`scheduled_backup` on ``backup_schedule`` (nothing when it is empty)."""
    from formflow.jobs import Schedule

    cron = instance.settings.backup_schedule
    if not cron or cron.lower() == "off":
        return
    schedule = Schedule(cron, instance.settings.timezone)

    def run() -> None:
        minute = datetime.now(UTC).strftime("%Y%m%d%H%M")
        if jobs.huey.storage.put_if_empty(f"{JOB}:{minute}", b"1"):
            scheduled_backup(instance)

    jobs.periodic(JOB, schedule)(run)
