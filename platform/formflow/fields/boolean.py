"""``bool``: yes or no (a checkbox); ``true``/``yes``/``是`` and their opposites are read."""

from __future__ import annotations

from formflow.fields.base import FieldType
from formflow.fields.kinds import ValueKind


class BoolType(FieldType):
    name = "bool"
    kind = ValueKind.BOOL
    widget = "checkbox"


BOOL = BoolType()
