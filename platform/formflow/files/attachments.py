"""Uploaded files: kept outside the web root under random names, described in ff_attachments.

A file is stored as ``<uploads>/<id[:2]>/<id>``, where the id is 32 random hex digits:
nothing a person sends (the file's name, its claimed type) ever becomes part of a path, and
ids cannot be guessed. The original name, the type worked out from the name's extension
(never the one the browser claims) and the size go into ``ff_attachments``. A record's
attachment field keeps ``{"id", "name", "size", "content_type"}`` descriptors of its files.

Who may download a file is decided by the record that holds it, not here: the web layer
serves a file only through a record the person may read.
"""

from __future__ import annotations

import mimetypes
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy import Connection, insert, select

from formflow.errors import N_, FormflowError, Problem, render
from formflow.storage.platform_tables import attachments

DEFAULT_MAX_MB = 20.0
CHUNK = 64 * 1024
MAX_NAME = 255
UNKNOWN_TYPE = "application/octet-stream"
_ID = re.compile(r"[0-9a-f]{32}")


class AttachmentRefused(FormflowError):
    """A file that cannot be stored or attached: ``code`` is ``too_large``, ``type``,
    ``empty`` or ``not_found``; ``template`` (an English message id) is filled in with
    ``params``, so the web edge can say it in the reader's language."""

    def __init__(self, code: str, template: str, **params: Any) -> None:
        self.code = code
        self.template = template
        self.params = params
        super().__init__(render(template, params))

    def problem(self) -> Problem:
        """The refusal as a problem with the value that named the file."""
        return Problem(self.code, self.template, tuple(self.params.items()))


def check_type(name: str, accept: Sequence[str]) -> None:
    """:class:`AttachmentRefused` unless a file called ``name`` fits ``accept``."""
    if not accepts(name, accept):
        raise AttachmentRefused(
            "type",
            N_("%(name)s: files of this type are not accepted here"),
            name=name,
            accept=", ".join(accept),
        )


def too_large(name: str, max_bytes: int) -> AttachmentRefused:
    """The refusal of a file called ``name`` that is larger than ``max_bytes``."""
    return AttachmentRefused(
        "too_large",
        N_("%(name)s is larger than %(limit_mb)s MB"),
        name=name,
        limit_mb=round(max_bytes / 1024 / 1024, 1),
    )


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    content_type: str
    size: int
    user_id: int | None
    created_at: datetime

    def descriptor(self) -> dict[str, Any]:
        """What an attachment field stores for this file."""
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "content_type": self.content_type,
        }


def is_file_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def path_for(folder: Path, file_id: str) -> Path:
    """Where the file with ``file_id`` is kept; ``ValueError`` for anything but an id."""
    if not is_file_id(file_id):
        raise ValueError(f"not an attachment id: {file_id!r:.40}")
    return folder / file_id[:2] / file_id


def clean_name(name: str) -> str:
    """A file name fit to show and to offer for download: no folders, no control characters."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    if not base:
        return "file"
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        keep = ext[:20] if dot and stem else ""
        base = base[: MAX_NAME - len(keep) - 1] + ("." + keep if keep else "")
    return base


def content_type_for(name: str) -> str:
    guessed, _encoding = mimetypes.guess_type(name, strict=False)
    return guessed or UNKNOWN_TYPE


def accepts(name: str, accept: Sequence[str]) -> bool:
    """Whether a file called ``name`` fits a field's ``accept`` list (empty: anything)."""
    if not accept:
        return True
    extension = PurePosixPath(name.lower()).suffix
    kind = content_type_for(name)
    for item in (entry.strip().lower() for entry in accept):
        if item.startswith("."):
            if extension == item:
                return True
        elif item.endswith("/*"):
            if kind.startswith(item[:-1]):
                return True
        elif kind == item:
            return True
    return False


def store(
    connection: Connection,
    folder: Path,
    stream: IO[bytes],
    *,
    name: str,
    user_id: int | None,
    max_bytes: int,
    accept: Sequence[str] = (),
) -> StoredFile:
    """Copy ``stream`` into ``folder`` and describe it; :class:`AttachmentRefused` if it
    does not fit. The row is written with ``connection``; should that transaction roll
    back, the file stays behind unreferenced, which is harmless."""
    name = clean_name(name)
    check_type(name, accept)
    file_id = secrets.token_hex(16)
    path = path_for(folder, file_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = _copy(stream, path, max_bytes, name)
    stored = StoredFile(file_id, name, content_type_for(name), size, user_id, datetime.now(UTC))
    try:
        connection.execute(
            insert(attachments).values(
                id=stored.id,
                user_id=user_id,
                name=stored.name,
                content_type=stored.content_type,
                size=stored.size,
                created_at=stored.created_at,
            )
        )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return stored


def _copy(stream: IO[bytes], path: Path, max_bytes: int, name: str) -> int:
    partial = path.with_name(path.name + ".part")
    size = 0
    try:
        with open(partial, "xb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(name, max_bytes)
                out.write(chunk)
        if size == 0:
            raise AttachmentRefused("empty", N_("%(name)s is empty"), name=name)
        os.replace(partial, path)
        path.chmod(0o600)
    finally:
        partial.unlink(missing_ok=True)
    return size


def get_files(connection: Connection, ids: Iterable[str]) -> dict[str, StoredFile]:
    """The stored files with these ids (unknown or malformed ids are left out)."""
    wanted = sorted({file_id for file_id in ids if is_file_id(file_id)})
    if not wanted:
        return {}
    rows = connection.execute(select(attachments).where(attachments.c.id.in_(wanted))).mappings()
    return {
        row["id"]: StoredFile(
            id=row["id"],
            name=row["name"],
            content_type=row["content_type"],
            size=int(row["size"]),
            user_id=row["user_id"],
            created_at=row["created_at"],
        )
        for row in rows
    }
