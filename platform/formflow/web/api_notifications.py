"""The notification endpoints of the REST API: the caller's notifications, marked read.

Its routes join the API blueprint, and so its token authentication and its error shape;
:mod:`formflow.notifications` does the work.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from formflow.errors import N_, QueryError, RecordNotFound
from formflow.fields.values import MAX_INTEGER
from formflow.notifications import Notification, UnknownNotification, follows
from formflow.storage.database import read_transaction, write_transaction
from formflow.web.api import (
    RECORD_ID,
    actor_for,
    api_instance,
    blueprint,
    form_service,
    json_response,
    whole_argument,
)
from formflow.web.i18n import language, translations

MAX_NOTIFICATIONS = 200


@blueprint.route(
    f"/<app_key>/<form_key>/records/{RECORD_ID}/follow", methods=["GET", "PUT", "DELETE"]
)
def follow(app_key: str, form_key: str, record_id: int) -> Response:
    """Whether the caller follows a record they may read (GET), follow it (PUT), stop (DELETE)."""
    service, form = form_service(app_key, form_key)
    actor = actor_for(app_key)
    service.get(actor, form.key, record_id)
    if request.method == "PUT":
        follows.follow(service, actor, form.key, record_id)
    elif request.method == "DELETE":
        follows.unfollow(service, actor, form.key, record_id)
    return json_response({"following": follows.is_following(service, actor, form.key, record_id)})


@blueprint.get("/notifications")
def notifications() -> Response:
    """The caller's notifications, newest first, with how many are unread."""
    limit = whole_argument("limit", 50, MAX_NOTIFICATIONS)
    before = whole_argument("before", None, MAX_INTEGER)
    unread_only = request.args.get("unread", "false")
    if unread_only not in ("true", "false"):
        raise QueryError(N_("unread must be true or false"), field="unread")
    instance = api_instance()
    user_id = _caller()
    with read_transaction(instance.engine) as connection:
        found = instance.notifications.list_for(
            connection, user_id, limit=limit, before=before, unread_only=unread_only == "true"
        )
        unread = instance.notifications.unread_count(connection, user_id)
    return json_response({"data": [notification_json(n) for n in found], "unread": unread})


@blueprint.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    """Mark one of the caller's notifications read (again: no change)."""
    instance = api_instance()
    try:
        with write_transaction(instance.engine) as connection:
            done = instance.notifications.mark_read(connection, _caller(), notification_id)
    except UnknownNotification:
        raise RecordNotFound(N_("no notification %(id)s"), id=notification_id) from None
    return json_response(notification_json(done))


@blueprint.post("/notifications/read-all")
def read_all_notifications() -> Response:
    """Mark every unread notification of the caller read."""
    instance = api_instance()
    with write_transaction(instance.engine) as connection:
        count = instance.notifications.mark_all_read(connection, _caller())
    return json_response({"marked": count, "unread": 0})


def notification_json(notification: Notification) -> dict[str, Any]:
    title, body = notification.text(translations().ugettext, language())
    return {
        "id": notification.id,
        "kind": notification.kind,
        "title": title,
        "body": body,
        "app": notification.app_key,
        "form": notification.form_key,
        "record_id": notification.record_id,
        "task_id": notification.task_id,
        "created_at": notification.created_at,
        "read_at": notification.read_at,
    }


def _caller() -> int:
    return int(g.api_identity.user.id)
