"""What a request works with: the instance, the signed-in user, and the actor they are.

Views ask here rather than reaching into Flask's globals themselves, so each view reads
as "who is asking, and which service answers".
"""

from __future__ import annotations

from typing import cast

from flask import current_app
from flask_login import UserMixin, current_user

from formflow import accounts
from formflow.instance import Instance
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction
from formflow.web.extensions import login_manager


class WebUser(UserMixin):  # type: ignore[misc]
    """A signed-in user as Flask-Login sees them, with their access (read with them)."""

    def __init__(self, identity: accounts.Identity) -> None:
        self.identity = identity
        self.user = identity.user

    def get_id(self) -> str:
        return str(self.user.id)


@login_manager.user_loader  # type: ignore[untyped-decorator]
def _load_user(user_id: str) -> WebUser | None:
    if not user_id.isdigit():
        return None
    with read_transaction(instance().engine) as connection:
        identity = accounts.load_identity(connection, int(user_id))
    return WebUser(identity) if identity is not None and identity.user.is_active else None


def instance() -> Instance:
    return cast(Instance, current_app.extensions["formflow"])


def user() -> accounts.User:
    """The signed-in user (views are behind ``login_required``)."""
    return cast(WebUser, current_user).user


def actor(app_key: str) -> Actor:
    """The signed-in user as an actor in ``app_key`` (their access came with them)."""
    return cast(WebUser, current_user).identity.actor(app_key)


def records(app_key: str) -> RecordService:
    return instance().records(app_key)
