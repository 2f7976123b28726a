"""``number``: a whole number, or a decimal with ``scale`` places, within ``min``/``max``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from formflow.fields.base import DefinitionChecks, FieldType
from formflow.fields.kinds import ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class NumberType(FieldType):
    name = "number"
    kind = ValueKind.DECIMAL
    widget = "number"
    default_scale = 0

    def value_kind(self, item: Mapping[str, Any]) -> ValueKind:
        if self.default_scale == 0 and item.get("scale", 0) == 0:
            return ValueKind.INTEGER
        return ValueKind.DECIMAL

    def settings(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"scale": item.get("scale", self.default_scale)}

    def check_default(self, field: Field, default: Any, checks: DefinitionChecks) -> None:
        if field.minimum is not None and default < field.minimum:
            checks.error(("default",), f"default {default} is below min {field.minimum}")
        if field.maximum is not None and default > field.maximum:
            checks.error(("default",), f"default {default} is above max {field.maximum}")


NUMBER = NumberType()
