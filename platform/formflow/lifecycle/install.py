"""Installing and changing apps in an instance: init, migrate, roll back, purge.

Each function does the whole job the matching ``formflow`` command names and returns the
lines to show; the commands only print them. Migrations themselves, search indexes and
search text included, are planned and applied by :mod:`formflow.storage.migrations`; this
module adds what an instance needs around them (the first administrator, forgetting
compiled versions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url

from formflow import accounts
from formflow.config import Settings
from formflow.designer.upgrades import record_release
from formflow.lifecycle.instance import Instance, InstanceError
from formflow.storage.database import check_reachable, read_transaction, write_transaction
from formflow.storage.migrations import (
    MigrationResult,
    apply_migration,
    migrate,
    plan_purge,
    rollback_source,
)
from formflow.storage.platform_tables import upgrade_platform_tables, users


@dataclass
class Outcome:
    """What a command did, as lines for a person."""

    lines: list[str] = field(default_factory=list)
    admin_created: bool = False
    refused: bool = False
    """A plan (``--plan``) the migration would refuse: scripts must not go on to apply it."""


def initialise(
    settings: Settings, app_dirs: Iterable[Path], admin_username: str, admin_password: str
) -> Outcome:
    """Create the instance folder and database, install the apps, add the first admin."""
    try:
        settings.instance.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstanceError(
            f"cannot make the instance folder {settings.instance} (FORMFLOW_INSTANCE): "
            f"{exc.strerror}"
        ) from None
    instance = Instance(settings)
    try:
        check_reachable(instance.engine)
        outcome = Outcome()
        upgrade_platform_tables(instance.engine)
        for app_dir in app_dirs:
            outcome.lines += migrate_app(instance, app_dir, dry_run=False).lines
        with write_transaction(instance.engine) as connection:
            if connection.execute(select(func.count()).select_from(users)).scalar_one() == 0:
                accounts.create_user(
                    connection,
                    admin_username,
                    admin_password,
                    display_name="Administrator",
                    is_admin=True,
                    language=settings.language,
                )
                outcome.admin_created = True
        outcome.lines.append(
            f"instance ready in {settings.instance} ({_safe_url(settings.database_url)})"
        )
        return outcome
    finally:
        instance.close()


def migrate_app(
    instance: Instance,
    app_dir: Path | Mapping[str, str],
    *,
    dry_run: bool,
    note: str | None = None,
    name: str | None = None,
) -> Outcome:
    """Plan (and unless ``dry_run``, apply) the migration to the app in ``app_dir``.

    ``name`` is how the app is called in the lines shown (default: the folder's name).
    """
    result = migrate(
        instance.engine,
        app_dir,
        dry_run=dry_run,
        note=note,
        toolkit=instance.plugins.toolkit,
        timezone=instance.settings.timezone,
        also=_release_recorder if isinstance(app_dir, Path) else None,
    )
    if result.applied:
        _after_migration(instance, result)
    shown = name or (app_dir.name if isinstance(app_dir, Path) else "app")
    return Outcome(_describe(shown, result, dry_run), refused=bool(result.plan.refusals))


def rollback_app(instance: Instance, app_key: str, number: int, *, dry_run: bool) -> Outcome:
    """Migrate ``app_key`` to its stored version ``number``, recorded as a new version."""
    files, note = rollback_source(instance.engine, app_key, number)
    return migrate_app(instance, files, dry_run=dry_run, note=note, name=app_key)


def purge_app(instance: Instance, app_key: str, *, dry_run: bool) -> Outcome:
    """Drop the hidden columns and tables of removed fields and forms (the only data loss)."""
    schema = instance.schema(app_key)
    with read_transaction(instance.engine) as connection:
        plan = plan_purge(connection, schema)
    if not dry_run and not plan.is_empty:
        apply_migration(instance.engine, plan)
    return Outcome(plan.explain())


def _release_recorder(connection: Connection, result: MigrationResult) -> None:
    """An app migrated from its folder runs that release: the base its next upgrade is
    merged against (recorded in the migration's transaction)."""
    version = result.version
    assert version is not None
    record_release(connection, version.app_key, version.version_label, version.files)


def _after_migration(instance: Instance, result: MigrationResult) -> None:
    assert result.version is not None
    instance.forget(result.version.app_key)


def _describe(name: str, result: MigrationResult, dry_run: bool) -> list[str]:
    lines = [f"  {line}" for line in result.plan.explain()]
    steps = len(result.plan.operations)
    if dry_run and result.plan.refusals:
        head = (
            f"{name}: {steps} {'step' if steps == 1 else 'steps'} planned, but refused (see below)"
        )
    elif dry_run and result.plan.changes_anything:
        head = f"{name}: {steps} {'step' if steps == 1 else 'steps'} planned"
    elif result.version is None:
        head = f"{name}: up to date"
    else:
        head = (
            f"{name}: migrated to version {result.version.number} ({result.version.version_label})"
        )
    return [head, *lines]


def _safe_url(url: str) -> str:
    """A database URL fit to print: any password hidden."""
    return make_url(url).render_as_string(hide_password=True)
