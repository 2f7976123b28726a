"""The JSON shape of each kind of value, in and out, and its JSON Schema.

Out, every value takes one shape that loses nothing: decimals as strings (``"12.50"``: a
JSON number would pass through binary floating point in most clients), dates and
date-times as ISO 8601 (date-times in UTC), option lists as arrays, references as integer
ids, attachments as descriptor objects. In, a value's JSON type is checked before the record
service converts it: an API client that sends a string where the document says integer
has a bug it should hear about. The schemas here are what the OpenAPI document promises,
so the three change together. Field types start from these and refine them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from formflow.errors import N_, Problem
from formflow.fields.kinds import ValueKind
from formflow.fields.values import MAX_INPUT_DIGITS, MAX_INTEGER

if TYPE_CHECKING:
    from formflow.definitions.model import Field

Schema = dict[str, Any]

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
"""How a decimal is written out: plain digits, never an exponent."""
_DECIMAL_INPUT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_YEAR = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
DATE_PATTERN = f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}$"
DATETIME_PATTERN = (
    f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-5][0-9](?:[.][0-9]+)?"
    "(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)
"""RFC 3339 as Python reads it: years from 1, seconds below 60, upper-case T and Z."""
DATE_SCHEMA: Schema = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
DATETIME_SCHEMA: Schema = {"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN}
ATTACHMENT_SCHEMAS = ("Attachment", "AttachmentInput")
"""The OpenAPI components that describe one attachment, out and in."""


# out ----------------------------------------------------------------------------


def kind_json(kind: ValueKind, value: Any) -> Any:
    """A stored value of ``kind`` in its JSON shape."""
    return None if value is None else _KIND_WRITERS.get(kind, _as_is)(value)


def kind_writer(kind: ValueKind) -> Callable[[Any], Any]:
    """:func:`kind_json` for one kind, looked up once: a page of fifty records writes each
    of its columns fifty times, and the lookup would otherwise be paid for every value."""
    found = _NULL_WRITERS.get(kind)
    if found is not None:
        return found
    write = _KIND_WRITERS.get(kind, _as_is)
    return lambda value: None if value is None else write(value)


def _decimal_or_null(value: Any) -> str | None:
    if value is None:
        return None
    return format(value if isinstance(value, Decimal) else Decimal(str(value)), "f")


def _datetime_or_null(value: datetime | None) -> str | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def _date_or_null(value: Any) -> str | None:
    if value is None:
        return None
    return str((value.date() if isinstance(value, datetime) else value).isoformat())


def _text_or_null(value: Any) -> str | None:
    return None if value is None else str(value)


def _integer_or_null(value: Any) -> int | None:
    return None if value is None else int(value)


def _bool_or_null(value: Any) -> bool | None:
    return None if value is None else bool(value)


_NULL_WRITERS: dict[ValueKind, Callable[[Any], Any]] = {
    ValueKind.DECIMAL: _decimal_or_null,
    ValueKind.DATETIME: _datetime_or_null,
    ValueKind.DATE: _date_or_null,
    ValueKind.INTEGER: _integer_or_null,
    ValueKind.REFERENCE: _integer_or_null,
    ValueKind.BOOL: _bool_or_null,
    ValueKind.TEXT: _text_or_null,
}
"""The common kinds' writers with null handled in the same call: a page of fifty records
of eight columns makes 400 such calls, and a wrapper around each doubles them."""


def _decimal_json(value: Any) -> str:
    return format(value if isinstance(value, Decimal) else Decimal(str(value)), "f")


def _date_json(value: Any) -> str:
    return str((value.date() if isinstance(value, datetime) else value).isoformat())


def _as_is(value: Any) -> Any:
    return value


def datetime_json(value: datetime) -> str:
    """A date-time in UTC, ISO 8601 with its offset (SQLite hands them back naive, in UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def _file_json(item: Mapping[str, Any]) -> dict[str, Any]:
    size = item.get("size")
    return {
        "id": str(item.get("id")),
        "name": _optional_str(item.get("name")),
        "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
        "content_type": _optional_str(item.get("content_type")),
    }


_KIND_WRITERS: dict[ValueKind, Callable[[Any], Any]] = {
    ValueKind.DECIMAL: _decimal_json,
    ValueKind.DATETIME: datetime_json,
    ValueKind.DATE: _date_json,
    ValueKind.INTEGER: int,
    ValueKind.REFERENCE: int,
    ValueKind.BOOL: bool,
    ValueKind.TEXT: str,
    ValueKind.CHOICES: lambda value: [str(item) for item in value],
    ValueKind.FILES: lambda value: [_file_json(item) for item in value],
}


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


# in -----------------------------------------------------------------------------


def json_type(value: Any) -> str:
    """The JSON Schema name of a parsed JSON (or YAML) value's type: ``null``,
    ``boolean``, ``number``, ``string``, ``array`` or ``object``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def kind_problem(kind: ValueKind, value: Any, timezone: tzinfo) -> Problem | None:
    """What is wrong with the JSON type of a (non-null) value sent for a field of ``kind``."""
    if kind is ValueKind.TEXT:
        return text_problem(value, N_("must be a string"))
    if kind in (ValueKind.INTEGER, ValueKind.REFERENCE):
        if not is_whole(value):
            return Problem("type", N_("must be a whole number"))
        if not (1 if kind is ValueKind.REFERENCE else -MAX_INTEGER) <= value <= MAX_INTEGER:
            return Problem("range", N_("is out of range"))
        return None
    if kind is ValueKind.DECIMAL:
        if isinstance(value, str):
            if not _DECIMAL_INPUT.fullmatch(value):
                return Problem("type", N_("must be a number written like 1234.56"))
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return Problem("type", N_('must be a number (a string like "1234.56" keeps it exact)'))
        return None
    if kind is ValueKind.BOOL:
        return None if isinstance(value, bool) else Problem("type", N_("must be true or false"))
    if kind is ValueKind.DATE:
        return text_problem(value, N_("must be a date written YYYY-MM-DD"))
    if kind is ValueKind.DATETIME:
        return text_problem(value, N_("must be a date-time string")) or _datetime_problem(
            value, timezone
        )
    if kind is ValueKind.CHOICES:
        if not isinstance(value, list):
            return Problem("type", N_("must be an array of option values"))
        return next(
            (p for item in value if (p := text_problem(item, N_("must hold strings"))) is not None),
            None,
        )
    if kind is ValueKind.FILES:
        return _files_problem(value)
    return None


def is_whole(value: Any) -> bool:
    """Whether a parsed JSON value is a whole number (``3.0`` is, as in JSON Schema)."""
    if isinstance(value, Decimal):  # 3.0 is an integer in JSON Schema
        return value.is_finite() and value == value.to_integral_value()
    return isinstance(value, int) and not isinstance(value, bool)


def text_problem(value: Any, message: str) -> Problem | None:
    if not isinstance(value, str):
        return Problem("type", message)
    if "\x00" in value:
        return Problem("invalid_character", N_("must not contain NUL characters"))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return Problem("invalid_character", N_("must not contain unpaired surrogates"))
    return None


def _datetime_problem(value: str, timezone: tzinfo) -> Problem | None:
    """A date-time the service would choke on converting to UTC (the year 1 or 9999)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None  # the service explains the format
    try:
        (moment if moment.tzinfo else moment.replace(tzinfo=timezone)).astimezone(UTC)
    except OverflowError:
        return Problem("range", N_("is out of range"))
    return None


def _files_problem(value: Any) -> Problem | None:
    files = [value] if isinstance(value, dict) else value
    if not isinstance(files, list) or not all(isinstance(item, dict) for item in files):
        return Problem("type", N_("must be an array of attachment descriptors"))
    for item in files:
        if text_problem(item.get("id"), "") is not None:
            return Problem("type", N_("each attachment needs its id as a string"))
        for key in ("name", "content_type"):
            if item.get(key) is not None and text_problem(item[key], "") is not None:
                return Problem(
                    "type", N_("an attachment's %(key)s must be a string"), (("key", key),)
                )
        size = item.get("size")
        if size is not None and not is_whole(size):
            return Problem("type", N_("an attachment's size must be a whole number"))
    return None


# schemas ------------------------------------------------------------------------


def kind_schema(field: Field, *, writing: bool) -> Schema:
    """The JSON Schema of one value of ``field``, out or (``writing``) in, by its kind."""
    kind = field.kind
    if kind is ValueKind.TEXT:
        return text_schema(field, writing=writing)
    if kind is ValueKind.INTEGER:
        return {
            "type": "integer",
            "minimum": _bound(field.minimum, -MAX_INTEGER),
            "maximum": _bound(field.maximum, MAX_INTEGER),
        }
    if kind is ValueKind.DECIMAL:
        return _decimal_schema(field, writing=writing)
    if kind is ValueKind.DATE:
        return DATE_SCHEMA if writing else {"type": "string", "format": "date"}
    if kind is ValueKind.DATETIME:
        return DATETIME_SCHEMA if writing else {"type": "string", "format": "date-time"}
    if kind is ValueKind.BOOL:
        return {"type": "boolean"}
    if kind is ValueKind.CHOICES:
        choices: Schema = {"type": "array", "items": {"enum": list(field.option_values)}}
        if writing:
            choices.update(_present(minItems=field.min_items, maxItems=field.max_items))
        else:
            choices["uniqueItems"] = True
        return choices
    if kind is ValueKind.REFERENCE:
        return {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}
    if kind is ValueKind.FILES:
        component = ATTACHMENT_SCHEMAS[1] if writing else ATTACHMENT_SCHEMAS[0]
        files: Schema = {"type": "array", "items": {"$ref": f"#/components/schemas/{component}"}}
        if writing and not field.multiple:
            files["maxItems"] = 1
        return files
    return {}  # rows are described field by field


def text_schema(field: Field, *, writing: bool) -> Schema:
    schema: Schema = {"type": "string"}
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    if field.pattern and portable(field.pattern):
        # "" means no value, on the way in; a stored value always fits the pattern
        schema["pattern"] = f"^(?:{field.pattern})$" + ("|^$" if writing else "")
    if writing:
        schema.update(_present(minLength=field.min_length))
    return schema


def _decimal_schema(field: Field, *, writing: bool) -> Schema:
    places = f"at most {field.scale} decimal places" if field.scale else "no decimal places"
    bounds = ", ".join(
        f"{word} {bound}"
        for word, bound in (("at least", field.minimum), ("at most", field.maximum))
        if bound is not None
    )
    if not writing:
        return {"type": "string", "pattern": DECIMAL_PATTERN, "description": "An exact decimal."}
    # at most MAX_INPUT_DIGITS whole digits and the scale's decimal places (zeros past them
    # change nothing), as fields/values.py takes them
    fraction = f"(?:\\.[0-9]{{1,{field.scale}}}0*)?" if field.scale else "(?:\\.0+)?"
    schema: Schema = {
        "type": ["string", "number"],
        "pattern": f"^[+-]?0*[0-9]{{1,{MAX_INPUT_DIGITS}}}{fraction}$",
        "exclusiveMinimum": -(10**MAX_INPUT_DIGITS),
        "exclusiveMaximum": 10**MAX_INPUT_DIGITS,
        "description": (
            f"A decimal with {places}{'; ' + bounds if bounds else ''}. Send a string to keep "
            "it exact; a JSON number is accepted too."
        ),
    }
    if field.minimum is not None:
        schema["minimum"] = field.minimum
    if field.maximum is not None:
        schema["maximum"] = field.maximum
    return schema


def _bound(value: Any, default: int) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else default


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def portable(pattern: str) -> bool:
    """Whether a Python pattern means the same as ECMA 262, JSON Schema's dialect."""
    return not any(token in pattern for token in ("(?P", "\\A", "\\Z", "(?#", "(?i", "(?x"))
