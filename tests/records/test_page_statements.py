"""List statements are built once per shape and run with each request's own values: a
second list of the same shape builds nothing, and no reader ever runs another's values."""

from __future__ import annotations

from typing import Any

import pytest
from shop import People

from formflow.definitions.model import SortKey
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.records.service import RecordService


def names(service: RecordService, actor: Actor, query: Query | None = None) -> list[str]:
    return sorted(row["name"] for row in service.find(actor, "account", query).rows)


def named(value: str) -> Query:
    return Query(filter={"field": "name", "op": "eq", "value": value})


@pytest.fixture
def accounts(service: RecordService, people: People) -> dict[str, int]:
    """Two accounts each for alice and bob (east staff) and one for wendy (west staff)."""
    owners = {"a1": people.alice, "a2": people.alice, "b1": people.bob, "b2": people.bob}
    owners["w1"] = people.west
    return {
        name: service.create(actor, "account", {"name": name})["id"]
        for name, actor in owners.items()
    }


def test_a_second_list_of_the_same_shape_builds_no_statement(
    service: RecordService, people: People, accounts: dict[str, int]
) -> None:
    assert names(service, people.carol, named("a1")) == ["a1"]
    built = service.pages.builds
    assert names(service, people.carol, named("b2")) == ["b2"]
    assert service.pages.builds == built


def test_a_list_of_another_shape_builds_its_own_statement(
    service: RecordService, people: People, accounts: dict[str, int]
) -> None:
    names(service, people.carol, named("a1"))
    built = service.pages.builds
    sorted_by_name = Query(filter=named("a1").filter, sort=(SortKey("name"),))
    assert names(service, people.carol, sorted_by_name) == ["a1"]
    assert service.pages.builds == built + 1


def test_a_rep_never_sees_a_managers_rows_through_a_cached_statement(
    service: RecordService, people: People, accounts: dict[str, int]
) -> None:
    assert names(service, people.carol) == ["a1", "a2", "b1", "b2", "w1"]
    assert names(service, people.alice) == ["a1", "a2"]
    built = service.pages.builds
    assert names(service, people.bob) == ["b1", "b2"]
    assert names(service, people.west) == ["w1"]
    assert service.pages.builds == built  # the reps share one statement, not their values
    assert names(service, people.carol) == ["a1", "a2", "b1", "b2", "w1"]


def test_a_total_counts_only_the_readers_own_rows(
    service: RecordService, people: People, accounts: dict[str, int]
) -> None:
    assert service.find(people.carol, "account").total == 5
    assert service.find(people.alice, "account").total == 2
    assert service.find(people.west, "account").total == 1


def test_pages_after_a_cursor_share_one_statement(
    service: RecordService, people: People, accounts: dict[str, int]
) -> None:
    query = Query(sort=(SortKey("name"),), limit=1, with_total=False)
    seen: list[str] = []
    builds: list[int] = []
    while True:
        page = service.find(people.carol, "account", query)
        seen += [row["name"] for row in page.rows]
        builds.append(service.pages.builds)
        if page.next_cursor is None:
            break
        query = Query(sort=query.sort, limit=1, with_total=False, cursor=page.next_cursor)
    assert seen == ["a1", "a2", "b1", "b2", "w1"]
    assert len(set(builds[1:])) == 1  # the first page, then one statement for the rest


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"field": "name", "op": "in", "value": ["a1", "b2", "zz"]}, ["a1", "b2"]),
        ({"field": "name", "op": "in", "value": ["w1"]}, ["w1"]),
        ({"field": "name", "op": "not_in", "value": ["a1", "a2"]}, ["b1", "b2", "w1"]),
        ({"field": "name", "op": "starts_with", "value": "B"}, ["b1", "b2"]),
        ({"not": {"field": "name", "op": "ends_with", "value": "1"}}, ["a2", "b2"]),
    ],
)
def test_filters_run_with_their_own_values(
    service: RecordService,
    people: People,
    accounts: dict[str, int],
    spec: dict[str, Any],
    expected: list[str],
) -> None:
    assert names(service, people.carol, Query(filter=spec)) == expected


def test_wildcards_in_a_bound_text_are_only_searched_for(
    service: RecordService, people: People
) -> None:
    for name in ("50% off", "500 off", "a_b", "axb"):
        service.create(people.carol, "account", {"name": name})
    contains = {"field": "name", "op": "contains", "value": "0%"}
    assert names(service, people.carol, Query(filter=contains)) == ["50% off"]
    underscore = {"field": "name", "op": "contains", "value": "_"}
    assert names(service, people.carol, Query(filter=underscore)) == ["a_b"]


def test_a_filter_across_a_link_is_built_for_its_request_alone(
    service: RecordService, people: People
) -> None:
    """Its condition on the linked form carries the reader's own values."""
    account = service.create(people.alice, "account", {"name": "mine", "code": "ZZ9999"})
    service.create(people.alice, "person", {"account": account["id"], "name": "still mine"})
    probe = Query(filter={"field": "account.code", "op": "eq", "value": "ZZ9999"})
    assert service.find(people.alice, "person", probe).total == 1
    built = service.pages.builds
    assert service.find(people.bob, "person", probe).total == 0
    assert service.pages.builds == built + 1


def test_a_search_never_runs_a_statement_built_without_it(
    service: RecordService, people: People, accounts: dict[str, int]
) -> None:
    assert names(service, people.carol, Query(filter=named("a1").filter)) == ["a1"]
    searched = Query(filter=named("a1").filter, search="b1")
    assert names(service, people.carol, searched) == []
    assert names(service, people.carol, Query(search="b1")) == ["b1"]


def test_rows_hold_the_fields_asked_for_whichever_list_came_first(
    service: RecordService, people: People, accounts: dict[str, int]
) -> None:
    by_name = (SortKey("name"),)
    first = service.find(people.carol, "account", Query(sort=by_name, fields=("code",)))
    assert set(first.rows[0]) == {"id", "code"}
    second = service.find(people.carol, "account", Query(sort=by_name, fields=("code", "name")))
    assert set(second.rows[0]) == {"id", "code", "name"}
