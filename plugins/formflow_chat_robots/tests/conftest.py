"""Fixtures of the chat robot tests: a sandbox instance with the plugin started, and the
three robots on a local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import formflow_chat_robots
from chat_robots_support import Robots, running_robots
from formflow.testing import Sandbox


@pytest.fixture
def robots() -> Iterator[Robots]:
    with running_robots() as state:
        yield state


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, plugins=[formflow_chat_robots]) as box:
        box.add_user("ann", roles=["staff"])
        assert box.flask_app is not None  # starts the plugin for this instance
        yield box
