"""A worker process for the automations' crash test (importable by spawned children)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from huey import SqliteHuey
from rules_support import build_rules

from formflow.automations.engine import SUBSCRIBER, Automations
from formflow.events import Event, Relay
from formflow.jobs import Jobs
from formflow.storage.database import connect

LEASE = timedelta(seconds=2)
ROUND = 5
"""Events a round: small, so that a burst takes several rounds and a kill lands between."""


class Slowed:
    """The automations, pausing after each round has committed and before the relay
    removes its deliveries: the window a crash repeats a round in."""

    def __init__(self, automations: Automations, pause: float) -> None:
        self.automations = automations
        self.pause = pause

    def __call__(self, event: Event, key: str) -> None:
        self.automations(event, key)
        time.sleep(self.pause)

    def handle_many(self, deliveries: Sequence[tuple[Event, str]]) -> None:
        self.automations.handle_many(deliveries)
        time.sleep(self.pause * len(deliveries))


def open_queue(queue: str) -> SqliteHuey:
    return SqliteHuey("formflow", filename=queue, results=False)


def run_worker(database_url: str, folder: str, queue: str, pause: float) -> None:
    """What `formflow worker` does with the rules app's automations: consume until killed."""
    engine = connect(database_url)
    rules = build_rules(engine, Path(folder))
    rules.relay.dispatch = lambda: None  # the runs' own events wait for this worker's rounds
    relay = Relay(engine, {SUBSCRIBER: Slowed(rules.automations, pause)}, batch=ROUND, lease=LEASE)
    Jobs(open_queue(queue), relay).consumer(2).run()
