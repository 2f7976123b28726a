"""How values are shown: money written as Babel writes it, however it is formatted."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import format_currency
from flask import Flask

from formflow.definitions import load_app
from formflow.web.display import Displayer, money
from support import CRM_APP

AMOUNTS = ["0", "1", "-1", "0.005", "0.015", "-0.5", "12.3", "999.999", "1234567.895"]


@pytest.mark.parametrize("locale", ["zh", "zh_Hans_CN", "en", "en_US"])
@pytest.mark.parametrize("currency", ["CNY", "USD", "JPY", "EUR"])
def test_money_is_written_as_babel_writes_it(locale: str, currency: str) -> None:
    parsed = Locale.parse(locale)
    for amount in map(Decimal, AMOUNTS):
        assert money(amount, currency, parsed) == format_currency(amount, currency, locale=parsed)


def test_money_in_a_locale_with_other_grouping_is_left_to_babel() -> None:
    indian = Locale.parse("en_IN")
    amount = Decimal("1234567.5")
    assert money(amount, "INR", indian) == format_currency(amount, "INR", locale=indian)


def test_a_year_is_written_without_a_thousands_separator(app: Flask) -> None:
    crm = load_app(CRM_APP)
    target = crm.form("sales_target")
    with app.test_request_context():
        shower = Displayer(crm)
        assert shower.show(target.field("year"), 2026).text == "2026"
        assert shower.show(target.field("new_customer_target"), 12000).text == "12,000"
