"""The agenda: a form's ``agenda`` items make its records due for the user they name.

Due means the date has come (or comes within ``ahead_days``) and the record does not match
``done``; a reader sees only what their read scope reaches, earliest first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, event

from formflow import accounts
from formflow.definitions import load_app
from formflow.errors import DefinitionErrors
from formflow.records.access import Actor
from formflow.records.agenda import due_records
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.tables import AppSchema
from support import MINIMAL_APP_YAML, MINIMAL_FORM_YAML, AppWriter

TASK_YAML = """\
key: task
label: {zh: 任务, en: Task}
title_field: name
owner_field: owner
fields:
  - {key: name, type: text, label: Name, required: true}
  - {key: due, type: date, label: Due}
  - {key: remind_at, type: datetime, label: Remind at}
  - {key: owner, type: user, label: Owner}
  - key: status
    type: select
    label: Status
    default: open
    options: [{value: open, label: Open}, {value: done, label: Done}]
agenda:
  - key: due
    label: {zh: 待办, en: Task due}
    date: due
    user: owner
    done: {field: status, op: eq, value: done}
  - {key: remind, label: Reminder, date: remind_at, user: owner, ahead_days: 2}
permissions:
  staff: {create: all, read: own, update: own, delete: own}
"""

TODAY = date(2026, 12, 4)


@pytest.fixture
def service(engine: Engine, write_app: AppWriter) -> RecordService:
    app = load_app(write_app(forms={"task": TASK_YAML}))
    schema = AppSchema(app)
    schema.metadata.create_all(engine)
    return RecordService(engine, schema)


@pytest.fixture
def staff(engine: Engine, service: RecordService) -> tuple[Actor, Actor]:
    actors = []
    with write_transaction(engine) as connection:
        for name in ("ann", "ben"):
            user_id = accounts.create_user(
                connection, name, None, password_hash="x", roles={"demo": ["staff"]}
            )
            user = accounts.get_user(connection, user_id)
            assert user is not None
            actors.append(accounts.actor_for(connection, user, "demo"))
    return actors[0], actors[1]


def add(service: RecordService, actor: Actor, name: str, **values: object) -> int:
    record = service.create(actor, "task", {"name": name, "owner": actor.user_id, **values})
    return int(record["id"])


def test_due_and_overdue_records_come_earliest_first_until_done(
    service: RecordService, staff: tuple[Actor, Actor]
) -> None:
    ann, ben = staff
    late = add(service, ann, "late", due="2026-12-01")
    today = add(service, ann, "today", due="2026-12-04")
    add(service, ann, "tomorrow", due="2026-12-05")
    add(service, ann, "finished", due="2026-12-02", status="done")
    add(service, ann, "undated")
    add(service, ben, "ben's", due="2026-12-01")
    found = due_records(service, ann, today=TODAY)
    assert [(e.record_id, e.title, e.overdue) for e in found] == [
        (late, "late", True),
        (today, "today", False),
    ]
    assert found[0].item.key == "due"
    assert found[0].due == date(2026, 12, 1)
    service.update(ann, "task", late, {"status": "done"}, expected_version=1)
    assert [e.record_id for e in due_records(service, ann, today=TODAY)] == [today]


def test_ahead_days_bring_date_times_in_early_and_limit_bounds_each_item(
    service: RecordService, staff: tuple[Actor, Actor]
) -> None:
    ann, _ben = staff
    soon = add(service, ann, "soon", remind_at=datetime(2026, 12, 6, 23, 0, tzinfo=UTC))
    add(service, ann, "later", remind_at=datetime(2026, 12, 7, 0, 30, tzinfo=UTC))
    found = due_records(service, ann, today=TODAY)
    assert [(e.record_id, e.item.key, e.due) for e in found] == [
        (soon, "remind", date(2026, 12, 6))
    ]
    for day in range(1, 4):
        add(service, ann, f"late {day}", due=f"2026-11-0{day}")
    assert (
        len([e for e in due_records(service, ann, today=TODAY, limit=2) if e.item.key == "due"])
        == 2
    )


def test_a_user_sees_no_agenda_of_a_form_they_cannot_read(
    service: RecordService, staff: tuple[Actor, Actor]
) -> None:
    ann, _ben = staff
    add(service, ann, "late", due="2026-12-01")
    stranger = Actor(user_id=ann.user_id, roles=frozenset({"manager"}))
    assert due_records(service, stranger, today=TODAY) == []
    assert due_records(service, Actor.system(), today=TODAY) == []


def test_the_loader_indexes_each_items_user_and_date(write_app: AppWriter) -> None:
    form = load_app(write_app(forms={"task": TASK_YAML})).form("task")
    assert {index.fields for index in form.indexes} >= {("owner", "due"), ("owner", "remind_at")}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("{key: a, label: A, date: name, user: owner}", "an agenda needs a date or date-time"),
        ("{key: a, label: A, date: due, user: name}", "an agenda needs a single user field"),
        ("{key: a, label: A, date: dew, user: owner}", "unknown field 'dew'"),
        (
            "{key: a, label: A, date: due, user: owner, done: {field: stat, op: eq, value: x}}",
            "done: unknown field 'stat'",
        ),
    ],
)
def test_agenda_mistakes_are_named_at_their_place(
    write_app: AppWriter, item: str, message: str
) -> None:
    head = TASK_YAML.split("agenda:")[0]
    text = (
        head
        + "agenda:\n  - "
        + item
        + "\n"
        + TASK_YAML.split("permissions:")[1].join(["permissions:", ""])
    )
    with pytest.raises(DefinitionErrors) as raised:
        load_app(write_app(forms={"task": text}))
    assert message in str(raised.value)
    assert "forms/task.yaml:" in str(raised.value)


def test_menu_orders_and_groups_forms_and_unlisted_ones_follow(write_app: AppWriter) -> None:
    app_yaml = MINIMAL_APP_YAML + "menu:\n  - forms: [task]\n  - {label: Admin, forms: [item]}\n"
    note = MINIMAL_FORM_YAML.replace("key: item", "key: note")
    app = load_app(
        write_app(
            app_yaml,
            forms={"item": MINIMAL_FORM_YAML, "note": note, "task": TASK_YAML},
        )
    )
    assert [(g.label.text("en") if g.label else None, g.forms) for g in app.menu_groups()] == [
        (None, ("task",)),
        ("Admin", ("item",)),
        (None, ("note",)),
    ]


def test_menu_names_only_forms_of_the_app_once(write_app: AppWriter) -> None:
    app_yaml = MINIMAL_APP_YAML + "menu:\n  - forms: [item, itme, item]\n"
    with pytest.raises(DefinitionErrors) as raised:
        load_app(write_app(app_yaml))
    text = str(raised.value)
    assert "app.yaml:" in text
    assert "unknown form 'itme'; did you mean 'item'?" in text
    assert "form 'item' is already in the menu" in text


def test_a_card_names_fields_of_the_form_holding_single_values(write_app: AppWriter) -> None:
    card = "  card: {title: nme, badges: [status]}\n"
    text = TASK_YAML.replace("agenda:", "list:\n" + card + "agenda:", 1)
    with pytest.raises(DefinitionErrors) as raised:
        load_app(write_app(forms={"task": text}))
    assert "unknown field 'nme'" in str(raised.value)
    good = TASK_YAML.replace("agenda:", "list:\n  card: {subtitle: due, badges: [status]}\nagenda:")
    card_view = load_app(write_app(forms={"task": good})).form("task").list_view.card
    assert card_view is not None
    assert card_view.fields == ("name", "due", "status")


def test_a_rollup_of_no_date_cannot_make_records_due(write_app: AppWriter) -> None:
    counted = TASK_YAML.replace(
        "  - {key: owner, type: user, label: Owner}\n",
        "  - {key: owner, type: user, label: Owner}\n"
        "  - {key: parent, type: link, label: Parent, form: task}\n"
        "  - {key: children, type: rollup, label: Children, form: task, link: parent,"
        " aggregate: count}\n",
    ).replace("date: remind_at", "date: children")
    with pytest.raises(DefinitionErrors) as raised:
        load_app(write_app(forms={"task": counted}))
    assert "'children' is a rollup of no date" in str(raised.value)


def test_each_items_query_is_served_by_the_user_and_date_index(
    engine: Engine, service: RecordService, staff: tuple[Actor, Actor]
) -> None:
    """What keeps Today fast at a million records: SQLite plans each item's query on the
    (user, date) index the loader added, not a scan of the table."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan is read from SQLite's EXPLAIN QUERY PLAN")
    ann, _ben = staff
    add(service, ann, "late", due="2026-12-01")
    seen: list[tuple[str, object]] = []

    def keep(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "owner" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        due_records(service, ann, today=TODAY)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert seen
    with engine.connect() as connection:
        for statement, parameters in seen:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            details = " ".join(str(row[-1]) for row in plan)
            assert "USING INDEX" in details, details
            assert "SCAN " not in details.replace("SCAN CONSTANT", ""), details
