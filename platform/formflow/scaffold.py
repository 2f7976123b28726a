"""``formflow plugin new NAME``: a plugin package that installs, loads and passes its tests.

The package has what a published plugin needs and nothing more: ``setup.cfg`` with the
entry point in the ``formflow`` group, ``pyproject.toml``, a README, one module with two
hooks (an expression function and a button on record pages) and tests that run them
against a real instance through :mod:`formflow.pytest_plugin`.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from formflow import __version__
from formflow.errors import FormflowError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ScaffoldError(FormflowError):
    """A plugin name that cannot be a package, or a folder that already exists."""


SETUP_CFG = """\
[metadata]
name = formflow-$dash
version = 0.1.0
description = A Formflow plugin: $name
long_description = file: README.md
long_description_content_type = text/markdown
classifiers =
    Framework :: Flask
    Programming Language :: Python :: 3

[options]
packages = find:
python_requires = >=3.11
install_requires =
    formflow>=$formflow_version

[options.packages.find]
exclude = tests

[options.entry_points]
formflow =
    $name = $package
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# formflow-$dash

A [Formflow](https://github.com/formflow/formflow) plugin.

- the expression function `${name}_shout(text)` gives `text` in capitals with a `!`;
- record pages get a button linking to this plugin's documentation.

## Install and enable

    pip install formflow-$dash
    export FORMFLOW_PLUGINS=$name   # plugins are enabled per instance

## Develop

    pip install -e .
    pytest
"""

MODULE = '''\
"""The $name plugin for Formflow."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from formflow import hookimpl
from formflow.plugin_kit import Button


def shout(text: str) -> str:
    """``text`` in capitals, with an exclamation mark."""
    return f"{str(text).upper()}!"


@hookimpl
def formflow_expression_functions() -> dict[str, Callable[..., Any]]:
    return {"${name}_shout": shout}


@hookimpl
def formflow_record_buttons(form: Any, record: Mapping[str, Any]) -> list[Button]:
    return [Button(label="$name", url="https://pypi.org/project/formflow-$dash/")]
'''

CONFTEST = """\
from __future__ import annotations

import pytest

import $package

pytest_plugins = ["formflow.pytest_plugin"]


@pytest.fixture
def formflow_plugins() -> list[object]:
    return [$package]
"""

TESTS = """\
from __future__ import annotations

from flask.testing import FlaskClient

from formflow.records.access import Actor
from formflow.testing import Sandbox


def test_expressions_can_shout(formflow_sandbox: Sandbox) -> None:
    engine = formflow_sandbox.plugins.expression_engine
    assert engine.compile("${name}_shout(city)").evaluate({"city": "Shanghai"}) == "SHANGHAI!"


def test_record_pages_show_the_button(
    formflow_sandbox: Sandbox, formflow_staff: Actor, formflow_client: FlaskClient
) -> None:
    record = formflow_sandbox.records.create(formflow_staff, "member", {"name": "Acme"})
    page = formflow_client.get(f"/{formflow_sandbox.app_key}/member/{record['id']}")
    assert page.status_code == 200
    assert "formflow-$dash" in page.text
"""


def package_name(name: str) -> str:
    return name if name.startswith("formflow_") else f"formflow_{name}"


def new_plugin(name: str, parent: Path) -> Path:
    """Write the plugin package ``formflow-NAME`` in ``parent``; its folder."""
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"{name!r} cannot name a plugin: use lower-case letters, digits and _, starting with a letter"
        )
    package = package_name(name)
    short = package.removeprefix("formflow_")
    folder = parent / f"formflow-{short.replace('_', '-')}"
    if folder.exists():
        raise ScaffoldError(f"{folder} exists already; choose another name or folder")
    values = {
        "name": short,
        "dash": short.replace("_", "-"),
        "package": package,
        "formflow_version": __version__,
    }
    files = {
        "setup.cfg": SETUP_CFG,
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{package}/__init__.py": MODULE,
        "tests/conftest.py": CONFTEST,
        f"tests/test_{package}.py": TESTS,
    }
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values), encoding="utf-8")
    return folder
