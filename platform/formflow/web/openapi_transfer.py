"""The import and export part of the OpenAPI document: a form's ``/export`` and ``/import``.

Built beside the record paths by :func:`formflow.web.openapi.build_document`, which hands
in the list's own parameters (filter, search, sort), so an export takes what a list takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from formflow.definitions.model import App, Form
from formflow.web.openapi_parts import Schema, json_response, ref, request_body, whole_object

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def transfer_paths(
    app: App,
    form: Form,
    tag: str,
    list_parameters: list[dict[str, Any]],
    errors: Callable[[Iterable[str]], dict[str, Any]],
) -> dict[str, Any]:
    """The two paths of ``form``; ``list_parameters`` are its list's query parameters."""
    op = f"{app.key}_{form.key}"
    name = form.label.en or form.key
    kept = [p for p in list_parameters if p["name"] in ("filter", "search", "sort")]
    return {
        f"/{app.key}/{form.key}/export": {
            "get": {
                "operationId": f"{op}_export",
                "summary": f"Export {name} records as CSV or XLSX",
                "description": (
                    "Every record the list would show (same filter, search and sort), "
                    "without the fields hidden from the caller, streamed. CSV is UTF-8 with "
                    "a byte-order mark; cells that would start a formula are quoted."
                ),
                "tags": [tag],
                "parameters": [
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["csv", "xlsx"], "default": "csv"},
                    },
                    {
                        "name": "language",
                        "in": "query",
                        "description": "Of the headers and option labels (default: the caller's).",
                        "schema": {"type": "string", "enum": ["zh", "en"]},
                    },
                    *kept,
                ],
                "responses": {
                    "200": {
                        "description": "The file.",
                        "content": {
                            "text/csv": {"schema": {"type": "string"}},
                            _XLSX: {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    **errors(("400", "401", "403", "404", "500")),
                    "414": {
                        "description": (
                            "The URL is longer than the HTTP server takes (an answer of the "
                            "server in front of the API, not JSON): shorten the filter."
                        )
                    },
                },
            }
        },
        f"/{app.key}/{form.key}/import": {
            "post": {
                "operationId": f"{op}_import",
                "summary": f"Import a CSV or XLSX file of {name} records",
                "description": (
                    "Each row goes through the same checks as a create. Links are given by "
                    "the linked record's title, people by user name or name, options by "
                    "value or label; a row with only subtable cells adds a row to the "
                    "record above. With `preview`, nothing is stored and the first rows "
                    "come back as they would be stored."
                ),
                "tags": [tag],
                "requestBody": request_body("ImportRequest", media_type="multipart/form-data"),
                "responses": {
                    "200": json_response(
                        "What the import did, or the preview.",
                        {"oneOf": [ref("ImportOutcome"), ref("ImportPreview")]},
                    ),
                    **errors(("400", "401", "403", "404", "413", "422", "500")),
                },
            }
        },
    }


def transfer_schemas() -> dict[str, Schema]:
    said: Schema = {"code": {"type": "string"}, "message": {"type": "string"}}
    problem = whole_object(said)
    return {
        "ImportRequest": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary"},
                "mapping": {
                    "type": "string",
                    "description": 'JSON object of column header to field path, e.g. {"名称": "name", "明细.数量": "lines.qty"}; by default suggested from the headers.',
                },
                "duplicates": {
                    "type": "string",
                    "enum": ["create", "skip", "update"],
                    "default": "create",
                },
                "match_on": {
                    "type": "string",
                    "description": "Comma-separated fields that make a duplicate (default: the unique fields the file fills).",
                },
                "mode": {
                    "type": "string",
                    "enum": ["rows", "all"],
                    "default": "rows",
                    "description": "rows: store each good row; all: store nothing if any row fails.",
                },
                "preview": {"type": "string", "enum": ["true", "false"], "default": "false"},
            },
        },
        "ImportOutcome": whole_object(
            {
                **{
                    key: {"type": "integer", "minimum": 0}
                    for key in ("processed", "created", "updated", "skipped", "failed")
                },
                "rolled_back": {"type": "boolean"},
                "errors": {
                    "type": "array",
                    "items": whole_object(
                        {
                            "row": {"type": "integer", "minimum": 2},
                            "column": {"type": "string"},
                            **said,
                        }
                    ),
                },
            }
        ),
        "ImportPreview": whole_object(
            {
                "mapping": {"type": "object", "additionalProperties": {"type": "string"}},
                "preview": {
                    "type": "array",
                    "items": whole_object(
                        {
                            "row": {"type": "integer"},
                            "values": {"type": "object"},
                            "errors": {
                                "type": "object",
                                "additionalProperties": {"type": "array", "items": problem},
                            },
                        }
                    ),
                },
            }
        ),
    }
