"""People to notify, on a fresh database (SQLite and PostgreSQL in turn)."""

from __future__ import annotations

import pytest
from notify_people import People
from sqlalchemy import Engine

from formflow import accounts
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import upgrade_platform_tables


@pytest.fixture
def people(engine: Engine) -> People:
    upgrade_platform_tables(engine)
    hashed = accounts.hash_password("password1")
    with write_transaction(engine) as connection:

        def user(name: str, **more: object) -> int:
            return accounts.create_user(connection, name, None, password_hash=hashed, **more)  # type: ignore[arg-type]

        found = People(
            ann=user("ann", language="en", email="ann@example.test", display_name="Ann"),
            bo=user("bo", language="zh", email="bo@example.test", roles={"shop": ["manager"]}),
            cy=user("cy", language="en"),
        )
    return found
