"""A dashboard's figures count only what the viewer may read: a rep their own records, a
manager their department's, with the drill-down narrowed the same way by the list."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from shop import People
from sqlalchemy import Engine

from formflow.dashboards import DashboardService, ViewerFilters
from formflow.definitions import load_app
from formflow.definitions.model import Dimension, Label, Measure, Ratio, Widget
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.tables import AppSchema

BY_LEVEL = Widget(
    key="credit_by_level",
    type="bar",
    label=Label(zh="额度", en="Credit"),
    form="account",
    dimensions=(Dimension("level"),),
    measures=(Measure("sum", "credit"),),
)


@pytest.fixture
def accounts(service: RecordService, people: People) -> None:
    for name, actor, level, credit in (
        ("a1", people.alice, "A", "100.10"),
        ("a2", people.alice, "B", "5.00"),
        ("b1", people.bob, "A", "200.00"),
        ("w1", people.west, "A", "7.00"),
    ):
        service.create(actor, "account", {"name": name, "level": level, "credit": credit})


def _sums(service: RecordService, actor: Actor) -> dict[str, Decimal]:
    result = DashboardService(service).compute(actor, BY_LEVEL, ViewerFilters())
    assert result.problem is None
    return {group.keys[0]: group.values["sum_credit"] for group in result.groups}


def test_a_reps_chart_counts_only_the_reps_records(
    service: RecordService, people: People, accounts: None
) -> None:
    assert _sums(service, people.alice) == {"A": Decimal("100.10"), "B": Decimal("5.00")}


def test_a_managers_chart_counts_the_department_and_those_below(
    service: RecordService, people: People, accounts: None
) -> None:
    assert _sums(service, people.carol) == {"A": Decimal("307.10"), "B": Decimal("5.00")}


def test_a_number_widget_counts_within_the_viewers_scope(
    service: RecordService, people: People, accounts: None
) -> None:
    count = Widget(key="n", type="number", label=Label(en="n"), form="account")
    figures = DashboardService(service)
    assert figures.compute(people.bob, count, ViewerFilters()).value == 1
    assert figures.compute(people.admin, count, ViewerFilters()).value == 4


def test_a_drill_down_names_the_groups_filters(
    service: RecordService, people: People, accounts: None
) -> None:
    result = DashboardService(service).compute(people.alice, BY_LEVEL, ViewerFilters())
    assert [group.drill for group in result.groups] == [{"level": "A"}, {"level": "B"}]


DESK_DIR = Path(__file__).parent / "desk_app"


@pytest.fixture
def desk(engine: Engine, people: People) -> RecordService:
    schema = AppSchema(load_app(DESK_DIR))
    schema.metadata.create_all(engine)
    desk = RecordService(engine, schema)
    for actor, cost in ((people.alice, "10.00"), (people.bob, "20.00")):
        desk.create(
            replace(actor, roles=frozenset({"manager"})), "ticket", {"subject": "t", "cost": cost}
        )
    return desk


def cost_widget(kind: str, *dimensions: Dimension) -> Widget:
    return Widget(
        key="cost",
        type=kind,
        label=Label(en="Cost"),
        form="ticket",
        dimensions=dimensions,
        measures=(Measure("sum", "cost"),),
    )


@pytest.mark.parametrize("kind", ["number", "bar"])
def test_a_rep_gets_no_figure_of_a_field_hidden_from_them(
    desk: RecordService, people: People, kind: str
) -> None:
    rep = replace(people.alice, roles=frozenset({"staff"}))
    widget = cost_widget(kind, *([Dimension("status")] if kind == "bar" else []))
    result = DashboardService(desk).compute(rep, widget, ViewerFilters())
    assert (result.problem, result.value, result.groups) == (
        "unknown field 'cost' in form 'ticket'",
        None,
        [],
    )


def test_a_manager_gets_the_figure_of_the_field(desk: RecordService, people: People) -> None:
    manager = replace(people.carol, roles=frozenset({"manager"}))
    result = DashboardService(desk).compute(manager, cost_widget("number"), ViewerFilters())
    assert result.value == Decimal("30.00")


def test_grouping_by_a_hidden_field_is_refused_too(desk: RecordService, people: People) -> None:
    rep = replace(people.alice, roles=frozenset({"staff"}))
    widget = Widget(
        key="by_cost",
        type="bar",
        label=Label(en="c"),
        form="ticket",
        dimensions=(Dimension("cost"),),
    )
    assert DashboardService(desk).compute(rep, widget, ViewerFilters()).problem is not None


def test_a_linked_record_out_of_reach_does_not_name_a_group(
    service: RecordService, people: People
) -> None:
    account = service.create(people.alice, "account", {"name": "a", "level": "A"})
    service.create(people.alice, "person", {"account": account["id"], "name": "p"})
    service.update(
        people.admin,
        "account",
        account["id"],
        {"owner": people.bob.user_id},
        expected_version=account["version"],
    )
    by_level = Widget(
        key="people",
        type="bar",
        label=Label(en="People"),
        form="person",
        dimensions=(Dimension("account.level"),),
    )
    result = DashboardService(service).compute(people.alice, by_level, ViewerFilters())
    assert [(g.keys, g.values["count"]) for g in result.groups] == [((None,), 1)]


def test_a_reps_ratio_and_its_previous_period_count_only_the_reps_records(
    service: RecordService, people: People, accounts: None
) -> None:
    share_of_a = Widget(
        key="share",
        type="number",
        label=Label(en="Share of A"),
        form="account",
        date_field="created_at",
        period="year",
        ratio=Ratio(
            Measure("count", filter={"field": "level", "op": "eq", "value": "A"}),
            Measure("count"),
            percent=True,
        ),
    )
    figures = DashboardService(service)
    assert figures.compute(people.alice, share_of_a, ViewerFilters()).value == Decimal("50.00")
    assert figures.compute(people.admin, share_of_a, ViewerFilters()).value == Decimal("75.00")
    assert figures.compute(people.alice, share_of_a, ViewerFilters()).previous is None


def test_a_measure_filtering_by_a_field_hidden_from_the_rep_is_refused(
    desk: RecordService, people: People
) -> None:
    rep = replace(people.alice, roles=frozenset({"staff"}))
    dear = replace(
        cost_widget("number"),
        ratio=Ratio(
            Measure("count", filter={"field": "cost", "op": "gt", "value": 15}), Measure("count")
        ),
    )
    assert DashboardService(desk).compute(rep, dear, ViewerFilters()).problem == (
        "unknown field 'cost' in form 'ticket'"
    )


def test_a_linked_field_groups_while_a_filter_reads_the_same_link(
    service: RecordService, people: People
) -> None:
    for name, level in (("a", "A"), ("b", "B")):
        account = service.create(people.alice, "account", {"name": name, "level": level})
        for n in range(2 if level == "A" else 1):
            service.create(people.alice, "person", {"account": account["id"], "name": f"p{n}"})
    by_level = Widget(
        key="people",
        type="pivot",
        label=Label(en="People"),
        form="person",
        dimensions=(Dimension("account.level"), Dimension("name")),
        filter={"field": "account.level", "op": "in", "value": ["A", "B"]},
    )
    result = DashboardService(service).compute(people.alice, by_level, ViewerFilters())
    assert {g.keys: g.values["count"] for g in result.groups} == {
        ("A", "p0"): 1,
        ("A", "p1"): 1,
        ("B", "p0"): 1,
    }
    assert {g.keys: g.values["count"] for g in result.totals["rows"]} == {("A",): 2, ("B",): 1}
