"""Approval steps and decisions go into the audit log, with the instance and the task."""

from __future__ import annotations

from flow_people import Staff
from sqlalchemy import Engine

from formflow import audit
from formflow.audit import AuditQuery
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction
from formflow.workflows.service import WorkflowService


def test_submitting_and_deciding_leave_audit_entries(
    records: RecordService, flows: WorkflowService, staff: Staff, engine: Engine
) -> None:
    record = records.create(staff.rita, "expense", {"title": "Trip", "amount": 500})
    instance = flows.submit(staff.rita, "expense", record["id"], "please")
    (task,) = flows.open_tasks_of(staff.erin.user_id or 0)
    flows.decide(staff.erin, task.id, "approve", comment="ok")
    with read_transaction(engine) as connection:
        page = audit.search(connection, AuditQuery(action="approval."))
    found = [item.entry for item in reversed(page.entries)]
    assert [(entry.action, entry.user_id) for entry in found] == [
        ("approval.submit", staff.rita.user_id),
        ("approval.approve", staff.erin.user_id),
    ]
    assert found[1].detail["task"] == task.id
    assert {(entry.form_key, entry.record_id, entry.detail["instance"]) for entry in found} == {
        ("expense", record["id"], instance.id)
    }
    with read_transaction(engine) as connection:
        assert audit.verify(connection).intact
