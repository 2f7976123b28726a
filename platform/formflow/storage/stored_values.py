"""Stored values a new definition would reject: removed options, and newly required fields.

Neither change alters a column, so the database would accept either silently; the records
would then fail later, when a filter names the missing option or when someone edits a record
that lacks a value now required. The planner asks here first, and either plans the step that
makes the stored values fit (map an old option to the option that claims it with
``renamed_from``; fill a required field's ``default`` into records that have none) or refuses
with the number of rows in the way and the ways forward.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from alembic.operations import Operations
from sqlalchemy import JSON, Connection, Text, cast, column, func, or_, select, table, update
from sqlalchemy.sql import ColumnElement, TableClause

from formflow.definitions.model import Field
from formflow.fields import ValueKind
from formflow.storage.migration_ops import Effect, OneTableOperation, Operation, counted
from formflow.storage.tables import DELETED_AT, column_type


@dataclass(frozen=True)
class Place:
    """Where a field's values live: the model's names, and the live ones before renames."""

    table: str
    column: str
    live_table: str
    source: str | None
    """The live column; ``None`` for one this migration adds."""

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class ColumnValuesStep(OneTableOperation, effect=Effect.VALUES):
    """A step that makes the stored values of one column fit the new definition."""

    table: str
    column_name: str

    @property
    def column(self) -> str:
        return f"{self.table}.{self.column_name}"


@dataclass(frozen=True)
class MapOptionValue(ColumnValuesStep):
    """Rows holding a removed option take the option that names it in ``renamed_from``."""

    old: str
    new: str
    rows: int
    multiple: bool

    def describe(self) -> str:
        return (
            f"change option {self.old!r} to {self.new!r} in {self.column} "
            f"({counted(self.rows, 'row')})"
        )

    def apply(self, ops: Operations) -> None:
        connection = ops.get_bind()
        if not self.multiple:
            target = table(self.table, column(self.column_name))
            where = target.c[self.column_name] == self.old
            connection.execute(update(target).where(where).values({self.column_name: self.new}))
            return
        target = table(self.table, column("id"), column(self.column_name, JSON()))
        for row_id, chosen in _choices(connection, target, self.column_name):
            if self.old in chosen:
                mapped = list(dict.fromkeys(self.new if v == self.old else v for v in chosen))
                connection.execute(
                    update(target).where(target.c.id == row_id).values({self.column_name: mapped})
                )


@dataclass(frozen=True)
class FillDefault(ColumnValuesStep):
    """A field that became required takes its ``default`` in the rows that have no value."""

    value: Any
    rows: int
    target_field: Field = field(compare=False, repr=False)

    def describe(self) -> str:
        return (
            f"fill {self.column} with its default {self.value!r} where it "
            f"has no value ({counted(self.rows, 'row')})"
        )

    def apply(self, ops: Operations) -> None:
        kind = self.target_field.kind
        target = table(self.table, column(self.column_name, column_type(self.target_field)))
        value = target.c[self.column_name]
        ops.get_bind().execute(
            update(target)
            .where(_empty(value, kind))
            .values({self.column_name: _stored_default(kind, self.value)})
        )


def option_changes(
    connection: Connection, place: Place, old: Field | None, new: Field
) -> tuple[list[Operation], list[str]]:
    """The steps and refusals for stored values that are not among ``new``'s options.

    Only a change of options is checked: against the removed ones if ``old`` (the field in
    the previous definition) had options, else against every stored value (a text field
    that becomes a select, or a previous definition that is not known).
    """
    if not new.options or place.source is None:
        return [], []
    if old is not None and _choices_of(old) == _choices_of(new):
        return [], []
    current = set(new.option_values)
    claimed = {
        value: option.value
        for option in new.options
        for value in option.renamed_from
        if value not in current
    }
    counts = _value_counts(connection, place, old or new)
    multiple = new.kind is ValueKind.CHOICES
    steps: list[Operation] = [
        MapOptionValue(place.table, place.column, value, target, counts[value], multiple)
        for value, target in claimed.items()
        if counts.get(value)
    ]
    stray = {v: n for v, n in counts.items() if v not in current and v not in claimed}
    if old is not None and old.options:
        return steps, [
            _removed_option(place, value, stray[value])
            for value in old.option_values
            if value in stray
        ]
    return steps, [_not_options(place, stray)] if stray else []


def _choices_of(options_field: Field) -> list[tuple[str, tuple[str, ...]]]:
    return [(option.value, option.renamed_from) for option in options_field.options]


def _removed_option(place: Place, value: str, rows: int) -> str:
    return (
        f"{place}: {counted(rows, 'row still holds', 'rows still hold')} the option {value!r}, "
        "which the definition removes, so filters and edits of those records would fail. "
        "Ways forward: keep the option; or map it to another option by adding "
        f"`renamed_from: {value}` to that option, and the migration changes those rows; or "
        "change those records first."
    )


def _not_options(place: Place, stray: Mapping[str, int]) -> str:
    common = sorted(stray.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{value!r} in {counted(rows, 'row')}" for value, rows in common[:5])
    more = f" and {len(common) - 5} more values" if len(common) > 5 else ""
    return (
        f"{place}: {counted(sum(stray.values()), 'row holds', 'rows hold')} values that are "
        f"not among the options ({shown}{more}), so filters and edits of those records would "
        "fail. Ways forward: add those values as options; or map each to an option by adding "
        "it to that option's `renamed_from`, and the migration changes those rows; or change "
        "those records first."
    )


def required_changes(
    connection: Connection, place: Place, old: Field | None, new: Field, *, live_only: bool
) -> tuple[list[Operation], list[str]]:
    """Fill or refuse the stored rows that lack a value in a field that became required.

    A column the migration adds lacks a value in every row. A
    field shown only under ``visible_if`` is required only where shown, which depends on each
    record, so it is left to the records; as is a field whose requirement did not change.
    """
    if not new.required or new.visible_if is not None or new.is_computed:
        return [], []
    if new.kind is ValueKind.ROWS:
        return [], []
    if place.source is not None and (old is None or (old.required and old.visible_if is None)):
        return [], []
    missing = _missing_count(connection, place, old or new, live_only=live_only)
    if not missing:
        return [], []
    if new.default is not None:
        return [FillDefault(place.table, place.column, new.default, missing, new)], []
    records = (
        counted(missing, "live record has", "live records have")
        if live_only
        else counted(missing, "row has", "rows have")
    )
    return [], [
        f"{place}: {records} no value in this field, which is now required, "
        "so every later edit of them would fail. Ways forward: give the field a `default`, "
        "which the migration fills into them; or fill those records first and migrate again; "
        "or keep the field optional."
    ]


def _empty(value: ColumnElement[Any], kind: ValueKind) -> ColumnElement[bool]:
    """No value, as a record reads it: empty text, and for a list a JSON ``null`` or ``[]``
    (what a list column holds once emptied) as well as SQL ``NULL``."""
    if kind is ValueKind.TEXT:
        return or_(value.is_(None), value == "")
    if kind in (ValueKind.CHOICES, ValueKind.FILES):
        return or_(value.is_(None), cast(value, Text).in_(("null", "[]")))
    return value.is_(None)


def _missing_count(connection: Connection, place: Place, old: Field, *, live_only: bool) -> int:
    source = place.source
    target = table(place.live_table, column(DELETED_AT), *([column(source)] if source else []))
    query = select(func.count()).select_from(target)
    if source is not None:
        query = query.where(_empty(target.c[source], old.kind))
    if live_only:
        query = query.where(target.c[DELETED_AT].is_(None))
    return int(connection.execute(query).scalar_one())


def _value_counts(connection: Connection, place: Place, old: Field) -> dict[str, int]:
    """How many stored rows hold each value, read as the column holds them now."""
    assert place.source is not None
    if old.kind is ValueKind.CHOICES:
        counts: dict[str, int] = {}
        target = table(place.live_table, column("id"), column(place.source, JSON()))
        for _id, chosen in _choices(connection, target, place.source):
            for held in set(chosen):
                counts[held] = counts.get(held, 0) + 1
        return counts
    stored = table(place.live_table, column(place.source)).c[place.source]
    found = connection.execute(
        select(stored, func.count()).where(stored.is_not(None)).group_by(stored)
    ).all()
    return {str(row[0]): int(row[1]) for row in found if row[0] != ""}


def _choices(
    connection: Connection, target: TableClause, column_name: str
) -> Iterable[tuple[int, list[str]]]:
    value = target.c[column_name]
    for row_id, chosen in connection.execute(select(target.c.id, value).where(value.is_not(None))):
        if isinstance(chosen, list):
            yield row_id, [str(v) for v in chosen]


def _stored_default(kind: ValueKind, value: Any) -> Any:
    """A definition's ``default`` as the column stores it (YAML gives dates as text)."""
    if kind is ValueKind.DATE and isinstance(value, str):
        return date.fromisoformat(value)
    if kind is ValueKind.DATETIME and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind is ValueKind.DECIMAL and not isinstance(value, bool):
        return Decimal(str(value))
    return list(value) if isinstance(value, list) else value
