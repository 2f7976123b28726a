"""The built-in expression functions, registered as a plugin like any other's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from formflow.hookspecs import hookimpl


def add_days(value: date | None, days: int) -> date | None:
    """``value`` (a date or date-time) moved ``days`` later (earlier when negative); none
    stays none. Rules use it to say when something falls due."""
    if value is None:
        return None
    if not isinstance(value, date) or isinstance(days, bool) or not isinstance(days, int):
        raise TypeError("add_days takes a date or date-time and a whole number of days")
    return value + timedelta(days=days)


@hookimpl(trylast=True)
def formflow_expression_functions() -> dict[str, Callable[..., Any]]:
    return {"add_days": add_days}
