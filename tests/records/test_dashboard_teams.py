"""The department filter, targets rolled up the department tree, the forecast and the age
dimension, each compared with what Python computes from the same accounts, on SQLite and
PostgreSQL. The shop's tree: Sales (carol) above East (alice, bob) and West (wendy)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop import People

from formflow.dashboards import DashboardService, ViewerFilters, WidgetResult
from formflow.dashboards.service import held_by
from formflow.definitions.model import (
    Dimension,
    ForecastSource,
    Label,
    Measure,
    TargetSource,
    Widget,
)
from formflow.records import Actor
from formflow.records.service import RecordService

TODAY = date(2026, 3, 1)
_runs = itertools.count()
SLOW = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
CREDIT = (Measure("sum", "credit"),)


def widget(kind: str, *dimensions: Dimension, **more: Any) -> Widget:
    return Widget(
        key="w", type=kind, label=Label(en="w"), form="account", dimensions=dimensions, **more
    )


def compute(
    service: RecordService, actor: Actor, shown: Widget, viewer: ViewerFilters | None = None
) -> WidgetResult:
    result = DashboardService(service, today=TODAY).compute(actor, shown, viewer or ViewerFilters())
    assert result.problem is None
    return result


def figures(result: WidgetResult, name: str) -> dict[Any, Any]:
    return {g.keys[0]: g.values[name] for g in result.groups}


def department(actor: Actor) -> int:
    assert actor.department_id is not None
    return actor.department_id


def user(actor: Actor) -> int:
    assert actor.user_id is not None
    return actor.user_id


def seed(service: RecordService, people: People) -> dict[str, Decimal]:
    """Each person's credit total; each has one or two accounts."""
    credits = {
        "alice": [Decimal("10.10"), Decimal("5.00")],
        "bob": [Decimal("20.00")],
        "carol": [Decimal("1.01")],
        "west": [Decimal("300.00"), Decimal("0.99")],
    }
    for name, amounts in credits.items():
        for n, amount in enumerate(amounts):
            owner: Actor = getattr(people, name)
            values = {"name": f"{name}{n}", "credit": amount, "level": "A"}
            service.create(owner, "account", values)
    return {name: sum(amounts, Decimal(0)) for name, amounts in credits.items()}


def test_a_department_counts_its_people_and_those_below(
    service: RecordService, people: People
) -> None:
    totals = seed(service, people)
    bar = widget("bar", Dimension("level"), measures=CREDIT)
    east = compute(service, people.admin, bar, ViewerFilters(department=department(people.alice)))
    assert figures(east, "sum_credit") == {"A": totals["alice"] + totals["bob"]}
    drilled = east.groups[0].drill
    assert drilled is not None
    assert sorted(str(drilled["owner"]).split(",")) == sorted(
        str(user(p)) for p in (people.alice, people.bob)
    )
    sales = compute(service, people.admin, bar, ViewerFilters(department=department(people.carol)))
    assert figures(sales, "sum_credit") == {"A": sum(totals.values(), Decimal(0))}


def test_a_department_filter_stays_within_what_the_viewer_may_read(
    service: RecordService, people: People
) -> None:
    totals = seed(service, people)
    bar = widget("bar", Dimension("level"), measures=CREDIT)
    everyone = ViewerFilters(department=department(people.carol))
    assert figures(compute(service, people.alice, bar, everyone), "sum_credit") == {
        "A": totals["alice"]
    }
    west = ViewerFilters(department=department(people.west))
    assert figures(compute(service, people.alice, bar, west), "sum_credit") == {}


def test_targets_roll_up_the_department_tree(service: RecordService, people: People) -> None:
    totals = seed(service, people)
    source = TargetSource("account", Measure("count"), "owner", rollup="department")
    shown = widget("target", Dimension("owner"), measures=CREDIT, target=source)
    result = compute(service, people.admin, shown)
    sales, east, west = (department(p) for p in (people.carol, people.alice, people.west))
    assert [g.keys[0] for g in result.groups] == [sales, *sorted((east, west))]
    assert figures(result, "sum_credit") == {
        sales: sum(totals.values(), Decimal(0)),
        east: totals["alice"] + totals["bob"],
        west: totals["west"],
    }
    assert figures(result, "target") == {sales: 6, east: 3, west: 2}
    assert figures(result, "attainment")[west] == (totals["west"] / 2 * 100).quantize(
        Decimal("0.01")
    )
    chosen = compute(service, people.admin, shown, ViewerFilters(department=east))
    assert figures(chosen, "target") == {east: 3}


def test_a_manager_sees_the_teams_below_and_no_more(service: RecordService, people: People) -> None:
    totals = seed(service, people)
    source = TargetSource("account", Measure("count"), "owner", rollup="department")
    shown = widget("target", Dimension("owner"), measures=CREDIT, target=source)
    east = department(people.alice)
    result = compute(service, people.alice, shown, ViewerFilters(department=east))
    assert figures(result, "sum_credit") == {east: totals["alice"]}
    assert figures(result, "target") == {east: 2}


@dataclass(frozen=True)
class Deal:
    credit: Decimal | None
    score: int | None
    since: date | None
    level: str


deals = st.lists(
    st.builds(
        Deal,
        st.one_of(st.none(), st.decimals(min_value=0, max_value=10**7, places=2)),
        st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
        st.one_of(
            st.none(),
            st.sampled_from([date(2025, 12, 31), date(2026, 1, 1), date(2026, 2, 28)]),
            st.dates(min_value=date(2025, 10, 1), max_value=date(2026, 5, 1)),
        ),
        st.sampled_from(["A", "B"]),
    ),
    min_size=1,
    max_size=10,
)


def store(service: RecordService, people: People, rows: list[Deal]) -> dict[str, Any]:
    """The rows under a prefix of their own; the filter that finds just them."""
    prefix = f"deal{next(_runs)}-"
    for n, row in enumerate(rows):
        values = {"name": f"{prefix}{n}", "credit": row.credit, "score": row.score}
        service.create(people.alice, "account", values | {"since": row.since, "level": row.level})
    return {"field": "name", "op": "starts_with", "value": prefix}


@SLOW
@given(rows=deals)
def test_a_forecast_weighs_each_period_and_sets_won_beside_it(
    service: RecordService, people: People, rows: list[Deal]
) -> None:
    mine = store(service, people, rows)
    won = {"and": [mine, {"field": "level", "op": "eq", "value": "A"}]}
    shown = widget(
        "forecast",
        Dimension("since", "month"),
        measures=CREDIT,
        filter={"and": [mine]},
        forecast=ForecastSource("score", won, "since"),
    )
    result = compute(service, people.admin, shown)
    weighted: dict[str, Decimal] = {}
    pipeline: dict[Any, Decimal | None] = {}
    closed: dict[str | None, Decimal] = {}
    for row in rows:
        month = row.since.strftime("%Y-%m") if row.since else None
        if row.credit is not None:
            pipeline[month] = (pipeline.get(month) or Decimal(0)) + row.credit
            if row.score is not None:
                share = row.credit * row.score / 100
                weighted[month] = weighted.get(month, Decimal(0)) + share
            if row.level == "A":
                closed[month] = closed.get(month, Decimal(0)) + row.credit
        else:
            pipeline.setdefault(month, None)
    assert {k: v for k, v in figures(result, "weighted").items() if v is not None} == {
        k: v.quantize(Decimal("0.01")) for k, v in weighted.items()
    }
    assert {k: v for k, v in figures(result, "pipeline").items() if k in pipeline} == pipeline
    assert {k: v for k, v in figures(result, "won").items() if v is not None} == closed


@SLOW
@given(rows=deals)
def test_ages_fall_in_their_ranges(
    service: RecordService, people: People, rows: list[Deal]
) -> None:
    mine = store(service, people, rows)
    shown = widget("bar", Dimension("since", age=(30, 60, 90)), filter={"and": [mine]})
    result = compute(service, people.admin, shown)

    def label(days: int) -> str | None:
        if days < 0:
            return None
        for start, end in ((0, 30), (31, 60), (61, 90)):
            if start <= days <= end:
                return f"{start}-{end}"
        return "90+"

    expected: dict[str, int] = {}
    for row in rows:
        found = label((TODAY - row.since).days) if row.since else None
        if found is not None:
            expected[found] = expected.get(found, 0) + 1
    order = ["0-30", "31-60", "61-90", "90+"]  # every range shows, an empty one as 0
    assert figures(result, "count") == {k: expected.get(k, 0) for k in order}
    assert [g.keys[0] for g in result.groups] == order
    for group in result.groups:  # each range drills down to exactly its days
        assert group.drill is not None
        first, last = group.drill["since"]
        inside = [r for r in rows if r.since and first <= r.since.isoformat() <= last]
        assert len(inside) == group.values["count"]


def test_the_oldest_range_reaches_back_and_today_is_young(
    service: RecordService, people: People
) -> None:
    rows = [Deal(None, None, TODAY, "A"), Deal(None, None, TODAY - timedelta(days=4000), "A")]
    rows.append(Deal(None, None, TODAY + timedelta(days=1), "A"))
    mine = store(service, people, rows)
    shown = widget("bar", Dimension("since", age=(30, 60, 90)), filter={"and": [mine]})
    assert figures(compute(service, people.admin, shown), "count") == {
        "0-30": 1,
        "31-60": 0,
        "61-90": 0,
        "90+": 1,
    }


def test_a_viewer_starts_at_their_own_department(service: RecordService, people: People) -> None:
    seed(service, people)
    source = TargetSource("account", Measure("count"), "owner", rollup="department")
    shown = widget("target", Dimension("owner"), measures=CREDIT, target=source)
    result = compute(service, people.carol, shown)
    sales, east, west = (department(p) for p in (people.carol, people.alice, people.west))
    assert [g.keys[0] for g in result.groups] == [sales, *sorted((east, west))]
    assert figures(result, "target") == {sales: 6, east: 3, west: 2}


def test_a_department_narrows_a_targets_people_too(service: RecordService, people: People) -> None:
    totals = seed(service, people)
    source = TargetSource("account", Measure("count"), "owner")
    shown = widget("target", Dimension("owner"), measures=CREDIT, target=source)
    east = ViewerFilters(department=department(people.alice))
    result = compute(service, people.admin, shown, east)
    alice, bob = user(people.alice), user(people.bob)
    assert figures(result, "sum_credit") == {alice: totals["alice"], bob: totals["bob"]}
    assert figures(result, "target") == {alice: 2, bob: 1}


def test_a_large_department_is_asked_for_in_parts() -> None:
    found = held_by("owner", frozenset(range(1, 2502)))
    assert [len(part["value"]) for part in found["or"]] == [1000, 1000, 501]
    assert held_by("owner", frozenset()) == {"field": "id", "op": "eq", "value": 0}


def test_a_forecasts_won_bar_drills_into_what_was_won(
    service: RecordService, people: People
) -> None:
    rows = [
        Deal(Decimal("5.00"), 50, date(2026, 1, 10), "A"),
        Deal(Decimal("7.00"), 20, date(2026, 1, 20), "B"),
    ]
    mine = store(service, people, rows)
    level = {"field": "level", "op": "eq", "value": "B"}
    won = {"and": [mine, {"field": "level", "op": "eq", "value": "A"}]}
    shown = widget(
        "forecast",
        Dimension("since", "month"),
        measures=CREDIT,
        filter={"and": [mine, level]},
        forecast=ForecastSource("score", won, "since"),
    )
    [january] = compute(service, people.admin, shown).groups
    month = ("2026-01-01", "2026-01-31")
    assert january.drill == {"level": "B", "since": month}
    assert january.drills["won"] == {"level": "A", "since": month}
    assert (january.values["pipeline"], january.values["won"]) == (Decimal("7.00"), Decimal("5.00"))


def test_records_without_an_owner_count_for_no_department(
    service: RecordService, people: People
) -> None:
    totals = seed(service, people)
    service.create(
        people.admin, "account", {"name": "pool", "credit": Decimal("9.00"), "owner": None}
    )
    bar = widget("bar", Dimension("level"), measures=CREDIT)
    sales = department(people.carol)
    whole = compute(service, people.admin, bar, ViewerFilters(department=sales))
    assert figures(whole, "sum_credit") == {"A": sum(totals.values(), Decimal(0))}
    source = TargetSource("account", Measure("count"), "owner", rollup="department")
    rolled = widget("target", Dimension("owner"), measures=CREDIT, target=source)
    result = compute(service, people.admin, rolled)
    assert figures(result, "sum_credit")[sales] == sum(totals.values(), Decimal(0))
    assert figures(result, "target")[sales] == 6
