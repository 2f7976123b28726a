"""An expression past the sandbox's budget refuses the write, next to the field it belongs to.

A formula that merely fails (an empty input) stays empty and a failing condition counts as
false; but values that make an expression too big to work out are the submitter's to change,
so they are reported like any other problem instead of storing an empty value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from formflow.definitions.loader import load_app
from formflow.definitions.model import Form
from formflow.errors import ValidationFailed
from formflow.records.compute import Context
from formflow.records.submission import Preparer
from formflow.records.values import ValueConverter
from support import AppWriter

FIELDS = """\
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: times, type: number, label: 次数}
  - {key: banner, type: formula, label: 横幅, result: text, expression: "name * times"}
  - {key: note, type: text, label: 备注, visible_if: "(name | center(times)) != ''"}
  - {key: code, type: text, label: 代码, default_expr: "'x' | center(times or 1)"}
  - key: lines
    type: subtable
    label: 明细
    fields:
      - {key: qty, type: number, label: 数量}
      - {key: label, type: formula, label: 标签, result: text, expression: "'-' * qty"}
permissions: {}
"""


@pytest.fixture
def form(write_app: AppWriter) -> Form:
    root: Path = write_app(forms={"item": FIELDS})
    return load_app(root).form("item")


def prepare(form: Form, values: dict[str, object]) -> dict[str, list[str]]:
    preparer = Preparer(ValueConverter())
    with pytest.raises(ValidationFailed) as caught:
        preparer.prepare(form, values, Context({"id": 1, "roles": []}))
    return {key: [p.code for p in found] for key, found in caught.value.problems.items()}


def test_a_formula_past_the_budget_is_a_problem_on_the_formula(form: Form) -> None:
    assert prepare(form, {"name": "ab", "times": 10**9, "code": "c"}) == {
        "banner": ["expression_limit"]
    }


def test_a_condition_past_the_budget_is_a_problem_on_its_field(form: Form) -> None:
    problems = prepare(form, {"name": "a", "times": 10**7, "code": "c"})
    assert problems == {"banner": ["expression_limit"]}
    assert prepare(form, {"name": "", "times": 10**7, "code": "c"}) == {
        "note": ["expression_limit"]
    }


def test_a_default_past_the_budget_is_a_problem_on_its_field(form: Form) -> None:
    assert prepare(form, {"times": 10**9}) == {"code": ["expression_limit"]}


def test_a_row_formula_past_the_budget_is_a_problem_on_the_row_cell(form: Form) -> None:
    problems = prepare(form, {"code": "c", "lines": [{"qty": 2}, {"qty": 10**9}]})
    assert problems == {"lines.1.label": ["expression_limit"]}


def test_the_problem_says_what_went_past_the_budget(form: Form) -> None:
    preparer = Preparer(ValueConverter())
    with pytest.raises(ValidationFailed) as caught:
        preparer.prepare(form, {"name": "ab", "times": 10**9, "code": "c"}, Context({"id": 1}))
    [problem] = caught.value.problems["banner"]
    assert problem.message == (
        "cannot be worked out with these values: 'name * times' is refused:"
        " it would build a value of more than 100,000 characters or items"
    )


def test_a_formula_that_merely_fails_is_a_failure_not_a_refusal(form: Form) -> None:
    preparer = Preparer(ValueConverter())
    with pytest.raises(ValidationFailed) as caught:
        preparer.prepare(form, {"name": "ab", "code": "c"}, Context({"id": 1}))
    assert [p.code for p in caught.value.problems["banner"]] == ["formula_failed"]
