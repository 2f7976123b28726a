"""``textarea``: several lines of text, kept whole (spaces and all) in an unbounded column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Text
from sqlalchemy.types import TypeEngine

from formflow.fields.base import FieldType
from formflow.fields.kinds import ValueKind

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class TextareaType(FieldType):
    name = "textarea"
    kind = ValueKind.TEXT
    searchable = True
    filterable = False
    sortable = False
    widget = "textarea"
    shown_as = "multiline"

    def column_type(self, field: Field) -> TypeEngine[Any]:
        return Text()

    def strips_input(self, field: Field) -> bool:
        return False


TEXTAREA = TextareaType()
