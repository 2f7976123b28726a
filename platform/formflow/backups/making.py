"""Making a backup: the database at one moment, the attachments, the instance's settings.

A backup is a folder ``formflow-<UTC moment>`` holding ``database.sqlite`` (SQLite's online
backup API, which copies a consistent snapshot while others write) or ``database.pgdump``
(``pg_dump`` in its custom format), ``attachments/``, ``config/`` and ``manifest.json``
with each file's SHA-256 and each table's row count. It is written under a ``.partial``
name and renamed when complete, so a backup folder that has its final name is whole.

On PostgreSQL the rows are counted in the very snapshot ``pg_dump`` dumps (it is handed
the snapshot exported by the counting transaction), so a check can expect exact counts.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from formflow import __version__, audit
from formflow.audit import Action
from formflow.backups.manifest import (
    BackupError,
    Manifest,
    Part,
    checksums,
    count_rows,
    count_sqlite_rows,
    libpq,
    write_manifest,
)
from formflow.config import without_password
from formflow.storage.database import write_transaction

if TYPE_CHECKING:
    from formflow.lifecycle.instance import Instance

PREFIX = "formflow-"
PARTIAL = ".partial"
SECRET_VARIABLES = frozenset(
    {"FORMFLOW_SECRET_KEY", "FORMFLOW_METRICS_TOKEN", "FORMFLOW_SMTP_PASSWORD"}
)
"""Settings left out of a backup's ``environment.json``: it travels off the machine."""
URL_VARIABLES = ("FORMFLOW_DATABASE_URL", "FORMFLOW_REDIS_URL")
"""Settings kept with the password in them replaced by ``***``."""


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest: Manifest


def create_backup(instance: Instance, folder: Path | None = None) -> Backup:
    """Back ``instance`` up into a new folder inside ``folder`` (default: its backup folder)."""
    settings = instance.settings
    root = (folder or settings.backup_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    moment = datetime.now(UTC)
    name = PREFIX + moment.strftime("%Y%m%dT%H%M%S%fZ")
    partial = root / (name + PARTIAL)
    partial.mkdir(mode=0o700)
    try:
        if instance.engine.dialect.name == "sqlite":
            kind = "sqlite"
            _copy_sqlite(instance.engine.url.database or "", partial / Part.SQLITE_COPY)
            rows = count_sqlite_rows(partial / Part.SQLITE_COPY)
        else:
            kind = "postgresql"
            rows = _dump_postgres(instance, partial / Part.PG_DUMP)
        _copy_tree(settings.uploads_dir, partial / Part.ATTACHMENTS)
        _copy_config(instance, partial / Part.CONFIG)
        manifest = Manifest(
            formflow_version=__version__,
            created_at=moment.isoformat(),
            database=kind,
            files=checksums(partial),
            rows=rows,
        )
        write_manifest(partial, manifest)
        final = root / name
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    with write_transaction(instance.engine) as connection:
        audit.log(
            connection,
            Action.BACKUP,
            detail={"name": name, "rows": manifest.total_rows, "files": len(manifest.files)},
        )
    return Backup(final, manifest)


def _copy_sqlite(database: str, target: Path) -> None:
    """SQLite's online backup: a consistent copy, page by page, while writers go on.

    The copy inherits the instance's write-ahead-log mode, in which every reader (the row
    count here, an admin's look with sqlite3) leaves ``-wal`` and ``-shm`` files beside it;
    those would be checksummed into the manifest and change at the next look, making the
    backup unrestorable. The copy is switched to a plain rollback journal, which leaves
    nothing beside it; a restored instance turns the log on again when it opens it.
    """
    source = sqlite3.connect(database)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy, pages=1024)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        source.close()


def _dump_postgres(instance: Instance, target: Path) -> dict[str, int]:
    """``pg_dump`` of the snapshot a transaction here exports, after counting its rows."""
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is not installed: install the PostgreSQL client tools")
    uri, schema = libpq(str(instance.engine.url.render_as_string(hide_password=False)))
    with instance.engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        rows = count_rows(connection, schema)
        command = ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={target}"]
        if schema:
            command.append(f"--schema={schema}")
        done = subprocess.run([*command, uri], capture_output=True, text=True, check=False)
        connection.rollback()
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    return rows


def _copy_tree(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        target.mkdir()


def _copy_config(instance: Instance, target: Path) -> None:
    """The instance's own settings: its secret key and templates, and the ``FORMFLOW_*``
    variables it runs with (secrets, and the passwords in URLs, left out)."""
    settings = instance.settings
    target.mkdir()
    secret = settings.instance / "secret_key"
    if secret.is_file():
        shutil.copy2(secret, target / "secret_key")
    templates = settings.instance / "templates"
    if templates.is_dir():
        shutil.copytree(templates, target / "templates")
    variables = {
        key: value
        for key, value in sorted(os.environ.items())
        if key.startswith("FORMFLOW_") and key not in SECRET_VARIABLES
    }
    for name in URL_VARIABLES:
        if name in variables:
            variables[name] = without_password(variables[name])
    (target / "environment.json").write_text(
        json.dumps(variables, indent=2, ensure_ascii=False), encoding="utf-8"
    )
