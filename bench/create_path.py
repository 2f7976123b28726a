"""One API create in process: statements and CPU time, beside the minimal endpoint's.

Run: ``.venv/bin/python bench/create_path.py [--database sqlite|postgresql|both]
[--rows N] [--creates N] [--runs N] [--profile] [--statements]``.

Uses the database bench/web.py serves (``prepare()``: bench/records.py's loader, the CRM
app, N opportunities; on PostgreSQL in its own database, ``formflow_bench_create_path``
unless ``--postgres-database`` names another), and posts the opportunity a sales manager
types (``records.submitted``, with a customer of theirs) to
``/api/v1/crm_sfa/opportunity/records`` with a bearer token, through Flask's test client:
the whole request in this process, no HTTP server. For each run of ``--creates`` creates
(after 20 to warm caches and psycopg's prepared statements) it reports the statements
sent a create (SQLAlchemy's ``before_cursor_execute``: psycopg's ``BEGIN`` and the pool's
ping are not among them), the process's CPU milliseconds a create
(``time.process_time``) and, on PostgreSQL, those of the server processes serving the
database (from ``/proc``: the server runs on this machine); then the same for the
minimal endpoint (``bench/_web_minimal.py``: the token, the user's department, one
INSERT), runs alternating, with the best and median of the runs. ``--profile`` prints a
``cProfile`` of one more run, timed by CPU (``time.process_time``); ``--statements``
prints the statements of one create, in order.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

sys.path.insert(0, str(Path(__file__).resolve().parent))

WARM = 20
POSTGRES_DATABASE = "formflow_bench_create_path"


@dataclass(frozen=True)
class Side:
    """One server's create, posted through Flask's test client."""

    name: str
    post: Callable[[], None]
    url: str


@dataclass(frozen=True)
class Run:
    statements: float
    cpu_ms: float
    database_cpu_ms: float | None
    """PostgreSQL's own: its server processes serving this database (same machine)."""


class Statements:
    """The statements every engine of this process sends, counted (and kept, if asked)."""

    def __init__(self) -> None:
        self.count = 0
        self.kept: list[str] | None = None
        event.listen(Engine, "before_cursor_execute", self._sent)

    def _sent(self, _connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        if self.kept is not None:
            self.kept.append(" ".join(statement.split()))


def sides(kind: str, rows: int) -> tuple[Side, Side]:
    """Formflow's API create and the minimal endpoint's, on the benchmark's database."""
    import web
    from _web_minimal import create_app as create_minimal
    from formflow.config import load_settings
    from formflow.web import create_app
    from records import APP_DIR, RESULTS, submitted

    work = RESULTS / "create_path"
    fixture = web.prepare(rows, work, kind)
    instance = work / f"instance-{kind}"
    instance.mkdir(parents=True, exist_ok=True)
    settings = load_settings(environ=web.environment(fixture.url, str(instance)))
    formflow = create_app(settings).test_client()
    minimal = create_minimal(fixture.url, str(APP_DIR), web.SECRET).test_client()
    headers = {"Authorization": f"Bearer {fixture.token}"}
    rng = random.Random(20261205)

    def poster(client: Any, path: str) -> Callable[[], None]:
        def post() -> None:
            body = json.dumps(submitted(rng, fixture.customers))
            response = client.post(
                path, data=body, headers=headers, content_type="application/json"
            )
            if response.status_code != 201:
                raise SystemExit(f"{path}: {response.status_code} {response.get_data()!r}")

        return post

    return (
        Side("Formflow", poster(formflow, "/api/v1/crm_sfa/opportunity/records"), fixture.url),
        Side("minimal", poster(minimal, "/min/opportunity"), fixture.url),
    )


def database_cpu_seconds(url: str) -> float | None:
    """User + system CPU seconds of the PostgreSQL processes serving ``url``'s database
    (read from ``/proc``: the server runs on this machine), or None on SQLite."""
    if not url.startswith("postgresql"):
        return None
    import psycopg

    from web import tree_cpu_seconds

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as probe:
        pids = probe.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return sum(tree_cpu_seconds(pid) for (pid,) in pids)


def measure(side: Side, creates: int, sent: Statements) -> Run:
    before, database = sent.count, database_cpu_seconds(side.url)
    cpu = time.process_time()
    for _ in range(creates):
        side.post()
    cpu = time.process_time() - cpu
    after = database_cpu_seconds(side.url)
    server = None if database is None or after is None else (after - database) / creates * 1000
    return Run((sent.count - before) / creates, cpu / creates * 1000, server)


def profiled(side: Side, creates: int, top: int = 30) -> str:
    """Where ``creates`` creates spend their CPU time: by cumulative, then own time."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(creates):
        side.post()
    profiler.disable()
    views = []
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
        text = out.getvalue()
        views.append(f"-- by {order}\n" + text[text.index("ncalls") :].rstrip())
    return "\n\n".join(views)


def run_database(kind: str, options: argparse.Namespace, sent: Statements) -> None:
    formflow, minimal = sides(kind, options.rows)
    for side in (formflow, minimal):
        for _ in range(WARM):
            side.post()
    if options.statements:
        sent.kept = []
        formflow.post()
        print(f"\n{kind}: the statements of one Formflow create")
        for number, statement in enumerate(sent.kept, 1):
            print(f"{number:3}. {statement[:300]}")
        sent.kept = None
    found: dict[str, list[Run]] = {formflow.name: [], minimal.name: []}
    for _ in range(options.runs):
        for side in (formflow, minimal):
            found[side.name].append(measure(side, options.creates, sent))
    print(f"\n{kind}, {options.rows:,} opportunities, {options.runs} runs of {options.creates}")
    print("| side | statements / create | CPU ms / create, best | median | database CPU ms |")
    print("|---|---:|---:|---:|---:|")
    for name, runs in found.items():
        cpu = [run.cpu_ms for run in runs]
        statements = statistics.median(run.statements for run in runs)
        database = [run.database_cpu_ms for run in runs if run.database_cpu_ms is not None]
        server = f"{statistics.median(database):.2f}" if database else "-"
        print(
            f"| {name} | {statements:.2f} | {min(cpu):.2f} | {statistics.median(cpu):.2f} "
            f"| {server} |"
        )
    ratio = statistics.median(r.cpu_ms for r in found[formflow.name]) / statistics.median(
        r.cpu_ms for r in found[minimal.name]
    )
    print(f"Formflow / minimal CPU (medians): {ratio:.2f}x")
    if options.profile:
        print(profiled(formflow, options.creates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=200_000, help="opportunities loaded")
    parser.add_argument("--creates", type=int, default=300, help="creates a run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one more run")
    parser.add_argument("--statements", action="store_true", help="print one create's")
    parser.add_argument("--postgres-database", default=POSTGRES_DATABASE)
    options = parser.parse_args()
    import web

    web.POSTGRES_DATABASE = options.postgres_database
    sent = Statements()
    kinds = ["sqlite", "postgresql"] if options.database == "both" else [options.database]
    for kind in kinds:
        run_database(kind, options, sent)


if __name__ == "__main__":
    main()
