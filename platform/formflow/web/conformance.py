"""Request bodies and filters checked against the OpenAPI document's own schemas.

The document (:mod:`formflow.web.openapi`) is the API's promise, so the API checks what
it receives against it before the record service sees it: whatever the document calls
invalid is refused, with the path of each problem, and the document cannot promise less
than the API enforces. The service then checks what no JSON Schema can say (uniqueness,
links to records that exist, conditions between fields).

Validators are compiled once per document, which is itself built once per set of
definition digests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema_rs

from formflow.errors import N_, Problem, QueryError, ValidationFailed


class Conformance:
    """The schemas of one OpenAPI document, as validators by component name."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._components = document["components"]["schemas"]
        self._validators: dict[str, Any] = {}

    def problems(self, name: str, instance: Any) -> dict[str, list[Problem]]:
        """Each place in ``instance`` that does not fit schema ``name``, by dotted path."""
        found: dict[str, list[Problem]] = {}
        try:
            if self._validator(name).is_valid(instance):  # quick: stops at a first fit
                return found
            errors = list(self._validator(name).iter_errors(instance))
        except ValueError:  # nested past the validator's recursion limit
            return {"$": [Problem("schema", N_("nests too deeply"))]}
        for error in errors:
            parts = [str(part) for part in error.instance_path]
            if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Required):
                path = ".".join([*parts, str(error.kind.property)])
                found.setdefault(path, []).append(Problem("required", N_("is required")))
                continue
            if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
                for member in error.kind.unexpected:  # at the member, as a missing one is
                    path = ".".join([*parts, str(member)])
                    found.setdefault(path, []).append(_UNKNOWN_MEMBER)
                continue
            path = ".".join(parts) or "$"
            found.setdefault(path, []).append(_problem(error))
        return found

    def check_body(self, name: str, body: Any) -> None:
        """Raise :class:`ValidationFailed` (422) unless ``body`` fits schema ``name``."""
        problems = self.problems(name, body)
        if problems:
            raise ValidationFailed(problems)

    def check_query(self, name: str, value: Any, field: str) -> None:
        """Raise :class:`QueryError` (400) unless query part ``field`` fits schema ``name``."""
        problems = self.problems(name, value)
        if problems:
            path, (problem, *_) = next(iter(problems.items()))
            if path == "$":
                raise QueryError(
                    N_("%(name)s does not fit the document: %(problem)s"),
                    field,
                    name=field,
                    problem=problem,
                )
            raise QueryError(
                N_("%(name)s does not fit the document at %(path)s: %(problem)s"),
                field,
                name=field,
                path=path,
                problem=problem,
            )

    def _validator(self, name: str) -> Any:
        if name not in self._validators:
            schema = {
                "$ref": f"#/components/schemas/{name}",
                "components": {"schemas": self._components},
            }
            self._validators[name] = jsonschema_rs.validator_for(schema, validate_formats=True)
        return self._validators[name]


_UNKNOWN_MEMBER = Problem("unknown_field", N_("is not a member the document allows here"))
"""A member the schema does not name, placed at its own path (its name is the ``field``
a client acts on), not at the object's ``$``."""
_KINDS = jsonschema_rs.ValidationErrorKind
_BY_KIND: tuple[tuple[Any, str, str], ...] = (
    (_KINDS.Type, N_("must be of type %(expected)s"), "types"),
    (_KINDS.Enum, N_("must be one of %(expected)s"), "options"),
    (_KINDS.Constant, N_("must be %(expected)s"), "expected_value"),
    (_KINDS.Minimum, N_("must be at least %(expected)s"), "limit"),
    (_KINDS.Maximum, N_("must be at most %(expected)s"), "limit"),
    (_KINDS.ExclusiveMinimum, N_("must be more than %(expected)s"), "limit"),
    (_KINDS.ExclusiveMaximum, N_("must be less than %(expected)s"), "limit"),
    (_KINDS.MinLength, N_("must be at least %(expected)s characters long"), "limit"),
    (_KINDS.MaxLength, N_("must be at most %(expected)s characters long"), "limit"),
    (_KINDS.MinItems, N_("must hold at least %(expected)s items"), "limit"),
    (_KINDS.MaxItems, N_("must hold at most %(expected)s items"), "limit"),
    (_KINDS.Format, N_("must be written as a %(expected)s"), "format"),
)
"""The schema's refusals people meet most, as message ids with what was expected; any
other keeps the validator's own (English) message."""


def _problem(error: Any) -> Problem:
    """One place that does not fit the schema, as a problem the web edge translates."""
    for kind, template, attribute in _BY_KIND:
        if isinstance(error.kind, kind):
            expected = getattr(error.kind, attribute, None)
            if expected is not None:
                shown = expected if isinstance(expected, str | int | float) else _listed(expected)
                return Problem("schema", template, (("expected", shown),))
    return Problem("schema", _message(error))


def _listed(values: Any) -> str:
    """A list of allowed values or names, as a message shows it: ``"a", "b"``."""
    try:
        return ", ".join(json.dumps(value, ensure_ascii=False) for value in values)
    except TypeError:
        return str(values)


def _message(error: Any) -> str:
    if isinstance(
        error.kind,
        jsonschema_rs.ValidationErrorKind.AnyOf | jsonschema_rs.ValidationErrorKind.OneOfNotValid,
    ):
        return N_("fits none of the shapes the document allows here")
    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Pattern):
        # the whole document's pattern may name fields hidden from the caller (a list of
        # keys); the caller's own document shows the pattern they may use
        return N_("does not match the pattern the document gives here")
    text = str(error.message)
    return text if len(text) <= 200 else text[:197] + "..."
