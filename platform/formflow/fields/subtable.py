"""``subtable``: rows of their own ``fields`` (an order's lines), kept in a child table."""

from __future__ import annotations

from formflow.fields.base import FieldType
from formflow.fields.kinds import ValueKind


class SubtableType(FieldType):
    name = "subtable"
    kind = ValueKind.ROWS
    widget = "rows"


SUBTABLE = SubtableType()
