"""What one evaluation of a user expression may spend: steps, time and the size of its values.

A sandbox that only hides Python internals still lets ``'x' | center(10**9)`` or a chain of
powers take the server's memory or minutes of its time. So every evaluation runs against a
:class:`Budget`: each operator, call, filter, test and attribute read is a step (and checks
the clock), and every value they produce is measured. A template's loops count each turn
as well (an empty loop does no operation), and its macros how deeply they call each other. Measuring is cheap and generic, which is
what makes the bound hold whatever path builds a value; where building itself would be the
expensive part (a width, a repeat count, an exponent), the cost is predicted and checked first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Limits:
    """The budget of one evaluation; the defaults are generous for any real formula."""

    size: int = 100_000
    """Characters or items in any one value built (a list counts its items and theirs)."""
    total: int = 1_000_000
    """Characters or items all the values one evaluation builds may add up to; also the most
    any one value given to an operation may hold (a long text field, a large subtable)."""
    integer_bits: int = 4096
    """Bits in a whole number (4,096 bits is about 1,233 digits)."""
    power: int = 100
    """The largest exponent of ``**``."""
    depth: int = 50
    """Levels of nesting in an expression's text: brackets, operators, filters."""
    steps: int = 100_000
    """Operators, calls, filters, tests and attribute reads in one evaluation."""
    iterations: int = 50_000
    """Turns of all the loops of one template rendering, nested ones included: a loop over
    an empty body calls no operation, so steps alone would not stop it."""
    seconds: float = 1.0
    """Time one evaluation may run."""

    @property
    def digits(self) -> int:
        """The decimal digits a whole number of ``integer_bits`` bits may have."""
        return int(self.integer_bits * 0.30103)


class BudgetExceeded(Exception):
    """An evaluation went past one of its :class:`Limits`; the message says which."""


_current: ContextVar[Budget | None] = ContextVar("formflow_expression_budget", default=None)


class Budget:
    """The steps, time and size one evaluation has left."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.steps = 0
        self.iterations = 0
        self.calls = 0
        self.built = 0
        self.deadline = time.monotonic() + limits.seconds

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise BudgetExceeded(f"it takes more than {self.limits.steps:,} steps")
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(f"it runs longer than {self.limits.seconds:g} seconds")

    def iterate(self) -> None:
        """Count one turn of a loop (as a step too, so the clock is checked)."""
        self.iterations += 1
        if self.iterations > self.limits.iterations:
            raise BudgetExceeded(f"its loops run more than {self.limits.iterations:,} times")
        self.step()

    @contextmanager
    def calling(self) -> Iterator[None]:
        """Run a macro or a recursive loop one level deeper, refused past ``limits.depth``
        levels: a template calling itself would otherwise end in Python's recursion limit."""
        self.calls += 1
        try:
            if self.calls > self.limits.depth:
                raise BudgetExceeded(f"it calls itself more than {self.limits.depth} levels deep")
            yield
        finally:
            self.calls -= 1

    def spend(self, steps: int) -> None:
        """Count work that takes ``steps`` steps' worth of time inside one operation."""
        self.steps += max(0, steps - 1)
        self.step()

    def allow(self, size: int) -> None:
        """Refuse before building a value predicted to hold ``size`` characters or items."""
        if size > self.limits.size:
            raise BudgetExceeded(
                f"it would build a value of more than {self.limits.size:,} characters or items"
            )

    def accept(self, value: Any) -> Any:
        """``value``, once it is known to fit; counts it towards the evaluation's total."""
        size = measure(value, self.limits)
        self.allow(size)
        self.built += size
        if self.built > self.limits.total:
            raise BudgetExceeded(
                f"it builds more than {self.limits.total:,} characters or items in all"
            )
        return value

    def receive(self, value: Any) -> None:
        """Check a value handed to an operation: the record's own values may be larger than
        a value built, but ``[x, x, x, ...]`` (built without a check) may not be huge."""
        if measure(value, self.limits, self.limits.total) > self.limits.total:
            raise BudgetExceeded(
                f"it is given a value of more than {self.limits.total:,} characters or items"
            )


def current() -> Budget:
    budget = _current.get()
    if budget is None:
        raise RuntimeError("an expression operation ran outside an evaluation")
    return budget


@contextmanager
def spending(limits: Limits) -> Iterator[Budget]:
    """Run the block as one evaluation with a fresh budget."""
    budget = Budget(limits)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def measure(value: Any, limits: Limits, cap: int | None = None) -> int:
    """How many characters or items ``value`` holds, counting into containers.

    Stops counting once past ``cap`` (``limits.size`` unless given). A number counts as one, but a whole number
    past ``limits.integer_bits`` bits (or a decimal that large or that small) is refused
    outright: every later step on it would cost more than a step should.
    """
    cap = limits.size if cap is None else cap
    total = 0
    pending = [value]
    while pending and total <= cap:
        item = pending.pop()
        kind = type(item)
        if kind is str:  # the common types first: checks against ABCs are slow
            total += len(item)
        elif kind is dict:
            total += len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        elif kind is list or kind is tuple:
            total += len(item)
            pending.extend(item)
        elif kind is float or kind is bool or item is None:
            total += 1
        elif kind is range:  # cheap to make, but as long as the items it would give
            total += _length(item, cap)
        elif kind is int or kind is Decimal:
            _check_number(item, limits)
            total += 1
        elif isinstance(item, str | bytes | bytearray):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            pending.extend(item)
        else:
            _check_number(item, limits)
            total += 1
    return total


def _length(items: range, cap: int) -> int:
    try:
        return len(items)
    except OverflowError:  # more items than a machine word counts
        return cap + 1


def _check_number(value: Any, limits: Limits) -> None:
    if isinstance(value, int) and value.bit_length() > limits.integer_bits:
        raise BudgetExceeded(f"it builds a whole number of more than {limits.integer_bits:,} bits")
    decimal = isinstance(value, Decimal) and value.is_finite() and value
    if decimal and abs(value.adjusted()) > limits.digits:
        raise BudgetExceeded(f"it builds a number of more than {limits.digits:,} digits")
