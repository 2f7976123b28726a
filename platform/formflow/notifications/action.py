"""The ``notify`` action: tell users, a role's members or the person a user field names.

The title and text are Jinja2 templates rendered in the expression sandbox (on its budget)
over the record, as the webhook body is; the notifications are written in the unit of
work of the run or step that calls the action, and go out by e-mail (and the plugins'
channels) once it commits.

Each person is told only what they may read: the templates are rendered once for each set
of fields hidden from the people told, without those fields (and their ``old`` values),
which render empty. Roles named by the step are checked when the app loads (see
:mod:`formflow.definitions.notified`); people named by ``users`` or ``user_field`` are
known only now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from jinja2 import TemplateSyntaxError, meta
from sqlalchemy import Connection, and_, select

from formflow.actions import ActionContext, ActionError
from formflow.definitions.model import FieldRule
from formflow.expressions import TEMPLATES_KEPT, ExpressionEngine, ExpressionError
from formflow.notifications.service import Notifications
from formflow.records.access import Actor
from formflow.records.audit import jsonable
from formflow.records.field_access import hidden_from_told
from formflow.records.service import RecordService
from formflow.storage.platform_tables import user_roles, users

KIND = "automation"


@dataclass(frozen=True)
class Text:
    """One text of a ``notify``, and the people it is for (all of whom may read it all)."""

    people: list[int]
    title: str
    body: str


@dataclass(frozen=True)
class Notice:
    """What one ``notify`` tells, worked out and not yet written: to whom, and the texts
    (one per set of fields hidden from some of them)."""

    people: list[int]
    texts: tuple[Text, ...]


def notify(context: ActionContext, given: Mapping[str, Any]) -> dict[str, Any]:
    records, _actor, _expressions = context.require_records()
    if context.unit is None:
        raise ActionError("a notification is written in a unit of work; run it from an automation")
    found = notice(context, given)
    notifications = context.notifications or Notifications(records.engine)
    written = 0
    for text in found.texts:
        written += len(
            notifications.add(
                context.unit.connection,
                text.people,
                kind=KIND,
                title=text.title,
                body=text.body,
                app_key=context.app_key,
                form_key=context.form_key,
                record_id=context.record_id,
                now=context.now,
            )
        )
    return result(found, written)


Readers = dict[int, Actor]
"""People told, as actors of the app (their roles there), by user id: read once per person
for all the notices a timed rule's slice works out."""


def notice(
    context: ActionContext, given: Mapping[str, Any], readers: Readers | None = None
) -> Notice:
    """Who ``notify`` tells and what, on ``context`` (a timed rule's slice works out each
    record's and writes them together, see :func:`notify_many`); ``readers`` keeps the
    access of the people told across calls."""
    records, _actor, expressions = context.require_records()
    if context.unit is None:
        raise ActionError("a notification is written in a unit of work; run it from an automation")
    people = recipients(context.unit.connection, context, given)
    sources = (given["title"], given.get("body", ""))
    names = _read_by(expressions, sources, context.names)
    groups = _by_hidden(context.unit.connection, records, context, people, readers)
    texts = []
    for hidden, group in groups.items() or [(frozenset(), [])]:
        shown = _without(names, hidden)
        title = _render(expressions, sources[0], shown, "title")
        body = _render(expressions, sources[1], shown, "body")
        texts.append(Text(group, title[:500], body))
    return Notice(people, tuple(texts))


def _by_hidden(
    connection: Connection,
    records: RecordService,
    context: ActionContext,
    people: list[int],
    readers: Readers | None = None,
) -> dict[frozenset[str], list[int]]:
    """``people`` grouped by the fields of the record's form hidden from them, in the order
    named; their roles are read only when the form hides a field from some role."""
    if not people:
        return {}
    form = records.app.form(context.form_key)
    if not any(
        rule is FieldRule.HIDDEN
        for permission in form.permissions.values()
        for rule in permission.fields.values()
    ):
        return {frozenset(): people}
    known = {} if readers is None else readers
    _read_readers(connection, context.app_key, [p for p in people if p not in known], known)
    groups: dict[frozenset[str], list[int]] = {}
    for person in people:
        groups.setdefault(hidden_from_told(records.app, known[person], form), []).append(person)
    return groups


def _read_readers(connection: Connection, app_key: str, people: list[int], known: Readers) -> None:
    """Add ``people`` to ``known`` as actors of ``app_key`` (one statement)."""
    if not people:
        return
    joined = users.outerjoin(
        user_roles, and_(user_roles.c.user_id == users.c.id, user_roles.c.app_key == app_key)
    )
    roles: dict[int, set[str]] = {person: set() for person in people}
    admins: set[int] = set()
    for user_id, is_admin, role in connection.execute(
        select(users.c.id, users.c.is_admin, user_roles.c.role_key)
        .select_from(joined)
        .where(users.c.id.in_(people))
    ):
        if role is not None:
            roles[int(user_id)].add(role)
        if is_admin:
            admins.add(int(user_id))
    for person, held in roles.items():
        known[person] = Actor(person, frozenset(held), is_admin=person in admins)


def _without(names: Mapping[str, Any], hidden: frozenset[str]) -> Mapping[str, Any]:
    """``names`` without the ``hidden`` fields, in the record and in ``old``."""
    if not hidden:
        return names
    shown = {key: value for key, value in names.items() if key not in hidden}
    old = shown.get("old")
    if isinstance(old, Mapping):
        shown["old"] = {key: value for key, value in old.items() if key not in hidden}
    return shown


def notify_many(
    connection: Connection,
    notifications: Notifications,
    told: Sequence[tuple[ActionContext, Notice]],
) -> list[dict[str, Any]]:
    """Write the notices of several ``notify`` runs in one statement, as :func:`notify`
    writes each; the result each run returns, in order."""
    notifications.add_many(
        connection,
        [
            {
                "user_ids": text.people,
                "kind": KIND,
                "title": text.title,
                "body": text.body,
                "app_key": context.app_key,
                "form_key": context.form_key,
                "record_id": context.record_id,
                "now": context.now,
            }
            for context, found in told
            for text in found.texts
        ],
    )
    return [result(found, len(dict.fromkeys(found.people))) for _context, found in told]


def result(found: Notice, written: int) -> dict[str, Any]:
    """What a ``notify`` run logs."""
    return {"action": "notify", "users": found.people, "notifications": written}


def recipients(
    connection: Connection, context: ActionContext, given: Mapping[str, Any]
) -> list[int]:
    """The active users the parameters name, each once, in the order named. Those named
    by username or role are looked up once per unit of work: a round of events' runs, or
    a timed rule's slice, share one lookup."""
    found = _named(connection, context, given)
    if "user_field" in given:
        value = context.record.get(given["user_field"])
        if value is not None:
            try:
                found.append(int(value))
            except (TypeError, ValueError):
                raise ActionError(
                    f"field {given['user_field']!r} does not hold a user: {value!r}"
                ) from None
    return list(dict.fromkeys(found))


def _named(connection: Connection, context: ActionContext, given: Mapping[str, Any]) -> list[int]:
    """The active users named by username or role (see :func:`recipients`), remembered
    in the unit's memo."""
    key = (
        "notify.recipients",
        context.app_key,
        tuple(given.get("users", ())),
        tuple(given.get("roles", ())),
    )
    unit = context.unit
    if unit is not None and unit.connection is connection and key in unit.memo:
        return list(unit.memo[key])
    found: list[int] = []
    names = list(given.get("users", ()))
    if names:
        by_name = dict(
            connection.execute(
                select(users.c.username, users.c.id).where(
                    users.c.username.in_(names), users.c.is_active
                )
            ).all()
        )
        found += [int(by_name[name]) for name in names if name in by_name]
    roles = list(given.get("roles", ()))
    if roles:
        found += [
            int(user_id)
            for user_id in connection.execute(
                select(user_roles.c.user_id)
                .join(users, users.c.id == user_roles.c.user_id)
                .where(
                    user_roles.c.app_key == context.app_key,
                    user_roles.c.role_key.in_(roles),
                    users.c.is_active,
                )
                .order_by(user_roles.c.user_id)
            ).scalars()
        ]
    if unit is not None and unit.connection is connection:
        unit.memo[key] = tuple(found)
    return found


def _read_by(
    expressions: ExpressionEngine, sources: Sequence[str], names: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``names`` the templates ``sources`` read, as JSON keeps them: the record's other
    fields need no converting (a slice renders two templates for each of 500 records).
    All of them when a function of the sandbox may read the whole context itself."""
    wanted: set[str] = set()
    for source in sources:
        read = _names_read(expressions, source) if source else frozenset()
        if read is None:
            return dict(jsonable(dict(names)))
        wanted |= read
    return {key: jsonable(names[key]) for key in wanted if key in names}


def _names_read(expressions: ExpressionEngine, source: str) -> frozenset[str] | None:
    """The names ``source`` reads from its context (``None``: it cannot be told), worked
    out once per engine and source, as the template itself is compiled once."""
    kept = _read.setdefault(expressions, {})
    if source not in kept:
        if len(kept) >= TEMPLATES_KEPT:
            kept.clear()
        kept[source] = _undeclared(expressions, source)
    return kept[source]


def _undeclared(expressions: ExpressionEngine, source: str) -> frozenset[str] | None:
    environment = expressions.environment
    if any(hasattr(function, "jinja_pass_arg") for function in environment.globals.values()):
        return None  # a function handed the context may read any name of it
    try:
        return frozenset(meta.find_undeclared_variables(environment.parse(source)))
    except (TemplateSyntaxError, RecursionError, MemoryError):
        return None  # rendering says what is wrong with it (or that it nests too deeply)


_read: WeakKeyDictionary[ExpressionEngine, dict[str, frozenset[str] | None]] = WeakKeyDictionary()


def _render(expressions: ExpressionEngine, source: str, names: Mapping[str, Any], what: str) -> str:
    """``source`` rendered over ``names``, already as JSON keeps them."""
    if not source:
        return ""
    try:
        return expressions.render(source, names)
    except ExpressionError as exc:
        raise ActionError(f"the notification's {what} failed: {exc}") from None
