"""Housekeeping: the operational logs an instance writes, kept for a set number of days.

Every write appends an outbox event, every automation run a log row, every plugin job and
webhook call a row, every notice a row; none of them is needed for ever once it has done
its work. Left alone they grow with every write (a million writes, a million events), so
once a night the rows older than ``keep_days`` that nothing still needs are deleted:

- events no subscriber is still owed and no dead letter points at (the newest is always
  kept, so outbox watermarks never move backwards);
- automation runs and record-action runs (a daily limit only counts today's);
- plugin jobs that are done (failed ones wait for an admin), sent webhook calls;
- notifications the person has read.

The audit log is never touched: it is the record of what happened, chained so that a
missing entry is noticed. Rows are deleted in batches of :data:`BATCH`, each its own short
transaction, walking the primary key from the oldest row and stopping at the first batch
that starts inside the kept period (ids follow time), so a night's work costs what it
deletes, not the size of the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Engine, Table, and_, delete, exists, func, select, true

from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import (
    automation_runs,
    dead_letters,
    event_deliveries,
    events,
    notifications,
    plugin_jobs,
    record_action_runs,
    webhook_calls,
)

if TYPE_CHECKING:
    from formflow.jobs.runner import Jobs

JOB = "formflow.housekeeping"
SCHEDULE = "30 4 * * *"
"""Every night at 04:30 on the instance's clock, after the default backup at 03:00."""
BATCH = 2000
"""Rows looked at, and at most deleted, per transaction."""


@dataclass(frozen=True)
class Kept:
    """One kind of row housekeeping removes: its table, the moment that ages it, and
    what must also hold before a row may go."""

    name: str
    table: Table
    moment: str
    removable: Callable[[], ColumnElement[bool]]


def _event_is_done() -> ColumnElement[bool]:
    owed = exists().where(event_deliveries.c.event_id == events.c.id)
    dead = exists().where(dead_letters.c.event_id == events.c.id)
    later = events.alias("later")
    newest = select(func.max(later.c.id)).scalar_subquery()
    return and_(~owed, ~dead, events.c.id < newest)


KINDS = (
    Kept("events", events, "at", _event_is_done),
    Kept("automation runs", automation_runs, "started_at", true),
    Kept("record action runs", record_action_runs, "at", true),
    Kept("plugin jobs", plugin_jobs, "created_at", lambda: plugin_jobs.c.status == "done"),
    Kept("webhook calls", webhook_calls, "created_at", lambda: webhook_calls.c.status == "sent"),
    Kept(
        "notifications", notifications, "created_at", lambda: notifications.c.read_at.is_not(None)
    ),
)
"""What housekeeping removes, in this order (the audit log is not among them, ever)."""


def tidy(engine: Engine, keep_days: int, *, now: datetime | None = None) -> dict[str, int]:
    """Delete the rows of :data:`KINDS` older than ``keep_days`` that nothing needs;
    how many of each kind went."""
    if keep_days < 1:
        raise ValueError("housekeeping keeps at least one day")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    return {kind.name: _tidy(engine, kind, cutoff) for kind in KINDS}


def _tidy(engine: Engine, kind: Kept, cutoff: datetime) -> int:
    table = kind.table
    key = table.c.id
    moment = table.c[kind.moment]
    deleted = 0
    after = 0
    while True:
        with write_transaction(engine) as connection:
            batch = connection.execute(
                select(key, moment).where(key > after).order_by(key).limit(BATCH)
            ).all()
            if not batch or _aware(batch[0][1]) >= cutoff:
                return deleted
            after = batch[-1][0]
            result = connection.execute(
                delete(table).where(
                    key >= batch[0][0], key <= after, moment < cutoff, kind.removable()
                )
            )
            deleted += result.rowcount
        if len(batch) < BATCH:
            return deleted


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive moments; every stored moment is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def attach(jobs: Jobs, engine: Engine, keep_days: int, zone: tzinfo) -> None:
    """Run :func:`tidy` every night (nothing when ``keep_days`` is 0); once a night however
    many processes consume the queue."""
    from formflow.jobs.schedule import Schedule

    if keep_days < 1:
        return

    def run() -> None:
        night = datetime.now(UTC).strftime("%Y%m%d")
        if jobs.huey.storage.put_if_empty(f"{JOB}:{night}", b"1"):
            tidy(engine, keep_days)

    jobs.periodic(JOB, Schedule(SCHEDULE, zone))(run)
