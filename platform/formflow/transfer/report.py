"""The error report of an import: one line per problem, as an XLSX file to download.

Each line says the file's row, the column and the reason in the reader's language; the
caller passes the words (the header row and a way to put a problem into words), so this
module, like the rest of the import, knows no web and no locale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from formflow.errors import Problem
from formflow.transfer.cells import xlsx_text
from formflow.transfer.importing import RowError

ENGLISH_HEADERS = ("Row", "Column", "Reason")


def write_report(
    errors: Iterable[RowError],
    target: IO[bytes] | str,
    *,
    headers: Sequence[str] = ENGLISH_HEADERS,
    words: Callable[[Problem], str] = str,
) -> None:
    """Write ``errors`` sorted by row to an XLSX workbook (text cells typed as text)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([_text(sheet, header) for header in headers])
    for error in sorted(errors, key=lambda found: found.row):
        sheet.append([error.row, _text(sheet, error.column), _text(sheet, words(error.problem))])
    workbook.save(target)


def _text(sheet: object, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=xlsx_text(text))
    cell.data_type = "s"
    return cell
