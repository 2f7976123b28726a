"""Every widget kind's figures equal what Python computes from the same generated accounts,
on SQLite and PostgreSQL: categories, time buckets across month and year ends, series,
pivot totals, funnel conversions, rankings, ratios, targets, calendars and tables."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shop import People

from formflow.dashboards import DashboardService, ViewerFilters, WidgetResult
from formflow.dashboards.periods import Span
from formflow.definitions.model import (
    Dimension,
    Label,
    Measure,
    Ratio,
    TargetSource,
    Widget,
)
from formflow.records.service import RecordService

TODAY = date(2026, 1, 15)
_runs = itertools.count()
SLOW = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass(frozen=True)
class Account:
    level: str | None
    credit: Decimal | None
    since: date | None
    by_bob: bool


accounts = st.lists(
    st.builds(
        Account,
        st.sampled_from(["A", "B", "C", None]),
        st.one_of(st.none(), st.decimals(min_value=0, max_value=10**8, places=2)),
        st.one_of(
            st.none(),
            st.sampled_from([date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 31)]),
            st.dates(min_value=date(2025, 11, 1), max_value=date(2026, 3, 1)),
        ),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


class Lab:
    """Stores one example's accounts under a name of their own, and computes widgets
    over just them."""

    def __init__(self, service: RecordService, people: People, rows: list[Account]) -> None:
        self.service, self.people, self.rows = service, people, rows
        self.prefix = f"run{next(_runs)}-"
        for n, row in enumerate(rows):
            values: dict[str, Any] = {"name": f"{self.prefix}{n}", "level": row.level}
            values |= {"credit": row.credit, "since": row.since}
            service.create(people.bob if row.by_bob else people.alice, "account", values)

    def compute(self, widget: Widget, viewer: ViewerFilters | None = None) -> WidgetResult:
        mine = {"and": [{"field": "name", "op": "starts_with", "value": self.prefix}]}
        widget = Widget(**{**widget.__dict__, "filter": mine})
        figures = DashboardService(self.service, today=TODAY)
        result = figures.compute(self.people.admin, widget, viewer or ViewerFilters())
        assert result.problem is None
        return result

    def owner(self, row: Account) -> int:
        user = (self.people.bob if row.by_bob else self.people.alice).user_id
        assert user is not None
        return user


def widget(kind: str, *dimensions: Dimension, **more: Any) -> Widget:
    return Widget(
        key="w", type=kind, label=Label(en="w"), form="account", dimensions=dimensions, **more
    )


CREDIT = (Measure("sum", "credit"),)


def sums(pairs: list[tuple[Any, Decimal | None]]) -> dict[Any, Decimal | None]:
    found: dict[Any, Decimal | None] = {}
    for key, value in pairs:
        if value is not None:
            found[key] = (found.get(key) or Decimal(0)) + value
        else:
            found.setdefault(key, None)
    return found


def by_group(result: WidgetResult, name: str) -> dict[Any, Any]:
    return {g.keys if len(g.keys) > 1 else g.keys[0]: g.values[name] for g in result.groups}


@SLOW
@given(rows=accounts, kind=st.sampled_from(["bar", "pie", "donut", "line", "area"]))
def test_a_chart_by_category_sums_each_category(
    service: RecordService, people: People, rows: list[Account], kind: str
) -> None:
    lab = Lab(service, people, rows)
    result = lab.compute(widget(kind, Dimension("level"), measures=CREDIT))
    assert by_group(result, "sum_credit") == sums([(r.level, r.credit) for r in rows])


@SLOW
@given(rows=accounts, bucket=st.sampled_from(["day", "week", "month", "quarter", "year"]))
def test_a_chart_by_time_bucket_counts_each_bucket(
    service: RecordService, people: People, rows: list[Account], bucket: str
) -> None:
    lab = Lab(service, people, rows)
    result = lab.compute(widget("line", Dimension("since", bucket)))
    labels = {
        "day": lambda d: d.isoformat(),
        "week": lambda d: f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}",
        "month": lambda d: d.strftime("%Y-%m"),
        "quarter": lambda d: f"{d.year}-Q{(d.month - 1) // 3 + 1}",
        "year": lambda d: str(d.year),
    }[bucket]
    expected = Counter(labels(r.since) if r.since else None for r in rows)
    assert by_group(result, "count") == dict(expected)
    for group in result.groups:  # each bucket drills down to exactly its days
        if group.keys[0] is not None:
            assert group.drill is not None
            first, last = group.drill["since"]
            inside = [r for r in rows if r.since and first <= r.since.isoformat() <= last]
            assert len(inside) == group.values["count"]


@SLOW
@given(rows=accounts)
def test_stacked_series_and_a_pivot_with_totals(
    service: RecordService, people: People, rows: list[Account]
) -> None:
    lab = Lab(service, people, rows)
    result = lab.compute(widget("pivot", Dimension("level"), Dimension("owner"), measures=CREDIT))
    assert by_group(result, "sum_credit") == sums(
        [((r.level, lab.owner(r)), r.credit) for r in rows]
    )
    totals = {
        part: {g.keys: g.values["sum_credit"] for g in groups}
        for part, groups in result.totals.items()
    }
    assert totals["rows"] == {(k,): v for k, v in sums([(r.level, r.credit) for r in rows]).items()}
    assert totals["columns"] == {
        (k,): v for k, v in sums([(lab.owner(r), r.credit) for r in rows]).items()
    }
    assert totals["all"] == {(): sums([((), r.credit) for r in rows])[()]}


@SLOW
@given(rows=accounts)
def test_a_funnel_follows_the_options_order(
    service: RecordService, people: People, rows: list[Account]
) -> None:
    lab = Lab(service, people, rows)
    result = lab.compute(widget("funnel", Dimension("level")))
    order = [g.keys[0] for g in result.groups]
    present = [level for level in ("A", "B", "C") if any(r.level == level for r in rows)]
    assert order[: len(present)] == present


@SLOW
@given(rows=accounts, limit=st.integers(min_value=1, max_value=3))
def test_a_ranking_keeps_the_largest(
    service: RecordService, people: People, rows: list[Account], limit: int
) -> None:
    lab = Lab(service, people, rows)
    result = lab.compute(widget("ranking", Dimension("level"), measures=CREDIT, limit=limit))
    expected = sums([(r.level, r.credit) for r in rows])
    ranked = sorted((v for v in expected.values() if v is not None), reverse=True)[:limit]
    shown = [g.values["sum_credit"] for g in result.groups if g.values["sum_credit"] is not None]
    assert shown == ranked[: len(shown)]
    assert len(result.groups) == min(limit, len(expected))


@SLOW
@given(rows=accounts)
def test_a_ratio_and_a_median(service: RecordService, people: People, rows: list[Account]) -> None:
    lab = Lab(service, people, rows)
    average = Ratio(Measure("sum", "credit"), Measure("count", "credit"))
    result = lab.compute(widget("number", ratio=average))
    credits = [r.credit for r in rows if r.credit is not None]
    expected = (sum(credits) / len(credits)).quantize(Decimal("0.01")) if credits else None
    assert result.value == expected
    median = lab.compute(widget("number", measures=(Measure("median", "credit"),)))
    assert median.value == (
        Decimal(statistics.median(credits)).quantize(Decimal("0.0001")) if credits else None
    )


@SLOW
@given(rows=accounts, period=st.sampled_from(["month", "quarter", "year"]))
def test_a_number_compares_with_the_previous_period(
    service: RecordService, people: People, rows: list[Account], period: str
) -> None:
    lab = Lab(service, people, rows)
    result = lab.compute(widget("number", date_field="since", period=period))
    spans = {
        "month": ((date(2026, 1, 1), date(2026, 1, 31)), (date(2025, 12, 1), date(2025, 12, 31))),
        "quarter": ((date(2026, 1, 1), date(2026, 3, 31)), (date(2025, 10, 1), date(2025, 12, 31))),
        "year": ((date(2026, 1, 1), date(2026, 12, 31)), (date(2025, 1, 1), date(2025, 12, 31))),
    }[period]
    now, then = (sum(1 for r in rows if r.since and a <= r.since <= b) for a, b in spans)
    assert (result.value, result.previous) == (now, then)
    if then:
        assert result.change == (Decimal(now - then) / then * 100).quantize(Decimal("0.1"))


@SLOW
@given(rows=accounts)
def test_target_against_actual_per_owner(
    service: RecordService, people: People, rows: list[Account]
) -> None:
    lab = Lab(service, people, rows)
    source = TargetSource("account", Measure("count"), "owner")
    result = lab.compute(widget("target", Dimension("owner"), measures=CREDIT, target=source))
    actual = sums([(lab.owner(r), r.credit) for r in rows])
    shown = by_group(result, "sum_credit")
    assert {owner: shown[owner] for owner in actual} == actual
    # the targets are not narrowed by the widget's filter: every account of the owner counts
    assert all(group.values["target"] is not None for group in result.groups)


@SLOW
@given(rows=accounts)
def test_a_calendar_counts_each_day_of_the_range(
    service: RecordService, people: People, rows: list[Account]
) -> None:
    lab = Lab(service, people, rows)
    span = Span(date(2025, 12, 1), date(2026, 1, 31))
    result = lab.compute(widget("calendar", date_field="since"), ViewerFilters(span=span))
    expected = Counter(
        r.since.isoformat() for r in rows if r.since and span.first <= r.since <= span.last
    )
    assert by_group(result, "count") == dict(expected)
    assert result.value == sum(expected.values())


@SLOW
@given(rows=accounts)
def test_a_table_lists_the_records_in_the_date_range(
    service: RecordService, people: People, rows: list[Account]
) -> None:
    lab = Lab(service, people, rows)
    span = Span(TODAY - timedelta(days=30), TODAY)
    result = lab.compute(
        widget("table", columns=("level", "credit"), date_field="since"), ViewerFilters(span=span)
    )
    expected = [r for r in rows if r.since and span.first <= r.since <= span.last]
    assert sorted(row["credit"] or 0 for row in result.rows) == sorted(
        r.credit or 0 for r in expected
    )


def test_an_owner_filter_narrows_every_figure(service: RecordService, people: People) -> None:
    rows = [Account("A", Decimal("1.00"), None, True), Account("A", Decimal("2.00"), None, False)]
    lab = Lab(service, people, rows)
    viewer = ViewerFilters(owner=people.bob.user_id)
    result = lab.compute(widget("bar", Dimension("level"), measures=CREDIT), viewer)
    assert by_group(result, "sum_credit") == {"A": Decimal("1.00")}
    assert result.groups[0].drill == {"owner": str(people.bob.user_id), "level": "A"}


@SLOW
@given(rows=accounts, period=st.sampled_from(["month", "quarter"]))
def test_a_ratio_compares_with_the_previous_period(
    service: RecordService, people: People, rows: list[Account], period: str
) -> None:
    lab = Lab(service, people, rows)
    share_of_a = Ratio(
        Measure("count", filter={"field": "level", "op": "eq", "value": "A"}),
        Measure("count"),
        percent=True,
    )
    result = lab.compute(widget("number", ratio=share_of_a, date_field="since", period=period))
    spans = {
        "month": ((date(2026, 1, 1), date(2026, 1, 31)), (date(2025, 12, 1), date(2025, 12, 31))),
        "quarter": ((date(2026, 1, 1), date(2026, 3, 31)), (date(2025, 10, 1), date(2025, 12, 31))),
    }[period]

    def share(first: date, last: date) -> Decimal | None:
        inside = [r for r in rows if r.since and first <= r.since <= last]
        if not inside:
            return None
        a = sum(1 for r in inside if r.level == "A")
        return (Decimal(a) / len(inside) * 100).quantize(Decimal("0.01"))

    assert (result.value, result.previous) == tuple(share(a, b) for a, b in spans)
