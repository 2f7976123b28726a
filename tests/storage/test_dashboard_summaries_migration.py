"""The migration that adds a dashboard whose widgets keep summaries counts the records
already stored, so the first view after it shows every record, as the records would."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, delete, func, select

from formflow.dashboards import DashboardService, ViewerFilters
from formflow.definitions import load_app
from formflow.records import Actor
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.migrations import migrate
from formflow.storage.platform_tables import summary_rows, upgrade_platform_tables
from formflow.storage.tables import AppSchema
from formflow.storage.versions import read_app_files

STAGES_DIR = Path(__file__).parents[1] / "records" / "stages_app"
FUNNEL = """
  - key: funnel
    type: funnel
    label: {en: Funnel}
    form: deal
    group_by: stage
    measure: {op: sum, field: probability}
"""


def without_dashboard() -> dict[str, str]:
    files = read_app_files(STAGES_DIR)
    del files["dashboards/pipeline.yaml"]
    files["app.yaml"] = files["app.yaml"].replace("  dashboards: [dashboards/*.yaml]\n", "")
    return files


def test_the_migration_that_adds_a_summarised_widget_counts_the_stored_records(
    engine: Engine,
) -> None:
    upgrade_platform_tables(engine)
    before = without_dashboard()
    migrate(engine, before, dry_run=False)
    service = RecordService(engine, AppSchema(load_app(before)))
    for stage, probability in (("s1", 10), ("s1", 20), ("won", 100)):
        service.create(
            Actor.system(), "deal", {"name": "d", "stage": stage, "probability": probability}
        )
    files = read_app_files(STAGES_DIR)
    files["dashboards/pipeline.yaml"] += FUNNEL

    result = migrate(engine, files, dry_run=False)

    assert "rebuild the dashboard summaries of shop" in result.plan.describe()
    with read_transaction(engine) as connection:
        assert connection.execute(select(func.count()).select_from(summary_rows)).scalar_one()
    after = RecordService(engine, AppSchema(load_app(files)))
    widget = after.app.dashboards["pipeline"].widget("funnel")
    assert widget is not None
    shown = DashboardService(after).compute(Actor.system(), widget, ViewerFilters())
    assert {g.keys[0]: g.values["sum_probability"] for g in shown.groups} == {
        "s1": 30,
        "won": 100,
    }


def test_an_installation_that_kept_no_summaries_counts_them_at_its_next_migration(
    engine: Engine,
) -> None:
    upgrade_platform_tables(engine)
    files = read_app_files(STAGES_DIR)
    files["dashboards/pipeline.yaml"] += FUNNEL
    migrate(engine, files, dry_run=False)
    service = RecordService(engine, AppSchema(load_app(files)))
    service.create(Actor.system(), "deal", {"name": "d", "stage": "s2", "probability": 40})
    with write_transaction(engine) as connection:  # as a version before summaries left it
        connection.execute(delete(summary_rows))

    result = migrate(engine, files, dry_run=False)

    assert "rebuild the dashboard summaries of shop" in result.plan.describe()
    widget = service.app.dashboards["pipeline"].widget("funnel")
    assert widget is not None
    shown = DashboardService(service).compute(Actor.system(), widget, ViewerFilters())
    assert {g.keys[0]: g.values["sum_probability"] for g in shown.groups} == {"s2": 40}
    assert not migrate(engine, files, dry_run=False).applied
