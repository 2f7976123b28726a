"""A second factor for signing in: time-based one-time codes (TOTP, RFC 6238).

A user turns it on in two steps: a secret is made and shown (as a QR code for an
authenticator app), and only a first code read back from the app confirms it, so a
mistyped enrolment cannot lock anyone out. Confirming hands out recovery codes, each good
once, for a lost phone; they are kept as hashes, like passwords.

A code is accepted within one 30-second step either side of now (phones' clocks drift), and
never twice: the step of the last accepted code is kept, so a code seen over someone's
shoulder is worthless once used. Guessing is bounded by the sign-in throttle in
:mod:`formflow.web.auth`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
from sqlalchemy import Connection, delete, insert, select, update

from formflow import audit
from formflow.accounts.sessions import token_hash
from formflow.audit import Action
from formflow.storage.platform_tables import recovery_codes, second_factors

ISSUER = "Formflow"
RECOVERY_CODES = 10
STEP_SECONDS = 30
DRIFT_STEPS = 1


@dataclass(frozen=True)
class SecondFactor:
    """Where a user's second factor stands."""

    enrolled: bool
    """Confirmed by a first code: sign-ins ask for a code."""
    recovery_codes_left: int = 0


def status(connection: Connection, user_id: int) -> SecondFactor:
    confirmed = connection.execute(
        select(second_factors.c.confirmed_at).where(second_factors.c.user_id == user_id)
    ).scalar()
    if confirmed is None:
        return SecondFactor(enrolled=False)
    left = connection.execute(
        select(recovery_codes.c.id).where(
            recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None)
        )
    ).all()
    return SecondFactor(enrolled=True, recovery_codes_left=len(left))


def is_enrolled(connection: Connection, user_id: int) -> bool:
    return status(connection, user_id).enrolled


def begin_enrolment(connection: Connection, user_id: int) -> str:
    """A new secret for ``user_id``, pending until :func:`confirm_enrolment`; a pending one
    is replaced, a confirmed one kept (turn it off first)."""
    if is_enrolled(connection, user_id):
        raise SecondFactorError("a second factor is already on; turn it off first")
    secret = pyotp.random_base32()
    connection.execute(delete(second_factors).where(second_factors.c.user_id == user_id))
    connection.execute(insert(second_factors).values(user_id=user_id, secret=secret))
    return secret


def pending_secret(connection: Connection, user_id: int) -> str | None:
    """The secret an enrolment under way shows, or ``None``."""
    secret: str | None = connection.execute(
        select(second_factors.c.secret).where(
            second_factors.c.user_id == user_id, second_factors.c.confirmed_at.is_(None)
        )
    ).scalar()
    return secret


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://`` address an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def confirm_enrolment(
    connection: Connection, user_id: int, code: str, now: datetime | None = None
) -> list[str]:
    """Turn the pending secret on if ``code`` is its current code; returns the recovery
    codes, shown once. Raises :class:`WrongCode` otherwise."""
    row = connection.execute(
        select(second_factors.c.secret).where(
            second_factors.c.user_id == user_id, second_factors.c.confirmed_at.is_(None)
        )
    ).first()
    if row is None:
        raise SecondFactorError("no enrolment is under way")
    now = now or datetime.now(UTC)
    step = _matching_step(row.secret, code, now)
    if step is None:
        raise WrongCode("the code does not match; check the phone's time and try the next one")
    connection.execute(
        update(second_factors)
        .where(second_factors.c.user_id == user_id)
        .values(confirmed_at=now, last_step=step)
    )
    audit.log(connection, Action.SECOND_FACTOR_ON, detail={"user": user_id}, at=now)
    return new_recovery_codes(connection, user_id)


def new_recovery_codes(connection: Connection, user_id: int) -> list[str]:
    """Fresh recovery codes in place of any left; returns them (the only time they show)."""
    connection.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    connection.execute(
        insert(recovery_codes),
        [{"user_id": user_id, "code_hash": token_hash(_normal(code))} for code in codes],
    )
    audit.log(connection, Action.RECOVERY_CODES_NEW, detail={"user": user_id})
    return codes


def verify(connection: Connection, user_id: int, code: str, now: datetime | None = None) -> bool:
    """Whether ``code`` is the user's current one-time code, or one of their unused
    recovery codes (used up by this call). Only a confirmed second factor verifies."""
    row = connection.execute(
        select(second_factors.c.secret, second_factors.c.last_step).where(
            second_factors.c.user_id == user_id, second_factors.c.confirmed_at.is_not(None)
        )
    ).first()
    if row is None:
        return False
    step = _matching_step(row.secret, code, now or datetime.now(UTC))
    if step is not None:
        if row.last_step is not None and step <= row.last_step:
            return False  # that code, or an earlier one, was used already
        claimed = connection.execute(
            update(second_factors)
            .where(
                second_factors.c.user_id == user_id,
                (second_factors.c.last_step.is_(None)) | (second_factors.c.last_step < step),
            )
            .values(last_step=step)
        )
        return claimed.rowcount == 1
    return _use_recovery_code(connection, user_id, code, now or datetime.now(UTC))


def turn_off(connection: Connection, user_id: int) -> None:
    """Remove the user's second factor and recovery codes (an admin may, for a lost phone)."""
    connection.execute(delete(second_factors).where(second_factors.c.user_id == user_id))
    connection.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    audit.log(connection, Action.SECOND_FACTOR_OFF, detail={"user": user_id})


class SecondFactorError(Exception):
    """A second-factor step asked for in the wrong state."""


class WrongCode(SecondFactorError):
    """A code that is not the one expected."""


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is, within the allowed drift, else ``None``."""
    digits = "".join(code.split())
    if len(digits) != 6 or not (digits.isascii() and digits.isdigit()):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def _use_recovery_code(connection: Connection, user_id: int, code: str, now: datetime) -> bool:
    digest = token_hash(_normal(code))
    used = connection.execute(
        update(recovery_codes)
        .where(
            recovery_codes.c.user_id == user_id,
            recovery_codes.c.code_hash == digest,
            recovery_codes.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return used.rowcount == 1


_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _normal(code: str) -> str:
    return "".join(code.lower().split()).replace("-", "")
