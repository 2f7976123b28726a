"""The CRM app in a sandbox instance of its own, and a sales rep in it: the fixtures of the
tests that drive the CRM's flows through the record service, pages or the API (SQLite and
PostgreSQL, with ``database_url``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from formflow.records.access import Actor
from formflow.testing import Sandbox
from support import CRM_APP


@pytest.fixture
def crm(tmp_path: Path, database_url: str) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, CRM_APP, database_url=database_url) as sandbox:
        yield sandbox


@pytest.fixture
def rep(crm: Sandbox) -> Actor:
    return crm.add_user("rep", roles=["sales_rep"])
