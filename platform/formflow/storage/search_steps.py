"""The search steps of a migration: search indexes made or dropped, search text filled in.

A form with ``list.search`` keeps, in each row's ``_search`` column, the tokens of its search
fields (see ``records.search``), and the database indexes that column. A definition change
can leave either behind: a form gains search fields or changes them, a migration converts,
maps, fills or recomputes the values of a searched field, a form drops its search. These
steps put both right inside the migration's transaction, so the search of a migrated app
never lags behind its definition, and a migration that fails leaves the old search whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from alembic.operations import Operations
from sqlalchemy import Connection, bindparam, func, select, update

from formflow.definitions.model import Form
from formflow.records.search import (
    create_search_index,
    drop_search_index,
    has_search_index,
    search_index_current,
    search_index_name,
    search_text,
)
from formflow.storage.id_batches import id_batches
from formflow.storage.migration_ops import Effect, Operation, Stage, counted
from formflow.storage.tables import SEARCH, AppSchema

BATCH = 1000
"""Rows read and written back at a time."""


@dataclass(frozen=True)
class _SearchIndexStep(Operation, effect=Effect.SEARCH_INDEX):
    """A step on a form table's search index: on SQLite the FTS5 table ``index`` kept in
    step by triggers, on PostgreSQL the GIN index ``index``."""

    table: str
    index: str
    sqlite: bool

    def touches(self) -> tuple[str, ...]:
        return (self.table, self.index) if self.sqlite else (self.table,)


@dataclass(frozen=True)
class CreateSearchIndex(_SearchIndexStep):
    """A searchable form's index, filled from the rows' search text as it is created."""

    def describe(self) -> str:
        if self.sqlite:
            return f"create search index {self.index} (FTS5 over {self.table}.{SEARCH})"
        return f"create search index {self.index} on {self.table} (GIN over {SEARCH})"

    def apply(self, ops: Operations) -> None:
        create_search_index(ops.get_bind(), self.table)


@dataclass(frozen=True)
class DropSearchIndex(_SearchIndexStep):
    """The index of a form that no longer has search fields. Its rows keep their search
    text, which is worked out again if the form becomes searchable again."""

    def describe(self) -> str:
        return f"drop search index {self.index} of {self.table}: the form has no search fields"

    def apply(self, ops: Operations) -> None:
        drop_search_index(ops.get_bind(), self.table)


@dataclass(frozen=True)
class FillSearchText(Operation, effect=Effect.DERIVED):
    """Work out the search text of a form's rows: every row (``every``), or only the rows
    that have none."""

    form_key: str
    table: str
    rows: int
    every: bool
    schema: AppSchema = field(compare=False, repr=False)
    batch: int = field(default=BATCH, compare=False, repr=False)

    def describe(self) -> str:
        rows = counted(self.rows, "row")
        which = f"all {rows}" if self.every else f"{rows} that have none"
        return f"fill search text of form {self.form_key} for {which}"

    def touches(self) -> tuple[str, ...]:
        return (self.table,)

    def apply(self, ops: Operations) -> None:
        connection = ops.get_bind()
        form = self.schema.app.form(self.form_key)
        table = self.schema.table(self.form_key)
        query = select(table.c.id, *(table.c[key] for key in form.list_view.search))
        if not self.every:
            query = query.where(table.c[SEARCH].is_(None))
        write = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({SEARCH: bindparam("search_text")})
        )
        for batch in id_batches(connection, query, table, self.batch):
            rows = [
                {"row_id": row["id"], "search_text": search_text(form, dict(row))} for row in batch
            ]
            connection.execute(write, rows)


def plan_search(
    connection: Connection,
    new: AppSchema,
    previous: AppSchema | None,
    existing: set[str],
    changed: Mapping[str, set[str]],
) -> Iterator[tuple[Stage, Operation]]:
    """The search steps that bring ``existing`` tables to ``new``'s forms.

    ``changed`` holds, by table, the columns whose stored values the migration's earlier
    steps add or rewrite (the ``_search`` column itself when it is added): every row of a
    form whose search reads one of them, or whose search fields differ from ``previous``'s,
    gets its search text worked out again; otherwise only rows without any do.
    """
    sqlite = connection.dialect.name == "sqlite"
    for form in new.app.forms.values():
        table = new.table(form.key).name
        live = table in existing
        index = search_index_name(table, sqlite=sqlite)
        if SEARCH not in new.table(form.key).c:
            if live and has_search_index(connection, table):
                yield Stage.DROP_SEARCH_INDEX, DropSearchIndex(table, index, sqlite)
            continue
        if live:
            fill = _fill(connection, new, form, previous, changed.get(table, set()))
            if fill is not None:
                yield Stage.FILL_SEARCH, fill
        if not live or not search_index_current(connection, table):
            yield Stage.CREATE_SEARCH_INDEX, CreateSearchIndex(table, index, sqlite)


def _fill(
    connection: Connection,
    new: AppSchema,
    form: Form,
    previous: AppSchema | None,
    changed: set[str],
) -> FillSearchText | None:
    old_form = previous.app.forms.get(form.key) if previous else None
    searched = form.list_view.search
    table = new.table(form.key)
    every = (
        old_form is None
        or old_form.list_view.search != searched
        or bool(changed & {SEARCH, *searched})
    )
    count = select(func.count()).select_from(table)
    if not every:
        count = count.where(table.c[SEARCH].is_(None))
    rows = int(connection.execute(count).scalar_one())
    return FillSearchText(form.key, table.name, rows, every, new) if rows else None
