"""Who is who in the record-service tests (see conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, event

from formflow.records.access import Actor

SHOP_DIR = Path(__file__).parent / "shop_app"


@dataclass
class People:
    """The users of a test, as actors: two staff in the east team, a manager above them,
    a staff member in the west team, and an administrator."""

    alice: Actor
    bob: Actor
    carol: Actor
    west: Actor
    admin: Actor


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    """Collect every SQL statement ``engine`` runs inside the block."""
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
