"""An instance with the minimal app, on SQLite and on PostgreSQL in turn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from formflow.cli import main
from formflow.config import load_settings
from formflow.lifecycle.install import initialise
from formflow.lifecycle.instance import Instance
from formflow.web import create_app
from support import AppWriter

PASSWORD = "password-1"


@pytest.fixture
def instance(tmp_path: Path, database_url: str, write_app: AppWriter) -> Iterator[Instance]:
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_DATABASE_URL": database_url},
        secure_cookies=False,
    )
    initialise(settings, [write_app()], "admin", PASSWORD)
    opened = Instance(settings)
    yield opened
    opened.close()


@pytest.fixture
def app(instance: Instance) -> Flask:
    app = create_app(instance=instance)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def run(instance: Instance) -> Callable[..., Result]:
    """Run a ``formflow`` command against the instance."""
    env = {
        "FORMFLOW_INSTANCE": str(instance.settings.instance),
        "FORMFLOW_DATABASE_URL": instance.settings.database_url,
        "FORMFLOW_APPS": "",
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    return invoke
