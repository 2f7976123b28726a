"""Counts, sums and averages over a form's live records, grouped by fields or by date buckets.

Dashboards and reports ask for these, so the answer must not depend on the database: date
buckets are strings formatted the same way on both ("2026-01-31", "2026-W05" (ISO week),
"2026-01", "2026-Q1", "2026"), computed in the aggregation's time zone (PostgreSQL
``to_char`` on the value at that time zone; SQLite, which knows no time zones, shifts the
stored UTC text by the zone's offset, chosen by a CASE over the zone's transitions since
1970, so daylight-saving edges fall where they do); sums of money come back as
``Decimal`` at the field's scale; averages are rounded to two places beyond it. Groups come
in ascending order of their keys, empty keys first. A group key may be a linked record's
field (``account.industry``), read through the link by the target's primary key (after
grouping the form's own rows by the link on SQLite, and on PostgreSQL where an index gives
those rows in group order, see :func:`_in_two_steps`). The
median is computed in SQL too, by numbering each group's values with window functions.

The bucket formats are SQL literals written here, never parameters, so PostgreSQL sees the
same expression in SELECT, GROUP BY and ORDER BY.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Integer,
    Numeric,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import FromClause, operators
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.types import TypeDecorator

from formflow.definitions.model import Measure
from formflow.errors import N_, QueryError
from formflow.fields import ValueKind
from formflow.records.filters import (
    DialectSwitch,
    FieldRef,
    LinkScope,
    compile_filter,
    describe,
    resolve_field,
)
from formflow.records.query import normalised
from formflow.records.reading import ReadContext
from formflow.storage.tables import DELETED_AT, AppSchema

MAX_GROUPS = 10_000
MEASURE_OPS = ("count", "sum", "avg", "min", "max", "distinct_count", "median")
BUCKETS = ("day", "week", "month", "quarter", "year")
AVERAGE_EXTRA_SCALE = 2

_NUMERIC = frozenset({ValueKind.INTEGER, ValueKind.DECIMAL})
_ORDERED = _NUMERIC | {ValueKind.DATE, ValueKind.DATETIME, ValueKind.TEXT}
_UNGROUPABLE = frozenset({ValueKind.CHOICES, ValueKind.FILES})
_KINDS_FOR = {
    "sum": _NUMERIC,
    "avg": _NUMERIC,
    "median": _NUMERIC,
    "min": _ORDERED,
    "max": _ORDERED,
}
_NEEDS_NUMBER = N_("measure '%(op)s' needs a number field; %(type)s field '%(field)s' is not one")
_NEEDS_ORDER = N_(
    "measure '%(op)s' needs a field that sorts; %(type)s field '%(field)s' is not one"
)
_NEEDS_ONE_VALUE = N_(
    "measure '%(op)s' needs a single-valued field; %(type)s field '%(field)s' is not one"
)
_NEEDS = {"sum": _NEEDS_NUMBER, "avg": _NEEDS_NUMBER, "median": _NEEDS_NUMBER}
_NEEDS |= {"min": _NEEDS_ORDER, "max": _NEEDS_ORDER}
UNKNOWN_ZONE = N_("unknown time zone '%(zone)s'")
_UNGROUPABLE_FIELD = N_("%(type)s field '%(field)s' cannot be grouped by")
_COMBINABLE = frozenset({"count", "sum", "avg", "min", "max"})


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
    timezone: str = "UTC"
    labels: tuple[str, ...] = ()
    """The name each measure's figure comes back under, in order; by default the measure's
    own name. Two measures of one op and field over different filters need their own."""

    def __post_init__(self) -> None:
        if not self.measures:
            raise QueryError(N_("an aggregation needs at least one measure, such as count"))
        if self.labels and len(self.labels) != len(self.measures):
            raise QueryError(N_("an aggregation needs one label per measure, or none"))
        if isinstance(self.limit, bool) or not 1 <= self.limit <= MAX_GROUPS:
            raise QueryError(
                N_("limit must be between 1 and %(limit)s, got %(given)s"),
                limit=MAX_GROUPS,
                given=self.limit,
            )
        for key in self.bucket:
            if key not in self.group_by:
                raise QueryError(N_("bucket '%(field)s' is not in group_by"), field=key)
        try:
            ZoneInfo(self.timezone)
        except (ValueError, ZoneInfoNotFoundError):
            raise QueryError(UNKNOWN_ZONE, zone=self.timezone) from None


def aggregate(context: ReadContext, aggregation: Aggregation) -> list[dict[str, Any]]:
    """One row per group: its keys, then each measure, named like ``count`` or ``sum_amount``."""
    connection, schema, form_key = context.connection, context.schema, context.form_key
    link_scope = context.link_scope
    links = Links(schema, form_key, link_scope)
    groups = [
        group_expression(
            schema,
            form_key,
            key,
            aggregation.bucket.get(key),
            aggregation.timezone,
            link_scope=link_scope,
            links=links,
        ).label(key)
        for key in aggregation.group_by
    ]
    labels = aggregation.labels or tuple(m.name for m in aggregation.measures)
    labelled = list(zip(labels, aggregation.measures, strict=True))
    own = {
        label: compile_filter(schema, form_key, m.filter, link_scope=link_scope)
        for label, m in labelled
    }
    measures = [
        measure_expression(schema, form_key, m, own[label]).label(label)
        for label, m in labelled
        if m.op != "median"
    ]
    medians = [(label, m) for label, m in labelled if m.op == "median"]
    for _label, median in medians:
        measure_expression(schema, form_key, median)  # checks the field as for any measure
    names = [column.name for column in [*groups, *measures]] + [label for label, _ in medians]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise QueryError(
            N_("the aggregation names %(names)s more than once"), names=", ".join(duplicates)
        )
    where = context.conditions(aggregation.filter)
    combinable = all(m.op in _COMBINABLE for m in aggregation.measures)
    if links.joined and not medians and combinable:
        inner = _inner_keys(schema.table(form_key), links, groups)
        if inner.streamed or _joins_row_by_row(connection):
            return _in_two_steps(
                connection, schema, form_key, aggregation, links, groups, where, own, inner
            )
    if not measures:
        measures = [func.count().label("_rows")]
    statement = select(*groups, *measures).select_from(links.source).where(*where)
    if groups:
        keys = [group.element for group in groups]
        statement = statement.group_by(*keys).order_by(*(_nulls_first(key) for key in keys))
    result = connection.execute(statement.limit(aggregation.limit)).mappings()
    rows = [normalised(row) for row in result]
    for label, median in medians:
        ref = resolve_field(schema, form_key, median.field or "", purpose="read")
        narrowed = own[label]
        within = where if narrowed is None else [*where, narrowed]
        found = _medians(connection, groups, ref, within, links.source)
        for row in rows:
            row[label] = found.get(tuple(row[g.name] for g in groups))
    for row in rows:
        row.pop("_rows", None)
    return rows


def _joins_row_by_row(connection: Connection) -> bool:
    """Whether joining rows to their linked records costs a lookup per row.

    SQLite joins by nested loop only, so grouping the own rows by the link first pays
    (665 ms against 292 ms for a pivot over a link at a million rows) whatever order it
    reads them in. PostgreSQL hash-joins the linked records once; there the extra
    grouping pays only when it streams (see :class:`InnerKeys`).
    """
    return connection.dialect.name == "sqlite"


@dataclass(frozen=True)
class InnerKeys:
    """What the first of two steps groups the form's own rows by: the keys that are its
    own columns (``own``, labelled ``g<n>`` after their place among the groups) and each
    link's column (``links``, labelled ``l<n>``), and the order they are grouped in.

    ``streamed`` when an index of the form begins with exactly these columns: the database
    then reads the rows in group order from the index alone and adds each group up as it
    passes, instead of hashing every row into one of 100,000 groups. On PostgreSQL that is
    what makes two steps cheaper than one hash join (the backend's CPU for a pivot by a
    linked field at a million rows, serial plans on a loaded machine: 2,090 ms in one
    statement, 2,960 ms in two steps grouped in another order, 750 ms streamed); without
    such an index it keeps one statement.
    """

    own: Sequence[ColumnElement[Any]]
    links: Sequence[ColumnElement[Any]]
    order: Sequence[ColumnElement[Any]]
    streamed: bool


def _inner_keys(table: Table, links: Links, groups: list[Any]) -> InnerKeys:
    joined = set(links.joined.values())
    own = [
        group.element.label(f"g{i}")
        for i, group in enumerate(groups)
        if getattr(group.element, "table", None) not in joined
    ]
    linked = [column.label(f"l{i}") for i, column in enumerate(links.links.values())]
    keys = [key.element for key in [*own, *linked]]
    indexed = _index_order(table, keys)
    return InnerKeys(own, linked, indexed or keys, streamed=indexed is not None)


def _index_order(table: Table, keys: list[ColumnElement[Any]]) -> list[ColumnElement[Any]] | None:
    """``keys`` in the order an index of ``table`` begins with them, if one begins with
    exactly these plain columns (in any order); ``None`` otherwise."""
    named: dict[str, ColumnElement[Any]] = {}
    for key in keys:
        if not isinstance(key, Column) or key.table is not table:
            return None
        named[key.name] = key
    for index in sorted(table.indexes, key=lambda index: index.name or ""):
        leading = [getattr(e, "element", e) for e in list(index.expressions)[: len(named)]]
        found = [getattr(column, "name", None) for column in leading]
        if len(found) == len(named) and set(found) == set(named):
            return [named[name] for name in found if name is not None]
    return None


def _in_two_steps(
    connection: Connection,
    schema: AppSchema,
    form_key: str,
    aggregation: Aggregation,
    links: Links,
    groups: list[Any],
    where: list[ColumnElement[bool]],
    own: Mapping[str, ColumnElement[bool] | None],
    inner_keys: InnerKeys,
) -> list[dict[str, Any]]:
    """Groups keyed on linked records' fields, when every measure adds up from parts.

    Joining each row to its linked record costs one lookup per row (a million for a million
    rows). Instead the form's own rows are grouped first by the link columns and the other
    keys, each measure kept as parts that combine (counts and sums added, minimums of
    minimums, an average as its sum and count), and only those few groups are joined to the
    linked records and grouped again by the linked fields. The figures are the ones a
    single statement gives, with the same types and rounding.
    """
    labels = aggregation.labels or tuple(m.name for m in aggregation.measures)
    parts: list[ColumnElement[Any]] = []
    combiners: list[tuple[str, Callable[[FromClause], ColumnElement[Any]]]] = []
    for n, (label, measure) in enumerate(zip(labels, aggregation.measures, strict=True)):
        these, combine = _parts(schema, form_key, measure, own[label], f"p{n}")
        parts.extend(these)
        combiners.append((label, combine))
    inner = (
        select(*inner_keys.own, *inner_keys.links, *parts)
        .select_from(schema.table(form_key))
        .where(*where)
        .group_by(*inner_keys.order)
        .subquery("own_groups")
    )
    outer_links = Links(
        schema,
        form_key,
        links.link_scope,
        source=inner,
        columns={key: inner.c[f"l{i}"] for i, key in enumerate(links.links)},
    )
    outer_groups: list[ColumnElement[Any]] = []
    for i, group in enumerate(groups):
        if f"g{i}" in inner.c:
            outer_groups.append(inner.c[f"g{i}"].label(group.name))
        else:
            linked = _linked_value(schema, form_key, group.name, links.link_scope, outer_links)
            outer_groups.append(linked.label(group.name))
    outer_keys = [group.element for group in outer_groups]
    statement = (
        select(*outer_groups, *(combine(inner).label(label) for label, combine in combiners))
        .select_from(outer_links.source)
        .group_by(*outer_keys)
        .order_by(*(_nulls_first(key) for key in outer_keys))
        .limit(aggregation.limit)
    )
    return [normalised(row) for row in connection.execute(statement).mappings()]


def _parts(
    schema: AppSchema,
    form_key: str,
    measure: Measure,
    only: ColumnElement[bool] | None,
    name: str,
) -> tuple[list[ColumnElement[Any]], Callable[[FromClause], ColumnElement[Any]]]:
    """A measure as partial aggregates of a group's rows, and how the parts of several
    groups combine into the figure :func:`measure_expression` gives for them all."""
    op = measure.op
    if measure.field is None:
        counted = func.count() if only is None else _when_matched(only, func.count(case((only, 1))))
        return [counted.label(name)], lambda inner: cast(func.sum(inner.c[name]), BigInteger)
    ref = resolve_field(schema, form_key, measure.field, purpose="read")
    column: Any = ref.column if only is None else case((only, ref.column))
    scale = ref.field.scale if ref.field else 0
    if op == "count":
        counted = func.count(column)
        part = counted if only is None else _when_matched(only, counted)
        return [part.label(name)], lambda inner: cast(func.sum(inner.c[name]), BigInteger)
    if op == "min":
        return [func.min(column).label(name)], lambda inner: func.min(inner.c[name])
    if op == "max":
        return [func.max(column).label(name)], lambda inner: func.max(inner.c[name])
    if op == "sum" and ref.kind is ValueKind.INTEGER:
        part = cast(func.sum(column), BigInteger)
        return [part.label(name)], lambda inner: cast(func.sum(inner.c[name]), BigInteger)
    if op == "sum":
        part = exact_sum(column, scale)
        return [part.label(name)], lambda inner: type_coerce(
            func.sum(inner.c[name]), ExactSum(scale)
        )
    places = scale + AVERAGE_EXTRA_SCALE
    total, count = f"{name}_sum", f"{name}_count"

    def average(inner: FromClause) -> ColumnElement[Any]:
        mean = func.sum(inner.c[total]) * _sql("1.0") / func.sum(inner.c[count])
        return type_coerce(func.round(mean, _sql(str(places))), Numeric(38, places))

    return [func.sum(column).label(total), func.count(column).label(count)], average


def _medians(
    connection: Connection,
    groups: list[Any],
    ref: FieldRef,
    where: list[ColumnElement[bool]],
    source: FromClause,
) -> dict[tuple[Any, ...], Decimal | None]:
    """Each group's median of one field: the middle value, or the mean of the middle two.

    Window functions number the non-empty values within each group, so only one or two
    values per group leave the database.
    """
    value = ref.column
    keys = [group.element for group in groups]
    partition = keys or None
    numbered = (
        select(
            *(key.label(f"g{i}") for i, key in enumerate(keys)),
            value.label("v"),
            func.row_number().over(partition_by=partition, order_by=value).label("n"),
            func.count().over(partition_by=partition).label("c"),
        )
        .select_from(source)
        .where(*where, value.is_not(None))
        .subquery()
    )
    n, c = numbered.c.n, numbered.c.c
    own = [numbered.c[f"g{i}"] for i in range(len(keys))]
    statement = select(*own, func.avg(numbered.c.v)).where(
        (n == (c + 1) // 2) | (n == (c + 2) // 2)
    )
    if own:
        statement = statement.group_by(*own)
    scale = ref.field.scale if ref.field else 0
    return {
        tuple(normalised_value(v) for v in row[:-1]): _rounded(
            row[-1], (scale or 0) + AVERAGE_EXTRA_SCALE
        )
        for row in connection.execute(statement)
    }


def _rounded(value: Any, places: int) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places))


def normalised_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def group_expression(
    schema: AppSchema,
    form_key: str,
    key: str,
    bucket: str | None,
    timezone: str = "UTC",
    *,
    link_scope: LinkScope | None = None,
    links: Links | None = None,
) -> ColumnElement[Any]:
    """The value a group is keyed on: the field itself, a linked record's field, or a date
    bucket as text. A linked record the caller may not read (``link_scope``) gives no
    value: its field must not show through a group's name. With ``links``, a linked
    record's field is read through a join the statement selects from (see :class:`Links`)."""
    if "." in key:
        return _linked_value(schema, form_key, key, link_scope, links)
    ref = resolve_field(schema, form_key, key, purpose="read")
    if ref.kind in _UNGROUPABLE:
        raise QueryError(_UNGROUPABLE_FIELD, **describe(ref))
    if bucket is None:
        return ref.column
    if ref.kind not in (ValueKind.DATE, ValueKind.DATETIME):
        raise QueryError(
            N_("bucket applies to date and datetime fields, not to %(type)s field '%(field)s'"),
            **describe(ref),
        )
    if bucket not in BUCKETS:
        raise QueryError(
            N_("unknown bucket '%(bucket)s' for %(type)s field '%(field)s'; use %(buckets)s"),
            bucket=bucket,
            buckets=", ".join(BUCKETS),
            **describe(ref),
        )
    return date_bucket(ref, bucket, timezone)


class Links:
    """The table an aggregate reads, outer-joined to the records its linked group keys
    point at.

    A join reads each linked record once per statement (a hash join on PostgreSQL) where a
    lookup in the select list runs once per row. The joined table is an alias, so a filter
    that reads the same form through a subquery still reads all of it. Each row keeps
    exactly its one row: the join is on the linked record's primary key, and a record
    deleted or out of the caller's reach (``link_scope``) joins as nothing, as it reads.
    """

    def __init__(
        self,
        schema: AppSchema,
        form_key: str,
        link_scope: LinkScope | None,
        *,
        source: FromClause | None = None,
        columns: Mapping[str, ColumnElement[Any]] | None = None,
    ) -> None:
        """``source`` and ``columns`` (each link's column in it) stand in for the form's
        table when the rows to join are already grouped (see :func:`_in_two_steps`)."""
        self.form_key, self.link_scope = form_key, link_scope
        self.source: FromClause = schema.table(form_key) if source is None else source
        self.columns = columns or {}
        self.joined: dict[str, FromClause] = {}
        self.links: dict[str, ColumnElement[Any]] = {}

    def column(self, link: FieldRef, target: str, ref: FieldRef) -> ColumnElement[Any] | None:
        """``ref`` (a field of ``target``) of the record ``link`` points at; ``None`` for a
        link from a form to itself, which is read by a lookup instead."""
        if target == self.form_key:
            return None
        key = link.column.key or ""
        joined = self.joined.get(key)
        if joined is None:
            table = ref.column.table
            joined = table.alias(f"linked_{len(self.joined)}")
            own = self.columns.get(key, link.column)
            on = [joined.c.id == own, joined.c[DELETED_AT].is_(None)]
            reachable = self.link_scope(target) if self.link_scope is not None else None
            if reachable is not None:
                on.append(ClauseAdapter(joined).traverse(reachable))
            self.source = self.source.outerjoin(joined, and_(*on))
            self.joined[key] = joined
            self.links[key] = link.column
        return joined.c[ref.column.key or ""]


def _linked_value(
    schema: AppSchema,
    form_key: str,
    key: str,
    link_scope: LinkScope | None,
    links: Links | None = None,
) -> ColumnElement[Any]:
    """``link.field``: the field of the record the link points at, looked up by its id."""
    link_key, _, target_key = key.partition(".")
    link = resolve_field(schema, form_key, link_key, purpose="read")
    target = link.field.target_form if link.field else None
    if not target or "." in target_key:
        raise QueryError(
            N_("%(type)s field '%(link)s' is not a link"),
            field=key,
            type=link.type_name,
            link=link.shown,
        )
    ref = resolve_field(schema, target, target_key, purpose="read", shown=key)
    if ref.kind in _UNGROUPABLE:
        raise QueryError(_UNGROUPABLE_FIELD, **describe(ref))
    joined = links.column(link, target, ref) if links is not None else None
    if joined is not None:
        return joined
    table = schema.table(target)
    reachable = link_scope(target) if link_scope is not None else None
    conditions = [table.c.id == link.column, table.c[DELETED_AT].is_(None)]
    if reachable is not None:
        conditions.append(reachable)
    return select(ref.column).where(*conditions).scalar_subquery()


def date_bucket(ref: FieldRef, bucket: str, timezone: str = "UTC") -> ColumnElement[str]:
    """``ref``'s values as bucket labels, the same text on SQLite and PostgreSQL.

    Dates have no time zone; date-times are bucketed as the clock reads in ``timezone``.
    """
    local: ColumnElement[Any] = ref.column
    sqlite_local: Any = ref.column
    if ref.kind is ValueKind.DATETIME:
        local = func.timezone(_sql(_zone_literal(timezone)), ref.column)
        sqlite_local = func.datetime(ref.column, _sqlite_offset(ref.column, timezone))
    return DialectSwitch(
        String(),
        sqlite=_SQLITE_BUCKETS[bucket](sqlite_local),
        postgresql=func.to_char(local, _sql(_POSTGRES_FORMATS[bucket])),
    )


def _zone_literal(timezone: str) -> str:
    ZoneInfo(timezone)  # only a zone the system knows reaches SQL, as a literal
    if "'" in timezone:
        raise QueryError(UNKNOWN_ZONE, zone=timezone)
    return f"'{timezone}'"


def _sqlite_offset(column: Any, timezone: str) -> ColumnElement[str]:
    """A ``datetime()`` modifier such as ``'+28800 seconds'``: the zone's offset at each
    stored UTC moment, picked by comparing the stored text with the transitions."""
    changes = zone_transitions(timezone)
    first = _sql(f"'{changes[0][1]:+d} seconds'")
    if len(changes) == 1:
        return first
    whens = [
        (column < _sql(f"'{moment}'"), _sql(f"'{offset:+d} seconds'"))
        for (moment, _before), (_, offset) in zip(changes[1:], changes[:-1], strict=True)
    ]
    return case(*whens, else_=_sql(f"'{changes[-1][1]:+d} seconds'"))


@lru_cache(maxsize=32)
def zone_transitions(timezone: str) -> tuple[tuple[str, int], ...]:
    """``(utc_moment, offset_seconds)`` from 1970 to 2100: the offset in force from each
    moment on (the first moment is the start), as text that sorts like SQLite's stored
    date-times."""
    zone = ZoneInfo(timezone)
    start = datetime(1970, 1, 1, tzinfo=UTC)

    def offset(moment: datetime) -> int:
        found = moment.astimezone(zone).utcoffset()
        return int(found.total_seconds()) if found is not None else 0

    changes = [(start.strftime(_STORED), offset(start))]
    day, end = start, datetime(2100, 1, 1, tzinfo=UTC)
    while day < end:
        following = day + timedelta(days=1)
        if offset(following) != offset(day):
            low, high = day, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            changes.append((high.replace(microsecond=0).strftime(_STORED), offset(high)))
        day = following
    return tuple(changes)


_STORED = "%Y-%m-%d %H:%M:%S"


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


def measure_expression(
    schema: AppSchema,
    form_key: str,
    measure: Measure,
    only: ColumnElement[bool] | None = None,
) -> Any:
    """One measure as a labelled SQL aggregate, typed so both databases return the same;
    over the rows that match ``only`` (the measure's own filter) when it is given.

    A measure with its own filter is a conditional aggregate (``SUM(CASE WHEN … THEN amount
    END)``), so several measures over different rows share one scan of the table; where no
    row of a group matches the filter, the figure is empty, as if it had been asked alone.
    """
    op, key = measure.op, measure.field
    if op not in MEASURE_OPS:
        raise QueryError(
            N_("unknown measure '%(op)s'; use %(ops)s"),
            field=key,
            op=op,
            ops=", ".join(MEASURE_OPS),
        )
    if key is None:
        if op != "count":
            raise QueryError(N_("measure '%(op)s' needs a field"), op=op)
        if only is None:
            return func.count().label("count")
        return _when_matched(only, func.count(case((only, 1)))).label("count")
    ref = resolve_field(schema, form_key, key, purpose="read")
    allowed = _KINDS_FOR.get(op)
    if (allowed is not None and ref.kind not in allowed) or ref.kind in _UNGROUPABLE:
        raise QueryError(_NEEDS.get(op, _NEEDS_ONE_VALUE), op=op, **describe(ref))
    return _aggregate(op, ref, only).label(f"{op}_{key}")


def _when_matched(only: ColumnElement[bool], count: ColumnElement[Any]) -> ColumnElement[Any]:
    """A count over the rows matching ``only``, empty (not 0) where none does."""
    return case((func.max(case((only, 1))).is_(None), None), else_=count)


def _aggregate(op: str, ref: FieldRef, only: ColumnElement[bool] | None = None) -> Any:
    column: Any = ref.column if only is None else case((only, ref.column))
    scale = ref.field.scale if ref.field else 0
    if op in ("count", "distinct_count"):
        counted = func.count(column.distinct() if op == "distinct_count" else column)
        return counted if only is None else _when_matched(only, counted)
    if op == "sum" and ref.kind is ValueKind.INTEGER:
        return cast(func.sum(column), BigInteger)
    if op == "sum":
        return exact_sum(column, scale)
    if op in ("avg", "median"):
        places = scale + AVERAGE_EXTRA_SCALE
        rounded = func.round(func.avg(column), _sql(str(places)))
        return type_coerce(rounded, Numeric(38, places))
    return func.min(column) if op == "min" else func.max(column)


class ExactSum(TypeDecorator[Decimal]):
    """The sum of :func:`exact_sum`, read as a decimal at the field's scale: from SQLite a
    whole number of the smallest unit (cents, for two places), from PostgreSQL the decimal
    itself."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        places = Decimal(1).scaleb(-self.scale)
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale).quantize(places)
        return Decimal(value).quantize(places)


def exact_sum(column: Any, scale: int) -> ColumnElement[Decimal]:
    """The sum of a decimal column, exact on both databases.

    SQLite keeps a decimal column as a binary floating-point number, and its ``SUM`` of many
    amounts can miss by a cent; each amount alone still reads back exactly once rounded to
    its places. So there each is rounded to whole units of its last place, those integers
    are summed (exactly), and the total is read back as a decimal. PostgreSQL's ``numeric``
    adds exactly by itself, and adding the decimals costs less than turning each into
    whole units first (about a fifth of a pivot's CPU at a million rows).
    """
    return DialectSwitch(
        ExactSum(scale),
        sqlite=func.sum(minor_units(column, scale)),
        postgresql=func.sum(column),
    )


def minor_units(column: Any, scale: int) -> ColumnElement[int]:
    """A decimal as a whole number of its last place (cents for two places), exact to add."""
    return cast(func.round(column * 10**scale), BigInteger)
