"""The delegation endpoints of the REST API: list, make and end the caller's delegations.

Thin like :mod:`formflow.web.api_workflows`: the body is checked against the OpenAPI
document (dates included), and the rules (no delegating to oneself, to someone inactive, or
in a circle) are the engine's (:mod:`formflow.workflows.delegations`), whose refusals come
back in the API's one error shape.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, request

from formflow.errors import N_, QueryError
from formflow.fields.values import MAX_INTEGER
from formflow.web import serialize
from formflow.web.api import actor_for, api_instance, blueprint, conformance, json_response
from formflow.workflows.delegations import Delegation
from formflow.workflows.errors import DelegationNotFound
from formflow.workflows.service import WorkflowService


@blueprint.get("/delegations")
def delegations() -> Response:
    """The delegations the caller made or holds, in every app with workflows (or one)."""
    wanted = request.args.get("app")
    found: list[Delegation] = []
    for flows in _apps(wanted):
        found.extend(flows.delegations(actor_for(flows.app.key)))
    found.sort(key=lambda delegation: delegation.id, reverse=True)
    return json_response({"data": [_json(delegation) for delegation in found]})


@blueprint.post("/delegations")
def delegate() -> Response:
    """Hand the caller's approval tasks to someone else for a range of days."""
    body = serialize.parse_object(request.get_data(cache=False))
    conformance().check_body("DelegationInput", body)
    (flows,) = _apps(body["app"])
    delegation_id = flows.delegate(
        actor_for(flows.app.key),
        int(body["delegate"]),
        date.fromisoformat(body["starts_on"]),
        date.fromisoformat(body["ends_on"]),
        body.get("comment"),
        workflow_key=body.get("workflow"),
    )
    made = next(d for d in flows.delegations(actor_for(flows.app.key)) if d.id == delegation_id)
    return json_response(_json(made), 201)


@blueprint.post("/delegations/<int:delegation_id>/end")
def end(delegation_id: int) -> Response:
    """End one of the caller's delegations today rather than on its last day."""
    if delegation_id > MAX_INTEGER:
        raise DelegationNotFound(delegation_id)
    for flows in _apps(None):
        try:
            ended = flows.end_delegation(actor_for(flows.app.key), delegation_id)
        except DelegationNotFound:
            continue
        return json_response(_json(ended))
    raise DelegationNotFound(delegation_id)


def _apps(wanted: str | None) -> list[WorkflowService]:
    instance = api_instance()
    keys = [key for key in instance.app_keys if instance.app(key).workflows]
    if wanted is not None and wanted not in keys:
        raise QueryError(N_("no app with workflows '%(app)s'"), field="app", app=wanted)
    return [instance.workflows(key) for key in keys if wanted is None or key == wanted]


def _json(delegation: Delegation) -> dict[str, Any]:
    return {
        "id": delegation.id,
        "app": delegation.app_key,
        "user": delegation.user_id,
        "delegate": delegation.delegate_id,
        "starts_on": delegation.starts_on.isoformat(),
        "ends_on": delegation.ends_on.isoformat(),
        "workflow": delegation.workflow_key,
        "comment": delegation.comment,
        "created_at": delegation.created_at,
        "ended_at": delegation.ended_at,
    }
