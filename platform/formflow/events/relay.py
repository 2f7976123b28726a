"""The relay: hands the outbox's events to subscribers, in order, at least once.

A delivery owed is removed only after its subscriber returned, so a process that dies in
between delivers the event again after a restart; the subscriber tells a repeat by the
event's idempotency key. Deliveries made are removed a batch at a time (one transaction
rather than one per event), so a crash may repeat up to a batch; a
:class:`BatchSubscriber` takes a batch's events in one call too. Each subscriber takes a
lease before delivering, so with several processes its events still go out one at a time
and in order; a lease whose holder died runs out after ``lease`` and another process
carries on.

A subscriber that raises keeps its event and everything after it: the relay tries that
event again after a back-off that doubles with each attempt. After ``give_up_after``
attempts the delivery moves to the dead letters, where an admin can read why and retry it
(:mod:`formflow.jobs.dead_letters`), and the subscriber's later events go on.

What runs after a commit is :attr:`Relay.dispatch`: delivery in the committing process by
default, a job on the queue once :class:`formflow.jobs.Jobs` takes the relay over.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from formflow.events.outbox import Event, Outbox
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import (
    dead_letters,
    event_deliveries,
    event_subscribers,
    events,
)
from formflow.storage.rows import aware

logger = logging.getLogger(__name__)

Subscriber = Callable[[Event, str], None]
"""Called with an event and its idempotency key for this subscriber; raise to be retried."""


class BatchSubscriber(Protocol):
    """A subscriber that can also take several events in one call, in order, with their
    keys: one transaction for a batch rather than one an event.

    The relay hands it each round's due events together (up to its ``batch``); when
    ``handle_many`` raises, it hands the same events on one at a time through the
    subscriber's own call, so that only the one that fails backs off. So a batch must be
    safe to repeat in part, as any delivery must: the keys tell what was done."""

    def __call__(self, event: Event, key: str) -> None: ...

    def handle_many(self, deliveries: Sequence[tuple[Event, str]]) -> None: ...


LEASE = timedelta(minutes=1)
FIRST_RETRY = timedelta(seconds=10)
LAST_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = 12
"""Attempts before a delivery goes to the dead letters: about four hours of retries."""


@dataclass(frozen=True)
class Outcome:
    """What one round of delivery to one subscriber did."""

    delivered: int
    busy: bool = False
    """Another process holds the subscriber's lease (and delivers what is owed)."""
    retry_at: datetime | None = None
    """When the first event still owed falls due (it failed, and is backing off)."""


class Relay:
    """Delivers the events owed to its subscribers, each under its own name."""

    def __init__(
        self,
        engine: Engine,
        subscribers: Mapping[str, Subscriber],
        *,
        batch: int = 100,
        lease: timedelta = LEASE,
        give_up_after: int | None = GIVE_UP_AFTER,
    ) -> None:
        self.engine = engine
        self.subscribers = dict(subscribers)
        self.batch = batch
        self.lease = lease
        self.give_up_after = give_up_after
        self.holder = secrets.token_hex(8)
        self.dispatch: Callable[[], object] = self.deliver
        """Run once a unit that owes events has committed."""
        self.gather = 0.0
        """Seconds a round smaller than a batch waits before it reads the next, so that
        the events committed meanwhile make one round rather than one each (a worker
        keeping up with writers would otherwise pay a round, two statements and the
        subscriber's transaction, for nearly every event). None in a committing process:
        its writer waits for the delivery."""

    def outbox(self) -> Outbox:
        """An outbox that owes every event to each of this relay's subscribers."""
        return Outbox(self.subscribers)

    def committed(self) -> None:
        """A unit that owes events has committed: hand them on as :attr:`dispatch` says."""
        self.dispatch()

    def deliver(self) -> int:
        """Deliver what is owed and due, subscriber by subscriber; returns how many events."""
        return sum(self.deliver_to(name).delivered for name in sorted(self.subscribers))

    def deliver_to(self, name: str, *, look_again: bool = True) -> Outcome:
        """Deliver what is owed to ``name`` and due, unless another process holds its lease.

        Holding the lease, it reads the next batch in the transaction that removes the
        last one's deliveries, so it keeps delivering while events keep coming, and lets
        the lease go once that read finds nothing. With ``look_again`` it then looks once
        more: an event committed between that read and the release found the lease taken,
        and would otherwise wait for the next sweep. (The deliver job looks itself, after
        clearing its mark, and passes False.)
        """
        delivered = 0
        while (owed := self._lease_and_read(name)) is not None:
            count, retry_at = self._deliver_to(name, owed)
            delivered += count
            if retry_at is not None:
                return Outcome(delivered, retry_at=retry_at)
            if not look_again or not self.is_due(name):
                return Outcome(delivered)
        return Outcome(delivered, busy=True)

    def due(self) -> list[str]:
        """The subscribers whose next event is due now, by name."""
        with self.engine.connect() as connection:
            names = connection.execute(_first_owed(_now())).scalars()
            return [name for name in names if name in self.subscribers]

    def owed(self, subscriber: str) -> int:
        """How many events ``subscriber`` has still to receive."""
        with self.engine.connect() as connection:
            count = connection.execute(
                select(func.count())
                .select_from(event_deliveries)
                .where(event_deliveries.c.subscriber == subscriber)
            ).scalar_one()
        return int(count)

    def is_due(self, name: str) -> bool:
        """Whether the next event owed to ``name`` is due now."""
        with self.engine.connect() as connection:
            first = connection.execute(_FIRST_OWED, {"subscriber": name}).first()
        return first is not None and _due(first.available_at, _now())

    def _deliver_to(self, name: str, owed: Sequence[Any]) -> tuple[int, datetime | None]:
        """Deliver ``owed`` and what follows, in order, holding the lease, until nothing is
        owed or the next event is not due; returns how many, and when to try again if an
        event failed here.

        Each batch's deliveries are removed in one transaction that also reads the next
        batch, and lets the lease go when there is none (or renews it, now and then, when
        there is): a round costs two statements however many events it hands on.
        """
        handle = self.subscribers[name]
        delivered, held, renewed = 0, True, time.monotonic()
        try:
            while owed:
                done: list[int] = []
                due = _leading_due(owed)
                stop, retry_at = len(due) < len(owed), None  # the rest waits for a retry
                finished = False
                try:
                    if not _handled_together(handle, name, due, done):
                        for row in due:
                            event = Event.from_row(row)
                            try:
                                handle(event, event.key(name))
                            except Exception as exc:
                                retry_at = self._postpone(name, event.id, row.attempts + 1, exc)
                                if retry_at is not None:
                                    stop = True
                                    break
                            else:
                                done.append(event.id)
                    finished = True
                finally:
                    if finished and not stop:
                        if self.gather and len(owed) < self.batch:
                            time.sleep(self.gather)
                        renew = time.monotonic() - renewed > self.lease.total_seconds() / 2
                        owed, held = self._done_and_read(name, done, renew=renew)
                        renewed = time.monotonic() if renew else renewed
                    else:
                        self._done(name, done, release=True)
                        owed, held = (), False
                delivered += len(done)
                if stop:
                    return delivered, retry_at
            return delivered, None
        finally:
            if held:
                self._release(name)

    def _done(self, name: str, event_ids: list[int], *, release: bool = False) -> None:
        """Remove the deliveries made (again harmless: a second removal finds nothing), and
        with ``release`` let the lease go in the same transaction."""
        if event_ids or release:
            with write_transaction(self.engine) as connection:
                if event_ids:
                    connection.execute(_DONE_ALL, {"subscriber": name, "event_ids": event_ids})
                if release:
                    connection.execute(_RELEASE, {"subscriber": name, "holder": self.holder})

    def _done_and_read(
        self, name: str, event_ids: list[int], *, renew: bool
    ) -> tuple[Sequence[Any], bool]:
        """Remove the deliveries made and read the next batch owed, in one transaction;
        let the lease go when nothing is owed, and with ``renew`` renew it when something
        is. Returns the batch and whether the lease is still held (not when it was lost
        meanwhile: another process delivers then)."""
        with write_transaction(self.engine) as connection:
            if event_ids:
                connection.execute(_DONE_ALL, {"subscriber": name, "event_ids": event_ids})
            owed = connection.execute(_OWED, {"subscriber": name, "limit": self.batch}).all()
            if not owed:
                connection.execute(_RELEASE, {"subscriber": name, "holder": self.holder})
                return (), False
            if renew:
                until = _now() + self.lease
                kept = connection.execute(
                    _RENEW, {"subscriber": name, "holder": self.holder, "until": until}
                ).rowcount
                if not kept:
                    return (), False
        return owed, True

    def _postpone(
        self, name: str, event_id: int, attempts: int, error: Exception
    ) -> datetime | None:
        """Record the failure; returns when to try again, or None when given up."""
        message = f"{type(error).__name__}: {error}"[:2000]
        if self.give_up_after is not None and attempts >= self.give_up_after:
            logger.error(
                "subscriber %r failed on event %s %s times; moved to the dead letters",
                name,
                event_id,
                attempts,
                exc_info=error,
            )
            delivery = {"subscriber": name, "event_id": event_id}
            with write_transaction(self.engine) as connection:
                connection.execute(_DONE, delivery)
                connection.execute(
                    insert(dead_letters),
                    {**delivery, "attempts": attempts, "error": message, "failed_at": _now()},
                )
            return None
        wait: timedelta = min(FIRST_RETRY * 2 ** min(attempts - 1, 16), LAST_RETRY)
        logger.error(
            "subscriber %r failed on event %s (attempt %s); retrying in %s",
            name,
            event_id,
            attempts,
            wait,
            exc_info=error,
        )
        retry_at = _now() + wait
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(event_deliveries)
                .where(
                    event_deliveries.c.subscriber == name,
                    event_deliveries.c.event_id == event_id,
                )
                .values(attempts=attempts, available_at=retry_at, last_error=message)
            )
        return retry_at

    def _lease(self, name: str) -> bool:
        """Take the lease on ``name``; False while another process holds it."""
        return self._lease_and_read(name, read=False) is not None

    def _lease_and_read(self, name: str, *, read: bool = True) -> Sequence[Any] | None:
        """Take the lease on ``name`` and read the first batch owed to it, in one
        transaction that lets the lease go again when nothing is owed; None while another
        process holds the lease."""
        now = _now()
        lease = {"subscriber": name, "holder": self.holder, "now": now, "until": now + self.lease}
        with write_transaction(self.engine) as connection:
            if connection.execute(_TAKE, lease).rowcount:
                return self._read_first(connection, lease, read=read)
            exists = connection.execute(_SUBSCRIBER, lease).first()
        if exists is not None:
            return None
        try:
            with write_transaction(self.engine) as connection:
                connection.execute(
                    insert(event_subscribers).values(
                        name=name, leased_until=now + self.lease, lease_holder=self.holder
                    )
                )
                return self._read_first(connection, lease, read=read)
        except IntegrityError:
            return None  # another process registered it first, and holds it

    def _read_first(
        self, connection: Connection, lease: Mapping[str, Any], *, read: bool
    ) -> Sequence[Any]:
        """The first batch owed, the lease just taken (let go again if nothing is)."""
        if not read:
            return ()
        owed = connection.execute(_OWED, {"subscriber": lease["subscriber"], "limit": self.batch})
        rows = owed.all()
        if not rows:
            connection.execute(_RELEASE, lease)
        return rows

    def _release(self, name: str) -> None:
        """Let the lease on ``name`` go, if this relay still holds it."""
        with write_transaction(self.engine) as connection:
            connection.execute(_RELEASE, {"subscriber": name, "holder": self.holder})


def _now() -> datetime:
    return datetime.now(UTC)


def _due(available_at: datetime | None, now: datetime) -> bool:
    """Whether a delivery available at ``available_at`` (None: at once) is due ``now``."""
    return available_at is None or aware(available_at) <= now


def _leading_due(owed: Sequence[Any]) -> Sequence[Any]:
    """The rows of ``owed`` before the first that is not due (its retry is on its way)."""
    now = _now()
    for index, row in enumerate(owed):
        if not _due(row.available_at, now):
            return owed[:index]
    return owed


def _handled_together(handle: Subscriber, name: str, rows: Sequence[Any], done: list[int]) -> bool:
    """Hand ``rows``' events to a :class:`BatchSubscriber` in one call, adding their ids to
    ``done``; False when ``handle`` takes them one at a time, or raised on the batch (then
    each is handed on alone, so that the one that fails is retried and the others are
    done; those the batch did already come again, with their idempotency keys)."""
    handle_many = getattr(handle, "handle_many", None)
    if handle_many is None or len(rows) < 2:
        return False
    events = [Event.from_row(row) for row in rows]
    try:
        handle_many([(event, event.key(name)) for event in events])
    except Exception:
        logger.warning(
            "subscriber %r failed on a batch of %s events; handing them on one at a time",
            name,
            len(events),
            exc_info=True,
        )
        return False
    done.extend(event.id for event in events)
    return True


def _first_owed(now: datetime) -> Select[Any]:
    """The subscribers whose first event owed is due at ``now``: a later event waits for
    an earlier one that is backing off."""
    first = (
        select(
            event_deliveries.c.subscriber,
            func.min(event_deliveries.c.event_id).label("event_id"),
        )
        .group_by(event_deliveries.c.subscriber)
        .subquery()
    )
    return (
        select(first.c.subscriber)
        .join(
            event_deliveries,
            and_(
                event_deliveries.c.subscriber == first.c.subscriber,
                event_deliveries.c.event_id == first.c.event_id,
            ),
        )
        .where(
            or_(event_deliveries.c.available_at.is_(None), event_deliveries.c.available_at <= now)
        )
        .order_by(first.c.subscriber)
    )


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

_FIRST_OWED = (
    select(event_deliveries.c.available_at)
    .where(event_deliveries.c.subscriber == bindparam("subscriber"))
    .order_by(event_deliveries.c.event_id)
    .limit(1)
)
"""The first delivery owed to a subscriber, whose time says whether it is due."""

_TAKE = (
    update(event_subscribers)
    .where(
        event_subscribers.c.name == bindparam("subscriber"),
        or_(
            event_subscribers.c.leased_until.is_(None),
            event_subscribers.c.leased_until < bindparam("now"),
        ),
    )
    .values(leased_until=bindparam("until"), lease_holder=bindparam("holder"))
)
"""The lease on a subscriber taken, unless another holder's has still to run out."""

_HELD = (event_subscribers.c.name == bindparam("subscriber")) & (
    event_subscribers.c.lease_holder == bindparam("holder")
)
_RENEW = update(event_subscribers).where(_HELD).values(leased_until=bindparam("until"))
_RELEASE = update(event_subscribers).where(_HELD).values(leased_until=None, lease_holder=None)
"""The lease renewed, or let go, only while its holder still holds it."""

_SUBSCRIBER = select(event_subscribers.c.name).where(
    event_subscribers.c.name == bindparam("subscriber")
)

_DONE_ALL = delete(event_deliveries).where(
    event_deliveries.c.subscriber == bindparam("subscriber"),
    event_deliveries.c.event_id.in_(bindparam("event_ids", expanding=True)),
)
"""The deliveries of a batch, removed in one statement (not one a row)."""

_DONE = delete(event_deliveries).where(
    and_(
        event_deliveries.c.subscriber == bindparam("subscriber"),
        event_deliveries.c.event_id == bindparam("event_id"),
    )
)
