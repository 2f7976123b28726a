"""Where a record's approval stands: its latest instance, who holds it, the whole timeline.

What a record's page shows of its approvals, read in a fixed few statements: the record's
instances, their history and the latest one's waiting tasks. The timeline spans every
instance of the record (a request withdrawn and submitted again is one story), oldest
first; the engine's bookkeeping of entering a node is left out of it but tells which nodes
the latest instance went through, for the diagram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from formflow.definitions.model import Label
from formflow.records.access import Actor
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import workflow_history, workflow_instances, workflow_tasks
from formflow.workflows.model import ApprovalNode, Workflow
from formflow.workflows.service import (
    COPIED,
    OPEN,
    WAITING,
    HistoryEntry,
    Instance,
    RecordAction,
    Task,
    WorkflowService,
    entry_of_row,
    instance_of_row,
    task_of_row,
)

QUIET = frozenset({"enter"})
"""History actions the timeline leaves out (the diagram shows them)."""


@dataclass(frozen=True)
class TimelineEntry(HistoryEntry):
    """A step in a record's timeline: of which of its instances, at which node."""

    instance_id: int
    node_label: Label | None


@dataclass(frozen=True)
class Standing:
    """A record's approval as its page shows it (``instance`` is none before any submission)."""

    instance: Instance | None
    workflow: Workflow | None
    holders: tuple[Task, ...]
    """The tasks waiting for a decision now."""
    queued: tuple[Task, ...]
    """Approvers next in line (a sequential step, a signer added after someone)."""
    visited: frozenset[str]
    """The nodes the latest instance went through."""
    timeline: tuple[TimelineEntry, ...]
    actions: tuple[RecordAction, ...]
    """What the caller may do now (:meth:`WorkflowService.actions_for`)."""
    unread: frozenset[int]
    """The instances copied to the caller that they had not opened before."""
    hidden: frozenset[str] = frozenset()
    """Fields the steps the caller decides at hide from their approvers (``fields: hidden``)."""


def standing(flows: WorkflowService, actor: Actor, form_key: str, record_id: int) -> Standing:
    """The approval of a record the caller may read (the caller checks that first)."""
    with read_transaction(flows.engine) as connection:
        instances = [
            instance_of_row(row)
            for row in connection.execute(
                select(workflow_instances)
                .where(
                    workflow_instances.c.app_key == flows.app.key,
                    workflow_instances.c.form_key == form_key,
                    workflow_instances.c.record_id == record_id,
                )
                .order_by(workflow_instances.c.id)
            )
        ]
        ids = [instance.id for instance in instances]
        history = list(
            connection.execute(
                select(workflow_history)
                .where(workflow_history.c.instance_id.in_(ids))
                .order_by(workflow_history.c.id)
            )
            if ids
            else ()
        )
        unread = (
            frozenset(
                connection.execute(
                    select(workflow_tasks.c.instance_id).where(
                        workflow_tasks.c.instance_id.in_(ids),
                        workflow_tasks.c.user_id == actor.user_id,
                        workflow_tasks.c.status == COPIED,
                    )
                ).scalars()
            )
            if ids and actor.user_id is not None
            else frozenset()
        )
        latest = instances[-1] if instances else None
        waiting = (
            [
                task_of_row(row)
                for row in connection.execute(
                    select(workflow_tasks)
                    .where(
                        workflow_tasks.c.instance_id == latest.id,
                        workflow_tasks.c.status.in_((OPEN, WAITING)),
                    )
                    .order_by(workflow_tasks.c.position, workflow_tasks.c.id)
                )
            ]
            if latest is not None
            else []
        )
    flows_of = {
        instance.id: flows.versions.workflow(instance.definition_digest, instance.workflow_key)
        for instance in instances
    }
    timeline = tuple(
        _entry(row, flows_of[row.instance_id]) for row in history if row.action not in QUIET
    )
    visited = frozenset(
        row.node_key
        for row in history
        if latest is not None and row.instance_id == latest.id and row.node_key
    )
    actions = tuple(flows.actions_for(actor, form_key, record_id))
    return Standing(
        latest,
        flows_of[latest.id] if latest is not None else None,
        tuple(task for task in waiting if task.status == OPEN),
        tuple(task for task in waiting if task.status == WAITING),
        visited,
        timeline,
        actions,
        unread,
        _hidden(flows_of[latest.id] if latest is not None else None, actions),
    )


def _hidden(workflow: Workflow | None, actions: tuple[RecordAction, ...]) -> frozenset[str]:
    hidden: set[str] = set()
    for action in actions:
        if workflow is not None and action.task_id is not None and action.node_key:
            node = workflow.node(action.node_key)
            if isinstance(node, ApprovalNode):
                hidden |= node.fields.hidden
    return frozenset(hidden)


def _entry(row: Any, workflow: Workflow) -> TimelineEntry:
    label = None
    if row.node_key:
        try:
            label = workflow.node(row.node_key).label
        except KeyError:
            label = None
    return entry_of_row(TimelineEntry, row, node_label=label)
