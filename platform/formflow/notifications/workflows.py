"""What the workflow engine tells people, written in the unit of work of each step.

A step that opens a task tells its holder (a copy tells its reader); a step that ends an
instance, or returns it, tells the submitter how; a reminder (催办) tells whoever holds
the instance's open tasks. The words are message ids filled in with the workflow's and
form's labels, so each reader gets them in their own language.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from formflow.definitions.model import App
from formflow.errors import N_
from formflow.events import Event, EventKind
from formflow.notifications.model import label_param
from formflow.notifications.service import Notifications
from formflow.records.unit import unit_of_work
from formflow.workflows.model import EndNode

if TYPE_CHECKING:
    from formflow.workflows.service import _Step

NOTICES = "formflow.workflow_notices"
"""The outbox subscriber that writes what steps tell people (see :class:`Notices`)."""
TASK = "task"
COPY = "copy"
REMINDER = "reminder"
ESCALATED = "escalated"
APPROVED = "approved"
REJECTED = "rejected"
RETURNED = "returned"
ENDED = "ended"

TITLES = {
    TASK: N_("Waiting for your approval: %(workflow)s"),
    COPY: N_("Copied to you: %(workflow)s"),
    REMINDER: N_("Reminder, waiting for your approval: %(workflow)s"),
    ESCALATED: N_("Escalated to you: %(workflow)s"),
    APPROVED: N_("Your request was approved: %(workflow)s"),
    REJECTED: N_("Your request was rejected: %(workflow)s"),
    RETURNED: N_("Your request was returned to you: %(workflow)s"),
    ENDED: N_("Your request ended (%(outcome)s): %(workflow)s"),
}
BODY = N_("%(form)s record %(record)s")


def tell(notifications: Notifications, step: _Step, app: App) -> None:
    """Write what ``step`` tells people on its connection (called as the step saves)."""
    write(notifications, step.connection, planned(step, app), now=step.now)


def planned(step: _Step, app: App) -> list[dict[str, Any]]:
    """What ``step`` tells people, as plain JSON (an outbox event can carry it): one entry
    per person and kind, with the message's parameters and where it points. Clears what
    the step had gathered, so a step tells once."""
    instance = step.instance
    form = app.forms.get(instance.form_key)
    params: dict[str, Any] = {
        "workflow": label_param(step.workflow.label),
        "form": label_param(form.label if form else instance.form_key),
        "record": instance.record_id,
    }
    found: list[dict[str, Any]] = []

    def add(user_ids: list[int], kind: str, task_id: int | None = None, **more: Any) -> None:
        found.append(
            {
                "users": user_ids,
                "kind": kind,
                "params": {**params, **more},
                "app_key": app.key,
                "form_key": instance.form_key,
                "record_id": instance.record_id,
                "task_id": task_id,
            }
        )

    for task_id, user_id, task_kind in step.opened:
        kind = {"cc": COPY, "escalated": ESCALATED}.get(task_kind, TASK)
        add([user_id], kind, task_id)
    step.opened.clear()
    for task_id, user_id in step.reminded:
        add([user_id], REMINDER, task_id)
    step.reminded.clear()
    submitter = instance.submitter_id
    if submitter is None or step.status == instance.status:
        return found
    if step.status == "returned":
        add([submitter], RETURNED)
    elif step.status == "finished":
        outcome = step.outcome or ""
        if outcome in (APPROVED, REJECTED):
            add([submitter], outcome)
        else:
            add([submitter], ENDED, outcome=_end_name(step, outcome))
    return found


def _end_name(step: _Step, outcome: str) -> Any:
    """The name of the end node that gave ``outcome`` (as the timeline shows it), in both
    languages; the outcome is a key the flow's author chose, not words for people."""
    for node in step.workflow.nodes:
        if isinstance(node, EndNode) and node.outcome == outcome:
            return label_param(node.label)
    return outcome


def write(
    notifications: Notifications,
    connection: Connection,
    plan: list[dict[str, Any]],
    *,
    now: datetime | None = None,
    cause: str | None = None,
) -> None:
    """Write the notifications ``plan`` lists (see :func:`planned`); with ``cause``, each
    entry is written once however often this runs."""
    if cause:
        notifications.add_once_many(connection, items(plan, now=now, cause=cause))
        return
    for item, _cause in items(plan, now=now, cause=""):
        notifications.add(connection, **item)


def items(
    plan: list[dict[str, Any]], *, now: datetime | None, cause: str
) -> list[tuple[dict[str, Any], str]]:
    """The notifications ``plan`` lists, as :meth:`Notifications.add_once_many` takes
    them: each entry's keyword arguments, and its cause (``cause`` and its number)."""
    return [
        (
            {
                "user_ids": [int(user_id) for user_id in entry["users"]],
                "kind": entry["kind"],
                "title": TITLES[entry["kind"]],
                "body": BODY,
                "params": entry["params"],
                "app_key": entry["app_key"],
                "form_key": entry["form_key"],
                "record_id": entry["record_id"],
                "task_id": entry["task_id"],
                "now": now,
            },
            f"{cause}:{number}",
        )
        for number, entry in enumerate(plan)
    ]


class Notices:
    """The outbox subscriber (:data:`NOTICES`) that writes what workflow steps tell people
    when the engine runs with ``tell_by_events``: after the step commits, on the job runner
    in a served instance, once per event. It takes a round of events at once
    (:class:`~formflow.events.BatchSubscriber`): their notifications in one statement."""

    def __init__(self, notifications: Notifications) -> None:
        self.notifications = notifications

    def __call__(self, event: Event, key: str) -> None:
        self.handle(event, key)

    def handle(self, event: Event, key: str) -> None:
        """Write what one event's step tells people (a round of one)."""
        self.handle_many([(event, key)])

    def handle_many(self, deliveries: Sequence[tuple[Event, str]]) -> None:
        """Write what each event's step tells people, in one unit of work and one
        statement; each entry keyed by its event's idempotency key, so a round handed
        over again, or in part, tells nobody twice."""
        told = [
            item
            for event, key in deliveries
            if event.kind is EventKind.NOTIFY and event.detail.get("tell")
            for item in items(event.detail["tell"], now=event.at, cause=key)
        ]
        if told:
            with unit_of_work(self.notifications.engine) as unit:
                self.notifications.add_once_many(unit.connection, told)


def wants(_connection: Connection, _app: str, _form: str, _record_id: int, kind: EventKind) -> bool:
    """The outbox's check for :data:`NOTICES`: only the steps' notices, no lookup."""
    return kind is EventKind.NOTIFY
