"""Rules with ``timing: in_save`` set fields of the record inside the save that sets them
off: one write, one history entry, one event with the final values, one log row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rules_support import RULES_DIR, MakeRules, Rules, StampPlugin, rules_folder
from sqlalchemy import func, select

from formflow.automations.engine import event_rules_check, forms_with_event_rules
from formflow.definitions import load_app
from formflow.errors import DefinitionErrors, InSaveRuleFailed, ValidationFailed
from formflow.events import EventKind
from formflow.plugins import load_plugins
from formflow.records.access import Actor
from formflow.records.updating import Change
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import events
from support import counting_statements

WELCOME = """\
key: welcome
label: Welcome new customers
form: customer
timing: in_save
trigger: {type: created}
condition: "level == 'vip'"
actions:
  - set: {note: welcome}
"""

UPGRADED = """\
key: upgraded
label: Note an upgrade
form: customer
timing: in_save
trigger: {type: field_changed, fields: [level]}
condition: "old.level == 'b'"
actions:
  - action: update_records
    params: {form: customer, ids: id, map: {note: "'upgraded from ' ~ old.level ~ ' to ' ~ level"}}
"""

STAMPED = """\
key: stamped
label: Stamp the first contact
form: customer
timing: in_save
trigger: {type: created}
actions:
  - action: update_records
    params: {form: customer, ids: id, map: {last_follow_up_at: created_at}}
"""


def customer_events(rules: Rules, record_id: int) -> list[Any]:
    with read_transaction(rules.engine) as connection:
        return list(
            connection.execute(
                select(events.c.kind, events.c.data)
                .where(events.c.form_key == "customer", events.c.record_id == record_id)
                .order_by(events.c.id)
            )
        )


def test_a_created_record_is_written_once_with_the_value_its_rule_sets(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(welcome=WELCOME)
    with counting_statements(rules.engine) as statements:
        customer = rules.create("customer", {"name": "Acme", "level": "vip"})
    assert customer["note"] == "welcome"
    table = rules.records.schema.table("customer").name
    assert [s for s in statements if s.lstrip().startswith(f"INSERT INTO {table} ")]
    assert not [s for s in statements if s.lstrip().startswith(f"UPDATE {table} ")]
    [entry] = rules.records.history(Actor.system(), "customer", customer["id"])
    assert entry.changes["note"] == (None, "welcome")
    [(kind, data)] = customer_events(rules, customer["id"])
    assert (kind, data["record"]["note"]) == (EventKind.CREATED, "welcome")


def test_an_in_save_run_is_logged_once_and_not_run_again_after_the_save(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(welcome=WELCOME)
    customer = rules.create("customer", {"name": "Acme", "level": "vip"})
    [run] = rules.runs()
    assert (run.automation_key, run.status, run.record_id) == ("welcome", "done", customer["id"])
    assert run.trigger == "created in_save"
    assert run.changes == [
        {"action": "set", "form": "customer", "id": customer["id"], "fields": ["note"]}
    ]
    assert rules.get("customer", customer["id"])["version"] == 1


def test_a_false_condition_sets_nothing_and_logs_nothing(make_rules: MakeRules) -> None:
    rules = make_rules(welcome=WELCOME)
    customer = rules.create("customer", {"name": "Acme", "level": "a"})
    assert customer["note"] is None
    assert rules.runs() == []


def test_an_update_rule_reads_old_and_sets_in_the_same_version(make_rules: MakeRules) -> None:
    rules = make_rules(upgraded=UPGRADED)
    customer = rules.create("customer", {"name": "Acme", "level": "b"})
    updated = rules.update("customer", customer["id"], {"level": "a"})
    assert (updated["note"], updated["version"]) == ("upgraded from b to a", 2)
    rules.update("customer", customer["id"], {"level": "vip"})
    assert rules.get("customer", customer["id"])["note"] == "upgraded from b to a"
    [(_, _), (kind, data)] = customer_events(rules, customer["id"])[:2]
    assert kind == EventKind.UPDATED
    assert data["changes"]["note"] == [None, "upgraded from b to a"]
    assert [run.record_id for run in rules.runs(automation_key="upgraded")] == [customer["id"]]


def test_a_rule_sets_a_readonly_field_that_the_user_still_may_not(make_rules: MakeRules) -> None:
    rules = make_rules(stamped=STAMPED)
    ann = Actor(rules.users["ann"], frozenset({"staff"}))
    customer = rules.records.create(ann, "customer", {"name": "Acme"})
    assert customer["last_follow_up_at"] == rules.get("customer", customer["id"])["created_at"]
    with pytest.raises(ValidationFailed) as refused:
        rules.records.create(
            ann, "customer", {"name": "Other", "last_follow_up_at": "2026-01-01T09:00:00+08:00"}
        )
    assert list(refused.value.problems) == ["last_follow_up_at"]


def test_a_failing_in_save_rule_refuses_the_save_and_writes_nothing(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(
        broken=STAMPED.replace("key: stamped", "key: broken").replace(
            "last_follow_up_at: created_at", 'touches: "name + 1"'
        )
    )
    with pytest.raises(InSaveRuleFailed) as refused:
        rules.create("customer", {"name": "Acme"})
    assert refused.value.rule_key == "broken"
    assert "automation 'broken' could not run" in str(refused.value)
    with read_transaction(rules.engine) as connection:
        assert connection.execute(select(func.count()).select_from(events)).scalar() == 0
    assert rules.records.find(Actor.system(), "customer").rows == []
    assert rules.runs() == []


def test_a_value_a_rule_sets_that_does_not_fit_names_the_rule(make_rules: MakeRules) -> None:
    """A literal that can never fit is refused by ``validate``; emptying a required field
    is found only when the rule runs."""
    rules = make_rules(
        odd=WELCOME.replace("key: welcome", "key: odd").replace("{note: welcome}", "{name: null}")
    )
    with pytest.raises(InSaveRuleFailed) as refused:
        rules.create("customer", {"name": "Acme", "level": "vip"})
    assert refused.value.rule_key == "odd"
    assert rules.records.find(Actor.system(), "customer").rows == []


COUNTED = (
    (RULES_DIR / "forms" / "customer.yaml")
    .read_text("utf-8")
    .replace(
        "  - {key: note, type: text, label: Note}\n",
        "  - {key: note, type: text, label: Note, visible_if: \"level == 'vip'\"}\n"
        '  - {key: twice, type: formula, label: Twice, result: number, expression: "(touches or 0) * 2"}\n',
    )
)

TOUCHED = """\
key: touched
label: Count the first touch
form: customer
timing: in_save
trigger: {type: created}
actions:
  - set: {touches: 3, note: hidden unless vip}
"""


def test_what_reads_a_value_a_rule_sets_is_worked_out_with_it(make_rules: MakeRules) -> None:
    rules = make_rules(touched=TOUCHED, files={"forms/customer.yaml": COUNTED})
    plain = rules.create("customer", {"name": "Acme", "level": "a"})
    vip = rules.create("customer", {"name": "Bolt", "level": "vip"})
    assert [(c["touches"], c["twice"], c["note"]) for c in (plain, vip)] == [
        (3, 6, None),
        (3, 6, "hidden unless vip"),
    ]
    assert rules.get("customer", plain["id"])["twice"] == 6
    updated = rules.update("customer", plain["id"], {"touches": 5})
    assert (updated["twice"], updated["note"]) == (10, None)


def test_a_batch_create_runs_in_save_rules_on_each_record(make_rules: MakeRules) -> None:
    rules = make_rules(welcome=WELCOME)
    batch = rules.records.create_many(
        Actor.system(),
        "customer",
        [{"name": "Acme", "level": "vip"}, {"name": "Bolt", "level": "a"}],
    )
    assert [batch.created[i]["note"] for i in (0, 1)] == ["welcome", None]
    assert [run.record_id for run in rules.runs()] == [batch.created[0]["id"]]


def test_a_batch_update_runs_in_save_rules_on_each_record(make_rules: MakeRules) -> None:
    rules = make_rules(upgraded=UPGRADED)
    ids = [rules.create("customer", {"name": name, "level": "b"})["id"] for name in ("A", "B")]
    batch = rules.records.update_many(
        Actor.system(),
        "customer",
        [Change(ids[0], {"level": "a"}, 1), Change(ids[1], {"name": "C"}, 1)],
    )
    assert [batch.updated[i]["note"] for i in (0, 1)] == ["upgraded from b to a", None]
    assert [run.record_id for run in rules.runs(automation_key="upgraded")] == [ids[0]]


def test_a_batch_update_no_in_save_rule_watches_stays_one_batch(make_rules: MakeRules) -> None:
    rules = make_rules(upgraded=UPGRADED)
    ids = [rules.create("customer", {"name": f"N{n}", "level": "b"})["id"] for n in range(6)]

    def renamed(chosen: list[int]) -> int:
        changes = [Change(record_id, {"name": f"R{record_id}"}, 1) for record_id in chosen]
        with counting_statements(rules.engine) as statements:
            rules.records.update_many(Actor.system(), "customer", changes)
        return len(statements)

    assert renamed(ids[:2]) == renamed(ids[2:])


def test_rules_only_in_save_owe_the_automations_no_created_event(tmp_path: Path) -> None:
    after = (
        "key: after\nlabel: After\nform: customer\ntrigger: {type: field_changed, fields: [level]}"
        "\nactions:\n  - action: stamp\n    params: {mark: x}\n"
    )
    plugins = load_plugins(entry_points=False, extra=[StampPlugin()])
    app = load_app(
        rules_folder(tmp_path, {"welcome": WELCOME, "after": after}), toolkit=plugins.toolkit
    )
    wanted = event_rules_check(app)
    assert not wanted(None, app.key, "customer", 1, EventKind.CREATED)  # type: ignore[arg-type]
    assert wanted(None, app.key, "customer", 1, EventKind.UPDATED)  # type: ignore[arg-type]
    only_in_save = load_app(rules_folder(tmp_path / "b", {"welcome": WELCOME}))
    assert forms_with_event_rules(only_in_save) == frozenset()


HEAD = "key: rule\nlabel: Rule\nform: customer\ntiming: in_save\n"


def errors_of(tmp_path: Path, text: str) -> list[str]:
    folder = rules_folder(tmp_path, {"rule": text})
    plugins = load_plugins(entry_points=False, extra=[StampPlugin()])
    with pytest.raises(DefinitionErrors) as caught:
        load_app(folder, toolkit=plugins.toolkit)
    return [str(error).removeprefix(f"{folder}/automations/") for error in caught.value]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEAD + "trigger: {type: deleted}\nactions:\n  - set: {note: x}\n",
            "rule.yaml:5:17: an in_save rule runs inside a create or an update; 'deleted' is "
            "neither: give a created, updated or field_changed trigger, or leave timing out",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: update_records\n"
            "    params: {form: opportunity, ids: id, values: {name: x}}\n",
            "rule.yaml:8:20: an in_save rule sets fields of the record being saved, a "
            "'customer'; 'opportunity' is another form (leave timing out to change other "
            "records after the save)",
        ),
        (
            HEAD + "trigger: {type: created}\nactions:\n  - action: stamp\n    params: {mark: x}\n",
            "rule.yaml:7:13: an in_save rule only sets fields of the record being saved: use "
            "set, or update_records with form: customer and ids: id (leave timing out to run "
            "'stamp' after the save)",
        ),
    ],
    ids=["wrong trigger", "another form", "another action"],
)
def test_an_in_save_rule_that_reaches_beyond_its_save_is_refused_where_written(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert errors_of(tmp_path, text) == [expected]
