"""Compiling a form's ``agenda`` and its list ``card``: which fields they name, checked.

Both only name fields of their own form, so they are checked with the form itself; every
problem lands at its place (``FILE:LINE:COL``), as the rest of the form's do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formflow.definitions.compiling import DocumentCompiler, label, unknown
from formflow.definitions.model import SYSTEM_FIELDS, AgendaItem, Card, Field, Form
from formflow.definitions.relations import filter_conditions
from formflow.definitions.source import PathKey
from formflow.fields import Reference, ValueKind

_DUE_KINDS = frozenset({ValueKind.DATE, ValueKind.DATETIME})


def compile_agenda(
    compiler: DocumentCompiler,
    items: list[Mapping[str, Any]],
    fields: tuple[Field, ...],
    title_field: str,
) -> tuple[AgendaItem, ...]:
    """The form's agenda items, each naming a date field, a user field and what is done."""
    by_key = {f.key: f for f in fields}
    agenda: list[AgendaItem] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        path: PathKey = ("agenda", index)
        if item["key"] in seen:
            compiler.error((*path, "key"), f"duplicate agenda key '{item['key']}'")
            continue
        seen.add(item["key"])
        _check_date(compiler, by_key, item["date"], (*path, "date"))
        _check_user(compiler, by_key, item["user"], (*path, "user"))
        title = item.get("title", title_field)
        if title not in by_key:
            compiler.error((*path, "title"), unknown("field", title, by_key))
        done = item.get("done")
        for key, _op in filter_conditions(done):
            name = key.partition(".")[0]
            if name not in by_key and name not in SYSTEM_FIELDS:
                compiler.error((*path, "done"), "done: " + unknown("field", name, by_key))
        agenda.append(
            AgendaItem(
                key=item["key"],
                label=label(item["label"]),
                date=item["date"],
                user=item["user"],
                title=title,
                ahead_days=item.get("ahead_days", 0),
                done=done,
            )
        )
    return tuple(agenda)


def _check_date(
    compiler: DocumentCompiler, by_key: Mapping[str, Field], key: str, path: PathKey
) -> None:
    field = by_key.get(key)
    if field is None:
        compiler.error(path, unknown("field", key, by_key))
    elif field.kind not in _DUE_KINDS and not field.is_derived:  # those: derived_date_problems
        compiler.error(
            path, f"'{key}' is a {field.type} field; an agenda needs a date or date-time"
        )


def derived_date_problems(form: Form) -> list[tuple[PathKey, str]]:
    """Agenda dates that are roll-ups or lookups of something other than a date: their
    kind is known only once the app's relations are resolved, after the form compiled."""
    problems: list[tuple[PathKey, str]] = []
    for index, item in enumerate(form.agenda):
        field = form.field(item.date) if form.has_field(item.date) else None
        if field is not None and field.is_derived and field.kind not in _DUE_KINDS:
            message = f"'{item.date}' is a {field.type} of no date; an agenda needs a date"
            problems.append((("agenda", index, "date"), message))
    return problems


def _check_user(
    compiler: DocumentCompiler, by_key: Mapping[str, Field], key: str, path: PathKey
) -> None:
    field = by_key.get(key)
    if field is None:
        compiler.error(path, unknown("field", key, by_key))
    elif field.field_type.reference is not Reference.USER or field.kind.is_list:
        compiler.error(
            path, f"'{key}' is a {field.type} field; an agenda needs a single user field"
        )


def compile_card(
    compiler: DocumentCompiler, data: Mapping[str, Any], fields: tuple[Field, ...], title_field: str
) -> Card:
    """The list's card: fields of the form that hold single values."""
    by_key = {f.key: f for f in fields}
    card = Card(
        title=data.get("title", title_field),
        subtitle=data.get("subtitle"),
        badges=tuple(data.get("badges", ())),
    )
    places: list[tuple[PathKey, str]] = [(("list", "card", "title"), card.title)]
    if card.subtitle:
        places.append((("list", "card", "subtitle"), card.subtitle))
    places += [(("list", "card", "badges", i), key) for i, key in enumerate(card.badges)]
    for path, key in places:
        if key in SYSTEM_FIELDS:
            continue
        field = by_key.get(key)
        if field is None:
            compiler.error(path, unknown("field", key, [*by_key, *SYSTEM_FIELDS]))
        elif field.kind in (ValueKind.ROWS, ValueKind.FILES):
            compiler.error(path, f"'{key}' is a {field.type} field; a card shows single values")
    return card
