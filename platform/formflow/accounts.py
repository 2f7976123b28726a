"""Users, departments and role assignments, and the :class:`Actor` a user acts as.

Departments form a tree; a manager's ``department`` scope reaches their department and
everything below it, so the subtree is worked out once per actor (one recursive query) and
carried along, rather than joined into every list query.

Passwords are hashed with scrypt (through Werkzeug), never stored or logged in clear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, RowMapping, delete, insert, literal, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from formflow.errors import FormflowError
from formflow.records.access import Actor
from formflow.storage.platform_tables import departments, login_failures, user_roles, users

MIN_PASSWORD_LENGTH = 8


class AccountError(FormflowError):
    """A user or department request that cannot be carried out."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    department_id: int | None
    language: str
    is_admin: bool
    is_active: bool


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password, method="scrypt")


def create_department(
    connection: Connection,
    name: str,
    *,
    parent_id: int | None = None,
    manager_id: int | None = None,
) -> int:
    statement = insert(departments).values(
        name=name, parent_id=parent_id, manager_id=manager_id, created_at=datetime.now(UTC)
    )
    department_id: int = connection.execute(statement.returning(departments.c.id)).scalar_one()
    return department_id


def create_user(
    connection: Connection,
    username: str,
    password: str | None,
    *,
    password_hash: str | None = None,
    display_name: str | None = None,
    department_id: int | None = None,
    is_admin: bool = False,
    language: str = "zh",
    roles: Mapping[str, Iterable[str]] | None = None,
) -> int:
    """Add a user; ``roles`` maps an app key to the role keys they hold in it.

    Give ``password_hash`` instead of ``password`` to bring over an already hashed one
    (an import from another system, or many test users sharing one hash).
    """
    if (password is None) == (password_hash is None):
        raise AccountError("give either a password or a password hash")
    if connection.execute(select(users.c.id).where(users.c.username == username)).first():
        raise AccountError(f"user '{username}' already exists")
    statement = insert(users).values(
        username=username,
        display_name=display_name or username,
        password_hash=password_hash or hash_password(str(password)),
        department_id=department_id,
        is_admin=is_admin,
        is_active=True,
        language=language,
        created_at=datetime.now(UTC),
    )
    user_id: int = connection.execute(statement.returning(users.c.id)).scalar_one()
    for app_key, role_keys in (roles or {}).items():
        set_roles(connection, user_id, app_key, role_keys)
    return user_id


def set_roles(connection: Connection, user_id: int, app_key: str, role_keys: Iterable[str]) -> None:
    connection.execute(
        delete(user_roles).where(user_roles.c.user_id == user_id, user_roles.c.app_key == app_key)
    )
    rows = [
        {"user_id": user_id, "app_key": app_key, "role_key": role}
        for role in sorted(set(role_keys))
    ]
    if rows:
        connection.execute(insert(user_roles), rows)


def set_password(connection: Connection, username: str, password: str) -> None:
    result = connection.execute(
        update(users)
        .where(users.c.username == username)
        .values(password_hash=hash_password(password))
    )
    if result.rowcount == 0:
        raise AccountError(f"no user '{username}'")


def authenticate(connection: Connection, username: str, password: str) -> User | None:
    """The active user with these credentials, or ``None`` (same answer for either mistake)."""
    row = connection.execute(select(users).where(users.c.username == username)).mappings().first()
    if (
        row is None
        or not row["is_active"]
        or not check_password_hash(row["password_hash"], password)
    ):
        return None
    return _user(row)


def get_user(connection: Connection, user_id: int) -> User | None:
    row = connection.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return None if row is None else _user(row)


def department_subtree(connection: Connection, department_id: int) -> frozenset[int]:
    """A department and every department below it."""
    tree = (
        select(departments.c.id)
        .where(departments.c.id == literal(department_id))
        .cte("tree", recursive=True)
    )
    tree = tree.union_all(select(departments.c.id).where(departments.c.parent_id == tree.c.id))
    return frozenset(connection.execute(select(tree.c.id)).scalars())


def actor_for(connection: Connection, user: User, app_key: str) -> Actor:
    """What ``user`` may do in ``app_key``: their roles there and their department subtree."""
    roles = connection.execute(
        select(user_roles.c.role_key).where(
            user_roles.c.user_id == user.id, user_roles.c.app_key == app_key
        )
    ).scalars()
    subtree = (
        department_subtree(connection, user.department_id) if user.department_id else frozenset()
    )
    return Actor(user.id, frozenset(roles), user.department_id, subtree, user.is_admin)


def _user(row: RowMapping) -> User:
    return User(
        id=int(row["id"]),
        username=str(row["username"]),
        display_name=str(row["display_name"]),
        department_id=row["department_id"],
        language=str(row["language"]),
        is_admin=bool(row["is_admin"]),
        is_active=bool(row["is_active"]),
    )


LOGIN_FAILURE_LIMIT = 5
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)


def login_blocked_until(connection: Connection, username: str, now: datetime) -> datetime | None:
    """When a throttled username may try again, or ``None`` if it may try now.

    After :data:`LOGIN_FAILURE_LIMIT` failures within :data:`LOGIN_FAILURE_WINDOW`, further
    attempts wait until the oldest of those failures leaves the window. Counting per
    username (not per address) stops guessing one account from many addresses.
    """
    recent = (
        connection.execute(
            select(login_failures.c.at)
            .where(
                login_failures.c.username == username,
                login_failures.c.at > now - LOGIN_FAILURE_WINDOW,
            )
            .order_by(login_failures.c.at.desc())
            .limit(LOGIN_FAILURE_LIMIT)
        )
        .scalars()
        .all()
    )
    if len(recent) < LOGIN_FAILURE_LIMIT:
        return None
    oldest = min(_aware(moment) for moment in recent)
    return oldest + LOGIN_FAILURE_WINDOW


def record_login_failure(
    connection: Connection, username: str, address: str, now: datetime
) -> None:
    connection.execute(
        insert(login_failures).values(username=username, address=address[:64], at=now)
    )


def clear_login_failures(connection: Connection, username: str) -> None:
    connection.execute(delete(login_failures).where(login_failures.c.username == username))


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
