"""User-written expressions: conditions, formulas and defaults in app definitions.

Expressions use Jinja2's expression syntax and run in its immutable sandbox, so an admin
editing YAML can compute ``qty * unit_price`` or test ``stage == 'lost'`` but can never reach
Python internals, mutate data or exhaust the machine with a huge power or repetition.

An expression is parsed once, when the definition is compiled; the names it reads are known
then, which is how the validator tells an admin that ``amout`` is not a field.
"""

from __future__ import annotations

import decimal
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from formflow.errors import FormflowError

MAX_POWER_EXPONENT = 100
MAX_REPEATED_LENGTH = 100_000


class ExpressionError(FormflowError):
    """An expression that does not parse, or failed while it was evaluated."""


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with the two arithmetic operators that can exhaust memory bounded."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
                raise SecurityError("exponent too large")
            return left**right
        if operator_name == "*":
            for sequence, count in ((left, right), (right, left)):
                repeats = isinstance(sequence, str | list | tuple) and isinstance(count, int)
                if repeats and len(sequence) * count > MAX_REPEATED_LENGTH:
                    raise SecurityError("repeated value too long")
            return operator.mul(left, right)
        return super().call_binop(context, operator_name, left, right)


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the free names it reads, and how to run it."""

    source: str
    names: frozenset[str]
    _run: Callable[..., Any] = field(repr=False, compare=False)
    attributes: frozenset[tuple[str, str]] = frozenset()
    """``(name, attribute)`` for each ``name.attribute`` read, such as ``("parent", "kind")``."""

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        """The expression's value with ``names`` bound; an unknown name reads as ``None``."""
        try:
            return self._run(**names)
        except SecurityError as exc:
            raise ExpressionError(f"{self.source!r} is not allowed: {exc}") from None
        except Exception as exc:  # user arithmetic can fail in any way (1/0, None + 1)
            raise ExpressionError(f"{self.source!r} failed: {_reason(exc)}") from None


class ExpressionEngine:
    """Compiles expressions against one sandbox, to which plugins may add functions."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.environment = _Environment()
        self.environment.globals.clear()
        self.environment.globals.update(functions or {})

    @property
    def function_names(self) -> frozenset[str]:
        return frozenset(self.environment.globals)

    def compile(self, source: str) -> Expression:
        """Parse ``source``; raise :class:`ExpressionError` with a readable reason if it fails."""
        try:
            parser = Parser(self.environment, source, state="variable")
            tree = parser.parse_expression()
            if not parser.stream.eos:
                raise TemplateSyntaxError(
                    f"unexpected '{parser.stream.current.value}' after the expression",
                    parser.stream.current.lineno,
                )
            run = self.environment.compile_expression(source, undefined_to_none=True)
        except TemplateSyntaxError as exc:
            raise ExpressionError(_describe_syntax_error(exc)) from None
        found = (
            [tree, *tree.find_all(nodes.Name)]
            if isinstance(tree, nodes.Name)
            else tree.find_all(nodes.Name)
        )
        names = {
            name.name
            for name in found
            if isinstance(name, nodes.Name)
            and name.ctx == "load"
            and name.name not in self.environment.globals
        }
        attributes = {
            (node.node.name, node.attr)
            for node in tree.find_all(nodes.Getattr)
            if isinstance(node.node, nodes.Name) and node.node.name in names
        }
        if isinstance(tree, nodes.Getattr) and isinstance(tree.node, nodes.Name):
            attributes.add((tree.node.name, tree.attr))
        return Expression(source, frozenset(names), run, frozenset(attributes))


def _reason(exc: Exception) -> str:
    """Why an expression failed, readably: Decimal arithmetic names only a signal class."""
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, decimal.InvalidOperation):
        return "not a valid calculation"
    return str(exc)


def _describe_syntax_error(exc: TemplateSyntaxError) -> str:
    message = exc.message or "invalid expression"
    return message.replace("end of template", "end of expression").rstrip(".")
