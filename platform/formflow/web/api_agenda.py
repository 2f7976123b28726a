"""``GET /api/v1/agenda``: what is due for the caller today, as the workbench's Today list.

The records the forms' ``agenda`` items make due (:mod:`formflow.records.agenda`) and the
approval tasks waiting for the caller, each naming its record. Its route joins the API
blueprint, and so its token authentication and error shape.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from formflow.errors import N_, QueryError
from formflow.records import AgendaEntry, due_records
from formflow.web.api import actor_for, api_instance, blueprint, json_response, whole_argument
from formflow.workflows.service import InboxItem

MAX_AGENDA = 100


@blueprint.get("/agenda")
def agenda_items() -> Response:
    """The caller's due records (overdue and earliest first) and approvals waiting."""
    instance = api_instance()
    wanted = request.args.get("app")
    if wanted is not None and wanted not in instance.app_keys:
        raise QueryError(N_("no app '%(app)s'"), field="app", app=wanted)
    limit = whole_argument("limit", 20, MAX_AGENDA)
    due: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    for app_key in instance.app_keys:
        if wanted is not None and app_key != wanted:
            continue
        actor = actor_for(app_key)
        service = instance.records(app_key)
        due += [_entry_json(app_key, entry) for entry in due_records(service, actor, limit=limit)]
        if instance.app(app_key).workflows:
            found = instance.workflows(app_key).inbox(actor, "todo", limit=limit)
            waiting += [_approval_json(item) for item in found]
    return json_response({"data": due, "approvals": waiting})


def _entry_json(app_key: str, entry: AgendaEntry) -> dict[str, Any]:
    return {
        "app": app_key,
        "form": entry.form_key,
        "record_id": entry.record_id,
        "item": entry.item.key,
        "label": {"zh": entry.item.label.zh, "en": entry.item.label.en},
        "title": entry.title,
        "due": entry.due,
        "overdue": entry.overdue,
    }


def _approval_json(item: InboxItem) -> dict[str, Any]:
    return {
        "task_id": item.task.id,
        "app": item.instance.app_key,
        "form": item.instance.form_key,
        "record_id": item.instance.record_id,
        "workflow_label": {"zh": item.workflow_label.zh, "en": item.workflow_label.en},
        "node_label": {"zh": item.node_label.zh, "en": item.node_label.en},
        "since": item.task.created_at,
    }
