"""What a backup holds and how to tell it is whole: the manifest and its checksums."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

from sqlalchemy import Connection, inspect
from sqlalchemy.engine import make_url

from formflow.errors import FormflowError

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1024 * 1024


class BackupError(FormflowError):
    """A backup that cannot be made, read, checked or restored; the message says why."""


@dataclass(frozen=True)
class Manifest:
    formflow_version: str
    created_at: str
    database: str
    """``sqlite`` or ``postgresql``: which file holds the database."""
    files: dict[str, dict[str, str | int]] = field(default_factory=dict)
    """Every other file of the backup (``/``-separated path): its ``sha256`` and ``size``."""
    rows: dict[str, int] = field(default_factory=dict)
    """Each table's row count at the moment of the backup."""
    format: int = FORMAT

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


class Part(StrEnum):
    """The parts of a backup folder, by the names they have in it (restores look for them)."""

    SQLITE_COPY = "database.sqlite"
    PG_DUMP = "database.pgdump"
    ATTACHMENTS = "attachments"
    CONFIG = "config"


def checksums(folder: Path) -> dict[str, dict[str, str | int]]:
    found: dict[str, dict[str, str | int]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            relative = path.relative_to(folder).as_posix()
            found[relative] = {"sha256": file_hash(path), "size": path.stat().st_size}
    return found


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: Manifest) -> None:
    (folder / MANIFEST).write_text(
        json.dumps(asdict(manifest), indent=2, sort_keys=True), encoding="utf-8"
    )


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{folder} is not a Formflow backup: it has no {MANIFEST}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (ValueError, TypeError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from None
    if manifest.format != FORMAT:
        raise BackupError(
            f"{folder} is a backup of format {manifest.format}; this Formflow reads {FORMAT}"
        )
    return manifest


def verified_manifest(folder: Path) -> Manifest:
    """The manifest, once every file it lists is there with its checksum."""
    manifest = read_manifest(folder)
    for relative, expected in sorted(manifest.files.items()):
        path = folder / relative
        if not path.is_file():
            raise BackupError(f"{folder}: {relative} is missing")
        if file_hash(path) != expected["sha256"]:
            raise BackupError(f"{folder}: {relative} does not match its checksum (damaged?)")
    return manifest


def count_sqlite_rows(database: Path) -> dict[str, int]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            table: int(connection.execute(f"SELECT count(*) FROM {_quoted(table)}").fetchone()[0])
            for table in tables
        }
    finally:
        connection.close()


def _quoted(name: str) -> str:
    doubled = name.replace('"', '""')
    return f'"{doubled}"'


def count_rows(connection: Connection, schema: str | None = None) -> dict[str, int]:
    """Each table's row count, as this connection's transaction sees them."""
    preparer = connection.dialect.identifier_preparer
    found: dict[str, int] = {}
    for table in sorted(inspect(connection).get_table_names(schema=schema)):
        name = preparer.quote_identifier(table)
        found[table] = int(connection.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one())
    return found


def libpq(url: str) -> tuple[str, str | None]:
    """A SQLAlchemy PostgreSQL URL as the client tools take it, and the schema its
    ``options=-csearch_path=…`` picks (``None``: the default)."""
    parsed = make_url(url).set(drivername="postgresql")
    plain = parsed.render_as_string(hide_password=False)
    parts = urlsplit(plain)
    query = parse_qs(parts.query)
    schema = None
    for option in query.get("options", []):
        for word in unquote(option).split():
            if word.startswith("-csearch_path="):
                schema = word.split("=", 1)[1].split(",")[0]
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True))), schema
