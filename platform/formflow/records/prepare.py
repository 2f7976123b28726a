"""Checking a submission against its form and working out the values to store.

This is the pure half of a write: no database, no plugins. It converts every submitted
value, fills defaults and formulas, applies ``visible_if``/``required``/``required_if``, and
gathers every problem before failing once (a person fixes a form in one pass, not ten).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from formflow.definitions.model import SYSTEM_FIELDS, Field, Form
from formflow.errors import N_, Problem, ValidationFailed
from formflow.fieldtypes import ValueKind
from formflow.records.compute import Context, applicable_fields, compute_formulas, default_value
from formflow.records.values import Invalid, ValueConverter, is_empty

MAX_ROWS = 1000
log = logging.getLogger("formflow.records")


@dataclass(frozen=True)
class Prepared:
    """What a valid submission will store: field values, and subtable rows by field key."""

    values: dict[str, Any]
    rows: dict[str, list[dict[str, Any]]]


class Preparer:
    def __init__(self, converter: ValueConverter) -> None:
        self.converter = converter

    def prepare(
        self,
        form: Form,
        incoming: Mapping[str, Any],
        context: Context,
        existing: Mapping[str, Any] | None = None,
        existing_rows: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> Prepared:
        """The values to store for ``incoming`` (on top of ``existing`` for an update).

        ``existing_rows`` are the record's current subtable rows, which formulas read when
        the update leaves a subtable alone.
        """
        problems: dict[str, list[Problem]] = {}

        def add(path: str, problem: Problem) -> None:
            problems.setdefault(path, []).append(problem)

        self._reject_unknown(form, incoming, add)
        values: dict[str, Any] = {
            f.key: (existing or {}).get(f.key) for f in form.fields if f.kind is not ValueKind.ROWS
        }
        rows: dict[str, list[dict[str, Any]]] = {}
        for field in form.fields:
            if field.key in incoming and not field.is_computed:
                self._take(field, incoming[field.key], values, rows, context, add)
            elif existing is None and field.kind is not ValueKind.ROWS and not field.is_computed:
                self._take(field, default_value(field, values, context), values, rows, context, add)
        all_rows = {**(existing_rows or {}), **rows}
        names = {**values, **{key: [dict(r) for r in found] for key, found in all_rows.items()}}
        _log_failures(form.key, compute_formulas(form.fields, names, context))
        values.update({f.key: names[f.key] for f in form.fields if f.type == "formula"})
        visible, required = applicable_fields(form, names, context)
        for field in form.fields:
            if (
                field.key not in visible
                and field.kind is not ValueKind.ROWS
                and not field.is_computed
            ):
                values[field.key] = None
            elif (
                field.key in required
                and field.key not in problems
                and _missing(field, names.get(field.key), existing, rows)
            ):
                add(field.key, Problem("required", N_("is required")))
        if problems:
            raise ValidationFailed(problems)
        return Prepared(values, rows)

    def _reject_unknown(self, form: Form, incoming: Mapping[str, Any], add: Any) -> None:
        for key in incoming:
            if key in SYSTEM_FIELDS or not form.has_field(key):
                add(
                    key,
                    Problem(
                        "unknown_field",
                        N_("'%(key)s' is not a field of this form"),
                        (("key", key),),
                    ),
                )
            elif form.field(key).is_computed:
                add(key, Problem("read_only", N_("is worked out by the system and cannot be set")))

    def _take(
        self,
        field: Field,
        raw: Any,
        values: dict[str, Any],
        rows: dict[str, list[dict[str, Any]]],
        context: Context,
        add: Any,
    ) -> None:
        if field.kind is ValueKind.ROWS:
            rows[field.key] = self._rows(field, raw, values, context, add)
            return
        try:
            values[field.key] = self.converter.convert(field, raw)
        except Invalid as exc:
            add(field.key, exc.problem)

    def _rows(
        self, field: Field, raw: Any, parent: Mapping[str, Any], context: Context, add: Any
    ) -> list[dict[str, Any]]:
        if raw is None:
            raw = []
        if not isinstance(raw, list) or not all(isinstance(row, Mapping) for row in raw):
            add(field.key, Problem("type", N_("must be a list of rows")))
            return []
        if len(raw) > MAX_ROWS:
            add(
                field.key,
                Problem("max_rows", N_("may have at most %(limit)s rows"), (("limit", MAX_ROWS),)),
            )
            return []
        rows = []
        for index, submitted in enumerate(
            r for r in raw if not all(is_empty(v) for v in r.values())
        ):
            rows.append(self._row(field, index, submitted, parent, context, add))
        if field.min_rows is not None and len(rows) < field.min_rows:
            add(
                field.key,
                Problem(
                    "min_rows",
                    N_("needs at least %(limit)s rows"),
                    (("limit", field.min_rows),),
                ),
            )
        if field.max_rows is not None and len(rows) > field.max_rows:
            add(
                field.key,
                Problem(
                    "max_rows",
                    N_("may have at most %(limit)s rows"),
                    (("limit", field.max_rows),),
                ),
            )
        return rows

    def _row(
        self,
        field: Field,
        index: int,
        submitted: Mapping[str, Any],
        parent: Mapping[str, Any],
        context: Context,
        add: Any,
    ) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for key in submitted:
            if not any(sub.key == key for sub in field.fields):
                add(
                    f"{field.key}.{index}.{key}",
                    Problem(
                        "unknown_field",
                        N_("'%(key)s' is not a column of this table"),
                        (("key", key),),
                    ),
                )
        for sub in field.fields:
            path = f"{field.key}.{index}.{sub.key}"
            if sub.is_computed:
                continue
            raw = submitted.get(sub.key, default_value(sub, row, context))
            try:
                row[sub.key] = self.converter.convert(sub, raw)
            except Invalid as exc:
                add(path, exc.problem)
                continue
            if sub.required and row[sub.key] is None:
                add(path, Problem("required", N_("is required")))
        _log_failures(
            f"{field.key}.{index}", compute_formulas(field.fields, row, context, parent=parent)
        )
        return row


def _log_failures(where: str, failures: Mapping[str, str]) -> None:
    """A formula that cannot be worked out (an empty input, say) stays empty: the person
    filling the form cannot fix a formula, so it is logged for the admin instead."""
    for key, reason in failures.items():
        log.info("formula %s.%s left empty: %s", where, key, reason)


def _missing(
    field: Field, value: Any, existing: Mapping[str, Any] | None, rows: Mapping[str, list[Any]]
) -> bool:
    if field.kind is ValueKind.ROWS:
        return not rows[field.key] if field.key in rows else existing is None
    return is_empty(value)
