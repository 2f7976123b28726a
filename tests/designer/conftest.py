"""An instance with the small demo app installed, on SQLite and on PostgreSQL in turn.

A test module may set ``INSTALLED_FORM`` to install its own ``item`` form instead, and
``INSTALLED_APP`` (app.yaml) and ``INSTALLED_WORKFLOWS`` (by name) to install its own app,
``INSTALLED_DASHBOARDS`` (file name to text) to install dashboards beside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from designer_support import FORM_WITH_COMMENTS

from formflow.config import load_settings
from formflow.designer import Designer
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from support import MINIMAL_APP_YAML, AppWriter


@pytest.fixture
def instance(
    request: pytest.FixtureRequest, write_app: AppWriter, tmp_path: Path, database_url: str
) -> Iterator[Instance]:
    form = getattr(request.module, "INSTALLED_FORM", FORM_WITH_COMMENTS)
    app = getattr(request.module, "INSTALLED_APP", MINIMAL_APP_YAML)
    parts: dict[str, Any] = {}
    workflows = getattr(request.module, "INSTALLED_WORKFLOWS", {})
    if workflows:
        parts["workflows"] = workflows
    dashboards = getattr(request.module, "INSTALLED_DASHBOARDS", {})
    if dashboards:
        app += "  dashboards: [dashboards/*.yaml]\n"
        parts["dashboards"] = dashboards
    app_dir = write_app(app=app, forms={"item": form}, **parts)
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_DATABASE_URL": database_url}
    )
    initialise(settings, [app_dir], "admin", "password-1")
    opened = Instance(settings)
    yield opened
    opened.close()


@pytest.fixture
def designer(instance: Instance) -> Designer:
    return Designer(instance)
