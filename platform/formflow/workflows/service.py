"""The workflow engine: runs approval instances over records, each step in one unit of work.

Every operation (submit, decide, withdraw, resubmit, reassign, add a signer, delegate,
remind) runs in one transaction with the record writes it causes, the history it appends
and the events it emits; it either happens whole or not at all.

Exactly once: each step first *claims* its instance by a compare-and-set of the instance's
``version`` (``UPDATE ... WHERE version = :seen``). Two steps on one instance at the same
moment cannot both claim the version they read: the loser's transaction is rolled back and
the step is tried again on what the winner left, where it finds its task settled
(:class:`TaskAlreadyDecided`) or the instance elsewhere (:class:`NotRunning`). A task is
decided by a compare-and-set of its status from ``open``, so a double tap decides it once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from formflow import accounts
from formflow.actions import NO_SERVICES, Action, ActionContext, ActionServices
from formflow.audit import log as audit_log
from formflow.definitions.model import Label
from formflow.definitions.toolkit import BUILTIN_TOOLKIT, Toolkit
from formflow.errors import N_, Problem, ValidationFailed
from formflow.events import EventKind
from formflow.notifications import Notifications
from formflow.notifications.model import label_param
from formflow.notifications.workflows import planned, tell
from formflow.records import audit
from formflow.records.access import Actor
from formflow.records.query import normalised
from formflow.records.service import Record, RecordService
from formflow.records.unit import current_unit, unit_of_work
from formflow.storage.platform_tables import (
    workflow_delegations,
    workflow_history,
    workflow_instances,
    workflow_tasks,
)
from formflow.storage.rows import from_row
from formflow.storage.tables import DELETED_AT, DEPARTMENT
from formflow.workflows import approvers
from formflow.workflows import delegations as delegating
from formflow.workflows.delegations import Delegation
from formflow.workflows.errors import (
    AlreadySubmitted,
    CannotWithdraw,
    InstanceMoved,
    InstanceNotFound,
    InvalidRejectTarget,
    InvalidSigner,
    NoApproverFound,
    NotRunning,
    NotSubmittable,
    NotSubmitter,
    NotYourTask,
    SelfApproval,
    TaskAlreadyDecided,
    TaskNotFound,
    WorkflowError,
)
from formflow.workflows.model import (
    SUBMITTER,
    ActionCall,
    ApprovalNode,
    CcNode,
    ConditionNode,
    DecisionMode,
    EndNode,
    Join,
    NoApprover,
    ParallelNode,
    TimeoutAction,
    Withdraw,
    Workflow,
)
from formflow.workflows.versions import FlowVersions

RUNNING = "running"
RETURNED = "returned"  # rejected back to the submitter, who may resubmit or withdraw
FINISHED = "finished"
WITHDRAWN = "withdrawn"
LIVE = (RUNNING, RETURNED)

OPEN = "open"
WAITING = "waiting"  # a later approver of a sequential node, or one a signer was put before
APPROVED = "approved"
REJECTED = "rejected"
CANCELLED = "cancelled"
REASSIGNED = "reassigned"
SKIPPED = "skipped"
COPIED = "copied"
READ = "read"  # a copy its recipient has opened
DECIDED = (APPROVED, REJECTED)

DELEGATION = "delegation"
"""The kind of notification a delegate gets when someone hands them their approvals."""

BOXES = ("todo", "done", "cc", "submitted")
"""The parts of a person's inbox (see :meth:`WorkflowService.inbox`)."""

APPROVE = "approve"
REJECT = "reject"
ATTEMPTS = 8
TIMEOUT_BATCH = 500
"""Tasks a sweep acts on per app and kind of timer; the next sweep takes the rest."""
"""How often a step is tried again after another step on its instance won the race."""


@dataclass(frozen=True)
class Instance:
    id: int
    app_key: str
    workflow_key: str
    definition_digest: str
    form_key: str
    record_id: int
    submitter_id: int | None
    status: str
    outcome: str | None
    prior_state: str | None
    version: int
    entries: int
    nodes: tuple[str, ...]
    started_at: datetime
    ended_at: datetime | None

    @property
    def live(self) -> bool:
        return self.status in LIVE


@dataclass(frozen=True)
class Task:
    id: int
    instance_id: int
    node_key: str
    entry: int
    kind: str
    user_id: int | None
    delegated_from: int | None
    position: int
    status: str
    comment: str | None
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True)
class HistoryEntry:
    """One step of an instance: what was done, at which node, by whom and when."""

    action: str
    node_key: str | None
    task_id: int | None
    user_id: int | None
    at: datetime
    comment: str | None
    detail: Mapping[str, Any]


Entry = TypeVar("Entry", bound=HistoryEntry)


@dataclass(frozen=True)
class InboxItem:
    """A task with what an inbox shows of it."""

    task: Task
    instance: Instance
    workflow_label: Label
    node_label: Label


@dataclass(frozen=True)
class RecordAction:
    """Something the caller may do now on a record's approval; ``task_id`` for decisions."""

    key: str
    label: str
    instance_id: int | None = None
    task_id: int | None = None
    workflow_key: str | None = None
    node_key: str | None = None
    reject_to: tuple[str, ...] = ()
    """For ``reject``: where a rejection may send the request, the default first."""
    edit: frozenset[str] = frozenset()
    """For ``approve`` and ``reject``: the fields the deciding approver may fill in."""


@dataclass
class _Step:
    """One claimed instance inside its unit of work, and what the step found out."""

    connection: Connection
    instance: Instance
    workflow: Workflow
    actor: Actor
    now: datetime
    lanes: dict[str, list[int]] = field(default_factory=dict)
    status: str = RUNNING
    outcome: str | None = None
    entries: int = 0
    record: Record = field(default_factory=dict)
    stored: Record | None = None
    """The record as the claim read it, every column, until the step changes it or runs an
    action: its first change is handed it, so the record service need not read it again."""
    opened: list[tuple[int, int, str]] = field(default_factory=list)
    """Tasks this step put before someone, as (task id, user id, kind): they are told."""
    reminded: list[tuple[int, int]] = field(default_factory=list)
    """Open tasks whose holders the submitter reminded, as (task id, user id)."""
    task: Task | None = None
    """The task the step acts on, read with its instance (see ``_on_task``)."""
    edits: dict[str, Any] = field(default_factory=dict)
    """Values an approver gave, written with the step's next change of the record (so a
    field shown only in the state the decision leads to can be filled in by it)."""
    pending: dict[int, str] | None = None
    """The instance's open and waiting tasks (id -> node), kept by the step once it has
    read them all and as it changes them, so that its save need not read them again
    (``None``: not known, read at the save)."""
    history: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """The history rows and events the step made since it last wrote them: they are
    written together (one statement each) before the step changes the record, runs an
    action or reads its history, and as it saves, so they keep their order."""


class _Lost(Exception):
    """Another step claimed the instance first; this one starts over."""


class WorkflowService:
    """Runs the workflows of one app over its record service."""

    def __init__(
        self,
        records: RecordService,
        *,
        toolkit: Toolkit = BUILTIN_TOOLKIT,
        actions: Sequence[Action] = (),
        today: Callable[[], date] | None = None,
        notifications: Notifications | None = None,
        clock: Callable[[], datetime] | None = None,
        tell_by_events: bool = False,
        services: ActionServices = NO_SERVICES,
    ) -> None:
        self.records = records
        self.notifications = notifications
        self.services = replace(services, notifications=notifications)
        """What the steps' actions are lent: the plugins' settings and job queue, and
        ``notifications``."""
        """Where the people a step concerns are told (none: nobody is)."""
        self.tell_by_events = tell_by_events
        """Whether a step leaves what it tells people to the outbox (an event of kind
        ``notify`` that the :data:`~formflow.notifications.workflows.NOTICES` subscriber
        writes after the commit, on the job runner) rather than writing it itself."""
        self._clock = clock
        self.engine = records.engine
        self.app = records.app
        self.versions = FlowVersions(self.engine, self.app, toolkit)
        self.actions = {action.name: action for action in actions}
        self.expressions = toolkit.expressions
        self._today = today
        self._forms = frozenset(workflow.form for workflow in self.app.workflows.values())
        self._live_records: dict[str, Any] = {}
        self._check_actions(self.app.workflows.values())
        records.locks = self

    # submitting -----------------------------------------------------------------------

    def submit(
        self, actor: Actor, workflow_key: str, record_id: int, comment: str | None = None
    ) -> Instance:
        """Start ``workflow_key`` on a record, pinned to the definition in force now."""
        workflow = self._workflow(workflow_key)
        try:
            with unit_of_work(self.engine) as unit:
                connection = unit.connection
                record = self._record(connection, workflow.form, record_id)
                self._check_submit(connection, actor, workflow, record)
                now = self._now()
                state = record.get(workflow.state_field) if workflow.state_field else None
                instance_id = connection.execute(
                    insert(workflow_instances).returning(workflow_instances.c.id),
                    {
                        "app_key": self.app.key,
                        "workflow_key": workflow.key,
                        "definition_digest": self.app.digest,
                        "form_key": workflow.form,
                        "record_id": record_id,
                        "submitter_id": actor.user_id,
                        "status": RUNNING,
                        "prior_state": state,
                        "live_key": self._live_key(workflow.form, record_id),
                        "version": 0,
                        "entries": 0,
                        "position": {"nodes": [], "lanes": {}},
                        "started_at": now,
                    },
                ).scalar_one()
                step = self._claim(
                    connection, self._instance_row(connection, int(instance_id)), actor
                )
                self._history(step, "submit", workflow.start.key, comment=comment)
                self._run_actions(step, workflow.start.on_enter)
                self._run_actions(step, workflow.start.on_leave)
                self._set_state(step, workflow.states.running)
                self._enter(step, workflow.start.next)
                return self._save(step)
        except IntegrityError:
            if self._live(workflow.form, record_id) is not None:
                raise AlreadySubmitted(record_id) from None
            raise

    def resubmit(self, actor: Actor, instance_id: int, comment: str | None = None) -> Instance:
        """Send a request the approvers returned to its submitter through the flow again."""

        def work(step: _Step) -> None:
            self._only_submitter(step, "resubmit")
            if step.instance.status != RETURNED:
                raise NotRunning(instance_id, step.instance.status)
            step.status = RUNNING
            self._history(step, "resubmit", step.workflow.start.key, comment=comment)
            self._set_state(step, step.workflow.states.running)
            self._enter(step, step.workflow.start.next)

        return self._on_instance(instance_id, actor, work)

    def withdraw(self, actor: Actor, instance_id: int, comment: str | None = None) -> Instance:
        """End an instance on its submitter's request, as its start node allows."""

        def work(step: _Step) -> None:
            self._only_submitter(step, "withdraw")
            if not step.instance.live:
                raise NotRunning(instance_id, step.instance.status)
            rule = step.workflow.start.withdraw
            if rule is Withdraw.NEVER:
                raise CannotWithdraw(N_("this approval cannot be withdrawn"))
            if (
                rule is Withdraw.UNTIL_FIRST_DECISION
                and step.instance.status == RUNNING
                and self._decided_any(step)
            ):
                raise CannotWithdraw(N_("an approver has already decided; it cannot be withdrawn"))
            self._cancel_open(step)
            step.status, step.outcome = WITHDRAWN, WITHDRAWN
            self._history(step, "withdraw", None, comment=comment)
            self._set_state(step, step.workflow.states.withdrawn or step.instance.prior_state)

        return self._on_instance(instance_id, actor, work)

    def remind(self, actor: Actor, instance_id: int, comment: str | None = None) -> list[int]:
        """Nudge whoever holds a running instance (催办); returns who was reminded."""
        reminded: list[int] = []

        def work(step: _Step) -> None:
            self._only_submitter(step, "send a reminder")
            if step.instance.status != RUNNING:
                raise NotRunning(instance_id, step.instance.status)
            for task in self._tasks(step.connection, step.instance.id, (OPEN,)):
                if task.user_id is not None:
                    reminded.append(task.user_id)
                    step.reminded.append((task.id, task.user_id))
            self._history(step, "remind", None, comment=comment, detail={"users": reminded})

        self._on_instance(instance_id, actor, work)
        return reminded

    # deciding -------------------------------------------------------------------------

    def decide(
        self,
        actor: Actor,
        task_id: int,
        decision: str,
        *,
        comment: str | None = None,
        values: Mapping[str, Any] | None = None,
        to: str | None = None,
    ) -> Instance:
        """Approve or reject a task; ``values`` set the fields the node lets its approvers
        edit, ``to`` says where a rejection sends the request (default: the node's first
        ``reject_to``)."""
        if decision not in (APPROVE, REJECT):
            raise WorkflowError(
                N_("a decision is approve or reject, not %(decision)r"), decision=decision
            )

        def work(step: _Step) -> None:
            task = self._own_open_task(step, task_id)
            node = step.workflow.node(task.node_key)
            assert isinstance(node, ApprovalNode)
            if (
                decision == APPROVE
                and task.user_id == step.instance.submitter_id
                and not node.allow_self
            ):
                raise SelfApproval()
            target = None
            if decision == REJECT:
                target = to or node.reject_to[0]
                if target not in node.reject_to:
                    raise InvalidRejectTarget(target, ", ".join(node.reject_to))
            if values:
                self._edit(step, node, values)
            self._settle(step, task, APPROVED if decision == APPROVE else REJECTED, comment)
            self._history(
                step,
                decision,
                node.key,
                task_id=task.id,
                comment=comment,
                detail={
                    **({"to": target} if target else {}),
                    **({"on_behalf_of": task.delegated_from} if task.delegated_from else {}),
                },
            )
            self._event(
                step,
                EventKind.TASK_DECIDED,
                {"task": task.id, "node": node.key, "decision": decision, "comment": comment},
            )
            self._after_decision(step, node, task, target)
            if step.edits:
                self._write(step, {})

        return self._on_task(task_id, actor, work)

    def reassign(
        self, actor: Actor, task_id: int, user_id: int, comment: str | None = None
    ) -> Instance:
        """Hand an open task to someone else (转交)."""

        def work(step: _Step) -> None:
            task = self._own_open_task(step, task_id)
            self._check_signer(step, task, user_id)
            self._hand_on(step, task, user_id, "reassign", comment)

        return self._on_task(task_id, actor, work)

    def add_signer(
        self,
        actor: Actor,
        task_id: int,
        user_id: int,
        where: str,
        comment: str | None = None,
    ) -> Instance:
        """Add an approver before or after oneself (加签). In a sequential node the new
        approver decides just before (or after) the caller; elsewhere they join the node's
        approvers, and "before" holds the caller's task until they have approved."""
        if where not in ("before", "after"):
            raise InvalidSigner(N_("a signer is added before or after, not %(where)r"), where=where)

        def work(step: _Step) -> None:
            task = self._own_open_task(step, task_id)
            self._check_signer(step, task, user_id)
            later = workflow_tasks.c.position > task.position
            step.connection.execute(
                update(workflow_tasks)
                .where(
                    workflow_tasks.c.instance_id == step.instance.id,
                    workflow_tasks.c.entry == task.entry,
                    workflow_tasks.c.node_key == task.node_key,
                    later,
                )
                .values(position=workflow_tasks.c.position + 1)
            )
            if where == "after":
                node = step.workflow.node(task.node_key)
                sequential = isinstance(node, ApprovalNode) and node.mode is DecisionMode.SEQUENTIAL
                self._new_task(
                    step,
                    task.node_key,
                    task.entry,
                    user_id,
                    task.position + 1,
                    WAITING if sequential else OPEN,
                )
            else:
                step.connection.execute(
                    update(workflow_tasks)
                    .where(workflow_tasks.c.id == task.id)
                    .values(status=WAITING, position=task.position + 1)
                )
                self._new_task(step, task.node_key, task.entry, user_id, task.position, OPEN)
            self._history(
                step,
                "add_signer",
                task.node_key,
                task_id=task.id,
                comment=comment,
                detail={"user": user_id, "where": where},
            )

        return self._on_task(task_id, actor, work)

    def delegate(
        self,
        actor: Actor,
        user_id: int,
        starts_on: date,
        ends_on: date,
        comment: str | None = None,
        *,
        workflow_key: str | None = None,
    ) -> int:
        """While the caller is away (``starts_on`` to ``ends_on``), their new tasks (of
        ``workflow_key``, or of every workflow) go to ``user_id`` (委托); tasks they hold now
        move too when the range has begun. Returns the delegation's id."""
        if workflow_key is not None:
            self._workflow(workflow_key)
        with unit_of_work(self.engine) as unit:
            delegating.check(
                unit.connection,
                self.app.key,
                actor.user_id,
                user_id,
                starts_on,
                ends_on,
                workflow_key,
            )
            delegation_id = unit.connection.execute(
                insert(workflow_delegations).returning(workflow_delegations.c.id),
                {
                    "app_key": self.app.key,
                    "user_id": actor.user_id,
                    "delegate_id": user_id,
                    "starts_on": starts_on,
                    "ends_on": ends_on,
                    "workflow_key": workflow_key,
                    "comment": comment,
                    "created_at": self._now(),
                },
            ).scalar_one()
            self._tell_delegate(unit.connection, actor, user_id, starts_on, ends_on, workflow_key)
        if actor.user_id is not None and starts_on <= self.today() <= ends_on:
            for task in self.open_tasks_of(actor.user_id):
                if workflow_key is None or self._workflow_of_task(task) == workflow_key:
                    self._move_delegated(actor, task, user_id, comment)
        return int(delegation_id)

    def _tell_delegate(
        self,
        connection: Connection,
        actor: Actor,
        delegate_id: int,
        starts_on: date,
        ends_on: date,
        workflow_key: str | None,
    ) -> None:
        """Tell the delegate, in the delegation's transaction, whose tasks come to them and
        when (a delegation nobody hears of leaves tasks waiting on someone who is away)."""
        if self.notifications is None or actor.user_id is None:
            return
        who = accounts.get_user(connection, actor.user_id)
        workflow = self.app.workflows.get(workflow_key) if workflow_key else None
        self.notifications.add(
            connection,
            [delegate_id],
            kind=DELEGATION,
            title=N_("%(who)s delegated their approvals to you: %(starts)s to %(ends)s"),
            body=N_("Approvals of %(workflow)s") if workflow else "",
            params={
                "who": who.display_name if who is not None else str(actor.user_id),
                "starts": starts_on.isoformat(),
                "ends": ends_on.isoformat(),
                **({"workflow": label_param(workflow.label)} if workflow else {}),
            },
            app_key=self.app.key,
            now=self._now(),
        )

    def delegations(self, actor: Actor) -> list[Delegation]:
        """The delegations the caller made or holds, newest first."""
        if actor.user_id is None:
            return []
        with self.engine.connect() as connection:
            return delegating.listed(connection, self.app.key, actor.user_id)

    def end_delegation(self, actor: Actor, delegation_id: int) -> Delegation:
        """End one of the caller's delegations early: tasks arriving from now on stay with
        the caller; tasks already handed on stay with the delegate, who may reassign them."""
        with unit_of_work(self.engine) as unit:
            return delegating.end(
                unit.connection, self.app.key, actor.user_id, delegation_id, self._now()
            )

    def _workflow_of_task(self, task: Task) -> str:
        with self.engine.connect() as connection:
            return self._instance(connection, task.instance_id).workflow_key

    def _move_delegated(self, actor: Actor, task: Task, user_id: int, comment: str | None) -> None:
        def work(step: _Step) -> None:
            found = self._task_in(step.connection, task.id)
            if found.status != OPEN or found.user_id != actor.user_id:
                return  # decided or moved meanwhile: nothing to hand on
            self._hand_on(step, found, user_id, "delegate", comment, delegated_from=actor.user_id)

        self._on_instance(task.instance_id, actor, work)

    # reading --------------------------------------------------------------------------

    def instance(self, instance_id: int) -> Instance:
        with self.engine.connect() as connection:
            return self._instance(connection, instance_id)

    def instance_for(self, form_key: str, record_id: int) -> Instance | None:
        """The record's latest instance, running or not."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(workflow_instances)
                .where(
                    workflow_instances.c.app_key == self.app.key,
                    workflow_instances.c.form_key == form_key,
                    workflow_instances.c.record_id == record_id,
                )
                .order_by(workflow_instances.c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else instance_of_row(row)

    def tasks_of(self, instance_id: int) -> list[Task]:
        with self.engine.connect() as connection:
            return self._tasks(connection, instance_id, None)

    def task(self, task_id: int) -> Task:
        return self._task(task_id)

    def open_tasks_of(self, user_id: int) -> list[Task]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(workflow_tasks)
                .join(workflow_instances, workflow_instances.c.id == workflow_tasks.c.instance_id)
                .where(
                    workflow_tasks.c.user_id == user_id,
                    workflow_tasks.c.status == OPEN,
                    workflow_instances.c.app_key == self.app.key,
                )
                .order_by(workflow_tasks.c.id)
            )
            return [task_of_row(row) for row in rows]

    def inbox(
        self, actor: Actor, box: str = "todo", *, limit: int = 50, after: int | None = None
    ) -> list[InboxItem]:
        """The caller's tasks: ``todo`` (open), ``done`` (decided by them), ``cc`` (copied to
        them) or ``submitted`` (the open tasks of what they submitted); newest first."""
        conditions = {
            "todo": and_(
                workflow_tasks.c.user_id == actor.user_id, workflow_tasks.c.status == OPEN
            ),
            "done": and_(
                workflow_tasks.c.user_id == actor.user_id,
                workflow_tasks.c.status.in_((*DECIDED, REASSIGNED)),
            ),
            "cc": and_(
                workflow_tasks.c.user_id == actor.user_id,
                workflow_tasks.c.status.in_((COPIED, READ)),
            ),
            "submitted": and_(
                workflow_instances.c.submitter_id == actor.user_id, workflow_tasks.c.status == OPEN
            ),
        }
        if box not in BOXES:
            raise WorkflowError(N_("no inbox %(box)r (todo, done, cc, submitted)"), box=box)
        query = (
            select(workflow_tasks, workflow_instances)
            .join(workflow_instances, workflow_instances.c.id == workflow_tasks.c.instance_id)
            .where(conditions[box], workflow_instances.c.app_key == self.app.key)
            .order_by(workflow_tasks.c.id.desc())
            .limit(limit)
        )
        if after is not None:
            query = query.where(workflow_tasks.c.id < after)
        items = []
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                task = task_of_row(row)
                instance = instance_of_row(row, id_column=workflow_instances.c.id)
                workflow = self.versions.workflow(instance.definition_digest, instance.workflow_key)
                node = workflow.node(task.node_key)
                items.append(InboxItem(task, instance, workflow.label, node.label))
        return items

    def history(self, instance_id: int) -> list[HistoryEntry]:
        """Every step of an instance, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(workflow_history)
                .where(workflow_history.c.instance_id == instance_id)
                .order_by(workflow_history.c.id)
            )
            return [entry_of_row(HistoryEntry, row) for row in rows]

    def actions_for(self, actor: Actor, form_key: str, record_id: int) -> list[RecordAction]:
        """What the caller may do now on this record's approval (the record's buttons)."""
        found: list[RecordAction] = []
        live = self._live(form_key, record_id)
        if live is None:
            with self.engine.connect() as connection:
                record = self._record(connection, form_key, record_id)
                for workflow in self.app.workflows.values():
                    if workflow.form != form_key:
                        continue
                    try:
                        self._check_submit(connection, actor, workflow, record)
                    except (NotSubmittable, AlreadySubmitted):
                        continue
                    found.append(RecordAction("submit", N_("Submit"), workflow_key=workflow.key))
            return found
        mine = live.submitter_id is not None and live.submitter_id == actor.user_id
        if mine or actor.is_admin:
            workflow = self._pinned(live)
            if live.status == RETURNED:
                found.append(RecordAction("resubmit", N_("Resubmit"), live.id))
            if workflow.start.withdraw is not Withdraw.NEVER:
                with self.engine.connect() as connection:
                    decided = self._decided_any_in(connection, live.id)
                if (
                    live.status == RETURNED
                    or workflow.start.withdraw is Withdraw.UNTIL_END
                    or not decided
                ):
                    found.append(RecordAction("withdraw", N_("Withdraw"), live.id))
            if live.status == RUNNING and mine:
                found.append(RecordAction("remind", N_("Remind"), live.id))
        if live.status == RUNNING:
            with self.engine.connect() as connection:
                tasks = self._tasks(connection, live.id, (OPEN,))
            workflow = self._pinned(live)
            for task in tasks:
                if task.user_id == actor.user_id and task.kind == "approve":
                    found.extend(_task_actions(workflow.node(task.node_key), live.id, task.id))
        return found

    def act(
        self,
        actor: Actor,
        form_key: str,
        record_id: int,
        key: str,
        *,
        comment: str | None = None,
        values: Mapping[str, Any] | None = None,
        to: str | None = None,
        user_id: int | None = None,
        where: str = "after",
        task_id: int | None = None,
    ) -> Instance:
        """Do one of :meth:`actions_for` by its key: ``user_id`` is whom to reassign to or
        add as a signer (``where``: before or after), ``task_id`` picks one of several tasks
        the caller holds on the record (default: the first)."""
        for action in self.actions_for(actor, form_key, record_id):
            if action.key != key or (task_id is not None and action.task_id != task_id):
                continue
            if key == "submit" and action.workflow_key:
                return self.submit(actor, action.workflow_key, record_id, comment)
            if action.task_id is not None and key in (APPROVE, REJECT):
                return self.decide(
                    actor, action.task_id, key, comment=comment, values=values, to=to
                )
            if action.task_id is not None:
                if user_id is None:
                    raise InvalidSigner(N_("choose the person to hand the task to"))
                if key == "reassign":
                    return self.reassign(actor, action.task_id, user_id, comment)
                return self.add_signer(actor, action.task_id, user_id, where, comment)
            assert action.instance_id is not None
            if key == "resubmit":
                return self.resubmit(actor, action.instance_id, comment)
            if key == "withdraw":
                return self.withdraw(actor, action.instance_id, comment)
            if key == "remind":
                self.remind(actor, action.instance_id, comment)
                return self.instance(action.instance_id)
        raise _not_available(key)

    def check_can_act(self, actor: Actor, form_key: str, record_id: int, key: str) -> None:
        """Refuse, as :meth:`act` would, a key that is none of the caller's buttons on the
        record now: so a caller can be refused before what they sent is read."""
        if not any(a.key == key for a in self.actions_for(actor, form_key, record_id)):
            raise _not_available(key)

    # the record lock (see formflow.records.locks) -------------------------------------

    @property
    def forms(self) -> frozenset[str]:
        return self._forms

    def editable(
        self, connection: Connection, actor: Actor, form_key: str, record_id: int
    ) -> frozenset[str] | None:
        """A record under a running approval takes changes only to the fields the current
        node lets the caller's open tasks edit; one returned to its submitter is editable."""
        row = connection.execute(
            select(workflow_instances).where(
                workflow_instances.c.live_key == self._live_key(form_key, record_id)
            )
        ).first()
        if row is None or row.status != RUNNING:
            return None
        instance = instance_of_row(row)
        workflow = self._pinned(instance)
        allowed: set[str] = set()
        for task in self._tasks(connection, instance.id, (OPEN,)):
            node = workflow.node(task.node_key)
            if task.user_id == actor.user_id and isinstance(node, ApprovalNode):
                allowed |= node.fields.edit
        return frozenset(allowed)

    def visible_fields(self, task_id: int, record: Mapping[str, Any]) -> dict[str, Any]:
        """``record`` as the approvers of ``task_id``'s node see it (without hidden fields)."""
        task = self._task(task_id)
        instance = self.instance(task.instance_id)
        node = self._pinned(instance).node(task.node_key)
        hidden = node.fields.hidden if isinstance(node, ApprovalNode) else frozenset()
        return {key: value for key, value in record.items() if key not in hidden}

    def today(self) -> date:
        return (
            self._today() if self._today else self._now().astimezone(self.records.timezone).date()
        )

    # timeouts -------------------------------------------------------------------------

    def sweep_timeouts(self, now: datetime | None = None) -> int:
        """Remind, escalate or decide the open tasks whose node's time is up at ``now``
        (default: the engine's clock), found by index; returns how many were acted on.

        Each runs as a step of its own, by the engine: a task decided or reminded
        meanwhile is passed over, and its timer is cleared in the step that acts, so a
        sweep run twice (two workers, a retried job) acts once.
        """
        moment = now or self._now()
        acted = 0
        for which in (workflow_tasks.c.remind_at, workflow_tasks.c.due_at):
            for task_id in self._timed_out(which, moment):
                acted += self._time_out(task_id, which.name, moment)
        return acted

    def _timed_out(self, column: Any, moment: datetime) -> list[int]:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(workflow_tasks.c.id)
                .join(workflow_instances, workflow_instances.c.id == workflow_tasks.c.instance_id)
                .where(
                    workflow_tasks.c.status == OPEN,
                    column <= moment,
                    workflow_instances.c.app_key == self.app.key,
                )
                .order_by(column)
                .limit(TIMEOUT_BATCH)
            ).scalars()
            return [int(task_id) for task_id in found]

    def _time_out(self, task_id: int, which: str, moment: datetime) -> int:
        acted: list[bool] = []

        def work(step: _Step) -> None:
            column = workflow_tasks.c[which]
            cleared = step.connection.execute(
                update(workflow_tasks)
                .where(
                    workflow_tasks.c.id == task_id,
                    workflow_tasks.c.status == OPEN,
                    column <= moment,
                )
                .values({which: None})
            )
            if cleared.rowcount != 1 or step.instance.status != RUNNING:
                return
            task = self._task_in(step.connection, task_id)
            node = step.workflow.node(task.node_key)
            assert isinstance(node, ApprovalNode)
            acted.append(True)
            if which == "remind_at":
                if task.user_id is not None:
                    step.reminded.append((task.id, task.user_id))
                self._history(step, "remind", node.key, task_id=task.id, detail={"timeout": True})
                return
            self._timeout_action(step, node, task)

        self._on_instance(self._task(task_id).instance_id, Actor.system(), work)
        return len(acted)

    def _timeout_action(self, step: _Step, node: ApprovalNode, task: Task) -> None:
        action = node.timeout.action if node.timeout else None
        if action is TimeoutAction.ESCALATE:
            manager = (
                approvers.manager_of(step.connection, task.user_id)
                if task.user_id is not None
                else None
            )
            if manager is None or manager == task.user_id:
                self._history(step, "escalate", node.key, task_id=task.id, detail={"to": None})
                return
            moved = {"from": task.user_id, "to": manager, "timeout": True}
            self._hand_on(step, task, manager, "escalate", detail=moved)
            opened_id, opened_user, _kind = step.opened[-1]
            step.opened[-1] = (opened_id, opened_user, "escalated")
            return
        decision = APPROVE if action is TimeoutAction.APPROVE else REJECT
        target = None if decision == APPROVE else node.reject_to[0]
        self._settle(step, task, APPROVED if decision == APPROVE else REJECTED, None)
        detail = {"timeout": True, **({"to": target} if target else {})}
        self._history(step, decision, node.key, task_id=task.id, detail=detail)
        self._event(
            step,
            EventKind.TASK_DECIDED,
            {"task": task.id, "node": node.key, "decision": decision, "comment": None},
        )
        self._after_decision(step, node, task, target)

    # the run --------------------------------------------------------------------------

    def _on_instance(
        self, instance_id: int, actor: Actor, work: Callable[[_Step], object]
    ) -> Instance:
        for _attempt in range(ATTEMPTS):
            try:
                with unit_of_work(self.engine) as unit:
                    step = self._claim(
                        unit.connection, self._instance_row(unit.connection, instance_id), actor
                    )
                    work(step)
                    return self._save(step)
            except _Lost:
                continue
        raise InstanceMoved(instance_id)

    def _on_task(self, task_id: int, actor: Actor, work: Callable[[_Step], object]) -> Instance:
        """:meth:`_on_instance` for a step on one task: the task and its instance are read
        together, in the step's transaction, and the claim proves the task is as read (any
        change to a task is a step that claims its instance first)."""
        instance_id = None
        for _attempt in range(ATTEMPTS):
            try:
                with unit_of_work(self.engine) as unit:
                    row = unit.connection.execute(
                        _TASK_WITH_INSTANCE, {"task_id": task_id, "app_key": self.app.key}
                    ).first()
                    if row is None:
                        raise TaskNotFound(task_id)
                    step = self._claim(unit.connection, row, actor, workflow_instances.c.id)
                    instance_id = step.instance.id
                    step.task = task_of_row(row)
                    work(step)
                    return self._save(step)
            except _Lost:
                continue
        raise InstanceMoved(instance_id or 0)

    def _instance_row(self, connection: Connection, instance_id: int) -> Any:
        row = connection.execute(
            select(workflow_instances).where(
                workflow_instances.c.id == instance_id, workflow_instances.c.app_key == self.app.key
            )
        ).first()
        if row is None:
            raise InstanceNotFound(instance_id)
        return row

    def _claim(
        self, connection: Connection, row: Any, actor: Actor, id_column: Any = None
    ) -> _Step:
        """Claim the instance ``row`` holds (as read in this transaction) for one step:
        the compare-and-set of its version that another step on it loses."""
        instance = instance_of_row(row, id_column)
        claimed = connection.execute(_CLAIM, {"instance_id": instance.id, "seen": instance.version})
        if claimed.rowcount != 1:
            raise _Lost()
        position = row._mapping[workflow_instances.c.position] or {}
        step = _Step(
            connection,
            instance,
            self._pinned(instance),
            actor,
            self._now(),
            lanes={key: list(done) for key, done in position.get("lanes", {}).items()},
            status=instance.status,
            outcome=instance.outcome,
            entries=instance.entries,
        )
        step.record = step.stored = self._record(connection, instance.form_key, instance.record_id)
        return step

    def _save(self, step: _Step) -> Instance:
        if step.pending is None:
            step.pending = {
                task.id: task.node_key
                for task in self._tasks(step.connection, step.instance.id, (OPEN, WAITING))
            }
        nodes = sorted(set(step.pending.values()))
        live = step.status in LIVE
        if self.notifications is not None and not self.tell_by_events:
            tell(self.notifications, step, self.app)
        elif self.tell_by_events:
            plan = planned(step, self.app)
            if plan:
                self._event(step, EventKind.NOTIFY, {"tell": plan})
        self._flush(step)
        ended_at = None if live else step.now
        step.connection.execute(
            _SAVE_INSTANCE,
            {
                "w_instance_id": step.instance.id,
                "status": step.status,
                "outcome": step.outcome,
                "entries": step.entries,
                "position": {"nodes": nodes, "lanes": step.lanes},
                "live_key": self._live_key(step.instance.form_key, step.instance.record_id)
                if live
                else None,
                "ended_at": ended_at,
            },
        )
        return replace(
            step.instance,
            status=step.status,
            outcome=step.outcome,
            entries=step.entries,
            nodes=tuple(nodes),
            version=step.instance.version + 1,
            ended_at=utc(ended_at) if ended_at is not None else None,
        )

    def _enter(self, step: _Step, key: str, lane: tuple[str, int] | None = None) -> None:
        """Move the instance into node ``key`` and on, until it waits for people or ends."""
        node = step.workflow.node(key)
        step.entries += 1
        self._history(step, "enter", key)
        ending = {"outcome": node.outcome} if isinstance(node, EndNode) else {}
        self._event(step, EventKind.STATE_ENTERED, {"node": key, **ending})
        self._run_actions(step, node.on_enter)
        if isinstance(node, EndNode):
            self._cancel_open(step)
            step.status, step.outcome = FINISHED, node.outcome
            self._set_state(step, node.state)
            self._history(step, "end", key, detail={"outcome": node.outcome})
        elif isinstance(node, ConditionNode):
            names = self._names(step)
            for branch in node.branches:
                if branch.condition is None or branch.condition.evaluate(names):
                    self._enter(step, branch.next)
                    return
        elif isinstance(node, ParallelNode):
            step.lanes[node.key] = []
            for index, first in enumerate(node.lanes):
                if node.key not in step.lanes:
                    break  # an earlier lane already finished an "any" join
                self._enter(step, first[0], (node.key, index))
        elif isinstance(node, CcNode):
            for user_id in self._resolve(step, node.recipients):
                self._new_task(step, node.key, step.entries, user_id, 0, COPIED, kind="cc")
            self._leave(step, node)
        elif isinstance(node, ApprovalNode):
            self._enter_approval(step, node)

    def _enter_approval(self, step: _Step, node: ApprovalNode) -> None:
        if node.state:
            self._set_state(step, node.state)
        people = self._resolve(step, node.approvers)
        submitter = step.instance.submitter_id
        skipped: list[int] = []
        if not node.allow_self or node.skip_submitter:
            skipped += [user for user in people if user == submitter]
        if node.skip_approved:
            earlier = set(
                step.connection.execute(
                    select(workflow_tasks.c.user_id).where(
                        workflow_tasks.c.instance_id == step.instance.id,
                        workflow_tasks.c.status == APPROVED,
                    )
                ).scalars()
            )
            skipped += [user for user in people if user in earlier]
        people = [user for user in people if user not in skipped]
        if skipped:
            self._history(step, "skip", node.key, detail={"users": sorted(set(skipped))})
        if not people:
            if skipped or node.no_approver is NoApprover.SKIP:
                self._leave(step, node)
                return
            if node.no_approver is NoApprover.REFUSE:
                raise NoApproverFound(node.key)
            people = [
                user
                for user in approvers.administrators(step.connection)
                if user != submitter or node.allow_self
            ]
            if not people:
                raise NoApproverFound(node.key)
        sequential = node.mode is DecisionMode.SEQUENTIAL
        for position, user_id in enumerate(people):
            status = WAITING if sequential and position > 0 else OPEN
            self._new_task(step, node.key, step.entries, user_id, position, status)

    def _after_decision(
        self, step: _Step, node: ApprovalNode, task: Task, target: str | None
    ) -> None:
        every = self._tasks(step.connection, step.instance.id, None)
        step.pending = {t.id: t.node_key for t in every if t.status in (OPEN, WAITING)}
        tasks = [t for t in every if t.node_key == node.key and t.entry == task.entry]
        counted = [t for t in tasks if t.status not in (CANCELLED, REASSIGNED, SKIPPED)]
        approved = sum(1 for t in counted if t.status == APPROVED)
        rejected = sum(1 for t in counted if t.status == REJECTED)
        pending = [t for t in counted if t.status in (OPEN, WAITING)]
        if node.mode is DecisionMode.VOTE:
            assert node.ratio is not None
            total = Decimal(len(counted))
            if Decimal(approved) >= node.ratio * total:
                self._pass(step, node)
            elif Decimal(len(counted) - rejected) < node.ratio * total:
                self._reject(step, node, target or node.reject_to[0])
            return
        if rejected:
            self._reject(step, node, target or node.reject_to[0])
        elif node.mode is DecisionMode.ANY or not pending:
            if any(t.node_key == node.key and t.status in (OPEN, WAITING) for t in every):
                self._cancel_node(step, node.key)
            self._leave(step, node)
        elif not any(t.status == OPEN for t in pending):
            following = min(pending, key=lambda t: (t.position, t.id))
            step.connection.execute(
                update(workflow_tasks)
                .where(workflow_tasks.c.id == following.id)
                .values(status=OPEN, **self._timers(step, node.key))
            )
            if following.user_id is not None:
                step.opened.append((following.id, following.user_id, following.kind))

    def _pass(self, step: _Step, node: ApprovalNode | CcNode) -> None:
        self._cancel_node(step, node.key)
        self._leave(step, node)

    def _leave(self, step: _Step, node: ApprovalNode | CcNode) -> None:
        self._run_actions(step, node.on_leave)
        lane = step.workflow.lane_of(node.key)
        if lane is None:
            self._enter(step, node.next)
            return
        parallel, index = lane
        members = parallel.lanes[index]
        position = members.index(node.key)
        if position + 1 < len(members):
            self._enter(step, members[position + 1])
            return
        done = step.lanes.setdefault(parallel.key, [])
        done.append(index)
        if parallel.join is Join.ANY or len(done) == len(parallel.lanes):
            for other in parallel.lanes:
                for key in other:
                    self._cancel_node(step, key)
            step.lanes.pop(parallel.key, None)
            self._enter(step, parallel.next)

    def _reject(self, step: _Step, node: ApprovalNode, target: str) -> None:
        self._cancel_open(step)
        step.lanes.clear()
        if target == SUBMITTER:
            step.status = RETURNED
            self._set_state(step, step.workflow.states.returned)
            self._history(step, "returned", node.key)
            return
        self._enter(step, target)

    # pieces ---------------------------------------------------------------------------

    def _check_submit(
        self, connection: Connection, actor: Actor, workflow: Workflow, record: Record
    ) -> None:
        start = workflow.start
        if self._live_in(connection, workflow.form, int(record["id"])) is not None:
            raise AlreadySubmitted(int(record["id"]))
        if start.roles and not actor.is_admin and not (actor.roles & set(start.roles)):
            raise NotSubmittable(
                N_("your roles may not submit '%(workflow)s'"), workflow=workflow.key
            )
        if actor.user_id is None:
            raise NotSubmittable(N_("a request is submitted by a user"))
        state = record.get(workflow.state_field) if workflow.state_field else None
        if start.sources and state not in start.sources:
            raise NotSubmittable(
                N_("a record in state '%(state)s' cannot be submitted"), state=state
            )
        if start.condition is not None and not start.condition.evaluate(
            self._names_for(record, actor)
        ):
            raise NotSubmittable(
                N_("this record does not meet the condition to submit: %(condition)s"),
                condition=start.condition.source,
            )
        self.records.get(actor, workflow.form, int(record["id"]))  # may the submitter see it?

    def _only_submitter(self, step: _Step, what: str) -> None:
        if step.actor.user_id != step.instance.submitter_id and not step.actor.is_admin:
            raise NotSubmitter(what)

    def _own_open_task(self, step: _Step, task_id: int) -> Task:
        task = step.task if step.task is not None else self._task_in(step.connection, task_id)
        if task.user_id != step.actor.user_id:
            raise NotYourTask(task_id)
        if task.status != OPEN:
            raise TaskAlreadyDecided(task_id, task.status)
        if step.instance.status != RUNNING:
            raise NotRunning(step.instance.id, step.instance.status)
        return task

    def _check_signer(self, step: _Step, task: Task, user_id: int) -> None:
        if user_id == task.user_id or not approvers.is_active(step.connection, user_id):
            raise InvalidSigner(N_("user %(user)s cannot take this task"), user=user_id)
        if user_id == step.instance.submitter_id:
            node = step.workflow.node(task.node_key)
            if not (isinstance(node, ApprovalNode) and node.allow_self):
                raise SelfApproval()
        busy = step.connection.execute(
            select(func.count())
            .select_from(workflow_tasks)
            .where(
                workflow_tasks.c.instance_id == step.instance.id,
                workflow_tasks.c.node_key == task.node_key,
                workflow_tasks.c.entry == task.entry,
                workflow_tasks.c.user_id == user_id,
                workflow_tasks.c.status.in_((OPEN, WAITING)),
            )
        ).scalar_one()
        if busy:
            raise InvalidSigner(N_("user %(user)s already has this step"), user=user_id)

    def _settle(self, step: _Step, task: Task, status: str, comment: str | None) -> None:
        """Decide ``task`` once: the compare-and-set that a second decision loses."""
        done = step.connection.execute(
            _SETTLE, {"task_id": task.id, "status": status, "comment": comment, "at": step.now}
        )
        if done.rowcount != 1:
            raise TaskAlreadyDecided(task.id, self._task_in(step.connection, task.id).status)
        if step.pending is not None:
            step.pending.pop(task.id, None)

    def _hand_on(
        self,
        step: _Step,
        task: Task,
        user_id: int,
        action: str,
        comment: str | None = None,
        *,
        detail: Mapping[str, Any] | None = None,
        delegated_from: int | None = None,
    ) -> None:
        """Move an open ``task`` to ``user_id`` (reassigned, delegated or escalated), the
        one way every hand-over goes: the task is settled as reassigned and one opens for
        them in its place (same node, round and position, so a sequential node keeps its
        order), recorded as ``action`` with ``detail`` (by default, whom it went to)."""
        self._settle(step, task, REASSIGNED, comment)
        self._new_task(
            step,
            task.node_key,
            task.entry,
            user_id,
            task.position,
            OPEN,
            delegated_from=delegated_from,
        )
        self._history(
            step,
            action,
            task.node_key,
            task_id=task.id,
            comment=comment,
            detail={"to": user_id} if detail is None else detail,
        )

    def _new_task(
        self,
        step: _Step,
        node_key: str,
        entry: int,
        user_id: int,
        position: int,
        status: str,
        *,
        kind: str = "approve",
        delegated_from: int | None = None,
    ) -> None:
        if kind == "approve" and delegated_from is None:
            delegate = delegating.delegate_of(
                step.connection, self.app.key, user_id, step.workflow.key, self.today()
            )
            if delegate is not None:
                user_id, delegated_from = delegate, user_id
        task_id = step.connection.execute(
            _NEW_TASK,
            {
                "instance_id": step.instance.id,
                "node_key": node_key,
                "entry": entry,
                "kind": kind,
                "user_id": user_id,
                "delegated_from": delegated_from,
                "position": position,
                "status": status,
                "created_at": step.now,
                **(self._timers(step, node_key) if status == OPEN and kind == "approve" else {}),
            },
        ).scalar_one()
        if status in (OPEN, COPIED):
            step.opened.append((int(task_id), user_id, kind))
        if step.pending is not None and status in (OPEN, WAITING):
            step.pending[int(task_id)] = node_key

    def _timers(self, step: _Step, node_key: str) -> dict[str, datetime | None]:
        """When a task opening now at ``node_key`` is reminded and acted on, if ever."""
        node = step.workflow.node(node_key)
        timeout = node.timeout if isinstance(node, ApprovalNode) else None
        if timeout is None:
            return {"remind_at": None, "due_at": None}
        return {
            "remind_at": step.now + timeout.remind_after if timeout.remind_after else None,
            "due_at": step.now + timeout.act_after if timeout.act_after else None,
        }

    def _cancel_open(self, step: _Step) -> None:
        if step.pending is not None:
            step.pending.clear()
        step.connection.execute(
            update(workflow_tasks)
            .where(
                workflow_tasks.c.instance_id == step.instance.id,
                workflow_tasks.c.status.in_((OPEN, WAITING)),
            )
            .values(status=CANCELLED, decided_at=step.now)
        )

    def _cancel_node(self, step: _Step, node_key: str) -> None:
        if step.pending is not None:
            step.pending = {key: node for key, node in step.pending.items() if node != node_key}
        step.connection.execute(
            update(workflow_tasks)
            .where(
                workflow_tasks.c.instance_id == step.instance.id,
                workflow_tasks.c.node_key == node_key,
                workflow_tasks.c.status.in_((OPEN, WAITING)),
            )
            .values(status=CANCELLED, decided_at=step.now)
        )

    def _decided_any(self, step: _Step) -> bool:
        self._flush(step)
        return self._decided_any_in(step.connection, step.instance.id)

    def _decided_any_in(self, connection: Connection, instance_id: int) -> bool:
        """Whether an approver decided since the instance was last (re)submitted."""
        last_submit = connection.execute(
            select(func.max(workflow_history.c.id)).where(
                workflow_history.c.instance_id == instance_id,
                workflow_history.c.action.in_(("submit", "resubmit")),
            )
        ).scalar()
        decided = connection.execute(
            select(func.count())
            .select_from(workflow_history)
            .where(
                workflow_history.c.instance_id == instance_id,
                workflow_history.c.action.in_((APPROVE, REJECT)),
                workflow_history.c.id > (last_submit or 0),
            )
        ).scalar_one()
        return bool(decided)

    def _edit(self, step: _Step, node: ApprovalNode, values: Mapping[str, Any]) -> None:
        refused = {
            key: [Problem("workflow_locked", N_("is not editable at this step"))]
            for key in values
            if key not in node.fields.edit
        }
        if refused:
            raise ValidationFailed(refused)
        step.edits.update(values)

    def _set_state(self, step: _Step, state: str | None) -> None:
        field_key = step.workflow.state_field
        if field_key is None or state is None or step.record.get(field_key) == state:
            if step.edits:
                self._write(step, {})
            return
        self._write(step, {field_key: state})

    def _write(self, step: _Step, values: Mapping[str, Any]) -> None:
        """Change the record as the engine, which the flow's own rules allow; the step
        goes on with the record as the update stored it (the engine's columns, such as
        its department, are read again where needed)."""
        self._flush(step)
        stored = self.records.update(
            Actor.system(),
            step.instance.form_key,
            step.instance.record_id,
            {**step.edits, **values},
            expected_version=int(step.record["version"]),
            savepoint=False,  # a refused write ends the step, and its unit, whole
            stored=step.stored,
        )
        step.stored = None
        step.edits.clear()
        step.record = {**step.record, **stored}
        step.record.pop(DEPARTMENT, None)  # an owner's change may have moved it

    def _run_actions(self, step: _Step, calls: Sequence[ActionCall]) -> None:
        for call in calls:
            if call.name == "set":
                self._write(step, dict(call.params))
                continue
            action = self.actions[call.name]
            step.stored = step.pending = None  # the action may write the record, or tasks
            self._flush(step)  # what the action reads or writes comes after them
            context = self.services.lend(
                ActionContext(
                    self.app.key,
                    step.instance.form_key,
                    dict(step.record),
                    step.actor.user_id,
                    record_id=step.instance.record_id,
                    records=self.records,
                    actor=Actor.system(),
                    unit=current_unit(),
                    expressions=self.expressions,
                    names=self._names(step),
                    now=step.now,
                    source=f"workflow:{step.workflow.key}",
                )
            )
            action.run(context, dict(call.params))

    def _resolve(self, step: _Step, rules: Sequence[Any]) -> list[int]:
        return approvers.resolve(
            step.connection,
            rules,
            app_key=self.app.key,
            record=step.record,
            record_department=lambda: self._record_department(step),
            submitter_id=step.instance.submitter_id,
            names=self._names(step),
        )

    def _record_department(self, step: _Step) -> int | None:
        table = self.records.schema.table(step.instance.form_key)
        found = step.connection.execute(
            select(table.c[DEPARTMENT]).where(table.c.id == step.instance.record_id)
        ).scalar_one_or_none()
        return None if found is None else int(found)

    def _names(self, step: _Step) -> dict[str, Any]:
        return self._names_for(step.record, Actor(step.instance.submitter_id))

    def _names_for(self, record: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        now = self._now().astimezone(self.records.timezone)
        user = {
            "id": actor.user_id,
            "roles": sorted(actor.roles),
            "department": actor.department_id,
        }
        return {**record, "user": user, "today": now.date(), "now": now}

    def _history(
        self,
        step: _Step,
        action: str,
        node_key: str | None,
        *,
        task_id: int | None = None,
        comment: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        step.history.append(
            {
                "instance_id": step.instance.id,
                "action": action,
                "node_key": node_key,
                "task_id": task_id,
                "user_id": step.actor.user_id,
                "at": step.now,
                "comment": comment,
                "detail": audit.jsonable(dict(detail or {})),
            }
        )
        if action in _RECORD_HISTORY:
            changes = {"comment": (None, comment)} if comment else {}
            audit.record_change(
                step.connection,
                table_name=self.records.schema.table(step.instance.form_key).name,
                record_id=step.instance.record_id,
                action=action,
                user_id=step.actor.user_id,
                at=step.now,
                changes=changes,
            )
            audit_log(
                step.connection,
                f"approval.{action}",
                user_id=step.actor.user_id,
                app_key=self.app.key,
                form_key=step.instance.form_key,
                record_id=step.instance.record_id,
                detail={"instance": step.instance.id, "node": node_key, "task": task_id},
                at=step.now,
            )

    def _event(self, step: _Step, kind: EventKind, detail: Mapping[str, Any]) -> None:
        step.events.append(
            {
                "app_key": self.app.key,
                "form_key": step.instance.form_key,
                "record_id": step.instance.record_id,
                "kind": kind,
                "user_id": step.actor.user_id,
                "at": step.now,
                "record": {
                    key: value for key, value in step.record.items() if not key.startswith("_")
                },
                "detail": {"instance": step.instance.id, "workflow": step.workflow.key, **detail},
            }
        )

    def _flush(self, step: _Step) -> None:
        """Write the history rows and events the step holds, each kind in one statement."""
        if step.history:
            step.connection.execute(_APPEND_HISTORY, step.history)
            step.history = []
        if step.events:
            self.records.outbox.append_all(step.connection, step.events)
            step.events = []

    def _check_actions(self, workflows: Any) -> None:
        for workflow in workflows:
            for node in workflow.nodes:
                for call in (*node.on_enter, *node.on_leave):
                    if call.name != "set" and call.name not in self.actions:
                        raise WorkflowError(
                            N_(
                                "workflow '%(workflow)s' runs action '%(action)s', which no plugin provides"
                            ),
                            workflow=workflow.key,
                            action=call.name,
                        )

    def _workflow(self, key: str) -> Workflow:
        if key not in self.app.workflows:
            raise NotSubmittable(N_("no workflow '%(workflow)s'"), workflow=key)
        return self.app.workflows[key]

    def _pinned(self, instance: Instance) -> Workflow:
        return self.versions.workflow(instance.definition_digest, instance.workflow_key)

    def _record(self, connection: Connection, form_key: str, record_id: int) -> Record:
        statement = self._live_records.get(form_key)
        if statement is None:  # built once per form: every step reads its record
            table = self.records.schema.table(form_key)
            statement = select(table).where(
                table.c.id == bindparam("record_id"), table.c[DELETED_AT].is_(None)
            )
            self._live_records[form_key] = statement
        row = connection.execute(statement, {"record_id": record_id}).mappings().first()
        if row is None:
            raise InstanceNotFound(record_id)
        return normalised(row)

    def _instance(self, connection: Connection, instance_id: int) -> Instance:
        return instance_of_row(self._instance_row(connection, instance_id))

    def _live(self, form_key: str, record_id: int) -> Instance | None:
        with self.engine.connect() as connection:
            return self._live_in(connection, form_key, record_id)

    def _live_in(self, connection: Connection, form_key: str, record_id: int) -> Instance | None:
        row = connection.execute(
            select(workflow_instances).where(
                workflow_instances.c.live_key == self._live_key(form_key, record_id)
            )
        ).first()
        return None if row is None else instance_of_row(row)

    def _live_key(self, form_key: str, record_id: int) -> str:
        return f"{self.app.key}:{form_key}:{record_id}"

    def _task(self, task_id: int) -> Task:
        with self.engine.connect() as connection:
            return self._task_in(connection, task_id)

    def _task_in(self, connection: Connection, task_id: int) -> Task:
        row = connection.execute(
            select(workflow_tasks)
            .join(workflow_instances, workflow_instances.c.id == workflow_tasks.c.instance_id)
            .where(workflow_tasks.c.id == task_id, workflow_instances.c.app_key == self.app.key)
        ).first()
        if row is None:
            raise TaskNotFound(task_id)
        return task_of_row(row)

    def _tasks(
        self, connection: Connection, instance_id: int, statuses: tuple[str, ...] | None
    ) -> list[Task]:
        if statuses is None:
            rows = connection.execute(_INSTANCE_TASKS, {"instance_id": instance_id})
        else:
            rows = connection.execute(
                _INSTANCE_TASKS_IN, {"instance_id": instance_id, "statuses": list(statuses)}
            )
        return [task_of_row(row) for row in rows]

    def _now(self) -> datetime:
        return self._clock() if self._clock is not None else datetime.now(UTC)


_NEW_TASK = insert(workflow_tasks).returning(workflow_tasks.c.id)
# Statements every step runs, built once.
_APPEND_HISTORY = insert(workflow_history)
_SAVE_INSTANCE = update(workflow_instances).where(  # its SET follows the values given
    workflow_instances.c.id == bindparam("w_instance_id")
)
_INSTANCE_TASKS = (
    select(workflow_tasks)
    .where(workflow_tasks.c.instance_id == bindparam("instance_id"))
    .order_by(workflow_tasks.c.id)
)
_INSTANCE_TASKS_IN = _INSTANCE_TASKS.where(
    workflow_tasks.c.status.in_(bindparam("statuses", expanding=True))
)
_SETTLE = (
    update(workflow_tasks)
    .where(workflow_tasks.c.id == bindparam("task_id"), workflow_tasks.c.status == OPEN)
    .values(status=bindparam("status"), comment=bindparam("comment"), decided_at=bindparam("at"))
)
_TASK_WITH_INSTANCE = (
    select(workflow_tasks, workflow_instances)
    .join(workflow_instances, workflow_instances.c.id == workflow_tasks.c.instance_id)
    .where(
        workflow_tasks.c.id == bindparam("task_id"),
        workflow_instances.c.app_key == bindparam("app_key"),
    )
)
_CLAIM = (
    update(workflow_instances)
    .where(
        workflow_instances.c.id == bindparam("instance_id"),
        workflow_instances.c.version == bindparam("seen"),
    )
    .values(version=workflow_instances.c.version + 1)
)


def _task_actions(node: Any, instance_id: int, task_id: int) -> list[RecordAction]:
    """What the holder of an open approval task may do with it."""
    if not isinstance(node, ApprovalNode):
        return []

    def action(key: str, label: str, **more: Any) -> RecordAction:
        return RecordAction(key, label, instance_id, task_id, node_key=node.key, **more)

    return [
        action(APPROVE, N_("Approve"), edit=node.fields.edit),
        action(REJECT, N_("Reject"), reject_to=node.reject_to, edit=node.fields.edit),
        action("reassign", N_("Reassign")),
        action("add_signer", N_("Add a signer")),
    ]


_RECORD_HISTORY = frozenset(
    {
        "submit",
        APPROVE,
        REJECT,
        "withdraw",
        "resubmit",
        "reassign",
        "add_signer",
        "delegate",
        "remind",
        "escalate",
        "end",
    }
)
"""The steps that also go into the record's own history (the audit trail)."""


def entry_of_row(kind: type[Entry], row: Any, **given: Any) -> Entry:
    """A row of the workflow history as a :class:`HistoryEntry` (or a ``kind`` of entry
    that adds the fields ``given``)."""
    return from_row(kind, row, at=utc(row.at), detail=row.detail or {}, **given)


def instance_of_row(row: Any, id_column: Any = None) -> Instance:
    """An :class:`Instance` from a row holding the instances table's columns (``id_column``
    when the row's ``id`` is another table's)."""
    values = row._mapping
    position = values[workflow_instances.c.position] or {}
    return Instance(
        id=values[id_column if id_column is not None else workflow_instances.c.id],
        app_key=values[workflow_instances.c.app_key],
        workflow_key=values[workflow_instances.c.workflow_key],
        definition_digest=values[workflow_instances.c.definition_digest],
        form_key=values[workflow_instances.c.form_key],
        record_id=values[workflow_instances.c.record_id],
        submitter_id=values[workflow_instances.c.submitter_id],
        status=values[workflow_instances.c.status],
        outcome=values[workflow_instances.c.outcome],
        prior_state=values[workflow_instances.c.prior_state],
        version=values[workflow_instances.c.version],
        entries=values[workflow_instances.c.entries],
        nodes=tuple(position.get("nodes", ())),
        started_at=utc(values[workflow_instances.c.started_at]),
        ended_at=utc(values[workflow_instances.c.ended_at])
        if values[workflow_instances.c.ended_at]
        else None,
    )


def task_of_row(row: Any) -> Task:
    """A :class:`Task` from a row holding the tasks table's columns."""
    values = row._mapping
    c = workflow_tasks.c
    return Task(
        id=values[c.id],
        instance_id=values[c.instance_id],
        node_key=values[c.node_key],
        entry=values[c.entry],
        kind=values[c.kind],
        user_id=values[c.user_id],
        delegated_from=values[c.delegated_from],
        position=values[c.position],
        status=values[c.status],
        comment=values[c.comment],
        created_at=utc(values[c.created_at]),
        decided_at=utc(values[c.decided_at]) if values[c.decided_at] else None,
    )


def utc(moment: datetime) -> datetime:
    """A stored moment as an aware UTC one (SQLite hands them back naive)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _not_available(key: str) -> NotSubmittable:
    return NotSubmittable(
        N_("'%(action)s' is not something you can do on this record now"), action=key
    )
