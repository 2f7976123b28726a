"""One converter for every value a field takes: typed by people, asked for in filters, or
stored under a field's former type.

Each kind has one set of rules (which words mean *yes*, how a number may be written, what a
date looks like) whatever the value's source; the source, a :class:`Purpose`, only decides
what else is asked of it. Input must satisfy the field's own limits (options, bounds,
lengths); a filter value need only be comparable with stored values; a stored value being
moved to a new type must arrive exactly or not at all. A value that does not fit raises
:class:`Invalid`, a ``ValueError`` carrying a :class:`~formflow.errors.Problem` people can
act on.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from formflow.errors import N_, Problem, render
from formflow.fields.kinds import ValueKind
from formflow.storage.text import storable

if TYPE_CHECKING:
    from formflow.definitions.model import Field

MAX_INTEGER = 2**63 - 1
MAX_INPUT_DIGITS = 18
"""Digits before the point a person may type; columns keep 20 (see ``STORED_DIGITS``)."""
STORED_DIGITS = 20
MAX_FILTER_TEXT = 2000
TRUE_WORDS = frozenset({"true", "1", "yes", "on", "y", "是"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", "n", "否"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR_FIRST_DATE = re.compile(
    r"(?P<year>\d{4})(?:(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})"
    r"|\s*年\s*(?P<cn_month>\d{1,2})\s*月\s*(?P<cn_day>\d{1,2})\s*日?)"
    r"(?:[ T]\s*(?P<time>\S.*))?"
)
"""A date written year first, as spreadsheets and people in China write it: ``2026/1/5``,
``2026.01.05``, ``2026-1-5``, ``2026年1月5日``, optionally followed by a time. Day-first and
month-first forms (``05/01/2026``) are left out: nobody can tell which of the two is meant."""
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_CURRENCY_SIGN = re.compile(r"^([+-]?)\s*[¥￥$€£]\s*|\s*元$")
"""A currency sign before an amount (``¥1,200``, ``-$5``) or 元 after it, as spreadsheets
show amounts: the field's own currency says what the number is in."""


class Purpose(StrEnum):
    """Where a value comes from, which decides what is asked of it besides its kind."""

    INPUT = "input"
    """Typed by a person or sent by an API client: the field's limits apply."""
    FILTER = "filter"
    """Compared with stored values in a query: it need only be comparable."""
    STORED = "stored"
    """Kept under the field's former type, moved by a migration: nothing may be lost."""


class Invalid(ValueError):
    """A value that does not fit its field."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(render(message, params))
        self.problem = Problem(code, message, tuple(sorted(params.items())))


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def stored_date(value: Any) -> date:
    """A date field's value as the database or JSON hands it back: a date, a datetime
    (SQLite may return one) or ISO text (a JSON copy), already checked when stored."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def check_characters(text: str) -> None:
    """Refuse characters no database stores as text: NUL and unpaired surrogates."""
    if "\x00" in text:
        raise Invalid("invalid_character", N_("contains a NUL character"))
    if not storable(text):
        raise Invalid("invalid_character", N_("contains characters that are not valid text"))


_CONTROLS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters other than tab and line breaks: nobody types them, and printed in a
terminal or a spreadsheet (an export, the audit CSV) they act instead of showing."""


def check_typed_characters(text: str) -> None:
    """Refuse what a person or client may not send in text, besides what
    :func:`check_characters` refuses: control characters other than tab and line breaks."""
    check_characters(text)
    if _CONTROLS.search(text):
        raise Invalid("invalid_character", N_("contains control characters"))


def shows_nothing(text: str) -> bool:
    """Whether ``text`` holds nothing visible: only spaces and invisible format characters
    (zero-width spaces, byte-order marks, direction marks), which a required field must not
    take for a value."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


KindConverter = Callable[["Field | None", Any, Purpose, tzinfo], Any]


def convert_kind(field: Field, value: Any, purpose: Purpose, timezone: tzinfo = UTC) -> Any:
    """``value`` in the shape ``field.kind`` keeps, for ``purpose``; ``Invalid`` if it does
    not fit. Empty values are the caller's to handle."""
    return _BY_KIND[field.kind](field, value, purpose, timezone)


def filter_value(kind: ValueKind, value: Any) -> Any:
    """A value to compare a system field (id, created_at, ...) of ``kind`` with."""
    return _BY_KIND[kind](None, value, Purpose.FILTER, UTC)


def text_value(field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        if purpose is not Purpose.STORED:
            raise Invalid("type", N_("must be text"))
        text = "true" if value else "false"
    elif isinstance(value, int | Decimal):
        text = format(Decimal(value), "f")
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, date) and purpose is Purpose.STORED:
        text = value.isoformat()
    elif isinstance(value, list) and purpose is Purpose.STORED:
        text = _single_choice(value)
    else:
        raise Invalid("type", N_("must be text"))
    check_characters(text)
    if purpose is Purpose.FILTER and len(text) > MAX_FILTER_TEXT:
        raise Invalid(
            "max_length", N_("must be at most %(limit)s characters"), limit=MAX_FILTER_TEXT
        )
    return text


def _single_choice(values: list[Any]) -> str:
    if len(values) == 1 and isinstance(values[0], str):
        return values[0]
    raise Invalid("type", N_("must be one value, not a list"))


def integer_value(field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC) -> int:
    number = _number(value, N_("must be a whole number"), purpose)
    if number != number.to_integral_value():
        raise Invalid("type", N_("must be a whole number"))
    if abs(number) > MAX_INTEGER:
        raise Invalid("range", N_("is too large"))
    whole = int(number)
    return int(_bounded(field, whole)) if field and purpose is Purpose.INPUT else whole


def decimal_value(
    field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC
) -> Decimal:
    number = _number(value, N_("must be a number"), purpose)
    if purpose is Purpose.FILTER or field is None:
        if number.adjusted() > 30:
            raise Invalid("range", N_("is too large"))
        return number
    digits = MAX_INPUT_DIGITS if purpose is Purpose.INPUT else STORED_DIGITS
    if abs(number) >= Decimal(10) ** digits:
        raise Invalid("range", N_("is too large"))
    quantum = Decimal(1).scaleb(-field.scale)
    try:
        rounded = number.quantize(quantum)
    except InvalidOperation:
        raise Invalid("range", N_("is too large")) from None
    if rounded != number:
        raise Invalid("scale", N_("may have at most %(scale)s decimal places"), scale=field.scale)
    return Decimal(_bounded(field, rounded)) if purpose is Purpose.INPUT else rounded


def _number(value: Any, message: str, purpose: Purpose) -> Decimal:
    """A number as people and clients write it: ``1234``, ``1,234.5``, ``12%``; typed,
    also with a currency sign (``¥1,200``), which a stored text keeps as part of it."""
    if isinstance(value, bool):
        raise Invalid("type", message)
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        written = value.replace(",", "").strip().removesuffix("%").strip()
        if purpose is Purpose.INPUT:
            written = _CURRENCY_SIGN.sub(r"\1", written)
        if not _PLAIN_NUMBER.fullmatch(written):
            raise Invalid("type", message)
        number = Decimal(written)
    else:
        raise Invalid("type", message)
    if not number.is_finite():
        raise Invalid("type", message)
    # -0 is 0: kept signed, it would be stored and shown as "-0.00"
    return number.copy_abs() if number.is_zero() else number


def _bounded(field: Field, number: int | Decimal) -> int | Decimal:
    if field.minimum is not None and number < Decimal(str(field.minimum)):
        raise Invalid("min", N_("must be at least %(limit)s"), limit=field.minimum)
    if field.maximum is not None and number > Decimal(str(field.maximum)):
        raise Invalid("max", N_("must be at most %(limit)s"), limit=field.maximum)
    return number


def date_value(field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC) -> date:
    day = _as_date(value, purpose)
    if field is not None and purpose is Purpose.INPUT:
        low, high = (date.fromisoformat(b) if b else None for b in (field.minimum, field.maximum))
        if (low and day < low) or (high and day > high):
            raise Invalid(
                "range",
                N_("must be between %(low)s and %(high)s"),
                low=low or "…",
                high=high or "…",
            )
    return day


def _as_date(value: Any, purpose: Purpose) -> date:
    if isinstance(value, datetime):
        if purpose is Purpose.STORED and value.time() != time(0):
            raise Invalid("type", N_("has a time of day"))
        if purpose is Purpose.FILTER:
            raise Invalid("type", N_("must be a date like 2026-01-31"))
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if _ISO_DATE.fullmatch(text):
                return date.fromisoformat(text)
            if purpose is Purpose.INPUT:
                return datetime.fromisoformat(_iso_written(text)).date()
        except ValueError:
            pass
    raise Invalid("type", N_("must be a date like 2026-01-31"))


def _iso_written(text: str) -> str:
    """``text`` with a year-first date at its start written the ISO way (``2026年1月5日 9:30``
    becomes ``2026-01-05 9:30``); any other text as it is, for ``fromisoformat`` to judge."""
    found = _YEAR_FIRST_DATE.fullmatch(text)
    if found is None:
        return text
    month = found["month"] or found["cn_month"]
    day = found["day"] or found["cn_day"]
    written = f"{found['year']}-{int(month):02d}-{int(day):02d}"
    return f"{written} {_padded_time(found['time'])}" if found["time"] else written


def _padded_time(text: str) -> str:
    """A time of day as ``fromisoformat`` takes it: ``9:30`` becomes ``09:30``."""
    hours, colon, rest = text.partition(":")
    return (
        f"{int(hours):02d}{colon}{rest}" if colon and hours.isascii() and hours.isdigit() else text
    )


def datetime_value(
    field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC
) -> datetime:
    """A moment in UTC; a time written without a zone is read in ``timezone``."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0))
    elif isinstance(value, str) and value.strip():
        try:
            written = value.strip().replace("Z", "+00:00")
            if purpose is Purpose.INPUT:
                written = _iso_written(written)
            moment = datetime.fromisoformat(written)
        except ValueError:
            raise Invalid("type", N_("must be a date and time like 2026-01-31 09:30")) from None
    else:
        raise Invalid("type", N_("must be a date and time like 2026-01-31 09:30"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise Invalid("range", N_("is outside the dates that can be stored")) from None


def bool_value(field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    word = value.strip().lower() if isinstance(value, str) else None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Invalid("type", N_("must be yes or no"))


def choices_value(field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC) -> Any:
    """The chosen options; a filter asks about one option at a time."""
    if purpose is Purpose.FILTER or field is None:
        if not isinstance(value, str):
            raise Invalid("type", N_("must be an option value"))
        return value
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise Invalid("type", N_("must be a list of options"))
    if purpose is Purpose.STORED:
        return list(values)
    chosen = list(dict.fromkeys(values))
    unknown = [v for v in chosen if v not in field.option_values]
    if unknown:
        raise Invalid("choice", N_("'%(value)s' is not one of the options"), value=unknown[0])
    if field.max_items is not None and len(chosen) > field.max_items:
        raise Invalid("max_items", N_("choose at most %(limit)s"), limit=field.max_items)
    if field.min_items is not None and len(chosen) < field.min_items:
        raise Invalid("min_items", N_("choose at least %(limit)s"), limit=field.min_items)
    return chosen


def reference_value(
    field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC
) -> int:
    if isinstance(value, bool):
        raise Invalid("type", N_("must be a record id"))
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise Invalid("type", N_("must be a record id")) from None
    if isinstance(value, float | Decimal) and number != value:
        raise Invalid("type", N_("must be a record id"))
    if number <= 0 or number > MAX_INTEGER:
        raise Invalid("type", N_("must be a record id"))
    return number


def files_value(field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC) -> Any:
    files = [value] if isinstance(value, dict) else value
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and isinstance(f.get("id"), str) for f in files
    ):
        raise Invalid("type", N_("must be uploaded files"))
    if field is not None and not field.multiple and len(files) > 1:
        raise Invalid("max_items", N_("takes one file"), limit=1)
    keys = ("id", "name", "size", "content_type")
    return [{key: f.get(key) for key in keys} for f in files]


def rows_value(field: Field | None, value: Any, purpose: Purpose, timezone: tzinfo = UTC) -> Any:
    raise Invalid("type", N_("rows are converted one field at a time"))


_BY_KIND: Mapping[ValueKind, KindConverter] = {
    ValueKind.TEXT: text_value,
    ValueKind.INTEGER: integer_value,
    ValueKind.DECIMAL: decimal_value,
    ValueKind.DATE: date_value,
    ValueKind.DATETIME: datetime_value,
    ValueKind.BOOL: bool_value,
    ValueKind.CHOICES: choices_value,
    ValueKind.REFERENCE: reference_value,
    ValueKind.FILES: files_value,
    ValueKind.ROWS: rows_value,
}
