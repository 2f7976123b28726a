"""A backup restored into a new place holds every row and every file, on both databases."""

from __future__ import annotations

import io
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from sqlalchemy import Engine, MetaData, inspect, select
from sqlalchemy.engine import make_url

from formflow import accounts
from formflow.backups import BackupError, check_backup, create_backup, restore_backup
from formflow.backups.manifest import libpq
from formflow.cli import main
from formflow.config import load_settings
from formflow.files.attachments import store
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from formflow.records import Actor
from formflow.storage.database import connect, read_transaction, write_transaction
from support import AppWriter

PASSWORD = "password-1"
PAPERS_FORM = """\
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  - key: name
    type: text
    label: {zh: 名称, en: Name}
  - key: papers
    type: attachment
    label: {zh: 文件, en: Papers}
    multiple: true
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""


@pytest.fixture
def instance(tmp_path: Path, database_url: str, write_app: AppWriter) -> Iterator[Instance]:
    """An instance with records changed several times, one in the bin, and a stored file."""
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_DATABASE_URL": database_url}
    )
    initialise(settings, [write_app(forms={"item": PAPERS_FORM})], "admin", PASSWORD)
    opened = Instance(settings)
    with write_transaction(opened.engine) as connection:
        admin = accounts.find_user(connection, "admin")
        assert admin is not None
        stored = store(
            connection,
            settings.uploads_dir,
            io.BytesIO(b"%PDF-1.4 quarterly figures"),
            name="figures.pdf",
            user_id=admin.id,
            max_bytes=1_000_000,
        )
    records = opened.records("demo")
    actor = Actor.system()
    for number in range(5):
        record = records.create(actor, "item", {"name": f"item {number}"})
        records.update(
            actor,
            "item",
            record["id"],
            {"name": f"item {number}!"},
            expected_version=record["version"],
        )
    records.create(actor, "item", {"name": "with a file", "papers": [stored.descriptor()]})
    records.delete(actor, "item", record["id"])
    yield opened
    opened.close()


@pytest.fixture
def target_url(database_url: str, postgres_database: str | None) -> Iterator[str | None]:
    """An empty PostgreSQL database for a restore (None on SQLite)."""
    if not database_url.startswith("postgresql"):
        yield None
        return
    assert postgres_database is not None
    name = f"formflow_restore_{uuid.uuid4().hex[:10]}"
    admin, _schema = libpq(database_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def every_row(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order, column by column."""
    metadata = MetaData()
    metadata.reflect(engine)
    found: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        for table in sorted(metadata.tables.values(), key=lambda table: table.name):
            order = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(select(table).order_by(*order)).mappings()
            found[table.name] = [dict(row) for row in rows]
    return found


def every_file(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def restore_targets(tmp_path: Path, target_url: str | None) -> tuple[list[str], str]:
    folder = tmp_path / "restored"
    if target_url is None:
        return [str(folder)], f"sqlite:///{folder / 'formflow.db'}"
    return [str(folder), target_url], target_url


def test_a_restored_backup_holds_every_row_field_by_field_and_every_file(
    instance: Instance, tmp_path: Path, target_url: str | None
) -> None:
    made = create_backup(instance, tmp_path / "backups")
    targets, restored_url = restore_targets(tmp_path, target_url)
    restore_backup(made.path, targets)
    restored = connect(restored_url)
    try:
        before, after = every_row(instance.engine), every_row(restored)
    finally:
        restored.dispose()
    before["ff_audit_entries"] = before["ff_audit_entries"][:-1]  # the backup's own entry
    before["ff_audit_head"] = after["ff_audit_head"]
    assert after == before
    assert len(after["demo__item"]) == 6
    assert every_file(tmp_path / "restored" / "uploads") == every_file(
        instance.settings.uploads_dir
    )


def test_a_backup_lists_each_file_with_its_checksum_and_each_table_with_its_rows(
    instance: Instance, tmp_path: Path
) -> None:
    made = create_backup(instance, tmp_path / "backups")
    assert made.manifest.rows["demo__item"] == 6
    assert any(name.startswith("attachments/") for name in made.manifest.files)
    assert (
        "config/secret_key" in made.manifest.files
        or not (instance.settings.instance / "secret_key").exists()
    )


def test_a_backup_checks_by_restoring_it_and_counting(instance: Instance, tmp_path: Path) -> None:
    made = create_backup(instance, tmp_path / "backups")
    assert check_backup(made.path, instance.settings.database_url).rows == made.manifest.rows


def test_a_damaged_backup_fails_its_check(instance: Instance, tmp_path: Path) -> None:
    made = create_backup(instance, tmp_path / "backups")
    attachment = next(name for name in made.manifest.files if name.startswith("attachments/"))
    (made.path / attachment).write_bytes(b"changed")
    with pytest.raises(BackupError, match="does not match its checksum"):
        check_backup(made.path, instance.settings.database_url)


def test_restoring_refuses_a_folder_that_is_not_empty(instance: Instance, tmp_path: Path) -> None:
    made = create_backup(instance, tmp_path / "backups")
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(made.path, [str(instance.settings.instance), instance.settings.database_url])


def test_restoring_refuses_the_running_database(instance: Instance, tmp_path: Path) -> None:
    made = create_backup(instance, tmp_path / "backups")
    with pytest.raises(BackupError, match=r"exists|has tables"):
        restore_backup(made.path, [str(tmp_path / "new"), instance.settings.database_url])
    with read_transaction(instance.engine) as connection:
        assert "demo__item" in inspect(connection).get_table_names()


def test_the_backup_command_makes_and_checks_a_backup(instance: Instance, tmp_path: Path) -> None:
    env = {
        "FORMFLOW_INSTANCE": str(instance.settings.instance),
        "FORMFLOW_DATABASE_URL": instance.settings.database_url,
        "FORMFLOW_APPS": "",
    }
    result = CliRunner().invoke(main, ["backup", "--to", str(tmp_path / "cli")], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "checked: it restores, with every row counted"


def test_a_sqlite_backup_opened_to_look_inside_still_restores(
    instance: Instance, tmp_path: Path
) -> None:
    """An admin reading the backup's database (sqlite3, a viewer) must not spoil it: the
    copy holds no write-ahead log beside it, so reading it leaves no file behind."""
    if instance.engine.dialect.name != "sqlite":
        pytest.skip("a PostgreSQL backup is a pg_dump file")
    made = create_backup(instance, tmp_path / "backups")
    assert not [name for name in made.manifest.files if name.startswith("database.sqlite-")]
    looked_at = sqlite3.connect(made.path / "database.sqlite")
    assert looked_at.execute("SELECT count(*) FROM demo__item").fetchone() == (6,)
    looked_at.close()
    restore_backup(made.path, [str(tmp_path / "restored")])
    assert (tmp_path / "restored" / "formflow.db").is_file()


def test_a_backup_keeps_the_settings_but_no_password_or_secret(
    instance: Instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backup is copied off the machine: the mail account's password and the password in
    the Redis URL must not travel with it, as the secret key variable and the database
    password do not."""
    monkeypatch.setenv("FORMFLOW_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("FORMFLOW_SMTP_PASSWORD", "mail-pass-word")
    monkeypatch.setenv("FORMFLOW_REDIS_URL", "redis://:queue-pass-word@redis.example.com:6379/0")
    monkeypatch.setenv("FORMFLOW_SECRET_KEY", "the-secret-key")
    made = create_backup(instance, tmp_path / "backups")
    kept = (made.path / "config" / "environment.json").read_text(encoding="utf-8")
    assert "mail.example.com" in kept
    assert "redis.example.com" in kept
    for secret in ("mail-pass-word", "queue-pass-word", "the-secret-key"):
        assert secret not in kept
