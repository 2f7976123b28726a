"""Who is who in the workflow tests (see conftest.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from formflow.actions import Action, ActionContext
from formflow.definitions.model import Label
from formflow.records.access import Actor

FLOWS_DIR = Path(__file__).parent / "flows_app"


def stamp_action(stamped: list[tuple[int, str]]) -> Action:
    """The test plugin action the leave flow runs at its end: notes the record it ran on."""

    def run(context: ActionContext, params: Mapping[str, Any]) -> None:
        stamped.append((int(context.record["id"]), str(params["mark"])))

    return Action("stamp", Label(en="Stamp"), {"type": "object"}, run)


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
