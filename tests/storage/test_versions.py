"""Definition versions: what each migration stores, and rolling back to an earlier one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import (
    changes,
    column_values,
    insert_rows,
    item_form,
    migrate_to,
    stored_rows,
    write_forms,
)
from sqlalchemy import Engine

from formflow.definitions import load_app
from formflow.storage.database import read_transaction
from formflow.storage.migrations import migrate, rollback
from formflow.storage.versions import (
    StoredVersion,
    VersionError,
    VersionNotFound,
    current_version,
    get_version,
    list_versions,
    read_app_files,
    write_files,
)
from support import AppWriter

ITEM = "demo__item"
LEVEL = "{key: level, type: text, label: Level}"
GRADE = "{key: grade, type: text, label: Grade}"
CREATED = datetime(2026, 1, 31, tzinfo=UTC)


def versions(engine: Engine) -> list[StoredVersion]:
    with read_transaction(engine) as connection:
        return list_versions(connection, "demo")


def current(engine: Engine) -> StoredVersion | None:
    with read_transaction(engine) as connection:
        return current_version(connection, "demo")


def test_a_database_never_migrated_has_no_current_version(engine: Engine) -> None:
    assert current(engine) is None


def test_the_first_migration_records_version_1_as_current(
    engine: Engine, write_app: AppWriter
) -> None:
    result = migrate_to(engine, write_app, item=item_form())
    assert result.version is not None
    assert (result.version.number, result.version.version_label) == (1, "1.0")
    assert result.version == current(engine)


def test_a_version_keeps_the_digest_of_its_definition(engine: Engine, write_app: AppWriter) -> None:
    app_dir = write_forms(write_app, item=item_form())
    migrate(engine, app_dir, dry_run=False)
    version = current(engine)
    assert version is not None
    assert version.digest == load_app(app_dir).digest


def test_each_changed_definition_becomes_the_next_current_version(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form())
    migrate_to(engine, write_app, item=item_form(LEVEL))
    assert [(v.number, v.is_current) for v in versions(engine)] == [(1, False), (2, True)]


def test_an_unchanged_definition_records_no_version(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form())
    result = migrate_to(engine, write_app, item=item_form())
    assert result.version is None
    assert len(versions(engine)) == 1


def test_a_new_label_alone_records_a_version(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form())
    result = migrate_to(engine, write_app, item=item_form().replace("Item", "Article"))
    assert changes(result.plan) == []
    assert result.version is not None
    assert result.version.number == 2


def test_a_dry_run_records_no_version(engine: Engine, write_app: AppWriter) -> None:
    migrate(engine, write_forms(write_app, item=item_form()), dry_run=True)
    assert versions(engine) == []


def test_a_version_stores_every_definition_file_of_the_folder(
    engine: Engine, write_app: AppWriter
) -> None:
    app_dir = write_forms(write_app, item=item_form())
    migrate(engine, app_dir, dry_run=False)
    version = current(engine)
    assert version is not None
    assert dict(version.files) == {
        "app.yaml": (app_dir / "app.yaml").read_text(encoding="utf-8"),
        "forms/item.yaml": item_form(),
    }


def test_read_app_files_reads_yaml_files_only(tmp_path: Path) -> None:
    (tmp_path / "forms").mkdir()
    (tmp_path / "app.yaml").write_text("key: demo\n", encoding="utf-8")
    (tmp_path / "forms" / "item.yaml").write_text("key: item\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# notes\n", encoding="utf-8")
    assert read_app_files(tmp_path) == {"app.yaml": "key: demo\n", "forms/item.yaml": "key: item\n"}


def test_a_stored_version_can_be_written_out_and_compiled_again(
    engine: Engine, write_app: AppWriter, tmp_path: Path
) -> None:
    app_dir = write_forms(write_app, item=item_form(LEVEL))
    migrate(engine, app_dir, dry_run=False)
    version = current(engine)
    assert version is not None
    folder = write_files(version, tmp_path / "restored")
    assert load_app(folder).digest == version.digest


def test_a_version_with_a_path_outside_its_folder_is_not_written(tmp_path: Path) -> None:
    version = StoredVersion("demo", 1, "1.0", "0" * 64, {"../evil.yaml": "x"}, True, CREATED)
    with pytest.raises(VersionError, match="unsafe path"):
        write_files(version, tmp_path / "out")


def test_asking_for_a_missing_version_raises_version_not_found(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form())
    with read_transaction(engine) as connection, pytest.raises(VersionNotFound, match="7"):
        get_version(connection, "demo", 7)


def test_rollback_records_the_old_files_as_a_new_version(
    engine: Engine, write_app: AppWriter
) -> None:
    first = migrate_to(engine, write_app, item=item_form(LEVEL)).version
    migrate_to(engine, write_app, item=item_form(GRADE))
    result = rollback(engine, "demo", 1)
    assert first is not None
    assert result.version is not None
    assert (result.version.number, result.version.note) == (3, "rollback to version 1")
    assert result.version.files == first.files


def test_rollback_restores_the_earlier_shape_without_losing_data(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    (old,) = insert_rows(engine, ITEM, {"name": "old", "level": "A"})
    migrate_to(engine, write_app, item=item_form(GRADE))
    (new,) = insert_rows(engine, ITEM, {"name": "new", "grade": "G"})
    rollback(engine, "demo", 1)
    assert column_values(engine, ITEM, "level") == {old: "A", new: None}
    assert stored_rows(engine, ITEM)[new]["grade"] == "G"


def test_rolling_back_to_a_missing_version_raises_version_not_found(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form())
    with pytest.raises(VersionNotFound):
        rollback(engine, "demo", 2)
