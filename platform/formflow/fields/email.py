"""``email``: an e-mail address, its domain kept in lower case."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from formflow.errors import N_
from formflow.fields.base import FieldType
from formflow.fields.json_values import Schema
from formflow.fields.kinds import ValueKind
from formflow.fields.values import Invalid, Purpose

if TYPE_CHECKING:
    from formflow.definitions.model import Field

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class EmailType(FieldType):
    name = "email"
    kind = ValueKind.TEXT
    searchable = True
    widget = "email"
    shown_as = "email"

    def json_schema(self, field: Field, *, writing: bool) -> Schema:
        schema = super().json_schema(field, writing=writing)
        return {**schema, "format": "email"} if writing else schema

    def check_text(self, field: Field, text: str, purpose: Purpose) -> str:
        if purpose is Purpose.INPUT:
            if not _ADDRESS.match(text):
                raise Invalid("email", N_("is not an e-mail address"))
            local, _, domain = text.rpartition("@")
            text = f"{local}@{domain.lower()}"
        return super().check_text(field, text, purpose)


EMAIL = EmailType()
