"""``phone``: a telephone number, kept in E.164 (+8613812345678) and read as people of the
field's ``region`` (CN unless it says) write it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import phonenumbers

from formflow.errors import N_
from formflow.fields.base import FieldType
from formflow.fields.json_values import Schema
from formflow.fields.kinds import ValueKind
from formflow.fields.values import Invalid, Purpose

if TYPE_CHECKING:
    from formflow.definitions.model import Field

DEFAULT_REGION = "CN"


class PhoneType(FieldType):
    name = "phone"
    kind = ValueKind.TEXT
    searchable = True
    widget = "tel"
    shown_as = "phone"

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"region": item.get("region", DEFAULT_REGION)}

    def json_schema(self, field: Field, *, writing: bool) -> Schema:
        schema = super().json_schema(field, writing=writing)
        if not writing:
            return {**schema, "pattern": r"^\+[1-9][0-9]{1,14}$"}
        region = field.region or DEFAULT_REGION
        return {
            **schema,
            "description": f"A phone number; stored in E.164 (+8613812345678), region {region} assumed.",
        }

    def check_text(self, field: Field, text: str, purpose: Purpose) -> str:
        if purpose is Purpose.INPUT:
            text = e164(text, field.region or DEFAULT_REGION)
        return super().check_text(field, text, purpose)


def e164(text: str, region: str) -> str:
    """``text`` as an E.164 number, or ``Invalid``."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise Invalid("phone", N_("is not a phone number")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise Invalid("phone", N_("is not a valid phone number"))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


PHONE = PhoneType()
