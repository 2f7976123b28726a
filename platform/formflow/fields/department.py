"""``department``: one of the instance's departments, kept as its id."""

from __future__ import annotations

from formflow.fields.base import FieldType
from formflow.fields.kinds import Reference, ValueKind


class DepartmentType(FieldType):
    name = "department"
    kind = ValueKind.REFERENCE
    reference = Reference.DEPARTMENT


DEPARTMENT = DepartmentType()
