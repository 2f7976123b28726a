"""Followers and the workflow's notices take a round of events at once: the notifications
are those of one event at a time, each written once however often the round comes. On
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from flow_people import Staff, stamp_action
from sqlalchemy import Connection, Engine, delete, select, update

from formflow.events import Event, Relay
from formflow.notifications import Notifications
from formflow.notifications.follows import FOLLOWS, Followers, follow, followed
from formflow.notifications.workflows import NOTICES, Notices, wants
from formflow.records.service import RecordService
from formflow.records.unit import unit_of_work
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import event_deliveries, events, notifications
from formflow.storage.tables import AppSchema
from formflow.workflows.service import WorkflowService


class Names:
    """Who made a change, by name, as the followers' subscriber asks; fails on one
    person's changes while ``fails_for`` names them (a lookup that breaks)."""

    def __init__(self) -> None:
        self.fails_for: int | None = None

    def __call__(self, _connection: Connection, user_id: int) -> str | None:
        if user_id == self.fails_for:
            raise RuntimeError("the directory is down")
        return f"user {user_id}"


@pytest.fixture
def notes(engine: Engine) -> Notifications:
    return Notifications(engine)


@pytest.fixture
def names() -> Names:
    return Names()


@pytest.fixture
def told(records: RecordService, notes: Notifications, names: Names) -> Followers:
    app = records.app
    return Followers(
        records.engine,
        notes,
        lambda _a, form: app.forms.get(form),
        names=names,
        records_of=lambda _a: records,
    )


@pytest.fixture
def relay(engine: Engine, told: Followers) -> Relay:
    relay = Relay(engine, {FOLLOWS: told})
    relay.dispatch = lambda: None  # the job runner's part, done by hand in each test
    return relay


@pytest.fixture
def watched(engine: Engine, schema: AppSchema, relay: Relay) -> RecordService:
    return RecordService(engine, schema, relay=relay, subscriber_checks={FOLLOWS: followed})


def told_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """Every notification written, as what a reader sees of it, in a stable order."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                notifications.c.user_id,
                notifications.c.kind,
                notifications.c.title,
                notifications.c.body,
                notifications.c.params,
                notifications.c.record_id,
                notifications.c.cause_key,
            )
        ).all()
    return sorted((*row[:4], json.dumps(row.params, sort_keys=True), *row[5:]) for row in rows)


def owed_events(engine: Engine, subscriber: str) -> list[tuple[Event, str]]:
    """The events owed to ``subscriber``, in order, with their keys."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(events)
            .join(event_deliveries, event_deliveries.c.event_id == events.c.id)
            .where(event_deliveries.c.subscriber == subscriber)
            .order_by(events.c.id)
        ).all()
    return [(event, event.key(subscriber)) for event in map(Event.from_row, rows)]


def forget_notifications(engine: Engine) -> None:
    with write_transaction(engine) as connection:
        connection.execute(delete(notifications))


def same_as_one_at_a_time(
    engine: Engine, handle: Any, deliveries: Sequence[tuple[Event, str]]
) -> None:
    """``handle.handle_many(deliveries)`` writes what handling them one at a time wrote,
    and nothing more when the round comes again."""
    for event, key in deliveries:
        handle.handle(event, key)
    one_at_a_time = told_rows(engine)
    assert one_at_a_time  # someone was told something
    forget_notifications(engine)
    handle.handle_many(deliveries)
    assert told_rows(engine) == one_at_a_time
    handle.handle_many(deliveries)  # handed over again after a crash
    handle.handle_many(deliveries[1:])  # or in part
    assert told_rows(engine) == one_at_a_time


def change_three(watched: RecordService, staff: Staff) -> list[int]:
    """Three expenses of rita's, ray's and rita's, followed by erin and fiona, each changed
    by its owner, in one unit."""
    owners = (staff.rita, staff.ray, staff.rita)
    made = [
        watched.create(owner, "expense", {"title": f"Trip {n}", "amount": 100 * n})
        for n, owner in enumerate(owners, 1)
    ]
    for record in made:
        follow(watched, staff.erin, "expense", record["id"])
        follow(watched, staff.fiona, "expense", record["id"])
    with unit_of_work(watched.engine):
        for record, owner in zip(made, owners, strict=True):
            watched.update(
                owner,
                "expense",
                record["id"],
                {"amount": record["amount"] + 1},
                expected_version=record["version"],
            )
    return [record["id"] for record in made]


def test_followers_told_of_a_round_as_of_each_event_alone(
    engine: Engine, watched: RecordService, told: Followers, staff: Staff
) -> None:
    change_three(watched, staff)
    deliveries = owed_events(engine, FOLLOWS)
    assert len(deliveries) == 3
    same_as_one_at_a_time(engine, told, deliveries)


def test_followers_of_a_round_are_told_once_each_through_the_relay(
    engine: Engine, watched: RecordService, relay: Relay, staff: Staff
) -> None:
    ids = change_three(watched, staff)
    assert relay.deliver() == 3
    with engine.connect() as connection:
        told = connection.execute(select(notifications.c.user_id, notifications.c.record_id))
        pairs = sorted(told.all())
    readers = sorted([staff.erin.user_id, staff.fiona.user_id])
    assert pairs == sorted((user_id, i) for i in ids for user_id in readers)


def test_one_event_failing_in_a_round_loses_and_doubles_none_of_the_others(
    engine: Engine, watched: RecordService, relay: Relay, names: Names, staff: Staff
) -> None:
    first, second, third = change_three(watched, staff)
    names.fails_for = staff.ray.user_id  # the second change is ray's
    assert relay.deliver() == 1
    assert relay.owed(FOLLOWS) == 2  # the failing event backs off; the third waits behind it
    names.fails_for = None
    with write_transaction(engine) as connection:  # as when the back-off has run out
        connection.execute(update(event_deliveries).values(available_at=None))
    assert relay.deliver() == 2
    with engine.connect() as connection:
        told = connection.execute(select(notifications.c.record_id))
        counts = sorted(told.scalars().all())
    assert counts == sorted([first, first, second, second, third, third])


def test_notices_of_a_round_are_those_of_each_step_alone(
    engine: Engine, schema: AppSchema, notes: Notifications, staff: Staff
) -> None:
    notices = Notices(notes)
    relay = Relay(engine, {NOTICES: notices})
    relay.dispatch = lambda: None
    records = RecordService(engine, schema, relay=relay, subscriber_checks={NOTICES: wants})
    flows = WorkflowService(
        records, actions=[stamp_action([])], notifications=notes, tell_by_events=True
    )
    for n in (1, 2, 3):
        record = records.create(staff.rita, "expense", {"title": f"Trip {n}", "amount": 500})
        flows.submit(staff.rita, "expense", record["id"])
    deliveries = owed_events(engine, NOTICES)
    assert len(deliveries) == 3
    same_as_one_at_a_time(engine, notices, deliveries)
    forget_notifications(engine)
    assert relay.deliver() == 3
    assert len(told_rows(engine)) == 3  # erin, told once of each expense
