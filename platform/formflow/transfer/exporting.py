"""Exporting a list: the records a list shows, with its filters and order, as CSV or XLSX.

Records are read through the record service, page after page by keyset (each page
continues after the last row of the one before, never by OFFSET), so an export of a
million rows reads no row twice, holds one page in memory and sees exactly what the list
shows the actor: their records, without the fields hidden from them. Cells hold what a
person reads on the page: option labels, link titles, people's names, in the actor's
language; the header row names the fields in it too.

CSV is UTF-8 with a byte-order mark, so Excel opens Chinese text correctly; XLSX is written
by openpyxl in write-only mode, which streams rows to disk as they come.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import IO, Any

from openpyxl import Workbook

from formflow import audit
from formflow.accounts.directory import Directory, load_directory
from formflow.definitions.model import Field, Form, SortKey
from formflow.fields import Reference, ValueKind
from formflow.records import Actor, Query, RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.transfer.cells import csv_text, local_time, text_cell

PAGE = 500
"""Records read per statement: a page of the largest size a list may ask for."""


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        if self is Format.CSV:
            return "text/csv; charset=utf-8"
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ListRequest:
    """What the list shows: the record service's filter, search and sort."""

    filter: Mapping[str, Any] | None = None
    search: str | None = None
    sort: tuple[SortKey, ...] | None = None


@dataclass(frozen=True)
class Table:
    """An export before it is written: its header row and its rows, read as they are asked for."""

    headers: list[str]
    rows: Iterator[list[Any]]


def exported_fields(service: RecordService, actor: Actor, form: Form) -> list[Field]:
    """The fields an export holds: every field the actor may see, but subtables."""
    hidden = service.field_access(actor, form.key).hidden
    return [f for f in form.fields if f.kind is not ValueKind.ROWS and f.key not in hidden]


def export_table(
    service: RecordService,
    actor: Actor,
    form_key: str,
    request: ListRequest | None = None,
    *,
    language: str = "zh",
) -> Table:
    """The list ``request`` asks for, as the actor may read it, ready to write."""
    request = request or ListRequest()
    form = service.app.form(form_key)
    fields = exported_fields(service, actor, form)
    query = Query(
        filter=request.filter,
        search=request.search,
        sort=request.sort,
        limit=PAGE,
        with_total=False,
        fields=tuple(f.key for f in fields),
    )
    service.find(actor, form_key, replace(query, limit=1))  # refuse a bad filter now
    with write_transaction(service.engine) as connection:
        audit.log(
            connection,
            audit.Action.EXPORT,
            user_id=actor.user_id,
            app_key=service.app.key,
            form_key=form_key,
            detail={
                "fields": [f.key for f in fields],
                "filtered": request.filter is not None or bool(request.search),
            },
        )
    cells = _Cells(service, fields, language)
    headers = [f.label.text(language) for f in fields]
    return Table(headers, cells.rows(_pages(service, actor, form_key, query)))


def _pages(
    service: RecordService, actor: Actor, form_key: str, query: Query
) -> Iterator[list[dict[str, Any]]]:
    cursor: str | None = None
    while True:
        page = service.find(actor, form_key, replace(query, cursor=cursor))
        if page.rows:
            yield page.rows
        cursor = page.next_cursor
        if cursor is None:
            return


class _Cells:
    """Stored values as a person reads them, a page at a time (one statement per linked
    form for the titles)."""

    def __init__(self, service: RecordService, fields: list[Field], language: str) -> None:
        self.service = service
        self.fields = fields
        self.language = language
        self.options = {
            f.key: {option.value: option.label.text(language) for option in f.options}
            for f in fields
            if f.options
        }
        self._directory: Directory | None = None

    @property
    def directory(self) -> Directory:
        if self._directory is None:
            with read_transaction(self.service.engine) as connection:
                self._directory = load_directory(connection)
        return self._directory

    def rows(self, pages: Iterable[list[dict[str, Any]]]) -> Iterator[list[Any]]:
        for records in pages:
            titles = self._titles(records)
            for record in records:
                yield [self._cell(f, record.get(f.key), titles) for f in self.fields]

    def _titles(self, records: list[dict[str, Any]]) -> dict[str, dict[int, Any]]:
        titles: dict[str, dict[int, Any]] = {}
        for f in self.fields:
            if f.field_type.reference is Reference.RECORD and f.target_form:
                ids = {r[f.key] for r in records if r.get(f.key) is not None}
                if ids:
                    target = self.service.app.form(f.target_form)
                    found = self.service.referenced_titles(target.key, ids)
                    titles[f.key] = {key: row[target.title_field] for key, row in found.items()}
        return titles

    def _cell(self, field: Field, value: Any, titles: dict[str, dict[int, Any]]) -> Any:
        if value is None:
            return None
        reference = field.field_type.reference
        if reference is Reference.RECORD:
            return titles.get(field.key, {}).get(value, value)
        if reference is Reference.USER:
            return self.directory.users.get(value, value)
        if reference is Reference.DEPARTMENT:
            return self.directory.departments.get(value, value)
        if field.key in self.options:
            labels = self.options[field.key]
            if isinstance(value, list):
                return ", ".join(str(labels.get(item, item)) for item in value)
            return labels.get(value, value)
        if field.kind is ValueKind.FILES:
            return ", ".join(str(item.get("name") or "") for item in value)
        if isinstance(value, list | dict):
            return str(value)
        return value


def write_csv(table: Table, target: IO[bytes]) -> None:
    """``table`` as UTF-8 CSV with a byte-order mark, into a binary file."""
    for chunk in csv_chunks(table):
        target.write(chunk)


def csv_chunks(table: Table, rows_per_chunk: int = PAGE) -> Iterator[bytes]:
    """``table`` as UTF-8 CSV with a byte-order mark, in pieces (to stream a response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_text(header) for header in table.headers])
    yield codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for count, row in enumerate(table.rows, start=1):
        writer.writerow([csv_text(value) for value in row])
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def write_xlsx(table: Table, target: IO[bytes] | str, service: RecordService) -> None:
    """``table`` as an XLSX workbook of one sheet, written row by row (write-only mode);
    text is typed as text, so no cell runs as a formula."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([text_cell(sheet, header) for header in table.headers])
    for row in table.rows:
        sheet.append([_xlsx_cell(sheet, value, service) for value in row])
    workbook.save(target)


def _xlsx_cell(sheet: Any, value: Any, service: RecordService) -> Any:
    if isinstance(value, str):
        return text_cell(sheet, value)
    if hasattr(value, "tzinfo") and hasattr(value, "hour"):
        return local_time(value, service.timezone)
    return value
