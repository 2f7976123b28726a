"""Keeping the dashboards' summaries up to date as records are written.

Each write takes the written record out of the summary row its old values counted it in
and adds it to the row its new values count it in (:class:`SummaryKeeper`),
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

from sqlalchemy import Connection, Table, bindparam, delete, select

from formflow.definitions.dashboard_summaries import Summary, summaries_of
from formflow.definitions.model import App, Form
from formflow.storage.platform_tables import summary_rows
from formflow.storage.prepared import Prepared
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
        self._upserts: dict[str, Prepared] = {}
        self._emptied = delete(summary_rows).where(
            summary_rows.c.app_key == bindparam("app_key"),
            summary_rows.c.form_key == bindparam("form_key"),
            summary_rows.c.summary == bindparam("summary"),
            summary_rows.c.groups == bindparam("groups"),
            summary_rows.c.records <= 0,
        )
        """Statements built once per keeper: a write runs them for every summary."""

    def after_many(
        self, connection: Connection, form: Form, records: Iterable[Mapping[str, Any]]
    ) -> None:
        """Count records created (or restored) together, a delta per group rather than per
        record."""
        self._move(connection, form, [(record, 1) for record in records])

    def after_updates(
        self,
        connection: Connection,
        form: Form,
        updates: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]],
    ) -> None:
        """Move records updated together (``(before, after)`` each) between their groups:
        the deltas of them all merged, one upsert rather than one per record."""
        signed: list[tuple[Mapping[str, Any], int]] = []
        for before, after in updates:
            signed += [(before, -1), (after, 1)]
        self._move(connection, form, signed)

    def after_delete(
        self, connection: Connection, form: Form, table: Table, record: Mapping[str, Any]
    ) -> None:
        """Take a deleted record out of the groups it was counted in. A record described by
        its id only (deleted by a cascade) is read back from ``table`` first."""
        if not self.kept.get(form.key):
            return
        if form.owner_field not in record:
            stored = connection.execute(select(table).where(table.c.id == record["id"])).first()
            if stored is None:
                return
            record = dict(stored._mapping)
        self._move(connection, form, [(record, -1)])

    def rebuild(
        self, connection: Connection, schema: AppSchema, form_key: str, *, owner: int | None = None
    ) -> int:
        """Count the form's live records again (only ``owner``'s, when given); returns
        how many summary rows were written."""
        written = 0
        for summary in self.kept.get(form_key, ()):
            written += rebuild(connection, schema, summary, owner=owner)
        return written

    def _move(
        self, connection: Connection, form: Form, signed: Sequence[tuple[Mapping[str, Any], int]]
    ) -> None:
        """Add each record to the groups of every summary of ``form`` it falls in (sign
        ``1``) or take it out of them (``-1``), in one :meth:`_apply`."""
        changed: list[tuple[Summary, dict[Group, list[int]]]] = []
        for summary in self.kept.get(form.key, ()):
            deltas: dict[Group, list[int]] = {}
            for record, sign in signed:
                add_record(deltas, summary, form, record, sign)
            changed.append((summary, deltas))
        self._apply(connection, changed)

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
            upsert = self._upserts[dialect] = Prepared(upsert_statement(connection))
        upsert.run(connection, [row for row, _emptying in moved])
        keys = ("app_key", "form_key", "summary", "groups")
        emptied = [{key: row[key] for key in keys} for row, emptying in moved if emptying]
        if emptied:
            connection.execute(self._emptied, emptied)

    def _row(self, summary: Summary, group: Group, totals: Sequence[int]) -> dict[str, Any]:
        return stored_row(self.app.key, summary, group, totals)
