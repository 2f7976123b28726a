"""The outbox: events appended in the transaction of the change they describe.

An event written after the commit could be lost when the process dies in between; one
written inside the transaction commits or rolls back with the change. Beside each event
one *delivery owed* row is written per subscriber, which the relay deletes once that
subscriber has the event; so a subscriber added later is not flooded with history, and an
event that commits late (PostgreSQL assigns ids before commit) is never skipped. The event
row names those subscribers, and the database writes their rows in the event's own insert,
so an event costs a write no statement of its own inside a unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy import Connection, insert

from formflow.records.audit import jsonable
from formflow.records.unit import current_unit
from formflow.storage.platform_tables import events


class EventKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RESTORED = "restored"
    STATE_ENTERED = "state_entered"  # a workflow instance entered a node (or ended)
    TASK_DECIDED = "task_decided"  # someone approved or rejected a workflow task
    NOTIFY = "notify"  # what a workflow step tells people, written after it commits


class NewEvent(TypedDict):
    """An event as a writer hands it to :meth:`Outbox.append`: what happened to which
    record, how, by whom and when; the outbox gives it an id and keeps its values as JSON
    keeps them (see :class:`Event`)."""

    kind: EventKind
    app_key: str
    form_key: str
    record_id: int
    record: Mapping[str, Any]
    changes: NotRequired[Mapping[str, tuple[Any, Any]] | None]
    detail: NotRequired[Mapping[str, Any] | None]
    user_id: int | None
    at: datetime


@dataclass(frozen=True)
class Event:
    """One committed change of one record.

    ``record`` holds the record's values as JSON keeps them (dates and decimals as text):
    after a create, update or restore as stored, after a delete as it was. ``changes`` maps
    each field an update changed to its ``(old, new)`` values, also as JSON keeps them.
    """

    id: int
    app_key: str
    form_key: str
    record_id: int
    kind: EventKind
    user_id: int | None
    at: datetime
    record: Mapping[str, Any] = field(default_factory=dict)
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)
    """What a workflow event adds: the instance, node, task, decision and comment."""
    cause: Mapping[str, Any] = field(default_factory=dict)
    """What made the change when it was not a person alone: the automation and its depth
    (see :func:`caused_by`)."""

    @property
    def depth(self) -> int:
        """How many automations ran one after another to make this change (0: none)."""
        return int(self.cause.get("depth", 0))

    def key(self, subscriber: str) -> str:
        """The idempotency key of this event for ``subscriber``: the same on every retry."""
        return f"{subscriber}:{self.id}"

    @classmethod
    def from_row(cls, row: Any) -> Event:
        data = row.data or {}
        return cls(
            id=row.id,
            app_key=row.app_key,
            form_key=row.form_key,
            record_id=row.record_id,
            kind=EventKind(row.kind),
            user_id=row.user_id,
            at=row.at,
            record=data.get("record", {}),
            changes={key: (pair[0], pair[1]) for key, pair in data.get("changes", {}).items()},
            detail=data.get("detail", {}),
            cause=data.get("cause", {}),
        )


Check = Callable[[Connection, str, str, int, "EventKind"], bool]
"""Whether a subscriber wants an event: asked on the writer's connection with the event's
app, form, record id and kind."""


class Outbox:
    """Appends events, and the deliveries they owe, on the writer's connection."""

    def __init__(
        self,
        subscribers: Collection[str] = (),
        *,
        forms: Mapping[str, Collection[str]] | None = None,
        owing: Callable[[], object] | None = None,
        checks: Mapping[str, Check] | None = None,
    ) -> None:
        """``forms`` narrows a subscriber to the events of the forms it lists (a subscriber
        it leaves out is owed every event); ``checks`` narrows one further, event by event,
        to those its check says it wants (for a subscriber that cares about a few records,
        such as their followers'); ``owing`` is called whenever an append owes someone a
        delivery, so that the writer rings the relay only then."""
        self.subscribers = tuple(sorted(subscribers))
        self.forms = {name: frozenset(keys) for name, keys in (forms or {}).items()}
        self.owing = owing
        self.checks = {name: check for name, check in (checks or {}).items()}

    def owed(self, form_key: str) -> tuple[str, ...]:
        """The subscribers an event of ``form_key`` is owed to."""
        return tuple(
            name
            for name in self.subscribers
            if name not in self.forms or form_key in self.forms[name]
        )

    def append(self, connection: Connection, **event: Unpack[NewEvent]) -> None:
        """Write one event in the caller's transaction (see :meth:`_write`)."""
        owed = self._wanted(
            connection, event["app_key"], event["form_key"], event["record_id"], event["kind"]
        )
        self._write(connection, [_row(event, owed)])

    def append_all(self, connection: Connection, appended: Sequence[Mapping[str, Any]]) -> None:
        """Write several events, each given as :meth:`append`'s keyword arguments: the
        events of a workflow step, written together."""
        if len(appended) == 1:  # one check asks about one record: no warming up
            self.append(connection, **appended[0])
            return
        rows = [_row(event, ()) for event in appended]
        self._warm(connection, rows)
        for row in rows:
            owed = self._wanted(
                connection,
                row["app_key"],
                row["form_key"],
                row["record_id"],
                EventKind(row["kind"]),
            )
            row["owed_to"] = list(owed) if owed else None
        self._write(connection, rows)

    def append_many(
        self,
        connection: Connection,
        *,
        app_key: str,
        form_key: str,
        kind: EventKind,
        user_id: int | None,
        at: datetime,
        records: Sequence[Mapping[str, Any]],
    ) -> None:
        """Write one event per record (each with its ``id``), for a batch of writes such
        as an import."""
        if not records:
            return
        cause = _cause.get()
        rows = []
        for record in records:
            data: dict[str, Any] = {"record": jsonable(dict(record))}
            if cause:
                data["cause"] = dict(cause)
            owed = self._wanted(connection, app_key, form_key, record["id"], kind)
            rows.append(
                {
                    "app_key": app_key,
                    "form_key": form_key,
                    "record_id": record["id"],
                    "kind": kind.value,
                    "user_id": user_id,
                    "at": at,
                    "data": data,
                    "owed_to": list(owed) if owed else None,
                }
            )
        self._write(connection, rows)

    def _write(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows``, in their order, and with them the deliveries they owe: the
        database writes those from each row's ``owed_to`` (a trigger, see
        :data:`~formflow.storage.platform_tables.EVENTS_OWE`), so nothing needs an
        event's id. Inside a unit of work open on ``connection`` they are kept back and
        written just before its commit, after every row the unit kept before them (on
        PostgreSQL in the audit chain's statement, see
        :meth:`~formflow.records.unit.UnitOfWork.kept_inserts`); their ids, which order
        the deliveries, then follow the order the unit's writes made them in. When one
        owes a delivery, ``owing`` rings the relay after the commit."""
        unit = current_unit()
        if unit is not None and unit.connection is connection:
            unit.kept_inserts(events).extend(rows)
        else:
            connection.execute(_APPEND, rows)
        if self.owing is not None and any(row["owed_to"] for row in rows):
            self.owing()

    def _warm(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Let each check that can (one with a ``warm`` method) answer for many events'
        records at once, rather than one query an event."""
        for check in self.checks.values():
            warm = getattr(check, "warm", None)
            if warm is None:
                continue
            by_form: dict[tuple[str, str], list[int]] = {}
            for row in rows:
                by_form.setdefault((row["app_key"], row["form_key"]), []).append(row["record_id"])
            for (app_key, form_key), ids in by_form.items():
                warm(connection, app_key, form_key, ids)

    def _wanted(
        self, connection: Connection, app_key: str, form_key: str, record_id: int, kind: EventKind
    ) -> tuple[str, ...]:
        return tuple(
            name
            for name in self.owed(form_key)
            if name not in self.checks
            or self.checks[name](connection, app_key, form_key, record_id, kind)
        )


def _row(event: Mapping[str, Any], owed: Sequence[str]) -> dict[str, Any]:
    """An event's row as stored, its values as JSON keeps them, owed to ``owed``."""
    record = event["record"]
    # jsonable() makes a dict anew: a record handed as one (every write's) needs no copy first
    data: dict[str, Any] = {"record": jsonable(record if type(record) is dict else dict(record))}
    changes, detail = event.get("changes"), event.get("detail")
    if changes:
        data["changes"] = {
            key: [jsonable(old), jsonable(new)] for key, (old, new) in changes.items()
        }
    if detail:
        data["detail"] = jsonable(dict(detail))
    cause = _cause.get()
    if cause:
        data["cause"] = dict(cause)
    return {
        "app_key": event["app_key"],
        "form_key": event["form_key"],
        "record_id": event["record_id"],
        "kind": event["kind"].value,
        "user_id": event["user_id"],
        "at": event["at"],
        "data": data,
        "owed_to": list(owed) if owed else None,
    }


@contextmanager
def caused_by(cause: Mapping[str, Any]) -> Iterator[None]:
    """Mark every event appended in this context with ``cause`` (plain JSON values): an
    automation's writes carry its key and depth, so a rule that sets itself off again can
    be stopped."""
    token = _cause.set(cause)
    try:
        yield
    finally:
        _cause.reset(token)


_cause: ContextVar[Mapping[str, Any] | None] = ContextVar("formflow_event_cause", default=None)
_APPEND = insert(events)


def returned_ids(
    connection: Connection, ordered: Any, unordered: Any, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """The ids of ``rows`` inserted together, in their order. SQLAlchemy keeps that order
    on SQLite only by sending one INSERT a row; SQLite numbers the rows of an INSERT in
    their order, one writer at a time, so there the ids of the multi-row ``unordered``
    insert, sorted, are in the rows' order (a slice of 500 events: 4 statements, not 500)."""
    if connection.dialect.name == "sqlite":
        return sorted(int(i) for i in connection.execute(unordered, list(rows)).scalars())
    return [int(i) for i in connection.execute(ordered, list(rows)).scalars()]
