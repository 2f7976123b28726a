"""Importing a file into a form: its rows become records through the record service.

A row is read with the column mapping (:mod:`formflow.transfer.mapping`) into the values a
person would type in the form; the few things a file names differently from the form are
turned into what the form stores: a link by its record's title, a person by their user
name or name, a department by its name, an option by its label in either language. Rows
below a record whose own cells are empty but whose subtable cells are not add rows to that
record's subtable. Everything else (conversion, validation, rules, numbering, permissions,
audit, events) is the record service's, through :meth:`RecordService.create_many` for new
records, a chunk of rows at a time, and :meth:`RecordService.update` for duplicates to update.

A row that duplicates a record (the same values of the unique fields mapped, or of the
fields chosen) is skipped, updates that record, or is created anyway, as the import says.
A new row, or an update, that the app's duplicate checks (:mod:`formflow.duplicates`) match
with another record, or a new row with an earlier row of the file, is reported, not
written: nobody is there to confirm.
*All or nothing* writes the whole file in one unit of work and rolls it back if any row
fails; *row by row* commits each chunk's good rows. Either way every problem of every row
is reported with its row number and column, for the error report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from formflow import audit
from formflow.accounts import department_paths, list_departments, list_users
from formflow.definitions.model import Field, Form
from formflow.errors import N_, Problem, ValidationFailed
from formflow.fields import Reference, ValueKind, is_empty
from formflow.records import Actor, RecordService, unit_of_work
from formflow.storage.database import read_transaction, write_transaction
from formflow.transfer.mapping import Mapping_
from formflow.transfer.reading import open_sheet

CHUNK = 1000
"""Records written per batch: large enough to pay few round trips, small enough that a
chunk's values and lookups stay a few megabytes."""
PREVIEW_ROWS = 10
_SPLIT = re.compile(r"\s*[,，;；、]\s*")


class Duplicates(StrEnum):
    """What to do with a row that matches an existing record."""

    SKIP = "skip"
    UPDATE = "update"
    CREATE = "create"


class Mode(StrEnum):
    ALL_OR_NOTHING = "all"
    ROW_BY_ROW = "rows"


@dataclass(frozen=True)
class ImportOptions:
    """``mapping`` is column position -> field path; ``match_on`` the fields that make two
    records duplicates (by default the unique fields the file fills)."""

    mapping: Mapping_
    duplicates: Duplicates = Duplicates.CREATE
    match_on: tuple[str, ...] = ()
    mode: Mode = Mode.ROW_BY_ROW


@dataclass(frozen=True)
class RowError:
    """One problem of one cell: the file's row number (the header is row 1), the column's
    header (or the field's name when no column fills it; empty for the row as a whole)."""

    row: int
    column: str
    problem: Problem


@dataclass
class Outcome:
    """What an import did. With all or nothing and any error, ``rolled_back`` is set and
    nothing was stored, whatever the counts of rows that would have been."""

    processed: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    rolled_back: bool = False

    def counts(self) -> dict[str, int]:
        """How many rows went each way, as the audit log, the run and the API keep them."""
        return {name: int(getattr(self, name)) for name in _COUNTS}


_COUNTS = ("processed", "created", "updated", "skipped", "failed")


@dataclass(frozen=True)
class Source:
    """One record's cells in the file: its own (path -> text) and its subtable rows
    (subtable -> [(row number, sub-field -> text)])."""

    row: int
    cells: dict[str, str]
    rows: dict[str, list[tuple[int, dict[str, str]]]]


@dataclass(frozen=True)
class PreviewRow:
    """A row as it will be stored: each mapped column's converted value, and the
    problems found, by column."""

    row: int
    values: dict[str, Any]
    errors: dict[str, list[Problem]]


Progress = Callable[[Outcome], None]


class _RolledBack(Exception):
    """Ends an all-or-nothing import's unit of work without committing it."""


class Importer:
    """Imports rows of one file layout into one form, as one actor."""

    def __init__(
        self,
        service: RecordService,
        actor: Actor,
        form_key: str,
        headers: Sequence[str],
        options: ImportOptions,
        *,
        language: str = "zh",
    ) -> None:
        self.service = service
        self.actor = actor
        self.form: Form = service.app.form(form_key)
        self.options = options
        self.language = language
        self.headers = list(headers)
        self.paths = {column: path for column, path in options.mapping.items()}
        self.match_on = options.match_on or tuple(
            f.key for f in self.form.fields if f.unique and f.key in self.paths.values()
        )

    # reading ---------------------------------------------------------------------------

    def sources(self, rows: Iterable[tuple[int, list[str]]]) -> Iterator[Source]:
        """The file's rows grouped into records (a row with only subtable cells continues
        the record above it)."""
        current: Source | None = None
        for number, cells in rows:
            own: dict[str, str] = {}
            sub: dict[str, dict[str, str]] = {}
            for column, path in self.paths.items():
                text = cells[column] if column < len(cells) else ""
                if "." in path:
                    parent, key = path.split(".", 1)
                    sub.setdefault(parent, {})[key] = text
                else:
                    own[path] = text
            filled = {parent: row for parent, row in sub.items() if any(row.values())}
            if current is not None and not any(own.values()) and filled:
                for parent, row in filled.items():
                    current.rows.setdefault(parent, []).append((number, row))
                continue
            if current is not None:
                yield current
            current = Source(number, own, {p: [(number, row)] for p, row in filled.items()})
        if current is not None:
            yield current

    # converting ------------------------------------------------------------------------

    def convert(
        self, sources: Sequence[Source]
    ) -> list[tuple[dict[str, Any], dict[str, list[Problem]]]]:
        """Each source's values for the record service, and the problems found turning
        titles and names into ids (those paths are left out of the values)."""
        titles = self._titles(sources)
        converted = []
        for source in sources:
            problems: dict[str, list[Problem]] = {}
            values: dict[str, Any] = {}
            for key, text in source.cells.items():
                self._value(self.form.field(key), key, text, values, problems, titles)
            for parent, items in source.rows.items():
                subtable = self.form.field(parent)
                rows = []
                for index, (_number, cells) in enumerate(items):
                    row: dict[str, Any] = {}
                    for key, text in cells.items():
                        sub = next(f for f in subtable.fields if f.key == key)
                        self._value(sub, f"{parent}.{index}.{key}", text, row, problems, titles)
                    rows.append(row)
                values[parent] = rows
            converted.append((values, problems))
        return converted

    def _value(
        self,
        target: Field,
        path: str,
        text: str,
        values: dict[str, Any],
        problems: dict[str, list[Problem]],
        titles: Mapping[str, Mapping[str, list[int]]],
    ) -> None:
        name = path.rsplit(".", 1)[-1]
        if text == "":
            values[name] = None
            return
        reference = target.field_type.reference
        found: Any = text
        problem: Problem | None = None
        if reference is Reference.RECORD and target.target_form:
            found, problem = _one(titles.get(target.target_form, {}).get(text), text, _NO_RECORD)
            if problem is not None:
                problem = _link_problem(problem, self.service.app.form(target.target_form), text)
        elif reference is Reference.USER:
            found, problem = _one(self.people.get(text.casefold()), text, _NO_USER)
        elif reference is Reference.DEPARTMENT:
            found, problem = _one(self.departments.get(text.casefold()), text, _NO_DEPARTMENT)
        elif target.kind is ValueKind.CHOICES:
            found = [_option(target, part) for part in _SPLIT.split(text) if part]
        elif target.options:
            found = _option(target, text)
        if problem is not None:
            problems[path] = [problem]
        else:
            values[name] = found

    def _titles(self, sources: Sequence[Source]) -> dict[str, dict[str, list[int]]]:
        """The ids of every record the chunk names by title, by linked form."""
        wanted: dict[str, set[str]] = {}
        for source in sources:
            for key, text in source.cells.items():
                self._want(self.form.field(key), text, wanted)
            for parent, items in source.rows.items():
                subs = {f.key: f for f in self.form.field(parent).fields}
                for _number, cells in items:
                    for key, text in cells.items():
                        self._want(subs[key], text, wanted)
        return {
            form_key: self.service.ids_by_title(self.actor, form_key, titles)
            for form_key, titles in wanted.items()
        }

    @staticmethod
    def _want(target: Field, text: str, wanted: dict[str, set[str]]) -> None:
        if text and target.field_type.reference is Reference.RECORD and target.target_form:
            wanted.setdefault(target.target_form, set()).add(text)

    @cached_property
    def people(self) -> dict[str, list[int]]:
        """Active users by user name and by name, case folded."""
        with read_transaction(self.service.engine) as connection:
            users = [user for user in list_users(connection) if user.is_active]
        return _ids_by_name((user.id, (user.username, user.display_name)) for user in users)

    @cached_property
    def departments(self) -> dict[str, list[int]]:
        """Departments by name and by full path (``Sales/East``), case folded."""
        with read_transaction(self.service.engine) as connection:
            every = list_departments(connection)
        paths = department_paths(every)
        return _ids_by_name((each.id, (each.name, paths[each.id])) for each in every)

    # where problems are --------------------------------------------------------------

    def column(self, path: str) -> str:
        """The header of the column filling ``path`` (``lines.qty`` for ``lines.2.qty``),
        or the field's name in the import's language when no column does."""
        parts = path.split(".")
        key = f"{parts[0]}.{parts[2]}" if len(parts) == 3 else parts[0]
        if not key:
            return ""
        for column, mapped in self.paths.items():
            if mapped == key:
                return self.headers[column]
        if not self.form.has_field(parts[0]):
            return key
        top = self.form.field(parts[0])
        if len(parts) == 3:
            sub = next((f for f in top.fields if f.key == parts[2]), None)
            if sub is not None:
                return f"{top.label.text(self.language)}.{sub.label.text(self.language)}"
        return top.label.text(self.language)

    def row_of(self, source: Source, path: str) -> int:
        parts = path.split(".")
        if (
            len(parts) == 3
            and parts[0] in source.rows
            and parts[1].isascii()
            and parts[1].isdigit()
        ):
            items = source.rows[parts[0]]
            index = int(parts[1])
            if index < len(items):
                return items[index][0]
        return source.row

    def errors_of(self, source: Source, problems: Mapping[str, list[Problem]]) -> list[RowError]:
        return [
            RowError(self.row_of(source, path), self.column(path), problem)
            for path, found in problems.items()
            for problem in found
        ]

    # running -----------------------------------------------------------------------------

    def preview(
        self, rows: Iterable[tuple[int, list[str]]], limit: int = PREVIEW_ROWS
    ) -> list[PreviewRow]:
        """The first ``limit`` records as they will be stored, with the problems the form's
        checks find in them, a unique value another record holds among them (one repeated
        within the file waits for the import)."""
        sources = []
        for source in self.sources(rows):
            sources.append(source)
            if len(sources) == limit:
                break
        shown = []
        for source, (values, problems) in zip(sources, self.convert(sources), strict=True):
            try:
                self.service.check(self.actor, self.form.key, values)
            except ValidationFailed as exc:
                for path, found in exc.problems.items():
                    problems.setdefault(path, found)
            stored = {
                self.column(key): self._stored(key, value)
                for key, value in values.items()
                if key not in problems
            }
            by_column: dict[str, list[Problem]] = {}
            for path, found in problems.items():
                by_column.setdefault(self.column(path), []).extend(found)
            shown.append(PreviewRow(source.row, stored, by_column))
        return shown

    def _stored(self, key: str, value: Any) -> Any:
        target = self.form.field(key)
        if target.kind is ValueKind.ROWS:
            return [
                {
                    sub.key: self.service.read_value(sub, row.get(sub.key))
                    for sub in target.fields
                    if sub.key in row
                }
                for row in value or []
            ]
        if target.field_type.reference is not None:
            return value
        return self.service.read_value(target, value)

    def run(
        self, rows: Iterable[tuple[int, list[str]]], progress: Progress | None = None
    ) -> Outcome:
        """Import every row; ``progress`` hears the outcome so far after each chunk."""
        outcome = Outcome()
        if self.options.mode is Mode.ALL_OR_NOTHING:
            try:
                with unit_of_work(self.service.engine):
                    self._chunks(rows, outcome, progress)
                    if outcome.errors:
                        raise _RolledBack
            except _RolledBack:
                outcome.rolled_back = True
        else:
            self._chunks(rows, outcome, progress, commit_each=True)
        self._audit(outcome)
        return outcome

    def _audit(self, outcome: Outcome) -> None:
        """One audit entry per import, with what it did (the records' own entries say
        what each row changed)."""
        with write_transaction(self.service.engine) as connection:
            audit.log(
                connection,
                audit.Action.IMPORT,
                user_id=self.actor.user_id,
                app_key=self.service.app.key,
                form_key=self.form.key,
                detail={
                    "mode": self.options.mode.value,
                    "duplicates": self.options.duplicates.value,
                    **outcome.counts(),
                    "rolled_back": outcome.rolled_back,
                },
            )

    def _chunks(
        self,
        rows: Iterable[tuple[int, list[str]]],
        outcome: Outcome,
        progress: Progress | None,
        *,
        commit_each: bool = False,
    ) -> None:
        chunk: list[Source] = []
        for source in self.sources(rows):
            chunk.append(source)
            if len(chunk) == CHUNK:
                self._chunk(chunk, outcome, commit_each)
                chunk = []
                if progress is not None:
                    progress(outcome)
        if chunk:
            self._chunk(chunk, outcome, commit_each)
        if progress is not None:
            progress(outcome)

    def _chunk(self, sources: list[Source], outcome: Outcome, commit_each: bool) -> None:
        if commit_each:
            with unit_of_work(self.service.engine):
                self._write(sources, outcome)
        else:
            self._write(sources, outcome)
        outcome.processed += len(sources)

    def _write(self, sources: list[Source], outcome: Outcome) -> None:
        """Write a chunk. Rows refused before writing are reported as they are met and the
        batch's after it, so the chunk's errors are put back in the file's order."""
        first = len(outcome.errors)
        pending = list(zip(sources, self.convert(sources), strict=True))
        while pending:
            pending = self._write_once(pending, outcome)
        outcome.errors[first:] = sorted(outcome.errors[first:], key=lambda error: error.row)

    def _write_once(
        self,
        pending: list[tuple[Source, tuple[dict[str, Any], dict[str, list[Problem]]]]],
        outcome: Outcome,
    ) -> list[tuple[Source, tuple[dict[str, Any], dict[str, list[Problem]]]]]:
        """Write what can be written of ``pending``; return the rows repeating another's
        duplicate key, to match again once that one is stored."""
        matching = self.options.duplicates is not Duplicates.CREATE and bool(self.match_on)
        keys: dict[int, tuple[Any, ...]] = {}
        later = []
        seen: set[tuple[Any, ...]] = set()
        current = []
        for source, (values, problems) in pending:
            if matching and not problems:
                key = self._key(values)
                if key is not None:
                    if key in seen:
                        later.append((source, (values, problems)))
                        continue
                    seen.add(key)
                    keys[source.row] = key
            current.append((source, (values, problems)))
        existing = (
            self.service.matching(self.actor, self.form.key, self.match_on, set(keys.values()))
            if keys
            else {}
        )
        creating: list[tuple[Source, dict[str, Any]]] = []
        for source, (values, problems) in current:
            if problems:
                self._refuse(source, values, problems, outcome)
                continue
            record = existing.get(keys.get(source.row, ()))
            if record is None:
                creating.append((source, self._defaults_for_empty(values)))
            elif self.options.duplicates is Duplicates.SKIP:
                outcome.skipped += 1
            else:
                self._update(source, values, record, outcome)
        if creating:
            batch = self.service.create_many(
                self.actor,
                self.form.key,
                [values for _source, values in creating],
                warn_duplicates=True,  # a match is reported, as a person would be warned
            )
            outcome.created += len(batch.created)
            for index, problems in sorted(batch.problems.items()):
                outcome.failed += 1
                outcome.errors.extend(self.errors_of(creating[index][0], problems))
        return later

    def _defaults_for_empty(self, values: dict[str, Any]) -> dict[str, Any]:
        """A new record's values without the empty cells of fields that have a default:
        a blank cell in a spreadsheet means "as usual", not "nothing"."""
        return {
            key: value
            for key, value in values.items()
            if not (is_empty(value) and self.form.field(key).default is not None)
        }

    def _key(self, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        key = []
        for name in self.match_on:
            target = self.form.field(name)
            value = values.get(name)
            if target.field_type.reference is None:
                value = self.service.read_value(target, value)
            if value is None:
                return None
            key.append(value)
        return tuple(key)

    def _refuse(
        self,
        source: Source,
        values: dict[str, Any],
        problems: dict[str, list[Problem]],
        outcome: Outcome,
    ) -> None:
        """A row with names that found nothing: report those, and what else the form's
        own checks find in it, at once."""
        try:
            self.service.check(self.actor, self.form.key, values)
        except ValidationFailed as exc:
            for path, found in exc.problems.items():
                problems.setdefault(path, found)
        outcome.failed += 1
        outcome.errors.extend(self.errors_of(source, problems))

    def _update(
        self, source: Source, values: dict[str, Any], record: Mapping[str, Any], outcome: Outcome
    ) -> None:
        try:
            self.service.update(
                self.actor,
                self.form.key,
                record["id"],
                values,
                expected_version=record["version"],
                warn_duplicates=True,  # reported, as for new rows: nobody is there to confirm
            )
        except ValidationFailed as exc:
            outcome.failed += 1
            outcome.errors.extend(self.errors_of(source, exc.problems))
        else:
            outcome.updated += 1


_NO_RECORD = N_("no record titled '%(name)s'")
_NO_USER = N_("no active user named '%(name)s'")
_NO_DEPARTMENT = N_("no department named '%(name)s'")


def _ids_by_name(named: Iterable[tuple[int, Iterable[str]]]) -> dict[str, list[int]]:
    """The ids of people or departments by each of their names, case folded, for a file
    that names them: a name several share lists them all (:func:`_one` refuses it)."""
    found: dict[str, list[int]] = {}
    for number, names in named:
        for name in {name.casefold() for name in names}:
            found.setdefault(name, []).append(number)
    return found


def _one(ids: list[int] | None, text: str, missing: str) -> tuple[int | None, Problem | None]:
    """The single id a name gives, or the problem: no such one (``missing``), or several."""
    if not ids:
        return None, Problem("not_found", missing, (("name", text),))
    if len(ids) > 1:
        return None, Problem(
            "ambiguous",
            N_("%(count)s of them are named '%(name)s'; give a name only one has"),
            (("count", len(ids)), ("name", text)),
        )
    return ids[0], None


def _link_problem(problem: Problem, target: Form, text: str) -> Problem:
    if problem.code == "not_found":
        return Problem(
            "not_found",
            N_("no %(form)s record titled '%(title)s'"),
            (("form", target.label), ("title", text)),
        )
    count = dict(problem.params)["count"]
    return Problem(
        "ambiguous",
        N_("%(count)s %(form)s records are titled '%(title)s'; rename one or link by hand"),
        (("count", count), ("form", target.label), ("title", text)),
    )


def _option(target: Field, text: str) -> str:
    """The option value ``text`` names, by value or by label in either language."""
    folded = text.casefold()
    for option in target.options:
        if folded in (
            option.value.casefold(),
            (option.label.zh or "").casefold(),
            (option.label.en or "").casefold(),
        ):
            return option.value
    return text


def import_file(
    service: RecordService,
    actor: Actor,
    form_key: str,
    path: Path,
    options: ImportOptions,
    *,
    language: str = "zh",
    progress: Progress | None = None,
) -> Outcome:
    """Import the CSV or XLSX file at ``path`` (see :class:`Importer`)."""
    with open_sheet(path) as sheet:
        importer = Importer(service, actor, form_key, sheet.headers, options, language=language)
        return importer.run(sheet.rows, progress)
