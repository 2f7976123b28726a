"""The automations tests' app, its people and the engine around it (see conftest.py)."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy import Engine

from formflow.actions import Action, ActionContext
from formflow.automations import log
from formflow.automations.engine import SUBSCRIBER, Automations
from formflow.definitions import App, load_app
from formflow.definitions.model import Label
from formflow.events import Relay
from formflow.hookspecs import hookimpl
from formflow.plugins import Plugins, load_plugins
from formflow.records.access import Actor
from formflow.records.service import Record, RecordService
from formflow.storage.database import read_transaction
from formflow.storage.tables import AppSchema
from formflow.workflows.service import WorkflowService

RULES_DIR = Path(__file__).parent / "rules_app"
ZONE = ZoneInfo("Asia/Shanghai")
SYSTEM = Actor.system()


class StampPlugin:
    """A plugin whose action notes what it ran on, as a plugin action would act."""

    def __init__(self) -> None:
        self.stamped: list[tuple[str, int | None, str]] = []
        self.fails_on: str | None = None
        """The name of a record the stamp fails on, as a plugin's action may (not the
        rule's fault: the run raises, and is tried again)."""

    @hookimpl
    def formflow_actions(self) -> list[Action]:
        def run(context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
            if self.fails_on is not None and context.record.get("name") == self.fails_on:
                raise RuntimeError("the stamp machine jammed")
            self.stamped.append((context.form_key, context.record_id, str(params["mark"])))
            return {"action": "stamp", "mark": params["mark"]}

        schema = {
            "type": "object",
            "required": ["mark"],
            "properties": {"mark": {"type": "string"}},
            "additionalProperties": False,
        }
        return [Action("stamp", Label(en="Stamp"), schema, run)]

    @hookimpl
    def formflow_expression_functions(self) -> dict[str, Callable[..., Any]]:
        @pass_context
        def shown(context: Context) -> str:
            """A function handed the template's context, as a plugin's may be."""
            return ", ".join(f"{key} {context[key]}" for key in ("amount", "stage"))

        return {"shown": shown}


def rules_folder(
    root: Path, automations: Mapping[str, str], files: Mapping[str, str] | None = None
) -> Path:
    """The rules app's forms and workflow, with ``automations`` (name: YAML) beside them;
    ``files`` (relative path: text) replace or add files."""
    folder = root / "rules_app"
    shutil.copytree(RULES_DIR, folder, dirs_exist_ok=True)
    (folder / "automations").mkdir(exist_ok=True)
    for name, text in automations.items():
        (folder / "automations" / f"{name}.yaml").write_text(textwrap.dedent(text), "utf-8")
    for path, text in (files or {}).items():
        (folder / path).write_text(textwrap.dedent(text), "utf-8")
    return folder


@dataclass
class Rules:
    """One app's record service, workflows and automations over a fresh database; events
    are delivered in this process as soon as each unit commits."""

    engine: Engine
    app: App
    records: RecordService
    flows: WorkflowService
    automations: Automations
    relay: Relay
    plugin: StampPlugin
    users: dict[str, int] = field(default_factory=dict)

    def create(self, form: str, values: Mapping[str, Any], actor: Actor = SYSTEM) -> Record:
        return self.records.create(actor, form, values)

    def update(self, form: str, record_id: int, values: Mapping[str, Any]) -> Record:
        current = self.get(form, record_id)
        return self.records.update(
            SYSTEM, form, record_id, values, expected_version=current["version"]
        )

    def get(self, form: str, record_id: int) -> Record:
        return self.records.get(SYSTEM, form, record_id)

    def runs(self, **where: Any) -> list[log.Run]:
        with read_transaction(self.engine) as connection:
            return log.list_runs(connection, self.app.key, **where)


def build_rules(engine: Engine, folder: Path, *, max_depth: int = 5) -> Rules:
    plugin = StampPlugin()
    plugins: Plugins = load_plugins(entry_points=False, extra=[plugin])
    app = load_app(folder, toolkit=plugins.toolkit)
    schema = AppSchema(app)
    schema.metadata.create_all(engine)
    services: dict[str, RecordService] = {}
    automations = Automations(
        engine,
        lambda _key: services["records"],
        lambda: [app.key],
        actions=plugins.actions,
        expressions=plugins.toolkit.expressions,
        timezone=ZONE,
        max_depth=max_depth,
        webhook_networks=[ip_network("127.0.0.0/8")],  # the tests' receivers
    )
    relay = Relay(engine, {SUBSCRIBER: automations})
    records = RecordService(engine, schema, relay=relay, timezone=ZONE)
    services["records"] = records
    flows = WorkflowService(
        records, toolkit=plugins.toolkit, actions=tuple(plugins.actions.values())
    )
    return Rules(engine, app, records, flows, automations, relay, plugin)


MakeRules = Callable[..., Rules]
"""The ``make_rules`` fixture: ``make_rules(name=YAML, ...)`` gives a running :class:`Rules`."""
