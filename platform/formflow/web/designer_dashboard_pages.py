"""The dashboard designer page: compose a widget, preview it on live rows, then Save.

Routes on the designer's blueprint. The choices travel in the address (a GET), so looking
at previews saves nothing; the Save button posts the same choices, which are written into
the draft's dashboard file like any designer step (undo takes them back).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from formflow.designer.documents import DocumentError
from formflow.designer.drafts import DraftConflict
from formflow.designer.widgets import KINDS, OPERATIONS, WidgetChoice, parse_filters
from formflow.errors import DefinitionErrors
from formflow.web import context
from formflow.web.dashboard_view import Labeller, widget_json
from formflow.web.designer_pages import (
    _draft,
    _located,
    blueprint,
    designer,
    flash_refusal,
    open_document,
)

CHOICES = ("key", "kind", "form", "label_zh", "label_en", "operation", "measure_field")
"""The widget's choices as the page's fields are named (with ``dimension``, ``filters``)."""


def _choice(values: Any) -> WidgetChoice:
    return WidgetChoice(
        key=values.get("key", "").strip() or "new_widget",
        kind=values.get("kind", "bar"),
        form=values.get("form", "").strip(),
        label_zh=values.get("label_zh", "").strip(),
        label_en=values.get("label_en", "").strip(),
        operation=values.get("operation", "count"),
        measure_field=values.get("measure_field", "").strip(),
        dimension=values.get("dimension", "").strip(),
        filters=parse_filters(values.get("filters", "")),
        width=values.get("width", 2, type=int),
    )


@blueprint.get("/<app_key>/dashboards/<dashboard_key>")
def dashboard(app_key: str, dashboard_key: str) -> Any:
    """The dashboard's widgets, and the form that composes a new one with its preview."""
    service = designer()
    document = open_document(_draft(service, app_key), "dashboards", dashboard_key)
    app = context.instance().app(app_key)
    preview = None
    errors: tuple[Any, ...] = ()
    problem = None
    if request.args.get("preview"):
        actor = context.actor(app_key)
        try:
            settings = _choice(request.args).settings()
            result = service.preview_widget(app_key, dashboard_key, document.path, settings, actor)
            labeller = Labeller(app, context.records(app_key), actor)
            preview = widget_json(app_key, app, labeller, result)
        except DefinitionErrors as exc:
            errors = exc.errors
        except (DocumentError, KeyError, ValueError) as exc:
            problem = str(exc)
    widgets = [item for item in document.data.get("widgets", []) if isinstance(item, dict)]
    return render_template(
        "designer/dashboard.html",
        admin_tab="designer",
        app_key=app_key,
        dashboard_key=dashboard_key,
        widgets=widgets,
        forms=list(app.forms.values()),
        kinds=KINDS,
        operations=OPERATIONS,
        args=request.args,
        preview=preview,
        errors=errors,
        problem=problem,
        can_undo=service.can_undo(app_key),
        **document.page_values(),
    )


@blueprint.post("/<app_key>/dashboards/<dashboard_key>/save")
def dashboard_save(app_key: str, dashboard_key: str) -> Response:
    """Save the previewed widget into the draft's dashboard."""
    service, _unused_draft, path = _located(app_key, "dashboards", dashboard_key)
    revision = request.form.get("revision", type=int) or 0
    try:
        settings = _choice(request.form).settings()
        service.save_widget(app_key, path, settings, revision, context.user().id)
    except (DraftConflict, DocumentError) as refusal:
        flash_refusal(refusal)
    else:
        flash(_("The widget is saved in the draft."), "success")
        return redirect(url_for(".dashboard", app_key=app_key, dashboard_key=dashboard_key))
    kept: dict[str, Any] = {
        name: value
        for name, value in request.form.items()
        if name in (*CHOICES, "dimension", "filters", "width")
    }
    return redirect(
        url_for(".dashboard", app_key=app_key, dashboard_key=dashboard_key, preview=1, **kept)
    )
