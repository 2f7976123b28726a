"""Runs happen once in effect per event and rule, and a rule that loops is stopped."""

from __future__ import annotations

from rules_support import MakeRules
from sqlalchemy import select

from formflow.automations.engine import SUBSCRIBER
from formflow.events import Event
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import events

STAMP = """\
key: stamp_new
label: Stamp new customers
form: customer
trigger: {type: created}
actions:
  - action: stamp
    params: {mark: new}
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


def test_an_event_handed_over_again_runs_nothing_twice(make_rules: MakeRules) -> None:
    rules = make_rules(stamp_new=STAMP)
    customer = rules.create("customer", {"name": "Acme"})
    with read_transaction(rules.engine) as connection:
        row = connection.execute(select(events).where(events.c.record_id == customer["id"])).one()
    event = Event.from_row(row)
    rules.automations.handle(event, event.key(SUBSCRIBER))  # as after a crash before the ack
    assert rules.plugin.stamped == [("customer", customer["id"], "new")]
    assert len(rules.runs()) == 1


def test_a_rule_that_sets_itself_off_is_stopped_at_the_depth_limit(make_rules: MakeRules) -> None:
    rules = make_rules(max_depth=3, count_touches=LOOP)
    customer = rules.create("customer", {"name": "Acme"})
    rules.update("customer", customer["id"], {"note": "go"})
    assert rules.get("customer", customer["id"])["touches"] == 3
    runs = rules.runs(automation_key="count_touches")
    assert [run.status for run in runs] == ["stopped", "done", "done", "done"]
    assert [run.depth for run in runs] == [3, 2, 1, 0]
    assert "set off by a chain of 3 automations" in runs[0].error


def test_the_log_is_read_per_rule_and_per_record(make_rules: MakeRules) -> None:
    rules = make_rules(stamp_new=STAMP)
    first = rules.create("customer", {"name": "One"})
    rules.create("customer", {"name": "Two"})
    assert len(rules.runs(automation_key="stamp_new")) == 2
    [run] = rules.runs(form_key="customer", record_id=first["id"])
    assert run.record_id == first["id"]
    assert isinstance(run.duration_ms, int)  # recorded; how long is for bench/


def test_a_condition_that_fails_is_logged_as_the_runs_error(make_rules: MakeRules) -> None:
    rules = make_rules(
        divide=(
            "key: divide\nlabel: Divide\nform: customer\ntrigger: {type: created}\n"
            'condition: "touches / 0 > 1"\n'
            "actions:\n  - set: {note: never}\n"
        )
    )
    customer = rules.create("customer", {"name": "Acme", "touches": "3"})
    assert rules.get("customer", customer["id"])["note"] is None
    [run] = rules.runs(automation_key="divide")
    assert (run.status, run.record_id) == ("error", customer["id"])
    assert "division by zero" in run.error
