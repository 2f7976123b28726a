"""How the instance is doing right now: the gauges a scrape reads, readiness, warnings.

Plain Python over the instance, its queue and its backup folder; the web layer shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from huey import Huey
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from formflow.backups import latest_backup
from formflow.jobs import Schedule, ScheduleError
from formflow.jobs.dead_letters import count_dead_letters
from formflow.monitoring.metrics import Gauges
from formflow.storage.database import read_transaction

if TYPE_CHECKING:
    from formflow.lifecycle.instance import Instance

LOOK_BACK = timedelta(days=32)
"""How far back the last due backup is looked for (a monthly schedule at most)."""
GRACE = timedelta(hours=1)
"""How long a scheduled backup may take before the page calls it late."""


def gauges(instance: Instance, huey: Huey, now: datetime | None = None) -> Gauges:
    pool = instance.engine.pool
    size = pool.size() if isinstance(pool, QueuePool) else 0
    checked_out = pool.checkedout() if isinstance(pool, QueuePool) else 0
    overflow = max(0, pool.overflow()) if isinstance(pool, QueuePool) else 0
    with read_transaction(instance.engine) as connection:
        failed = count_dead_letters(connection)
    latest = latest_backup(instance.settings.backup_dir)
    now = now or datetime.now(UTC)
    return Gauges(
        pool_size=size,
        pool_checked_out=checked_out,
        pool_overflow=overflow,
        queue_depth=int(huey.pending_count()),
        failed_jobs=failed,
        backup_age_seconds=None if latest is None else (now - latest).total_seconds(),
    )


def readiness(instance: Instance, huey: Huey) -> list[str]:
    """What keeps the instance from serving: the database or the queue unreachable."""
    problems = []
    try:
        with instance.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready; the message says which
        problems.append(f"database: {type(exc).__name__}: {exc}".splitlines()[0])
    try:
        huey.pending_count()
    except Exception as exc:  # a Redis or SQLite error alike
        problems.append(f"job queue: {type(exc).__name__}: {exc}".splitlines()[0])
    return problems


@dataclass(frozen=True)
class Alert:
    code: str
    """``backup_missing``, ``backup_stale`` or ``jobs_failing``."""
    params: dict[str, Any]


def warnings(instance: Instance, found: Gauges, now: datetime | None = None) -> list[Alert]:
    """What an administrator should look at: a late backup, failing jobs."""
    now = now or datetime.now(UTC)
    settings = instance.settings
    raised: list[Alert] = []
    due = last_due(settings.backup_schedule, settings.timezone, now)
    if due is not None:
        if found.backup_age_seconds is None:
            raised.append(Alert("backup_missing", {"due": due}))
        else:
            latest = now - timedelta(seconds=found.backup_age_seconds)
            if latest < due and now - due > GRACE:
                raised.append(Alert("backup_stale", {"due": due, "latest": latest}))
    if found.failed_jobs:
        raised.append(Alert("jobs_failing", {"count": found.failed_jobs}))
    return raised


def last_due(cron: str, zone: Any, now: datetime) -> datetime | None:
    """The latest minute before ``now`` at which ``cron`` runs (``None``: off or never)."""
    if not cron or cron.lower() == "off":
        return None
    try:
        schedule = Schedule(cron, zone)
    except ScheduleError:
        return None
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    step = timedelta(minutes=1)
    for _ in range(int(LOOK_BACK / step)):
        if schedule.due(minute):
            return minute
        minute -= step
    return None
