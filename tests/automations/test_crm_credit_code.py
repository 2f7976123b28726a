"""A CRM customer's unified social credit code is checked to its check digit (GB 32100-2015),
on SQLite and PostgreSQL: a code that only looks right is refused."""

from __future__ import annotations

import pytest
from rules_support import build_rules
from sqlalchemy import Engine

from formflow.errors import ValidationFailed
from support import CRM_APP


def test_a_credit_code_with_a_wrong_check_digit_is_refused(engine: Engine) -> None:
    rules = build_rules(engine, CRM_APP)
    with pytest.raises(ValidationFailed) as refused:
        rules.create("customer", {"name": "华信科技", "credit_code": "91110000600037341M"})
    assert [problem.code for problem in refused.value.problems["credit_code"]] == ["format"]


def test_a_credit_code_with_its_right_check_digit_is_kept(engine: Engine) -> None:
    rules = build_rules(engine, CRM_APP)
    kept = rules.create("customer", {"name": "华信科技", "credit_code": "91110000600037341L"})
    assert kept["credit_code"] == "91110000600037341L"
