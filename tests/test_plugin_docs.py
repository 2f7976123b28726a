"""The plugin guide and the tests keep up with the hooks by themselves.

Adding a hook to ``hookspecs.py`` makes these tests fail until ``docs/plugins.md`` has a
``### <hook>`` section for it, some test function mentions it by name, and the engine
uses what the hook answers (not only collects it).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from formflow import hookspecs
from formflow.plugins import USES, Plugins

TESTS = Path(__file__).resolve().parent
GUIDE = TESTS.parent / "docs" / "plugins.md"
HOOKS = sorted(name for name, value in vars(hookspecs).items() if hasattr(value, "formflow_spec"))


@cache
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


@cache
def documented_hooks() -> frozenset[str]:
    return frozenset(re.findall(r"^### (formflow_\w+)\s*$", guide(), flags=re.MULTILINE))


@cache
def sources_of_tests() -> tuple[str, ...]:
    """The source of every test function in the suite, except this module's."""
    sources: list[str] = []
    for path in sorted(TESTS.rglob("test_*.py")):
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                sources.append(ast.get_source_segment(text, node) or "")
    return tuple(sources)


def test_the_hooks_are_found() -> None:
    assert "formflow_field_types" in HOOKS
    assert "formflow_before_create" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_plugin_guide(hook: str) -> None:
    assert hook in documented_hooks(), f"add a '### {hook}' section to docs/plugins.md"


def test_the_guide_has_no_section_for_a_hook_that_does_not_exist() -> None:
    assert documented_hooks() <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    assert any(hook in source for source in sources_of_tests()), f"no test function mentions {hook}"


def test_the_guide_example_is_the_plugin_the_tests_load() -> None:
    found = re.findall(r"<!-- example: (\S+) -->\n```python\n(.*?)```", guide(), flags=re.DOTALL)
    assert found, "the guide's example is marked <!-- example: PATH -->"
    for path, code in found:
        assert code == (TESTS.parent / path).read_text(encoding="utf-8"), path


PLATFORM = TESTS.parent / "platform" / "formflow"


@cache
def engine_sources_outside_the_plugin_manager() -> str:
    skipped = {PLATFORM / "plugins.py", PLATFORM / "hookspecs.py"}
    return "\n".join(
        path.read_text(encoding="utf-8")
        for path in sorted(PLATFORM.rglob("*.py"))
        if path not in skipped
    )


def test_every_hook_says_how_formflow_uses_it() -> None:
    assert sorted(USES) == HOOKS, "add the hook to formflow.plugins.USES"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_called_not_only_collected(hook: str) -> None:
    member = USES[hook]
    assert hasattr(Plugins, member), f"Plugins has no {member!r}"
    used = re.search(rf"\.{member}\b", engine_sources_outside_the_plugin_manager())
    assert used, f"{hook}: Plugins.{member} is never used outside formflow.plugins"
