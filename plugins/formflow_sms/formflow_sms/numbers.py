"""Mobile numbers, checked with phonenumbers: what is not a valid mobile number is skipped."""

from __future__ import annotations

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
