"""How a field's values are kept: the few shapes every field type maps onto."""

from __future__ import annotations

from enum import StrEnum


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

    @property
    def is_list(self) -> bool:
        """Values kept as lists (or in another table): no index, unique or not, covers them."""
        return self in (ValueKind.CHOICES, ValueKind.FILES, ValueKind.ROWS)

    @property
    def is_ordered(self) -> bool:
        """Values with an order people compare by (before, after, between)."""
        return self in (ValueKind.INTEGER, ValueKind.DECIMAL, ValueKind.DATE, ValueKind.DATETIME)

    @property
    def is_numeric(self) -> bool:
        return self in (ValueKind.INTEGER, ValueKind.DECIMAL)


class Reference(StrEnum):
    """What the id a reference field keeps points to."""

    RECORD = "record"  # a record of the form the field names (``form:``)
    USER = "user"
    DEPARTMENT = "department"
