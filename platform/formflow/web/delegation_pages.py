"""The delegations page (``/inbox/delegations``): make, list and end one's delegations.

While away, an approver hands their tasks to someone else for a range of days (委托). The
rules are the engine's (:mod:`formflow.workflows.delegations`); this page only reads the
form, shows what the engine refused next to the field it concerns, and keeps what was typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from formflow.errors import RecordError
from formflow.web import context
from formflow.web.i18n import error_message, text
from formflow.web.ids import parse_id
from formflow.web.inbox_pages import apps_with_workflows
from formflow.web.targets import load_names
from formflow.workflows.delegations import Delegation
from formflow.workflows.errors import InvalidDelegation
from formflow.workflows.service import WorkflowService

blueprint = Blueprint("delegations", __name__, url_prefix="/inbox/delegations")


@dataclass(frozen=True)
class Row:
    id: int
    mine: bool
    other: str
    workflow: str
    starts_on: str
    ends_on: str
    comment: str | None
    status: str
    endable: bool


@blueprint.get("/")
@login_required  # type: ignore[untyped-decorator]
def index() -> ResponseReturnValue:
    flows = _flows(request.args.get("app"))
    today = flows.today()
    return _page(flows, {"starts_on": today.isoformat(), "ends_on": today.isoformat()}, {})


@blueprint.post("/")
@login_required  # type: ignore[untyped-decorator]
def create() -> ResponseReturnValue:
    flows = _flows(request.form.get("app"))
    typed = {key: request.form.get(key, "").strip() for key in _FIELDS}
    errors: dict[str, list[str]] = {}
    delegate = parse_id(typed["delegate"])
    if delegate is None:
        errors["delegate"] = [_("Choose who takes your tasks.")]
    days: dict[str, date] = {}
    for key in ("starts_on", "ends_on"):
        try:
            days[key] = date.fromisoformat(typed[key])
        except ValueError:
            errors[key] = [_("Enter a date such as 2026-12-31.")]
    workflow = typed["workflow"] or None
    if workflow is not None and workflow not in flows.app.workflows:
        errors["workflow"] = [_("Choose a flow from the list.")]
    if not errors and delegate is not None:
        try:
            flows.delegate(
                context.actor(flows.app.key),
                delegate,
                days["starts_on"],
                days["ends_on"],
                typed["comment"][:2000] or None,
                workflow_key=workflow,
            )
        except InvalidDelegation as error:
            field = "ends_on" if days["ends_on"] < days["starts_on"] else "delegate"
            errors[field] = [error_message(error)]
        except RecordError as error:
            errors["delegate"] = [error_message(error)]
        else:
            flash(_("Your tasks will go to your delegate for those days."))
            return redirect(url_for("delegations.index", app=flows.app.key))
    return _page(flows, typed, errors), 422


@blueprint.post("/<int:delegation_id>/end")
@login_required  # type: ignore[untyped-decorator]
def end(delegation_id: int) -> ResponseReturnValue:
    """End one of the caller's delegations now (CSRFProtect has checked the POST)."""
    flows = _flows(request.form.get("app"))
    try:
        flows.end_delegation(context.actor(flows.app.key), delegation_id)
    except RecordError as error:
        flash(error_message(error))
    else:
        flash(_("The delegation has ended; new tasks come to you again."))
    return redirect(url_for("delegations.index", app=flows.app.key))


_FIELDS = ("delegate", "starts_on", "ends_on", "workflow", "comment")


def _flows(wanted: str | None) -> WorkflowService:
    keys = apps_with_workflows()
    if not keys or (wanted and wanted not in keys):
        abort(404)
    return context.instance().workflows(wanted or keys[0])


def _page(flows: WorkflowService, typed: dict[str, str], errors: dict[str, list[str]]) -> str:
    actor = context.actor(flows.app.key)
    directory = load_names(users=True, departments=False)
    today = flows.today()
    rows = [_row(flows, directory.users, d, actor.user_id, today) for d in flows.delegations(actor)]
    return render_template(
        "approvals/delegations.html",
        app_key=flows.app.key,
        people=[(key, name) for key, name in directory.user_choices() if key != actor.user_id],
        workflows=[
            (flow.key, text(flow.label) or flow.key) for flow in flows.app.workflows.values()
        ],
        typed=typed,
        errors=errors,
        rows=rows,
    )


def _row(
    flows: WorkflowService,
    names: Mapping[int, str],
    delegation: Delegation,
    user_id: int | None,
    today: date,
) -> Row:
    mine = delegation.user_id == user_id
    other = delegation.delegate_id if mine else delegation.user_id
    flow = flows.app.workflows.get(delegation.workflow_key or "")
    if delegation.ended_at is not None:
        status = _("Ended early")
    elif delegation.in_force(today):
        status = _("In force")
    elif delegation.ends_on < today:
        status = _("Over")
    else:
        status = _("Planned")
    return Row(
        id=delegation.id,
        mine=mine,
        other=names.get(other, f"#{other}"),
        workflow=(text(flow.label) or flow.key) if flow else _("All flows"),
        starts_on=delegation.starts_on.isoformat(),
        ends_on=delegation.ends_on.isoformat(),
        comment=delegation.comment,
        status=status,
        endable=mine and delegation.ended_at is None and delegation.ends_on >= today,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
