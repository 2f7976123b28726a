"""Fixtures of the company lookup tests: a sandbox instance whose customer form has every
field a lookup can fill, and a local company registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import formflow_company_lookup
from company_lookup_support import APP, FIELD_MAP, Registry, running_registry
from formflow.testing import Sandbox


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, APP, plugins=[formflow_company_lookup]) as box:
        box.add_user("staff_user", roles=["staff"])
        box.add_user("viewer_user", roles=["viewer"])
        box.instance.plugin_settings.save("company_lookup", {"field_map": FIELD_MAP})
        yield box


@pytest.fixture
def registry() -> Iterator[Registry]:
    with running_registry() as state:
        yield state
