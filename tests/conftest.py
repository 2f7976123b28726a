"""Fixtures shared by the whole suite."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from formflow.definitions import load_app
from formflow.errors import DefinitionErrors
from formflow.storage.database import connect

ROOT = Path(__file__).resolve().parent.parent
CRM_APP = ROOT / "apps" / "crm_sfa"

MINIMAL_APP_YAML = """\
key: demo
version: "1.0"
label: {zh: 演示, en: Demo}
roles:
  - key: staff
    label: {zh: 员工, en: Staff}
  - key: manager
    label: {zh: 经理, en: Manager}
include:
  forms: [forms/*.yaml]
"""

MINIMAL_FORM_YAML = """\
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  - key: name
    type: text
    label: {zh: 名称, en: Name}
    required: true
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""

AppWriter = Callable[..., Path]


@pytest.fixture
def write_app(tmp_path: Path) -> AppWriter:
    """Write an app folder from YAML texts (dedented) and return its path.

    ``write_app(forms={"item": "..."})`` writes ``forms/item.yaml``; other keyword arguments
    name folders the same way (``workflows=``, ``dashboards=``); ``app=`` replaces app.yaml.
    """

    def write(app: str = MINIMAL_APP_YAML, **folders: dict[str, str]) -> Path:
        root = tmp_path / "app"
        root.mkdir(exist_ok=True)
        (root / "app.yaml").write_text(textwrap.dedent(app), encoding="utf-8")
        folders.setdefault("forms", {"item": MINIMAL_FORM_YAML})
        for folder, files in folders.items():
            (root / folder).mkdir(exist_ok=True)
            for name, text in files.items():
                (root / folder / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return write


def definition_errors(app_dir: Path) -> list[str]:
    """Every error ``load_app`` reports, as ``FILE:LINE:COL: message`` relative to the app."""
    with pytest.raises(DefinitionErrors) as caught:
        load_app(app_dir)
    prefix = f"{app_dir}/"
    return [str(error).removeprefix(prefix) for error in caught.value]


pytest_plugins = ["databases"]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh, empty database (SQLite and PostgreSQL in turn)."""
    engine = connect(database_url)
    yield engine
    engine.dispose()
