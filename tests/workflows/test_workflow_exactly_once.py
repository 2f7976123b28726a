"""Exactly once, proved by a hypothesis state machine: random interleavings of submit,
approve, reject, withdraw, resubmit, reassign, add signer and delegate, including two
people deciding the same task at the same moment from two threads, keep the invariants:
one terminal outcome per instance, each task decided once, history complete, and the
record's state matching its instance. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flow_people import Staff
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, delete, func, select

from formflow.errors import RecordError
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.platform_tables import (
    workflow_delegations,
    workflow_history,
    workflow_instances,
    workflow_tasks,
)
from formflow.workflows.errors import InstanceMoved, TaskAlreadyDecided, WorkflowConflict
from formflow.workflows.model import ApprovalNode
from formflow.workflows.service import WorkflowService

RUNNING_STATES = {"expense": {"pending", "finance"}, "purchase": {"pending"}}
PEOPLE = ("rita", "ray", "erin", "mark", "dora", "fiona", "fred", "nina", "admin")
SUBMITTERS = ("rita", "ray", "erin", "nina")


def test_random_interleavings_keep_every_invariant(
    engine: Engine, records: RecordService, flows: WorkflowService, staff: Staff
) -> None:
    machine = _machine(engine, records, flows, staff)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=10,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )


def _machine(
    engine: Engine, records: RecordService, flows: WorkflowService, staff: Staff
) -> type[RuleBasedStateMachine]:
    actors = {name: getattr(staff, name) for name in PEOPLE}

    class Approvals(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.instances: list[int] = []
            self.tasks_seen: set[int] = set()

        # what people do ----------------------------------------------------------------

        @initialize()
        def a_few_requests(self) -> None:
            for who, form in (("rita", "expense"), ("ray", "purchase"), ("erin", "expense")):
                self.submit(who, form, 5000 if who == "erin" else 100, "ray")

        @rule(data=st.data())
        def approve_twice(self, data: st.DataObject) -> None:
            """Most steps approve, so that runs get far; each twice, as a double tap."""
            task = self._pick_open(data)
            if task is not None:
                _attempt(lambda: flows.decide(self._holder(task), task.id, "approve"))
                assert (
                    _attempt(lambda: flows.decide(self._holder(task), task.id, "approve")) is None
                )

        @rule(
            who=st.sampled_from(SUBMITTERS),
            form=st.sampled_from(("expense", "purchase")),
            amount=st.sampled_from((100, 5000)),
            reviewer=st.sampled_from((None, "ray", "fiona")),
        )
        def submit(self, who: str, form: str, amount: int, reviewer: str | None) -> None:
            actor = actors[who]
            values: dict[str, Any] = {"title": "x", "amount": amount}
            if reviewer:
                values["reviewer"] = actors[reviewer].user_id
            record = records.create(actor, form, values)
            instance = _attempt(lambda: flows.submit(actor, form, int(record["id"])))
            if instance is not None:
                self.instances.append(instance.id)

        @rule(data=st.data(), decision=st.sampled_from(("approve", "reject")))
        def decide(self, data: st.DataObject, decision: str) -> None:
            task = self._pick_open(data)
            if task is None:
                return
            to = None
            if decision == "reject":
                node = flows._pinned(flows.instance(task.instance_id)).node(task.node_key)
                assert isinstance(node, ApprovalNode)
                to = data.draw(st.sampled_from(node.reject_to))
            _attempt(lambda: flows.decide(self._holder(task), task.id, decision, comment="c", to=to))  # fmt: skip

        @rule(data=st.data(), decision=st.sampled_from(("approve", "reject")))
        def decide_a_stale_task(self, data: st.DataObject, decision: str) -> None:
            """A stale page or a retried request: any task seen before, decided or not."""
            if not self.tasks_seen:
                return
            task = flows.task(data.draw(st.sampled_from(sorted(self.tasks_seen))))
            outcome = _attempt(lambda: flows.decide(self._holder(task), task.id, decision))
            if task.status != "open":
                assert outcome is None

        @rule(data=st.data(), first=st.sampled_from(("approve", "reject")), second=st.sampled_from(("approve", "reject")))  # fmt: skip
        def race(self, data: st.DataObject, first: str, second: str) -> None:
            """Two taps on one task at the same moment, from two threads."""
            task = self._pick_open(data)
            if task is None:
                return
            holder = self._holder(task)
            results: list[object] = []
            start = threading.Barrier(2)

            def tap(decision: str) -> None:
                start.wait()
                try:
                    flows.decide(holder, task.id, decision)
                    results.append("done")
                except (TaskAlreadyDecided, InstanceMoved, WorkflowConflict) as exc:
                    results.append(exc)
                except RecordError as exc:
                    results.append(exc)

            threads = [threading.Thread(target=tap, args=(d,)) for d in (first, second)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert results.count("done") <= 1
            assert any(isinstance(r, TaskAlreadyDecided | WorkflowConflict) for r in results) or results.count("done") == 0  # fmt: skip

        @rule(data=st.data())
        def withdraw(self, data: st.DataObject) -> None:
            instance_id = self._pick_instance(data)
            if instance_id is not None:
                submitter = flows.instance(instance_id).submitter_id
                _attempt(lambda: flows.withdraw(staff.by_id(submitter), instance_id, "no"))

        @rule(data=st.data())
        def resubmit(self, data: st.DataObject) -> None:
            instance_id = self._pick_instance(data)
            if instance_id is not None:
                submitter = flows.instance(instance_id).submitter_id
                _attempt(lambda: flows.resubmit(staff.by_id(submitter), instance_id))

        @rule(data=st.data(), to=st.sampled_from(PEOPLE))
        def reassign(self, data: st.DataObject, to: str) -> None:
            task = self._pick_open(data)
            if task is not None:
                _attempt(lambda: flows.reassign(self._holder(task), task.id, actors[to].user_id or 0))  # fmt: skip

        @rule(data=st.data(), who=st.sampled_from(PEOPLE), where=st.sampled_from(("before", "after")))  # fmt: skip
        def add_signer(self, data: st.DataObject, who: str, where: str) -> None:
            task = self._pick_open(data)
            if task is not None:
                _attempt(lambda: flows.add_signer(self._holder(task), task.id, actors[who].user_id or 0, where))  # fmt: skip

        @rule(who=st.sampled_from(PEOPLE), to=st.sampled_from(PEOPLE))
        def delegate(self, who: str, to: str) -> None:
            today = flows.today()
            _attempt(lambda: flows.delegate(actors[who], actors[to].user_id or 0, today, today + timedelta(days=1)))  # fmt: skip

        def teardown(self) -> None:
            with engine.begin() as connection:
                connection.execute(delete(workflow_delegations))

        # the invariants ----------------------------------------------------------------

        @invariant()
        def each_instance_is_consistent(self) -> None:
            with engine.connect() as connection:
                for instance_id in self.instances:
                    _check_instance(connection, records, flows, instance_id)
                for task_id in connection.execute(
                    select(workflow_tasks.c.id).where(
                        workflow_tasks.c.instance_id.in_(self.instances)
                    )
                ).scalars():
                    self.tasks_seen.add(task_id)

        # helpers -------------------------------------------------------------------------

        def _pick_open(self, data: st.DataObject) -> Any:
            with engine.connect() as connection:
                ids = sorted(
                    connection.execute(
                        select(workflow_tasks.c.id).where(
                            workflow_tasks.c.instance_id.in_(self.instances),
                            workflow_tasks.c.status == "open",
                        )
                    ).scalars()
                )
            return flows.task(data.draw(st.sampled_from(ids))) if ids else None

        def _pick_instance(self, data: st.DataObject) -> int | None:
            return data.draw(st.sampled_from(self.instances)) if self.instances else None

        def _holder(self, task: Any) -> Actor:
            return staff.by_id(task.user_id)

    return Approvals


def _attempt(action: Any) -> Any:
    """Run a step; a refusal with a specific error is a valid outcome, anything else fails."""
    try:
        return action()
    except RecordError as exc:
        refusal = exc
    assert refusal.code not in ("record_error", "workflow_error"), refusal
    return None


def _check_instance(connection: Any, records: RecordService, flows: WorkflowService, instance_id: int) -> None:  # fmt: skip
    instance = flows.instance(instance_id)
    tasks = flows.tasks_of(instance_id)
    history = list(
        connection.execute(select(workflow_history).where(workflow_history.c.instance_id == instance_id))
    )  # fmt: skip
    ends = [row for row in history if row.action == "end"]
    open_tasks = [task for task in tasks if task.status in ("open", "waiting")]
    row = connection.execute(select(workflow_instances.c.live_key).where(workflow_instances.c.id == instance_id)).one()  # fmt: skip
    # one terminal outcome per instance
    if instance.status == "finished":
        assert len(ends) == 1
        assert instance.outcome in ("approved", "rejected")
        assert ends[0].detail["outcome"] == instance.outcome
    else:
        assert ends == []
    assert (row.live_key is not None) == (instance.status in ("running", "returned"))
    # a finished, withdrawn or returned instance waits for nobody; a running one for someone
    if instance.status == "running":
        assert any(task.status == "open" for task in open_tasks)
    else:
        assert open_tasks == []
    # its position names the nodes its people hold, as the steps worked it out
    assert instance.nodes == tuple(sorted({task.node_key for task in open_tasks}))
    # each task decided once, and its decision in the history
    decisions: dict[int, int] = {}
    for entry in history:
        if entry.action in ("approve", "reject"):
            decisions[entry.task_id] = decisions.get(entry.task_id, 0) + 1
    assert all(count == 1 for count in decisions.values())
    decided = {task.id for task in tasks if task.status in ("approved", "rejected")}
    assert decided == set(decisions)
    submits = sum(1 for entry in history if entry.action == "submit")
    assert submits == 1
    # the record's state matches its instance
    state = records.get(Actor.system(), instance.form_key, instance.record_id)["status"]
    expected = {
        "running": RUNNING_STATES[instance.form_key],
        "returned": {"returned"},
        "withdrawn": {"draft", "returned"},
        "finished": {instance.outcome},
    }[instance.status]
    assert state in expected, (instance, state)
    live = connection.execute(
        select(func.count()).select_from(workflow_instances).where(
            workflow_instances.c.record_id == instance.record_id,
            workflow_instances.c.form_key == instance.form_key,
            workflow_instances.c.live_key.is_not(None),
        )
    ).scalar_one()  # fmt: skip
    assert live <= 1
