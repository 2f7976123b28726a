"""Widget results kept between views, dropped exactly when a form they read has changed.

Every committed write appends an event to the outbox (``ff_events``) in its own
transaction, so the outbox says which forms changed and when. An entry remembers the newest
event id when it was computed (the *watermark*). On the next view the newest id is read
again (the primary key's maximum: one index probe); if it moved, the events after the
entry's watermark are checked for the forms the widget reads (a short range of the primary
key). No such event: the entry still holds, and takes the new watermark. Any: the widget is
computed again. A write followed by a view therefore shows the new figure at once, and
writes to other forms leave the entry alone.

On PostgreSQL a transaction may commit an event with a smaller id than one already seen;
such a straggler would be missed by the range check, so entries also expire after ``ttl``
seconds, which bounds that rare staleness. Entries are per process and keyed by everything
a result depends on: the definition, the widget, the viewer's filters, the actor (their
reach) and the day.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import events

DEFAULT_SIZE = 2048
DEFAULT_TTL = 60.0


@dataclass
class _Entry:
    value: Any
    watermark: int
    forms: frozenset[str]
    born: float


class ResultCache:
    """A bounded, thread-safe map from widget keys to results, checked against the outbox."""

    def __init__(
        self,
        engine: Engine,
        *,
        size: int = DEFAULT_SIZE,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def watermark(self) -> int:
        """The newest event id: whatever is computed after reading it includes that event."""
        with read_transaction(self.engine) as connection:
            found = connection.execute(select(func.max(events.c.id))).scalar_one()
        return int(found or 0)

    def get_or_compute(
        self,
        key: Hashable,
        app_key: str,
        forms: Collection[str],
        compute: Callable[[], Any],
        *,
        watermark: int | None = None,
    ) -> Any:
        """The kept result for ``key`` if no event of ``forms`` came since; else a new one."""
        now_mark = self.watermark() if watermark is None else watermark
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and self._holds(entry, app_key, now_mark):
            with self._lock:
                entry.watermark = max(entry.watermark, now_mark)
                self._entries.move_to_end(key)
                self.hits += 1
            return entry.value
        value = compute()
        with self._lock:
            self.misses += 1
            self._entries[key] = _Entry(value, now_mark, frozenset(forms), self.clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def _holds(self, entry: _Entry, app_key: str, now_mark: int) -> bool:
        if self.clock() - entry.born > self.ttl:
            return False
        if now_mark <= entry.watermark:
            return True
        statement = (
            select(events.c.id)
            .where(
                events.c.id > entry.watermark,
                events.c.id <= now_mark,
                events.c.app_key == app_key,
                events.c.form_key.in_(sorted(entry.forms)),
            )
            .limit(1)
        )
        with read_transaction(self.engine) as connection:
            return connection.execute(statement).first() is None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
