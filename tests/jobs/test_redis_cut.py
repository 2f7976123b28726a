"""Redis cut mid-run: writes go on, the worker survives, and every job runs once Redis is back.

The test starts a Redis server of its own, without persistence, so when it is killed and
restarted its queue is gone: what was owed is still in the database's outbox.
"""

from __future__ import annotations

import multiprocessing
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from job_workers import TALLY, open_queue, relay, run_worker, tallies, test_metadata
from queues import REDIS_REQUIRED, wait_until
from sqlalchemy import Engine, select

from formflow.jobs import Jobs
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.tables import AppSchema

REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """A redis-server on a free port, which the test can kill and start again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        wait_until(lambda: _answers(client), "redis-server to answer")
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        if REDIS_REQUIRED:
            pytest.fail("no redis-server on this machine (apt-get install redis-server)")
        pytest.skip("no redis-server on this machine (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.mark.slow
def test_jobs_resume_after_redis_is_cut_mid_run(
    database_url: str, engine: Engine, schema: AppSchema, redis_server: RedisServer
) -> None:
    test_metadata.create_all(engine)
    writer = relay(engine)
    Jobs(open_queue(redis_server.url), writer)
    service = RecordService(engine, schema, relay=writer)

    def create(count: int) -> list[int]:
        return [
            service.create(Actor.system(), "account", {"name": f"Account {n}"})["id"]
            for n in range(count)
        ]

    spawn = multiprocessing.get_context("spawn")
    worker = spawn.Process(target=run_worker, args=(database_url, redis_server.url, 2, 0.02))
    worker.start()
    try:
        ids = create(40)
        wait_until(lambda: _tallied(engine) >= 10, "the worker to get going")
        redis_server.kill()  # mid-run
        ids += create(40)  # writes go on without the queue; their rings are lost
        redis_server.start()  # empty
        ids += create(1)  # the next write after Redis is back
        wait_until(lambda: writer.owed(TALLY) == 0, "every delivery")
        assert worker.is_alive()
    finally:
        worker.terminate()
        worker.join()
    with engine.connect() as connection:
        counts = dict(connection.execute(select(tallies.c.record_id, tallies.c.count)).all())
    assert counts == dict.fromkeys(ids, 1)


def _tallied(engine: Engine) -> int:
    with engine.connect() as connection:
        return len(connection.execute(select(tallies.c.record_id)).all())
