"""Who is who in the record-service tests (see conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
