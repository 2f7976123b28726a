"""Values the engine works out: defaults, formulas, and which fields apply at all.

Formulas are evaluated in dependency order (a formula may read another formula), rows of a
subtable before the record (a total may sum its rows' line totals). Conditions decide
whether a field is shown (``visible_if``) and needed (``required``/``required_if``); a field
that is hidden is not required and keeps no value, as the person never saw it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from formflow.definitions.model import Field, Form
from formflow.expressions import Expression, ExpressionError, ExpressionLimit
from formflow.fieldtypes import ValueKind
from formflow.records.values import Invalid


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


def evaluate(expression: Expression, values: Mapping[str, Any], context: Context) -> Any:
    return expression.evaluate({**values, **context.names})


def condition_holds(
    expression: Expression | None, values: Mapping[str, Any], context: Context
) -> bool:
    """A ``visible_if``/``required_if`` verdict; a condition that fails to run counts as false
    (one past the budget raises :class:`ExpressionLimit`)."""
    if expression is None:
        return True
    try:
        return bool(evaluate(expression, values, context))
    except ExpressionLimit:
        raise
    except ExpressionError:
        return False


def default_value(field: Field, values: Mapping[str, Any], context: Context) -> Any:
    if field.default_expr is not None:
        try:
            return evaluate(field.default_expr, values, context)
        except ExpressionLimit as exc:
            raise ExpressionRefused(field.key, str(exc)) from None
        except ExpressionError:
            return None
    if field.default is not None:
        return list(field.default) if isinstance(field.default, list) else field.default
    return None


def formula_order(fields: tuple[Field, ...]) -> list[Field]:
    """The formula fields, each after the formulas it reads (cycles are refused at load)."""
    formulas = {f.key: f for f in fields if f.expression is not None and f.type == "formula"}
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
    return ordered


def compute_formulas(
    fields: tuple[Field, ...],
    values: dict[str, Any],
    context: Context,
    parent: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Fill in every formula of ``values`` in place; returns formula keys that failed, with why.

    A formula past the sandbox's budget is not a failure to note but raises
    :class:`ExpressionRefused`.
    """
    failures: dict[str, str] = {}
    names_extra = {"parent": parent} if parent is not None else {}
    for field in formula_order(fields):
        assert field.expression is not None
        try:
            result = evaluate(field.expression, {**values, **names_extra}, context)
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
    """Which fields are visible, and which of those must hold a value."""
    visible: set[str] = set()
    required: set[str] = set()
    for field in form.fields:
        try:
            if not condition_holds(field.visible_if, values, context):
                continue
            visible.add(field.key)
            if field.is_computed:
                continue
            if field.required or (
                field.required_if is not None
                and condition_holds(field.required_if, values, context)
            ):
                required.add(field.key)
        except ExpressionLimit as exc:
            raise ExpressionRefused(field.key, str(exc)) from None
    return visible, required
