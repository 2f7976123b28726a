"""The audit trail: who changed which record, when, and each field from what to what."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select

from formflow.records.unit import insert_rows
from formflow.storage.platform_tables import audit_log


@dataclass(frozen=True)
class AuditEntry:
    action: str
    user_id: int | None
    at: datetime
    changes: Mapping[str, tuple[Any, Any]]


def jsonable(value: Any) -> Any:
    """A value as JSON keeps it: exact decimals and ISO dates as text."""
    kind = type(value)
    if kind is str or kind is int or value is None:  # most values: every write passes here
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    return value


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any], keys: Sequence[str]
) -> dict[str, tuple[Any, Any]]:
    return {
        key: (before.get(key), after.get(key)) for key in keys if before.get(key) != after.get(key)
    }


def record_change(
    connection: Connection,
    *,
    table_name: str,
    record_id: int,
    action: str,
    user_id: int | None,
    at: datetime,
    changes: Mapping[str, tuple[Any, Any]],
) -> None:
    record_changes(
        connection,
        table_name=table_name,
        action=action,
        user_id=user_id,
        at=at,
        changes=[(record_id, changes)],
    )


def record_changes(
    connection: Connection,
    *,
    table_name: str,
    action: str,
    user_id: int | None,
    at: datetime,
    changes: Sequence[tuple[int, Mapping[str, tuple[Any, Any]]]],
) -> None:
    """:func:`record_change` for many records (``(record_id, changes)`` each) in one
    statement, as a batch of writes leaves them.

    In a unit of work open on ``connection`` the rows are kept back and written with the
    unit's others just before it commits, in one statement (a workflow decision leaves
    two or more; on PostgreSQL the audit chain's advance carries them, see
    :meth:`~formflow.records.unit.UnitOfWork.kept_inserts`); a savepoint that rolls back
    drops its rows with it."""
    if not changes:
        return
    rows = [
        {
            "table_name": table_name,
            "record_id": record_id,
            "action": action,
            "user_id": user_id,
            "at": at,
            "changes": {key: [jsonable(old), jsonable(new)] for key, (old, new) in found.items()},
        }
        for record_id, found in changes
    ]
    insert_rows(connection, audit_log, rows)


def history(
    connection: Connection, table_name: str, record_id: int, limit: int = 200
) -> list[AuditEntry]:
    """A record's changes, newest first."""
    rows = connection.execute(
        _HISTORY, {"table_name": table_name, "record_id": record_id, "limit": limit}
    )
    return [
        AuditEntry(
            row.action,
            row.user_id,
            row.at,
            {key: (pair[0], pair[1]) for key, pair in row.changes.items()},
        )
        for row in rows
    ]


_HISTORY = (  # every record page runs it: built once
    select(audit_log.c.action, audit_log.c.user_id, audit_log.c.at, audit_log.c.changes)
    .where(
        audit_log.c.table_name == bindparam("table_name"),
        audit_log.c.record_id == bindparam("record_id"),
    )
    .order_by(audit_log.c.id.desc())
    .limit(bindparam("limit"))
)


def recent_records(
    connection: Connection, user_id: int, table_names: Sequence[str], limit: int
) -> list[tuple[str, int]]:
    """The records ``user_id`` changed most recently, newest first, each once."""
    rows = connection.execute(
        select(audit_log.c.table_name, audit_log.c.record_id)
        .where(audit_log.c.user_id == user_id, audit_log.c.table_name.in_(table_names))
        .order_by(audit_log.c.id.desc())
        .limit(limit * 4)
    )
    return list(dict.fromkeys((row.table_name, row.record_id) for row in rows))[:limit]
