"""Delegations (委托): who holds someone's approval tasks while they are away.

A delegation hands its owner's approval tasks to a delegate for a range of days, for every
workflow of the app or for one. The rules live here, beside the statements that read and
write the table, so the engine, the pages and the API all apply the same ones: nobody
delegates to themselves or to someone who cannot sign in, a range ends on or after it
starts, and no delegations form a circle over the same days (A to B while B is away to A
would leave a task with nobody). Tasks follow one delegation only (no chains), so who holds
a task never depends on the order delegations were made in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, bindparam, or_, select, update

from formflow.errors import N_
from formflow.storage.platform_tables import workflow_delegations as table
from formflow.storage.rows import aware, from_row
from formflow.workflows import approvers
from formflow.workflows.errors import DelegationNotFound, InvalidDelegation


@dataclass(frozen=True)
class Delegation:
    id: int
    app_key: str
    user_id: int
    delegate_id: int
    starts_on: date
    ends_on: date
    workflow_key: str | None
    comment: str | None
    created_at: datetime
    ended_at: datetime | None

    def in_force(self, today: date) -> bool:
        return self.ended_at is None and self.starts_on <= today <= self.ends_on


def check(
    connection: Connection,
    app_key: str,
    user_id: int | None,
    delegate_id: int,
    starts_on: date,
    ends_on: date,
    workflow_key: str | None,
) -> None:
    """Refuse a new delegation the rules forbid, with :class:`InvalidDelegation`."""
    if user_id is None:
        raise InvalidDelegation(N_("only a signed-in user can delegate their tasks"))
    if delegate_id == user_id:
        raise InvalidDelegation(N_("you cannot delegate your tasks to yourself"))
    if ends_on < starts_on:
        raise InvalidDelegation(N_("a delegation must end on or after the day it starts"))
    if not approvers.is_active(connection, delegate_id):
        raise InvalidDelegation(N_("user %(user)s cannot take tasks"), user=delegate_id)
    if _reaches(connection, app_key, delegate_id, user_id, starts_on, ends_on, workflow_key):
        raise InvalidDelegation(
            N_("user %(user)s already delegates to you, directly or through others, then"),
            user=delegate_id,
        )


def _reaches(
    connection: Connection,
    app_key: str,
    start: int,
    goal: int,
    starts_on: date,
    ends_on: date,
    workflow_key: str | None,
) -> bool:
    """Whether delegations overlapping the range lead from ``start`` to ``goal``."""
    rows = connection.execute(
        select(table.c.user_id, table.c.delegate_id).where(
            table.c.app_key == app_key,
            table.c.ended_at.is_(None),
            table.c.starts_on <= ends_on,
            table.c.ends_on >= starts_on,
            _for_workflow(workflow_key, any_when_none=True),
        )
    ).all()
    onward: dict[int, set[int]] = {}
    for owner, delegate in rows:
        onward.setdefault(int(owner), set()).add(int(delegate))
    seen, todo = {start}, [start]
    while todo:
        for following in onward.get(todo.pop(), ()):
            if following == goal:
                return True
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return False


def _for_workflow(workflow_key: str | None, *, any_when_none: bool) -> ColumnElement[bool]:
    """Delegations covering ``workflow_key``: those for every workflow and those for it
    (with ``any_when_none`` and no key, every delegation: one for all overlaps them all)."""
    if workflow_key is None:
        return table.c.id.is_not(None) if any_when_none else table.c.workflow_key.is_(None)
    return or_(table.c.workflow_key.is_(None), table.c.workflow_key == workflow_key)


def delegate_of(
    connection: Connection, app_key: str, user_id: int, workflow_key: str | None, today: date
) -> int | None:
    """Who holds ``user_id``'s new tasks of ``workflow_key`` today, if anyone: the newest
    delegation in force wins."""
    asked: dict[str, object] = {"app_key": app_key, "user_id": user_id, "today": today}
    statement = _DELEGATE_FOR_ALL
    if workflow_key is not None:
        statement, asked["workflow_key"] = _DELEGATE_FOR_WORKFLOW, workflow_key
    found = connection.execute(statement, asked).scalar_one_or_none()
    return None if found is None else int(found)


_DELEGATE_IN_FORCE = (  # asked for every task an approval node opens: built once
    select(table.c.delegate_id)
    .where(
        table.c.app_key == bindparam("app_key"),
        table.c.user_id == bindparam("user_id"),
        table.c.starts_on <= bindparam("today"),
        table.c.ends_on >= bindparam("today"),
        table.c.ended_at.is_(None),
    )
    .order_by(table.c.id.desc())
    .limit(1)
)
_DELEGATE_FOR_ALL = _DELEGATE_IN_FORCE.where(_for_workflow(None, any_when_none=False))
_DELEGATE_FOR_WORKFLOW = _DELEGATE_IN_FORCE.where(
    or_(table.c.workflow_key.is_(None), table.c.workflow_key == bindparam("workflow_key"))
)


def listed(connection: Connection, app_key: str, user_id: int) -> list[Delegation]:
    """The delegations ``user_id`` made or holds, newest first."""
    rows = connection.execute(
        select(table)
        .where(
            table.c.app_key == app_key,
            or_(table.c.user_id == user_id, table.c.delegate_id == user_id),
        )
        .order_by(table.c.id.desc())
    )
    return [_of_row(row) for row in rows]


def get(connection: Connection, app_key: str, delegation_id: int) -> Delegation:
    row = connection.execute(
        select(table).where(table.c.id == delegation_id, table.c.app_key == app_key)
    ).first()
    if row is None:
        raise DelegationNotFound(delegation_id)
    return _of_row(row)


def end(
    connection: Connection, app_key: str, user_id: int | None, delegation_id: int, now: datetime
) -> Delegation:
    """End one of ``user_id``'s delegations now (ending one twice changes nothing); only
    its owner may, and anyone else is told it does not exist."""
    found = get(connection, app_key, delegation_id)
    if found.user_id != user_id:
        raise DelegationNotFound(delegation_id)
    connection.execute(
        update(table)
        .where(and_(table.c.id == delegation_id, table.c.ended_at.is_(None)))
        .values(ended_at=now)
    )
    return get(connection, app_key, delegation_id)


def _of_row(row: Row[Any]) -> Delegation:
    return from_row(Delegation, row, created_at=aware(row.created_at), ended_at=aware(row.ended_at))
