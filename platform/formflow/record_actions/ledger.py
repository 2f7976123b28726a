"""What the limits of record actions and pools count: action runs and cool-downs.

Both are written in the unit of work of the change they belong to, so a run that rolls
back counts for nothing, and a cool-down starts exactly when a record leaves its owner.
A run counts only after :func:`queue_for_limits`, so two runs for one user never both
count the same total.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from formflow.records.audit import jsonable
from formflow.storage.platform_tables import pool_cooldowns, record_action_runs


def queue_for_limits(connection: Connection, app_key: str, form_key: str, user_id: int) -> None:
    """Make the runs of one user's actions on one form wait for each other from here to
    the end of the unit, so each counts what the one before it stored.

    Without it, two runs at once (two tabs, a double click) each count the records held
    and the runs of the day before either commits, and both pass a limit only one may.
    SQLite needs nothing more: a unit begins with ``BEGIN IMMEDIATE``, which already takes
    the database's one write lock. PostgreSQL writes in parallel, so the run takes a
    transaction-scoped advisory lock on (app, form, user): other users never wait, and the
    lock goes with the commit or rollback.
    """
    if connection.dialect.name != "postgresql":
        return
    name = f"formflow.limits\x1f{app_key}\x1f{form_key}\x1f{user_id}".encode()
    key = int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)
    connection.execute(select(func.pg_advisory_xact_lock(key)))


def count_runs(
    connection: Connection,
    app_key: str,
    form_key: str,
    action_key: str,
    user_id: int,
    since: datetime,
) -> int:
    """How many records ``user_id`` ran the action on since ``since`` (by index; give it
    in UTC, as the runs are stored: SQLite keeps no offset)."""
    table = record_action_runs
    statement = select(func.count()).where(
        table.c.app_key == app_key,
        table.c.form_key == form_key,
        table.c.action_key == action_key,
        table.c.user_id == user_id,
        table.c.at >= since,
    )
    return int(connection.execute(statement).scalar_one())


def write_run(
    connection: Connection,
    app_key: str,
    form_key: str,
    action_key: str,
    record_id: int,
    user_id: int | None,
    at: datetime,
    inputs: Mapping[str, Any],
) -> None:
    connection.execute(
        insert(record_action_runs).values(
            app_key=app_key,
            form_key=form_key,
            action_key=action_key,
            record_id=record_id,
            user_id=user_id,
            at=at,
            inputs=jsonable(dict(inputs)),
        )
    )


def start_cooldown(
    connection: Connection,
    app_key: str,
    form_key: str,
    record_id: int,
    user_id: int,
    until: datetime,
) -> None:
    """``user_id`` let the record go: they may not take it back themselves before ``until``."""
    key = _key(app_key, form_key, record_id, user_id)
    connection.execute(delete(pool_cooldowns).where(*key))
    connection.execute(
        insert(pool_cooldowns).values(
            app_key=app_key, form_key=form_key, record_id=record_id, user_id=user_id, until=until
        )
    )


def cooldown_until(
    connection: Connection, app_key: str, form_key: str, record_id: int, user_id: int
) -> datetime | None:
    """When ``user_id``'s cool-down on the record ends, if they have one."""
    found: datetime | None = connection.execute(
        select(pool_cooldowns.c.until).where(*_key(app_key, form_key, record_id, user_id))
    ).scalar_one_or_none()
    if found is not None and found.tzinfo is None:
        return found.replace(tzinfo=UTC)  # SQLite keeps no offset; all are stored as UTC
    return found


def _key(app_key: str, form_key: str, record_id: int, user_id: int) -> tuple[Any, ...]:
    table = pool_cooldowns
    return (
        table.c.app_key == app_key,
        table.c.form_key == form_key,
        table.c.record_id == record_id,
        table.c.user_id == user_id,
    )
