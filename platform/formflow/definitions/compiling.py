"""What compiling any definition document needs: its place in the app, and a way to report.

Forms, workflows and dashboards are each compiled from one schema-valid document by a
:class:`DocumentCompiler`; every problem is collected at its place in the file instead of
stopping at the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from formflow.definitions.model import Form, Label
from formflow.definitions.source import PathKey, SourceDocument
from formflow.errors import DefinitionError
from formflow.expressions import Expression, ExpressionEngine, ExpressionError
from formflow.fields import FieldTypeRegistry

CONTEXT_NAMES = frozenset({"user", "today", "now"})
"""Names every expression may read besides fields."""

Item = TypeVar("Item", bound=Mapping[str, Any])


@dataclass(frozen=True)
class AppContext:
    """What a document is checked against: the rest of the app, and the tools to check with."""

    role_keys: frozenset[str]
    form_keys: frozenset[str]
    field_types: FieldTypeRegistry
    expressions: ExpressionEngine
    actions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False)
    """The actions automations may name, with their parameters' JSON Schemas."""
    role_labels: Mapping[str, Label] = field(default_factory=dict, compare=False)
    """What each role is called, for what is named after one (an unlabelled approval step)."""


class DocumentCompiler:
    """Holds one document being compiled; problems go to ``errors``."""

    def __init__(
        self, document: SourceDocument, context: AppContext, errors: list[DefinitionError]
    ):
        self.document = document
        self.context = context
        self.errors = errors

    def error(self, path: PathKey, message: str, *, at_key: bool = False) -> None:
        locate = self.document.error_at_key if at_key else self.document.error_at_value
        self.errors.append(locate(path, message))


def keyed_items(
    items: Iterable[Item], where: PathKey, what: str, report: Callable[[PathKey, str], None]
) -> Iterator[tuple[PathKey, Item]]:
    """Each item of a list of keyed definitions (rules, checks, agenda items) with its
    path under ``where``; one whose ``key`` an earlier item has is reported at its key
    ("duplicate ``what`` 'key'") and passed over, so each key is compiled once."""
    seen: set[str] = set()
    for index, item in enumerate(items):
        path: PathKey = (*where, index)
        if item["key"] in seen:
            report((*path, "key"), f"duplicate {what} '{item['key']}'")
            continue
        seen.add(item["key"])
        yield path, item


def named_form(
    key: str,
    forms: Mapping[str, Form],
    context: AppContext,
    report: Callable[[PathKey, str], None],
    path: PathKey,
) -> Form | None:
    """The form ``key`` names among the app's compiled ``forms``, or ``None``. An unknown
    key is reported at ``path`` with the nearest known one; a key the app has but whose form
    did not compile is not, as its own file reports why."""
    form = forms.get(key)
    if form is None and key not in context.form_keys:
        report(path, unknown("form", key, forms))
    return form


def compile_expression(
    compiler: DocumentCompiler, source: str, path: PathKey, names: frozenset[str]
) -> Expression | None:
    """Parse an expression and check the names it reads; ``None`` (and an error) if bad."""
    try:
        expression = compiler.context.expressions.compile(source)
    except ExpressionError as exc:
        compiler.error(path, f"expression does not parse: {exc}")
        return None
    for name in sorted(expression.names - names):
        compiler.error(path, f"expression uses unknown name '{name}'{suggest(name, names)}")
    return expression


def label(value: Any) -> Label:
    """A label from its YAML form: one string for both languages, or a zh/en mapping."""
    if isinstance(value, str):
        return Label(zh=value, en=value)
    return Label(zh=value.get("zh"), en=value.get("en"))


def optional_label(value: Any) -> Label | None:
    return None if value is None else label(value)


def unknown(what: str, name: str, known: Iterable[str], *, within: str = "") -> str:
    """``unknown field 'nme' in form 'party'; did you mean 'name'?``: the name right after
    what it should be, then where it was looked for (``within``), then the nearest known."""
    place = f" {within}" if within else ""
    return f"unknown {what} '{name}'{place}{suggest(name, known)}"


def suggest(name: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.7)
    return f"; did you mean '{match[0]}'?" if match else ""
