"""The automations take a round of events at once, with the effects of one at a time."""

from __future__ import annotations

from rules_support import MakeRules, Rules
from sqlalchemy import event, insert, select, update

from formflow.automations.engine import SUBSCRIBER
from formflow.events import Event
from formflow.notifications import Notifications
from formflow.records.unit import unit_of_work
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import event_deliveries, events, user_roles

COUNT = """\
key: count_new
label: Count every new customer once
form: customer
trigger: {type: created}
actions:
  - action: update_records
    params:
      form: customer
      ids: id
      map: {touches: "(touches or 0) + 1"}
"""

STAMP = """\
key: stamp_new
label: Stamp new customers
form: customer
trigger: {type: created}
actions:
  - action: stamp
    params: {mark: new}
"""

NOTE_VIP = """\
key: note_vip
label: Note the VIPs
form: customer
trigger: {type: field_changed, fields: [level], to: [vip]}
condition: "10 / touches > 1"
actions:
  - set: {note: "VIP since {{ today }}"}
"""

LOOP = """\
key: count_touches
label: Every update counts itself (a loop)
form: customer
trigger: {type: updated}
actions:
  - action: update_records
    params:
      form: customer
      ids: id
      map: {touches: "(touches or 0) + 1"}
"""

TELL = """\
key: tell_staff
label: Tell the staff of new customers
form: customer
trigger: {type: created}
actions:
  - action: notify
    params: {roles: [staff], title: "New: {{ name }}"}
"""

NAMES = ("One", "Two", "Three")


def create_in_one_round(rules: Rules, **values: object) -> list[int]:
    """Three customers created in one unit: their three events make one round."""
    with unit_of_work(rules.engine):
        return [rules.create("customer", {"name": name, **values})["id"] for name in NAMES]


def done_runs(rules: Rules, automation_key: str) -> list[int | None]:
    """The records a rule's runs did their work on, in the order they ran."""
    runs = rules.runs(automation_key=automation_key)
    return [run.record_id for run in reversed(runs) if run.status == "done"]


def owe_again(rules: Rules) -> None:
    """Every event owed to the automations once more, as when a worker died after their
    runs committed and before it removed their deliveries."""
    with write_transaction(rules.engine) as connection:
        ids = connection.execute(select(events.c.id).order_by(events.c.id)).scalars().all()
        connection.execute(
            insert(event_deliveries),
            [{"subscriber": SUBSCRIBER, "event_id": event_id, "attempts": 0} for event_id in ids],
        )


def test_a_round_of_events_runs_each_rule_once_per_event_in_order(make_rules: MakeRules) -> None:
    rules = make_rules(count_new=COUNT, stamp_new=STAMP)
    ids = create_in_one_round(rules)
    assert [rules.get("customer", i)["touches"] for i in ids] == [1, 1, 1]
    assert rules.plugin.stamped == [("customer", i, "new") for i in ids]
    assert done_runs(rules, "count_new") == ids
    assert done_runs(rules, "stamp_new") == ids
    assert rules.relay.owed(SUBSCRIBER) == 0


def test_a_round_logs_each_run_with_its_own_event(make_rules: MakeRules) -> None:
    rules = make_rules(stamp_new=STAMP)
    ids = create_in_one_round(rules)
    with read_transaction(rules.engine) as connection:
        event_of = dict(connection.execute(select(events.c.record_id, events.c.id)).all())
    runs = rules.runs(automation_key="stamp_new")
    assert {run.record_id: run.event_id for run in runs} == {i: event_of[i] for i in ids}


def test_a_rules_error_on_one_event_of_a_round_is_logged_on_it_alone(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(note_vip=NOTE_VIP)
    first, second, third = ids = create_in_one_round(rules, touches=1)
    rules.update("customer", second, {"touches": 0})  # 10 / 0: the condition fails
    with unit_of_work(rules.engine):
        for record_id in ids:
            rules.update("customer", record_id, {"level": "vip"})
    assert [rules.get("customer", i)["note"] is not None for i in ids] == [True, False, True]
    assert done_runs(rules, "note_vip") == [first, third]
    [failed] = [run for run in rules.runs(automation_key="note_vip") if run.status == "error"]
    assert failed.record_id == second
    assert rules.relay.owed(SUBSCRIBER) == 0  # the rule's error is not retried


def test_a_run_that_raises_leaves_the_others_of_its_round_done_once(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(count_new=COUNT, stamp_new=STAMP)
    rules.plugin.fails_on = "Two"
    first, second, _third = ids = create_in_one_round(rules)
    assert rules.relay.owed(SUBSCRIBER) > 0  # Two backs off; what follows waits behind it
    assert done_runs(rules, "stamp_new") == [first]

    rules.plugin.fails_on = None
    with write_transaction(rules.engine) as connection:  # as when the back-off has run out
        connection.execute(update(event_deliveries).values(available_at=None))
    rules.relay.deliver()
    assert rules.relay.owed(SUBSCRIBER) == 0
    assert [rules.get("customer", i)["touches"] for i in ids] == [1, 1, 1]
    assert done_runs(rules, "count_new") == ids
    assert done_runs(rules, "stamp_new") == ids
    [failed] = [run for run in rules.runs(automation_key="stamp_new") if run.status == "error"]
    assert (failed.record_id, failed.error) == (second, "RuntimeError: the stamp machine jammed")


def test_a_round_handed_over_again_after_a_crash_changes_nothing(make_rules: MakeRules) -> None:
    rules = make_rules(count_new=COUNT, stamp_new=STAMP)
    ids = create_in_one_round(rules)
    owe_again(rules)
    rules.relay.deliver()
    assert rules.relay.owed(SUBSCRIBER) == 0
    assert [rules.get("customer", i)["touches"] for i in ids] == [1, 1, 1]
    assert rules.plugin.stamped == [("customer", i, "new") for i in ids]
    assert len(rules.runs()) == 6


def test_a_round_partly_done_before_runs_only_the_rest(make_rules: MakeRules) -> None:
    rules = make_rules(count_new=COUNT)
    rules.relay.dispatch = lambda: 0  # nothing delivered after the commit: by hand, below
    ids = create_in_one_round(rules)
    with read_transaction(rules.engine) as connection:
        rows = connection.execute(select(events).order_by(events.c.id)).all()
    deliveries = [(event, event.key(SUBSCRIBER)) for event in map(Event.from_row, rows)]
    rules.automations.handle(*deliveries[0])  # one event done before a crash
    rules.automations.handle_many(deliveries)
    assert [rules.get("customer", i)["touches"] for i in ids] == [1, 1, 1]
    assert done_runs(rules, "count_new") == ids


def test_chains_in_a_round_are_stopped_at_the_depth_limit_each(make_rules: MakeRules) -> None:
    rules = make_rules(max_depth=3, count_touches=LOOP)
    ids = create_in_one_round(rules)
    with unit_of_work(rules.engine):
        for record_id in ids:
            rules.update("customer", record_id, {"note": "go"})
    assert [rules.get("customer", i)["touches"] for i in ids] == [3, 3, 3]
    for record_id in ids:
        runs = rules.runs(automation_key="count_touches", record_id=record_id)
        assert sorted(run.status for run in runs) == ["done", "done", "done", "stopped"]


def test_a_rounds_notify_runs_look_the_role_up_once(make_rules: MakeRules) -> None:
    rules = make_rules(tell_staff=TELL)
    asked: list[str] = []

    def role_lookups(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if user_roles.name in statement:
            asked.append(statement)

    event.listen(rules.engine, "before_cursor_execute", role_lookups)
    try:
        create_in_one_round(rules)
    finally:
        event.remove(rules.engine, "before_cursor_execute", role_lookups)
    assert len(asked) == 1
    with rules.engine.connect() as connection:
        for name in ("ann", "bob"):
            told = Notifications(rules.engine).list_for(connection, rules.users[name])
            assert sorted(found.title for found in told) == [f"New: {n}" for n in sorted(NAMES)]
