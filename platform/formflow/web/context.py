"""What a request works with: the instance, the signed-in user, and the actor they are.

Views ask here rather than reaching into Flask's globals themselves, so each view reads
as "who is asking, and which service answers".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from flask import current_app
from flask_login import UserMixin, current_user

from formflow import accounts
from formflow.accounts import sessions
from formflow.lifecycle.instance import Instance
from formflow.records import Actor, RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.web.extensions import login_manager


class WebUser(UserMixin):  # type: ignore[misc]
    """A signed-in user as Flask-Login sees them, with their access (read with them).

    Their id, in the session cookie and the "remember me" cookie, is their session's token:
    when the session ends on the server, both cookies stop working.
    """

    def __init__(self, identity: accounts.Identity, token: str, session_id: int) -> None:
        self.identity = identity
        self.user = identity.user
        self.token = token
        self.session_id = session_id

    def get_id(self) -> str:
        return self.token


@login_manager.user_loader  # type: ignore[untyped-decorator]
def _load_user(token: str) -> WebUser | None:
    """The user a live session token signs in; notes the session's use at most once a
    minute (a write only then)."""
    if len(token) > sessions.MAX_TOKEN_LENGTH:
        return None
    engine = instance().engine
    now = datetime.now(UTC)
    with read_transaction(engine) as connection:
        found = accounts.load_session_identity(connection, token, now)
    if found is None or not found.identity.user.is_active:
        return None
    if found.session.touch_due(now):
        with write_transaction(engine) as connection:
            sessions.touch_session(connection, found.session, now)
    return WebUser(found.identity, token, found.session.id)


def instance() -> Instance:
    return cast(Instance, current_app.extensions["formflow"])


def user() -> accounts.User:
    """The signed-in user (views are behind ``login_required``)."""
    return cast(WebUser, current_user).user


def web_user() -> WebUser:
    """The signed-in user with their session (views are behind ``login_required``)."""
    return cast(WebUser, current_user)


def actor(app_key: str) -> Actor:
    """The signed-in user as an actor in ``app_key`` (their access came with them)."""
    return cast(WebUser, current_user).identity.actor(app_key)


def records(app_key: str) -> RecordService:
    return instance().records(app_key)
