"""A roll-up that moves because another record was written is an update of its record:
rules watching the roll-up field see it, with the from and to values, in the same unit."""

from __future__ import annotations

import pytest
from rules_support import SYSTEM, ZONE, MakeRules, Rules
from sqlalchemy import select

from formflow.automations.engine import SUBSCRIBER, forms_with_event_rules
from formflow.events import Event, EventKind
from formflow.records.service import RecordService
from formflow.records.unit import unit_of_work
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import events

CUSTOMER_WITH_ROLLUPS = """\
key: customer
label: Customer
title_field: name
owner_field: owner
fields:
  - {key: name, type: text, label: Name, required: true}
  - {key: owner, type: user, label: Owner}
  - {key: note, type: text, label: Note}
  - {key: touches, type: number, label: Touches}
  - {key: follow_ups, type: rollup, label: Follow-ups, form: follow_up, link: customer, aggregate: count}
  - key: last_follow_up_at
    type: rollup
    label: Last follow-up
    form: follow_up
    link: customer
    aggregate: max
    field: followed_at
permissions:
  staff: {create: all, read: all, update: all, delete: all}
  manager: {create: all, read: all, update: all, delete: all}
"""

FIRST_FOLLOW_UP = """\
key: first_follow_up
label: First follow-up
form: customer
trigger: {type: field_changed, fields: [follow_ups], from: 0, to: 1}
actions:
  - set: {note: followed up}
"""

LATEST_MOVED = """\
key: latest_moved
label: Latest follow-up moved
form: customer
trigger: {type: field_changed, fields: [last_follow_up_at]}
condition: "old.last_follow_up_at is not none"
actions:
  - action: stamp
    params: {mark: later}
"""


def _rules(make_rules: MakeRules, **automations: str) -> Rules:
    return make_rules(files={"forms/customer.yaml": CUSTOMER_WITH_ROLLUPS}, **automations)


def _customer_events(rules: Rules, customer_id: int) -> list[Event]:
    with read_transaction(rules.engine) as connection:
        rows = connection.execute(
            select(events)
            .where(events.c.form_key == "customer", events.c.record_id == customer_id)
            .order_by(events.c.id)
        )
        return [Event.from_row(row) for row in rows]


def test_a_rollup_moved_by_a_linked_write_sets_off_a_rule_on_its_field(
    make_rules: MakeRules,
) -> None:
    rules = _rules(make_rules, first_follow_up=FIRST_FOLLOW_UP)
    customer = rules.create("customer", {"name": "Acme"})
    rules.create("follow_up", {"summary": "call", "customer": customer["id"]})
    assert rules.get("customer", customer["id"])["note"] == "followed up"
    [run] = rules.runs(automation_key="first_follow_up")
    assert (run.status, run.record_id) == ("done", customer["id"])


def test_the_update_event_carries_the_rollups_from_and_to_values(make_rules: MakeRules) -> None:
    rules = _rules(make_rules, first_follow_up=FIRST_FOLLOW_UP)
    customer = rules.create("customer", {"name": "Acme"})
    rules.create("follow_up", {"summary": "call", "customer": customer["id"]})
    moved = [
        event
        for event in _customer_events(rules, customer["id"])
        if event.kind is EventKind.UPDATED and "follow_ups" in event.changes
    ]
    assert [event.changes["follow_ups"] for event in moved] == [(0, 1)]
    assert moved[0].record["follow_ups"] == 1
    assert moved[0].user_id is None  # nobody edited the customer


def test_a_rule_reads_the_rollups_old_value(make_rules: MakeRules) -> None:
    rules = _rules(make_rules, latest_moved=LATEST_MOVED)
    customer = rules.create("customer", {"name": "Acme"})
    first = {"summary": "a", "customer": customer["id"], "followed_at": "2026-12-01T09:00:00+08:00"}
    rules.create("follow_up", first)
    assert rules.plugin.stamped == []  # from nothing: the condition reads an empty old value
    later = {**first, "summary": "b", "followed_at": "2026-12-03T09:00:00+08:00"}
    rules.create("follow_up", later)
    assert rules.plugin.stamped == [("customer", customer["id"], "later")]


def test_a_write_that_leaves_the_rollup_where_it_was_sets_off_nothing(
    make_rules: MakeRules,
) -> None:
    rules = _rules(make_rules, first_follow_up=FIRST_FOLLOW_UP)
    customer = rules.create("customer", {"name": "Acme"})
    follow_up = rules.create("follow_up", {"summary": "call", "customer": customer["id"]})
    before = len(_customer_events(rules, customer["id"]))
    rules.update("follow_up", follow_up["id"], {"summary": "a longer call"})
    assert len(_customer_events(rules, customer["id"])) == before


def test_a_relinked_record_moves_both_rollups_and_both_rules_run(make_rules: MakeRules) -> None:
    rules = _rules(
        make_rules,
        counted=(
            "key: counted\nlabel: Counted\nform: customer\n"
            "trigger: {type: field_changed, fields: [follow_ups]}\n"
            "actions:\n  - action: stamp\n    params: {mark: moved}\n"
        ),
    )
    acme = rules.create("customer", {"name": "Acme"})
    globex = rules.create("customer", {"name": "Globex"})
    follow_up = rules.create("follow_up", {"summary": "call", "customer": acme["id"]})
    rules.update("follow_up", follow_up["id"], {"customer": globex["id"]})
    assert sorted(rules.plugin.stamped) == sorted(
        [
            ("customer", acme["id"], "moved"),
            ("customer", acme["id"], "moved"),
            ("customer", globex["id"], "moved"),
        ]
    )
    assert _customer_events(rules, acme["id"])[-1].changes["follow_ups"] == (1, 0)


def test_the_rollups_event_commits_and_rolls_back_with_the_write(make_rules: MakeRules) -> None:
    rules = _rules(make_rules, first_follow_up=FIRST_FOLLOW_UP)
    customer = rules.create("customer", {"name": "Acme"})
    before = len(_customer_events(rules, customer["id"]))

    def write_then_fail() -> None:
        with unit_of_work(rules.engine):
            rules.create("follow_up", {"summary": "call", "customer": customer["id"]})
            raise RuntimeError("the unit fails after the write")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert len(_customer_events(rules, customer["id"])) == before
    assert rules.runs() == []


def test_no_event_is_written_for_a_rollup_nobody_watches(make_rules: MakeRules) -> None:
    rules = _rules(  # rules on follow-ups only
        make_rules,
        noted=(
            "key: noted\nlabel: Noted\nform: follow_up\ntrigger: {type: created}\n"
            "actions:\n  - action: stamp\n    params: {mark: noted}\n"
        ),
    )
    records = RecordService(  # as an instance wires it: owed only the forms rules watch
        rules.engine,
        rules.records.schema,
        relay=rules.relay,
        timezone=ZONE,
        subscriber_forms={SUBSCRIBER: forms_with_event_rules(rules.app)},
    )
    customer = records.create(SYSTEM, "customer", {"name": "Acme"})
    records.create(SYSTEM, "follow_up", {"summary": "call", "customer": customer["id"]})
    assert [event.kind for event in _customer_events(rules, customer["id"])] == [EventKind.CREATED]
