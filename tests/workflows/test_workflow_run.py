"""The engine runs every node kind, approver rule and decision mode, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flow_people import Staff
from sqlalchemy import Engine, select

from formflow.errors import ValidationFailed
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.platform_tables import events
from formflow.workflows.errors import (
    AlreadySubmitted,
    CannotWithdraw,
    DelegationNotFound,
    InvalidDelegation,
    InvalidRejectTarget,
    NoApproverFound,
    NotSubmittable,
    NotSubmitter,
    NotYourTask,
    SelfApproval,
    TaskAlreadyDecided,
    WorkflowError,
)
from formflow.workflows.service import Instance, WorkflowService


def new(records: RecordService, actor: Actor, form: str = "expense", **values: Any) -> int:
    record = records.create(actor, form, {"title": "Trip", "amount": 500, **values})
    return int(record["id"])


def open_tasks(flows: WorkflowService, instance: Instance) -> dict[str, list[int | None]]:
    """Open task holders by node."""
    found: dict[str, list[int | None]] = {}
    for task in flows.tasks_of(instance.id):
        if task.status == "open":
            found.setdefault(task.node_key, []).append(task.user_id)
    return found


def task_of(flows: WorkflowService, actor: Actor) -> int:
    assert actor.user_id is not None
    (task,) = flows.open_tasks_of(actor.user_id)
    return task.id


def status(records: RecordService, record_id: int, form: str = "expense") -> Any:
    return records.get(Actor.system(), form, record_id)["status"]


def test_sequential_managers_then_finance_who_enters_the_invoice_number(
    records: RecordService, flows: WorkflowService, staff: Staff, engine: Engine
) -> None:
    record_id = new(records, staff.rita)
    instance = flows.submit(staff.rita, "expense", record_id, "please")
    assert status(records, record_id) == "pending"
    assert open_tasks(flows, instance) == {"managers": [staff.erin.user_id]}
    with pytest.raises(NotYourTask):
        flows.decide(staff.rita, task_of(flows, staff.erin), "approve")
    flows.decide(staff.erin, task_of(flows, staff.erin), "approve", comment="ok")
    assert open_tasks(flows, instance) == {"managers": [staff.mark.user_id]}
    instance = flows.decide(staff.mark, task_of(flows, staff.mark), "approve")
    assert open_tasks(flows, instance) == {"finance": [staff.fiona.user_id, staff.fred.user_id]}
    assert status(records, record_id) == "finance"
    fiona_task, fred_task = task_of(flows, staff.fiona), task_of(flows, staff.fred)
    with pytest.raises(ValidationFailed) as refused:
        flows.decide(staff.fiona, fiona_task, "approve", values={"amount": 1})
    assert refused.value.problems["amount"][0].code == "workflow_locked"
    instance = flows.decide(staff.fiona, fiona_task, "approve", values={"invoice_no": "INV-7"})
    assert instance.status == "finished"
    assert instance.outcome == "approved"
    record = records.get(Actor.system(), "expense", record_id)
    assert (record["status"], record["invoice_no"], record["note"]) == ("approved", "INV-7", "paid")
    with pytest.raises(TaskAlreadyDecided):
        flows.decide(staff.fred, fred_task, "approve")
    with pytest.raises(TaskAlreadyDecided):
        flows.decide(staff.fiona, fiona_task, "approve")
    steps = [(entry.action, entry.node_key) for entry in flows.history(instance.id)]
    assert [step for step in steps if step[0] in ("submit", "approve", "end")] == [
        ("submit", "start"),
        ("approve", "managers"),
        ("approve", "managers"),
        ("approve", "finance"),
        ("end", "approved"),
    ]
    assert flows.history(instance.id)[0].comment == "please"
    trail = [entry.action for entry in records.history(Actor.system(), "expense", record_id)]
    assert {"submit", "approve", "end"} <= set(trail)
    with engine.connect() as connection:
        kinds = list(connection.execute(select(events.c.kind).order_by(events.c.id)).scalars())
    assert kinds.count("task_decided") == 3
    assert "state_entered" in kinds


def test_the_record_is_locked_while_the_approval_runs(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    record_id = new(records, staff.rita)
    flows.submit(staff.rita, "expense", record_id)
    version = records.get(staff.rita, "expense", record_id)["version"]
    for actor in (staff.rita, staff.erin):
        with pytest.raises(ValidationFailed) as refused:
            records.update(actor, "expense", record_id, {"title": "More"}, expected_version=version)
        assert refused.value.problems["title"][0].code == "workflow_locked"
    with pytest.raises(ValidationFailed):
        records.delete(staff.rita, "expense", record_id)
    with pytest.raises(ValidationFailed) as owned:
        records.update(staff.rita, "expense", record_id, {"status": "approved"}, expected_version=version)  # fmt: skip
    assert owned.value.problems["status"][0].code == "workflow_owned"


def test_a_rejection_returns_to_the_submitter_who_edits_and_resubmits(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    record_id = new(records, staff.rita)
    instance = flows.submit(staff.rita, "expense", record_id)
    with pytest.raises(InvalidRejectTarget):
        flows.decide(staff.erin, task_of(flows, staff.erin), "reject", to="director")
    instance = flows.decide(staff.erin, task_of(flows, staff.erin), "reject", comment="too much")
    assert instance.status == "returned"
    assert status(records, record_id) == "returned"
    record = records.get(staff.rita, "expense", record_id)
    records.update(staff.rita, "expense", record_id, {"amount": 400}, expected_version=record["version"])  # fmt: skip
    with pytest.raises(NotSubmitter):
        flows.resubmit(staff.ray, instance.id)
    instance = flows.resubmit(staff.rita, instance.id, "cheaper now")
    assert instance.status == "running"
    assert open_tasks(flows, instance) == {"managers": [staff.erin.user_id]}
    assert status(records, record_id) == "pending"


def test_rejecting_to_an_end_or_an_earlier_node(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    big = new(records, staff.rita, amount=5000)
    instance = flows.submit(staff.rita, "expense", big)
    flows.decide(staff.erin, task_of(flows, staff.erin), "approve")
    instance = flows.decide(staff.mark, task_of(flows, staff.mark), "approve")
    assert open_tasks(flows, instance) == {"director": [staff.dora.user_id]}
    instance = flows.decide(staff.dora, task_of(flows, staff.dora), "reject", to="managers")
    assert open_tasks(flows, instance) == {"managers": [staff.erin.user_id]}
    instance = flows.decide(staff.erin, task_of(flows, staff.erin), "reject", to="refused")
    assert (instance.status, instance.outcome) == ("finished", "rejected")
    assert status(records, big) == "rejected"
    assert flows.open_tasks_of(staff.mark.user_id or 0) == []


def test_withdraw_until_the_first_decision_and_submit_again(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    record_id = new(records, staff.rita)
    instance = flows.submit(staff.rita, "expense", record_id)
    with pytest.raises(AlreadySubmitted):
        flows.submit(staff.rita, "expense", record_id)
    with pytest.raises(NotSubmitter):
        flows.withdraw(staff.erin, instance.id)
    instance = flows.withdraw(staff.rita, instance.id, "wrong trip")
    assert (instance.status, status(records, record_id)) == ("withdrawn", "draft")
    assert flows.open_tasks_of(staff.erin.user_id or 0) == []
    again = flows.submit(staff.rita, "expense", record_id)
    assert again.id != instance.id
    flows.decide(staff.erin, task_of(flows, staff.erin), "approve")
    with pytest.raises(CannotWithdraw):
        flows.withdraw(staff.rita, again.id)


def test_who_may_submit_and_when(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    nothing = new(records, staff.rita, amount=0)
    with pytest.raises(NotSubmittable):
        flows.submit(staff.rita, "expense", nothing)  # the start's condition
    record_id = new(records, staff.rita)
    with pytest.raises(NotSubmittable):
        flows.submit(staff.fiona, "expense", record_id)  # finance may not submit


def test_self_approval_is_refused_and_the_submitter_skipped(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    record_id = new(records, staff.erin)
    instance = flows.submit(staff.erin, "expense", record_id)
    # erin manages East herself: her managers are mark, then dora
    assert open_tasks(flows, instance) == {"managers": [staff.mark.user_id]}
    with pytest.raises(SelfApproval):
        flows.reassign(staff.mark, task_of(flows, staff.mark), staff.erin.user_id or 0)


def test_reassign_and_add_a_signer_before_and_after(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    instance = flows.submit(staff.rita, "expense", new(records, staff.rita))
    instance = flows.reassign(
        staff.erin, task_of(flows, staff.erin), staff.ray.user_id or 0, "away"
    )
    assert open_tasks(flows, instance) == {"managers": [staff.ray.user_id]}
    instance = flows.add_signer(
        staff.ray, task_of(flows, staff.ray), staff.fred.user_id or 0, "before"
    )
    assert open_tasks(flows, instance) == {"managers": [staff.fred.user_id]}
    instance = flows.decide(staff.fred, task_of(flows, staff.fred), "approve")
    assert open_tasks(flows, instance) == {"managers": [staff.ray.user_id]}
    instance = flows.add_signer(
        staff.ray, task_of(flows, staff.ray), staff.fiona.user_id or 0, "after"
    )
    instance = flows.decide(staff.ray, task_of(flows, staff.ray), "approve")
    assert open_tasks(flows, instance) == {"managers": [staff.fiona.user_id]}
    instance = flows.decide(staff.fiona, task_of(flows, staff.fiona), "approve")
    assert open_tasks(flows, instance) == {"managers": [staff.mark.user_id]}
    actions = [entry.action for entry in flows.history(instance.id)]
    assert actions.count("reassign") == 1
    assert actions.count("add_signer") == 2


def test_delegation_moves_open_and_new_tasks(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    first = flows.submit(staff.rita, "expense", new(records, staff.rita))
    today = flows.today()
    flows.delegate(staff.erin, staff.ray.user_id or 0, today, today + timedelta(days=3))
    assert open_tasks(flows, first) == {"managers": [staff.ray.user_id]}
    second = flows.submit(staff.rita, "expense", new(records, staff.rita))
    (task,) = [t for t in flows.tasks_of(second.id) if t.status == "open"]
    assert (task.user_id, task.delegated_from) == (staff.ray.user_id, staff.erin.user_id)
    later = flows.delegate(staff.mark, staff.dora.user_id or 0, today + timedelta(days=5), today + timedelta(days=6))  # fmt: skip
    assert later > 0
    flows.decide(staff.ray, task.id, "approve")
    assert open_tasks(flows, second) == {"managers": [staff.mark.user_id]}


def test_remind_tells_who_holds_it(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    instance = flows.submit(staff.rita, "expense", new(records, staff.rita))
    assert flows.remind(staff.rita, instance.id, "soon please") == [staff.erin.user_id]
    with pytest.raises(NotSubmitter):
        flows.remind(staff.ray, instance.id)


def test_no_approver_goes_to_the_administrators(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    instance = flows.submit(staff.nina, "expense", new(records, staff.nina))
    assert open_tasks(flows, instance) == {"managers": [staff.admin.user_id]}


def test_parallel_lanes_countersign_vote_and_copies(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    record_id = new(records, staff.rita, "purchase", reviewer=staff.ray.user_id)
    instance = flows.submit(staff.rita, "purchase", record_id)
    assert open_tasks(flows, instance) == {"reviewer": [staff.ray.user_id]}
    instance = flows.decide(staff.ray, task_of(flows, staff.ray), "approve")
    voters = [staff.erin.user_id, staff.mark.user_id, staff.dora.user_id]
    assert open_tasks(flows, instance) == {
        "countersign": [staff.fiona.user_id, staff.fred.user_id],
        "vote": voters,
    }
    flows.decide(staff.fiona, task_of(flows, staff.fiona), "approve")
    flows.decide(staff.erin, task_of(flows, staff.erin), "approve")
    instance = flows.decide(staff.dora, task_of(flows, staff.dora), "approve")
    assert open_tasks(flows, instance) == {"countersign": [staff.fred.user_id]}
    assert [item.task.node_key for item in flows.inbox(staff.rita, "cc")] == ["copy"]
    instance = flows.decide(staff.fred, task_of(flows, staff.fred), "approve")
    assert (instance.status, instance.outcome) == ("finished", "approved")
    assert [item.task.node_key for item in flows.inbox(staff.erin, "cc")] == ["notify"]
    assert status(records, record_id, "purchase") == "approved"
    assert {item.task.node_key for item in flows.inbox(staff.erin, "done")} == {"vote"}


def test_a_vote_that_cannot_pass_rejects_and_an_empty_reviewer_is_skipped(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    instance = flows.submit(staff.rita, "purchase", new(records, staff.rita, "purchase"))
    assert "reviewer" not in open_tasks(flows, instance)
    flows.decide(staff.erin, task_of(flows, staff.erin), "reject")
    instance = flows.decide(staff.mark, task_of(flows, staff.mark), "reject")
    assert (instance.status, instance.outcome) == ("finished", "rejected")
    assert open_tasks(flows, instance) == {}


def test_record_actions_list_and_run_what_the_caller_may_do(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    record_id = new(records, staff.rita)
    assert [a.key for a in flows.actions_for(staff.rita, "expense", record_id)] == ["submit"]
    assert flows.actions_for(staff.fiona, "expense", record_id) == []
    flows.act(staff.rita, "expense", record_id, "submit")
    assert [a.key for a in flows.actions_for(staff.rita, "expense", record_id)] == ["withdraw", "remind"]  # fmt: skip
    assert [a.key for a in flows.actions_for(staff.erin, "expense", record_id)] == ["approve", "reject", "reassign", "add_signer"]  # fmt: skip
    with pytest.raises(NotSubmittable):
        flows.act(staff.rita, "expense", record_id, "approve")
    flows.act(staff.erin, "expense", record_id, "reject")
    assert [a.key for a in flows.actions_for(staff.rita, "expense", record_id)] == ["resubmit", "withdraw"]  # fmt: skip
    assert [item.task.node_key for item in flows.inbox(staff.rita, "submitted")] == []


def test_department_roles_self_approval_any_join_refusal_skips_and_plugin_actions(
    records: RecordService, flows: WorkflowService, staff: Staff, stamped: list[tuple[int, str]]
) -> None:
    record_id = new(records, staff.rita, "leave")
    instance = flows.submit(staff.rita, "leave", record_id)
    # managers and staff of rita's department, rita included: this step allows it
    assert open_tasks(flows, instance) == {
        "team": [staff.erin.user_id, staff.rita.user_id, staff.ray.user_id]
    }
    with pytest.raises(CannotWithdraw):
        flows.withdraw(staff.rita, instance.id)
    flows.decide(staff.rita, task_of(flows, staff.rita), "approve")
    flows.decide(staff.ray, task_of(flows, staff.ray), "approve")
    # the boss lane's expression finds nobody, and the step refuses: the decision is undone
    with pytest.raises(NoApproverFound):
        flows.decide(staff.erin, task_of(flows, staff.erin), "approve")
    assert open_tasks(flows, flows.instance(instance.id))["team"] == [staff.erin.user_id]
    current = records.get(Actor.system(), "leave", record_id)
    records.update(Actor.system(), "leave", record_id, {"reviewer": staff.mark.user_id}, expected_version=current["version"])  # fmt: skip
    instance = flows.decide(staff.erin, task_of(flows, staff.erin), "approve")
    assert open_tasks(flows, instance) == {
        "boss": [staff.mark.user_id],
        "money": [staff.fiona.user_id, staff.fred.user_id],
    }
    # join any: the first lane to finish ends the others; erin approved earlier, so the
    # final step (rita's manager) is skipped
    instance = flows.decide(staff.fred, task_of(flows, staff.fred), "approve")
    assert (instance.status, instance.outcome) == ("finished", "done")
    assert flows.open_tasks_of(staff.mark.user_id or 0) == []
    assert stamped == [(record_id, "done")]
    assert "skip" in [entry.action for entry in flows.history(instance.id)]


def test_an_action_no_plugin_provides_stops_the_engine(records: RecordService) -> None:
    with pytest.raises(WorkflowError) as refused:
        WorkflowService(records)
    assert "stamp" in str(refused.value)


def test_delegation_rules_and_ending_early(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    today = flows.today()
    soon = today + timedelta(days=3)
    erin, ray, mark = (p.user_id or 0 for p in (staff.erin, staff.ray, staff.mark))
    with pytest.raises(InvalidDelegation):
        flows.delegate(staff.erin, erin, today, soon)
    with pytest.raises(InvalidDelegation):
        flows.delegate(staff.erin, ray, soon, today)
    with pytest.raises(WorkflowError):
        flows.delegate(staff.erin, ray, today, soon, workflow_key="nope")
    first = flows.delegate(staff.erin, ray, today, soon)
    flows.delegate(staff.ray, mark, today, soon)
    with pytest.raises(InvalidDelegation, match="already delegates"):
        flows.delegate(staff.mark, erin, soon, soon + timedelta(days=1))
    # a circle over other days is no circle
    flows.delegate(staff.mark, erin, soon + timedelta(days=1), soon + timedelta(days=2))
    assert [d.id for d in flows.delegations(staff.erin)][-1] == first
    ended = flows.end_delegation(staff.erin, first)
    assert ended.ended_at is not None
    assert not ended.in_force(today)
    with pytest.raises(DelegationNotFound):
        flows.end_delegation(staff.ray, first)
    instance = flows.submit(staff.rita, "expense", new(records, staff.rita))
    assert open_tasks(flows, instance) == {"managers": [erin]}


def test_delegation_for_one_workflow_and_on_behalf_in_history(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    today = flows.today()
    other = next(key for key in flows.app.workflows if key != "expense")
    flows.delegate(staff.erin, staff.ray.user_id or 0, today, today, workflow_key=other)
    instance = flows.submit(staff.rita, "expense", new(records, staff.rita))
    assert open_tasks(flows, instance) == {"managers": [staff.erin.user_id]}
    flows.delegate(staff.erin, staff.ray.user_id or 0, today, today, workflow_key="expense")
    assert open_tasks(flows, instance) == {"managers": [staff.ray.user_id]}
    flows.decide(staff.ray, task_of(flows, staff.ray), "approve", comment="for Erin")
    (entry,) = [e for e in flows.history(instance.id) if e.action == "approve"]
    assert (entry.user_id, entry.detail["on_behalf_of"]) == (
        staff.ray.user_id,
        staff.erin.user_id,
    )
