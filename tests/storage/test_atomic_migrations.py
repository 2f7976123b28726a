"""One plan, one transaction: search indexes, search text and the definition version are
steps of the migration like any other, shown by a plan that changes nothing, and a step that
fails late leaves the database exactly as it was.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest
from helpers import (
    changes,
    insert_rows,
    item_form,
    migrate_to,
    plan_lines,
    schema_of,
    snapshot,
    update_rows,
    write_forms,
)
from sqlalchemy import Engine, text

from formflow.definitions import load_app
from formflow.errors import MigrationFailed, MigrationRefused
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.records.search import has_search_index, search_document
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.migrations import MigrationPlan, apply_migration, migrate
from formflow.storage.search_steps import FillSearchText
from formflow.storage.tables import SEARCH, AppSchema
from formflow.storage.versions import current_version
from support import AppWriter

ITEM = "demo__item"
SEARCHED = "{search: [name]}"
LEVEL = "{key: level, type: text, label: Level, max_length: 10}"
LEVEL_AS_NUMBER = "{key: level, type: number, label: Level}"


def search_index_line(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"create search index {ITEM}_fts (FTS5 over {ITEM}._search)"
    return f"create search index ix__{ITEM}__search on {ITEM} (GIN over _search)"


def test_a_plan_shows_the_search_index_and_search_text_steps_and_changes_nothing(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, {"name": "Acme", "level": "A"}, {"name": "华为", "level": "B"})
    before = snapshot(engine)
    app_dir = write_forms(write_app, item=item_form(LEVEL, list_view=SEARCHED))
    plan = migrate(engine, app_dir, dry_run=True).plan
    assert plan.describe() == [
        f"add column {ITEM}._search TEXT",
        "fill search text of form item for all 2 rows",
        search_index_line(engine),
        "record version 2 (1.0) of app demo as current",
    ]
    assert snapshot(engine) == before


def test_a_plan_says_what_each_step_touches_and_that_it_runs_in_one_transaction(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, {"name": "Acme", "level": "A"})
    app_dir = write_forms(write_app, item=item_form(LEVEL, list_view=SEARCHED))
    lines = migrate(engine, app_dir, dry_run=True).plan.explain()
    fts = f", {ITEM}_fts" if engine.dialect.name == "sqlite" else ""
    assert lines == [
        "all in one transaction: if any step fails, nothing is changed; no step deletes data",
        f"1. add column {ITEM}._search TEXT  [{ITEM}: schema]",
        f"2. fill search text of form item for all 1 row  [{ITEM}: derived values]",
        f"3. {search_index_line(engine)}  [{ITEM}{fts}: search index]",
        "4. record version 2 (1.0) of app demo as current  "
        "[ff_definition_versions: definition version]",
    ]


def test_a_form_that_gains_search_fields_is_searchable_once_migrated(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form())
    insert_rows(engine, ITEM, {"name": "华为技术"}, {"name": "Acme"})
    migrate_to(engine, write_app, item=item_form(list_view=SEARCHED))
    assert found(engine, "华为") == ["华为技术"]
    assert (
        changes(
            migrate(
                engine, write_forms(write_app, item=item_form(list_view=SEARCHED)), dry_run=True
            ).plan
        )
        == []
    )


def test_rows_without_search_text_get_it_and_the_others_keep_theirs(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(list_view=SEARCHED))
    insert_rows(engine, ITEM, {"name": "Acme", SEARCH: "kept"}, {"name": "Bolt"})
    note = "{key: note, type: text, label: Note}"
    result = migrate_to(engine, write_app, item=item_form(note, list_view=SEARCHED))
    assert "fill search text of form item for 1 row that have none" in changes(result.plan)
    assert search_texts(engine) == ["kept", "bolt"]


def test_a_changed_search_list_works_out_every_rows_search_text_again(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL, list_view=SEARCHED))
    insert_rows(engine, ITEM, {"name": "Acme", "level": "华为", SEARCH: "acme"})
    result = migrate_to(
        engine, write_app, item=item_form(LEVEL, list_view="{search: [name, level]}")
    )
    assert changes(result.plan) == ["fill search text of form item for all 1 row"]
    assert search_texts(engine) == [search_document(["Acme", "华为"])]


def test_a_default_filled_into_a_searched_field_gets_into_its_search_text(
    engine: Engine, write_app: AppWriter
) -> None:
    searched = "{search: [name, note]}"
    note = "{key: note, type: text, label: Note}"
    migrate_to(engine, write_app, item=item_form(note, list_view=searched))
    insert_rows(engine, ITEM, {"name": "Acme", SEARCH: "acme"})
    required = "{key: note, type: text, label: Note, required: true, default: 华为}"
    result = migrate_to(engine, write_app, item=item_form(required, list_view=searched))
    assert changes(result.plan)[-1] == "fill search text of form item for all 1 row"
    assert search_texts(engine) == [search_document(["Acme", "华为"])]


def test_a_form_without_search_fields_loses_its_index_and_gets_it_back_whole(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(list_view=SEARCHED))
    insert_rows(engine, ITEM, {"name": "Acme"})
    result = migrate_to(engine, write_app, item=item_form())
    assert changes(result.plan) == [drop_line(engine)]
    assert not search_index_exists(engine)
    update_rows(engine, ITEM, "name", {1: "Bolt"})
    result = migrate_to(engine, write_app, item=item_form(list_view=SEARCHED))
    assert changes(result.plan) == [
        "fill search text of form item for all 1 row",
        search_index_line(engine),
    ]
    assert found(engine, "bolt") == ["Bolt"]
    assert found(engine, "acme") == []


def test_search_text_is_filled_in_batches(engine: Engine, write_app: AppWriter) -> None:
    app_dir = write_forms(write_app, item=item_form(list_view=SEARCHED))
    migrate(engine, app_dir, dry_run=False)
    insert_rows(engine, ITEM, *({"name": f"Acme {n}", SEARCH: "stale"} for n in range(3)))
    step = FillSearchText("item", ITEM, 3, True, schema_of(app_dir), batch=2)
    apply_migration(engine, MigrationPlan((step,)))
    assert search_texts(engine) == [search_document([f"Acme {n}"]) for n in range(3)]


def test_a_failing_back_fill_leaves_the_database_exactly_as_it_was(
    engine: Engine, write_app: AppWriter
) -> None:
    """Columns added, values converted, search text and the version all go back."""
    migrate_to(engine, write_app, item=item_form(LEVEL_AS_NUMBER, list_view=SEARCHED))
    insert_rows(engine, ITEM, {"name": "Acme", "level": 7}, {"name": "Bolt", "level": 8})
    refuse_search_text(engine)
    before = snapshot(engine)
    note = "{key: note, type: text, label: Note}"
    searched = "{search: [name, level]}"
    app_dir = write_forms(write_app, item=item_form(LEVEL, note, list_view=searched))
    lines = changes(migrate(engine, app_dir, dry_run=True).plan)
    assert f"add column {ITEM}.note VARCHAR(255)" in lines
    assert any(line.startswith(f"change type of {ITEM}.level from ") for line in lines)
    assert lines[-1] == "fill search text of form item for all 2 rows"
    with pytest.raises(MigrationFailed, match="fill search text of form item"):
        migrate(engine, app_dir, dry_run=False)
    assert snapshot(engine) == before
    assert version_number(engine) == 1


def test_a_unique_index_failing_after_the_search_steps_leaves_the_database_as_it_was(
    engine: Engine, write_app: AppWriter
) -> None:
    """'7' and '07' differ as text and clash as numbers: the last step fails, after the
    conversion, the search text and the new search index."""
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, {"name": "Acme", "level": "7"}, {"name": "Bolt", "level": "07"})
    before = snapshot(engine)
    unique = "{key: level, type: number, label: Level, unique: true}"
    app_dir = write_forms(write_app, item=item_form(unique, list_view=SEARCHED))
    lines = changes(migrate(engine, app_dir, dry_run=True).plan)
    assert lines.index(search_index_line(engine)) < len(lines) - 1
    with pytest.raises(MigrationRefused, match="unique index"):
        migrate(engine, app_dir, dry_run=False)
    assert snapshot(engine) == before
    assert not search_index_exists(engine)
    assert version_number(engine) == 1


def refuse_search_text(engine: Engine) -> None:
    """A trigger that makes every write of search text fail, as a full disk would."""
    statements = (
        [
            f"CREATE TRIGGER refuse_search BEFORE UPDATE OF {SEARCH} ON {ITEM} "
            "BEGIN SELECT RAISE(ABORT, 'search text refused'); END"
        ]
        if engine.dialect.name == "sqlite"
        else [
            "CREATE FUNCTION refuse_search() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'search text refused'; END $$",
            f"CREATE TRIGGER refuse_search BEFORE UPDATE OF {SEARCH} ON {ITEM} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_search()",
        ]
    )
    with write_transaction(engine) as connection:
        for statement in statements:
            connection.execute(text(statement))


def drop_line(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"drop search index {ITEM}_fts of {ITEM}: the form has no search fields"
    return f"drop search index ix__{ITEM}__search of {ITEM}: the form has no search fields"


def search_index_exists(engine: Engine) -> bool:
    with read_transaction(engine) as connection:
        return has_search_index(connection, ITEM)


def search_texts(engine: Engine) -> list[str | None]:
    with read_transaction(engine) as connection:
        query = f"SELECT {SEARCH} FROM {ITEM} ORDER BY id"
        return list(connection.execute(text(query)).scalars())


def version_number(engine: Engine) -> int | None:
    with read_transaction(engine) as connection:
        version = current_version(connection, "demo")
    return version.number if version else None


def found(engine: Engine, words: str) -> list[str]:
    """The names of the items a search for ``words`` finds, through the record service."""
    with read_transaction(engine) as connection:
        version = current_version(connection, "demo")
    assert version is not None
    schema = AppSchema(load_app(version.files))
    page = RecordService(engine, schema).find(Actor.system(), "item", Query(search=words))
    return [row["name"] for row in page.rows]


def test_a_search_index_rewritten_on_every_update_is_narrowed_by_the_next_migration(
    engine: Engine, write_app: AppWriter
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's index is kept by triggers; PostgreSQL's GIN index by itself")
    migrate_to(engine, write_app, item=item_form(list_view=SEARCHED))
    insert_rows(engine, ITEM, {"name": "Acme"})
    fts = f'"{ITEM}_fts"'
    with write_transaction(engine) as connection:  # the trigger as sqlite-utils makes it
        connection.execute(text(f'DROP TRIGGER "{ITEM}_au"'))
        connection.execute(
            text(
                f'CREATE TRIGGER "{ITEM}_au" AFTER UPDATE ON "{ITEM}" BEGIN'
                f" INSERT INTO {fts} ({fts}, rowid, _search) VALUES ('delete', old.rowid, old._search);"
                f" INSERT INTO {fts} (rowid, _search) VALUES (new.rowid, new._search); END"
            )
        )
    result = migrate_to(engine, write_app, item=item_form(LEVEL, list_view=SEARCHED))
    assert search_index_line(engine) in changes(result.plan)
    again = plan_lines(
        engine,
        write_app,
        item=item_form(LEVEL, "{key: note, type: text, label: Note}", list_view=SEARCHED),
    )
    assert search_index_line(engine) not in again  # narrowed once
    assert found(engine, "acme") == ["Acme"]
