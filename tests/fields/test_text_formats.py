"""A text field's ``format`` verifies a code's check digit, which no pattern can: a unified
social credit code with a wrong last character is refused, a right one kept."""

from __future__ import annotations

import pytest

from formflow.definitions import load_app
from formflow.definitions.model import Field
from formflow.errors import DefinitionErrors
from formflow.fields.values import Invalid
from support import AppWriter

FORM = """\
key: item
label: 条目
title_field: code
fields:
  - {key: code, type: text, label: 代码, format: %s}
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""

VALID_USCC = "91110000600037341L"


def code_field(write_app: AppWriter, name: str = "cn_uscc") -> Field:
    return load_app(write_app(forms={"item": FORM % name})).form("item").field("code")


def test_a_code_with_its_right_check_digit_is_kept(write_app: AppWriter) -> None:
    field = code_field(write_app)
    assert field.field_type.parse(field, VALID_USCC) == VALID_USCC


def test_a_code_with_a_wrong_check_digit_is_refused_as_a_format_problem(
    write_app: AppWriter,
) -> None:
    field = code_field(write_app)
    with pytest.raises(Invalid) as refused:
        field.field_type.parse(field, VALID_USCC[:-1] + "M")
    assert refused.value.problem.code == "format"


def test_an_unknown_format_is_reported_when_the_app_is_checked(write_app: AppWriter) -> None:
    with pytest.raises(DefinitionErrors):
        code_field(write_app, "zip_code")
