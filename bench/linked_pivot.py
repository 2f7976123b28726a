"""The CRM pivot over a linked record's field (`by_industry`), cold, on a loaded database.

`.venv/bin/python bench/linked_pivot.py URL [--rounds N] [--serial]` opens a database that
`bench/records.py` (or `bench/dashboards.py --keep`) loaded with the CRM app and its
opportunities, and times, as the admin and as a manager (department scope), `rounds` cold
views of the `sales_overview` pivot of opportunities by `customer.industry` × stage through
`DashboardService.compute` (no cache), then the whole overview once. It only reads, so the
code of two trees can be compared on one database (run it with each tree's `platform` on
`PYTHONPATH`).

Besides wall-clock it gives CPU time: on SQLite the process's (SQLite runs in it), on
PostgreSQL the database's backends' (`utime + stime` of each backend of the database in
`/proc/<pid>/stat`, so run it on the database's machine). `--serial` sets
`max_parallel_workers_per_gather = 0` on each connection, so that a parallel plan's work,
done in workers that exit before they can be read, stays in the backends counted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import Engine, event, text

import records as records_bench
from formflow.dashboards import DashboardService, ViewerFilters
from formflow.definitions import load_app
from formflow.records.service import RecordService
from formflow.storage.database import connect
from formflow.storage.tables import AppSchema

WIDGET = "by_industry"


def cpu_ms(engine: Engine) -> float:
    """CPU time so far of what does the database's work: this process on SQLite, the
    database's backends on PostgreSQL."""
    if engine.dialect.name == "sqlite":
        return time.process_time() * 1000
    with engine.connect() as connection:
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = list(connection.execute(query).scalars())
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a backend that has just gone
            continue
        ticks += int(stat[11]) + int(stat[12])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def measured(engine: Engine, action: Any) -> tuple[float, float, Any]:
    """Wall-clock and CPU ms of ``action``, and what it gave."""
    cpu, clock = cpu_ms(engine), time.perf_counter()
    found = action()
    return (time.perf_counter() - clock) * 1000, cpu_ms(engine) - cpu, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the loaded database, e.g. sqlite:////path/records.db")
    parser.add_argument("--rounds", type=int, default=3, help="cold views per viewer")
    parser.add_argument("--serial", action="store_true", help="PostgreSQL: no parallel plans")
    args = parser.parse_args()
    engine = connect(args.url)
    if args.serial and engine.dialect.name == "postgresql":

        def serial(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.cursor().execute("SET max_parallel_workers_per_gather = 0")

        event.listen(engine, "connect", serial)
    team = records_bench.read_team(engine)
    service = RecordService(engine, AppSchema(load_app(records_bench.APP_DIR)))
    dashboard = service.app.dashboards["sales_overview"]
    pivot = dashboard.widget(WIDGET)
    assert pivot is not None
    overview = replace(
        dashboard, widgets=tuple(w for w in dashboard.widgets if "opportunity" in w.forms)
    )
    print(f"{engine.dialect.name}, load average {os.getloadavg()[0]:.1f}; ms, sorted")
    for name, user in (("admin", team.admin), ("manager", team.manager)):
        actor = records_bench.actor_of(engine, user)
        viewer = ViewerFilters()
        views = [
            measured(engine, partial(DashboardService(service).compute, actor, pivot, viewer))
            for _ in range(args.rounds)
        ]
        result = views[0][2]
        assert result.problem is None, result.problem
        total = sum(
            (Decimal(g.values["sum_amount"] or 0) for g in result.totals["all"]), Decimal(0)
        )
        whole = measured(
            engine, partial(DashboardService(service).compute_all, actor, overview, viewer)
        )
        print(
            f"{name}: pivot wall {sorted(round(v[0]) for v in views)} "
            f"CPU {sorted(round(v[1]) for v in views)}; "
            f"overview ({len(overview.widgets)} widgets) wall {whole[0]:.0f} CPU {whole[1]:.0f}; "
            f"grand total {total}"
        )
    print(f"load average {os.getloadavg()[0]:.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
