"""A submission worked out again with values set on top (what in-save rules set) is what
preparing the whole submission with them gives, while only what reads them is redone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from formflow.definitions.loader import load_app
from formflow.definitions.model import Field, Form
from formflow.errors import ValidationFailed
from formflow.records.compute import Context
from formflow.records.submission import Prepared, Preparer, Reach, reach
from formflow.records.values import ValueConverter
from support import AppWriter

JOB = """\
key: job
label: Job
title_field: title
fields:
  - {key: title, type: text, label: Title, required: true}
  - {key: stamp, type: text, label: Stamp}
  - {key: hours, type: number, label: Hours, min: 0}
  - {key: visits, type: number, label: Visits, min: 0}
  - {key: rate, type: money, label: Rate}
  - {key: cost, type: formula, label: Cost, result: money, expression: "(hours or 0) * (rate or 0)"}
  - {key: kind, type: text, label: Kind}
  - {key: reason, type: text, label: Reason, visible_if: "kind == 'dropped'", required_if: "kind == 'dropped'"}
  - {key: code, type: text, label: Code, default_expr: "title ~ '-1'"}
permissions: {}
"""

KIT = """\
key: kit
label: Kit
title_field: title
fields:
  - {key: title, type: text, label: Title}
  - {key: rate, type: money, label: Rate}
  - key: parts
    type: subtable
    label: Parts
    fields:
      - {key: name, type: text, label: Name}
      - {key: price, type: formula, label: Price, result: money, expression: "parent.rate or 0"}
permissions: {}
"""

CONTEXT = Context({"id": 1, "roles": []}, now=datetime(2026, 12, 5, 9, tzinfo=UTC))
STORED = {"id": 7, "version": 1, "created_at": CONTEXT.utc, "created_by": 1}


class CountingConverter(ValueConverter):
    """Counts the values it converts: the work a preparation does field by field."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def convert(self, field: Field, value: Any) -> Any:
        self.calls += 1
        return super().convert(field, value)


@pytest.fixture
def forms(write_app: AppWriter) -> dict[str, Form]:
    app = load_app(write_app(forms={"job": JOB, "kit": KIT}))
    return {key: app.form(key) for key in ("job", "kit")}


def outcome(work: Callable[[], Prepared]) -> tuple[Any, ...]:
    try:
        prepared = work()
    except ValidationFailed as failed:
        return ("refused", {key: [p.code for p in found] for key, found in failed.problems.items()})
    return ("stored", prepared.values, prepared.rows)


def both(
    form: Form,
    incoming: Mapping[str, Any],
    given: Mapping[str, Any],
    existing: Mapping[str, Any] | None = None,
) -> tuple[Reach, tuple[Any, ...], tuple[Any, ...]]:
    """How far ``given`` on top of ``incoming`` reaches, what working out again gives, and
    what preparing the whole submission with ``given`` gives."""
    preparer = Preparer(ValueConverter())
    first = preparer.prepare(form, incoming, CONTEXT, existing=existing)
    assert first.basis is not None
    how = reach(form, given, first.basis)
    again = outcome(lambda: preparer.again(form, first, given, CONTEXT))
    whole = outcome(lambda: preparer.prepare(form, {**incoming, **given}, CONTEXT, existing))
    return how, again, whole


WORKED = {"title": "A", "hours": "2", "rate": "10"}

CASES = [
    ("a field nothing reads", WORKED, {"stamp": "set"}, Reach.OWN),
    ("a field a formula reads", WORKED, {"rate": "30"}, Reach.SETTLE),
    ("a field a condition reads", {"title": "A"}, {"kind": "dropped"}, Reach.SETTLE),
    ("a condition met", {"title": "A", "reason": "late"}, {"kind": "dropped"}, Reach.SETTLE),
    ("a hidden field", {"title": "A", "kind": "open"}, {"reason": "late"}, Reach.OWN),
    ("a field a default reads", {"title": "A"}, {"title": "B"}, Reach.WHOLE),
    ("a default not taken", {"title": "A", "code": "C"}, {"title": "B"}, Reach.OWN),
    ("a needed field emptied", {"title": "A"}, {"title": "", "code": "C"}, Reach.OWN),
    ("a value that does not fit", {"title": "A"}, {"hours": "-1"}, Reach.SETTLE),
    ("a value nothing reads that does not fit", {"title": "A"}, {"visits": "-1"}, Reach.OWN),
    ("a worked-out field", {"title": "A"}, {"cost": "5"}, Reach.WHOLE),
    ("no such field", {"title": "A"}, {"nope": "1"}, Reach.WHOLE),
    ("a system field", {"title": "A"}, {"created_by": 2}, Reach.WHOLE),
]


@pytest.mark.parametrize(
    ("incoming", "given", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_new_record_worked_out_again_is_the_whole_preparation(
    forms: dict[str, Form], incoming: dict[str, Any], given: dict[str, Any], expected: Reach
) -> None:
    how, again, whole = both(forms["job"], incoming, given)
    assert how is expected
    assert again == whole


def test_the_values_set_are_worked_out_where_they_are_read(forms: dict[str, Form]) -> None:
    _how, (_, values, _rows), _whole = both(forms["job"], WORKED, {"rate": "30"})
    assert values["cost"] == Decimal("60.00")
    _how, (_, values, _rows), _whole = both(
        forms["job"], {"title": "A", "kind": "open"}, {"reason": "x"}
    )
    assert values["reason"] is None
    _how, refused, _whole = both(forms["job"], {"title": "A"}, {"title": "", "code": "C"})
    assert refused == ("refused", {"title": ["required"]})
    _how, refused, _whole = both(forms["job"], {"title": "A"}, {"kind": "dropped"})
    assert refused == ("refused", {"reason": ["required"]})


def test_an_update_worked_out_again_is_the_whole_preparation(forms: dict[str, Form]) -> None:
    existing = {**STORED, "title": "A", "hours": 2, "rate": Decimal("10.00"), "code": "A-1"}
    for given, expected in (({"rate": "5"}, Reach.SETTLE), ({"stamp": "s"}, Reach.OWN)):
        how, again, whole = both(forms["job"], {"hours": "3"}, given, existing)
        assert (how, again) == (expected, whole)
    assert again[1]["cost"] == Decimal("30.00")


def test_rows_that_read_the_record_are_worked_out_again(forms: dict[str, Form]) -> None:
    existing = {**STORED, "title": "K", "rate": Decimal("1.00")}
    rows = {"parts": [{"name": "bolt", "price": Decimal("1.00")}]}
    preparer = Preparer(ValueConverter())
    first = preparer.prepare(forms["kit"], {"title": "L"}, CONTEXT, existing, rows)
    assert first.basis is not None
    assert reach(forms["kit"], {"rate": "4"}, first.basis) is Reach.SETTLE
    again = preparer.again(forms["kit"], first, {"rate": "4"}, CONTEXT)
    assert again.rows == {"parts": [{"name": "bolt", "price": Decimal("4.00")}]}
    how, again_new, whole = both(forms["kit"], {"parts": [{"name": "nut"}]}, {"rate": "2"})
    assert (how, again_new) == (Reach.WHOLE, whole)


def test_a_field_nothing_reads_costs_its_own_conversion_only(forms: dict[str, Form]) -> None:
    converter = CountingConverter()
    preparer = Preparer(converter)
    first = preparer.prepare(forms["job"], WORKED, CONTEXT)
    assert converter.calls > 3
    converter.calls = 0
    again = preparer.again(forms["job"], first, {"stamp": "set"}, CONTEXT)
    assert (converter.calls, again.values["stamp"], again.values["cost"]) == (
        1,
        "set",
        Decimal("20.00"),
    )


def test_only_a_prepared_submission_is_worked_out_again(forms: dict[str, Form]) -> None:
    with pytest.raises(ValueError, match="only a prepared submission"):
        Preparer(ValueConverter()).again(forms["job"], Prepared({}, {}), {"stamp": "s"}, CONTEXT)
