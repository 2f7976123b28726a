"""Jinja2's immutable sandbox, with every operation an expression can do charged to a budget.

Jinja2 lets a sandbox intercept operators, calls and attribute reads; filters and tests are
plain functions, so they are wrapped, and ``~`` is compiled into a call of its own. Every one
of these paths counts a step, checks the values it is given, predicts what it will build where
that could be huge (:mod:`formflow.expression_costs`) and measures what it built
(:mod:`formflow.expression_budget`). A template's loops are compiled to iterate through
:meth:`BudgetedSandbox.iterate`, so each turn counts even when the body does nothing, and
its output is measured as it is joined. Constant folding is off: it would run filters while
compiling, outside any evaluation's budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg

from formflow.expression_budget import Budget, current
from formflow.expression_costs import (
    check_binop,
    check_filter,
    check_method,
    check_str_format,
)


class _CodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` into ``environment.concat((a, b))`` so joining texts is checked,
    and what every ``for`` loop iterates over into ``environment.iterate(items)`` so each
    turn counts (a loop's ``if`` filter too, as it runs inside that iteration). Jinja2
    allows no node types of its own, so the loops' items are told apart by identity."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop_items: set[int] = set()

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) not in self._loop_items:
            return super().visit(node, *args, **kwargs)
        self.write("environment.iterate(")
        super().visit(node, *args, **kwargs)
        self.write(")")
        return None

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        self._loop_items.add(id(node.iter))
        super().visit_For(node, frame)


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The environment every expression runs in; see :mod:`formflow.expression_budget`."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, **options)
        self.filters = {name: _budgeted(f, name=name) for name, f in self.filters.items()}
        tests: dict[str, Any] = dict(self.tests)
        self.tests = {name: _budgeted(test, name=None) for name, test in tests.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current()
        budget.step()
        budget.receive(left)
        budget.receive(right)
        check_binop(budget, operator, left, right)
        return budget.accept(self.binop_table[operator](left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        current().step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        current().step()
        return super().getitem(obj, argument)

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget = current()
        budget.step()
        args, kwargs = _received(budget, args, kwargs)
        check_method(budget, __obj, args, kwargs)
        if not isinstance(__obj, Macro | LoopContext):
            return _accepted(budget, super().call(__context, __obj, *args, **kwargs))
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (__self.iterate(args[0]), *args[1:])
        with budget.calling():
            return _accepted(budget, super().call(__context, __obj, *args, **kwargs))

    def iterate(self, items: Any) -> Iterator[Any]:
        """``items``, each turn of the loop over them counted against the budget."""
        iterate = current().iterate
        for item in items:  # the turns bound the work, whatever ``items`` holds
            iterate()
            yield item

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template: str = value.__self__

        @wraps(wrapped)
        def checked(*args: Any, **kwargs: Any) -> str:
            check_str_format(current(), template)
            return wrapped(*args, **kwargs)

        return checked

    def concat(self, parts: Iterable[Any]) -> str:
        """The parts joined: ``a ~ b``, and a template's output, measured as it grows (a
        loop may write one text many times over)."""
        budget = current()
        budget.step()
        texts = []
        length = 0
        for part in parts:
            budget.receive(part)
            text = str(part)
            length += len(text)
            budget.allow(length)
            texts.append(text)
        return budget.accept("".join(texts))  # type: ignore[no-any-return]


def _budgeted(function: Callable[..., Any], *, name: str | None) -> Callable[..., Any]:
    """``function`` counting a step and measuring what it is given; a filter (``name``)
    also has its predictable cost checked first and its result measured."""
    passes = 1 if _PassArg.from_obj(function) is not None else 0

    @wraps(function)
    def budgeted(*args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.step()
        given, kwargs = _received(budget, args[passes:], kwargs)
        if name is None:
            return function(*args[:passes], *given, **kwargs)
        check_filter(budget, name, given, kwargs)
        return _accepted(budget, function(*args[:passes], *given, **kwargs))

    return budgeted


def _received(
    budget: Budget, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments, iterators read into lists (so they can be measured), each checked."""
    args = tuple(_materialised(value) for value in args)
    kwargs = {key: _materialised(value) for key, value in kwargs.items()}
    for value in (*args, *kwargs.values()):
        budget.receive(value)
    return args, kwargs


def _materialised(value: Any) -> Any:
    return list(value) if isinstance(value, Iterator) else value


def _accepted(budget: Budget, result: Any) -> Any:
    if isinstance(result, Iterator):
        return _counted(budget, result)
    return budget.accept(result)


def _counted(budget: Budget, items: Iterator[Any]) -> Iterator[Any]:
    """A lazy result (``select``, ``map``...) whose every item is a step and is measured."""
    for item in items:
        budget.step()
        yield budget.accept(item)
