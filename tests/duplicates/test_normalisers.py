"""Normalisers: values people would call the same share one key."""

from __future__ import annotations

import pytest

from formflow.duplicates.normalisers import code, company_name, email, phone, text


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("华为技术有限公司", "华为技术"),
        ("华为技术股份有限公司", "华为 技术"),
        ("ＡＢＣ科技（深圳）有限公司", "abc科技(深圳)"),
        ("Acme Co., Ltd.", "ACME"),
        ("Acme Limited", "acme"),
        ("Acme, Inc.", "Acme"),
    ],
)
def test_company_names_that_differ_only_in_form_match(one: str, other: str) -> None:
    assert company_name(one) == company_name(other)


def test_different_companies_stay_apart() -> None:
    assert company_name("华为技术") != company_name("华为终端")
    assert company_name("Costco") == "costco"


def test_a_name_that_is_only_a_legal_form_keeps_a_key() -> None:
    assert company_name("有限公司")
    assert company_name(" ，。 ") is None


def test_phone_numbers_in_any_writing_meet_in_e164() -> None:
    assert phone("138 1234 5678") == phone("+86 13812345678") == "+8613812345678"
    assert phone("ext. 1234") is None
    assert phone("(000) 12-3456") == "000123456"


def test_email_and_text_and_code() -> None:
    assert email(" Zhang.San@Example.COM ") == "zhang.san@example.com"
    assert email("not an address") is None
    assert text("  Ａcme   Trading ") == "acme trading"
    assert code("9144 0300-ma5f") == "91440300MA5F"
