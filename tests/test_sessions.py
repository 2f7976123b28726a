"""Server-side sessions: a token signs a browser in only while its row lives, and changes to
the user's credentials or access end every row of theirs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, inspect, select

from formflow import accounts
from formflow.accounts import sessions
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.migrations import migrate
from formflow.storage.platform_tables import platform_metadata
from formflow.storage.platform_tables import sessions as session_rows

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PASSWORD = "password-1"


@pytest.fixture
def users(engine: Engine) -> dict[str, int]:
    platform_metadata.create_all(engine)
    with write_transaction(engine) as connection:
        east = accounts.create_department(connection, "East")
        make = accounts.create_user
        return {
            "admin": make(connection, "admin", PASSWORD, is_admin=True),
            "rep": make(connection, "rep", PASSWORD, department_id=east, roles={"crm": ["rep"]}),
            "other": make(connection, "other", PASSWORD),
        }


def start(engine: Engine, user_id: int, *, remember: bool = False, at: datetime = NOW) -> str:
    with write_transaction(engine) as connection:
        return sessions.start_session(
            connection, user_id, remember=remember, user_agent="Firefox", address="10.0.0.1", now=at
        )


def signed_in(engine: Engine, token: str, at: datetime = NOW) -> accounts.SessionIdentity | None:
    with read_transaction(engine) as connection:
        return accounts.load_session_identity(connection, token, at)


def test_a_session_token_signs_in_its_user_with_their_access(
    engine: Engine, users: dict[str, int]
) -> None:
    token = start(engine, users["rep"])
    found = signed_in(engine, token)
    with read_transaction(engine) as connection:
        expected = accounts.load_identity(connection, users["rep"])
    assert found is not None
    assert found.identity == expected
    assert found.session.last_seen_at.replace(tzinfo=UTC) == NOW


def test_the_database_keeps_only_the_hash_of_the_token(
    engine: Engine, users: dict[str, int]
) -> None:
    token = start(engine, users["rep"])
    with read_transaction(engine) as connection:
        stored = connection.execute(select(session_rows.c.token_hash)).scalars().all()
    assert stored == [sessions.token_hash(token)]


@pytest.mark.parametrize("wrong", ["", "x", "a" * 43])
def test_anything_else_signs_in_nobody(engine: Engine, users: dict[str, int], wrong: str) -> None:
    start(engine, users["rep"])
    assert signed_in(engine, wrong) is None


@pytest.mark.parametrize(
    ("remember", "lifetime"), [(False, sessions.LIFETIME), (True, sessions.REMEMBERED_LIFETIME)]
)
def test_an_unused_session_expires_after_its_lifetime(
    engine: Engine, users: dict[str, int], remember: bool, lifetime: timedelta
) -> None:
    token = start(engine, users["rep"], remember=remember)
    assert signed_in(engine, token, NOW + lifetime - timedelta(seconds=1)) is not None
    assert signed_in(engine, token, NOW + lifetime) is None


def test_use_is_noted_at_most_once_a_minute_and_keeps_the_session_alive(
    engine: Engine, users: dict[str, int]
) -> None:
    token = start(engine, users["rep"])
    for moment, expected in [
        (NOW + timedelta(seconds=30), NOW),
        (NOW + timedelta(minutes=1), NOW + timedelta(minutes=1)),
        (NOW + timedelta(minutes=1, seconds=59), NOW + timedelta(minutes=1)),
    ]:
        found = signed_in(engine, token, moment)
        assert found is not None
        assert found.session.touch_due(moment) == (expected == moment)
        with write_transaction(engine) as connection:
            sessions.touch_session(connection, found.session, moment)
        found = signed_in(engine, token, moment)
        assert found is not None
        assert found.session.last_seen_at.replace(tzinfo=UTC) == expected
    later = NOW + timedelta(minutes=1) + sessions.LIFETIME - timedelta(seconds=1)
    assert signed_in(engine, token, later) is not None


def test_ending_a_session_signs_it_out(engine: Engine, users: dict[str, int]) -> None:
    token = start(engine, users["rep"])
    with write_transaction(engine) as connection:
        sessions.end_session_by_token(connection, token)
    assert signed_in(engine, token) is None


def test_a_new_password_ends_every_session_of_the_user(
    engine: Engine, users: dict[str, int]
) -> None:
    mine = [start(engine, users["rep"]), start(engine, users["rep"], remember=True)]
    theirs = start(engine, users["other"])
    with write_transaction(engine) as connection:
        accounts.set_password(connection, "rep", "another-password")
    assert [signed_in(engine, token) for token in mine] == [None, None]
    assert signed_in(engine, theirs) is not None


def test_deactivation_ends_every_session_of_the_user(engine: Engine, users: dict[str, int]) -> None:
    token = start(engine, users["rep"])
    with write_transaction(engine) as connection:
        change(connection, users["rep"], is_active=False)
    assert signed_in(engine, token) is None


def test_giving_or_taking_administrator_rights_ends_the_sessions(
    engine: Engine, users: dict[str, int]
) -> None:
    token = start(engine, users["rep"])
    with write_transaction(engine) as connection:
        change(connection, users["rep"], is_admin=True)
    assert signed_in(engine, token) is None


def test_a_change_of_roles_ends_the_sessions(engine: Engine, users: dict[str, int]) -> None:
    token = start(engine, users["rep"])
    with write_transaction(engine) as connection:
        accounts.set_roles(connection, users["rep"], "crm", ["rep", "manager"])
    assert signed_in(engine, token) is None


def test_saving_a_user_unchanged_keeps_their_sessions(
    engine: Engine, users: dict[str, int]
) -> None:
    token = start(engine, users["rep"])
    with write_transaction(engine) as connection:
        accounts.set_roles(connection, users["rep"], "crm", ["rep"])
        change(connection, users["rep"], display_name="Rep Renamed")
    assert signed_in(engine, token) is not None


def change(
    connection: Connection,
    user_id: int,
    *,
    display_name: str | None = None,
    is_active: bool | None = None,
    is_admin: bool | None = None,
) -> None:
    """Save a user's profile as the admin page does, with the changes given."""
    current = accounts.get_user(connection, user_id)
    assert current is not None
    accounts.update_user(
        connection,
        user_id,
        display_name=current.display_name if display_name is None else display_name,
        department_id=current.department_id,
        is_active=current.is_active if is_active is None else is_active,
        is_admin=current.is_admin if is_admin is None else is_admin,
    )


def test_a_user_lists_their_live_sessions_most_recent_first(
    engine: Engine, users: dict[str, int]
) -> None:
    start(engine, users["rep"], at=NOW - sessions.LIFETIME)  # expired by NOW
    first = start(engine, users["rep"], at=NOW - timedelta(hours=1))
    start(engine, users["rep"], remember=True)
    start(engine, users["other"])
    with read_transaction(engine) as connection:
        listed = sessions.list_sessions(connection, users["rep"], NOW)
    assert [(item.remember, item.created_at) for item in listed] == [
        (True, NOW),
        (False, NOW - timedelta(hours=1)),
    ]
    assert (listed[1].user_agent, listed[1].address) == ("Firefox", "10.0.0.1")
    assert signed_in(engine, first) is not None


def test_a_user_ends_only_their_own_sessions(engine: Engine, users: dict[str, int]) -> None:
    token = start(engine, users["rep"])
    found = signed_in(engine, token)
    assert found is not None
    with write_transaction(engine) as connection:
        assert not sessions.end_session(connection, users["other"], found.session.id)
        assert signed_in(engine, token) is not None
        assert sessions.end_session(connection, users["rep"], found.session.id)
    assert signed_in(engine, token) is None


def test_ending_the_other_sessions_keeps_this_one(engine: Engine, users: dict[str, int]) -> None:
    this, *others = [start(engine, users["rep"]) for _ in range(3)]
    theirs = start(engine, users["other"])
    found = signed_in(engine, this)
    assert found is not None
    with write_transaction(engine) as connection:
        assert sessions.end_sessions(connection, users["rep"], keep=found.session.id) == 2
    assert signed_in(engine, this) is not None
    assert [signed_in(engine, token) for token in others] == [None, None]
    assert signed_in(engine, theirs) is not None


def test_starting_a_session_clears_the_users_expired_ones(
    engine: Engine, users: dict[str, int]
) -> None:
    start(engine, users["rep"], at=NOW - sessions.LIFETIME - timedelta(minutes=1))
    start(engine, users["rep"])
    with read_transaction(engine) as connection:
        count = len(connection.execute(select(session_rows.c.id)).all())
    assert count == 1


# sign-in throttling ---------------------------------------------------------------------


def fail(engine: Engine, address: str, times: int, at: datetime = NOW) -> None:
    with write_transaction(engine) as connection:
        for _ in range(times):
            accounts.record_login_failure(connection, "rep", address, at)


def blocked(engine: Engine, address: str, at: datetime = NOW) -> datetime | None:
    with read_transaction(engine) as connection:
        return accounts.login_blocked_until(connection, "rep", address, at)


def test_a_client_may_fail_a_few_times_before_it_waits(
    engine: Engine, users: dict[str, int]
) -> None:
    fail(engine, "10.0.0.9", accounts.LOGIN_FAILURE_LIMIT - 1)
    assert blocked(engine, "10.0.0.9") is None
    fail(engine, "10.0.0.9", 1)
    assert blocked(engine, "10.0.0.9") == NOW + accounts.LOGIN_BACKOFF


def test_failures_from_one_client_do_not_lock_the_user_out_of_another(
    engine: Engine, users: dict[str, int]
) -> None:
    fail(engine, "10.0.0.9", 50)
    assert blocked(engine, "10.0.0.9") is not None
    assert blocked(engine, "10.0.0.1") is None


@pytest.mark.parametrize(
    ("beyond", "wait"),
    [
        (0, timedelta(minutes=1)),
        (1, timedelta(minutes=2)),
        (3, timedelta(minutes=8)),
        (30, accounts.LOGIN_BACKOFF_MAX),
    ],
)
def test_each_further_failure_doubles_the_wait(
    engine: Engine, users: dict[str, int], beyond: int, wait: timedelta
) -> None:
    fail(engine, "10.0.0.9", accounts.LOGIN_FAILURE_LIMIT + beyond)
    assert blocked(engine, "10.0.0.9") == NOW + wait
    assert blocked(engine, "10.0.0.9", NOW + wait) is None


def test_old_failures_are_forgotten(engine: Engine, users: dict[str, int]) -> None:
    fail(engine, "10.0.0.9", 20, at=NOW - accounts.LOGIN_FAILURE_WINDOW)
    assert blocked(engine, "10.0.0.9") is None


def test_signing_in_clears_only_that_clients_failures(
    engine: Engine, users: dict[str, int]
) -> None:
    fail(engine, "10.0.0.9", 20)
    fail(engine, "10.0.0.1", 20)
    with write_transaction(engine) as connection:
        accounts.clear_login_failures(connection, "rep", "10.0.0.1")
    assert blocked(engine, "10.0.0.1") is None
    assert blocked(engine, "10.0.0.9") is not None


def fail_many_names(engine: Engine, address: str, times: int, at: datetime = NOW) -> None:
    with write_transaction(engine) as connection:
        for number in range(times):
            accounts.record_login_failure(connection, f"name{number}", address, at)


def address_blocked(engine: Engine, address: str, at: datetime = NOW) -> datetime | None:
    with read_transaction(engine) as connection:
        return accounts.address_blocked_until(connection, address, at)


def test_a_client_trying_many_usernames_waits_once_it_passes_the_address_limit(
    engine: Engine, users: dict[str, int]
) -> None:
    fail_many_names(engine, "10.0.0.9", accounts.ADDRESS_FAILURE_LIMIT - 1)
    assert address_blocked(engine, "10.0.0.9") is None
    fail_many_names(engine, "10.0.0.9", 1)
    assert address_blocked(engine, "10.0.0.9") == NOW + accounts.LOGIN_BACKOFF


def test_the_address_limit_doubles_its_wait_and_leaves_other_clients_free(
    engine: Engine, users: dict[str, int]
) -> None:
    fail_many_names(engine, "10.0.0.9", accounts.ADDRESS_FAILURE_LIMIT + 2)
    assert address_blocked(engine, "10.0.0.9") == NOW + 4 * accounts.LOGIN_BACKOFF
    assert address_blocked(engine, "10.0.0.1") is None


def test_the_address_limit_forgets_failures_older_than_its_window(
    engine: Engine, users: dict[str, int]
) -> None:
    old = NOW - accounts.ADDRESS_FAILURE_WINDOW
    fail_many_names(engine, "10.0.0.9", accounts.ADDRESS_FAILURE_LIMIT * 2, at=old)
    assert address_blocked(engine, "10.0.0.9") is None


def test_a_migration_adds_the_sessions_table_to_an_older_instance(
    engine: Engine, write_app: Callable[..., Path]
) -> None:
    platform_metadata.create_all(engine)
    session_rows.drop(engine)
    migrate(engine, write_app(), dry_run=False)
    assert "ff_sessions" in inspect(engine).get_table_names()
