"""Checking a loaded file against the JSON Schema for its kind.

The schemas in ``schemas/`` are the format's formal definition (editors can use them too).
This module runs them and turns jsonschema's findings into :class:`DefinitionError` at the
exact key or value that is wrong, in words an admin can act on.

Valid files are the common case and must be cheap (a whole app is checked at every
start), so a compiled Rust validator answers "valid or not" first; only a file it rejects
is walked by the Python validator, whose errors carry what the messages need.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from formflow.definitions.source import SourceDocument
from formflow.errors import DefinitionError
from formflow.fields.json_values import json_type

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

KINDS = ("app", "form", "workflow", "dashboard", "automation")

_FRIENDLY_PATTERNS = {
    "^[a-z][a-z0-9_]{0,62}$": "must be a key: lower-case letters, digits and '_', starting with a letter",
}
_QUOTED = re.compile(r"'([^']*)'")


@cache
def schema(kind: str) -> Mapping[str, Any]:
    """The JSON Schema for one kind of definition file."""
    text = resources.files("formflow").joinpath("schemas", f"{kind}.schema.json").read_text("utf-8")
    loaded: Mapping[str, Any] = json.loads(text)
    return loaded


@cache
def _validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # only files with errors need it

    return Draft202012Validator(dict(schema(kind)))


@cache
def _fast_validator(kind: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(dict(schema(kind)))


def schema_errors(document: SourceDocument, kind: str) -> list[DefinitionError]:
    """Every way ``document`` breaks the schema of ``kind``, each at its place."""
    if _fast_validator(kind).is_valid(document.data):
        return []
    errors: list[DefinitionError] = []
    for error in _validator(kind).iter_errors(document.data):
        errors.extend(_describe(document, _most_specific(error)))
    return errors


def _most_specific(error: ValidationError) -> ValidationError:
    """For "valid under none of" errors, the branch that came closest instead."""
    from jsonschema.exceptions import best_match

    while error.validator in ("anyOf", "oneOf") and error.context:
        closest = best_match(error.context)
        if closest is None:
            break
        error = closest
    return error


def _describe(document: SourceDocument, error: ValidationError) -> Iterator[DefinitionError]:
    path = tuple(error.absolute_path)
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        instance = error.instance if isinstance(error.instance, dict) else {}
        unexpected = [name for name in _QUOTED.findall(error.message) if name in instance]
        known = sorted(_property_names(error.schema))
        for name in unexpected or list(instance)[:1]:
            yield document.error_at_key((*path, name), _unexpected_key(name, instance, known))
        return
    if error.validator == "required":
        missing = _QUOTED.findall(error.message)
        where = f" in '{path[-1]}'" if path and isinstance(path[-1], str) else ""
        yield document.error_at_value(path, f"missing required key '{missing[0]}'{where}")
        return
    yield document.error_at_value(path, _message(error, path))


_KEY_SHAPED = re.compile(r"[a-z][a-z0-9_]*")
"""What every key looks like. An empty "key" of another shape (``in full``, ``8:00``) is
the tail of a text a comma cut, not a misspelt key."""


def _unexpected_key(name: str, instance: dict[str, Any], known: list[str]) -> str:
    if name in known and isinstance(instance.get("type"), str):
        return f"'{name}' does not apply to a {instance['type']} field"
    if instance.get(name) is None and not _KEY_SHAPED.fullmatch(name):
        # `{zh: 周一, en: Mondays, 8:00}`: YAML took the text after the comma for a key of
        # its own; no key has a space, a colon or a capital, so the text was cut.
        return (
            f"unknown key '{name}': a comma inside {{...}} starts a new key; "
            'put text that holds a comma in quotes ("...")'
        )
    hint = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
    return f"unknown key '{name}'" + (f"; did you mean '{hint[0]}'?" if hint else "")


def _message(error: ValidationError, path: tuple[Any, ...]) -> str:
    subject = f"'{path[-1]}'" if path and isinstance(path[-1], str) else "value"
    if error.validator == "pattern":
        friendly = _FRIENDLY_PATTERNS.get(str(error.validator_value))
        if friendly:
            return f"{subject} {friendly} (got {error.instance!r})"
    if (
        error.validator == "not"
        and isinstance(error.schema, dict)
        and error.schema.get("description")
    ):
        return f"{subject}: {error.schema['description']}"
    if error.validator == "type":
        return f"{subject} must be of type {_type_names(error.validator_value)}, not {json_type(error.instance)}"
    if error.validator == "enum":
        choices = ", ".join(repr(choice) for choice in _as_list(error.validator_value))
        return f"{subject} must be one of {choices} (got {error.instance!r})"
    return f"{subject}: {error.message}"


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _type_names(expected: Any) -> str:
    names = [expected] if isinstance(expected, str) else [str(name) for name in expected]
    return " or ".join(names)


def _property_names(schema_part: Any) -> set[str]:
    """Every property name a schema (with its composed branches) mentions."""
    names: set[str] = set()
    if isinstance(schema_part, dict):
        names.update(schema_part.get("properties", {}))
        for key in ("allOf", "anyOf", "oneOf"):
            for branch in schema_part.get(key, []):
                names |= _property_names(branch)
        for key in ("then", "else"):
            names |= _property_names(schema_part.get(key))
    return names
