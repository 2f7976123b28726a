"""Fields that share one condition each get its verdict (it is worked out once per pass)."""

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
key: invoice
label: {zh: 发票, en: Invoice}
title_field: title
fields:
  - {key: title, type: text, label: 抬头}
  - {key: kind, type: text, label: 类型}
  - {key: tax_number, type: text, label: 税号, required_if: "kind == 'special'"}
  - {key: bank, type: text, label: 银行, required_if: "kind == 'special'"}
  - {key: number, type: text, label: 号码, visible_if: "kind == 'issued'", required_if: "kind == 'issued'"}
  - {key: issued_on, type: date, label: 日期, visible_if: "kind == 'issued'"}
permissions: {}
"""


@pytest.fixture
def form(write_app: AppWriter) -> Form:
    root: Path = write_app(forms={"invoice": FIELDS})
    return load_app(root).form("invoice")


def problems(form: Form, values: dict[str, object]) -> dict[str, list[str]]:
    try:
        Preparer(ValueConverter()).prepare(form, values, Context({"id": 1, "roles": []}))
    except ValidationFailed as failed:
        return {key: [p.code for p in found] for key, found in failed.problems.items()}
    return {}


def stored(form: Form, values: dict[str, object]) -> dict[str, object]:
    prepared = Preparer(ValueConverter()).prepare(form, values, Context({"id": 1, "roles": []}))
    return prepared.values


def test_every_field_sharing_a_condition_is_required_when_it_holds(form: Form) -> None:
    assert problems(form, {"title": "Acme", "kind": "special"}) == {
        "tax_number": ["required"],
        "bank": ["required"],
    }


def test_no_field_sharing_a_condition_is_required_when_it_does_not_hold(form: Form) -> None:
    assert problems(form, {"title": "Acme", "kind": "general"}) == {}


def test_every_field_sharing_a_hiding_condition_is_cleared(form: Form) -> None:
    values = stored(form, {"kind": "general", "number": "8", "issued_on": "2026-12-01"})
    assert (values["number"], values["issued_on"]) == (None, None)
