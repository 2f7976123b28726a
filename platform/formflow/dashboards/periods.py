"""Periods and time buckets as date ranges: what a bucket label or "this month" covers.

A bucket label (``2026-01``, ``2026-W05``, ``2026-Q1``) comes back from the database; a
drill-down needs the first and last day it covers, and a number widget needs the current
and the previous period around today in the instance's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from formflow.errors import N_, QueryError


@dataclass(frozen=True)
class Span:
    """The days from ``first`` to ``last``, both included."""

    first: date
    last: date

    def days(self) -> int:
        return (self.last - self.first).days + 1

    def before(self) -> Span:
        """The span of the same length that ends the day before this one starts."""
        last = self.first - timedelta(days=1)
        return Span(last - timedelta(days=self.days() - 1), last)

    def overlap(self, other: Span | None) -> Span | None:
        """The days in both; ``None`` when they share none."""
        if other is None:
            return self
        first, last = max(self.first, other.first), min(self.last, other.last)
        return Span(first, last) if first <= last else None


def bucket_span(bucket: str, label: str) -> Span:
    """The days a bucket label covers, such as ``2026-Q1`` -> 1 January to 31 March."""
    try:
        if bucket == "day":
            day = date.fromisoformat(label)
            return Span(day, day)
        if bucket == "week":
            year, week = label.split("-W")
            monday = date.fromisocalendar(int(year), int(week), 1)
            return Span(monday, monday + timedelta(days=6))
        if bucket == "month":
            year, month = label.split("-")
            return _months(int(year), int(month), 1)
        if bucket == "quarter":
            year, quarter = label.split("-Q")
            return _months(int(year), 3 * int(quarter) - 2, 3)
        if bucket == "year":
            return _months(int(label), 1, 12)
    except ValueError:
        pass
    raise QueryError(N_("'%(label)s' is not a %(bucket)s bucket"), label=label, bucket=bucket)


def period_span(period: str, today: date) -> Span:
    """The period (day, week, month, quarter or year) that holds ``today``."""
    if period == "day":
        return Span(today, today)
    if period == "week":
        monday = today - timedelta(days=today.weekday())
        return Span(monday, monday + timedelta(days=6))
    if period == "month":
        return _months(today.year, today.month, 1)
    if period == "quarter":
        return _months(today.year, 3 * ((today.month - 1) // 3) + 1, 3)
    if period == "year":
        return _months(today.year, 1, 12)
    raise QueryError(N_("unknown period '%(period)s'"), period=period)


def previous_period(period: str, span: Span) -> Span:
    """The period before ``span``: the previous calendar month, quarter or year, or the
    same number of days before for a week, a day or a range the viewer chose."""
    if period in ("month", "quarter", "year"):
        return period_span(period, span.first - timedelta(days=1))
    return span.before()


def _months(year: int, month: int, count: int) -> Span:
    end_month = month + count
    end_year = year + (end_month - 1) // 12
    end_month = (end_month - 1) % 12 + 1
    return Span(date(year, month, 1), date(end_year, end_month, 1) - timedelta(days=1))
