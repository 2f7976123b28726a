"""Turning submitted input into stored values, one field at a time.

Input comes from HTML forms (everything is text), the JSON API and imports, so each field
accepts the forms a person or a client would reasonably send and converts them to one
stored shape: ``Decimal`` for money, ``date`` for dates, E.164 for phone numbers, and so on.
A value that cannot be converted raises :class:`Invalid` with a :class:`Problem` the user
can act on; nothing is silently rounded, truncated or guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from formflow.definitions.model import Field
from formflow.errors import N_, Problem, render
from formflow.fieldtypes import FieldTypeRegistry, ValueKind
from formflow.storage.conversions import text_limit
from formflow.storage.text import storable

MAX_INTEGER = 2**63 - 1
MAX_DECIMAL_DIGITS = 18
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = frozenset({"true", "1", "yes", "on", "y", "是"})
_FALSE = frozenset({"false", "0", "no", "off", "n", "否"})


class Invalid(ValueError):
    """A value that does not fit its field."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(render(message, params))
        self.problem = Problem(code, message, tuple(sorted(params.items())))


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class ValueConverter:
    """Converts input for the fields of one app, knowing its field types and time zone."""

    def __init__(self, field_types: FieldTypeRegistry, timezone: tzinfo = UTC) -> None:
        self.field_types = field_types
        self.timezone = timezone
        self._by_kind: Mapping[ValueKind, Callable[[Field, Any], Any]] = {
            ValueKind.TEXT: self._text,
            ValueKind.INTEGER: self._integer,
            ValueKind.DECIMAL: self._decimal,
            ValueKind.DATE: self._date,
            ValueKind.DATETIME: self._datetime,
            ValueKind.BOOL: self._bool,
            ValueKind.CHOICES: self._choices,
            ValueKind.REFERENCE: self._reference,
            ValueKind.FILES: self._files,
        }

    def convert(self, field: Field, value: Any) -> Any:
        """The stored form of ``value`` for ``field``; ``None`` for an empty value."""
        if isinstance(value, str):
            _check_characters(value)
            if field.type != "textarea":
                value = value.strip()
        if is_empty(value):
            return None
        converted = self._by_kind[field.kind](field, value)
        plugin_coerce = self.field_types[field.type].coerce
        if plugin_coerce is not None:
            try:
                converted = plugin_coerce(converted)
            except ValueError as exc:
                raise Invalid("invalid", str(exc)) from None
        return converted

    # kinds ----------------------------------------------------------------------

    def _text(self, field: Field, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise Invalid("type", N_("must be text"))
        text = str(value)
        if field.type == "select":
            if text not in field.option_values:
                raise Invalid("choice", N_("'%(value)s' is not one of the options"), value=text)
            return text
        text = _SPECIAL_TEXT.get(field.type, _plain)(field, text)
        limit = field.max_length if field.max_length is not None else text_limit(field)
        if limit is not None and len(text) > limit:
            raise Invalid("max_length", N_("must be at most %(limit)s characters"), limit=limit)
        if field.min_length is not None and len(text) < field.min_length:
            raise Invalid(
                "min_length",
                N_("must be at least %(limit)s characters"),
                limit=field.min_length,
            )
        if field.pattern and field.type != "auto_number" and not re.fullmatch(field.pattern, text):
            raise Invalid("pattern", N_("is not in the expected format"), pattern=field.pattern)
        return text

    def _integer(self, field: Field, value: Any) -> int:
        if isinstance(value, bool):
            raise Invalid("type", N_("must be a whole number"))
        if isinstance(value, float | Decimal) and value == int(value):
            value = int(value)
        try:
            number = int(value) if isinstance(value, int) else int(str(value).replace(",", ""))
        except ValueError:
            raise Invalid("type", N_("must be a whole number")) from None
        if abs(number) > MAX_INTEGER:
            raise Invalid("range", N_("is too large"))
        return int(_bounded(field, number))

    def _decimal(self, field: Field, value: Any) -> Decimal:
        if isinstance(value, bool):
            raise Invalid("type", N_("must be a number"))
        try:
            number = Decimal(str(value).replace(",", "").removesuffix("%").strip())
        except InvalidOperation:
            raise Invalid("type", N_("must be a number")) from None
        if not number.is_finite():
            raise Invalid("type", N_("must be a number"))
        if abs(number) >= Decimal(10) ** MAX_DECIMAL_DIGITS:
            raise Invalid("range", N_("is too large"))
        exponent = number.as_tuple().exponent
        if (
            isinstance(exponent, int)
            and -exponent > field.scale
            and number != round(number, field.scale)
        ):
            raise Invalid(
                "scale", N_("may have at most %(scale)s decimal places"), scale=field.scale
            )
        return Decimal(_bounded(field, number.quantize(Decimal(1).scaleb(-field.scale))))

    def _date(self, field: Field, value: Any) -> date:
        day = _as_date(value)
        bounds = field.minimum, field.maximum
        low, high = (date.fromisoformat(bound) if bound else None for bound in bounds)
        if (low and day < low) or (high and day > high):
            raise Invalid(
                "range",
                N_("must be between %(low)s and %(high)s"),
                low=low or "…",
                high=high or "…",
            )
        return day

    def _datetime(self, field: Field, value: Any) -> datetime:
        try:
            moment = (
                value
                if isinstance(value, datetime)
                else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            )
        except ValueError:
            raise Invalid("type", N_("must be a date and time like 2026-01-31 09:30")) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.timezone)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise Invalid("range", N_("is outside the dates that can be stored")) from None

    def _bool(self, field: Field, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise Invalid("type", N_("must be yes or no"))

    def _choices(self, field: Field, value: Any) -> list[str]:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
            raise Invalid("type", N_("must be a list of options"))
        chosen = list(dict.fromkeys(values))
        unknown = [v for v in chosen if v not in field.option_values]
        if unknown:
            raise Invalid("choice", N_("'%(value)s' is not one of the options"), value=unknown[0])
        if field.max_items is not None and len(chosen) > field.max_items:
            raise Invalid("max_items", N_("choose at most %(limit)s"), limit=field.max_items)
        if field.min_items is not None and len(chosen) < field.min_items:
            raise Invalid("min_items", N_("choose at least %(limit)s"), limit=field.min_items)
        return chosen

    def _reference(self, field: Field, value: Any) -> int:
        if isinstance(value, bool):
            raise Invalid("type", N_("must be a record id"))
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise Invalid("type", N_("must be a record id")) from None
        if number <= 0 or number > MAX_INTEGER:
            raise Invalid("type", N_("must be a record id"))
        return number

    def _files(self, field: Field, value: Any) -> list[dict[str, Any]]:
        files = [value] if isinstance(value, dict) else value
        if not isinstance(files, list) or not all(
            isinstance(f, dict) and isinstance(f.get("id"), str) for f in files
        ):
            raise Invalid("type", N_("must be uploaded files"))
        if not field.multiple and len(files) > 1:
            raise Invalid("max_items", N_("takes one file"), limit=1)
        keys = ("id", "name", "size", "content_type")
        return [{key: f.get(key) for key in keys} for f in files]


def _check_characters(text: str) -> None:
    """Refuse characters no database stores as text: NUL and unpaired surrogates."""
    if "\x00" in text:
        raise Invalid("invalid_character", N_("contains a NUL character"))
    if not storable(text):
        raise Invalid(
            "invalid_character", N_("contains characters that are not valid text")
        ) from None


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        raise Invalid("type", N_("must be a date like 2026-01-31")) from None


def _bounded(field: Field, number: int | Decimal) -> int | Decimal:
    if field.minimum is not None and number < Decimal(str(field.minimum)):
        raise Invalid("min", N_("must be at least %(limit)s"), limit=field.minimum)
    if field.maximum is not None and number > Decimal(str(field.maximum)):
        raise Invalid("max", N_("must be at most %(limit)s"), limit=field.maximum)
    return number


def _plain(field: Field, text: str) -> str:
    return text


def _phone(field: Field, text: str) -> str:
    try:
        parsed = phonenumbers.parse(text, field.region or "CN")
    except phonenumbers.NumberParseException:
        raise Invalid("phone", N_("is not a phone number")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise Invalid("phone", N_("is not a valid phone number"))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _email(field: Field, text: str) -> str:
    if not _EMAIL.match(text):
        raise Invalid("email", N_("is not an e-mail address"))
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def _url(field: Field, text: str) -> str:
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
    except ValueError:  # a bracketed host that is not an IP address
        raise Invalid("url", "is not a web address (http:// or https://)") from None
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        raise Invalid("url", N_("is not a web address (http:// or https://)"))
    return parts.geturl()


_SPECIAL_TEXT: Mapping[str, Callable[[Field, str], str]] = {
    "phone": _phone,
    "email": _email,
    "url": _url,
}
