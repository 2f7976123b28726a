"""A second factor: one-time codes from an authenticator app, and recovery codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import Engine

from formflow import accounts
from formflow.accounts import second_factor
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import platform_metadata

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def user(engine: Engine) -> int:
    platform_metadata.create_all(engine)
    with write_transaction(engine) as connection:
        return accounts.create_user(connection, "alice", "password-1")


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


def enrolled(engine: Engine, user: int) -> tuple[str, list[str]]:
    with write_transaction(engine) as connection:
        secret = second_factor.begin_enrolment(connection, user)
        codes = second_factor.confirm_enrolment(connection, user, code_at(secret, NOW), NOW)
    return secret, codes


def test_an_enrolment_is_pending_until_a_code_confirms_it(engine: Engine, user: int) -> None:
    with write_transaction(engine) as connection:
        secret = second_factor.begin_enrolment(connection, user)
        assert not second_factor.is_enrolled(connection, user)
        assert not second_factor.verify(connection, user, code_at(secret, NOW), NOW)
        with pytest.raises(second_factor.WrongCode):
            second_factor.confirm_enrolment(connection, user, "000000", NOW)
        second_factor.confirm_enrolment(connection, user, code_at(secret, NOW), NOW)
        assert second_factor.is_enrolled(connection, user)


def test_confirming_hands_out_ten_recovery_codes(engine: Engine, user: int) -> None:
    _secret, codes = enrolled(engine, user)
    assert len(set(codes)) == second_factor.RECOVERY_CODES
    with write_transaction(engine) as connection:
        assert second_factor.status(connection, user).recovery_codes_left == 10


def test_a_code_from_the_step_before_or_after_is_accepted(engine: Engine, user: int) -> None:
    secret, _codes = enrolled(engine, user)
    later = NOW + timedelta(minutes=5)
    with write_transaction(engine) as connection:
        assert second_factor.verify(
            connection, user, code_at(secret, later - timedelta(seconds=30)), later
        )


def test_a_code_two_steps_away_is_refused(engine: Engine, user: int) -> None:
    secret, _codes = enrolled(engine, user)
    later = NOW + timedelta(minutes=5)
    with write_transaction(engine) as connection:
        assert not second_factor.verify(
            connection, user, code_at(secret, later - timedelta(seconds=61)), later
        )


def test_a_code_signs_in_only_once(engine: Engine, user: int) -> None:
    secret, _codes = enrolled(engine, user)
    later = NOW + timedelta(minutes=5)
    code = code_at(secret, later)
    with write_transaction(engine) as connection:
        assert second_factor.verify(connection, user, code, later)
        assert not second_factor.verify(connection, user, code, later)


def test_the_enrolment_code_cannot_be_used_again_to_sign_in(engine: Engine, user: int) -> None:
    secret, _codes = enrolled(engine, user)
    with write_transaction(engine) as connection:
        assert not second_factor.verify(connection, user, code_at(secret, NOW), NOW)


def test_a_recovery_code_works_once_however_it_is_typed(engine: Engine, user: int) -> None:
    _secret, codes = enrolled(engine, user)
    typed = codes[0].upper().replace("-", " ")
    with write_transaction(engine) as connection:
        assert second_factor.verify(connection, user, typed, NOW)
        assert not second_factor.verify(connection, user, codes[0], NOW)
        assert second_factor.status(connection, user).recovery_codes_left == 9


def test_new_recovery_codes_replace_the_old_ones(engine: Engine, user: int) -> None:
    _secret, old = enrolled(engine, user)
    with write_transaction(engine) as connection:
        new = second_factor.new_recovery_codes(connection, user)
        assert not second_factor.verify(connection, user, old[1], NOW)
        assert second_factor.verify(connection, user, new[1], NOW)


def test_turning_it_off_removes_secret_and_codes(engine: Engine, user: int) -> None:
    secret, codes = enrolled(engine, user)
    with write_transaction(engine) as connection:
        second_factor.turn_off(connection, user)
        assert not second_factor.is_enrolled(connection, user)
        assert not second_factor.verify(connection, user, codes[2], NOW)
        assert not second_factor.verify(connection, user, code_at(secret, NOW), NOW)


def test_an_enrolled_factor_is_not_replaced_behind_the_users_back(
    engine: Engine, user: int
) -> None:
    enrolled(engine, user)
    with write_transaction(engine) as connection, pytest.raises(second_factor.SecondFactorError):
        second_factor.begin_enrolment(connection, user)


def test_the_qr_code_names_the_account_and_issuer() -> None:
    uri = second_factor.provisioning_uri(pyotp.random_base32(), "alice")
    assert uri.startswith("otpauth://totp/Formflow:alice?")
    assert "issuer=Formflow" in uri
