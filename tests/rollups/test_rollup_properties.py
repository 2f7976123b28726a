"""Whatever writes happen, every roll-up and lookup equals what Python works out afresh."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formflow.records.access import Actor
from formflow.testing import Sandbox

AMOUNTS = st.none() | st.integers(0, 10**9).map(lambda cents: Decimal(cents).scaleb(-2))
DATES = st.none() | st.dates(date(2026, 1, 1), date(2026, 1, 10))
STAGES = st.sampled_from(["open", "won", "lost"])
DEAL_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "amount": AMOUNTS,
        "stage": STAGES,
        "close_date": DATES,
        "account": st.none() | st.integers(0, 2),
    },
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), DEAL_VALUES),
        st.tuples(st.just("update"), st.integers(0, 20), DEAL_VALUES),
        st.tuples(st.just("delete"), st.integers(0, 20)),
        st.tuples(st.just("restore"), st.integers(0, 20)),
        st.tuples(st.just("region"), st.integers(0, 2), st.sampled_from(["N", "S", None])),
    ),
    max_size=25,
)


@dataclass
class Model:
    """The deals as Python keeps them, to work the expected roll-ups out from."""

    accounts: list[int]
    deals: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)

    def live(self, account_id: int) -> list[tuple[int, dict[str, Any]]]:
        return [
            (deal_id, deal)
            for deal_id, deal in sorted(self.deals.items())
            if deal_id not in self.deleted and deal.get("account") == account_id
        ]

    def expected(self, account_id: int) -> dict[str, Any]:
        deals = self.live(account_id)
        amounts = [d["amount"] for _i, d in deals if d.get("amount") is not None]
        won = [d["amount"] for _i, d in deals if d.get("stage") == "won" and d.get("amount")]
        dates = [d["close_date"] for _i, d in deals if d.get("close_date") is not None]
        ordered = sorted(
            deals,
            key=lambda item: (
                item[1].get("close_date") is not None,
                item[1].get("close_date") or date.min,
                item[0],
            ),
        )
        return {
            "deal_count": len(deals),
            "won_total": sum(won, Decimal("0.00")),
            "largest": max(amounts, default=None),
            "first_close": min(dates, default=None),
            "latest_stage": ordered[-1][1].get("stage") if ordered else None,
        }


def apply(box: Sandbox, staff: Actor, model: Model, step: tuple[Any, ...]) -> None:
    records = box.records
    ids = sorted(model.deals)
    if step[0] == "create":
        values = _deal_values(model, step[1])
        created = records.create(staff, "deal", {"title": "Deal", **values})
        model.deals[created["id"]] = {"stage": "open", **values}
    elif step[0] == "region":
        account_id = model.accounts[step[1]]
        version = records.get(staff, "account", account_id)["version"]
        records.update(staff, "account", account_id, {"region": step[2]}, expected_version=version)
    elif ids:
        deal_id = ids[step[1] % len(ids)]
        if step[0] == "update" and deal_id not in model.deleted:
            values = _deal_values(model, step[2])
            version = records.get(staff, "deal", deal_id)["version"]
            records.update(staff, "deal", deal_id, values, expected_version=version)
            model.deals[deal_id].update(values)
        elif step[0] == "delete" and deal_id not in model.deleted:
            records.delete(staff, "deal", deal_id)
            model.deleted.add(deal_id)
        elif step[0] == "restore" and deal_id in model.deleted:
            records.restore(staff, "deal", deal_id)
            model.deleted.discard(deal_id)


def _deal_values(model: Model, drawn: dict[str, Any]) -> dict[str, Any]:
    values = dict(drawn)
    if values.get("account") is not None:
        values["account"] = model.accounts[values["account"]]
    return values


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_every_rollup_and_lookup_matches_python_after_random_writes(
    box: Sandbox, staff: Actor, steps: list[tuple[Any, ...]]
) -> None:
    # credit high enough that the credit rule never refuses a write
    accounts = [
        box.records.create(staff, "account", {"name": f"A{n}", "credit": "1000000000000"})["id"]
        for n in range(3)
    ]
    model = Model(accounts)
    for step in steps:
        apply(box, staff, model, step)
    for account_id in accounts:
        account = box.records.get(staff, "account", account_id)
        found = {key: account[key] for key in model.expected(account_id)}
        assert found == model.expected(account_id)
        assert account["headroom"] == Decimal("1000000000000") - found["won_total"]
        for deal_id, _deal in model.live(account_id):
            deal = box.records.get(staff, "deal", deal_id)
            assert deal["account_region"] == account["region"]
            assert deal["account_headroom"] == account["headroom"]
