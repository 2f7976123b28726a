"""Reading an uploaded CSV or XLSX file as a header row and rows of text, streamed.

XLSX is read by openpyxl in read-only mode, which parses the sheet as it is iterated
rather than loading it whole; CSV is decoded as UTF-8 (with or without a byte-order mark)
or, failing that, GB 18030, which is what Excel on a Chinese Windows saves. Every cell
comes out as the text a person typed (:func:`~formflow.transfer.cells.cell_text`).
"""

from __future__ import annotations

import csv
import multiprocessing
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import ROW_TAG, WorkSheetParser
from openpyxl.xml.functions import iterparse

from formflow.errors import N_, RecordError
from formflow.transfer.cells import cell_text

MAX_COLUMNS = 500
MAX_ROW_NUMBER = 1_048_576
"""The last row an XLSX sheet may number (Excel's own limit): openpyxl yields an empty row
for every number a sheet skips, so ``<row r="2000000000">`` alone costs minutes."""
MAX_ROW_ELEMENTS = 16_384 * 8
"""Elements one XLSX row may hold (Excel's 16,384 cells, each with a few parts): a row is
built whole before it is read, so a small file with one row of millions of cells would
fill the memory."""
MAX_LINE_CHARS = 1_000_000
"""Characters one CSV line may hold; a line is one row, unless a quoted cell runs over
several lines."""
MAX_PART_BYTES = 256 * 1024 * 1024
"""How large each part of an XLSX file may be once unpacked: an XLSX is a zip, and a few
megabytes of it can unpack to gigabytes (a real 20 MB file unpacks to about 200 MB)."""
PARALLEL_BYTES = 2 * 1024 * 1024
"""XLSX files larger than this are parsed in a child process (see :func:`open_sheet`)."""
_CHUNK = 500
_AHEAD = 8
_BROKEN = (
    InvalidFileException,
    csv.Error,
    zipfile.BadZipFile,
    KeyError,
    ValueError,
    TypeError,
    OSError,
    ElementTree.ParseError,
)
"""What openpyxl, zipfile and csv raise for a file that is not what it claims to be."""
_SAMPLE = 64 * 1024
_ZIP = b"PK\x03\x04"


class UnreadableFile(RecordError, code="invalid_file"):
    """An upload that is neither a CSV nor an XLSX file we can read, or has no header row."""


def _unreadable(reason: object) -> UnreadableFile:
    return UnreadableFile(
        N_("the file is not a CSV or XLSX file that can be read: %(reason)s"),
        reason=str(reason)[:200],
    )


@dataclass
class Sheet:
    """A file's header row, and its other rows as ``(row number, cells)`` (row 1 is the
    header), each padded or cut to the header's width; blank rows are left out."""

    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]


@contextmanager
def open_sheet(path: Path) -> Iterator[Sheet]:
    """The first sheet of the XLSX file or the CSV file at ``path``.

    A large XLSX file is parsed in a child process, which hands rows over a chunk at a
    time: parsing XLSX costs about as much as storing the rows, so the two run side by
    side on two cores instead of one after the other.
    """
    with path.open("rb") as probe:
        is_xlsx = probe.read(4) == _ZIP
    if is_xlsx and path.stat().st_size > PARALLEL_BYTES:
        with _parsed_aside(path) as rows:
            yield _sheet(rows)
    elif is_xlsx:
        with _xlsx(path) as rows:
            yield _sheet(rows)
    else:
        with _csv(path) as rows:
            yield _sheet(rows)


@contextmanager
def _parsed_aside(path: Path) -> Iterator[Iterator[list[str]]]:
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue(maxsize=_AHEAD)
    child = context.Process(target=_parse_into, args=(str(path), queue), daemon=True)
    child.start()

    def rows() -> Iterator[list[str]]:
        while True:
            kind, payload = queue.get()
            if kind == "rows":
                yield from payload
            elif kind == "error":
                raise _unreadable(payload)
            else:
                return

    try:
        yield rows()
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        queue.close()


def _parse_into(path: str, queue: Any) -> None:
    """In the child: the file's rows onto ``queue``, a chunk at a time, then ``done``."""
    try:
        with _xlsx(Path(path)) as rows:
            chunk: list[list[str]] = []
            for row in rows:
                chunk.append(row)
                if len(chunk) == _CHUNK:
                    queue.put(("rows", chunk))
                    chunk = []
            queue.put(("rows", chunk))
    except UnreadableFile as exc:
        queue.put(("error", str(exc.params.get("reason", exc))))
    else:
        queue.put(("done", None))


def _sheet(rows: Iterator[list[str]]) -> Sheet:
    header = next(rows, None)
    if header is None or not any(header):
        raise UnreadableFile(N_("the file has no header row"))
    while header and not header[-1]:
        header.pop()
    width = min(len(header), MAX_COLUMNS)
    headers = header[:width]

    def numbered() -> Iterator[tuple[int, list[str]]]:
        for number, cells in enumerate(rows, start=2):
            cells = (cells + [""] * width)[:width]
            if any(cells):
                yield number, cells

    return Sheet(headers, numbered())


@contextmanager
def _xlsx(path: Path) -> Iterator[Iterator[list[str]]]:
    """The first worksheet's rows. openpyxl's ``load_workbook`` would read every sheet
    through once to find its size, holding what it read, so the workbook's parts are
    read here one by one instead, each only once it is known not to be too large."""
    raw = path.open("rb")  # a file, not a name: openpyxl refuses names not ending in .xlsx
    try:
        reader = ExcelReader(raw, read_only=True, data_only=True)
    except _BROKEN as exc:
        raw.close()
        raise _unreadable(exc) from None
    try:
        _check_sizes(reader.archive)
        try:
            reader.read_manifest()
            reader.read_strings()
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.wb)
            first = next(
                (
                    rel.target
                    for _sheet, rel in reader.parser.find_sheets()
                    if rel.target in reader.valid_files and "chartsheet" not in rel.Type
                ),
                None,
            )
        except _BROKEN as exc:
            raise _unreadable(exc) from None
        if first is None:
            raise UnreadableFile(N_("the file has no header row"))
        yield _guarded(_bounded_rows(reader, first))
    finally:
        reader.archive.close()
        raw.close()


def _check_sizes(archive: zipfile.ZipFile) -> None:
    """:class:`UnreadableFile` if a part of the file unpacks past :data:`MAX_PART_BYTES`
    (zip reads no further than a part's stated size, so the statement is enough)."""
    if any(item.file_size > MAX_PART_BYTES for item in archive.infolist()):
        raise UnreadableFile(
            N_("the file unpacks to more than %(limit)s MB"), limit=MAX_PART_BYTES // 2**20
        )


def _bounded_rows(reader: Any, sheet_path: str) -> Iterator[list[str]]:
    """The sheet's rows as text, an empty one for each row number it skips, read by
    openpyxl's own cell parser but within :data:`MAX_ROW_NUMBER` and
    :data:`MAX_ROW_ELEMENTS`, keeping nothing of a row once it is read."""
    with reader.archive.open(sheet_path) as source:
        parser = WorkSheetParser(
            source,
            reader.shared_strings,
            data_only=True,
            epoch=reader.wb.epoch,
            date_formats=reader.wb._date_formats,
            timedelta_formats=reader.wb._timedelta_formats,
        )
        following = 1
        for number, cells in _parsed_rows(parser, source):
            if number > MAX_ROW_NUMBER:
                raise UnreadableFile(
                    N_("the sheet has rows past row %(limit)s"), limit=MAX_ROW_NUMBER
                )
            for _ in range(following, number):
                yield []
            following = number + 1
            values = [""] * min(max((cell["column"] for cell in cells), default=0), MAX_COLUMNS)
            for cell in cells:
                if cell["column"] <= MAX_COLUMNS:
                    values[cell["column"] - 1] = cell_text(cell["value"])
            yield values


def _parsed_rows(parser: Any, source: IO[bytes]) -> Iterator[tuple[int, list[Any]]]:
    """``(row number, cells)`` for each row, as openpyxl's ``WorkSheetParser.parse`` gives
    them, but each element is let go once read, so that nothing piles up in memory."""
    open_elements: list[Any] = []
    in_row = False
    held = 0
    for event, element in iterparse(source, events=("start", "end")):
        if event == "start":
            open_elements.append(element)
            in_row = in_row or element.tag == ROW_TAG
            continue
        open_elements.pop()
        if element.tag == ROW_TAG:
            yield parser.parse_row(element)
            in_row, held = False, 0
        elif in_row:
            held += 1
            if held > MAX_ROW_ELEMENTS:
                raise UnreadableFile(
                    N_("row %(row)s has more than %(limit)s cells"),
                    row=parser.row_counter + 1,
                    limit=MAX_ROW_ELEMENTS // 8,
                )
            continue
        if open_elements:
            open_elements[-1].remove(element)


@contextmanager
def _csv(path: Path) -> Iterator[Iterator[list[str]]]:
    encoding = _encoding(path)
    with path.open(encoding=encoding, newline="") as text:
        try:
            sample = text.read(_SAMPLE)
        except UnicodeDecodeError as exc:
            raise _unreadable(exc) from None
        text.seek(0)
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
        except csv.Error:
            dialect = csv.excel
        lines = _bounded_lines(text)
        yield _guarded(
            [cell_text(cell) for cell in row[:MAX_COLUMNS]] for row in csv.reader(lines, dialect)
        )


def _bounded_lines(text: Iterable[str]) -> Iterator[str]:
    """``text``'s lines, :class:`UnreadableFile` at one longer than :data:`MAX_LINE_CHARS`:
    the csv module builds a whole row at once, so one line of millions of commas would
    cost hundreds of megabytes and seconds of CPU on every step of an import."""
    for number, line in enumerate(text, start=1):
        if len(line) > MAX_LINE_CHARS:
            raise UnreadableFile(
                N_("line %(line)s is longer than %(limit)s characters"),
                line=number,
                limit=MAX_LINE_CHARS,
            )
        yield line


def _guarded(rows: Iterator[list[str]]) -> Iterator[list[str]]:
    """``rows``, a file that turns out broken part way through said to be unreadable."""
    try:
        yield from rows
    except _BROKEN as exc:
        raise _unreadable(exc) from None


def _encoding(path: Path) -> str:
    with path.open("rb") as raw:
        sample = raw.read(_SAMPLE)
    try:
        sample.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            return "gb18030"
    return "utf-8-sig"
