"""``user``: one of the instance's users, kept as their id (an owner field is one)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from formflow.fields.base import FieldType
from formflow.fields.kinds import Reference, ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class UserType(FieldType):
    name = "user"
    kind = ValueKind.REFERENCE
    reference = Reference.USER

    def value_note(self, field: Field) -> str:
        return "A user id."


USER = UserType()
