"""The inbox as its page reads it: four boxes, keyset pages, counts, a fixed number of
statements however many tasks wait; and record actions that hand a task on."""

from __future__ import annotations

from typing import Any

import pytest
from flow_people import Staff
from sqlalchemy import Engine

from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import shared_reads
from formflow.workflows import inbox
from formflow.workflows.errors import InvalidSigner
from formflow.workflows.service import WorkflowService
from formflow.workflows.standing import standing
from records.helpers import StatementCounter


def submitted(records: RecordService, flows: WorkflowService, actor: Actor, count: int, form: str = "expense") -> list[int]:  # fmt: skip
    ids = []
    for number in range(count):
        values: dict[str, Any] = {"title": f"Trip {number}", "amount": 500}
        if form == "purchase":
            values = {"title": f"Buy {number}", "amount": 500}
        record = records.create(actor, form, values)
        flows.submit(actor, form, int(record["id"]))
        ids.append(int(record["id"]))
    return ids


def test_a_box_is_paged_newest_first_with_a_keyset(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    ids = submitted(records, flows, staff.rita, 25)
    seen: list[int] = []
    after = None
    pages = []
    while True:
        found = inbox.page(flows, staff.erin, "todo", after=after, limit=10)
        pages.append(len(found.rows))
        seen.extend(row.instance.record_id for row in found.rows)
        if found.next_after is None:
            break
        after = found.next_after
    assert pages == [10, 10, 5]
    assert seen == list(reversed(ids))
    first = inbox.page(flows, staff.erin, "todo", limit=1).rows[0]
    assert first.title is not None
    assert first.title["title"] == "Trip 24"
    assert [task.user_id for task in first.holders] == [staff.erin.user_id]


def test_the_boxes_and_the_counts_follow_the_decisions(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    (record_id,) = submitted(records, flows, staff.rita, 1, "purchase")
    assert inbox.counts(flows, staff.rita) == inbox.InboxCounts(todo=0, submitted=1, unread=0)
    for person in (staff.erin, staff.mark):  # the vote lane passes at two of three
        (row,) = inbox.page(flows, person, "todo").rows
        assert row.task is not None
        flows.decide(person, row.task.id, "approve")
    assert [row.workflow.key for row in inbox.page(flows, staff.erin, "done").rows] == ["purchase"]
    assert inbox.counts(flows, staff.rita).unread == 1  # the copy lane reached rita
    (copy,) = inbox.page(flows, staff.rita, "cc").rows
    assert copy.task is not None
    assert copy.task.status == "copied"
    seen = standing(flows, staff.rita, "purchase", record_id)
    assert inbox.mark_read(flows, staff.rita, seen.unread) == 1
    assert inbox.counts(flows, staff.rita).unread == 0
    assert [row.task.status for row in inbox.page(flows, staff.rita, "cc").rows if row.task] == ["read"]  # fmt: skip
    (mine,) = inbox.page(flows, staff.rita, "submitted").rows
    assert mine.task is None
    assert {task.node_key for task in mine.holders} == {"countersign"}
    assert inbox.page(flows, staff.rita, "submitted", workflow="expense").rows == ()


def test_marking_a_records_copies_read_touches_only_the_readers_copies_of_that_record(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    first, second = submitted(records, flows, staff.rita, 2, "purchase")
    for _record in (first, second):
        for person in (staff.erin, staff.mark):  # each vote passes: the copies reach rita
            task = next(row.task for row in inbox.page(flows, person, "todo").rows if row.task)
            flows.decide(person, task.id, "approve")
    assert inbox.counts(flows, staff.rita).unread == 2
    assert inbox.mark_record_read(flows, staff.erin, "purchase", first) == 0  # not erin's copy
    assert inbox.mark_record_read(flows, staff.rita, "purchase", first) == 1
    assert inbox.counts(flows, staff.rita).unread == 1
    assert standing(flows, staff.rita, "purchase", second).unread


def test_a_page_of_the_inbox_costs_the_same_statements_however_many_tasks_wait(
    records: RecordService, flows: WorkflowService, staff: Staff, engine: Engine
) -> None:
    def cost() -> dict[str, int]:
        """Statements per box, read as a web request reads (sharing one transaction)."""
        inbox.page(flows, staff.erin, "todo")  # the flows' compiled versions are at hand
        found = {}
        for box, person in (("todo", staff.erin), ("submitted", staff.rita), ("done", staff.erin)):
            with shared_reads(engine), StatementCounter(engine) as counter:
                inbox.page(flows, person, box)
            found[box] = counter.count
        with shared_reads(engine), StatementCounter(engine) as counter:
            inbox.counts(flows, staff.erin)
        found["counts"] = counter.count
        return found

    submitted(records, flows, staff.rita, 1)
    submitted(records, flows, staff.rita, 1, "purchase")  # a second form on the page
    few = cost()
    submitted(records, flows, staff.rita, 40)
    submitted(records, flows, staff.rita, 1, "purchase")  # both forms on the first page again
    assert cost() == few
    # a BEGIN (SQLite), the rows, who holds them, one statement per form for the titles
    assert few["todo"] <= 5
    assert few["counts"] <= 2


def test_the_counts_stop_past_the_cap(
    records: RecordService, flows: WorkflowService, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "COUNT_CAP", 3)
    submitted(records, flows, staff.rita, 5)
    assert inbox.counts(flows, staff.erin).todo == 4
    assert inbox.shown_count(4) == "3+"
    assert inbox.shown_count(3) == "3"


def test_an_unknown_box_or_flow_is_refused(flows: WorkflowService, staff: Staff) -> None:
    with pytest.raises(Exception, match="inbox"):
        inbox.page(flows, staff.rita, "later")
    with pytest.raises(Exception, match="workflow"):
        inbox.page(flows, staff.rita, "todo", workflow="nothing")


def test_record_actions_hand_a_task_on_or_add_a_signer(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    (record_id,) = submitted(records, flows, staff.rita, 1)
    with pytest.raises(InvalidSigner):
        flows.act(staff.erin, "expense", record_id, "reassign")
    flows.act(staff.erin, "expense", record_id, "reassign", user_id=staff.ray.user_id, comment="away")  # fmt: skip
    assert [a.key for a in flows.actions_for(staff.erin, "expense", record_id)] == []
    flows.act(staff.ray, "expense", record_id, "add_signer", user_id=staff.nina.user_id, where="before")  # fmt: skip
    seen = standing(flows, staff.rita, "expense", record_id)
    assert [task.user_id for task in seen.holders] == [staff.nina.user_id]
    assert staff.ray.user_id in [task.user_id for task in seen.queued]
    assert [(e.action, e.comment) for e in seen.timeline][:3] == [
        ("submit", None),
        ("reassign", "away"),
        ("add_signer", None),
    ]
    assert seen.visited >= {"start", "managers"}


def test_an_approver_does_not_see_the_fields_their_step_hides(
    records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    (record_id,) = submitted(records, flows, staff.rita, 1)
    assert standing(flows, staff.erin, "expense", record_id).hidden == {"note"}
    assert standing(flows, staff.rita, "expense", record_id).hidden == frozenset()
