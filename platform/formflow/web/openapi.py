"""The OpenAPI 3.1 document of the REST API, generated from the definitions in force.

Every installed form gets its paths (list, create, read, update, delete, restore,
history, search), a tag, and its schemas: ``<App>_<Form>_Record`` (what the API
returns), ``_Input`` (what a create accepts), ``_Update`` (what a PATCH accepts), ``_Page``
(a list page), ``_Search`` (a list query as a body) and ``_Filter`` with ``_Condition``,
``_And``, ``_Or`` and ``_Not`` (the filter language with the form's own fields, the
fields of the forms its links lead to, and their operators).
Values take the shapes :mod:`formflow.web.serialize` writes: decimals as strings, dates
and date-times as ISO 8601, multiselects as arrays, references as ids.

Only unconditionally required fields are ``required`` in ``_Input``: ``required_if`` and
``visible_if`` make a field's need depend on other values, which the description says
instead, and a field with a default may be left out.

The document is built from the compiled model only, so it can never drift from what the
API does, and it is built once per set of definition digests: a migration changes a
digest, and the next request gets a new document.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from formflow.definitions.model import SYSTEM_FIELDS, App, Field, FieldRule, Form, Label
from formflow.fields import Reference, ValueKind
from formflow.fields.json_values import DATE_SCHEMA, DATETIME_SCHEMA
from formflow.fields.values import MAX_INTEGER
from formflow.records import (
    CHOICE_OPS,
    COMMON_OPS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_LIMIT,
    MAX_SEARCH_LENGTH,
    MAX_TEXT,
    MAX_VALUES,
    ORDERED_OPS,
    TEXT_OPS,
)
from formflow.storage.stays import tracked_fields
from formflow.web.openapi_agenda import TAG as AGENDA_TAG
from formflow.web.openapi_agenda import agenda_paths, agenda_schemas
from formflow.web.openapi_dashboards import TAG as DASHBOARDS_TAG
from formflow.web.openapi_dashboards import dashboard_paths, dashboard_schemas
from formflow.web.openapi_notifications import (
    FOLLOWING,
    follow_paths,
    notification_paths,
    notification_schemas,
)
from formflow.web.openapi_notifications import TAG as NOTIFICATIONS_TAG
from formflow.web.openapi_parts import Schema, data_list, json_response, ref, request_body
from formflow.web.openapi_transfer import transfer_paths, transfer_schemas
from formflow.web.openapi_workflows import TAG, workflow_paths, workflow_schemas

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
PREFIX = "/api/v1"
MAX_OFFSET = 1_000_000

_FILLED = "[^\\s\\x1c-\\x1f\\x85]"
"""A character that is not space: a required text must hold one (values are stripped)."""
_SCALAR_OPS = frozenset(
    {"eq", "ne", "lt", "lte", "gt", "gte", "contains", "starts_with", "ends_with"}
)
_LIST_OPS = ("in", "not_in", "has_any", "has_all")
_EMPTY_OPS = ("is_empty", "is_not_empty")

_ERROR_RESPONSES = {
    "400": ("BadRequest", "The request is malformed: invalid JSON, body, query or header."),
    "401": ("Unauthorized", "No valid bearer token was given."),
    "403": ("Forbidden", "The token's user may not do this on this form."),
    "404": ("NotFound", "No such app, form or record, or one out of the user's reach."),
    "409": (
        "Conflict",
        "The record changed meanwhile (`stale_record`), `If-Match` names no version it is at "
        "(`invalid_if_match`), it is in use (`in_use`), or a restored record is not deleted "
        "(`not_deleted`), or an approval step lost a race (`task_decided`, `instance_moved`, "
        "`already_submitted`, `not_running`), or values may duplicate another record's "
        "(`duplicate_suspected`: send again with `?confirm_duplicates=1` to save anyway).",
    ),
    "413": ("PayloadTooLarge", "The body is larger than the instance accepts."),
    "415": ("UnsupportedMediaType", "A body sent with a `Content-Type` other than JSON."),
    "422": (
        "UnprocessableContent",
        "Values that do not fit the form, a plugin's veto, or an approval step that cannot be "
        "taken (`not_submittable`, `cannot_withdraw`, `no_approver`, ...).",
    ),
    "428": ("PreconditionRequired", "An update needs the version it was edited at."),
    "500": ("InternalError", "Something failed on the server; nothing was saved."),
}
_READ_ERRORS = ("400", "401", "403", "404", "500")
_WRITE_ERRORS = (*_READ_ERRORS, "413", "415", "422")

FILTER_HELP = """\
A filter as JSON: a condition `{"field": KEY, "op": OP, "value": V}` or a group
`{"and": [...]}`, `{"or": [...]}`, `{"not": FILTER}`. Operators: eq, ne, lt, lte, gt, gte,
between ([low, high]), in and not_in (lists), contains, starts_with, ends_with (text),
has_any and has_all (multiselects), is_empty and is_not_empty (no value), ever (a list: the
values a stage field whose history is kept once held). A key may follow one link, as in
`account.level`."""


def build_document(apps: Sequence[App]) -> dict[str, Any]:
    """The whole OpenAPI document for ``apps``."""
    paths: dict[str, Any] = _meta_paths()
    schemas: dict[str, Schema] = dict(_shared_schemas())
    schemas.update(dashboard_schemas())
    tags: list[dict[str, Any]] = [{"name": "meta", "description": "The API itself."}]
    tags.append({"name": TAG, "description": "Approval tasks, decisions and record actions."})
    tags.append({"name": DASHBOARDS_TAG, "description": "Dashboards' figures for the caller."})
    paths.update(workflow_paths(apps, _errors))
    schemas.update(workflow_schemas())
    tags.append({"name": NOTIFICATIONS_TAG, "description": "The caller's notifications."})
    paths.update(notification_paths(_errors))
    schemas.update(notification_schemas())
    schemas["Following"] = FOLLOWING
    tags.append({"name": AGENDA_TAG, "description": "What is due for the caller today."})
    paths.update(agenda_paths([app.key for app in apps], _errors))
    schemas.update(agenda_schemas())
    schemas.update(transfer_schemas())
    for app in apps:
        paths.update(dashboard_paths(app, _errors))
        for form in app.forms.values():
            paths.update(follow_paths(app.key, form.key, _errors))
            tag = f"{app.key}.{form.key}"
            tags.append({"name": tag, "description": _describe(form.label, form.description)})
            paths.update(_form_paths(app, form, tag))
            listed = _list_parameters(
                component_name(app, form, "Filter"), _sortable(form), _listed(form)
            )
            paths.update(transfer_paths(app, form, tag, listed, _errors))
            schemas.update(_form_schemas(app, form))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Formflow API",
            "version": API_VERSION,
            "description": (
                "Records of the installed apps, with the same validation and permissions as "
                "the pages. Authenticate with `Authorization: Bearer <token>`; create tokens "
                "on the API tokens page. Errors always have the `Error` shape with a stable "
                "`code`. Decimals are strings, dates and date-times ISO 8601 (date-times in "
                "UTC), references record ids."
            ),
            "x-formflow-apps": {
                app.key: {"version": app.version, "digest": app.digest} for app in apps
            },
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearerAuth": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token, sent as `Authorization: Bearer ff_...`.",
                }
            },
            "schemas": schemas,
            "responses": _error_responses(),
            "parameters": _shared_parameters(),
        },
    }


def component_name(app: App, form: Form, suffix: str) -> str:
    """``my_shop`` + ``account`` + ``Record`` → ``MyShop_Account_Record``."""
    return f"{_pascal(app.key)}_{_pascal(form.key)}_{suffix}"


def _pascal(key: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def _describe(label: Label, more: Label | None = None) -> str:
    text = label.en or label.zh or ""
    if label.zh and label.en:
        text = f"{label.en} ({label.zh})"
    if more is not None and (more.en or more.zh):
        text += f". {more.en or more.zh}"
    return text


# paths --------------------------------------------------------------------------


def _meta_paths() -> dict[str, Any]:
    """The paths about the API itself: this document, which anyone may read, and the apps."""
    return {
        "/openapi.json": _meta_get(
            "openapi_document",
            "This document",
            json_response("The OpenAPI document.", {"type": "object"}),
            ("500",),
            public=True,
        ),
        "/apps": _meta_get(
            "list_apps",
            "The installed apps and the forms the user may read",
            json_response("The apps.", ref("AppList")),
            ("401", "500"),
        ),
    }


def _meta_get(
    operation_id: str,
    summary: str,
    answer: dict[str, Any],
    statuses: tuple[str, ...],
    *,
    public: bool = False,
) -> dict[str, Any]:
    """A GET in the ``meta`` tag answering ``answer``; a ``public`` one needs no token."""
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": ["meta"]}
    if public:
        operation["security"] = []
    operation["responses"] = {"200": answer, **_errors(statuses)}
    return {"get": operation}


def _form_paths(app: App, form: Form, tag: str) -> dict[str, Any]:
    base = f"/{app.key}/{form.key}/records"
    record = ref(component_name(app, form, "Record"))
    sparse = _sparse(app, form)
    name = form.label.en or form.key
    op = f"{app.key}_{form.key}"
    one = {"200": json_response(f"The {name} record.", record, etag=True)}
    one["200"]["links"] = _links(op, "read", "update", "delete", "history")
    read_one = {"200": json_response(f"The {name} record.", sparse, etag=True)}
    read_one["200"]["links"] = one["200"]["links"]
    id_param = [{"$ref": "#/components/parameters/RecordId"}]
    created = _created(json_response(f"The new {name} record.", record, etag=True))
    confirm = _confirm_duplicates(app, form)
    # a new record is not in the recycle bin: restore is linked from a delete only
    created["links"] = _links(op, "read", "update", "delete", "history")
    deleted: dict[str, Any] = {"description": "Deleted (it can be restored)."}
    deleted["links"] = _links(op, "restore", source="$request.path.record_id")
    # no links on from a restore: Schemathesis would take a read after the delete before
    # it for a use after free, not knowing that a restore brings the record back
    restored = json_response("The restored record.", record, etag=True)
    return {
        f"/{app.key}/{form.key}/search": {
            "post": {
                "operationId": f"{op}_search",
                "summary": f"List {name} records, the query in the body",
                "description": (
                    "The same as listing with query parameters, for a filter too long for "
                    "a URL (servers refuse request lines past about 4 KB)."
                ),
                "tags": [tag],
                "requestBody": request_body(component_name(app, form, "Search")),
                "responses": {
                    "200": json_response(
                        "A page of records.", ref(component_name(app, form, "Page"))
                    ),
                    **_errors((*_READ_ERRORS, "413", "415")),
                },
            },
        },
        base: {
            "get": {
                "operationId": f"{op}_list",
                "summary": f"List {name} records",
                "tags": [tag],
                "parameters": _list_parameters(
                    component_name(app, form, "Filter"), _sortable(form), _listed(form)
                ),
                "responses": {
                    "200": json_response(
                        "A page of records.", ref(component_name(app, form, "Page"))
                    ),
                    **_errors(_READ_ERRORS),
                    "414": {
                        "description": (
                            "The URL is longer than the HTTP server takes, an answer of the "
                            "server in front of the API and not JSON. Send the query in the "
                            f"body of `POST /{app.key}/{form.key}/search` instead."
                        )
                    },
                },
            },
            "post": {
                "operationId": f"{op}_create",
                "summary": f"Create a {name} record",
                "tags": [tag],
                **confirm,
                "requestBody": request_body(component_name(app, form, "Input")),
                "responses": {
                    "201": created,
                    **_errors((*_WRITE_ERRORS, *(("409",) if confirm else ()))),
                },
            },
        },
        f"{base}/{{record_id}}": {
            "parameters": id_param,
            "get": {
                "operationId": f"{op}_get",
                "summary": f"Read a {name} record with its subtable rows",
                "tags": [tag],
                "parameters": [_fields_parameter([f.key for f in form.fields])],
                "responses": {**read_one, **_errors(_READ_ERRORS)},
            },
            "patch": {
                "operationId": f"{op}_update",
                "summary": f"Change a {name} record",
                "description": (
                    "Send only the fields to change, and the `version` you read (or an "
                    "`If-Match` header with the record's ETag). A record changed meanwhile "
                    "is refused with 409 `stale_record`."
                ),
                "tags": [tag],
                "parameters": [
                    {"$ref": "#/components/parameters/IfMatch"},
                    *confirm.get("parameters", []),
                ],
                "requestBody": request_body(component_name(app, form, "Update")),
                "responses": {**one, **_errors((*_WRITE_ERRORS, "409", "428"))},
            },
            "delete": {
                "operationId": f"{op}_delete",
                "summary": f"Move a {name} record to the recycle bin",
                "tags": [tag],
                "parameters": [
                    {
                        "name": "version",
                        "in": "query",
                        "description": "Delete only if the record is still at this version.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
                    },
                    {"$ref": "#/components/parameters/IfMatch"},
                ],
                "responses": {
                    "204": deleted,
                    **_errors((*_READ_ERRORS, "409", "422")),
                },
            },
        },
        f"{base}/{{record_id}}/restore": {
            "parameters": id_param,
            "post": {
                "operationId": f"{op}_restore",
                "summary": f"Bring a deleted {name} record back",
                "tags": [tag],
                "responses": {
                    "200": restored,
                    **_errors((*_READ_ERRORS, "409", "422")),
                },
            },
        },
        f"{base}/{{record_id}}/history": {
            "parameters": id_param,
            "get": {
                "operationId": f"{op}_history",
                "summary": f"A {name} record's audit trail, newest first",
                "tags": [tag],
                "responses": {
                    "200": json_response("The changes.", ref("History")),
                    **_errors(_READ_ERRORS),
                },
            },
        },
    }


_LINKS = {
    "read": ("get", "Read the record."),
    "update": ("update", "Change the record, at the version just read."),
    "delete": ("delete", "Delete the record, at the version just read."),
    "restore": ("restore", "Bring the record back from the recycle bin."),
    "history": ("history", "The record's audit trail."),
}


def _links(op: str, *names: str, source: str = "$response.body#/id") -> dict[str, Any]:
    """OpenAPI links from a response naming a record to the operations on that record."""
    links: dict[str, Any] = {}
    for name in names:
        suffix, description = _LINKS[name]
        parameters = {"record_id": source}
        if name in ("update", "delete") and source.startswith("$response"):
            parameters["header.If-Match"] = "$response.header.ETag"
        links[name] = {
            "operationId": f"{op}_{suffix}",
            "parameters": parameters,
            "description": description,
        }
    return links


def _list_options(
    filter_schema: str, sortable: Sequence[str], listed: Sequence[str]
) -> dict[str, Schema]:
    """What a list takes, by name: as query parameters of a GET, or a search body."""
    return {
        "filter": {**ref(filter_schema), "description": FILTER_HELP},
        "search": {
            "type": "string",
            "maxLength": MAX_SEARCH_LENGTH,
            "description": "Words every matching record holds in its search fields.",
        },
        "sort": {
            "type": "string",
            "pattern": _sort_pattern(sortable),
            "description": "Field keys, comma-separated; `-` before a key sorts descending.",
            "examples": ["-updated_at,id"],
        },
        "limit": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": 50,
            "description": "Records per page.",
        },
        "cursor": {
            "type": "string",
            "description": "The `next_cursor` of the previous page (not with `offset`).",
        },
        "offset": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_OFFSET,
            "default": 0,
            "description": "Records to skip, to jump to a page (not with `cursor`).",
        },
        "total": {
            "type": "boolean",
            "default": True,
            "description": "Whether to count the matching records (counting stops at 1,000).",
        },
        "fields": _fields_option(listed),
    }


def _fields_option(keys: Sequence[str]) -> Schema:
    return {
        "type": "string",
        "pattern": _keys_pattern(keys),
        "description": (
            "Field keys, comma-separated: each record holds `id` and only these, so an "
            "answer costs what the client shows. A field hidden from you is refused."
        ),
        "examples": ["name,stage,updated_at"],
    }


def _listed(form: Form) -> list[str]:
    """What a list's ``fields`` may name: every field but subtables, and the system fields."""
    return [f.key for f in form.fields if f.kind is not ValueKind.ROWS] + list(SYSTEM_FIELDS)


def _fields_parameter(keys: Sequence[str]) -> dict[str, Any]:
    """``fields`` of a single record's read: subtables may be asked for too."""
    schema = _fields_option([*keys, *SYSTEM_FIELDS])
    return {
        "name": "fields",
        "in": "query",
        "description": schema.pop("description") + " A subtable's rows are read only if asked.",
        "example": schema.pop("examples")[0],
        "schema": schema,
    }


def _sparse(app: App, form: Form) -> Schema:
    """A record as read: whole, or with only the fields a ``fields`` parameter asked for."""
    return {
        "anyOf": [
            ref(component_name(app, form, "Record")),
            ref(component_name(app, form, "Fields")),
        ]
    }


def _keys_pattern(keys: Sequence[str], prefix: str = "") -> str:
    """Keys, comma-separated, each maybe after ``prefix`` (``-?`` for a descending sort)."""
    key = prefix + "(?:" + "|".join(sorted(keys, key=len, reverse=True)) + ")"
    return f"^(?:{key}(?:,{key})*)?$"


def _list_parameters(
    filter_schema: str, sortable: Sequence[str], listed: Sequence[str]
) -> list[dict[str, Any]]:
    parameters = []
    for name, schema in _list_options(filter_schema, sortable, listed).items():
        found = dict(schema)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "description": found.pop("description"),
        }
        if name == "filter":
            parameter["content"] = {"application/json": {"schema": found}}
        else:
            if "examples" in found:
                parameter["example"] = found.pop("examples")[0]
            parameter["schema"] = found
        parameters.append(parameter)
    return parameters


def _search_schema(app: App, form: Form) -> Schema:
    options = _list_options(component_name(app, form, "Filter"), _sortable(form), _listed(form))
    return _object(
        options,
        [],
        description=(
            "The list query of `GET .../records` as a JSON body, for filters too long for a URL."
        ),
    )


def _sortable(form: Form) -> list[str]:
    keys = list(SYSTEM_FIELDS)
    for field in form.fields:
        if field.field_type.sortable:
            keys.append(field.key)
    return keys


def _sort_pattern(keys: Sequence[str]) -> str:
    return _keys_pattern(keys, "-?")


def _shared_parameters() -> dict[str, Any]:
    return {
        "RecordId": {
            "name": "record_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
        },
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            "description": 'The record\'s ETag, `"<version>"`: act only if it is still current.',
            "schema": {"type": "string", "pattern": '^"[1-9][0-9]{0,17}"$'},
        },
    }


def _confirm_duplicates(app: App, form: Form) -> dict[str, Any]:
    """The ``confirm_duplicates`` parameter of a form a ``warn`` duplicate check watches."""
    if not any(check.fields_of(form.key) for check in app.duplicate_checks):
        return {}
    return {
        "parameters": [
            {
                "name": "confirm_duplicates",
                "in": "query",
                "description": (
                    "1 to save although a duplicate check warns that the values match "
                    "another record's (otherwise 409 `duplicate_suspected`, with each match "
                    "under `fields`). Checks that block refuse a match whatever is sent "
                    "(422 with the field's code `duplicate`)."
                ),
                "schema": {"type": "string", "enum": ["0", "1"]},
            }
        ]
    }


def _created(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"]["Location"] = {
        "description": "Where the new record can be read.",
        "schema": {"type": "string"},
    }
    return response


def _errors(statuses: Iterable[str]) -> dict[str, Any]:
    return {
        status: {"$ref": f"#/components/responses/{_ERROR_RESPONSES[status][0]}"}
        for status in sorted(set(statuses))
    }


def _error_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (name, description) in _ERROR_RESPONSES.items():
        response = json_response(description, ref("Error"))
        if status == "401":
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "The scheme to authenticate with: `Bearer`.",
                    "schema": {"type": "string"},
                }
            }
        responses[name] = response
    return responses


# schemas ------------------------------------------------------------------------


def _shared_schemas() -> dict[str, Schema]:
    problem = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    }
    return {
        "Error": {
            "type": "object",
            "description": "Every error response: a stable `code` and a message for people.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": (
                                "validation_failed, not_found, forbidden, stale_record, in_use, "
                                "invalid_query, invalid_json, invalid_body, unauthorized, "
                                "vetoed, version_required, invalid_if_match, csrf_failed, "
                                "internal_error, ..."
                            ),
                        },
                        "message": {"type": "string"},
                        "fields": {
                            "type": "object",
                            "description": "Problems by field path (`items.0.qty` for a row).",
                            "additionalProperties": {"type": "array", "items": problem},
                        },
                        "field": {"type": "string", "description": "The field a query names."},
                        "version": {
                            "type": "integer",
                            "description": "With `stale_record`: the version the record is at "
                            "now, to read it again at (or to send, knowing what changed).",
                        },
                    },
                }
            },
        },
        "Attachment": {
            "type": "object",
            "required": ["id", "name", "size", "content_type"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": ["string", "null"]},
                "size": {"type": ["integer", "null"]},
                "content_type": {"type": ["string", "null"]},
            },
        },
        "AttachmentInput": {
            "type": "object",
            "description": "An uploaded file, by the id its upload returned.",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "name": {"type": ["string", "null"]},
                "size": {"type": ["integer", "null"], "minimum": 0},
                "content_type": {"type": ["string", "null"]},
            },
        },
        "History": data_list(
            {
                "type": "object",
                "required": ["action", "user_id", "at", "changes"],
                "properties": {
                    "action": {"type": "string"},
                    "user_id": {"type": ["integer", "null"]},
                    "at": {"type": "string", "format": "date-time"},
                    "changes": {
                        "type": "object",
                        "description": "`[old, new]` by field key.",
                        "additionalProperties": {
                            "type": "array",
                            "items": {},
                            "minItems": 2,
                            "maxItems": 2,
                        },
                    },
                },
            }
        ),
        "AppList": data_list(
            _keyed(
                {
                    "version": {"type": "string"},
                    "forms": {
                        "type": "array",
                        "items": _keyed(
                            {
                                "url": {"type": "string"},
                                "can": {
                                    "type": "object",
                                    "description": "What the user may do, by action.",
                                    "additionalProperties": {"type": "boolean"},
                                },
                            }
                        ),
                    },
                }
            )
        ),
    }


def _keyed(more: dict[str, Schema]) -> Schema:
    """An app or a form as listed: its key and label, then ``more``, all required."""
    return {
        "type": "object",
        "required": ["key", "label", *more],
        "properties": {"key": {"type": "string"}, "label": _LABEL, **more},
    }


_LABEL: Schema = {
    "type": "object",
    "properties": {"zh": {"type": ["string", "null"]}, "en": {"type": ["string", "null"]}},
}

_SYSTEM: dict[str, Schema] = {
    "id": {"type": "integer", "minimum": 1},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "created_by": {"type": ["integer", "null"], "description": "A user id."},
    "updated_by": {"type": ["integer", "null"], "description": "A user id."},
    "version": {"type": "integer", "minimum": 1, "description": "Goes up by one per change."},
}


def _form_schemas(app: App, form: Form) -> dict[str, Schema]:
    record = _record_schema(form)
    writable = {f.key: _input_schema(f) for f in form.fields if not f.readonly}
    update = {
        "version": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_INTEGER,
            "description": "The version you read; required unless `If-Match` is sent.",
        },
        **writable,
    }
    return {
        component_name(app, form, "Record"): record,
        component_name(app, form, "Fields"): {
            **record,
            "required": ["id"],
            "description": "A record with `id` and the fields a `fields` parameter asked for.",
        },
        component_name(app, form, "Input"): _object(
            writable,
            [
                f.key
                for f in form.fields
                if not f.readonly and _always_required(f) and f.key not in _narrowing(form)
            ],
            description=f"A new {form.label.en or form.key} record: fields to set.",
        ),
        component_name(app, form, "Update"): _object(
            update, [], description="The fields to change, and the version you read."
        ),
        component_name(app, form, "Filter"): _filter_schema(app, form),
        component_name(app, form, "Condition"): _condition_schema(app, form),
        **_group_schemas(app, form),
        component_name(app, form, "Search"): _search_schema(app, form),
        component_name(app, form, "Page"): {
            "type": "object",
            "required": ["data", "total", "total_is_capped", "next_cursor"],
            "properties": {
                "data": {"type": "array", "items": _sparse(app, form)},
                "total": {
                    "type": ["integer", "null"],
                    "description": "Matching records (null when `total=false`).",
                },
                "total_is_capped": {
                    "type": "boolean",
                    "description": "Whether counting stopped at its cap.",
                },
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last.",
                },
            },
            "additionalProperties": False,
        },
    }


def _filter_schema(app: App, form: Form) -> Schema:
    """The filter language for one form: a condition per filterable field, or a group.

    Each field's conditions name the operators that field takes, each with the value it
    compares with: none, one, a list, or ``[low, high]``, and a key that follows a link
    (``account.level``) takes the linked field's. ``{}`` (no filter) is only a whole
    filter, never a part of a group.
    """
    condition = ref(component_name(app, form, "Condition"))
    return {
        "description": FILTER_HELP,
        "anyOf": [
            condition,
            {"type": "object", "maxProperties": 0, "description": "No filter."},
        ],
    }


def _condition_schema(app: App, form: Form) -> Schema:
    """One condition or group of the filter language (a group holds conditions).

    The groups are components of their own (``_And``, ``_Or``, ``_Not``), so that a
    client generator meets the recursion through named models.
    """
    conditions = [
        schema
        for key, kind, field in _filterable(app, form)
        for schema in _field_conditions(_condition_title(app, form, key), key, kind, field)
    ]
    conditions += [
        _ever_condition(_condition_title(app, form, key), form.field(key))
        for key in tracked_fields(app).get(form.key, ())
    ]
    groups = [ref(component_name(app, form, name)) for name in _GROUPS]
    return {
        "description": f"A condition, or a group of them (nested at most {MAX_DEPTH} deep).",
        "anyOf": [*conditions, *groups],
    }


_GROUPS = {"And": "and", "Or": "or", "Not": "not"}


def _group_schemas(app: App, form: Form) -> dict[str, Schema]:
    itself = ref(component_name(app, form, "Condition"))
    return {
        component_name(app, form, name): _object(
            {key: itself}
            if key == "not"
            else {key: {"type": "array", "items": itself, "maxItems": MAX_CONDITIONS}},
            [key],
            description=f"Records that match {_GROUP_WORDS[key]}.",
        )
        for name, key in _GROUPS.items()
    }


_GROUP_WORDS = {
    "and": "every condition listed (none listed: every record)",
    "or": "any condition listed (none listed: no record)",
    "not": "not the condition",
}


def _filterable(app: App, form: Form) -> list[tuple[str, ValueKind, Field | None]]:
    """The keys a filter may name: the form's own filterable fields, and through each of
    its link fields (``account.level``) the linked form's."""
    found = _own_filterable(form)
    for field in form.fields:
        if (
            field.field_type.reference is Reference.RECORD
            and field.target_form
            and any(key == field.key for key, *_ in found)
        ):
            target = app.form(field.target_form)
            found.extend(
                (f"{field.key}.{key}", kind, target_field)
                for key, kind, target_field in _own_filterable(target)
            )
    return found


def _own_filterable(form: Form) -> list[tuple[str, ValueKind, Field | None]]:
    found: list[tuple[str, ValueKind, Field | None]] = [
        (key, kind, None) for key, kind in SYSTEM_FIELDS.items()
    ]
    for field in form.fields:
        if field.field_type.filterable:
            found.append((field.key, field.kind, field))
    return found


def _condition_title(app: App, form: Form, key: str) -> str:
    link, _, target = key.rpartition(".")
    if link:
        return component_name(app, form, f"Through_{_pascal(link)}_{_pascal(target)}")
    return component_name(app, form, f"Where_{_pascal(key)}")


def _field_conditions(title: str, key: str, kind: ValueKind, field: Field | None) -> list[Schema]:
    """``{"field": key, "op": ..., "value": ...}`` for one field, one schema per shape of
    value the operators take, as filters.py checks them. Each has a title that client
    generators name their classes after: ``..._Where_Level_Values`` for a key of the form,
    ``..._Through_Account_Level_Values`` for one that follows a link."""
    if kind is ValueKind.CHOICES:
        ops: tuple[str, ...] = CHOICE_OPS
        scalar: Schema = {"enum": list(field.option_values) if field else []}
    else:
        options = field.option_values if field else ()
        if kind is ValueKind.TEXT and not options:
            ops = TEXT_OPS
        elif kind in (ValueKind.INTEGER, ValueKind.DECIMAL, ValueKind.DATE, ValueKind.DATETIME):
            ops = ORDERED_OPS
        else:
            ops = COMMON_OPS
        scalar = _filter_value(kind, field)
    shapes: list[tuple[str, list[str], Schema | None]] = [
        ("Empty", [op for op in ops if op in _EMPTY_OPS], None),
        ("Value", [op for op in ops if op in _SCALAR_OPS], scalar),
        (
            "Values",
            [op for op in ops if op in _LIST_OPS],
            {"type": "array", "items": scalar, "minItems": 1, "maxItems": MAX_VALUES},
        ),
        (
            "Range",
            [op for op in ops if op == "between"],
            {"type": "array", "items": scalar, "minItems": 2, "maxItems": 2},
        ),
    ]
    return [
        {
            "title": f"{title}_{shape}",
            "type": "object",
            "required": ["field", "op"] if value is None else ["field", "op", "value"],
            "properties": {
                "field": {"const": key},
                "op": {"enum": names},
                "value": {"type": "null"} if value is None else value,
            },
            "additionalProperties": False,
        }
        for shape, names, value in shapes
        if names
    ]


def _ever_condition(title: str, field: Field) -> Schema:
    """``{"field": key, "op": "ever", "value": [...]}`` for a stage field whose stays are
    kept (a ``stage_history`` widget reads them): the records once in one of the values."""
    return {
        "title": f"{title}_Ever",
        "type": "object",
        "required": ["field", "op", "value"],
        "properties": {
            "field": {"const": field.key},
            "op": {"enum": ["ever"]},
            "value": {
                "type": "array",
                "items": {"enum": list(field.option_values)},
                "minItems": 1,
                "maxItems": MAX_VALUES,
            },
        },
        "additionalProperties": False,
    }


def _filter_value(kind: ValueKind, field: Field | None) -> Schema:
    if field is not None and field.options:
        return {"enum": list(field.option_values)}
    if kind is ValueKind.TEXT:
        return {"type": "string", "maxLength": MAX_TEXT}
    if kind is ValueKind.DECIMAL:
        return {
            "anyOf": [
                {"type": "string", "pattern": r"^[+-]?[0-9]{1,30}(\.[0-9]{1,30})?$"},
                {"type": "number", "exclusiveMinimum": -1e30, "exclusiveMaximum": 1e30},
            ]
        }
    if kind is ValueKind.DATE:
        return DATE_SCHEMA
    if kind is ValueKind.DATETIME:
        return DATETIME_SCHEMA
    if kind is ValueKind.BOOL:
        return {"type": "boolean"}
    if kind is ValueKind.REFERENCE:
        return {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}
    return {"type": "integer", "minimum": -MAX_INTEGER, "maximum": MAX_INTEGER}


def _record_schema(form: Form) -> Schema:
    properties: dict[str, Schema] = {"id": _SYSTEM["id"]}
    for field in form.fields:
        properties[field.key] = _output_schema(field)
    properties.update({key: schema for key, schema in _SYSTEM.items() if key != "id"})
    hidden_from_some = {
        key
        for permission in form.permissions.values()
        for key, rule in permission.fields.items()
        if rule is FieldRule.HIDDEN
    }
    required = [
        key
        for key in properties
        if key not in hidden_from_some
        and not (form.has_field(key) and form.field(key).kind is ValueKind.ROWS)
    ]
    return _object(
        properties,
        required,
        description=(
            f"A {form.label.en or form.key} record. Subtable fields are only in single "
            "records, not in list pages; fields hidden from the reader's role are left out."
        ),
    )


def _object(
    properties: dict[str, Schema], required: list[str], *, description: str | None = None
) -> Schema:
    schema: Schema = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = properties
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _narrowing(form: Form) -> set[str]:
    """The fields that narrow one of the form's links (``link_filter``): the chosen linked
    record fills them when they are left out, so they need not be sent."""
    return {ours for link in form.fields for _theirs, ours in link.link_filter}


def _always_required(field: Field) -> bool:
    """Required whatever the other values: no condition, no default to fall back on.

    ``required_if`` and ``visible_if`` make a field's need depend on other values, which
    JSON Schema's ``required`` cannot say; their descriptions say it instead. A field a
    link fills (``fills``) comes from the linked record, so it need not be sent.
    """
    return (
        field.required
        and field.required_if is None
        and field.visible_if is None
        and field.default is None
        and field.default_expr is None
        and field.filled_from is None
        and not field.is_computed
    )


def _titled(field: Field, schema: Schema, *, notes: Sequence[str] = ()) -> Schema:
    """``schema`` with the field's label as its title and its help and notes described."""
    described = {"title": _describe(field.label), **schema}
    help_text = (field.help.en or field.help.zh) if field.help else None
    text = [part for part in (help_text, schema.get("description"), *notes) if part]
    if text:
        described["description"] = " ".join(text)
    return described


def _output_schema(field: Field) -> Schema:
    if field.kind is ValueKind.ROWS:
        row = _object(
            {sub.key: _output_schema(sub) for sub in field.fields},
            [sub.key for sub in field.fields],
        )
        return _titled(field, {"type": "array", "items": row})
    return _titled(field, _nullable(_value_schema(field, writing=False)), notes=_notes(field))


def _input_schema(field: Field) -> Schema:
    if field.kind is ValueKind.ROWS:
        row = _object(
            {sub.key: _input_schema(sub) for sub in field.fields if not sub.is_computed},
            [sub.key for sub in field.fields if _always_required(sub)],
        )
        rows: Schema = {"type": ["array", "null"], "items": row}
        if field.max_rows is not None:
            rows["maxItems"] = field.max_rows
        return _titled(field, rows, notes=_notes(field))
    value = _value_schema(field, writing=True)
    if not _must_fill(field):
        return _titled(field, _nullable(value), notes=_notes(field))
    return _titled(field, _filled(field, value), notes=_notes(field))


def _must_fill(field: Field) -> bool:
    """Whether a value sent for the field may not be empty: it is required whatever the
    other values (a default fills only a field left out)."""
    return (
        field.required
        and field.required_if is None
        and field.visible_if is None
        and field.filled_from is None
    )


def _filled(field: Field, schema: Schema) -> Schema:
    """``schema`` without its empty values: no null, no blank text, no empty list."""
    if "enum" in schema:
        return schema
    blank_is_content = not field.field_type.strips_input(field)
    if schema.get("type") == "string" and not blank_is_content:
        pattern = schema.get("pattern", "").removesuffix("|^$")
        text = {key: value for key, value in schema.items() if key != "pattern"}
        if pattern:
            return {**text, "allOf": [{"pattern": pattern}, {"pattern": _FILLED}]}
        return {**text, "pattern": _FILLED}
    if schema.get("type") == "string" and blank_is_content:
        return {**schema, "minLength": max(1, schema.get("minLength", 1))}
    if schema.get("type") == "array":
        return {**schema, "minItems": max(1, schema.get("minItems", 1))}
    return schema


def _notes(field: Field) -> list[str]:
    notes = []
    if field.required and (field.required_if or field.visible_if):
        notes.append("Required when it applies.")
    if field.required_if is not None:
        notes.append(f"Required when: {field.required_if.source}.")
    if field.visible_if is not None:
        notes.append(f"Applies only when: {field.visible_if.source}; otherwise kept empty.")
    if field.unique:
        notes.append("Unique among live records.")
    if field.filled_from is not None:
        link, theirs = field.filled_from
        notes.append(
            f"Filled from {theirs} of the record {link} links to; "
            "another value is refused (code filled)."
        )
    return notes


def _nullable(schema: Schema) -> Schema:
    kinds = schema.get("type")
    if isinstance(kinds, str):
        schema = {**schema, "type": [kinds, "null"]}
    elif isinstance(kinds, list) and "null" not in kinds:
        schema = {**schema, "type": [*kinds, "null"]}
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _value_schema(field: Field, *, writing: bool) -> Schema:
    """The JSON Schema of one value, for the API's output or (``writing``) its input."""
    return field.field_type.json_schema(field, writing=writing)
