"""Fixtures shared by the whole suite."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from formflow.storage.database import connect
from support import MINIMAL_APP_YAML, MINIMAL_FORM_YAML, AppWriter

pytest_plugins = ["databases", "crm_sandbox"]


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


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh, empty database (SQLite and PostgreSQL in turn)."""
    engine = connect(database_url)
    yield engine
    engine.dispose()
