"""User-written expressions: conditions, formulas and defaults in app definitions.

Expressions use Jinja2's expression syntax and run in its immutable sandbox, so an admin
editing YAML can compute ``qty * unit_price`` or test ``stage == 'lost'`` but can never reach
Python internals or mutate data; each evaluation also runs on a budget of steps, time and
value sizes (:mod:`formflow.expression_budget`), so no expression can exhaust the machine
whatever values it is given, and an expression nested too deeply is refused when parsed.

An expression is parsed once, when the definition is compiled; the names it reads are known
then, which is how the validator tells an admin that ``amout`` is not a field.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template, TemplateSyntaxError, Undefined, nodes
from jinja2.environment import Environment
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser

from formflow.errors import FormflowError
from formflow.expression_budget import BudgetExceeded, Limits, spending
from formflow.expression_sandbox import BudgetedSandbox


class ExpressionError(FormflowError):
    """An expression that does not parse, or failed while it was evaluated."""


class ExpressionLimit(ExpressionError):
    """An evaluation that went past the sandbox's budget (see :class:`Limits`): the values it
    was given make it too big or too slow, whatever they are stored as."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, the free names it reads, and how to run it."""

    source: str
    names: frozenset[str]
    _run: Callable[..., Any] = field(repr=False, compare=False)
    attributes: frozenset[tuple[str, str]] = frozenset()
    """``(name, attribute)`` for each ``name.attribute`` read, such as ``("parent", "kind")``."""
    limits: Limits = field(default=Limits(), repr=False, compare=False)

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        """The expression's value with ``names`` bound; an unknown name reads as ``None``."""
        try:
            with spending(self.limits) as budget:
                result = self._run(**names)
                if isinstance(result, Iterator):
                    result = list(result)
                budget.receive(result)
                return result
        except BudgetExceeded as exc:
            raise ExpressionLimit(f"{self.source!r} is refused: {exc}") from None
        except RecursionError:
            raise ExpressionLimit(
                f"{self.source!r} is refused: its values nest too deeply"
            ) from None
        except SecurityError as exc:
            raise ExpressionError(f"{self.source!r} is not allowed: {exc}") from None
        except Exception as exc:  # user arithmetic can fail in any way (1/0, None + 1)
            raise ExpressionError(f"{self.source!r} failed: {_reason(exc)}") from None


def render_on_budget(
    template: Callable[[], Template], names: Mapping[str, Any], limits: Limits
) -> str:
    """The template ``template()`` gives (compiled, or loaded, in a :class:`BudgetedSandbox`),
    rendered over ``names`` on one budget; loading counts too, as it may compile.

    Every template a user writes renders here, whichever sandbox holds it: a notification,
    a webhook body, an e-mail an administrator reworded. Raises :class:`ExpressionLimit` when
    it goes past the budget or nests too deeply, :class:`ExpressionError` (with Jinja2's own
    message) when it fails otherwise."""
    try:
        with spending(limits):
            return str(template().render(names))
    except BudgetExceeded as exc:
        raise ExpressionLimit(str(exc)) from None
    except (RecursionError, MemoryError, SyntaxError):  # Python's limits on nesting
        raise ExpressionLimit("it nests too deeply") from None
    except Exception as exc:  # a template can fail in any way an expression can
        raise ExpressionError(str(exc)) from None


TEMPLATES_KEPT = 256
"""How many compiled templates an engine keeps (all are dropped when it is full)."""


class ExpressionEngine:
    """Compiles expressions against one sandbox, to which plugins may add functions."""

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        limits: Limits | None = None,
        *,
        undefined: type[Undefined] = Undefined,
    ) -> None:
        self.limits = limits or Limits()
        self.environment = BudgetedSandbox(undefined=undefined)
        self.environment.globals.clear()
        self.environment.globals.update(functions or {})
        self._templates: dict[str, Template] = {}

    def template(self, source: str) -> Template:
        """``source`` compiled as a template of this sandbox, once per source: a timed rule
        renders the same notification or webhook body for every record it finds, and
        compiling costs many times what rendering does."""
        found = self._templates.get(source)
        if found is None:
            if len(self._templates) >= TEMPLATES_KEPT:
                self._templates.clear()
            found = self._templates[source] = self.environment.from_string(source)
        return found

    def render(self, source: str, names: Mapping[str, Any]) -> str:
        """``source``, a template a user wrote, rendered over ``names`` on one budget: its
        operations, loop turns and output all count (see :class:`Limits`).

        Raises :class:`ExpressionLimit` when it goes past the budget or nests too deeply,
        :class:`ExpressionError` (with Jinja2's own message) when it fails otherwise."""
        return render_on_budget(lambda: self.template(source), names, self.limits)

    @property
    def function_names(self) -> frozenset[str]:
        return frozenset(self.environment.globals)

    def compile(self, source: str) -> Expression:
        """Parse ``source``; raise :class:`ExpressionError` with a readable reason if it fails."""
        too_deep = f"it is nested more than {self.limits.depth} levels deep; split it up"
        try:
            parser = _Parser(self.environment, source, self.limits.depth, too_deep)
            tree = parser.parse_expression()
            if not parser.stream.eos:
                raise TemplateSyntaxError(
                    f"unexpected '{parser.stream.current.value}' after the expression",
                    parser.stream.current.lineno,
                )
            if _depth(tree) > self.limits.depth:
                raise ExpressionError(too_deep)
            run = self.environment.compile_expression(source, undefined_to_none=True)
        except TemplateSyntaxError as exc:
            raise ExpressionError(_describe_syntax_error(exc)) from None
        except (RecursionError, SyntaxError, MemoryError):
            raise ExpressionError(too_deep) from None
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
        return Expression(source, frozenset(names), run, frozenset(attributes), self.limits)


def _reason(exc: Exception) -> str:
    """Why an expression failed, readably: Decimal arithmetic names only a signal class."""
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, decimal.InvalidOperation):
        return "not a valid calculation"
    return str(exc)


class _Parser(Parser):
    """Jinja2's parser, stopping at a nesting depth well before Python's stack runs out.

    Parsing is recursive, so ``((((...))))`` or ``not not not ...`` a few hundred deep would
    end in a :class:`RecursionError`; the methods through which parsing recurses count.
    """

    def __init__(self, environment: Environment, source: str, depth: int, message: str) -> None:
        super().__init__(environment, source, state="variable")
        self.room = 4 * depth  # one level of brackets passes through four of them
        self.too_deep = message

    def _nested(self, parse: Callable[[], nodes.Expr]) -> nodes.Expr:
        if self.room <= 0:
            self.fail(self.too_deep, self.stream.current.lineno)
        self.room -= 1
        try:
            return parse()
        finally:
            self.room += 1

    def parse_expression(self, with_condexpr: bool = True) -> nodes.Expr:
        return self._nested(lambda: super(_Parser, self).parse_expression(with_condexpr))

    def parse_condexpr(self) -> nodes.Expr:
        return self._nested(super().parse_condexpr)

    def parse_not(self) -> nodes.Expr:
        return self._nested(super().parse_not)

    def parse_unary(self, with_filter: bool = True) -> nodes.Expr:
        return self._nested(lambda: super(_Parser, self).parse_unary(with_filter))


def _depth(tree: nodes.Node) -> int:
    """How deeply ``tree`` nests (without recursing, since it may be deep)."""
    deepest = 0
    pending = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest


def _describe_syntax_error(exc: TemplateSyntaxError) -> str:
    message = exc.message or "invalid expression"
    return message.replace("end of template", "end of expression").rstrip(".")
