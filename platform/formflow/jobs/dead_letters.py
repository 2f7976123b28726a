"""The dead letters: deliveries given up after their last retry, for an admin to retry.

The relay moves a delivery here once its subscriber has failed on it ``give_up_after``
times, so the subscriber's later events go on. Retrying owes the delivery again, with its
attempts counted from nought; the caller then rings the queue (``relay.committed()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select

from formflow.errors import FormflowError
from formflow.storage.platform_tables import dead_letters, event_deliveries, events
from formflow.storage.rows import aware, from_row


class UnknownDeadLetterError(FormflowError):
    """No dead letter has that id (already retried, or never there)."""


@dataclass(frozen=True)
class DeadLetter:
    id: int
    subscriber: str
    event_id: int
    app_key: str
    form_key: str
    record_id: int
    kind: str
    attempts: int
    error: str
    failed_at: datetime


def list_dead_letters(connection: Connection, *, limit: int = 200) -> list[DeadLetter]:
    """The newest dead letters first, at most ``limit``."""
    rows = connection.execute(_LETTERS.order_by(dead_letters.c.id.desc()).limit(limit))
    return [_letter(row) for row in rows]


def count_dead_letters(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(dead_letters)).scalar_one())


def retry_dead_letter(connection: Connection, letter_id: int) -> DeadLetter:
    """Owe the delivery again and drop the letter; raises :class:`UnknownDeadLetterError`."""
    row = connection.execute(_LETTERS.where(dead_letters.c.id == letter_id)).first()
    if row is None:
        raise UnknownDeadLetterError(f"no dead letter {letter_id}; `formflow jobs dead` lists them")
    connection.execute(delete(dead_letters).where(dead_letters.c.id == letter_id))
    connection.execute(
        insert(event_deliveries).values(
            subscriber=row.subscriber, event_id=row.event_id, attempts=0
        )
    )
    return _letter(row)


_LETTERS = select(
    dead_letters,
    events.c.app_key,
    events.c.form_key,
    events.c.record_id,
    events.c.kind,
).join(events, events.c.id == dead_letters.c.event_id)


def _letter(row: Row[Any]) -> DeadLetter:
    return from_row(DeadLetter, row, error=row.error or "", failed_at=aware(row.failed_at))
