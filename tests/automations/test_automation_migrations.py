"""A date rule's field gets an index from the migration planner; the jobs' clock runs the
timed rules."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from huey import Huey
from rules_support import ZONE, MakeRules, rules_folder
from sqlalchemy import Engine, inspect

from formflow.automations.jobs import CLOCK, attach
from formflow.definitions import load_app
from formflow.jobs import Jobs
from formflow.storage.database import read_transaction
from formflow.storage.migrations import apply_migration
from formflow.storage.planning import plan_migration
from formflow.storage.tables import AppSchema

REMIND = """\
key: remind
label: Remind
form: opportunity
trigger: {type: date, field: expected_close, days_before: 3, at: "09:00"}
actions:
  - set: {reminded: true}
"""

OTHER = "key: other\nlabel: Other\nform: customer\ntrigger: {type: created}\nactions:\n  - set: {note: x}\n"


def test_adding_a_date_rule_plans_an_index_on_its_field(engine: Engine, tmp_path: Path) -> None:
    before = AppSchema(load_app(rules_folder(tmp_path / "before", {"other": OTHER})))
    with read_transaction(engine) as connection:
        apply_migration(engine, plan_migration(connection, before, None, timezone=ZONE))
    after = AppSchema(
        load_app(rules_folder(tmp_path / "after", {"other": OTHER, "remind": REMIND}))
    )
    with read_transaction(engine) as connection:
        plan = plan_migration(connection, after, before, timezone=ZONE)
    [step] = plan.describe()
    assert "expected_close" in step
    apply_migration(engine, plan)
    with engine.connect() as connection:
        indexes = inspect(connection).get_indexes(after.table("opportunity").name)
    assert any(index["column_names"][0] == "expected_close" for index in indexes)


def test_the_jobs_clock_runs_the_timed_rules(make_rules: MakeRules, queue: Huey) -> None:
    every_minute = (
        "key: tick\nlabel: Tick\nform: customer\n"
        'trigger: {type: schedule, cron: "* * * * *"}\n'
        "actions:\n  - set: {note: ticked}\n"
    )
    rules = make_rules(tick=every_minute)
    customer = rules.create("customer", {"name": "Acme"})
    attach(Jobs(queue, rules.relay), rules.automations)
    [clock] = [task for task in queue._registry.periodic_tasks if task.name.endswith(CLOCK)]
    assert clock.validate_datetime(datetime(2026, 3, 9, 1, 0))
    queue.execute(clock)
    assert rules.get("customer", customer["id"])["note"] == "ticked"
