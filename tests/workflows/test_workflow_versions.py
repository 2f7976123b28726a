"""Admins publish a changed flow while instances run: old ones finish on their version,
new ones start on the new one."""

from __future__ import annotations

from flow_people import FLOWS_DIR, Staff, stamp_action
from sqlalchemy import Engine

from formflow.definitions import App, load_app
from formflow.records.service import RecordService
from formflow.storage.database import write_transaction
from formflow.storage.tables import AppSchema
from formflow.storage.versions import read_app_files, record_version
from formflow.workflows.service import WorkflowService


def test_running_instances_finish_on_the_version_they_started_on(
    engine: Engine, schema: AppSchema, flows_app: App, staff: Staff
) -> None:
    files = read_app_files(FLOWS_DIR)
    with write_transaction(engine) as connection:
        record_version(connection, "flows", flows_app, files)
    before = WorkflowService(RecordService(engine, schema), actions=[stamp_action([])])
    rita = staff.rita
    first = before.records.create(rita, "expense", {"title": "Old", "amount": 100})
    old = before.submit(rita, "expense", int(first["id"]))

    changed = dict(files)
    changed["workflows/expense.yaml"] = files["workflows/expense.yaml"].replace(
        "levels: 2", "levels: 1"
    )
    published = load_app(changed)
    assert published.digest != flows_app.digest
    with write_transaction(engine) as connection:
        record_version(connection, "flows", published, changed)
    after = WorkflowService(RecordService(engine, AppSchema(published)), actions=[stamp_action([])])
    second = after.records.create(rita, "expense", {"title": "New", "amount": 100})
    new = after.submit(rita, "expense", int(second["id"]))
    assert (old.definition_digest, new.definition_digest) == (flows_app.digest, published.digest)

    erin = staff.erin.user_id or 0
    for task in after.open_tasks_of(erin):
        after.decide(staff.erin, task.id, "approve")
    held = {task.instance_id: task.node_key for task in after.tasks_of(old.id) + after.tasks_of(new.id) if task.status == "open"}  # fmt: skip
    # the old instance still has two levels of managers; the new one goes on to finance
    assert held[old.id] == "managers"
    assert held[new.id] == "finance"
