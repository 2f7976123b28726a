"""The approval endpoints of the REST API: the caller's tasks, decisions and record actions.

Thin on purpose: each endpoint checks its request against the OpenAPI document and hands it
to the workflow engine (:mod:`formflow.workflows.service`), whose errors come back in the
API's one error shape. Its routes join the API blueprint, and so its token authentication.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Response, request

from formflow.definitions.model import Form, Label
from formflow.errors import N_, QueryError, RecordError, RecordNotFound
from formflow.fields.values import MAX_INTEGER
from formflow.record_actions.model import FormAction
from formflow.record_actions.service import Done
from formflow.web import serialize
from formflow.web.api import (
    RECORD_ID,
    actor_for,
    api_instance,
    blueprint,
    conformance,
    form_service,
    json_response,
    whole_argument,
)
from formflow.web.i18n import error_message, text, translate
from formflow.workflows.errors import TaskNotFound
from formflow.workflows.service import (
    BOXES,
    InboxItem,
    Instance,
    RecordAction,
    WorkflowService,
)

MAX_TASKS = 200


@blueprint.get("/tasks")
def tasks() -> Response:
    """The caller's inbox across the installed apps (or one, with ``app``)."""
    box = request.args.get("box", "todo")
    if box not in BOXES:
        raise QueryError(N_("box must be one of %(boxes)s"), field="box", boxes=", ".join(BOXES))
    limit = whole_argument("limit", 50, MAX_TASKS)
    after = whole_argument("after", None, MAX_INTEGER)
    instance = api_instance()
    wanted = request.args.get("app")
    if wanted is not None and wanted not in instance.app_keys:
        raise QueryError(N_("no app '%(app)s'"), field="app", app=wanted)
    found: list[InboxItem] = []
    for app_key in instance.app_keys:
        if wanted is None or app_key == wanted:
            flows = instance.workflows(app_key)
            found.extend(flows.inbox(actor_for(app_key), box, limit=limit, after=after))
    found.sort(key=lambda item: item.task.id, reverse=True)
    return json_response({"data": [_task_json(item) for item in found[:limit]]})


@blueprint.post("/tasks/<int:task_id>/decision")
def decision(task_id: int) -> Response:
    """Approve or reject one of the caller's tasks."""
    body = serialize.parse_object(request.get_data(cache=False))
    conformance().check_body("TaskDecision", body)
    flows = _flows_of_task(task_id)
    actor = actor_for(flows.app.key)
    task = flows.task(task_id)
    form = flows.app.form(flows.instance(task.instance_id).form_key)
    values = serialize.input_values(form, body.get("values") or {}, flows.records.timezone)
    done = flows.decide(
        actor,
        task_id,
        body["decision"],
        comment=body.get("comment"),
        values=values,
        to=body.get("to"),
    )
    return json_response(_instance_json(done))


@blueprint.post("/tasks/decisions")
def decisions() -> Response:
    """Approve or reject several of the caller's tasks with one comment: each decision is
    its own unit of work, so the answer reports each task, decided or refused, in order."""
    body = serialize.parse_object(request.get_data(cache=False))
    conformance().check_body("TaskDecisions", body)
    results: list[dict[str, Any]] = []
    for task_id in dict.fromkeys(int(found) for found in body["tasks"]):
        try:
            flows = _flows_of_task(task_id)
            done = flows.decide(
                actor_for(flows.app.key), task_id, body["decision"], comment=body.get("comment")
            )
        except RecordError as error:
            results.append({"task": task_id, "error": _error_json(error)})
        else:
            results.append({"task": task_id, "instance": _instance_json(done)})
    return json_response({"data": results})


def _error_json(error: RecordError) -> dict[str, str]:
    return {"code": error.code, "message": error_message(error)}


@blueprint.get(f"/<app_key>/<form_key>/records/{RECORD_ID}/actions")
def record_actions(app_key: str, form_key: str, record_id: int) -> Response:
    """What the caller may do now on a record: its approval's buttons, the form's own."""
    _service, form = form_service(app_key, form_key)
    found = api_instance().buttons(app_key).listed(actor_for(app_key), form.key, record_id)
    data = [_action_json(action) for action in found.workflow]
    data += [_form_action_json(action) for action in found.form]
    return json_response({"data": data})


@blueprint.post(f"/<app_key>/<form_key>/records/{RECORD_ID}/actions/<action_key>")
def record_action(app_key: str, form_key: str, record_id: int, action_key: str) -> Response:
    """Do one of the record's actions: submit, withdraw, resubmit, remind, approve, reject,
    reassign, add a signer, or one the form defines (with its inputs)."""
    service, form = form_service(app_key, form_key)
    actor = actor_for(app_key)
    buttons = api_instance().buttons(app_key)
    buttons.check_pressable(actor, form.key, record_id, action_key)  # before the body
    data = request.get_data(cache=False)
    body: dict[str, Any] = serialize.parse_object(data) if data.strip() else {}
    conformance().check_body("ActionInput", body)
    own = form.action(action_key)
    if own is not None:
        inputs = serialize.input_values(
            _inputs_form(form, own), body.get("inputs") or {}, service.timezone
        )
        done = buttons.press(actor, form.key, record_id, action_key, inputs=inputs)
        assert isinstance(done, Done)
        return json_response(
            {
                "action": done.key,
                "records": list(done.record_ids),
                "changes": [dict(c) for c in done.changes],
            }
        )
    values = serialize.input_values(form, body.get("values") or {}, service.timezone)
    instance = buttons.press(
        actor,
        form.key,
        record_id,
        action_key,
        comment=body.get("comment"),
        values=values,
        to=body.get("to"),
        user_id=body.get("user"),
        where=body.get("where", "after"),
        task_id=body.get("task"),
    )
    assert isinstance(instance, Instance)
    return json_response(_instance_json(instance))


def _flows_of_task(task_id: int) -> WorkflowService:
    instance = api_instance()
    if task_id > MAX_INTEGER:
        raise TaskNotFound(task_id)
    for app_key in instance.app_keys:
        flows = instance.workflows(app_key)
        try:
            flows.task(task_id)
        except RecordNotFound:
            continue
        return flows
    raise TaskNotFound(task_id)


def _task_json(item: InboxItem) -> dict[str, Any]:
    task = item.task
    return {
        "id": task.id,
        "kind": task.kind,
        "status": task.status,
        "node": task.node_key,
        "node_label": _label(item.node_label),
        "workflow_label": _label(item.workflow_label),
        "delegated_from": task.delegated_from,
        "comment": task.comment,
        "created_at": task.created_at,
        "decided_at": task.decided_at,
        "instance": _instance_json(item.instance),
    }


def _instance_json(instance: Instance) -> dict[str, Any]:
    return {
        "id": instance.id,
        "app": instance.app_key,
        "workflow": instance.workflow_key,
        "form": instance.form_key,
        "record_id": instance.record_id,
        "submitter": instance.submitter_id,
        "status": instance.status,
        "outcome": instance.outcome,
        "nodes": list(instance.nodes),
        "started_at": instance.started_at,
        "ended_at": instance.ended_at,
    }


def _action_json(action: RecordAction) -> dict[str, Any]:
    return {
        "key": action.key,
        "label": translate(action.label, {}),
        "instance": action.instance_id,
        "task": action.task_id,
        "workflow": action.workflow_key,
        "reject_to": list(action.reject_to),
        "edit": sorted(action.edit),
        "kind": "workflow",
    }


def _form_action_json(action: FormAction) -> dict[str, Any]:
    return {
        "key": action.key,
        "label": text(action.label),
        "kind": "form",
        "inputs": [
            {
                "key": item.key,
                "type": item.type,
                "label": text(item.label),
                "required": item.required,
            }
            for item in action.inputs
        ],
        "confirm": text(action.confirm) if action.confirm else None,
    }


def _inputs_form(form: Form, action: FormAction) -> Form:
    """The action's inputs as a form, so the API reads their values as it reads fields."""
    return replace(form, fields=action.inputs)


def _label(label: Label) -> dict[str, str | None]:
    return {"zh": label.zh, "en": label.en}
