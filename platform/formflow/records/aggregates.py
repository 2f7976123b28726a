"""Counts, sums and averages over a form's live records, grouped by fields or by date buckets.

Dashboards and reports ask for these, so the answer must not depend on the database: date
buckets are strings formatted the same way on both ("2026-01-31", "2026-W05" (ISO week),
"2026-01", "2026-Q1", "2026"), computed in UTC (SQLite ``strftime`` on stored UTC text,
PostgreSQL ``to_char`` on the value at time zone UTC); sums of money come back as
``Decimal`` at the field's scale; averages are rounded to two places beyond it. Groups come
in ascending order of their keys, empty keys first.

The bucket formats are SQL literals written here, never parameters, so PostgreSQL sees the
same expression in SELECT, GROUP BY and ORDER BY.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Numeric,
    String,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from formflow.definitions.model import Measure
from formflow.errors import QueryError
from formflow.fields import ValueKind
from formflow.records.filters import DialectSwitch, FieldRef, LinkScope, describe, resolve_field
from formflow.records.query import normalised, row_conditions
from formflow.storage.tables import AppSchema

MAX_GROUPS = 10_000
MEASURE_OPS = ("count", "sum", "avg", "min", "max", "distinct_count")
BUCKETS = ("day", "week", "month", "quarter", "year")
AVERAGE_EXTRA_SCALE = 2

_NUMERIC = frozenset({ValueKind.INTEGER, ValueKind.DECIMAL})
_ORDERED = _NUMERIC | {ValueKind.DATE, ValueKind.DATETIME, ValueKind.TEXT}
_UNGROUPABLE = frozenset({ValueKind.CHOICES, ValueKind.FILES})
_KINDS_FOR = {"sum": _NUMERIC, "avg": _NUMERIC, "min": _ORDERED, "max": _ORDERED}
_NEEDS = {"sum": "a number field", "avg": "a number field", "min": "a field that sorts"}
_NEEDS["max"] = _NEEDS["min"]


@dataclass(frozen=True)
class Aggregation:
    """What to compute: ``measures`` per group of ``group_by`` values.

    ``bucket`` maps a date or date-time key of ``group_by`` to day, week, month, quarter or
    year. ``filter`` is the filter language of :mod:`formflow.records.filters`.
    """

    measures: tuple[Measure, ...]
    group_by: tuple[str, ...] = ()
    bucket: Mapping[str, str] = field(default_factory=dict)
    filter: Mapping[str, Any] | None = None
    limit: int = 1000

    def __post_init__(self) -> None:
        if not self.measures:
            raise QueryError("an aggregation needs at least one measure, such as count")
        if isinstance(self.limit, bool) or not 1 <= self.limit <= MAX_GROUPS:
            raise QueryError(f"limit must be between 1 and {MAX_GROUPS}, got {self.limit}")
        for key in self.bucket:
            if key not in self.group_by:
                raise QueryError(f"bucket '{key}' is not in group_by", field=key)


def aggregate(
    connection: Connection,
    schema: AppSchema,
    form_key: str,
    aggregation: Aggregation,
    *,
    scope: ColumnElement[bool] | None = None,
    link_scope: LinkScope | None = None,
) -> list[dict[str, Any]]:
    """One row per group: its keys, then each measure, named like ``count`` or ``sum_amount``."""
    groups = [
        group_expression(schema, form_key, key, aggregation.bucket.get(key)).label(key)
        for key in aggregation.group_by
    ]
    measures = [measure_expression(schema, form_key, m) for m in aggregation.measures]
    names = [column.name for column in [*groups, *measures]]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise QueryError(f"the aggregation names {', '.join(duplicates)} more than once")
    where = row_conditions(schema, form_key, filter=aggregation.filter, link_scope=link_scope)
    if scope is not None:
        where.append(scope)
    statement = select(*groups, *measures).select_from(schema.table(form_key)).where(*where)
    if groups:
        keys = [group.element for group in groups]
        statement = statement.group_by(*keys).order_by(*(_nulls_first(key) for key in keys))
    result = connection.execute(statement.limit(aggregation.limit)).mappings()
    return [normalised(row) for row in result]


def group_expression(
    schema: AppSchema, form_key: str, key: str, bucket: str | None
) -> ColumnElement[Any]:
    """The value a group is keyed on: the field itself, or its date bucket as text."""
    ref = resolve_field(schema, form_key, key, purpose="read")
    if ref.kind in _UNGROUPABLE:
        raise QueryError(f"{describe(ref)} cannot be grouped by", field=key)
    if bucket is None:
        return ref.column
    if ref.kind not in (ValueKind.DATE, ValueKind.DATETIME):
        raise QueryError(
            f"bucket applies to date and datetime fields, not to {describe(ref)}", field=key
        )
    if bucket not in BUCKETS:
        raise QueryError(
            f"unknown bucket '{bucket}' for {describe(ref)}; use {', '.join(BUCKETS)}", field=key
        )
    return date_bucket(ref, bucket)


def date_bucket(ref: FieldRef, bucket: str) -> ColumnElement[str]:
    """``ref``'s values as bucket labels, the same text on SQLite and PostgreSQL."""
    utc: ColumnElement[Any] = ref.column
    if ref.kind is ValueKind.DATETIME:
        utc = func.timezone(_sql("'UTC'"), ref.column)
    return DialectSwitch(
        String(),
        sqlite=_SQLITE_BUCKETS[bucket](ref.column),
        postgresql=func.to_char(utc, _sql(_POSTGRES_FORMATS[bucket])),
    )


def _sql(literal: str) -> ColumnElement[Any]:
    return literal_column(literal)


def _strftime(pattern: str, value: Any) -> ColumnElement[str]:
    return func.strftime(_sql(f"'{pattern}'"), value)


def _divide(dividend: ColumnElement[Any], divisor: int) -> ColumnElement[Any]:
    """Integer division in SQLite, the dividend parenthesised as it must be."""
    return dividend.self_group(against=operators.truediv).op("/")(_sql(str(divisor)))


def _sqlite_quarter(value: Any) -> ColumnElement[str]:
    quarter = _divide(cast(_strftime("%m", value), Integer) + _sql("2"), 3)
    return _strftime("%Y", value).op("||")(_sql("'-Q'")).op("||")(quarter)


def _sqlite_week(value: Any) -> ColumnElement[str]:
    """ISO week: the year and week of the Thursday in the same Monday-to-Sunday week.

    SQLite's own ``%V``/``%G`` arrived in 3.46, later than many systems ship.
    """
    thursday = func.date(value, _sql("'-3 days'"), _sql("'weekday 4'"))
    day_of_year = cast(_strftime("%j", thursday), Integer)
    week = _divide(day_of_year - _sql("1"), 7) + _sql("1")
    number = func.printf(_sql("'%02d'"), week)
    return _strftime("%Y", thursday).op("||")(_sql("'-W'")).op("||")(number)


_SQLITE_BUCKETS: Mapping[str, Callable[[Any], ColumnElement[str]]] = {
    "day": lambda value: _strftime("%Y-%m-%d", value),
    "week": _sqlite_week,
    "month": lambda value: _strftime("%Y-%m", value),
    "quarter": _sqlite_quarter,
    "year": lambda value: _strftime("%Y", value),
}
_POSTGRES_FORMATS = {
    "day": "'YYYY-MM-DD'",
    "week": "'IYYY-\"W\"IW'",
    "month": "'YYYY-MM'",
    "quarter": "'YYYY-\"Q\"Q'",
    "year": "'YYYY'",
}


def _nulls_first(key: ColumnElement[Any]) -> ColumnElement[Any]:
    return DialectSwitch(
        key.type, sqlite=key.asc(), postgresql=key.asc().nulls_first(), grouped=False
    )


def measure_expression(schema: AppSchema, form_key: str, measure: Measure) -> Any:
    """One measure as a labelled SQL aggregate, typed so both databases return the same."""
    op, key = measure.op, measure.field
    if op not in MEASURE_OPS:
        raise QueryError(f"unknown measure '{op}'; use {', '.join(MEASURE_OPS)}", field=key)
    if key is None:
        if op != "count":
            raise QueryError(f"measure '{op}' needs a field")
        return func.count().label("count")
    ref = resolve_field(schema, form_key, key, purpose="read")
    allowed = _KINDS_FOR.get(op)
    if (allowed is not None and ref.kind not in allowed) or ref.kind in _UNGROUPABLE:
        needs = _NEEDS.get(op, "a single-valued field")
        raise QueryError(f"measure '{op}' needs {needs}; {describe(ref)} is not one", field=key)
    return _aggregate(op, ref).label(f"{op}_{key}")


def _aggregate(op: str, ref: FieldRef) -> ColumnElement[Any]:
    column = ref.column
    scale = ref.field.scale if ref.field else 0
    if op in ("count", "distinct_count"):
        return func.count(column.distinct() if op == "distinct_count" else column)
    if op == "sum" and ref.kind is ValueKind.INTEGER:
        return cast(func.sum(column), BigInteger)
    if op == "sum":
        return exact_sum(column, scale)
    if op == "avg":
        places = scale + AVERAGE_EXTRA_SCALE
        rounded = func.round(func.avg(column), _sql(str(places)))
        return type_coerce(rounded, Numeric(38, places))
    return func.min(column) if op == "min" else func.max(column)


class MinorUnits(TypeDecorator[Decimal]):
    """A whole number of the smallest unit (cents, for two places), read as a decimal."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.scale).quantize(Decimal(1).scaleb(-self.scale))


def exact_sum(column: Any, scale: int) -> ColumnElement[Decimal]:
    """The sum of a decimal column, exact on both databases.

    SQLite keeps a decimal column as a binary floating-point number, and its ``SUM`` of many
    amounts can miss by a cent; each amount alone still reads back exactly once rounded to
    its places. So each is rounded to whole units of its last place, those integers are
    summed (exactly), and the total is read back as a decimal.
    """
    units = cast(func.round(column * 10**scale), BigInteger)
    return type_coerce(func.sum(units), MinorUnits(scale))
