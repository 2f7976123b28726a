"""The field types in force: the built-ins plus whatever plugins registered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

from formflow.fields.attachment import ATTACHMENT
from formflow.fields.auto_number import AUTO_NUMBER
from formflow.fields.base import FieldType
from formflow.fields.boolean import BOOL
from formflow.fields.date import DATE
from formflow.fields.datetime import DATETIME
from formflow.fields.department import DEPARTMENT
from formflow.fields.email import EMAIL
from formflow.fields.formula import FORMULA
from formflow.fields.link import LINK
from formflow.fields.lookup import LOOKUP
from formflow.fields.money import MONEY
from formflow.fields.multiselect import MULTISELECT
from formflow.fields.number import NUMBER
from formflow.fields.percent import PERCENT
from formflow.fields.phone import PHONE
from formflow.fields.rollup import ROLLUP
from formflow.fields.select import SELECT
from formflow.fields.subtable import SUBTABLE
from formflow.fields.text import TEXT
from formflow.fields.textarea import TEXTAREA
from formflow.fields.url import URL
from formflow.fields.user import USER

BUILTIN_FIELD_TYPES: tuple[FieldType, ...] = (
    TEXT,
    TEXTAREA,
    NUMBER,
    MONEY,
    PERCENT,
    DATE,
    DATETIME,
    BOOL,
    SELECT,
    MULTISELECT,
    USER,
    DEPARTMENT,
    LINK,
    SUBTABLE,
    ATTACHMENT,
    PHONE,
    EMAIL,
    URL,
    AUTO_NUMBER,
    FORMULA,
    ROLLUP,
    LOOKUP,
)


class FieldTypeRegistry(Mapping[str, FieldType]):
    """Field types by name; a name is taken by the first type that claims it."""

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

    def searchable_names(self) -> list[str]:
        return [name for name, field_type in self._types.items() if field_type.searchable]


BUILTIN_REGISTRY = FieldTypeRegistry()
