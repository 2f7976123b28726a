"""Who is acting, and which records their roles let them reach.

Permissions are declared per form and role with a scope (none, own, department, all). A user
with several roles gets the widest scope any of them grants. The scope becomes a SQL
condition that every read, count, search and write goes through, so a record out of reach
is out of reach everywhere, including through a hand-typed URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Table, false

from formflow.definitions.model import Action, Form, Scope
from formflow.errors import PermissionDenied
from formflow.storage.tables import DEPARTMENT

_WIDTH = {Scope.NONE: 0, Scope.OWN: 1, Scope.DEPARTMENT: 2, Scope.ALL: 3}


@dataclass(frozen=True)
class Actor:
    """The user a request acts for, as far as permissions need to know them.

    ``department_ids`` holds the user's own department and every department below it: the
    records a ``department`` scope reaches.
    """

    user_id: int | None
    roles: frozenset[str] = frozenset()
    department_id: int | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)
    is_admin: bool = False

    @classmethod
    def system(cls) -> Actor:
        """The engine itself (imports, automations, the shell): reaches everything."""
        return cls(user_id=None, is_admin=True)


def scope_for(actor: Actor, form: Form, action: Action) -> Scope:
    """The widest scope the actor's roles grant for ``action`` on ``form``."""
    if actor.is_admin:
        return Scope.ALL
    scopes = [form.permission(role).scope(action) for role in actor.roles]
    return max(scopes, key=_WIDTH.__getitem__, default=Scope.NONE)


def require(actor: Actor, form: Form, action: Action) -> Scope:
    """The actor's scope for ``action``; :class:`PermissionDenied` when it is ``none``."""
    scope = scope_for(actor, form, action)
    if scope is Scope.NONE:
        raise PermissionDenied(f"you may not {action.value} {form.label.en or form.key} records")
    return scope


def scope_condition(
    scope: Scope, actor: Actor, form: Form, table: Table
) -> ColumnElement[bool] | None:
    """The SQL condition limiting ``table`` to what ``scope`` reaches; ``None`` for all."""
    if scope is Scope.ALL:
        return None
    if scope is Scope.NONE or actor.user_id is None:
        return false()
    if scope is Scope.DEPARTMENT and actor.department_ids:
        # A record's department follows its owner's (see RecordService.move_owner), so the
        # actor's own records are in it too: one IN over an indexed column, no OR.
        return table.c[DEPARTMENT].in_(sorted(actor.department_ids))
    return table.c[form.owner_field] == actor.user_id


def reaches(scope: Scope, actor: Actor, form: Form, record: dict[str, object]) -> bool:
    """Whether ``scope`` reaches an already loaded record (the Python twin of the condition)."""
    if scope is Scope.ALL:
        return True
    if scope is Scope.NONE or actor.user_id is None:
        return False
    if scope is Scope.DEPARTMENT and actor.department_ids:
        return record.get(DEPARTMENT) in actor.department_ids
    return record.get(form.owner_field) == actor.user_id
