"""Workflow steps tell people, in the same unit of work: a new task its holder, a copy its
reader, a reminder the current approvers, an ending or a return the submitter."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flow_people import Staff, stamp_action
from sqlalchemy import Engine

from formflow.notifications import Notification, Notifications
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.workflows.errors import AlreadySubmitted
from formflow.workflows.service import WorkflowService


@pytest.fixture
def notifications(engine: Engine) -> Notifications:
    return Notifications(engine)


@pytest.fixture
def told_flows(
    records: RecordService, notifications: Notifications, stamped: list[tuple[int, str]]
) -> WorkflowService:
    return WorkflowService(records, actions=[stamp_action(stamped)], notifications=notifications)


def new(records: RecordService, actor: Actor, form: str = "expense", **values: Any) -> int:
    return int(records.create(actor, form, {"title": "Trip", "amount": 500, **values})["id"])


def told(notifications: Notifications, actor: Actor) -> list[Notification]:
    assert actor.user_id is not None
    with notifications.engine.connect() as connection:
        return notifications.list_for(connection, actor.user_id)


def kinds(notifications: Notifications, actor: Actor) -> list[str]:
    return [found.kind for found in reversed(told(notifications, actor))]


def task_of(flows: WorkflowService, actor: Actor) -> int:
    assert actor.user_id is not None
    (task,) = flows.open_tasks_of(actor.user_id)
    return task.id


def test_a_new_task_tells_its_holder_with_a_link_to_the_record_and_task(
    records: RecordService, told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    record_id = new(records, staff.rita)
    told_flows.submit(staff.rita, "expense", record_id)
    (notification,) = told(notifications, staff.erin)
    assert notification.kind == "task"
    assert (notification.app_key, notification.form_key, notification.record_id) == (
        "flows",
        "expense",
        record_id,
    )
    assert notification.task_id == task_of(told_flows, staff.erin)
    title, body = notification.text()
    assert title == "Waiting for your approval: Expense claim"
    assert body.endswith(f"record {record_id}")
    assert notification.unread


def test_the_next_approver_of_a_sequential_step_is_told_when_their_turn_comes(
    records: RecordService, told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    told_flows.submit(staff.rita, "expense", new(records, staff.rita))
    assert told(notifications, staff.mark) == []
    told_flows.decide(staff.erin, task_of(told_flows, staff.erin), "approve")
    assert kinds(notifications, staff.mark) == ["task"]


def test_the_submitter_is_told_when_the_request_is_approved(
    records: RecordService, told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    told_flows.submit(staff.rita, "expense", new(records, staff.rita))
    told_flows.decide(staff.erin, task_of(told_flows, staff.erin), "approve")
    told_flows.decide(staff.mark, task_of(told_flows, staff.mark), "approve")
    told_flows.decide(staff.fiona, task_of(told_flows, staff.fiona), "approve")
    assert kinds(notifications, staff.rita) == ["approved"]
    assert told(notifications, staff.rita)[0].text()[0] == (
        "Your request was approved: Expense claim"
    )


def test_the_submitter_is_told_when_the_request_is_rejected(
    records: RecordService, told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    told_flows.submit(staff.rita, "expense", new(records, staff.rita))
    told_flows.decide(staff.erin, task_of(told_flows, staff.erin), "reject", to="refused")
    assert kinds(notifications, staff.rita) == ["rejected"]


def test_the_submitter_is_told_when_the_request_is_returned_to_them(
    records: RecordService, told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    told_flows.submit(staff.rita, "expense", new(records, staff.rita))
    told_flows.decide(staff.erin, task_of(told_flows, staff.erin), "reject", comment="no")
    assert kinds(notifications, staff.rita) == ["returned"]


def test_a_reminder_tells_the_current_approvers(
    records: RecordService, told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    instance = told_flows.submit(staff.rita, "expense", new(records, staff.rita))
    told_flows.remind(staff.rita, instance.id, "soon please")
    assert kinds(notifications, staff.erin) == ["task", "reminder"]
    assert told(notifications, staff.mark) == []


def test_a_carbon_copy_node_tells_its_readers(
    records: RecordService, told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    record_id = new(records, staff.rita, "purchase", reviewer=staff.ray.user_id)
    told_flows.submit(staff.rita, "purchase", record_id)
    told_flows.decide(staff.ray, task_of(told_flows, staff.ray), "approve")
    told_flows.decide(staff.erin, task_of(told_flows, staff.erin), "approve")
    assert "copy" not in kinds(notifications, staff.rita)
    told_flows.decide(staff.dora, task_of(told_flows, staff.dora), "approve")
    assert "copy" in kinds(notifications, staff.rita)


def test_a_step_that_fails_tells_nobody(
    records: RecordService, told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    record_id = new(records, staff.rita)
    told_flows.submit(staff.rita, "expense", record_id)
    with pytest.raises(AlreadySubmitted):
        told_flows.submit(staff.rita, "expense", record_id)
    assert kinds(notifications, staff.erin) == ["task"]


def test_a_delegation_tells_the_delegate_whose_approvals_come_to_them_and_when(
    told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    assert staff.fiona.user_id is not None
    told_flows.delegate(
        staff.erin, staff.fiona.user_id, date(2026, 3, 2), date(2026, 3, 6), workflow_key="expense"
    )
    (notification,) = told(notifications, staff.fiona)
    assert notification.kind == "delegation"
    title, body = notification.text()
    assert title == "erin delegated their approvals to you: 2026-03-02 to 2026-03-06"
    assert body.startswith("Approvals of ")
    assert kinds(notifications, staff.erin) == []


def test_an_ending_of_the_flow_s_own_outcome_is_told_by_its_end_node_s_name(
    records: RecordService, told_flows: WorkflowService, notifications: Notifications, staff: Staff
) -> None:
    """The leave flow ends at `done` (outcome `done`, its key): the submitter reads the end
    node's name, as the timeline shows it, not the key."""
    record_id = new(records, staff.rita, "leave", reviewer=staff.mark.user_id)
    told_flows.submit(staff.rita, "leave", record_id)
    for person in (staff.rita, staff.ray, staff.erin, staff.fred):
        told_flows.decide(person, task_of(told_flows, person), "approve")
    assert kinds(notifications, staff.rita)[-1] == "ended"
    assert told(notifications, staff.rita)[0].text()[0] == ("Your request ended (Approved): Leave")
