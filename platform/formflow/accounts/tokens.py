"""API tokens: what a script or another system signs in to the REST API with.

A token is shown to its owner once, when it is made, and never again: the database keeps
only its SHA-256 hash, so a copy of the database does not hand out working tokens. A
request's token is hashed and looked up by that hash, which reveals nothing about the
plaintext through timing (the comparison the database makes is between hashes).

``last_used_at`` tells people which tokens are still in use; it is written at most once a
minute per token, so a busy client does not turn every read into a write. A token may be
given an ``expires_at``, after which it signs nobody in (a token for a one-off job need not
outlive it).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update

from formflow import accounts, audit
from formflow.audit import Action
from formflow.errors import FormflowError
from formflow.storage.platform_tables import api_tokens
from formflow.storage.rows import aware, from_row

PREFIX = "ff_"
"""Every token starts with this, so a leaked one is recognisable (secret scanners, logs)."""
MAX_NAME_LENGTH = 100
MAX_TOKEN_LENGTH = 200
TOUCH_INTERVAL = timedelta(minutes=1)


class TokenError(FormflowError):
    """A token request that cannot be carried out (an empty name, say)."""


@dataclass(frozen=True)
class TokenScope:
    """What a token may do, within what its user may: only read, and only some forms
    (``app/form`` keys; ``None``: every form)."""

    read_only: bool = False
    forms: frozenset[str] | None = None

    def permits(self, method: str, app_key: str | None, form_key: str | None) -> bool:
        """Whether a request of ``method`` on ``app_key``/``form_key`` is within the scope.

        A request about no one form (``None``: the task inbox, a decision) is outside the
        scope of a token limited to forms: it would reach records of any form.
        """
        if self.read_only and method not in READ_METHODS:
            return False
        if self.forms is None:
            return True
        return app_key is not None and f"{app_key}/{form_key}" in self.forms

    def forms_of(self, app_key: str) -> frozenset[str] | None:
        """The keys of the forms of ``app_key`` within the scope (``None``: every form)."""
        if self.forms is None:
            return None
        prefix = f"{app_key}/"
        return frozenset(key.removeprefix(prefix) for key in self.forms if key.startswith(prefix))

    @classmethod
    def from_row(cls, read_only: object, forms: object) -> TokenScope:
        return cls(bool(read_only), frozenset(str(forms).split()) if forms else None)

    def describe(self) -> str:
        parts = ["read only" if self.read_only else "read and write"]
        if self.forms is not None:
            parts.append(", ".join(sorted(self.forms)))
        return "; ".join(parts)


FULL_SCOPE = TokenScope()
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_KEY = re.compile(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ApiToken:
    """A token as its owner sees it in the list: everything but the secret."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = None
    scope: TokenScope = FULL_SCOPE

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class TokenMatch:
    """The token a plaintext belongs to, and the active user it signs in."""

    token_id: int
    identity: accounts.Identity
    last_used_at: datetime | None
    scope: TokenScope = FULL_SCOPE

    @property
    def user(self) -> accounts.User:
        return self.identity.user

    def touch_due(self, now: datetime) -> bool:
        return self.last_used_at is None or aware(self.last_used_at) <= now - TOUCH_INTERVAL


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    connection: Connection,
    user_id: int,
    name: str,
    *,
    now: datetime | None = None,
    expires_in: timedelta | None = None,
    scope: TokenScope = FULL_SCOPE,
) -> tuple[int, str]:
    """A new token for ``user_id``: its id, and its plaintext, which is shown only now.

    With ``expires_in``, the token stops working that long after ``now``; ``scope`` narrows
    it below what the user may do.
    """
    name = name.strip()
    if not name:
        raise TokenError("give the token a name, such as the script or system that uses it")
    if len(name) > MAX_NAME_LENGTH:
        raise TokenError(f"a token name has at most {MAX_NAME_LENGTH} characters")
    if expires_in is not None and expires_in <= timedelta(0):
        raise TokenError("a token's lifetime must be positive")
    for key in sorted(scope.forms or ()):
        if not _FORM_KEY.match(key):
            raise TokenError(f"'{key}' is not a form, written as app/form (sales/order)")
    if scope.forms is not None and not scope.forms:
        raise TokenError("a token limited to forms needs at least one form")
    now = now or datetime.now(UTC)
    plaintext = PREFIX + secrets.token_urlsafe(32)
    token_id: int = connection.execute(
        insert(api_tokens)
        .values(
            user_id=user_id,
            name=name,
            token_hash=token_hash(plaintext),
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
            read_only=scope.read_only or None,
            forms=None if scope.forms is None else " ".join(sorted(scope.forms)),
        )
        .returning(api_tokens.c.id)
    ).scalar_one()
    audit.log(
        connection,
        Action.TOKEN_CREATE,
        detail={"token": token_id, "owner": user_id, "name": name},
        at=now,
    )
    return token_id, plaintext


def find_token(
    connection: Connection, plaintext: str, *, now: datetime | None = None
) -> TokenMatch | None:
    """The token ``plaintext`` is and its active user; ``None`` for anything else,
    an expired token included.

    Only reads, so it can run in a read transaction; see :func:`touch_token`.
    """
    if not plaintext.startswith(PREFIX) or len(plaintext) > MAX_TOKEN_LENGTH:
        return None
    digest = token_hash(plaintext)
    found = accounts.load_token_identity(connection, digest, now or datetime.now(UTC))
    if found is None:
        return None
    identity, row = found
    if not hmac.compare_digest(row["token_hash"], digest) or not identity.user.is_active:
        return None
    scope = TokenScope.from_row(row["read_only"], row["forms"])
    return TokenMatch(int(row["token_id"]), identity, row["last_used_at"], scope)


def touch_token(connection: Connection, token_id: int, now: datetime | None = None) -> None:
    """Record that a token was used now, unless that was already recorded within a minute."""
    now = now or datetime.now(UTC)
    connection.execute(
        update(api_tokens)
        .where(
            api_tokens.c.id == token_id,
            or_(
                api_tokens.c.last_used_at.is_(None),
                api_tokens.c.last_used_at <= now - TOUCH_INTERVAL,
            ),
        )
        .values(last_used_at=now)
    )


def authenticate_token(
    connection: Connection, plaintext: str, *, now: datetime | None = None
) -> accounts.User | None:
    """The active user ``plaintext`` signs in, or ``None``; notes the use (at most once a
    minute), so ``connection`` must be able to write."""
    now = now or datetime.now(UTC)
    match = find_token(connection, plaintext, now=now)
    if match is None:
        return None
    if match.touch_due(now):
        touch_token(connection, match.token_id, now)
    return match.user


def list_tokens(connection: Connection, user_id: int | None) -> list[ApiToken]:
    """A user's tokens (``None``: everyone's, for an administrator), newest first."""
    query = select(api_tokens).order_by(api_tokens.c.id.desc())
    if user_id is not None:
        query = query.where(api_tokens.c.user_id == user_id)
    return [
        from_row(
            ApiToken,
            row,
            created_at=aware(row.created_at),
            last_used_at=aware(row.last_used_at),
            expires_at=aware(row.expires_at),
            scope=TokenScope.from_row(row.read_only, row.forms),
        )
        for row in connection.execute(query)
    ]


def revoke_token(connection: Connection, user_id: int | None, token_id: int) -> bool:
    """Delete one of ``user_id``'s tokens (``None``: anyone's, for an administrator);
    ``False`` if there is no such token."""
    statement = delete(api_tokens).where(api_tokens.c.id == token_id)
    if user_id is not None:
        statement = statement.where(api_tokens.c.user_id == user_id)
    revoked = bool(connection.execute(statement).rowcount)
    if revoked:
        audit.log(connection, Action.TOKEN_REVOKE, detail={"token": token_id})
    return revoked
