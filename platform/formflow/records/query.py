"""List pages: filter, search, sort and page through one form's records in bounded queries.

A page costs two statements whatever the data size: the rows, and a count. The count stops
at ``total_cap`` matching rows (``SELECT count(*) FROM (SELECT 1 ... LIMIT cap + 1)``), so
knowing there are "more than 1,000" never costs more than reading them would; the page
says whether its total was capped.

Pages follow each other by keyset: ``next_cursor`` holds the last row's sort values and
id, and the next page continues strictly after that row, so rows inserted or deleted
meanwhile never shift a page. ``id`` always ends the sort, so every row has one place.
Offsets are there for jumping to page N; cursors for walking.

NULL ordering is the same on both databases: an empty value sorts before every other value
ascending and after them descending, as if it were the smallest value. That is SQLite's
own behaviour; PostgreSQL (which treats NULL as largest) gets explicit ``NULLS FIRST`` /
``NULLS LAST``, but only on columns that can be NULL, so the NOT NULL system columns
(id, created_at, updated_at, version) keep plain ORDER BY items that an index can serve.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Select,
    Table,
    and_,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.selectable import ScalarSelect

from formflow.definitions.model import SYSTEM_FIELDS, SortKey
from formflow.errors import QueryError
from formflow.fields import ValueKind
from formflow.records.filters import (
    DialectSwitch,
    FieldRef,
    LinkScope,
    coerce_value,
    compile_filter,
    resolve_field,
)
from formflow.records.search import search_condition
from formflow.storage.tables import DELETED_AT, DELETED_BY, AppSchema

TOTAL_CAP = 1_000
TOTAL_COLUMN = "_page_total"
"""The page statement's column carrying the capped total (no field's key starts with _)."""
MAX_LIMIT = 500
_CHECK_LENGTH = 12


@dataclass(frozen=True)
class Query:
    """What a list asks for. ``sort=None`` means the form's default sort (``list.sort``);
    ``deleted=True`` lists the recycle bin (soft-deleted rows only); ``fields`` limits the
    rows to those fields (and ``id``), as a list of titles needs."""

    filter: Mapping[str, Any] | None = None
    search: str | None = None
    sort: tuple[SortKey, ...] | None = None
    limit: int = 50
    cursor: str | None = None
    offset: int = 0
    with_total: bool = True
    deleted: bool = False
    fields: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not 1 <= self.limit <= MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
        if self.offset < 0:
            raise QueryError(f"offset cannot be negative, got {self.offset}")
        if self.cursor and self.offset:
            raise QueryError("give a cursor or an offset, not both")


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int | None
    total_is_capped: bool
    next_cursor: str | None


@dataclass(frozen=True)
class Ordered:
    """One sort key, resolved: its field and direction."""

    ref: FieldRef
    descending: bool
    present: bool = False
    """The query's filter keeps only rows where this field holds a value."""

    @property
    def nullable(self) -> bool:
        return bool(self.ref.column.nullable) and not self.present

    def __str__(self) -> str:
        return str(SortKey(self.ref.key, self.descending))


def select_page(
    connection: Connection,
    schema: AppSchema,
    form_key: str,
    query: Query,
    *,
    scope: ColumnElement[bool] | None = None,
    link_scope: LinkScope | None = None,
    total_cap: int = TOTAL_CAP,
) -> Page:
    """One page of ``form_key``'s records, with its total, in one statement.

    ``scope`` is the permission layer's condition, AND-ed with everything else, and
    ``link_scope`` its condition for forms a filter reaches through links. Rows hold
    ``id``, the form's fields except subtables and the system fields (or just
    ``query.fields``); in the recycle bin also ``_deleted_at`` and ``_deleted_by``.
    """
    table = schema.table(form_key)
    kept = filled_by(query.filter)
    order = [
        replace(item, present=True) if item.ref.key in kept else item
        for item in sort_order(schema, form_key, query.sort)
    ]
    where = row_conditions(
        schema,
        form_key,
        filter=query.filter,
        search=query.search,
        deleted=query.deleted,
        link_scope=link_scope,
    )
    if scope is not None:
        where.append(scope)
    shown = row_columns(schema, form_key, query.fields, deleted=query.deleted)
    names = list(dict.fromkeys([*shown, *(o.ref.key for o in order)]))
    counted = capped_count(table, where, total_cap) if query.with_total else None
    rows, found = _fetch(connection, table, query, order, where, names, counted)
    more, rows = len(rows) > query.limit, rows[: query.limit]
    total, capped = None, False
    if query.with_total:
        if found is None and (query.cursor or query.offset):  # no row to carry the count
            total, capped = count_capped(connection, table, where, total_cap)
        else:  # the page's statement counted, or found nothing where the count starts
            total, capped = min(found or 0, total_cap), (found or 0) > total_cap
    extra = set(names) - set(shown)  # sort keys fetched for the cursor only
    return Page(
        rows=[{name: row[name] for name in shown} for row in rows] if extra else rows,
        total=total,
        total_is_capped=capped,
        next_cursor=encode_cursor(order, rows[-1], query) if more else None,
    )


FILLING_OPS = frozenset({"eq", "lt", "lte", "gt", "gte", "between"})
"""Filter operators that a row with an empty value never matches."""


def filled_by(spec: Any) -> frozenset[str]:
    """The fields a filter keeps from being empty: compared to a value at its top level or
    in a top-level ``and``. Sorting on them needs no rule for empty values, so PostgreSQL
    gets a plain ORDER BY that an index in its default order serves (a date rule's pages
    are a range of one day, sorted on that date)."""
    if not isinstance(spec, Mapping):
        return frozenset()
    if "and" in spec and isinstance(spec["and"], Sequence) and not isinstance(spec["and"], str):
        return frozenset().union(*(filled_by(item) for item in spec["and"]))
    if spec.get("op") in FILLING_OPS and spec.get("value") is not None:
        return frozenset({str(spec.get("field"))})
    return frozenset()


def _fetch(
    connection: Connection,
    table: Table,
    query: Query,
    order: Sequence[Ordered],
    where: Sequence[ColumnElement[bool]],
    names: Sequence[str],
    counted: ScalarSelect[int] | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """The page's rows plus one, which tells whether another page follows; and the value of
    ``counted`` (evaluated once, as every row carries it), ``None`` with no rows."""
    columns = [table.c[name] for name in names]
    extra = [] if counted is None else [counted.label(TOTAL_COLUMN)]
    statement = select(*columns, *extra).where(*where)
    if query.cursor:
        statement = statement.where(after(order, decode_cursor(query.cursor, order, query)))
    elif query.offset:
        statement = statement.offset(query.offset)
    statement = statement.order_by(*(order_item(item) for item in order)).limit(query.limit + 1)
    moments = [column.key for column in columns if isinstance(column.type, DateTime)]
    result = connection.execute(statement)
    keys = tuple(result.keys())[: len(columns)]
    fetched = result.all()
    rows = [dict(zip(keys, row, strict=False)) for row in fetched]
    for row in rows:
        for key in moments:
            row[key] = in_utc(row[key])
    return rows, (int(fetched[0][-1]) if extra and fetched else None)


def row_conditions(
    schema: AppSchema,
    form_key: str,
    *,
    filter: Mapping[str, Any] | None = None,
    search: str | None = None,
    deleted: bool = False,
    link_scope: LinkScope | None = None,
) -> list[ColumnElement[bool]]:
    """Live rows (or, for the recycle bin, deleted ones) that match the filter and search."""
    deleted_at = schema.table(form_key).c[DELETED_AT]
    conditions: list[ColumnElement[bool]] = [
        deleted_at.is_not(None) if deleted else deleted_at.is_(None)
    ]
    for condition in (
        compile_filter(schema, form_key, filter, link_scope=link_scope),
        search_condition(schema, form_key, search) if search else None,
    ):
        if condition is not None:
            conditions.append(condition)
    return conditions


def row_columns(
    schema: AppSchema, form_key: str, columns: Sequence[str] | None, *, deleted: bool
) -> list[str]:
    """The column names a page returns, each checked against the form: every field but
    subtables and the system fields, or just ``columns`` (and ``id``)."""
    form = schema.app.form(form_key)
    if columns is None:
        keys = [f.key for f in form.fields if f.kind is not ValueKind.ROWS]
        keys.extend(SYSTEM_FIELDS)
    else:
        keys = [resolve_field(schema, form_key, key, purpose="read").key for key in columns]
    extra = [DELETED_AT, DELETED_BY] if deleted else []
    return list(dict.fromkeys(["id", *keys, *extra]))


def sort_order(schema: AppSchema, form_key: str, sort: Sequence[SortKey] | None) -> list[Ordered]:
    """The sort keys, checked, ending with ``id`` so that every row has exactly one place.

    ``id`` follows the last key's direction, as the derived indexes have it.
    """
    keys = list(schema.app.form(form_key).list_view.sort if sort is None else sort)
    order: list[Ordered] = []
    for key in keys:
        if "." in key.field:
            raise QueryError(f"cannot sort by a linked field ('{key.field}')", field=key.field)
        ref = resolve_field(schema, form_key, key.field, purpose="sort")
        if all(item.ref.key != ref.key for item in order):
            order.append(Ordered(ref, key.descending))
        if ref.key == "id":
            return order
    descending = order[-1].descending if order else True
    return [*order, Ordered(resolve_field(schema, form_key, "id", purpose="sort"), descending)]


def order_item(item: Ordered) -> ColumnElement[Any]:
    """The ORDER BY item, with NULLs smallest on both databases (see the module docstring)."""
    return ordering(item.ref.column, item.descending, nullable=item.nullable)


def ordering(column: ColumnElement[Any], descending: bool, *, nullable: bool) -> ColumnElement[Any]:
    """``column`` ascending or descending, with NULLs smallest on both databases."""
    plain = column.desc() if descending else column.asc()
    if not nullable:
        return plain
    explicit = column.desc().nulls_last() if descending else column.asc().nulls_first()
    return DialectSwitch(column.type, sqlite=plain, postgresql=explicit, grouped=False)


def after(order: Sequence[Ordered], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that sort strictly after the row with sort ``values``.

    With NOT NULL columns in one direction this is a row-value comparison, which both
    databases answer from an index; otherwise it is spelled out key by key.
    """
    columns = [item.ref.column for item in order]
    if not any(item.nullable for item in order) and len({i.descending for i in order}) == 1:
        bound = tuple_(*(literal(v, c.type) for v, c in zip(values, columns, strict=True)))
        return tuple_(*columns) < bound if order[0].descending else tuple_(*columns) > bound
    terms = []
    for index, item in enumerate(order):
        beyond = _beyond(item, values[index])
        if beyond is not None:
            ties = [_same(order[j], values[j]) for j in range(index)]
            terms.append(and_(*ties, beyond))
    return or_(false(), *terms)


def _same(item: Ordered, value: Any) -> ColumnElement[bool]:
    column = item.ref.column
    return column.is_(None) if value is None else column == literal(value, column.type)


def _beyond(item: Ordered, value: Any) -> ColumnElement[bool] | None:
    """Values after ``value`` in this key's direction; ``None`` when nothing can follow."""
    column = item.ref.column
    if value is None:
        return None if item.descending else column.is_not(None)
    bound = literal(value, column.type)  # a bool too: SQLAlchemy refuses `column > True`
    if not item.descending:
        return column > bound
    return or_(column < bound, column.is_(None)) if item.nullable else column < bound


def count_capped(
    connection: Connection, table: Table, where: Sequence[ColumnElement[bool]], cap: int
) -> tuple[int, bool]:
    """How many rows match, counting no further than ``cap``; and whether it stopped there."""
    found = connection.execute(select(capped_count(table, where, cap))).scalar_one()
    return min(found, cap), found > cap


def capped_count(table: Table, where: Sequence[ColumnElement[bool]], cap: int) -> ScalarSelect[int]:
    """How many rows match, counted up to ``cap + 1``: a subquery that does not depend on
    the row it is asked from, so both databases run it once per statement."""
    matching: Select[Any] = (
        select(literal_column("1")).select_from(table).where(*where).limit(cap + 1)
    )
    return select(func.count()).select_from(matching.subquery()).scalar_subquery()


# cursors ------------------------------------------------------------------------


def encode_cursor(order: Sequence[Ordered], row: Mapping[str, Any], query: Query) -> str:
    """An opaque token for "after this row": sort keys, their values, and a checksum."""
    payload = {
        "s": [str(item) for item in order],
        "d": query.deleted,
        "v": [_jsonable(row[item.ref.key]) for item in order],
    }
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    token = _checksum(body) + body
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: Sequence[Ordered], query: Query) -> list[Any]:
    """The sort values in ``cursor``; ``QueryError`` if it is damaged or for another list.

    The checksum catches edits and corruption; it is not a secret, and needs not be: a
    cursor only says where to continue in rows the caller may already read.
    """
    try:
        token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        check, body = token[:_CHECK_LENGTH], token[_CHECK_LENGTH:]
        payload = json.loads(body) if check == _checksum(body) else None
    except (binascii.Error, ValueError):
        payload = None
    expected = {"s": [str(item) for item in order], "d": query.deleted}
    if not isinstance(payload, dict) or {k: payload.get(k) for k in expected} != expected:
        raise QueryError(_STALE_CURSOR)
    values = payload.get("v")
    if not isinstance(values, list) or len(values) != len(order):
        raise QueryError(_STALE_CURSOR)
    try:
        return [
            None if value is None else coerce_value(item.ref, value, check_options=False)
            for item, value in zip(order, values, strict=True)
        ]
    except QueryError:
        raise QueryError(_STALE_CURSOR) from None


_STALE_CURSOR = "this page cursor is damaged or belongs to another list or sort; start again from the first page"


def _checksum(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:_CHECK_LENGTH]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def in_utc(value: datetime | None) -> datetime | None:
    """A stored date-time in UTC (SQLite hands them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalised(row: RowMapping) -> dict[str, Any]:
    """A row with date-times in UTC on both databases (SQLite hands them back naive)."""
    return {
        key: (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC))
        if isinstance(value, datetime)
        else value
        for key, value in row.items()
    }
