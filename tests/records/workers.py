"""Work run in separate processes by the concurrency tests (importable by spawned children)."""

from __future__ import annotations

from pathlib import Path

from formflow.definitions import load_app
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import connect
from formflow.storage.tables import AppSchema


def create_orders(database_url: str, app_dir: str, count: int) -> list[str]:
    """Create ``count`` orders through the record service; return their numbers."""
    engine = connect(database_url)
    try:
        service = RecordService(engine, AppSchema(load_app(Path(app_dir))))
        return [
            service.create(Actor.system(), "order", {"discount": 1})["number"] for _ in range(count)
        ]
    finally:
        engine.dispose()


def write_then_die(database_url: str, app_dir: str, received: str) -> None:
    """Commit three accounts in one unit, then die as the relay starts handing them on.

    The relay delivers subscriber by subscriber, by name: ``a.dies`` is handed the first
    event and kills the process before ``b.records`` has anything, which writes what it
    receives to the file ``received``.
    """
    import os
    import signal

    from formflow.events import Event, Relay
    from formflow.records.unit import unit_of_work

    def dies(event: Event, key: str) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def records(event: Event, key: str) -> None:
        with open(received, "a", encoding="utf-8") as file:
            file.write(f"{key}\n")

    engine = connect(database_url)
    relay = Relay(engine, {"a.dies": dies, "b.records": records})
    service = RecordService(engine, AppSchema(load_app(Path(app_dir))), relay=relay)
    with unit_of_work(engine):
        for name in ("One", "Two", "Three"):
            service.create(Actor.system(), "account", {"name": name})
