"""Dashboards at a million opportunities: each CRM overview widget, cold and warm, beside
the same aggregate run as plain SQL.

`.venv/bin/python bench/dashboards.py [--database sqlite|postgresql|both] [--rows N]
[--quick] [--keep]` loads the CRM app and 1,000,000 opportunities as `bench/records.py`
does (its own PostgreSQL database, `formflow_bench_dashboards`), then times, as the admin
and as a manager (department scope):

- each widget of `sales_overview` that reads opportunities, *cold* (no kept result: the
  database computes it, from the summaries kept on write where the widget can use them),
  *cold from the records* (the same with the summaries turned off: every figure from the
  opportunities) and *warm* (a kept result, checked against the outbox), each also as the
  process's CPU time (SQLite runs in the process, so that is its work too, whatever the
  other processes on the machine do);
- the same GROUP BY as plain SQL on the same engine (`records.aggregates.aggregate` on a
  connection, no permission layer, no presentation): what any tool asking the database pays;
- the whole overview (every widget), cold and warm, and again narrowed to one department
  (the department filter: owner IN the department's people);
- an age dimension (expected close dates aged 0-30, 31-60, 61-90, 90+ days: one indexed
  range aggregate per range), a query shape no CRM widget over opportunities has;
- a write followed by a view: the new figure must show at once (and is checked).

The loader writes the opportunities straight into the table, past the record service, so
the summaries are rebuilt from them first (`rebuild_all`, timed), as `formflow migrate` does
when a dashboard starts keeping one. Figures go to `bench/results/dashboards-<database>.md`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import records as records_bench
from _common import ROOT, Summary, elapsed_ms, text_table
from formflow.dashboards import DashboardService, ResultCache, Span, ViewerFilters
from formflow.dashboards.service import WidgetResult
from formflow.definitions import load_app
from formflow.definitions.model import Dimension, Label, Measure, Widget
from formflow.records.access import Actor
from formflow.records.aggregates import Aggregation, aggregate
from formflow.records.reading import ReadContext
from formflow.records.service import RecordService
from formflow.storage.database import connect, read_transaction, write_transaction
from formflow.storage.summaries import rebuild_all
from formflow.storage.tables import AppSchema

records_bench.POSTGRES_DATABASE = "formflow_bench_dashboards"
RESULTS = ROOT / "bench" / "results"
APP_DIR = records_bench.APP_DIR
DASHBOARD = "sales_overview"


@dataclass(frozen=True)
class Row:
    label: str
    cold: Summary
    warm: Summary
    plain: Summary | None
    records: Summary | None = None
    cpu: Summary | None = None
    records_cpu: Summary | None = None


def cpu_ms(action: Any) -> float:
    """The process's CPU time of ``action`` in ms (the work, not the waiting for a core)."""
    start = time.process_time()
    action()
    return (time.process_time() - start) * 1000


def timed(action: Any, repeats: int) -> tuple[Summary, Summary]:
    """Wall-clock and CPU time of ``repeats`` runs, each measured on its own run."""
    wall = [elapsed_ms(action) for _ in range(repeats)]
    cpu = [cpu_ms(action) for _ in range(repeats)]
    return Summary.of(wall), Summary.of(cpu)


def plain_sql(
    engine: Any, schema: AppSchema, widget: Widget, zone: str, ages: list[Span] | None = None
) -> Any:
    """The widget's main GROUP BY, straight on a connection (for an age dimension, one
    aggregate per age range, as the service runs them)."""
    measure = widget.ratio.numerator if widget.ratio else widget.measure
    plain = [d for d in widget.dimensions if not d.age]
    aged = next((d.field for d in widget.dimensions if d.age), None)
    ranges: list[Span | None] = list(ages) if ages and aged else [None]
    aggregations = [
        Aggregation(
            measures=(Measure(measure.op, measure.field),),
            group_by=tuple(d.field for d in plain),
            bucket={d.field: d.bucket for d in plain if d.bucket},
            filter=_within(widget.filter, aged, span),
            timezone=zone,
        )
        for span in ranges
    ]

    def run() -> list[dict[str, Any]]:
        with read_transaction(engine) as connection:
            return [
                row
                for aggregation in aggregations
                for row in aggregate(ReadContext(connection, schema, widget.form), aggregation)
            ]

    return run


def _within(spec: Any, key: str | None, span: Span | None) -> dict[str, Any] | None:
    conditions = [dict(spec)] if spec else []
    if key is not None and span is not None:
        days = [span.first.isoformat(), span.last.isoformat()]
        conditions.append({"field": key, "op": "between", "value": days})
    return {"and": conditions} if conditions else None


def time_widget(
    service: RecordService, engine: Any, actor: Actor, widget: Widget, repeats: int
) -> Row:
    cold_service = DashboardService(service)
    live_service = DashboardService(service, summaries=False)
    warm_service = DashboardService(service, cache=ResultCache(engine))
    viewer = ViewerFilters()
    warm_service.compute(actor, widget, viewer)
    cold, cpu = timed(lambda: cold_service.compute(actor, widget, viewer), repeats)
    live, live_cpu = timed(lambda: live_service.compute(actor, widget, viewer), repeats)
    warm = [
        elapsed_ms(lambda: warm_service.compute(actor, widget, viewer)) for _ in range(repeats * 5)
    ]
    plain = None
    if widget.type not in ("table", "gantt", "calendar"):
        ages = [
            span for d in widget.dimensions if d.age for span in cold_service.age_ranges(d).values()
        ]
        run = plain_sql(engine, service.schema, widget, cold_service.zone_name, ages)
        plain = Summary.of([elapsed_ms(run) for _ in range(repeats)])
    return Row(widget.key, cold, Summary.of(warm), plain, live, cpu, live_cpu)


AGEING = Widget(
    key="expected_close_ageing",
    type="bar",
    label=Label(en="Expected close dates by age"),
    form="opportunity",
    dimensions=(Dimension("expected_close_date", age=(30, 60, 90)),),
    measures=(Measure("sum", "amount"),),
)


def time_overview(
    service: RecordService,
    engine: Any,
    actor: Actor,
    repeats: int,
    viewer: ViewerFilters | None = None,
) -> Row:
    dashboard = service.app.dashboards[DASHBOARD]
    widgets = replace(
        dashboard, widgets=tuple(w for w in dashboard.widgets if "opportunity" in w.forms)
    )
    cold_service = DashboardService(service)
    warm_service = DashboardService(service, cache=ResultCache(engine))
    viewer = viewer or ViewerFilters()
    warm_service.compute_all(actor, widgets, viewer)
    cold, cpu = timed(lambda: cold_service.compute_all(actor, widgets, viewer), repeats)
    warm = [
        elapsed_ms(lambda: warm_service.compute_all(actor, widgets, viewer))
        for _ in range(repeats * 5)
    ]
    label = f"whole overview ({len(widgets.widgets)} widgets)"
    if viewer.department is not None:
        label += ", one department"
    return Row(label, cold, Summary.of(warm), None, cpu=cpu)


def write_then_view(service: RecordService, engine: Any, actor: Actor) -> tuple[float, bool]:
    """A won deal written, then the overview's pipeline viewed warm: the time of the view,
    and whether the figure moved by the deal's amount."""
    widget = service.app.dashboards[DASHBOARD].widget("pipeline")
    assert widget is not None
    figures = DashboardService(service, cache=ResultCache(engine))
    before = _won(figures.compute(actor, widget, ViewerFilters()))
    customer = service.find(actor, "customer").rows[0]["id"]
    values = {"name": "bench", "customer": customer, "amount": "1234.56", "stage": "won"}
    values |= {"expected_close_date": "2026-12-31", "actual_close_date": "2026-12-31"}
    values |= {"owner": actor.user_id}
    service.create(Actor.system(), "opportunity", values)
    after: list[WidgetResult] = []
    took = elapsed_ms(lambda: after.append(figures.compute(actor, widget, ViewerFilters())))
    return took, _won(after[0]) - before == Decimal("1234.56")


def _won(result: WidgetResult) -> Decimal:
    return sum(
        (Decimal(g.values["sum_amount"] or 0) for g in result.groups if g.keys[0] == "won"),
        Decimal(0),
    )


def summary(s: Summary | None) -> str:
    return "—" if s is None else f"{s.p50:,.1f} / {s.p95:,.1f}"


def run(kind: str, settings: records_bench.Settings, repeats: int) -> str:
    target = records_bench.fresh_target(kind, settings.rows, keep=settings.keep)
    engine = connect(target.url)
    if records_bench.loaded_rows(engine) != settings.rows:
        if settings.keep:
            engine.dispose()
            target = records_bench.fresh_target(kind, settings.rows, keep=False)
            engine = connect(target.url)
        records_bench.say(f"{kind}: loading {settings.rows:,} opportunities")
        records_bench.install_and_load(target, engine, settings)
    team = records_bench.read_team(engine)
    service = RecordService(engine, AppSchema(load_app(APP_DIR)))
    lines = [f"{kind}, {settings.rows:,} opportunities, load average {os.getloadavg()[0]:.1f}", ""]
    records_bench.say(f"{kind}: rebuilding the summaries")
    clock, cpu_clock = time.perf_counter(), time.process_time()
    with write_transaction(engine) as connection:
        kept = rebuild_all(connection, service.schema)
    rebuilt = time.perf_counter() - clock, time.process_time() - cpu_clock
    lines.append(
        f"Summaries rebuilt from the records: {kept:,} rows in {rebuilt[0]:.1f} s "
        f"({rebuilt[1]:.1f} s CPU)"
    )
    lines.append("")
    for name, user in (("admin", team.admin), ("manager (department)", team.manager)):
        actor = records_bench.actor_of(engine, user)
        records_bench.say(f"{kind}: widgets as {name}")
        dashboard = service.app.dashboards[DASHBOARD]
        rows = [
            time_widget(service, engine, actor, w, repeats)
            for w in dashboard.widgets
            if "opportunity" in w.forms
        ]
        rows.append(time_widget(service, engine, actor, AGEING, repeats))
        rows.append(time_overview(service, engine, actor, max(1, repeats // 2)))
        department = ViewerFilters(department=team.department_of[team.manager])
        rows.append(time_overview(service, engine, actor, max(1, repeats // 2), department))
        table = [
            [
                r.label,
                summary(r.cold),
                summary(r.cpu),
                summary(r.records),
                summary(r.records_cpu),
                summary(r.warm),
                summary(r.plain),
            ]
            for r in rows
        ]
        lines.append(f"As {name} (p50 / p95 ms):")
        headers = ["widget", "cold", "cold CPU", "cold, from records", "its CPU", "warm"]
        lines.append(text_table([*headers, "plain SQL"], table))
        lines.append("")
    took, moved = write_then_view(service, engine, records_bench.actor_of(engine, team.admin))
    lines.append(
        f"A won deal written, then the pipeline viewed: {took:.1f} ms; new figure shown: {moved}"
    )
    engine.dispose()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=None, help="opportunities (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="50,000 rows, fewer runs")
    parser.add_argument("--keep", action="store_true", help="reuse a loaded database")
    parser.add_argument("--repeats", type=int, default=3, help="cold runs per widget")
    args = parser.parse_args()
    args.profile = False
    settings = records_bench.settings_from(args)
    repeats = args.repeats
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        text = run(kind, settings, repeats)
        print(f"\n{text}\n", flush=True)
        (RESULTS / f"dashboards-{kind}.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
