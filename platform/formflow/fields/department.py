"""``department``: one of the instance's departments, kept as its id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from formflow.fields.base import FieldType
from formflow.fields.kinds import Reference, ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class DepartmentType(FieldType):
    name = "department"
    kind = ValueKind.REFERENCE
    reference = Reference.DEPARTMENT

    def value_note(self, field: Field) -> str:
        return "A department id."


DEPARTMENT = DepartmentType()
