"""Turning stored values into a field's new type, exactly or not at all.

A type change is planned by running every stored value through :func:`convert` and applied
by running them through it again, so what the plan promises is what the database gets on
SQLite and PostgreSQL alike: no database cast rounds a decimal, cuts a text short or reads
a date in a locale's order behind our back. A value that would lose anything raises
``ValueError`` instead, and the plan refuses the change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, String, bindparam, column, select, table, update
from sqlalchemy.types import TypeEngine

from formflow.definitions.model import Field
from formflow.fieldtypes import ValueKind
from formflow.storage.tables import column_type

BATCH_SIZE = 1000
MAX_EXAMPLES = 5
MAX_BIGINT = 2**63 - 1
INTEGER_DIGITS = 20
"""Every decimal column keeps 20 digits before the point (see ``column_type``)."""

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

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
    return _CONVERTERS[field.kind](value, field)


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
    sql_type = column_type(field)
    if isinstance(sql_type, String) and sql_type.length is not None:
        return sql_type.length
    return None


def _to_text(value: Any, field: Field) -> str | None:
    text = _as_text(value)
    limit = text_limit(field)
    if text is not None and limit is not None and len(text) > limit:
        raise ValueError(f"longer than {limit} characters")
    return text


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return _plain(Decimal(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return _single_choice(value)
    raise ValueError("not a text")


def _single_choice(values: list[Any]) -> str | None:
    if not values:
        return None
    if len(values) == 1 and isinstance(values[0], str):
        return values[0]
    raise ValueError("more than one choice")


def _plain(number: Decimal) -> str:
    """A decimal without exponent notation, as a person writes it."""
    return format(number, "f")


def _to_integer(value: Any, field: Field) -> int:
    number = _as_decimal(value)
    if number != number.to_integral_value():
        raise ValueError("not a whole number")
    if abs(number) > MAX_BIGINT:
        raise ValueError("too large")
    return int(number)


def _to_decimal(value: Any, field: Field) -> Decimal:
    number = _as_decimal(value)
    quantum = Decimal(1).scaleb(-field.scale)
    try:
        rounded = number.quantize(quantum)
    except InvalidOperation:
        raise ValueError("too large") from None
    if rounded != number:
        raise ValueError(f"more than {field.scale} decimals")
    if abs(rounded) >= Decimal(10) ** INTEGER_DIGITS:
        raise ValueError("too large")
    return rounded


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a number")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise ValueError("not a number")


def _to_date(value: Any, field: Field) -> date:
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise ValueError("has a time of day")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        return date.fromisoformat(value.strip())
    raise ValueError("not a date written YYYY-MM-DD")


def _to_datetime(value: Any, field: Field) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0))
    elif isinstance(value, str) and _ISO_DATE.match(value.strip()):
        moment = datetime.fromisoformat(value.strip())
    else:
        raise ValueError("not a date and time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _to_bool(value: Any, field: Field) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    word = value.strip().lower() if isinstance(value, str) else None
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError("not yes or no")


def _to_choices(value: Any, field: Field) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError("not a choice")


_CONVERTERS: dict[ValueKind, Callable[[Any, Field], Any]] = {
    ValueKind.TEXT: _to_text,
    ValueKind.INTEGER: _to_integer,
    ValueKind.DECIMAL: _to_decimal,
    ValueKind.DATE: _to_date,
    ValueKind.DATETIME: _to_datetime,
    ValueKind.BOOL: _to_bool,
    ValueKind.CHOICES: _to_choices,
}


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
