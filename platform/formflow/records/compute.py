"""Values the engine works out: defaults, formulas, and which fields apply at all.

Formulas are evaluated in dependency order (a formula may read another formula), rows of a
subtable before the record (a total may sum its rows' line totals). Conditions decide
whether a field is shown (``visible_if``) and needed (``required``/``required_if``); a field
that is hidden is not required and keeps no value, as the person never saw it.

One order, for the server and the page alike (:func:`settle`): work out the formulas, then
the conditions; clear every hidden field that holds a value, and start again until nothing
more is cleared. A value is only ever cleared, never restored, so this ends, and formulas
never see a value that is then cleared. A row sees its own fields and ``parent``: the
record's fields except its formulas (which are worked out from the rows, after them), and
its system fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from formflow.definitions.model import SYSTEM_FIELDS, Field, Form
from formflow.expressions import Expression, ExpressionError, ExpressionLimit
from formflow.fields import Invalid, ValueKind, is_empty


class ExpressionRefused(Exception):
    """A field's expression went past the sandbox's budget with these values.

    Unlike an expression that merely fails (an empty input), this is not left empty or
    counted as false: the values make the expression too big to work out, so the write is
    refused with a problem on ``field`` (a dotted path inside a subtable row).
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class Context:
    """The names every expression may read besides fields: ``user``, ``today``, ``now``."""

    def __init__(
        self, user: Mapping[str, Any], timezone: tzinfo = UTC, now: datetime | None = None
    ):
        self.utc = (now or datetime.now(UTC)).astimezone(UTC)
        """When the write happens, as stored (UTC; SQLite keeps no offset, so all are UTC)."""
        self.now = self.utc.astimezone(timezone)
        """The same moment in the instance's time zone: what ``today``/``now`` mean to people."""
        self.names: dict[str, Any] = {"user": dict(user), "today": self.now.date(), "now": self.now}

    def system_values(self, existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The system fields as expressions read them while a record is saved: as they will
        be stored by this save. A new record has no ``id`` until it is inserted; date-times
        are in the instance's time zone, like ``now``."""
        user_id = self.names["user"].get("id")
        if existing is None:
            found: dict[str, Any] = {"id": None, "created_at": self.now, "created_by": user_id}
            found["version"] = 1
        else:
            found = {key: existing.get(key) for key in ("id", "created_at", "created_by")}
            found["version"] = (existing.get("version") or 0) + 1
            if isinstance(found["created_at"], datetime):
                found["created_at"] = found["created_at"].astimezone(self.now.tzinfo)
        found.update({"updated_at": self.now, "updated_by": user_id})
        return {key: found[key] for key in SYSTEM_FIELDS}


def evaluate(expression: Expression, values: Mapping[str, Any], context: Context) -> Any:
    return expression.evaluate({**values, **context.names})


def condition_holds(
    expression: Expression | None, values: Mapping[str, Any], context: Context
) -> bool:
    """A ``visible_if``/``required_if`` verdict; a condition that fails to run counts as false
    (one past the budget raises :class:`ExpressionLimit`)."""
    if expression is None:
        return True
    return _verdict(expression, {**values, **context.names})


def _verdict(expression: Expression, names: Mapping[str, Any]) -> bool:
    try:
        return bool(expression.evaluate(names))
    except ExpressionLimit:
        raise
    except ExpressionError:
        return False


class DefaultFailed(Exception):
    """A ``default_expr`` failed while it ran: the admin's expression, reported on its field."""


def default_value(field: Field, values: Mapping[str, Any], context: Context) -> Any:
    """The starting value of ``field``; raise DefaultFailed if its ``default_expr`` fails."""
    if field.default_expr is not None:
        try:
            return evaluate(field.default_expr, values, context)
        except ExpressionLimit as exc:
            raise ExpressionRefused(field.key, str(exc)) from None
        except ExpressionError as exc:
            raise DefaultFailed(str(exc)) from None
    if field.default is not None:
        return list(field.default) if isinstance(field.default, list) else field.default
    return None


def formula_order(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    """The formula fields, each after the formulas it reads (cycles are refused at load);
    worked out once per compiled form (or subtable), as every save asks for it."""
    found = _orders.get(id(fields))
    if found is not None and found[0] is fields:
        return found[1]
    ordered = _formula_order(fields)
    if len(_orders) >= MAX_ORDERS:
        _orders.clear()
    _orders[id(fields)] = (fields, ordered)
    return ordered


MAX_ORDERS = 256
"""How many forms' and subtables' formula orders :func:`formula_order` keeps."""
_orders: dict[int, tuple[tuple[Field, ...], tuple[Field, ...]]] = {}
"""By the ``id`` of the fields, kept beside them: a form compiled since, which took the
place of one gone, is never answered with the old one's order."""


def _formula_order(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    formulas = {f.key: f for f in fields if f.is_formula}
    ordered: list[Field] = []
    placed: set[str] = set()

    def place(field: Field) -> None:
        if field.key in placed:
            return
        placed.add(field.key)
        assert field.expression is not None
        for name in sorted(field.expression.names & formulas.keys()):
            place(formulas[name])
        ordered.append(field)

    for field in formulas.values():
        place(field)
    return tuple(ordered)


def compute_formulas(
    fields: tuple[Field, ...],
    values: dict[str, Any],
    context: Context,
    parent: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Fill in every formula of ``values`` in place; returns formula keys that failed, with
    why (a failed formula holds ``None``).

    A formula past the sandbox's budget is not a failure to note but raises
    :class:`ExpressionRefused`.
    """
    failures: dict[str, str] = {}
    for field in formula_order(fields):
        assert field.expression is not None
        try:
            # evaluate() reads a copy with the context's names: one more copy would be waste
            names = values if parent is None else {**values, "parent": parent}
            result = evaluate(field.expression, names, context)
            values[field.key] = formula_result(field, result)
        except ExpressionLimit as exc:
            raise ExpressionRefused(field.key, str(exc)) from None
        except (ExpressionError, Invalid, InvalidOperation, TypeError, ValueError) as exc:
            values[field.key] = None
            failures[field.key] = str(exc)
    return failures


def formula_result(field: Field, result: Any) -> Any:
    """A formula's raw result in its declared type; numbers are rounded half up to scale."""
    if result is None:
        return None
    if field.kind is ValueKind.DECIMAL:
        if isinstance(result, bool):
            raise TypeError("a number formula gave true/false")
        return Decimal(str(result)).quantize(
            Decimal(1).scaleb(-field.scale), rounding=ROUND_HALF_UP
        )
    if field.kind is ValueKind.TEXT:
        return str(result)
    if field.kind is ValueKind.BOOL:
        return bool(result)
    if field.kind is ValueKind.DATE:
        if isinstance(result, datetime):
            return result.date()
        if isinstance(result, date):
            return result
        return date.fromisoformat(str(result))
    return result


def applicable_fields(
    form: Form, values: Mapping[str, Any], context: Context
) -> tuple[set[str], set[str]]:
    """Which fields of a stored record are visible, and which of those must hold a value."""
    return _applicable(form.fields, values, context)


@dataclass
class Settled:
    """What :func:`settle` found for one record or row."""

    visible: set[str]
    required: set[str]
    failures: dict[str, str]
    """Formulas that failed to run, by key, with why."""
    rows: dict[str, list[Settled]] = dataclasses.field(default_factory=dict)
    """For a record: each subtable's rows, in order."""


def settle(
    form: Form,
    values: dict[str, Any],
    context: Context,
    system: Mapping[str, Any],
) -> Settled:
    """Work out ``values`` (fields, with subtables as lists of row dicts) in place: formulas
    filled, hidden fields cleared (rows of a hidden subtable too), in the one order the
    module describes. ``system`` holds the system fields' values."""
    subtables = [f for f in form.fields if f.kind is ValueKind.ROWS]
    formulas = {f.key for f in form.fields if f.is_formula}
    rows: dict[str, list[Settled]] = {}

    def settle_rows() -> None:
        if not subtables:
            return
        parent = {
            **{key: value for key, value in values.items() if key not in formulas},
            **system,
        }
        for subtable in subtables:
            found = values.get(subtable.key) or []
            rows[subtable.key] = [
                _settle_row_at(subtable, index, row, parent, context)
                for index, row in enumerate(found)
            ]

    record = _settle(form.fields, values, system, context, before=settle_rows)
    record.rows = rows
    return record


def settle_row(
    subtable: Field, row: dict[str, Any], parent: Mapping[str, Any], context: Context
) -> Settled:
    """Work out one row of ``subtable`` on its own, as :func:`settle` does each row."""
    return _settle(subtable.fields, row, {"parent": parent}, context)


def _settle_row_at(
    subtable: Field, index: int, row: dict[str, Any], parent: Mapping[str, Any], context: Context
) -> Settled:
    try:
        return _settle(subtable.fields, row, {"parent": parent}, context)
    except ExpressionRefused as refused:
        raise ExpressionRefused(f"{subtable.key}.{index}.{refused.field}", refused.reason) from None


def _settle(
    fields: tuple[Field, ...],
    values: dict[str, Any],
    extra: Mapping[str, Any],
    context: Context,
    before: Callable[[], None] | None = None,
) -> Settled:
    while True:
        if before is not None:
            before()
        names = {**values, **extra}
        failures = compute_formulas(fields, names, context)
        for item in fields:
            if item.is_formula:
                values[item.key] = names[item.key]
        visible, required = _applicable(fields, names, context)
        stale = [
            item.key
            for item in fields
            if item.key not in visible
            and not item.is_computed
            and not is_empty(values.get(item.key))
        ]
        if not stale:
            return Settled(visible, required, failures)
        for key in stale:
            values[key] = [] if _field(fields, key).kind is ValueKind.ROWS else None


def _field(fields: tuple[Field, ...], key: str) -> Field:
    return next(item for item in fields if item.key == key)


def _applicable(
    fields: tuple[Field, ...], values: Mapping[str, Any], context: Context
) -> tuple[set[str], set[str]]:
    visible: set[str] = set()
    required: set[str] = set()
    holds = _Verdicts(values, context)
    for item in fields:
        try:
            if item.visible_if is not None and not holds(item.visible_if):
                continue  # (most fields have no condition: asking costs a call each)
            visible.add(item.key)
            if item.is_computed:
                continue
            if item.required or (item.required_if is not None and holds(item.required_if)):
                required.add(item.key)
        except ExpressionLimit as exc:
            raise ExpressionRefused(item.key, str(exc)) from None
    return visible, required


class _Verdicts:
    """The conditions' verdicts on one set of values, each condition text worked out once:
    fields often share one (five fields needed for one kind of invoice), and a verdict
    depends only on the text and the values (the fields of a form are compiled by one
    engine, with one budget)."""

    def __init__(self, values: Mapping[str, Any], context: Context) -> None:
        self.names = {**values, **context.names}
        self.found: dict[str, bool] = {}

    def __call__(self, expression: Expression | None) -> bool:
        if expression is None:
            return True
        verdict = self.found.get(expression.source)
        if verdict is None:
            verdict = self.found[expression.source] = _verdict(expression, self.names)
        return verdict


def reads_record_id(form: Form) -> bool:
    """Whether an expression of ``form`` may read the record's ``id`` (a row's through
    ``parent``), so a new record must be worked out again once it has one."""
    reading = [(item, "id") for item in form.fields]
    reading += [(sub, "parent") for item in form.fields for sub in item.fields]
    return any(
        expression is not None and name in expression.names
        for item, name in reading
        for expression in (item.visible_if, item.required_if, item.default_expr, item.expression)
    )
