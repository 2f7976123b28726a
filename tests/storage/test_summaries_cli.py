"""``formflow summaries rebuild``: dashboard summaries counted again from the live records,
for records that reached the database around the record service."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import delete, func, select

from formflow.cli import main
from formflow.storage.database import connect, write_transaction
from formflow.storage.platform_tables import summary_rows
from formflow.storage.summaries import BUILT

STAGES_DIR = Path(__file__).parents[1] / "records" / "stages_app"
FUNNEL = """
  - key: funnel
    type: funnel
    label: {en: Funnel}
    form: deal
    group_by: stage
    measure: {op: sum, field: probability}
"""
CREATE = (
    'for stage in ["s1", "s1", "won"]:\n'
    '    records("shop").create(system, "deal", {"name": "d", "stage": stage, "probability": 10})\n'
    "\n"
)


def test_rebuild_counts_the_summaries_of_every_app_again(tmp_path: Path) -> None:
    database = tmp_path / "formflow.db"
    env = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": f"sqlite:///{database}",
        "FORMFLOW_APPS": "",
    }

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env, input=input)

    app = shutil.copytree(STAGES_DIR, tmp_path / "app")
    with (app / "dashboards" / "pipeline.yaml").open("a", encoding="utf-8") as dashboard:
        dashboard.write(FUNNEL)  # a widget whose counts are kept
    assert run("init", str(app), "--password", "s3cret-pass").exit_code == 0
    assert run("shell", input=CREATE).exit_code == 0
    engine = connect(f"sqlite:///{database}")
    with write_transaction(engine) as connection:
        connection.execute(delete(summary_rows))  # as if the records were bulk-loaded

    result = run("summaries", "rebuild")

    assert result.exit_code == 0, result.output
    rows = int(result.output.removeprefix("shop: ").split()[0])
    assert rows > 0
    with write_transaction(engine) as connection:
        kept = select(func.sum(summary_rows.c.records)).where(summary_rows.c.groups != BUILT)
        assert connection.execute(kept).scalar_one() == 3
    engine.dispose()
    assert run("summaries", "rebuild", "nope").exit_code == 1
