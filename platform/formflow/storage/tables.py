"""From the compiled model to SQLAlchemy tables: one table per form, one per subtable.

Names and types come only from the compiled model, so nothing a person types at run time
ever becomes an identifier in SQL. Indexes are derived from what the definition says
people filter and sort by, because a list page at a million rows is only fast when an
index matches its filter and its order.

Columns that the engine keeps for itself start with ``_`` (field keys cannot), so they
never collide with a field an admin adds later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeEngine

from formflow.definitions.model import App, Field, Form, OnDelete, SortKey
from formflow.fields import Reference, ValueKind
from formflow.storage.platform_tables import Id, platform_metadata

MAX_IDENTIFIER = 63

DELETED_AT = "_deleted_at"
DELETED_BY = "_deleted_by"
DEPARTMENT = "_department_id"
SEARCH = "_search"
PARENT_ID = "_parent_id"
POSITION = "_position"

LIVE_ROWS = text(f"{DELETED_AT} IS NULL")


def identifier(*parts: str) -> str:
    """Join parts with ``__``; shorten with a hash past PostgreSQL's 63-character limit."""
    name = "__".join(parts)
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_IDENTIFIER - 9]}_{digest}"


def form_table_name(app_key: str, form_key: str) -> str:
    return identifier(app_key, form_key)


def column_type(field: Field) -> TypeEngine[Any]:
    """The SQL type that holds ``field``'s values without loss (its type decides)."""
    return field.field_type.column_type(field)


@dataclass(frozen=True)
class FormTables:
    """The tables of one form: its own, and one per subtable field."""

    form: Form
    table: Table
    children: dict[str, Table]


class AppSchema:
    """Every table an app needs, built once per compiled definition."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.metadata = MetaData()
        for platform_table in platform_metadata.tables.values():
            platform_table.to_metadata(self.metadata)
        self.forms: dict[str, FormTables] = {}
        for form in app.forms.values():
            self.forms[form.key] = self._form_tables(form)

    def table(self, form_key: str) -> Table:
        return self.forms[form_key].table

    def child_table(self, form_key: str, field_key: str) -> Table:
        return self.forms[form_key].children[field_key]

    def _form_tables(self, form: Form) -> FormTables:
        name = form_table_name(self.app.key, form.key)
        columns: list[Column[Any]] = [
            Column("id", Id, primary_key=True),
            *(
                self._column(form, field)
                for field in form.fields
                if field.kind is not ValueKind.ROWS
            ),
            *_system_columns(),
        ]
        if form.list_view.search:
            columns.append(Column(SEARCH, Text))
        table = Table(name, self.metadata, *columns)
        _add_indexes(table, form)
        children = {
            field.key: self._child_table(name, field)
            for field in form.fields
            if field.kind is ValueKind.ROWS
        }
        return FormTables(form, table, children)

    def _column(self, form: Form, field: Field) -> Column[Any]:
        foreign_keys = []
        reference = field.field_type.reference
        if reference is Reference.RECORD and field.target_form:
            target = form_table_name(self.app.key, field.target_form)
            ondelete = {
                OnDelete.RESTRICT: "RESTRICT",
                OnDelete.SET_NULL: "SET NULL",
                OnDelete.CASCADE: "CASCADE",
            }
            foreign_keys.append(ForeignKey(f"{target}.id", ondelete=ondelete[field.on_delete]))
        elif reference is Reference.USER:
            foreign_keys.append(ForeignKey("ff_users.id", ondelete="SET NULL"))
        elif reference is Reference.DEPARTMENT:
            foreign_keys.append(ForeignKey("ff_departments.id", ondelete="SET NULL"))
        return Column(field.key, column_type(field), *foreign_keys, nullable=True)

    def _child_table(self, parent_name: str, field: Field) -> Table:
        name = identifier(parent_name, field.key)
        return Table(
            name,
            self.metadata,
            Column("id", Id, primary_key=True),
            Column(
                PARENT_ID, Id, ForeignKey(f"{parent_name}.id", ondelete="CASCADE"), nullable=False
            ),
            Column(POSITION, Integer, nullable=False),
            *(
                Column(row.key, column_type(row), nullable=True)
                for row in field.fields
                if row.kind is not ValueKind.ROWS
            ),
            Index(identifier("ix", name, "parent"), PARENT_ID, POSITION),
        )


def _system_columns() -> Iterator[Column[Any]]:
    yield Column("created_at", DateTime(timezone=True), nullable=False)
    yield Column("updated_at", DateTime(timezone=True), nullable=False)
    yield Column("created_by", Id, ForeignKey("ff_users.id", ondelete="SET NULL"))
    yield Column("updated_by", Id, ForeignKey("ff_users.id", ondelete="SET NULL"))
    yield Column("version", Integer, nullable=False, server_default=text("1"))
    yield Column(DEPARTMENT, Id, ForeignKey("ff_departments.id", ondelete="SET NULL"))
    yield Column(DELETED_AT, DateTime(timezone=True))
    yield Column(DELETED_BY, Id, ForeignKey("ff_users.id", ondelete="SET NULL"))


def derived_index_keys(form: Form) -> list[tuple[tuple[SortKey, ...], bool]]:
    """The indexes a form needs, as ordered keys with a uniqueness flag.

    Besides what the definition declares: every unique and indexed field; every link (so a
    record's related lists are fast); and for the default sort, one index on its own and one
    per filter field, for the owner and for the owner's department (the ``own`` and
    ``department`` scopes), each followed by the sort keys, so that filtering and sorting a
    list reads the first page straight off an index. A declared non-unique index ends with
    ``id``, the tie-breaker every sort ends with, so it can serve the whole ORDER BY.
    """
    sort = tuple(form.list_view.sort)
    if not any(key.field == "id" for key in sort):
        sort = (*sort, SortKey("id", descending=sort[-1].descending if sort else True))
    wanted: list[tuple[tuple[SortKey, ...], bool]] = []
    for index in form.indexes:
        keys = index.keys
        if index.covering:  # what every statement reads: the deleted mark (a partial index
            # holds it too, or SQLite reads the table for it) and the department the scope reads
            keys = (*keys, SortKey(DEPARTMENT), SortKey(DELETED_AT))
        if not index.unique and not any(key.field == "id" for key in keys):
            keys = (*keys, SortKey("id", descending=keys[-1].descending))
        wanted.append((keys, index.unique))
    for field in form.fields:
        if field.unique:
            wanted.append(((SortKey(field.key),), True))
        elif field.indexed or field.kind is ValueKind.REFERENCE:
            wanted.append(((SortKey(field.key),), False))
    wanted.append((sort, False))
    listed = (key for key in form.list_view.filters if _indexable(form, key))
    for key in (*listed, form.owner_field, DEPARTMENT):
        if key not in (s.field for s in sort):
            wanted.append(((SortKey(key), *sort), False))
    return _without_prefixes(wanted)


def _indexable(form: Form, key: str) -> bool:
    """A filter on a field stored as a list (multiselect, attachments) reads no index."""
    if not form.has_field(key):
        return True  # a system field
    return form.field(key).kind not in (ValueKind.CHOICES, ValueKind.FILES)


def _without_prefixes(
    wanted: Iterable[tuple[tuple[SortKey, ...], bool]],
) -> list[tuple[tuple[SortKey, ...], bool]]:
    """Drop a non-unique index whose columns lead another index: the longer one serves.

    Two indexes over the same columns in different directions would share a name; the
    first wanted (a declared one) is kept.
    """
    by_columns: dict[tuple[tuple[str, ...], bool], tuple[SortKey, ...]] = {}
    for keys, unique in wanted:
        by_columns.setdefault((tuple(key.field for key in keys), unique), keys)
    items = [(keys, unique) for (_columns, unique), keys in by_columns.items()]
    kept = []
    for keys, unique in items:
        covered = (
            any(other != keys and other[: len(keys)] == keys for other, _ in items) and not unique
        )
        if not covered:
            kept.append((keys, unique))
    return kept


def _add_indexes(table: Table, form: Form) -> None:
    """Attach the derived indexes; each covers live rows only (the recycle bin is not listed)."""
    for keys, unique in derived_index_keys(form):
        name = identifier("uq" if unique else "ix", table.name, *(key.field for key in keys))
        columns = [
            table.c[key.field].desc() if key.descending else table.c[key.field] for key in keys
        ]
        Index(name, *columns, unique=unique, sqlite_where=LIVE_ROWS, postgresql_where=LIVE_ROWS)
