"""Helpers for the jobs tests, importable by the worker processes they start."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from huey import Huey

SHOP_DIR = Path(__file__).parent.parent / "records" / "shop_app"
JOBS_REDIS_DB = 13
REDIS_REQUIRED = os.environ.get("FORMFLOW_REQUIRE_REDIS") == "1"
"""CI sets it: a Redis test that cannot run fails instead of skipping."""
WAIT_SECONDS = 120.0
"""How long a test waits for work to happen before failing (a bound, never a measure)."""


def redis_url(port: int = 6379, db: int = JOBS_REDIS_DB) -> str:
    return os.environ.get("FORMFLOW_TEST_REDIS") or f"redis://127.0.0.1:{port}/{db}"


def drain(huey: Huey) -> int:
    """Run every job on the queue, and those they enqueue, in this thread; returns how many."""
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def wait_until(done: Callable[[], bool], what: str) -> None:
    """Wait for ``done()``; fail naming ``what`` after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
