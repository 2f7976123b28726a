"""The create page's inline sections: rows of linked records added with the new record.

A form's ``inline`` entries (see :mod:`formflow.records.inline`) each show a few blank rows
of simple inputs named ``inline-<form>-<row>-<field>``. Rows left blank are skipped; the
problems of the others come back next to their inputs, by the row's place on the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from formflow.definitions.model import App, Form
from formflow.errors import Problem
from formflow.fields import ValueKind
from formflow.web.formbuilder import problem_text
from formflow.web.i18n import text

_INPUT_TYPES = {"number": "number", "date": "date", "tel": "tel", "email": "email", "url": "url"}


@dataclass(frozen=True)
class InlineCell:
    name: str
    label: str
    widget: str
    value: str
    options: tuple[tuple[str, str], ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class InlineSection:
    form_key: str
    label: str
    rows: list[list[InlineCell]]


@dataclass
class SentRows:
    """The rows sent, by inline form, and each one's place on the page."""

    rows: dict[str, list[dict[str, Any]]]
    places: dict[str, list[int]]


def _name(form_key: str, row: int, key: str) -> str:
    return f"inline-{form_key}-{row}-{key}"


def sent_rows(app: App, form: Form, data: Mapping[str, str]) -> SentRows:
    """The rows with anything typed in them (a ticked box counts)."""
    sent = SentRows({}, {})
    for entry in form.inline:
        other = app.form(entry.form)
        for row in range(entry.rows):
            values: dict[str, Any] = {}
            for key in entry.fields:
                given = data.get(_name(entry.form, row, key), "").strip()
                if other.field(key).kind is ValueKind.BOOL:
                    values[key] = bool(given)
                elif given:
                    values[key] = given
            if any(values.values()):
                sent.rows.setdefault(entry.form, []).append(values)
                sent.places.setdefault(entry.form, []).append(row)
    return sent


def split_problems(
    form: Form, problems: Mapping[str, list[Problem]], sent: SentRows, app: App
) -> tuple[dict[str, list[Problem]], dict[str, list[str]]]:
    """The record's own problems, and the rows' as messages by ``<form>.<place>.<field>``."""
    own: dict[str, list[Problem]] = {}
    rows: dict[str, list[str]] = {}
    inline = {entry.form for entry in form.inline}
    for path, found in problems.items():
        key, _dot, rest = path.partition(".")
        number, _dot, field = rest.partition(".")
        if key in inline and number.isascii() and number.isdigit() and field:
            place = sent.places.get(key, [])[int(number)]
            messages = [problem_text(problem, app.form(key)) for problem in found]
            rows[f"{key}.{place}.{field}"] = messages
        else:
            own[path] = found
    return own, rows


def sections(
    app: App, form: Form, data: Mapping[str, str], errors: Mapping[str, list[str]]
) -> list[InlineSection]:
    """What the create page shows of each inline entry, with what was typed kept."""
    found = []
    for entry in form.inline:
        other = app.form(entry.form)
        rows = []
        for row in range(entry.rows):
            cells = []
            for key in entry.fields:
                field = other.field(key)
                widget = field.field_type.input_widget(field)
                cells.append(
                    InlineCell(
                        name=_name(entry.form, row, key),
                        label=text(field.label),
                        widget=widget
                        if widget in ("select", "checkbox")
                        else _INPUT_TYPES.get(widget, "text"),
                        value=data.get(_name(entry.form, row, key), ""),
                        options=tuple((o.value, text(o.label)) for o in field.options),
                        errors=tuple(errors.get(f"{entry.form}.{row}.{key}", ())),
                    )
                )
            rows.append(cells)
        found.append(InlineSection(entry.form, text(entry.label or other.label), rows))
    return found
