"""Who is asking: a user and their access, read in one statement, as actor_for reads it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from formflow import accounts
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import platform_metadata


@pytest.fixture
def users(engine: Engine) -> dict[str, int]:
    platform_metadata.create_all(engine)
    with write_transaction(engine) as connection:
        top = accounts.create_department(connection, "Sales")
        east = accounts.create_department(connection, "East", parent_id=top)
        accounts.create_department(connection, "East 1", parent_id=east)
        accounts.create_department(connection, "West", parent_id=top)
        make = accounts.create_user
        return {
            "manager": make(
                connection,
                "manager",
                None,
                password_hash="x",
                department_id=top,
                roles={"crm": ["manager", "rep"], "hr": ["viewer"]},
            ),
            "rep": make(
                connection,
                "rep",
                None,
                password_hash="x",
                department_id=east,
                roles={"crm": ["rep"]},
            ),
            "loner": make(connection, "loner", None, password_hash="x"),
        }


@pytest.mark.parametrize("who", ["manager", "rep", "loner"])
@pytest.mark.parametrize("app_key", ["crm", "hr", "none"])
def test_an_identity_acts_as_actor_for_says(
    engine: Engine, users: dict[str, int], who: str, app_key: str
) -> None:
    with read_transaction(engine) as connection:
        identity = accounts.load_identity(connection, users[who])
        user = accounts.get_user(connection, users[who])
        assert identity is not None
        assert user is not None
        assert identity.user == user
        assert identity.actor(app_key) == accounts.actor_for(connection, user, app_key)


def test_a_manager_reaches_every_department_below(engine: Engine, users: dict[str, int]) -> None:
    with read_transaction(engine) as connection:
        identity = accounts.load_identity(connection, users["manager"])
    assert identity is not None
    assert len(identity.subtree) == 4
    assert identity.roles == {"crm": frozenset({"manager", "rep"}), "hr": frozenset({"viewer"})}


def test_no_identity_for_an_unknown_user(engine: Engine, users: dict[str, int]) -> None:
    with read_transaction(engine) as connection:
        assert accounts.load_identity(connection, 999_999) is None
