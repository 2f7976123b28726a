"""A link's ``link_filter`` is enforced by the record service on SQLite and PostgreSQL: a
follow-up's opportunity must belong to the follow-up's customer, whoever writes it."""

from __future__ import annotations

from typing import Any

import pytest
from rules_support import Rules, build_rules
from sqlalchemy import Engine

from formflow import accounts
from formflow.errors import ValidationFailed
from formflow.records.access import Actor
from formflow.storage.database import write_transaction
from support import CRM_APP


@pytest.fixture
def rules(engine: Engine, password_hash: str) -> Rules:
    """The CRM with one sales rep, who writes every record (``rules.rep``)."""
    rules = build_rules(engine, CRM_APP)
    with write_transaction(engine) as connection:
        user_id = accounts.create_user(
            connection,
            "rep",
            None,
            password_hash=password_hash,
            department_id=None,
            roles={"crm_sfa": ["sales_rep"]},
        )
        user = accounts.get_user(connection, user_id)
        assert user is not None
        rules.rep = accounts.actor_for(connection, user, "crm_sfa")  # type: ignore[attr-defined]
    return rules


def rep(rules: Rules) -> Actor:
    found: Actor = rules.rep  # type: ignore[attr-defined]
    return found


def deal_of(rules: Rules, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    customer = rules.create("customer", {"name": name}, rep(rules))
    values = {"name": f"{name} 项目", "customer": customer["id"], "amount": "1000"}
    deal = {**values, "expected_close_date": "2026-06-30"}
    return customer, rules.create("opportunity", deal, rep(rules))


def follow_up(customer: dict[str, Any], deal: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer": customer["id"],
        "opportunity": deal["id"],
        "method": "phone",
        "content": "电话沟通",
    }


def test_an_opportunity_of_the_chosen_customer_is_kept(rules: Rules) -> None:
    customer, deal = deal_of(rules, "华信科技")
    kept = rules.create("follow_up", follow_up(customer, deal), rep(rules))
    assert kept["opportunity"] == deal["id"]


def test_an_opportunity_of_another_customer_is_refused(rules: Rules) -> None:
    customer, _deal = deal_of(rules, "华信科技")
    _other, elsewhere = deal_of(rules, "远东物流")
    with pytest.raises(ValidationFailed) as refused:
        rules.create("follow_up", follow_up(customer, elsewhere), rep(rules))
    assert [p.code for p in refused.value.problems["opportunity"]] == ["link_filter"]


def test_moving_the_record_to_another_customer_is_checked_too(rules: Rules) -> None:
    customer, deal = deal_of(rules, "华信科技")
    other, _elsewhere = deal_of(rules, "远东物流")
    kept = rules.create("follow_up", follow_up(customer, deal), rep(rules))
    with pytest.raises(ValidationFailed) as refused:
        rules.update("follow_up", kept["id"], {"customer": other["id"]})
    assert "opportunity" in refused.value.problems


def test_an_import_row_with_another_customers_opportunity_is_refused(rules: Rules) -> None:
    customer, deal = deal_of(rules, "华信科技")
    _other, elsewhere = deal_of(rules, "远东物流")
    rows = [follow_up(customer, deal), follow_up(customer, elsewhere)]
    batch = rules.records.create_many(rep(rules), "follow_up", rows)
    assert sorted(batch.created) == [0]
    assert [p.code for p in batch.problems[1]["opportunity"]] == ["link_filter"]


def test_a_follow_up_sent_with_its_opportunity_alone_takes_the_opportunitys_customer(
    rules: Rules,
) -> None:
    customer, deal = deal_of(rules, "华信科技")
    values = {"opportunity": deal["id"], "method": "phone", "content": "电话沟通"}
    kept = rules.create("follow_up", values, rep(rules))
    assert kept["customer"] == customer["id"]


def test_an_import_row_with_its_opportunity_alone_takes_the_opportunitys_customer(
    rules: Rules,
) -> None:
    customer, deal = deal_of(rules, "华信科技")
    row = {"opportunity": deal["id"], "method": "visit", "content": "上门拜访"}
    batch = rules.records.create_many(rep(rules), "follow_up", [row])
    assert batch.created[0]["customer"] == customer["id"]


def test_without_an_opportunity_the_customer_is_still_required(rules: Rules) -> None:
    with pytest.raises(ValidationFailed) as refused:
        rules.create("follow_up", {"method": "phone", "content": "电话沟通"}, rep(rules))
    assert [p.code for p in refused.value.problems["customer"]] == ["required"]
