"""Users, departments and role assignments, and the :class:`Actor` a user acts as.

Departments form a tree; a manager's ``department`` scope reaches their department and
everything below it, so the subtree is worked out once per actor (one recursive query) and
carried along, rather than joined into every list query.

Passwords are hashed with scrypt (through Werkzeug), never stored or logged in clear. A
new password, deactivation or a change of roles ends the user's sessions
(:mod:`formflow.accounts.sessions`).

The statements every request runs (the user, their roles, their subtree) are built once
with bound parameters: building a statement costs several times what running it does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    RowMapping,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    union_all,
    update,
)
from werkzeug.security import check_password_hash, generate_password_hash

from formflow import audit
from formflow.accounts import passwords
from formflow.accounts.errors import AccountError
from formflow.accounts.passwords import PasswordPolicy
from formflow.accounts.sessions import Seen, end_sessions, token_hash
from formflow.audit import Action
from formflow.records.access import Actor
from formflow.storage.platform_tables import (
    api_tokens,
    departments,
    login_failures,
    sessions,
    user_roles,
    users,
)
from formflow.storage.rows import aware
from formflow.storage.text import storable

MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    department_id: int | None
    language: str
    """``zh`` or ``en`` as they chose (or an administrator gave them); empty for none."""
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
    audit.log(connection, Action.DEPARTMENT_CREATE, detail={"department": department_id})
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
    language: str = "",
    roles: Mapping[str, Iterable[str]] | None = None,
    policy: PasswordPolicy | None = None,
    email: str | None = None,
) -> int:
    """Add a user; ``roles`` maps an app key to the role keys they hold in it.

    ``language`` is the one their pages open in: give the instance's (``Settings.language``);
    empty, none is chosen and their browser's is followed until they pick one.

    Give ``password_hash`` instead of ``password`` to bring over an already hashed one
    (an import from another system, or many test users sharing one hash). With a
    ``policy``, a password someone chose is held to it (:class:`WeakPassword`).
    """
    if (password is None) == (password_hash is None):
        raise AccountError("give either a password or a password hash")
    if connection.execute(select(users.c.id).where(users.c.username == username)).first():
        raise AccountError(f"user '{username}' already exists")
    if policy is not None and password is not None:
        passwords.check_new_password(connection, None, password, username, policy)
    password_hash = password_hash or hash_password(str(password))
    statement = insert(users).values(
        username=username,
        display_name=display_name or username,
        password_hash=password_hash,
        department_id=department_id,
        is_admin=is_admin,
        is_active=True,
        language=language,
        email=email,
        created_at=datetime.now(UTC),
    )
    user_id: int = connection.execute(statement.returning(users.c.id)).scalar_one()
    passwords.remember(connection, user_id, password_hash, policy or passwords.DEFAULT_POLICY)
    audit.log(
        connection,
        Action.USER_CREATE,
        detail={"user": user_id, "username": username, "admin": is_admin},
    )
    for app_key, role_keys in (roles or {}).items():
        set_roles(connection, user_id, app_key, role_keys)
    return user_id


def set_roles(connection: Connection, user_id: int, app_key: str, role_keys: Iterable[str]) -> None:
    """Give ``user_id`` exactly ``role_keys`` in ``app_key``; a change ends their sessions,
    so they sign in again under the new roles."""
    wanted = set(role_keys)
    held = set(
        connection.execute(
            select(user_roles.c.role_key).where(
                user_roles.c.user_id == user_id, user_roles.c.app_key == app_key
            )
        ).scalars()
    )
    if held == wanted:
        return
    connection.execute(
        delete(user_roles).where(user_roles.c.user_id == user_id, user_roles.c.app_key == app_key)
    )
    rows = [{"user_id": user_id, "app_key": app_key, "role_key": role} for role in sorted(wanted)]
    if rows:
        connection.execute(insert(user_roles), rows)
    audit.log(
        connection,
        Action.USER_ROLES,
        app_key=app_key,
        detail={"user": user_id, "roles": sorted(wanted)},
    )
    end_sessions(connection, user_id)


def set_password(
    connection: Connection,
    username: str,
    password: str,
    *,
    policy: PasswordPolicy | None = None,
) -> int:
    """Give ``username`` a new password and end every session they have (a stolen cookie
    must not outlive the password); returns their id. With a ``policy``, the password is
    held to it, recent ones included (:class:`WeakPassword`)."""
    user_id = connection.execute(select(users.c.id).where(users.c.username == username)).scalar()
    if user_id is None:
        raise AccountError(f"no user '{username}'")
    if policy is not None:
        passwords.check_new_password(connection, int(user_id), password, username, policy)
    password_hash = hash_password(password)
    connection.execute(
        update(users).where(users.c.id == user_id).values(password_hash=password_hash)
    )
    passwords.remember(connection, int(user_id), password_hash, policy or passwords.DEFAULT_POLICY)
    audit.log(connection, Action.USER_PASSWORD, detail={"user": int(user_id)})
    end_sessions(connection, int(user_id))
    return int(user_id)


def check_password(connection: Connection, user_id: int, password: str) -> bool:
    """Whether ``password`` is ``user_id``'s current one (asked before changing it)."""
    stored = connection.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar()
    return stored is not None and check_password_hash(stored, password)


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


@dataclass(frozen=True)
class Identity:
    """A user and what every request needs of their access: roles by app, and the
    department subtree a ``department`` scope reaches."""

    user: User
    roles: Mapping[str, frozenset[str]]
    subtree: frozenset[int]

    def actor(self, app_key: str) -> Actor:
        return Actor(
            self.user.id,
            self.roles.get(app_key, frozenset()),
            self.user.department_id,
            self.subtree,
            self.user.is_admin,
        )


def load_identity(connection: Connection, user_id: int) -> Identity | None:
    """The user with their roles in every app and their department subtree, in one
    statement: each request starts by asking who is asking."""
    found = _read_identity(connection.execute(_IDENTITY, {"user_id": user_id}).mappings())
    return None if found is None else found[0]


@dataclass(frozen=True)
class SessionIdentity:
    """Who a signed-in browser's session belongs to, and the session itself."""

    identity: Identity
    session: Seen


def load_session_identity(
    connection: Connection, token: str, now: datetime | None = None
) -> SessionIdentity | None:
    """The identity a session token signs in, while the session lives, in the one statement
    :func:`load_identity` costs; ``None`` for an ended, expired or unknown session."""
    values = {"digest": token_hash(token), "now": now or datetime.now(UTC)}
    found = _read_identity(connection.execute(_SESSION_IDENTITY, values).mappings())
    if found is None:
        return None
    identity, row = found
    seen = Seen(int(row["session_id"]), row["seen_at"], bool(row["remember"]))
    return SessionIdentity(identity, seen)


def load_token_identity(
    connection: Connection, digest: str, now: datetime
) -> tuple[Identity, RowMapping] | None:
    """The identity an unexpired API token (by its hash) signs in, and the token's row
    (``token_id``, ``token_hash``, ``last_used_at``): one statement per API request."""
    return _read_identity(
        connection.execute(_TOKEN_IDENTITY, {"digest": digest, "now": now}).mappings()
    )


def _read_identity(rows: Iterable[RowMapping]) -> tuple[Identity, RowMapping] | None:
    """The identity in the rows of an identity statement, and its "user" row."""
    user_row: RowMapping | None = None
    roles: dict[str, set[str]] = {}
    subtree: set[int] = set()
    for row in rows:
        if row["kind"] == "user":
            user_row = row
        elif row["kind"] == "role":
            roles.setdefault(row["app_key"], set()).add(row["role_key"])
        else:
            subtree.add(int(row["department_id"]))
    if user_row is None:
        return None
    by_app = {app_key: frozenset(keys) for app_key, keys in roles.items()}
    return Identity(_user(user_row), by_app, frozenset(subtree)), user_row


def get_user(connection: Connection, user_id: int) -> User | None:
    row = connection.execute(_USER, {"user_id": user_id}).mappings().first()
    return None if row is None else _user(row)


def department_subtree(connection: Connection, department_id: int) -> frozenset[int]:
    """A department and every department below it."""
    return frozenset(connection.execute(_SUBTREE, {"department_id": department_id}).scalars())


def actor_for(connection: Connection, user: User, app_key: str) -> Actor:
    """What ``user`` may do in ``app_key``: their roles there and their department subtree
    (one statement, as every request asks)."""
    values = {"user_id": user.id, "app_key": app_key, "department_id": user.department_id}
    roles: set[str] = set()
    subtree: set[int] = set()
    for role_key, department_id in connection.execute(_ACCESS, values):
        if role_key is not None:
            roles.add(role_key)
        else:
            subtree.add(int(department_id))
    return Actor(user.id, frozenset(roles), user.department_id, frozenset(subtree), user.is_admin)


_USER_COLUMNS = (  # what a request needs to know of its user; never the password hash
    users.c.id,
    users.c.username,
    users.c.display_name,
    users.c.department_id,
    users.c.language,
    users.c.is_admin,
    users.c.is_active,
)
_USER = select(*_USER_COLUMNS).where(users.c.id == bindparam("user_id"))
_TREE = (
    select(departments.c.id)
    .where(departments.c.id == bindparam("department_id"))
    .cte("tree", recursive=True)
)
_TREE = _TREE.union_all(select(departments.c.id).where(departments.c.parent_id == _TREE.c.id))
_SUBTREE = select(_TREE.c.id)


def _identity_statement(*, by: str) -> CompoundSelect[Any]:
    """A "user" row, then "role" rows, then "department" rows (the user's department and
    those below it); found ``by`` a session or an API token, the user row also carries
    that session's or token's columns."""
    who: Any = bindparam("user_id")
    user_row = select(
        literal_column("'user'").label("kind"),
        *_USER_COLUMNS,
        null().label("app_key"),
        null().label("role_key"),
    )
    padding: list[Any] = []
    if by == "session":
        live = (
            sessions.c.token_hash == bindparam("digest"),
            sessions.c.expires_at > bindparam("now"),
        )
        who = select(sessions.c.user_id).where(*live).scalar_subquery()
        user_row = user_row.add_columns(
            sessions.c.id.label("session_id"),
            sessions.c.last_seen_at.label("seen_at"),
            sessions.c.remember.label("remember"),
        ).join_from(users, sessions, sessions.c.user_id == users.c.id)
        user_row = user_row.where(*live)
        padding = [null(), null(), null()]
    elif by == "token":
        live = (
            api_tokens.c.token_hash == bindparam("digest"),
            or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > bindparam("now")),
        )
        who = select(api_tokens.c.user_id).where(*live).scalar_subquery()
        user_row = user_row.add_columns(
            api_tokens.c.id.label("token_id"),
            api_tokens.c.token_hash.label("token_hash"),
            api_tokens.c.last_used_at.label("last_used_at"),
            api_tokens.c.read_only.label("read_only"),
            api_tokens.c.forms.label("forms"),
        ).join_from(users, api_tokens, api_tokens.c.user_id == users.c.id)
        user_row = user_row.where(*live)
        padding = [null()] * 5
    else:
        user_row = user_row.where(users.c.id == who)
    home = (
        select(users.c.department_id.label("id"))
        .where(users.c.id == who, users.c.department_id.is_not(None))
        .cte("home", recursive=True)
    )
    home = home.union_all(select(departments.c.id).where(departments.c.parent_id == home.c.id))
    nothing = [null()] * len(_USER_COLUMNS)
    return union_all(
        user_row,
        select(
            literal_column("'role'"),
            *nothing,
            user_roles.c.app_key,
            user_roles.c.role_key,
            *padding,
        ).where(user_roles.c.user_id == who),
        select(
            literal_column("'department'"),
            *nothing[:3],
            home.c.id,
            *nothing[:3],
            null(),
            null(),
            *padding,
        ),
    )


_IDENTITY = _identity_statement(by="user")
_SESSION_IDENTITY = _identity_statement(by="session")
_TOKEN_IDENTITY = _identity_statement(by="token")
_ACCESS = union_all(  # (role, NULL) rows, then (NULL, department) rows
    select(user_roles.c.role_key, null().label("department_id")).where(
        user_roles.c.user_id == bindparam("user_id"), user_roles.c.app_key == bindparam("app_key")
    ),
    select(null().label("role_key"), _TREE.c.id),
)


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
"""Failed sign-ins a client may make for one username before it has to wait."""
LOGIN_BACKOFF = timedelta(minutes=1)
"""The first wait; it doubles with each further failure, up to :data:`LOGIN_BACKOFF_MAX`."""
LOGIN_BACKOFF_MAX = timedelta(minutes=30)
LOGIN_FAILURE_WINDOW = timedelta(hours=24)
"""Failures older than this are forgotten."""


def login_blocked_until(
    connection: Connection, username: str, address: str, now: datetime
) -> datetime | None:
    """When a client (``address``) may try ``username`` again, or ``None`` if it may now.

    Failures count per client and username, so someone who only knows a username cannot
    lock its owner out: the owner signs in from their own client unhindered. After
    :data:`LOGIN_FAILURE_LIMIT` failures, each further attempt waits twice as long as the
    one before, which makes guessing from one client hopeless.
    """
    return _backed_off_until(
        connection,
        now,
        LOGIN_FAILURE_LIMIT,
        login_failures.c.username == username,
        login_failures.c.address == address[:64],
        login_failures.c.at > now - LOGIN_FAILURE_WINDOW,
    )


ADDRESS_FAILURE_LIMIT = 30
"""Failed sign-ins a client may make within :data:`ADDRESS_FAILURE_WINDOW`, whatever the
usernames, before it has to wait; high enough for an office sharing one address."""
ADDRESS_FAILURE_WINDOW = timedelta(hours=1)


def address_blocked_until(connection: Connection, address: str, now: datetime) -> datetime | None:
    """When a client (``address``) may try any username again, or ``None`` if it may now.

    The count per username (:func:`login_blocked_until`) leaves a client free to try one
    common password on many usernames; this count, over every username it tried, stops that.
    Past :data:`ADDRESS_FAILURE_LIMIT` failures the wait doubles as it does per username.
    """
    return _backed_off_until(
        connection,
        now,
        ADDRESS_FAILURE_LIMIT,
        login_failures.c.address == address[:64],
        login_failures.c.at > now - ADDRESS_FAILURE_WINDOW,
    )


def _backed_off_until(
    connection: Connection, now: datetime, limit: int, *failures: ColumnElement[bool]
) -> datetime | None:
    """When the next attempt may come after the sign-in failures the conditions ``failures``
    select, or ``None`` if it may now: one count serves both the per-username and the
    per-client limit, so the two wait alike. Past ``limit`` failures each further one
    doubles the wait, from :data:`LOGIN_BACKOFF` up to :data:`LOGIN_BACKOFF_MAX`."""
    count, last = connection.execute(
        select(func.count(), func.max(login_failures.c.at)).where(*failures)
    ).one()
    if count < limit or last is None:
        return None
    doublings = min(int(count) - limit, 16)
    until = aware(last) + min(LOGIN_BACKOFF * 2**doublings, LOGIN_BACKOFF_MAX)
    return until if until > now else None


def record_login_failure(
    connection: Connection, username: str, address: str, now: datetime
) -> None:
    connection.execute(
        insert(login_failures).values(username=username, address=address[:64], at=now)
    )
    audit.log(connection, Action.SIGN_IN_FAILED, detail={"username": username}, at=now)


def clear_login_failures(connection: Connection, username: str, address: str) -> None:
    """Forget a client's failures for ``username`` once it signs in."""
    connection.execute(
        delete(login_failures).where(
            login_failures.c.username == username, login_failures.c.address == address[:64]
        )
    )


# Administration: listing and changing users and departments ---------------------------


class LastAdministrator(AccountError):
    """A change that would leave the instance without an active administrator."""


class DepartmentCycle(AccountError):
    """A move that would put a department under itself or one of its own descendants."""


@dataclass(frozen=True)
class Department:
    id: int
    name: str
    parent_id: int | None
    manager_id: int | None


def list_users(connection: Connection) -> list[User]:
    """Every user, active or not, by username."""
    rows = connection.execute(select(users).order_by(users.c.username)).mappings()
    return [_user(row) for row in rows]


def find_user(connection: Connection, username: str) -> User | None:
    """The user with this username, active or not (none has a name no database stores)."""
    if not storable(username):
        return None
    row = connection.execute(select(users).where(users.c.username == username)).mappings().first()
    return None if row is None else _user(row)


def roles_by_user(
    connection: Connection, user_ids: Iterable[int] | None = None
) -> dict[int, dict[str, frozenset[str]]]:
    """The roles each user holds, by app key (one query, for a whole list of users)."""
    query = select(user_roles.c.user_id, user_roles.c.app_key, user_roles.c.role_key)
    if user_ids is not None:
        query = query.where(user_roles.c.user_id.in_(sorted(set(user_ids))))
    found: dict[int, dict[str, set[str]]] = {}
    for user_id, app_key, role_key in connection.execute(query):
        found.setdefault(int(user_id), {}).setdefault(str(app_key), set()).add(str(role_key))
    return {
        user_id: {app_key: frozenset(roles) for app_key, roles in by_app.items()}
        for user_id, by_app in found.items()
    }


def update_user(
    connection: Connection,
    user_id: int,
    *,
    display_name: str,
    department_id: int | None,
    is_active: bool,
    is_admin: bool,
) -> None:
    """Change a user's profile; refuse to leave no active administrator behind.

    Deactivating a user, or giving or taking administrator rights, ends their sessions.
    """
    current = get_user(connection, user_id)
    if current is None:
        raise AccountError(f"no user {user_id}")
    if not display_name.strip():
        raise AccountError("a user needs a name")
    _check_department(connection, department_id)
    if current.is_admin and current.is_active and not (is_admin and is_active):
        others = connection.execute(
            select(func.count())
            .select_from(users)
            .where(users.c.is_admin, users.c.is_active, users.c.id != user_id)
        ).scalar_one()
        if others == 0:
            raise LastAdministrator(
                f"'{current.username}' is the last active administrator; make someone else an administrator first"
            )
    connection.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            display_name=display_name.strip(),
            department_id=department_id,
            is_active=is_active,
            is_admin=is_admin,
        )
    )
    before = (current.display_name, current.department_id, current.is_active, current.is_admin)
    after = (display_name.strip(), department_id, is_active, is_admin)
    names = ("display_name", "department_id", "is_active", "is_admin")
    changed = [name for name, old, new in zip(names, before, after, strict=True) if old != new]
    if changed:
        audit.log(connection, Action.USER_UPDATE, detail={"user": user_id, "fields": changed})
    if (is_active, is_admin) != (current.is_active, current.is_admin):
        end_sessions(connection, user_id)


def set_language(connection: Connection, user_id: int, language: str) -> None:
    """Keep the interface language a user chose (``zh`` or ``en``): their next sign-in
    opens in it, and their e-mailed notifications are written in it."""
    if language not in ("zh", "en"):
        raise AccountError(f"no language {language!r}; choose 'zh' or 'en'")
    connection.execute(update(users).where(users.c.id == user_id).values(language=language))


def list_departments(connection: Connection) -> list[Department]:
    """Every department, by name."""
    rows = connection.execute(select(departments).order_by(departments.c.name, departments.c.id))
    return [_department(row) for row in rows.mappings()]


def get_department(connection: Connection, department_id: int) -> Department | None:
    row = (
        connection.execute(select(departments).where(departments.c.id == department_id))
        .mappings()
        .first()
    )
    return None if row is None else _department(row)


def department_tree(found: Iterable[Department]) -> list[tuple[Department, int]]:
    """Departments depth first, each with its depth (0 at the top), siblings by name.

    A department whose parent is missing from ``found`` is shown at the top.
    """
    items = list(found)
    known = {department.id for department in items}
    children: dict[int | None, list[Department]] = {}
    for department in items:
        parent = department.parent_id if department.parent_id in known else None
        children.setdefault(parent, []).append(department)
    ordered: list[tuple[Department, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for department in sorted(children.get(parent, []), key=lambda d: (d.name, d.id)):
            ordered.append((department, depth))
            walk(department.id, depth + 1)

    walk(None, 0)
    return ordered


PATH_SEPARATOR = " › "


def department_paths(found: Iterable[Department]) -> dict[int, str]:
    """Each department's full name, such as ``销售部 › 华东区``."""
    paths: dict[int, str] = {}
    names: list[str] = []
    for department, depth in department_tree(found):
        del names[depth:]
        names.append(department.name)
        paths[department.id] = PATH_SEPARATOR.join(names)
    return paths


def find_department(connection: Connection, name: str) -> Department:
    """The department called ``name``, or whose full name it is (``销售部 › 华东区``, or
    ``销售部/华东区`` where typing › is awkward); names shared by several need the full name."""
    found = list_departments(connection)
    paths = department_paths(found)
    wanted = PATH_SEPARATOR.join(part.strip() for part in name.replace("›", "/").split("/"))
    by_path = [department for department in found if paths[department.id] == wanted]
    matches = by_path or [department for department in found if department.name == name.strip()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(sorted(paths[department.id] for department in matches))
        raise AccountError(f"several departments are called '{name}'; give the full name: {shown}")
    known = ", ".join(sorted(paths.values())) or "none yet"
    raise AccountError(f"no department '{name}' (there are: {known})")


def update_department(
    connection: Connection,
    department_id: int,
    *,
    name: str,
    parent_id: int | None,
    manager_id: int | None,
) -> None:
    """Rename a department, move it under another parent and set its manager at once.

    Moving it under itself or one of its own descendants raises :class:`DepartmentCycle`.
    """
    if get_department(connection, department_id) is None:
        raise AccountError(f"no department {department_id}")
    if not name.strip():
        raise AccountError("a department needs a name")
    if parent_id is not None:
        _check_department(connection, parent_id)
        if parent_id in department_subtree(connection, department_id):
            raise DepartmentCycle("a department cannot sit under itself or one of its own teams")
    if manager_id is not None and get_user(connection, manager_id) is None:
        raise AccountError(f"no user {manager_id}")
    connection.execute(
        update(departments)
        .where(departments.c.id == department_id)
        .values(name=name.strip(), parent_id=parent_id, manager_id=manager_id)
    )
    audit.log(connection, Action.DEPARTMENT_UPDATE, detail={"department": department_id})


def _check_department(connection: Connection, department_id: int | None) -> None:
    if department_id is not None and get_department(connection, department_id) is None:
        raise AccountError(f"no department {department_id}")


def _department(row: RowMapping) -> Department:
    return Department(
        id=int(row["id"]),
        name=str(row["name"]),
        parent_id=None if row["parent_id"] is None else int(row["parent_id"]),
        manager_id=None if row["manager_id"] is None else int(row["manager_id"]),
    )
