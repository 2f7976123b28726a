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
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.selectable import ScalarSelect

from formflow.definitions.model import SYSTEM_FIELDS, SortKey
from formflow.errors import N_, QueryError
from formflow.fields import ValueKind
from formflow.records.access import Reach, reach_condition
from formflow.records.filters import (
    Binder,
    DialectSwitch,
    FieldRef,
    LinkScope,
    coerce_value,
    compile_filter,
    resolve_field,
)
from formflow.records.search import search_condition
from formflow.storage.tables import DELETED_AT, DELETED_BY, AppSchema

if TYPE_CHECKING:
    from formflow.records.reading import ReadContext

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
            raise QueryError(
                N_("limit must be between 1 and %(limit)s, got %(given)s"),
                field="limit",
                limit=MAX_LIMIT,
                given=self.limit,
            )
        if self.offset < 0:
            raise QueryError(
                N_("offset cannot be negative, got %(given)s"), field="offset", given=self.offset
            )
        if self.cursor and self.offset:
            raise QueryError(N_("give a cursor or an offset, not both"), field="cursor")


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


def select_page(context: ReadContext, query: Query, *, total_cap: int = TOTAL_CAP) -> Page:
    """One page of the context's records, with its total, in one statement.

    Rows hold ``id``, the form's fields except subtables and the system fields (or just
    ``query.fields``); in the recycle bin also ``_deleted_at`` and ``_deleted_by``.

    The statement is built for this call alone; :class:`PageStatements` builds one per
    shape of query and reuses it (what the record service does).
    """
    return PageStatements(context.schema, keep=0).select(
        context.connection,
        context.form_key,
        query,
        scope=context.scope,
        link_scope=context.link_scope,
        total_cap=total_cap,
    )


@dataclass(frozen=True)
class Reached:
    """A reader's scope in a form statements can share: its :class:`Reach` (part of the
    statement) and the reader's values for it (bound parameters, see
    :func:`~formflow.records.access.reach_values`)."""

    reach: Reach
    values: Mapping[str, Any]


MAX_PAGE_SHAPES = 256
"""How many page statements :class:`PageStatements` keeps built: clients choosing ever new
``fields=``, sorts or filters must not grow the process without end."""


@dataclass(frozen=True)
class _Built:
    """A page statement and what reading its rows needs."""

    statement: Select[Any]
    keys: tuple[str, ...]
    """Its columns: those a page shows, then sort keys fetched for the cursor only."""
    shown: tuple[str, ...]
    moments: frozenset[str]
    """Keys of the date-time columns (SQLite hands them back naive)."""
    counts: bool
    """Whether each row ends with the capped count."""

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """The rows as a page holds them: the shown columns, date-times in UTC."""
        shown = self.shown
        rows = [dict(zip(shown, row, strict=False)) for row in fetched]
        for key in self.moments.intersection(shown):
            for row in rows:
                value = row[key]
                if value is not None:  # in_utc, without a call per value
                    row[key] = (
                        value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
                    )
        return rows

    def row(self, fetched: Sequence[Any]) -> dict[str, Any]:
        """One row with every column fetched (what a cursor is made from)."""
        row = dict(zip(self.keys, fetched, strict=False))
        return {key: in_utc(value) if key in self.moments else value for key, value in row.items()}


class PageStatements:
    """List statements built once per shape and run with each request's values.

    Built anew, a page's statement (the filter, the reader's scope, the sort, the capped
    count) costs several times the CPU of running it: SQLAlchemy constructs it and works
    out its cache key before finding the SQL it compiled last time. Here a statement is
    built once per *shape* (form, columns, filter fields and operators, sort, cursor or
    offset, whether a total is asked, the reader's :class:`Reach`) with every value a
    named bound parameter (the filter's, the cursor's, the page size, the reader's id or
    departments), so a second request of the same shape builds nothing and its values
    reach only its own execution. What cannot be bound this way (a search, a condition
    across a link, an arbitrary ``scope`` condition) is built for its request alone.
    """

    def __init__(self, schema: AppSchema, *, keep: int = MAX_PAGE_SHAPES) -> None:
        self.schema = schema
        self.keep = keep
        self._built: dict[tuple[Any, ...], _Built] = {}
        self._orders: dict[tuple[Any, ...], list[Ordered]] = {}
        self._columns: dict[tuple[Any, ...], list[str]] = {}
        self.builds = 0
        """How many statements have been built (tests read it)."""

    def select(
        self,
        connection: Connection,
        form_key: str,
        query: Query,
        *,
        scope: ColumnElement[bool] | Reached | None = None,
        link_scope: LinkScope | None = None,
        total_cap: int = TOTAL_CAP,
    ) -> Page:
        """:func:`select_page`, with ``scope`` the permission layer's condition or, to
        share the statement with other readers of the same reach, a :class:`Reached`."""
        schema = self.schema
        table = schema.table(form_key)
        order = self._order(form_key, query.sort, filled_by(query.filter))
        shown = self._shown(form_key, query.fields, query.deleted)
        names = list(dict.fromkeys([*shown, *(o.ref.key for o in order)]))
        # a dry walk checks the filter and finds its values; SQL is built on a miss only
        bind = Binder(dry=True)
        compile_filter(schema, form_key, query.filter, link_scope=link_scope, bind=bind)
        if isinstance(scope, Reached):
            bind.values.update(scope.values)
        elif scope is not None:
            bind.shareable = False
        if query.search:  # its condition holds its tokens
            bind.shareable = False
        after_values = decode_cursor(query.cursor, order, query) if query.cursor else None
        key = (
            form_key,
            tuple(shown),
            tuple(names),
            tuple((str(item), item.nullable) for item in order),
            tuple(bind.shape),
            query.deleted,
            query.with_total and total_cap,
            None if after_values is None else tuple(value is None for value in after_values),
            bool(query.offset) and after_values is None,
            scope.reach if isinstance(scope, Reached) else None,
        )
        built = self._built.get(key) if bind.shareable else None
        where: list[ColumnElement[bool]] | None = None
        if built is None:
            where, bind = self._where(form_key, query, scope, link_scope)
            built = self._build(table, where, order, shown, names, query, after_values, total_cap)
            if bind.shareable and self.keep:
                if len(self._built) >= self.keep:
                    self._built.clear()
                self._built[key] = built
        values = {**bind.values, PAGE_LIMIT: query.limit + 1}
        if after_values is not None:
            values.update(_after_parameters(after_values))
        elif query.offset:
            values[PAGE_OFFSET] = query.offset
        fetched = connection.execute(built.statement, values).all()
        found = int(fetched[0][-1]) if built.counts and fetched else None
        more = len(fetched) > query.limit
        rows = built.rows(fetched[: query.limit])
        total, capped = None, False
        if query.with_total:
            if found is None and (query.cursor or query.offset):  # no row to carry the count
                if where is None:
                    where, _bind = self._where(form_key, query, scope, link_scope)
                total, capped = count_capped(connection, table, where, total_cap, values)
            else:  # the page's statement counted, or found nothing where the count starts
                total, capped = min(found or 0, total_cap), (found or 0) > total_cap
        last = built.row(fetched[query.limit - 1]) if more else None  # with its sort keys
        return Page(
            rows=rows,
            total=total,
            total_is_capped=capped,
            next_cursor=None if last is None else encode_cursor(order, last, query),
        )

    def _order(
        self, form_key: str, sort: tuple[SortKey, ...] | None, kept: frozenset[str]
    ) -> list[Ordered]:
        """:func:`sort_order`, with the keys the filter keeps filled marked, worked out
        once per form, sort and such keys."""
        key = (form_key, sort, kept)
        order = self._orders.get(key)
        if order is None:
            order = [
                replace(item, present=True) if item.ref.key in kept else item
                for item in sort_order(self.schema, form_key, sort)
            ]
            self._orders = _kept(self._orders, self.keep)
            self._orders[key] = order
        return order

    def _shown(self, form_key: str, fields: tuple[str, ...] | None, deleted: bool) -> list[str]:
        """:func:`row_columns`, worked out once per form and choice of columns."""
        key = (form_key, fields, deleted)
        shown = self._columns.get(key)
        if shown is None:
            shown = row_columns(self.schema, form_key, fields, deleted=deleted)
            self._columns = _kept(self._columns, self.keep)
            self._columns[key] = shown
        return shown

    def _where(
        self,
        form_key: str,
        query: Query,
        scope: ColumnElement[bool] | Reached | None,
        link_scope: LinkScope | None,
    ) -> tuple[list[ColumnElement[bool]], Binder]:
        """The page's conditions, its values bound, and the binder that holds them."""
        bind = Binder()
        where = row_conditions(
            self.schema,
            form_key,
            filter=query.filter,
            search=query.search,
            deleted=query.deleted,
            link_scope=link_scope,
            bind=bind,
        )
        if isinstance(scope, Reached):
            form, table = self.schema.app.form(form_key), self.schema.table(form_key)
            condition = reach_condition(scope.reach, form, table)
            if condition is not None:
                where.append(condition)
            bind.values.update(scope.values)
        elif scope is not None:
            where.append(scope)
            bind.shareable = False
        return where, bind

    def _build(
        self,
        table: Table,
        where: Sequence[ColumnElement[bool]],
        order: Sequence[Ordered],
        shown: Sequence[str],
        names: Sequence[str],
        query: Query,
        after_values: Sequence[Any] | None,
        total_cap: int,
    ) -> _Built:
        """The page's rows plus one, which tells whether another page follows, each row
        carrying the capped count when a total is asked (evaluated once)."""
        self.builds += 1
        columns = [table.c[name] for name in names]
        counted = capped_count(table, where, total_cap) if query.with_total else None
        extra = [] if counted is None else [counted.label(TOTAL_COLUMN)]
        statement = select(*columns, *extra).where(*where)
        if after_values is not None:
            statement = statement.where(after(order, after_values))
        elif query.offset:
            statement = statement.offset(bindparam(PAGE_OFFSET, type_=Integer))
        statement = statement.order_by(*(order_item(item) for item in order)).limit(
            bindparam(PAGE_LIMIT, type_=Integer)
        )
        moments = frozenset(column.key for column in columns if isinstance(column.type, DateTime))
        return _Built(statement, tuple(names), tuple(shown), moments, counted is not None)


def _kept(cache: dict[Any, Any], keep: int) -> dict[Any, Any]:
    """``cache``, emptied when it holds ``keep`` entries (a new one is about to join)."""
    return {} if len(cache) >= keep else cache


PAGE_LIMIT = "page_limit"
PAGE_OFFSET = "page_offset"
_AFTER = "after_{}"


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


def row_conditions(
    schema: AppSchema,
    form_key: str,
    *,
    filter: Mapping[str, Any] | None = None,
    search: str | None = None,
    deleted: bool = False,
    link_scope: LinkScope | None = None,
    bind: Binder | None = None,
) -> list[ColumnElement[bool]]:
    """Live rows (or, for the recycle bin, deleted ones) that match the filter and search;
    with ``bind``, the filter's values as bound parameters (a search is not)."""
    deleted_at = schema.table(form_key).c[DELETED_AT]
    conditions: list[ColumnElement[bool]] = [
        deleted_at.is_not(None) if deleted else deleted_at.is_(None)
    ]
    if search and bind is not None:
        bind.shareable = False
    for condition in (
        compile_filter(schema, form_key, filter, link_scope=link_scope, bind=bind),
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
            raise QueryError(N_("cannot sort by a linked field ('%(field)s')"), field=key.field)
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
    """Rows that sort strictly after the row with sort ``values``, each value the bound
    parameter ``after_<place>`` (see :func:`_after_parameters`); only which values are
    empty shapes the condition.

    With NOT NULL columns in one direction this is a row-value comparison, which both
    databases answer from an index; otherwise it is spelled out key by key.
    """
    columns = [item.ref.column for item in order]
    if not any(item.nullable for item in order) and len({i.descending for i in order}) == 1:
        bound = tuple_(*(_after(index, c) for index, c in enumerate(columns)))
        return tuple_(*columns) < bound if order[0].descending else tuple_(*columns) > bound
    terms = []
    for index, item in enumerate(order):
        beyond = _beyond(item, index, values[index])
        if beyond is not None:
            ties = [_same(order[j], j, values[j]) for j in range(index)]
            terms.append(and_(*ties, beyond))
    return or_(false(), *terms)


def _after(index: int, column: ColumnElement[Any]) -> ColumnElement[Any]:
    # typed by its column: a bool too (SQLAlchemy refuses `column > True`)
    return bindparam(_AFTER.format(index), type_=column.type)


def _after_parameters(values: Sequence[Any]) -> dict[str, Any]:
    """The values of :func:`after`'s bound parameters."""
    return {_AFTER.format(index): value for index, value in enumerate(values)}


def _same(item: Ordered, index: int, value: Any) -> ColumnElement[bool]:
    column = item.ref.column
    return column.is_(None) if value is None else column == _after(index, column)


def _beyond(item: Ordered, index: int, value: Any) -> ColumnElement[bool] | None:
    """Values after ``value`` in this key's direction; ``None`` when nothing can follow."""
    column = item.ref.column
    if value is None:
        return None if item.descending else column.is_not(None)
    bound = _after(index, column)
    if not item.descending:
        return column > bound
    return or_(column < bound, column.is_(None)) if item.nullable else column < bound


def count_capped(
    connection: Connection,
    table: Table,
    where: Sequence[ColumnElement[bool]],
    cap: int,
    values: Mapping[str, Any] | None = None,
) -> tuple[int, bool]:
    """How many rows match, counting no further than ``cap``; and whether it stopped there.
    ``values`` are those of bound parameters in ``where``."""
    statement = select(capped_count(table, where, cap))
    found = connection.execute(statement, dict(values or {})).scalar_one()
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
        raise QueryError(_STALE_CURSOR, field="cursor")
    values = payload.get("v")
    if not isinstance(values, list) or len(values) != len(order):
        raise QueryError(_STALE_CURSOR, field="cursor")
    try:
        return [
            None if value is None else coerce_value(item.ref, value, check_options=False)
            for item, value in zip(order, values, strict=True)
        ]
    except QueryError:
        raise QueryError(_STALE_CURSOR, field="cursor") from None


_STALE_CURSOR = N_(
    "this page cursor is damaged or belongs to another list or sort; "
    "start again from the first page"
)


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
