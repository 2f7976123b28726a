"""Turning stored values into a field's new type, exactly or not at all.

A type change is planned by running every stored value through :func:`convert` and applied
by running them through it again, so what the plan promises is what the database gets on
SQLite and PostgreSQL alike: no database cast rounds a decimal, cuts a text short or reads
a date in a locale's order behind our back. A value that would lose anything raises
``ValueError`` instead, and the plan refuses the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, column, select, table, update
from sqlalchemy.types import TypeEngine

from formflow.definitions.model import Field
from formflow.fields import Purpose, ValueKind

BATCH_SIZE = 1000
MAX_EXAMPLES = 5

CONVERTIBLE_KINDS = frozenset(
    {
        ValueKind.TEXT,
        ValueKind.INTEGER,
        ValueKind.DECIMAL,
        ValueKind.DATE,
        ValueKind.DATETIME,
        ValueKind.BOOL,
        ValueKind.CHOICES,
    }
)
"""Kinds a value can be converted to and from. References, attachments and subtables carry
meaning (a target table, stored files, child rows) that no conversion can carry over."""


def convert(value: Any, field: Field) -> Any:
    """``value`` as ``field`` stores it; ``ValueError`` if anything would be lost."""
    if field.kind not in CONVERTIBLE_KINDS:
        raise ValueError(f"no value can become {field.type}")
    return field.field_type.parse(field, value, Purpose.STORED)


def target_label(field: Field) -> str:
    """What a value must become, as a person reads it: ``NUMBER``, ``TEXT(50)``."""
    name = field.type.upper()
    limit = text_limit(field)
    if field.kind is ValueKind.TEXT and limit is not None:
        return f"{name}({limit})"
    if field.kind is ValueKind.DECIMAL:
        return f"{name}({field.scale} decimals)"
    return name


def text_limit(field: Field) -> int | None:
    """The most characters the field's column holds, or ``None`` when unbounded."""
    return field.field_type.text_limit(field)


@dataclass(frozen=True)
class ScanResult:
    """How many stored values cannot become the new type, with the first few as examples."""

    failures: int
    examples: tuple[tuple[Any, Any], ...]

    def describe_examples(self) -> str:
        shown = ", ".join(f"id {row_id} {_show(value)}" for row_id, value in self.examples)
        more = self.failures - len(self.examples)
        return shown + (f" and {more} more" if more else "")


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def stored_values(
    connection: Connection, table_name: str, column_name: str, sql_type: TypeEngine[Any]
) -> Iterator[tuple[Any, Any]]:
    """Every non-null ``(id, value)`` of a column, read in id order a batch at a time.

    Batches keyed on the id keep memory flat on a million rows and let the caller write to
    the same table between batches, which an open cursor would not allow on SQLite.
    """
    source = table(table_name, column("id"), column(column_name, sql_type))
    last_id: Any = None
    while True:
        query = select(source.c.id, source.c[column_name]).where(source.c[column_name].is_not(None))
        if last_id is not None:
            query = query.where(source.c.id > last_id)
        rows = connection.execute(query.order_by(source.c.id).limit(BATCH_SIZE)).all()
        yield from ((row[0], row[1]) for row in rows)
        if len(rows) < BATCH_SIZE:
            return
        last_id = rows[-1][0]


def scan(
    connection: Connection,
    table_name: str,
    column_name: str,
    sql_type: TypeEngine[Any],
    field: Field,
) -> ScanResult:
    """Try every stored value of a column against ``field``'s type without writing anything."""
    failures = 0
    examples: list[tuple[Any, Any]] = []
    for row_id, value in stored_values(connection, table_name, column_name, sql_type):
        try:
            convert(value, field)
        except ValueError:
            failures += 1
            if len(examples) < MAX_EXAMPLES:
                examples.append((row_id, value))
    return ScanResult(failures, tuple(examples))


def copy_converted(
    connection: Connection,
    table_name: str,
    source: tuple[str, TypeEngine[Any]],
    target: tuple[str, TypeEngine[Any]],
    field: Field,
) -> None:
    """Write each converted value of column ``source`` into column ``target`` of its row.

    ``ValueError`` if a value no longer converts: the rows changed after the plan was made,
    and the caller's transaction must roll back rather than store a wrong value.
    """
    (source_name, source_type), (target_name, target_type) = source, target
    writable = table(table_name, column("id"), column(target_name, target_type))
    statement = (
        update(writable)
        .where(writable.c.id == bindparam("row_id"))
        .values({target_name: bindparam("new_value")})
    )
    batch: list[dict[str, Any]] = []
    for row_id, value in stored_values(connection, table_name, source_name, source_type):
        batch.append({"row_id": row_id, "new_value": convert(value, field)})
        if len(batch) == BATCH_SIZE:
            connection.execute(statement, batch)
            batch = []
    if batch:
        connection.execute(statement, batch)
