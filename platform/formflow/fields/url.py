"""``url``: a web address (http or https); ``example.com`` is read as ``https://example.com``."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from formflow.errors import N_
from formflow.fields.base import FieldType
from formflow.fields.kinds import ValueKind
from formflow.fields.values import Invalid, Purpose

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class UrlType(FieldType):
    name = "url"
    kind = ValueKind.TEXT
    widget = "url"
    shown_as = "url"

    def value_note(self, field: Field) -> str:
        return "An http:// or https:// address."

    def check_text(self, field: Field, text: str, purpose: Purpose) -> str:
        if purpose is Purpose.INPUT:
            text = web_address(text)
        return super().check_text(field, text, purpose)


def web_address(text: str) -> str:
    message = N_("is not a web address (http:// or https://)")
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
    except ValueError:  # a bracketed host that is not an IP address
        raise Invalid("url", message) from None
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        raise Invalid("url", message)
    return parts.geturl()


URL = UrlType()
