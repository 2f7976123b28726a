"""The built-in expression functions, registered as a plugin like any other's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from types import MappingProxyType
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


BUILTIN_FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType({"add_days": add_days})
"""The functions every expression may call, plugins loaded or not."""


@hookimpl(trylast=True)
def formflow_expression_functions() -> dict[str, Callable[..., Any]]:
    return dict(BUILTIN_FUNCTIONS)
