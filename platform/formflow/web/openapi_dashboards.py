"""The dashboard paths of the OpenAPI document: one per dashboard, and one per widget."""

from __future__ import annotations

from typing import Any

from formflow.definitions.model import App
from formflow.web.openapi_parts import json_response, ref, whole_object

TAG = "dashboards"
_ERRORS = ("400", "401", "403", "404", "500")
_DATE = {"type": "string", "format": "date"}


def _parameters() -> list[dict[str, Any]]:
    return [
        {
            "name": "from",
            "in": "query",
            "description": "First day of the date range.",
            "schema": _DATE,
        },
        {
            "name": "to",
            "in": "query",
            "description": "Last day of the date range.",
            "schema": _DATE,
        },
        {
            "name": "owner",
            "in": "query",
            "description": "Only records this user owns (a user id), where the dashboard offers it.",
            "schema": {"type": "integer", "minimum": 1},
        },
        {
            "name": "department",
            "in": "query",
            "description": (
                "Only records owned by the people of this department and of the departments "
                "below it (a department id), where the dashboard offers it."
            ),
            "schema": {"type": "integer", "minimum": 1},
        },
    ]


def dashboard_paths(app: App, errors: Any) -> dict[str, Any]:
    """``errors`` turns status codes into the document's error responses."""
    paths: dict[str, Any] = {}
    for board in app.dashboards.values():
        base = f"/{app.key}/dashboards/{board.key}"
        name = board.label.en or board.key
        paths[base] = {
            "get": {
                "operationId": f"{app.key}_dashboard_{board.key}",
                "summary": f"Every widget of the {name} dashboard, for the caller",
                "tags": [TAG],
                "parameters": _parameters(),
                "responses": {
                    "200": json_response(f"The {name} dashboard's figures.", ref("DashboardData")),
                    **errors(_ERRORS),
                },
            }
        }
        paths[base + "/widgets/{widget}"] = {
            "get": {
                "operationId": f"{app.key}_dashboard_{board.key}_widget",
                "summary": f"One widget of the {name} dashboard, for the caller",
                "tags": [TAG],
                "parameters": [
                    {
                        "name": "widget",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": [w.key for w in board.widgets]},
                    },
                    *_parameters(),
                ],
                "responses": {
                    "200": json_response("The widget's figures.", ref("WidgetData")),
                    **errors(_ERRORS),
                },
            }
        }
    return paths


def dashboard_schemas() -> dict[str, Any]:
    number = {"type": ["string", "number", "null"], "description": "Decimals as strings."}
    return {
        "WidgetData": {
            "type": "object",
            "description": (
                "One widget's figures. Number widgets have value, previous and change (per "
                "cent against the previous period); charts have categories and series (data "
                "and, per point, the list page link of the records behind it); tables, "
                "calendars and Gantt charts have rows; problem says why a widget is empty "
                "for the caller."
            ),
            "required": ["key", "type", "label"],
            "properties": {
                "key": {"type": "string"},
                "type": {"type": "string"},
                "label": {"type": "string"},
                "problem": {"type": ["string", "null"]},
                "link": {"type": ["string", "null"]},
                "value": number,
                "previous": number,
                "change": number,
                "categories": {"type": "array", "items": {"type": "object"}},
                "series": {"type": "array", "items": {"type": "object"}},
                "rows": {"type": "array", "items": {"type": "object"}},
            },
        },
        "DashboardData": whole_object(
            {
                "key": {"type": "string"},
                "label": {"type": "string"},
                "widgets": {"type": "array", "items": ref("WidgetData")},
            }
        ),
    }
