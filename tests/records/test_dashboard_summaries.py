"""Summaries kept on write answer a dashboard exactly as its records do: after any mix of
creates, updates, deletes and restores, for an administrator, a manager and a rep, with
the viewer's owner, department, field and month filters, on SQLite and PostgreSQL; a view
right after a write shows the new figure; a rebuild from the records gives the same rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop import People
from sqlalchemy import Engine, select

from formflow.dashboards import DashboardService, ResultCache, ViewerFilters, WidgetResult
from formflow.dashboards.periods import Span
from formflow.definitions.model import (
    App,
    Dashboard,
    DashboardFilter,
    Dimension,
    Label,
    Measure,
    Ratio,
    Widget,
)
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import summary_rows
from formflow.storage.summaries import BUILT, rebuild_all
from formflow.storage.tables import AppSchema
from support import counting_statements

TODAY = date(2026, 1, 15)
LEVELS = ("A", "B", "C")


def _widget(key: str, kind: str, *dimensions: Dimension, **more: Any) -> Widget:
    return Widget(
        key=key, type=kind, label=Label(en=key), form="account", dimensions=dimensions, **more
    )


def _is(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"and": [{"field": field, "op": op, "value": value}]}


CREDIT = (Measure("sum", "credit"),)
WIDGETS = (
    _widget(
        "funnel",
        "funnel",
        Dimension("level"),
        measures=CREDIT,
        filter=_is("level", "in", ["A", "B"]),
    ),
    _widget(
        "months",
        "bar",
        Dimension("since", "month"),
        Dimension("level"),
        measures=(Measure("count"), *CREDIT),
        date_field="since",
    ),
    _widget(
        "ranking",
        "ranking",
        Dimension("owner"),
        measures=CREDIT,
        filter=_is("level", "eq", "A"),
        date_field="since",
    ),
    _widget("this_month", "number", measures=CREDIT, date_field="since", period="month"),
    _widget(
        "share_a",
        "number",
        ratio=Ratio(
            Measure("count", filter=_is("level", "eq", "A")), Measure("count"), percent=True
        ),
        date_field="since",
        period="quarter",
    ),
)
PEOPLE = Widget(key="people", type="number", label=Label(en="people"), form="person")
DASHBOARD = Dashboard(
    key="kept",
    label=Label(en="Kept"),
    widgets=(*WIDGETS, PEOPLE),
    filters=(
        DashboardFilter("date_range"),
        DashboardFilter("owner"),
        DashboardFilter("department"),
        DashboardFilter("field", "level"),
    ),
)
SLOW = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def kept(engine: Engine, shop_app: App) -> RecordService:
    """The shop with a dashboard whose widgets keep summaries."""
    app = replace(shop_app, dashboards={"kept": DASHBOARD})
    schema = AppSchema(app)
    schema.metadata.create_all(engine)
    return RecordService(engine, schema)


@dataclass(frozen=True)
class Write:
    kind: str  # create, update, delete or restore
    pick: int  # which earlier record (modulo how many there are)
    owner: str
    level: str | None
    credit: Decimal | None
    since: date | None


writes = st.lists(
    st.builds(
        Write,
        st.sampled_from(["create", "create", "update", "delete", "restore"]),
        st.integers(min_value=0, max_value=50),
        st.sampled_from(["alice", "bob", "west"]),
        st.sampled_from([*LEVELS, None]),
        st.one_of(st.none(), st.decimals(min_value=0, max_value=10**9, places=2)),
        st.one_of(
            st.none(),
            st.sampled_from([date(2025, 12, 31), date(2026, 1, 1), date(2026, 3, 31)]),
            st.dates(min_value=date(2025, 10, 1), max_value=date(2026, 4, 30)),
        ),
    ),
    min_size=1,
    max_size=14,
)


def _apply(service: RecordService, people: People, write: Write, made: list[int]) -> None:
    admin = people.admin
    owner = getattr(people, write.owner).user_id
    values = {"level": write.level, "credit": write.credit, "since": write.since, "owner": owner}
    if write.kind == "create" or not made:
        made.append(service.create(admin, "account", {"name": "x", **values})["id"])
        return
    record_id = made[write.pick % len(made)]
    current = service.stored("account", record_id)
    if write.kind == "update" and current is not None:
        service.update(admin, "account", record_id, values, expected_version=current["version"])
    elif write.kind == "delete" and current is not None:
        service.delete(admin, "account", record_id)
    elif write.kind == "restore" and current is None:
        service.restore(admin, "account", record_id)


def _figures(result: WidgetResult) -> Any:
    assert result.problem is None, result.problem
    groups = [(g.keys, g.values, g.drill) for g in result.groups]
    totals = {k: [(g.keys, g.values) for g in v] for k, v in result.totals.items()}
    return groups, totals, result.value, result.previous, result.change


def _viewers(people: People, kept: RecordService) -> list[ViewerFilters]:
    east = people.alice.department_id
    return [
        ViewerFilters(),
        ViewerFilters(owner=people.bob.user_id),
        ViewerFilters(department=east),
        ViewerFilters(fields={"level": "A"}),
        ViewerFilters(span=Span(date(2025, 12, 1), date(2026, 1, 31))),
        ViewerFilters(span=Span(date(2025, 12, 2), date(2026, 1, 31))),  # not whole months
    ]


def _same_as_live(kept: RecordService, people: People) -> None:
    summaries = DashboardService(kept, today=TODAY)
    live = DashboardService(kept, today=TODAY, summaries=False)
    for actor in (people.admin, people.carol, people.alice):
        for viewer in _viewers(people, kept):
            for widget in WIDGETS:
                expected = _figures(live.compute(actor, widget, viewer))
                assert _figures(summaries.compute(actor, widget, viewer)) == expected, (
                    widget.key,
                    viewer,
                    actor.user_id,
                )


@SLOW
@given(steps=writes)
def test_summaries_answer_as_the_records_do_after_any_writes(
    kept: RecordService, people: People, steps: list[Write]
) -> None:
    made: list[int] = []
    for step in steps:
        _apply(kept, people, step, made)
    _same_as_live(kept, people)


def test_the_common_widgets_are_answered_from_the_summaries(
    kept: RecordService, people: People, engine: Engine
) -> None:
    kept.create(people.admin, "account", {"name": "x", "level": "A", "credit": "5.00"})
    figures = DashboardService(kept, today=TODAY)
    for widget in WIDGETS:
        with counting_statements(engine) as statements:
            figures.compute(people.carol, widget, ViewerFilters())
        selects = [s for s in statements if s.startswith("SELECT")]
        assert selects, widget.key
        assert all("ff_summaries" in s for s in selects), widget.key


def test_a_range_of_days_that_is_not_whole_months_is_counted_from_the_records(
    kept: RecordService, people: People, engine: Engine
) -> None:
    days = ViewerFilters(span=Span(date(2026, 1, 2), date(2026, 1, 31)))
    with counting_statements(engine) as statements:
        DashboardService(kept, today=TODAY).compute(people.admin, WIDGETS[1], days)
    assert not any("ff_summaries" in s for s in statements)


def test_a_write_then_a_view_shows_the_new_figure(kept: RecordService, people: People) -> None:
    figures = DashboardService(kept, today=TODAY, cache=ResultCache(kept.engine))
    kept.create(people.alice, "account", {"name": "a", "level": "A", "credit": "10.10"})
    before = figures.compute(people.alice, WIDGETS[0], ViewerFilters())
    assert [(g.keys, g.values) for g in before.groups] == [
        (("A",), {"sum_credit": Decimal("10.10")})
    ]
    kept.create(people.alice, "account", {"name": "b", "level": "A", "credit": "0.01"})
    after = figures.compute(people.alice, WIDGETS[0], ViewerFilters())
    assert [(g.keys, g.values) for g in after.groups] == [
        (("A",), {"sum_credit": Decimal("10.11")})
    ]


def test_a_rep_sees_only_their_own_figures_from_the_summaries(
    kept: RecordService, people: People
) -> None:
    kept.create(people.alice, "account", {"name": "a", "level": "A", "credit": "1.00"})
    kept.create(people.bob, "account", {"name": "b", "level": "A", "credit": "2.00"})
    result = DashboardService(kept, today=TODAY).compute(people.alice, WIDGETS[0], ViewerFilters())
    assert [g.values["sum_credit"] for g in result.groups] == [Decimal("1.00")]


def test_sums_of_a_million_cents_stay_exact(kept: RecordService, people: People) -> None:
    items = [{"name": f"n{i}", "level": "B", "credit": "0.10"} for i in range(30)]
    items.append({"name": "big", "level": "B", "credit": "99999999999.99"})
    batch = kept.create_many(people.admin, "account", items)
    assert not batch.problems
    assert len(batch.created) == 31
    result = DashboardService(kept, today=TODAY).compute(people.admin, WIDGETS[0], ViewerFilters())
    assert [g.values["sum_credit"] for g in result.groups] == [Decimal("100000000002.99")]
    _same_as_live(kept, people)


def test_a_rebuild_from_the_records_gives_the_rows_the_writes_kept(
    kept: RecordService, people: People, engine: Engine
) -> None:
    made: list[int] = []
    for n, level in enumerate(["A", "B", "A", None, "C"]):
        made.append(
            kept.create(
                people.bob if n % 2 else people.alice,
                "account",
                {
                    "name": f"r{n}",
                    "level": level,
                    "credit": f"{n}.25",
                    "since": date(2026, 1, n + 1),
                },
            )["id"]
        )
    kept.delete(people.admin, "account", made[0])
    record = kept.stored("account", made[1])
    assert record is not None
    kept.update(
        people.admin, "account", made[1], {"level": "C"}, expected_version=record["version"]
    )

    def rows() -> list[tuple[Any, ...]]:
        columns = [c for c in summary_rows.c if c.name != "id"]
        with read_transaction(engine) as connection:
            counted = select(*columns).where(summary_rows.c.groups != BUILT)
            return sorted(tuple(r) for r in connection.execute(counted))

    kept_rows = rows()
    with write_transaction(engine) as connection:
        rebuild_all(connection, kept.schema)
    assert rows() == kept_rows


def test_a_person_moving_department_takes_their_figures_along(
    kept: RecordService, people: People
) -> None:
    kept.create(people.bob, "account", {"name": "b", "level": "A", "credit": "3.00"})
    west = people.west.department_id
    assert west is not None
    assert people.bob.user_id is not None
    kept.move_owner(people.bob.user_id, west)
    west_manager = Actor(people.carol.user_id, frozenset({"manager"}), west, frozenset({west}))
    figures = DashboardService(kept, today=TODAY)
    live = DashboardService(kept, today=TODAY, summaries=False)
    result = figures.compute(west_manager, WIDGETS[0], ViewerFilters())
    assert [g.values["sum_credit"] for g in result.groups] == [Decimal("3.00")]
    assert _figures(result) == _figures(live.compute(west_manager, WIDGETS[0], ViewerFilters()))


def test_records_deleted_by_a_cascade_leave_the_figures(
    kept: RecordService, people: People
) -> None:
    account = kept.create(people.admin, "account", {"name": "a"})
    for name in ("p", "q"):
        kept.create(people.admin, "person", {"name": name, "account": account["id"]})
    figures = DashboardService(kept, today=TODAY)
    assert figures.compute(people.admin, PEOPLE, ViewerFilters()).value == 2

    kept.delete(people.admin, "account", account["id"])

    with counting_statements(kept.engine) as statements:
        assert figures.compute(people.admin, PEOPLE, ViewerFilters()).value == 0
    assert any("ff_summaries" in s for s in statements)
    live = DashboardService(kept, today=TODAY, summaries=False)
    assert live.compute(people.admin, PEOPLE, ViewerFilters()).value == 0


def test_a_create_adds_to_every_summary_of_its_form_in_one_statement(
    kept: RecordService, people: People
) -> None:
    assert len(kept.summaries.kept["account"]) > 1
    with counting_statements(kept.engine) as statements:
        kept.create(people.alice, "account", {"name": "a", "level": "A", "credit": "1.00"})
    assert sum("INSERT INTO ff_summaries" in s for s in statements) == 1
    assert not any(s.startswith("DELETE FROM ff_summaries") for s in statements)


def test_a_move_between_groups_is_one_upsert_and_one_delete_of_the_emptied_rows(
    kept: RecordService, people: People
) -> None:
    made = kept.create(people.alice, "account", {"name": "a", "level": "A", "credit": "1.00"})
    with counting_statements(kept.engine) as statements:
        kept.update(
            people.alice, "account", made["id"], {"level": "B"}, expected_version=made["version"]
        )
    assert sum("INSERT INTO ff_summaries" in s for s in statements) == 1
    assert sum(s.startswith("DELETE FROM ff_summaries") for s in statements) == 1
    _same_as_live(kept, people)


def test_records_created_together_add_to_every_summary_in_one_statement(
    kept: RecordService, people: People
) -> None:
    items = [{"name": f"n{i}", "level": LEVELS[i % 3], "credit": "2.50"} for i in range(9)]
    with counting_statements(kept.engine) as statements:
        kept.create_many(people.alice, "account", items)
    assert sum("INSERT INTO ff_summaries" in s for s in statements) == 1
    _same_as_live(kept, people)
