"""Time buckets, sums and medians of generated deals match Python's own arithmetic, on
SQLite and PostgreSQL, in a time zone with daylight saving and across month and year ends."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from formflow.definitions.model import Measure
from formflow.records.aggregates import Aggregation, aggregate
from formflow.records.reading import ReadContext
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.tables import AppSchema
from records.helpers import create_lab, insert

ZONE = "America/New_York"
_runs = itertools.count()

# moments near month ends, year ends and the 2026 daylight-saving changes, to the minute
EDGES = [
    datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
    datetime(2026, 1, 1, 4, 59, tzinfo=UTC),
    datetime(2026, 3, 8, 6, 30, tzinfo=UTC),
    datetime(2026, 3, 31, 23, 30, tzinfo=UTC),
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
]
moments = st.builds(
    lambda edge, minutes: edge + timedelta(minutes=minutes),
    st.sampled_from(EDGES),
    st.integers(min_value=-600, max_value=600),
)
deals = st.lists(
    st.tuples(
        moments,
        st.sampled_from(["new", "won", "lost"]),
        st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
    ),
    min_size=1,
    max_size=25,
)
FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
SLOW = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _stored(db: Engine, schema: AppSchema, rows: list[tuple[datetime, str, Decimal]]) -> str:
    name = f"run {next(_runs)}"
    with write_transaction(db) as connection:
        insert(
            connection,
            schema,
            "deal",
            [{"name": name, "met_at": m, "stage": s, "amount": a} for m, s, a in rows],
        )
    return name


def _figures(db: Engine, schema: AppSchema, aggregation: Aggregation) -> list[dict[str, Any]]:
    with read_transaction(db) as connection:
        return aggregate(ReadContext(connection, schema, "deal"), aggregation)


@SLOW
@given(rows=deals, bucket=st.sampled_from(sorted(FORMATS)))
def test_sums_by_time_bucket_are_those_of_the_local_calendar(
    db: Engine, rows: list[tuple[datetime, str, Decimal]], bucket: str
) -> None:
    schema = create_lab(db)
    name = _stored(db, schema, rows)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for moment, _stage, amount in rows:
        expected[moment.astimezone(ZoneInfo(ZONE)).strftime(FORMATS[bucket])] += amount
    found = _figures(
        db,
        schema,
        Aggregation(
            measures=(Measure("sum", "amount"),),
            group_by=("met_at",),
            bucket={"met_at": bucket},
            filter={"field": "name", "op": "eq", "value": name},
            timezone=ZONE,
        ),
    )
    assert {row["met_at"]: row["sum_amount"] for row in found} == dict(expected)


@SLOW
@given(rows=deals)
def test_medians_by_stage_are_the_middle_values(
    db: Engine, rows: list[tuple[datetime, str, Decimal]]
) -> None:
    schema = create_lab(db)
    name = _stored(db, schema, rows)
    by_stage: dict[str, list[Decimal]] = defaultdict(list)
    for _moment, stage, amount in rows:
        by_stage[stage].append(amount)
    found = _figures(
        db,
        schema,
        Aggregation(
            measures=(Measure("median", "amount"), Measure("count")),
            group_by=("stage",),
            filter={"field": "name", "op": "eq", "value": name},
        ),
    )
    assert {row["stage"]: row["median_amount"] for row in found} == {
        stage: Decimal(statistics.median(values)).quantize(Decimal("0.0001"))
        for stage, values in by_stage.items()
    }
