"""Watching the instance: health and readiness for load balancers, metrics for
Prometheus, and the administrators' monitoring page (系统监控).

``/healthz`` answers as long as the process serves (it touches nothing); ``/readyz`` also
asks the database and the job queue. Both need no sign-in and cost a query at most.
``/metrics`` is for a scraper holding ``FORMFLOW_METRICS_TOKEN`` as a bearer token, or
for a signed-in administrator.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import Blueprint, Flask, abort, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from huey import Huey
from werkzeug.wrappers import Response

from formflow import monitoring
from formflow.backups import list_backups
from formflow.jobs import make_huey
from formflow.monitoring import Recorder
from formflow.monitoring.metrics import FOLDER as metrics_folder
from formflow.web import context
from formflow.web.admin import administrators_only
from formflow.web.extensions import csrf

blueprint = Blueprint("monitoring", __name__)

RECORDER = "formflow.metrics"
QUEUE = "formflow.monitoring.queue"
OPEN = frozenset({"monitoring.healthz", "monitoring.readyz", "monitoring.metrics"})


@blueprint.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. Touches neither the database nor the queue."""
    return Response("ok\n", mimetype="text/plain")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the database answers a query and the job queue can be read."""
    problems = monitoring.readiness(context.instance(), _queue())
    status = 503 if problems else 200
    return jsonify({"ready": not problems, "problems": problems}), status


@blueprint.get("/metrics")
def metrics() -> Response:
    if not _may_scrape():
        if current_user.is_authenticated:
            abort(403, description=_("Only administrators may read the metrics."))
        return Response(
            "metrics need a bearer token or an administrator\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = monitoring.exposition(
        _recorder().combined(), monitoring.gauges(context.instance(), _queue())
    )
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")


@blueprint.get("/admin/monitoring")
def index() -> Any:
    refused = administrators_only(_("Only administrators may see the monitoring page."))
    if refused is not None:
        return refused
    instance = context.instance()
    found = monitoring.gauges(instance, _queue())
    combined = _recorder().combined()
    requests = sum(combined["requests"].values())
    errors = sum(combined["errors"].values())
    backups = list_backups(instance.settings.backup_dir)
    return render_template(
        "admin/monitoring.html",
        gauges=found,
        alerts=[_alert_text(alert) for alert in monitoring.warnings(instance, found)],
        requests=requests,
        errors=errors,
        endpoints=sorted(
            (
                (endpoint, row[-1], row[-2] / row[-1] if row[-1] else 0.0)
                for endpoint, row in combined["latency"].items()
            ),
            key=lambda item: -item[1],
        )[:20],
        backups=list(reversed(backups))[:10],
        settings=instance.settings,
        zone=instance.settings.timezone,
    )


def _alert_text(alert: monitoring.Alert) -> str:
    zone = context.instance().settings.timezone
    if alert.code == "backup_missing":
        return str(
            _(
                "There is no backup, though one was due at %(due)s.",
                due=_when(alert.params["due"], zone),
            )
        )
    if alert.code == "backup_stale":
        return str(
            _(
                "The last backup (%(latest)s) is older than its schedule: one was due at %(due)s.",
                latest=_when(alert.params["latest"], zone),
                due=_when(alert.params["due"], zone),
            )
        )
    return str(
        _(
            "%(count)d background jobs have failed: see the failed jobs page.",
            count=alert.params["count"],
        )
    )


def _when(moment: Any, zone: Any) -> str:
    return str(moment.astimezone(zone).strftime("%Y-%m-%d %H:%M"))


def _may_scrape() -> bool:
    token = context.instance().settings.metrics_token
    given = request.headers.get("Authorization", "")
    if (
        token
        and given.startswith("Bearer ")
        and hmac.compare_digest(given[7:].strip().encode(), token.encode())
    ):
        return True
    return bool(current_user.is_authenticated and context.user().is_admin)


def _recorder() -> Recorder:
    found: Recorder = current_app.extensions[RECORDER]
    return found


def _queue() -> Huey:
    """The served app's queue, or one opened on the same storage for reading."""
    jobs = current_app.extensions.get("formflow.jobs")
    if jobs is not None:
        return jobs.huey
    huey: Huey | None = current_app.extensions.get(QUEUE)
    if huey is None:
        huey = current_app.extensions[QUEUE] = make_huey(context.instance().settings)
    return huey


def _started() -> None:
    g.formflow_started = time.perf_counter()


def _observed(response: Response) -> Response:
    started = g.pop("formflow_started", None)
    if started is not None:
        endpoint = request.endpoint or "unmatched"
        _recorder().observe(endpoint, response.status_code, time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    instance = app.extensions["formflow"]
    app.extensions[RECORDER] = Recorder(instance.settings.instance / metrics_folder)
    app.before_request_funcs.setdefault(None, []).insert(0, _started)
    app.after_request(_observed)
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)
