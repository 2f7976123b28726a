"""The CRM pool's timed rules with a controlled clock: a customer nobody follows up for 30
days, or nobody wins within 90, returns to the pool, its owner warned three days before;
won and locked customers stay; the previous owner then waits 7 days to claim it again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from rules_support import ZONE, Rules, build_rules
from sqlalchemy import Engine, event, select

from formflow import accounts
from formflow.errors import ValidationFailed
from formflow.record_actions.service import FormActions
from formflow.records.access import Actor
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import events, pool_cooldowns
from support import CRM_APP

START = datetime(2026, 3, 2, 10, 0, tzinfo=ZONE)
RETURN = "pool_return_no_follow_up"


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


def _sent(engine: Engine, action: Callable[[], object]) -> int:
    sent = [0]

    def count(*_args: Any) -> None:
        sent[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent[0]


def _return(sweep: Sweep, day: int) -> int:
    moment = at(START.date() + timedelta(days=day))
    sweep.now = moment
    return sweep.rules.automations.sweep("crm_sfa", RETURN, moment)


def test_a_sweep_returns_its_customers_as_record_by_record_runs_do(
    sweep: Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    batched = [sweep.customer(name=f"华信科技 {n}") for n in range(3)]
    sweep.now += timedelta(days=1)
    single = [sweep.customer(name=f"华信科技 {n + 3}") for n in range(3)]
    assert _return(sweep, 30) == 3
    monkeypatch.setattr("formflow.automations.batched.plan", lambda *_args: None)
    assert _return(sweep, 31) == 3

    def left(customers: list[dict[str, Any]]) -> list[Any]:
        by_record = {r.record_id: r for r in sweep.rules.runs(automation_key=RETURN)}
        with read_transaction(sweep.rules.engine) as connection:
            updates = connection.execute(
                select(events.c.record_id, events.c.data).where(events.c.kind == "updated")
            ).all()
            cooled = connection.execute(select(pool_cooldowns)).mappings().all()
        kept = ("owner", "previous_owner", "in_pool", "pool_return_reason", "pool_reason")
        return [
            (
                {k: v for k, v in sweep.get(c).items() if k in kept},
                sweep.get(c)["version"],
                [sorted(d["changes"]) for r, d in updates if r == c["id"]],
                by_record[c["id"]].status,
                [[c["fields"] for c in change["changed"]] for change in by_record[c["id"]].changes],
                [
                    (row["user_id"], row["until"].date())
                    for row in cooled
                    if row["record_id"] == c["id"]
                ],
            )
            for c in customers
        ]

    day_later = [
        (*state[:5], [(user, until - timedelta(days=1)) for user, until in state[5]])
        for state in left(single)
    ]
    assert left(batched) == day_later
    assert left(batched)[0][0]["owner"] is None
    assert left(batched)[0][5] == [(sweep.people["rep"].user_id, date(2026, 4, 8))]


def test_a_sweep_sends_fewer_statements_for_nine_customers_than_nine_times_those_for_one(
    sweep: Sweep,
) -> None:
    sweep.customer()
    sweep.now += timedelta(days=1)
    for n in range(9):
        sweep.customer(name=f"华信科技 {n}")
    engine = sweep.rules.engine
    for_one = _sent(engine, lambda: _return(sweep, 30))
    for_nine = _sent(engine, lambda: _return(sweep, 31))
    assert for_nine < 9 * for_one
