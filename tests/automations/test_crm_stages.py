"""The CRM's stages to cash, as definitions: a stage sets its default win probability
unless the rep typed one, and records when it was entered; 14 idle days flag a deal; won
drafts a contract; payment plans add up to the contract amount; an overdue instalment warns
its owner."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rules_support import ZONE, Rules, build_rules
from sqlalchemy import Engine

from formflow import accounts
from formflow.errors import ValidationFailed
from formflow.notifications import Notifications
from formflow.records.access import Actor
from formflow.storage.database import write_transaction
from support import CRM_APP

START = datetime(2026, 3, 2, 10, 0, tzinfo=ZONE)


class Sales:
    def __init__(self, rules: Rules, rep: Actor) -> None:
        self.rules = rules
        self.rep = rep
        self.now = START
        rules.records.clock = lambda: self.now
        self.customer = rules.create("customer", {"name": "华信科技"}, rep)

    def tick(self, days: int) -> None:
        """Let the clock reach 09:00 ``days`` days after the start and run the timed rules."""
        day = START.date() + timedelta(days=days)
        self.now = datetime.combine(day, time(9), ZONE).astimezone(UTC)
        self.rules.automations.tick(self.now)

    def deal(self, **values: Any) -> dict[str, Any]:
        fields = {"name": "扩容项目", "customer": self.customer["id"], "amount": "50000"}
        fields["expected_close_date"] = "2026-06-30"
        return self.rules.create("opportunity", {**fields, **values}, self.rep)

    def move(self, record: dict[str, Any], **values: Any) -> dict[str, Any]:
        current = self.rules.get("opportunity", record["id"])
        self.rules.records.update(
            self.rep, "opportunity", record["id"], values, expected_version=current["version"]
        )
        return self.rules.get("opportunity", record["id"])

    def contract(self, amount: str = "100000") -> dict[str, Any]:
        values = {"name": "年度服务", "customer": self.customer["id"], "amount": amount}
        return self.rules.create("contract", values, self.rep)

    def plan(self, contract: dict[str, Any], number: int, amount: str, due: str) -> Any:
        values = {"contract": contract["id"], "instalment_no": number, "amount": amount}
        return self.rules.create("payment_plan", {**values, "due_date": due}, self.rep)

    def notices(self) -> list[str]:
        assert self.rep.user_id is not None
        with self.rules.engine.connect() as connection:
            told = Notifications(self.rules.engine).list_for(connection, self.rep.user_id)
        return [notification.text()[0] for notification in told]


@pytest.fixture
def sales(engine: Engine, password_hash: str) -> Sales:
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
        rep = accounts.actor_for(connection, user, "crm_sfa")
    return Sales(rules, rep)


@pytest.mark.parametrize(
    ("stage", "probability"),
    [("needs_analysis", 20), ("proposal", 50), ("negotiation", 80), ("lost", 0)],
)
def test_a_stage_change_sets_the_stage_default_probability(
    sales: Sales, stage: str, probability: int
) -> None:
    values = {"lost_reason": "price"} if stage == "lost" else {}
    moved = sales.move(sales.deal(), stage=stage, **values)
    assert moved["probability"] == probability


def test_a_probability_typed_with_the_stage_change_is_kept(sales: Sales) -> None:
    moved = sales.move(sales.deal(), stage="proposal", probability=35)
    assert moved["probability"] == 35


def test_a_stage_change_records_when_the_stage_was_entered(sales: Sales) -> None:
    deal = sales.deal()
    assert sales.rules.get("opportunity", deal["id"])["stage_changed_at"] == START
    sales.now = START + timedelta(days=3)
    assert sales.move(deal, stage="proposal")["stage_changed_at"] == sales.now


def test_a_new_stage_is_saved_once_with_its_probability_clock_and_weighted_amount(
    sales: Sales,
) -> None:
    deal = sales.deal()
    assert (deal["version"], deal["stage_changed_at"]) == (1, START)
    sales.now = START + timedelta(days=1)
    moved = sales.move(deal, stage="negotiation")
    assert (moved["version"], moved["probability"]) == (2, 80)
    assert (moved["stage_changed_at"], moved["weighted_amount"]) == (sales.now, Decimal("40000"))


def test_fourteen_idle_days_in_a_stage_flag_the_deal_and_tell_its_owner(sales: Sales) -> None:
    deal = sales.deal()
    sales.tick(13)
    assert sales.rules.get("opportunity", deal["id"])["stalled"] is False
    sales.tick(14)
    assert sales.rules.get("opportunity", deal["id"])["stalled"] is True
    assert sales.notices() == ["扩容项目：已在当前阶段停留 14 天"]


def test_the_next_stage_clears_the_idle_flag(sales: Sales) -> None:
    deal = sales.deal()
    sales.tick(14)
    assert sales.move(deal, stage="needs_analysis")["stalled"] is False


def test_a_closed_deal_is_never_flagged_idle(sales: Sales) -> None:
    deal = sales.deal(stage="lost", lost_reason="price")
    sales.tick(14)
    assert sales.rules.get("opportunity", deal["id"])["stalled"] is False


def test_winning_drafts_a_contract_prefilled_from_the_opportunity(sales: Sales) -> None:
    deal = sales.deal(stage="negotiation")
    won = sales.move(deal, stage="won")
    [contract] = sales.rules.records.find(sales.rep, "contract").rows
    assert (contract["name"], contract["status"], contract["amount"]) == (
        "扩容项目 合同",
        "draft",
        Decimal("50000"),
    )
    assert (contract["customer"], contract["opportunity"], contract["owner"]) == (
        sales.customer["id"],
        deal["id"],
        sales.rep.user_id,
    )
    assert won["actual_close_date"] is not None


def test_winning_takes_the_contract_amount_from_the_latest_quote(sales: Sales) -> None:
    deal = sales.deal(stage="negotiation")
    product = sales.rules.create(
        "product",
        {"code": "P-1", "name": "服务器", "category": "hardware", "list_price": "25000"},
    )
    line = {"product": product["id"], "qty": 2, "unit_price": "25000", "discount": 10}
    quote = {"opportunity": deal["id"], "customer": sales.customer["id"], "items": [line]}
    dates = {"quote_date": "2026-06-01", "valid_until": "2026-06-30"}
    sales.rules.create("quote", {**quote, **dates}, sales.rep)
    sales.move(deal, stage="won")
    [contract] = sales.rules.records.find(sales.rep, "contract").rows
    assert contract["amount"] == Decimal("45000")


def test_payment_plans_may_not_add_up_to_more_than_the_contract(sales: Sales) -> None:
    contract = sales.contract("100000")
    sales.plan(contract, 1, "60000", "2026-04-01")
    with pytest.raises(ValidationFailed) as refused:
        sales.plan(contract, 2, "50000", "2026-05-01")
    assert "amount" in refused.value.problems


def test_a_contract_leaves_draft_only_when_its_plans_add_up(sales: Sales) -> None:
    contract = sales.contract("100000")
    sales.plan(contract, 1, "60000", "2026-04-01")
    with pytest.raises(ValidationFailed):
        sales.rules.update("contract", contract["id"], {"status": "pending"})
    sales.plan(contract, 2, "40000", "2026-05-01")
    assert sales.rules.update("contract", contract["id"], {"status": "pending"})


def test_an_overdue_instalment_is_marked_and_warns_its_owner(sales: Sales) -> None:
    plan = sales.plan(sales.contract(), 1, "100000", "2026-03-05")
    sales.tick(3)
    assert sales.rules.get("payment_plan", plan["id"])["status"] == "pending"
    sales.tick(4)
    assert sales.rules.get("payment_plan", plan["id"])["status"] == "overdue"
    assert sales.notices() == [f"回款逾期：{plan['number']}"]
