"""The workbench: a user's home page: what is due today first, then their recent records
and quick create."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from formflow.dashboards import visible_dashboards
from formflow.definitions.model import Operation, Scope
from formflow.records import scope_for
from formflow.web import context
from formflow.web.agenda_view import today_rows

blueprint = Blueprint("workbench", __name__)

RECENT = 10


@blueprint.route("/")
@login_required  # type: ignore[untyped-decorator]
def home() -> str:
    instance = context.instance()
    sections = []
    for app_key in instance.app_keys:
        app = instance.app(app_key)
        actor = context.actor(app_key)
        creatable = [
            form
            for form in app.forms.values()
            if scope_for(actor, form, Operation.CREATE) is not Scope.NONE
        ]
        recent = [
            (app.form(form_key), record)
            for form_key, record in context.records(app_key).recent(actor, RECENT)
        ]
        dashboards = visible_dashboards(actor, app)
        sections.append(
            {
                "app": app,
                "creatable": creatable,
                "recent": recent,
                "dashboards": dashboards,
                "today": today_rows(app_key),
            }
        )
    return render_template("workbench.html", sections=sections)
