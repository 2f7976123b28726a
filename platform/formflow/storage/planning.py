"""Planning a migration: what the new model needs that the database does not have.

The planner compares the new compiled model with the previous one, which says reliably what
was renamed and what a field's values used to mean, and with the live database, which says
what exists: a table created by hand, a column left hidden by an earlier version, an index
dropped by someone. Where the two disagree, the database wins, because that is where the
data is.

Every type change is tried on the stored values first (see ``conversions``), and every new
unique index on the live records, so that a plan that would fail or lose values is refused
before anything runs, with the rows that stand in the way. So are removed options and newly
required fields (see ``stored_values``); formulas whose meaning changed are recomputed for
the stored rows (see ``recompute``); search indexes follow the forms' search fields, and
search text the values it reads (see ``search_steps``).

Going back to an earlier version reverses renames: a column or subtable table that the
previous model renamed from the name now wanted takes that name again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from sqlalchemy import Column, Connection, Index, Table, inspect
from sqlalchemy.engine import Inspector
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.schema import sort_tables_and_constraints
from sqlalchemy.types import TypeEngine

from formflow.definitions.model import Field
from formflow.fields import ValueKind
from formflow.storage.conversions import CONVERTIBLE_KINDS, scan, target_label
from formflow.storage.duplicate_key_steps import RebuildDuplicateKeys, check_shapes
from formflow.storage.migration_ops import (
    AddColumn,
    AddForeignKey,
    AlterColumnType,
    CreateIndex,
    CreateTable,
    DropIndex,
    KeepHiddenColumn,
    KeepHiddenTable,
    MigrationPlan,
    PlanBuilder,
    RenameColumn,
    RenameTable,
    Stage,
    counted,
)
from formflow.storage.platform_tables import PLATFORM_PREFIX
from formflow.storage.recompute import RecomputeFormulas, row_count, stale_formulas
from formflow.storage.recompute_derived import RecomputeDerived, stale_derived
from formflow.storage.schema_facts import (
    duplicate_values,
    index_keys,
    is_derived_index,
    is_widening,
    reference_columns,
    same_index,
)
from formflow.storage.search_steps import plan_search
from formflow.storage.stored_values import Place, option_changes, required_changes
from formflow.storage.tables import DELETED_AT, AppSchema, form_table_name, identifier

WAYS_FORWARD = (
    "Ways forward: add a new field with the new type instead and leave this one as it is; "
    "or fix those rows and migrate again; or keep the old type."
)


@dataclass(frozen=True)
class _TableSpec:
    """One table the new model wants, with what the previous model knew of it."""

    table: Table
    fields: Mapping[str, Field]
    previous: Mapping[str, Field] | None
    old_name: str | None = None
    """The table's name before its subtable field was renamed."""


def plan_migration(
    connection: Connection,
    new: AppSchema,
    previous: AppSchema | None,
    *,
    timezone: tzinfo = UTC,
) -> MigrationPlan:
    """The steps that bring the database from ``previous`` (or what exists) to ``new``.

    ``timezone`` is the instance's: what ``today`` means to a formula recomputed here.
    """
    planner = _Planner(connection, new, previous, timezone)
    planner.run()
    return planner.builder.plan()


class _Planner:
    def __init__(
        self,
        connection: Connection,
        new: AppSchema,
        previous: AppSchema | None,
        timezone: tzinfo,
    ):
        self.connection = connection
        self.dialect = connection.dialect
        self.inspector: Inspector = inspect(connection)
        self.existing = set(self.inspector.get_table_names())
        self.new, self.previous = new, previous
        self.timezone = timezone
        self.builder = PlanBuilder()
        self.to_create: list[Table] = []
        self.live_names: dict[str, str] = {}
        """Model table name -> the live table that holds its rows now."""
        self.added: dict[str, set[str]] = {}
        """Model table name -> the columns this plan adds to it."""
        self.touched: dict[str, set[str]] = {}
        """Model table name -> the columns whose stored values this plan changes."""
        self.rewritten: dict[str, set[str]] = {}
        """Model table name -> the columns this plan converts or recomputes."""

    def run(self) -> None:
        specs = list(_table_specs(self.new, self.previous))
        for spec in specs:
            self._table(spec)
        self.to_create[:0] = [
            table
            for name, table in self.new.metadata.tables.items()
            if name.startswith(PLATFORM_PREFIX) and name not in self.existing
        ]
        self._create_tables()
        self._hidden_tables({spec.old_name for spec in specs if spec.old_name})
        self._recompute()
        self._search()
        self._duplicate_keys()

    def _table(self, spec: _TableSpec) -> None:
        name = spec.table.name
        if name in self.existing:
            self.live_names[name] = name
            self._diff_table(spec, name)
        elif spec.old_name and spec.old_name in self.existing:
            self.live_names[name] = spec.old_name
            self.builder.add(Stage.RENAME_TABLE, RenameTable(spec.old_name, name))
            self._diff_table(spec, spec.old_name)
        else:
            self.to_create.append(spec.table)

    def _diff_table(self, spec: _TableSpec, live_name: str) -> None:
        live = {info["name"]: info for info in self.inspector.get_columns(live_name)}
        sources: dict[str, str] = {}
        retyped: set[str] = set()
        for column in spec.table.columns:
            source = _source_column(spec, column.name, live)
            self._check_values(spec, Place(spec.table.name, column.name, live_name, source))
            if source is None:
                self._add_column(spec.table.name, column)
                continue
            sources[column.name] = source
            if source != column.name:
                self.builder.add(
                    Stage.RENAME_COLUMN, RenameColumn(spec.table.name, source, column.name)
                )
            if self._retype(spec, live_name, column, live[source], source):
                retyped.add(column.name)
                self.rewritten.setdefault(spec.table.name, set()).add(column.name)
        self._keep_hidden_columns(spec, live, set(sources.values()))
        self._diff_indexes(spec, live_name, sources, retyped)

    def _check_values(self, spec: _TableSpec, place: Place) -> None:
        """Plan or refuse what stored values need to fit the field's new options and
        requirement (see ``stored_values``)."""
        field = spec.fields.get(place.column)
        if field is None:
            return
        old = _previous_field(spec, place)
        live_only = DELETED_AT in spec.table.c
        for steps, refusals in (
            option_changes(self.connection, place, old, field),
            required_changes(self.connection, place, old, field, live_only=live_only),
        ):
            for step in steps:
                self.builder.add(Stage.FIX_VALUES, step)
                self.touched.setdefault(spec.table.name, set()).add(place.column)
            for refusal in refusals:
                self.builder.refuse(refusal)

    def _add_column(self, table_name: str, column: Column[Any]) -> None:
        self.added.setdefault(table_name, set()).add(column.name)
        sql_type = self._sql(column.type)
        self.builder.add(Stage.ADD_COLUMN, AddColumn(table_name, column.name, sql_type, column))

    def _retype(
        self,
        spec: _TableSpec,
        live_name: str,
        column: Column[Any],
        live: ReflectedColumn,
        source: str,
    ) -> bool:
        """Plan a type change if the column needs one; whether it does."""
        field = spec.fields.get(column.name)
        if field is None or field.kind is ValueKind.ROWS:
            return False  # an engine column: its type is the engine's business
        old_field = spec.previous.get(source) if spec.previous else None
        where = f"{spec.table.name}.{column.name}"
        if self._sql(live["type"]) == self._sql(column.type) and (
            old_field is None or old_field.kind is field.kind
        ):
            self._check_reference_target(where, old_field, field)
            return False
        if not self._convertible(where, live_name, source, old_field, field, live):
            return False
        widening = is_widening(live["type"], column.type)
        if not widening:
            self._scan(where, live_name, source, live["type"], field)
        change = AlterColumnType(
            table=spec.table.name,
            column_name=column.name,
            old_sql=self._sql(live["type"]),
            new_sql=self._sql(column.type),
            widening=widening,
            old_type=live["type"],
            new_column=column,
            target_field=field,
        )
        self.builder.add(Stage.ALTER_TYPE, change)
        return True

    def _sql(self, sql_type: TypeEngine[Any]) -> str:
        return sql_type.compile(dialect=self.dialect)

    def _convertible(
        self,
        where: str,
        live_name: str,
        source: str,
        old_field: Field | None,
        field: Field,
        live: ReflectedColumn,
    ) -> bool:
        """Refuse a change to or from a kind whose values mean something elsewhere."""
        kinds = {old_field.kind if old_field else field.kind, field.kind}
        references = reference_columns(self.inspector, live_name)
        if source not in references and kinds <= CONVERTIBLE_KINDS:
            return True
        old = old_field.type if old_field else self._sql(live["type"])
        self.builder.refuse(
            f"{where}: changing a field from {old} to {field.type} is not supported, because "
            "links, users, departments, attachments and subtables keep their meaning "
            "elsewhere. Add a new field instead, and remove this one."
        )
        return False

    def _scan(
        self, where: str, live_name: str, source: str, sql_type: TypeEngine[Any], field: Field
    ) -> None:
        result = scan(self.connection, live_name, source, sql_type, field)
        if result.failures:
            self.builder.refuse(
                f"{where}: {counted(result.failures, 'row')} cannot become {target_label(field)}: "
                f"{result.describe_examples()}. {WAYS_FORWARD}"
            )

    def _check_reference_target(self, where: str, old: Field | None, new: Field) -> None:
        """A link that now points elsewhere would keep ids of the wrong records."""
        if old is None or old.kind is not ValueKind.REFERENCE:
            return
        if (old.type, old.target_form) != (new.type, new.target_form):
            self.builder.refuse(
                f"{where}: now points to {_target(new)} instead of {_target(old)}, so its "
                "stored ids would name the wrong records. Add a new field instead, and remove "
                "this one."
            )

    def _keep_hidden_columns(
        self, spec: _TableSpec, live: Mapping[str, Any], claimed: set[str]
    ) -> None:
        if spec.previous is None:
            return
        added = self.added.get(spec.table.name, set())
        for name in live:
            removed = spec.previous.get(name)
            if name not in claimed and removed is not None and removed.kind is not ValueKind.ROWS:
                successors = tuple(
                    key
                    for key, field in spec.fields.items()
                    if key in added and field.kind is removed.kind
                )
                self.builder.add(
                    Stage.KEEP_HIDDEN, KeepHiddenColumn(spec.table.name, name, successors)
                )

    def _diff_indexes(
        self, spec: _TableSpec, live_name: str, sources: Mapping[str, str], retyped: set[str]
    ) -> None:
        """Drop what the model no longer derives or a type change touches; create the rest."""
        renamed = {source: name for name, source in sources.items()}
        wanted = {str(index.name): index for index in spec.table.indexes}
        kept: set[str] = set()
        for info in self.inspector.get_indexes(live_name):
            name = info["name"] or ""
            index = wanted.get(name)
            touched = bool({renamed.get(c, c) for c in info["column_names"] if c} & retyped)
            if index is not None and not touched and same_index(info, index, renamed):
                kept.add(name)
            elif index is not None or touched or is_derived_index(info):
                self.builder.add(Stage.DROP_INDEX, DropIndex(name, spec.table.name))
        for name, index in wanted.items():
            if name not in kept:
                self._check_unique(spec, index, live_name, sources)
                self.builder.add(Stage.CREATE_INDEX, CreateIndex.of(index))

    def _check_unique(
        self, spec: _TableSpec, index: Index, live_name: str, sources: Mapping[str, str]
    ) -> None:
        """Refuse a unique index that live records already break, naming some of them."""
        keys = [key for key, _descending in index_keys(index)]
        if not index.unique or any(key not in sources for key in keys):
            return  # a new column is empty, and empty values never clash
        live_only = DELETED_AT in spec.table.c
        groups, examples = duplicate_values(
            self.connection,
            live_name,
            [sources[key] for key in keys],
            live_only=live_only,
            shown=keys,
        )
        if groups:
            verb = "appears" if groups == 1 else "appear"
            self.builder.refuse(
                f"{spec.table.name}: {counted(groups, 'value')} of ({', '.join(keys)}) {verb} in more "
                f"than one live record, so the unique index {index.name} cannot be created: "
                f"{examples}. Ways forward: make those records' values differ, or drop "
                "`unique` from the definition."
            )

    def _create_tables(self) -> None:
        """New tables in dependency order; foreign keys in a cycle are added afterwards.

        SQLite checks no foreign key when a table is created, and cannot add one later, so
        there every key stays inline.
        """
        # SQLAlchemy leaves this helper untyped; it is the sort create_all() itself uses.
        order = sort_tables_and_constraints(self.to_create)  # type: ignore[no-untyped-call]
        cycles = (
            []
            if self.dialect.name == "sqlite"
            else [fk for t, fks in order if t is None for fk in fks]
        )
        for table, _inline in order:
            if table is None:
                continue
            own = tuple(fk for fk in table.foreign_key_constraints if fk in cycles)
            self.builder.add(Stage.CREATE_TABLE, CreateTable(table.name, table, own))
            for index in sorted(table.indexes, key=lambda index: str(index.name)):
                self.builder.add(Stage.CREATE_INDEX, CreateIndex.of(index))
        for fk in cycles:
            columns = tuple(fk.column_keys)
            target = fk.referred_table.name
            self.builder.add(
                Stage.ADD_FOREIGN_KEY, AddForeignKey(fk.table.name, columns, target, fk)
            )

    def _recompute(self) -> None:
        """Recompute the stale formulas of every table that has rows: a subtable's rows
        first, since the record's formulas may sum them."""
        for form in self.new.app.forms.values():
            old_form = self.previous.app.forms.get(form.key) if self.previous else None
            old_fields = _by_key(old_form.fields) if old_form else None
            old_top = old_form.fields if old_form else ()
            for sub in form.fields:
                if sub.kind is ValueKind.ROWS:
                    old_sub = _previous_of(sub, old_fields)
                    old_rows = _by_key(old_sub.fields) if old_sub is not None else None
                    table = self.new.child_table(form.key, sub.key).name
                    stale = stale_formulas(
                        sub.fields,
                        old_rows,
                        self.added.get(table, set()),
                        form.fields,
                        old_top,
                        frozenset(self.touched.get(table, ())),
                    )
                    self._recompute_step(form.key, sub.key, table, stale)
            table = self.new.table(form.key).name
            added, touched = self.added.get(table, set()), self.touched.get(table, ())
            stale = stale_formulas(form.fields, old_fields, added, touched=frozenset(touched))
            self._recompute_step(form.key, None, table, stale)
        for form in self.new.app.forms.values():
            table = self.new.table(form.key).name
            previous = self.previous.app.forms if self.previous else None
            derived = stale_derived(form, previous, self.added.get(table, set()))
            live = self.live_names.get(table)
            rows = row_count(self.connection, live) if derived and live is not None else 0
            if rows:
                step = RecomputeDerived(form.key, derived, rows, self.new, self.timezone)
                self.builder.add(Stage.RECOMPUTE, step)
                self.rewritten.setdefault(table, set()).update(derived)

    def _recompute_step(
        self, form_key: str, subtable: str | None, table: str, stale: tuple[str, ...]
    ) -> None:
        live = self.live_names.get(table)
        if not stale or live is None:
            return
        rows = row_count(self.connection, live)
        if rows:
            step = RecomputeFormulas(form_key, subtable, stale, rows, self.new, self.timezone)
            self.builder.add(Stage.RECOMPUTE, step)
            self.rewritten.setdefault(table, set()).update(stale)

    def _search(self) -> None:
        """Search indexes and search text for what the steps before change (see
        ``search_steps``)."""
        changed: dict[str, set[str]] = {}
        for source in (self.added, self.touched, self.rewritten):
            for table, columns in source.items():
                changed.setdefault(table, set()).update(columns)
        steps = plan_search(self.connection, self.new, self.previous, self.existing, changed)
        for stage, step in steps:
            self.builder.add(stage, step)

    def _duplicate_keys(self) -> None:
        """Rebuild the duplicate keys when the checks compare otherwise than before and
        records are already there to compare."""
        before = check_shapes(self.previous.app) if self.previous else frozenset()
        if check_shapes(self.new.app) == before:
            return
        forms = {form for check in self.new.app.duplicate_checks for form, _ in check.fields}
        rows = 0
        for form_key in sorted(forms):
            live = self.live_names.get(self.new.table(form_key).name)
            rows += row_count(self.connection, live) if live is not None else 0
        if rows or before:
            checks = tuple(check.key for check in self.new.app.duplicate_checks)
            step = RebuildDuplicateKeys(checks, rows, self.new)
            self.builder.add(Stage.FILL_SEARCH, step)

    def _hidden_tables(self, renamed: set[str]) -> None:
        if self.previous is None:
            return
        for name in self.previous.metadata.tables:
            gone = name not in self.new.metadata.tables and name not in renamed
            if gone and name in self.existing and not name.startswith(PLATFORM_PREFIX):
                self.builder.add(Stage.KEEP_HIDDEN, KeepHiddenTable(name))


def _table_specs(new: AppSchema, previous: AppSchema | None) -> Iterator[_TableSpec]:
    for form in new.app.forms.values():
        old_form = previous.app.forms.get(form.key) if previous else None
        old_fields = _by_key(old_form.fields) if old_form else None
        yield _TableSpec(new.table(form.key), _by_key(form.fields), old_fields)
        for field in form.fields:
            if field.kind is ValueKind.ROWS:
                yield _child_spec(new, form.key, field, old_fields)


def _child_spec(
    new: AppSchema, form_key: str, field: Field, old_fields: Mapping[str, Field] | None
) -> _TableSpec:
    """A subtable's table; renaming the field renames the table, and going back to the
    version before the rename renames it back."""
    old_field = _previous_of(field, old_fields)
    old_name = None
    if old_field is not None and old_field.key != field.key:
        old_name = identifier(form_table_name(new.app.key, form_key), old_field.key)
    elif field.renamed_from and (old_fields is None or field.key not in old_fields):
        old_name = identifier(form_table_name(new.app.key, form_key), field.renamed_from)
    old_rows = _by_key(old_field.fields) if old_field is not None else None
    table = new.child_table(form_key, field.key)
    return _TableSpec(table, _by_key(field.fields), old_rows, old_name)


def _previous_of(field: Field, old_fields: Mapping[str, Field] | None) -> Field | None:
    """The subtable field of the previous model that ``field`` continues: the same key, the
    one it was renamed from, or the one that was renamed from it (going back)."""
    if old_fields is None:
        return None
    candidates = [old_fields.get(field.key)]
    if field.renamed_from:
        candidates.append(old_fields.get(field.renamed_from))
    candidates += [old for old in old_fields.values() if old.renamed_from == field.key]
    for old in candidates:
        if old is not None and old.kind is field.kind:
            return old
    return None


def _by_key(fields: Iterable[Field]) -> dict[str, Field]:
    return {field.key: field for field in fields}


def _source_column(spec: _TableSpec, name: str, live: Mapping[str, Any]) -> str | None:
    """The live column that holds ``name``'s values: itself, the one it was renamed from,
    or, going back to an earlier version, the one the previous model renamed from it."""
    if name in live:
        return name
    field = spec.fields.get(name)
    old = field.renamed_from if field else None
    if old and old in live and old not in spec.table.c:
        return old
    for later in (spec.previous or {}).values():
        if later.renamed_from == name and later.key in live and later.key not in spec.table.c:
            return later.key
    return None


def _previous_field(spec: _TableSpec, place: Place) -> Field | None:
    """The field of the previous model whose values ``place`` holds now."""
    if spec.previous is None or place.source is None:
        return None
    return spec.previous.get(place.source)


def _target(field: Field) -> str:
    if field.is_link:
        return f"records of form {field.target_form}"
    return f"{field.type}s"
