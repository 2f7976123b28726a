"""The parameters of the built-in actions, as JSON Schemas.

Plain data, so the definition compiler can check a rule's parameters (every problem at its
``FILE:LINE:COL``) without loading the code that runs the actions. The actions themselves
(:mod:`formflow.defaults.actions`) register with these schemas like any plugin action.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

CREATE_RECORD = "create_record"
UPDATE_RECORDS = "update_records"
WEBHOOK = "webhook"
NOTIFY = "notify"

_IDENTIFIER = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
_EXPRESSION = {"type": "string", "minLength": 1}
_VALUES = {
    "description": "Field keys and literal values.",
    "type": "object",
    "propertyNames": _IDENTIFIER,
}
_MAP = {
    "description": "Field keys and expressions over the triggering record.",
    "type": "object",
    "propertyNames": _IDENTIFIER,
    "additionalProperties": _EXPRESSION,
}

CREATE_RECORD_PARAMS: Mapping[str, Any] = {
    "type": "object",
    "required": ["form"],
    "properties": {
        "form": {"description": "The form of the new record.", **_IDENTIFIER},
        "values": _VALUES,
        "map": _MAP,
        "rows": {
            "description": "Subtable keys of the new record and an expression giving its rows (a list of mappings).",
            "type": "object",
            "propertyNames": _IDENTIFIER,
            "additionalProperties": _EXPRESSION,
        },
        "as": {
            "description": "A name the later actions of the rule read the new record's id by.",
            **_IDENTIFIER,
        },
    },
    "additionalProperties": False,
}

UPDATE_RECORDS_PARAMS: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "form": {
            "description": "The form of the records to change (not with link).",
            **_IDENTIFIER,
        },
        "link": {
            "description": "A link field of this record: change the record it points at.",
            **_IDENTIFIER,
        },
        "ids": {
            "description": "An expression giving the id (or ids) of the records of form to change.",
            **_EXPRESSION,
        },
        "linked_by": {
            "description": "A link field of form: change its records that point at this record.",
            **_IDENTIFIER,
        },
        "values": _VALUES,
        "map": _MAP,
        "owner": {
            "description": "An expression giving the new owner (a user id) of the records.",
            **_EXPRESSION,
        },
        "cascade": {
            "description": "With owner: records of other forms linking to the changed records follow them to the new owner.",
            "type": "array",
            "items": {
                "type": "object",
                "required": ["form", "link"],
                "properties": {
                    "form": _IDENTIFIER,
                    "link": {
                        "description": "The link field of form that points at the changed records.",
                        **_IDENTIFIER,
                    },
                    "where": {
                        "description": "A list filter: only the records matching it move.",
                        "type": "object",
                    },
                    "when": {
                        "description": "An expression over the triggering record: move them only when true.",
                        **_EXPRESSION,
                    },
                },
                "additionalProperties": False,
            },
        },
    },
    "oneOf": [{"required": ["link"]}, {"required": ["ids"]}, {"required": ["linked_by"]}],
    "additionalProperties": False,
}

WEBHOOK_PARAMS: Mapping[str, Any] = {
    "type": "object",
    "required": ["url", "body"],
    "properties": {
        "url": {
            "description": "Where to POST, http or https.",
            "type": "string",
            "pattern": "^https?://",
        },
        "body": {
            "description": "A Jinja2 template (sandboxed) rendering the JSON body.",
            "type": "string",
            "minLength": 2,
        },
        "secret_env": {
            "description": "The environment variable holding the HMAC-SHA256 key that signs the body.",
            "type": "string",
            "pattern": "^[A-Z][A-Z0-9_]*$",
        },
    },
    "additionalProperties": False,
}

NOTIFY_PARAMS: Mapping[str, Any] = {
    "type": "object",
    "required": ["title"],
    "anyOf": [{"required": ["users"]}, {"required": ["roles"]}, {"required": ["user_field"]}],
    "properties": {
        "users": {
            "description": "Usernames of the people to tell.",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
        },
        "roles": {
            "description": "Roles of this app whose members are told.",
            "type": "array",
            "items": _IDENTIFIER,
            "minItems": 1,
        },
        "user_field": {
            "description": "A user field of the record: the person it names is told.",
            **_IDENTIFIER,
        },
        "title": {
            "description": "A Jinja2 template (sandboxed) rendering the title, over the record.",
            "type": "string",
            "minLength": 1,
        },
        "body": {
            "description": "A Jinja2 template (sandboxed) rendering the text, over the record.",
            "type": "string",
        },
    },
    "additionalProperties": False,
}

BUILTIN_PARAMS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        CREATE_RECORD: CREATE_RECORD_PARAMS,
        UPDATE_RECORDS: UPDATE_RECORDS_PARAMS,
        WEBHOOK: WEBHOOK_PARAMS,
        NOTIFY: NOTIFY_PARAMS,
    }
)
"""Every built-in action's parameter schema, by action name."""
