"""Mobile numbers, checked with phonenumbers: what is not a valid mobile number is skipped."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType


def mobile(raw: object, region: str = "CN") -> str | None:
    """``raw`` as an E.164 mobile number (``+8613800138000``), or ``None`` when it is not
    one (empty, malformed, a landline)."""
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return None
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))


_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def email_address(value: object) -> str | None:
    """The e-mail address in ``value``, or ``None`` when it is not one (e-mail blasts)."""
    text = str(value or "").strip()
    return text if len(text) <= 320 and _ADDRESS.match(text) else None
