"""Values as people type them and spreadsheets hold them: a date written year first with
slashes, dots or 年月日, an amount with its currency sign. Forms that can only be read one
way are taken; day-first and month-first dates, which cannot, are refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from formflow.definitions import load_app
from formflow.definitions.model import Field
from formflow.fields.values import Invalid, Purpose, convert_kind
from support import AppWriter

FORM = """\
key: item
label: 条目
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: due, type: date, label: 到期日}
  - {key: visited_at, type: datetime, label: 拜访时间}
  - {key: amount, type: money, label: 金额}
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""


@pytest.fixture
def fields(write_app: AppWriter) -> dict[str, Field]:
    form = load_app(write_app(forms={"item": FORM})).form("item")
    return {key: form.field(key) for key in ("due", "visited_at", "amount")}


@pytest.mark.parametrize("typed", ["2026/1/5", "2026/01/05", "2026.1.5", "2026-1-5"])
def test_a_date_written_year_first_with_any_separator_is_taken(
    fields: dict[str, Field], typed: str
) -> None:
    assert convert_kind(fields["due"], typed, Purpose.INPUT) == date(2026, 1, 5)


@pytest.mark.parametrize("typed", ["2026年1月5日", "2026年01月05日", "2026 年 1 月 5 日"])
def test_a_date_written_in_chinese_is_taken(fields: dict[str, Field], typed: str) -> None:
    assert convert_kind(fields["due"], typed, Purpose.INPUT) == date(2026, 1, 5)


@pytest.mark.parametrize("typed", ["05/01/2026", "1/5/2026", "2026/13/1", "2026/1-5"])
def test_a_date_that_can_be_read_two_ways_or_none_is_refused(
    fields: dict[str, Field], typed: str
) -> None:
    with pytest.raises(Invalid) as refused:
        convert_kind(fields["due"], typed, Purpose.INPUT)
    assert refused.value.problem.code == "type"


def test_a_date_and_time_written_year_first_is_read_in_the_instances_zone(
    fields: dict[str, Field],
) -> None:
    moment = convert_kind(fields["visited_at"], "2026年1月5日 9:30", Purpose.INPUT, UTC)
    assert moment == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def test_an_iso_date_and_time_with_a_t_is_still_taken(fields: dict[str, Field]) -> None:
    moment = convert_kind(fields["visited_at"], "2026-01-05T09:30", Purpose.INPUT, UTC)
    assert moment == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def test_a_filter_date_stays_written_the_iso_way(fields: dict[str, Field]) -> None:
    with pytest.raises(Invalid):
        convert_kind(fields["due"], "2026/1/5", Purpose.FILTER)


@pytest.mark.parametrize("typed", ["¥1,200.50", "￥1200.5", "1,200.50元", "$ 1200.50"])
def test_an_amount_with_its_currency_sign_is_taken(fields: dict[str, Field], typed: str) -> None:
    assert convert_kind(fields["amount"], typed, Purpose.INPUT) == Decimal("1200.50")


def test_a_negative_amount_keeps_its_sign_before_the_currency(fields: dict[str, Field]) -> None:
    assert convert_kind(fields["amount"], "-¥5", Purpose.INPUT) == Decimal("-5.00")


def test_a_stored_text_with_a_currency_sign_is_not_a_number(fields: dict[str, Field]) -> None:
    """A migration moves stored values exactly or not at all: the sign is part of the text."""
    with pytest.raises(Invalid):
        convert_kind(fields["amount"], "¥5", Purpose.STORED)
