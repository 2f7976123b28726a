"""Fixtures for the automations tests: the rules app with the rules a test gives, its people."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from huey import Huey, RedisHuey, SqliteHuey
from rules_support import MakeRules, Rules, build_rules, rules_folder
from sqlalchemy import Engine

from formflow import accounts
from formflow.storage.database import write_transaction


@pytest.fixture(scope="session")
def password_hash() -> str:
    return accounts.hash_password("password1")


@pytest.fixture
def make_rules(engine: Engine, tmp_path: Path, password_hash: str) -> MakeRules:
    """``make_rules(name=YAML, ...)``: the rules app with those automations (and ``files``
    replaced, by relative path), running, and
    users ann and bob (staff) and max (manager) in ``rules.users``."""

    def make(max_depth: int = 5, files: dict[str, str] | None = None, **automations: str) -> Rules:
        folder = rules_folder(tmp_path, automations, files)
        rules = build_rules(engine, folder, max_depth=max_depth)
        with write_transaction(engine) as connection:
            for name, role in (("ann", "staff"), ("bob", "staff"), ("max", "manager")):
                rules.users[name] = accounts.create_user(
                    connection,
                    name,
                    None,
                    password_hash=password_hash,
                    department_id=None,
                    roles={"rules": [role]},
                )
        return rules

    return make


@pytest.fixture(params=["sqlite", "redis"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Huey]:
    """huey on a SQLite file, then on Redis (database 13, a queue name of this test's own,
    whose keys are deleted after it; skipped where no Redis answers unless
    FORMFLOW_REQUIRE_REDIS=1)."""
    if request.param == "sqlite":
        huey: Huey = SqliteHuey("formflow", filename=str(tmp_path / "jobs.db"), results=False)
        yield huey
        huey.storage.close()
        return
    url = os.environ.get("FORMFLOW_TEST_REDIS") or "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("FORMFLOW_REQUIRE_REDIS") == "1":
            pytest.fail(f"no Redis at {url}: {error}")
        pytest.skip(f"no Redis at {url}: {error}")
    name = f"formflowrules{uuid.uuid4().hex[:12]}"
    huey = RedisHuey(name, url=url, results=False, blocking=False)
    yield huey
    for key in client.scan_iter(f"*{name}*"):
        client.delete(key)
    client.close()
