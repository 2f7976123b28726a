"""The notifications part of the OpenAPI document: the caller's list, marking read."""

from __future__ import annotations

from typing import Any

from formflow.fields.values import MAX_INTEGER
from formflow.web.openapi_parts import Schema, json_response, ref, whole_object

TAG = "notifications"
_ERRORS = ("400", "401", "403", "500")


def notification_paths(errors: Any) -> dict[str, Any]:
    """The paths; ``errors`` turns status codes into the document's error responses."""
    return {
        "/notifications": {
            "get": {
                "operationId": "list_notifications",
                "summary": "The caller's notifications, newest first, and how many are unread",
                "tags": [TAG],
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                    {
                        "name": "before",
                        "in": "query",
                        "description": "Only notifications with a smaller id (the next page).",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
                    },
                    {
                        "name": "unread",
                        "in": "query",
                        "description": "true: only the unread ones.",
                        "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
                    },
                ],
                "responses": {
                    "200": json_response("The notifications.", ref("NotificationList")),
                    **errors(_ERRORS),
                },
            }
        },
        "/notifications/{notification_id}/read": {
            "parameters": [
                {
                    "name": "notification_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
                }
            ],
            "post": {
                "operationId": "read_notification",
                "summary": "Mark one of the caller's notifications read",
                "tags": [TAG],
                "responses": {
                    "200": json_response("The notification, read.", ref("Notification")),
                    **errors((*_ERRORS, "404")),
                },
            },
        },
        "/notifications/read-all": {
            "post": {
                "operationId": "read_all_notifications",
                "summary": "Mark every unread notification of the caller read",
                "tags": [TAG],
                "responses": {
                    "200": json_response("How many were marked.", ref("NotificationsMarked")),
                    **errors(_ERRORS),
                },
            }
        },
    }


def follow_paths(app_key: str, form_key: str, errors: Any) -> dict[str, Any]:
    """A record's follow switch: whether the caller follows it, following, unfollowing."""
    answer = {"200": json_response("Whether the caller follows the record.", ref("Following"))}
    op = f"{app_key}_{form_key}"
    codes = (*_ERRORS, "404")
    return {
        f"/{app_key}/{form_key}/records/{{record_id}}/follow": {
            "parameters": [{"$ref": "#/components/parameters/RecordId"}],
            "get": {
                "operationId": f"{op}_following",
                "summary": "Whether the caller follows the record",
                "tags": [TAG],
                "responses": {**answer, **errors(codes)},
            },
            "put": {
                "operationId": f"{op}_follow",
                "summary": "Follow the record: the caller is told of its changes and its approval's steps (not of their own changes)",
                "tags": [TAG],
                "responses": {**answer, **errors(codes)},
            },
            "delete": {
                "operationId": f"{op}_unfollow",
                "summary": "Stop following the record",
                "tags": [TAG],
                "responses": {**answer, **errors(codes)},
            },
        }
    }


def notification_schemas() -> dict[str, Schema]:
    moment = {"type": ["string", "null"], "format": "date-time"}
    return {
        "Notification": {
            "type": "object",
            "required": ["id", "kind", "title", "body", "created_at", "read_at"],
            "properties": {
                "id": {"type": "integer"},
                "kind": {
                    "type": "string",
                    "description": "task, copy, reminder, escalated, approved, rejected, returned, ended (workflows), automation, or a plugin's.",
                },
                "title": {"type": "string", "description": "In the caller's language."},
                "body": {"type": "string"},
                "app": {"type": ["string", "null"]},
                "form": {"type": ["string", "null"]},
                "record_id": {
                    "type": ["integer", "null"],
                    "description": "The record it is about.",
                },
                "task_id": {
                    "type": ["integer", "null"],
                    "description": "The approval task it is about.",
                },
                "created_at": moment,
                "read_at": moment,
            },
        },
        "NotificationList": whole_object(
            {
                "data": {"type": "array", "items": ref("Notification")},
                "unread": {"type": "integer", "minimum": 0},
            }
        ),
        "NotificationsMarked": whole_object(
            {
                "marked": {"type": "integer", "minimum": 0},
                "unread": {"type": "integer", "minimum": 0},
            }
        ),
    }


FOLLOWING: Schema = whole_object({"following": {"type": "boolean"}})
