"""What the engine knows about each field type, independent of any one form.

A field type says how its values are kept (its :class:`ValueKind`) and what people can do
with it in a list: search it, filter on it, sort by it. The built-in types are declared
here; plugins add their own through the ``formflow_field_types`` hook, which is why the
definition compiler takes a registry rather than a fixed list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ValueKind(StrEnum):
    """How a value is stored and compared."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    BOOL = "bool"
    CHOICES = "choices"  # several option values
    REFERENCE = "reference"  # the id of a record, user or department
    ROWS = "rows"  # child rows in their own table
    FILES = "files"  # stored attachment descriptors


@dataclass(frozen=True)
class FieldType:
    """One kind of field an app definition may use.

    ``options_schema`` is a JSON Schema for the type's own keys; the built-in types are
    described by ``schemas/form.schema.json`` instead, so theirs is ``None``.
    """

    name: str
    kind: ValueKind
    searchable: bool = False
    filterable: bool = True
    sortable: bool = True
    options_schema: Mapping[str, Any] | None = field(default=None, compare=False)
    coerce: Callable[[Any], Any] | None = field(default=None, compare=False)
    """For plugin types: turn submitted input into the stored value, or raise ``ValueError``
    with a message for the person filling the form. Runs after the kind's own conversion."""


BUILTIN_FIELD_TYPES: tuple[FieldType, ...] = (
    FieldType("text", ValueKind.TEXT, searchable=True),
    FieldType("textarea", ValueKind.TEXT, searchable=True, filterable=False, sortable=False),
    FieldType("number", ValueKind.DECIMAL),
    FieldType("money", ValueKind.DECIMAL),
    FieldType("percent", ValueKind.DECIMAL),
    FieldType("date", ValueKind.DATE),
    FieldType("datetime", ValueKind.DATETIME),
    FieldType("bool", ValueKind.BOOL),
    FieldType("select", ValueKind.TEXT),
    FieldType("multiselect", ValueKind.CHOICES, sortable=False),
    FieldType("user", ValueKind.REFERENCE),
    FieldType("department", ValueKind.REFERENCE),
    FieldType("link", ValueKind.REFERENCE),
    FieldType("subtable", ValueKind.ROWS, filterable=False, sortable=False),
    FieldType("attachment", ValueKind.FILES, filterable=False, sortable=False),
    FieldType("phone", ValueKind.TEXT, searchable=True),
    FieldType("email", ValueKind.TEXT, searchable=True),
    FieldType("url", ValueKind.TEXT),
    FieldType("auto_number", ValueKind.TEXT, searchable=True),
    FieldType("formula", ValueKind.DECIMAL),
)


class FieldTypeRegistry(Mapping[str, FieldType]):
    """The field types in force: the built-ins plus whatever plugins registered."""

    def __init__(self, types: Iterable[FieldType] = BUILTIN_FIELD_TYPES) -> None:
        by_name: dict[str, FieldType] = {}
        for field_type in types:
            by_name.setdefault(field_type.name, field_type)
        self._types = MappingProxyType(by_name)

    def __getitem__(self, name: str) -> FieldType:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def with_types(self, types: Iterable[FieldType]) -> FieldTypeRegistry:
        """A registry that adds ``types``; a built-in name cannot be replaced."""
        return FieldTypeRegistry([*self._types.values(), *types])


BUILTIN_REGISTRY = FieldTypeRegistry()
