"""Each trigger sets its rule off, and only it; the condition decides whether actions run."""

from __future__ import annotations

from rules_support import MakeRules

from formflow.records.access import Actor

STAMP_ON_CREATE = """\
key: stamp_new
label: Stamp new customers
form: customer
trigger: {type: created}
condition: "level != 'b'"
actions:
  - set: {note: welcome}
"""


def test_a_created_record_sets_off_its_rule(make_rules: MakeRules) -> None:
    rules = make_rules(stamp_new=STAMP_ON_CREATE)
    customer = rules.create("customer", {"name": "Acme", "level": "a"})
    assert rules.get("customer", customer["id"])["note"] == "welcome"
    [run] = rules.runs(automation_key="stamp_new")
    assert (run.status, run.trigger, run.record_id) == ("done", "created", customer["id"])
    assert run.changes == [
        {"action": "set", "form": "customer", "id": customer["id"], "fields": ["note"]}
    ]


def test_a_false_condition_runs_nothing_and_logs_nothing(make_rules: MakeRules) -> None:
    rules = make_rules(stamp_new=STAMP_ON_CREATE)
    customer = rules.create("customer", {"name": "Acme", "level": "b"})
    assert rules.get("customer", customer["id"])["note"] is None
    assert rules.runs() == []


def test_an_updated_record_sets_off_an_update_rule(make_rules: MakeRules) -> None:
    rules = make_rules(
        count=(
            "key: count\nlabel: Count\nform: customer\ntrigger: {type: updated}\n"
            "condition: \"'name' in old\"\n"
            "actions:\n  - action: stamp\n    params: {mark: renamed}\n"
        )
    )
    customer = rules.create("customer", {"name": "Acme"})
    assert rules.plugin.stamped == []
    rules.update("customer", customer["id"], {"name": "Acme Ltd"})
    rules.update("customer", customer["id"], {"note": "just a note"})
    assert rules.plugin.stamped == [("customer", customer["id"], "renamed")]


def test_deleted_and_restored_records_set_off_their_rules(make_rules: MakeRules) -> None:
    rules = make_rules(
        gone=(
            "key: gone\nlabel: Gone\nform: customer\ntrigger: {type: deleted}\n"
            'actions:\n  - action: stamp\n    params: {mark: "deleted"}\n'
        ),
        back=(
            "key: back\nlabel: Back\nform: customer\ntrigger: {type: restored}\n"
            "actions:\n  - set: {note: restored}\n"
        ),
    )
    customer = rules.create("customer", {"name": "Acme"})
    rules.records.delete(Actor.system(), "customer", customer["id"])
    assert rules.plugin.stamped == [("customer", customer["id"], "deleted")]
    rules.records.restore(Actor.system(), "customer", customer["id"])
    assert rules.get("customer", customer["id"])["note"] == "restored"
    assert [run.automation_key for run in rules.runs()] == ["back", "gone"]


WON = """\
key: won
label: Won
form: opportunity
trigger: {type: field_changed, fields: [stage], from: open, to: won}
actions:
  - action: stamp
    params: {mark: won}
"""


def test_a_field_change_with_from_and_to_fires_only_for_that_change(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(won=WON)
    deal = rules.create("opportunity", {"name": "Big deal"})
    other = rules.create("opportunity", {"name": "Lost deal"})
    rules.update("opportunity", deal["id"], {"amount": "100"})
    rules.update("opportunity", other["id"], {"stage": "lost"})
    rules.update("opportunity", other["id"], {"stage": "won"})  # from lost, not open
    rules.update("opportunity", deal["id"], {"stage": "won"})
    assert rules.plugin.stamped == [("opportunity", deal["id"], "won")]


def test_a_field_change_rule_reads_old_values(make_rules: MakeRules) -> None:
    rules = make_rules(
        grew=(
            "key: grew\nlabel: Grew\nform: opportunity\n"
            "trigger: {type: field_changed, fields: [amount]}\n"
            'condition: "old.amount is not none and amount > old.amount * 2"\n'
            "actions:\n  - action: stamp\n    params: {mark: doubled}\n"
        )
    )
    deal = rules.create("opportunity", {"name": "Deal", "amount": "100"})
    rules.update("opportunity", deal["id"], {"amount": "150"})
    rules.update("opportunity", deal["id"], {"amount": "400"})
    assert rules.plugin.stamped == [("opportunity", deal["id"], "doubled")]


def test_entering_a_workflow_node_and_the_end_of_an_approval_set_off_rules(
    make_rules: MakeRules,
) -> None:
    rules = make_rules(
        waiting=(
            "key: waiting\nlabel: Waiting\nform: transfer\n"
            "trigger: {type: workflow_entered, workflow: transfer_approval, node: review}\n"
            "actions:\n  - action: stamp\n    params: {mark: review}\n"
        ),
        approved=(
            "key: approved\nlabel: Approved\nform: transfer\n"
            "trigger: {type: approval_ended, workflow: transfer_approval, outcome: approved}\n"
            "actions:\n  - action: stamp\n    params: {mark: approved}\n"
        ),
    )
    ann = Actor(rules.users["ann"], frozenset({"staff"}))
    transfer = rules.create("transfer", {"reason": "moving", "to_owner": rules.users["bob"]}, ann)
    rules.flows.submit(ann, "transfer_approval", transfer["id"])
    assert rules.plugin.stamped == [("transfer", transfer["id"], "review")]
    [task] = rules.flows.open_tasks_of(rules.users["max"])
    rules.flows.decide(Actor(rules.users["max"], frozenset({"manager"})), task.id, "approve")
    assert rules.plugin.stamped[-1] == ("transfer", transfer["id"], "approved")
    assert rules.runs(automation_key="approved")[0].trigger == (
        "approval_ended transfer_approval approved"
    )
