"""Facts about the live database that planning relies on, read the same way on every dialect.

Reflection differs between SQLite and PostgreSQL in small ways (PostgreSQL reports an
index's sort order, SQLite does not), so the planner asks these questions here rather than
reading the inspector's dictionaries itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    Index,
    Integer,
    Numeric,
    String,
    column,
    func,
    select,
    table,
)
from sqlalchemy.engine import Inspector
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeEngine

from formflow.storage.tables import DELETED_AT

DERIVED_INDEX_PREFIXES = ("ix_", "uq_")
"""Indexes the engine names (see ``tables._add_indexes``); others are left alone."""

MAX_EXAMPLES = 5
BIGINT_DIGITS = 19


def index_keys(index: Index) -> tuple[tuple[str, bool], ...]:
    """The index's columns in order, each with whether it is descending."""
    keys = []
    for expression in index.expressions:
        descending = getattr(expression, "modifier", None) is operators.desc_op
        element = getattr(expression, "element", expression)
        keys.append((str(getattr(element, "name", element)), descending))
    return tuple(keys)


def is_derived_index(info: Mapping[str, Any]) -> bool:
    """Whether a reflected index looks like one the engine derives from a definition.

    Only those are dropped when the model stops deriving them. An index over an expression
    or an engine column (the full-text index on ``_search``) belongs to someone else.
    """
    name = info["name"] or ""
    columns = info["column_names"]
    plain = all(column and not column.startswith("_") for column in columns)
    return name.startswith(DERIVED_INDEX_PREFIXES) and plain


def same_index(info: Mapping[str, Any], index: Index, renamed: Mapping[str, str]) -> bool:
    """Whether a reflected index already is ``index`` (after the planned column renames)."""
    keys = index_keys(index)
    columns = [renamed.get(name, name) for name in info["column_names"]]
    if columns != [key for key, _descending in keys] or bool(info["unique"]) != index.unique:
        return False
    sorting = info.get("column_sorting")
    if sorting is None:  # SQLite does not report it: an index reads both ways there anyway
        return True
    live_descending = {renamed.get(c, c) for c, options in sorting.items() if "desc" in options}
    return live_descending == {key for key, descending in keys if descending}


def is_widening(old: TypeEngine[Any], new: TypeEngine[Any]) -> bool:
    """Whether every value of type ``old`` fits ``new`` unchanged, so no row needs checking."""
    if isinstance(old, String) and isinstance(new, String):
        if new.length is None:
            return True
        return old.length is not None and old.length <= new.length
    if isinstance(new, Numeric) and not isinstance(new, Float):
        whole, scale = _digits(new)
        if isinstance(old, Integer):
            return whole >= BIGINT_DIGITS
        if isinstance(old, Numeric) and not isinstance(old, Float):
            old_whole, old_scale = _digits(old)
            return old_whole <= whole and old_scale <= scale
    return False


def _digits(sql_type: Numeric[Any]) -> tuple[int, int]:
    """Digits before and after the point; an unbounded numeric counts as holding none."""
    if sql_type.precision is None:
        return (0, 0)
    scale = sql_type.scale or 0
    return (sql_type.precision - scale, scale)


def reference_columns(inspector: Inspector, table_name: str) -> set[str]:
    """Columns of a live table that hold foreign keys."""
    return {
        name
        for key in inspector.get_foreign_keys(table_name)
        for name in key["constrained_columns"]
    }


def duplicate_values(
    connection: Connection,
    table_name: str,
    columns: list[str],
    *,
    live_only: bool,
    shown: list[str] | None = None,
) -> tuple[int, str]:
    """How many value combinations more than one live record shares, and a few of them,
    each value named as in ``shown`` (default: ``columns``; a field's new key when the
    column is about to be renamed).

    Empty values never clash (both databases let a unique index hold many NULLs), and a
    record in the recycle bin does not count, because the derived indexes skip it.
    """
    source = table(table_name, column(DELETED_AT), *(column(name) for name in columns))
    keys = [source.c[name] for name in columns]
    groups = (
        select(*keys, func.count().label("records"))
        .where(*(key.is_not(None) for key in keys))
        .group_by(*keys)
        .having(func.count() > 1)
    )
    if live_only:
        groups = groups.where(source.c[DELETED_AT].is_(None))
    total = connection.execute(select(func.count()).select_from(groups.subquery())).scalar_one()
    rows = connection.execute(groups.order_by(*keys).limit(MAX_EXAMPLES)).all()
    examples = "; ".join(_show_group(shown or columns, row) for row in rows)
    more = int(total) - len(rows)
    return int(total), examples + (f"; and {more} more" if more else "")


def _show_group(columns: list[str], row: Any) -> str:
    values = ", ".join(f"{name}={row[index]!r}" for index, name in enumerate(columns))
    return f"{values} in {row[-1]} records"
