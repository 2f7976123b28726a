"""Which files a record's attachment field may hold: one rule for the pages and the API.

A field may hold a file the record already holds, or a file the acting person uploaded
that fits the field: of a type the field accepts and no larger than its limit. Any other
id is refused, so nobody attaches (and then downloads) someone else's file by sending its
id, and a file uploaded for one field cannot reach another past that field's limits.
Whether a field holds one file or several is the record service's check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from formflow.definitions.model import Field, Form
from formflow.errors import N_
from formflow.fields import ValueKind
from formflow.files.attachments import (
    DEFAULT_MAX_MB,
    AttachmentRefused,
    StoredFile,
    check_type,
    is_file_id,
    too_large,
)


@dataclass(frozen=True)
class Limits:
    """What one attachment field accepts: the size of each file and its types."""

    max_bytes: int
    accept: tuple[str, ...] = ()


def limits(field: Field, ceiling_mb: float) -> Limits:
    """A field's limits: its own size limit (or the default), never above the instance's
    ``ceiling_mb`` (``FORMFLOW_MAX_UPLOAD_MB``)."""
    size_mb = min(field.max_size_mb or DEFAULT_MAX_MB, ceiling_mb)
    return Limits(int(size_mb * 1024 * 1024), field.accept)


def check_fits(stored: StoredFile, within: Limits) -> None:
    """:class:`AttachmentRefused` unless a stored file fits a field's limits."""
    check_type(stored.name, within.accept)
    if stored.size > within.max_bytes:
        raise too_large(stored.name, within.max_bytes)


def attach(
    file_id: str,
    within: Limits,
    *,
    held: Mapping[str, Mapping[str, Any]],
    uploaded: Mapping[str, StoredFile],
    user_id: int | None,
) -> dict[str, Any]:
    """The descriptor a field keeps for ``file_id``; :class:`AttachmentRefused` if it may not.

    ``held`` are the files the record holds now (:func:`held_files`), ``uploaded`` the
    stored files the ids sent name. A file the record holds stays as it is, even if the
    field's limits have changed since; the descriptor always comes from the platform,
    never from what a client sent.
    """
    if file_id in held:
        return dict(held[file_id])
    found = uploaded.get(file_id)
    if found is None or user_id is None or found.user_id != user_id:
        raise AttachmentRefused(
            "not_found", N_("no file %(file)s uploaded by you"), file=f"{file_id!r:.40}"
        )
    check_fits(found, within)
    return found.descriptor()


def held_files(form: Form, record: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The descriptors of the files a stored record holds, in its fields and rows, by id."""
    held: dict[str, dict[str, Any]] = {}
    for field in form.fields:
        if field.kind is ValueKind.FILES:
            values = [record.get(field.key)]
        elif field.kind is ValueKind.ROWS:
            subs = [sub.key for sub in field.fields if sub.kind is ValueKind.FILES]
            rows = record.get(field.key) or []
            values = [row.get(key) for row in rows if isinstance(row, Mapping) for key in subs]
        else:
            continue
        for value in values:
            for item in value if isinstance(value, list) else []:
                if isinstance(item, Mapping) and is_file_id(item.get("id")):
                    held.setdefault(item["id"], dict(item))
    return held
