"""List pages: keyset and offset paging, sorting with NULLs, capped totals, the recycle bin."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Engine

from formflow.definitions.model import SortKey
from formflow.errors import QueryError
from formflow.records.query import TOTAL_CAP, Page, Query, select_page
from formflow.records.reading import ReadContext
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.tables import DELETED_AT, AppSchema
from records.helpers import (
    NOW,
    StatementCounter,
    add_users,
    create_lab,
    insert,
    soft_delete,
)

COUNT = 23
DELETED = (4, 17)


def deal(n: int) -> dict[str, Any]:
    """Deal ``n``: sort values that repeat and are often empty, to give ties and NULLs."""
    return {
        "name": f"deal {n:02d}",
        "amount": [None, Decimal("100.00"), Decimal("250.50"), Decimal("100.00"), Decimal("-5")][
            n % 5
        ],
        "stage": [None, "new", "won", "lost"][n % 4],
        "close_date": None if n % 3 == 0 else date(2026, 1, n % 7 + 1),
        "met_at": None if n % 4 == 0 else datetime(2026, 1, n % 6 + 1, 9, tzinfo=UTC),
        "active": [True, False, None][n % 3],
        "quantity": n % 4,
        "owner": 1 + n % 2,
        "tags": ["red"] if n % 2 else [],
        "created_at": NOW + timedelta(days=n % 3),
    }


@pytest.fixture(scope="module")
def lab(db: Engine) -> AppSchema:
    """23 deals with ids 1..23; deals 4 and 17 are in the recycle bin."""
    schema = create_lab(db)
    with write_transaction(db) as connection:
        add_users(connection, "ann", "ben")
        insert(connection, schema, "deal", [deal(n) for n in range(1, COUNT + 1)])
        for record_id in DELETED:
            soft_delete(connection, schema, "deal", record_id)
    return schema


def page(
    db: Engine,
    lab: AppSchema,
    query: Query | None = None,
    *,
    scope: ColumnElement[bool] | None = None,
    total_cap: int = TOTAL_CAP,
) -> Page:
    with read_transaction(db) as connection:
        context = ReadContext(connection, lab, "deal", scope=scope)
        return select_page(context, query or Query(), total_cap=total_cap)


def ids(found: Page) -> list[int]:
    return [row["id"] for row in found.rows]


def walk(db: Engine, lab: AppSchema, sort: tuple[SortKey, ...], *, by_cursor: bool) -> list[int]:
    """Every id, page by page (of 4), following cursors or offsets."""
    seen: list[int] = []
    cursor = None
    while True:
        offset = 0 if by_cursor else len(seen)
        query = Query(sort=sort, limit=4, cursor=cursor, offset=offset, with_total=False)
        found = page(db, lab, query)
        seen.extend(ids(found))
        if found.next_cursor is None:
            return seen
        cursor = found.next_cursor if by_cursor else None


def expected_order(sort: Sequence[SortKey]) -> list[int]:
    """Live ids sorted in Python: NULLs smallest, ``id`` last in the last key's direction."""
    rows = {n: deal(n) | {"id": n} for n in range(1, COUNT + 1) if n not in DELETED}
    keys = [*sort, SortKey("id", sort[-1].descending)]
    order = sorted(rows)
    for key in reversed(keys):
        value = lambda n, k=key.field: (rows[n][k] is not None, rows[n][k] or 0)  # noqa: E731
        order.sort(key=value, reverse=key.descending)
    return order


SORTS = [
    (SortKey("created_at", descending=True),),
    (SortKey("created_at"),),
    (SortKey("amount", descending=True),),
    (SortKey("amount"),),
    (SortKey("stage"), SortKey("close_date", descending=True)),
    (SortKey("active", descending=True), SortKey("quantity")),
    (SortKey("met_at"), SortKey("name", descending=True)),
    (SortKey("owner"), SortKey("created_at", descending=True), SortKey("amount")),
]
SORT_IDS = [",".join(map(str, sort)) for sort in SORTS]


@pytest.mark.parametrize("sort", SORTS, ids=SORT_IDS)
def test_sorting_puts_empty_values_first_ascending_and_last_descending(
    db: Engine, lab: AppSchema, sort: tuple[SortKey, ...]
) -> None:
    assert ids(page(db, lab, Query(sort=sort, limit=100))) == expected_order(sort)


@pytest.mark.parametrize("sort", SORTS, ids=SORT_IDS)
def test_cursor_paging_gives_exactly_the_rows_of_offset_paging(
    db: Engine, lab: AppSchema, sort: tuple[SortKey, ...]
) -> None:
    by_cursor = walk(db, lab, sort, by_cursor=True)
    assert by_cursor == walk(db, lab, sort, by_cursor=False)
    assert by_cursor == expected_order(sort)


def test_the_default_sort_is_the_forms_list_sort_then_id(db: Engine, lab: AppSchema) -> None:
    assert ids(page(db, lab, Query(limit=100))) == expected_order(
        (SortKey("created_at", descending=True),)
    )


def test_a_sort_may_end_with_id_itself(db: Engine, lab: AppSchema) -> None:
    sort = (SortKey("id"), SortKey("name"))
    assert ids(page(db, lab, Query(sort=sort, limit=3))) == [1, 2, 3]


def test_the_last_page_has_no_next_cursor(db: Engine, lab: AppSchema) -> None:
    found = page(db, lab, Query(limit=COUNT - len(DELETED)))
    assert (len(found.rows), found.next_cursor) == (COUNT - len(DELETED), None)


def test_an_offset_skips_rows(db: Engine, lab: AppSchema) -> None:
    sort = (SortKey("id"),)
    assert ids(page(db, lab, Query(sort=sort, limit=2, offset=4))) == [6, 7]


# rows and columns -------------------------------------------------------------


def test_rows_hold_id_fields_and_system_fields_but_no_subtables(db: Engine, lab: AppSchema) -> None:
    [row] = page(db, lab, Query(filter={"field": "id", "op": "eq", "value": 1})).rows
    assert list(row) == [
        "id",
        *("name", "notes", "stage", "tags", "amount", "quantity", "weight", "close_date"),
        *("met_at", "active", "owner", "company", "files"),
        *("created_at", "updated_at", "created_by", "updated_by", "version"),
    ]
    assert (row["amount"], row["tags"], row["version"]) == (Decimal("100.00"), ["red"], 1)


def test_date_times_come_back_in_utc_on_every_database(db: Engine, lab: AppSchema) -> None:
    [row] = page(db, lab, Query(filter={"field": "id", "op": "eq", "value": 1})).rows
    assert row["met_at"] == datetime(2026, 1, 2, 9, tzinfo=UTC)
    assert row["met_at"].utcoffset() == timedelta(0)


def test_fields_choose_what_rows_hold(db: Engine, lab: AppSchema) -> None:
    query = Query(sort=(SortKey("amount"),), limit=1, fields=("name",))
    [row] = page(db, lab, query).rows
    assert list(row) == ["id", "name"]


def test_fields_may_name_system_fields(db: Engine, lab: AppSchema) -> None:
    query = Query(limit=1, fields=("name", "updated_at"))
    [row] = page(db, lab, query).rows
    assert list(row) == ["id", "name", "updated_at"]


@pytest.mark.parametrize(
    ("column", "message"),
    [("nmae", "unknown field 'nmae' in form 'deal'"), ("items", "subtable field 'items'")],
)
def test_fields_must_be_fields_of_the_form(
    db: Engine, lab: AppSchema, column: str, message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        page(db, lab, Query(fields=(column,)))


# what a page lists ------------------------------------------------------------


def test_filter_search_and_scope_all_apply(db: Engine, lab: AppSchema) -> None:
    table = lab.table("deal")
    query = Query(filter={"field": "stage", "op": "eq", "value": "won"}, search="deal")
    found = page(db, lab, query, scope=table.c.owner == 1)
    assert sorted(ids(found)) == [n for n in range(1, COUNT + 1) if n % 4 == 2 and n % 2 == 0]


def test_the_recycle_bin_lists_only_deleted_records(db: Engine, lab: AppSchema) -> None:
    found = page(db, lab, Query(deleted=True))
    assert (sorted(ids(found)), found.total) == (list(DELETED), 2)
    assert all(row[DELETED_AT] == NOW for row in found.rows)


def test_live_lists_leave_out_deleted_records(db: Engine, lab: AppSchema) -> None:
    assert not set(ids(page(db, lab, Query(limit=100)))) & set(DELETED)


# totals -----------------------------------------------------------------------


def test_the_total_counts_every_matching_row_not_just_the_page(db: Engine, lab: AppSchema) -> None:
    found = page(db, lab, Query(limit=2, filter={"field": "amount", "op": "eq", "value": 100}))
    assert (len(found.rows), found.total, found.total_is_capped) == (2, 10, False)


def test_a_total_past_the_cap_is_reported_as_capped(db: Engine, lab: AppSchema) -> None:
    found = page(db, lab, Query(limit=2), total_cap=5)
    assert (found.total, found.total_is_capped) == (5, True)


def test_a_total_at_the_cap_is_exact(db: Engine, lab: AppSchema) -> None:
    found = page(db, lab, Query(limit=2), total_cap=COUNT - len(DELETED))
    assert (found.total, found.total_is_capped) == (COUNT - len(DELETED), False)


def test_a_page_may_skip_its_total(db: Engine, lab: AppSchema) -> None:
    assert page(db, lab, Query(with_total=False)).total is None


@pytest.mark.parametrize("limit", [2, 100])
def test_a_page_and_its_total_cost_one_statement_whatever_its_size(
    db: Engine, lab: AppSchema, limit: int
) -> None:
    query = Query(
        limit=limit, search="deal", filter={"field": "tags", "op": "has_any", "value": ["red"]}
    )
    with read_transaction(db) as connection, StatementCounter(db) as counter:
        found = select_page(ReadContext(connection, lab, "deal"), query)
    assert counter.count == 1
    assert len(found.rows) == min(limit, 11)
    assert (found.total, found.total_is_capped) == (11, False)


def test_a_page_past_the_last_row_still_has_the_total(db: Engine, lab: AppSchema) -> None:
    query = Query(offset=COUNT, filter={"field": "tags", "op": "has_any", "value": ["red"]})
    found = page(db, lab, query)
    assert found.rows == []
    assert (found.total, found.total_is_capped) == (11, False)


def test_a_filter_nothing_matches_has_a_total_of_zero(db: Engine, lab: AppSchema) -> None:
    found = page(db, lab, Query(filter={"field": "name", "op": "eq", "value": "no such deal"}))
    assert (found.rows, found.total, found.total_is_capped) == ([], 0, False)


# refusals ---------------------------------------------------------------------


def test_a_cursor_is_opaque_base64url(db: Engine, lab: AppSchema) -> None:
    cursor = page(db, lab, Query(limit=1)).next_cursor
    assert cursor is not None
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def tampered(cursor: str) -> list[str]:
    body = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    edited = body.replace(b'"v":[', b'"v":[1,').replace(b",1,", b",2,", 1)
    encode = base64.urlsafe_b64encode
    return [
        encode(edited).decode().rstrip("="),
        encode(body[:12] + body[12:].replace(b"2026", b"2027")).decode(),
        cursor[:-3],
        "not a cursor!",
        encode(b"x" * 12 + b'{"s":[],"d":false,"v":[]}').decode(),
        "",
    ]


def test_a_damaged_cursor_is_refused(db: Engine, lab: AppSchema) -> None:
    cursor = page(db, lab, Query(limit=1)).next_cursor
    assert cursor is not None
    for bad in tampered(cursor):
        if bad:
            with pytest.raises(QueryError, match="cursor is damaged or belongs to another list"):
                page(db, lab, Query(cursor=bad))


def test_a_cursor_from_another_sort_is_refused(db: Engine, lab: AppSchema) -> None:
    cursor = page(db, lab, Query(limit=1)).next_cursor
    with pytest.raises(QueryError, match="cursor is damaged or belongs to another list or sort"):
        page(db, lab, Query(cursor=cursor, sort=(SortKey("name"),)))


def test_a_cursor_from_the_live_list_is_refused_in_the_recycle_bin(
    db: Engine, lab: AppSchema
) -> None:
    cursor = page(db, lab, Query(limit=1)).next_cursor
    with pytest.raises(QueryError, match="cursor is damaged"):
        page(db, lab, Query(cursor=cursor, deleted=True))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "limit must be between 1 and 500, got 0"),
        ({"limit": 501}, "limit must be between 1 and 500, got 501"),
        ({"offset": -1}, "offset cannot be negative"),
        ({"offset": 5, "cursor": "abc"}, "give a cursor or an offset, not both"),
    ],
)
def test_a_query_out_of_bounds_is_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Query(**options)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("tags", "multiselect field 'tags' cannot be sorted"),
        ("notes", "textarea field 'notes' cannot be sorted"),
        ("items", "subtable field 'items' cannot be sorted"),
        ("amout", "unknown field 'amout' in form 'deal'; did you mean 'amount'?"),
        ("company.name", r"cannot sort by a linked field \('company.name'\)"),
    ],
)
def test_a_sort_on_a_field_that_cannot_be_sorted_is_refused(
    db: Engine, lab: AppSchema, key: str, message: str
) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        page(db, lab, Query(sort=(SortKey(key),)))
    assert caught.value.field == key
