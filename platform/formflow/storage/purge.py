"""Purging: the one place where Formflow deletes stored data, and only when asked.

A migration keeps what a definition no longer names: the column of a removed field, the
table of a removed form or subtable. They stay hidden so that a mistake in a definition
never costs data, and a rollback or a re-added field finds its values again. A purge plan
lists those hidden columns and tables and drops them, after a person has read the list.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, inspect, select
from sqlalchemy.engine import Inspector

from formflow.records.search import search_index_name
from formflow.storage.migration_ops import (
    CreateIndex,
    DropColumn,
    DropIndex,
    DropTable,
    MigrationPlan,
    PlanBuilder,
    Stage,
)
from formflow.storage.platform_tables import PLATFORM_PREFIX, definition_versions
from formflow.storage.schema_facts import reference_columns
from formflow.storage.search_steps import CreateSearchIndex
from formflow.storage.tables import SEARCH, AppSchema


def plan_purge(connection: Connection, schema: AppSchema) -> MigrationPlan:
    """Steps that drop every hidden column and hidden table of ``schema``'s app, for good.

    Hidden means present in the database and absent from the model; columns the engine
    keeps for itself (named ``_...``) are never hidden.
    """
    inspector = inspect(connection)
    existing = set(inspector.get_table_names())
    builder = PlanBuilder()
    for name, table in schema.metadata.tables.items():
        if name in existing and not name.startswith(PLATFORM_PREFIX):
            _hidden_columns(builder, inspector, table, connection.dialect.name == "sqlite")
    for name in sorted(_hidden_tables(connection, schema, existing), reverse=True):
        builder.add(Stage.DROP_DATA, DropTable(name))
    return builder.plan()


def _hidden_columns(builder: PlanBuilder, inspector: Inspector, table: Table, sqlite: bool) -> None:
    """Drop the table's hidden columns, and first every index that would stand in the way.

    SQLite refuses to drop an indexed column, and where a dropped column holds a foreign key
    it rebuilds the table, which keeps its indexes but not their sort order, nor the
    triggers of its search index; so there the model's indexes are dropped first and
    created again afterwards, and the search index is made whole again.
    """
    live = [info["name"] for info in inspector.get_columns(table.name)]
    hidden = [name for name in live if name not in table.c and not name.startswith("_")]
    if not hidden:
        return
    rebuild = sqlite and bool(set(hidden) & reference_columns(inspector, table.name))
    wanted = {str(index.name): index for index in table.indexes}
    for info in inspector.get_indexes(table.name):
        name = info["name"] or ""
        if set(info["column_names"]) & set(hidden) or (rebuild and name in wanted):
            builder.add(Stage.DROP_INDEX, DropIndex(name, table.name))
            if name in wanted:
                builder.add(Stage.CREATE_INDEX, CreateIndex.of(wanted[name]))
    for name in hidden:
        builder.add(Stage.DROP_DATA, DropColumn(table.name, name, rebuild=rebuild))
    if rebuild and SEARCH in table.c:
        index_name = search_index_name(table.name, sqlite=True)
        index = CreateSearchIndex(table.name, index_name, sqlite=True)
        builder.add(Stage.CREATE_SEARCH_INDEX, index)


def _hidden_tables(connection: Connection, schema: AppSchema, existing: set[str]) -> set[str]:
    """Tables named for this app that its model does not have.

    Left alone: an app whose key extends this one's (``shop`` and ``shop__eu``) owns its own
    tables; a live table's full-text tables (``<table>_fts...``) belong to search; and
    SQLite's shadow tables go with the virtual table that owns them.
    """
    prefix = f"{schema.app.key}__"
    others = tuple(f"{key}__" for key in _app_keys(connection, existing) if key.startswith(prefix))
    search = tuple(f"{name}_fts" for name in schema.metadata.tables)
    shadows = _shadow_tables(connection)
    return {
        name
        for name in existing - shadows
        if name.startswith(prefix)
        and name not in schema.metadata.tables
        and not name.startswith(others + search)
    }


def _shadow_tables(connection: Connection) -> set[str]:
    """SQLite's internal tables of virtual tables, which it drops along with their owner."""
    if connection.dialect.name != "sqlite":
        return set()
    rows = connection.exec_driver_sql("PRAGMA table_list").all()
    return {row[1] for row in rows if row[2] == "shadow"}


def _app_keys(connection: Connection, existing: set[str]) -> set[str]:
    if definition_versions.name not in existing:
        return set()
    query = select(definition_versions.c.app_key).distinct()
    return set(connection.execute(query).scalars())
