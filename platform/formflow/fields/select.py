"""``select``: one option out of the field's ``options``, kept as the option's value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from formflow.errors import N_
from formflow.fields.base import DefinitionChecks, FieldType
from formflow.fields.json_values import Schema
from formflow.fields.kinds import ValueKind
from formflow.fields.values import Invalid, Purpose

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class SelectType(FieldType):
    name = "select"
    kind = ValueKind.TEXT
    widget = "select"
    shown_as = "option"
    filtered_as = "select"

    def check_default(self, field: Field, default: Any, checks: DefinitionChecks) -> None:
        if default not in field.option_values:
            checks.error(("default",), not_an_option(default, field))

    def input_widget(self, field: Field) -> str:
        return "radio" if field.style == "radio" else "select"

    def json_schema(self, field: Field, *, writing: bool) -> Schema:
        return {"type": "string", "enum": list(field.option_values)}

    def check_text(self, field: Field, text: str, purpose: Purpose) -> str:
        if purpose is Purpose.INPUT and text not in field.option_values:
            raise Invalid("choice", N_("'%(value)s' is not one of the options"), value=text)
        return text if purpose is Purpose.INPUT else super().check_text(field, text, purpose)


def not_an_option(value: Any, field: Field) -> str:
    return f"default '{value}' is not one of the options ({', '.join(field.option_values)})"


SELECT = SelectType()
