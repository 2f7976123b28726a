"""Roll-ups, lookups and the formulas reading them stay exact through every kind of write."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from formflow.definitions.model import Measure, SortKey
from formflow.errors import ValidationFailed
from formflow.records.access import Actor
from formflow.records.aggregates import Aggregation
from formflow.records.query import Query
from formflow.records.unit import unit_of_work
from formflow.testing import Sandbox


def account(box: Sandbox, staff: Actor, **values: Any) -> dict[str, Any]:
    return box.records.create(staff, "account", {"name": "Acme", "credit": "1000", **values})


def deal(box: Sandbox, staff: Actor, account_id: int, **values: Any) -> dict[str, Any]:
    return box.records.create(staff, "deal", {"title": "Deal", "account": account_id, **values})


def stored(box: Sandbox, staff: Actor, form: str, record_id: int) -> dict[str, Any]:
    return box.records.get(staff, form, record_id)


def test_a_new_record_counts_and_sums_nothing(box: Sandbox, staff: Actor) -> None:
    created = account(box, staff)
    assert (created["deal_count"], created["won_total"], created["largest"]) == (
        0,
        Decimal("0.00"),
        None,
    )


def test_each_aggregate_follows_the_linked_records(box: Sandbox, staff: Actor) -> None:
    acme = account(box, staff)
    deal(box, staff, acme["id"], amount="120.50", stage="won", close_date="2026-03-01")
    deal(box, staff, acme["id"], amount="300", stage="open", close_date="2026-05-01")
    deal(box, staff, acme["id"], amount="80", stage="lost", close_date="2026-02-01")
    found = stored(box, staff, "account", acme["id"])
    assert found["deal_count"] == 3
    assert found["won_total"] == Decimal("120.50")  # the filter: won deals only
    assert found["largest"] == Decimal("300.00")
    assert found["first_close"] == date(2026, 2, 1)
    assert found["latest_stage"] == "open"  # the deal with the latest close date


def test_a_formula_reading_a_rollup_is_worked_out_again(box: Sandbox, staff: Actor) -> None:
    acme = account(box, staff)
    deal(box, staff, acme["id"], amount="250", stage="won")
    assert stored(box, staff, "account", acme["id"])["headroom"] == Decimal("750.00")


def test_an_update_that_changes_what_the_filter_selects_is_counted(
    box: Sandbox, staff: Actor
) -> None:
    acme = account(box, staff)
    open_deal = deal(box, staff, acme["id"], amount="200")
    box.records.update(staff, "deal", open_deal["id"], {"stage": "won"}, expected_version=1)
    assert stored(box, staff, "account", acme["id"])["won_total"] == Decimal("200.00")


def test_relinking_updates_the_old_and_the_new_parent(box: Sandbox, staff: Actor) -> None:
    old, new = account(box, staff), account(box, staff, name="Beta")
    moved = deal(box, staff, old["id"], amount="40", stage="won")
    box.records.update(staff, "deal", moved["id"], {"account": new["id"]}, expected_version=1)
    assert stored(box, staff, "account", old["id"])["won_total"] == Decimal("0.00")
    assert stored(box, staff, "account", new["id"])["won_total"] == Decimal("40.00")


def test_delete_and_restore_take_a_record_out_and_back(box: Sandbox, staff: Actor) -> None:
    acme = account(box, staff)
    gone = deal(box, staff, acme["id"], amount="60", stage="won")
    box.records.delete(staff, "deal", gone["id"])
    assert stored(box, staff, "account", acme["id"])["deal_count"] == 0
    box.records.restore(staff, "deal", gone["id"])
    assert stored(box, staff, "account", acme["id"])["won_total"] == Decimal("60.00")


def test_a_lookup_follows_a_change_of_the_linked_record(box: Sandbox, staff: Actor) -> None:
    acme = account(box, staff, region="North")
    shown = deal(box, staff, acme["id"])
    assert shown["account_region"] == "North"
    box.records.update(staff, "account", acme["id"], {"region": "South"}, expected_version=1)
    assert stored(box, staff, "deal", shown["id"])["account_region"] == "South"


def test_a_lookup_of_a_formula_over_a_rollup_follows_a_sibling(box: Sandbox, staff: Actor) -> None:
    acme = account(box, staff)
    first = deal(box, staff, acme["id"], amount="100", stage="won")
    deal(box, staff, acme["id"], amount="300", stage="won")
    assert stored(box, staff, "deal", first["id"])["account_headroom"] == Decimal("600.00")


def test_lists_filter_and_sort_by_rollups_and_lookups(box: Sandbox, staff: Actor) -> None:
    small, big = account(box, staff, name="Small"), account(box, staff, name="Big", region="East")
    deal(box, staff, small["id"], amount="10", stage="won")
    deal(box, staff, big["id"], amount="900", stage="won")
    query = Query(filter={"field": "won_total", "op": "gt", "value": "100"})
    assert [r["name"] for r in box.records.find(staff, "account", query).rows] == ["Big"]
    by_region = Query(
        filter={"field": "account_region", "op": "eq", "value": "East"},
        sort=(SortKey("account_headroom", descending=True),),
    )
    assert len(box.records.find(staff, "deal", by_region).rows) == 1


def test_a_rollup_cannot_be_set_by_hand(box: Sandbox, staff: Actor) -> None:
    with pytest.raises(ValidationFailed) as refused:
        account(box, staff, won_total="5")
    assert [p.code for p in refused.value.problems["won_total"]] == ["read_only"]


def test_writes_in_one_unit_of_work_see_each_others_rollups(box: Sandbox, staff: Actor) -> None:
    with unit_of_work(box.records.engine):
        acme = account(box, staff)
        deal(box, staff, acme["id"], amount="999.99", stage="won")
        assert box.records.stored("account", acme["id"])["won_total"] == Decimal("999.99")


def test_a_money_sum_is_exact_to_the_cent_over_many_values(box: Sandbox, staff: Actor) -> None:
    """SQLite keeps these amounts as binary floating point; its own SUM of them misses the
    total by more than half a cent, so the roll-up adds whole cents."""
    acme = account(box, staff, credit="9000000000000000")
    for number in range(100):
        amount = "76543210987.65" if number % 2 == 0 else "0.07"
        deal(box, staff, acme["id"], amount=amount, stage="won")
    assert stored(box, staff, "account", acme["id"])["won_total"] == Decimal("3827160549386.00")
    summed = box.records.aggregate(staff, "deal", Aggregation((Measure("sum", "amount"),)))
    assert summed == [{"sum_amount": Decimal("3827160549386.00")}]  # dashboards add alike


def test_an_update_that_leaves_the_link_alone_keeps_the_lookups_the_linked_record_moved(
    box: Sandbox, staff: Actor
) -> None:
    acme = account(box, staff, region="North")
    shown = deal(box, staff, acme["id"])
    box.records.update(staff, "account", acme["id"], {"region": "South"}, expected_version=1)
    box.records.update(staff, "deal", shown["id"], {"title": "Renamed"}, expected_version=1)
    assert stored(box, staff, "deal", shown["id"])["account_region"] == "South"


def test_an_update_that_leaves_the_link_alone_is_still_held_to_rules_on_its_lookups(
    box: Sandbox, staff: Actor
) -> None:
    acme = account(box, staff)
    won = deal(box, staff, acme["id"], amount="900", stage="won")
    box.records.update(staff, "account", acme["id"], {"credit": "500"}, expected_version=1)
    with pytest.raises(ValidationFailed) as caught:
        box.records.update(staff, "deal", won["id"], {"title": "Renamed"}, expected_version=1)
    assert list(caught.value.problems) == ["amount"]


def test_an_update_that_changes_the_link_takes_the_new_linked_records_values(
    box: Sandbox, staff: Actor
) -> None:
    shown = deal(box, staff, account(box, staff, region="North")["id"])
    west = account(box, staff, name="West Co", region="West")
    box.records.update(staff, "deal", shown["id"], {"account": west["id"]}, expected_version=1)
    assert stored(box, staff, "deal", shown["id"])["account_region"] == "West"
