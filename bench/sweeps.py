"""Timed rules at scale: a date-relative sweep over 1,000,000 opportunities, and the CRM's
pool sweep over 100,000 customers.

Run: ``.venv/bin/python bench/sweeps.py [--database sqlite|postgresql|both] [--rows N]
[--customers N] [--days D] [--quick] [--profile] [--only date|pool] [--reuse]``.

For each database it installs the real CRM app (``apps/crm_sfa``) in a fresh database, adds
the 50 people of ``bench/records.py`` and bulk-loads, as that bench does, N customers and
M opportunities (default 100,000 and 1,000,000; ``--quick``: 5,000 and 50,000). Each
customer's two pool clocks are spread evenly: the last follow-up (or claim) over the last
100 days, the claim itself over the last 400, so that on any day about 1 % of customers
reach 27 and 30 days without a follow-up and about 0.25 % reach 87 and 90 days unwon. An
opportunity's ``stage_changed_at`` is its last update, as ``bench/records.py`` writes it.

Then, through an opened instance (as ``formflow serve`` runs the clock), for D days from
today at 09:00 on the instance's clock, it times:

- the date sweep: ``idle_opportunity_flagged`` (14 days in one stage flags an open
  opportunity and notifies its owner) over the opportunities;
- the pool sweep: the four pool rules (warn three days before, then return, for 30 days
  without a follow-up and for 90 days without a win) over the customers;

each as *finding* (the rule's preview: the indexed query, page by page, and the condition;
nothing written) and as the whole *sweep* (each run in its own unit of work, logged). It
prints the query plans of the first day's finding. Figures go to
``bench/results/sweeps-<database>.md``.

SQLite lives in ``bench/results/sweeps-<customers>-<opportunities>.db`` (so that a quick
run can go beside a long one); PostgreSQL in the database
``formflow_bench_sweeps`` on the server at ``FORMFLOW_BENCH_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``). Both are made afresh each run: a sweep
changes what it sweeps. With ``--reuse`` (SQLite only) the freshly loaded file is kept as
``bench/results/sweeps-loaded-<customers>-<opportunities>.db`` and a later run with
``--reuse`` starts from a copy of it instead of loading again (the 1M load takes 15-20
minutes); the copy's clocks are those of the day it was loaded.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import Engine, event

import records as records_bench
from _common import ROOT, markdown_table, plans_of, publish, text_table
from formflow.config import load_settings
from formflow.definitions import load_app
from formflow.lifecycle.instance import Instance
from formflow.records.search import ensure_search_index
from formflow.storage.database import connect, write_transaction
from formflow.storage.migrations import migrate
from formflow.storage.tables import AppSchema

records_bench.POSTGRES_DATABASE = "formflow_bench_sweeps"
RESULTS = ROOT / "bench" / "results"
APP_KEY = records_bench.APP_KEY
SEED = 20261204
DATE_RULES = ("idle_opportunity_flagged",)
POOL_RULES = (  # in the order the clock runs them (by key)
    "pool_return_no_follow_up",
    "pool_return_no_won_deal",
    "pool_warn_no_follow_up",
    "pool_warn_no_won_deal",
)
FOLLOW_UP_SPAN_DAYS = 100
PROFILE = False
"""``--profile``: print each sweep's profile (its times are then the profiler's)."""
CLAIM_SPAN_DAYS = 400
RULES = {"both": (*DATE_RULES, *POOL_RULES), "date": DATE_RULES, "pool": POOL_RULES}
ONLY = "both"
"""``--only date|pool``: time the date sweep or the pool sweep alone."""


@dataclass(frozen=True)
class Sweep:
    """One rule on one day: what finding it took, and what the whole sweep took."""

    day: date
    rule: str
    found: int
    find_s: float
    ran: int
    sweep_s: float
    events: int
    hand_on_s: float
    sweep_cpu_s: float = 0.0
    """The process's CPU time over the sweep (this process only: SQLite's work, not
    PostgreSQL's server), steadier than wall time on a loaded machine."""
    statements: int = 0
    """Statements the sweep sent to the database."""


@dataclass
class Report:
    kind: str
    settings: records_bench.Settings
    setting: str = ""
    load_s: float = 0.0
    size: str = ""
    sweeps: list[Sweep] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)
    load_averages: list[float] = field(default_factory=list)

    def rows(self) -> list[list[str]]:
        rows = []
        for group, rules in (("date", DATE_RULES), ("pool", POOL_RULES)):
            days = sorted({sweep.day for sweep in self.sweeps})
            for day in days:
                found = [s for s in self.sweeps if s.day == day and s.rule in rules]
                for sweep in found:
                    rows.append(_row(f"{day} {sweep.rule}", [sweep]))
                if len(found) > 1:
                    rows.append(_row(f"{day} {group} sweep, all {len(found)} rules", found))
        return rows

    def text(self) -> str:
        return "\n".join(
            [
                self.setting,
                f"{self.settings.customers:,} customers, {self.settings.rows:,} opportunities;"
                f" loaded in {self.load_s:.0f} s ({self.size})",
                f"load average (1 min) during the run: {_loads(self.load_averages)}",
                "",
                text_table(HEADERS, self.rows()),
            ]
        )

    def markdown(self) -> str:
        plans = "\n\n".join(
            f"### {title}\n\n```\n{plan}\n```" for title, plan in self.plans.items()
        )
        return "\n".join(
            [
                f"# Sweeps, {self.kind}",
                "",
                self.setting,
                "",
                f"{self.settings.customers:,} customers, {self.settings.rows:,} opportunities;"
                f" loaded in {self.load_s:.0f} s ({self.size}); load average (1 min) during"
                f" the run: {_loads(self.load_averages)}.",
                "",
                markdown_table(HEADERS, self.rows()),
                "",
                "## Plans of the first day's finding",
                "",
                plans,
                "",
            ]
        )


HEADERS = [
    "day, rule",
    "found",
    "finding s",
    "runs",
    "sweep s",
    "sweep CPU s",
    "statements a run",
    "runs/s",
    "events",
    "handing on s",
]


def _row(label: str, sweeps: Sequence[Sweep]) -> list[str]:
    ran = sum(s.ran for s in sweeps)
    took = sum(s.sweep_s for s in sweeps)
    return [
        label,
        f"{sum(s.found for s in sweeps):,}",
        f"{sum(s.find_s for s in sweeps):.2f}",
        f"{ran:,}",
        f"{took:.2f}",
        f"{sum(s.sweep_cpu_s for s in sweeps):.2f}",
        f"{sum(s.statements for s in sweeps) / ran:.1f}" if ran else "-",
        f"{ran / took:,.0f}" if took else "-",
        f"{sum(s.events for s in sweeps):,}",
        f"{sum(s.hand_on_s for s in sweeps):.1f}",
    ]


def _loads(samples: Sequence[float]) -> str:
    return f"{min(samples):.1f}-{max(samples):.1f}" if samples else "-"


# loading ------------------------------------------------------------------------------


def customers_with_clocks(
    count: int, team: records_bench.Team, now: datetime
) -> Iterator[dict[str, Any]]:
    """The records bench's customers, with the pool's two clocks spread evenly."""
    rng = random.Random(SEED)
    for row in records_bench.customer_rows(count, team, now):
        claimed = now - timedelta(days=CLAIM_SPAN_DAYS * rng.random())
        touched = now - timedelta(days=FOLLOW_UP_SPAN_DAYS * rng.random())
        yield {
            **row,
            "owned_since": claimed,
            "follow_up_clock": max(claimed, touched),
            "locked": rng.random() < 0.05,
        }


def install_and_load(
    target: records_bench.Target, engine: Engine, settings: records_bench.Settings
) -> float:
    """Migrate the CRM app, add the people, then bulk-load customers and opportunities."""
    started = time.perf_counter()
    result = migrate(engine, records_bench.APP_DIR, dry_run=False, note="sweeps benchmark")
    assert result.applied
    schema = AppSchema(load_app(records_bench.APP_DIR))
    with write_transaction(engine) as connection:
        for form_key in schema.app.forms:  # what `formflow migrate` does after migrating
            ensure_search_index(connection, schema, form_key)
    records_bench.create_people(engine)
    team = records_bench.read_team(engine)
    now = datetime.now(UTC)
    customer_table, opportunity_table = schema.table("customer"), schema.table("opportunity")
    names = [customer_table.name, opportunity_table.name]
    with records_bench.make_loader(target, engine) as loader:
        definitions = loader.drop_indexes(names)
        customers = list(customers_with_clocks(settings.customers, team, now))
        loader.insert(customer_table, customers)
        opportunities = records_bench.opportunity_rows(settings.rows, team, customers, now)
        loader.insert(opportunity_table, opportunities)
        loader.build_indexes(definitions, names)
        loader.analyze(settings.rows)
    return time.perf_counter() - started


def fresh_target(kind: str, settings: records_bench.Settings) -> records_bench.Target:
    if kind == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"sweeps-{settings.customers}-{settings.rows}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return records_bench.Target(kind, f"sqlite:///{path}", path)
    return records_bench.fresh_target(kind, 0, keep=False)


# the sweeps ---------------------------------------------------------------------------


def nine_am(instance: Instance, day: date) -> datetime:
    return datetime.combine(day, day_time(9), instance.settings.timezone).astimezone(UTC)


def measure(instance: Instance, rule: str, day: date) -> Sweep:
    started = time.perf_counter()
    found = len(instance.automations.preview(APP_KEY, rule, day))
    find_s = time.perf_counter() - started
    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    event.listen(instance.engine, "before_cursor_execute", count)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        if PROFILE:
            profiler = cProfile.Profile(time.process_time)
            ran = profiler.runcall(
                instance.automations.sweep, APP_KEY, rule, nine_am(instance, day)
            )
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        else:
            ran = instance.automations.sweep(APP_KEY, rule, nine_am(instance, day))
        sweep_s, sweep_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    finally:
        event.remove(instance.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    events = instance.relay.deliver()
    handed = time.perf_counter() - started
    return Sweep(day, rule, found, find_s, ran, sweep_s, events, handed, sweep_cpu_s, statements[0])


def first_plans(engine: Engine, action: Callable[[], Any]) -> str:
    """The plans of the distinct statements on the app's tables ``action`` sends (each
    page after the first differs only in its cursor's values)."""
    plans = plans_of(engine, action).split("\n\n")
    seen: set[str] = set()
    kept = []
    for plan in plans:
        head = plan.split("\n-- parameters")[0]
        if f"{APP_KEY}__" in head and head not in seen:  # the app's tables, not the engine's
            seen.add(head)
            kept.append(plan)
    return "\n\n".join(kept)


def loaded_copy(settings: records_bench.Settings) -> Path:
    """Where ``--reuse`` keeps a freshly loaded SQLite file of these sizes."""
    return RESULTS / f"sweeps-loaded-{settings.customers}-{settings.rows}.db"


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite file whole, its write-ahead log included (the backup API)."""
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
        reading.backup(writing)
    reading.close()
    writing.close()


def run(kind: str, settings: records_bench.Settings, days: int, *, reuse: bool = False) -> Report:
    report = Report(kind, settings)
    target = fresh_target(kind, settings)
    kept = loaded_copy(settings) if reuse and target.path is not None else None
    report.load_averages.append(os.getloadavg()[0])
    if kept is not None and kept.exists():
        assert target.path is not None
        say(f"{kind}: copying the load kept in {kept.name}")
        shutil.copyfile(kept, target.path)
        engine = connect(target.url)
    else:
        engine = connect(target.url)
        say(f"{kind}: loading {settings.customers:,} customers, {settings.rows:,} opportunities")
        report.load_s = install_and_load(target, engine, settings)
        if kept is not None:
            assert target.path is not None
            copy_sqlite(target.path, kept)
    report.size = records_bench.database_size(target, engine)
    report.setting = records_bench.describe_setting(engine)
    say(f"{kind}: loaded in {report.load_s:.0f} s")
    with tempfile.TemporaryDirectory() as folder:
        instance = Instance(
            load_settings({"FORMFLOW_INSTANCE": folder, "FORMFLOW_DATABASE_URL": target.url}),
            engine=engine,
        )
        # As in `formflow serve`: a commit leaves its events for the job queue's workers
        # rather than handing them on itself; `measure` hands them on after each sweep.
        instance.relay.dispatch = lambda: None
        today = datetime.now(instance.settings.timezone).date()
        for title, rule in (("date sweep", DATE_RULES[0]), ("pool sweep", POOL_RULES[0])):
            report.plans[f"{title}: {rule}"] = first_plans(
                engine, lambda rule=rule: instance.automations.preview(APP_KEY, rule, today)
            )
        for offset in range(days):
            day = today + timedelta(days=offset)
            for rule in RULES[ONLY]:
                say(f"{kind}: {day} {rule}")
                report.sweeps.append(measure(instance, rule, day))
                report.load_averages.append(os.getloadavg()[0])
    engine.dispose()
    return report


def say(message: str) -> None:
    records_bench.say(message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=None, help="opportunities (1,000,000)")
    parser.add_argument("--customers", type=int, default=None, help="customers (100,000)")
    parser.add_argument("--days", type=int, default=None, help="days swept (3; quick: 2)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5,000 and 50,000")
    parser.add_argument("--profile", action="store_true", help="print each sweep's profile")
    parser.add_argument("--only", choices=sorted(RULES), default="both", help="which sweeps")
    parser.add_argument(
        "--reuse", action="store_true", help="SQLite: keep the loaded file, start from it later"
    )
    args = parser.parse_args()
    global PROFILE, ONLY
    PROFILE, ONLY = args.profile, args.only
    rows = args.rows if args.rows is not None else (50_000 if args.quick else 1_000_000)
    customers = args.customers or (5_000 if args.quick else 100_000)
    settings = replace(
        records_bench.settings_from(
            argparse.Namespace(rows=rows, quick=args.quick, keep=False, profile=False)
        ),
        customers=customers,
    )
    days = args.days or (2 if args.quick else 3)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        report = run(kind, settings, days, reuse=args.reuse)
        say(f"written {publish(f'sweeps-{kind}', kind, report.text(), report.markdown())}")


if __name__ == "__main__":
    main()
