"""CPU time of one API request in process, without a server: what Formflow's request path
costs around its statement.

Run: ``.venv/bin/python bench/api_request_cpu.py [--database sqlite|postgresql|both]
[--rows N] [--requests N] [--runs N] [--postgres-database NAME] [--profile]``.

Loads (or reuses) the database ``bench/web.py`` serves (``prepare()``: bench/records.py's
CRM app with N opportunities; on PostgreSQL in the database ``--postgres-database``), gives
the sales manager an API token, and sends requests through Flask's test client as that
token: one record by id with ``fields=`` the eight columns a list shows, and the stage +
owner page of 50 newest with those columns and no total. Each run sends ``--requests``
requests and is timed with ``time.process_time()`` (CPU time of this process: what a
loaded, shared machine changes least; the database server's own CPU on PostgreSQL is not
in it); the best and the median run are reported, in µs a request. With ``--profile``,
``cProfile`` (timed by ``time.process_time``) shows where one run's time goes.
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
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import web

WORK = Path(__file__).resolve().parent / "results" / "api-request-cpu"


def requests_of(fixture: web.Fixture) -> dict[str, Callable[[random.Random], str]]:
    """The paths each case asks for (the record by id picks one of 200 records)."""
    from _web_minimal import COLUMNS

    fields = ",".join((*COLUMNS, "updated_at"))
    where = json.dumps(
        {
            "and": [
                {"field": "stage", "op": "eq", "value": "negotiation"},
                {"field": "owner", "op": "eq", "value": fixture.rep},
            ]
        }
    )
    listing = (
        f"/api/v1/crm_sfa/opportunity/records?filter={quote(where)}&sort=-created_at"
        f"&limit=50&fields={fields}&total=false"
    )
    ids = fixture.record_ids
    return {
        "record by id": lambda rng: (
            f"/api/v1/crm_sfa/opportunity/records/{rng.choice(ids)}?fields={fields}"
        ),
        "stage + owner, 50, no total": lambda rng: listing,
    }


def measure(client: Any, path: Callable[[random.Random], str], token: str, count: int) -> float:
    """CPU µs a request over ``count`` requests (each must answer 200)."""
    rng = random.Random(1)
    paths = [path(rng) for _ in range(count)]
    headers = {"Authorization": f"Bearer {token}"}
    started = time.process_time()
    for each in paths:
        response = client.get(each, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{each}: {response.status_code} {response.get_data()[:300]!r}")
    return 1e6 * (time.process_time() - started) / count


def profile_of(client: Any, path: Callable[[random.Random], str], token: str, count: int) -> str:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    measure(client, path, token, count)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    return out.getvalue()


def run(kind: str, args: argparse.Namespace) -> list[str]:
    from formflow.config import load_settings
    from formflow.web import create_app

    web.POSTGRES_DATABASE = args.postgres_database
    fixture = web.prepare(args.rows, WORK, kind)
    instance = tempfile.mkdtemp(prefix="api-request-cpu-")
    app = create_app(load_settings(environ=web.environment(fixture.url, instance)))
    client = app.test_client()
    lines = []
    for label, path in requests_of(fixture).items():
        measure(client, path, fixture.token, 200)  # warm: statements prepared, caches filled
        runs = sorted(measure(client, path, fixture.token, args.requests) for _ in range(args.runs))
        lines.append(
            f"| {kind} | {label} | {runs[0]:,.0f} | {statistics.median(runs):,.0f} | "
            + " ".join(f"{each:,.0f}" for each in runs)
            + " |"
        )
        print(lines[-1], flush=True)
        if args.profile:
            print(profile_of(client, path, fixture.token, args.requests), flush=True)
    app.extensions["formflow"].engine.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=2_000, help="requests a run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres-database", default="formflow_bench_api_cpu")
    parser.add_argument("--profile", action="store_true", help="and where one run's time goes")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    print("| database | request | best µs | median µs | runs (µs a request) |")
    print("|---|---|---:|---:|---|")
    for kind in kinds:
        run(kind, args)


if __name__ == "__main__":
    main()
