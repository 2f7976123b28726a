"""Real queues for the jobs tests: huey on a SQLite file, and on Redis.

Redis runs at 127.0.0.1:6379 on the development machines; these tests take database
JOBS_REDIS_DB (override with FORMFLOW_TEST_REDIS), flush it before and after each test, and
skip where no server answers unless FORMFLOW_REQUIRE_REDIS=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from huey import Huey, RedisHuey, SqliteHuey
from queues import SHOP_DIR, redis_url
from sqlalchemy import Engine

from formflow.definitions import load_app
from formflow.storage.tables import AppSchema

REQUIRED = os.environ.get("FORMFLOW_REQUIRE_REDIS") == "1"


@pytest.fixture
def schema(engine: Engine) -> AppSchema:
    schema = AppSchema(load_app(SHOP_DIR))
    schema.metadata.create_all(engine)
    return schema


@pytest.fixture
def redis_queue_url() -> Iterator[str]:
    url = redis_url()
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as error:
        if REQUIRED:
            pytest.fail(f"no Redis at {url}: {error}")
        pytest.skip(f"no Redis at {url}: {error}")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(params=["sqlite", "redis"])
def huey(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Huey]:
    """Each test that takes this runs twice: with huey on SQLite, and on Redis."""
    if request.param == "sqlite":
        queue = SqliteHuey("formflow", filename=str(tmp_path / "jobs.db"), results=False)
    else:
        url = request.getfixturevalue("redis_queue_url")
        queue = RedisHuey("formflow", url=url, results=False, blocking=False)
    yield queue
    queue.storage.close()
