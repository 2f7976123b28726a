"""What roll-ups and lookups share: a value the engine keeps from other records, shown like
the field it comes from.

Both are stored columns (so lists filter, sort and index them like any field) that the record
service keeps exact in the unit of work of the write that changes them
(:mod:`formflow.records.derived`). Which field they come from is only known once every form
is compiled (:mod:`formflow.definitions.relations`), which then gives the field the kind,
decimals, options and currency of its source; pages, filters and the API then ask the
source's type how to show, filter and describe the value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from formflow.fields.base import FieldType
from formflow.fields.json_values import Schema

if TYPE_CHECKING:
    from formflow.definitions.model import Field


class DerivedType(FieldType):
    """A computed, read-only field shown as the field its value comes from."""

    computed = True

    def _source(self, field: Field) -> FieldType | None:
        return field.source.field_type if field.source is not None else None

    def input_widget(self, field: Field) -> str:
        source = self._source(field)
        return source.input_widget(field) if source is not None else super().input_widget(field)

    def display_style(self, field: Field) -> str:
        source = self._source(field)
        return source.display_style(field) if source is not None else super().display_style(field)

    def filter_widget(self, field: Field) -> str:
        source = self._source(field)
        return source.filter_widget(field) if source is not None else super().filter_widget(field)

    def to_json(self, field: Field, value: Any) -> Any:
        source = self._source(field)
        return source.to_json(field, value) if source is not None else super().to_json(field, value)

    def json_schema(self, field: Field, *, writing: bool) -> Schema:
        source = self._source(field)
        if source is None:
            return super().json_schema(field, writing=writing)
        return source.json_schema(field, writing=writing)
