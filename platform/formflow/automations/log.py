"""The automations' run log: one row per run, read per rule and per record.

A run that did its work is written in its unit of work, with its ``run_key``: the row
commits exactly when the changes do, and the unique key makes a second hand-over of the
same trigger find the work done. A run that failed, or that was stopped at the depth limit,
is written without a key, so a retry can still do the work. A timed rule's sweep runs a
slice of records in one unit and writes their rows together (:func:`write_runs`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from formflow.records.audit import jsonable
from formflow.storage.platform_tables import automation_runs
from formflow.storage.rows import aware, from_row

DONE = "done"
ERROR = "error"
STOPPED = "stopped"


@dataclass(frozen=True)
class RunSubject:
    """What a run is about: which rule, set off by what, on which record or event."""

    app_key: str
    automation_key: str
    trigger: str
    form_key: str
    record_id: int | None
    event_id: int | None


@dataclass(frozen=True)
class Run(RunSubject):
    """A logged run: its subject, and how it ended."""

    id: int
    status: str
    depth: int
    changes: Sequence[Mapping[str, Any]]
    error: str
    started_at: datetime
    duration_ms: int


@dataclass(frozen=True)
class RunStart(RunSubject):
    """What a run is about, known before it starts."""

    run_key: str
    depth: int
    started_at: datetime


def is_done(connection: Connection, run_key: str) -> bool:
    """Whether a run with this key did its work already."""
    found = connection.execute(
        select(automation_runs.c.id).where(automation_runs.c.run_key == run_key)
    ).first()
    return found is not None


def done_keys(connection: Connection, run_keys: Collection[str]) -> set[str]:
    """Which of ``run_keys`` name runs that did their work already (one query for a
    sweep's slice rather than one a record)."""
    if not run_keys:
        return set()
    column = automation_runs.c.run_key
    found = connection.execute(select(column).where(column.in_([k[:300] for k in run_keys])))
    return {key for (key,) in found}


def write_run(
    connection: Connection,
    start: RunStart,
    *,
    status: str,
    duration_ms: int,
    changes: Sequence[Mapping[str, Any]] = (),
    error: str | None = None,
) -> None:
    """Log one run; only a run that did its work (``done``) takes its ``run_key``."""
    write_runs(connection, [run_row(start, status, duration_ms, changes, error)])


def write_runs(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Log several runs (rows made by :func:`run_row`) in one statement."""
    if rows:
        connection.execute(_INSERT, list(rows))


def run_row(
    start: RunStart,
    status: str,
    duration_ms: int,
    changes: Sequence[Mapping[str, Any]] = (),
    error: str | None = None,
) -> dict[str, Any]:
    """The log row of one run, for :func:`write_runs`."""
    return {
        "app_key": start.app_key,
        "automation_key": start.automation_key,
        "trigger": start.trigger[:200],
        "form_key": start.form_key,
        "record_id": start.record_id,
        "event_id": start.event_id,
        "run_key": start.run_key[:300] if status == DONE else None,
        "status": status,
        "depth": start.depth,
        "changes": jsonable(list(changes)),
        "error": error[:4000] if error else None,
        "started_at": start.started_at,
        "duration_ms": duration_ms,
    }


def list_runs(
    connection: Connection,
    app_key: str,
    *,
    automation_key: str | None = None,
    form_key: str | None = None,
    record_id: int | None = None,
    limit: int = 100,
) -> list[Run]:
    """The newest runs first: of one rule, of one record, or of the whole app."""
    table = automation_runs
    query = select(table).where(table.c.app_key == app_key)
    if automation_key is not None:
        query = query.where(table.c.automation_key == automation_key)
    if form_key is not None:
        query = query.where(table.c.form_key == form_key)
    if record_id is not None:
        query = query.where(table.c.record_id == record_id)
    rows = connection.execute(query.order_by(table.c.id.desc()).limit(limit))
    return [_run(row) for row in rows]


def _run(row: Row[Any]) -> Run:
    return from_row(
        Run,
        row,
        changes=row.changes or [],
        error=row.error or "",
        started_at=aware(row.started_at),
    )


_INSERT = insert(automation_runs)
