"""A sandbox with the roll-up app, on SQLite and on PostgreSQL in turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rollup_app import FILES

from formflow.records.access import Actor
from formflow.testing import Sandbox


@pytest.fixture
def box(tmp_path: Path, database_url: str) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, FILES, database_url=database_url) as sandbox:
        yield sandbox


@pytest.fixture
def staff(box: Sandbox) -> Actor:
    box.add_user("staff", roles=["staff"])
    return box.actor("staff")
