"""``formula``: a value the engine works out from the record with the field's
``expression``; ``result`` says what it is (a number unless it says)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from formflow.fields.base import FieldType
from formflow.fields.kinds import ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field

RESULT_KINDS: Mapping[str, ValueKind] = {
    "number": ValueKind.DECIMAL,
    "money": ValueKind.DECIMAL,
    "percent": ValueKind.DECIMAL,
    "text": ValueKind.TEXT,
    "date": ValueKind.DATE,
    "bool": ValueKind.BOOL,
}
DEFAULT_SCALE = 2
RESULT_STYLES: Mapping[str, str] = {
    "number": "number",
    "money": "money",
    "percent": "percent",
    "text": "text",
    "date": "date",
    "bool": "yes_no",
}


class FormulaType(FieldType):
    name = "formula"
    kind = ValueKind.DECIMAL
    computed = True

    def value_kind(self, item: Mapping[str, Any]) -> ValueKind:
        return RESULT_KINDS[item.get("result", "number")]

    def display_style(self, field: Field) -> str:
        return RESULT_STYLES[field.result_type or "number"]

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "scale": item.get("scale", DEFAULT_SCALE),
            "result_type": item.get("result", "number"),
        }


FORMULA = FormulaType()
