"""The REST API under ``/api/v1``: records of every installed form, as JSON.

Requests authenticate with ``Authorization: Bearer <token>`` (see :mod:`formflow.accounts.tokens`)
and never with the session cookie, so a page on another site cannot make a signed-in
browser call the API: that is why the blueprint is exempt from CSRF checks. Every read and
write goes through the record service as the token's user, so the API has exactly the
pages' validation and permissions; a record out of the user's reach is "not found", the
same answer as for a record that does not exist.

Errors are JSON of one shape (:mod:`formflow.web.errors`) with a stable ``code``. The
OpenAPI document at ``/api/v1/openapi.json`` (:mod:`formflow.web.openapi`) describes
every path, generated from the definitions in force.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast, overload

from flask import Blueprint, Flask, Response, current_app, g, request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext

from formflow import accounts
from formflow.accounts import second_factor, tokens
from formflow.definitions.model import App, Field, Form, Label, Operation, Scope, SortKey
from formflow.errors import N_, Problem, QueryError, RecordError, RecordNotFound, ValidationFailed
from formflow.fields import ValueKind
from formflow.fields.json_values import is_whole
from formflow.fields.values import MAX_INTEGER
from formflow.files import attaching, attachments
from formflow.lifecycle.instance import Instance
from formflow.records import Actor, Query, RecordService, scope_for
from formflow.storage.database import one_statement_read, read_transaction, write_transaction
from formflow.web import address_checks, openapi, openapi_readers, serialize
from formflow.web.conformance import Conformance
from formflow.web.errors import MAX_ECHOED, error_body
from formflow.web.extensions import csrf
from formflow.web.i18n import error_message

blueprint = Blueprint("api", __name__, url_prefix=openapi.PREFIX)

MAX_ID = MAX_INTEGER
_NUMBER = re.compile(r"[0-9]{1,19}")
_ETAG = re.compile(r'"([1-9][0-9]{0,17})"')
_OPEN = frozenset({"api.document"})
"""Endpoints that need no token."""
_DOCUMENTS = "formflow.openapi"
_READERS_DOCUMENTS = "formflow.openapi.readers"


class VersionRequired(RecordError, code="version_required"):
    """An update without the version it was made at (status 428)."""


class InvalidIfMatch(RecordError, code="invalid_if_match"):
    """An ``If-Match`` that names no version the record can be at (status 409): not one
    strong ETag of ours, or not the version the body names. Like a stale version, the
    precondition fails, so the write is not made."""


class NotDeleted(RecordError, code="not_deleted"):
    """A restore of a record that is not in the recycle bin (status 409)."""


# authentication -----------------------------------------------------------------


@blueprint.before_request
def _authenticate() -> Response | None:
    if request.endpoint in _OPEN:
        return None
    scheme, _sep, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return _unauthorized(_("send an API token as 'Authorization: Bearer <token>'"), None)
    identity = _token_user(credentials.strip())
    if identity is None:
        return _unauthorized(
            _("the API token is not valid: revoked, expired, mistyped or its user is inactive"),
            "invalid_token",
        )
    scope = g.api_token_scope
    if request.endpoint not in _DESCRIPTIONS and not scope.permits(
        "GET" if request.endpoint in _READS_BY_POST else request.method,
        (request.view_args or {}).get("app_key"),
        (request.view_args or {}).get("form_key"),
    ):
        return json_response(
            error_body(
                "token_scope",
                _("this API token may not do that: it is %(scope)s", scope=_scope_text(scope)),
            ),
            403,
        )
    if address_checks.refuses(identity):
        return json_response(error_body("address_not_allowed", address_checks.refusal()), 403)
    if _lacks_second_factor(identity):
        return json_response(
            error_body(
                "second_factor_required",
                _("administrators must set up a second factor before using the API"),
            ),
            403,
        )
    g.api_identity = identity
    _check_parameters()
    return _refuse_media_type()


@blueprint.before_request
def _options() -> Response | None:
    """``OPTIONS``, once the token is checked: ``204`` with the ``Allow`` header, where
    Flask's default would answer ``200`` with an empty ``text/html`` body, which no client
    of a JSON API expects."""
    if request.method != "OPTIONS" or request.url_rule is None:
        return None
    response = current_app.make_default_options_response()
    response.status_code = 204
    del response.headers["Content-Type"]
    return response


def _scope_text(scope: tokens.TokenScope) -> str:
    """What a token may do, in the caller's language, for the sentence that refuses it
    (``TokenScope.describe`` is the command line's English)."""
    parts = [
        pgettext("token scope", "read only")
        if scope.read_only
        else pgettext("token scope", "read and write")
    ]
    if scope.forms is not None:
        parts.append(", ".join(sorted(scope.forms)))
    return "; ".join(parts)


def _refuse_media_type() -> Response | None:
    """Refuse a body that is not sent as JSON (``415 unsupported_media_type``), except to
    the endpoints that take files: a client that sends a form, or text that happens to
    parse, has a bug it should hear about rather than have its body guessed at."""
    if request.endpoint in _FILE_BODIES or request.is_json:
        return None
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return None  # no body: an action that needs none (restore, mark read)
    return json_response(
        error_body(
            "unsupported_media_type",
            _("send the body as JSON, with the header 'Content-Type: application/json'"),
        ),
        415,
    )


def _lacks_second_factor(identity: accounts.Identity) -> bool:
    """An administrator's token is refused while the instance requires administrators to
    have a second factor they have not set up (a token must not be a way around it)."""
    if not identity.user.is_admin or not api_instance().settings.admin_second_factor:
        return False
    with read_transaction(api_instance().engine) as connection:
        return not second_factor.is_enrolled(connection, identity.user.id)


_PARAMETERS = {
    "api.records": frozenset(
        {"filter", "search", "sort", "limit", "cursor", "offset", "total", "fields"}
    ),
    "api.record": frozenset({"fields"}),
    "api.create": frozenset({"confirm_duplicates"}),
    "api.update": frozenset({"confirm_duplicates"}),
    "api.delete": frozenset({"version"}),
    "api.tasks": frozenset({"box", "app", "limit", "after"}),
    "api.delegations": frozenset({"app"}),
    "api.notifications": frozenset({"limit", "before", "unread"}),
    "api.agenda_items": frozenset({"app", "limit"}),
    "api.dashboard": frozenset({"from", "to", "owner", "department"}),
    "api.dashboard_widget": frozenset({"from", "to", "owner", "department"}),
    "api.export": frozenset({"format", "language", "filter", "search", "sort"}),
}


_UNCLEAN = N_("%(name)s must not hold NUL characters or unpaired surrogates")


def _check_parameters() -> None:
    """Refuse query parameters an endpoint does not take: a misspelt ``filter`` or
    ``version`` would otherwise be ignored, and the request do more than was meant."""
    expected = _PARAMETERS.get(request.endpoint or "", frozenset())
    unknown = sorted(set(request.args) - expected)
    if unknown:
        if not expected:
            raise QueryError(
                N_("unknown query parameter '%(name)s'; it takes none"),
                field=unknown[0][:100],
                name=unknown[0],
            )
        raise QueryError(
            N_("unknown query parameter '%(name)s'; it takes %(expected)s"),
            field=unknown[0][:100],
            name=unknown[0],
            expected=", ".join(sorted(expected)),
        )


_DESCRIPTIONS = frozenset({"api.apps"})
"""What any token may read whatever its scope: which apps and forms there are."""
_FILE_BODIES = frozenset({"api.import_records"})
"""Endpoints whose body is a file (``multipart/form-data``), not JSON."""
_READS_BY_POST = frozenset({"api.search"})
"""Reads sent as POST (a query too long for a URL), which a read-only token may make."""


def _token_user(plaintext: str) -> accounts.Identity | None:
    """The token's user and their access, noting its use at most once a minute (a write
    only then); the token's scope goes to ``g.api_token_scope``.

    The lookup is one statement, looked up anew on every request (a revoked token or a
    deactivated user is refused at once), and needs no transaction of its own: on SQLite
    a create then sends its ``BEGIN IMMEDIATE`` with no ``BEGIN`` and rollback before it.
    """
    engine = api_instance().engine
    with one_statement_read(engine) as connection:
        match = tokens.find_token(connection, plaintext)
    if match is None:
        return None
    g.api_token_scope = match.scope
    now = datetime.now(UTC)
    if match.touch_due(now):
        with write_transaction(engine) as connection:
            tokens.touch_token(connection, match.token_id, now)
    return match.identity


def _unauthorized(message: str, error: str | None) -> Response:
    response = json_response(error_body("unauthorized", message), 401)
    challenge = 'Bearer realm="formflow"' + (f', error="{error}"' if error else "")
    response.headers["WWW-Authenticate"] = challenge
    return response


@blueprint.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response  # and the security headers of every response (formflow.web.headers)


# the document and the apps ------------------------------------------------------


@blueprint.get("/openapi.json")
def document() -> Response:
    """The document as the caller may see it: a token's user is not told the names of
    the fields hidden from their roles, a caller with no token those hidden from any."""
    instance = api_instance()
    apps = [instance.app(key) for key in instance.app_keys]
    identity = _reader()
    hidden = openapi_readers.hidden_from_reader(
        apps, None if identity is None else _hidden_from(instance, identity)
    )
    cache = current_app.extensions.setdefault(_READERS_DOCUMENTS, {})
    text = openapi_readers.served(apps, hidden, cache)
    response = Response(text, mimetype="application/json")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Authorization"
    return response


def _hidden_from(
    instance: Instance, identity: accounts.Identity
) -> Callable[[App, Form], frozenset[str]]:
    """The record service's answer to which fields of a form are hidden from ``identity``."""

    def hidden(app: App, form: Form) -> frozenset[str]:
        actor = identity.actor(app.key)
        return instance.records(app.key).field_access(actor, form.key).hidden

    return hidden


def _reader() -> accounts.Identity | None:
    """Whose document is asked for: the user of a valid bearer token, if one is sent."""
    scheme, _sep, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return _token_user(credentials.strip())


def conformance() -> Conformance:
    """The whole document in force (every field of every form), as requests are checked
    against it; what a caller may not see is then refused by the record service."""
    instance = api_instance()
    apps = [instance.app(key) for key in instance.app_keys]
    digests = tuple((app.key, app.digest) for app in apps)
    cached: dict[tuple[tuple[str, str], ...], Conformance] = current_app.extensions.setdefault(
        _DOCUMENTS, {}
    )
    if digests not in cached:
        cached.clear()
        cached[digests] = Conformance(openapi.build_document(apps))
    return cached[digests]


@blueprint.get("/apps")
def apps() -> Response:
    instance = api_instance()
    found = []
    for app_key in instance.app_keys:
        app = instance.app(app_key)
        actor = actor_for(app_key)
        forms = [
            _form_summary(app, form, actor)
            for form in app.forms.values()
            if scope_for(actor, form, Operation.READ) is not Scope.NONE
        ]
        if forms:
            found.append(
                {
                    "key": app.key,
                    "label": _label(app.label),
                    "version": app.version,
                    "forms": forms,
                }
            )
    return json_response({"data": found})


def _form_summary(app: App, form: Form, actor: Actor) -> dict[str, Any]:
    return {
        "key": form.key,
        "label": _label(form.label),
        "url": url_for("api.records", app_key=app.key, form_key=form.key),
        "can": {
            operation.value: scope_for(actor, form, operation) is not Scope.NONE
            for operation in Operation
        },
    }


# records ------------------------------------------------------------------------


@blueprint.get("/<app_key>/<form_key>/records")
def records(app_key: str, form_key: str) -> Response:
    service, form = form_service(app_key, form_key)
    return _page(app_key, service, form, _list_query(), request.args.get("filter"))


@blueprint.post("/<app_key>/<form_key>/search")
def search(app_key: str, form_key: str) -> Response:
    """The list with its query in a JSON body: a long filter does not fit in a URL."""
    service, form = form_service(app_key, form_key)
    body = _body()
    if "filter" in body and not isinstance(body["filter"], dict):
        raise QueryError(N_("filter must be an object: a condition or a group"), field="filter")
    _check_text(body.get("sort"), "sort")
    _check_text(body.get("fields"), "fields")
    if isinstance(body.get("filter"), dict) and not _clean(body["filter"]):
        raise QueryError(_UNCLEAN, field="filter", name="filter")
    name = openapi.component_name(service.app, form, "Search")
    # the filter is checked by the record service first, whose messages name the field
    problems = conformance().problems(name, {k: v for k, v in body.items() if k != "filter"})
    if problems:
        path, (problem, *_) = next(iter(problems.items()))
        path = path if len(path) <= MAX_ECHOED else path[:MAX_ECHOED] + "…"
        field = path.split(".", 1)[0] if path != "$" else None
        raise QueryError(N_("%(path)s: %(problem)s"), field=field, path=path, problem=problem)
    query = Query(
        filter=body.get("filter") or None,
        search=body.get("search") or None,
        sort=_sort(body.get("sort")),
        limit=int(body.get("limit", 50)),  # JSON Schema's integers include 5.0
        cursor=body.get("cursor") or None,
        offset=int(body.get("offset", 0)),
        with_total=body.get("total", True),
        fields=_fields(body.get("fields")),
    )
    return _page(app_key, service, form, query)


def _check_text(value: Any, name: str) -> None:
    if isinstance(value, str) and not _clean(value):
        raise QueryError(_UNCLEAN, field=name, name=name)


def _page(
    app_key: str, service: RecordService, form: Form, query: Query, text: str | None = None
) -> Response:
    """A page of the list; a filter the service takes is then held to the document too,
    which refuses what the service would only coerce (``"5"`` for a number). ``text`` is
    the filter as the URL wrote it, when it did."""
    page = service.find(actor_for(app_key), form.key, query)
    if query.filter is not None:
        _check_filter(openapi.component_name(service.app, form, "Filter"), query.filter, text)
    return json_response(
        {
            "data": serialize.records_json(form, page.rows, query.fields),
            "total": page.total,
            "total_is_capped": page.total_is_capped,
            "next_cursor": page.next_cursor,
        }
    )


MAX_CHECKED_FILTERS = 256
"""How many filters, as URLs wrote them, :func:`_check_filter` remembers as fitting."""
_CHECKED_FILTERS = "formflow.api.checked_filters"


def _check_filter(name: str, spec: Any, text: str | None) -> None:
    """Hold the filter to the document's schema ``name``, once per document and filter
    text: a list polled with the same URL is checked the first time only."""
    document = conformance()
    checked: dict[tuple[Conformance, str, str], None] = current_app.extensions.setdefault(
        _CHECKED_FILTERS, {}
    )
    key = (document, name, text or "")
    if text is not None and key in checked:
        return
    document.check_query(name, spec, "filter")
    if text is not None:
        if len(checked) >= MAX_CHECKED_FILTERS:
            checked.clear()
        checked[key] = None


@blueprint.post("/<app_key>/<form_key>/records")
def create(app_key: str, form_key: str) -> Response:
    service, form = form_service(app_key, form_key)
    body = _body()
    values, problems = _taken(service, form, body, "Input")
    actor = actor_for(app_key)
    record = service.create(
        actor,
        form.key,
        _with_files(form, values, None, actor),
        warn_duplicates=_warn_duplicates(),
        problems=problems,
    )
    response = _record_response(form, record, 201)
    response.headers["Location"] = url_for(
        "api.record", app_key=app_key, form_key=form.key, record_id=record["id"]
    )
    return response


RECORD_ID = "<int:record_id>"


@blueprint.get(f"/<app_key>/<form_key>/records/{RECORD_ID}")
def record(app_key: str, form_key: str, record_id: int) -> Response:
    service, form = form_service(app_key, form_key)
    fields = _fields(request.args.get("fields"))
    # the version is read whatever is asked: the ETag carries it
    asked = None if fields is None else (*fields, "version")
    record = service.get(actor_for(app_key), form.key, record_id, fields=asked)
    return _record_response(form, record, fields=fields)


@blueprint.patch(f"/<app_key>/<form_key>/records/{RECORD_ID}")
def update(app_key: str, form_key: str, record_id: int) -> Response:
    service, form = form_service(app_key, form_key)
    body = _body()
    present = "version" in body
    given = body.pop("version", None)
    values, problems = _taken(service, form, body, "Update", {"version": given} if present else {})
    if "version" in problems:  # no version to check the change against
        raise ValidationFailed(problems)
    version = _expected_version(given, present)
    if version is None:
        raise VersionRequired(
            N_(
                "send the version you read, as 'version' in the body or an If-Match header, so that a change made meanwhile is not overwritten"
            )
        )
    actor = actor_for(app_key)
    if _file_values(form, values):
        values = _with_files(form, values, service.get(actor, form.key, record_id), actor)
    changed = service.update(
        actor,
        form.key,
        record_id,
        values,
        expected_version=version,
        warn_duplicates=_warn_duplicates(),
        problems=problems,
    )
    return _record_response(form, changed)


def _taken(
    service: RecordService,
    form: Form,
    body: dict[str, Any],
    schema: str,
    extra: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, list[Problem]]]:
    """The values of ``body`` ready for the record service, and the problems of the rest:
    keys that are not fields, values of the wrong JSON type, and values that do not fit the
    document's ``schema`` for the form (``extra``: other members the schema checks, such
    as an update's version). The service adds its own problems to these, so one answer
    names them all; a value with a problem here is left out, so it is not reported twice."""
    values, problems = serialize.taken_values(form, body, service.timezone)
    left_out = {path.split(".", 1)[0] for path in problems}
    fitting = {key: value for key, value in body.items() if key in values}
    name = openapi.component_name(service.app, form, schema)
    for path, found in conformance().problems(name, {**fitting, **(extra or {})}).items():
        key = path.split(".", 1)[0]
        if key not in left_out:  # not "required" for a value left out for its own problem
            problems.setdefault(path, []).extend(found)
            values.pop(key, None)
    return values, problems


def _warn_duplicates() -> bool:
    """Whether a ``warn`` duplicate check stops the write: unless the client confirms."""
    return request.args.get("confirm_duplicates") != "1"


@blueprint.delete(f"/<app_key>/<form_key>/records/{RECORD_ID}")
def delete(app_key: str, form_key: str, record_id: int) -> Response:
    service, form = form_service(app_key, form_key)
    given = request.args.get("version")
    if given is not None and not (_NUMBER.fullmatch(given) and 1 <= int(given) <= MAX_ID):
        raise QueryError(N_("version must be the record's version number"), field="version")
    version = _expected_version(int(given) if given is not None else None, given is not None)
    service.delete(actor_for(app_key), form.key, record_id, expected_version=version)
    return Response(status=204)


@blueprint.post(f"/<app_key>/<form_key>/records/{RECORD_ID}/restore")
def restore(app_key: str, form_key: str, record_id: int) -> Response:
    service, form = form_service(app_key, form_key)
    actor = actor_for(app_key)
    try:
        service.restore(actor, form.key, record_id)
    except RecordNotFound:
        service.get(actor, form.key, record_id)  # not found at all: that answer stands
        raise NotDeleted(N_("record %(id)s is not in the recycle bin"), id=record_id) from None
    return _record_response(form, service.get(actor, form.key, record_id))


@blueprint.get(f"/<app_key>/<form_key>/records/{RECORD_ID}/history")
def history(app_key: str, form_key: str, record_id: int) -> Response:
    service, form = form_service(app_key, form_key)
    entries = service.history(actor_for(app_key), form.key, record_id)
    return json_response({"data": serialize.history_json(entries)})


# attachments --------------------------------------------------------------------


def _with_files(
    form: Form, values: dict[str, Any], record: dict[str, Any] | None, actor: Actor
) -> dict[str, Any]:
    """``values`` with each attachment descriptor replaced by the one the platform keeps.

    As on the pages, a record may hold the files it already holds and files its user
    uploaded; a descriptor is never taken from the client, whose name, size or type could
    be anything, and a file id alone does not let one user attach another's file.
    """
    sent = _file_values(form, values)
    if not sent:
        return values
    held = attaching.held_files(form, record or {})
    ceiling_mb = api_instance().settings.max_upload_mb
    with read_transaction(api_instance().engine) as connection:
        uploaded = attachments.get_files(connection, (item["id"] for _, _, item in sent))
    problems: dict[str, list[Problem]] = {}
    for path, field, item in sent:
        within = attaching.limits(field, ceiling_mb)
        try:
            item.update(
                attaching.attach(
                    item["id"], within, held=held, uploaded=uploaded, user_id=actor.user_id
                )
            )
        except attachments.AttachmentRefused as refused:
            problems.setdefault(path, []).append(refused.problem())
    if problems:
        raise ValidationFailed(problems)
    return values


def _file_values(form: Form, values: dict[str, Any]) -> list[tuple[str, Field, dict[str, Any]]]:
    """Every attachment descriptor in ``values``, with its field path and field."""
    found: list[tuple[str, Field, dict[str, Any]]] = []
    for field in form.fields:
        value = values.get(field.key)
        if field.kind is ValueKind.FILES and value:
            found += [(field.key, field, item) for item in value]
        elif field.kind is ValueKind.ROWS and value:
            for index, row in enumerate(value):
                for sub in field.fields:
                    if sub.kind is ValueKind.FILES and row.get(sub.key):
                        path = f"{field.key}.{index}.{sub.key}"
                        found += [(path, sub, item) for item in row[sub.key]]
    return found


# helpers ------------------------------------------------------------------------


def api_instance() -> Instance:
    return cast(Instance, current_app.extensions["formflow"])


def form_service(app_key: str, form_key: str) -> tuple[RecordService, Form]:
    """The record service and form a path names; not_found for either unknown, and for a
    record id no record can have."""
    if (request.view_args or {}).get("record_id", 1) > MAX_ID:
        raise RecordNotFound(N_("no record has that id"))
    instance = api_instance()
    if app_key not in instance.app_keys:
        raise RecordNotFound(N_("no app '%(app)s'"), app=app_key)
    service = instance.records(app_key)
    if form_key not in service.app.forms:
        raise RecordNotFound(N_("no form '%(form)s' in app '%(app)s'"), form=form_key, app=app_key)
    return service, service.app.form(form_key)


def actor_for(app_key: str) -> Actor:
    """The token's user as an actor in ``app_key`` (their access came with the token),
    limited to the forms the token's scope names: a filter or a link leading out of them
    reaches nothing, as a request to another form is refused."""
    identity: accounts.Identity = g.api_identity
    scope: tokens.TokenScope = g.api_token_scope
    return replace(identity.actor(app_key), forms=scope.forms_of(app_key))


@overload
def whole_argument(name: str, default: int, highest: int) -> int: ...


@overload
def whole_argument(name: str, default: None, highest: int) -> int | None: ...


def whole_argument(name: str, default: int | None, highest: int) -> int | None:
    """The query argument ``name`` as a whole number from 1 to ``highest``, ``default``
    when absent; anything else is a ``bad_query`` naming the argument, so a page size or
    a cursor never reaches the database out of range."""
    given = request.args.get(name)
    if given is None:
        return default
    if not given.isascii() or not given.isdigit() or not 1 <= int(given) <= highest:
        raise QueryError(
            N_("%(name)s must be a whole number from 1 to %(highest)s"),
            field=name,
            name=name,
            highest=highest,
        )
    return int(given)


def _body() -> dict[str, Any]:
    return serialize.parse_object(request.get_data(cache=False))


def _list_query() -> Query:
    args = request.args
    return Query(
        filter=_filter(args.get("filter")),
        search=args.get("search") or None,
        sort=_sort(args.get("sort")),
        limit=_whole(args.get("limit"), "limit", 50),
        cursor=args.get("cursor") or None,
        offset=_offset(args.get("offset")),
        with_total=_flag(args.get("total"), "total", default=True),
        fields=_fields(args.get("fields")),
    )


def _filter(text: str | None) -> dict[str, Any] | None:
    if text is None or not text.strip():
        return None
    try:
        spec = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise QueryError(
            N_('filter must be JSON, such as {"field": "name", "op": "eq", "value": "x"}'),
            field="filter",
        ) from None
    if not isinstance(spec, dict):
        raise QueryError(N_("filter must be a JSON object"), field="filter")
    if not _clean(spec):
        raise QueryError(_UNCLEAN, field="filter", name="filter")
    return spec


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _clean(value: Any) -> bool:
    """Whether every string in a parsed JSON value can be stored and compared as text
    (walked without recursion: JSON can nest deeper than Python's stack)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and ("\x00" in item or not _encodes(item)):
            return False
        if isinstance(item, list):
            pending += item
        elif isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
    return True


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _sort(text: str | None) -> tuple[SortKey, ...] | None:
    if text is None:
        return None
    keys = tuple(
        SortKey(part[1:], descending=True) if part.startswith("-") else SortKey(part)
        for part in (piece.strip() for piece in text.split(","))
        if part
    )
    return keys or None


def _fields(text: str | None) -> tuple[str, ...] | None:
    """``fields=name,stage``: the fields an answer holds besides ``id``, or all of them."""
    if text is None:
        return None
    keys = tuple(dict.fromkeys(part for part in (p.strip() for p in text.split(",")) if part))
    return keys or None


def _whole(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    if not _NUMBER.fullmatch(text):
        raise QueryError(
            N_("%(name)s must be a whole number, got %(given)s"),
            field=name,
            name=name,
            given=f"{text!r:.40}",
        )
    return int(text)


def _offset(text: str | None) -> int:
    offset = _whole(text, "offset", 0)
    if offset > openapi.MAX_OFFSET:
        raise QueryError(
            N_("offset can be at most %(limit)s; walk further with cursors"),
            field="offset",
            limit=openapi.MAX_OFFSET,
        )
    return offset


def _flag(text: str | None, name: str, *, default: bool) -> bool:
    if text is None or text == "":
        return default
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise QueryError(
        N_("%(name)s must be true or false, got %(given)s"),
        field=name,
        name=name,
        given=f"{text!r:.40}",
    )


def _expected_version(given: Any, present: bool) -> int | None:
    """The version a write expects, from the body (or query) and/or ``If-Match``."""
    version: int | None = None
    if present:
        if not is_whole(given) or not 1 <= given <= MAX_ID:
            raise ValidationFailed(
                {"version": [Problem("type", N_("must be the record's version, a whole number"))]}
            )
        version = int(given)
    header = request.headers.get("If-Match")
    if header is None:
        return version
    match = _ETAG.fullmatch(header.strip())
    if match is None:
        raise InvalidIfMatch(
            N_('If-Match must be the ETag of the record as read, such as "3" (with the quotes)')
        )
    etag = int(match[1])
    if version is not None and version != etag:
        raise InvalidIfMatch(
            N_("the body's version says %(version)s but If-Match says %(etag)s"),
            version=version,
            etag=etag,
        )
    return etag


def _record_response(
    form: Form,
    record: dict[str, Any],
    status: int = 200,
    *,
    fields: Sequence[str] | None = None,
) -> Response:
    response = json_response(serialize.record_json(form, record, fields), status)
    response.headers["ETag"] = f'"{record["version"]}"'
    return response


def json_response(data: Any, status: int = 200) -> Response:
    text = serialize.json_text(data)
    return Response(text, status=status, mimetype="application/json")


def _label(label: Label) -> dict[str, str | None]:
    return {"zh": label.zh, "en": label.en}


@blueprint.errorhandler(VersionRequired)
@blueprint.errorhandler(InvalidIfMatch)
@blueprint.errorhandler(NotDeleted)
def _precondition(error: RecordError) -> Response:
    status = 428 if isinstance(error, VersionRequired) else 409
    return json_response(error_body(error.code, error_message(error)), status)


def init_app(app: Flask) -> None:
    from formflow.web import (  # noqa: F401  (their routes join the blueprint)
        api_agenda,
        api_dashboards,
        api_delegations,
        api_notifications,
        api_transfer,
        api_workflows,
    )

    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)
