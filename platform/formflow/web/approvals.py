"""The people's side of approvals on a record's page: where it stands, and its buttons.

The buttons are the record's actions as the workflow engine lists them for the caller
(:meth:`WorkflowService.actions_for`, what the API's ``GET .../actions`` returns too), and
pressing one calls :meth:`WorkflowService.act`, so a page offers nothing the engine would
refuse and the engine still decides. An approver deciding at a step that lets them fill in
fields gets those fields, and only those, with the decision. Whatever the engine refuses
(a task someone settled meanwhile, a stale page, a step not theirs) comes back as a
message on the record's page, never as an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from formflow.accounts.directory import Directory
from formflow.definitions.model import Form
from formflow.errors import N_, RecordError, ValidationFailed
from formflow.records import Record
from formflow.web import context
from formflow.web.display import Displayer
from formflow.web.formbuilder import (
    Pickers,
    RecordForm,
    form_class,
    input_data,
    place_problems,
    submitted,
)
from formflow.web.i18n import error_message, language, text, translate
from formflow.web.ids import parse_id
from formflow.web.local_addresses import local_address
from formflow.web.targets import Target, load_names
from formflow.workflows import diagram, inbox, wording
from formflow.workflows.errors import NotSubmittable
from formflow.workflows.model import SUBMITTER, Workflow
from formflow.workflows.service import APPROVE, REJECT, RecordAction, WorkflowService
from formflow.workflows.standing import Standing, TimelineEntry, standing

READ = "read"
"""The reader of a copy saying they have read it: a button, never a side effect of a GET
(link prefetchers and preloading browsers fetch pages nobody reads)."""

DONE = {
    "submit": N_("Submitted for approval."),
    "resubmit": N_("Resubmitted."),
    "withdraw": N_("Withdrawn."),
    "remind": N_("Reminder sent."),
    APPROVE: N_("Approved."),
    REJECT: N_("Rejected."),
    "reassign": N_("Handed on."),
    "add_signer": N_("Signer added."),
    READ: N_("Marked read."),
}
"""What the next page says after each action."""

OWN = ("submit", "resubmit", "withdraw", "remind")
"""The submitter's actions, offered as one form with a comment."""


@dataclass(frozen=True)
class Button:
    value: str
    label: str
    tone: str = ""


@dataclass
class Decision:
    """A task the caller may decide: its step, the fields they may fill in, where a
    rejection may send it, and the buttons."""

    task_id: int
    node: str
    inputs: list[tuple[str, Any]]
    reject_to: list[tuple[str, str]]
    moves: list[Button]
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Moment:
    what: str
    who: str
    when: str
    node: str
    comment: str | None
    extra: str


@dataclass
class Panel:
    """What a record's page shows of its approval."""

    workflow: str
    workflow_href: str | None
    status: str
    status_key: str
    nodes: list[str]
    holders: list[str]
    queued: list[str]
    submitter: str
    decisions: list[Decision]
    own: list[Button]
    timeline: list[Moment]
    svg: str
    people: list[tuple[int, str]]
    general: list[str] = field(default_factory=list)
    hidden: frozenset[str] = frozenset()
    """Fields the steps the caller decides at hide from their approvers (``fields: hidden``)."""
    unread: bool = False
    """The caller holds an unread copy of the request (the panel offers "Mark read")."""


@dataclass
class Sent:
    """A decision the engine refused for its field values: shown again with the problems."""

    task_id: int
    errors: dict[str, list[str]]
    general: list[str]


def flows_for(t: Target) -> WorkflowService | None:
    """The app's workflow engine when a workflow runs on the target's form."""
    flows = context.instance().workflows(t.app_key)
    return flows if t.form.key in flows.forms else None


def panel(
    t: Target, record: Record, directory: Directory, sent: Sent | None = None
) -> Panel | None:
    """The approval card of a record's page; none when no workflow runs on its form."""
    flows = flows_for(t)
    if flows is None:
        return None
    found = standing(flows, t.actor, t.form.key, int(record["id"]))
    instance = found.instance
    workflow = found.workflow or _first_workflow(flows, t.form.key)
    if instance is None and not found.actions:
        return None
    names = directory if directory.users else _people()
    shower = Displayer(t.app, directory=names, timezone=t.service.timezone)

    def who(user_id: int | None) -> str:
        return names.users.get(user_id, f"#{user_id}") if user_id else _("System")

    live = instance is not None and instance.live
    outcome = _end_node(found) if instance is not None and not live else None
    return Panel(
        workflow=text(workflow.label) or workflow.key,
        workflow_href=url_for("inbox.workflow_page", app_key=t.app_key, workflow_key=workflow.key),
        status=translate(wording.INSTANCE_STATUSES.get(instance.status, instance.status), {})
        if instance is not None
        else _("Not submitted"),
        status_key=instance.status if instance is not None else "none",
        nodes=[_node_label(workflow, key) for key in instance.nodes] if live and instance else [],
        holders=[who(task.user_id) for task in found.holders],
        queued=[who(task.user_id) for task in found.queued],
        submitter=who(instance.submitter_id) if instance is not None else "",
        decisions=_decisions(t, record, found, sent, names),
        own=[_own_button(action, flows) for action in found.actions if action.key in OWN],
        timeline=[_moment(entry, who, shower) for entry in found.timeline],
        svg=diagram.render(
            workflow,
            current=instance.nodes if live and instance else (),
            visited=found.visited,
            outcome=outcome,
            language=language(),
            translate=lambda message: translate(message, {}),
        ),
        people=names.user_choices(),
        general=sent.general if sent else [],
        hidden=found.hidden,
        unread=bool(found.unread),
    )


def carry_out(t: Target, record_id: int) -> Response | Sent:
    """Do the action a record page's button sent; a redirect, or the refused decision."""
    flows = flows_for(t)
    chosen = request.form.get("_action", "")
    key, _slash, workflow_key = chosen.partition("/")
    comment = request.form.get("_comment", "").strip()[:2000] or None
    task_id = parse_id(request.form.get("_task", ""))
    back = _next_address(t, record_id)
    if flows is None or key not in DONE:
        flash(_("Nothing was done: there is no such approval action here."))
        return redirect(back)
    try:
        if key == READ:
            inbox.mark_record_read(flows, t.actor, t.form.key, record_id)
        elif key == "submit" and workflow_key:
            if not any(a.workflow_key == workflow_key for a in _actions(flows, t, record_id)):
                raise _not_offered(key)
            flows.submit(t.actor, workflow_key, record_id, comment)
        else:
            values = _sent_values(t, flows, record_id, key, task_id)
            flows.act(
                t.actor,
                t.form.key,
                record_id,
                key,
                comment=comment,
                values=values,
                to=request.form.get("_to") or None,
                user_id=parse_id(request.form.get("_user", "")),
                where=request.form.get("_where", "after"),
                task_id=task_id,
            )
    except ValidationFailed as failed:
        if task_id is None or key not in (APPROVE, REJECT):
            flash(_("Nothing was done: %(reason)s", reason=error_message(failed, t.form)))
            return redirect(back)
        placed, general = place_problems(failed.problems, None, t.form)
        return Sent(task_id, placed, general or [_("Please correct the marked fields.")])
    except RecordError as error:
        flash(_("Nothing was done: %(reason)s", reason=error_message(error)))
        return redirect(back)
    flash(translate(DONE[key], {}))
    return redirect(back)


def _not_offered(key: str) -> NotSubmittable:
    return NotSubmittable(
        N_("'%(action)s' is not something you can do on this record now"), action=key
    )


def _actions(flows: WorkflowService, t: Target, record_id: int) -> list[RecordAction]:
    return flows.actions_for(t.actor, t.form.key, record_id)


def _next_address(t: Target, record_id: int) -> str:
    """Where to go after the action: a local address the page sent, else the record."""
    wanted = local_address(request.form.get("_next"))
    if wanted is not None:
        return wanted
    record = url_for("records.detail", app_key=t.app_key, form_key=t.form.key, record_id=record_id)
    return f"{record}#approval"


def _sent_values(
    t: Target, flows: WorkflowService, record_id: int, key: str, task_id: int | None
) -> dict[str, Any] | None:
    """The values a deciding approver filled in: only the fields their step lets them edit,
    and only when the page showed them (a decision from the inbox sends none)."""
    if key not in (APPROVE, REJECT) or request.form.get("_fields") != "1":
        return None
    editable = _editable(flows, t, record_id, task_id)
    if not editable:
        return None
    record_form = _fields_form(t.form, editable)(formdata=request.form, meta={"csrf": False})
    return submitted(t.form, record_form).values


def _editable(
    flows: WorkflowService, t: Target, record_id: int, task_id: int | None
) -> frozenset[str]:
    for action in _actions(flows, t, record_id):
        if action.key == APPROVE and (task_id is None or action.task_id == task_id):
            return action.edit
    return frozenset()


def _fields_form(form: Form, editable: frozenset[str]) -> type[RecordForm]:
    fixed = frozenset(f.key for f in form.fields if f.key not in editable)
    return form_class(form, Pickers(), fixed)


def _decisions(
    t: Target, record: Record, found: Standing, sent: Sent | None, names: Directory
) -> list[Decision]:
    decisions: dict[int, Decision] = {}
    workflow = found.workflow
    for action in found.actions:
        if action.task_id is None or action.key in OWN or workflow is None:
            continue
        decision = decisions.get(action.task_id)
        if decision is None:
            decision = Decision(
                action.task_id, _node_label(workflow, action.node_key or ""), [], [], []
            )
            decisions[action.task_id] = decision
            if action.edit:
                decision.inputs = _inputs(t, record, action.edit, sent, action.task_id)
            if sent is not None and sent.task_id == action.task_id:
                decision.errors = sent.errors
        if action.key == REJECT:
            decision.reject_to = [(key, _target_label(workflow, key)) for key in action.reject_to]
        tone = {APPROVE: "primary", REJECT: "danger"}.get(action.key, "")
        decision.moves.append(Button(action.key, translate(action.label, {}), tone))
    return list(decisions.values())


def _inputs(
    t: Target, record: Record, editable: frozenset[str], sent: Sent | None, task_id: int
) -> list[tuple[str, Any]]:
    cls = _fields_form(t.form, editable)
    if sent is not None and sent.task_id == task_id:
        bound = cls(formdata=request.form, meta={"csrf": False})
    else:
        data = input_data(t.form, record, t.service.timezone)
        bound = cls(data=data, meta={"csrf": False})
    shown = []
    for found in t.form.fields:
        if found.key in editable and found.key not in t.hidden:
            widget = bound.field_for(found.key)
            if widget is not None:
                shown.append((text(found.label), widget))
    return shown


def _own_button(action: RecordAction, flows: WorkflowService) -> Button:
    if action.key == "submit" and action.workflow_key:
        workflow = flows.app.workflows[action.workflow_key]
        label = translate(action.label, {})
        if sum(1 for other in flows.app.workflows.values() if other.form == workflow.form) > 1:
            label = f"{label}: {text(workflow.label)}"
        return Button(f"submit/{workflow.key}", label, "primary")
    tone = {"withdraw": "danger", "resubmit": "primary"}.get(action.key, "")
    return Button(action.key, translate(action.label, {}), tone)


def _moment(entry: TimelineEntry, who: Any, shower: Displayer) -> Moment:
    detail: Mapping[str, Any] = entry.detail
    extra = ""
    if entry.action in ("reassign", "delegate") and detail.get("to"):
        extra = _("to %(name)s", name=who(detail["to"]))
    elif entry.action == "add_signer" and detail.get("user"):
        where = translate(wording.WHERE.get(str(detail.get("where")), ""), {})
        extra = f"{who(detail['user'])} ({where})"
    elif entry.action == "reject" and detail.get("to"):
        extra = _("back to the submitter") if detail["to"] == SUBMITTER else ""
    elif entry.action == "end" and detail.get("outcome"):
        outcome = wording.OUTCOMES.get(str(detail["outcome"]))
        extra = translate(outcome, {}) if outcome else ""
    elif entry.action == "skip" and detail.get("users"):
        extra = ", ".join(who(user) for user in detail["users"])
    if detail.get("on_behalf_of"):
        behalf = _("on behalf of %(name)s", name=who(detail["on_behalf_of"]))
        extra = f"{extra} ({behalf})" if extra else behalf
    return Moment(
        what=translate(wording.action(entry.action), {}),
        who=who(entry.user_id),
        when=shower.system("created_at", entry.at).text,
        node=text(entry.node_label) if entry.node_label else "",
        comment=entry.comment,
        extra=extra,
    )


def _node_label(workflow: Workflow, key: str) -> str:
    try:
        return text(workflow.node(key).label) or key
    except KeyError:
        return key


def _target_label(workflow: Workflow, key: str) -> str:
    if key == SUBMITTER:
        return str(_("Back to the submitter"))
    return _node_label(workflow, key)


def _end_node(found: Standing) -> str | None:
    latest = found.instance
    for entry in reversed(found.timeline):
        if latest is not None and entry.instance_id == latest.id and entry.action == "end":
            return entry.node_key
    return None


def _first_workflow(flows: WorkflowService, form_key: str) -> Workflow:
    return next(w for w in flows.app.workflows.values() if w.form == form_key)


def _people() -> Directory:
    return load_names(users=True, departments=False)
