"""The stays of a stage field: kept from the migration that first tracks it, which fills
them from the audit trail, so the records' past stages count from the first day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from formflow.definitions import load_app
from formflow.records import Actor
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction
from formflow.storage.migrations import migrate
from formflow.storage.platform_tables import stage_stays, upgrade_platform_tables
from formflow.storage.tables import AppSchema
from formflow.storage.versions import read_app_files

STAGES_DIR = Path(__file__).parents[1] / "records" / "stages_app"
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def untracked() -> dict[str, str]:
    """The stages app before its dashboard: no widget reads the stages yet."""
    files = read_app_files(STAGES_DIR)
    del files["dashboards/pipeline.yaml"]
    files["app.yaml"] = files["app.yaml"].replace("  dashboards: [dashboards/*.yaml]\n", "")
    return files


def test_the_migration_that_adds_a_stage_history_fills_the_stays_from_the_audit_trail(
    engine: Engine,
) -> None:
    upgrade_platform_tables(engine)
    before = untracked()
    migrate(engine, before, dry_run=False)
    service = RecordService(engine, AppSchema(load_app(before)))
    now = [START]
    service.clock = lambda: now[0]
    deal = service.create(Actor.system(), "deal", {"name": "d", "stage": "s1"})
    for hours, stage in ((5, "s2"), (7, "won")):
        now[0] += timedelta(hours=hours)
        deal = service.update(
            Actor.system(), "deal", deal["id"], {"stage": stage}, expected_version=deal["version"]
        )
    assert stays(engine) == []

    result = migrate(engine, read_app_files(STAGES_DIR), dry_run=False)

    assert "fill the stage history of deal.stage from the audit trail of shop__deal" in (
        result.plan.describe()
    )
    assert stays(engine) == [("s1", 5 * 3600), ("s2", 7 * 3600), ("won", None)]


def stays(engine: Engine) -> list[tuple[str, int | None]]:
    with read_transaction(engine) as connection:
        found = connection.execute(
            select(stage_stays.c.value, stage_stays.c.seconds).order_by(stage_stays.c.entered_at)
        )
        return [(row.value, row.seconds) for row in found]
