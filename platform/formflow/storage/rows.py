"""Reading platform rows back: moments with their time zone, and frozen records from rows.

Every moment is stored in UTC in a timezone-aware column, but SQLite keeps no offset, so
there it reads back naive; :func:`aware` gives it back its zone, so comparisons with "now"
and display work alike on both databases. Many platform tables are read into a frozen
dataclass whose fields are named after the columns; :func:`from_row` fills those fields
from the row, so a reader names only the values it converts.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, overload

from sqlalchemy import Row

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    Record = TypeVar("Record", bound=DataclassInstance)
else:
    Record = TypeVar("Record")


@overload
def aware(moment: datetime) -> datetime: ...


@overload
def aware(moment: None) -> None: ...


def aware(moment: datetime | None) -> datetime | None:
    """A stored moment with its time zone: UTC when the database gave it none."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def from_row(kind: type[Record], row: Row[Any], **given: Any) -> Record:
    """A ``kind`` whose fields are the row's columns of the same names, except those
    ``given`` (the values a reader converts or derives)."""
    values = row._mapping
    return kind(
        **{
            item.name: given[item.name] if item.name in given else values[item.name]
            for item in fields(kind)
            if item.init
        }
    )
