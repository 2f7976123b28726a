"""A person's approvals as the inbox page shows them: a page of one box, and the counts.

Four boxes: ``todo`` (tasks waiting for the person's decision), ``done`` (tasks they
decided or handed on), ``submitted`` (the requests they submitted, one row each, whatever
their state) and ``cc`` (requests copied to them, read or not).

A page costs the same few statements however many tasks there are: one for the page of
rows (keyset on the task's or, for ``submitted``, the instance's id, newest first, so the
hundredth page is as quick as the first), one for who holds each request now, and one per
form on the page for the records' titles. The counts are one statement. Indexes on
``(user_id, status, id)`` of the tasks and ``(submitter_id, status)`` of the instances
serve them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    ScalarSelect,
    Select,
    and_,
    func,
    select,
    union_all,
    update,
)

from formflow.errors import N_
from formflow.records.access import Actor
from formflow.records.service import Record
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import workflow_instances, workflow_tasks
from formflow.workflows.errors import WorkflowError
from formflow.workflows.model import Workflow
from formflow.workflows.service import (
    APPROVED,
    COPIED,
    FINISHED,
    LIVE,
    OPEN,
    READ,
    REASSIGNED,
    REJECTED,
    RETURNED,
    RUNNING,
    WITHDRAWN,
    Instance,
    Task,
    WorkflowService,
    instance_of_row,
    task_of_row,
)

BOXES = ("todo", "done", "submitted", "cc")
PAGE_SIZE = 20
COUNT_CAP = 999
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class InboxRow:
    """One line of a box: the request, the person's task on it (none in ``submitted``),
    the record's id and title (none once deleted) and the tasks waiting on it now."""

    instance: Instance
    workflow: Workflow
    task: Task | None
    title: Record | None
    holders: tuple[Task, ...]


@dataclass(frozen=True)
class InboxPage:
    box: str
    rows: tuple[InboxRow, ...]
    next_after: int | None
    """The ``after`` that gives the following page; none on the last."""


@dataclass(frozen=True)
class InboxCounts:
    todo: int
    submitted: int
    """Requests the person submitted that are still running or returned to them."""
    unread: int
    """Requests copied to them that they have not opened yet."""


def page(
    flows: WorkflowService,
    actor: Actor,
    box: str = "todo",
    *,
    workflow: str | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> InboxPage:
    """One page of ``box``, newest first, optionally of one ``workflow`` only; ``after`` is
    the previous page's :attr:`InboxPage.next_after`."""
    if box not in BOXES:
        raise WorkflowError(N_("no inbox %(box)r (todo, done, submitted, cc)"), box=box)
    if workflow is not None and workflow not in flows.app.workflows:
        raise WorkflowError(N_("no workflow '%(workflow)s'"), workflow=workflow)
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    with read_transaction(flows.engine) as connection:
        if box == "submitted":
            found = _submitted(connection, flows, actor, workflow, after, limit + 1)
        else:
            found = _tasks(connection, flows, actor, box, workflow, after, limit + 1)
        more = len(found) > limit
        found = found[:limit]
        holders = _holders(connection, [instance.id for instance, _task in found])
    titles = _titles(flows, [instance for instance, _task in found])
    rows = tuple(
        InboxRow(
            instance,
            flows.versions.workflow(instance.definition_digest, instance.workflow_key),
            task,
            titles.get((instance.form_key, instance.record_id)),
            tuple(holders.get(instance.id, ())),
        )
        for instance, task in found
    )
    last = found[-1] if found else None
    next_after = None
    if more and last is not None:
        next_after = last[0].id if last[1] is None else last[1].id
    return InboxPage(box, rows, next_after)


def counts(flows: WorkflowService, actor: Actor) -> InboxCounts:
    """What the workbench shows of the inbox, in one statement; each count stops past
    :data:`COUNT_CAP` (shown as "999+"), so a person with 20,000 open tasks costs no more
    than one with a thousand."""
    tasks, instances = workflow_tasks.c, workflow_instances.c

    def counted(query: Select[Any]) -> ScalarSelect[int]:
        return (
            select(func.count())
            .select_from(query.limit(COUNT_CAP + 1).subquery())
            .scalar_subquery()
        )

    def holding(status: str) -> Select[Any]:
        return (
            select(tasks.id)
            .join(workflow_instances, instances.id == tasks.instance_id)
            .where(
                tasks.user_id == actor.user_id,
                tasks.status == status,
                instances.app_key == flows.app.key,
            )
        )

    submitted = select(instances.id).where(
        instances.submitter_id == actor.user_id,
        instances.status.in_(LIVE),
        instances.app_key == flows.app.key,
    )
    statement = select(counted(holding(OPEN)), counted(submitted), counted(holding(COPIED)))
    with read_transaction(flows.engine) as connection:
        todo, running, unread = connection.execute(statement).one()
    return InboxCounts(int(todo), int(running), int(unread))


def shown_count(count: int) -> str:
    """A count as the workbench shows it: past the cap, "999+"."""
    return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


def mark_read(flows: WorkflowService, actor: Actor, instance_ids: Collection[int]) -> int:
    """The person has opened these requests: their copies of them count as read."""
    if not instance_ids:
        return 0
    return _read_copies(flows, actor, workflow_tasks.c.instance_id.in_(sorted(instance_ids)))


def mark_record_read(flows: WorkflowService, actor: Actor, form_key: str, record_id: int) -> int:
    """The person says they have read this record's requests: their copies count as read.

    One statement, whatever the number of requests the record has had."""
    instances = workflow_instances
    requests = select(instances.c.id).where(
        instances.c.app_key == flows.app.key,
        instances.c.form_key == form_key,
        instances.c.record_id == record_id,
    )
    return _read_copies(flows, actor, workflow_tasks.c.instance_id.in_(requests.scalar_subquery()))


def _read_copies(flows: WorkflowService, actor: Actor, of_requests: ColumnElement[bool]) -> int:
    """Mark ``actor``'s unread copies of the requests ``of_requests`` picks read; how many."""
    if actor.user_id is None:
        return 0
    with write_transaction(flows.engine) as connection:
        done = connection.execute(
            update(workflow_tasks)
            .where(
                workflow_tasks.c.user_id == actor.user_id,
                workflow_tasks.c.status == COPIED,
                of_requests,
            )
            .values(status=READ)
        )
    return int(done.rowcount or 0)


INSTANCE_STATUSES = (RUNNING, RETURNED, FINISHED, WITHDRAWN)

_BOX_STATUSES = {
    "todo": (OPEN,),
    "done": (APPROVED, REJECTED, REASSIGNED),
    "cc": (COPIED, READ),
}


def _tasks(
    connection: Connection,
    flows: WorkflowService,
    actor: Actor,
    box: str,
    workflow: str | None,
    after: int | None,
    limit: int,
) -> list[tuple[Instance, Task | None]]:
    tasks, instances = workflow_tasks.c, workflow_instances.c
    held = workflow_tasks.join(workflow_instances, instances.id == tasks.instance_id)
    where = [tasks.user_id == actor.user_id, *_page(flows, workflow, after, tasks.id)]
    wanted = _each_newest(held, tasks.id, tasks.status, _BOX_STATUSES[box], where, limit)
    query = (
        select(workflow_tasks, workflow_instances)
        .join(workflow_instances, instances.id == tasks.instance_id)
        .where(tasks.id.in_(wanted))
        .order_by(tasks.id.desc())
        .limit(limit)
    )
    return [
        (instance_of_row(row, id_column=instances.id), task_of_row(row))
        for row in connection.execute(query)
    ]


def _submitted(
    connection: Connection,
    flows: WorkflowService,
    actor: Actor,
    workflow: str | None,
    after: int | None,
    limit: int,
) -> list[tuple[Instance, Task | None]]:
    instances = workflow_instances.c
    where = [instances.submitter_id == actor.user_id, *_page(flows, workflow, after, instances.id)]
    wanted = _each_newest(
        workflow_instances, instances.id, instances.status, INSTANCE_STATUSES, where, limit
    )
    query = (
        select(workflow_instances)
        .where(instances.id.in_(wanted))
        .order_by(instances.id.desc())
        .limit(limit)
    )
    return [(instance_of_row(row), None) for row in connection.execute(query)]


def _page(
    flows: WorkflowService, workflow: str | None, after: int | None, ids: ColumnElement[int]
) -> list[ColumnElement[bool]]:
    """What every box's page asks: the app's requests, of one workflow when one is chosen,
    and older than the page before (``ids`` below ``after``)."""
    instances = workflow_instances.c
    found = [instances.app_key == flows.app.key]
    if workflow is not None:
        found.append(instances.workflow_key == workflow)
    if after is not None:
        found.append(ids < after)
    return found


def _each_newest(
    source: FromClause,
    ids: ColumnElement[int],
    status: ColumnElement[str],
    statuses: Sequence[str],
    where: Sequence[ColumnElement[bool]],
    limit: int,
) -> Select[Any]:
    """The newest ``limit`` ids of each status, as one select: each status reads its own
    stretch of a ``(person, status, id)`` index backwards and stops at the page size, where
    a single ``status IN (...)`` would gather and sort every row the person ever had."""

    def newest(one: str) -> Select[Any]:
        return (
            select(ids)
            .select_from(source)
            .where(status == one, *where)
            .order_by(ids.desc())
            .limit(limit)
        )

    if len(statuses) == 1:
        return newest(statuses[0])
    parts = [newest(one).subquery() for one in statuses]
    merged = union_all(*(select(part.c.id) for part in parts)).subquery()
    return select(merged.c.id)


def _holders(connection: Connection, instance_ids: list[int]) -> dict[int, list[Task]]:
    if not instance_ids:
        return {}
    rows = connection.execute(
        select(workflow_tasks)
        .where(
            and_(
                workflow_tasks.c.instance_id.in_(instance_ids),
                workflow_tasks.c.status == OPEN,
            )
        )
        .order_by(workflow_tasks.c.id)
    )
    found: dict[int, list[Task]] = {}
    for row in rows:
        task = task_of_row(row)
        found.setdefault(task.instance_id, []).append(task)
    return found


def _titles(flows: WorkflowService, instances: list[Instance]) -> dict[tuple[str, int], Record]:
    """The titles of the page's records, one statement per form: a task lets its holder
    see what the request is about, as a link's title does (the record's page still asks
    whether they may read it)."""
    wanted: dict[str, set[int]] = {}
    for instance in instances:
        if instance.form_key in flows.app.forms:
            wanted.setdefault(instance.form_key, set()).add(instance.record_id)
    found: dict[tuple[str, int], Record] = {}
    for form_key, ids in sorted(wanted.items()):
        for record_id, row in flows.records.referenced_titles(form_key, ids).items():
            found[(form_key, record_id)] = row
    return found
