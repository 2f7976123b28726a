"""Dashboards in the API: every widget's figures for the token's user, as the page has them.

``GET /api/v1/{app}/dashboards/{key}`` returns all widgets, ``…/widgets/{widget}`` one;
``from``, ``to`` (ISO dates), ``owner`` (a user id) and ``department`` (a department id:
its people's records and those of the departments below it) are the viewer's filters. The same
service computes them as for the page, so permissions and hidden fields apply alike; a
dashboard the user's roles may not see is "not found".
"""

from __future__ import annotations

from flask import Response, request

from formflow.dashboards import DashboardService
from formflow.definitions.model import Dashboard
from formflow.errors import N_, PermissionDenied, RecordNotFound
from formflow.web.api import actor_for, api_instance, blueprint, json_response
from formflow.web.dashboard_pages import result_cache, viewer_filters
from formflow.web.dashboard_view import Labeller, widget_json

PARAMETERS = frozenset({"from", "to", "owner", "department"})


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
    results = service.compute_all(actor, found, viewer_filters(found, request.args))
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
    result = service.compute(actor, chosen, viewer_filters(found, request.args))
    labeller = Labeller(service.app, service.records, actor)
    return json_response(widget_json(service.records.app.key, service.app, labeller, result))
