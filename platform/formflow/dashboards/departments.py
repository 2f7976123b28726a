"""The department tree as a dashboard needs it: who is in a department and those below it.

A record belongs to its owner's department (see :meth:`RecordService.move_owner`), so a
department's figures are those of the records its members and the members of the
departments below it own. Departments and people are few next to records: the tree is
read once per view (two small statements) and walked in Python, while the records are
only ever counted in the database, narrowed to those owners by the owner field's index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import departments, users


@dataclass(frozen=True)
class DepartmentTree:
    """Each department's parent and direct members."""

    parents: Mapping[int, int | None]
    members: Mapping[int, frozenset[int]]

    @classmethod
    def load(cls, engine: Engine) -> DepartmentTree:
        with read_transaction(engine) as connection:
            tree = connection.execute(select(departments.c.id, departments.c.parent_id)).all()
            people = connection.execute(
                select(users.c.id, users.c.department_id).where(users.c.department_id.is_not(None))
            ).all()
        members: dict[int, set[int]] = {}
        for user_id, department_id in people:
            members.setdefault(int(department_id), set()).add(int(user_id))
        return cls(
            {int(d): (int(p) if p is not None else None) for d, p in tree},
            {d: frozenset(found) for d, found in members.items()},
        )

    def fingerprint(self) -> tuple[Any, ...]:
        """The whole tree as a hashable value, to key results that depend on it."""
        return (
            tuple(sorted(self.parents.items(), key=lambda item: item[0])),
            tuple(sorted((d, tuple(sorted(found))) for d, found in self.members.items())),
        )

    def children(self, department: int) -> list[int]:
        return sorted(d for d, parent in self.parents.items() if parent == department)

    def roots(self) -> list[int]:
        return sorted(d for d, parent in self.parents.items() if parent not in self.parents)

    def subtree(self, department: int) -> frozenset[int]:
        """``department`` and every department below it (a cycle cannot loop forever)."""
        found: set[int] = set()
        waiting = [department] if department in self.parents else []
        while waiting:
            current = waiting.pop()
            if current not in found:
                found.add(current)
                waiting += self.children(current)
        return frozenset(found)

    def people(self, department: int) -> frozenset[int]:
        """The members of ``department`` and of the departments below it."""
        found: set[int] = set()
        for one in self.subtree(department):
            found |= self.members.get(one, frozenset())
        return frozenset(found)

    def shown(self, chosen: int | None) -> list[int]:
        """The departments a rolled-up widget has a row for: the chosen one (or the single
        top one) and those right below it; every top department when there are several."""
        if chosen is None:
            roots = self.roots()
            if len(roots) != 1:
                return roots
            chosen = roots[0]
        if chosen not in self.parents:
            return []
        return [chosen, *self.children(chosen)]
