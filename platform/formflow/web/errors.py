"""Errors as people and clients should see them.

API requests (under ``/api/``) always get JSON of one shape, with a stable ``code``::

    {"error": {"code": "validation_failed", "message": "...", "fields": {"name": [...]}}}

Pages get a page in the user's language, and so do API messages (the ``code`` stays the
same in every language). Neither ever shows a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, default_exceptions
from werkzeug.wrappers import Response

from formflow.errors import (
    DuplicateSuspected,
    PermissionDenied,
    Problem,
    QueryError,
    RecordError,
    RecordInUse,
    RecordNotFound,
    StaleRecord,
    ValidationFailed,
    VetoedByPlugin,
)
from formflow.record_actions.service import ActionFailed, ActionLimitReached
from formflow.web.i18n import error_message, problem_message
from formflow.workflows.errors import WorkflowConflict, WorkflowError

log = logging.getLogger("formflow.web")

STATUS = {
    DuplicateSuspected: 409,
    ValidationFailed: 422,
    PermissionDenied: 403,
    RecordNotFound: 404,
    StaleRecord: 409,
    RecordInUse: 409,
    VetoedByPlugin: 422,
    QueryError: 400,
    WorkflowConflict: 409,
    WorkflowError: 422,
    ActionLimitReached: 409,
    ActionFailed: 422,
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


MAX_NAMED = 50
"""How many fields' problems one answer names: a body of thousands of keys that are no
field must not make the answer, and the work of writing it, thousands of times larger."""
MAX_ECHOED = 200
"""How much of a path or a value an answer repeats: a key 100,000 characters long is no
field, and its first characters say which one was meant."""


def record_error_response(error: RecordError) -> tuple[Response, int]:
    status = next((s for kind, s in STATUS.items() if isinstance(error, kind)), 400)
    extra: dict[str, Any] = {}
    message = None
    if isinstance(error, ValidationFailed):
        named, left = _named(error.problems)
        extra["fields"] = {
            key: [{"code": p.code, "message": problem_message(p)} for p in problems]
            for key, problems in named.items()
        }
        message = error_message(ValidationFailed(named))
        if left:
            message += "; " + _("%(count)s more fields with problems are not listed", count=left)
    if isinstance(error, QueryError) and error.field:
        extra["field"] = error.field
    if isinstance(error, StaleRecord):  # so a client need not read it out of the message
        extra["version"] = error.actual
    return jsonify(error_body(error.code, message or error_message(error), **extra)), status


def _named(problems: dict[str, list[Problem]]) -> tuple[dict[str, list[Problem]], int]:
    """The first :data:`MAX_NAMED` fields' problems, paths and values cut to
    :data:`MAX_ECHOED` characters; and how many fields were left out."""
    named: dict[str, list[Problem]] = {}
    for taken, (path, found) in enumerate(problems.items()):
        shown = _cut(path)
        if shown not in named and len(named) == MAX_NAMED:
            return named, len(problems) - taken
        named.setdefault(shown, []).extend(
            Problem(p.code, p.template, tuple((k, _cut(v)) for k, v in p.params)) for p in found
        )
    return named, 0


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_ECHOED:
        return value[:MAX_ECHOED] + "…"
    return value


def http_message(error: HTTPException) -> str:
    """Werkzeug's English description, replaced by ours in the user's language unless the
    code that raised it wrote its own (already translated) description."""
    status = error.code or 500
    kind = default_exceptions.get(status)
    if error.description and (kind is None or error.description != kind.description):
        return str(error.description)
    messages: dict[int, Callable[[], str]] = {
        400: lambda: _("The request could not be understood. Check what was sent and try again."),
        401: lambda: _("Please sign in to see this page."),
        403: lambda: _("You are not allowed to see this page."),
        404: lambda: _("There is nothing at this address. It may have been moved or deleted."),
        405: lambda: _("This address does not accept this kind of request."),
        409: lambda: _("This conflicts with a change made meanwhile. Reload and try again."),
        413: lambda: _("What was sent is too large."),
        429: lambda: _("Too many requests. Wait a moment and try again."),
    }
    message = messages.get(status)
    return message() if message else _("The request could not be carried out.")


def kept_entries() -> list[tuple[str, str]] | None:
    """What a page form sent with a stale token, to offer it again under a fresh one; ``None``
    unless the person is signed in and the form came from one of our own pages.

    A token goes stale when its session ends, so a form filled in before signing in again
    (in another tab, after the session expired) would otherwise lose everything typed. Only a
    same-origin post is kept: offering another site's post back would undo the protection.
    Files cannot be sent again, and passwords are never written into a page.
    """
    if not current_user.is_authenticated or request.files:
        return None
    origin = request.headers.get("Origin") or request.referrer or ""
    if not (origin.rstrip("/") + "/").startswith(request.host_url):
        return None
    return [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name != "csrf_token" and "password" not in name
    ]


def init_app(app: Flask) -> None:
    @app.errorhandler(RecordError)
    def _record_error(error: RecordError) -> Any:
        if wants_json():
            return record_error_response(error)
        status = next((s for kind, s in STATUS.items() if isinstance(error, kind)), 400)
        return render_template("error.html", status=status, message=error_message(error)), status

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        message = _("The form expired or was sent from elsewhere. Reload the page and try again.")
        if wants_json():
            return jsonify(error_body("csrf_failed", message)), 400
        kept = kept_entries()
        if kept is not None:
            message = _(
                "The form expired (you signed in again meanwhile). What you entered is kept: "
                "send it again."
            )
        page = render_template("error.html", status=400, message=message, resend=kept)
        return page, 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        status = error.code or 500
        # the exception's own headers, such as a 405's Allow, belong in either answer
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        if wants_json():
            code = (error.name or "error").lower().replace(" ", "_")
            return jsonify(error_body(code, http_message(error))), status, headers
        page = render_template("error.html", status=status, message=http_message(error))
        return page, status, headers

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.path)
        message = _("Something went wrong on our side. Nothing was saved.")
        if wants_json():
            return jsonify(error_body("internal_error", message)), 500
        return render_template("error.html", status=500, message=message, bare=True), 500
