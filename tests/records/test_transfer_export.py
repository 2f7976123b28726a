"""Exporting a list: what the actor may read, no hidden field, in pages by keyset, with
cells a person reads and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import codecs
import csv
import io

from openpyxl import load_workbook
from sales import Sales, xlsx_rows

from formflow.definitions.model import SortKey
from formflow.transfer.exporting import (
    ListRequest,
    csv_chunks,
    export_table,
    write_csv,
    write_xlsx,
)


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))


def exported(
    sales: Sales, actor: object, request: ListRequest | None = None, **given: str
) -> list[list[str]]:
    table = export_table(sales.service, actor, "contact", request, **given)  # type: ignore[arg-type]
    target = io.BytesIO()
    write_csv(table, target)
    return csv_rows(target.getvalue())


def test_an_export_holds_only_the_records_the_actor_may_read(sales: Sales) -> None:
    sales.service.create(sales.alice, "contact", {"name": "Hers"})
    sales.service.create(sales.mary, "contact", {"name": "Not hers"})
    assert [row[1] for row in exported(sales, sales.alice)[1:]] == ["Hers"]
    assert sorted(row[1] for row in exported(sales, sales.mary)[1:]) == ["Hers", "Not hers"]


def test_a_field_hidden_from_the_actor_is_never_exported(sales: Sales) -> None:
    sales.service.create(sales.alice, "contact", {"name": "Wu"})
    assert "薪资" not in exported(sales, sales.alice)[0]
    assert "薪资" in exported(sales, sales.mary)[0]


def test_headers_and_cells_are_in_the_readers_language(sales: Sales) -> None:
    company = sales.service.create(sales.mary, "company", {"name": "Acme"})
    sales.service.create(
        sales.mary,
        "contact",
        {
            "code": "C1",
            "name": "Wu",
            "company": company["id"],
            "level": "key",
            "owner": sales.alice.user_id,
        },
    )
    header, row = exported(sales, sales.mary, language="en")
    assert header[:5] == ["Code", "Name", "Company", "Level", "Owner"]
    assert row[:5] == ["C1", "Wu", "Acme", "Key", "Alice"]
    assert exported(sales, sales.mary)[1][3] == "重要"


def test_an_export_keeps_the_lists_filter_and_order(sales: Sales) -> None:
    sales.service.create_many(
        sales.mary,
        "contact",
        [
            {"code": f"C{n:04d}", "name": f"P{n}", "level": "key" if n % 2 else "normal"}
            for n in range(1200)
        ],
    )
    request = ListRequest(
        filter={"field": "level", "op": "eq", "value": "key"},
        sort=(SortKey("code", descending=True),),
    )
    codes = [row[0] for row in exported(sales, sales.mary, request)[1:]]
    assert codes == [f"C{n:04d}" for n in range(1199, 0, -2)]


def test_a_csv_cell_that_would_run_as_a_formula_is_quoted(sales: Sales) -> None:
    for text in ("=1+1", "+cmd", "-2", "@SUM(A1)"):
        sales.service.create(sales.mary, "contact", {"name": text, "note": "plain"})
    names = sorted(row[1] for row in exported(sales, sales.mary)[1:])
    assert names == ["'+cmd", "'-2", "'=1+1", "'@SUM(A1)"]


def test_an_xlsx_cell_that_would_run_as_a_formula_is_stored_as_text(sales: Sales) -> None:
    sales.service.create(sales.mary, "contact", {"name": '=HYPERLINK("x")', "score": 5})
    target = io.BytesIO()
    write_xlsx(export_table(sales.service, sales.mary, "contact"), target, sales.service)
    sheet = load_workbook(io.BytesIO(target.getvalue())).worksheets[0]
    name, score = sheet["B2"], sheet["F2"]
    assert (name.value, name.data_type) == ('=HYPERLINK("x")', "s")
    assert (score.value, score.data_type) == (5, "n")


def test_csv_is_streamed_in_pieces(sales: Sales) -> None:
    sales.service.create_many(sales.mary, "contact", [{"name": f"P{n}"} for n in range(30)])
    pieces = list(csv_chunks(export_table(sales.service, sales.mary, "contact"), 10))
    assert len(pieces) == 4
    assert len(csv_rows(b"".join(pieces))) == 31


def test_xlsx_rows_read_back_as_exported(sales: Sales) -> None:
    sales.service.create(sales.mary, "contact", {"code": "C1", "name": "吴", "score": 7})
    target = io.BytesIO()
    write_xlsx(export_table(sales.service, sales.mary, "contact"), target, sales.service)
    rows = xlsx_rows(target.getvalue())
    assert rows[1][:2] == ["C1", "吴"]
    assert rows[1][5] == 7
