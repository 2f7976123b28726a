"""Compiling ``duplicate_checks`` of app.yaml: every named field must exist and hold text."""

from __future__ import annotations

from collections.abc import Mapping

from formflow.definitions.compiling import keyed_items, label, unknown
from formflow.definitions.model import DuplicateCheck, DuplicateEffect, Form, Label
from formflow.definitions.source import PathKey, SourceDocument
from formflow.errors import DefinitionError
from formflow.fields import ValueKind


def compile_duplicate_checks(
    document: SourceDocument, forms: Mapping[str, Form], errors: list[DefinitionError]
) -> tuple[DuplicateCheck, ...]:
    """The app's checks; each problem goes to ``errors`` at its place in app.yaml."""
    checks: list[DuplicateCheck] = []

    def report(path: PathKey, message: str) -> None:
        errors.append(document.error_at_value(path, message))

    items = document.data.get("duplicate_checks", [])
    for path, item in keyed_items(items, ("duplicate_checks",), "check", report):
        fields: list[tuple[str, str]] = []
        for place, name in enumerate(item["fields"]):
            problem = _field_problem(forms, name)
            if problem is None and tuple(name.split(".")) in fields:
                problem = f"'{name}' is named twice"
            if problem is not None:
                errors.append(document.error_at_value((*path, "fields", place), problem))
                continue
            form_key, field_key = name.split(".")
            fields.append((form_key, field_key))
        if len(fields) == len(item["fields"]):
            checks.append(
                DuplicateCheck(
                    key=item["key"],
                    label=label(item["label"]) if "label" in item else Label(item["key"]),
                    normaliser=item["normalise"],
                    effect=DuplicateEffect(item["effect"]),
                    fields=tuple(fields),
                )
            )
    return tuple(checks)


def _field_problem(forms: Mapping[str, Form], name: str) -> str | None:
    form_key, field_key = name.split(".")
    form = forms.get(form_key)
    if form is None:
        return unknown("form", form_key, forms)
    if not form.has_field(field_key):
        return unknown(
            "field", field_key, [f.key for f in form.fields], within=f"in form '{form_key}'"
        )
    field = form.field(field_key)
    if field.kind is not ValueKind.TEXT or field.field_type.computed:
        return f"'{name}' must be a text field the person fills in (it is {field.type})"
    return None
