"""Values as spreadsheet cells, and back: the one place both directions agree on.

A spreadsheet evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula,
so a record's text such as ``=HYPERLINK(...)`` would run on the machine of whoever opens an
export. XLSX cells are written typed as text, which Excel never evaluates; CSV has no types,
so such a cell gets a leading apostrophe, the convention spreadsheets read as "text", and an
import takes that apostrophe off again.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from openpyxl.cell import WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""Control characters an XLSX file cannot hold."""
QUOTE = "'"


def neutralised(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs as a formula."""
    return QUOTE + text if text.startswith(FORMULA_STARTS) else text


def unquoted(text: str) -> str:
    """A cell read from a file, without the apostrophe :func:`neutralised` put before it."""
    if text.startswith(QUOTE) and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def xlsx_text(text: str) -> str:
    """``text`` without the control characters XLSX cannot hold (they would make the whole
    workbook unreadable)."""
    return _ILLEGAL.sub("", text)


def text_cell(sheet: Any, text: str) -> WriteOnlyCell:
    """``text`` as a cell of a write-only ``sheet``, typed as text so that it never runs."""
    cell = WriteOnlyCell(sheet, value=xlsx_text(text))
    cell.data_type = "s"
    return cell


def csv_text(value: Any) -> str:
    """One exported value as CSV text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | Decimal | int | float):
        return str(value)
    return neutralised(str(value))


def local_time(value: datetime, timezone: tzinfo) -> datetime:
    """A stored moment as the instance's wall-clock time without zone (XLSX has none)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(timezone).replace(tzinfo=None)


def cell_text(value: Any) -> str:
    """A cell read from a file as the text a person typed: numbers without a trailing
    ``.0``, dates in ISO form, booleans as ``true``/``false``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.hour == value.minute == value.second == 0 and value.microsecond == 0:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return unquoted(str(value)).strip()
