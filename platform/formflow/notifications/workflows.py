"""What the workflow engine tells people, written in the unit of work of each step.

A step that opens a task tells its holder (a copy tells its reader); a step that ends an
instance, or returns it, tells the submitter how; a reminder (催办) tells whoever holds
the instance's open tasks. The words are message ids filled in with the workflow's and
form's labels, so each reader gets them in their own language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from formflow.definitions.model import App
from formflow.errors import N_
from formflow.notifications.model import label_param
from formflow.notifications.service import Notifications

if TYPE_CHECKING:
    from formflow.workflows.service import _Step

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
    instance = step.instance
    form = app.forms.get(instance.form_key)
    params: dict[str, Any] = {
        "workflow": label_param(step.workflow.label),
        "form": label_param(form.label if form else instance.form_key),
        "record": instance.record_id,
    }

    def add(user_ids: list[int], kind: str, task_id: int | None = None, **more: Any) -> None:
        notifications.add(
            step.connection,
            user_ids,
            kind=kind,
            title=TITLES[kind],
            body=BODY,
            params={**params, **more},
            app_key=app.key,
            form_key=instance.form_key,
            record_id=instance.record_id,
            task_id=task_id,
            now=step.now,
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
        return
    if step.status == "returned":
        add([submitter], RETURNED)
    elif step.status == "finished":
        outcome = step.outcome or ""
        if outcome in (APPROVED, REJECTED):
            add([submitter], outcome)
        else:
            add([submitter], ENDED, outcome=outcome)
