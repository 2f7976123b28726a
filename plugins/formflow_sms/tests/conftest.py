"""Fixtures of the SMS tests: an instance with customers, and a local SMS gateway."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import formflow_sms
from formflow.testing import Sandbox
from sms_support import APP, Gateway, running_gateway


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with running_gateway() as state:
        yield state


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, APP, plugins=[formflow_sms]) as box:
        staff = box.add_user("sam", roles=["staff"])
        for name, city, level, phone, opted_out in [
            ("华东贸易", "上海", "A", "13800138000", False),
            ("浦江科技", "上海", "A", "13900139000", False),
            ("申城物流", "上海", "A", "12345", False),
            ("外滩餐饮", "上海", "A", "13700137000", True),
            ("京华商贸", "北京", "A", "13600136000", False),
            ("黄浦五金", "上海", "B", "13500135000", False),
        ]:
            box.records.create(
                staff,
                "customer",
                {
                    "name": name,
                    "city": city,
                    "level": level,
                    "mobile": phone,
                    "sms_opt_out": opted_out,
                },
            )
        yield box


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of its own for one test (skipped where no server answers,
    unless ``FORMFLOW_REQUIRE_POSTGRES=1``), dropped after."""
    admin_url = os.environ.get(
        "FORMFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    try:
        psycopg.connect(admin_url, connect_timeout=3).close()
    except psycopg.Error as exc:
        if os.environ.get("FORMFLOW_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"no PostgreSQL at {admin_url}: {exc}")
        pytest.skip(f"no PostgreSQL at {admin_url}")
    name = f"formflow_sms_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
