"""The approvals inbox page, the workbench's counts, and each workflow drawn as a diagram.

The boxes come from :mod:`formflow.workflows.inbox` (a page costs a fixed few statements,
keyset-paged); approving or rejecting from a row posts to the record's approval action,
which comes back here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from formflow.definitions.model import Operation, Scope
from formflow.errors import N_, RecordError
from formflow.records import scope_for
from formflow.web import context
from formflow.web.display import Displayer
from formflow.web.i18n import error_message, language, text, translate
from formflow.web.ids import parse_id
from formflow.web.local_addresses import local_address
from formflow.web.targets import load_names, record_urls
from formflow.workflows import diagram, inbox, wording
from formflow.workflows.inbox import InboxCounts, InboxRow
from formflow.workflows.service import APPROVE, REJECT, WorkflowService

blueprint = Blueprint("inbox", __name__)

MAX_BATCH = 50
"""Tasks one batch decision takes: an inbox page's worth."""

BOX_LABELS = {
    "todo": N_("To do"),
    "done": N_("Done"),
    "submitted": N_("Submitted by me"),
    "cc": N_("Copied to me"),
}


@dataclass(frozen=True)
class RowView:
    title: str
    href: str
    action: str
    workflow: str
    step: str
    submitter: str
    holders: str
    when: str
    status: str
    comment: str | None
    task_id: int | None
    decide: bool
    unread: bool
    behalf: str = ""
    """Whose task a delegate holds, for a delegated one."""


def apps_with_workflows() -> list[str]:
    instance = context.instance()
    return [key for key in instance.app_keys if instance.app(key).workflows]


def counts() -> list[tuple[str, str, InboxCounts]]:
    """The inbox counts of each app with workflows, for the workbench."""
    instance = context.instance()
    return [
        (
            key,
            text(instance.app(key).label),
            inbox.counts(instance.workflows(key), context.actor(key)),
        )
        for key in apps_with_workflows()
    ]


@blueprint.route("/inbox")
@login_required  # type: ignore[untyped-decorator]
def page() -> ResponseReturnValue:
    keys = apps_with_workflows()
    if not keys:
        return render_template("approvals/inbox.html", app_key=None, apps=[], rows=[], box="todo")
    app_key = request.args.get("app", keys[0])
    if app_key not in keys:
        abort(404)
    flows = context.instance().workflows(app_key)
    actor = context.actor(app_key)
    box = request.args.get("box", "todo")
    box = box if box in inbox.BOXES else "todo"
    workflow = request.args.get("workflow") or None
    if workflow not in flows.app.workflows:
        workflow = None
    after = parse_id(request.args.get("after", ""))
    problems = []
    try:
        found = inbox.page(flows, actor, box, workflow=workflow, after=after)
    except RecordError as error:
        problems.append(error_message(error))
        found = inbox.InboxPage(box, (), None)
    directory = load_names(users=True, departments=False)
    shower = Displayer(flows.app, directory=directory, timezone=flows.records.timezone)
    record_url = record_urls(app_key)
    params = {"app": app_key, "box": box, "workflow": workflow}
    here = _address({**params, "after": after})
    rows = [_row(flows, shower, directory.users, record_url, item, box) for item in found.rows]
    return render_template(
        "approvals/inbox.html",
        app_key=app_key,
        apps=[(key, text(context.instance().app(key).label)) for key in keys],
        box=box,
        boxes=[
            (key, translate(BOX_LABELS[key], {}), _address({**params, "box": key, "after": None}))
            for key in inbox.BOXES
        ],
        counted=inbox.counts(flows, actor),
        workflow=workflow,
        workflows=[
            (flow.key, text(flow.label))
            for flow in flows.app.workflows.values()
            if _may_read(app_key, flow.form)
        ],
        rows=rows,
        here=here,
        next_href=_address({**params, "after": found.next_after}) if found.next_after else None,
        first_href=_address(params) if after else None,
        problems=problems,
    )


@blueprint.post("/inbox/decide")
@login_required  # type: ignore[untyped-decorator]
def decide_many() -> ResponseReturnValue:
    """Approve or reject the ticked tasks with one comment (CSRFProtect has checked the
    POST). Each decision is its own unit of work, so one the engine refuses (decided
    meanwhile, a step that needs fields filled in) is reported by name and the others stand."""
    app_key = request.form.get("app", "")
    if app_key not in apps_with_workflows():
        abort(404)
    back = local_address(request.form.get("_next")) or _address({"app": app_key, "box": "todo"})
    decision = request.form.get("_action", "")
    ids = [parse_id(value) for value in request.form.getlist("task")]
    wanted = list(dict.fromkeys(task_id for task_id in ids if task_id is not None))[:MAX_BATCH]
    if decision not in (APPROVE, REJECT) or not wanted:
        flash(_("Tick the tasks to decide first."))
        return redirect(back)
    flows = context.instance().workflows(app_key)
    actor = context.actor(app_key)
    comment = request.form.get("_comment", "").strip()[:2000] or None
    done = 0
    for task_id in wanted:
        try:
            flows.decide(actor, task_id, decision, comment=comment)
        except RecordError as error:
            flash(f"{_task_name(flows, task_id)}: {error_message(error)}")
        else:
            done += 1
    if decision == APPROVE:
        flash(_("Approved %(done)s of %(asked)s.", done=done, asked=len(wanted)))
    else:
        flash(_("Rejected %(done)s of %(asked)s.", done=done, asked=len(wanted)))
    return redirect(back)


def _task_name(flows: WorkflowService, task_id: int) -> str:
    """How a batch's report names a task: its form and record, else its number."""
    try:
        instance = flows.instance(flows.task(task_id).instance_id)
    except RecordError:
        return str(_("Task %(task)s", task=task_id))
    form = flows.app.forms.get(instance.form_key)
    return f"{text(form.label) if form else instance.form_key} #{instance.record_id}"


@blueprint.route("/workflows/<app_key>/<workflow_key>")
@login_required  # type: ignore[untyped-decorator]
def workflow_page(app_key: str, workflow_key: str) -> ResponseReturnValue:
    instance = context.instance()
    if app_key not in instance.app_keys:
        abort(404)
    app = instance.app(app_key)
    flow = app.workflows.get(workflow_key)
    if flow is None or not _may_read(app_key, flow.form):
        abort(404)
    svg = diagram.render(
        flow, language=language(), translate=lambda message: translate(message, {})
    )
    return render_template(
        "approvals/workflow.html",
        app_key=app_key,
        flow=flow,
        form=app.form(flow.form),
        svg=svg,
    )


def _may_read(app_key: str, form_key: str) -> bool:
    app = context.instance().app(app_key)
    return scope_for(context.actor(app_key), app.form(form_key), Operation.READ) is not Scope.NONE


def _address(params: Mapping[str, object]) -> str:
    query = urlencode([(k, v) for k, v in params.items() if v is not None])
    return f"{url_for('inbox.page')}?{query}"


def _row(
    flows: WorkflowService,
    shower: Displayer,
    names: Mapping[int, str],
    record_url: Callable[[str, int], str],
    item: InboxRow,
    box: str,
) -> RowView:
    instance = item.instance
    form = flows.app.forms.get(instance.form_key)
    title = (
        shower.title(form, item.title)
        if form is not None and item.title is not None
        else f"#{instance.record_id}"
    )
    task = item.task
    step_key = task.node_key if task is not None else (instance.nodes[0] if instance.nodes else "")
    step = _step_label(item, step_key)
    status_key = task.status if task is not None else instance.status
    statuses = wording.TASK_STATUSES if task is not None else wording.INSTANCE_STATUSES
    moment = instance.started_at
    if task is not None:
        moment = task.decided_at if box == "done" and task.decided_at else task.created_at
    return RowView(
        title=title,
        href=record_url(instance.form_key, instance.record_id) + "#approval",
        action=record_url(instance.form_key, instance.record_id) + "/approval",
        workflow=text(item.workflow.label) or item.workflow.key,
        step=step,
        submitter=names.get(instance.submitter_id, "") if instance.submitter_id else "",
        holders=", ".join(names.get(t.user_id, f"#{t.user_id}") for t in item.holders if t.user_id),
        when=shower.system("created_at", moment).text if moment else "",
        status=translate(statuses.get(status_key, status_key), {}),
        comment=task.comment if task is not None else None,
        task_id=task.id if task is not None else None,
        decide=box == "todo",
        unread=task is not None and task.status == "copied",
        behalf=names.get(task.delegated_from, f"#{task.delegated_from}")
        if task is not None and task.delegated_from
        else "",
    )


def _step_label(item: InboxRow, key: str) -> str:
    if not key:
        return ""
    try:
        return text(item.workflow.node(key).label) or key
    except KeyError:
        return key


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.jinja_env.globals["inbox_counts"] = counts
    app.jinja_env.filters["inbox_count"] = inbox.shown_count
