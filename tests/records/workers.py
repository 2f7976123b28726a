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
