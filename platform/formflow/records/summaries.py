"""Keeping the dashboards' summaries up to date as records are written.

Each write takes the written record out of the summary row its old values counted it in
and adds it to the row its new values count it in (:meth:`SummaryKeeper.after_write`),
in the write's own transaction: a view right after the write reads the new figure, and a
write that is rolled back takes its deltas with it. A write's deltas, of every summary of
its form, are one upsert (``INSERT … ON CONFLICT … DO UPDATE SET records = records + …`` on
both databases, a row per group), so concurrent writes to one group add up rather than
overwrite each other; a row whose count falls to nought is removed (one delete for all),
so a group shows exactly while it has records. How values become keys, and rebuilding
from the records, is :mod:`formflow.storage.summaries`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select

from formflow.definitions.dashboard_summaries import Summary, summaries_of
from formflow.definitions.model import App, Form
from formflow.storage.platform_tables import summary_rows
from formflow.storage.summaries import (
    Group,
    add_record,
    rebuild,
    stored_row,
    upsert_statement,
)
from formflow.storage.tables import AppSchema


class SummaryKeeper:
    """Keeps the summaries of one app's forms as its records are written."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.kept = summaries_of(app)
        self._upserts: dict[str, Any] = {}
        self._emptied = delete(summary_rows).where(
            summary_rows.c.app_key == bindparam("app_key"),
            summary_rows.c.form_key == bindparam("form_key"),
            summary_rows.c.summary == bindparam("summary"),
            summary_rows.c.groups == bindparam("groups"),
            summary_rows.c.records <= 0,
        )
        """Statements built once per keeper: a write runs them for every summary."""

    def after_write(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        table: Any = None,
    ) -> None:
        """Move the record from the groups ``before`` counted it in to those of ``after``
        (``None``: it did not exist, or was not live). ``before`` described by its id only
        (a record deleted by a cascade) is read back from ``table``."""
        summaries = self.kept.get(form.key)
        if not summaries:
            return
        if before is not None and table is not None and form.owner_field not in before:
            stored = connection.execute(select(table).where(table.c.id == record_id)).first()
            before = dict(stored._mapping) if stored is not None else None
        changed: list[tuple[Summary, dict[Group, list[int]]]] = []
        for summary in summaries:
            deltas: dict[Group, list[int]] = {}
            if before is not None:
                add_record(deltas, summary, form, before, -1)
            if after is not None:
                add_record(deltas, summary, form, after, 1)
            changed.append((summary, deltas))
        self._apply(connection, changed)

    def after_many(
        self, connection: Connection, form: Form, records: Iterable[Mapping[str, Any]]
    ) -> None:
        """Count records created together, a delta per group rather than per record."""
        written = list(records)
        changed: list[tuple[Summary, dict[Group, list[int]]]] = []
        for summary in self.kept.get(form.key, ()):
            deltas: dict[Group, list[int]] = {}
            for record in written:
                add_record(deltas, summary, form, record, 1)
            changed.append((summary, deltas))
        self._apply(connection, changed)

    def after_updates(
        self,
        connection: Connection,
        form: Form,
        updates: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]],
    ) -> None:
        """Move records updated together (``(before, after)`` each) between their groups:
        the deltas of them all merged, one upsert rather than one per record."""
        written = list(updates)
        changed: list[tuple[Summary, dict[Group, list[int]]]] = []
        for summary in self.kept.get(form.key, ()):
            deltas: dict[Group, list[int]] = {}
            for before, after in written:
                add_record(deltas, summary, form, before, -1)
                add_record(deltas, summary, form, after, 1)
            changed.append((summary, deltas))
        self._apply(connection, changed)

    def rebuild(
        self, connection: Connection, schema: AppSchema, form_key: str, *, owner: int | None = None
    ) -> int:
        """Count the form's live records again (only ``owner``'s, when given); returns
        how many summary rows were written."""
        written = 0
        for summary in self.kept.get(form_key, ()):
            written += rebuild(connection, schema, summary, owner=owner)
        return written

    def _apply(
        self,
        connection: Connection,
        changed: Sequence[tuple[Summary, dict[Group, list[int]]]],
    ) -> None:
        """Add the deltas of every summary of one write: one upsert for all their rows,
        then one delete for the rows they may have emptied."""
        moved = [
            (self._row(summary, group, totals), totals[0] < 0)
            for summary, deltas in changed
            for group, totals in deltas.items()
            if any(totals)
        ]
        if not moved:
            return
        # rows in one order whatever the write: two writes moving records between the same
        # groups lock them in the same order, rather than each waiting for the other
        moved.sort(key=lambda item: (item[0]["form_key"], item[0]["summary"], item[0]["groups"]))
        dialect = connection.dialect.name
        upsert = self._upserts.get(dialect)
        if upsert is None:
            upsert = self._upserts[dialect] = upsert_statement(connection)
        connection.execute(upsert, [row for row, _emptying in moved])
        keys = ("app_key", "form_key", "summary", "groups")
        emptied = [{key: row[key] for key in keys} for row, emptying in moved if emptying]
        if emptied:
            connection.execute(self._emptied, emptied)

    def _row(self, summary: Summary, group: Group, totals: Sequence[int]) -> dict[str, Any]:
        return stored_row(self.app.key, summary, group, totals)
