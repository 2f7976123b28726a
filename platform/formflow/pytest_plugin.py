"""pytest fixtures for plugin authors, over :class:`formflow.testing.Sandbox`.

Enable them in a plugin's ``tests/conftest.py`` and say which plugins to load::

    import pytest

    import my_plugin

    pytest_plugins = ["formflow.pytest_plugin"]

    @pytest.fixture
    def formflow_plugins():
        return [my_plugin]

Then a test asks for ``formflow_sandbox`` (the instance with the app), ``formflow_staff``
(a user with the ``staff`` role, as an actor) or ``formflow_client`` (a web client signed in
as that user). ``formflow_app`` is :data:`formflow.testing.SAMPLE_APP` unless overridden.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from formflow.records.access import Actor
from formflow.testing import SAMPLE_APP, Sandbox

STAFF = "staff_user"
"""The username of ``formflow_staff``."""


@pytest.fixture
def formflow_plugins() -> Sequence[object]:
    """The plugins the sandbox loads; override it to return your plugin module."""
    return []


@pytest.fixture
def formflow_app() -> Path | Mapping[str, str]:
    """The app the sandbox installs: a folder or its files; the sample app by default."""
    return SAMPLE_APP


@pytest.fixture
def formflow_sandbox(
    tmp_path: Path, formflow_app: Path | Mapping[str, str], formflow_plugins: Sequence[object]
) -> Iterator[Sandbox]:
    """A fresh instance on SQLite with the app installed and the plugins loaded."""
    with Sandbox(tmp_path, formflow_app, plugins=formflow_plugins) as sandbox:
        yield sandbox


@pytest.fixture
def formflow_staff(formflow_sandbox: Sandbox) -> Actor:
    """A user with the app's ``staff`` role (``staff_user``), as the actor they are."""
    return formflow_sandbox.add_user(STAFF, roles=["staff"])


@pytest.fixture
def formflow_client(formflow_sandbox: Sandbox, formflow_staff: Actor) -> FlaskClient:
    """A web client signed in as ``formflow_staff``."""
    return formflow_sandbox.client(STAFF)
