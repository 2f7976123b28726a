"""The pieces every part of the OpenAPI document is built from: a reference to a named
schema, a JSON response, a request body, an object given whole and a list under ``data``.

Each part of the document (records, approvals, dashboards, notifications, agenda,
import and export) builds its paths from these, so a response reads the same in each.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to the schema ``name`` under ``components/schemas``."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(description: str, schema: Schema, *, etag: bool = False) -> dict[str, Any]:
    """A JSON response; with ``etag``, one that also gives the record's version."""
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if etag:
        response["headers"] = {
            "ETag": {
                "description": 'The record\'s version, `"<version>"`, for `If-Match`.',
                "schema": {"type": "string"},
            }
        }
    return response


def request_body(
    schema_name: str, *, required: bool = True, media_type: str = "application/json"
) -> dict[str, Any]:
    """A request body of the schema ``schema_name``: JSON unless ``media_type`` says
    otherwise (a file upload's form data)."""
    return {"required": required, "content": {media_type: {"schema": ref(schema_name)}}}


def whole_object(properties: Schema) -> Schema:
    """An object that always has every one of ``properties``: ``required`` is taken from
    them, so a property added later cannot be left out of it."""
    return {"type": "object", "required": list(properties), "properties": properties}


def data_list(item: Schema) -> Schema:
    """A response that lists its items under ``data``."""
    return whole_object({"data": {"type": "array", "items": item}})
