"""Aggregates: the same numbers and the same bucket labels on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from formflow.definitions.model import Measure
from formflow.errors import QueryError
from formflow.records.aggregates import Aggregation, aggregate
from formflow.records.reading import ReadContext
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.tables import AppSchema
from records.helpers import (
    StatementCounter,
    add_users,
    create_lab,
    insert,
    soft_delete,
)

BEIJING = timezone(timedelta(hours=8))
DEALS: list[dict[str, Any]] = [
    {"stage": "new", "amount": Decimal("100.00"), "quantity": 2, "close_date": date(2024, 12, 30)},
    {"stage": "new", "amount": Decimal("0.10"), "quantity": 3, "close_date": date(2026, 1, 1)},
    {"stage": "won", "amount": Decimal("250.40"), "quantity": 5, "close_date": date(2026, 3, 31)},
    {"stage": "won", "amount": None, "quantity": None, "close_date": date(2026, 4, 1)},
    {"stage": "lost", "amount": Decimal("0.20"), "quantity": 1, "close_date": date(2027, 1, 1)},
    {"stage": None, "amount": None, "quantity": None, "close_date": None},
]
MET_AT = [
    datetime(2026, 1, 31, 23, 30, tzinfo=UTC),
    datetime(2026, 2, 1, 0, 30, tzinfo=BEIJING),  # 2026-01-31 16:30 UTC
    datetime(2026, 2, 1, 0, 30, tzinfo=UTC),
    None,
    None,
    None,
]


@pytest.fixture(scope="module")
def lab(db: Engine) -> AppSchema:
    """Six live deals (owned by ann, ben, ann ...) and one deleted deal that counts nowhere."""
    schema = create_lab(db)
    with write_transaction(db) as connection:
        add_users(connection, "ann", "ben")
        rows = [
            deal | {"name": f"deal {n}", "met_at": met_at, "owner": 1 + n % 2, "active": n < 3}
            for n, (deal, met_at) in enumerate(zip(DEALS, MET_AT, strict=True))
        ]
        insert(connection, schema, "deal", rows)
        [gone] = insert(connection, schema, "deal", [{"stage": "new", "amount": Decimal("999")}])
        soft_delete(connection, schema, "deal", gone)
    return schema


def run(db: Engine, lab: AppSchema, *measures: Measure, **options: Any) -> list[dict[str, Any]]:
    with read_transaction(db) as connection:
        return aggregate(
            ReadContext(connection, lab, "deal"), Aggregation(measures=measures, **options)
        )


COUNT = Measure("count")


def test_count_counts_live_records(db: Engine, lab: AppSchema) -> None:
    assert run(db, lab, COUNT) == [{"count": 6}]


def test_groups_come_in_key_order_with_the_empty_key_first(db: Engine, lab: AppSchema) -> None:
    assert run(db, lab, COUNT, group_by=("stage",)) == [
        {"stage": None, "count": 1},
        {"stage": "lost", "count": 1},
        {"stage": "new", "count": 2},
        {"stage": "won", "count": 2},
    ]


def test_money_sums_and_averages_are_exact_decimals(db: Engine, lab: AppSchema) -> None:
    measures = (Measure("sum", "amount"), Measure("avg", "amount"), Measure("count", "amount"))
    assert run(db, lab, *measures) == [
        {"sum_amount": Decimal("350.70"), "avg_amount": Decimal("87.6750"), "count_amount": 4}
    ]


def test_whole_number_sums_are_integers(db: Engine, lab: AppSchema) -> None:
    [row] = run(db, lab, Measure("sum", "quantity"), Measure("avg", "quantity"))
    assert row == {"sum_quantity": 11, "avg_quantity": Decimal("2.75")}
    assert type(row["sum_quantity"]) is int


def test_min_and_max_keep_the_fields_type(db: Engine, lab: AppSchema) -> None:
    measures = [Measure(op, key) for op in ("min", "max") for key in ("close_date", "met_at")]
    assert run(db, lab, *measures) == [
        {
            "min_close_date": date(2024, 12, 30),
            "min_met_at": datetime(2026, 1, 31, 16, 30, tzinfo=UTC),
            "max_close_date": date(2027, 1, 1),
            "max_met_at": datetime(2026, 2, 1, 0, 30, tzinfo=UTC),
        }
    ]


def test_distinct_count_counts_different_values(db: Engine, lab: AppSchema) -> None:
    assert run(db, lab, Measure("distinct_count", "stage")) == [{"distinct_count_stage": 3}]


def test_several_keys_group_together(db: Engine, lab: AppSchema) -> None:
    rows = run(db, lab, COUNT, Measure("sum", "amount"), group_by=("owner", "active"))
    assert rows == [
        {"owner": 1, "active": False, "count": 1, "sum_amount": Decimal("0.20")},
        {"owner": 1, "active": True, "count": 2, "sum_amount": Decimal("350.40")},
        {"owner": 2, "active": False, "count": 2, "sum_amount": None},
        {"owner": 2, "active": True, "count": 1, "sum_amount": Decimal("0.10")},
    ]


def test_filter_and_scope_narrow_the_records(db: Engine, lab: AppSchema) -> None:
    table = lab.table("deal")
    spec = {"field": "stage", "op": "in", "value": ["new", "won"]}
    with read_transaction(db) as connection:
        rows = aggregate(
            ReadContext(connection, lab, "deal", scope=table.c.owner == 1),
            Aggregation(measures=(COUNT,), filter=spec),
        )
    assert rows == [{"count": 2}]


def test_limit_caps_the_number_of_groups(db: Engine, lab: AppSchema) -> None:
    rows = run(db, lab, COUNT, group_by=("stage",), limit=2)
    assert [row["stage"] for row in rows] == [None, "lost"]


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [
        (
            "day",
            {
                None: 1,
                "2024-12-30": 1,
                "2026-01-01": 1,
                "2026-03-31": 1,
                "2026-04-01": 1,
                "2027-01-01": 1,
            },
        ),
        ("week", {None: 1, "2025-W01": 1, "2026-W01": 1, "2026-W14": 2, "2026-W53": 1}),
        ("month", {None: 1, "2024-12": 1, "2026-01": 1, "2026-03": 1, "2026-04": 1, "2027-01": 1}),
        ("quarter", {None: 1, "2024-Q4": 1, "2026-Q1": 2, "2026-Q2": 1, "2027-Q1": 1}),
        ("year", {None: 1, "2024": 1, "2026": 3, "2027": 1}),
    ],
)
def test_dates_group_into_buckets_labelled_alike_everywhere(
    db: Engine, lab: AppSchema, bucket: str, expected: dict[str | None, int]
) -> None:
    rows = run(db, lab, COUNT, group_by=("close_date",), bucket={"close_date": bucket})
    assert {row["close_date"]: row["count"] for row in rows} == expected
    assert [row["close_date"] for row in rows] == list(expected)


def test_weeks_are_iso_weeks(db: Engine, lab: AppSchema) -> None:
    rows = run(db, lab, COUNT, group_by=("close_date",), bucket={"close_date": "week"})
    iso = Counter(
        f"{d.isocalendar().year}-W{d.isocalendar().week:02d}"
        for d in (deal["close_date"] for deal in DEALS)
        if d is not None
    )
    assert {row["close_date"]: row["count"] for row in rows if row["close_date"]} == iso


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [("day", ["2026-01-31", "2026-02-01"]), ("month", ["2026-01", "2026-02"])],
)
def test_date_times_fall_into_utc_buckets(
    db: Engine, lab: AppSchema, bucket: str, expected: list[str]
) -> None:
    spec = {"field": "met_at", "op": "is_not_empty"}
    rows = run(db, lab, COUNT, group_by=("met_at",), bucket={"met_at": bucket}, filter=spec)
    assert [(row["met_at"], row["count"]) for row in rows] == list(
        zip(expected, [2, 1], strict=True)
    )


# refusals ---------------------------------------------------------------------


def refusal(db: Engine, lab: AppSchema, **options: Any) -> str:
    options.setdefault("measures", (COUNT,))
    with pytest.raises(QueryError) as caught, read_transaction(db) as connection:
        aggregate(ReadContext(connection, lab, "deal"), Aggregation(**options))
    return str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"measures": ()}, "an aggregation needs at least one measure, such as count"),
        (
            {"measures": (Measure("sum", "name"),)},
            "measure 'sum' needs a number field; text field 'name' is not one",
        ),
        (
            {"measures": (Measure("avg", "close_date"),)},
            "measure 'avg' needs a number field; date field 'close_date'",
        ),
        (
            {"measures": (Measure("max", "tags"),)},
            "measure 'max' needs a field that sorts; multiselect field 'tags'",
        ),
        (
            {"measures": (Measure("mode", "amount"),)},
            "unknown measure 'mode'; use count, sum, avg, min, max, distinct_count, median",
        ),
        ({"measures": (Measure("sum"),)}, "measure 'sum' needs a field"),
        ({"measures": (COUNT, COUNT)}, "the aggregation names count more than once"),
        (
            {"group_by": ("stage",), "bucket": {"stage": "month"}},
            "bucket applies to date and datetime fields, not to select field 'stage'",
        ),
        (
            {"group_by": ("close_date",), "bucket": {"close_date": "decade"}},
            "unknown bucket 'decade' for date field 'close_date'; use day, week, month, quarter, year",
        ),
        ({"bucket": {"close_date": "month"}}, "bucket 'close_date' is not in group_by"),
        ({"group_by": ("tags",)}, "multiselect field 'tags' cannot be grouped by"),
        ({"group_by": ("items",)}, "subtable field 'items' cannot be read"),
        ({"limit": 0}, "limit must be between 1 and 10000, got 0"),
    ],
)
def test_an_aggregation_that_does_not_fit_is_refused(
    db: Engine, lab: AppSchema, options: dict[str, Any], message: str
) -> None:
    assert refusal(db, lab, **options).startswith(message)


def test_an_aggregation_is_one_statement(db: Engine, lab: AppSchema) -> None:
    aggregation = Aggregation(
        measures=(COUNT, Measure("sum", "amount")),
        group_by=("stage", "close_date"),
        bucket={"close_date": "week"},
    )
    with read_transaction(db) as connection, StatementCounter(db) as counter:
        aggregate(ReadContext(connection, lab, "deal"), aggregation)
    assert counter.count == 1


WON = {"field": "stage", "op": "eq", "value": "won"}


def test_measures_with_their_own_filters_share_one_statement(db: Engine, lab: AppSchema) -> None:
    won_count, won_sum = Measure("count", filter=WON), Measure("sum", "amount", filter=WON)
    with read_transaction(db) as connection, StatementCounter(db) as counter:
        rows = aggregate(
            ReadContext(connection, lab, "deal"),
            Aggregation(
                measures=(COUNT, won_count, won_sum),
                labels=("all", "won", "won_amount"),
                group_by=("owner",),
            ),
        )
    assert counter.count == 1
    assert rows == [
        {"owner": 1, "all": 3, "won": 1, "won_amount": Decimal("250.40")},
        {"owner": 2, "all": 3, "won": 1, "won_amount": None},
    ]


def test_a_group_no_record_of_a_measures_filter_falls_in_has_no_figure(
    db: Engine, lab: AppSchema
) -> None:
    lost = {"field": "stage", "op": "eq", "value": "lost"}
    rows = run(db, lab, COUNT, Measure("count", filter=lost), labels=("all", "lost"))
    assert rows == [{"all": 6, "lost": 1}]
    by_stage = run(
        db, lab, COUNT, Measure("count", filter=lost), labels=("all", "lost"), group_by=("stage",)
    )
    assert {row["stage"]: row["lost"] for row in by_stage} == {
        None: None,
        "lost": 1,
        "new": None,
        "won": None,
    }


def test_labels_must_match_the_measures(db: Engine, lab: AppSchema) -> None:
    with pytest.raises(QueryError, match="one label per measure"):
        run(db, lab, COUNT, labels=("a", "b"))
