"""Fixtures for the record actions tests: the pool app, its people, a clock they control."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pool_support import Pool, build_pool
from sqlalchemy import Engine

from formflow import accounts
from formflow.storage.database import write_transaction


@pytest.fixture(scope="session")
def password_hash() -> str:
    return accounts.hash_password("password1")


@pytest.fixture
def pool(engine: Engine, password_hash: str) -> Pool:
    """The pool app running on a fresh database, with reps ann and bob and manager max,
    at 2026-03-09 10:00 in Shanghai until a test moves the clock."""
    made = build_pool(engine, datetime(2026, 3, 9, 2, 0, tzinfo=UTC))
    with write_transaction(engine) as connection:
        for name, role in (("ann", "rep"), ("bob", "rep"), ("max", "manager")):
            made.users[name] = accounts.create_user(
                connection,
                name,
                None,
                password_hash=password_hash,
                department_id=None,
                roles={"pool": [role]},
            )
    return made
