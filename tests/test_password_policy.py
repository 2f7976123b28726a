"""New passwords: long enough, not guessable, and not one of the user's last few."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from formflow import accounts
from formflow.accounts.passwords import PasswordPolicy, weakness
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import password_history, platform_metadata

POLICY = PasswordPolicy(min_length=10, history=3)


@pytest.mark.parametrize(
    "password",
    [
        "password-1",
        "P@ssw0rd2024!",
        "Qwerty123!",
        "zhangwei1990",
        "woaini1314",
        "aaaaaaaaaa",
        "1234567890",
        "0987654321",
        "asdfghjkl;",
        "Abc1234567",
    ],
)
def test_guessable_passwords_are_refused(password: str) -> None:
    assert weakness(password, "li.na", POLICY) is not None


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "Tr0ub4dor&3x-2", "li-na-2019-spring", "绿茶配鸡蛋饼很好吃呀"],
)
def test_passwords_nobody_guesses_first_pass(password: str) -> None:
    assert weakness(password, "wang", POLICY) is None


def test_a_password_shorter_than_the_policy_is_refused() -> None:
    assert weakness("Ab7#kq9!", "li", POLICY) == "A password needs at least %(min)d characters."


def test_a_password_holding_the_username_is_refused() -> None:
    assert weakness("zhaolei-is-great", "ZhaoLei", POLICY) is not None


@pytest.fixture
def alice(engine: Engine) -> str:
    platform_metadata.create_all(engine)
    with write_transaction(engine) as connection:
        accounts.create_user(connection, "alice", "first pass phrase", policy=POLICY)
    return "alice"


def test_a_recent_password_cannot_come_back(engine: Engine, alice: str) -> None:
    with write_transaction(engine) as connection:
        accounts.set_password(connection, alice, "second pass phrase", policy=POLICY)
        with pytest.raises(accounts.WeakPassword, match="last 3 passwords"):
            accounts.set_password(connection, alice, "first pass phrase", policy=POLICY)


def test_a_password_older_than_the_history_may_come_back(engine: Engine, alice: str) -> None:
    with write_transaction(engine) as connection:
        for phrase in ("second pass phrase", "third pass phrase", "fourth pass phrase"):
            accounts.set_password(connection, alice, phrase, policy=POLICY)
        accounts.set_password(connection, alice, "first pass phrase", policy=POLICY)


def test_only_the_history_is_kept(engine: Engine, alice: str) -> None:
    with write_transaction(engine) as connection:
        for phrase in ("second pass phrase", "third pass phrase", "fourth pass phrase"):
            accounts.set_password(connection, alice, phrase, policy=POLICY)
        kept = connection.execute(select(func.count()).select_from(password_history)).scalar()
    assert kept == 3


def test_a_refused_password_changes_nothing(engine: Engine, alice: str) -> None:
    with write_transaction(engine) as connection:
        with pytest.raises(accounts.WeakPassword):
            accounts.set_password(connection, alice, "qwerty12345", policy=POLICY)
        user = accounts.authenticate(connection, alice, "first pass phrase")
    assert user is not None


def test_creating_a_user_with_a_weak_password_is_refused(engine: Engine) -> None:
    platform_metadata.create_all(engine)
    with write_transaction(engine) as connection, pytest.raises(accounts.WeakPassword):
        accounts.create_user(connection, "bob", "password123", policy=POLICY)
