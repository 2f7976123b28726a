"""The dashboards' summaries as stored: how a record's values become a summary row's keys
and totals, and how the rows are written, added to and rebuilt from the records.

A summary row (``ff_summaries``, see :mod:`formflow.definitions.dashboard_summaries`) is
known by its keys as text: a date as the label of its bucket, exactly as the database
labels it when it groups records (:func:`formflow.records.aggregates.date_bucket`), a
number at its field's scale. Sums are whole numbers of the field's last place (cents), so
they add up exactly on both databases.

Writes add to the rows in the write's transaction (:mod:`formflow.records.summaries`).
Whatever changes records by other means is followed by a rebuild: a migration that
changes which summaries are kept (:class:`RebuildSummaries`), a person moving department,
a bulk load. A rebuild lets the database group the records by the kept fields' own values
(dates as days) and only buckets and merges those groups here, with the same functions a
write uses, so a rebuilt row and a kept one always agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from alembic.operations import Operations
from sqlalchemy import BigInteger, ColumnElement, Connection, cast, delete, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite

from formflow.definitions.dashboard_summaries import Summary, summaries_of
from formflow.definitions.model import App, Form
from formflow.fields import ValueKind, stored_date
from formflow.storage.migration_ops import Effect, OneTableOperation
from formflow.storage.platform_tables import summary_rows
from formflow.storage.tables import DELETED_AT, DEPARTMENT, AppSchema

BUILT = "built"
"""The ``groups`` of the row that marks a summary as counted from the records (it counts
nothing itself): an installation upgraded to a version that keeps summaries has none yet,
whatever its definitions say, and its next migration builds them."""
TOTALS = ("records", "s1", "s2", "s3", "s4", "n1", "n2", "n3", "n4")
Group = tuple[Any, ...]
"""A summary row's keys: the owner, the department, then ``k1``… as stored."""


_GROUP_TEXT = json.JSONEncoder(ensure_ascii=False).encode
"""A group's keys as its row names them (what ``json.dumps(group, ensure_ascii=False)``
gives, without building an encoder for every row of every write)."""


def stored_row(
    app_key: str, summary: Summary, group: Group, totals: Sequence[int]
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "app_key": app_key,
        "form_key": summary.form,
        "summary": summary.name,
        "groups": _GROUP_TEXT(group),
        "owner": group[0],
        "department": group[1],
    }
    row.update({f"k{index}": None for index in range(1, 7)})
    row.update({f"k{index}": value for index, value in enumerate(group[2:], 1)})
    row.update(zip(TOTALS, totals, strict=True))
    return row


def _insert(connection: Connection) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(summary_rows)
    return sqlite.insert(summary_rows)


def upsert_statement(connection: Connection) -> Any:
    """Rows added to those of the same groups (inserted where there is none yet)."""
    upsert = _insert(connection)
    return upsert.on_conflict_do_update(
        index_elements=["app_key", "form_key", "summary", "groups"],
        set_={name: summary_rows.c[name] + upsert.excluded[name] for name in TOTALS},
    )


def add_record(
    deltas: dict[Group, list[int]],
    summary: Summary,
    form: Form,
    record: Mapping[str, Any],
    sign: int,
) -> None:
    owner, department = record.get(form.owner_field), record.get(DEPARTMENT)
    keys = [key_text(form, key, bucket, record.get(key)) for key, bucket in summary.keys]
    group = (_id(owner), _id(department), *keys)
    totals = deltas.setdefault(group, [0] * len(TOTALS))
    totals[0] += sign
    for index, key in enumerate(summary.sums, 1):
        units = minor_units(record.get(key), form.field(key).scale)
        if units is not None:
            totals[index] += sign * units
            totals[4 + index] += sign


def _id(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def key_text(form: Form, key: str, bucket: str | None, value: Any) -> str | None:
    """A value as a summary key holds it: a date as its bucket's label (as the database
    labels it, :func:`formflow.records.aggregates.date_bucket`), a number at its scale."""
    if value is None or value == "":
        return None
    field = form.field(key)
    if bucket is not None:
        return bucket_label(stored_date(value), bucket)
    if field.kind is ValueKind.DECIMAL:
        return str(_decimal(value).quantize(Decimal(1).scaleb(-field.scale)))
    if field.kind in (ValueKind.INTEGER, ValueKind.REFERENCE):
        return str(int(value))
    return str(value)


def key_value(form: Form, key: str, bucket: str | None, text: str | None) -> Any:
    """A stored key back as the value an aggregate of the records groups by."""
    if text is None or bucket is not None:
        return text
    kind = form.field(key).kind
    if kind is ValueKind.DECIMAL:
        return Decimal(text)
    if kind in (ValueKind.INTEGER, ValueKind.REFERENCE):
        return int(text)
    return text


def bucket_label(day: date, bucket: str) -> str:
    if bucket == "day":
        return day.isoformat()
    if bucket == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if bucket == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if bucket == "quarter":
        return f"{day.year:04d}-Q{(day.month + 2) // 3}"
    return f"{day.year:04d}"


def _decimal(value: Any) -> Decimal:
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def minor_units(value: Any, scale: int) -> int | None:
    """A number in whole units of its last place (cents, for two places), rounded as the
    database rounds a stored amount: half away from nought."""
    if value is None or value == "":
        return None
    units = _decimal(value).scaleb(scale).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(units)


def rebuild(
    connection: Connection, schema: AppSchema, summary: Summary, *, owner: int | None = None
) -> int:
    """Replace the rows of ``summary`` (``owner``'s only, when given) with counts of the
    live records; returns how many rows were written.

    The database groups the records by the kept fields' own values (a date as its day)
    and sums each group in whole units of the last place; only those groups come here,
    to be labelled and merged as a write would label them."""
    app_key = schema.app.key
    form = schema.app.form(summary.form)
    table = schema.table(summary.form)
    where: list[ColumnElement[bool]] = [
        summary_rows.c.app_key == app_key,
        summary_rows.c.form_key == summary.form,
        summary_rows.c.summary == summary.name,
    ]
    live: list[ColumnElement[bool]] = [table.c[DELETED_AT].is_(None)]
    if owner is not None:
        where.append(summary_rows.c.owner == owner)
        live.append(table.c[form.owner_field] == owner)
    connection.execute(delete(summary_rows).where(*where))
    keys = [table.c[key] for key, _ in summary.keys]
    groups = [table.c[form.owner_field], table.c[DEPARTMENT], *keys]
    sums = [
        func.sum(cast(func.round(table.c[key] * 10 ** form.field(key).scale), BigInteger))
        for key in summary.sums
    ]
    counts = [func.count(table.c[key]) for key in summary.sums]
    statement = select(*groups, func.count(), *sums, *counts).where(*live).group_by(*groups)
    merged: dict[Group, list[int]] = {}
    width = len(summary.sums)
    for found in connection.execute(statement):
        values = list(found)
        texts = [
            key_text(form, key, bucket, value)
            for (key, bucket), value in zip(summary.keys, values[2 : 2 + len(keys)], strict=True)
        ]
        group = (_id(values[0]), _id(values[1]), *texts)
        measured = [int(v or 0) for v in values[2 + len(keys) :]]
        totals = merged.setdefault(group, [0] * len(TOTALS))
        totals[0] += measured[0]
        for index in range(width):
            totals[1 + index] += measured[1 + index]
            totals[5 + index] += measured[1 + width + index]
    rows = [stored_row(app_key, summary, group, totals) for group, totals in merged.items()]
    if owner is None:
        marker = stored_row(app_key, summary, (None, None), [0] * len(TOTALS))
        rows.append({**marker, "groups": BUILT})
    for start in range(0, len(rows), 5000):
        connection.execute(_insert(connection), rows[start : start + 5000])
    return len(rows)


def rebuild_all(connection: Connection, schema: AppSchema) -> int:
    """Every summary of the app built again from its records, and the rows of summaries it
    no longer keeps removed; returns how many rows were written."""
    kept = summaries_of(schema.app)
    names = [s.name for items in kept.values() for s in items]
    connection.execute(
        delete(summary_rows).where(
            summary_rows.c.app_key == schema.app.key, summary_rows.c.summary.not_in(names)
        )
    )
    return sum(rebuild(connection, schema, s) for items in kept.values() for s in items)


def changed_summaries(connection: Connection, app: App, before: App | None) -> bool:
    """Whether ``app`` keeps other summaries than ``before`` did, or one that has not been
    counted from the records yet (an installation that kept none before this version)."""
    now = {s.name for items in summaries_of(app).values() for s in items}
    then = {s.name for items in summaries_of(before).values() for s in items} if before else set()
    if now != then:
        return True
    if not now:
        return False
    if not inspect(connection).has_table(summary_rows.name):  # planned before its tables
        return True
    built = connection.execute(
        select(summary_rows.c.summary).where(
            summary_rows.c.app_key == app.key, summary_rows.c.groups == BUILT
        )
    )
    return not now <= set(built.scalars())


@dataclass(frozen=True)
class RebuildSummaries(OneTableOperation, effect=Effect.DERIVED):
    """A migration step: the dashboards' summaries counted again from the records, since
    the set of summaries the app keeps (or how a field they read is stored) has changed."""

    schema: AppSchema
    table = summary_rows.name

    def describe(self) -> str:
        return f"rebuild the dashboard summaries of {self.schema.app.key}"

    def apply(self, ops: Operations) -> None:
        rebuild_all(ops.get_bind(), self.schema)
