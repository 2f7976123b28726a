"""Following a record: its followers are told of its changes, from the outbox's events.

Anyone who may read a record may follow it, and is told of it only while they still may:
a follower whose access ended since (the record moved to another department, their role
or account changed) is told nothing, and nobody is told the names of fields hidden from
them. The telling runs as an outbox subscriber
(:data:`FOLLOWS`), so it happens after the change has committed, on the job runner in a
served instance, and never in the request that made the change; each follower is told once
per event (the notification's cause is the event's idempotency key), and never of their own
change. A write asks one index lookup whether anyone follows its record, and owes the
subscriber an event only when someone does (see :class:`~formflow.events.outbox.Outbox`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, exists, insert, or_, select
from sqlalchemy.exc import IntegrityError

from formflow.accounts.users import actor_for, get_user
from formflow.definitions.model import Form, Operation
from formflow.errors import N_, PermissionDenied, RecordNotFound
from formflow.events import Event, EventKind
from formflow.notifications.model import label_param
from formflow.notifications.service import Notifications
from formflow.records.access import Actor, require
from formflow.records.service import RecordService
from formflow.records.unit import current_unit, unit_of_work
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import record_follows as table
from formflow.storage.platform_tables import users

FOLLOWS = "formflow.follows"
"""The outbox subscriber's name."""
KIND = "follow"

TITLES = {
    EventKind.UPDATED: N_("Changed: %(form)s record %(record)s"),
    EventKind.DELETED: N_("Deleted: %(form)s record %(record)s"),
    EventKind.RESTORED: N_("Restored: %(form)s record %(record)s"),
    EventKind.STATE_ENTERED: N_("Approval moved on: %(form)s record %(record)s"),
    EventKind.TASK_DECIDED: N_("Approval decided: %(form)s record %(record)s"),
}
"""What a follower is told, by kind of event; a record's creation has no followers yet."""
BODY = N_("by %(who)s")


class _Followed:
    """The outbox's check: whether anyone follows the record an event is about, asked once
    per record and unit; :meth:`warm` answers it for many records in one query first (the
    events of a batch update)."""

    def __call__(
        self, connection: Connection, app_key: str, form_key: str, record_id: int, kind: EventKind
    ) -> bool:
        if kind not in TITLES:
            return False
        unit = current_unit()
        if unit is None or unit.connection is not connection:
            return _any_follower(connection, app_key, form_key, record_id)
        key = (FOLLOWS, app_key, form_key, record_id)
        found = unit.memo.get(key)
        if found is None:
            found = unit.memo[key] = _any_follower(connection, app_key, form_key, record_id)
        return bool(found)

    def warm(
        self, connection: Connection, app_key: str, form_key: str, record_ids: Sequence[int]
    ) -> None:
        """Ask for the followers of ``record_ids`` in one query, for the unit's memo."""
        unit = current_unit()
        if unit is None or unit.connection is not connection or not record_ids:
            return
        ids = sorted(set(record_ids))
        rows = connection.execute(
            select(table.c.record_id)
            .distinct()
            .where(
                table.c.app_key == app_key,
                table.c.form_key == form_key,
                table.c.record_id.in_(ids),
            )
        )
        followed_ids = {int(record_id) for (record_id,) in rows}
        for record_id in ids:
            unit.memo[(FOLLOWS, app_key, form_key, record_id)] = record_id in followed_ids


followed = _Followed()


def _any_follower(connection: Connection, app_key: str, form_key: str, record_id: int) -> bool:
    found = connection.execute(
        _ANY_FOLLOWER, {"app_key": app_key, "form_key": form_key, "record_id": record_id}
    )
    return bool(found.scalar())


_ANY_FOLLOWER = select(  # asked for every event of a record write: built once
    exists().where(
        table.c.app_key == bindparam("app_key"),
        table.c.form_key == bindparam("form_key"),
        table.c.record_id == bindparam("record_id"),
    )
)


def follow(records: RecordService, actor: Actor, form_key: str, record_id: int) -> bool:
    """Follow a record the caller may read (raises as reading it would); False when they
    already did."""
    records.get(actor, form_key, record_id)
    if actor.user_id is None:
        return False
    try:
        with write_transaction(records.engine) as connection:
            connection.execute(
                insert(table),
                {
                    "app_key": records.app.key,
                    "form_key": form_key,
                    "record_id": record_id,
                    "user_id": actor.user_id,
                    "created_at": datetime.now(UTC),
                },
            )
    except IntegrityError:
        return False
    return True


def unfollow(records: RecordService, actor: Actor, form_key: str, record_id: int) -> bool:
    """Stop following a record; False when the caller did not follow it."""
    with write_transaction(records.engine) as connection:
        done = connection.execute(
            delete(table).where(*_of(records.app.key, form_key, record_id, actor.user_id))
        )
    return bool(done.rowcount)


def is_following(records: RecordService, actor: Actor, form_key: str, record_id: int) -> bool:
    with read_transaction(records.engine) as connection:
        found = connection.execute(
            select(exists().where(*_of(records.app.key, form_key, record_id, actor.user_id)))
        ).scalar()
    return bool(found)


def followers(connection: Connection, app_key: str, form_key: str, record_id: int) -> list[int]:
    rows = connection.execute(
        select(table.c.user_id)
        .where(
            table.c.app_key == app_key,
            table.c.form_key == form_key,
            table.c.record_id == record_id,
        )
        .order_by(table.c.user_id)
    )
    return [int(user_id) for user_id in rows.scalars()]


def _of(app_key: str, form_key: str, record_id: int, user_id: int | None) -> tuple[Any, ...]:
    return (
        table.c.app_key == app_key,
        table.c.form_key == form_key,
        table.c.record_id == record_id,
        table.c.user_id == user_id,
    )


class Followers:
    """The outbox subscriber that tells a record's followers of its changes."""

    def __init__(
        self,
        engine: Engine,
        notifications: Notifications,
        form_of: Callable[[str, str], Form | None],
        names: Callable[[Connection, int], str | None] | None = None,
        records_of: Callable[[str], RecordService | None] | None = None,
    ) -> None:
        self.engine = engine
        self.notifications = notifications
        self.form_of = form_of
        self.names = names or _username
        self.records_of = records_of
        """The record service that says who may still read a record (none: followers
        are told without asking, for callers with no apps loaded)."""

    def __call__(self, event: Event, key: str) -> None:
        self.handle(event, key)

    def handle(self, event: Event, key: str) -> None:
        """Tell the record's followers, but not whoever made the change (idempotent on
        ``key``: a repeated event tells nobody twice)."""
        self.handle_many([(event, key)])

    def handle_many(self, deliveries: Sequence[tuple[Event, str]]) -> None:
        """Tell each event's followers as :meth:`handle` does, for a round of events at
        once (:class:`~formflow.events.BatchSubscriber`): the followers of its records
        read in one query, each follower's account and roles once, and every
        notification written in one unit of work and one statement. Each is keyed by its
        event's idempotency key and its reader, so a round handed over again, or in
        part, tells nobody twice."""
        wanted = [(event, key) for event, key in deliveries if event.kind in TITLES]
        if not wanted:
            return
        with read_transaction(self.engine) as connection:
            following = _followers_of(connection, [event for event, _key in wanted])
            actors: dict[tuple[int, str], Actor | None] = {}
            told = [
                (event, key, readers)
                for event, key in wanted
                if (readers := self._readers(connection, event, following, actors))
            ]
        if not told:
            return
        with unit_of_work(self.engine) as unit:
            names: dict[int, str | None] = {}
            items = [
                (self._item(unit.connection, event, changed, user_ids, names), key)
                for event, key, readers in told
                for changed, user_ids in readers.items()
            ]
            self.notifications.add_once_many(unit.connection, items)

    def _item(
        self,
        connection: Connection,
        event: Event,
        changed: tuple[str, ...],
        user_ids: list[int],
        names: dict[int, str | None],
    ) -> dict[str, Any]:
        """The notification telling ``user_ids`` of ``event`` (``names``: who made each
        change, by user id, as found so far)."""
        who = None
        if event.user_id:
            if event.user_id not in names:
                names[event.user_id] = self.names(connection, event.user_id)
            who = names[event.user_id]
        form = self.form_of(event.app_key, event.form_key)
        return {
            "user_ids": user_ids,
            "kind": KIND,
            "title": TITLES[event.kind],
            "body": BODY if who else "",
            "params": {
                "form": label_param(form.label if form else event.form_key),
                "record": event.record_id,
                "who": who or "",
                "changed": list(changed),
            },
            "app_key": event.app_key,
            "form_key": event.form_key,
            "record_id": event.record_id,
            "now": event.at,
        }

    def _readers(
        self,
        connection: Connection,
        event: Event,
        following: Mapping[tuple[str, str, int], list[int]],
        actors: dict[tuple[int, str], Actor | None],
    ) -> dict[tuple[str, ...], list[int]]:
        """The followers of ``event``'s record (but not whoever made the change) who may
        read it now, by the changed fields they may see (a deleted record: those who may
        still read its form), none for whom every changed field is hidden. ``actors``:
        each follower as an actor in an app, or ``None`` when their account is gone or
        inactive, as found so far."""
        user_ids = [
            user_id
            for user_id in following.get((event.app_key, event.form_key, event.record_id), [])
            if user_id != event.user_id
        ]
        changed = sorted(event.changes)
        service = self.records_of(event.app_key) if self.records_of else None
        if service is None:
            return {tuple(changed): user_ids} if user_ids else {}
        found: dict[tuple[str, ...], list[int]] = {}
        for user_id in user_ids:
            if (user_id, event.app_key) not in actors:
                user = get_user(connection, user_id)
                actors[(user_id, event.app_key)] = (
                    actor_for(connection, user, event.app_key)
                    if user is not None and user.is_active
                    else None
                )
            actor = actors[(user_id, event.app_key)]
            if actor is None:
                continue
            try:
                if event.kind is EventKind.DELETED:
                    require(actor, service.app.form(event.form_key), Operation.READ)
                else:
                    service.get(actor, event.form_key, event.record_id, fields=())
            except (PermissionDenied, RecordNotFound):
                continue
            hidden = service.field_access(actor, event.form_key).hidden
            seen = tuple(key for key in changed if key not in hidden)
            if changed and not seen:
                continue  # only hidden fields changed: telling of it would say when
            found.setdefault(seen, []).append(user_id)
        return found


def _followers_of(
    connection: Connection, events: Sequence[Event]
) -> dict[tuple[str, str, int], list[int]]:
    """The followers of the records ``events`` are about, by app, form and record id, in
    one query (a round's events rather than one query each)."""
    ids: dict[tuple[str, str], set[int]] = {}
    for event in events:
        ids.setdefault((event.app_key, event.form_key), set()).add(event.record_id)
    rows = connection.execute(
        select(table.c.app_key, table.c.form_key, table.c.record_id, table.c.user_id)
        .where(
            or_(
                *(
                    and_(
                        table.c.app_key == app_key,
                        table.c.form_key == form_key,
                        table.c.record_id.in_(sorted(record_ids)),
                    )
                    for (app_key, form_key), record_ids in ids.items()
                )
            )
        )
        .order_by(table.c.user_id)
    )
    found: dict[tuple[str, str, int], list[int]] = {}
    for app_key, form_key, record_id, user_id in rows:
        found.setdefault((app_key, form_key, int(record_id)), []).append(int(user_id))
    return found


def _username(connection: Connection, user_id: int) -> str | None:
    found = connection.execute(
        select(users.c.display_name).where(users.c.id == user_id)
    ).scalar_one_or_none()
    return None if found is None else str(found)
