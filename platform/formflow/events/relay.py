"""The relay: hands the outbox's events to subscribers, in order, at least once.

A delivery owed is removed only after its subscriber returned, so a process that dies in
between delivers the event again after a restart; the subscriber tells a repeat by the
event's idempotency key. Each subscriber takes a lease before delivering, so with several
processes its events still go out one at a time and in order; a lease whose holder died
runs out after ``lease`` and another process carries on.

A subscriber that raises keeps its event and everything after it: the relay tries that
event again after a back-off that doubles with each attempt, never skipping past it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from formflow.events.outbox import Event, Outbox
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import event_deliveries, event_subscribers, events

logger = logging.getLogger(__name__)

Subscriber = Callable[[Event, str], None]
"""Called with an event and its idempotency key for this subscriber; raise to be retried."""

LEASE = timedelta(minutes=1)
FIRST_RETRY = timedelta(seconds=10)
LAST_RETRY = timedelta(hours=1)


class Relay:
    """Delivers the events owed to its subscribers, each under its own name."""

    def __init__(
        self,
        engine: Engine,
        subscribers: Mapping[str, Subscriber],
        *,
        batch: int = 100,
        lease: timedelta = LEASE,
    ) -> None:
        self.engine = engine
        self.subscribers = dict(subscribers)
        self.batch = batch
        self.lease = lease
        self.holder = secrets.token_hex(8)

    def outbox(self) -> Outbox:
        """An outbox that owes every event to each of this relay's subscribers."""
        return Outbox(self.subscribers)

    def deliver(self) -> int:
        """Deliver what is owed and due, subscriber by subscriber; returns how many events."""
        delivered = 0
        for name in sorted(self.subscribers):
            if self._lease(name):
                try:
                    delivered += self._deliver_to(name)
                finally:
                    self._release(name)
        return delivered

    def owed(self, subscriber: str) -> int:
        """How many events ``subscriber`` has still to receive."""
        with self.engine.connect() as connection:
            count = connection.execute(
                select(func.count())
                .select_from(event_deliveries)
                .where(event_deliveries.c.subscriber == subscriber)
            ).scalar_one()
        return int(count)

    def _deliver_to(self, name: str) -> int:
        handle = self.subscribers[name]
        delivered = 0
        while True:
            with self.engine.connect() as connection:
                owed = connection.execute(_OWED, {"subscriber": name, "limit": self.batch}).all()
            if not owed:
                return delivered
            self._renew(name)
            for row in owed:
                if row.available_at is not None and _aware(row.available_at) > _now():
                    return delivered
                event = Event.from_row(row)
                try:
                    handle(event, event.key(name))
                except Exception as exc:
                    self._postpone(name, event.id, row.attempts + 1, exc)
                    return delivered
                with write_transaction(self.engine) as connection:
                    connection.execute(_DONE, {"subscriber": name, "event_id": event.id})
                delivered += 1

    def _postpone(self, name: str, event_id: int, attempts: int, error: Exception) -> None:
        wait = min(FIRST_RETRY * 2 ** min(attempts - 1, 16), LAST_RETRY)
        logger.error(
            "subscriber %r failed on event %s (attempt %s); retrying in %s",
            name,
            event_id,
            attempts,
            wait,
            exc_info=error,
        )
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(event_deliveries)
                .where(
                    event_deliveries.c.subscriber == name,
                    event_deliveries.c.event_id == event_id,
                )
                .values(
                    attempts=attempts,
                    available_at=_now() + wait,
                    last_error=f"{type(error).__name__}: {error}"[:2000],
                )
            )

    def _lease(self, name: str) -> bool:
        now = _now()
        with write_transaction(self.engine) as connection:
            taken = connection.execute(
                update(event_subscribers)
                .where(
                    event_subscribers.c.name == name,
                    or_(
                        event_subscribers.c.leased_until.is_(None),
                        event_subscribers.c.leased_until < now,
                    ),
                )
                .values(leased_until=now + self.lease, lease_holder=self.holder)
            ).rowcount
            if taken:
                return True
            exists = connection.execute(
                select(event_subscribers.c.name).where(event_subscribers.c.name == name)
            ).first()
        if exists is not None:
            return False
        try:
            with write_transaction(self.engine) as connection:
                connection.execute(
                    insert(event_subscribers).values(
                        name=name, leased_until=now + self.lease, lease_holder=self.holder
                    )
                )
        except IntegrityError:
            return False  # another process registered it first, and holds it
        return True

    def _renew(self, name: str) -> None:
        self._set_held_lease(name, leased_until=_now() + self.lease)

    def _release(self, name: str) -> None:
        self._set_held_lease(name, leased_until=None, lease_holder=None)

    def _set_held_lease(self, name: str, **values: object) -> None:
        """Change the lease on ``name``, if this relay still holds it."""
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(event_subscribers)
                .where(
                    event_subscribers.c.name == name,
                    event_subscribers.c.lease_holder == self.holder,
                )
                .values(**values)
            )


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite hands date-times back without their zone; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_OWED = (
    select(
        events,
        event_deliveries.c.attempts,
        event_deliveries.c.available_at,
    )
    .join(events, events.c.id == event_deliveries.c.event_id)
    .where(event_deliveries.c.subscriber == bindparam("subscriber"))
    .order_by(event_deliveries.c.event_id)
    .limit(bindparam("limit"))
)

_DONE = delete(event_deliveries).where(
    and_(
        event_deliveries.c.subscriber == bindparam("subscriber"),
        event_deliveries.c.event_id == bindparam("event_id"),
    )
)
