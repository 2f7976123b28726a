"""CPU time of one API request in process, without a server: what Formflow spends on a
request around its statements.

Run: ``.venv/bin/python bench/request_cpu.py [--database sqlite|postgresql|both] [--rows N]
[--requests N] [--runs N] [--case TEXT]... [--postgres-database NAME] [--profile]``.

Takes the database ``bench/web.py`` serves (its ``prepare()``: bench/records.py's loader,
the CRM app, N opportunities; on PostgreSQL the database ``--postgres-database``), builds
Formflow's app around it and sends, with the sales manager's API token, the requests
``bench/web.py --against minimal`` compares with the minimal endpoint, ``fields=`` the
eight columns a list shows: one record by id (one of 200), and stage + owner, the 50 newest,
with and without its total. Each request is the WSGI call a server makes (an environ built
once by Werkzeug, copied per request, so neither a test client's nor a server's own work is
in the figures) and its body read. Each case is warmed, then timed over ``--runs`` rounds of
``--requests`` requests with ``time.process_time()`` (CPU of this process: what a machine
busy with other work changes least); the best and the median round are printed in µs a
request. On PostgreSQL the backend's CPU a request is printed too (from ``/proc``: the
server runs on this machine). ``--profile`` prints where one more round's CPU goes
(``cProfile`` timed by ``time.process_time``).

It replaces bench/api_request_cpu.py (the record by id and the page without its total,
through Flask's test client) and bench/list_cpu.py (the pages).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.test import EnvironBuilder

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))

import web

POSTGRES_DATABASE = "formflow_bench_request_cpu"
SAMPLE = 200
"""Distinct records the record-by-id case cycles through."""


def paths_of(fixture: web.Fixture) -> dict[str, Callable[[int], str]]:
    """Each case's path for its ``n``-th request."""
    fields, listing = web.minimal_paths(fixture)
    ids = random.Random(1).choices(fixture.record_ids, k=SAMPLE)
    return {
        "record by id": lambda n: (
            f"/api/v1/crm_sfa/opportunity/records/{ids[n % SAMPLE]}?fields={fields}"
        ),
        "stage + owner, 50 + total": lambda n: listing,
        "stage + owner, 50, no total": lambda n: f"{listing}&total=false",
    }


def call(app: WSGIApplication, environ: dict[str, Any]) -> tuple[str, bytes]:
    """One request as a WSGI server makes it: the status and the whole body."""
    answer: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        answer.append(status)

    chunks = app(dict(environ), start_response)
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer[0], body


def rounds(app: WSGIApplication, environs: list[dict[str, Any]], count: int) -> None:
    """``count`` requests, cycling through ``environs``; each must answer 200."""
    for n in range(count):
        status, body = call(app, environs[n % len(environs)])
        if not status.startswith("200"):
            raise SystemExit(f"{environs[0]['PATH_INFO']}: {status} {body[:300]!r}")


def backend_pid(app: Any) -> int | None:
    """The PostgreSQL backend of the app's one pooled connection (``None`` on SQLite)."""
    engine = app.extensions["formflow"].engine
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        pid = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        connection.commit()
    return pid


def measure(kind: str, args: argparse.Namespace) -> None:
    from formflow.config import load_settings
    from formflow.web import create_app
    from records import RESULTS, say

    web.POSTGRES_DATABASE = args.postgres_database
    work = RESULTS / "request-cpu"
    fixture = web.prepare(args.rows, work, kind)
    instance = work / f"instance-{kind}"
    instance.mkdir(parents=True, exist_ok=True)
    app = create_app(load_settings(environ=web.environment(fixture.url, str(instance))))
    headers = {"Authorization": f"Bearer {fixture.token}"}
    for label, path in paths_of(fixture).items():
        if args.case and not any(part in label for part in args.case):
            continue
        environs = [
            EnvironBuilder(path=path(n), headers=headers).get_environ() for n in range(SAMPLE)
        ]

        def round_of(count: int, environs: list[dict[str, Any]] = environs) -> None:
            rounds(app, environs, count)

        round_of(SAMPLE)  # warm: imports, caches, psycopg's prepared statements
        pid = backend_pid(app)  # one thread: the pool's one connection serves every request
        timings, backend = [], []
        for _ in range(args.runs):
            database = web.tree_cpu_seconds(pid) if pid else 0.0
            started = time.process_time()
            round_of(args.requests)
            timings.append((time.process_time() - started) / args.requests * 1e6)
            if pid:
                backend.append((web.tree_cpu_seconds(pid) - database) / args.requests * 1e6)
        database_part = (
            f"; PostgreSQL backend {statistics.median(backend):,.0f} µs (median)" if pid else ""
        )
        say(
            f"{kind} {label}: best {min(timings):,.0f} µs, median "
            f"{statistics.median(timings):,.0f} µs of CPU a request{database_part} "
            f"({args.runs} × {args.requests}, load average {os.getloadavg()[0]:.1f})"
        )
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            round_of(args.requests)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
    app.extensions["formflow"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=200_000, help="opportunities")
    parser.add_argument("--requests", type=int, default=1000, help="requests a round")
    parser.add_argument("--runs", type=int, default=5, help="rounds")
    parser.add_argument(
        "--case", action="append", help="only the cases whose name holds this (repeatable)"
    )
    parser.add_argument("--postgres-database", default=POSTGRES_DATABASE)
    parser.add_argument("--profile", action="store_true", help="profile one more round")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        measure(kind, args)


if __name__ == "__main__":
    main()
