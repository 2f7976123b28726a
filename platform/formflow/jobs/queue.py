"""The instance's huey: a SQLite file beside its database, or Redis when configured."""

from __future__ import annotations

import sqlite3

from huey import Huey, RedisHuey, SqliteHuey
from huey.storage import SqliteStorage
from redis import Redis, RedisError

from formflow.config import Settings, without_password
from formflow.errors import FormflowError

QUEUE_NAME = "formflow"
JOBS_FILE = "jobs.db"
"""The SQLite queue's file, in the instance folder."""
CHECK_TIMEOUT_SECONDS = 5.0
"""How long :func:`check_queue` waits for Redis to answer."""


class QueueUnavailable(FormflowError):
    """The job queue's Redis does not answer; the message names it and the reason."""


def check_queue(settings: Settings) -> None:
    """Raise :class:`QueueUnavailable` unless the Redis ``settings`` name answers a ping.

    ``formflow serve`` and ``formflow worker`` call it before they start: huey's consumer
    would otherwise start, then log a traceback every second for as long as Redis is away,
    in every process. The SQLite queue, a file in the instance folder, needs no check.
    """
    if not settings.redis_url:
        return
    client = Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except RedisError as exc:
        raise QueueUnavailable(
            f"cannot reach Redis at {without_password(settings.redis_url)}: {exc} "
            "(check FORMFLOW_REDIS_URL and that Redis is running)"
        ) from None
    finally:
        client.close()


def make_huey(settings: Settings) -> Huey:
    """The queue ``settings`` name. Results are not kept: jobs record what they did in the
    database, and nobody waits on a job's return value."""
    if settings.redis_url:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url, results=False, utc=True)
    settings.instance.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        QUEUE_NAME,
        filename=str(settings.instance / JOBS_FILE),
        results=False,
        utc=True,
        storage_class=SqliteQueue,
    )


class SqliteQueue(SqliteStorage):  # type: ignore[misc]
    """Huey's SQLite storage, syncing to disk at checkpoints rather than at every commit.

    In WAL mode that keeps the file sound through any crash and loses at most the last
    jobs on a power cut; the outbox in the database still owes their deliveries, and the
    sweep rings for them. A sync per enqueue would cost every write a few milliseconds.
    """

    def _create_connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection = super()._create_connection()
        connection.execute("pragma synchronous=NORMAL")
        return connection
