"""The operator's commands: ``formflow audit``, ``formflow backup``, ``formflow restore``
and ``formflow duplicates``.

Kept apart from :mod:`formflow.cli` so that module stays about apps and people; each
command is a thin wrapper over :mod:`formflow.audit` or :mod:`formflow.backups`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

import click
from sqlalchemy import Connection

from formflow import accounts, audit
from formflow.audit import AuditQuery
from formflow.backups import check_backup, create_backup, restore_backup
from formflow.cli import opened, reports_errors
from formflow.errors import FormflowError
from formflow.records import RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.summaries import rebuild_all

Rebuild = Callable[[Connection, RecordService], int]


@click.group("audit")
def audit_group() -> None:
    """The audit log: check its chain, take it away as CSV."""


@audit_group.command("verify")
@reports_errors
def audit_verify() -> None:
    """Walk the audit log's hash chain; exit 1 at the first edited, deleted or inserted
    entry. Keep the head hash it prints somewhere else to tell a rebuilt chain later."""
    with opened() as instance, read_transaction(instance.engine) as connection:
        verdict = audit.verify(connection)
    if verdict.broken is not None:
        click.echo(
            f"audit log broken at entry {verdict.broken.entry_id} ({verdict.broken.kind}): {verdict.broken.message}"
        )
        click.echo(f"{verdict.checked} entries before it are intact")
        raise SystemExit(1)
    click.echo(
        f"audit log intact: {verdict.checked} entries, head {verdict.head_id} {verdict.head_hash}"
    )


@audit_group.command("export")
@click.option("--user", "username", help="Only what this user did.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this day (YYYY-MM-DD).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Up to and with this day.")
@click.option("--action", help="An action (sign_in) or a family ending in a dot (record.).")
@click.option("--app", "app_key", help="Only entries about this app.")
@click.option("--form", "form_key", help="Only entries about this form.")
@click.option("--record", "record_id", type=int, help="Only entries about this record id.")
@reports_errors
def audit_export(
    username: str | None,
    since: datetime | None,
    until: datetime | None,
    action: str | None,
    app_key: str | None,
    form_key: str | None,
    record_id: int | None,
) -> None:
    """Write the matching entries, newest first, as CSV to standard output."""
    with opened() as instance, read_transaction(instance.engine) as connection:
        zone = instance.settings.timezone
        user_id = None
        if username:
            found = accounts.find_user(connection, username)
            if found is None:
                raise FormflowError(f"no user '{username}'")
            user_id = found.id
        query = AuditQuery(
            user_id=user_id,
            since=datetime.combine(since.date(), time.min, zone) if since else None,
            until=datetime.combine(until.date() + timedelta(days=1), time.min, zone)
            if until
            else None,
            action=action,
            app_key=app_key,
            form_key=form_key,
            record_id=record_id,
        )
        for line in audit.csv_lines(audit.matching(connection, query)):
            sys.stdout.write(line)


@click.command("backup")
@click.option(
    "--to",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write it (default: FORMFLOW_BACKUP_DIR, else the instance's backups/).",
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Restore it into a temporary place and count its rows.",
)
@reports_errors
def backup(folder: Path | None, check: bool) -> None:
    """Back up the database, the attachments and the instance's settings to a new folder
    with a manifest of checksums; the instance keeps running meanwhile."""
    with opened() as instance:
        made = create_backup(instance, folder)
        click.echo(
            f"backed up to {made.path} ({made.manifest.total_rows} rows, {len(made.manifest.files)} files)"
        )
        if check:
            check_backup(made.path, instance.settings.database_url)
            click.echo("checked: it restores, with every row counted")


@click.command("restore")
@click.argument(
    "backup_path", metavar="BACKUP", type=click.Path(path_type=Path, exists=True, file_okay=False)
)
@click.option(
    "--to",
    "targets",
    multiple=True,
    required=True,
    help="A new instance folder, and/or a database URL (an empty PostgreSQL database).",
)
@reports_errors
def restore(backup_path: Path, targets: tuple[str, ...]) -> None:
    """Restore BACKUP into a new instance folder or an empty database; the running
    instance is left alone. Give --to twice for a PostgreSQL backup: the database URL,
    and the folder for its attachments and settings."""
    restored = restore_backup(backup_path, targets)
    for line in restored:
        click.echo(line)


def _rebuild_group(
    name: str, *, about: str, rebuild_help: str, made: str, rebuild: Rebuild
) -> click.Group:
    """A group whose ``rebuild`` command makes rows kept on write (duplicate keys, dashboard
    summaries) again from the live records of APP_KEY (default: every installed app), one
    transaction per app, and says how many ``made`` it wrote."""
    group = click.Group(name, help=about)

    @group.command("rebuild", help=rebuild_help)
    @click.argument("app_key", required=False)
    @reports_errors
    def rebuild_command(app_key: str | None) -> None:
        with opened() as instance:
            for key in [app_key] if app_key else instance.app_keys:
                service = instance.records(key)
                with write_transaction(instance.engine) as connection:
                    count = rebuild(connection, service)
                click.echo(f"{key}: {count} {made}")

    return group


duplicates_group = _rebuild_group(
    "duplicates",
    about="Duplicate checks (查重): the normalised keys they compare.",
    rebuild_help=(
        "Make the duplicate keys of APP_KEY (default: every installed app) again from its "
        "live records: after adding or changing a check, or for records written before."
    ),
    made="duplicate keys",
    rebuild=lambda connection, service: service.duplicates.rebuild(connection),
)
summaries_group = _rebuild_group(
    "summaries",
    about="Dashboard summaries: the counts and sums kept on write for common widgets.",
    rebuild_help=(
        "Count the summaries of APP_KEY (default: every installed app) again from its live "
        "records: after loading or changing records around the record service (a bulk load, "
        "a database restored by hand). Dashboards in other processes show it within a minute."
    ),
    made="summary rows",
    rebuild=lambda connection, service: rebuild_all(connection, service.schema),
)
