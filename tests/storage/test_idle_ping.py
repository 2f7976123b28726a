"""A pooled PostgreSQL connection is pinged before use only after it sat idle, and one
that died while idle is replaced before anyone uses it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text

from databases import postgres_schema_url
from formflow.storage import database
from formflow.storage.database import connect

pytestmark = pytest.mark.postgres


@pytest.fixture
def url(postgres_database: str | None) -> Iterator[str]:
    if postgres_database is None:
        pytest.skip("PostgreSQL unavailable")
    yield from postgres_schema_url(postgres_database)


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def last_statement(url: str, pid: int) -> str:
    """What the server saw ``pid`` run last, asked from a connection of its own."""
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as other:
        row = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None
    return str(row[0])


def test_a_connection_used_moments_ago_is_not_pinged(url: str, engines: list[Engine]) -> None:
    engine = connect(url)
    engines.append(engine)
    pid = backend(engine)
    with engine.connect():
        assert last_statement(url, pid) == "ROLLBACK"  # the pool's, when it was handed back


def test_a_connection_idle_past_the_limit_is_pinged(
    url: str, engines: list[Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = connect(url)
    engines.append(engine)
    pid = backend(engine)
    with engine.connect():
        assert last_statement(url, pid) != "ROLLBACK"  # the ping since


def test_a_connection_that_died_while_idle_is_replaced_unseen(
    url: str, engines: list[Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = connect(url)
    engines.append(engine)
    pid = backend(engine)
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert backend(engine) != pid


def test_a_pool_pre_ping_asked_for_is_kept(url: str, engines: list[Engine]) -> None:
    engine = connect(url, pool_pre_ping=True)
    engines.append(engine)
    assert engine.pool._pre_ping
