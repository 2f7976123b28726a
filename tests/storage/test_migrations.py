"""Migrations: the plan a person reads, and what applying it does to stored data.

Every test runs on SQLite and on PostgreSQL. A test migrates the small demo app to a first
definition, stores rows, migrates to a second definition and looks at the rows.
"""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import (
    NOW,
    changes,
    column_values,
    insert_rows,
    item_form,
    migrate_to,
    plan_lines,
    schema_of,
    stored_rows,
    write_forms,
)
from sqlalchemy import Engine, inspect, text

from formflow.definitions import Field, load_app
from formflow.errors import MigrationRefused
from formflow.records.search import ensure_search_index
from formflow.storage.conversions import convert
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.migrations import (
    MigrationPlan,
    apply_migration,
    apply_operations,
    migrate,
    migration_transaction,
    plan_migration,
    plan_purge,
)
from formflow.storage.versions import current_version
from support import CRM_APP, MINIMAL_APP_YAML, AppWriter

ITEM = "demo__item"
LEVEL = "{key: level, type: text, label: Level, max_length: 10}"
LEVEL_AS_NUMBER = "{key: level, type: number, label: Level}"


def test_an_empty_database_gets_the_platform_tables_and_the_app_tables(
    engine: Engine, write_app: AppWriter
) -> None:
    lines = plan_lines(engine, write_app, item=item_form())
    assert "create table ff_definition_versions (9 columns)" in lines
    assert f"create table {ITEM} (10 columns)" in lines
    assert f"create index ix__{ITEM}__id on {ITEM} (-id)" in lines


def test_a_dry_run_changes_nothing(engine: Engine, write_app: AppWriter) -> None:
    migrate(engine, write_forms(write_app, item=item_form()), dry_run=True)
    assert inspect(engine).get_table_names() == []


def test_a_new_field_is_planned_as_an_added_column(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form())
    wechat = "{key: wechat, type: text, label: WeChat, max_length: 100}"
    assert plan_lines(engine, write_app, item=item_form(wechat)) == [
        f"add column {ITEM}.wechat VARCHAR(100)"
    ]


def test_existing_rows_have_no_value_in_a_new_field(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form())
    (row,) = insert_rows(engine, ITEM, {"name": "first"})
    migrate_to(engine, write_app, item=item_form(LEVEL))
    assert column_values(engine, ITEM, "level") == {row: None}


def test_a_new_link_field_references_its_form(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(), box=item_form().replace("item", "box"))
    link = "{key: box, type: link, label: Box, form: box, on_delete: set_null}"
    migrate_to(engine, write_app, item=item_form(link), box=item_form().replace("item", "box"))
    keys = inspect(engine).get_foreign_keys(ITEM)
    assert [key["referred_table"] for key in keys if key["constrained_columns"] == ["box"]] == [
        "demo__box"
    ]


def test_a_renamed_field_is_planned_as_a_renamed_column(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    grade = "{key: grade, type: text, label: Grade, max_length: 10, renamed_from: level}"
    lines = plan_lines(engine, write_app, item=item_form(grade))
    assert f"rename column {ITEM}.level to grade (data kept)" in lines


def test_a_renamed_field_keeps_its_values(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    (row,) = insert_rows(engine, ITEM, {"name": "first", "level": "A"})
    grade = "{key: grade, type: text, label: Grade, max_length: 10, renamed_from: level}"
    migrate_to(engine, write_app, item=item_form(grade))
    assert column_values(engine, ITEM, "grade") == {row: "A"}
    assert "level" not in stored_rows(engine, ITEM)[row]


def test_a_field_whose_key_changed_without_renamed_from_is_named_as_a_possible_rename(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    grade = "{key: grade, type: text, label: Grade, max_length: 10}"
    lines = plan_lines(engine, write_app, item=item_form(grade))
    assert (
        f"keep column {ITEM}.level hidden: the field was removed; its data stays until a purge. "
        "If grade is this field renamed, write `renamed_from: level` on it to keep the values"
    ) in lines


def test_a_removed_field_beside_a_new_field_of_another_type_is_no_possible_rename(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    lines = plan_lines(engine, write_app, item=item_form("{key: qty, type: number, label: Qty}"))
    assert (
        f"keep column {ITEM}.level hidden: the field was removed; its data stays until a purge"
    ) in lines


def test_a_removed_field_is_planned_as_a_hidden_column(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    assert plan_lines(engine, write_app, item=item_form()) == [
        f"keep column {ITEM}.level hidden: the field was removed; its data stays until a purge"
    ]


def test_a_removed_field_keeps_its_values_in_the_database(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    (row,) = insert_rows(engine, ITEM, {"name": "first", "level": "A"})
    migrate_to(engine, write_app, item=item_form())
    assert column_values(engine, ITEM, "level") == {row: "A"}


def test_a_field_added_again_finds_its_values(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    (row,) = insert_rows(engine, ITEM, {"name": "first", "level": "A"})
    migrate_to(engine, write_app, item=item_form())
    result = migrate_to(engine, write_app, item=item_form(LEVEL))
    assert changes(result.plan) == []
    assert column_values(engine, ITEM, "level") == {row: "A"}


def test_a_type_change_some_rows_cannot_survive_is_refused_with_examples(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, *({"name": "x", "level": level} for level in ("A", "12", "B")))
    lines = plan_lines(engine, write_app, item=item_form(LEVEL_AS_NUMBER))
    assert lines[-1] == (
        f"refused: {ITEM}.level: 2 rows cannot become NUMBER: id 1 'A', id 3 'B'. Ways forward: "
        "add a new field with the new type instead and leave this one as it is; or fix those "
        "rows and migrate again; or keep the old type."
    )


def test_a_refusal_shows_five_examples_and_counts_the_rest(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, *({"name": "x", "level": f"L{n}"} for n in range(7)))
    lines = plan_lines(engine, write_app, item=item_form(LEVEL_AS_NUMBER))
    assert "7 rows cannot become NUMBER: id 1 'L0', id 2 'L1', id 3 'L2', id 4 'L3', " in lines[-1]
    assert "id 5 'L4' and 2 more. Ways forward" in lines[-1]


def test_a_refused_migration_changes_nothing(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, {"name": "x", "level": "A"})
    before = stored_rows(engine, ITEM)
    extra = "{key: extra, type: text, label: Extra}"
    with pytest.raises(MigrationRefused, match="1 row cannot become NUMBER"):
        migrate_to(engine, write_app, item=item_form(LEVEL_AS_NUMBER, extra))
    assert stored_rows(engine, ITEM) == before
    with read_transaction(engine) as connection:
        version = current_version(connection, "demo")
    assert version is not None
    assert version.number == 1


def test_a_convertible_type_change_converts_every_value(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    rows = insert_rows(engine, ITEM, {"name": "x", "level": "12"}, {"name": "y", "level": " -7 "})
    migrate_to(engine, write_app, item=item_form(LEVEL_AS_NUMBER))
    assert column_values(engine, ITEM, "level") == dict(zip(rows, [12, -7], strict=True))


def test_a_type_change_is_planned_with_both_types(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    lines = plan_lines(engine, write_app, item=item_form(LEVEL_AS_NUMBER))
    assert (
        f"change type of {ITEM}.level from VARCHAR(10) to BIGINT (every value converted)" in lines
    )


def test_fewer_decimals_are_refused_where_a_value_would_be_rounded(
    engine: Engine, write_app: AppWriter
) -> None:
    price = "{key: price, type: number, label: Price, scale: 2}"
    migrate_to(engine, write_app, item=item_form(price))
    insert_rows(engine, ITEM, {"name": "x", "price": Decimal("1.20")})
    insert_rows(engine, ITEM, {"name": "y", "price": Decimal("1.25")})
    lines = plan_lines(engine, write_app, item=item_form(price.replace("2}", "1}")))
    assert "1 row cannot become NUMBER(1 decimals): id 2 1.25." in lines[-1]


def test_fewer_decimals_keep_values_that_need_no_rounding(
    engine: Engine, write_app: AppWriter
) -> None:
    price = "{key: price, type: number, label: Price, scale: 2}"
    migrate_to(engine, write_app, item=item_form(price))
    (row,) = insert_rows(engine, ITEM, {"name": "x", "price": Decimal("1.20")})
    migrate_to(engine, write_app, item=item_form(price.replace("2}", "1}")))
    assert column_values(engine, ITEM, "price") == {row: Decimal("1.2")}


def test_a_longer_text_is_a_widening_that_keeps_every_value(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    (row,) = insert_rows(engine, ITEM, {"name": "x", "level": "ABCDEFGHIJ"})
    result = migrate_to(engine, write_app, item=item_form(LEVEL.replace("10}", "50}")))
    assert (
        f"change type of {ITEM}.level from VARCHAR(10) to VARCHAR(50) (widening, values "
        "unchanged)" in changes(result.plan)
    )
    assert column_values(engine, ITEM, "level") == {row: "ABCDEFGHIJ"}


def test_a_shorter_text_is_refused_where_a_value_is_too_long(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, {"name": "x", "level": "ABCDEF"})
    lines = plan_lines(engine, write_app, item=item_form(LEVEL.replace("10}", "5}")))
    assert "1 row cannot become TEXT(5): id 1 'ABCDEF'." in lines[-1]


def test_a_whole_number_becomes_a_decimal_unchanged(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL_AS_NUMBER))
    (row,) = insert_rows(engine, ITEM, {"name": "x", "level": 42})
    migrate_to(engine, write_app, item=item_form(LEVEL_AS_NUMBER.replace("}", ", scale: 2}")))
    assert column_values(engine, ITEM, "level") == {row: Decimal("42.00")}


def test_a_select_becomes_a_multiselect_of_its_one_value(
    engine: Engine, write_app: AppWriter
) -> None:
    options = "options: [{value: A, label: A}, {value: B, label: B}]"
    migrate_to(
        engine, write_app, item=item_form(f"{{key: level, type: select, label: L, {options}}}")
    )
    (row,) = insert_rows(engine, ITEM, {"name": "x", "level": "A"})
    multiselect = f"{{key: level, type: multiselect, label: L, {options}}}"
    migrate_to(engine, write_app, item=item_form(multiselect))
    assert column_values(engine, ITEM, "level") == {row: ["A"]}


def test_a_link_cannot_become_another_kind_of_field(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form("{key: owner, type: user, label: Owner}"))
    lines = plan_lines(engine, write_app, item=item_form("{key: owner, type: text, label: O}"))
    assert lines[-1].startswith(
        f"refused: {ITEM}.owner: changing a field from user to text is not supported"
    )


def test_a_type_change_keeps_the_rows_of_subtables(engine: Engine, write_app: AppWriter) -> None:
    rows = (
        "{key: lines, type: subtable, label: Lines, fields: [{key: qty, type: number, label: Q}]}"
    )
    migrate_to(engine, write_app, item=item_form(LEVEL, rows))
    (parent,) = insert_rows(engine, ITEM, {"name": "x", "level": "7"})
    insert_rows(engine, f"{ITEM}__lines", {"_parent_id": parent, "_position": 1, "qty": 3})
    migrate_to(engine, write_app, item=item_form(LEVEL_AS_NUMBER, rows))
    assert column_values(engine, f"{ITEM}__lines", "qty") == {1: 3}


def test_an_indexed_field_gets_its_index(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    indexed = LEVEL.replace("}", ", indexed: true}")
    assert plan_lines(engine, write_app, item=item_form(indexed)) == [
        f"create index ix__{ITEM}__level on {ITEM} (level)"
    ]


def test_an_index_the_model_no_longer_derives_is_dropped(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL.replace("}", ", indexed: true}")))
    assert plan_lines(engine, write_app, item=item_form(LEVEL)) == [
        f"drop index ix__{ITEM}__level on {ITEM}"
    ]
    migrate_to(engine, write_app, item=item_form(LEVEL))
    names = {index["name"] for index in inspect(engine).get_indexes(ITEM)}
    assert f"ix__{ITEM}__level" not in names


def test_a_declared_composite_index_keeps_its_order_and_ends_with_id(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    lines = plan_lines(
        engine, write_app, item=item_form(LEVEL, indexes=["{fields: [level, -created_at]}"])
    )
    assert (
        f"create index ix__{ITEM}__level__created_at__id on {ITEM} (level, -created_at, -id)"
        in lines
    )


def test_a_unique_index_live_duplicates_break_is_refused(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, *({"name": "x", "level": "A"} for _ in range(3)))
    lines = plan_lines(engine, write_app, item=item_form(LEVEL.replace("}", ", unique: true}")))
    assert lines[-1] == (
        f"refused: {ITEM}: 1 value of (level) appears in more than one live record, so the "
        f"unique index uq__{ITEM}__level cannot be created: level='A' in 3 records. Ways "
        "forward: make those records' values differ, or drop `unique` from the definition."
    )


def test_a_unique_refusal_on_a_renamed_field_names_the_values_by_the_new_key(
    engine: Engine, write_app: AppWriter
) -> None:
    """The admin wrote ``grade``; the clash must not be shown under the old column name."""
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, *({"name": "x", "level": "A"} for _ in range(2)))
    grade = (
        "{key: grade, type: text, label: Grade, max_length: 10, renamed_from: level, unique: true}"
    )
    lines = plan_lines(engine, write_app, item=item_form(grade))
    assert lines[-1].startswith(
        f"refused: {ITEM}: 1 value of (grade) appears in more than one live record, so the "
        f"unique index uq__{ITEM}__grade cannot be created: grade='A' in 2 records."
    )


def test_records_in_the_recycle_bin_do_not_count_as_duplicates(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, {"name": "x", "level": "A"})
    insert_rows(engine, ITEM, {"name": "y", "level": "A", "_deleted_at": NOW})
    result = migrate_to(engine, write_app, item=item_form(LEVEL.replace("}", ", unique: true}")))
    assert result.plan.refusals == ()


def test_a_new_form_gets_its_table_and_its_subtable(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form())
    rows = (
        "{key: lines, type: subtable, label: Lines, fields: [{key: qty, type: number, label: Q}]}"
    )
    lines = plan_lines(
        engine, write_app, item=item_form(), order=item_form(rows).replace("item", "order")
    )
    assert "create table demo__order (10 columns)" in lines
    assert "create table demo__order__lines (4 columns)" in lines


def test_a_removed_form_keeps_its_table_hidden(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(), box=item_form().replace("item", "box"))
    (row,) = insert_rows(engine, "demo__box", {"name": "kept"})
    result = migrate_to(engine, write_app, item=item_form())
    assert changes(result.plan) == [
        "keep table demo__box hidden: it was removed; its data stays until a purge"
    ]
    assert column_values(engine, "demo__box", "name") == {row: "kept"}


def test_a_renamed_subtable_keeps_its_rows(engine: Engine, write_app: AppWriter) -> None:
    rows = "{key: lines, type: subtable, label: L, fields: [{key: qty, type: number, label: Q}]}"
    migrate_to(engine, write_app, item=item_form(rows))
    (parent,) = insert_rows(engine, ITEM, {"name": "x"})
    insert_rows(engine, f"{ITEM}__lines", {"_parent_id": parent, "_position": 1, "qty": 3})
    renamed = rows.replace("key: lines,", "key: items, renamed_from: lines,")
    result = migrate_to(engine, write_app, item=item_form(renamed))
    assert f"rename table {ITEM}__lines to {ITEM}__items (data kept)" in changes(result.plan)
    assert column_values(engine, f"{ITEM}__items", "qty") == {1: 3}


def test_apply_migration_refuses_a_plan_with_refusals(engine: Engine) -> None:
    plan = MigrationPlan(refusals=("demo__item.level: 1 row cannot become NUMBER: id 1 'A'",))
    with pytest.raises(MigrationRefused, match=r"nothing was changed:\n- demo__item\.level"):
        apply_migration(engine, plan)


def test_the_crm_app_migrates_from_an_empty_database(engine: Engine) -> None:
    result = migrate(engine, CRM_APP, dry_run=False)
    assert result.version is not None
    assert "crm_sfa__quote__items" in inspect(engine).get_table_names()


def test_migrating_the_crm_app_again_has_nothing_to_do(engine: Engine) -> None:
    migrate(engine, CRM_APP, dry_run=False)
    again = migrate(engine, CRM_APP, dry_run=False)
    assert again.plan.is_empty
    assert again.version is None


def test_a_plan_against_the_database_alone_sees_what_exists(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    new = schema_of(write_forms(write_app, item=item_form(LEVEL)))
    with read_transaction(engine) as connection:
        assert plan_migration(connection, new, previous=None).is_empty


def test_a_new_link_field_keeps_its_on_delete_rule(engine: Engine, write_app: AppWriter) -> None:
    box = item_form().replace("item", "box")
    migrate_to(engine, write_app, item=item_form(), box=box)
    link = "{key: box, type: link, label: Box, form: box, on_delete: set_null}"
    migrate_to(engine, write_app, item=item_form(link), box=box)
    (box_id,) = insert_rows(engine, "demo__box", {"name": "box"})
    (row,) = insert_rows(engine, ITEM, {"name": "x", "box": box_id})
    with write_transaction(engine) as connection:
        connection.execute(text("DELETE FROM demo__box"))
    assert column_values(engine, ITEM, "box") == {row: None}


def test_a_purge_plans_to_drop_hidden_columns_and_tables(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL), box=item_form().replace("item", "box"))
    app_dir = write_forms(write_app, item=item_form())
    migrate(engine, app_dir, dry_run=False)
    with read_transaction(engine) as connection:
        plan = plan_purge(connection, schema_of(app_dir))
    assert plan.describe() == [
        f"drop hidden column {ITEM}.level and its data",
        "drop hidden table demo__box and its data",
    ]


def test_a_purge_drops_hidden_data_for_good(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL), box=item_form().replace("item", "box"))
    insert_rows(engine, ITEM, {"name": "x", "level": "A"})
    app_dir = write_forms(write_app, item=item_form())
    migrate(engine, app_dir, dry_run=False)
    purge(engine, app_dir)
    assert "level" not in stored_rows(engine, ITEM)[1]
    assert "demo__box" not in inspect(engine).get_table_names()


def test_a_purge_without_hidden_data_has_nothing_to_do(
    engine: Engine, write_app: AppWriter
) -> None:
    app_dir = write_forms(write_app, item=item_form(LEVEL))
    migrate(engine, app_dir, dry_run=False)
    with read_transaction(engine) as connection:
        assert plan_purge(connection, schema_of(app_dir)).is_empty


def test_a_purged_link_column_takes_no_subtable_row_with_it(
    engine: Engine, write_app: AppWriter
) -> None:
    rows = "{key: lines, type: subtable, label: L, fields: [{key: qty, type: number, label: Q}]}"
    owner = "{key: owner, type: user, label: Owner}"
    migrate_to(engine, write_app, item=item_form(owner, rows))
    (parent,) = insert_rows(engine, ITEM, {"name": "x"})
    insert_rows(engine, f"{ITEM}__lines", {"_parent_id": parent, "_position": 1, "qty": 3})
    app_dir = write_forms(write_app, item=item_form(rows))
    migrate(engine, app_dir, dry_run=False)
    purge(engine, app_dir)
    assert column_values(engine, f"{ITEM}__lines", "qty") == {1: 3}


def test_a_purge_keeps_the_sort_order_of_indexes(engine: Engine, write_app: AppWriter) -> None:
    owner = "{key: owner, type: user, label: Owner}"
    migrate_to(engine, write_app, item=item_form(owner))
    app_dir = write_forms(write_app, item=item_form())
    migrate(engine, app_dir, dry_run=False)
    purge(engine, app_dir)
    assert "DESC" in index_definition(engine, f"ix__{ITEM}__id")


def test_migrations_and_purges_leave_the_search_index_alone(
    engine: Engine, write_app: AppWriter
) -> None:
    app_dir = write_forms(write_app, item=item_form(list_view="{search: [name]}"))
    migrate(engine, app_dir, dry_run=False)
    with write_transaction(engine) as connection:
        ensure_search_index(connection, schema_of(app_dir), "item")
    assert migrate(engine, app_dir, dry_run=True).plan.is_empty
    with read_transaction(engine) as connection:
        assert plan_purge(connection, schema_of(app_dir)).is_empty


def purge(engine: Engine, app_dir: Path) -> None:
    with read_transaction(engine) as connection:
        plan = plan_purge(connection, schema_of(app_dir))
    apply_migration(engine, plan)


def index_definition(engine: Engine, name: str) -> str:
    """The SQL that creates an index, as the database keeps it."""
    query = (
        "SELECT sql FROM sqlite_master WHERE name = :name"
        if engine.dialect.name == "sqlite"
        else "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    )
    with read_transaction(engine) as connection:
        return str(connection.execute(text(query), {"name": name}).scalar_one())


def test_a_removed_subtable_keeps_its_table_hidden(engine: Engine, write_app: AppWriter) -> None:
    rows = "{key: lines, type: subtable, label: L, fields: [{key: qty, type: number, label: Q}]}"
    migrate_to(engine, write_app, item=item_form(rows))
    assert plan_lines(engine, write_app, item=item_form()) == [
        f"keep table {ITEM}__lines hidden: it was removed; its data stays until a purge"
    ]


def test_a_field_renamed_and_narrowed_at_once_is_checked_under_its_old_name(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(LEVEL))
    insert_rows(engine, ITEM, {"name": "x", "level": "ABCDEF"})
    grade = "{key: grade, type: text, label: Grade, max_length: 3, renamed_from: level}"
    lines = plan_lines(engine, write_app, item=item_form(grade))
    assert f"refused: {ITEM}.grade: 1 row cannot become TEXT(3): id 1 'ABCDEF'." in lines[-1]


@pytest.mark.parametrize(
    ("target", "stored", "converted"),
    [
        ("{type: number}", " 42 ", 42),
        ("{type: number, scale: 2}", "1.5", Decimal("1.50")),
        ("{type: number, scale: 2}", 7, Decimal("7.00")),
        ("{type: number}", Decimal("3.00"), 3),
        ("{type: text, max_length: 10}", Decimal("12.50"), "12.50"),
        ("{type: text, max_length: 10}", date(2026, 1, 31), "2026-01-31"),
        ("{type: date}", "2026-01-31", date(2026, 1, 31)),
        ("{type: bool}", "true", True),
        ("{type: multiselect, options: [{value: A, label: A}]}", "A", ["A"]),
        ("{type: select, options: [{value: A, label: A}]}", ["A"], "A"),
    ],
)
def test_stored_values_convert_exactly(
    target: str, stored: object, converted: object, tmp_path: Path
) -> None:
    assert convert(stored, field_of(target, tmp_path)) == converted


@pytest.mark.parametrize(
    ("target", "stored"),
    [
        ("{type: number}", "A"),
        ("{type: number}", "1.5"),
        ("{type: number}", Decimal("2.50")),
        ("{type: number, scale: 1}", Decimal("1.25")),
        ("{type: number, scale: 2}", "1e3"),
        ("{type: text, max_length: 3}", "ABCD"),
        ("{type: date}", "31/01/2026"),
        ("{type: bool}", "maybe"),
        ("{type: select, options: [{value: A, label: A}]}", ["A", "B"]),
    ],
)
def test_values_that_would_lose_something_do_not_convert(
    target: str, stored: object, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        convert(stored, field_of(target, tmp_path))


def field_of(settings: str, app_dir: Path) -> Field:
    """The ``level`` field of an item form, written with these settings."""
    yaml = "{key: level, label: Level, " + settings.removeprefix("{")
    (app_dir / "forms").mkdir()
    (app_dir / "app.yaml").write_text(MINIMAL_APP_YAML, encoding="utf-8")
    (app_dir / "forms" / "item.yaml").write_text(item_form(yaml), encoding="utf-8")
    return load_app(app_dir).form("item").field("level")


def test_a_migration_waits_for_one_in_progress(engine: Engine, write_app: AppWriter) -> None:
    """The second plans against what the first committed: one new version, no error."""
    migrate_to(engine, write_app, item=item_form())
    app_dir = write_forms(write_app, item=item_form(LEVEL))
    outcome: list[object] = []

    def second() -> None:
        try:
            outcome.append(migrate(engine, app_dir, dry_run=False))
        except Exception as error:  # reported by the assertion below
            outcome.append(error)

    first = migrate(engine, app_dir, dry_run=True).plan
    with migration_transaction(engine) as connection:
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive(), "the second migration did not wait"
        apply_operations(connection, first)
    waiting.join(timeout=30)
    assert len(outcome) == 1
    assert not isinstance(outcome[0], Exception), outcome[0]
    with read_transaction(engine) as connection:
        assert "level" in {c["name"] for c in inspect(connection).get_columns(ITEM)}
