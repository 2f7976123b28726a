"""The approval part of the OpenAPI document: tasks, decisions and record actions.

Built beside the record paths by :func:`formflow.web.openapi.build_document`; record
actions are documented for the forms a workflow runs on or that define actions of their
own (see :mod:`formflow.record_actions`), which share the same two paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from formflow.definitions.model import App
from formflow.fields.values import MAX_INTEGER
from formflow.web.openapi_parts import (
    Schema,
    data_list,
    json_response,
    ref,
    request_body,
    whole_object,
)
from formflow.workflows.service import APPROVE, BOXES, REJECT

TAG = "approvals"
_ERRORS = ("400", "401", "403", "404", "500")
_ACTIONS = ("submit", "withdraw", "resubmit", "remind", APPROVE, REJECT, "reassign", "add_signer")


def workflow_paths(apps: Sequence[App], errors: Any) -> dict[str, Any]:
    """The paths; ``errors`` turns status codes into the document's error responses."""
    paths: dict[str, Any] = {
        "/tasks": {
            "get": {
                "operationId": "list_tasks",
                "summary": "The caller's approval tasks, newest first",
                "tags": [TAG],
                "parameters": [
                    {
                        "name": "box",
                        "in": "query",
                        "description": "todo (to decide), done (decided), cc (copied), submitted (open tasks of what the caller submitted).",
                        "schema": {"type": "string", "enum": list(BOXES), "default": "todo"},
                    },
                    {"name": "app", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "description": "Only tasks with a smaller id (the next page).",
                        "schema": {"type": "integer", "minimum": 1},
                    },
                ],
                "responses": {
                    "200": json_response("The tasks.", ref("TaskList")),
                    **errors(_ERRORS),
                },
            }
        },
        "/tasks/decisions": {
            "post": {
                "operationId": "decide_tasks",
                "summary": "Approve or reject several tasks with one comment; each decision is its own unit of work and is reported on its own",
                "tags": [TAG],
                "requestBody": request_body("TaskDecisions"),
                "responses": {
                    "200": json_response(
                        "Each task's outcome, in order.", ref("TaskDecisionResults")
                    ),
                    **errors((*_ERRORS, "413", "422")),
                },
            }
        },
        "/tasks/{task_id}/decision": {
            "parameters": [
                {
                    "name": "task_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
                }
            ],
            "post": {
                "operationId": "decide_task",
                "summary": "Approve or reject a task, with a comment and the fields the step lets its approvers edit",
                "tags": [TAG],
                "requestBody": request_body("TaskDecision"),
                "responses": {
                    "200": json_response(
                        "The approval after the decision.", ref("WorkflowInstance")
                    ),
                    **errors((*_ERRORS, "409", "413", "422")),
                },
            },
        },
    }
    paths.update(_delegation_paths(errors))
    for app in apps:
        flowing = {flow.form for flow in app.workflows.values()}
        acting = {key for key, form in app.forms.items() if form.actions}
        for form_key in sorted(flowing | acting):
            keys = [
                *(_ACTIONS if form_key in flowing else ()),
                *(action.key for action in app.form(form_key).actions),
            ]
            base = f"/{app.key}/{form_key}/records/{{record_id}}/actions"
            op = f"{app.key}_{form_key}"
            id_param = [{"$ref": "#/components/parameters/RecordId"}]
            paths[base] = {
                "parameters": id_param,
                "get": {
                    "operationId": f"{op}_actions",
                    "summary": "What the caller may do now on the record: its approval's buttons and the form's own actions",
                    "tags": [TAG],
                    "responses": {
                        "200": json_response("The actions.", ref("RecordActionList")),
                        **errors(_ERRORS),
                    },
                },
            }
            paths[f"{base}/{{action_key}}"] = {
                "parameters": [
                    *id_param,
                    {
                        "name": "action_key",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": keys},
                    },
                ],
                "post": {
                    "operationId": f"{op}_act",
                    "summary": "Do one of the record's actions: an approval's (submit, withdraw, resubmit, remind, approve, reject, reassign, add a signer) or one the form defines",
                    "tags": [TAG],
                    "requestBody": request_body("ActionInput", required=False),
                    "responses": {
                        "200": json_response(
                            "The approval after an approval's action; what a form's action did.",
                            {"oneOf": [ref("WorkflowInstance"), ref("ActionDone")]},
                        ),
                        **errors((*_ERRORS, "409", "413", "422")),
                    },
                },
            }
    return paths


def _delegation_paths(errors: Any) -> dict[str, Any]:
    return {
        "/delegations": {
            "get": {
                "operationId": "list_delegations",
                "summary": "The delegations the caller made or holds, newest first",
                "tags": [TAG],
                "parameters": [{"name": "app", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": json_response("The delegations.", ref("DelegationList")),
                    **errors(_ERRORS),
                },
            },
            "post": {
                "operationId": "delegate",
                "summary": "Hand the caller's approval tasks to someone else for a range of days (委托): tasks arriving then go to the delegate, and open ones move once the range has begun",
                "tags": [TAG],
                "requestBody": request_body("DelegationInput"),
                "responses": {
                    "201": json_response("The delegation.", ref("Delegation")),
                    **errors((*_ERRORS, "413", "422")),
                },
            },
        },
        "/delegations/{delegation_id}/end": {
            "parameters": [
                {
                    "name": "delegation_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
                }
            ],
            "post": {
                "operationId": "end_delegation",
                "summary": "End one of the caller's delegations now; tasks already handed on stay with the delegate",
                "tags": [TAG],
                "responses": {
                    "200": json_response("The delegation, ended.", ref("Delegation")),
                    **errors(_ERRORS),
                },
            },
        },
    }


def _delegation_schemas() -> dict[str, Schema]:
    day = {"type": "string", "format": "date"}
    delegation = {
        "type": "object",
        "required": ["id", "app", "user", "delegate", "starts_on", "ends_on"],
        "properties": {
            "id": {"type": "integer"},
            "app": {"type": "string"},
            "user": {"type": "integer", "description": "Whose tasks are handed on."},
            "delegate": {"type": "integer", "description": "Who takes them."},
            "starts_on": day,
            "ends_on": day,
            "workflow": {
                "type": ["string", "null"],
                "description": "The one workflow delegated; null for all of them.",
            },
            "comment": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "ended_at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    return {
        "Delegation": delegation,
        "DelegationList": data_list(ref("Delegation")),
        "DelegationInput": {
            "type": "object",
            "required": ["app", "delegate", "starts_on", "ends_on"],
            "properties": {
                "app": {"type": "string", "maxLength": 63},
                "delegate": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
                "starts_on": day,
                "ends_on": day,
                "workflow": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
                "comment": {"type": ["string", "null"], "maxLength": 2000},
            },
            "additionalProperties": False,
        },
    }


def workflow_schemas() -> dict[str, Schema]:
    label = {
        "type": "object",
        "properties": {"zh": {"type": ["string", "null"]}, "en": {"type": ["string", "null"]}},
    }
    moment = {"type": ["string", "null"], "format": "date-time"}
    comment = {"type": ["string", "null"], "maxLength": 2000}
    values = {
        "type": "object",
        "description": "Field values to set: only the fields the current step lets its approvers edit.",
    }
    to = {
        "type": "string",
        "description": "Where a rejection sends the request: submitter, or a node its step names in reject_to.",
        "pattern": "^[a-z][a-z0-9_]{0,62}$",
    }
    instance = {
        "type": "object",
        "required": ["id", "app", "workflow", "form", "record_id", "status", "nodes"],
        "properties": {
            "id": {"type": "integer"},
            "app": {"type": "string"},
            "workflow": {"type": "string"},
            "form": {"type": "string"},
            "record_id": {"type": "integer"},
            "submitter": {"type": ["integer", "null"]},
            "status": {"type": "string", "enum": ["running", "returned", "finished", "withdrawn"]},
            "outcome": {"type": ["string", "null"]},
            "nodes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The steps waiting for people.",
            },
            "started_at": moment,
            "ended_at": moment,
        },
    }
    task = {
        "type": "object",
        "required": ["id", "kind", "status", "node", "instance"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["approve", "cc"]},
            "status": {"type": "string"},
            "node": {"type": "string"},
            "node_label": label,
            "workflow_label": label,
            "delegated_from": {"type": ["integer", "null"]},
            "comment": {"type": ["string", "null"]},
            "created_at": moment,
            "decided_at": moment,
            "instance": ref("WorkflowInstance"),
        },
    }
    action = {
        "type": "object",
        "required": ["key", "label", "kind"],
        "properties": {
            "key": {
                "type": "string",
                "description": "An approval's action (submit, withdraw, resubmit, remind, approve, reject, reassign, add_signer) or the key of one the form defines.",
            },
            "label": {"type": "string"},
            "kind": {
                "type": "string",
                "enum": ["workflow", "form"],
                "description": "workflow: the record's approval; form: an action the form defines.",
            },
            "inputs": {
                "type": "array",
                "description": "For a form's action: what it asks, given as inputs when doing it.",
                "items": {
                    "type": "object",
                    "required": ["key", "type", "label", "required"],
                    "properties": {
                        "key": {"type": "string"},
                        "type": {"type": "string"},
                        "label": {"type": "string"},
                        "required": {"type": "boolean"},
                    },
                },
            },
            "confirm": {
                "type": ["string", "null"],
                "description": "For a form's action: the question to ask before doing it.",
            },
            "instance": {"type": ["integer", "null"]},
            "task": {"type": ["integer", "null"]},
            "workflow": {"type": ["string", "null"]},
            "reject_to": {
                "type": "array",
                "items": {"type": "string"},
                "description": "For reject: where a rejection may send the request, the default first.",
            },
            "edit": {
                "type": "array",
                "items": {"type": "string"},
                "description": "For approve and reject: the fields the approver may fill in.",
            },
        },
    }
    return {
        **_delegation_schemas(),
        "WorkflowInstance": instance,
        "Task": task,
        "TaskList": data_list(ref("Task")),
        "RecordAction": action,
        "RecordActionList": data_list(ref("RecordAction")),
        "ActionDone": whole_object(
            {
                "action": {"type": "string"},
                "records": {"type": "array", "items": {"type": "integer"}},
                "changes": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "What each step did, as the automations' log tells it.",
                },
            }
        ),
        "TaskDecisions": {
            "type": "object",
            "required": ["tasks", "decision"],
            "properties": {
                "tasks": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
                },
                "decision": {"type": "string", "enum": [APPROVE, REJECT]},
                "comment": comment,
            },
            "additionalProperties": False,
        },
        "TaskDecisionResults": data_list(
            {
                "type": "object",
                "required": ["task"],
                "properties": {
                    "task": {"type": "integer"},
                    "instance": ref("WorkflowInstance"),
                    "error": whole_object(
                        {"code": {"type": "string"}, "message": {"type": "string"}}
                    ),
                },
            }
        ),
        "TaskDecision": {
            "type": "object",
            "required": ["decision"],
            "properties": {
                "decision": {"type": "string", "enum": [APPROVE, REJECT]},
                "comment": comment,
                "values": values,
                "to": to,
            },
            "additionalProperties": False,
        },
        "ActionInput": {
            "type": "object",
            "properties": {
                "comment": comment,
                "values": values,
                "to": to,
                "user": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "For reassign and add_signer: the user who takes the task.",
                },
                "where": {
                    "type": "string",
                    "enum": ["before", "after"],
                    "description": "For add_signer: whether the new signer decides before or after the caller.",
                },
                "task": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Which of the caller's tasks on the record, when they hold several.",
                },
                "inputs": {
                    "type": "object",
                    "description": "For a form's action: the answers to its inputs, by key, checked like form fields.",
                },
            },
            "additionalProperties": False,
        },
    }
