"""Importing files into a form: mapping, preview, duplicates, links by title, subtable
rows, both modes, and an error report that names every bad cell exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sales import Sales, csv_file, xlsx_file, xlsx_rows
from sqlalchemy import func, select

from formflow import accounts
from formflow.storage.database import read_transaction, write_transaction
from formflow.transfer import mapping
from formflow.transfer.importing import (
    Duplicates,
    Importer,
    ImportOptions,
    Mode,
    Outcome,
    import_file,
)
from formflow.transfer.reading import open_sheet
from formflow.transfer.report import write_report

HEADERS = ["编码", "姓名", "公司", "级别", "负责人", "评分"]
ROWS = 10_000
PLANTED = {
    7: ("评分", "type"),
    13: ("公司", "not_found"),
    21: ("姓名", "required"),
    33: ("级别", "choice"),
    50: ("编码", "unique"),
    60: ("编码", "unique"),
}
"""Every thousandth row from these positions on is bad in this column, for this reason:
a word for a number, a company no record has, no name, an unknown level, the code of a
record already stored, the code of the row above."""


def big_file(path: Path) -> Path:
    rows: list[list[Any]] = [HEADERS]
    for i in range(ROWS):
        row: list[Any] = [
            f"C{i:05d}",
            f"Person {i}",
            "Acme" if i % 2 else "Bolt",
            "重要",
            "alice",
            i % 100,
        ]
        planted = i % 1000
        if planted == 7:
            row[5] = "lots"
        elif planted == 13:
            row[2] = "Nowhere Ltd"
        elif planted == 21:
            row[1] = None
        elif planted == 33:
            row[3] = "Z"
        elif planted == 50:
            row[0] = "OLD001"
        elif planted == 60:
            row[0] = f"C{i - 1:05d}"
        rows.append(row)
    return xlsx_file(path, rows)


def planted_errors() -> set[tuple[int, str, str]]:
    return {
        (i + 2, column, code)
        for i in range(ROWS)
        for position, (column, code) in PLANTED.items()
        if i % 1000 == position
    }


@pytest.fixture
def ready(sales: Sales) -> Sales:
    for name in ("Acme", "Bolt"):
        sales.service.create(sales.mary, "company", {"name": name})
    sales.service.create(sales.alice, "contact", {"code": "OLD001", "name": "Old"})
    return sales


def contacts(sales: Sales) -> int:
    table = sales.service.schema.table("contact")
    with read_transaction(sales.service.engine) as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def options(path: Path, **given: Any) -> ImportOptions:
    with open_sheet(path) as sheet:
        found = mapping.suggest(mapping_form(), sheet.headers)
    return ImportOptions(found, **given)


def mapping_form() -> Any:
    from sales import SALES_DIR

    from formflow.definitions import load_app

    return load_app(SALES_DIR).form("contact")


def found_errors(outcome: Outcome) -> set[tuple[int, str, str]]:
    return {(error.row, error.column, error.problem.code) for error in outcome.errors}


def test_headers_are_mapped_by_label_in_either_language_or_by_key() -> None:
    headers = ["姓名", "Company", "code", "拜访.日期", "Calls.Topic", "Level *", "Colour"]
    assert mapping.suggest(mapping_form(), headers) == {
        0: "name",
        1: "company",
        2: "code",
        3: "calls.day",
        4: "calls.topic",
        5: "level",
    }


def test_a_mapping_is_remembered_for_files_with_the_same_headers(ready: Sales) -> None:
    headers = ["姓名", "Firma"]
    with write_transaction(ready.service.engine) as connection:
        assert mapping.remembered(connection, "sales", "contact", headers) is None
        mapping.remember(connection, "sales", "contact", headers, {0: "name", 1: "company"})
        mapping.remember(connection, "sales", "contact", headers, {1: "company"})
        assert mapping.remembered(connection, "sales", "contact", [" 姓名", "firma"]) == {
            1: "company"
        }
        assert mapping.remembered(connection, "sales", "contact", ["姓名"]) is None


def test_row_by_row_stores_the_good_rows_and_reports_every_planted_error(
    ready: Sales, tmp_path: Path
) -> None:
    path = big_file(tmp_path / "contacts.xlsx")
    outcome = import_file(ready.service, ready.mary, "contact", path, options(path))
    assert found_errors(outcome) == planted_errors()
    assert len(outcome.errors) == len(planted_errors())
    assert (outcome.created, outcome.failed) == (ROWS - 60, 60)
    assert contacts(ready) == 1 + ROWS - 60


def test_all_or_nothing_stores_nothing_when_a_row_fails(ready: Sales, tmp_path: Path) -> None:
    path = big_file(tmp_path / "contacts.xlsx")
    outcome = import_file(
        ready.service, ready.mary, "contact", path, options(path, mode=Mode.ALL_OR_NOTHING)
    )
    assert outcome.rolled_back
    assert found_errors(outcome) == planted_errors()
    assert contacts(ready) == 1


def test_the_error_report_lists_row_column_and_reason(ready: Sales, tmp_path: Path) -> None:
    path = big_file(tmp_path / "contacts.xlsx")
    outcome = import_file(ready.service, ready.mary, "contact", path, options(path))
    report = tmp_path / "report.xlsx"
    write_report(outcome.errors, str(report))
    rows = xlsx_rows(report.read_bytes())
    assert rows[0] == ["Row", "Column", "Reason"]
    assert rows[1:4] == [
        [9, "评分", "must be a whole number"],
        [15, "公司", "no Company record titled 'Nowhere Ltd'"],
        [23, "姓名", "is required"],
    ]
    assert len(rows) == 1 + len(planted_errors())


def test_duplicates_can_be_skipped(ready: Sales, tmp_path: Path) -> None:
    path = big_file(tmp_path / "contacts.xlsx")
    outcome = import_file(
        ready.service, ready.mary, "contact", path, options(path, duplicates=Duplicates.SKIP)
    )
    assert (outcome.skipped, outcome.failed) == (20, 40)
    assert contacts(ready) == 1 + ROWS - 60


def test_duplicates_can_update_the_record_they_match(ready: Sales, tmp_path: Path) -> None:
    path = xlsx_file(
        tmp_path / "few.xlsx",
        [["编码", "姓名"], ["OLD001", "Renamed"], ["NEW001", "New"], ["NEW001", "Newer"]],
    )
    outcome = import_file(
        ready.service, ready.mary, "contact", path, options(path, duplicates=Duplicates.UPDATE)
    )
    assert (outcome.created, outcome.updated, outcome.failed) == (1, 2, 0)
    names = {row["code"]: row["name"] for row in ready.service.find(ready.mary, "contact").rows}
    assert names == {"OLD001": "Renamed", "NEW001": "Newer"}


def test_rows_with_only_subtable_cells_add_rows_to_the_record_above(
    ready: Sales, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path / "calls.csv",
        "姓名,公司,拜访.日期,拜访.主题\nWu,Acme,2026-01-05,Intro\n,,2026-02-01,Demo\nLi,Bolt,,\n",
    )
    outcome = import_file(ready.service, ready.mary, "contact", path, options(path))
    assert (outcome.created, outcome.errors) == (2, [])
    wu = next(r for r in ready.service.find(ready.mary, "contact").rows if r["name"] == "Wu")
    stored = ready.service.get(ready.mary, "contact", wu["id"])
    assert [(str(row["day"]), row["topic"]) for row in stored["calls"]] == [
        ("2026-01-05", "Intro"),
        ("2026-02-01", "Demo"),
    ]


def test_a_bad_subtable_cell_is_reported_on_its_own_row(ready: Sales, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "calls.csv",
        "姓名,拜访.日期,拜访.主题\nWu,2026-01-05,Intro\n,someday,Demo\n",
    )
    outcome = import_file(ready.service, ready.mary, "contact", path, options(path))
    assert found_errors(outcome) == {(3, "拜访.日期", "type")}


def test_a_title_two_records_share_is_refused_as_ambiguous(ready: Sales, tmp_path: Path) -> None:
    ready.service.create(ready.mary, "company", {"name": "Acme"})
    path = csv_file(tmp_path / "c.csv", "姓名,公司\nWu,Acme\n")
    outcome = import_file(ready.service, ready.mary, "contact", path, options(path))
    assert found_errors(outcome) == {(2, "公司", "ambiguous")}


def test_a_person_named_by_a_name_two_people_share_is_refused_as_ambiguous(
    ready: Sales, tmp_path: Path, password_hash: str
) -> None:
    with write_transaction(ready.service.engine) as connection:
        accounts.create_user(
            connection, "alice.w", None, password_hash=password_hash, display_name="Alice"
        )
    path = csv_file(tmp_path / "a.csv", "姓名,负责人\nWu,Alice\n")
    outcome = import_file(ready.service, ready.mary, "contact", path, options(path))
    assert found_errors(outcome) == {(2, "负责人", "ambiguous")}


def test_a_csv_saved_by_chinese_excel_is_read(ready: Sales, tmp_path: Path) -> None:
    path = csv_file(tmp_path / "gbk.csv", "姓名,级别,负责人\n王五,普通,Alice\n", "gb18030")
    outcome = import_file(ready.service, ready.mary, "contact", path, options(path))
    assert outcome.errors == []
    row = next(r for r in ready.service.find(ready.mary, "contact").rows if r["name"] == "王五")
    assert (row["level"], row["owner"]) == ("normal", ready.alice.user_id)


def test_the_preview_shows_converted_values_and_each_cells_problems(
    ready: Sales, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path / "p.csv", "姓名,评分,公司,级别\nWu,42,Acme,Key\nLi,lots,Nowhere,重要\n"
    )
    with open_sheet(path) as sheet:
        importer = Importer(ready.service, ready.mary, "contact", sheet.headers, options(path))
        first, second = importer.preview(sheet.rows)
    assert first.errors == {}
    assert first.values["评分"] == 42
    assert first.values["级别"] == "key"
    assert isinstance(first.values["公司"], int)
    assert {column: [p.code for p in found] for column, found in second.errors.items()} == {
        "评分": ["type"],
        "公司": ["not_found"],
    }


def test_an_import_cannot_write_a_field_hidden_from_the_importer(
    ready: Sales, tmp_path: Path
) -> None:
    path = csv_file(tmp_path / "s.csv", "姓名,薪资\nWu,100\n")
    found = ImportOptions({0: "name", 1: "salary"})
    outcome = import_file(ready.service, ready.alice, "contact", path, found)
    assert found_errors(outcome) == {(2, "薪资", "unknown_field")}


def test_errors_are_reported_in_the_files_order(ready: Sales, tmp_path: Path) -> None:
    path = csv_file(tmp_path / "c.csv", "编码,姓名,公司\nOLD001,Wu,Acme\nNEW1,Li,Nowhere Ltd\n")
    outcome = import_file(ready.service, ready.mary, "contact", path, options(path))
    assert [(error.row, error.problem.code) for error in outcome.errors] == [
        (2, "unique"),
        (3, "not_found"),
    ]


def test_dates_written_year_first_as_spreadsheets_do_are_read(ready: Sales, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "calls.csv",
        "姓名,拜访.日期,拜访.主题\nWu,2026/1/5,Intro\n,2026年2月1日,Demo\n,2026.3.9,Deal\n",
    )
    outcome = import_file(ready.service, ready.mary, "contact", path, options(path))
    assert outcome.errors == []
    wu = next(r for r in ready.service.find(ready.mary, "contact").rows if r["name"] == "Wu")
    stored = ready.service.get(ready.mary, "contact", wu["id"])
    assert [str(row["day"]) for row in stored["calls"]] == [
        "2026-01-05",
        "2026-02-01",
        "2026-03-09",
    ]
