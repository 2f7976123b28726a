"""Who is who in the workflow tests (see conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from formflow.records.access import Actor

FLOWS_DIR = Path(__file__).parent / "flows_app"


@dataclass
class Staff:
    """Reps rita and ray in East (managed by erin), erin under mark (Sales), mark under dora
    (the company, and the director); fiona and fred in finance; nina in no department."""

    rita: Actor
    ray: Actor
    erin: Actor
    mark: Actor
    dora: Actor
    fiona: Actor
    fred: Actor
    nina: Actor
    admin: Actor

    def by_id(self, user_id: int | None) -> Actor:
        for actor in vars(self).values():
            if actor.user_id == user_id:
                return actor
        raise KeyError(user_id)
