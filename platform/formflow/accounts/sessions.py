"""Signed-in sessions: one row per browser a user signed in from, ended on the server.

A signed cookie alone cannot be taken back: a copy of it keeps working until it expires,
whatever the user or an administrator does. So the cookie carries only a random token, and
the row its hash names is what signs the browser in. Signing out deletes the row; a new
password, deactivation or a change of roles deletes every row of the user, so every copy of
every cookie of theirs (the "remember me" cookie included) stops working at once. The
database keeps only the token's SHA-256 hash, as it does for API tokens.

A session expires when unused for its lifetime (longer when the user asked to be
remembered). ``last_seen_at`` is written at most once a minute per session, and pushes the
expiry on, so a busy page does not turn every read into a write.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from formflow import audit
from formflow.audit import Action
from formflow.storage.platform_tables import sessions
from formflow.storage.rows import aware, from_row

LIFETIME = timedelta(hours=12)
"""How long an unused session lasts."""
REMEMBERED_LIFETIME = timedelta(days=30)
"""How long an unused session lasts when its user asked to be remembered."""
TOUCH_INTERVAL = timedelta(minutes=1)
MAX_USER_AGENT_LENGTH = 300
MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True)
class Session:
    """A session as its user sees it in the list."""

    id: int
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    address: str
    remember: bool


@dataclass(frozen=True)
class Seen:
    """The session a request came with, as far as deciding whether to note its use."""

    id: int
    last_seen_at: datetime
    remember: bool

    def touch_due(self, now: datetime) -> bool:
        return aware(self.last_seen_at) <= now - TOUCH_INTERVAL


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def lifetime(remember: bool) -> timedelta:
    return REMEMBERED_LIFETIME if remember else LIFETIME


def start_session(
    connection: Connection,
    user_id: int,
    *,
    remember: bool,
    user_agent: str,
    address: str,
    now: datetime | None = None,
) -> str:
    """A new session for ``user_id``; returns its token, which only the cookie keeps.

    Sessions of the user that have expired are cleared away here, so the table holds
    only live ones and the expired ones of users who never came back.
    """
    now = now or datetime.now(UTC)
    connection.execute(
        delete(sessions).where(sessions.c.user_id == user_id, sessions.c.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    connection.execute(
        insert(sessions).values(
            user_id=user_id,
            token_hash=token_hash(token),
            remember=remember,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime(remember),
            user_agent=user_agent[:MAX_USER_AGENT_LENGTH],
            address=address[:64],
        )
    )
    audit.log(connection, Action.SIGN_IN, user_id=user_id, detail={"remember": remember}, at=now)
    return token


def touch_session(connection: Connection, seen: Seen, now: datetime | None = None) -> None:
    """Note that a session was used now and push its expiry on (unless done within a minute)."""
    now = now or datetime.now(UTC)
    connection.execute(
        update(sessions)
        .where(sessions.c.id == seen.id, sessions.c.last_seen_at <= now - TOUCH_INTERVAL)
        .values(last_seen_at=now, expires_at=now + lifetime(seen.remember))
    )


def list_sessions(
    connection: Connection, user_id: int, now: datetime | None = None
) -> list[Session]:
    """A user's live sessions, most recently used first."""
    now = now or datetime.now(UTC)
    rows = connection.execute(
        select(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.expires_at > now)
        .order_by(sessions.c.last_seen_at.desc(), sessions.c.id.desc())
    )
    return [
        from_row(
            Session, row, created_at=aware(row.created_at), last_seen_at=aware(row.last_seen_at)
        )
        for row in rows
    ]


def session_exists(connection: Connection, session_id: int) -> bool:
    return (
        connection.execute(select(sessions.c.id).where(sessions.c.id == session_id)).first()
        is not None
    )


def end_session(connection: Connection, user_id: int, session_id: int) -> bool:
    """End one of ``user_id``'s sessions; ``False`` if they have none by that id."""
    result = connection.execute(
        delete(sessions).where(sessions.c.id == session_id, sessions.c.user_id == user_id)
    )
    return bool(result.rowcount)


def end_sessions(connection: Connection, user_id: int, *, keep: int | None = None) -> int:
    """End every session of ``user_id`` (but ``keep``, when given); how many ended."""
    statement = delete(sessions).where(sessions.c.user_id == user_id)
    if keep is not None:
        statement = statement.where(sessions.c.id != keep)
    return int(connection.execute(statement).rowcount)


def end_session_by_token(connection: Connection, token: str) -> None:
    """End the session a cookie's token names (signing out)."""
    ended = connection.execute(
        delete(sessions)
        .where(sessions.c.token_hash == token_hash(token))
        .returning(sessions.c.user_id)
    ).scalar()
    audit.log(connection, Action.SIGN_OUT, user_id=ended)
