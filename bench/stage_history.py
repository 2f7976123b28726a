"""The stage history widget at a million opportunities, cold and warm, beside its SQL alone.

`.venv/bin/python bench/stage_history.py [--database sqlite|postgresql|both] [--rows N]
[--quick] [--keep]` loads the CRM app and 1,000,000 opportunities as `bench/records.py`
does (its own database: `formflow_bench_stages` on PostgreSQL, `stages-N.db` on SQLite),
gives each opportunity the stays its stage implies (the open stages before it, each a few
days long; a closed one reached some of them before it was won or lost: about three stays
an opportunity), then times, as the admin and as a manager (department scope):

- the sales overview's `stage_history` widget (opportunities closed this quarter), *cold*
  (computed by the database) and *warm* (a kept result, checked against the outbox);
- the same widget over the whole last year (a viewer's date range: about half of all
  closed opportunities);
- the join of stays to records alone (`records.stage_history.stay_groups` on a connection,
  no permission layer): what the database itself pays.

Figures go to `bench/results/stage-history-<database>.md`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import Engine, func, insert, select

import records as records_bench
from _common import ROOT, Summary, elapsed_ms, text_table
from formflow.dashboards import DashboardService, ResultCache, Span, ViewerFilters
from formflow.dashboards.periods import period_span
from formflow.definitions import load_app
from formflow.definitions.model import Widget
from formflow.records.access import Actor
from formflow.records.reading import ReadContext
from formflow.records.service import RecordService
from formflow.records.stage_history import StayAggregation, stay_groups
from formflow.storage.database import connect, read_transaction, write_transaction
from formflow.storage.platform_tables import stage_stays
from formflow.storage.tables import AppSchema

records_bench.POSTGRES_DATABASE = "formflow_bench_stages"
RESULTS = ROOT / "bench" / "results"
APP_DIR = records_bench.APP_DIR
WIDGET = "stage_history"
BATCH = 20_000


def stays_of(rng: random.Random, row: Any) -> Iterator[dict[str, Any]]:
    """The stays one opportunity's stage implies, from its creation to its last change."""
    stages = list(records_bench.OPEN_STAGES)
    if row.stage in stages:
        path = stages[: stages.index(row.stage) + 1]
    else:
        reached = rng.choices(
            range(1, 5), (20, 25, 30, 25) if row.stage == "won" else (40, 30, 20, 10)
        )
        path = [*stages[: reached[0]], row.stage]
    start, end = _aware(row.created_at), _aware(row.updated_at)
    step = max(end - start, timedelta(hours=len(path))) / len(path)
    for index, stage in enumerate(path):
        entered = start + step * index
        last = index == len(path) - 1
        left = None if last else entered + step
        yield {
            "app_key": "crm_sfa",
            "form_key": "opportunity",
            "field_key": "stage",
            "record_id": row.id,
            "value": stage,
            "entered_at": entered,
            "left_at": left,
            "seconds": None if left is None else int((left - entered).total_seconds()),
        }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def load_stays(engine: Engine, schema: AppSchema) -> int:
    """Every opportunity's stays, a range of ids at a time (read, then written: SQLite
    lets no write in while a read is open); returns how many."""
    table = schema.table("opportunity")
    rng = random.Random(records_bench.SEED + 7)
    with read_transaction(engine) as connection:
        last = int(connection.execute(select(func.max(table.c.id))).scalar_one() or 0)
    stored = 0
    for low in range(0, last, BATCH // 3):
        with read_transaction(engine) as connection:
            rows = connection.execute(
                select(table.c.id, table.c.stage, table.c.created_at, table.c.updated_at)
                .where(table.c.id > low, table.c.id <= low + BATCH // 3)
                .order_by(table.c.id)
            ).all()
        stored += _store(engine, [stay for row in rows for stay in stays_of(rng, row)])
    return stored


def _store(engine: Engine, batch: list[dict[str, Any]]) -> int:
    if batch:
        with write_transaction(engine) as connection:
            connection.execute(insert(stage_stays), batch)
    return len(batch)


def time_widget(
    service: RecordService,
    engine: Engine,
    actor: Actor,
    widget: Widget,
    viewer: ViewerFilters,
    repeats: int,
) -> tuple[Summary, Summary]:
    cold_service = DashboardService(service)
    warm_service = DashboardService(service, cache=ResultCache(engine))
    result = warm_service.compute(actor, widget, viewer)
    assert result.problem is None, result.problem
    cold = [elapsed_ms(lambda: cold_service.compute(actor, widget, viewer)) for _ in range(repeats)]
    warm = [
        elapsed_ms(lambda: warm_service.compute(actor, widget, viewer)) for _ in range(repeats * 5)
    ]
    return Summary.of(cold), Summary.of(warm)


def time_plain(engine: Engine, schema: AppSchema, span: Span, repeats: int) -> Summary:
    """The stays joined to the opportunities closed in ``span``, grouped, on a connection."""
    closed = {"field": "stage", "op": "in", "value": ["won", "lost"]}
    when = {
        "field": "actual_close_date",
        "op": "between",
        "value": [span.first.isoformat(), span.last.isoformat()],
    }
    aggregation = StayAggregation("stage", filter={"and": [closed, when]})

    def run() -> None:
        with read_transaction(engine) as connection:
            stay_groups(ReadContext(connection, schema, "opportunity"), aggregation)

    return Summary.of([elapsed_ms(run) for _ in range(repeats)])


def summary(s: Summary) -> str:
    return f"{s.p50:,.1f} / {s.p95:,.1f}"


def fresh_target(kind: str, rows: int, *, keep: bool) -> records_bench.Target:
    """The records benchmark's PostgreSQL target (under this benchmark's name), or a SQLite
    file of this benchmark's own."""
    if kind != "sqlite":
        return records_bench.fresh_target(kind, rows, keep=keep)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"stages-{rows}.db"
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return records_bench.Target(kind, f"sqlite:///{path}", path)


def run(kind: str, settings: records_bench.Settings, repeats: int) -> str:
    target = fresh_target(kind, settings.rows, keep=settings.keep)
    engine = connect(target.url)
    schema = AppSchema(load_app(APP_DIR))
    if records_bench.loaded_rows(engine) != settings.rows:
        records_bench.say(f"{kind}: loading {settings.rows:,} opportunities")
        records_bench.install_and_load(target, engine, settings)
    with read_transaction(engine) as connection:
        kept = connection.execute(select(func.count()).select_from(stage_stays)).scalar_one()
    if not kept:
        records_bench.say(f"{kind}: giving the opportunities their stays")
        kept = load_stays(engine, schema)
        if kind == "postgresql":
            with engine.begin() as connection:  # statistics are kept only if committed
                connection.exec_driver_sql("ANALYZE ff_stage_stays")
    team = records_bench.read_team(engine)
    service = RecordService(engine, schema)
    widget = service.app.dashboards["sales_overview"].widget(WIDGET)
    assert widget is not None
    today = date.today()
    quarter = period_span("quarter", today)
    year = Span(today - timedelta(days=365), today)
    lines = [
        f"{kind}, {settings.rows:,} opportunities, {kept:,} stays, "
        f"load average {os.getloadavg()[0]:.1f}",
        "",
    ]
    rows = []
    for name, user in (("admin", team.admin), ("manager (department)", team.manager)):
        actor = records_bench.actor_of(engine, user)
        for label, viewer in (
            ("this quarter", ViewerFilters()),
            ("last year", ViewerFilters(span=year)),
        ):
            cold, warm = time_widget(service, engine, actor, widget, viewer, repeats)
            rows.append([f"{name}, {label}", summary(cold), summary(warm)])
    lines.append("The stage history widget (p50 / p95 ms):")
    lines.append(text_table(["viewer, closed", "cold", "warm"], rows))
    lines.append("")
    plain = [["this quarter", summary(time_plain(engine, schema, quarter, repeats))]]
    plain.append(["last year", summary(time_plain(engine, schema, year, repeats))])
    lines.append("The stays joined to the records alone (p50 / p95 ms):")
    lines.append(text_table(["closed", "plain"], plain))
    engine.dispose()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=None, help="opportunities (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="50,000 rows, fewer runs")
    parser.add_argument("--keep", action="store_true", help="reuse a loaded database")
    parser.add_argument("--repeats", type=int, default=3, help="cold runs per case")
    args = parser.parse_args()
    args.profile = False
    settings = records_bench.settings_from(args)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        text = run(kind, settings, args.repeats)
        print(f"\n{text}\n", flush=True)
        (RESULTS / f"stage-history-{kind}.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
