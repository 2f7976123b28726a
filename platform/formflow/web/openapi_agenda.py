"""The agenda part of the OpenAPI document: ``GET /agenda``, the caller's Today list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from formflow.web.openapi_parts import Schema, json_response, ref, whole_object

TAG = "agenda"
_ERRORS = ("400", "401", "403", "500")
_LABEL: Schema = {
    "type": "object",
    "properties": {"zh": {"type": ["string", "null"]}, "en": {"type": ["string", "null"]}},
}


def agenda_paths(app_keys: Sequence[str], errors: Any) -> dict[str, Any]:
    """The path; ``errors`` turns status codes into the document's error responses."""
    return {
        "/agenda": {
            "get": {
                "operationId": "agenda",
                "summary": "What is due for the caller today: due records and approvals waiting",
                "description": (
                    "The records the forms' `agenda` items make due for the caller (their date "
                    "has come, or comes within the item's ahead_days, and they are not done), "
                    "overdue and earliest first, at most `limit` per item; and the approval "
                    "tasks waiting for the caller. A token limited to forms may not read it."
                ),
                "tags": [TAG],
                "parameters": [
                    {
                        "name": "app",
                        "in": "query",
                        "description": "Only this app's agenda.",
                        "schema": {"type": "string", "enum": list(app_keys)},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "At most this many records per agenda item, and approvals.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    },
                ],
                "responses": {
                    "200": json_response("The caller's agenda.", ref("Agenda")),
                    **errors(_ERRORS),
                },
            }
        }
    }


def agenda_schemas() -> dict[str, Schema]:
    return {
        "AgendaEntry": whole_object(
            {
                "app": {"type": "string"},
                "form": {"type": "string"},
                "record_id": {"type": "integer"},
                "item": {"type": "string", "description": "The agenda item's key in the form."},
                "label": _LABEL,
                "title": {"description": "The record's title field, as the records API gives it."},
                "due": {"type": "string", "format": "date"},
                "overdue": {"type": "boolean"},
            }
        ),
        "AgendaApproval": {
            "type": "object",
            "required": ["task_id", "app", "form", "record_id", "since"],
            "properties": {
                "task_id": {"type": "integer"},
                "app": {"type": "string"},
                "form": {"type": "string"},
                "record_id": {"type": "integer"},
                "workflow_label": _LABEL,
                "node_label": _LABEL,
                "since": {"type": "string", "format": "date-time"},
            },
        },
        "Agenda": whole_object(
            {
                "data": {"type": "array", "items": ref("AgendaEntry")},
                "approvals": {"type": "array", "items": ref("AgendaApproval")},
            }
        ),
    }
