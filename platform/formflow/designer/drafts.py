"""Drafts: an app's definition files as an admin is changing them, kept on the server.

A draft starts as a copy of the files of the version in force and is saved file by file as
the admin works, so closing the browser loses nothing. Every file carries a revision; a save
names the revision it was made from and is refused with :class:`DraftConflict` when another
tab saved since, so nothing is ever overwritten silently: the conflict carries a readable
diff between what is saved and what was sent. Text that is not valid YAML is saved all the
same (it is the admin's work); it is the publish that refuses it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, select, update

from formflow.errors import FormflowError
from formflow.storage.platform_tables import designer_drafts
from formflow.storage.versions import current_version


class DraftError(FormflowError):
    """A draft cannot be read or saved as asked."""


class NoApp(DraftError):
    """The app has no version in force, so there is nothing to start a draft from."""


class DraftConflict(DraftError):
    """A save was made from a revision older than the one stored: another tab saved first.

    ``diff`` shows, as a unified diff, what the stored text has that the sent text lacks.
    """

    def __init__(self, path: str, stored: DraftFile, sent_text: str) -> None:
        self.path = path
        self.stored = stored
        self.diff = unified_diff(stored.text, sent_text, f"{path} (saved)", f"{path} (yours)")
        super().__init__(
            f"{path} was saved elsewhere (revision {stored.revision}) after you opened it; "
            "compare the two and save again from the newer text"
        )


@dataclass(frozen=True)
class Draft:
    """Every file of an app's draft, and the version it started from."""

    app_key: str
    base_version: int
    files: Mapping[str, DraftFile] = field(hash=False)

    def texts(self) -> dict[str, str]:
        return {path: item.text for path, item in self.files.items()}

    def file(self, path: str) -> DraftFile:
        """The draft's ``path``; :class:`DraftError` when it has none (a stale tab, a typo)."""
        found = self.files.get(path)
        if found is None:
            raise DraftError(f"the draft of '{self.app_key}' has no file {path}")
        return found


@dataclass(frozen=True)
class DraftFile:
    """One file of a draft at one revision."""

    path: str
    text: str
    revision: int


def open_draft(connection: Connection, app_key: str) -> Draft:
    """The app's draft, started from the version in force when there is none yet."""
    rows = list(
        connection.execute(
            select(designer_drafts).where(designer_drafts.c.app_key == app_key)
        ).mappings()
    )
    if rows:
        files = {row["path"]: DraftFile(row["path"], row["text"], row["revision"]) for row in rows}
        return Draft(app_key, int(rows[0]["base_version"]), files)
    version = current_version(connection, app_key)
    if version is None:
        raise NoApp(f"app '{app_key}' is not installed, so it has nothing to design")
    now = datetime.now(UTC)
    values = [
        {
            "app_key": app_key,
            "path": path,
            "text": text,
            "revision": 1,
            "base_version": version.number,
            "updated_by": None,
            "updated_at": now,
        }
        for path, text in version.files.items()
    ]
    connection.execute(designer_drafts.insert(), values)
    return Draft(
        app_key,
        version.number,
        {path: DraftFile(path, text, 1) for path, text in version.files.items()},
    )


def save_file(
    connection: Connection,
    app_key: str,
    path: str,
    text: str,
    revision: int,
    user_id: int | None,
) -> DraftFile:
    """Save ``text`` as the draft's ``path``, made from ``revision``; returns the new revision.

    The update only succeeds while the stored revision is still ``revision`` (a conditional
    write, so two tabs cannot both win); otherwise :class:`DraftConflict`.
    """
    stored = open_draft(connection, app_key).file(path)
    if stored.text == text and stored.revision == revision:
        return stored
    table = designer_drafts
    done = connection.execute(
        update(table)
        .where(table.c.app_key == app_key, table.c.path == path, table.c.revision == revision)
        .values(text=text, revision=revision + 1, updated_by=user_id, updated_at=datetime.now(UTC))
    )
    if done.rowcount != 1:
        latest = open_draft(connection, app_key).files[path]
        raise DraftConflict(path, latest, text)
    return DraftFile(path, text, revision + 1)


def replace_draft(
    connection: Connection, app_key: str, files: Mapping[str, str], user_id: int | None
) -> Draft:
    """Make ``files`` the app's draft (an imported bundle). Each file's revision moves past
    every revision the old draft had, so a tab still showing the old draft gets a conflict."""
    old = open_draft(connection, app_key)
    revision = max((item.revision for item in old.files.values()), default=0) + 1
    discard_draft(connection, app_key)
    now = datetime.now(UTC)
    connection.execute(
        designer_drafts.insert(),
        [
            {
                "app_key": app_key,
                "path": path,
                "text": text,
                "revision": revision,
                "base_version": old.base_version,
                "updated_by": user_id,
                "updated_at": now,
            }
            for path, text in files.items()
        ],
    )
    return open_draft(connection, app_key)


def discard_draft(connection: Connection, app_key: str) -> None:
    """Forget the draft; the next :func:`open_draft` starts again from the version in force."""
    connection.execute(delete(designer_drafts).where(designer_drafts.c.app_key == app_key))


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    """A unified diff of two texts, with three lines of context."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            before_name,
            after_name,
        )
    )
