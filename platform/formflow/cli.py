"""The ``formflow`` command. Each subcommand is a thin wrapper over a documented function.

Expected failures (a bad definition, a refused migration, an unknown user) print a clear
message and exit 1; a traceback means a bug.
"""

from __future__ import annotations

import code
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy import Connection

from formflow import __version__, accounts, audit
from formflow.accounts import tokens
from formflow.config import load_settings, warn_unshared_secret
from formflow.definitions import load_app
from formflow.designer import Designer
from formflow.designer.upgrades import report_lines
from formflow.errors import DefinitionErrors, FormflowError
from formflow.lifecycle.demos import DEFAULT_SEED, build_demo, demo_folder, iter_logins
from formflow.lifecycle.install import initialise, migrate_app, purge_app, rollback_app
from formflow.lifecycle.instance import Instance
from formflow.lifecycle.serve import DEFAULT_HOST, DEFAULT_PORT, MAX_DEFAULT_WORKERS, check_port
from formflow.lifecycle.serve import check as check_serving
from formflow.lifecycle.serve import run as run_server
from formflow.lifecycle.serve import url as server_url
from formflow.plugins import describe_plugins, format_plugin_table, load_plugins
from formflow.scaffold import new_plugin
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.versions import list_versions, read_app_files

if TYPE_CHECKING:
    from formflow.records import Actor, RecordService

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn Formflow's own errors into a message and exit status 1."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DefinitionErrors as exc:
            for error in exc:
                click.echo(str(error))
            raise SystemExit(1) from None
        except FormflowError as exc:
            click.echo(f"Error: {exc}", err=True)
            raise SystemExit(1) from None

    return run  # type: ignore[return-value]


@contextmanager
def opened() -> Iterator[Instance]:
    instance = Instance(load_settings())
    try:
        instance.ensure_initialised()
        yield instance
    finally:
        instance.close()


class FormflowGroup(click.Group):
    """The ``formflow`` group: its own commands, then those of the instance's plugins."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        own = super().list_commands(ctx)
        return own + sorted(c.name or "" for c in _plugin_commands() if c.name not in own)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        own = super().get_command(ctx, cmd_name)
        if own is not None:
            return own
        return next((c for c in _plugin_commands() if c.name == cmd_name), None)


def _plugin_commands() -> list[click.Command]:
    """The commands of the plugins the ``FORMFLOW_*`` settings load; none if they fail to
    load (the error shows on any command that opens the instance)."""
    try:
        settings = load_settings()
        plugins = load_plugins(plugins_dir=settings.plugins_dir, enabled=settings.enabled_plugins)
    except FormflowError:
        return []
    return plugins.commands


@click.group(cls=FormflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="formflow")
@click.pass_context
def main(context: click.Context) -> None:
    """Formflow: forms, workflows and dashboards from YAML app definitions.

    Settings come from FORMFLOW_* environment variables (FORMFLOW_INSTANCE,
    FORMFLOW_DATABASE_URL, FORMFLOW_APPS, FORMFLOW_PLUGINS_DIR, ...).
    """
    context.with_resource(audit.acting(channel="cli"))


@main.command()
@click.argument("app_dir", type=click.Path(path_type=Path))
@reports_errors
def validate(app_dir: Path) -> None:
    """Check the app definition in APP_DIR and report every problem.

    Each problem is printed as FILE:LINE:COL: message and the exit status is 1. A valid
    app prints a one-line summary and exits 0.
    """
    started = time.perf_counter()
    settings = load_settings()
    plugins = load_plugins(plugins_dir=settings.plugins_dir, enabled=settings.enabled_plugins)
    try:
        app = load_app(app_dir, toolkit=plugins.toolkit)
    except DefinitionErrors as exc:
        for error in exc:
            click.echo(str(error))
        noun = "problem" if len(exc) == 1 else "problems"
        click.echo(f"{app_dir}: {len(exc)} {noun} found", err=True)
        sys.exit(1)
    elapsed = (time.perf_counter() - started) * 1000
    click.echo(f"{app_dir}: valid: {app.summary()} ({elapsed:.0f} ms)")


@main.command()
@click.argument("app_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--admin",
    "admin_username",
    default="admin",
    show_default=True,
    help="Username of the first administrator.",
)
@click.option(
    "--password", "admin_password", help="Their password (default: a random one, printed once)."
)
@reports_errors
def init(app_dirs: tuple[Path, ...], admin_username: str, admin_password: str | None) -> None:
    """Create the instance: database, first administrator, and the apps in APP_DIRS.

    Without APP_DIRS, the apps in FORMFLOW_APPS (default: every app folder in ./apps, else
    the apps that come with Formflow).
    Running it again is safe: it migrates the apps and leaves existing users alone.
    """
    settings = load_settings()
    password = admin_password or secrets.token_urlsafe(12)
    result = initialise(settings, app_dirs or settings.apps, admin_username, password)
    for line in result.lines:
        click.echo(line)
    if result.admin_created:
        shown = password if admin_password is None else "(the password you gave)"
        click.echo(f"administrator: {admin_username} / {shown}")


@main.command()
@click.argument("app_dir", required=False, type=click.Path(path_type=Path))
@click.option(
    "--plan", "dry_run", is_flag=True, help="Only print every step it would take; change nothing."
)
@click.option(
    "--to-version", type=int, help="Go back (or forward) to a stored version of APP_KEY instead."
)
@click.option("--app", "app_key", help="The app --to-version applies to.")
@reports_errors
def migrate(
    app_dir: Path | None, dry_run: bool, to_version: int | None, app_key: str | None
) -> None:
    """Bring the database in line with an app folder (default: FORMFLOW_APPS).

    Prints every step (schema, values, search indexes and search text, the version
    recorded), numbered, with the tables it touches; --plan stops there. The steps run in
    one transaction: a change existing data cannot survive is refused with the rows in the
    way, a step that fails is named, and either way nothing is changed. A plan that would be
    refused exits with status 1, as the migration itself would.
    """
    with opened() as instance:
        if to_version is not None:
            if not app_key:
                raise click.UsageError("--to-version needs --app APP_KEY")
            results = [rollback_app(instance, app_key, to_version, dry_run=dry_run)]
        else:
            folders = [app_dir] if app_dir else list(instance.settings.apps)
            results = [migrate_app(instance, folder, dry_run=dry_run) for folder in folders]
    for result in results:
        for line in result.lines:
            click.echo(line)
    if any(result.refused for result in results):
        raise SystemExit(1)


@main.command()
@click.argument("app_key")
@click.option(
    "--from",
    "folder",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The new release's app folder.",
)
@click.option(
    "--plan", "dry_run", is_flag=True, help="Only print the merge's report; change nothing."
)
@reports_errors
def upgrade(app_key: str, folder: Path, dry_run: bool) -> None:
    """Merge a new release of APP_KEY (the folder --from) into the admin's customised app.

    A keyed three-way merge of the release the app was installed from, the app in force and
    the new release: what merges by itself, then every conflict, orphan and decision. The
    merge becomes the app's designer draft; the live app is untouched until the issues are
    resolved under Administration, Designer, Upgrade, and the draft is published.
    """
    files = read_app_files(folder)
    with opened() as instance:
        designer = Designer(instance)
        if dry_run:
            result = designer.plan_upgrade(app_key, files)
            merged, issues = result.merged, result.issues
        else:
            started = designer.upgrade(app_key, files, None)
            merged, issues = started.merged, started.issues
    for line in report_lines(merged, issues):
        click.echo(line)
    if not dry_run:
        click.echo(
            f"the merge is {app_key}'s draft: resolve it at /admin/designer/{app_key}/upgrade "
            "and publish it; the live app is unchanged"
        )


@main.command()
@click.argument("app_key", required=False)
@reports_errors
def versions(app_key: str | None) -> None:
    """List the stored definition versions of APP_KEY (default: every installed app), each
    with when it was recorded on the instance's clock."""
    with opened() as instance, read_transaction(instance.engine) as connection:
        zone = instance.settings.timezone
        for key in [app_key] if app_key else instance.app_keys:
            for version in list_versions(connection, key):
                current = "*" if version.is_current else " "
                note = f"  {version.note}" if version.note else ""
                when = version.created_at.astimezone(zone)
                click.echo(
                    f"{current} {key} #{version.number}  {version.version_label:<10} "
                    f"{when:%Y-%m-%d %H:%M}  {version.digest[:12]}{note}"
                )


@main.command()
@click.argument("app_key")
@click.option("--yes", is_flag=True, help="Drop without asking.")
@reports_errors
def purge(app_key: str, yes: bool) -> None:
    """Delete the data of fields and forms removed from APP_KEY (kept hidden until now)."""
    with opened() as instance:
        plan = purge_app(instance, app_key, dry_run=True)
        if not plan.lines:
            click.echo("nothing to purge")
            return
        for line in plan.lines:
            click.echo(line)
        if not yes and not click.confirm("Delete this data for good?"):
            raise SystemExit(1)
        purge_app(instance, app_key, dry_run=False)
        click.echo("purged")


@main.command()
@reports_errors
def plugins() -> None:
    """List the installed plugins, their versions and the hooks each implements.

    Installed plugins that FORMFLOW_PLUGINS does not enable are listed as disabled."""
    settings = load_settings()
    loaded = load_plugins(plugins_dir=settings.plugins_dir, enabled=settings.enabled_plugins)
    click.echo(format_plugin_table(describe_plugins(loaded)))


@main.group()
def plugin() -> None:
    """Write plugins: `formflow plugin new NAME`."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Folder to create the package in (default: the current folder).",
)
@reports_errors
def plugin_new(name: str, parent: Path) -> None:
    """Create formflow-NAME: a plugin package whose tests pass as it is."""
    folder = new_plugin(name, parent)
    click.echo(f"created {folder}; next: pip install -e {folder} && pytest {folder}")


@main.command()
@reports_errors
def shell() -> None:
    """A Python shell with the instance open: `instance`, `records(app_key)`, `Actor`."""
    from formflow.records import Actor

    with opened() as instance:
        names = {
            "instance": instance,
            "records": instance.records,
            "Actor": Actor,
            "system": Actor.system(),
        }
        code.interact(banner=f"Formflow {__version__}: {', '.join(names)}", local=names)


@main.group()
def user() -> None:
    """Manage users from the command line."""


def _roles_option(help_text: str) -> Callable[[F], F]:
    """``--role APP:ROLE``, repeatable: one option, so that `user create` and `user set`
    take roles alike (read by :func:`_roles_by_app`); ``help_text`` says what the roles
    given do to those held."""
    return click.option("--role", "roles", multiple=True, metavar="APP:ROLE", help=help_text)


@user.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", help="Name shown in the app.")
@click.option("--admin", "is_admin", is_flag=True, help="Make them an administrator.")
@_roles_option("A role to hold, as APP:ROLE (e.g. shop:staff).")
@reports_errors
def user_create(
    username: str, password: str, display_name: str | None, is_admin: bool, roles: tuple[str, ...]
) -> None:
    """Add a user."""
    by_app = _roles_by_app(roles)
    with opened() as instance:
        _check_roles(instance, by_app)
        with write_transaction(instance.engine) as connection:
            accounts.create_user(
                connection,
                username,
                password,
                display_name=display_name,
                is_admin=is_admin,
                roles=by_app,
                language=instance.settings.language,
                policy=accounts.PasswordPolicy.of(instance.settings),
            )
    click.echo(f"created user {username}")


@user.command("set")
@click.argument("username")
@click.option("--name", "display_name", help="Name shown in the app.")
@click.option("--department", help="Their department, by name or full name (e.g. 'Sales/East').")
@click.option("--no-department", is_flag=True, help="Take them out of any department.")
@_roles_option("A role to hold, as APP:ROLE; replaces their roles in that app. Repeat for more.")
@click.option("--no-roles", "cleared", multiple=True, metavar="APP", help="Drop every role in APP.")
@click.option("--active/--inactive", default=None, help="Allow or stop their signing in.")
@click.option(
    "--admin/--no-admin", "is_admin", default=None, help="Make or unmake an administrator."
)
@reports_errors
def user_set(
    username: str,
    display_name: str | None,
    department: str | None,
    no_department: bool,
    roles: tuple[str, ...],
    cleared: tuple[str, ...],
    active: bool | None,
    is_admin: bool | None,
) -> None:
    """Change a user as the admin pages do: name, department, roles, active, administrator.

    Only what is given changes. Their records follow them to a new department.
    """
    if department and no_department:
        raise click.UsageError("give --department or --no-department, not both")
    by_app = _roles_by_app(roles)
    by_app.update({app_key: [] for app_key in cleared})
    with opened() as instance:
        _check_roles(instance, by_app)
        with write_transaction(instance.engine) as connection:
            found = _existing_user(connection, username)
            department_id = found.department_id
            if department:
                department_id = accounts.find_department(connection, department).id
            elif no_department:
                department_id = None
            accounts.update_user(
                connection,
                found.id,
                display_name=found.display_name if display_name is None else display_name,
                department_id=department_id,
                is_active=found.is_active if active is None else active,
                is_admin=found.is_admin if is_admin is None else is_admin,
            )
            for app_key, role_keys in by_app.items():
                accounts.set_roles(connection, found.id, app_key, role_keys)
        if department_id != found.department_id:
            instance.move_records_of(found.id, department_id)
    click.echo(f"updated user {username}")


@user.command("list")
@reports_errors
def user_list() -> None:
    """List the users with their department, roles and state."""
    with opened() as instance, read_transaction(instance.engine) as connection:
        everyone = accounts.list_users(connection)
        paths = accounts.department_paths(accounts.list_departments(connection))
        held = accounts.roles_by_user(connection)
    for found in everyone:
        roles = " ".join(
            f"{app_key}:{role}"
            for app_key, keys in sorted(held.get(found.id, {}).items())
            for role in sorted(keys)
        )
        marks = ("admin " if found.is_admin else "") + ("" if found.is_active else "inactive")
        place = paths.get(found.department_id or 0, "-")
        click.echo(f"{found.username:<16} {place:<20} {roles or '-':<30} {marks}".rstrip())


def _roles_by_app(roles: tuple[str, ...]) -> dict[str, list[str]]:
    by_app: dict[str, list[str]] = {}
    for item in roles:
        app_key, _, role = item.partition(":")
        if not role:
            raise click.BadParameter(f"{item!r}: write roles as APP:ROLE", param_hint="--role")
        by_app.setdefault(app_key, []).append(role)
    return by_app


def _check_roles(instance: Instance, by_app: dict[str, list[str]]) -> None:
    for app_key, role_keys in by_app.items():
        declared = instance.app(app_key).role_keys
        for role in role_keys:
            if role not in declared:
                raise accounts.AccountError(
                    f"app {app_key} has no role '{role}' (it has: {', '.join(declared)})"
                )


def _existing_user(connection: Connection, username: str) -> accounts.User:
    found = accounts.find_user(connection, username)
    if found is None:
        raise accounts.AccountError(f"no user '{username}'")
    return found


@user.command("passwd")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@reports_errors
def user_passwd(username: str, password: str) -> None:
    """Set a user's password."""
    with opened() as instance, write_transaction(instance.engine) as connection:
        policy = accounts.PasswordPolicy.of(instance.settings)
        accounts.set_password(connection, username, password, policy=policy)
    click.echo(f"password changed for {username}")


@main.group()
def token() -> None:
    """Make, list and revoke API tokens (as each user's token page does)."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="command line", show_default=True, help="What the token is for.")
@click.option(
    "--expires",
    "days",
    type=click.IntRange(min=1),
    help="Days until it stops working (default: never).",
)
@click.option("--read-only", is_flag=True, help="The token may read but not change anything.")
@click.option(
    "--form",
    "forms",
    multiple=True,
    metavar="APP/FORM",
    help="Limit the token to this form (repeat for several; default: every form).",
)
@reports_errors
def token_create(
    username: str, name: str, days: int | None, read_only: bool, forms: tuple[str, ...]
) -> None:
    """Make an API token for USERNAME and print it, once, alone on standard output.

    The database keeps only its hash: copy it now (e.g. TOKEN=$(formflow token create NAME)).
    """
    lifetime = None if days is None else timedelta(days=days)
    scope = tokens.TokenScope(read_only, frozenset(forms) if forms else None)
    with opened() as instance, write_transaction(instance.engine) as connection:
        owner = _existing_user(connection, username)
        if not owner.is_active:
            raise accounts.AccountError(f"user '{username}' is inactive; a token would not work")
        token_id, plaintext = tokens.create_token(
            connection, owner.id, name, expires_in=lifetime, scope=scope
        )
    click.echo(f"token {token_id} for {username}; it is shown only now:", err=True)
    click.echo(plaintext)


@token.command("list")
@click.argument("username", required=False)
@reports_errors
def token_list(username: str | None) -> None:
    """List the API tokens of USERNAME (default: everyone's), newest first; never the secrets."""
    with opened() as instance, read_transaction(instance.engine) as connection:
        owner = _existing_user(connection, username) if username else None
        names = {found.id: found.username for found in accounts.list_users(connection)}
        found_tokens = tokens.list_tokens(connection, owner.id if owner else None)
    now = datetime.now(UTC)
    for item in found_tokens:
        used = f"{item.last_used_at:%Y-%m-%d %H:%M}" if item.last_used_at else "never used"
        if item.expires_at is None:
            ends = "no expiry"
        else:
            ends = (
                "expired " if item.expired(now) else "expires "
            ) + f"{item.expires_at:%Y-%m-%d %H:%M}"
        click.echo(
            f"{item.id:>5}  {names.get(item.user_id, '?'):<16} {item.name:<24} "
            f"made {item.created_at:%Y-%m-%d %H:%M}  {used:<16}  {ends}  {item.scope.describe()}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
@reports_errors
def token_revoke(token_id: int) -> None:
    """Revoke the API token TOKEN_ID (see `formflow token list`), whoever owns it."""
    with opened() as instance, write_transaction(instance.engine) as connection:
        if not tokens.revoke_token(connection, None, token_id):
            raise tokens.TokenError(f"no token {token_id}; `formflow token list` shows them")
    click.echo(f"revoked token {token_id}")


@main.command()
@click.argument(
    "app_dir",
    required=False,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Same seed, same data."
)
@click.option(
    "--url",
    default=server_url(DEFAULT_HOST, DEFAULT_PORT),
    show_default=True,
    help="Where the server will answer, for the sign-in hint.",
)
@reports_errors
def demo(app_dir: Path | None, seed: int, url: str) -> None:
    """Fill a new instance with the demo data an app ships (its demo/ package).

    APP_DIR defaults to the first app with a demo in FORMFLOW_APPS (default: ./apps, else
    the apps that come with Formflow). The demo installs
    its app if needed and enters its records through the record service, as their owners
    would. Running it again only prints how to sign in.
    """
    settings = load_settings()
    summary = build_demo(settings, app_dir or demo_folder(settings.apps), seed=seed)
    if summary.created:
        made = ", ".join(f"{count} {form}" for form, count in summary.counts.items())
        click.echo(f"demo data created in {summary.seconds:.1f} s: {made}")
    else:
        click.echo("this instance already has the demo data; nothing was added")
    click.echo(f"\nSign in at {url} (start the server with `formflow serve`):")
    for role, name, username, password in iter_logins(summary):
        click.echo(f"  {username:<11} {password:<10} {name} · {role}")


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help=f"Worker processes (default: 2 per CPU + 1, at most {MAX_DEFAULT_WORKERS}).",
)
@reports_errors
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the web app with gunicorn, the production server.

    Listens on 127.0.0.1 unless told otherwise; put a reverse proxy with TLS in front of it
    to reach other machines. Ctrl+C (or SIGTERM) stops it.
    """
    settings = load_settings()
    check_serving(settings)
    warn_unshared_secret(settings)
    check_port(host, port)
    click.echo(f"Formflow is at {server_url(host, port)} (Ctrl+C stops it)")
    run_server(settings, host=host, port=port, workers=workers)


@main.command()
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Jobs run at once in this process.",
)
@reports_errors
def worker(threads: int) -> None:
    """Run background jobs until stopped (Ctrl+C or SIGTERM finishes the jobs running).

    `formflow serve` runs them itself; start workers when the queue is on Redis
    (FORMFLOW_REDIS_URL) and the server should only serve (FORMFLOW_SERVER_JOBS=0), or to
    add hands. Any number may run, on any machine that reaches the database and Redis.
    """
    from formflow.jobs import Jobs, check_queue

    with opened() as instance:
        check_queue(instance.settings)
        warn_unshared_secret(instance.settings)
        for app_key in instance.app_keys:
            instance.records(app_key)
        jobs = Jobs.open(instance.settings, instance.relay)
        instance.attach_jobs(jobs)
        queue = "Redis" if instance.settings.redis_url else "the instance's SQLite queue"
        click.echo(f"running jobs from {queue} with {threads} threads (Ctrl+C stops)")
        jobs.consumer(threads).run()


_given_up_limit = click.option("--limit", default=200, show_default=True, type=click.IntRange(1))
"""How many of the newest to list: one option, so the lists of work given up after its
last retry (dead letters, failed plugin jobs) offer the same choice."""


@main.group()
def jobs() -> None:
    """Background jobs: the deliveries and plugin jobs given up after their last retry."""


@jobs.command("dead")
@_given_up_limit
@reports_errors
def jobs_dead(limit: int) -> None:
    """List the dead letters, newest first: what failed, on which record, and why."""
    from formflow.jobs.dead_letters import list_dead_letters

    with opened() as instance, read_transaction(instance.engine) as connection:
        letters = list_dead_letters(connection, limit=limit)
    _listed(
        "no dead letters",
        (
            _given_up(
                letter.id,
                letter.failed_at,
                letter.subscriber,
                letter.attempts,
                letter.error,
                f"{letter.app_key}/{letter.form_key}/{letter.record_id} {letter.kind:<8} ",
            )
            for letter in letters
        ),
    )


@jobs.command("retry")
@click.argument("letter_ids", type=int, nargs=-1, required=True)
@reports_errors
def jobs_retry(letter_ids: tuple[int, ...]) -> None:
    """Put the dead letters LETTER_IDS (see `formflow jobs dead`) back on the queue."""
    from formflow.jobs import Jobs, check_queue
    from formflow.jobs.dead_letters import retry_dead_letter

    with opened() as instance:
        check_queue(instance.settings)
        with write_transaction(instance.engine) as connection:
            for letter_id in letter_ids:
                retry_dead_letter(connection, letter_id)
        Jobs.open(instance.settings, instance.relay).enqueue()
    click.echo(f"queued {len(letter_ids)} dead letter(s) again")


@jobs.command("failed")
@_given_up_limit
@reports_errors
def jobs_failed(limit: int) -> None:
    """List the plugins' jobs given up after their last retry, newest first."""
    with opened() as instance, read_transaction(instance.engine) as connection:
        found = instance.plugin_jobs.failed(connection, limit=limit)
    _listed(
        "no failed plugin jobs",
        (
            _given_up(job.id, job.finished_at or job.created_at, job.name, job.attempts, job.error)
            for job in found
        ),
    )


@jobs.command("rerun")
@click.argument("job_ids", type=int, nargs=-1, required=True)
@reports_errors
def jobs_rerun(job_ids: tuple[int, ...]) -> None:
    """Queue the failed plugin jobs JOB_IDS (see `formflow jobs failed`) again."""
    from formflow.jobs import Jobs, check_queue
    from formflow.jobs.plugin_jobs import attach

    with opened() as instance:
        check_queue(instance.settings)
        attach(Jobs.open(instance.settings, instance.relay), instance.plugin_jobs)
        for job_id in job_ids:
            instance.plugin_jobs.rerun(job_id)
    click.echo(f"queued {len(job_ids)} plugin job(s) again")


@main.command()
@click.option(
    "--days",
    type=click.IntRange(1),
    help="Keep this many days (default: FORMFLOW_KEEP_DAYS, 90).",
)
@reports_errors
def housekeeping(days: int | None) -> None:
    """Delete operational logs older than the kept days that nothing still needs (delivered
    events, automation runs, finished jobs, read notifications); never the audit log. The
    server and `formflow worker` do this every night."""
    from formflow.jobs.housekeeping import tidy

    with opened() as instance:
        keep = days or instance.settings.keep_days
        if keep < 1:
            raise click.UsageError("FORMFLOW_KEEP_DAYS is 0 (keep everything): pass --days")
        removed = tidy(instance.engine, keep)
    for name, count in removed.items():
        click.echo(f"{name}: {count} deleted")


@main.group()
def automations() -> None:
    """Automations: what each rule did, and why a run failed."""


@automations.command("log")
@click.argument("app_key")
@click.option("--rule", "automation_key", help="Only the runs of this automation (its key).")
@click.option("--record", help="Only the runs on one record, as FORM/ID (order/42).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@reports_errors
def automations_log(
    app_key: str, automation_key: str | None, record: str | None, limit: int
) -> None:
    """List the runs of APP_KEY's automations, newest first: when (on the instance's clock,
    like the pages), which rule, what set it off, on which record, how it ended, what it
    changed and how long it took."""
    from formflow.automations.log import list_runs

    form_key, record_id = _record_ref(record)
    with opened() as instance, read_transaction(instance.engine) as connection:
        zone = instance.settings.timezone
        runs = list_runs(
            connection,
            app_key,
            automation_key=automation_key,
            form_key=form_key,
            record_id=record_id,
            limit=limit,
        )
    if not runs:
        click.echo("no runs")
    for run in runs:
        target = f"{run.form_key}/{run.record_id}" if run.record_id is not None else run.form_key
        changed = ", ".join(_change_text(change) for change in run.changes) or "-"
        click.echo(
            f"{run.id:>6}  {run.started_at.astimezone(zone):%Y-%m-%d %H:%M:%S}  "
            f"{run.automation_key:<24} "
            f"{run.trigger:<28} {target:<20} {run.status:<8} {run.duration_ms:>5} ms  {changed}"
        )
        if run.error:
            click.echo(f"        {run.error}")


@automations.command("preview")
@click.argument("app_key")
@click.argument("rule")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="The day (default: today).")
@reports_errors
def automations_preview(app_key: str, rule: str, day: datetime | None) -> None:
    """List the records date rule RULE of APP_KEY would run on at its time on --day (those
    its condition holds for now), changing nothing."""
    with opened() as instance:
        when = day.date() if day else datetime.now(instance.settings.timezone).date()
        found = instance.automations.preview(app_key, rule, when)
        form = instance.app(app_key).automations[rule].form
        title = instance.app(app_key).form(form).title_field
    _listed("no records", (f"{form}/{record['id']}  {record.get(title) or ''}" for record in found))


def _listed(nothing: str, lines: Iterable[str]) -> None:
    """Print a listing's lines, or ``nothing`` when it has none, so an empty answer is
    told rather than silent."""
    shown = False
    for line in lines:
        click.echo(line)
        shown = True
    if not shown:
        click.echo(nothing)


def _given_up(
    number: int, at: datetime, name: str, attempts: int, error: str, about: str = ""
) -> str:
    """One line of a list of work given up after its last retry, dead letters and plugin
    jobs alike: its id, when, whose it was, ``about`` what, and the first line of why."""
    return (
        f"{number:>5}  {at:%Y-%m-%d %H:%M}  {name:<24} {about}"
        f"after {attempts} attempts: {_first_line(error)}"
    )


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _record_ref(record: str | None) -> tuple[str | None, int | None]:
    if record is None:
        return None, None
    form_key, _slash, number = record.partition("/")
    if not (number.isascii() and number.isdigit()):
        raise click.BadParameter("give FORM/ID, such as order/42", param_hint="--record")
    return form_key, int(number)


def _change_text(change: Any) -> str:
    if "changed" in change:
        return " ".join(f"{c['form']}/{c['id']}:{','.join(c['fields'])}" for c in change["changed"])
    if "fields" in change:
        return f"{change['form']}/{change['id']}:{','.join(change['fields'])}"
    if "webhook" in change:
        return f"webhook {change['webhook']}"
    if "id" in change:
        return f"created {change['form']}/{change['id']}"
    return str(change.get("action", "?"))


def _operations() -> None:
    """The operator's commands live in their own module (audit, backup, restore,
    duplicates, summaries)."""
    from formflow import cli_operations

    main.add_command(cli_operations.audit_group)
    main.add_command(cli_operations.backup)
    main.add_command(cli_operations.restore)
    main.add_command(cli_operations.duplicates_group)
    main.add_command(cli_operations.summaries_group)


_operations()
# import and export ------------------------------------------------------------------


_language = click.option(
    "--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True
)
"""The language fields and options are named in: an export's headers and cells, an import's
error report. One option, so that the two commands offer the same choice."""


@contextmanager
def _form_opened(target: str, username: str | None) -> Iterator[tuple[RecordService, str, Actor]]:
    """The instance, opened for an export or import of ``target`` (APP/FORM) and closed after
    it, as the record service, form key and actor the command works with: as ``username``
    when given (what they may read, what they may write), else as the system."""
    from formflow.records import Actor

    with opened() as instance:
        app_key, _, form_key = target.partition("/")
        if app_key not in instance.app_keys or form_key not in instance.app(app_key).forms:
            raise click.BadParameter(f"no form {target!r}; give APP/FORM", param_hint="APP/FORM")
        actor = Actor.system()
        if username is not None:
            with read_transaction(instance.engine) as connection:
                user = _existing_user(connection, username)
                actor = accounts.actor_for(connection, user, app_key)
        yield instance.records(app_key), form_key, actor


@main.command("export")
@click.argument("target", metavar="APP/FORM")
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx"]), default="csv")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="File (default: stdout).")
@click.option("--filter", "filter_text", help="A filter in the API's JSON filter language.")
@click.option("--search", help="Text to search for, as the list's search box.")
@click.option("--sort", help="Fields to sort by, e.g. '-updated_at,name'.")
@_language
@click.option("--as", "username", help="Export what this user may read (default: everything).")
@reports_errors
def export_command(
    target: str,
    file_format: str,
    output: Path | None,
    filter_text: str | None,
    search: str | None,
    sort: str | None,
    language: str,
    username: str | None,
) -> None:
    """Export a form's records, filtered and sorted as a list, to CSV or XLSX."""
    import json

    from formflow.definitions.model import SortKey
    from formflow.transfer import exporting

    with _form_opened(target, username) as (service, form_key, actor):
        keys = tuple(
            SortKey(part.lstrip("-"), descending=part.startswith("-"))
            for part in (sort or "").split(",")
            if part.strip()
        )
        request = exporting.ListRequest(
            filter=json.loads(filter_text) if filter_text else None,
            search=search,
            sort=keys or None,
        )
        table = exporting.export_table(service, actor, form_key, request, language=language)
        if file_format == "xlsx":
            if output is None:
                raise click.BadParameter("XLSX needs --output", param_hint="--output")
            exporting.write_xlsx(table, str(output), service)
        elif output is None:
            exporting.write_csv(table, sys.stdout.buffer)
        else:
            with output.open("wb") as target_file:
                exporting.write_csv(table, target_file)


@main.command("import")
@click.argument("target", metavar="APP/FORM")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="HEADER=FIELD",
    help="Map a column to a field (path 'lines.qty' for a subtable); else suggested.",
)
@click.option(
    "--duplicates",
    type=click.Choice(["create", "skip", "update"]),
    default="create",
    show_default=True,
    help="What to do with a row matching a record.",
)
@click.option("--match", "match_on", multiple=True, help="Fields that make a duplicate.")
@click.option("--all-or-nothing", is_flag=True, help="Store nothing if any row fails.")
@click.option("--report", type=click.Path(path_type=Path), help="Write the errors as XLSX.")
@_language
@click.option("--as", "username", help="Import as this user (default: the system).")
@reports_errors
def import_command(
    target: str,
    file: Path,
    pairs: tuple[str, ...],
    duplicates: str,
    match_on: tuple[str, ...],
    all_or_nothing: bool,
    report: Path | None,
    language: str,
    username: str | None,
) -> None:
    """Import a CSV or XLSX file into a form; exits 1 if any row failed."""
    from formflow.transfer import mapping
    from formflow.transfer.importing import Duplicates, Importer, ImportOptions, Mode
    from formflow.transfer.reading import open_sheet
    from formflow.transfer.report import write_report

    with _form_opened(target, username) as (service, form_key, actor):
        form = service.app.form(form_key)
        with open_sheet(file) as sheet:
            chosen = mapping.suggest(form, sheet.headers)
            for pair in pairs:
                header, _, path = pair.partition("=")
                if header not in sheet.headers:
                    raise click.BadParameter(f"no column {header!r}", param_hint="--map")
                if path not in {found for found, _field, _sub in mapping.importable(form)}:
                    raise click.BadParameter(
                        f"no field {path!r} to import into", param_hint="--map"
                    )
                column = sheet.headers.index(header)
                chosen = {k: v for k, v in chosen.items() if v != path and k != column}
                chosen[column] = path
            chosen = mapping.checked(form, chosen, len(sheet.headers))
            for column, path in sorted(chosen.items()):
                click.echo(f"{sheet.headers[column]} -> {path}", err=True)
            options = ImportOptions(
                chosen,
                duplicates=Duplicates(duplicates),
                match_on=match_on,
                mode=Mode.ALL_OR_NOTHING if all_or_nothing else Mode.ROW_BY_ROW,
            )
            importer = Importer(service, actor, form_key, sheet.headers, options, language=language)
            started = time.perf_counter()
            outcome = importer.run(sheet.rows)
        seconds = time.perf_counter() - started
        click.echo(
            f"{outcome.processed} rows in {seconds:.1f} s: {outcome.created} created, "
            f"{outcome.updated} updated, {outcome.skipped} skipped, {outcome.failed} failed"
            + (" (nothing stored: all or nothing)" if outcome.rolled_back else "")
        )
        for error in outcome.errors[:20]:
            click.echo(f"  row {error.row}, {error.column or '-'}: {error.problem}", err=True)
        if report is not None and outcome.errors:
            write_report(outcome.errors, str(report))
            click.echo(f"errors written to {report}", err=True)
        if outcome.failed:
            raise SystemExit(1)
