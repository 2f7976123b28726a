"""Records as JSON, in and out, for the REST API.

Each value's JSON shape, and the check of a value sent in, belong to its field type
(:mod:`formflow.fields.json_values`); this module assembles records, subtables included,
and history. :mod:`formflow.web.openapi` documents exactly these shapes.

In, a body is parsed with decimals kept exact, then each value's JSON type is checked
against its field before the record service sees it: the pages accept "12" for a number
because HTML forms send text, but an API client that sends a string where the document
says integer has a bug it should hear about. The service then does all the real
validation (options, lengths, references, uniqueness, permissions), as for the pages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from formflow.definitions.model import SYSTEM_FIELDS, Field, Form
from formflow.errors import N_, Problem, RecordError, ValidationFailed
from formflow.fields import ValueKind
from formflow.fields.json_values import datetime_json, json_type, kind_writer
from formflow.records import AuditEntry
from formflow.web.errors import MAX_ECHOED


class InvalidBody(RecordError, code="invalid_body"):
    """A request body that is not a JSON object of values (status 400)."""


class InvalidJson(InvalidBody, code="invalid_json"):
    pass


# out ----------------------------------------------------------------------------


def record_json(
    form: Form, record: Mapping[str, Any], fields: Collection[str] | None = None
) -> dict[str, Any]:
    """A record as the API returns it: ``id``, the form's fields, then the system fields;
    or, when ``fields`` names some, ``id`` and just those, in that same order.

    Subtable fields appear when the record holds their rows (single records do; list
    pages leave them out, as a list shows no rows); fields hidden from the reader, which the
    record service leaves out, do not appear at all.
    """
    return shape(form, fields).json(record)


def records_json(
    form: Form, records: Iterable[Mapping[str, Any]], fields: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """A page of records as :func:`record_json` writes each, its shape worked out once."""
    return shape(form, fields).page(records)


MAX_SHAPES = 256
"""How many shapes :func:`shape` keeps (all are dropped when it is full)."""
_shapes: dict[tuple[int, frozenset[str] | None], tuple[Form, RecordShape]] = {}


def shape(form: Form, fields: Collection[str] | None = None) -> RecordShape:
    """The shape of ``form``'s records holding ``fields`` (or all), worked out once per
    compiled form: every answer of the API writes one, and working it out asks each
    field's type for its writer. A migration compiles new forms, which get shapes of their
    own; the form is kept beside its shape, so a form that took the place (and ``id``) of
    one since gone is never answered with the old one's shape."""
    key = (id(form), None if fields is None else frozenset(fields))
    found = _shapes.get(key)
    if found is not None and found[0] is form:
        return found[1]
    if len(_shapes) >= MAX_SHAPES:
        _shapes.clear()
    made = RecordShape(form, fields)
    _shapes[key] = (form, made)
    return made


class RecordShape:
    """Which keys an answer's records hold and how each value is written.

    Worked out once per answer, so that writing a page costs a dictionary per record and a
    call per value, however wide the form and whatever ``fields`` leaves out.
    """

    def __init__(self, form: Form, fields: Collection[str] | None = None) -> None:
        self.declared = tuple(
            (field.key, _writer(field))
            for field in form.fields
            if fields is None or field.key in fields
        )
        self.system = tuple(
            (key, kind_writer(kind))
            for key, kind in SYSTEM_FIELDS.items()
            if key != "id" and (fields is None or key in fields)
        )

    def json(self, record: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": int(record["id"])}
        for key, write in self.declared:
            if key in record:
                out[key] = write(record[key])
        for key, write in self.system:
            out[key] = write(record.get(key))
        return out

    def page(self, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Records that all hold the same keys (a page's rows), each as :meth:`json`
        writes it: which of the shape's keys they hold is looked up once, on the first."""
        records = list(records)
        if not records:
            return []
        first = records[0]
        writers: list[tuple[str, Callable[[Any], Any]]] = [
            ("id", int),
            *((key, write) for key, write in self.declared if key in first),
            *((key, write) for key, write in self.system if key in first),
        ]
        if any(key not in first for key, _write in self.system):
            return [self.json(record) for record in records]
        return [{key: write(record[key]) for key, write in writers} for record in records]


def _writer(field: Field) -> Callable[[Any], Any]:
    if field.kind is ValueKind.ROWS:
        return lambda value: value_json(field, value)
    return field.field_type.json_writer(field)


def value_json(field: Field, value: Any) -> Any:
    """One field's stored value in its JSON shape."""
    if value is None:
        return [] if field.kind is ValueKind.ROWS else None
    if field.kind is ValueKind.ROWS:
        return [
            {sub.key: value_json(sub, row.get(sub.key)) for sub in field.fields} for row in value
        ]
    return field.field_type.to_json(field, value)


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


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=json_default)
"""What ``json.dumps(..., ensure_ascii=False, default=json_default)`` builds on every call."""


def json_text(data: Any) -> str:
    """An answer's JSON text: UTF-8 as it is, values the shapes above missed by
    :func:`json_default`; one encoder for every answer."""
    return _ENCODER.encode(data)


# in -----------------------------------------------------------------------------


def parse_json(data: bytes) -> Any:
    """A request body as JSON, decimals exact; :class:`InvalidJson` if it is not JSON, or
    if an object gives a key twice (see :func:`_object`)."""
    try:
        return json.loads(
            data.decode("utf-8"),
            parse_float=Decimal,
            parse_constant=_no_constant,
            object_pairs_hook=_object,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _invalid_json(exc) from None


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused if it gives a key twice: ``json.loads`` would keep the last
    value, while a proxy or firewall in front of us may have checked the first; either way
    the client meant something else than what would be stored. Checked as the object is
    built, so the body is parsed once."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return found


def parse_object(data: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object."""
    if not data.strip():
        raise InvalidBody(N_("the request needs a JSON object as its body"))
    body = parse_json(data)
    if not isinstance(body, dict):
        raise InvalidBody(
            N_("the body must be a JSON object of field values, not a JSON %(given)s"),
            given=json_type(body),
        )
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")  # NaN, Infinity: named, not translated


def _invalid_json(exc: BaseException) -> InvalidJson:
    """What is wrong with a body that is not JSON, as a message id: where the parser
    stopped rather than its English reason."""
    if isinstance(exc, RecursionError):
        return InvalidJson(N_("the request body is not valid JSON: it nests too deeply"))
    if isinstance(exc, _RepeatedKey):
        return InvalidJson(
            N_("the request body is not valid JSON: it gives the key '%(key)s' twice"),
            key=_cut(exc.key),
        )
    if isinstance(exc, UnicodeDecodeError):
        return InvalidJson(N_("the request body is not valid JSON: it is not UTF-8"))
    if isinstance(exc, json.JSONDecodeError):
        return InvalidJson(
            N_(
                "the request body is not valid JSON: it stops making sense at line %(line)s, column %(column)s"
            ),
            line=exc.lineno,
            column=exc.colno,
        )
    return InvalidJson(N_("the request body is not valid JSON: %(reason)s"), reason=str(exc))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ECHOED else text[:MAX_ECHOED] + "…"


def input_values(form: Form, values: Mapping[str, Any], timezone: tzinfo = UTC) -> dict[str, Any]:
    """``values`` checked for JSON types and ready for the record service.

    Raises :class:`ValidationFailed` with every problem :func:`taken_values` finds.
    """
    taken, problems = taken_values(form, values, timezone)
    if problems:
        raise ValidationFailed(problems)
    return taken


def taken_values(
    form: Form, values: Mapping[str, Any], timezone: tzinfo = UTC
) -> tuple[dict[str, Any], dict[str, list[Problem]]]:
    """The ``values`` that fit their field's JSON type, ready for the record service, and
    the problems of the rest: values of the wrong JSON type, keys that are not fields and
    fields that people may not set (formulas, numbering and ``readonly`` fields, which
    only the engine and workflows fill). The service reports these with its own (see
    ``RecordService.create``). Whole numbers written ``3.0`` become ``3``.
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
    refused = {path.split(".", 1)[0] for path in problems}
    taken = {
        key: _normalised(form.field(key), value)
        for key, value in values.items()
        if key not in refused
    }
    return taken, problems


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
    problem = field.field_type.json_problem(field, value, timezone)
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
