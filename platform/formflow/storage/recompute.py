"""Formulas whose meaning a migration changes, worked out again for the rows already stored.

A formula's value is stored with its record, so a definition that changes what a formula
computes (its expression, its result type or decimals, or the type of a field it reads)
would leave every existing record showing the old result until someone saved it again. A
migration therefore recomputes such formulas, and fills in a formula field just added, for
every stored row: live records and those in the recycle bin alike, so a restored record is
right too.

The values are worked out by the same code a save uses (``records.compute``), in batches of
records read in id order, inside the migration's transaction: a failure changes nothing.
Formulas reading ``today`` or ``now`` get the moment of the migration; ``user`` is nobody.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from functools import partial
from typing import Any

from alembic.operations import Operations
from sqlalchemy import Connection, Table, bindparam, func, select, table, update

from formflow.definitions.model import Field, Form
from formflow.fields import ValueKind
from formflow.records.compute import Context, compute_formulas
from formflow.records.query import normalised
from formflow.storage.id_batches import id_batches
from formflow.storage.migration_ops import Effect, Operation, counted
from formflow.storage.tables import PARENT_ID, POSITION, AppSchema

BATCH = 500
"""Records read, worked out and written back at a time."""

Meaning = tuple[Any, ...]


def recompute_text(
    noun: tuple[str, str], keys: tuple[str, ...], where: str, form_key: str, rows: int
) -> str:
    """How a plan shows a step that works values out again: ``noun`` (singular, plural)
    names what, for ``keys``, of ``where`` (form, or a subtable of it)."""
    return (
        f"recompute {noun[0] if len(keys) == 1 else noun[1]} {', '.join(keys)} "
        f"of {where} {form_key} for {counted(rows, 'row')}"
    )


@dataclass(frozen=True)
class RecomputeFormulas(Operation, effect=Effect.DERIVED):
    """Work out ``formulas`` again for every stored row of a form, or of one of its
    subtables (``subtable``), writing back the values that changed."""

    form_key: str
    subtable: str | None
    formulas: tuple[str, ...]
    rows: int
    schema: AppSchema = field(compare=False, repr=False)
    timezone: tzinfo = field(default=UTC, compare=False, repr=False)

    def describe(self) -> str:
        where = f"subtable {self.subtable} of form" if self.subtable else "form"
        return recompute_text(
            ("formula", "formulas"), self.formulas, where, self.form_key, self.rows
        )

    def touches(self) -> tuple[str, ...]:
        if self.subtable is None:
            return (self.schema.table(self.form_key).name,)
        return (self.schema.child_table(self.form_key, self.subtable).name,)

    def apply(self, ops: Operations) -> None:
        connection = ops.get_bind()
        form = self.schema.app.form(self.form_key)
        context = Context({}, self.timezone)
        if self.subtable is None:
            target = self.schema.table(form.key)
            work = partial(_record_changes, form.fields)
            read = {name for f in form.fields if f.expression for name in f.expression.names}
        else:
            target = self.schema.child_table(form.key, self.subtable)
            work = partial(_row_changes, form.field(self.subtable))
            read = {self.subtable}
        for batch in _batches(connection, self.schema, form, read):
            _write(connection, target, self.formulas, work(batch, context, self.formulas))


@dataclass
class _Stored:
    """One stored record as formulas read it: its values and its subtables' rows."""

    record_id: int
    values: dict[str, Any]
    rows: dict[str, list[tuple[int, dict[str, Any]]]]

    def names(self) -> dict[str, Any]:
        listed = {key: [row for _id, row in rows] for key, rows in self.rows.items()}
        return {**self.values, **listed}


Changes = list[tuple[int, dict[str, Any]]]
"""Row ids with the formula values that differ from the stored ones."""


def _record_changes(
    fields: tuple[Field, ...], batch: list[_Stored], context: Context, keys: tuple[str, ...]
) -> Changes:
    changes = []
    for record in batch:
        names = record.names()
        compute_formulas(fields, names, context)
        changed = {key: names[key] for key in keys if names[key] != record.values[key]}
        if changed:
            changes.append((record.record_id, changed))
    return changes


def _row_changes(
    subtable: Field, batch: list[_Stored], context: Context, keys: tuple[str, ...]
) -> Changes:
    changes = []
    for record in batch:
        for row_id, row in record.rows[subtable.key]:
            worked = dict(row)
            compute_formulas(subtable.fields, worked, context, parent=record.values)
            changed = {key: worked[key] for key in keys if worked[key] != row[key]}
            if changed:
                changes.append((row_id, changed))
    return changes


def _batches(
    connection: Connection, schema: AppSchema, form: Form, read: set[str]
) -> Iterator[list[_Stored]]:
    """Every record of ``form`` with the rows of the subtables named in ``read``, ``BATCH``
    records at a time."""
    table = schema.table(form.key)
    plain = [f.key for f in form.fields if f.kind is not ValueKind.ROWS]
    query = select(table.c.id, *(table.c[key] for key in plain))
    for found in id_batches(connection, query, table, BATCH):
        batch = [_Stored(row["id"], normalised(row), {}) for row in found]
        for record in batch:
            del record.values["id"]
        _read_rows(connection, schema, form, batch, read)
        yield batch


def _read_rows(
    connection: Connection, schema: AppSchema, form: Form, batch: list[_Stored], read: set[str]
) -> None:
    by_id = {record.record_id: record for record in batch}
    for sub in (f for f in form.fields if f.kind is ValueKind.ROWS and f.key in read):
        for record in batch:
            record.rows[sub.key] = []
        child = schema.child_table(form.key, sub.key)
        keys = [row_field.key for row_field in sub.fields]
        found = connection.execute(
            select(child.c.id, child.c[PARENT_ID], *(child.c[key] for key in keys))
            .where(child.c[PARENT_ID].in_(by_id))
            .order_by(child.c[PARENT_ID], child.c[POSITION])
        ).mappings()
        for row in found:
            values = normalised(row)
            by_id[row[PARENT_ID]].rows[sub.key].append(
                (row["id"], {key: values[key] for key in keys})
            )


def _write(connection: Connection, table: Table, keys: tuple[str, ...], changes: Changes) -> None:
    """Write each changed row's values, one statement per set of changed formulas."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, changed in changes:
        columns = tuple(key for key in keys if key in changed)
        params = {"row_id": row_id, **{f"new_{key}": changed[key] for key in columns}}
        groups.setdefault(columns, []).append(params)
    for columns, rows in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({key: bindparam(f"new_{key}") for key in columns})
        )
        connection.execute(statement, rows)


def stale_formulas(
    fields: tuple[Field, ...],
    previous: Mapping[str, Field] | None,
    added: set[str],
    parent: tuple[Field, ...] = (),
    old_parent: tuple[Field, ...] = (),
    touched: frozenset[str] = frozenset(),
) -> tuple[str, ...]:
    """The formulas of ``fields`` whose stored values no longer mean what they compute.

    A formula is stale if its column is just being ``added``, if it reads (perhaps through
    other formulas) a field whose stored values the migration changes (``touched``: an
    option mapped, a default filled in), or if its meaning (see :func:`_meanings`) differs
    from that of the formula of the same key in ``previous`` (or the one it was renamed
    from). Without a previous model only added and touched columns are known.
    """
    new = _meanings(fields, parent, touched)
    if previous is None:  # unknown: compare with the same formulas reading unchanged values
        old = _meanings(fields, parent)
    else:
        old = _meanings(tuple(previous.values()), old_parent)
    stale = []
    for formula in fields:
        if formula.key not in new:
            continue
        if formula.key in added:
            stale.append(formula.key)
        else:
            before = old.get(formula.key)
            if before is None and formula.renamed_from:
                before = old.get(formula.renamed_from)
            if before != new[formula.key]:
                stale.append(formula.key)
    return tuple(stale)


def _meanings(
    fields: tuple[Field, ...], parent: tuple[Field, ...], touched: frozenset[str] = frozenset()
) -> dict[str, Meaning]:
    """What each formula computes: its expression and result type, and the meaning of every
    name it reads (the formulas it reads, recursively; a subtable's columns; ``parent``)."""
    by_key = {f.key: f for f in fields}
    meanings: dict[str, Meaning] = {}

    def meaning_of(formula: Field) -> Meaning:
        found = meanings.get(formula.key)
        if found is None:
            assert formula.expression is not None
            inputs = tuple((name, input_of(name)) for name in sorted(formula.expression.names))
            result = (formula.type, formula.kind, formula.scale, formula.result_type)
            found = (formula.expression.source, result, inputs)
            meanings[formula.key] = found
        return found

    def input_of(name: str) -> Meaning:
        read = by_key.get(name)
        if name in touched:
            return ("values changed", name)
        if read is None:
            return ("parent", *map(_shallow, parent)) if name == "parent" and parent else (name,)
        if read.is_formula:
            return meaning_of(read)
        if read.kind is ValueKind.ROWS:
            return ("rows", *_meanings(read.fields, ()).items(), *map(_shallow, read.fields))
        return _value_type(read)

    for formula in fields:
        if formula.is_formula:
            meaning_of(formula)
    return meanings


def _value_type(read: Field) -> Meaning:
    return (read.key, read.type, read.kind, read.scale)


def _shallow(read: Field) -> Meaning:
    """A field's meaning without following formulas (a row formula reading ``parent`` may
    read a parent formula that sums the rows)."""
    source = read.expression.source if read.expression is not None else None
    return (*_value_type(read), source)


def row_count(connection: Connection, table_name: str) -> int:
    """How many rows a live table holds, the recycle bin included."""

    return int(connection.execute(select(func.count()).select_from(table(table_name))).scalar_one())
