"""Following a record: followers are told of its changes and its approval's steps, after
the change commits, once per event, never of their own change; a write nobody follows
owes the subscriber nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from flow_people import FLOWS_DIR, Staff, stamp_action
from sqlalchemy import Engine, event, func, select

from formflow import accounts
from formflow.definitions import load_app
from formflow.errors import RecordNotFound
from formflow.events import Relay
from formflow.notifications import Notifications
from formflow.notifications.follows import (
    FOLLOWS,
    Followers,
    follow,
    followed,
    is_following,
    unfollow,
)
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import event_deliveries, events
from formflow.storage.tables import AppSchema
from formflow.storage.versions import read_app_files
from formflow.workflows.service import WorkflowService


@pytest.fixture
def notes(engine: Engine) -> Notifications:
    return Notifications(engine)


@pytest.fixture
def relay(engine: Engine, records: RecordService, notes: Notifications) -> Relay:
    app = records.app
    told = Followers(
        engine, notes, lambda _a, form: app.forms.get(form), records_of=lambda _a: records
    )
    return Relay(engine, {FOLLOWS: told})


@pytest.fixture
def watched(engine: Engine, schema: AppSchema, relay: Relay) -> RecordService:
    return RecordService(engine, schema, relay=relay, subscriber_checks={FOLLOWS: followed})


def kinds(engine: Engine, notes: Notifications, user_id: int | None) -> list[str]:
    assert user_id is not None
    with engine.connect() as connection:
        return [
            n.title for n in reversed(notes.list_for(connection, user_id)) if n.kind == "follow"
        ]


def test_followers_are_told_of_changes_once_and_not_of_their_own(
    engine: Engine, watched: RecordService, notes: Notifications, relay: Relay, staff: Staff
) -> None:
    record = watched.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    assert follow(watched, staff.erin, "expense", record["id"])
    assert not follow(watched, staff.erin, "expense", record["id"])  # once is enough
    assert follow(watched, staff.rita, "expense", record["id"])
    assert is_following(watched, staff.erin, "expense", record["id"])
    watched.update(
        staff.rita, "expense", record["id"], {"amount": 600}, expected_version=record["version"]
    )
    assert kinds(engine, notes, staff.erin.user_id) == ["Changed: %(form)s record %(record)s"]
    assert kinds(engine, notes, staff.rita.user_id) == []  # her own change
    # the event handed over again (a retried job) tells nobody twice
    with engine.connect() as connection:
        event = connection.execute(select(events).order_by(events.c.id.desc())).first()
    assert event is not None
    from formflow.events.outbox import Event

    relay.subscribers[FOLLOWS](Event.from_row(event), Event.from_row(event).key(FOLLOWS))
    assert len(kinds(engine, notes, staff.erin.user_id)) == 1
    assert unfollow(watched, staff.erin, "expense", record["id"])
    watched.delete(staff.rita, "expense", record["id"])
    assert len(kinds(engine, notes, staff.erin.user_id)) == 1


def edit(watched: RecordService, staff: Staff, record_id: int, **values: object) -> None:
    record = watched.get(staff.rita, "expense", record_id)
    watched.update(staff.rita, "expense", record_id, values, expected_version=record["version"])


@pytest.mark.parametrize(
    ("follower", "is_active"),
    [
        ("erin", True),  # her department's manager, moved to no department
        ("fiona", False),  # finance, who reads everything, turned off
    ],
)
def test_a_follower_who_may_no_longer_read_the_record_is_told_nothing(
    engine: Engine,
    watched: RecordService,
    notes: Notifications,
    staff: Staff,
    follower: str,
    is_active: bool,
) -> None:
    actor = getattr(staff, follower)
    record = watched.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    follow(watched, actor, "expense", record["id"])
    with write_transaction(engine) as connection:
        accounts.update_user(
            connection,
            actor.user_id,
            display_name=follower,
            department_id=None,
            is_active=is_active,
            is_admin=False,
        )
    edit(watched, staff, record["id"], amount=600)
    assert kinds(engine, notes, actor.user_id) == []


def test_a_follower_is_not_told_the_names_of_fields_hidden_from_them(
    engine: Engine, schema: AppSchema, notes: Notifications, staff: Staff
) -> None:
    files = read_app_files(FLOWS_DIR)
    files["forms/expense.yaml"] = files["forms/expense.yaml"].replace(
        "finance: {create: none, read: all, update: none, delete: none}",
        "finance: {create: none, read: all, update: none, delete: none, fields: {note: hidden}}",
    )
    hiding = RecordService(engine, AppSchema(load_app(files)))
    told = Followers(
        engine, notes, lambda _a, form: hiding.app.forms.get(form), records_of=lambda _a: hiding
    )
    relay = Relay(engine, {FOLLOWS: told})
    watched = RecordService(
        engine, hiding.schema, relay=relay, subscriber_checks={FOLLOWS: followed}
    )
    record = watched.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    follow(watched, staff.fiona, "expense", record["id"])
    follow(watched, staff.erin, "expense", record["id"])
    edit(watched, staff, record["id"], amount=600, note="secret")
    with engine.connect() as connection:
        seen = {
            name: [n.params["changed"] for n in notes.list_for(connection, user_id or 0)]
            for name, user_id in (("fiona", staff.fiona.user_id), ("erin", staff.erin.user_id))
        }
    assert seen == {"fiona": [["amount"]], "erin": [["amount", "note"]]}


def test_a_follower_is_not_told_of_a_change_of_hidden_fields_only(
    engine: Engine, schema: AppSchema, notes: Notifications, staff: Staff
) -> None:
    files = read_app_files(FLOWS_DIR)
    files["forms/expense.yaml"] = files["forms/expense.yaml"].replace(
        "finance: {create: none, read: all, update: none, delete: none}",
        "finance: {create: none, read: all, update: none, delete: none, fields: {note: hidden}}",
    )
    hiding = RecordService(engine, AppSchema(load_app(files)))
    told = Followers(
        engine, notes, lambda _a, form: hiding.app.forms.get(form), records_of=lambda _a: hiding
    )
    relay = Relay(engine, {FOLLOWS: told.handle})
    watched = RecordService(
        engine, hiding.schema, relay=relay, subscriber_checks={FOLLOWS: followed}
    )
    record = watched.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    follow(watched, staff.fiona, "expense", record["id"])
    follow(watched, staff.erin, "expense", record["id"])
    edit(watched, staff, record["id"], note="secret")
    with engine.connect() as connection:
        seen = {
            name: [n.params["changed"] for n in notes.list_for(connection, user_id or 0)]
            for name, user_id in (("fiona", staff.fiona.user_id), ("erin", staff.erin.user_id))
        }
    assert seen == {"fiona": [], "erin": [["note"]]}


def test_a_write_nobody_follows_owes_nothing(
    engine: Engine, watched: RecordService, staff: Staff
) -> None:
    record = watched.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    watched.update(
        staff.rita, "expense", record["id"], {"amount": 600}, expected_version=record["version"]
    )
    with engine.connect() as connection:
        owed = connection.execute(select(func.count()).select_from(event_deliveries)).scalar()
    assert owed == 0


def test_only_a_reader_may_follow(watched: RecordService, staff: Staff) -> None:
    record = watched.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    with pytest.raises(RecordNotFound):
        follow(watched, staff.nina, "expense", record["id"] + 1000)


def test_followers_hear_of_the_approval(
    engine: Engine, watched: RecordService, notes: Notifications, staff: Staff
) -> None:
    flows = WorkflowService(watched, actions=[stamp_action([])])
    record = watched.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    follow(watched, staff.admin, "expense", record["id"])
    instance = flows.submit(staff.rita, "expense", record["id"])
    (task,) = [t for t in flows.tasks_of(instance.id) if t.status == "open"]
    flows.decide(staff.erin, task.id, "approve")
    titles = kinds(engine, notes, staff.admin.user_id)
    assert "Approval decided: %(form)s record %(record)s" in titles
    assert "Approval moved on: %(form)s record %(record)s" in titles


def test_a_decision_asks_once_whether_its_record_has_followers(
    engine: Engine, watched: RecordService, notes: Notifications, staff: Staff
) -> None:
    flows = WorkflowService(watched, actions=[stamp_action([])])
    record = watched.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    follow(watched, staff.admin, "expense", record["id"])
    instance = flows.submit(staff.rita, "expense", record["id"])
    (task,) = [t for t in flows.tasks_of(instance.id) if t.status == "open"]
    asked: list[str] = []

    def record_follow_checks(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "ff_record_follows" in statement and "EXISTS" in statement:  # not the telling
            asked.append(statement)

    event.listen(engine, "before_cursor_execute", record_follow_checks)
    try:
        flows.decide(staff.erin, task.id, "approve")
    finally:
        event.remove(engine, "before_cursor_execute", record_follow_checks)
    assert len(asked) == 1
    titles = kinds(engine, notes, staff.admin.user_id)  # yet told of each of its events
    assert "Approval decided: %(form)s record %(record)s" in titles
    assert "Approval moved on: %(form)s record %(record)s" in titles


def test_steps_tell_people_through_the_outbox_once(
    engine: Engine, schema: AppSchema, notes: Notifications, staff: Staff
) -> None:
    from formflow.events.outbox import Event
    from formflow.notifications.workflows import NOTICES, Notices, wants

    relay = Relay(engine, {NOTICES: Notices(notes)})
    relay.dispatch = lambda: None  # the job runner's part, done by hand below
    records = RecordService(engine, schema, relay=relay, subscriber_checks={NOTICES: wants})
    flows = WorkflowService(
        records, actions=[stamp_action([])], notifications=notes, tell_by_events=True
    )
    record = records.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    flows.submit(staff.rita, "expense", record["id"])
    assert kinds_of(engine, notes, staff.erin.user_id) == []  # not in the step itself
    assert relay.owed(NOTICES) == 1  # only the notice: the record's own events owe nothing
    relay.deliver()
    assert kinds_of(engine, notes, staff.erin.user_id) == ["task"]
    with engine.connect() as connection:
        row = connection.execute(
            select(events).where(events.c.kind == "notify").order_by(events.c.id.desc())
        ).first()
    assert row is not None
    again = Event.from_row(row)
    Notices(notes).handle(again, again.key(NOTICES))  # handed over again
    assert kinds_of(engine, notes, staff.erin.user_id) == ["task"]


def kinds_of(engine: Engine, notes: Notifications, user_id: int | None) -> list[str]:
    assert user_id is not None
    with engine.connect() as connection:
        return [n.kind for n in notes.list_for(connection, user_id)]
