"""Real queues for the jobs tests: huey on a SQLite file, and on Redis.

Redis runs at 127.0.0.1:6379 on the development machines; these tests take database
JOBS_REDIS_DB (override with FORMFLOW_TEST_REDIS), each test its own queue name in it,
whose keys are deleted after the test; they skip where no server answers unless
FORMFLOW_REQUIRE_REDIS=1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from huey import Huey, RedisHuey, SqliteHuey
from queues import REDIS_REQUIRED, SHOP_DIR, redis_url
from sqlalchemy import Engine

from formflow.definitions import load_app
from formflow.storage.tables import AppSchema


@pytest.fixture
def schema(engine: Engine) -> AppSchema:
    schema = AppSchema(load_app(SHOP_DIR))
    schema.metadata.create_all(engine)
    return schema


@dataclass(frozen=True)
class RedisQueue:
    """A queue of this test's own in the jobs tests' Redis database: its keys carry
    ``name``, so tests running at once do not meet, and are deleted after the test."""

    url: str
    name: str

    @property
    def spec(self) -> str:
        """How the worker processes are told of it (see job_workers.open_queue)."""
        return f"{self.url}#{self.name}"


@pytest.fixture
def redis_queue() -> Iterator[RedisQueue]:
    url = redis_url()
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as error:
        if REDIS_REQUIRED:
            pytest.fail(f"no Redis at {url}: {error}")
        pytest.skip(f"no Redis at {url}: {error}")
    queue = RedisQueue(url, f"formflowtest{uuid.uuid4().hex[:12]}")
    yield queue
    for key in client.scan_iter(f"*{queue.name}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["sqlite", "redis"])
def huey(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Huey]:
    """Each test that takes this runs twice: with huey on SQLite, and on Redis."""
    if request.param == "sqlite":
        queue = SqliteHuey("formflow", filename=str(tmp_path / "jobs.db"), results=False)
    else:
        redis_queue: RedisQueue = request.getfixturevalue("redis_queue")
        queue = RedisHuey(redis_queue.name, url=redis_queue.url, results=False, blocking=False)
    yield queue
    queue.storage.close()
