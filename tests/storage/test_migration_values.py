"""Migrations that change what stored values mean: formulas, options, requirements, renames.

A definition that validates must also work at run time on the records already stored. Each
test shows the plan a person reads (`formflow migrate --plan` prints these lines), then what
applying it does to the rows; every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import tempfile
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
    stored_rows,
)
from sqlalchemy import Engine

from formflow.errors import MigrationRefused
from formflow.storage import recompute
from formflow.storage.database import read_transaction
from formflow.storage.migrations import MigrationResult, migrate, rollback
from formflow.storage.versions import get_version, write_files
from support import AppWriter

ITEM = "demo__item"
LINES = "demo__item__lines"
QTY = "{key: qty, type: number, label: Qty}"


def formula(key: str, expression: str, scale: int = 0) -> str:
    return f'{{key: {key}, type: formula, label: F, scale: {scale}, expression: "{expression}"}}'


def select(key: str, *values: str, extra: str = "") -> str:
    options = ", ".join(f"{{value: {value}, label: {value}}}" for value in values)
    return f"{{key: {key}, type: select, label: S, options: [{options}]{extra}}}"


def lines(*row_fields: str) -> str:
    return f"{{key: lines, type: subtable, label: Lines, fields: [{', '.join(row_fields)}]}}"


def rollback_plan(engine: Engine, number: int) -> list[str]:
    """What ``formflow migrate --to-version NUMBER --plan`` would do."""
    with read_transaction(engine) as connection:
        version = get_version(connection, "demo", number)
    with tempfile.TemporaryDirectory() as folder:
        result = migrate(engine, write_files(version, Path(folder)), dry_run=True)
    return changes(result.plan)


def refusals(result: pytest.ExceptionInfo[MigrationRefused]) -> list[str]:
    return [line[2:] for line in str(result.value).splitlines()[1:]]


# formulas -----------------------------------------------------------------------------


def test_a_changed_formula_is_planned_as_a_recompute_of_its_rows(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(QTY, formula("total", "qty * 2")))
    insert_rows(engine, ITEM, {"name": "a", "qty": 1, "total": 2}, {"name": "b", "qty": 5})
    lines_ = plan_lines(engine, write_app, item=item_form(QTY, formula("total", "qty * 3")))
    assert lines_ == ["recompute formula total of form item for 2 rows"]


def test_a_changed_formula_recomputes_the_stored_values(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(QTY, formula("total", "qty * 2")))
    a, b = insert_rows(engine, ITEM, {"name": "a", "qty": 1, "total": 2}, {"name": "b", "qty": 5})
    migrate_to(engine, write_app, item=item_form(QTY, formula("total", "qty * 3")))
    assert column_values(engine, ITEM, "total") == {a: Decimal(3), b: Decimal(15)}


def test_a_new_formula_field_is_filled_in_for_existing_rows(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(QTY))
    (row,) = insert_rows(engine, ITEM, {"name": "a", "qty": 4})
    result = migrate_to(engine, write_app, item=item_form(QTY, formula("total", "qty * 2")))
    assert "recompute formula total of form item for 1 row" in changes(result.plan)
    assert column_values(engine, ITEM, "total") == {row: Decimal(8)}


def test_a_formula_given_more_decimals_is_worked_out_to_them(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(QTY, formula("third", "qty / 3")))
    (row,) = insert_rows(engine, ITEM, {"name": "a", "qty": 1, "third": 0})
    migrate_to(engine, write_app, item=item_form(QTY, formula("third", "qty / 3", scale=2)))
    assert column_values(engine, ITEM, "third") == {row: Decimal("0.33")}


def test_a_formula_reading_a_changed_formula_is_recomputed_after_it(
    engine: Engine, write_app: AppWriter
) -> None:
    quadruple = formula("quadruple", "double * 2")
    migrate_to(engine, write_app, item=item_form(QTY, formula("double", "qty * 2"), quadruple))
    (row,) = insert_rows(engine, ITEM, {"name": "a", "qty": 1, "double": 2, "quadruple": 4})
    result = migrate_to(
        engine, write_app, item=item_form(QTY, formula("double", "qty * 3"), quadruple)
    )
    assert changes(result.plan) == ["recompute formulas double, quadruple of form item for 1 row"]
    assert stored_rows(engine, ITEM)[row]["quadruple"] == Decimal(6)


def test_a_formula_whose_input_changed_type_is_recomputed(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(QTY, formula("total", "qty * 2", scale=1)))
    insert_rows(engine, ITEM, {"name": "a", "qty": 1, "total": 2})
    with_decimals = "{key: qty, type: number, label: Qty, scale: 1}"
    lines_ = plan_lines(
        engine, write_app, item=item_form(with_decimals, formula("total", "qty * 2", scale=1))
    )
    assert lines_[-1] == "recompute formula total of form item for 1 row"


def test_row_formulas_are_recomputed_before_the_totals_that_sum_them(
    engine: Engine, write_app: AppWriter
) -> None:
    total = formula("total", "lines | sum(attribute='amount')")
    migrate_to(engine, write_app, item=item_form(lines(QTY, formula("amount", "qty * 2")), total))
    (record,) = insert_rows(engine, ITEM, {"name": "a", "total": 6})
    rows = [
        {"_parent_id": record, "_position": i, "qty": q, "amount": q * 2}
        for i, q in [(0, 1), (1, 2)]
    ]
    insert_rows(engine, LINES, *rows)
    result = migrate_to(
        engine, write_app, item=item_form(lines(QTY, formula("amount", "qty * 10")), total)
    )
    assert changes(result.plan) == [
        "recompute formula amount of subtable lines of form item for 2 rows",
        "recompute formula total of form item for 1 row",
    ]
    assert sorted(column_values(engine, LINES, "amount").values()) == [Decimal(10), Decimal(20)]
    assert column_values(engine, ITEM, "total") == {record: Decimal(30)}


def test_formulas_are_recomputed_in_batches_over_every_row(
    engine: Engine, write_app: AppWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recompute, "BATCH", 2)
    migrate_to(engine, write_app, item=item_form(QTY, formula("total", "qty * 2")))
    ids = insert_rows(engine, ITEM, *({"name": str(n), "qty": n} for n in range(5)))
    migrate_to(engine, write_app, item=item_form(QTY, formula("total", "qty * 3")))
    assert column_values(engine, ITEM, "total") == {i: Decimal(n * 3) for n, i in enumerate(ids)}


def test_an_unchanged_formula_is_left_alone(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form(QTY, formula("total", "qty * 2")))
    insert_rows(engine, ITEM, {"name": "a", "qty": 1, "total": 2})
    note = "{key: note, type: text, label: Note}"
    lines_ = plan_lines(engine, write_app, item=item_form(QTY, formula("total", "qty * 2"), note))
    assert lines_ == [f"add column {ITEM}.note VARCHAR(255)"]


def test_a_formula_reading_a_mapped_option_is_recomputed(
    engine: Engine, write_app: AppWriter
) -> None:
    is_b = formula("is_b", "1 if level == 'B' else 0")
    migrate_to(engine, write_app, item=item_form(select("level", "A", "B"), is_b))
    (row,) = insert_rows(engine, ITEM, {"name": "a", "level": "A", "is_b": 0})
    options = "options: [{value: B, label: B, renamed_from: A}]"
    level = f"{{key: level, type: select, label: S, {options}}}"
    result = migrate_to(engine, write_app, item=item_form(level, is_b))
    assert changes(result.plan) == [
        f"change option 'A' to 'B' in {ITEM}.level (1 row)",
        "recompute formula is_b of form item for 1 row",
    ]
    assert column_values(engine, ITEM, "is_b") == {row: Decimal(1)}


# options ------------------------------------------------------------------------------


def test_removing_an_option_still_in_use_is_refused_with_the_ways_forward(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(select("level", "A", "B")))
    insert_rows(engine, ITEM, {"name": "a", "level": "B"}, {"name": "b", "level": "B"})
    lines_ = plan_lines(engine, write_app, item=item_form(select("level", "A")))
    assert lines_ == [
        f"refused: {ITEM}.level: 2 rows still hold the option 'B', which the definition "
        "removes, so filters and edits of those records would fail. Ways forward: keep the "
        "option; or map it to another option by adding `renamed_from: B` to that option, and "
        "the migration changes those rows; or change those records first."
    ]
    with pytest.raises(MigrationRefused):
        migrate_to(engine, write_app, item=item_form(select("level", "A")))


def test_removing_an_option_no_row_holds_is_no_change_to_the_data(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(select("level", "A", "B")))
    insert_rows(engine, ITEM, {"name": "a", "level": "A"})
    assert plan_lines(engine, write_app, item=item_form(select("level", "A"))) == []


def test_an_option_renamed_from_a_removed_one_takes_its_rows(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(select("level", "A", "B")))
    a, b = insert_rows(engine, ITEM, {"name": "a", "level": "A"}, {"name": "b", "level": "B"})
    options = "options: [{value: A, label: A}, {value: C, label: C, renamed_from: B}]"
    result = migrate_to(
        engine, write_app, item=item_form(f"{{key: level, type: select, label: S, {options}}}")
    )
    assert changes(result.plan) == [f"change option 'B' to 'C' in {ITEM}.level (1 row)"]
    assert column_values(engine, ITEM, "level") == {a: "A", b: "C"}


def test_a_multiselect_option_renamed_from_a_removed_one_takes_its_place_in_each_list(
    engine: Engine, write_app: AppWriter
) -> None:
    before = "options: [{value: A, label: A}, {value: B, label: B}, {value: C, label: C}]"
    after = "options: [{value: A, label: A}, {value: C, label: C, renamed_from: [B]}]"
    tags = "{{key: tags, type: multiselect, label: T, {}}}"
    migrate_to(engine, write_app, item=item_form(tags.format(before)))
    a, b = insert_rows(
        engine, ITEM, {"name": "a", "tags": ["A", "B"]}, {"name": "b", "tags": ["B", "C"]}
    )
    migrate_to(engine, write_app, item=item_form(tags.format(after)))
    assert column_values(engine, ITEM, "tags") == {a: ["A", "C"], b: ["C"]}


def test_removing_a_multiselect_option_in_use_is_refused(
    engine: Engine, write_app: AppWriter
) -> None:
    tags = "{{key: tags, type: multiselect, label: T, options: [{}]}}"
    migrate_to(
        engine, write_app, item=item_form(tags.format("{value: A, label: A}, {value: B, label: B}"))
    )
    insert_rows(engine, ITEM, {"name": "a", "tags": ["A", "B"]})
    lines_ = plan_lines(engine, write_app, item=item_form(tags.format("{value: A, label: A}")))
    assert lines_[0].startswith(f"refused: {ITEM}.tags: 1 row still holds the option 'B'")


def test_a_text_field_becoming_a_select_is_refused_where_values_are_not_options(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form("{key: level, type: text, label: L}"))
    insert_rows(engine, ITEM, {"name": "a", "level": "A"}, {"name": "b", "level": "gold"})
    assert plan_lines(engine, write_app, item=item_form(select("level", "A", "B"))) == [
        f"refused: {ITEM}.level: 1 row holds values that are not among the options "
        "('gold' in 1 row), so filters and edits of those records would fail. Ways forward: "
        "add those values as options; or map each to an option by adding it to that option's "
        "`renamed_from`, and the migration changes those rows; or change those records first."
    ]


def test_a_text_field_becomes_a_select_when_every_value_is_an_option(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form("{key: level, type: text, label: L}"))
    (row,) = insert_rows(engine, ITEM, {"name": "a", "level": "A"})
    migrate_to(engine, write_app, item=item_form(select("level", "A", "B")))
    assert column_values(engine, ITEM, "level") == {row: "A"}


def test_a_select_filtered_on_becomes_a_multiselect_without_its_index(
    engine: Engine, write_app: AppWriter
) -> None:
    options = "options: [{value: A, label: A}, {value: B, label: B}]"
    filtered = "{filters: [level]}"
    level = "{{key: level, type: {}, label: L, {}}}"
    migrate_to(
        engine, write_app, item=item_form(level.format("select", options), list_view=filtered)
    )
    (row,) = insert_rows(engine, ITEM, {"name": "a", "level": "A"})
    result = migrate_to(
        engine, write_app, item=item_form(level.format("multiselect", options), list_view=filtered)
    )
    assert f"drop index ix__{ITEM}__level__id on {ITEM}" in changes(result.plan)
    assert column_values(engine, ITEM, "level") == {row: ["A"]}


# requirements -------------------------------------------------------------------------


def test_making_a_field_required_where_records_lack_it_is_refused(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(QTY))
    insert_rows(engine, ITEM, {"name": "a", "qty": 1}, {"name": "b"}, {"name": "c"})
    required = "{key: qty, type: number, label: Qty, required: true}"
    assert plan_lines(engine, write_app, item=item_form(required)) == [
        f"refused: {ITEM}.qty: 2 live records have no value in this field, which is now "
        "required, so every later edit of them would fail. Ways forward: give the field a "
        "`default`, which the migration fills into them; or fill those records first and "
        "migrate again; or keep the field optional."
    ]


def test_a_field_made_required_with_a_default_fills_the_records_that_lack_it(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(QTY))
    a, b = insert_rows(engine, ITEM, {"name": "a", "qty": 1}, {"name": "b"})
    required = "{key: qty, type: number, label: Qty, required: true, default: 7}"
    result = migrate_to(engine, write_app, item=item_form(required))
    assert changes(result.plan) == [
        f"fill {ITEM}.qty with its default 7 where it has no value (1 row)"
    ]
    assert column_values(engine, ITEM, "qty") == {a: Decimal(1), b: Decimal(7)}


def test_a_new_required_field_without_a_default_is_refused_where_records_exist(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form())
    insert_rows(engine, ITEM, {"name": "a"})
    required = (
        "{key: level, type: select, label: S, required: true, options: [{value: A, label: A}]}"
    )
    assert plan_lines(engine, write_app, item=item_form(required))[-1].startswith(
        f"refused: {ITEM}.level: 1 live record has no value"
    )


def test_a_new_required_field_with_a_default_is_filled_in(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form())
    (row,) = insert_rows(engine, ITEM, {"name": "a"})
    required = select("level", "A", "B", extra=", required: true, default: B")
    migrate_to(engine, write_app, item=item_form(required))
    assert column_values(engine, ITEM, "level") == {row: "B"}


def test_a_multiselect_made_required_with_a_default_fills_empty_lists(
    engine: Engine, write_app: AppWriter
) -> None:
    tags = "{{key: tags, type: multiselect, label: T, options: [{{value: A, label: A}}]{}}}"
    migrate_to(engine, write_app, item=item_form(tags.format("")))
    ids = insert_rows(
        engine, ITEM, {"name": "a", "tags": ["A"]}, {"name": "b", "tags": []}, {"name": "c"}
    )
    result = migrate_to(
        engine, write_app, item=item_form(tags.format(", required: true, default: [A]"))
    )
    assert changes(result.plan) == [
        f"fill {ITEM}.tags with its default ['A'] where it has no value (2 rows)"
    ]
    assert column_values(engine, ITEM, "tags") == {key: ["A"] for key in ids}


def test_records_in_the_recycle_bin_do_not_stop_a_field_becoming_required(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(QTY))
    insert_rows(engine, ITEM, {"name": "a", "qty": 1}, {"name": "b", "_deleted_at": NOW})
    required = "{key: qty, type: number, label: Qty, required: true}"
    assert plan_lines(engine, write_app, item=item_form(required)) == []


def test_a_subtable_column_made_required_where_rows_lack_it_is_refused(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(lines(QTY)))
    (record,) = insert_rows(engine, ITEM, {"name": "a"})
    insert_rows(engine, LINES, {"_parent_id": record, "_position": 0})
    required = lines("{key: qty, type: number, label: Qty, required: true}")
    assert plan_lines(engine, write_app, item=item_form(required))[0].startswith(
        f"refused: {LINES}.qty: 1 row has no value in this field"
    )


# links --------------------------------------------------------------------------------


def test_a_link_pointed_at_another_form_is_refused(engine: Engine, write_app: AppWriter) -> None:
    box = item_form().replace("item", "box")
    crate = item_form().replace("item", "crate")
    link = "{{key: holder, type: link, label: H, form: {}}}"
    migrate_to(engine, write_app, item=item_form(link.format("box")), box=box, crate=crate)
    assert plan_lines(
        engine, write_app, item=item_form(link.format("crate")), box=box, crate=crate
    ) == [
        f"refused: {ITEM}.holder: now points to records of form crate instead of records of "
        "form box, so its stored ids would name the wrong records. Add a new field instead, "
        "and remove this one."
    ]


# going back across a rename -----------------------------------------------------------


def test_going_back_before_a_rename_is_planned_as_renaming_back(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form("{key: level, type: text, label: L}"))
    migrate_to(
        engine, write_app, item=item_form("{key: grade, type: text, label: G, renamed_from: level}")
    )
    assert rollback_plan(engine, 1) == [f"rename column {ITEM}.grade to level (data kept)"]


def test_going_back_before_a_rename_keeps_the_values(engine: Engine, write_app: AppWriter) -> None:
    migrate_to(engine, write_app, item=item_form("{key: level, type: text, label: L}"))
    migrate_to(
        engine, write_app, item=item_form("{key: grade, type: text, label: G, renamed_from: level}")
    )
    (row,) = insert_rows(engine, ITEM, {"name": "a", "grade": "A"})
    result: MigrationResult = rollback(engine, "demo", 1)
    assert result.applied
    assert column_values(engine, ITEM, "level") == {row: "A"}
    assert "grade" not in stored_rows(engine, ITEM)[row]


def test_going_back_before_a_subtable_rename_renames_its_table_back(
    engine: Engine, write_app: AppWriter
) -> None:
    migrate_to(engine, write_app, item=item_form(lines(QTY)))
    renamed = "{key: rows, type: subtable, label: R, renamed_from: lines, fields: [" + QTY + "]}"
    migrate_to(engine, write_app, item=item_form(renamed))
    (record,) = insert_rows(engine, ITEM, {"name": "a"})
    insert_rows(engine, f"{ITEM}__rows", {"_parent_id": record, "_position": 0, "qty": 3})
    assert rollback_plan(engine, 1) == [f"rename table {ITEM}__rows to {LINES} (data kept)"]
    rollback(engine, "demo", 1)
    assert list(column_values(engine, LINES, "qty").values()) == [Decimal(3)]
