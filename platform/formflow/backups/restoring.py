"""Restoring a backup into a new place, and checking that a backup restores.

A restore only ever writes to a place that is empty: a folder that does not exist yet (or
is empty), a SQLite file that does not exist, a PostgreSQL database without tables. So
the running instance cannot be overwritten by mistake; to go back to a backup, restore it
somewhere new and point the instance there.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from formflow.backups.manifest import (
    BackupError,
    Manifest,
    Part,
    count_rows,
    count_sqlite_rows,
    libpq,
    verified_manifest,
)
from formflow.storage.database import check_reachable, connect

DATABASE_FILE = "formflow.db"
UPLOADS = "uploads"


def restore_backup(backup: Path, targets: tuple[str, ...] | list[str]) -> list[str]:
    """Restore ``backup`` into ``targets``: a new instance folder and/or a database URL.
    Returns what was restored where, a line each."""
    manifest = verified_manifest(backup)
    urls = [target for target in targets if "://" in target]
    folders = [Path(target) for target in targets if "://" not in target]
    if len(urls) > 1 or len(folders) > 1:
        raise BackupError("give at most one folder and one database URL")
    folder = folders[0].resolve() if folders else None
    url = urls[0] if urls else None
    done: list[str] = []
    if folder is not None:
        _claim_empty_folder(folder)
    if manifest.database == "sqlite":
        database = _sqlite_target(url, folder)
        shutil.copyfile(backup / Part.SQLITE_COPY, database)
        done.append(f"database: {database}")
    else:
        if url is None:
            raise BackupError("a PostgreSQL backup needs --to DATABASE_URL (an empty database)")
        _pg_restore(backup / Part.PG_DUMP, url)
        done.append(f"database: {make_url(url).render_as_string(hide_password=True)}")
    if folder is not None:
        shutil.copytree(backup / Part.ATTACHMENTS, folder / UPLOADS)
        _restore_config(backup / Part.CONFIG, folder)
        done.append(f"attachments and settings: {folder}")
    else:
        done.append("attachments and settings not restored: give --to FOLDER for them")
    return done


def _claim_empty_folder(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} is not empty: restore into a new folder")
    folder.mkdir(parents=True, exist_ok=True)


def _sqlite_target(url: str | None, folder: Path | None) -> Path:
    if url is not None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or not parsed.database:
            raise BackupError("a SQLite backup restores into a folder or a sqlite:/// URL")
        database = Path(parsed.database)
    elif folder is not None:
        database = folder / DATABASE_FILE
    else:
        raise BackupError("give --to FOLDER (a new instance folder) for a SQLite backup")
    if database.exists():
        raise BackupError(f"{database} exists: restore into a new file")
    database.parent.mkdir(parents=True, exist_ok=True)
    return database


def _pg_restore(dump: Path, url: str) -> None:
    if make_url(url).get_backend_name() != "postgresql":
        raise BackupError("a PostgreSQL backup restores into a postgresql:// database")
    if shutil.which("pg_restore") is None:
        raise BackupError("pg_restore is not installed: install the PostgreSQL client tools")
    uri, schema = libpq(url)
    engine = connect(url)
    try:
        check_reachable(engine)
        with engine.connect() as connection:
            if inspect(connection).get_table_names(schema=schema):
                raise BackupError("that database has tables: restore into an empty database")
    finally:
        engine.dispose()
    command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={uri}"]
    done = subprocess.run([*command, str(dump)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def _restore_config(config: Path, folder: Path) -> None:
    if (config / "secret_key").is_file():
        shutil.copy2(config / "secret_key", folder / "secret_key")
    if (config / "templates").is_dir():
        shutil.copytree(config / "templates", folder / "templates")
    if (config / "environment.json").is_file():
        shutil.copy2(config / "environment.json", folder / "environment.json")


def check_backup(backup: Path, database_url: str | None = None) -> Manifest:
    """Prove ``backup`` restores: every checksum holds, and restored into a temporary place
    every table has the rows the manifest counted. A PostgreSQL backup is restored into a
    scratch database on the server of ``database_url``, dropped afterwards."""
    manifest = verified_manifest(backup)
    if manifest.database == "sqlite":
        with tempfile.TemporaryDirectory(prefix="formflow-check-") as scratch:
            database = Path(scratch) / DATABASE_FILE
            shutil.copyfile(backup / Part.SQLITE_COPY, database)
            found = count_sqlite_rows(database)
    else:
        if database_url is None:
            raise BackupError("checking a PostgreSQL backup needs the server's database URL")
        with _scratch_database(database_url) as scratch_url:
            _pg_restore(backup / Part.PG_DUMP, scratch_url)
            engine = connect(scratch_url)
            try:
                with engine.connect() as connection:
                    found = count_rows(connection, libpq(scratch_url)[1])
            finally:
                engine.dispose()
    if found != manifest.rows:
        wrong = sorted(
            name for name in {*found, *manifest.rows} if found.get(name) != manifest.rows.get(name)
        )
        raise BackupError(f"{backup} restores with other row counts in: {', '.join(wrong)}")
    return manifest


@contextmanager
def _scratch_database(database_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``database_url`` (same schema option)."""
    parsed = make_url(database_url)
    name = f"formflow_check_{uuid.uuid4().hex[:12]}"
    admin, _schema = libpq(database_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
