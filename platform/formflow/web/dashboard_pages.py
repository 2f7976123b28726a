"""Dashboard pages: the widgets a viewer may see, drawn by ECharts, and their exports.

The page is thin: it reads the viewer's filters from the URL (``from``, ``to``, ``owner``,
``department`` and any dashboard field filter by key), asks :class:`~formflow.dashboards.DashboardService`
for the figures and hands them to the page as JSON (a ``<script type="application/json">``
block, which the Content-Security-Policy allows as it never runs). Exports go through the
same service, so they hold exactly what the viewer's dashboard shows.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from flask_login import login_required

from formflow.dashboards import (
    DashboardService,
    ResultCache,
    Span,
    ViewerFilters,
    visible_dashboards,
)
from formflow.definitions.model import Dashboard
from formflow.errors import PermissionDenied
from formflow.transfer.cells import csv_text, text_cell
from formflow.web import context
from formflow.web.dashboard_view import Labeller, export_rows, figure, widget_json
from formflow.web.i18n import text
from formflow.web.ids import parse_id

blueprint = Blueprint("dashboards", __name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def viewer_filters(dashboard: Dashboard, args: Mapping[str, str]) -> ViewerFilters:
    """The viewer's choices from the URL; a value that does not parse is left out."""
    span = None
    low, high = _day(args.get("from", "")), _day(args.get("to", ""))
    if low or high:
        span = Span(low or date(1900, 1, 1), high or date(9999, 12, 31))
    owner = (
        parse_id(args.get("owner", ""))
        if any(f.kind == "owner" for f in dashboard.filters)
        else None
    )
    fields = {
        f.field: str(args[f.field])
        for f in dashboard.filters
        if f.kind == "field" and f.field and args.get(f.field)
    }
    department = (
        parse_id(args.get("department", ""))
        if any(f.kind == "department" for f in dashboard.filters)
        else None
    )
    return ViewerFilters(span=span, owner=owner, fields=fields, department=department)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def service_for(app_key: str) -> DashboardService:
    instance = context.instance()
    if app_key not in instance.app_keys:
        abort(404)
    return DashboardService(context.records(app_key), cache=result_cache())


def result_cache() -> ResultCache:
    """The app's widget results, kept between requests (see :mod:`formflow.dashboards.cache`)."""
    engine = context.instance().engine
    cache = current_app.extensions.get(_CACHE)
    if not isinstance(cache, ResultCache) or cache.engine is not engine:
        cache = current_app.extensions[_CACHE] = ResultCache(engine)
    return cache


_CACHE = "formflow.dashboard_cache"


def _dashboard(app_key: str, key: str) -> tuple[DashboardService, Dashboard]:
    service = service_for(app_key)
    try:
        return service, service.dashboard(context.actor(app_key), key)
    except PermissionDenied:
        abort(404)


@blueprint.route("/dashboards/<app_key>/")
@login_required  # type: ignore[untyped-decorator]
def index(app_key: str) -> str:
    service = service_for(app_key)
    shown = visible_dashboards(context.actor(app_key), service.app)
    return render_template("dashboards/index.html", app_key=app_key, dashboards=shown)


@blueprint.route("/dashboards/<app_key>/<key>")
@login_required  # type: ignore[untyped-decorator]
def page(app_key: str, key: str) -> str:
    service, dashboard = _dashboard(app_key, key)
    actor = context.actor(app_key)
    viewer = viewer_filters(dashboard, request.args)
    labeller = Labeller(service.app, service.records, actor)
    widgets = [
        widget_json(app_key, service.app, labeller, result)
        for result in service.compute_all(actor, dashboard, viewer)
    ]
    return render_template(
        "dashboards/page.html",
        app_key=app_key,
        dashboard=dashboard,
        widgets=widgets,
        controls=_controls(service, dashboard, labeller),
        args=request.args,
        label=text(dashboard.label),
    )


def _controls(
    service: DashboardService, dashboard: Dashboard, labeller: Labeller
) -> list[dict[str, Any]]:
    found = []
    for item in dashboard.filters:
        choices: list[tuple[str, str]] = []
        label = text(item.label) if item.label else ""
        if item.kind == "owner":
            choices = [(str(i), name) for i, name in labeller.directory.user_choices()]
        elif item.kind == "department":
            choices = [(str(i), name) for i, name in labeller.directory.department_choices()]
        elif item.kind == "field" and item.field:
            form = next(
                (
                    service.app.form(w.form)
                    for w in dashboard.widgets
                    if service.app.form(w.form).has_field(item.field)
                ),
                None,
            )
            if form is not None:
                field = form.field(item.field)
                choices = [(o.value, text(o.label)) for o in field.options]
                label = label or text(field.label)
        found.append(
            {
                "kind": item.kind,
                "name": item.name,
                "label": label,
                "choices": choices,
            }
        )
    return found


@blueprint.route("/dashboards/<app_key>/<key>/<widget_key>.<any(csv, xlsx):fmt>")
@login_required  # type: ignore[untyped-decorator]
def export(app_key: str, key: str, widget_key: str, fmt: str) -> Response:
    service, dashboard = _dashboard(app_key, key)
    widget = dashboard.widget(widget_key)
    if widget is None:
        abort(404)
    actor = context.actor(app_key)
    result = service.compute(actor, widget, viewer_filters(dashboard, request.args))
    data = widget_json(app_key, service.app, Labeller(service.app, service.records, actor), result)
    rows = export_rows(service.app, data)
    name = f"{dashboard.key}-{widget.key}.{fmt}"
    if fmt == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows([csv_text(value) for value in row] for row in rows)
        body: bytes = ("\ufeff" + buffer.getvalue()).encode()  # the BOM lets Excel read UTF-8
        mimetype = "text/csv"
    else:
        body, mimetype = _xlsx(text(widget.label), rows), XLSX
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _xlsx(title: str, rows: list[list[Any]]) -> bytes:
    """The rows as a workbook whose text is typed as text, so that a record's title such as
    ``=HYPERLINK(...)`` never runs as a formula on the machine of whoever opens it."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    name = title[:31].translate(str.maketrans("[]:*?/\\", "_______")) or "data"
    sheet = book.create_sheet(title=name)
    for row in rows:
        sheet.append([_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(sheet: Any, value: Any) -> Any:
    """Numbers as numbers in the sheet (decimals come as exact strings), other text as text."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return Decimal(value)
    if isinstance(value, str):
        return text_cell(sheet, value)
    return value


_DECIMAL = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,10})?")


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.jinja_env.filters["figure"] = figure
