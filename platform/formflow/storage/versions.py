"""Definition versions: every definition an app ever ran, kept in the database.

Each successful migration stores the app folder's files as a new numbered version and makes
it current. The files, not the compiled model, are kept, so that an old version can be
compiled again by today's engine, shown, compared, or rolled back to; the digest recognises
an unchanged definition without comparing YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from alembic.operations import Operations
from sqlalchemy import Connection, Select, bindparam, func, inspect, select, update

from formflow.audit import Action
from formflow.audit import log as audit_log
from formflow.definitions.model import App
from formflow.errors import FormflowError
from formflow.storage.migration_ops import Effect, OneTableOperation
from formflow.storage.platform_tables import definition_versions

DEFINITION_SUFFIX = ".yaml"


class VersionError(FormflowError):
    """A stored definition version cannot be used as asked."""


class VersionNotFound(VersionError):
    """No stored definition version has the number asked for."""


@dataclass(frozen=True)
class StoredVersion:
    """One stored definition of an app: its files exactly as they were migrated."""

    app_key: str
    number: int
    version_label: str
    digest: str
    files: Mapping[str, str] = field(hash=False)
    is_current: bool
    created_at: datetime
    note: str | None = None

    def summary(self) -> str:
        """One line for people: number, label, date, and whether it is in force."""
        current = " (current)" if self.is_current else ""
        note = f": {self.note}" if self.note else ""
        when = self.created_at.strftime("%Y-%m-%d %H:%M")
        return f"{self.number}  {self.version_label}  {when}{current}{note}"


def read_app_files(app_dir: Path) -> dict[str, str]:
    """Every definition file under ``app_dir``, by path relative to it (``forms/lead.yaml``)."""
    return {
        path.relative_to(app_dir).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(app_dir.rglob(f"*{DEFINITION_SUFFIX}"))
        if path.is_file()
    }


def write_files(version: StoredVersion, folder: Path) -> Path:
    """Write a version's files into ``folder`` (made if missing), so ``load_app`` can read it.

    The paths come from the database, so each is checked to stay inside ``folder``.
    """
    for relative, text in version.files.items():
        path = PurePosixPath(relative)
        if path.is_absolute() or ".." in path.parts:
            raise VersionError(f"version {version.number} holds an unsafe path {relative!r}")
        target = folder.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder


def current_version(connection: Connection, app_key: str) -> StoredVersion | None:
    """The version in force for ``app_key``; ``None`` before its first migration."""
    if not _has_versions(connection):
        return None
    query = _select(app_key).where(definition_versions.c.is_current)
    row = connection.execute(query).mappings().first()
    return _stored(row) if row else None


_CURRENT_DIGEST = select(definition_versions.c.digest).where(
    definition_versions.c.app_key == bindparam("app_key"), definition_versions.c.is_current
)


def current_digest(connection: Connection, app_key: str) -> str | None:
    """The digest of the version in force for ``app_key`` (``None`` if there is none).

    What a server already holding the app compiled asks every second, to learn whether
    another process migrated it: one short row, where :func:`current_version` also looks
    the table up in the catalogue and reads every definition file.
    """
    digest = connection.execute(_CURRENT_DIGEST, {"app_key": app_key}).scalar_one_or_none()
    return None if digest is None else str(digest)


def list_versions(connection: Connection, app_key: str) -> list[StoredVersion]:
    """Every stored version of ``app_key``, oldest first."""
    if not _has_versions(connection):
        return []
    query = _select(app_key).order_by(definition_versions.c.number)
    return [_stored(row) for row in connection.execute(query).mappings()]


def get_version(connection: Connection, app_key: str, number: int) -> StoredVersion:
    """Version ``number`` of ``app_key``; :class:`VersionNotFound` if there is none."""
    row = None
    if _has_versions(connection):
        query = _select(app_key).where(definition_versions.c.number == number)
        row = connection.execute(query).mappings().first()
    if row is None:
        raise VersionNotFound(
            f"app '{app_key}' has no stored definition version {number}; "
            "list the versions to see which exist"
        )
    return _stored(row)


def next_version_number(connection: Connection, app_key: str) -> int:
    """The number the next stored version of ``app_key`` takes (1 in a new database)."""
    if not _has_versions(connection):
        return 1
    table = definition_versions
    latest = select(func.max(table.c.number)).where(table.c.app_key == app_key)
    return int(connection.execute(latest).scalar() or 0) + 1


@dataclass(frozen=True)
class RecordVersion(OneTableOperation, effect=Effect.VERSION):
    """The last step of a migration: store the definition's files as the app's next
    version and make it current, in the same transaction as the changes it needs."""

    app_key: str
    number: int
    label: str
    app: App = field(compare=False, repr=False)
    files: Mapping[str, str] = field(compare=False, repr=False)
    note: str | None = None
    table = definition_versions.name

    def describe(self) -> str:
        return f"record version {self.number} ({self.label}) of app {self.app_key} as current"

    def apply(self, ops: Operations) -> None:
        record_version(ops.get_bind(), self.app_key, self.app, self.files, self.note)


def record_version(
    connection: Connection,
    app_key: str,
    app: App,
    files: Mapping[str, str],
    note: str | None = None,
) -> StoredVersion:
    """Store ``files`` as the next version of ``app_key`` and make it the current one."""
    table = definition_versions
    number = next_version_number(connection, app_key)
    connection.execute(
        update(table).where(table.c.app_key == app_key, table.c.is_current).values(is_current=False)
    )
    values = {
        "app_key": app_key,
        "number": number,
        "version_label": app.version,
        "digest": app.digest,
        "files": dict(files),
        "is_current": True,
        "created_at": datetime.now(UTC),
        "note": note,
    }
    connection.execute(table.insert().values(values))
    audit_log(
        connection,
        Action.DEFINITION_PUBLISH,
        app_key=app_key,
        detail={"number": number, "version": app.version, "digest": app.digest},
    )
    return _stored(values)


def _select(app_key: str) -> Select[Any]:
    return select(definition_versions).where(definition_versions.c.app_key == app_key)


def _has_versions(connection: Connection) -> bool:
    return inspect(connection).has_table(definition_versions.name)


def _stored(row: Mapping[Any, Any]) -> StoredVersion:
    created_at: datetime = row["created_at"]
    if created_at.tzinfo is None:  # SQLite keeps no offset; every version is stored in UTC
        created_at = created_at.replace(tzinfo=UTC)
    return StoredVersion(
        app_key=row["app_key"],
        number=row["number"],
        version_label=row["version_label"],
        digest=row["digest"],
        files=MappingProxyType(dict(row["files"])),
        is_current=bool(row["is_current"]),
        created_at=created_at,
        note=row["note"],
    )
