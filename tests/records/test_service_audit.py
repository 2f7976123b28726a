"""The audit trail records who changed what, from what to what."""

from __future__ import annotations

import pytest
from shop import People

from formflow.errors import RecordNotFound
from formflow.records.service import RecordService


def test_history_lists_changes_newest_first(service: RecordService, people: People) -> None:
    record = service.create(people.alice, "account", {"name": "Acme", "score": 1})
    service.update(
        people.alice, "account", record["id"], {"name": "Acme Ltd", "score": 2}, expected_version=1
    )
    service.delete(people.alice, "account", record["id"], expected_version=2)
    service.restore(people.alice, "account", record["id"])
    entries = service.history(people.alice, "account", record["id"])
    assert [entry.action for entry in entries] == ["restore", "delete", "update", "create"]
    assert entries[2].changes == {"name": ("Acme", "Acme Ltd"), "score": (1, 2)}
    assert entries[2].user_id == people.alice.user_id
    assert entries[3].changes["name"] == (None, "Acme")


def test_an_update_that_changes_nothing_records_no_field_changes(
    service: RecordService, people: People
) -> None:
    record = service.create(people.alice, "account", {"name": "Same"})
    service.update(people.alice, "account", record["id"], {"name": "Same"}, expected_version=1)
    assert service.history(people.alice, "account", record["id"])[0].changes == {}


def test_a_record_and_its_history_come_in_one_read(service: RecordService, people: People) -> None:
    record = service.create(people.alice, "account", {"name": "Acme"})
    service.update(people.alice, "account", record["id"], {"name": "Acme Ltd"}, expected_version=1)
    both = service.get_with_history(people.alice, "account", record["id"])
    assert both == (
        service.get(people.alice, "account", record["id"]),
        service.history(people.alice, "account", record["id"]),
    )


def test_a_record_out_of_reach_comes_with_no_history(
    service: RecordService, people: People
) -> None:
    record = service.create(people.bob, "account", {"name": "Not Alice's"})
    with pytest.raises(RecordNotFound):
        service.get_with_history(people.alice, "account", record["id"])
