"""The record actions tests' app and the services around it (see conftest.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from formflow.definitions import App, load_app
from formflow.plugins import load_plugins
from formflow.record_actions.buttons import RecordButtons
from formflow.record_actions.service import Done, FormActions
from formflow.records.access import Actor
from formflow.records.service import Record, RecordService
from formflow.storage.tables import AppSchema
from formflow.workflows.service import WorkflowService

POOL_DIR = Path(__file__).parent / "pool_app"
ZONE = ZoneInfo("Asia/Shanghai")
SYSTEM = Actor.system()


@dataclass
class Pool:
    engine: Engine
    app: App
    records: RecordService
    actions: FormActions
    buttons: RecordButtons
    now: datetime
    users: dict[str, int] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        role = "manager" if name == "max" else "rep"
        return Actor(self.users[name], roles=frozenset({role}))

    def later(self, **delta: float) -> None:
        """Move the clock the services read on."""
        self.now += timedelta(**delta)

    def account(self, name: str, owner: str | None = None, **values: Any) -> Record:
        """An account owned by ``owner`` (a user's name), or in the pool."""
        given = {"name": name, "owner": None if owner is None else self.users[owner], **values}
        return self.records.create(SYSTEM, "account", given)

    def run(
        self,
        name: str,
        key: str,
        *records: Mapping[str, Any],
        **inputs: Any,
    ) -> Done:
        ids = [int(record["id"]) for record in records]
        return self.actions.run(self.actor(name), "account", ids, key, inputs)

    def get(self, form: str, record_id: int) -> Record:
        return self.records.get(SYSTEM, form, record_id)


def build_pool(engine: Engine, start: datetime) -> Pool:
    plugins = load_plugins(entry_points=False)
    app = load_app(POOL_DIR, toolkit=plugins.toolkit)
    schema = AppSchema(app)
    schema.metadata.create_all(engine)
    records = RecordService(engine, schema, timezone=ZONE)
    actions = FormActions(records, actions=plugins.actions, expressions=plugins.toolkit.expressions)
    flows = WorkflowService(
        records, toolkit=plugins.toolkit, actions=tuple(plugins.actions.values())
    )
    made = Pool(engine, app, records, actions, RecordButtons(flows, actions), start)
    records.clock = lambda: made.now
    return made
