"""The notifications service: write them with their cause, read them, send them on.

:meth:`Notifications.add` writes on the caller's connection, inside the unit of work of
what caused the notification, and asks for the outside channels to be sent once that unit
commits (:attr:`Notifications.dispatch`: at once by default, a job on the queue once
:func:`formflow.notifications.jobs.attach` takes it over). :meth:`Notifications.deliver`
sends one notification on every channel that has not had it yet, and raises when one
failed, so the job is tried again; a channel that had it is never sent it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from formflow.errors import FormflowError
from formflow.events.outbox import returned_ids
from formflow.notifications.model import Channel, Notification, Recipient
from formflow.records.audit import jsonable
from formflow.records.unit import current_unit
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import notification_sends, notifications, users

logger = logging.getLogger(__name__)

SENT = "sent"
FAILED = "failed"
PENDING = "pending"
ATTEMPTS = 8
"""Tries on a channel before it is given up: about 20 minutes of back-off from 10 seconds."""
PAGE = 50


class UnknownNotification(FormflowError):
    """No such notification for this user (or it belongs to someone else)."""


class ChannelFailed(FormflowError):
    """A channel could not send a notification this time; the job tries again."""


class Notifications:
    """An instance's notifications, and the outside channels they go out on."""

    def __init__(
        self,
        engine: Engine,
        channels: Sequence[Channel] = (),
        *,
        attempts: int = ATTEMPTS,
        language: str = "",
    ) -> None:
        self.engine = engine
        self.language = language or "zh"
        """What a person who chose no language is written to in (the instance's)."""
        self.channels = {channel.key: channel for channel in channels}
        self.attempts = attempts
        self.dispatch: Callable[[int], object] = self._deliver_now
        """Called with a notification's id once the unit that wrote it committed."""

    # writing ----------------------------------------------------------------------------

    def add(
        self,
        connection: Connection,
        user_ids: Iterable[int],
        *,
        kind: str,
        title: str,
        body: str = "",
        params: Mapping[str, Any] | None = None,
        app_key: str | None = None,
        form_key: str | None = None,
        record_id: int | None = None,
        task_id: int | None = None,
        cause: str | None = None,
        now: datetime | None = None,
    ) -> list[int]:
        """Tell each of ``user_ids`` (once each) on the caller's connection; their ids.
        Written as :meth:`add_many` writes its items, in one statement.

        ``cause`` makes the notifications idempotent: with it, a person is told once per
        cause however often the caller runs (a job retried, an event handed over again):
        each person's row is then written in a savepoint of its own, which a repeat
        leaves.
        """
        rows = self._rows(
            {
                "user_ids": user_ids,
                "kind": kind,
                "title": title,
                "body": body,
                "params": params,
                "app_key": app_key,
                "form_key": form_key,
                "record_id": record_id,
                "task_id": task_id,
                "now": now,
            },
            cause,
        )
        if cause is None:
            return self._insert(connection, rows, ids=True)
        written = [i for i in (_add_once(connection, row) for row in rows) if i is not None]
        self._send_after_commit(connection, written)
        return written

    def add_many(self, connection: Connection, items: Sequence[Mapping[str, Any]]) -> list[int]:
        """:meth:`add` for many notifications without a cause, each given as its keyword
        arguments with ``user_ids``, in one statement (a timed rule's slice tells each
        record's owner); their ids, in order, when there are channels to send them on
        (else none: the plainest insert)."""
        rows = [row for item in items for row in self._rows(item)]
        return self._insert(connection, rows, ids=bool(self.channels))

    def add_once_many(
        self, connection: Connection, items: Sequence[tuple[Mapping[str, Any], str]]
    ) -> list[int]:
        """:meth:`add` for many notifications, each given as its keyword arguments with
        ``user_ids`` and its cause, in one statement (an outbox subscriber's round of
        events): a person is told once per cause however often this runs, as with
        :meth:`add`, but a repeat is skipped by the insert itself (``ON CONFLICT DO
        NOTHING`` on the cause's unique key) rather than by a savepoint a row. The ids of
        those written now."""
        rows = [row for item, cause in items for row in self._rows(item, cause)]
        if not rows:
            return []
        dialect = connection.dialect.name
        statement = _ADD_ONCE_POSTGRESQL if dialect == "postgresql" else _ADD_ONCE_SQLITE
        written = [int(i) for i in connection.execute(statement, rows).scalars()]
        self._send_after_commit(connection, written)
        return written

    def _rows(self, item: Mapping[str, Any], cause: str | None = None) -> list[dict[str, Any]]:
        """The rows of one notification (:meth:`add`'s keyword arguments): one per person
        told, each once; with a ``cause``, each keyed by it."""
        now = item.get("now") or datetime.now(UTC)
        return [
            {
                "user_id": user_id,
                "kind": item["kind"],
                "title": item["title"],
                "body": item.get("body", ""),
                "params": jsonable(dict(item.get("params") or {})),
                "app_key": item.get("app_key"),
                "form_key": item.get("form_key"),
                "record_id": item.get("record_id"),
                "task_id": item.get("task_id"),
                "cause_key": f"{cause}:{user_id}"[:300] if cause else None,
                "created_at": now,
                "delivered_at": None if self.channels else now,
            }
            for user_id in dict.fromkeys(item["user_ids"])
        ]

    def _insert(
        self, connection: Connection, rows: Sequence[Mapping[str, Any]], *, ids: bool
    ) -> list[int]:
        """Write ``rows`` in one statement and send them once the unit commits; their ids,
        in order, if asked (else none: the plainest insert)."""
        if not rows:
            return []
        if not ids:
            connection.execute(_ADD_PLAIN, list(rows))
            return []
        written = returned_ids(connection, _ADD_MANY, _ADD, rows)
        self._send_after_commit(connection, written)
        return written

    def _send_after_commit(self, connection: Connection, written: Sequence[int]) -> None:
        """Hand the notifications ``written`` on ``connection`` to the outside channels
        once its unit of work commits (none: a caller with no unit sends them itself)."""
        unit = current_unit()
        if written and self.channels and unit is not None and unit.connection is connection:
            for notification_id in written:
                unit.after_commit(
                    partial(self._dispatch, notification_id), key=("notify", notification_id)
                )

    # reading ----------------------------------------------------------------------------

    def unread_count(self, connection: Connection, user_id: int) -> int:
        """How many notifications ``user_id`` has not read: one indexed count."""
        count = connection.execute(
            select(func.count())
            .select_from(notifications)
            .where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
        ).scalar_one()
        return int(count)

    def list_for(
        self,
        connection: Connection,
        user_id: int,
        *,
        limit: int = PAGE,
        before: int | None = None,
        unread_only: bool = False,
    ) -> list[Notification]:
        """``user_id``'s notifications, newest first, a page of ``limit`` ending before the
        notification ``before`` (keyset paging on the id)."""
        query = select(notifications).where(notifications.c.user_id == user_id)
        if before is not None:
            query = query.where(notifications.c.id < before)
        if unread_only:
            query = query.where(notifications.c.read_at.is_(None))
        rows = connection.execute(query.order_by(notifications.c.id.desc()).limit(limit))
        return [Notification.from_row(row) for row in rows]

    def get(self, connection: Connection, user_id: int, notification_id: int) -> Notification:
        row = connection.execute(
            select(notifications).where(
                notifications.c.id == notification_id, notifications.c.user_id == user_id
            )
        ).first()
        if row is None:
            raise UnknownNotification(f"no notification {notification_id}")
        return Notification.from_row(row)

    def mark_read(
        self,
        connection: Connection,
        user_id: int,
        notification_id: int,
        now: datetime | None = None,
    ) -> Notification:
        """Mark one of ``user_id``'s notifications read (again harmless); it, as now."""
        self.get(connection, user_id, notification_id)
        connection.execute(
            update(notifications)
            .where(
                notifications.c.id == notification_id,
                notifications.c.user_id == user_id,
                notifications.c.read_at.is_(None),
            )
            .values(read_at=now or datetime.now(UTC))
        )
        return self.get(connection, user_id, notification_id)

    def mark_all_read(
        self, connection: Connection, user_id: int, now: datetime | None = None
    ) -> int:
        """Mark every unread notification of ``user_id`` read; how many there were."""
        done = connection.execute(
            update(notifications)
            .where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
            .values(read_at=now or datetime.now(UTC))
        )
        return int(done.rowcount)

    # sending ----------------------------------------------------------------------------

    def deliver(self, notification_id: int) -> dict[str, str]:
        """Send one notification on each channel that has not had it; what each channel's
        status now is. Raises :class:`ChannelFailed` when a channel failed and has tries
        left, so the job is retried."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(notifications).where(notifications.c.id == notification_id)
            ).first()
            if row is None:
                return {}
            notification = Notification.from_row(row)
            recipient = _recipient(connection, notification.user_id, self.language)
            done = {
                sent.channel: sent
                for sent in connection.execute(
                    select(notification_sends).where(
                        notification_sends.c.notification_id == notification_id
                    )
                )
            }
        statuses: dict[str, str] = {}
        failures: list[str] = []
        for key, channel in sorted(self.channels.items()):
            earlier = done.get(key)
            if earlier is not None and earlier.status in (SENT, FAILED):
                statuses[key] = earlier.status
                continue
            tried = earlier.attempts if earlier is not None else 0
            try:
                if recipient is not None:
                    channel.send(notification, recipient)
            except Exception as exc:  # a channel may fail in any way; it is tried again
                error = f"{type(exc).__name__}: {exc}"[:2000]
                status = FAILED if tried + 1 >= self.attempts else PENDING
                self._record(notification_id, key, status, tried + 1, error, exists=earlier)
                statuses[key] = status
                if status == PENDING:
                    failures.append(f"{key}: {error}")
                else:
                    logger.error("notification %s given up on %s: %s", notification_id, key, error)
                continue
            self._record(notification_id, key, SENT, tried + 1, None, exists=earlier)
            statuses[key] = SENT
        if failures:
            raise ChannelFailed(f"notification {notification_id}: " + "; ".join(failures))
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(notifications)
                .where(notifications.c.id == notification_id)
                .values(delivered_at=datetime.now(UTC))
            )
        return statuses

    def undelivered(self, before: datetime, limit: int = 1000) -> list[int]:
        """Notifications written before ``before`` that some channel has still to get (their
        job was lost, or the process died before enqueueing it), oldest first, by index."""
        if not self.channels:
            return []
        with self.engine.connect() as connection:
            found = connection.execute(
                select(notifications.c.id)
                .where(notifications.c.delivered_at.is_(None), notifications.c.created_at < before)
                .order_by(notifications.c.created_at)
                .limit(limit)
            ).scalars()
            return [int(notification_id) for notification_id in found]

    def _dispatch(self, notification_id: int) -> None:
        self.dispatch(notification_id)

    def _deliver_now(self, notification_id: int) -> None:
        try:
            self.deliver(notification_id)
        except ChannelFailed:
            logger.exception("a channel failed; the minute's sweep tries again")

    def _record(
        self,
        notification_id: int,
        channel: str,
        status: str,
        attempts: int,
        error: str | None,
        *,
        exists: Any,
    ) -> None:
        values = {
            "status": status,
            "attempts": attempts,
            "last_error": error,
            "sent_at": datetime.now(UTC) if status == SENT else None,
        }
        with write_transaction(self.engine) as connection:
            if exists is None:
                connection.execute(
                    insert(notification_sends).values(
                        notification_id=notification_id, channel=channel, **values
                    )
                )
            else:
                connection.execute(
                    update(notification_sends)
                    .where(
                        notification_sends.c.notification_id == notification_id,
                        notification_sends.c.channel == channel,
                    )
                    .values(**values)
                )


def recipient_of(connection: Connection, user_id: int, language: str = "zh") -> Recipient | None:
    """The account details channels reach ``user_id`` by; in ``language`` when they chose
    none."""
    return _recipient(connection, user_id, language)


def _recipient(connection: Connection, user_id: int, language: str) -> Recipient | None:
    row = connection.execute(
        select(
            users.c.id, users.c.username, users.c.display_name, users.c.email, users.c.language
        ).where(users.c.id == user_id, users.c.is_active)
    ).first()
    if row is None:
        return None
    return Recipient(
        int(row.id), row.username, row.display_name, row.email, row.language or language
    )


_ADD = insert(notifications).returning(notifications.c.id)
_ADD_MANY = insert(notifications).returning(notifications.c.id, sort_by_parameter_order=True)
_ADD_PLAIN = insert(notifications)
_ADD_ONCE_POSTGRESQL = (
    postgresql.insert(notifications).on_conflict_do_nothing().returning(notifications.c.id)
)
_ADD_ONCE_SQLITE = (
    sqlite.insert(notifications).on_conflict_do_nothing().returning(notifications.c.id)
)


def _add_once(connection: Connection, row: Mapping[str, Any]) -> int | None:
    """Write a notification keyed by its cause; its id, or ``None`` when that person was
    told already for that cause (the savepoint keeps the caller's transaction usable)."""
    try:
        with connection.begin_nested():
            return int(connection.execute(_ADD, row).scalar_one())
    except IntegrityError:
        return None
