"""What every field type answers, and the answers most types share.

A field type owns everything about its fields: the keys its definition may carry and their
defaults and checks, the column that keeps its values, how input, filter values and stored
values become its values (one converter, :mod:`formflow.fields.values`), and what lists,
filters and sorts may do with it. The rest of the engine asks the type, so adding a type,
built in or from a plugin, is one subclass (or one :class:`FieldType` value) in one module.

A plugin may simply write ``FieldType("rating", ValueKind.INTEGER)``: everything then
follows from the kind. Subclass a built-in type (``TextType``...) to change more.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Numeric, String, Text
from sqlalchemy.types import TypeEngine

from formflow.errors import N_, Problem
from formflow.fields.formats import well_formed
from formflow.fields.json_values import Schema, kind_json, kind_problem, kind_schema, kind_writer
from formflow.fields.kinds import Reference, ValueKind
from formflow.fields.values import Invalid, Purpose, convert_kind
from formflow.storage.platform_tables import Id

if TYPE_CHECKING:
    from formflow.definitions.model import Field

LONG_TEXT = 2000
"""Text longer than this is kept in an unbounded column, which cannot be sorted or indexed."""
DEFAULT_TEXT_LENGTH = 255

Path = tuple[str | int, ...]


class DefinitionChecks(Protocol):
    """Where a type reports what is wrong with one field of a definition."""

    form_keys: frozenset[str]

    def error(self, path: Path, message: str) -> None:
        """Report ``message`` at ``path`` below the field's own place in the file."""


class FieldType:
    """One kind of field an app definition may use."""

    name: str = ""
    kind: ValueKind = ValueKind.TEXT
    searchable: bool = False
    filterable: bool = True
    sortable: bool = True
    computed: bool = False
    """The engine, not the person filling the form, sets the value (formulas, numbering)."""
    reference: Reference | None = None
    """For reference types: what the kept id points to."""
    widget: str | None = None
    """The input a generated form shows (see :meth:`input_widget`); by kind if unset."""
    shown_as: str | None = None
    """How pages show a value (see :meth:`display_style`); by kind if unset."""
    filtered_as: str | None = None
    """How lists filter on it (see :meth:`filter_widget`); by kind if unset."""
    options_schema: Mapping[str, Any] | None = None
    """A JSON Schema for a plugin type's own definition keys (built-ins are described by
    ``schemas/form.schema.json``)."""
    coerce: Callable[[Any], Any] | None = None
    """Turns converted input into the stored value, or raises ``ValueError`` with a message
    for the person filling the form (a plugin's simple check)."""

    def __init__(
        self,
        name: str | None = None,
        kind: ValueKind | None = None,
        *,
        searchable: bool | None = None,
        filterable: bool | None = None,
        sortable: bool | None = None,
        options_schema: Mapping[str, Any] | None = None,
        coerce: Callable[[Any], Any] | None = None,
    ) -> None:
        overrides = {
            "name": name,
            "kind": kind,
            "searchable": searchable,
            "filterable": filterable,
            "sortable": sortable,
            "options_schema": options_schema,
            "coerce": coerce,
        }
        for attribute, value in overrides.items():
            if value is not None:
                setattr(self, attribute, value)
        if not self.name:
            raise ValueError("a field type needs a name")
        if self.kind.is_list:
            self.sortable = False
        if self.kind is ValueKind.ROWS or self.kind is ValueKind.FILES:
            self.filterable = False

    def __repr__(self) -> str:
        return f"<field type {self.name} ({self.kind})>"

    # the definition -----------------------------------------------------------------

    def value_kind(self, item: Mapping[str, Any]) -> ValueKind:
        """How a field declared as ``item`` keeps its values."""
        return self.kind

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """This type's settings of a compiled field, with their defaults (keyword arguments of
        :class:`~formflow.definitions.model.Field`)."""
        return {}

    def check(self, field: Field, item: Mapping[str, Any], checks: DefinitionChecks) -> None:
        """Report settings of ``field`` that contradict each other or the app."""
        if field.pattern:
            try:
                re.compile(field.pattern)
            except re.error as exc:
                checks.error(("pattern",), f"pattern is not a valid regular expression: {exc}")

    def check_default(self, field: Field, default: Any, checks: DefinitionChecks) -> None:
        """Report a ``default`` the field could not hold."""
        if isinstance(default, str):
            if field.max_length is not None and len(default) > field.max_length:
                checks.error(("default",), f"default is longer than max_length {field.max_length}")
            if field.pattern and _matches(field.pattern, default) is False:
                checks.error(("default",), f"default does not match pattern {field.pattern}")

    # storage ------------------------------------------------------------------------

    def column_type(self, field: Field) -> TypeEngine[Any]:
        """The SQL type that holds ``field``'s values without loss."""
        return _COLUMN_TYPES[field.kind](field)

    def text_limit(self, field: Field) -> int | None:
        """The most characters the field's column holds, or ``None`` when unbounded."""
        sql_type = self.column_type(field)
        if isinstance(sql_type, String) and not isinstance(sql_type, Text):
            return sql_type.length
        return None

    # values -------------------------------------------------------------------------

    def parse(
        self, field: Field, value: Any, purpose: Purpose = Purpose.INPUT, timezone: tzinfo = UTC
    ) -> Any:
        """``value`` as ``field`` keeps it (never empty: callers handle emptiness).

        ``Invalid`` if it does not fit: see :class:`~formflow.fields.values.Purpose` for
        what each source of values is asked.
        """
        converted = convert_kind(field, value, purpose, timezone)
        if field.kind is ValueKind.TEXT and purpose is not Purpose.FILTER:
            converted = self.check_text(field, converted, purpose)
        if self.coerce is not None and purpose is not Purpose.FILTER:
            try:
                converted = self.coerce(converted)
            except ValueError as exc:
                raise Invalid("invalid", str(exc)) from None
        return converted

    def check_text(self, field: Field, text: str, purpose: Purpose) -> str:
        """A text value normalised and held to the field's limits."""
        limit = self.text_limit(field)
        if purpose is Purpose.INPUT and field.max_length is not None:
            limit = field.max_length
        if limit is not None and len(text) > limit:
            raise Invalid("max_length", N_("must be at most %(limit)s characters"), limit=limit)
        if purpose is not Purpose.INPUT:
            return text
        if field.min_length is not None and len(text) < field.min_length:
            raise Invalid(
                "min_length", N_("must be at least %(limit)s characters"), limit=field.min_length
            )
        if field.pattern and not re.fullmatch(field.pattern, text):
            raise Invalid("pattern", N_("is not in the expected format"), pattern=field.pattern)
        if field.text_format and not well_formed(field.text_format, text):
            raise Invalid("format", N_("fails its check digit"), format=field.text_format)
        return text

    def duplicate_text(self, field: Field, value: Any) -> str | None:
        """The text of a stored ``value`` that duplicate checks normalise and compare, or
        ``None`` when it names nothing (see :mod:`formflow.duplicates`)."""
        return None if value is None else str(value)

    def strips_input(self, field: Field) -> bool:
        """Whether spaces around typed text are dropped (not where they are content)."""
        return True

    # pages --------------------------------------------------------------------------

    def input_widget(self, field: Field) -> str:
        """The input a generated form shows: ``text``, ``textarea``, ``number``, ``date``,
        ``datetime``, ``checkbox``, ``select``, ``radio``, ``multiselect``, ``user``,
        ``department``, ``link``, ``rows``, ``files``, ``tel``, ``email`` or ``url``."""
        return self.widget or self._presentation(field).input

    def display_style(self, field: Field) -> str:
        """How pages show a value: ``text``, ``multiline``, ``phone``, ``email``, ``url``,
        ``number``, ``money``, ``percent``, ``date``, ``datetime``, ``yes_no``, ``option``,
        ``options``, ``user``, ``department``, ``record``, ``rows`` or ``files``."""
        return self.shown_as or self._presentation(field).display

    def filter_widget(self, field: Field) -> str:
        """How a list filters on the field: ``select``, ``multiselect``, ``user``,
        ``department``, ``bool``, ``link``, ``number``, ``date``, ``datetime`` or ``text``."""
        return self.filtered_as or self._presentation(field).filter

    def _presentation(self, field: Field) -> _Presentation:
        return _PRESENTATIONS[self.reference or field.kind]

    # JSON ---------------------------------------------------------------------------

    def to_json(self, field: Field, value: Any) -> Any:
        """A stored value in the API's JSON shape."""
        return kind_json(field.kind, value)

    def json_writer(self, field: Field) -> Callable[[Any], Any]:
        """:meth:`to_json` for one field's values, worked out once for a page of them: a
        type that overrides ``to_json`` is called through it; null stays null."""
        if type(self).to_json is FieldType.to_json:
            return kind_writer(field.kind)
        return lambda value: None if value is None else self.to_json(field, value)

    def json_problem(self, field: Field, value: Any, timezone: tzinfo) -> Problem | None:
        """What is wrong with the JSON type of a non-null value an API client sent."""
        return kind_problem(field.kind, value, timezone)

    def json_schema(self, field: Field, *, writing: bool) -> Schema:
        """The JSON Schema of one value, as the API returns it or (``writing``) takes it."""
        schema = kind_schema(field, writing=writing)
        note = self.value_note(field)
        return {**schema, "description": note} if note else schema

    def value_note(self, field: Field) -> str | None:
        """What the API document says a value is, beyond its JSON type."""
        return _REFERENCE_NOTES.get(self.reference) if self.reference else None


def _text_column(field: Field) -> TypeEngine[Any]:
    if (field.max_length or 0) > LONG_TEXT:
        return Text()
    return String(field.max_length or DEFAULT_TEXT_LENGTH)


_COLUMN_TYPES: Mapping[ValueKind, Callable[[Field], TypeEngine[Any]]] = {
    ValueKind.TEXT: _text_column,
    ValueKind.INTEGER: lambda field: BigInteger(),
    ValueKind.DECIMAL: lambda field: Numeric(20 + field.scale, field.scale, asdecimal=True),
    ValueKind.DATE: lambda field: Date(),
    ValueKind.DATETIME: lambda field: DateTime(timezone=True),
    ValueKind.BOOL: lambda field: Boolean(),
    ValueKind.REFERENCE: lambda field: Id,
    ValueKind.CHOICES: lambda field: JSON(),
    ValueKind.FILES: lambda field: JSON(),
    ValueKind.ROWS: lambda field: JSON(),
}


class _Presentation(NamedTuple):
    """How pages present a kind of value: the input a form shows, how a value is shown,
    and how a list filters on it."""

    input: str
    display: str
    filter: str


def _alike(name: str) -> _Presentation:
    """A kind whose input, display and filter all go by one name."""
    return _Presentation(name, name, name)


_PRESENTATIONS: Mapping[ValueKind | Reference, _Presentation] = {
    # by kind, or by what a reference holds
    ValueKind.TEXT: _alike("text"),
    ValueKind.INTEGER: _alike("number"),
    ValueKind.DECIMAL: _alike("number"),
    ValueKind.DATE: _alike("date"),
    ValueKind.DATETIME: _alike("datetime"),
    ValueKind.BOOL: _Presentation("checkbox", "yes_no", "bool"),
    ValueKind.CHOICES: _Presentation("multiselect", "options", "multiselect"),
    ValueKind.REFERENCE: _Presentation("number", "text", "text"),
    ValueKind.FILES: _Presentation("files", "files", "text"),
    ValueKind.ROWS: _Presentation("rows", "rows", "text"),
    Reference.RECORD: _Presentation("link", "record", "link"),
    Reference.USER: _alike("user"),
    Reference.DEPARTMENT: _alike("department"),
}
_REFERENCE_NOTES: Mapping[Reference, str] = {
    Reference.USER: "A user id.",
    Reference.DEPARTMENT: "A department id.",
}


def _matches(pattern: str, value: str) -> bool | None:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return None


def is_date(value: Any) -> bool:
    return _parses(date.fromisoformat, value)


def is_datetime(value: Any) -> bool:
    return _parses(datetime.fromisoformat, value)


def _parses(parse: Callable[[Any], object], value: Any) -> bool:
    """Whether ``parse`` takes ``value`` (ISO text) without a complaint."""
    try:
        parse(value)
    except (TypeError, ValueError):
        return False
    return True
