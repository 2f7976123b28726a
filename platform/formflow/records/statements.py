"""Statements every record page runs, built once per form and reach.

A page names linked records by their titles and lists the first records that link to the
one shown. Built from scratch each time, such a statement costs several times what running
it does (SQLAlchemy constructs it and works out its cache key before looking up the SQL).
These are built once per form, link and :class:`~formflow.records.access.Reach`, with the
values (ids, the actor) as bound parameters, and kept with the record service. So is
the update every write of a record runs.

They apply the same scope and the same order as :func:`~formflow.records.query.select_page`
would; tests compare the two.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Integer,
    Select,
    Update,
    bindparam,
    func,
    literal,
    select,
    union_all,
    update,
)

from formflow.records.access import Reach, reach_condition
from formflow.records.query import order_item, ordering, sort_order
from formflow.storage.prepared import Prepared
from formflow.storage.tables import DELETED_AT, DEPARTMENT, AppSchema

MAX_NARROW_READS = 256
"""How many ``columns`` choices :meth:`PreparedStatements.record_columns` keeps built: a
client choosing ever new ``fields=`` must not grow the process without end."""


class PreparedStatements:
    """The statements of one app's schema, each built on first use."""

    def __init__(self, schema: AppSchema) -> None:
        self.schema = schema
        self._built: dict[tuple[Any, ...], Select[Any]] = {}
        self._compound: dict[tuple[Any, ...], CompoundSelect[Any]] = {}
        self._narrow: dict[tuple[str, frozenset[str]], Select[Any]] = {}
        self._updates: dict[str, Update] = {}
        self._reach_of: dict[str, Prepared] = {}

    def record_columns(self, form_key: str, columns: Collection[str]) -> Select[Any]:
        """The live record ``:record_id`` with ``id``, ``columns`` and what deciding
        whether the reader reaches it takes (its owner and department), nothing else.

        An API read naming its ``fields`` needs a third of a wide form's columns, and each
        column costs the driver a description and a conversion per read.
        """
        form = self.schema.app.form(form_key)
        wanted = frozenset(("id", form.owner_field, DEPARTMENT, *columns))
        key = (form_key, wanted)
        statement = self._narrow.get(key)
        if statement is None:
            table = self.schema.table(form_key)
            statement = select(*(column for column in table.c if column.key in wanted)).where(
                table.c.id == bindparam("record_id"), table.c[DELETED_AT].is_(None)
            )
            if len(self._narrow) >= MAX_NARROW_READS:
                self._narrow.clear()
            self._narrow[key] = statement
        return statement

    def versioned_update(self, form_key: str) -> Update:
        """The update of the record ``:w_record_id`` while still at ``:w_expected_version``
        (every update of a record runs it; its SET follows the values it is given)."""
        statement = self._updates.get(form_key)
        if statement is None:
            table = self.schema.table(form_key)
            statement = update(table).where(
                table.c.id == bindparam("w_record_id"),
                table.c.version == bindparam("w_expected_version"),
            )
            self._updates[form_key] = statement
        return statement

    def reach_of(self, form_key: str) -> Prepared:
        """Owner and department of the live record ``:record_id`` (no row: none such), for
        :func:`~formflow.records.access.within` to say whether a reader reaches it.

        The check of a link to one record (a create with one link value): the same
        statement for every reader, with no expanding ``IN`` of ids or of the reader's
        departments, so it is compiled once and sent as driver SQL.
        """
        found = self._reach_of.get(form_key)
        if found is None:
            form, table = self.schema.app.form(form_key), self.schema.table(form_key)
            statement = select(table.c.id, table.c[form.owner_field], table.c[DEPARTMENT]).where(
                table.c.id == bindparam("record_id"), table.c[DELETED_AT].is_(None)
            )
            found = self._reach_of[form_key] = Prepared(statement)
        return found

    def titles(self, form_key: str, found: Reach) -> Select[Any]:
        """``id`` and title of the live records with ids in ``:ids`` that ``found`` reaches."""
        key = ("titles", form_key, found)
        if key not in self._built:
            form, table = self.schema.app.form(form_key), self.schema.table(form_key)
            statement = select(table.c.id, table.c[form.title_field]).where(
                table.c.id.in_(bindparam("ids", expanding=True)), table.c[DELETED_AT].is_(None)
            )
            self._built[key] = _reached(statement, found, form_key, self.schema)
        return self._built[key]

    def linking(self, form_key: str, link_key: str, found: Reach) -> Select[Any]:
        """``id`` and title of the first ``:limit`` live records whose ``link_key`` is
        ``:record_id``, in the form's list order."""
        key = ("linking", form_key, link_key, found)
        if key not in self._built:
            form, table = self.schema.app.form(form_key), self.schema.table(form_key)
            order = sort_order(self.schema, form_key, None)
            statement = (
                select(table.c.id, table.c[form.title_field])
                .where(table.c[link_key] == bindparam("record_id"), table.c[DELETED_AT].is_(None))
                .order_by(*(order_item(item) for item in order))
                .limit(bindparam("limit"))
            )
            self._built[key] = _reached(statement, found, form_key, self.schema)
        return self._built[key]

    def linked_to(self, parts: tuple[tuple[str, str, Reach], ...]) -> CompoundSelect[Any]:
        """Rows ``(part, id, title, place)``: for each part ``(form, link, reach)``, the first
        ``:limit`` live records whose ``link`` is ``:record_id``, numbered 1, 2… in the form's
        list order. One statement for every list a record page shows (titles must be text,
        as a UNION needs one type per column)."""
        if parts not in self._compound:
            branches = [self._branch(index, *part) for index, part in enumerate(parts)]
            self._compound[parts] = union_all(*branches)
        return self._compound[parts]

    def _branch(self, index: int, form_key: str, link_key: str, found: Reach) -> Select[Any]:
        form, table = self.schema.app.form(form_key), self.schema.table(form_key)
        order = sort_order(self.schema, form_key, None)
        keys = [item.ref.column.label(f"k{number}") for number, item in enumerate(order)]
        limited = (
            select(table.c.id, table.c[form.title_field].label("title"), *keys)
            .where(table.c[link_key] == bindparam("record_id"), table.c[DELETED_AT].is_(None))
            .order_by(*(order_item(item) for item in order))
            .limit(bindparam("limit"))
        )
        page = _reached(limited, found, form_key, self.schema).subquery(f"part{index}")
        place = func.row_number().over(
            order_by=[
                ordering(page.c[f"k{number}"], item.descending, nullable=item.nullable)
                for number, item in enumerate(order)
            ]
        )
        return select(
            literal(index, Integer).label("part"),
            page.c.id,
            page.c.title,
            place.label("place"),
        )


def _reached(statement: Select[Any], found: Reach, form_key: str, schema: AppSchema) -> Select[Any]:
    condition = reach_condition(found, schema.app.form(form_key), schema.table(form_key))
    return statement if condition is None else statement.where(condition)
