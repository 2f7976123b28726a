"""The notifications page and the unread count in the page header.

The count is one indexed query per page (notifications by user, unread); the list is
keyset-paged by id. Opening a notification (a POST, as every change here is) marks it read
and goes to the record it is about; :mod:`formflow.notifications` does the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from formflow.notifications import Notification, UnknownNotification, follows
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import context
from formflow.web.i18n import language, translations
from formflow.web.ids import parse_id
from formflow.web.targets import target
from formflow.workflows.inbox import shown_count

blueprint = Blueprint("notifications", __name__)

PAGE = 30


@dataclass(frozen=True)
class NotificationView:
    id: int
    title: str
    body: str
    when: str
    unread: bool
    href: str


def shown(notification: Notification) -> tuple[str, str]:
    """A notification's title and text in the request's language."""
    return notification.text(translations().ugettext, language())


def record_href(notification: Notification) -> str | None:
    """The page of the record a notification is about, if it names one."""
    if notification.app_key and notification.form_key and notification.record_id:
        base = url_for(
            "records.index", app_key=notification.app_key, form_key=notification.form_key
        )
        return f"{base}{notification.record_id}"
    return None


def unread_count() -> int:
    """The signed-in user's unread notifications, once per request (the header shows it)."""
    found: int | None = g.get("formflow_unread")
    if found is None:
        instance = context.instance()
        with read_transaction(instance.engine) as connection:
            found = instance.notifications.unread_count(connection, context.user().id)
        g.formflow_unread = found
    return found


@blueprint.get("/notifications")
@login_required  # type: ignore[untyped-decorator]
def page() -> ResponseReturnValue:
    instance = context.instance()
    before = parse_id(request.args.get("before", ""))
    with read_transaction(instance.engine) as connection:
        found = instance.notifications.list_for(
            connection, context.user().id, limit=PAGE + 1, before=before
        )
    more = len(found) > PAGE
    found = found[:PAGE]
    zone = instance.settings.timezone
    rows = []
    for notification in found:
        title, body = shown(notification)
        moment = notification.created_at or datetime.now(UTC)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        rows.append(
            NotificationView(
                notification.id,
                title,
                body,
                moment.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                notification.unread,
                url_for("notifications.open_one", notification_id=notification.id),
            )
        )
    return render_template(
        "notifications/list.html",
        rows=rows,
        next_href=url_for("notifications.page", before=found[-1].id) if more else None,
        first_href=url_for("notifications.page") if before else None,
    )


@blueprint.post("/notifications/<int:notification_id>")
@login_required  # type: ignore[untyped-decorator]
def open_one(notification_id: int) -> ResponseReturnValue:
    """Mark the notification read and go to what it is about (the list, if nothing).

    A POST the page's button sends with its CSRF token, then a redirect: as a GET, a link
    prefetcher, a browser preloading the page or another site's ``<img>`` would mark
    notifications read that nobody opened."""
    notification = _mark_read(notification_id)
    return redirect(record_href(notification) or url_for("notifications.page"))


@blueprint.post("/notifications/<int:notification_id>/read")
@login_required  # type: ignore[untyped-decorator]
def read_one(notification_id: int) -> ResponseReturnValue:
    _mark_read(notification_id)
    return redirect(url_for("notifications.page"))


def _mark_read(notification_id: int) -> Notification:
    """The user's notification, marked read; 404 when it is not theirs (or not there)."""
    instance = context.instance()
    try:
        with write_transaction(instance.engine) as connection:
            return instance.notifications.mark_read(connection, context.user().id, notification_id)
    except UnknownNotification:
        abort(404)


@blueprint.post("/notifications/read-all")
@login_required  # type: ignore[untyped-decorator]
def read_all() -> ResponseReturnValue:
    instance = context.instance()
    with write_transaction(instance.engine) as connection:
        count = instance.notifications.mark_all_read(connection, context.user().id)
    if count:
        flash(_("All notifications are marked read."))
    return redirect(url_for("notifications.page"))


def _header_count() -> str:
    """The header's count: empty for nobody signed in or nothing unread."""
    if not current_user.is_authenticated:
        return ""
    count = unread_count()
    return shown_count(count) if count else ""


@blueprint.post("/<app_key>/<form_key>/<int:record_id>/follow")
@login_required  # type: ignore[untyped-decorator]
def follow(app_key: str, form_key: str, record_id: int) -> ResponseReturnValue:
    """Follow the record, or stop following it (CSRFProtect has checked the POST); only a
    record the caller may read (anything else is not found, as reading it would be)."""
    t = target(app_key, form_key)
    if follows.is_following(t.service, t.actor, t.form.key, record_id):
        follows.unfollow(t.service, t.actor, t.form.key, record_id)
        flash(_("You no longer follow this record."))
    else:
        follows.follow(t.service, t.actor, t.form.key, record_id)
        flash(_("You follow this record: you will be told of its changes."))
    return redirect(
        url_for("records.detail", app_key=app_key, form_key=t.form.key, record_id=record_id)
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.jinja_env.globals["unread_notifications"] = _header_count
