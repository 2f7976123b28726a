"""CPU time of one API list request, in process: what a server spends on a page.

Run: ``.venv/bin/python bench/list_cpu.py [--database sqlite|postgresql|both] [--rows N]
[--requests N] [--runs N] [--profile]``.

Takes the database ``bench/web.py`` serves (``prepare()``: bench/records.py's loader, the
CRM app, N opportunities; PostgreSQL in ``formflow_bench_listcache``), builds Formflow's
app around it and sends, through Flask's test client with the sales manager's API token,
the list ``bench/web.py --against minimal`` compares with the minimal endpoint: stage +
owner, the 50 newest, ``fields=`` the eight columns, with and without its total. Each
request is the WSGI call a server makes (an environ built once by Werkzeug, copied per
request; the test client's own URL and cookie handling left out) and its body read. It times
``--runs`` rounds of ``--requests`` requests each with ``time.process_time()`` (CPU, so a
machine busy with other work changes it least) and prints the best and the median
microseconds a request. ``--profile`` prints where one round's CPU goes (``cProfile`` with
``time.process_time`` as its timer).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.test import EnvironBuilder

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))

POSTGRES_DATABASE = "formflow_bench_listcache"


def list_paths(rep: int) -> dict[str, str]:
    """The two list requests of ``bench/web.py --against minimal``."""
    from _web_minimal import COLUMNS

    fields = ",".join((*COLUMNS, "updated_at"))
    where = json.dumps(
        {
            "and": [
                {"field": "stage", "op": "eq", "value": "negotiation"},
                {"field": "owner", "op": "eq", "value": rep},
            ]
        }
    )
    listing = (
        f"/api/v1/crm_sfa/opportunity/records?filter={quote(where)}&sort=-created_at"
        f"&limit=50&fields={fields}"
    )
    return {"50 + total": listing, "50, no total": f"{listing}&total=false"}


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


def measure(kind: str, rows: int, requests: int, runs: int, profiling: bool) -> None:
    import web
    from formflow.config import load_settings
    from formflow.web import create_app
    from records import RESULTS, say

    web.POSTGRES_DATABASE = POSTGRES_DATABASE
    work = RESULTS / "list-cpu"
    fixture = web.prepare(rows, work, kind)
    instance = work / f"instance-{kind}"
    instance.mkdir(parents=True, exist_ok=True)
    settings = load_settings(environ=web.environment(fixture.url, str(instance)))
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {fixture.token}"}
    for label, path in list_paths(fixture.rep).items():
        environ = EnvironBuilder(path=path, headers=headers).get_environ()
        for _ in range(50):  # warm: imports, caches, psycopg's prepared statements
            status, body = call(app, environ)
            assert status.startswith("200"), body[:300]
        found = len(json.loads(body)["data"])
        timings = []
        for _ in range(runs):
            started = time.process_time()
            for _ in range(requests):
                call(app, environ)
            timings.append((time.process_time() - started) / requests * 1e6)
        say(
            f"{kind} {label} ({found} rows): best {min(timings):,.0f} µs, median "
            f"{statistics.median(timings):,.0f} µs of CPU a request "
            f"({runs} × {requests}, load average {os.getloadavg()[0]:.1f})"
        )
        if profiling:
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(requests):
                call(app, environ)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--rows", type=int, default=200_000, help="opportunities")
    parser.add_argument("--requests", type=int, default=1000, help="requests a round")
    parser.add_argument("--runs", type=int, default=5, help="rounds")
    parser.add_argument("--profile", action="store_true", help="profile one more round")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        measure(kind, args.rows, args.requests, args.runs, args.profile)


if __name__ == "__main__":
    main()
