"""Dashboards in the API: every widget's figures for the token's user, as the page has them.

``GET /api/v1/{app}/dashboards/{key}`` returns all widgets, ``…/widgets/{widget}`` one;
``from``, ``to`` (ISO dates), ``owner`` (a user id) and ``department`` (a department id:
its people's records and those of the departments below it) are the viewer's filters. The same
service computes them as for the page, so permissions and hidden fields apply alike; a
dashboard the user's roles may not see is "not found".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from flask import Response, request

from formflow.dashboards import DashboardService
from formflow.definitions.model import Dashboard
from formflow.errors import N_, PermissionDenied, QueryError, RecordNotFound
from formflow.web.api import (
    MAX_ID,
    actor_for,
    api_instance,
    blueprint,
    json_response,
    whole_argument,
)
from formflow.web.dashboard_pages import result_cache, viewer_filters
from formflow.web.dashboard_view import Labeller, widget_json

PARAMETERS = frozenset({"from", "to", "owner", "department"})
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _checked(args: Mapping[str, str]) -> Mapping[str, str]:
    """``args``, once each filter given parses: the page leaves out a value that does not,
    but a program that sends one means to narrow the figures, and must not be answered
    with everyone's figures for every day as if they were narrowed."""
    low, high = _day(args, "from"), _day(args, "to")
    if low is not None and high is not None and low > high:
        raise QueryError(N_("from must not be after to"), field="from")
    for name in ("owner", "department"):
        whole_argument(name, None, MAX_ID)
    return args


def _day(args: Mapping[str, str], name: str) -> date | None:
    given = args.get(name)
    if given is None:
        return None
    try:
        if _DAY.fullmatch(given):
            return date.fromisoformat(given)
    except ValueError:  # 2026-02-30
        pass
    raise QueryError(N_("%(name)s must be a date written YYYY-MM-DD"), field=name, name=name)


def _dashboard(app_key: str, key: str) -> tuple[DashboardService, Dashboard]:
    instance = api_instance()
    if app_key not in instance.app_keys:
        raise RecordNotFound(N_("no app '%(app)s'"), app=app_key)
    service = DashboardService(instance.records(app_key), cache=result_cache())
    try:
        return service, service.dashboard(actor_for(app_key), key)
    except PermissionDenied:
        raise RecordNotFound(N_("no dashboard '%(key)s'"), key=key) from None


@blueprint.get("/<app_key>/dashboards/<key>")
def dashboard(app_key: str, key: str) -> Response:
    service, found = _dashboard(app_key, key)
    actor = actor_for(app_key)
    labeller = Labeller(service.app, service.records, actor)
    results = service.compute_all(actor, found, viewer_filters(found, _checked(request.args)))
    return json_response(
        {
            "key": found.key,
            "label": found.label.en or found.label.zh,
            "widgets": [widget_json(app_key, service.app, labeller, r) for r in results],
        }
    )


@blueprint.get("/<app_key>/dashboards/<key>/widgets/<widget>")
def dashboard_widget(app_key: str, key: str, widget: str) -> Response:
    service, found = _dashboard(app_key, key)
    chosen = found.widget(widget)
    if chosen is None:
        raise RecordNotFound(N_("no widget '%(key)s'"), key=widget)
    actor = actor_for(app_key)
    result = service.compute(actor, chosen, viewer_filters(found, _checked(request.args)))
    labeller = Labeller(service.app, service.records, actor)
    return json_response(widget_json(service.records.app.key, service.app, labeller, result))
