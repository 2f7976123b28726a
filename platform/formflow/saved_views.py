"""Saved views: a person's named filter, search and sort for one form's list.

A view is kept as the list page's own parameters (``{"q": "华为", "f.level": "A"}``), text
keys to text values, so opening it is just opening the list with them. Views belong to
one user; nobody else can list, open or delete them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from formflow.errors import FormflowError
from formflow.storage.platform_tables import saved_views
from formflow.storage.text import storable

MAX_NAME = 100
MAX_VIEWS = 50
MAX_PARAMS = 60
MAX_VALUE = 500


class SavedViewError(FormflowError):
    """A view that cannot be saved; ``code`` says why (``name``, ``too_many``, ``query``)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class SavedView:
    id: int
    name: str
    params: Mapping[str, str]


def list_views(connection: Connection, user_id: int, table_name: str) -> list[SavedView]:
    """The user's views of one form's list, by name."""
    rows = connection.execute(_VIEWS, {"user_id": user_id, "table_name": table_name})
    return [SavedView(int(row.id), str(row.name), _params(row.query)) for row in rows]


_VIEWS = (  # every list page runs it: built once
    select(saved_views.c.id, saved_views.c.name, saved_views.c.query)
    .where(
        saved_views.c.user_id == bindparam("user_id"),
        saved_views.c.table_name == bindparam("table_name"),
    )
    .order_by(saved_views.c.name, saved_views.c.id)
)


def save_view(
    connection: Connection,
    user_id: int,
    table_name: str,
    name: str,
    params: Mapping[str, str],
) -> int:
    """Save ``params`` under ``name``; a view of the same name is replaced."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or not storable(name):
        raise SavedViewError("name", f"a view needs a name of 1 to {MAX_NAME} characters")
    cleaned = _checked(params)
    mine = (saved_views.c.user_id == user_id) & (saved_views.c.table_name == table_name)
    existing = connection.execute(
        select(saved_views.c.id).where(mine, saved_views.c.name == name)
    ).scalar()
    if existing is not None:
        connection.execute(
            update(saved_views).where(saved_views.c.id == existing).values(query=cleaned)
        )
        return int(existing)
    count = connection.execute(
        select(func.count()).select_from(saved_views).where(mine)
    ).scalar_one()
    if count >= MAX_VIEWS:
        raise SavedViewError(
            "too_many", f"at most {MAX_VIEWS} views per list; delete one you no longer use"
        )
    view_id = connection.execute(
        insert(saved_views)
        .values(
            user_id=user_id,
            table_name=table_name,
            name=name,
            query=cleaned,
            created_at=datetime.now(UTC),
        )
        .returning(saved_views.c.id)
    ).scalar_one()
    return int(view_id)


def delete_view(connection: Connection, user_id: int, view_id: int) -> bool:
    """Delete one of the user's views; ``False`` if they have no view with that id."""
    result = connection.execute(
        delete(saved_views).where(saved_views.c.id == view_id, saved_views.c.user_id == user_id)
    )
    return bool(result.rowcount)


def _checked(params: Mapping[str, str]) -> dict[str, str]:
    if len(params) > MAX_PARAMS or not all(
        isinstance(key, str)
        and isinstance(value, str)
        and len(key) <= MAX_VALUE
        and len(value) <= MAX_VALUE
        and storable(key + value)
        for key, value in params.items()
    ):
        raise SavedViewError("query", f"a view holds at most {MAX_PARAMS} short text parameters")
    return {key: value for key, value in params.items() if value != ""}


def _params(stored: object) -> dict[str, str]:
    if not isinstance(stored, dict):
        return {}
    return {str(key): str(value) for key, value in stored.items()}
