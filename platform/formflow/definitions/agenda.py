"""Compiling a form's ``agenda``, its list ``card`` and its ``inline`` records: which
fields (and forms) they name, checked.

Both only name fields of their own form, so they are checked with the form itself; every
problem lands at its place (``FILE:LINE:COL``), as the rest of the form's do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from formflow.definitions.compiling import DocumentCompiler, keyed_items, label, unknown
from formflow.definitions.model import (
    SYSTEM_FIELDS,
    AgendaItem,
    Card,
    Field,
    Form,
    InlineCreate,
)
from formflow.definitions.relations import filter_conditions
from formflow.definitions.source import PathKey
from formflow.fields import Reference, ValueKind

_DUE_KINDS = frozenset({ValueKind.DATE, ValueKind.DATETIME})


def _dated(field: Field) -> bool:
    """A date or date-time; a roll-up or lookup passes here (see derived_date_problems)."""
    return field.kind in _DUE_KINDS or field.is_derived


def _one_user(field: Field) -> bool:
    return field.field_type.reference is Reference.USER and not field.kind.is_list


_NAMED_FIELDS: tuple[tuple[str, Callable[[Field], bool], str], ...] = (
    ("date", _dated, "a date or date-time"),
    ("user", _one_user, "a single user field"),
)
"""The fields an agenda item names: its part, which fields fit it, what it needs instead."""


def compile_agenda(
    compiler: DocumentCompiler,
    items: list[Mapping[str, Any]],
    fields: tuple[Field, ...],
    title_field: str,
) -> tuple[AgendaItem, ...]:
    """The form's agenda items, each naming a date field, a user field and what is done."""
    by_key = {f.key: f for f in fields}
    agenda: list[AgendaItem] = []
    for path, item in keyed_items(items, ("agenda",), "agenda key", compiler.error):
        for part, fits, wanted in _NAMED_FIELDS:
            _check_field(compiler, by_key, item[part], (*path, part), fits, wanted)
        title = item.get("title", title_field)
        if "title" in item and title not in by_key:  # the form reports its own title_field
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


def _check_field(
    compiler: DocumentCompiler,
    by_key: Mapping[str, Field],
    key: str,
    path: PathKey,
    fits: Callable[[Field], bool],
    wanted: str,
) -> None:
    """Report at ``path`` a field ``key`` the form lacks, or one that ``fits`` refuses
    (``wanted`` says what the agenda needs instead)."""
    field = by_key.get(key)
    if field is None:
        compiler.error(path, unknown("field", key, by_key))
    elif not fits(field):
        compiler.error(path, f"'{key}' is a {field.type} field; an agenda needs {wanted}")


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
    places: list[tuple[PathKey, str]] = []
    if "title" in data:  # by default the form's title_field, which the form reports
        places.append((("list", "card", "title"), card.title))
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


_INLINE_KINDS = frozenset(
    {ValueKind.TEXT, ValueKind.INTEGER, ValueKind.DECIMAL, ValueKind.DATE, ValueKind.BOOL}
)


def read_inline(items: list[Mapping[str, Any]]) -> tuple[InlineCreate, ...]:
    """The form's ``inline`` entries as written; :func:`inline_problems` checks them once
    every form of the app is known."""
    return tuple(
        InlineCreate(
            form=item["form"],
            link=item["link"],
            fields=tuple(item["fields"]),
            label=label(item["label"]) if "label" in item else None,
            rows=item.get("rows", 2),
        )
        for item in items
    )


def inline_problems(form: Form, forms: Mapping[str, Form]) -> list[tuple[PathKey, str]]:
    """Each inline entry names a form, its link field to ``form`` and fields a row can ask."""
    problems: list[tuple[PathKey, str]] = []
    seen: set[str] = set()
    for index, inline in enumerate(form.inline):
        path: PathKey = ("inline", index)
        other = forms.get(inline.form)
        if other is None:
            problems.append(((*path, "form"), unknown("form", inline.form, forms)))
            continue
        if inline.form in seen:
            problems.append(((*path, "form"), f"form '{inline.form}' is already inline"))
        seen.add(inline.form)
        link = other.field(inline.link) if other.has_field(inline.link) else None
        if link is None or not link.is_link or link.target_form != form.key:
            problems.append(
                (
                    (*path, "link"),
                    f"'{inline.link}' is not a link field of '{inline.form}' to '{form.key}'",
                )
            )
        for position, key in enumerate(inline.fields):
            found = other.field(key) if other.has_field(key) else None
            where = (*path, "fields", position)
            if found is None:
                problems.append((where, unknown("field", key, [f.key for f in other.fields])))
            elif key == inline.link or found.is_computed or found.is_link:
                problems.append(
                    (where, f"'{key}' is set by the engine or a link; not asked inline")
                )
            elif found.kind not in _INLINE_KINDS:
                problems.append(
                    (where, f"'{key}' is a {found.type} field; inline rows ask simple values")
                )
    return problems
