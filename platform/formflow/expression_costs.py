"""What a filter, method or operator will build, predicted before it runs.

Measuring a value after it is built (:mod:`formflow.expression_budget`) bounds everything
whose cost is proportional to what it has been given. These checks cover the rest: work that
grows with an argument (``center(10**9)``, ``'ab' * n``, ``9 ** 99``) or multiplies one text
into many places (``replace('', x)``, ``indent(x)``), where the value would exhaust the
machine before it could be measured. Each check raises
:class:`~formflow.expression_budget.BudgetExceeded` through the budget, or returns quietly.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from numbers import Number
from typing import Any

from formflow.expression_budget import Budget, BudgetExceeded, measure

Check = Callable[..., None]

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_binop(budget: Budget, operator: str, left: Any, right: Any) -> None:
    limits = budget.limits
    if operator == "**" and isinstance(right, int | float | Decimal):
        if not -limits.power <= right <= limits.power:
            raise BudgetExceeded(f"the exponent is larger than {limits.power}")
        whole = isinstance(left, int) and isinstance(right, int) and right > 0
        if whole and left.bit_length() * right > limits.integer_bits:
            raise BudgetExceeded(
                f"it would build a whole number of more than {limits.integer_bits:,} bits"
            )
    elif operator == "*":
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, str | bytes | list | tuple) and isinstance(count, int):
                budget.allow(measure(sequence, limits) * count)
    elif operator == "%" and isinstance(left, str):
        check_percent_format(budget, left, right)


def check_percent_format(budget: Budget, template: str, values: Any) -> None:
    """``template % values``: every width and precision, written or passed with ``*``."""
    starred = False
    for match in _PERCENT_SPEC.finditer(template):
        for number in match.groups():
            if number == "*":
                starred = True
            elif number:
                budget.allow(int(number))
    if starred:
        for value in values if isinstance(values, tuple) else (values,):
            if isinstance(value, int):
                budget.allow(value)


def check_str_format(budget: Budget, template: str) -> None:
    """``template.format(...)``: widths and precisions are written in the template."""
    for _text, name, spec, _conversion in string.Formatter().parse(template):
        if name is None or not spec:
            continue
        if "{" in spec:
            raise BudgetExceeded("a format field inside a format specification is not allowed")
        for number in re.findall(r"\d+", spec):
            budget.allow(int(number))


def check_method(
    budget: Budget, method: Any, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> None:
    """A method of a text, bytes or whole number (the only built-in ones that can grow)."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if isinstance(owner, str | bytes):
        check = _TEXT_METHODS.get(name)
    elif isinstance(owner, int) and name == "to_bytes":
        check = _to_bytes
    else:
        check = None
    if check is not None:
        check(budget, owner, *args, **kwargs)


def check_filter(budget: Budget, name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """A built-in filter, given its value and arguments (without a context or environment)."""
    check = _FILTERS.get(name)
    if check is not None and args:
        check(budget, *args, **kwargs)


def _text(value: Any) -> str | bytes:
    return value if isinstance(value, str | bytes) else str(value)


def _width(budget: Budget, value: Any, width: Any = 80, *_args: Any, **_kwargs: Any) -> None:
    if isinstance(width, int):
        budget.allow(width)


def _replace(budget: Budget, value: Any, old: Any, new: Any, count: Any = -1) -> None:
    text: Any = _text(value)
    if not isinstance(old, type(text)) or not isinstance(new, type(text)):
        return
    places = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        places = min(places, count)
    budget.allow(len(text) + places * max(0, len(new) - len(old)))


def _expandtabs(budget: Budget, value: Any, tabsize: Any = 8) -> None:
    text = _text(value)
    tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
    if isinstance(tabsize, int):
        budget.allow(len(text) + tabs * tabsize)


def _join(budget: Budget, separator: Any, items: Any = (), *_args: Any) -> None:
    if isinstance(items, Sequence):
        budget.allow(measure(items, budget.limits) + len(_text(separator)) * len(items))


def _join_filter(
    budget: Budget, items: Any, separator: Any = "", *_args: Any, **_kwargs: Any
) -> None:
    _join(budget, separator, items)


def _translate(budget: Budget, value: Any, table: Any) -> None:
    if isinstance(table, Mapping):
        longest = max((measure(v, budget.limits) for v in table.values()), default=1)
        budget.allow(len(_text(value)) * max(1, longest))


def _to_bytes(budget: Budget, _value: Any, length: Any = 1, *_args: Any, **_kwargs: Any) -> None:
    if isinstance(length, int):
        budget.allow(length)


def _indent(budget: Budget, value: Any, width: Any = 4, *_args: Any, **_kwargs: Any) -> None:
    text = _text(value)
    prefix = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    budget.allow(len(text) + (text.count("\n") + 1) * prefix)  # type: ignore[arg-type]


def _wordwrap(
    budget: Budget, value: Any, width: Any = 79, _long: Any = True, wrap: Any = None, *_a: Any
) -> None:
    text = _text(value)
    if isinstance(width, int) and width > 0:
        lines = 2 * len(text) // width + text.count("\n") + 2  # type: ignore[arg-type]
        budget.allow(len(text) + lines * (len(wrap) if isinstance(wrap, str) else 1))


def _wordwrap_filter(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> None:
    named = ("width", "break_long_words", "wrapstring")
    given = dict(zip(named, args, strict=False)) | {k: kwargs[k] for k in named if k in kwargs}
    _wordwrap(
        budget,
        value,
        given.get("width", 79),
        True,
        given.get("wrapstring"),
    )


def _repeat_count(budget: Budget, value: Any, count: Any = 1, *_args: Any, **_kwargs: Any) -> None:
    if isinstance(count, int):
        budget.allow(count)
        budget.allow(measure(value, budget.limits) + count)


def _round(budget: Budget, _value: Any, precision: Any = 0, *_args: Any, **_kwargs: Any) -> None:
    if isinstance(precision, int) and abs(precision) > budget.limits.digits:
        raise BudgetExceeded(f"it rounds to more than {budget.limits.digits:,} digits")


def _format_filter(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent_format(budget, str(value), tuple(args) or kwargs)


def _sum(budget: Budget, items: Any, attribute: Any = None, start: Any = 0) -> None:
    if isinstance(start, Number) or not isinstance(items, Sequence):
        return
    size = measure(items, budget.limits) + measure(start, budget.limits)
    budget.allow(size)
    budget.spend(len(items) * size // 1000)  # adding sequences one by one copies each again


def _tojson(budget: Budget, value: Any, indent: Any = None) -> None:
    if isinstance(indent, int) and indent > 0:
        budget.allow(measure(value, budget.limits) * (10 + indent * _nesting(value)))


def _urlize(budget: Budget, value: Any, *_args: Any, **kwargs: Any) -> None:
    extra = sum(len(kwargs.get(key) or "") for key in ("target", "rel"))
    text = _text(value)
    budget.allow(3 * len(text) + (len(text) // 2 + 1) * extra)


def _nesting(value: Any) -> int:
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(item, Mapping):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            pending.extend((child, depth + 1) for child in item)
    return deepest


_TEXT_METHODS: dict[str, Check] = {
    "center": _width,
    "ljust": _width,
    "rjust": _width,
    "zfill": _width,
    "expandtabs": _expandtabs,
    "replace": _replace,
    "join": _join,
    "translate": _translate,
}

_FILTERS: dict[str, Check] = {
    "batch": _repeat_count,
    "center": _width,
    "format": _format_filter,
    "indent": _indent,
    "join": _join_filter,
    "replace": _replace,
    "round": _round,
    "slice": _repeat_count,
    "sum": _sum,
    "tojson": _tojson,
    "urlize": _urlize,
    "wordwrap": _wordwrap_filter,
}
