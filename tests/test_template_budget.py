"""A template a user writes (a notification's text, a webhook's body) renders on the same
budget as an expression, and its loops, calls and output count too.

Each bomb below would take minutes or gigabytes in a plain sandbox. Here it must be refused
with the budget's :class:`ExpressionLimit` after little work: the engine is given Jinja2's
``range``, as a plugin's function might be, to show the budget holds even then.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from formflow.expression_budget import Limits
from formflow.expressions import ExpressionEngine, ExpressionError, ExpressionLimit

engine = ExpressionEngine({"range": range})

BOMBS = {
    "string multiply": ("{{ 'x' * 300000000 }}", "value of more than 100,000 characters"),
    "nested ranges": (
        "{% for i in range(50000) %}{% for j in range(50000) %}{% endfor %}{% endfor %}",
        "loops run more than 50,000 times",
    ),
    "nested loops over a text": (
        "{% for a in text %}{% for b in text %}{% endfor %}{% endfor %}",
        "loops run more than 50,000 times",
    ),
    "a loop whose filter skips every item": (
        "{% for a in text %}{% for b in text if false %}{% endfor %}{% endfor %}",
        "loops run more than 50,000 times",
    ),
    "range with a huge count": ("{% for i in range(10**18) %}{% endfor %}", "100,000"),
    "range with a huge step count": (
        "{% for i in range(0, 10**40, 3) %}{% endfor %}",
        "100,000",
    ),
    "join over a huge range": ("{{ range(10**9) | join }}", "100,000"),
    "output written many times over": (
        "{% for i in range(1000) %}{{ text }}{% endfor %}",
        "value of more than 100,000 characters",
    ),
    "output gathered into a variable": (
        "{% set all %}{% for i in range(1000) %}{{ text }}{% endfor %}{% endset %}",
        "value of more than 100,000 characters",
    ),
    "a macro calling itself": (
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "calls itself more than 50 levels deep",
    ),
    "a macro calling itself twice": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        "more than 100,000 steps|runs longer than 1 seconds",
    ),
    "a recursive loop": (
        "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
        "calls itself more than 50 levels deep",
    ),
    "deeply nested brackets": ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nests too deeply"),
    "deeply nested blocks": (
        "{% for a in [1] %}" * 30 + "x" + "{% endfor %}" * 30,
        "nests too deeply",
    ),
}
NAMES = {"text": "x" * 50_000}


@pytest.mark.parametrize("source", [source for source, _ in BOMBS.values()], ids=list(BOMBS))
def test_each_kind_of_template_bomb_is_refused_by_the_budget(source: str) -> None:
    reason = next(reason for bomb, reason in BOMBS.values() if bomb == source)
    with pytest.raises(ExpressionLimit, match=reason):
        engine.render(source, NAMES)


def test_a_loop_over_many_items_is_refused_once_past_the_iteration_limit() -> None:
    few_turns = ExpressionEngine(limits=Limits(iterations=10))
    assert few_turns.render("{% for x in xs %}{{ x }}{% endfor %}", {"xs": list(range(10))})
    with pytest.raises(ExpressionLimit, match="loops run more than 10 times"):
        few_turns.render("{% for x in xs %}{% endfor %}", {"xs": list(range(11))})


def test_macros_may_call_each_other_up_to_the_depth_limit() -> None:
    shallow = ExpressionEngine(limits=Limits(depth=3))
    nested = "{% macro f(n) %}{% if n %}({{ f(n - 1) }}){% endif %}{% endmacro %}{{ f(n) }}"
    assert shallow.render(nested, {"n": 2}) == "(())"
    with pytest.raises(ExpressionLimit, match="calls itself more than 3 levels deep"):
        shallow.render(nested, {"n": 3})


def test_an_ordinary_message_with_loops_and_macros_renders() -> None:
    source = (
        "{% macro line(row) %}{{ row.item }} x {{ row.qty }}{% endmacro %}"
        "Order {{ number }}:{% for row in rows %}\n- {{ line(row) }}"
        "{% if loop.last %} (last){% endif %}{% endfor %}"
    )
    rows = [{"item": "pen", "qty": 2}, {"item": "ink", "qty": 1}]
    assert engine.render(source, {"number": "A-1", "rows": rows}) == (
        "Order A-1:\n- pen x 2\n- ink x 1 (last)"
    )


def test_a_template_that_fails_otherwise_is_an_expression_error_not_a_limit() -> None:
    with pytest.raises(ExpressionError, match="Expected an expression") as raised:
        engine.render("{% for %}", {})
    assert not isinstance(raised.value, ExpressionLimit)


ROOT = Path(__file__).resolve().parents[1]
JINJA_MAKERS = {
    "Environment",
    "SandboxedEnvironment",
    "ImmutableSandboxedEnvironment",
    "NativeEnvironment",
    "Template",
}
"""What compiles a template when called, imported from ``jinja2``."""
TEMPLATE_CALLS = {"from_string", "get_template", "render_template_string"}
"""Methods and functions that compile or load a template from text or a file."""
BUDGETED_CALL_SITES = {
    ("platform/formflow/expressions.py", "from_string"),
    ("platform/formflow/notifications/email.py", "get_template"),
}
"""Where a template is compiled: each inside :func:`render_on_budget` in a BudgetedSandbox."""


def template_call_sites(path: Path) -> set[tuple[str, str]]:
    """``(file, name)`` for each call in ``path`` that makes or loads a Jinja2 template."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    from_jinja = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jinja2")
        for alias in node.names
        if alias.name in JINJA_MAKERS
    }
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = node.func
        name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
        if name in TEMPLATE_CALLS or name in from_jinja:
            found.add((path.relative_to(ROOT).as_posix(), name))
    return found


def test_every_template_is_compiled_where_the_budget_holds() -> None:
    """A template compiled anywhere else (a plain sandbox, ``from_string``, Flask's
    ``render_template_string``) renders with no budget: a user's loop could hold a worker.
    Rendering user-written text goes through ``plugin_kit.render_template`` instead."""
    sources = [*(ROOT / "platform" / "formflow").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
    found = set()
    for path in sources:
        if "tests" not in path.relative_to(ROOT).parts:
            found |= template_call_sites(path)
    assert found == BUDGETED_CALL_SITES
