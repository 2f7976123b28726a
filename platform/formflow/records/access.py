"""Who is acting, and which records their roles let them reach.

Permissions are declared per form and role with a scope (none, own, department, all). A user
with several roles gets the widest scope any of them grants. The scope becomes a SQL
condition that every read, count, search and write goes through, so a record out of reach
is out of reach everywhere, including through a hand-typed URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, false, or_
from sqlalchemy.sql.elements import BindParameter

from formflow.definitions.model import Form, Operation, Scope
from formflow.errors import N_, PermissionDenied
from formflow.storage.tables import DEPARTMENT

_WIDTH = {Scope.NONE: 0, Scope.OWN: 1, Scope.DEPARTMENT: 2, Scope.ALL: 3}


@dataclass(frozen=True)
class Actor:
    """The user a request acts for, as far as permissions need to know them.

    ``department_ids`` holds the user's own department and every department below it: the
    records a ``department`` scope reaches. ``forms``, when given, are the only forms of
    the app the actor may reach (an API token narrowed to some forms): every other form is
    out of reach by every path, a filter across a link as much as a list.
    """

    user_id: int | None
    roles: frozenset[str] = frozenset()
    department_id: int | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)
    is_admin: bool = False
    forms: frozenset[str] | None = None

    @classmethod
    def system(cls) -> Actor:
        """The engine itself (imports, automations, the shell): reaches everything."""
        return cls(user_id=None, is_admin=True)


def scope_for(actor: Actor, form: Form, operation: Operation) -> Scope:
    """The widest scope the actor's roles grant for ``operation`` on ``form`` (none for a
    form outside the actor's ``forms``)."""
    if actor.forms is not None and form.key not in actor.forms:
        return Scope.NONE
    if actor.is_admin:
        return Scope.ALL
    scopes = [form.permission(role).scope(operation) for role in actor.roles]
    return max(scopes, key=_WIDTH.__getitem__, default=Scope.NONE)


def require(actor: Actor, form: Form, operation: Operation) -> Scope:
    """The actor's scope for ``operation``; :class:`PermissionDenied` when it is ``none``."""
    scope = scope_for(actor, form, operation)
    if scope is Scope.NONE:
        raise refusal(operation, form)
    return scope


_REFUSALS = {
    Operation.CREATE: N_("you may not create %(form)s records"),
    Operation.READ: N_("you may not read %(form)s records"),
    Operation.UPDATE: N_("you may not update %(form)s records"),
    Operation.DELETE: N_("you may not delete %(form)s records"),
}
_ONE_REFUSALS = {
    Operation.CREATE: N_("you may not create this %(form)s record"),
    Operation.READ: N_("you may not read this %(form)s record"),
    Operation.UPDATE: N_("you may not update this %(form)s record"),
    Operation.DELETE: N_("you may not delete this %(form)s record"),
}


def refusal(operation: Operation, form: Form, *, one: bool = False) -> PermissionDenied:
    """Why the actor may not do ``operation``: on any record of ``form``, or on this ``one``."""
    return PermissionDenied((_ONE_REFUSALS if one else _REFUSALS)[operation], form=form.label)


class Reach(Enum):
    """What a scope comes to for one actor: the shape of the condition, without values.

    Statements built once and run for many actors (see :mod:`formflow.records.statements`)
    are built per reach, with the actor's id or departments as bound parameters.
    """

    EVERYTHING = "everything"
    NOTHING = "nothing"
    DEPARTMENTS = "departments"
    OWNED = "owned"
    POOL = "pool"
    DEPARTMENTS_OR_POOL = "departments_or_pool"
    OWNED_OR_POOL = "owned_or_pool"


_POOLED = {
    Reach.NOTHING: Reach.POOL,
    Reach.DEPARTMENTS: Reach.DEPARTMENTS_OR_POOL,
    Reach.OWNED: Reach.OWNED_OR_POOL,
}
_UNPOOLED = {pooled: plain for plain, pooled in _POOLED.items()}


def sees_pool(actor: Actor, form: Form) -> bool:
    """Whether the actor's roles let them read ``form``'s pool (its records with no owner)."""
    pool = form.pool
    return pool is not None and actor.user_id is not None and not actor.roles.isdisjoint(pool.roles)


def reach(scope: Scope, actor: Actor, pool_of: Form | None = None) -> Reach:
    """What ``scope`` comes to for ``actor``; with ``pool_of`` (given for reads), widened
    to that form's pool when the actor's roles see it."""
    found = _plain_reach(scope, actor)
    if pool_of is not None and found in _POOLED and sees_pool(actor, pool_of):
        return _POOLED[found]
    return found


def _plain_reach(scope: Scope, actor: Actor) -> Reach:
    if scope is Scope.ALL:
        return Reach.EVERYTHING
    if scope is Scope.NONE or actor.user_id is None:
        return Reach.NOTHING
    if scope is Scope.DEPARTMENT and actor.department_ids:
        # A record's department follows its owner's (see RecordService.move_owner), so the
        # actor's own records are in it too: one IN over an indexed column, no OR.
        return Reach.DEPARTMENTS
    return Reach.OWNED


def scope_condition(
    scope: Scope, actor: Actor, form: Form, table: Table, *, pool: bool = False
) -> ColumnElement[bool] | None:
    """The SQL condition limiting ``table`` to what ``scope`` reaches; ``None`` for all.
    ``pool`` (for reads) adds the form's pool for the actors who see it."""
    found = reach(scope, actor, form if pool else None)
    return _condition(found, form, table, sorted(actor.department_ids), actor.user_id)


def reach_condition(found: Reach, form: Form, table: Table) -> ColumnElement[bool] | None:
    """:func:`scope_condition` with the actor as bound parameters (see :func:`reach_values`)."""
    departments: BindParameter[Any] = bindparam("reach_departments", expanding=True)
    return _condition(found, form, table, departments, bindparam("reach_user"))


def _condition(
    found: Reach, form: Form, table: Table, departments: Any, user: Any
) -> ColumnElement[bool] | None:
    """The condition of one reach, with the actor's ``departments`` and ``user`` given as
    values or as bound parameters: one shape, whether built per actor or once for all."""
    if found is Reach.EVERYTHING:
        return None
    if found is Reach.NOTHING:
        return false()
    unowned = table.c[form.owner_field].is_(None)
    if found is Reach.POOL:
        return unowned
    condition: ColumnElement[bool]
    if _UNPOOLED.get(found, found) is Reach.DEPARTMENTS:
        condition = table.c[DEPARTMENT].in_(departments)
    else:
        condition = table.c[form.owner_field] == user
    return or_(condition, unowned) if found in _UNPOOLED else condition


def reach_values(found: Reach, actor: Actor) -> dict[str, Any]:
    plain = _UNPOOLED.get(found, found)
    if plain is Reach.DEPARTMENTS:
        return {"reach_departments": sorted(actor.department_ids)}
    if plain is Reach.OWNED:
        return {"reach_user": actor.user_id}
    return {}


def reaches(
    scope: Scope, actor: Actor, form: Form, record: dict[str, object], *, pool: bool = False
) -> bool:
    """Whether ``scope`` reaches an already loaded record (the Python twin of the condition)."""
    return within(reach(scope, actor, form if pool else None), actor, form, record)


def within(found: Reach, actor: Actor, form: Form, record: Mapping[Any, Any]) -> bool:
    """Whether ``found`` reaches a loaded record (its owner and ``_department_id`` are
    enough): :func:`reach_condition` in Python."""
    if found is Reach.EVERYTHING:
        return True
    if found in _UNPOOLED and record.get(form.owner_field) is None:
        return True
    plain = _UNPOOLED.get(found, found)
    if plain in (Reach.NOTHING, Reach.POOL):
        return False
    if plain is Reach.DEPARTMENTS:
        return record.get(DEPARTMENT) in actor.department_ids
    return record.get(form.owner_field) == actor.user_id
