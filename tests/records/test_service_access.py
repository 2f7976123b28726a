"""Scopes: a user reaches exactly the records their roles allow, through every path."""

from __future__ import annotations

from dataclasses import replace

import pytest
from shop import People

from formflow.errors import PermissionDenied, RecordNotFound
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.records.service import RecordService


def names(service: RecordService, actor: Actor, query: Query | None = None) -> list[str]:
    return sorted(row["name"] for row in service.find(actor, "account", query).rows)


@pytest.fixture
def three_accounts(service: RecordService, people: People) -> dict[str, int]:
    return {
        name: service.create(actor, "account", {"name": name})["id"]
        for name, actor in (("a1", people.alice), ("b1", people.bob), ("w1", people.west))
    }


def test_staff_list_only_their_own(
    service: RecordService, people: People, three_accounts: dict[str, int]
) -> None:
    assert names(service, people.alice) == ["a1"]


def test_a_manager_lists_their_department_and_those_below(
    service: RecordService, people: People, three_accounts: dict[str, int]
) -> None:
    assert names(service, people.carol) == ["a1", "b1", "w1"]


def test_another_users_record_is_not_found_not_forbidden(
    service: RecordService, people: People, three_accounts: dict[str, int]
) -> None:
    with pytest.raises(RecordNotFound):
        service.get(people.alice, "account", three_accounts["b1"])


@pytest.mark.parametrize("record_id", [0, -1, 2**63, -(2**70)])
def test_an_id_no_row_can_have_is_not_found(
    service: RecordService, people: People, record_id: int
) -> None:
    """Callers pass ids from anywhere (a page's query, a designer's sample); the database
    is never asked to compare with one past 64 bits."""
    with pytest.raises(RecordNotFound):
        service.get(people.carol, "account", record_id)
    with pytest.raises(RecordNotFound):
        service.delete(people.carol, "account", record_id)


def test_another_users_record_cannot_be_changed_or_deleted(
    service: RecordService, people: People, three_accounts: dict[str, int]
) -> None:
    with pytest.raises(RecordNotFound):
        service.update(
            people.alice, "account", three_accounts["b1"], {"name": "mine"}, expected_version=1
        )
    with pytest.raises(RecordNotFound):
        service.delete(people.alice, "account", three_accounts["b1"])


def test_searching_and_counting_stay_within_scope(
    service: RecordService, people: People, three_accounts: dict[str, int]
) -> None:
    page = service.find(people.alice, "account", Query(search="b1"))
    assert (page.rows, page.total) == ([], 0)
    assert service.aggregate(people.alice, "account", _count()) == [{"count": 1}]


def test_a_filter_across_a_link_cannot_probe_records_out_of_reach(
    service: RecordService, people: People
) -> None:
    account = service.create(people.alice, "account", {"name": "handed over", "code": "ZZ9999"})
    service.create(people.alice, "person", {"account": account["id"], "name": "still mine"})
    service.update(
        people.admin, "account", account["id"], {"owner": people.bob.user_id}, expected_version=1
    )
    probe = {"field": "account.code", "op": "eq", "value": "ZZ9999"}
    assert service.find(people.admin, "person", Query(filter=probe)).total == 1
    assert service.find(people.alice, "person", Query(filter=probe)).total == 0


def test_history_is_as_private_as_the_record(
    service: RecordService, people: People, three_accounts: dict[str, int]
) -> None:
    with pytest.raises(RecordNotFound):
        service.history(people.alice, "account", three_accounts["b1"])


def test_a_role_without_create_cannot_create(service: RecordService, people: People) -> None:
    nobody = type(people.alice)(user_id=people.alice.user_id, roles=frozenset())
    with pytest.raises(PermissionDenied):
        service.create(nobody, "account", {"name": "x"})


def test_handing_a_record_to_someone_else_moves_it_out_of_reach(
    service: RecordService, people: People
) -> None:
    record = service.create(people.alice, "account", {"name": "gift"})
    service.update(
        people.carol, "account", record["id"], {"owner": people.bob.user_id}, expected_version=1
    )
    assert names(service, people.alice) == []
    assert names(service, people.bob) == ["gift"]


def test_a_department_record_follows_its_owner_s_department(
    service: RecordService, people: People
) -> None:
    record = service.create(
        people.carol, "account", {"name": "west-owned", "owner": people.west.user_id}
    )
    assert names(service, people.west) == ["west-owned"]
    assert service.get(people.carol, "account", record["id"])["name"] == "west-owned"


def _count():  # type: ignore[no-untyped-def]
    from formflow.records.aggregates import Aggregation, Measure

    return Aggregation(measures=(Measure("count", None),))


def test_records_move_with_their_owner_to_a_new_department(
    service: RecordService, people: People
) -> None:
    service.create(people.alice, "account", {"name": "follows alice"})
    assert service.move_owner(people.alice.user_id, people.west.department_id) == 1  # type: ignore[arg-type]
    west_manager = Actor(
        people.west.user_id,
        frozenset({"manager"}),
        people.west.department_id,
        people.west.department_ids,
    )
    assert names(service, west_manager) == ["follows alice"]


def test_an_actor_limited_to_some_forms_reaches_no_other_by_any_path(
    service: RecordService, people: People, three_accounts: dict[str, int]
) -> None:
    service.create(people.carol, "order", {"account": three_accounts["a1"]})
    by_account = Query(filter={"field": "account.name", "op": "eq", "value": "a1"})
    assert len(service.find(people.carol, "order", by_account).rows) == 1
    orders_only = replace(people.carol, forms=frozenset({"order"}))
    assert len(service.find(orders_only, "order").rows) == 1
    assert service.find(orders_only, "order", by_account).rows == []
    with pytest.raises(PermissionDenied):
        service.find(orders_only, "account")
