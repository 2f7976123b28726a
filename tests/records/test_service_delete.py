"""Deleting goes to a recycle bin, follows each link's on_delete rule, and can be undone."""

from __future__ import annotations

import pytest
from shop import People

from formflow.errors import RecordInUse, RecordNotFound, StaleRecord
from formflow.records.query import Query
from formflow.records.service import RecordService


def test_a_deleted_record_leaves_lists_and_enters_the_recycle_bin(
    service: RecordService, people: People
) -> None:
    record = service.create(people.alice, "account", {"name": "gone"})
    service.delete(people.alice, "account", record["id"])
    assert service.find(people.alice, "account").rows == []
    assert [
        row["name"] for row in service.find(people.alice, "account", Query(deleted=True)).rows
    ] == ["gone"]
    with pytest.raises(RecordNotFound):
        service.get(people.alice, "account", record["id"])


def test_restore_brings_it_back(service: RecordService, people: People) -> None:
    record = service.create(people.alice, "account", {"name": "back"})
    service.delete(people.alice, "account", record["id"])
    restored = service.restore(people.alice, "account", record["id"])
    assert restored["name"] == "back"
    assert [row["name"] for row in service.find(people.alice, "account").rows] == ["back"]


def test_cascade_takes_linked_records_along(service: RecordService, people: People) -> None:
    account = service.create(people.alice, "account", {"name": "parent"})
    service.create(people.alice, "person", {"account": account["id"], "name": "child"})
    service.delete(people.alice, "account", account["id"])
    assert service.find(people.alice, "person").rows == []


def test_restrict_refuses_while_records_refer_to_it(service: RecordService, people: People) -> None:
    account = service.create(people.alice, "account", {"name": "busy"})
    service.create(people.alice, "order", {"account": account["id"]})
    with pytest.raises(RecordInUse, match="1 Order record"):
        service.delete(people.alice, "account", account["id"])
    assert service.get(people.alice, "account", account["id"])["name"] == "busy"


def test_a_stale_delete_is_refused(service: RecordService, people: People) -> None:
    record = service.create(people.alice, "account", {"name": "x"})
    service.update(people.alice, "account", record["id"], {"name": "y"}, expected_version=1)
    with pytest.raises(StaleRecord):
        service.delete(people.alice, "account", record["id"], expected_version=1)
