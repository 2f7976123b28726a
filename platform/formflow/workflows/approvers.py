"""Finding the people an approval node names: by user, role, department manager, field or
expression, resolved when the node is entered (so a change of staff applies to new steps).

Only active users are returned, each once, in the order the rules give them; that order is
the order of a sequential node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select

from formflow.expressions import ExpressionError
from formflow.storage.platform_tables import departments, user_roles, users
from formflow.workflows.model import ApproverRule, ApproverSource

RecordDepartment = int | None | Callable[[], int | None]
"""The record's department, or how to read it when a rule needs it."""


def resolve(
    connection: Connection,
    rules: Sequence[ApproverRule],
    *,
    app_key: str,
    record: Mapping[str, Any],
    record_department: RecordDepartment,
    submitter_id: int | None,
    names: Mapping[str, Any],
) -> list[int]:
    """The active users ``rules`` name for this record, in order, each once.

    ``record_department`` (or the function giving it) is asked only by a rule naming the record's department manager,
    and the submitter's department is read only for a rule that needs it: a node that
    names a role costs one query, whose users are active by the query itself."""
    found: list[int] = []
    known_active: set[int] = set()
    needs_submitter = any(
        rule.source is ApproverSource.MANAGER
        or (rule.source is ApproverSource.ROLE and rule.within_submitter_department)
        for rule in rules
    )
    submitter_department = _department_of(connection, submitter_id) if needs_submitter else None
    for rule in rules:
        named = _one(
            connection,
            rule,
            app_key=app_key,
            record=record,
            record_department=record_department,
            submitter_id=submitter_id,
            submitter_department=submitter_department,
            names=names,
        )
        found.extend(named)
        if rule.source is ApproverSource.ROLE:
            known_active.update(named)
    found = list(dict.fromkeys(found))
    active = set(_active(connection, [user for user in found if user not in known_active]))
    return [user for user in found if user in known_active or user in active]


def administrators(connection: Connection) -> list[int]:
    """Active administrators: who gets a node nobody else can approve, where it says so."""
    rows = connection.execute(
        select(users.c.id)
        .where(users.c.is_admin.is_(True), users.c.is_active.is_(True))
        .order_by(users.c.id)
    )
    return [int(user_id) for user_id in rows.scalars()]


def is_active(connection: Connection, user_id: int) -> bool:
    return bool(_active(connection, [user_id]))


def manager_of(connection: Connection, user_id: int) -> int | None:
    """The active manager above ``user_id``: of their department, or (when they manage it
    themselves) of the nearest department above with someone else in charge."""
    department = _department_of(connection, user_id)
    found = _active(connection, _managers_above(connection, department, user_id, 1))
    return found[0] if found else None


def _one(
    connection: Connection,
    rule: ApproverRule,
    *,
    app_key: str,
    record: Mapping[str, Any],
    record_department: RecordDepartment,
    submitter_id: int | None,
    submitter_department: int | None,
    names: Mapping[str, Any],
) -> list[int]:
    if rule.source is ApproverSource.USERS:
        rows = connection.execute(
            select(users.c.id, users.c.username).where(users.c.username.in_(rule.users))
        )
        by_name = {row.username: int(row.id) for row in rows}
        return [by_name[name] for name in rule.users if name in by_name]
    if rule.source is ApproverSource.ROLE:
        asked: dict[str, Any] = {"app_key": app_key, "role_key": rule.role}
        query = _ROLE_HOLDERS
        if rule.within_submitter_department:
            if submitter_department is None:
                return []
            query = _ROLE_HOLDERS_IN_DEPARTMENT
            asked["department_id"] = submitter_department
        return [int(user_id) for user_id in connection.execute(query, asked).scalars()]
    if rule.source is ApproverSource.MANAGER:
        return _managers_above(connection, submitter_department, submitter_id, rule.levels)
    if rule.source is ApproverSource.RECORD_MANAGER:
        department = record_department() if callable(record_department) else record_department
        return _managers_above(connection, department, None, 1)
    if rule.source is ApproverSource.FIELD:
        return _ids(record.get(rule.field or ""))
    if rule.expression is None:
        return []
    try:
        return _ids(rule.expression.evaluate({**names, **record}))
    except ExpressionError:
        return []  # an expression that fails names nobody; the node's no_approver decides


_ROLE_HOLDERS = (  # every approval node naming a role asks it: built once
    select(user_roles.c.user_id)
    .join(users, users.c.id == user_roles.c.user_id)
    .where(
        user_roles.c.app_key == bindparam("app_key"),
        user_roles.c.role_key == bindparam("role_key"),
        users.c.is_active.is_(True),
    )
    .order_by(user_roles.c.user_id)
)
_ROLE_HOLDERS_IN_DEPARTMENT = _ROLE_HOLDERS.where(
    users.c.department_id == bindparam("department_id")
)


def _managers_above(
    connection: Connection, department_id: int | None, skip: int | None, levels: int
) -> list[int]:
    """The managers of ``department_id`` and the departments above it, ``levels`` of them,
    passing over ``skip`` (a submitter who manages their own department) and empty posts."""
    found: list[int] = []
    seen: set[int] = set()
    while department_id is not None and department_id not in seen and len(found) < levels:
        seen.add(department_id)
        row = connection.execute(
            select(departments.c.manager_id, departments.c.parent_id).where(
                departments.c.id == department_id
            )
        ).first()
        if row is None:
            break
        if row.manager_id is not None and row.manager_id != skip and row.manager_id not in found:
            found.append(int(row.manager_id))
        department_id = row.parent_id
    return found


def _department_of(connection: Connection, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    found = connection.execute(
        select(users.c.department_id).where(users.c.id == user_id)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _ids(value: Any) -> list[int]:
    items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    return [int(item) for item in items if isinstance(item, int) and not isinstance(item, bool)]


def _active(connection: Connection, user_ids: list[int]) -> list[int]:
    if not user_ids:
        return []
    active = set(
        connection.execute(
            select(users.c.id).where(users.c.id.in_(user_ids), users.c.is_active.is_(True))
        ).scalars()
    )
    return [user_id for user_id in user_ids if user_id in active]
