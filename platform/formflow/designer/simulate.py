"""Simulating a draft flow on a sample record: the path it takes and who it would ask.

The designer's "simulate" runs nothing and writes nothing: it walks the compiled (draft)
workflow from its start as the engine would enter it, choosing each condition's branch by
the same expressions and finding each step's people by the same rules
(:func:`formflow.workflows.approvers.resolve`), against today's staff. It stops at an end,
at a condition no branch of which holds, or at a node entered twice (a loop the admin should
see rather than wait for).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, select

from formflow.definitions.model import Form
from formflow.errors import N_
from formflow.expressions import ExpressionError
from formflow.fields import ValueKind
from formflow.storage.platform_tables import users
from formflow.workflows import approvers
from formflow.workflows.model import (
    ApprovalNode,
    ApproverRule,
    CcNode,
    ConditionNode,
    EndNode,
    NoApprover,
    ParallelNode,
    StartNode,
    Workflow,
)


@dataclass(frozen=True)
class SimulatedStep:
    """One node on the path: its key and type, the branch a condition took (0 first), the
    people a step would ask or tell (display names), and a note when something is off."""

    key: str
    type: str
    label: Any
    branch: int | None = None
    people: tuple[str, ...] = ()
    note: str = ""
    """Why the path goes as it does here, in English words marked for translation."""


@dataclass(frozen=True)
class Simulation:
    steps: tuple[SimulatedStep, ...] = field(default=())
    finished: bool = False
    """Whether the path reached an end node."""


def sample_values(form: Form, typed: Mapping[str, str]) -> dict[str, Any]:
    """Typed sample values as the record would hold them (numbers as numbers, and so on);
    what does not read as its kind stays as the text typed."""
    values: dict[str, Any] = {}
    for item in form.fields:
        text = typed.get(item.key, "").strip()
        values[item.key] = _value(item.kind, text) if text else None
    return values


def _value(kind: ValueKind, text: str) -> Any:
    try:
        if kind is ValueKind.INTEGER:
            return int(text)
        if kind is ValueKind.DECIMAL:
            return Decimal(text)
        if kind is ValueKind.DATE:
            return date.fromisoformat(text)
        if kind is ValueKind.BOOL:
            return text.lower() in ("1", "true", "yes", "y", "on", "是")
        if kind is ValueKind.CHOICES:
            return [part.strip() for part in text.split(",") if part.strip()]
        if kind is ValueKind.REFERENCE:
            return int(text)
    except (ValueError, InvalidOperation):
        return text
    return text


def simulate(
    connection: Connection,
    workflow: Workflow,
    record: Mapping[str, Any],
    *,
    app_key: str,
    submitter_id: int | None,
    record_department: int | None = None,
    now: datetime | None = None,
) -> Simulation:
    """The path ``workflow`` takes for ``record`` submitted by ``submitter_id``."""
    moment = now or datetime.now(UTC)
    names = {
        **record,
        "user": {"id": submitter_id, "roles": [], "department": None},
        "today": moment.date(),
        "now": moment,
    }

    def people(rules: tuple[ApproverRule, ...]) -> list[int]:
        return approvers.resolve(
            connection,
            rules,
            app_key=app_key,
            record=record,
            record_department=record_department,
            submitter_id=submitter_id,
            names=names,
        )

    steps: list[SimulatedStep] = []
    seen: set[str] = set()
    key: str | None = workflow.start.key
    while key is not None:
        if key in seen:
            steps.append(SimulatedStep(key, "loop", None, note=N_("entered again: the flow loops")))
            break
        seen.add(key)
        node = workflow.node(key)
        if isinstance(node, EndNode):
            steps.append(SimulatedStep(key, "end", node.label, note=node.outcome))
            return Simulation(tuple(steps), finished=True)
        if isinstance(node, ConditionNode):
            step, key = _condition(node, names)
            steps.append(step)
            continue
        if isinstance(node, ApprovalNode):
            found = people(node.approvers)
            note = ""
            if submitter_id in found and not node.allow_self:
                found.remove(submitter_id)
                note = N_("the submitter does not approve their own request")
            if not found:
                note = _nobody(node.no_approver)
                if node.no_approver is NoApprover.ADMINS:
                    found = approvers.administrators(connection)
            steps.append(
                SimulatedStep(
                    key,
                    "approval",
                    node.label,
                    people=_names(connection, found),
                    note=note,
                )
            )
            key = node.next or None
        elif isinstance(node, CcNode):
            found = people(node.recipients)
            steps.append(SimulatedStep(key, "cc", node.label, people=_names(connection, found)))
            key = node.next or None
        elif isinstance(node, ParallelNode):
            lanes = [
                person
                for lane in node.lanes
                for lane_key in lane
                for person in _lane_people(workflow, lane_key, people)
            ]
            steps.append(
                SimulatedStep(key, "parallel", node.label, people=_names(connection, lanes))
            )
            key = node.next or None
        else:
            assert isinstance(node, StartNode)
            steps.append(SimulatedStep(key, "start", node.label))
            key = node.next or None
    return Simulation(tuple(steps))


def _condition(node: ConditionNode, names: Mapping[str, Any]) -> tuple[SimulatedStep, str | None]:
    for index, branch in enumerate(node.branches):
        if branch.condition is None:
            return SimulatedStep(node.key, "condition", node.label, branch=index), branch.next
        try:
            holds = bool(branch.condition.evaluate(names))
        except ExpressionError as exc:
            note = f"{branch.condition.source}: {exc}"
            return SimulatedStep(node.key, "condition", node.label, note=note), None
        if holds:
            return SimulatedStep(node.key, "condition", node.label, branch=index), branch.next
    note = N_("no branch holds and there is no default")
    return SimulatedStep(node.key, "condition", node.label, note=note), None


def _lane_people(workflow: Workflow, key: str, people: Any) -> list[int]:
    node = workflow.node(key)
    if isinstance(node, ApprovalNode):
        return list(people(node.approvers))
    if isinstance(node, CcNode):
        return list(people(node.recipients))
    return []


def _nobody(rule: NoApprover) -> str:
    return {
        NoApprover.SKIP: N_("nobody found: the step is skipped"),
        NoApprover.ADMINS: N_("nobody found: the administrators approve"),
        NoApprover.REFUSE: N_("nobody found: submitting is refused"),
    }[rule]


def _names(connection: Connection, user_ids: list[int]) -> tuple[str, ...]:
    if not user_ids:
        return ()
    rows = connection.execute(
        select(users.c.id, users.c.display_name, users.c.username).where(users.c.id.in_(user_ids))
    )
    by_id = {int(row.id): row.display_name or row.username for row in rows}
    return tuple(by_id[user] for user in user_ids if user in by_id)
