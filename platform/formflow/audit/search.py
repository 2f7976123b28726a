"""Reading the audit log: filters, pages newest first, and CSV for taking it elsewhere.

Pages go by keyset (entries before a given id), so page 1,000 costs what page 1 does and
a page never repeats or skips an entry while new ones arrive.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select

from formflow.audit.chain import Entry, utc
from formflow.audit.verify import entry_of
from formflow.storage.platform_tables import audit_entries, users

PAGE_SIZE = 50
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class AuditQuery:
    """What to look for; every part left empty matches everything."""

    user_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    """An action (``sign_in``) or a family of them, ending in a dot (``record.``)."""
    app_key: str | None = None
    form_key: str | None = None
    record_id: int | None = None


@dataclass(frozen=True)
class Found:
    entry: Entry
    username: str | None


@dataclass(frozen=True)
class AuditPage:
    entries: list[Found]
    next_before: int | None
    """The ``before`` of the next (older) page, or ``None`` when this is the last."""


def search(
    connection: Connection, query: AuditQuery, *, before: int | None = None, limit: int = PAGE_SIZE
) -> AuditPage:
    """The newest ``limit`` entries matching ``query`` with an id below ``before``."""
    statement = _select(query)
    if before is not None:
        statement = statement.where(audit_entries.c.id < before)
    rows = connection.execute(statement.order_by(audit_entries.c.id.desc()).limit(limit + 1)).all()
    found = [_found(row._mapping) for row in rows[:limit]]
    more = len(rows) > limit
    return AuditPage(found, found[-1].entry.id if more and found else None)


def _select(query: AuditQuery) -> Select[Any]:
    table = audit_entries
    statement = select(table, users.c.username).outerjoin(users, users.c.id == table.c.user_id)
    if query.user_id is not None:
        statement = statement.where(table.c.user_id == query.user_id)
    if query.since is not None:
        statement = statement.where(table.c.at >= utc(query.since))
    if query.until is not None:
        statement = statement.where(table.c.at < utc(query.until))
    if query.action:
        if query.action.endswith("."):
            statement = statement.where(table.c.action.startswith(query.action, autoescape=True))
        else:
            statement = statement.where(table.c.action == query.action)
    if query.app_key:
        statement = statement.where(table.c.app_key == query.app_key)
    if query.form_key:
        statement = statement.where(table.c.form_key == query.form_key)
    if query.record_id is not None:
        statement = statement.where(table.c.record_id == query.record_id)
    return statement


def _found(row: Any) -> Found:
    return Found(entry_of(row), row["username"])


def matching(connection: Connection, query: AuditQuery) -> Iterator[Found]:
    """Every entry matching ``query``, newest first, read a batch at a time."""
    before: int | None = None
    while True:
        page = search(connection, query, before=before, limit=EXPORT_BATCH)
        yield from page.entries
        if page.next_before is None:
            return
        before = page.next_before


CSV_COLUMNS = (
    "id",
    "at",
    "user_id",
    "username",
    "action",
    "app_key",
    "form_key",
    "record_id",
    "address",
    "detail",
    "previous_hash",
    "hash",
)


def csv_lines(found: Iterator[Found]) -> Iterator[str]:
    """The entries as CSV, a line at a time (header first), to stream to a download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(list(CSV_COLUMNS))
    for item in found:
        entry = item.entry
        yield line(
            [
                entry.id,
                utc(entry.at).isoformat(),
                entry.user_id if entry.user_id is not None else "",
                item.username or "",
                entry.action,
                entry.app_key or "",
                entry.form_key or "",
                entry.record_id if entry.record_id is not None else "",
                entry.address or "",
                json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
                entry.previous_hash,
                entry.hash,
            ]
        )
