"""Groups keyed on a linked record's field, aggregated in two steps (the form's own rows
grouped by the link first, then joined to the linked records), give the figures one
statement gives: the same groups, numbers, types and rounding. SQLite always takes two
steps; PostgreSQL only where an index of the form begins with the link and the other
grouped columns (the lab's deal has one on its company link alone), so that it reads the
rows in group order, and otherwise keeps one statement (its hash join reads each linked
record once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import ColumnElement, Engine, delete, event

from formflow.definitions.model import Measure
from formflow.records.aggregates import Aggregation, aggregate
from formflow.records.reading import ReadContext
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.tables import AppSchema
from records.helpers import add_users, create_lab, insert, soft_delete

SLOW = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
COMPANIES = ("gold", "silver", None, "gold (deleted)", "silver (out of reach)")
MEASURES = (
    Measure("count"),
    Measure("count", "amount"),
    Measure("sum", "amount"),
    Measure("sum", "quantity"),
    Measure("sum", "weight"),
    Measure("avg", "amount"),
    Measure("avg", "quantity"),
    Measure("avg", "weight"),
    Measure("min", "amount"),
    Measure("max", "close_date"),
    Measure("min", "stage"),
    Measure("max", "met_at"),
)
WON = {"field": "stage", "op": "eq", "value": "won"}


@dataclass(frozen=True)
class Deal:
    company: int | None
    stage: str | None
    amount: Decimal | None
    quantity: int | None
    weight: Decimal | None
    close_date: date | None
    owner: int


deals = st.lists(
    st.builds(
        Deal,
        company=st.none() | st.integers(0, len(COMPANIES) - 1),
        stage=st.sampled_from([None, "new", "won", "lost"]),
        amount=st.none() | st.decimals(-10_000, 10_000, places=2),
        quantity=st.none() | st.integers(-1000, 1000),
        weight=st.none() | st.decimals(0, 100, places=3),
        close_date=st.none() | st.dates(date(2025, 11, 1), date(2026, 2, 28)),
        owner=st.sampled_from([1, 2]),
    ),
    max_size=25,
)


@pytest.fixture(scope="module")
def lab(db: Engine) -> AppSchema:
    schema = create_lab(db)
    with write_transaction(db) as connection:
        add_users(connection, "ann", "ben")
    return schema


def load(db: Engine, lab: AppSchema, rows: list[Deal]) -> list[int]:
    """Fresh companies (one deleted) and ``rows`` as deals; the companies' ids."""
    with write_transaction(db) as connection:
        connection.execute(delete(lab.table("deal")))
        connection.execute(delete(lab.table("company")))
        companies = insert(
            connection,
            lab,
            "company",
            [
                {"name": name or "none", "tier": (name or "").split(" ")[0] or None}
                for name in COMPANIES
            ],
        )
        soft_delete(connection, lab, "company", companies[3])
        insert(
            connection,
            lab,
            "deal",
            [
                {
                    "name": "d",
                    "company": None if d.company is None else companies[d.company],
                    "stage": d.stage,
                    "amount": d.amount,
                    "quantity": d.quantity,
                    "weight": d.weight,
                    "close_date": d.close_date,
                    "owner": d.owner,
                }
                for d in rows
            ],
        )
    return companies


def reach(lab: AppSchema) -> Any:
    """A caller who may not read the out-of-reach company, as a link scope."""

    def scope(form_key: str) -> ColumnElement[bool] | None:
        table = lab.table(form_key)
        return table.c.name != COMPANIES[4] if form_key == "company" else None

    return scope


def run(
    db: Engine,
    lab: AppSchema,
    aggregation: Aggregation,
    *,
    rep: int | None = None,
    statements: list[str] | None = None,
) -> list[dict[str, Any]]:
    scope = None if rep is None else lab.table("deal").c.owner == rep
    with read_transaction(db) as connection:
        if statements is not None:
            event.listen(connection, "before_cursor_execute", lambda *a: statements.append(a[2]))
        context = ReadContext(connection, lab, "deal", scope=scope, link_scope=reach(lab))
        return aggregate(context, aggregation)


def in_one_statement(
    db: Engine, lab: AppSchema, aggregation: Aggregation, rep: int | None
) -> list[dict[str, Any]]:
    """The same aggregation by the one-step path: a median keeps it there."""
    labels = aggregation.labels or tuple(m.name for m in aggregation.measures)
    forced = Aggregation(
        measures=(*aggregation.measures, Measure("median", "amount")),
        group_by=aggregation.group_by,
        bucket=aggregation.bucket,
        filter=aggregation.filter,
        labels=(*labels, "_median"),
    )
    rows = run(db, lab, forced, rep=rep)
    for row in rows:
        del row["_median"]
    return rows


@SLOW
@given(
    rows=deals,
    keys=st.sampled_from(
        [("company.tier",), ("company.tier", "stage"), ("close_date", "company.tier")]
    ),
    picked=st.lists(st.sampled_from(range(len(MEASURES))), min_size=1, max_size=4, unique=True),
    narrowed=st.booleans(),
    filtered=st.booleans(),
    rep=st.sampled_from([None, 1, 2]),
)
def test_two_steps_give_the_one_statements_figures(
    db: Engine,
    lab: AppSchema,
    rows: list[Deal],
    keys: tuple[str, ...],
    picked: list[int],
    narrowed: bool,
    filtered: bool,
    rep: int | None,
) -> None:
    load(db, lab, rows)
    measures = tuple(
        Measure(m.op, m.field, filter=WON if narrowed and n == 0 else None)
        for n, m in enumerate(MEASURES[i] for i in picked)
    )
    aggregation = Aggregation(
        measures=measures,
        group_by=keys,
        bucket={"close_date": "month"} if "close_date" in keys else {},
        filter={"field": "amount", "op": "gt", "value": "0"} if filtered else None,
        labels=tuple(f"m{n}" for n in range(len(measures))),
    )
    statements: list[str] = []
    found = run(db, lab, aggregation, rep=rep, statements=statements)
    streamed = keys == ("company.tier",)
    assert ("own_groups" in statements[0]) == (db.dialect.name == "sqlite" or streamed)
    expected = in_one_statement(db, lab, aggregation, rep)
    assert found == expected
    assert [{k: type(v) for k, v in row.items()} for row in found] == [
        {k: type(v) for k, v in row.items()} for row in expected
    ]


def test_a_rep_counts_and_sums_own_deals_by_the_companys_tier(db: Engine, lab: AppSchema) -> None:
    load(
        db,
        lab,
        [
            Deal(0, "won", Decimal("10.10"), 1, None, None, owner=1),
            Deal(0, "new", Decimal("0.20"), 2, None, None, owner=1),
            Deal(1, "won", Decimal("5.00"), 3, None, None, owner=1),
            Deal(1, "won", Decimal("7.00"), 4, None, None, owner=2),
            Deal(3, "won", Decimal("1.00"), 5, None, None, owner=1),
            Deal(4, "won", Decimal("2.00"), 6, None, None, owner=1),
        ],
    )
    aggregation = Aggregation(
        measures=(Measure("count"), Measure("sum", "amount"), Measure("avg", "quantity")),
        group_by=("company.tier",),
    )
    assert run(db, lab, aggregation, rep=1) == [
        {
            "company.tier": None,
            "count": 2,
            "sum_amount": Decimal("3.00"),
            "avg_quantity": Decimal("5.50"),
        },
        {
            "company.tier": "gold",
            "count": 2,
            "sum_amount": Decimal("10.30"),
            "avg_quantity": Decimal("1.50"),
        },
        {
            "company.tier": "silver",
            "count": 1,
            "sum_amount": Decimal("5.00"),
            "avg_quantity": Decimal("3.00"),
        },
    ]


def test_a_distinct_count_keeps_one_statement(db: Engine, lab: AppSchema) -> None:
    load(db, lab, [Deal(0, "won", Decimal("1.00"), 1, None, None, owner=1)])
    statements: list[str] = []
    aggregation = Aggregation(
        measures=(Measure("distinct_count", "stage"),), group_by=("company.tier",)
    )
    assert run(db, lab, aggregation, statements=statements) == [
        {"company.tier": "gold", "distinct_count_stage": 1}
    ]
    assert "own_groups" not in statements[0]


def test_the_own_rows_are_grouped_by_the_link_first_where_an_index_begins_with_it(
    db: Engine, lab: AppSchema
) -> None:
    load(db, lab, [Deal(0, "won", Decimal("1.00"), 1, None, None, owner=1)])
    statements: list[str] = []
    aggregation = Aggregation(measures=(Measure("sum", "amount"),), group_by=("company.tier",))
    assert run(db, lab, aggregation, statements=statements) == [
        {"company.tier": "gold", "sum_amount": Decimal("1.00")}
    ]
    assert "own_groups" in statements[0]


def test_postgresql_keeps_one_statement_where_no_index_begins_with_the_grouped_columns(
    db: Engine, lab: AppSchema
) -> None:
    load(db, lab, [Deal(0, "won", Decimal("1.00"), 1, None, None, owner=1)])
    statements: list[str] = []
    aggregation = Aggregation(
        measures=(Measure("sum", "amount"),), group_by=("company.tier", "stage")
    )
    assert run(db, lab, aggregation, statements=statements) == [
        {"company.tier": "gold", "stage": "won", "sum_amount": Decimal("1.00")}
    ]
    assert ("own_groups" in statements[0]) == (db.dialect.name == "sqlite")
