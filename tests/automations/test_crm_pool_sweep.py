"""The CRM pool's timed rules with a controlled clock: a customer nobody follows up for 30
days, or nobody wins within 90, returns to the pool, its owner warned three days before;
won and locked customers stay; the previous owner then waits 7 days to claim it again."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from rules_support import ZONE, Rules, build_rules
from sqlalchemy import Engine

from formflow import accounts
from formflow.errors import ValidationFailed
from formflow.record_actions.service import FormActions
from formflow.records.access import Actor
from formflow.storage.database import write_transaction
from support import CRM_APP

START = datetime(2026, 3, 2, 10, 0, tzinfo=ZONE)


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), ZONE).astimezone(UTC)


class Sweep:
    def __init__(self, rules: Rules, people: dict[str, Actor]) -> None:
        self.rules = rules
        self.people = people
        self.now = START
        rules.records.clock = lambda: self.now
        self.actions = FormActions(
            rules.records,
            actions=rules.automations.actions,
            expressions=rules.automations.expressions,
        )

    def day(self, number: int) -> int:
        """Let the clock reach 09:00 on day ``number`` after the start and tick."""
        moment = at(START.date() + timedelta(days=number))
        self.now = moment
        return self.rules.automations.tick(moment)

    def customer(self, **values: Any) -> dict[str, Any]:
        return self.rules.create("customer", {"name": "华信科技", **values}, self.people["rep"])

    def get(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.rules.get("customer", record["id"])


@pytest.fixture
def sweep(engine: Engine, password_hash: str) -> Sweep:
    rules = build_rules(engine, CRM_APP)
    people = {}
    with write_transaction(engine) as connection:
        for name in ("rep", "taker"):
            user_id = accounts.create_user(
                connection,
                name,
                None,
                password_hash=password_hash,
                department_id=None,
                roles={"crm_sfa": ["sales_rep"]},
            )
            user = accounts.get_user(connection, user_id)
            assert user is not None
            people[name] = accounts.actor_for(connection, user, "crm_sfa")
    return Sweep(rules, people)


def test_the_owner_is_warned_three_days_before_the_return(sweep: Sweep) -> None:
    customer = sweep.customer()
    sweep.day(27)
    warned = sweep.get(customer)
    assert (warned["pool_return_reason"], warned["pool_return_on"]) == (
        "no_follow_up",
        date(2026, 4, 1),
    )
    assert warned["owner"] == sweep.people["rep"].user_id


def test_thirty_days_without_a_follow_up_return_a_customer_to_the_pool(sweep: Sweep) -> None:
    customer = sweep.customer()
    sweep.day(30)
    returned = sweep.get(customer)
    assert (returned["owner"], returned["in_pool"], returned["pool_return_reason"]) == (
        None,
        True,
        "no_follow_up",
    )
    assert returned["previous_owner"] == sweep.people["rep"].user_id


def test_a_follow_up_keeps_the_customer(sweep: Sweep) -> None:
    customer = sweep.customer()
    sweep.now = datetime(2026, 3, 12, 15, 0, tzinfo=ZONE)
    sweep.rules.create(
        "follow_up",
        {"customer": customer["id"], "followed_at": sweep.now.isoformat(), "content": "电话"},
        sweep.people["rep"],
    )
    sweep.day(30)
    assert sweep.get(customer)["owner"] == sweep.people["rep"].user_id


@pytest.mark.parametrize("kept", [{"locked": True}, {"status": "deal"}])
def test_locked_and_won_customers_stay(sweep: Sweep, kept: dict[str, Any]) -> None:
    customer = sweep.customer(**kept)
    sweep.day(30)
    assert sweep.get(customer)["owner"] == sweep.people["rep"].user_id


def test_ninety_days_without_a_win_return_a_followed_customer(sweep: Sweep) -> None:
    customer = sweep.customer()
    sweep.now = datetime(2026, 5, 20, 15, 0, tzinfo=ZONE)  # day 79: the 30-day clock restarts
    sweep.rules.create(
        "follow_up",
        {"customer": customer["id"], "followed_at": sweep.now.isoformat(), "content": "拜访"},
        sweep.people["rep"],
    )
    sweep.day(87)
    assert sweep.get(customer)["pool_return_reason"] == "no_won_deal"
    sweep.day(90)
    returned = sweep.get(customer)
    assert (returned["owner"], returned["pool_return_reason"]) == (None, "no_won_deal")


def test_the_previous_owner_waits_seven_days_to_claim_it_again(sweep: Sweep) -> None:
    customer = sweep.customer()
    sweep.day(30)
    sweep.day(36)
    with pytest.raises(ValidationFailed, match="take it back"):
        sweep.actions.run(sweep.people["rep"], "customer", [customer["id"]], "claim")
    sweep.day(37)
    sweep.actions.run(sweep.people["rep"], "customer", [customer["id"]], "claim")
    assert sweep.get(customer)["owner"] == sweep.people["rep"].user_id


def test_someone_else_may_claim_it_at_once(sweep: Sweep) -> None:
    customer = sweep.customer()
    sweep.day(30)
    sweep.actions.run(sweep.people["taker"], "customer", [customer["id"]], "claim")
    claimed = sweep.get(customer)
    assert (claimed["owner"], claimed["in_pool"]) == (sweep.people["taker"].user_id, False)


def test_a_manager_previews_what_the_next_sweep_returns(sweep: Sweep) -> None:
    neglected = sweep.customer()
    sweep.customer(name="锁定客户", locked=True)
    day = START.date() + timedelta(days=30)
    found = sweep.rules.automations.preview("crm_sfa", "pool_return_no_follow_up", day)
    assert [record["id"] for record in found] == [neglected["id"]]
    assert sweep.get(neglected)["owner"] == sweep.people["rep"].user_id  # nothing changed
