"""The CRM-SFA app definition: it validates, and holds what the product brief asks for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from formflow.definitions import App, Field, load_app
from formflow.definitions.model import Label, OnDelete
from support import CRM_APP


@pytest.fixture(scope="module")
def crm() -> App:
    return load_app(CRM_APP)


REQUIRED_FIELDS = {
    "customer": {
        "name",
        "credit_code",
        "source",
        "level",
        "industry",
        "region",
        "address",
        "owner",
        "in_pool",
        "last_follow_up_at",
    },
    "contact": {"customer", "name", "title", "phone"},
    "follow_up": {"customer", "method", "content", "next_follow_up"},
    "opportunity": {
        "customer",
        "source",
        "rating",
        "stage",
        "amount",
        "expected_close_date",
        "probability",
        "owner",
    },
    "product": {"code", "name", "unit", "list_price"},
    "contract": {
        "number",
        "customer",
        "opportunity",
        "amount",
        "signed_date",
        "start_date",
        "end_date",
        "owner",
        "status",
    },
}


@pytest.mark.parametrize("form_key", sorted(REQUIRED_FIELDS))
def test_the_brief_s_forms_hold_their_key_fields(crm: App, form_key: str) -> None:
    keys = {field.key for field in crm.form(form_key).fields}
    assert REQUIRED_FIELDS[form_key] <= keys


def test_every_role_the_brief_names(crm: App) -> None:
    assert set(crm.role_keys) >= {"admin", "sales_rep", "sales_manager", "finance"}


def _labels(crm: App) -> Iterator[tuple[str, Label]]:
    for role in crm.roles:
        yield f"role {role.key}", role.label
    for form in crm.forms.values():
        yield f"form {form.key}", form.label
        for field in _all_fields(form.fields):
            yield f"{form.key}.{field.key}", field.label
            for option in field.options:
                yield f"{form.key}.{field.key}={option.value}", option.label


def _all_fields(fields: tuple[Field, ...]) -> Iterator[Field]:
    for field in fields:
        yield field
        yield from _all_fields(field.fields)


def test_every_label_is_in_chinese_and_english(crm: App) -> None:
    missing = [where for where, label in _labels(crm) if not (label.zh and label.en)]
    assert missing == []


def test_contracts_are_numbered_by_day(crm: App) -> None:
    assert crm.form("contract").field("number").number_pattern == "HT-{YYYY}{MM}{DD}-{####}"


def test_contacts_belong_to_a_customer_and_go_with_it(crm: App) -> None:
    link = crm.form("contact").field("customer")
    assert (link.target_form, link.on_delete) == ("customer", OnDelete.CASCADE)


def test_a_lost_opportunity_needs_a_reason(crm: App) -> None:
    lost_reason = crm.form("opportunity").field("lost_reason")
    assert lost_reason.required_if is not None
    assert lost_reason.required_if.evaluate({"stage": "lost"})
    assert not lost_reason.required_if.evaluate({"stage": "proposal"})


def test_a_rep_sees_only_their_own_customers(crm: App) -> None:
    assert crm.form("customer").permission("sales_rep").read == "own"
    assert crm.form("customer").owner_field == "owner"


def test_quote_totals_sum_their_lines(crm: App) -> None:
    quote = crm.form("quote")
    total = quote.field("total")
    items = next(f for f in quote.fields if f.type == "subtable")
    line_total = items.subfield("line_total")
    assert line_total.expression is not None
    assert total.expression is not None
    row = {"qty": 2, "unit_price": 100, "discount": 10}
    assert line_total.expression.evaluate(row) == pytest.approx(180)
    assert total.expression.evaluate({items.key: [{"line_total": 180}, {"line_total": 20}]}) == 200
