"""How values are made comparable for duplicate checks.

Each normaliser turns a field's text into the key two values share when people would
call them the same, or ``None`` when there is nothing to compare (empty, or too little
left to mean anything). They are pure functions: the same text gives the same key in a
write, an import and ``formflow duplicates rebuild``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import phonenumbers

KEY_LENGTH = 255
"""The most characters of a key that are kept (and compared)."""

_LEGAL_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "股份公司",
    "集团公司",
    "公司",
    "coltd",
    "colimited",
    "corporation",
    "incorporated",
    "limited",
    "company",
    "corp",
    "gmbh",
    "ltd",
    "inc",
    "llc",
    "plc",
)
"""Legal forms that do not tell two companies apart, longest first where one ends another."""


def _folded(text: str) -> str:
    """Full-width forms made half-width (NFKC), case folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def text(value: str) -> str | None:
    """Case, width and runs of spaces do not matter."""
    folded = " ".join(_folded(value).split())
    return folded[:KEY_LENGTH] or None


def company_name(value: str) -> str | None:
    """As :func:`text`, and punctuation, spaces and legal suffixes (有限公司, Co., Ltd.)
    do not matter either: "华为技术有限公司" and "华为 技术" are one company."""
    letters = "".join(char for char in _folded(value) if char.isalnum())
    stripped = True
    while stripped:
        stripped = False
        for suffix in _LEGAL_SUFFIXES:
            if letters.endswith(suffix) and len(letters) > len(suffix):
                letters = letters[: -len(suffix)]
                stripped = True
                break
    return letters[:KEY_LENGTH] or None


def phone(value: str, region: str = "CN") -> str | None:
    """The number in E.164, read as people of ``region`` write it; when it cannot be read
    as a number, its digits (at least five)."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    digits = re.sub(r"\D", "", _folded(value))
    return digits[:KEY_LENGTH] if len(digits) >= 5 else None


def email(value: str) -> str | None:
    """Case and surrounding spaces do not matter; text without an ``@`` is no address."""
    folded = _folded(value).strip()
    return folded[:KEY_LENGTH] if "@" in folded else None


def code(value: str) -> str | None:
    """Letters and digits only, upper-cased: "9144 0300-MA5F" is "91440300MA5F"."""
    kept = "".join(char for char in unicodedata.normalize("NFKC", value) if char.isalnum())
    return kept.upper()[:KEY_LENGTH] or None


NORMALISERS: dict[str, Callable[[str], str | None]] = {
    "text": text,
    "company_name": company_name,
    "phone": phone,
    "email": email,
    "code": code,
}
"""The normalisers a check may name (``normalise:``), by name."""
