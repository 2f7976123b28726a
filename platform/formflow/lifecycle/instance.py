"""An opened Formflow instance: its settings, database, plugins and the apps in force.

The apps in force are the *current definition versions stored in the database*, not the
YAML folders: a folder only takes effect through ``formflow migrate``. Each version is
compiled once and kept, with its tables and its record service, for as long as the
instance is open.
"""

from __future__ import annotations

import time
from datetime import UTC
from functools import cached_property

from sqlalchemy import Engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from formflow.actions import ActionServices
from formflow.automations.engine import SUBSCRIBER as AUTOMATIONS
from formflow.automations.engine import Automations, event_rules_check, forms_with_event_rules
from formflow.config import Settings, instance_secret
from formflow.definitions import App, load_app
from formflow.definitions.model import Form
from formflow.errors import FormflowError
from formflow.events import Relay, Subscriber
from formflow.jobs import Jobs, Schedule
from formflow.jobs.plugin_jobs import PluginJobs
from formflow.notifications import Channel, Notifications
from formflow.notifications.email import EmailChannel
from formflow.notifications.follows import FOLLOWS, Followers, followed
from formflow.notifications.workflows import NOTICES, Notices
from formflow.notifications.workflows import wants as wants_notices
from formflow.plugin_settings import PluginSettings
from formflow.plugins import Plugins, load_plugins
from formflow.record_actions.buttons import RecordButtons
from formflow.record_actions.service import FormActions
from formflow.records.after_hooks import AFTER_HOOKS, after_hooks_subscriber, wants_after_hooks
from formflow.records.service import RecordService
from formflow.storage.database import check_reachable, connect, is_sqlite, read_transaction
from formflow.storage.platform_tables import definition_versions, upgrade_platform_tables
from formflow.storage.tables import AppSchema
from formflow.storage.versions import StoredVersion, current_digest, current_version
from formflow.transfer.runs import ImportRuns
from formflow.workflows.service import WorkflowService

VERSION_CHECK_SECONDS = 1.0
TIMEOUTS_JOB = "formflow.workflows.timeouts"


class InstanceError(FormflowError):
    """The instance is not ready for what was asked (not initialised, unknown app...)."""


class Instance:
    def __init__(
        self, settings: Settings, *, engine: Engine | None = None, plugins: Plugins | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine or connect(settings.database_url)
        self.plugins = plugins or load_plugins(
            plugins_dir=settings.plugins_dir, enabled=settings.enabled_plugins
        )
        self._apps: dict[str, tuple[str, AppSchema, RecordService]] = {}
        self._checked: dict[str, float] = {}
        self.version_check_seconds = VERSION_CHECK_SECONDS
        """How long a compiled app is trusted before the database is asked again."""
        self._workflows: dict[str, WorkflowService] = {}
        self._actions: dict[str, FormActions] = {}
        subscribers: dict[str, Subscriber] = (
            {AFTER_HOOKS: after_hooks_subscriber(self.plugins, self._form_of)}
            if wants_after_hooks(self.plugins)
            else {}
        )
        self.automations = Automations(
            self.engine,
            self.records,
            lambda: self.app_keys,
            actions=self.plugins.actions,
            expressions=self.plugins.toolkit.expressions,
            timezone=settings.timezone,
            plugin_settings=lambda plugin: self.plugin_settings.values(plugin),
            webhook_networks=settings.webhook_networks,
        )
        """Runs every app's automations: on events, and on the clock once jobs run it."""
        subscribers[AUTOMATIONS] = self.automations
        self.notifications = Notifications(
            self.engine, self._channels(), language=settings.language
        )
        """What people are told, in the app and on e-mail and the plugins' channels."""
        self.action_services = ActionServices(
            notifications=self.notifications,
            plugin_settings=lambda plugin: self.plugin_settings.values(plugin),
            enqueue_job=lambda name, payload: self.plugin_jobs.enqueue(name, payload),
        )
        """What every action is lent, in automations, workflow steps and record actions."""
        self.automations.services = self.action_services
        subscribers[FOLLOWS] = Followers(
            self.engine, self.notifications, self._form_of, records_of=self._records_of
        )
        subscribers[NOTICES] = Notices(self.notifications)
        for name, subscriber in self.plugins.event_subscribers.items():
            if name in subscribers:
                raise InstanceError(f"a plugin's event subscriber may not be named {name!r}")
            subscribers[name] = subscriber
        self.relay = Relay(self.engine, subscribers)
        """Hands every app's events to the instance's subscribers."""

    @cached_property
    def plugin_settings(self) -> PluginSettings:
        """The settings the plugins declare, as administrators set them in this instance."""
        return PluginSettings(self.engine, instance_secret(self.settings), self.plugins.settings)

    def close(self) -> None:
        self.engine.dispose()

    def ensure_initialised(self) -> None:
        """Raise :class:`InstanceError` unless ``formflow init`` has set this instance up;
        bring its platform tables up to this version of Formflow if it has."""
        if not is_sqlite(self.engine):  # a SQLite file that cannot open is no instance
            check_reachable(self.engine)
        try:
            with self.engine.connect() as connection:
                ready = inspect(connection).has_table(definition_versions.name)
        except OperationalError:
            ready = False
        if not ready:
            raise InstanceError(
                f"no Formflow instance at {self.settings.instance} ({_printable(self.settings.database_url)}); run `formflow init`"
            )
        upgrade_platform_tables(self.engine)

    @cached_property
    def plugin_jobs(self) -> PluginJobs:
        """The plugins' background jobs: run at once until :meth:`attach_jobs` puts them
        on the queue."""
        return PluginJobs(self.engine, self.plugins.jobs, self)

    @cached_property
    def imports(self) -> ImportRuns:
        """Imports run from the pages, kept in the instance folder's ``imports``."""
        return ImportRuns(self.engine, self.settings.instance / "imports", self.records)

    @cached_property
    def app_keys(self) -> tuple[str, ...]:
        """The apps installed in this instance (those with a current version)."""
        with read_transaction(self.engine) as connection:
            keys = connection.execute(
                select(definition_versions.c.app_key)
                .where(definition_versions.c.is_current)
                .order_by(definition_versions.c.app_key)
            ).scalars()
            return tuple(keys)

    def app(self, app_key: str) -> App:
        return self._load(app_key)[1].app

    def schema(self, app_key: str) -> AppSchema:
        return self._load(app_key)[1]

    def records(self, app_key: str) -> RecordService:
        """The record service for ``app_key`` at its current definition version."""
        return self._load(app_key)[2]

    def workflows(self, app_key: str) -> WorkflowService:
        """The workflow engine for ``app_key``, over its current record service."""
        records = self.records(app_key)
        engine = self._workflows.get(app_key)
        if engine is None or engine.records is not records:
            engine = self._with_workflows(app_key, records)
        return engine

    def record_actions(self, app_key: str) -> FormActions:
        """The record actions of ``app_key``'s forms, over its current record service."""
        records = self.records(app_key)
        found = self._actions.get(app_key)
        if found is None or found.records is not records:
            found = FormActions(
                records,
                actions=self.plugins.actions,
                expressions=self.plugins.toolkit.expressions,
                services=self.action_services,
            )
            self._actions[app_key] = found
        return found

    def buttons(self, app_key: str) -> RecordButtons:
        """Every button of ``app_key``'s records: its workflows' and its forms' actions."""
        return RecordButtons(self.workflows(app_key), self.record_actions(app_key))

    def _with_workflows(self, app_key: str, records: RecordService) -> WorkflowService:
        """Start the workflow engine of a newly loaded record service (it locks records
        under approval through it)."""
        engine = WorkflowService(
            records,
            toolkit=self.plugins.toolkit,
            actions=tuple(self.plugins.actions.values()),
            notifications=self.notifications,
            tell_by_events=True,
            services=self.action_services,
        )
        self._workflows[app_key] = engine
        return engine

    def attach_jobs(self, jobs: Jobs) -> None:
        """Put the instance's own jobs on ``jobs``: the automations' clock and webhook
        calls, the notifications' sending, the workflows' step timeouts, scheduled backups,
        large imports, the plugins' jobs and the nightly housekeeping."""
        from formflow.automations.jobs import attach as attach_automations
        from formflow.backups.schedule import attach as attach_backups
        from formflow.jobs.housekeeping import attach as attach_housekeeping
        from formflow.jobs.plugin_jobs import attach as attach_plugin_jobs
        from formflow.notifications.jobs import attach as attach_notifications
        from formflow.transfer.runs import attach as attach_imports

        attach_automations(jobs, self.automations)
        attach_notifications(jobs, self.notifications)
        attach_backups(jobs, self)
        attach_imports(jobs, self.imports)
        attach_plugin_jobs(jobs, self.plugin_jobs)
        attach_housekeeping(jobs, self.engine, self.settings.keep_days, self.settings.timezone)
        jobs.periodic(TIMEOUTS_JOB, Schedule("* * * * *", UTC))(self.sweep_timeouts)

    def sweep_timeouts(self) -> int:
        """Remind, escalate or decide the approval tasks whose step's time is up, in every
        app with workflows (a job every minute); how many were acted on."""
        return sum(
            self.workflows(app_key).sweep_timeouts()
            for app_key in self.app_keys
            if self.app(app_key).workflows
        )

    def _channels(self) -> list[Channel]:
        """E-mail when SMTP is configured, then every channel plugins add."""
        found: list[Channel] = []
        if self.settings.smtp is not None:
            found.append(EmailChannel(self.settings.smtp, self.settings.instance / "templates"))
        return [*found, *self.plugins.notification_channels]

    def deliver_events(self) -> int:
        """Deliver what earlier processes left owed (say, one that died after a commit)."""
        return self.relay.deliver()

    def move_records_of(self, user_id: int, department_id: int | None) -> int:
        """After a user changes department: their records, in every app, go with them."""
        return sum(
            self.records(app_key).move_owner(user_id, department_id) for app_key in self.app_keys
        )

    def forget(self, app_key: str | None = None) -> None:
        """Drop compiled apps so the next use reads the current versions again."""
        if app_key is None:
            self._apps.clear()
            self._checked.clear()
        else:
            self._apps.pop(app_key, None)
            self._checked.pop(app_key, None)
        self.__dict__.pop("app_keys", None)

    def _load(self, app_key: str) -> tuple[str, AppSchema, RecordService]:
        """The compiled app in force, asking the database at most every VERSION_CHECK_SECONDS.

        Several server processes share one database, so a migration made by one must reach
        the others; checking once a second keeps that prompt without a query on every use.
        The check reads the current version's digest alone; its files only when it changed.
        """
        cached = self._apps.get(app_key)
        now = time.monotonic()
        if (
            cached is not None
            and now - self._checked.get(app_key, 0.0) < self.version_check_seconds
        ):
            return cached
        with read_transaction(self.engine) as connection:
            if cached is not None and current_digest(connection, app_key) == cached[0]:
                self._checked[app_key] = now
                return cached
            version = current_version(connection, app_key)
        if version is None:
            raise InstanceError(f"no app '{app_key}' is installed; run `formflow migrate APP_DIR`")
        if cached is None or cached[0] != version.digest:
            schema = AppSchema(self.compile(version))
            service = RecordService(
                self.engine,
                schema,
                hooks=self.plugins,
                timezone=self.settings.timezone,
                relay=self.relay,
                subscriber_forms={AUTOMATIONS: forms_with_event_rules(schema.app)},
                subscriber_checks={
                    FOLLOWS: followed,
                    NOTICES: wants_notices,
                    AUTOMATIONS: event_rules_check(schema.app),
                },
            )
            cached = (version.digest, schema, service)
            self._apps[app_key] = cached
            self._with_workflows(app_key, service)
        self._checked[app_key] = now
        return cached

    def _records_of(self, app_key: str) -> RecordService | None:
        try:
            return self.records(app_key)
        except InstanceError:
            return None

    def _form_of(self, app_key: str, form_key: str) -> Form | None:
        try:
            return self.app(app_key).forms.get(form_key)
        except InstanceError:
            return None

    def compile(self, version: StoredVersion) -> App:
        """Compile a stored definition version with this instance's plugins."""
        return load_app(version.files, toolkit=self.plugins.toolkit)


def _printable(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
