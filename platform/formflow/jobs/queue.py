"""The instance's huey: a SQLite file beside its database, or Redis when configured."""

from __future__ import annotations

from huey import Huey, RedisHuey, SqliteHuey

from formflow.config import Settings

QUEUE_NAME = "formflow"
JOBS_FILE = "jobs.db"
"""The SQLite queue's file, in the instance folder."""


def make_huey(settings: Settings) -> Huey:
    """The queue ``settings`` name. Results are not kept: jobs record what they did in the
    database, and nobody waits on a job's return value."""
    if settings.redis_url:
        return RedisHuey(QUEUE_NAME, url=settings.redis_url, results=False, utc=True)
    settings.instance.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        QUEUE_NAME, filename=str(settings.instance / JOBS_FILE), results=False, utc=True
    )
