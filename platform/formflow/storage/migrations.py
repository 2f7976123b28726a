"""Migrations: plan what a new definition needs from the database, then apply it at once.

A plan compares the new compiled model with the previous one and with the live database
(see ``planning``). It is a list of readable steps, every one a migration needs (tables,
columns and indexes; stored values converted, mapped or filled; formulas recomputed; search
indexes and search text; the definition version recorded last), plus refusals: changes that
existing data cannot survive, each with rows as examples and the ways forward. Nothing is
applied while any refusal stands, and then everything is applied in one transaction, so a
failure in any step, the last included, changes nothing.

Data is never dropped by a migration: a removed field's column and a removed form's table
stay, hidden. Only :func:`plan_purge`, run on purpose, deletes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, tzinfo
from functools import partial
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

from formflow.definitions import App, load_app
from formflow.definitions.toolkit import BUILTIN_TOOLKIT, Toolkit
from formflow.errors import DefinitionErrors, MigrationFailed, MigrationRefused
from formflow.storage.database import (
    WRITE_OPTION,
    is_sqlite,
    read_transaction,
    write_transaction,
)
from formflow.storage.migration_ops import MigrationPlan
from formflow.storage.planning import plan_migration
from formflow.storage.purge import plan_purge
from formflow.storage.stays import plan_fills
from formflow.storage.summaries import RebuildSummaries, changed_summaries
from formflow.storage.tables import AppSchema
from formflow.storage.versions import (
    RecordVersion,
    StoredVersion,
    current_version,
    get_version,
    next_version_number,
    read_app_files,
)

__all__ = [
    "MigrationPlan",
    "MigrationResult",
    "apply_migration",
    "apply_operations",
    "migrate",
    "migration_transaction",
    "plan_migration",
    "plan_purge",
    "rollback",
]


def apply_migration(engine: Engine, plan: MigrationPlan) -> None:
    """Apply every step of ``plan`` in one transaction, or nothing if any step is refused."""
    _refuse(plan)
    if not plan.changes_anything:
        return
    with migration_transaction(engine) as connection:
        apply_operations(connection, plan)


def apply_operations(connection: Connection, plan: MigrationPlan) -> None:
    """Apply ``plan`` inside the caller's :func:`migration_transaction`.

    A step the database rejects raises :class:`~formflow.errors.MigrationFailed` naming it;
    leaving the transaction then rolls back every step before it.
    """
    _refuse(plan)
    ops = Operations(MigrationContext.configure(connection))
    for number, operation in enumerate(plan.operations, start=1):
        try:
            operation.apply(ops)
        except DBAPIError as error:
            raise MigrationFailed(
                f"step {number} of the migration failed, so nothing was changed: "
                f"{operation.describe()}: {error.orig}"
            ) from error


def _refuse(plan: MigrationPlan) -> None:
    if plan.refusals:
        raise MigrationRefused(
            "the migration was refused; nothing was changed:\n"
            + "\n".join(f"- {refusal}" for refusal in plan.refusals)
        )


MIGRATION_LOCK = 0x666F726D666C6F77  # "formflow": the advisory lock migrations take on PostgreSQL


@contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction for schema changes: committed whole on success, else rolled back.

    On SQLite foreign keys are off meanwhile, because altering or dropping a table with them
    on would delete the rows that reference it; they are checked before commit instead.
    ``PRAGMA foreign_keys`` cannot change inside a transaction, so this sets it on the bare
    connection first, and is why it does not use ``write_transaction`` there.

    Two migrations never overlap: SQLite's ``BEGIN IMMEDIATE`` makes the second wait; on
    PostgreSQL a transaction-level advisory lock does, so the second plans against what the
    first committed instead of applying the same change again.
    """
    if not is_sqlite(engine):
        with write_transaction(engine) as connection:
            connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
            yield connection
        return
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        if driver is None:  # pragma: no cover - a checked-out connection always has one
            raise RuntimeError("the SQLite connection is closed")
        driver.execute("PRAGMA foreign_keys=OFF")
        try:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                yield connection
                _check_foreign_keys(connection)
        finally:
            driver.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        places = ", ".join(f"{row[0]} id {row[1]}" for row in broken[:5])
        raise MigrationRefused(
            f"the migration would leave {len(broken)} records pointing at records that do not "
            f"exist ({places}); nothing was changed"
        )


@dataclass(frozen=True)
class MigrationResult:
    """What a migration planned, and the version it recorded (``None`` if it recorded none:
    a dry run, or a definition identical to the current one)."""

    plan: MigrationPlan
    version: StoredVersion | None

    @property
    def applied(self) -> bool:
        return self.version is not None


def migrate(
    engine: Engine,
    app_dir: Path | Mapping[str, str],
    *,
    dry_run: bool,
    note: str | None = None,
    toolkit: Toolkit = BUILTIN_TOOLKIT,
    timezone: tzinfo = UTC,
    also: Callable[[Connection, MigrationResult], None] | None = None,
) -> MigrationResult:
    """Bring the database to the app in ``app_dir`` (a folder, or its files as a mapping of
    relative path to text) and store that definition as a version.

    The plan is made against the current stored version and the live database inside the
    transaction that applies it, so nothing can change in between. A dry run only plans.
    ``toolkit`` is the plugins' (as for ``load_app``); ``timezone``
    is the instance's, for formulas the migration recomputes. Raises
    :class:`~formflow.errors.DefinitionErrors` for a definition that does not compile and
    :class:`~formflow.errors.MigrationRefused` for one the data cannot survive. ``also``
    runs in the same transaction once a version is recorded (the designer records who
    published it there, so a version never lacks its author).
    """
    load = partial(load_app, toolkit=toolkit)
    app = load(app_dir)
    files = dict(app_dir) if isinstance(app_dir, Mapping) else read_app_files(app_dir)
    schema = AppSchema(app)
    if dry_run:
        with read_transaction(engine) as connection:
            return MigrationResult(_plan(connection, schema, files, note, load, timezone), None)
    with migration_transaction(engine) as connection:
        plan = _plan(connection, schema, files, note, load, timezone)
        if not any(isinstance(op, RecordVersion) for op in plan.operations):
            return MigrationResult(plan, None)
        apply_operations(connection, plan)
        result = MigrationResult(plan, current_version(connection, app.key))
        if also is not None:
            also(connection, result)
    return result


def rollback(
    engine: Engine,
    app_key: str,
    number: int,
    *,
    toolkit: Toolkit = BUILTIN_TOOLKIT,
    timezone: tzinfo = UTC,
) -> MigrationResult:
    """Migrate back to the stored files of version ``number``, recorded as a new version.

    Like any migration it keeps data: fields the old version lacks stay hidden, fields it
    has find their hidden columns again, and a field renamed since takes its old name back.
    """
    files, note = rollback_source(engine, app_key, number)
    return migrate(engine, files, dry_run=False, note=note, toolkit=toolkit, timezone=timezone)


def rollback_source(engine: Engine, app_key: str, number: int) -> tuple[Mapping[str, str], str]:
    """What a rollback to version ``number`` migrates to: that version's stored files, and
    the note the version it records carries."""
    with read_transaction(engine) as connection:
        version = get_version(connection, app_key, number)
    return version.files, f"rollback to version {number}"


def _plan(
    connection: Connection,
    schema: AppSchema,
    files: Mapping[str, str],
    note: str | None,
    load: Callable[[Any], App],
    timezone: tzinfo,
) -> MigrationPlan:
    """The steps to ``schema``'s app, recording it as a new version last; none when the
    database holds it already and only informational steps remain."""
    app = schema.app
    current = current_version(connection, app.key)
    before = _compile(current, load)
    plan = plan_migration(connection, schema, before, timezone=timezone)
    tables = {key: schema.table(key).name for key in app.forms}
    for fill in plan_fills(app, before.app if before is not None else None, tables):
        plan = plan.then(fill)
    if changed_summaries(connection, app, before.app if before is not None else None):
        plan = plan.then(RebuildSummaries(schema))
    unchanged = current is not None and current.digest == app.digest
    if unchanged and not plan.changes_anything and not plan.refusals:
        return plan
    number = next_version_number(connection, app.key)
    return plan.then(RecordVersion(app.key, number, app.version, app, files, note))


def _compile(version: StoredVersion | None, load: Callable[[Any], App]) -> AppSchema | None:
    """The tables of a stored version, or ``None`` if there is none or it no longer compiles
    (a plugin field type was removed, say): planning then relies on the live database."""
    if version is None:
        return None
    try:
        return AppSchema(load(version.files))
    except DefinitionErrors:
        return None
