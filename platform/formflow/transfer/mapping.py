"""Which column of a file goes to which field: suggested from the headers, remembered per layout.

A header matches a field by its key or its label in either language, ignoring case, spaces
and the marks people add (``*`` for required, a trailing colon); a subtable's column is
named ``明细.品名``, ``Lines.Item`` or ``lines.item`` (its own name alone when no field of the
form has it). Once someone maps a file, the mapping is kept for its *layout*, the set of
its headers, so the next file of the same shape comes mapped as they left it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from formflow.definitions.model import Field, Form
from formflow.fields import ValueKind
from formflow.storage.platform_tables import import_layouts

Mapping_ = dict[int, str]
"""Column position -> field path (``name``, ``lines.qty``)."""

_NOISE = re.compile(r"[\s*:：_\-（）()]+")


def importable(form: Form) -> Iterator[tuple[str, Field, Field | None]]:
    """Every path a column can fill: ``(path, field, subtable)`` for the form's fields
    and its subtables' fields that people set (not formulas or numbers)."""
    for field in form.fields:
        if field.kind is ValueKind.ROWS:
            for sub in field.fields:
                if not sub.is_computed and sub.kind is not ValueKind.FILES:
                    yield f"{field.key}.{sub.key}", sub, field
        elif (
            not field.is_computed and not field.number_pattern and field.kind is not ValueKind.FILES
        ):
            yield field.key, field, None


def _normal(text: str) -> str:
    return _NOISE.sub("", text).casefold()


def _names(field: Field) -> list[str]:
    return [name for name in (field.key, field.label.zh, field.label.en) if name]


def suggest(form: Form, headers: Sequence[str]) -> Mapping_:
    """The field path each header most likely fills (unknown headers are left out; a
    field is given to the first header that names it)."""
    exact: dict[str, str] = {}
    loose: dict[str, str] = {}
    for path, field, subtable in importable(form):
        if subtable is None:
            for name in _names(field):
                exact.setdefault(_normal(name), path)
        else:
            for parent in _names(subtable):
                for name in _names(field):
                    exact.setdefault(_normal(f"{parent}{name}"), path)
            for name in _names(field):
                loose.setdefault(_normal(name), path)
    mapping: Mapping_ = {}
    taken: set[str] = set()
    for position, header in enumerate(headers):
        key = _normal(header.replace(".", "").replace("/", ""))
        chosen = exact.get(key) or loose.get(key)
        if chosen and chosen not in taken:
            mapping[position] = chosen
            taken.add(chosen)
    return mapping


def layout(headers: Sequence[str]) -> str:
    """The key of a file's layout: its headers, as a person would read them."""
    text = "\x1f".join(_normal(header) for header in headers)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checked(form: Form, mapping: Mapping[Any, Any], width: int) -> Mapping_:
    """``mapping`` (as a client sent it, keys possibly text) kept to known columns and
    paths, each path once."""
    paths = {path for path, _field, _sub in importable(form)}
    found: Mapping_ = {}
    for position, path in mapping.items():
        try:
            column = int(position)
        except (TypeError, ValueError):
            continue
        if 0 <= column < width and path in paths and path not in found.values():
            found[column] = str(path)
    return found


def remembered(
    connection: Connection, app_key: str, form_key: str, headers: Sequence[str]
) -> Mapping_ | None:
    """The mapping last used for a file of this layout, if any."""
    row = connection.execute(
        select(import_layouts.c.mapping).where(
            import_layouts.c.app_key == app_key,
            import_layouts.c.form_key == form_key,
            import_layouts.c.layout == layout(headers),
        )
    ).first()
    if row is None:
        return None
    return {int(column): str(path) for column, path in row[0].items()}


def remember(
    connection: Connection,
    app_key: str,
    form_key: str,
    headers: Sequence[str],
    mapping: Mapping_,
) -> None:
    """Keep ``mapping`` for files of this layout."""
    key = layout(headers)
    stored = {str(column): path for column, path in mapping.items()}
    now = datetime.now(UTC)
    changed = connection.execute(
        update(import_layouts)
        .where(
            import_layouts.c.app_key == app_key,
            import_layouts.c.form_key == form_key,
            import_layouts.c.layout == key,
        )
        .values(mapping=stored, updated_at=now)
    )
    if changed.rowcount == 0:
        connection.execute(
            import_layouts.insert().values(
                app_key=app_key, form_key=form_key, layout=key, mapping=stored, updated_at=now
            )
        )
