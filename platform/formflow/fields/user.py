"""``user``: one of the instance's users, kept as their id (an owner field is one)."""

from __future__ import annotations

from formflow.fields.base import FieldType
from formflow.fields.kinds import Reference, ValueKind


class UserType(FieldType):
    name = "user"
    kind = ValueKind.REFERENCE
    reference = Reference.USER


USER = UserType()
