"""Uploaded XLSX files built to exhaust the server are refused as unreadable, quickly and
in little memory: an XLSX is a zip of XML, so a file of a few kilobytes can describe a row
of millions of cells or a row numbered in the billions."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from sales import xlsx_file

from formflow.transfer import reading
from formflow.transfer.reading import UnreadableFile, open_sheet

SHEET = "xl/worksheets/sheet1.xml"
HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
TAIL = b"</sheetData></worksheet>"


def with_sheet(path: Path, *parts: bytes) -> Path:
    """An XLSX file whose first sheet's XML is ``parts``, the rest as Excel would write it."""
    plain = xlsx_file(path.with_suffix(".plain.xlsx"), [["name"]])
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            if item.filename == SHEET:
                with out.open(SHEET, "w") as sheet:
                    for part in parts:
                        sheet.write(part)
            else:
                out.writestr(item, source.read(item.filename))
    return path


def read_all(path: Path) -> list[list[str]]:
    with open_sheet(path) as sheet:
        return [sheet.headers, *(cells for _number, cells in sheet.rows)]


def test_a_row_of_a_million_cells_is_refused(tmp_path: Path) -> None:
    cells = b"<c><v>1</v></c>" * 10_000
    path = with_sheet(tmp_path / "wide.xlsx", HEAD, b'<row r="1">', *[cells] * 100, b"</row>", TAIL)
    assert path.stat().st_size < 100_000
    with pytest.raises(UnreadableFile, match="cells"):
        read_all(path)


def test_a_row_numbered_in_the_billions_is_refused_at_once(tmp_path: Path) -> None:
    rows = b'<row r="1"><c t="inlineStr"><is><t>name</t></is></c></row><row r="2000000000"><c><v>1</v></c></row>'
    path = with_sheet(tmp_path / "far.xlsx", HEAD, rows, TAIL)
    started = time.process_time()
    with pytest.raises(UnreadableFile, match="past row"):
        read_all(path)
    assert time.process_time() - started < 5


def test_a_sheet_that_unpacks_past_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = xlsx_file(tmp_path / "big.xlsx", [["name"], *[[f"row {n}"] for n in range(200)]])
    monkeypatch.setattr(reading, "MAX_PART_BYTES", 1024)
    with pytest.raises(UnreadableFile, match="unpacks"):
        read_all(path)


def test_skipped_row_numbers_still_count_so_errors_name_the_right_row(tmp_path: Path) -> None:
    rows = (
        b'<row r="1"><c t="inlineStr"><is><t>name</t></is></c></row>'
        b'<row r="5"><c t="inlineStr"><is><t>five</t></is></c></row>'
    )
    path = with_sheet(tmp_path / "gaps.xlsx", HEAD, rows, TAIL)
    with open_sheet(path) as sheet:
        assert list(sheet.rows) == [(5, ["five"])]


def test_a_csv_line_of_millions_of_commas_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("name\n" + "," * 5_000_000 + "\n", encoding="utf-8")
    started = time.process_time()
    with pytest.raises(UnreadableFile, match="longer than"):
        read_all(path)
    assert time.process_time() - started < 1


def test_a_csv_row_wider_than_its_header_is_cut_to_the_header(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    path.write_text("name,code\nAcme,A1," + "x," * 2_000 + "\n", encoding="utf-8")
    assert read_all(path) == [["name", "code"], ["Acme", "A1"]]
