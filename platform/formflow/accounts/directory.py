"""People and departments by id: the names pages show and the choices pickers offer.

A page loads the directory once (two statements whatever the number of records it shows),
so a list of a thousand records owned by fifty people costs the same as a list of ten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from formflow.storage.platform_tables import departments, users


@dataclass(frozen=True)
class Directory:
    """Every user's and department's name by id; ``active_users`` in name order."""

    users: Mapping[int, str] = field(default_factory=dict)
    active_users: tuple[int, ...] = ()
    departments: Mapping[int, str] = field(default_factory=dict)

    def user_choices(self) -> list[tuple[int, str]]:
        return [(user_id, self.users[user_id]) for user_id in self.active_users]

    def department_choices(self) -> list[tuple[int, str]]:
        return sorted(self.departments.items(), key=lambda item: item[1])


def load_directory(
    connection: Connection, *, with_users: bool = True, with_departments: bool = True
) -> Directory:
    """The names of every user and department (each part only when asked for)."""
    names: dict[int, str] = {}
    active: list[int] = []
    if with_users:
        rows = connection.execute(_USERS)
        for user_id, name, is_active in rows:
            names[int(user_id)] = str(name)
            if is_active:
                active.append(int(user_id))
    found: dict[int, str] = {}
    if with_departments:
        named = connection.execute(_DEPARTMENTS)
        found = {int(department_id): str(name) for department_id, name in named}
    return Directory(users=names, active_users=tuple(active), departments=found)


# Pages run these on every request: built once.
_USERS = select(users.c.id, users.c.display_name, users.c.is_active).order_by(
    users.c.display_name, users.c.id
)
_DEPARTMENTS = select(departments.c.id, departments.c.name)
