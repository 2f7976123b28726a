"""Cron schedules read on the instance's clock, safe across daylight-saving changes.

People mean wall-clock time: "0 9 * * 1-5" is nine in the morning where the business is,
whatever the server's zone. Huey's own check reads the server's clock (or UTC), so a
schedule here reads each minute in the instance's zone instead, with two rules for the
days the clocks change: a time the clocks jump over runs once, at the minute they land
(02:30 on a spring-forward night runs at 03:00), and a time the clocks pass twice runs
once, the first time. Each wall-clock time named runs exactly once a day it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from huey import crontab

from formflow.errors import FormflowError

MINUTE = timedelta(minutes=1)


_FIELDS = (
    ("minute", "0 to 59"),
    ("hour", "0 to 23"),
    ("day", "1 to 31"),
    ("month", "1 to 12"),
    ("weekday", "0 (Sunday) to 6"),
)
"""A cron expression's five fields in order, and the values each takes."""


def _wrong(fields: list[str], error: ValueError) -> str:
    """Which field of ``fields`` huey refused, and what it takes: huey says only "25 is not
    a valid input", without the field."""
    for position, (name, values) in enumerate(_FIELDS):
        alone = ["*"] * len(_FIELDS)
        alone[position] = fields[position]
        try:
            crontab(*alone, strict=True)
        except ValueError:
            return f"the {name} is {values} (got {fields[position]!r})"
    return str(error)


class ScheduleError(FormflowError):
    """A cron expression that cannot be read; the message quotes it."""


class Schedule:
    """A five-field cron expression (minute hour day month weekday) in ``zone``."""

    def __init__(self, cron: str, zone: tzinfo) -> None:
        fields = cron.split()
        if len(fields) != 5:
            raise ScheduleError(
                f"schedule {cron!r} needs five fields: minute hour day month weekday"
            )
        try:
            self._matches: Callable[[datetime], bool] = crontab(*fields, strict=True)
        except ValueError as error:
            raise ScheduleError(
                f"schedule {cron!r} cannot be read: {_wrong(fields, error)}"
            ) from None
        self.cron = cron
        self.zone = zone

    def due(self, minute: datetime) -> bool:
        """Whether the schedule runs in the minute that starts at ``minute``.

        ``minute`` is UTC; naive, as huey's scheduler hands it over, or aware.
        """
        moment = (minute if minute.tzinfo else minute.replace(tzinfo=UTC)).replace(
            second=0, microsecond=0
        )
        local = moment.astimezone(self.zone)
        if _second_pass(local):
            return False
        wall = local.replace(tzinfo=None)
        if self._matches(wall):
            return True
        previous = (moment - MINUTE).astimezone(self.zone).replace(tzinfo=None)
        skipped = (wall - previous) // MINUTE - 1
        return any(self._matches(previous + MINUTE * step) for step in range(1, skipped + 1))

    def runs(self, start: datetime, end: datetime) -> list[datetime]:
        """The minutes (aware, UTC) from ``start`` up to ``end`` at which it runs."""
        moment = start.astimezone(UTC).replace(second=0, microsecond=0)
        found = []
        while moment < end:
            if self.due(moment):
                found.append(moment)
            moment += MINUTE
        return found


def _second_pass(local: datetime) -> bool:
    """Whether ``local`` is the second time the clocks show this time today."""
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()
