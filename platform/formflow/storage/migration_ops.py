"""The steps of a migration: each says in one line what it does, then does it.

A plan is a list of these, shown to a person before anything runs (``formflow migrate
--plan``) and applied in order inside one transaction. Only names taken from the compiled
model or from the database catalogue reach SQL, always quoted by the dialect; values move
only as bound parameters.

Two steps, :class:`KeepHiddenColumn` and :class:`KeepHiddenTable`, do nothing: they are in
the plan so that nobody mistakes a removed field for deleted data. Only :class:`DropColumn`
and :class:`DropTable`, which appear in a purge plan alone, ever delete stored values.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

from alembic.operations import Operations
from sqlalchemy import Column, ForeignKey, ForeignKeyConstraint, Index, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import AddConstraint, CreateColumn
from sqlalchemy.schema import CreateTable as CreateTableDDL
from sqlalchemy.types import TypeEngine

from formflow.definitions.model import Field
from formflow.errors import MigrationRefused
from formflow.storage.conversions import copy_converted
from formflow.storage.schema_facts import index_keys

TEMPORARY_PREFIX = "_ff_new__"
"""A converted column is built under this name, then takes the field's name."""


class Effect(Enum):
    """What a step does to the database, as a plan shows it."""

    NONE = "changes nothing"
    SCHEMA = "schema"
    VALUES = "stored values"
    DERIVED = "derived values"
    SEARCH_INDEX = "search index"
    VERSION = "definition version"
    DESTRUCTIVE = "DESTRUCTIVE: deletes data"


class Operation(ABC):
    """One step of a migration plan; a kind of step names its :class:`Effect` with its
    bases (``class AddIndex(Operation, effect=Effect.SCHEMA)``)."""

    effect = Effect.SCHEMA

    def __init_subclass__(cls, *, effect: Effect | None = None, **options: Any) -> None:
        super().__init_subclass__(**options)
        if effect is not None:
            cls.effect = effect

    @property
    def informational(self) -> bool:
        """True for steps that only report something and change nothing."""
        return self.effect is Effect.NONE

    @abstractmethod
    def describe(self) -> str:
        """The step as one line a person reads."""

    @abstractmethod
    def touches(self) -> tuple[str, ...]:
        """The tables the step reads or changes."""

    @abstractmethod
    def apply(self, ops: Operations) -> None:
        """Carry the step out on the connection ``ops`` is bound to."""


class OneTableOperation(Operation):
    """A step on one table: the ``table`` each subclass declares as its field."""

    table: str

    def touches(self) -> tuple[str, ...]:
        return (self.table,)


def counted(count: int, one: str, many: str | None = None) -> str:
    """``count`` with its noun, as a step says it: "1 row", "3 rows"; ``many`` for a
    plural that is not the noun with an "s"."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def _is_sqlite(ops: Operations) -> bool:
    return bool(ops.get_bind().dialect.name == "sqlite")


@dataclass(frozen=True)
class CreateTable(Operation):
    """A table the model needs and the database lacks, without its indexes (those follow).

    ``deferred`` are foreign keys in a cycle between new tables; PostgreSQL gets them from
    :class:`AddForeignKey` once every table exists, SQLite takes them inline.
    """

    name: str
    table: Table = field(compare=False, repr=False)
    deferred: tuple[ForeignKeyConstraint, ...] = field(default=(), compare=False, repr=False)

    def describe(self) -> str:
        return f"create table {self.name} ({len(self.table.columns)} columns)"

    def touches(self) -> tuple[str, ...]:
        return (self.name,)

    def apply(self, ops: Operations) -> None:
        inline = [fk for fk in self.table.foreign_key_constraints if fk not in self.deferred]
        ops.get_bind().execute(CreateTableDDL(self.table, include_foreign_key_constraints=inline))


@dataclass(frozen=True)
class AddForeignKey(Operation):
    """A foreign key between new tables that point at each other (PostgreSQL only)."""

    name: str
    columns: tuple[str, ...]
    target: str
    constraint: ForeignKeyConstraint = field(compare=False, repr=False)

    def describe(self) -> str:
        return f"add foreign key {self.name}.{', '.join(self.columns)} -> {self.target}"

    def touches(self) -> tuple[str, ...]:
        return (self.name, self.target)

    def apply(self, ops: Operations) -> None:
        ops.get_bind().execute(AddConstraint(self.constraint))


@dataclass(frozen=True)
class RenameTable(Operation):
    """A subtable's table follows its renamed field, rows and all."""

    old: str
    new: str

    def describe(self) -> str:
        return f"rename table {self.old} to {self.new} (data kept)"

    def touches(self) -> tuple[str, ...]:
        return (self.old,)

    def apply(self, ops: Operations) -> None:
        ops.rename_table(self.old, self.new)


@dataclass(frozen=True)
class AddColumn(OneTableOperation):
    """A new field's column; always nullable, so existing rows simply have no value yet."""

    table: str
    column_name: str
    sql_type: str
    column: Column[Any] = field(compare=False, repr=False)

    def describe(self) -> str:
        return f"add column {self.table}.{self.column_name} {self.sql_type}"

    def apply(self, ops: Operations) -> None:
        column = _detached(self.column)
        if _is_sqlite(ops) and column.foreign_keys:
            _sqlite_add_reference(ops, self.table, column)
        else:
            ops.add_column(self.table, column)


def _detached(column: Column[Any]) -> Column[Any]:
    """A nullable copy of a model column, free of its table, that keeps its foreign key."""
    keys = [ForeignKey(key.target_fullname, ondelete=key.ondelete) for key in column.foreign_keys]
    return Column(column.name, column.type, *keys, nullable=True)


def _sqlite_add_reference(ops: Operations, table_name: str, column: Column[Any]) -> None:
    """``ADD COLUMN ... REFERENCES``: SQLite takes a foreign key inline, never by ALTER."""
    connection = ops.get_bind()
    quote = connection.dialect.identifier_preparer.quote
    (key,) = column.foreign_keys
    spec = CreateColumn(column).compile(dialect=connection.dialect)
    target_table, target_column = key.target_fullname.split(".")
    reference = f"REFERENCES {quote(target_table)} ({quote(target_column)})"
    if key.ondelete:
        reference += f" ON DELETE {key.ondelete}"
    connection.exec_driver_sql(f"ALTER TABLE {quote(table_name)} ADD COLUMN {spec} {reference}")


@dataclass(frozen=True)
class RenameColumn(OneTableOperation):
    """A field's column follows its ``renamed_from``, values and all."""

    table: str
    old: str
    new: str

    def describe(self) -> str:
        return f"rename column {self.table}.{self.old} to {self.new} (data kept)"

    def apply(self, ops: Operations) -> None:
        ops.alter_column(self.table, self.old, new_column_name=self.new)


@dataclass(frozen=True)
class AlterColumnType(OneTableOperation, effect=Effect.VALUES):
    """Give a column the field's new type, converting every stored value exactly.

    The values are written to a new column through :func:`~formflow.storage.conversions.
    convert`, which then replaces the old one. Widening on PostgreSQL, which loses nothing
    by definition, is a plain ``ALTER COLUMN ... TYPE``. SQLite's batch mode is avoided on
    purpose: it copies the table and drops the original, and dropping a table deletes the
    rows of child tables that reference it with ``ON DELETE CASCADE``.
    """

    table: str
    column_name: str
    old_sql: str
    new_sql: str
    widening: bool
    old_type: TypeEngine[Any] = field(compare=False, repr=False)
    new_column: Column[Any] = field(compare=False, repr=False)
    target_field: Field = field(compare=False, repr=False)

    def describe(self) -> str:
        how = "widening, values unchanged" if self.widening else "every value converted"
        return (
            f"change type of {self.table}.{self.column_name} from {self.old_sql} to "
            f"{self.new_sql} ({how})"
        )

    def apply(self, ops: Operations) -> None:
        if self.widening and not _is_sqlite(ops):
            ops.alter_column(
                self.table, self.column_name, type_=self.new_column.type, existing_nullable=True
            )
            return
        temporary = TEMPORARY_PREFIX + self.column_name
        ops.add_column(self.table, Column(temporary, self.new_column.type, nullable=True))
        copy_converted(
            ops.get_bind(),
            self.table,
            (self.column_name, self.old_type),
            (temporary, self.new_column.type),
            self.target_field,
        )
        ops.drop_column(self.table, self.column_name)
        ops.alter_column(self.table, temporary, new_column_name=self.column_name)


@dataclass(frozen=True)
class CreateIndex(OneTableOperation):
    """An index the model derives or declares and the database lacks."""

    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool
    index: Index = field(compare=False, repr=False)

    @classmethod
    def of(cls, index: Index) -> CreateIndex:
        """The step that creates ``index`` of a model table, described as a definition is
        written: ``-`` before a descending key."""
        keys = tuple(f"-{key}" if descending else key for key, descending in index_keys(index))
        table_name = index.table.name if index.table is not None else ""
        return cls(str(index.name), table_name, keys, index.unique, index)

    def describe(self) -> str:
        kind = "unique index" if self.unique else "index"
        return f"create {kind} {self.name} on {self.table} ({', '.join(self.columns)})"

    def apply(self, ops: Operations) -> None:
        try:
            self.index.create(ops.get_bind())
        except IntegrityError:
            # The plan checked the stored values; values converted by a type change in this
            # same plan can still clash ('7' and '07' both become 7).
            raise MigrationRefused(
                f"{self.table}: the unique index {self.name} cannot be created, because after "
                f"the changes before it more than one live record has the same "
                f"({', '.join(self.columns)}); nothing was changed. Make those values differ "
                "first, or drop `unique` from the definition."
            ) from None


@dataclass(frozen=True)
class DropIndex(OneTableOperation):
    """An index the model no longer derives. Dropping an index never loses data."""

    name: str
    table: str

    def describe(self) -> str:
        return f"drop index {self.name} on {self.table}"

    def apply(self, ops: Operations) -> None:
        ops.drop_index(self.name, table_name=self.table)


class KeepHidden(OneTableOperation, effect=Effect.NONE):
    """A removed field's column or form's table stays, out of sight, with its data."""

    def apply(self, ops: Operations) -> None:
        """Nothing to do: the model no longer shows it."""


@dataclass(frozen=True)
class KeepHiddenColumn(KeepHidden):
    """A removed field's column stays, out of sight, with its values. ``successors`` are
    fields holding the same kind of value added in the same change: if one is the field
    renamed, the plan says how to keep its values, since a key changed without
    ``renamed_from`` reads as a field removed and another added."""

    table: str
    column_name: str
    successors: tuple[str, ...] = ()

    def describe(self) -> str:
        kept = (
            f"keep column {self.table}.{self.column_name} hidden: the field was removed; "
            "its data stays until a purge"
        )
        if not self.successors:
            return kept
        added = " or ".join(self.successors)
        return (
            f"{kept}. If {added} is this field renamed, write "
            f"`renamed_from: {self.column_name}` on it to keep the values"
        )


@dataclass(frozen=True)
class KeepHiddenTable(KeepHidden):
    """A removed form's or subtable's table stays, out of sight, with its rows."""

    table: str

    def describe(self) -> str:
        return f"keep table {self.table} hidden: it was removed; its data stays until a purge"


@dataclass(frozen=True)
class DropColumn(OneTableOperation, effect=Effect.DESTRUCTIVE):
    """Delete a hidden column and its data: only a purge plans this.

    SQLite cannot drop a column that holds a foreign key, so there the table is rebuilt
    (foreign keys are off during a migration, so the rebuild cascades into no other table).
    """

    table: str
    column_name: str
    rebuild: bool = False

    def describe(self) -> str:
        return f"drop hidden column {self.table}.{self.column_name} and its data"

    def apply(self, ops: Operations) -> None:
        if self.rebuild and _is_sqlite(ops):
            with ops.batch_alter_table(self.table, recreate="always") as batch:
                batch.drop_column(self.column_name)
        else:
            ops.drop_column(self.table, self.column_name)


@dataclass(frozen=True)
class DropTable(OneTableOperation, effect=Effect.DESTRUCTIVE):
    """Delete a hidden table and its data: only a purge plans this."""

    table: str

    def describe(self) -> str:
        return f"drop hidden table {self.table} and its data"

    def apply(self, ops: Operations) -> None:
        if _is_sqlite(ops):
            ops.drop_table(self.table)
            return
        # Other hidden tables may still point at this one; CASCADE drops those constraints
        # (never rows of another table), whatever order the tables are dropped in.
        quoted = ops.get_bind().dialect.identifier_preparer.quote(self.table)
        ops.execute(f"DROP TABLE {quoted} CASCADE")


@dataclass(frozen=True)
class MigrationPlan:
    """What a migration will do, step by step, and what it refuses to do.

    Every step runs in the one transaction :func:`~formflow.storage.migrations.
    migration_transaction` opens: schema changes, value conversions, recomputed formulas,
    search indexes and search text, and the definition version. Both databases make all of
    them transactional (PostgreSQL's DDL is; SQLite's ``ALTER TABLE`` and FTS5 virtual
    tables are too), so a step that fails leaves the database as it was.
    """

    operations: tuple[Operation, ...] = ()
    refusals: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.operations and not self.refusals

    @property
    def changes_anything(self) -> bool:
        return any(not op.informational for op in self.operations)

    def then(self, operation: Operation) -> MigrationPlan:
        """This plan with ``operation`` as its last step."""
        return MigrationPlan((*self.operations, operation), self.refusals)

    def describe(self) -> list[str]:
        """One line per step, then one per refusal, for a person to read before applying."""
        return [op.describe() for op in self.operations] + [
            f"refused: {refusal}" for refusal in self.refusals
        ]

    def explain(self) -> list[str]:
        """The plan as ``formflow migrate --plan`` shows it: how it is applied, then every
        step numbered, with the tables it touches and what it does to them, then refusals."""
        lines = []
        if self.changes_anything:
            destructive = sum(op.effect is Effect.DESTRUCTIVE for op in self.operations)
            loss = (
                f"{destructive} {'step deletes' if destructive == 1 else 'steps delete'} data"
                if destructive
                else "no step deletes data"
            )
            lines.append(f"all in one transaction: if any step fails, nothing is changed; {loss}")
        width = len(str(len(self.operations)))
        for number, op in enumerate(self.operations, start=1):
            lines.append(
                f"{number:>{width}}. {op.describe()}  "
                f"[{', '.join(op.touches())}: {op.effect.value}]"
            )
        return lines + [f"refused: {refusal}" for refusal in self.refusals]


class Stage(IntEnum):
    """The order steps run in, whatever order the planner finds them."""

    RENAME_TABLE = 1
    RENAME_COLUMN = 2
    CREATE_TABLE = 3
    ADD_FOREIGN_KEY = 4
    ADD_COLUMN = 5
    DROP_INDEX = 6
    DROP_SEARCH_INDEX = 7
    DROP_DATA = 8
    ALTER_TYPE = 9
    FIX_VALUES = 10
    RECOMPUTE = 11
    FILL_SEARCH = 12
    CREATE_SEARCH_INDEX = 13
    CREATE_INDEX = 14
    KEEP_HIDDEN = 15
    RECORD_VERSION = 16


@dataclass
class PlanBuilder:
    """Steps in stage order, and refusals, as a planner finds them."""

    steps: list[tuple[Stage, Operation]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    def add(self, stage: Stage, operation: Operation) -> None:
        self.steps.append((stage, operation))

    def refuse(self, message: str) -> None:
        self.refusals.append(message)

    def plan(self) -> MigrationPlan:
        ordered = sorted(self.steps, key=lambda step: step[0])
        return MigrationPlan(tuple(op for _stage, op in ordered), tuple(self.refusals))
