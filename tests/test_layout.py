"""The package layout holds: the web layer uses the record service's public surface only."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import formflow.records
from formflow.records import _HOMES
from formflow.records import __all__ as PUBLIC

ENGINE = Path(formflow.records.__file__).resolve().parent.parent
OUTSIDE_THE_SERVICE = sorted([*(ENGINE / "web").glob("*.py"), ENGINE / "cli.py"])


def imported_modules(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("path", OUTSIDE_THE_SERVICE, ids=lambda path: path.name)
def test_web_and_cli_import_only_the_record_service_s_public_surface(path: Path) -> None:
    inside = [
        f"{path.name}:{line}: {module}"
        for line, module in imported_modules(path)
        if module.startswith("formflow.records.")
    ]
    assert inside == [], "import these from formflow.records (add them to its surface if needed)"


def test_every_public_name_of_the_record_service_resolves() -> None:
    assert sorted(_HOMES) == sorted(PUBLIC)
    for name in PUBLIC:
        home = importlib.import_module(_HOMES[name])
        assert getattr(formflow.records, name) is getattr(home, name), name


def test_a_name_outside_the_surface_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="ValueConverter"):
        formflow.records.ValueConverter  # noqa: B018


def test_no_code_takes_any_script_s_digits_for_a_number() -> None:
    """``"²".isdigit()`` is true and ``int("²")`` fails: a digit check is an ASCII one too
    (or goes through :func:`formflow.web.ids.parse_id`)."""
    roots = [ENGINE, ENGINE.parents[1] / "plugins"]
    offenders = [
        f"{path.name}: {checked}.isdigit()"
        for root in roots
        for path in root.rglob("*.py")
        for text in [path.read_text(encoding="utf-8")]
        for checked in re.findall(r"([\w\[\]:.()]+)\.isdigit\(\)", text)
        if f"{checked}.isascii()" not in text
    ]
    assert offenders == []
