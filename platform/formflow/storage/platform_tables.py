"""The platform's own tables: users, sessions, departments, roles, definition versions, audit,
counters.

They live beside the app tables under the ``ff_`` prefix, which no app table can take (app
tables are named after their app key, and app keys are checked not to start with ``ff_``).
"""

from __future__ import annotations

from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.sql.schema import SchemaItem

PLATFORM_PREFIX = "ff_"

Id = BigInteger().with_variant(Integer(), "sqlite")
"""Primary keys: 64-bit on PostgreSQL, SQLite's rowid alias there."""

platform_metadata = MetaData()


def _keyed_table(name: str, *items: SchemaItem) -> Table:
    """A platform table whose rows are known by a surrogate ``id``."""
    return _table(name, _id(), *items)


def _table(name: str, *items: SchemaItem) -> Table:
    """A platform table whose rows are known by their own key columns."""
    return Table(name, platform_metadata, *items)


def _id() -> Column[Any]:
    """The surrogate key most platform tables start with."""
    return Column("id", Id, primary_key=True)


def _key(name: str, *, required: bool = True, **options: Any) -> Column[Any]:
    """A definition's key (an app's, form's, rule's, node's...): 63 characters at most, as
    definitions allow them; required unless ``required`` is false."""
    return Column(name, String(63), nullable=not required, **options)


def _at(name: str, *, nullable: bool = False) -> Column[Any]:
    """A timezone-aware moment; required unless ``nullable``."""
    return Column(name, DateTime(timezone=True), nullable=nullable)


def _user_ref(name: str = "user_id") -> Column[Any]:
    """A user who acted; kept as NULL when that user is deleted."""
    return Column(name, Id, ForeignKey("ff_users.id", ondelete="SET NULL"))


def _owner(*, primary_key: bool = False, index: bool = True) -> Column[Any]:
    """The user a row belongs to; the row goes when the user does. It has an index of its
    own unless it is part of the table's key or ``index`` is false (where a composite index
    that starts with it serves)."""
    return _part_of(
        "user_id", "ff_users.id", primary_key=primary_key, index=index and not primary_key
    )


def _part_of(name: str, target: str, **options: Any) -> Column[Any]:
    """The row (``target``, as ``table.id``) this one belongs to: required, and this row
    goes when that one does."""
    return Column(name, Id, ForeignKey(target, ondelete="CASCADE"), nullable=False, **options)


def _record_and_user() -> tuple[Column[Any], ...]:
    """The key of a table with a row per record and user (a follower, a cool-down); the
    row goes when the user does."""
    return (
        _key("app_key", primary_key=True),
        _key("form_key", primary_key=True),
        Column("record_id", BigInteger, primary_key=True),
        _owner(primary_key=True),
    )


def _release() -> tuple[Column[Any], ...]:
    """An app's release: its version label and its files as shipped (path -> text)."""
    return (
        Column("version_label", String(100), nullable=False),
        Column("files", JSON, nullable=False),
    )


def _instance_ref() -> Column[Any]:
    """The workflow instance a row belongs to; the row goes when the instance does."""
    return _part_of("instance_id", "ff_workflow_instances.id", index=True)


departments = _keyed_table(
    "ff_departments",
    Column("name", String(200), nullable=False),
    Column("parent_id", Id, ForeignKey("ff_departments.id", ondelete="RESTRICT"), index=True),
    Column("manager_id", Id, ForeignKey("ff_users.id", ondelete="SET NULL", use_alter=True)),
    _at("created_at"),
)

users = _keyed_table(
    "ff_users",
    Column("username", String(150), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("email", String(320)),
    Column("password_hash", String(300), nullable=False),
    Column("department_id", Id, ForeignKey("ff_departments.id", ondelete="SET NULL"), index=True),
    Column("language", String(8), nullable=False, default=""),  # "": none chosen
    Column("is_active", Boolean, nullable=False, default=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    _at("created_at"),
    _at("last_login_at", nullable=True),
)

user_roles = _table(
    "ff_user_roles",
    _owner(primary_key=True),
    _key("app_key", primary_key=True),
    _key("role_key", primary_key=True),
)

definition_versions = _keyed_table(
    "ff_definition_versions",
    _key("app_key"),
    Column("number", Integer, nullable=False),
    Column("version_label", String(100), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("files", JSON, nullable=False),
    Column("is_current", Boolean, nullable=False, default=False),
    _at("created_at"),
    Column("note", Text),
    UniqueConstraint("app_key", "number"),
)

audit_log = _keyed_table(
    "ff_audit_log",
    Column("table_name", String(130), nullable=False),
    Column("record_id", BigInteger, nullable=False),
    Column("action", String(20), nullable=False),
    _user_ref(),
    _at("at"),
    Column("changes", JSON, nullable=False),
    Index("ix_ff_audit_log_record", "table_name", "record_id", "id"),
    Index("ix_ff_audit_log_user", "user_id", "id"),
)

audit_entries = _table(
    "ff_audit_entries",
    Column("id", Id, primary_key=True, autoincrement=False),
    _at("at"),
    Column("user_id", BigInteger),
    Column("action", String(40), nullable=False),
    _key("app_key", required=False),
    _key("form_key", required=False),
    Column("record_id", BigInteger),
    Column("address", String(64)),
    Column("detail", JSON, nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_ff_audit_entries_at", "at", "id"),
    Index("ix_ff_audit_entries_user", "user_id", "id"),
    Index("ix_ff_audit_entries_action", "action", "id"),
    Index("ix_ff_audit_entries_record", "app_key", "form_key", "record_id", "id"),
)
"""The tamper-evident audit log (:mod:`formflow.audit`): every sign-in, change and admin
action, numbered without gaps and each chained to the one before by a SHA-256 hash.
``user_id`` has no foreign key on purpose: deleting a user must not rewrite the log."""

GENESIS_HASH = "0" * 64
"""The ``previous_hash`` of the first audit entry."""

audit_head = _table(
    "ff_audit_head",
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
)
"""One row (id 1, made by the first entry): the number and hash of the newest audit entry.
Every writer of the log updates it in its own transaction, so writers queue on it and the
chain has one head."""

counters = _table(
    "ff_counters",
    Column("name", String(300), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

login_failures = _keyed_table(
    "ff_login_failures",
    Column("username", String(150), nullable=False),
    Column("address", String(64), nullable=False),
    _at("at"),
    Index("ix_ff_login_failures_username_at", "username", "at"),
    Index("ix_ff_login_failures_address_at", "address", "at"),
)

api_tokens = _keyed_table(
    "ff_api_tokens",
    _owner(),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    _at("created_at"),
    _at("last_used_at", nullable=True),
    _at("expires_at", nullable=True),
    Column("read_only", Boolean),
    Column("forms", Text),
)
"""API tokens, by hash; ``read_only`` and ``forms`` (``app/form`` keys, space-separated)
narrow what a token may do below what its user may (NULL: no narrowing)."""

second_factors = _table(
    "ff_second_factors",
    _owner(primary_key=True),
    Column("secret", String(64), nullable=False),
    _at("confirmed_at", nullable=True),
    Column("last_step", BigInteger),
)
"""A user's TOTP secret: pending until a first code confirms it; ``last_step`` is the time
step of the last code accepted, so no code signs in twice."""

address_rules = _keyed_table(
    "ff_address_rules",
    Column("user_id", Id, ForeignKey("ff_users.id", ondelete="CASCADE")),
    _key("app_key", required=False),
    _key("role_key", required=False),
    Column("networks", Text, nullable=False),
)
"""Networks a user, or the holders of a role, may sign in from (space-separated CIDR)."""

password_history = _keyed_table(
    "ff_password_history",
    _owner(),
    Column("password_hash", String(300), nullable=False),
    _at("set_at"),
)
"""A user's recent passwords, as one-way hashes, so a change cannot go back to one."""

recovery_codes = _keyed_table(
    "ff_recovery_codes",
    _owner(),
    Column("code_hash", String(64), nullable=False),
    _at("used_at", nullable=True),
)
"""One-time codes that stand in for a lost authenticator, kept as hashes."""

sessions = _keyed_table(
    "ff_sessions",
    _owner(),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("remember", Boolean, nullable=False, default=False),
    _at("created_at"),
    _at("last_seen_at"),
    _at("expires_at"),
    Column("user_agent", String(300), nullable=False, default=""),
    Column("address", String(64), nullable=False, default=""),
)

saved_views = _keyed_table(
    "ff_saved_views",
    _owner(index=False),
    Column("table_name", String(130), nullable=False),
    Column("name", String(100), nullable=False),
    Column("query", JSON, nullable=False),
    _at("created_at"),
    Index("ix_ff_saved_views_user_table", "user_id", "table_name"),
)

attachments = _table(
    "ff_attachments",
    Column("id", String(64), primary_key=True),
    _user_ref(),
    Column("name", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    _at("created_at"),
)

events = _keyed_table(
    "ff_events",
    _key("app_key"),
    _key("form_key"),
    Column("record_id", BigInteger, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("user_id", BigInteger),
    _at("at"),
    Column("data", JSON, nullable=False),
    Column("owed_to", JSON(none_as_null=True)),
    Index("ix_ff_events_record", "app_key", "form_key", "record_id", "id"),
)
"""``owed_to`` lists the subscribers an event was owed to when written (NULL: nobody); the
database writes their delivery rows from it (see :data:`EVENTS_OWE`)."""

event_deliveries = _table(
    "ff_event_deliveries",
    Column("subscriber", String(100), primary_key=True),
    _part_of("event_id", "ff_events.id", primary_key=True),
    Column("attempts", Integer, nullable=False, default=0),
    _at("available_at", nullable=True),
    Column("last_error", Text),
)
"""Deliveries still owed: one row per event and subscriber, deleted once delivered."""

EVENTS_OWE = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION ff_events_owe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ff_event_deliveries (subscriber, event_id, attempts)
    SELECT name, NEW.id, 0 FROM json_array_elements_text(NEW.owed_to) AS name;
    RETURN NULL;
END $$""",
        """CREATE OR REPLACE TRIGGER ff_events_owe AFTER INSERT ON ff_events FOR EACH ROW
WHEN (NEW.owed_to IS NOT NULL) EXECUTE FUNCTION ff_events_owe()""",
    ),
    "sqlite": (
        """CREATE TRIGGER IF NOT EXISTS ff_events_owe AFTER INSERT ON ff_events FOR EACH ROW
WHEN NEW.owed_to IS NOT NULL BEGIN
    INSERT INTO ff_event_deliveries (subscriber, event_id, attempts)
    SELECT value, NEW.id, 0 FROM json_each(NEW.owed_to);
END""",
    ),
}
"""The trigger that writes an event's delivery rows, one per subscriber its ``owed_to``
names, in the statement that inserts the event. The event then needs no id back and no
statement of its own: inside a unit of work it rides with the unit's other kept-back rows
(on PostgreSQL in the audit chain's one statement), where the outbox once sent two."""


def _owe_by_trigger(connection: Connection) -> bool:
    """Create :data:`EVENTS_OWE` unless it is there; returns whether it was created."""
    dialect = connection.dialect.name
    found = connection.exec_driver_sql(
        "SELECT 1 FROM pg_trigger WHERE tgname = 'ff_events_owe'"
        " AND tgrelid = 'ff_events'::regclass"
        if dialect == "postgresql"
        else "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'ff_events_owe'"
    ).first()
    if found is not None:
        return False
    for statement in EVENTS_OWE[dialect]:
        connection.exec_driver_sql(statement)
    return True


def _created(table: Table, connection: Connection, **_options: Any) -> None:
    """After any table is created: the trigger with the deliveries' table (on every
    :class:`Table`, since an app's schema creates copies of the platform's tables)."""
    if table.name == event_deliveries.name:
        _owe_by_trigger(connection)


event.listen(Table, "after_create", _created)

event_subscribers = _table(
    "ff_event_subscribers",
    Column("name", String(100), primary_key=True),
    _at("leased_until", nullable=True),
    Column("lease_holder", String(64)),
)
"""Who is delivering to a subscriber right now, so its events go out one at a time, in order."""

dead_letters = _keyed_table(
    "ff_dead_letters",
    Column("subscriber", String(100), nullable=False),
    _part_of("event_id", "ff_events.id"),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    _at("failed_at"),
    UniqueConstraint("subscriber", "event_id"),
)
"""Deliveries given up after their last retry, kept for an admin to read and retry."""


workflow_instances = _keyed_table(
    "ff_workflow_instances",
    _key("app_key"),
    _key("workflow_key"),
    Column("definition_digest", String(64), nullable=False),
    _key("form_key"),
    Column("record_id", BigInteger, nullable=False),
    _user_ref("submitter_id"),
    Column("status", String(20), nullable=False),
    _key("outcome", required=False),
    Column("prior_state", String(100)),
    Column("live_key", String(200), unique=True),
    Column("version", Integer, nullable=False),
    Column("entries", Integer, nullable=False),
    Column("position", JSON, nullable=False),
    _at("started_at"),
    _at("ended_at", nullable=True),
    Index("ix_ff_workflow_instances_record", "app_key", "form_key", "record_id", "id"),
    Index("ix_ff_workflow_instances_submitter", "submitter_id", "status"),
)
"""Running and finished approval instances. ``live_key`` is set while an instance runs (or
waits for its submitter) and unique, so a record never has two; ``version`` is compared and
set by every step, so an instance advances once however many act on it at the same moment."""

workflow_tasks = _keyed_table(
    "ff_workflow_tasks",
    _instance_ref(),
    _key("node_key"),
    Column("entry", Integer, nullable=False),
    Column("kind", String(10), nullable=False),
    _user_ref(),
    _user_ref("delegated_from"),
    Column("position", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("comment", Text),
    _at("created_at"),
    _at("decided_at", nullable=True),
    _at("remind_at", nullable=True),
    _at("due_at", nullable=True),
    Index("ix_ff_workflow_tasks_user", "user_id", "status", "id"),
    Index("ix_ff_workflow_tasks_remind", "status", "remind_at"),
    Index("ix_ff_workflow_tasks_due", "status", "due_at"),
)
"""People's tasks: to approve (``kind`` approve) or to read (``kind`` cc). A task is decided
by changing its ``status`` from ``open`` in one compare-and-set, so it is decided once.
``remind_at`` and ``due_at`` are when an open task's node timeout reminds its approver and
acts on it; the sweep finds them by index and clears each once done."""

workflow_history = _keyed_table(
    "ff_workflow_history",
    _instance_ref(),
    Column("action", String(30), nullable=False),
    _key("node_key", required=False),
    Column("task_id", BigInteger),
    _user_ref(),
    _at("at"),
    Column("comment", Text),
    Column("detail", JSON, nullable=False),
)
"""Every step of every instance: who did what, when and why."""

workflow_delegations = _keyed_table(
    "ff_workflow_delegations",
    _key("app_key"),
    _owner(),
    _part_of("delegate_id", "ff_users.id"),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    _at("created_at"),
    _key("workflow_key", required=False),
    _at("ended_at", nullable=True),
    Column("comment", Text),
)
"""Who holds someone's approval tasks while they are away, for a range of days; for one
workflow when ``workflow_key`` is set, and no longer once ``ended_at`` (ended early)."""

automation_runs = _keyed_table(
    "ff_automation_runs",
    _key("app_key"),
    _key("automation_key"),
    Column("trigger", String(200), nullable=False),
    _key("form_key"),
    Column("record_id", BigInteger),
    Column("event_id", BigInteger),
    Column("run_key", String(300), unique=True),
    Column("status", String(20), nullable=False),
    Column("depth", Integer, nullable=False),
    Column("changes", JSON, nullable=False),
    Column("error", Text),
    _at("started_at"),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_ff_automation_runs_rule", "app_key", "automation_key", "id"),
    Index("ix_ff_automation_runs_record", "app_key", "form_key", "record_id", "id"),
)
"""Every run of every automation: what set it off, what it changed, how long it took and
how it ended. ``run_key`` is set on runs that did their work, and unique, so the same
trigger (an event, a minute, a day) runs a rule on a record once however often it is
handed over."""

record_action_runs = _keyed_table(
    "ff_record_action_runs",
    _key("app_key"),
    _key("form_key"),
    _key("action_key"),
    Column("record_id", BigInteger, nullable=False),
    _user_ref(),
    _at("at"),
    Column("inputs", JSON, nullable=False),
    Index("ix_ff_record_action_runs_user", "app_key", "form_key", "action_key", "user_id", "at"),
    Index("ix_ff_record_action_runs_record", "app_key", "form_key", "record_id", "id"),
)
"""Every run of a record action on a record: who, when, with what answers. A daily limit
counts the user's rows since the start of their day through the first index."""

pool_cooldowns = _table(
    "ff_pool_cooldowns",
    *_record_and_user(),
    _at("until"),
)
"""Who let a pool record go, and until when they may not take it back themselves."""

duplicate_keys = _keyed_table(
    "ff_duplicate_keys",
    _key("app_key"),
    _key("check_key"),
    Column("value", String(255), nullable=False),
    _key("form_key"),
    _key("field_key"),
    Column("record_id", BigInteger, nullable=False),
    Index("ix_ff_duplicate_keys_value", "app_key", "check_key", "value"),
    Index("ix_ff_duplicate_keys_record", "app_key", "form_key", "record_id"),
)
"""The normalised values of every live record a duplicate check compares, kept by the
record service in the write's unit of work: a match is one lookup in the first index,
and a record's keys are replaced through the second."""

webhook_calls = _keyed_table(
    "ff_webhook_calls",
    _key("app_key"),
    _key("automation_key"),
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("secret_env", String(100)),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    _at("created_at"),
    _at("sent_at", nullable=True),
)
"""Webhook requests an automation made, written in its unit of work and sent after the
commit by a job retried with back-off; ``status`` is pending, sent or failed."""


notifications = _keyed_table(
    "ff_notifications",
    _owner(index=False),
    Column("kind", String(40), nullable=False),
    Column("title", String(500), nullable=False),
    Column("body", Text, nullable=False),
    Column("params", JSON, nullable=False),
    _key("app_key", required=False),
    _key("form_key", required=False),
    Column("record_id", BigInteger),
    Column("task_id", BigInteger),
    Column("cause_key", String(300), unique=True),
    _at("created_at"),
    _at("read_at", nullable=True),
    _at("delivered_at", nullable=True),
    Index("ix_ff_notifications_user_unread", "user_id", "read_at", "id"),
    Index("ix_ff_notifications_undelivered", "delivered_at", "created_at"),
)
"""What a person is told: a task for them, a decision on their request, a reminder, an
automation's message. Written in the unit of work of what caused it; ``title`` and
``body`` are message ids filled in with ``params`` (in the reader's language) or plain
text; ``cause_key``, when set, is unique, so a retried cause tells a person once.
``delivered_at`` is set once every outside channel (e-mail, plugins) has it."""

record_follows = _table(
    "ff_record_follows",
    *_record_and_user(),
    _at("created_at"),
    Index("ix_ff_record_follows_user", "user_id"),
)
"""Who follows a record: they are told of its changes (keyed by the record, so a write
asks whether anyone follows it with one index lookup)."""

notification_sends = _table(
    "ff_notification_sends",
    _part_of("notification_id", "ff_notifications.id", primary_key=True),
    _key("channel", primary_key=True),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    _at("sent_at", nullable=True),
)
"""One notification on one outside channel: ``sent``, or ``failed`` after its last try;
a channel that has it sent is never sent it again when the job is retried."""
designer_drafts = _table(
    "ff_designer_drafts",
    _key("app_key", primary_key=True),
    Column("path", String(300), primary_key=True),
    Column("text", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("base_version", Integer, nullable=False),
    _user_ref("updated_by"),
    _at("updated_at"),
)
"""The designer's drafts: each definition file of an app an admin is changing, saved as it
is edited; ``revision`` grows with every save, so a save from a stale page is refused."""

designer_publications = _keyed_table(
    "ff_designer_publications",
    _key("app_key"),
    Column("version_number", Integer, nullable=False),
    _user_ref("author_id"),
    Column("author_name", String(200), nullable=False),
    Column("comment", Text, nullable=False),
    Column("changes", JSON, nullable=False),
    Column("plan", JSON, nullable=False),
    _at("published_at"),
    UniqueConstraint("app_key", "version_number"),
)
"""Who published each definition version from the designer, when, why, and the plan shown."""
designer_steps = _keyed_table(
    "ff_designer_steps",
    _key("app_key", index=True),
    Column("path", String(300), nullable=False),
    Column("before", Text, nullable=False),
    Column("after", Text, nullable=False),
    Column("undone", Boolean, nullable=False),
    Column("batch", String(36)),
    _user_ref("made_by"),
    _at("made_at"),
)
"""Each designer step of a draft (a file's text before and after), for undo and redo; the
steps of one ``batch`` (a rename across files) are undone together. The steps go with the
draft when it is published or discarded."""
app_releases = _table(
    "ff_app_releases",
    _key("app_key", primary_key=True),
    *_release(),
    _at("recorded_at"),
)
"""The release each installed app came from: its files as shipped, recorded when the app is
installed or migrated from its folder and when an upgrade is published. An upgrade merges
the next release against these files (the admin's changes are the difference from them)."""
designer_upgrades = _table(
    "ff_designer_upgrades",
    _key("app_key", primary_key=True),
    *_release(),
    Column("report", JSON, nullable=False),
    Column("choices", JSON, nullable=False),
    _user_ref("started_by"),
    _at("started_at"),
)
"""An upgrade being resolved: the new release's files, the merge's report (what merged, the
conflicts, orphans and decisions) and the admin's choices so far; it goes when the draft is
published (the release becomes the app's base) or discarded."""
import_layouts = _keyed_table(
    "ff_import_layouts",
    _key("app_key"),
    _key("form_key"),
    Column("layout", String(64), nullable=False),
    Column("mapping", JSON, nullable=False),
    _at("updated_at"),
    UniqueConstraint("app_key", "form_key", "layout", name="uq_ff_import_layouts"),
)
"""The column mapping last used to import a file of each layout (its set of headers)."""

import_runs = _keyed_table(
    "ff_import_runs",
    _key("app_key"),
    _key("form_key"),
    _user_ref(),
    Column("file_name", String(255), nullable=False),
    Column("language", String(10), nullable=False),
    Column("options", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("processed", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("error", Text),
    _at("started_at"),
    _at("finished_at", nullable=True),
)
"""Imports run as background jobs: their options, progress and outcome; ``status`` is
queued, running, done, refused (all or nothing, with errors) or failed. The file and the
error report live in the instance folder, named after the run's id."""
plugin_settings = _table(
    "ff_plugin_settings",
    Column("plugin", String(100), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("encrypted", Boolean, nullable=False),
    _at("updated_at"),
)
"""Values administrators gave plugin settings; secrets are Fernet tokens (``encrypted``)
under a key derived from the instance's secret key."""


def upgrade_platform_tables(engine: Engine) -> list[str]:
    """Bring an instance's platform tables up to this version of Formflow; returns what
    was added, as ``table`` or ``table.column``.

    Tables that are missing are created, columns and named indexes that are missing are
    added; nothing is
    ever dropped or changed. So a column added to a platform table in a later version must
    be nullable or have a ``server_default``. Two processes starting at once may both try:
    the one that loses the race finds the work done when it looks again.
    """
    for attempt in (1, 2):
        try:
            with engine.begin() as connection:
                return _upgrade(connection)
        except (OperationalError, ProgrammingError):
            if attempt == 2:
                raise
    return []


def _upgrade(connection: Connection) -> list[str]:
    inspector = inspect(connection)
    existing = set(inspector.get_table_names())
    added = [name for name in platform_metadata.tables if name not in existing]
    platform_metadata.create_all(connection)
    operations = Operations(MigrationContext.configure(connection))
    for table in platform_metadata.tables.values():
        if table.name not in existing:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                operations.add_column(table.name, column._copy())
                added.append(f"{table.name}.{column.name}")
        indexed = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name is not None and index.name not in indexed:
                index.create(connection)
                added.append(f"{table.name}.{index.name}")
    if _owe_by_trigger(connection):
        added.append("ff_events.ff_events_owe")
    return added


plugin_jobs = _keyed_table(
    "ff_plugin_jobs",
    Column("name", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    _at("available_at"),
    _at("leased_until", nullable=True),
    Column("lease_holder", String(64)),
    Column("error", Text),
    _at("created_at"),
    _at("finished_at", nullable=True),
    Index("ix_ff_plugin_jobs_status", "status", "available_at"),
)
"""Plugins' background jobs (:mod:`formflow.jobs.plugin_jobs`): ``status`` is queued,
running (under a lease, so a job whose worker died runs again), done or failed (after its
last retry, for an admin to run again)."""

stage_stays = _keyed_table(
    "ff_stage_stays",
    _key("app_key"),
    _key("form_key"),
    _key("field_key"),
    Column("record_id", BigInteger, nullable=False),
    Column("value", String(255), nullable=False),
    _at("entered_at"),
    _at("left_at", nullable=True),
    Column("seconds", BigInteger),
    Index("ix_ff_stage_stays_record", "app_key", "form_key", "field_key", "record_id", "id"),
    Index("ix_ff_stage_stays_value", "app_key", "form_key", "field_key", "value", "record_id"),
)
"""Each time a record held a value of a stage field (:mod:`formflow.storage.stays`): the
value, when it came and went, and the whole ``seconds`` it stayed (once it has gone). Kept
only for the select fields a ``stage_history`` widget reads, in the write's transaction."""

summary_rows = _keyed_table(
    "ff_summaries",
    _key("app_key"),
    _key("form_key"),
    _key("summary"),
    Column("groups", Text, nullable=False),
    Column("owner", BigInteger),
    Column("department", BigInteger),
    *(Column(f"k{number}", String(255)) for number in range(1, 7)),
    Column("records", BigInteger, nullable=False),
    *(Column(f"s{number}", BigInteger, nullable=False) for number in range(1, 5)),
    *(Column(f"n{number}", BigInteger, nullable=False) for number in range(1, 5)),
    UniqueConstraint("app_key", "form_key", "summary", "groups", name="uq_ff_summaries_groups"),
    Index("ix_ff_summaries_owner", "app_key", "form_key", "summary", "owner"),
)
"""Summaries kept on write (:mod:`formflow.records.summaries`): per summary of a form and
per value of its keys ``k1``… (text; a date as its bucket's label) and of the record's
``owner`` and ``department``, how many live ``records`` there are and, per summed field,
the sum ``s`` of its values in whole units of its last place and how many values ``n``
it has. ``groups`` is all the keys as one text, so that a write adds to its row in one
upsert."""
