"""Record values as JSON, in and out, for the REST API.

Out, every value takes one JSON shape that loses nothing: decimals as strings (``"12.50"``:
a JSON number would pass through binary floating point in most clients), dates and
date-times as ISO 8601 (date-times in UTC), multiselects as arrays of option values,
references as integer ids, attachments as descriptor objects, subtables as arrays of row
objects. :mod:`formflow.web.openapi` documents exactly these shapes, so the two modules
change together.

In, a body is parsed with decimals kept exact, then each value's JSON type is checked
against its field before the record service sees it: the pages accept "12" for a number
because HTML forms send text, but an API client that sends a string where the document
says integer has a bug it should hear about. The service then does all the real
validation (options, lengths, references, uniqueness, permissions), as for the pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from formflow.definitions.model import SYSTEM_FIELDS, Field, Form
from formflow.errors import N_, Problem, RecordError, ValidationFailed
from formflow.fieldtypes import ValueKind
from formflow.records import AuditEntry

MAX_INTEGER = 2**63 - 1
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
"""How a decimal is written out: plain digits, never an exponent."""
_DECIMAL_INPUT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


class InvalidBody(RecordError):
    """A request body that is not a JSON object of values (status 400)."""

    code = "invalid_body"


class InvalidJson(InvalidBody):
    code = "invalid_json"


# out ----------------------------------------------------------------------------


def record_json(form: Form, record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the API returns it: ``id``, the form's fields, then the system fields.

    Subtable fields appear when the record holds their rows (single records do; list
    pages leave them out, as a list shows no rows); fields hidden from the reader, which the
    record service leaves out, do not appear at all.
    """
    out: dict[str, Any] = {"id": int(record["id"])}
    for field in form.fields:
        if field.key not in record:
            continue
        out[field.key] = value_json(field, record.get(field.key))
    for key, kind in SYSTEM_FIELDS.items():
        if key != "id":
            out[key] = _kind_json(kind, record.get(key))
    return out


def value_json(field: Field, value: Any) -> Any:
    """One field's stored value in its JSON shape."""
    if value is None:
        return [] if field.kind is ValueKind.ROWS else None
    if field.kind is ValueKind.ROWS:
        return [
            {sub.key: value_json(sub, row.get(sub.key)) for sub in field.fields} for row in value
        ]
    return _kind_json(field.kind, value)


def _kind_json(kind: ValueKind, value: Any) -> Any:
    if value is None:
        return None
    if kind is ValueKind.DECIMAL:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return format(number, "f")
    if kind is ValueKind.DATETIME:
        return datetime_json(value)
    if kind is ValueKind.DATE:
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    if kind in (ValueKind.INTEGER, ValueKind.REFERENCE):
        return int(value)
    if kind is ValueKind.BOOL:
        return bool(value)
    if kind is ValueKind.TEXT:
        return str(value)
    if kind is ValueKind.CHOICES:
        return [str(item) for item in value]
    if kind is ValueKind.FILES:
        return [_file_json(item) for item in value]
    return value


def _file_json(item: Mapping[str, Any]) -> dict[str, Any]:
    size = item.get("size")
    return {
        "id": str(item.get("id")),
        "name": _optional_str(item.get("name")),
        "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
        "content_type": _optional_str(item.get("content_type")),
    }


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def datetime_json(value: datetime) -> str:
    """A date-time in UTC, ISO 8601 with its offset (SQLite hands them back naive, in UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def history_json(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """Audit entries, newest first; each change is ``[old, new]`` as the trail stored it."""
    return [
        {
            "action": entry.action,
            "user_id": entry.user_id,
            "at": datetime_json(entry.at),
            "changes": {key: [old, new] for key, (old, new) in entry.changes.items()},
        }
        for entry in entries
    ]


def json_default(value: Any) -> Any:
    """For ``json.dumps``: what a value the shapes above missed is written as."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return datetime_json(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# in -----------------------------------------------------------------------------


def parse_json(data: bytes) -> Any:
    """A request body as JSON, decimals exact; :class:`InvalidJson` if it is not JSON."""
    try:
        return json.loads(data.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidJson(f"the request body is not valid JSON: {_reason(exc)}") from None


def parse_object(data: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object."""
    if not data.strip():
        raise InvalidBody("the request needs a JSON object as its body")
    body = parse_json(data)
    if not isinstance(body, dict):
        raise InvalidBody(f"the body must be a JSON object of field values, not {_json_type(body)}")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "it nests too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8"
    return str(exc)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def input_values(form: Form, values: Mapping[str, Any], timezone: tzinfo = UTC) -> dict[str, Any]:
    """``values`` checked for JSON types and ready for the record service.

    Raises :class:`ValidationFailed` with every value of the wrong JSON type for its field,
    and, all at once with them, keys that are not fields and fields that people may not set
    (formulas, numbering and ``readonly`` fields, which only the engine and workflows fill).
    Whole numbers written ``3.0`` become ``3``.
    """
    problems: dict[str, list[Problem]] = {}
    for key, value in values.items():
        if key in SYSTEM_FIELDS or not form.has_field(key):
            problems[key] = [
                Problem(
                    "unknown_field", N_("'%(key)s' is not a field of this form"), (("key", key),)
                )
            ]
            continue
        field = form.field(key)
        if field.readonly:
            problems[key] = [Problem("read_only", N_("is set by the system and cannot be changed"))]
            continue
        _check(field, key, value, timezone, problems)
    if problems:
        raise ValidationFailed(problems)
    return {key: _normalised(form.field(key), value) for key, value in values.items()}


def _normalised(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.kind in (ValueKind.INTEGER, ValueKind.REFERENCE):
        return int(value)
    if field.kind is ValueKind.FILES:
        files = [value] if isinstance(value, dict) else value
        return [
            {**item, "size": None if item.get("size") is None else int(item["size"])}
            for item in files
        ]
    if field.kind is ValueKind.ROWS:
        subfields = {sub.key: sub for sub in field.fields}
        return [
            {
                key: _normalised(subfields[key], item) if key in subfields else item
                for key, item in row.items()
            }
            for row in value
        ]
    return value


def _check(
    field: Field, path: str, value: Any, timezone: tzinfo, problems: dict[str, list[Problem]]
) -> None:
    if value is None:
        return
    if field.kind is ValueKind.ROWS:
        _check_rows(field, path, value, timezone, problems)
        return
    problem = _value_problem(field, value, timezone)
    if problem is not None:
        problems.setdefault(path, []).append(problem)


def _check_rows(
    field: Field, path: str, value: Any, timezone: tzinfo, problems: dict[str, list[Problem]]
) -> None:
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        problems.setdefault(path, []).append(Problem("type", N_("must be an array of row objects")))
        return
    subfields = {sub.key: sub for sub in field.fields}
    for index, row in enumerate(value):
        for key, item in row.items():
            sub = subfields.get(key)
            if sub is not None and not sub.is_computed:
                _check(sub, f"{path}.{index}.{key}", item, timezone, problems)


def _value_problem(field: Field, value: Any, timezone: tzinfo) -> Problem | None:
    kind = field.kind
    if kind is ValueKind.TEXT:
        return _text_problem(value, N_("must be a string"))
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
        return _text_problem(value, N_("must be a date written YYYY-MM-DD"))
    if kind is ValueKind.DATETIME:
        return _text_problem(value, N_("must be a date-time string")) or _datetime_problem(
            value, timezone
        )
    if kind is ValueKind.CHOICES:
        if not isinstance(value, list):
            return Problem("type", N_("must be an array of option values"))
        return next(
            (
                p
                for item in value
                if (p := _text_problem(item, N_("must hold strings"))) is not None
            ),
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


def _text_problem(value: Any, message: str) -> Problem | None:
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
        if _text_problem(item.get("id"), "") is not None:
            return Problem("type", N_("each attachment needs its id as a string"))
        for key in ("name", "content_type"):
            if item.get(key) is not None and _text_problem(item[key], "") is not None:
                return Problem(
                    "type", N_("an attachment's %(key)s must be a string"), (("key", key),)
                )
        size = item.get("size")
        if size is not None and not is_whole(size):
            return Problem("type", N_("an attachment's size must be a whole number"))
    return None
