"""A write that cannot move a roll-up costs it no query; one that moves a count or sum
adjusts it by its difference; a filter Python cannot decide falls back to the query."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from formflow.records.access import Actor
from formflow.records.rollup_effects import RECOMPUTE, effects
from formflow.testing import Sandbox


@contextmanager
def statements(box: Sandbox) -> Iterator[list[str]]:
    """The SQL of every statement the sandbox's engine runs in the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(box.records.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(box.records.engine, "before_cursor_execute", record)


def aggregates_over_deals(seen: list[str]) -> list[str]:
    return [sql for sql in seen if "FROM sales__deal" in sql and ("sum(" in sql or "count(" in sql)]


def rollup(box: Sandbox, key: str) -> Any:
    return box.app.form("account").field(key)


def test_a_change_the_filter_treats_alike_queries_no_rollup(box: Sandbox, staff: Actor) -> None:
    acme = box.records.create(staff, "account", {"name": "Acme", "credit": "1000"})
    deal = box.records.create(
        staff, "deal", {"title": "D", "account": acme["id"], "amount": "10", "stage": "open"}
    )
    with statements(box) as seen:
        box.records.update(staff, "deal", deal["id"], {"stage": "lost"}, expected_version=1)
    assert aggregates_over_deals(seen) == []
    assert box.records.get(staff, "account", acme["id"])["won_total"] == Decimal("0.00")


def test_a_sum_and_a_count_move_by_the_written_record_alone(box: Sandbox, staff: Actor) -> None:
    acme = box.records.create(staff, "account", {"name": "Acme", "credit": "1000"})
    first = box.records.create(
        staff, "deal", {"title": "D", "account": acme["id"], "amount": "10.25", "stage": "won"}
    )
    with statements(box) as seen:
        box.records.create(
            staff, "deal", {"title": "E", "account": acme["id"], "amount": "5", "stage": "won"}
        )
        box.records.update(staff, "deal", first["id"], {"stage": "lost"}, expected_version=1)
    sums_and_counts = [sql for sql in aggregates_over_deals(seen) if "max(" not in sql]
    assert sums_and_counts == []
    found = box.records.get(staff, "account", acme["id"])
    assert (found["deal_count"], found["won_total"]) == (2, Decimal("5.00"))
    assert found["headroom"] == Decimal("995.00")


def test_moving_a_record_to_another_parent_takes_it_from_one_and_gives_it_to_the_other(
    box: Sandbox, staff: Actor
) -> None:
    north = box.records.create(staff, "account", {"name": "North", "credit": "1000"})
    south = box.records.create(staff, "account", {"name": "South", "credit": "1000"})
    deal = box.records.create(
        staff, "deal", {"title": "D", "account": north["id"], "amount": "7", "stage": "won"}
    )
    box.records.update(staff, "deal", deal["id"], {"account": south["id"]}, expected_version=1)
    assert box.records.get(staff, "account", north["id"])["won_total"] == Decimal("0.00")
    assert box.records.get(staff, "account", south["id"])["won_total"] == Decimal("7.00")
    assert box.records.get(staff, "account", south["id"])["deal_count"] == 1


def test_an_empty_value_passes_ne_and_fails_eq_as_in_sql(box: Sandbox) -> None:
    field = rollup(box, "won_total")
    before = {"account": 1, "stage": None, "amount": Decimal("3.00")}
    after = {**before, "stage": "won"}
    assert effects(box.records.schema, field, before, after) == {1: Decimal("3.00")}
    assert effects(box.records.schema, field, after, before) == {1: Decimal("-3.00")}


def test_values_with_more_places_than_the_sum_keeps_are_left_to_the_database(
    box: Sandbox,
) -> None:
    field = rollup(box, "won_total")
    before = {"account": 1, "stage": "open", "amount": Decimal("1.005")}
    assert effects(box.records.schema, field, before, {**before, "stage": "won"}) == {1: RECOMPUTE}


def test_min_max_and_latest_are_queried_afresh_when_their_record_moves(box: Sandbox) -> None:
    before = {"account": 1, "amount": Decimal("3.00"), "stage": "open", "close_date": None}
    after = {**before, "amount": Decimal("4.00")}
    assert effects(box.records.schema, rollup(box, "largest"), before, after) == {1: RECOMPUTE}
    assert effects(box.records.schema, rollup(box, "first_close"), before, after) == {}


def test_records_created_together_count_in_the_rollups_they_link_to(
    box: Sandbox, staff: Actor
) -> None:
    acme = box.records.create(staff, "account", {"name": "Acme", "credit": "1000"})
    deals = [
        {"title": f"D{n}", "account": acme["id"], "amount": "10", "stage": "won"} for n in range(3)
    ]
    assert len(box.records.create_many(staff, "deal", deals).created) == 3
    found = box.records.get(staff, "account", acme["id"])
    assert (found["deal_count"], found["won_total"], found["headroom"]) == (
        3,
        Decimal("30.00"),
        Decimal("970.00"),
    )
