"""Step timeouts: an approval node reminds its approvers after N hours, and after M hours
escalates the task to the approver's manager or decides it; a sweep finds the tasks due by
index, on a clock the tests move."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from flow_people import FLOWS_DIR, Staff, stamp_action
from sqlalchemy import Engine

from formflow.definitions import App, load_app
from formflow.notifications import Notifications
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.workflows.model import ApprovalNode, StepTimeout, TimeoutAction
from formflow.workflows.service import WorkflowService
from support import AppWriter, definition_errors

TIMED = {
    "approvers: [{manager: submitter, levels: 2}]": "approvers: [{manager: submitter, levels: 1}]\n"
    "    timeout: {remind_after_hours: 4, after_hours: 24, action: escalate}",
    "    approvers: [{role: director}]\n": "    approvers: [{role: director}]\n"
    "    timeout: {after_hours: 24, action: reject}\n",
    "    approvers: [{role: finance}]\n": "    approvers: [{role: finance}]\n"
    "    timeout: {after_hours: 48, action: approve}\n",
}


class Clock:
    """The engine's clock, moved by the tests."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += timedelta(hours=hours)


@pytest.fixture(scope="session")
def flows_app(tmp_path_factory: pytest.TempPathFactory) -> App:
    """The flows app, its expense claim with a timeout on each approval step."""
    folder = tmp_path_factory.mktemp("timed") / "flows_app"
    shutil.copytree(FLOWS_DIR, folder)
    path = folder / "workflows" / "expense.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in TIMED.items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return load_app(folder)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def notifications(engine: Engine) -> Notifications:
    return Notifications(engine)


@pytest.fixture
def timed(
    records: RecordService,
    notifications: Notifications,
    clock: Clock,
    stamped: list[tuple[int, str]],
) -> WorkflowService:
    return WorkflowService(
        records, actions=[stamp_action(stamped)], notifications=notifications, clock=clock
    )


def new(records: RecordService, actor: Actor, amount: int = 500) -> int:
    return int(records.create(actor, "expense", {"title": "Trip", "amount": amount})["id"])


def kinds(notifications: Notifications, actor: Actor) -> list[str]:
    assert actor.user_id is not None
    with notifications.engine.connect() as connection:
        found = notifications.list_for(connection, actor.user_id)
    return [notification.kind for notification in reversed(found)]


def holders(flows: WorkflowService, instance_id: int) -> dict[int | None, str]:
    return {task.user_id: task.status for task in flows.tasks_of(instance_id)}


def test_the_definition_compiles_to_a_step_timeout(flows_app: App) -> None:
    node = flows_app.workflows["expense"].node("managers")
    assert isinstance(node, ApprovalNode)
    assert node.timeout == StepTimeout(
        timedelta(hours=4), timedelta(hours=24), TimeoutAction.ESCALATE
    )


def test_nothing_happens_before_the_time(
    records: RecordService, timed: WorkflowService, clock: Clock, staff: Staff
) -> None:
    timed.submit(staff.rita, "expense", new(records, staff.rita))
    clock.advance(3.9)
    assert timed.sweep_timeouts() == 0


def test_a_task_open_too_long_reminds_its_approver(
    records: RecordService,
    timed: WorkflowService,
    notifications: Notifications,
    clock: Clock,
    staff: Staff,
) -> None:
    instance = timed.submit(staff.rita, "expense", new(records, staff.rita))
    clock.advance(4)
    assert timed.sweep_timeouts() == 1
    assert kinds(notifications, staff.erin) == ["task", "reminder"]
    assert [entry.action for entry in timed.history(instance.id)][-1] == "remind"


def test_a_second_sweep_acts_once(
    records: RecordService,
    timed: WorkflowService,
    notifications: Notifications,
    clock: Clock,
    staff: Staff,
) -> None:
    timed.submit(staff.rita, "expense", new(records, staff.rita))
    clock.advance(5)
    assert timed.sweep_timeouts() == 1
    assert timed.sweep_timeouts() == 0
    assert kinds(notifications, staff.erin) == ["task", "reminder"]


def test_a_task_open_past_its_time_escalates_to_the_approvers_manager(
    records: RecordService,
    timed: WorkflowService,
    notifications: Notifications,
    clock: Clock,
    staff: Staff,
) -> None:
    instance = timed.submit(staff.rita, "expense", new(records, staff.rita))
    clock.advance(24)
    assert timed.sweep_timeouts() == 2  # the reminder, then the escalation
    assert holders(timed, instance.id) == {
        staff.erin.user_id: "reassigned",
        staff.mark.user_id: "open",
    }
    assert kinds(notifications, staff.mark) == ["escalated"]


def test_a_task_open_past_its_time_is_approved_by_the_engine(
    records: RecordService,
    timed: WorkflowService,
    notifications: Notifications,
    clock: Clock,
    staff: Staff,
) -> None:
    instance = timed.submit(staff.rita, "expense", new(records, staff.rita))
    timed.decide(staff.erin, timed.open_tasks_of(staff.erin.user_id or 0)[0].id, "approve")
    clock.advance(48)
    timed.sweep_timeouts()
    assert (timed.instance(instance.id).status, timed.instance(instance.id).outcome) == (
        "finished",
        "approved",
    )
    assert kinds(notifications, staff.rita) == ["approved"]


def test_a_task_open_past_its_time_is_rejected_by_the_engine(
    records: RecordService,
    timed: WorkflowService,
    notifications: Notifications,
    clock: Clock,
    staff: Staff,
) -> None:
    instance = timed.submit(staff.rita, "expense", new(records, staff.rita, amount=5000))
    timed.decide(staff.erin, timed.open_tasks_of(staff.erin.user_id or 0)[0].id, "approve")
    clock.advance(24)
    timed.sweep_timeouts()
    assert timed.instance(instance.id).status == "returned"
    assert kinds(notifications, staff.rita) == ["returned"]


def test_a_decided_task_is_not_acted_on(
    records: RecordService, timed: WorkflowService, clock: Clock, staff: Staff
) -> None:
    timed.submit(staff.rita, "expense", new(records, staff.rita))
    timed.decide(staff.erin, timed.open_tasks_of(staff.erin.user_id or 0)[0].id, "approve")
    clock.advance(30)
    assert timed.sweep_timeouts() == 0  # finance's clock started when the step opened


FLOW_HEAD = "key: flow\nlabel: 审批\nform: item\nstate_field: status\nnodes:\n"
FORM = """\
key: item
label: 条目
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: status, type: select, label: 状态, options: [{value: draft, label: 草稿}, {value: pending, label: 审批中}, {value: done, label: 完成}]}
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""
APP = """\
key: shop
version: "1.0"
label: 商店
roles:
  - {key: staff, label: 员工}
include:
  forms: [forms/*.yaml]
  workflows: [workflows/*.yaml]
"""


def timed_flow(timeout: str) -> str:
    return FLOW_HEAD + (
        "  - {key: start, type: start, next: check}\n"
        "  - key: check\n"
        "    type: approval\n"
        "    approvers: [{role: staff}]\n"
        f"    timeout: {timeout}\n"
        "    next: done\n"
        "  - {key: done, type: end}\n"
    )


def test_acting_before_reminding_is_refused_at_its_place(write_app: AppWriter) -> None:
    flow = timed_flow("{remind_after_hours: 24, after_hours: 8, action: escalate}")
    root = write_app(app=APP, forms={"item": FORM}, workflows={"flow": flow})
    assert definition_errors(root) == [
        "workflows/flow.yaml:10:52: after_hours (8) must be later than remind_after_hours (24)"
    ]


def test_a_timeout_that_acts_names_its_action(write_app: AppWriter) -> None:
    root = write_app(
        app=APP, forms={"item": FORM}, workflows={"flow": timed_flow("{after_hours: 8}")}
    )
    (error,) = definition_errors(root)
    assert error.startswith("workflows/flow.yaml:10:14: ")
    assert "action" in error


def test_a_timeout_action_is_one_of_escalate_approve_reject(write_app: AppWriter) -> None:
    flow = timed_flow("{after_hours: 8, action: shout}")
    root = write_app(app=APP, forms={"item": FORM}, workflows={"flow": flow})
    (error,) = definition_errors(root)
    assert error.startswith("workflows/flow.yaml:10:")
    assert "escalate" in error
