"""Real databases for tests: a SQLite file per test, a PostgreSQL schema per test.

PostgreSQL runs at 127.0.0.1:5432 with trust auth on the development machines (override with
``FORMFLOW_TEST_POSTGRES``). Each test run creates its own database and drops it at the end;
each test gets a fresh schema in it. Where no server answers, PostgreSQL tests skip with the
reason, unless ``FORMFLOW_REQUIRE_POSTGRES=1`` (CI sets it) turns that into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get(
    "FORMFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRED = os.environ.get("FORMFLOW_REQUIRE_POSTGRES") == "1"


def _server_unreachable() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL server at {ADMIN_URL}: {exc}".strip()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """The URL of a database made for this test run (per xdist worker), or None."""
    reason = _server_unreachable()
    if reason:
        if REQUIRED:
            pytest.fail(reason)
        yield None
        return
    name = f"formflow_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def postgres_schema_url(database_url: str) -> Iterator[str]:
    """A fresh schema in the run's database, as a URL whose connections use it; dropped after."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        options = quote(f"-csearch_path={schema}")
        yield f"{database_url.replace('postgresql://', 'postgresql+psycopg://', 1)}?options={options}"
    finally:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, tmp_path: object, postgres_database: str | None
) -> Iterator[str]:
    """Each test that takes this runs twice: on a SQLite file, and on a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/formflow.db"
        return
    if postgres_database is None:
        pytest.skip(_server_unreachable() or "PostgreSQL unavailable")
    yield from postgres_schema_url(postgres_database)
