"""What one written record does to the roll-ups over it, worked out without a query.

A roll-up sums, counts or picks over every live record that links to its record and
passes its filter; worked out afresh, that is one aggregate query over all of them, on
every write of any of them. Yet most writes leave a roll-up where it was: a record whose
state moves between two states the filter treats alike, or that changes a field the
roll-up does not read, adds what it added before. And a write that does move a count or
a sum moves it by what this one record added before and adds now.

So for each parent a write concerns, :func:`effects` compares the record's part in the
roll-up before and after the write: no change (nothing to do), a difference to add (a
count or sum, whose parent row is then read ``FOR UPDATE``, so two writers on PostgreSQL
add in turn), or :data:`RECOMPUTE` when it cannot be sure. It is sure only when the
filter can be decided in Python exactly as the database decides it: conditions on the
record's own text, whole-number and reference fields with ``eq``, ``ne``, ``in``,
``not_in``, ``is_empty`` and ``is_not_empty`` (and the order operators on numbers), the
database's three-valued logic included (an empty value passes ``ne`` and ``not_in`` and
fails the others; ``not`` of an unknown holds). Anything else (a linked field, dates,
decimals compared, a sum whose values carry more places than the roll-up keeps) is
worked out afresh as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from formflow.definitions.model import Field
from formflow.errors import QueryError
from formflow.fields import ValueKind
from formflow.records.filters import coerce_value, resolve_field
from formflow.storage.tables import AppSchema


class Recompute:
    """The marker of a roll-up to work out afresh (see :data:`RECOMPUTE`)."""

    def __repr__(self) -> str:
        return "RECOMPUTE"


RECOMPUTE: Final = Recompute()
"""The effect on a parent whose roll-up this module cannot adjust: query it afresh."""

Effect = Decimal | int | Recompute
"""A difference to add to a count or sum, or :data:`RECOMPUTE`."""

_DECIDED_KINDS = frozenset({ValueKind.TEXT, ValueKind.INTEGER, ValueKind.REFERENCE})
_PYTHON_TYPES: Mapping[ValueKind, tuple[type, ...]] = {
    ValueKind.TEXT: (str,),
    ValueKind.INTEGER: (int,),
    ValueKind.REFERENCE: (int,),
}
_ORDER_OPS = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def effects(
    schema: AppSchema,
    field: Field,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> dict[int, Effect]:
    """What a write of one record of the roll-up's source form does to roll-up ``field``
    of each parent it concerns; parents it leaves alone are not in the answer.

    ``before`` and ``after`` are the record's values while live around the write (``None``
    where it did not exist, was in the bin, or is now)."""
    rollup = field.rollup
    assert rollup is not None
    old_parent = before.get(rollup.link) if before is not None else None
    new_parent = after.get(rollup.link) if after is not None else None
    found: dict[int, Effect] = {}
    for parent in {old_parent, new_parent}:
        if parent is None:
            continue
        old = before if old_parent == parent else None
        new = after if new_parent == parent else None
        effect = _effect(schema, field, old, new)
        if effect is not None:
            found[int(parent)] = effect
    return found


def _effect(
    schema: AppSchema,
    field: Field,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
) -> Effect | None:
    """The effect on one parent of the record's part moving from ``old`` to ``new``
    (``None``: it had, or has, no part there); ``None`` when there is none."""
    rollup = field.rollup
    assert rollup is not None
    was = _passes(schema, rollup.form, rollup.filter, old) if old is not None else False
    now = _passes(schema, rollup.form, rollup.filter, new) if new is not None else False
    if was is None or now is None:
        return RECOMPUTE
    if not was and not now:
        return None
    read = [key for key in (rollup.field, rollup.by) if key]
    if was and now and _unmoved(old, new, read):
        return None
    if rollup.aggregate not in ("count", "sum"):
        return RECOMPUTE
    before_part = _part(field, old if was else None)
    after_part = _part(field, new if now else None)
    if before_part is None or after_part is None:
        return RECOMPUTE
    difference = after_part - before_part
    return None if difference == 0 else difference


def _part(field: Field, values: Mapping[str, Any] | None) -> Decimal | int | None:
    """What one record passing the filter adds to a count or sum (``None``: not sure)."""
    rollup = field.rollup
    assert rollup is not None
    if values is None:
        return 0
    if rollup.aggregate == "count":
        return 1 if rollup.field is None or values.get(rollup.field) is not None else 0
    value = values.get(rollup.field or "")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    if field.kind is ValueKind.INTEGER:
        return value if isinstance(value, int) else None
    step = Decimal(1).scaleb(-field.scale)
    amount = Decimal(value)
    if not amount.is_finite() or amount.quantize(step) != amount:
        return None  # more places than the sum keeps: the database rounds each; ask it
    return amount


def _unmoved(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, keys: list[str]) -> bool:
    """Whether the fields a roll-up reads hold the same values (of the same type) in both."""
    if old is None or new is None:
        return False
    return all(type(old.get(k)) is type(new.get(k)) and old.get(k) == new.get(k) for k in keys)


def _passes(schema: AppSchema, form_key: str, spec: Any, values: Mapping[str, Any]) -> bool | None:
    """Whether a record with ``values`` passes filter ``spec`` (``None``: not sure)."""
    if spec is None or (isinstance(spec, Mapping) and not spec):
        return True
    try:
        truth = _Decider(schema, form_key, values).node(spec)
    except _Unsure:
        return None
    return truth is True


class _Unsure(Exception):
    """A filter this module does not decide in Python."""


class _Decider:
    """One filter over one record's values, in SQL's three-valued logic (``None``: unknown)."""

    def __init__(self, schema: AppSchema, form_key: str, values: Mapping[str, Any]) -> None:
        self.schema = schema
        self.form_key = form_key
        self.values = values

    def node(self, spec: Any) -> bool | None:
        if not isinstance(spec, Mapping):
            raise _Unsure()
        groups = [key for key in ("and", "or", "not") if key in spec]
        if not groups:
            return self.condition(spec)
        if len(spec) != 1:
            raise _Unsure()
        if groups[0] == "not":
            return not bool(self.node(spec["not"]))  # NOT of an unknown selects the row
        items = spec[groups[0]]
        if not isinstance(items, list | tuple):
            raise _Unsure()
        found = [self.node(item) for item in items]
        if groups[0] == "and":
            return False if False in found else (None if None in found else True)
        return True if True in found else (None if None in found else False)

    def condition(self, spec: Mapping[str, Any]) -> bool | None:
        key, op = spec.get("field"), spec.get("op")
        if not isinstance(key, str) or "." in key or not isinstance(op, str):
            raise _Unsure()
        try:
            ref = resolve_field(self.schema, self.form_key, key, purpose="filter")
        except QueryError:
            raise _Unsure() from None
        if ref.kind not in _DECIDED_KINDS or key not in self.values:
            raise _Unsure()
        value = self.values[key]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, _PYTHON_TYPES[ref.kind])
        ):
            raise _Unsure()
        if op in ("is_empty", "is_not_empty"):
            empty = value is None or value == ""
            return empty if op == "is_empty" else not empty
        wanted = spec.get("value")
        try:
            if op in ("in", "not_in"):
                if not isinstance(wanted, list | tuple) or not wanted:
                    raise _Unsure()
                choices = [coerce_value(ref, item) for item in wanted]
            elif op in ("eq", "ne") or (op in _ORDER_OPS and ref.kind is not ValueKind.TEXT):
                choices = [coerce_value(ref, wanted)]
            else:
                raise _Unsure()
        except QueryError:
            raise _Unsure() from None
        if any(type(choice) is not type(value) for choice in choices if value is not None):
            raise _Unsure()
        if op in ("ne", "not_in"):
            return value is None or value not in choices
        if value is None:
            return None
        if op in ("eq", "in"):
            return value in choices
        return bool(_ORDER_OPS[op](value, choices[0]))
