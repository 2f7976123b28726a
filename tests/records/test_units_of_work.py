"""Units of work: several writes across forms commit together, with their events, or not at all."""

from __future__ import annotations

import pytest
from shop import People
from sqlalchemy import Engine, select

from formflow.errors import RecordNotFound, ValidationFailed
from formflow.events import Event, EventKind, Relay
from formflow.records.service import RecordService
from formflow.records.unit import unit_of_work
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import audit_log, events
from formflow.storage.tables import AppSchema


class Boom(Exception):
    pass


def stored_events(engine: Engine) -> list[tuple[str, str, int]]:
    with read_transaction(engine) as connection:
        rows = connection.execute(
            select(events.c.kind, events.c.form_key, events.c.record_id).order_by(events.c.id)
        )
        return [(row.kind, row.form_key, row.record_id) for row in rows]


def audit_count(engine: Engine) -> int:
    with read_transaction(engine) as connection:
        return len(connection.execute(select(audit_log.c.id)).all())


def test_writes_across_forms_in_a_unit_commit_together_with_their_events(
    service: RecordService, people: People, engine: Engine
) -> None:
    with unit_of_work(engine):
        account = service.create(people.alice, "account", {"name": "Acme"})
        person = service.create(people.alice, "person", {"name": "Li", "account": account["id"]})
        service.update(people.alice, "account", account["id"], {"level": "A"}, expected_version=1)
    assert stored_events(engine) == [
        ("created", "account", account["id"]),
        ("created", "person", person["id"]),
        ("updated", "account", account["id"]),
    ]
    assert service.get(people.alice, "account", account["id"])["level"] == "A"


def test_a_failure_in_a_unit_rolls_back_every_write_and_event(
    service: RecordService, people: People, engine: Engine
) -> None:
    def two_writes_then_a_failure() -> None:
        with unit_of_work(engine):
            account = service.create(people.alice, "account", {"name": "Acme"})
            service.create(people.alice, "person", {"name": "Li", "account": account["id"]})
            raise Boom

    with pytest.raises(Boom):
        two_writes_then_a_failure()
    assert service.find(people.alice, "account").rows == []
    assert service.find(people.alice, "person").rows == []
    assert stored_events(engine) == []
    assert audit_count(engine) == 0


def test_a_refused_write_caught_inside_a_unit_leaves_the_others(
    service: RecordService, people: People, engine: Engine
) -> None:
    with unit_of_work(engine):
        kept = service.create(people.alice, "account", {"name": "Kept"})
        with pytest.raises(ValidationFailed):
            service.create(people.alice, "account", {"name": "Bad", "code": "not a code"})
    assert [row["name"] for row in service.find(people.alice, "account").rows] == ["Kept"]
    assert stored_events(engine) == [("created", "account", kept["id"])]


def test_each_write_in_a_unit_keeps_its_own_permissions(
    service: RecordService, people: People, engine: Engine
) -> None:
    mine = service.create(people.bob, "account", {"name": "Bob's"})

    def create_then_touch_bobs() -> None:
        with unit_of_work(engine):
            service.create(people.alice, "account", {"name": "Alice's"})
            service.update(people.alice, "account", mine["id"], {"level": "A"}, expected_version=1)

    with pytest.raises(RecordNotFound):
        create_then_touch_bobs()
    assert [row["name"] for row in service.find(people.admin, "account").rows] == ["Bob's"]


def test_every_kind_of_change_leaves_an_event_with_its_values(
    service: RecordService, people: People, engine: Engine
) -> None:
    account = service.create(people.alice, "account", {"name": "Acme", "credit": "12.50"})
    service.update(people.alice, "account", account["id"], {"level": "B"}, expected_version=1)
    service.delete(people.alice, "account", account["id"])
    service.restore(people.alice, "account", account["id"])
    assert [kind for kind, _form, _id in stored_events(engine)] == [
        "created",
        "updated",
        "deleted",
        "restored",
    ]
    received: list[Event] = []
    Relay(engine, {"all": lambda event, key: received.append(event)}).deliver()
    assert received == []  # a subscriber is owed only the events after it joined


def test_deleting_with_a_cascade_leaves_an_event_for_each_record(
    service: RecordService, people: People, engine: Engine
) -> None:
    account = service.create(people.alice, "account", {"name": "Acme"})
    person = service.create(people.alice, "person", {"name": "Li", "account": account["id"]})
    service.delete(people.alice, "account", account["id"])
    assert stored_events(engine)[-2:] == [
        ("deleted", "person", person["id"]),
        ("deleted", "account", account["id"]),
    ]


def test_an_update_event_carries_the_changed_fields_old_and_new(
    engine: Engine, schema: AppSchema, people: People
) -> None:
    received: list[Event] = []
    relay = Relay(engine, {"watcher": lambda event, key: received.append(event)})
    service = RecordService(engine, schema, relay=relay)
    account = service.create(people.alice, "account", {"name": "Acme", "since": "2026-01-02"})
    service.update(people.alice, "account", account["id"], {"name": "Acme Ltd"}, expected_version=1)
    created, updated = received
    assert (created.kind, created.record["name"], created.record["since"]) == (
        EventKind.CREATED,
        "Acme",
        "2026-01-02",
    )
    assert updated.changes["name"] == ("Acme", "Acme Ltd")
    assert "level" not in updated.changes
    assert updated.user_id == people.alice.user_id
