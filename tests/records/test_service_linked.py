"""Titles by id and the records linking to one: a record page's prepared reads.

They must reach exactly what ``find`` reaches with the same filter, for every kind of
actor, in the same order.
"""

from __future__ import annotations

import pytest
from shop import People

from formflow.errors import PermissionDenied, QueryError
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.records.service import RecordService


@pytest.fixture
def account(service: RecordService, people: People) -> int:
    """Alice's account, with three people of hers, one of her manager's and one of the
    administrator's linking to it."""
    account_id: int = service.create(people.alice, "account", {"name": "Acme"})["id"]
    for actor, names in ((people.alice, "a1 a2 a3"), (people.carol, "c1"), (people.admin, "x1")):
        for name in names.split():
            service.create(actor, "person", {"account": account_id, "name": name})
    return account_id


def linking_ids(service: RecordService, actor: Actor, account: int, limit: int = 10) -> list[int]:
    rows, _more = service.linking(actor, "person", "account", account, limit=limit)
    return [row["id"] for row in rows]


def found_ids(service: RecordService, actor: Actor, account: int, limit: int = 10) -> list[int]:
    query = Query(filter={"field": "account", "op": "eq", "value": account}, limit=limit)
    return [row["id"] for row in service.find(actor, "person", query).rows]


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "west", "admin"])
def test_linking_reaches_and_orders_as_find_does(
    service: RecordService, people: People, account: int, who: str
) -> None:
    actor = getattr(people, who)
    assert linking_ids(service, actor, account) == found_ids(service, actor, account)


def test_linking_gives_ids_and_titles_and_says_whether_more_follow(
    service: RecordService, people: People, account: int
) -> None:
    rows, more = service.linking(people.alice, "person", "account", account, limit=2)
    assert [sorted(row) for row in rows] == [["id", "name"], ["id", "name"]]
    assert more
    assert not service.linking(people.alice, "person", "account", account, limit=3)[1]


def test_linking_leaves_out_deleted_records(
    service: RecordService, people: People, account: int
) -> None:
    gone = linking_ids(service, people.alice, account)[0]
    service.delete(people.alice, "person", gone)
    assert gone not in linking_ids(service, people.admin, account)
    assert len(linking_ids(service, people.alice, account)) == 2


def test_linking_needs_a_link_field(service: RecordService, people: People) -> None:
    with pytest.raises(QueryError, match="not a link field"):
        service.linking(people.admin, "person", "name", 1, limit=10)


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "west", "admin"])
def test_titles_reach_what_find_reaches(
    service: RecordService, people: People, account: int, who: str
) -> None:
    actor = getattr(people, who)
    every = found_ids(service, people.admin, account)
    titles = service.titles(actor, "person", every)
    assert sorted(titles) == sorted(found_ids(service, actor, account))
    assert all(set(row) == {"id", "name"} for row in titles.values())


def test_titles_of_deleted_records_are_not_given(
    service: RecordService, people: People, account: int
) -> None:
    gone = found_ids(service, people.alice, account)[0]
    service.delete(people.alice, "person", gone)
    assert service.titles(people.admin, "person", [gone]) == {}


def test_titles_need_the_right_to_read(service: RecordService, people: People) -> None:
    nobody = Actor(user_id=99)
    with pytest.raises(PermissionDenied):
        service.titles(nobody, "person", [1])


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "west", "admin"])
def test_all_linked_lists_come_as_each_would_alone(
    service: RecordService, people: People, account: int, who: str
) -> None:
    actor = getattr(people, who)
    service.create(people.alice, "order", {"account": account})
    for limit in (1, 2, 10):
        together = service.linked_to(actor, "account", account, limit=limit)
        for found in together:
            alone = service.linking(actor, found.form_key, found.link_key, account, limit=limit)
            assert (found.records, found.more) == alone, (found.form_key, limit)
        assert {(found.form_key, found.link_key) for found in together} == {
            ("person", "account"),
            ("order", "account"),
        }
