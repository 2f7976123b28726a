"""Formflow's pages and REST API under load, next to a hand-written Flask + Core app.

Run: ``.venv/bin/python bench/web.py [--database sqlite|postgresql|both] [--rows N]
[--quick] [--seconds S] [--against same-work|minimal] [--postgres-database NAME]
[--case TEXT]... [--connections 1,8]``.

Takes the SQLite database bench/records.py loads (``bench/results/records-<rows>.db``, CRM
app, 50 users, customers, N opportunities; loaded first if missing), copies it so the
creates here do not change it, signs a sales manager in and gives them an API token. With
``--database postgresql`` it uses its own PostgreSQL database (``formflow_bench_web`` on the
server at ``FORMFLOW_BENCH_POSTGRES``), loaded by bench/records.py's loader when it does not
already hold N opportunities, and otherwise used as it is: the creates, the manager's
password and the token stay in it. ``--database both`` measures SQLite, then PostgreSQL,
in the same run. For each database it serves it twice with gunicorn, as ``formflow serve`` does (gthread, 4 threads a worker)
but with 2 workers and no access log, each on a free port of 127.0.0.1:

- Formflow: ``formflow.lifecycle.serve.FormflowServer`` around ``create_app``;
- the baseline: ``bench/_web_baseline.py`` (``--against same-work``, the default), same
  table and indexes, no framework layers, doing the same work as Formflow; or
  ``bench/_web_minimal.py`` (``--against minimal``), the smallest endpoint per question,
  returning only the eight columns a list shows, which Formflow's API is then asked for
  with ``fields=``.

From this process, threads with one keep-alive ``http.client`` connection each send
requests for a fixed time per case (1 and 8 connections; each case alternates Formflow and
baseline), and report requests per second, the servers' CPU milliseconds per request
(every process and thread of each, from ``/proc``; not PostgreSQL's own), p50/p95 latency
and errors (any status other than the expected one, or a broken connection) for: the list
page (stage = negotiation, as the manager, signed in by cookie), a record page, the API
list (page of 50 with its total, bearer token) and an API create; against the minimal
endpoints: one record by id, the stage + owner page of 50 sorted newest first with and
without its total, and a create. The load generator shares the machine's two cores with
the servers, so absolute rates are lower than on a separate client; the ratio is the point,
and on a machine busy with other work the CPU per request more than the rate. Beside the
servers' CPU it reports the load generator's and, on PostgreSQL, the database backends'
(from ``/proc``: the server runs here) per request, and how many connections each gunicorn
worker held (``reuse_port`` spreads them by a hash of the address, not by load).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

HOST = "127.0.0.1"
WORKERS = 2
SECRET = "bench-web-secret-not-for-production"
PASSWORD = "bench-password-1"
POSTGRES_DATABASE = "formflow_bench_web"
"""Its own database (loaded by bench/records.py's loader when it does not hold N rows):
another benchmark reloading ``formflow_bench`` must not pull it away mid-run."""


# serving (run in a child process: ``web.py --serve formflow|baseline URL PORT INSTANCE``) --


def serve(which: str, url: str, port: int, instance: str) -> None:
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    from formflow.config import load_settings
    from formflow.lifecycle import serve as formflow_serve

    options = formflow_serve.options(HOST, port, WORKERS)
    options.update(accesslog=None, errorlog="-", loglevel="warning", proc_name=f"bench-{which}")
    if which == "formflow":
        settings = load_settings(environ=environment(url, instance))
        formflow_serve.FormflowServer(settings, options).run()
        return

    class Baseline(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            from records import APP_DIR

            if which == "minimal":
                from _web_minimal import create_app
            else:
                from _web_baseline import create_app
            return create_app(url, str(APP_DIR), SECRET)

    Baseline().run()


def environment(url: str, instance: str) -> dict[str, str]:
    return {
        "FORMFLOW_INSTANCE": instance,
        "FORMFLOW_DATABASE_URL": url,
        "FORMFLOW_SECRET_KEY": SECRET,
        "FORMFLOW_SECURE_COOKIES": "0",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start(which: str, url: str, instance: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", which, url, str(port), str(instance)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/nothing-here")
            connection.getresponse().read()
            return process, port
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{which} server exited; see {log}") from None
            time.sleep(0.3)
    raise SystemExit(f"{which} server did not start; see {log}")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its descendants (gunicorn's master
    and workers, with their threads: the job consumer's too), from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
    return total


def connections_by_worker(pid: int, port: int) -> list[int]:
    """How many of the established connections to ``port`` each of server ``pid``'s
    worker processes holds, most first: whether the kernel spread them evenly."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    counts = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            held = 0
            for link in Path(f"/proc/{child}/fd").iterdir():
                try:
                    target = os.readlink(link)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    held += 1
            counts.append(held)
    return sorted(counts, reverse=True)


def database_cpu(url: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``url``'s database (the server runs
    on this machine, so ``/proc`` has them); empty on SQLite."""
    if not url.startswith("postgresql"):
        return {}
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as probe:
        pids = probe.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {pid: tree_cpu_seconds(pid) for (pid,) in pids}


# preparing the database -------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    url: str
    manager: int
    rep: int
    username: str
    token: str
    record_ids: list[int]
    customers: list[int]


def prepare(rows: int, work: Path, kind: str = "sqlite") -> Fixture:
    import records
    from formflow.storage.database import connect

    if kind == "postgresql":
        records.POSTGRES_DATABASE = POSTGRES_DATABASE
        target = records.fresh_target("postgresql", rows, keep=True)
        probe = connect(target.url)
        found = records.loaded_rows(probe)
        probe.dispose()
        if found != rows:
            records.say(f"loading {rows:,} opportunities into {POSTGRES_DATABASE}")
            target = records.fresh_target("postgresql", rows, keep=False)
            engine = connect(target.url)
            args = argparse.Namespace(rows=rows, quick=False, keep=False, profile=False)
            records.install_and_load(target, engine, records.settings_from(args))
            engine.dispose()
        return fixture_of(target.url)
    source = records.RESULTS / f"records-{rows}.db"
    probe = connect(f"sqlite:///{source}")
    if records.loaded_rows(probe) != rows:
        probe.dispose()
        records.say(f"loading {rows:,} opportunities (bench/records.py's loader)")
        target = records.fresh_target("sqlite", rows, keep=False)
        engine = connect(target.url)
        args = argparse.Namespace(rows=rows, quick=False, keep=False, profile=False)
        records.install_and_load(target, engine, records.settings_from(args))
        engine.dispose()
    else:
        probe.dispose()
    work.mkdir(parents=True, exist_ok=True)
    copy = work / f"web-{rows}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, copy)
    return fixture_of(f"sqlite:///{copy}")


def fixture_of(url: str) -> Fixture:
    """Sign the sales manager in by password, give them a token, pick records to open."""
    from sqlalchemy import select, update

    import records
    from formflow import accounts
    from formflow.accounts.tokens import create_token
    from formflow.storage.database import connect, write_transaction
    from formflow.storage.platform_tables import users

    engine = connect(url)
    team = records.read_team(engine)
    table = records.AppSchema(records.load_app(records.APP_DIR)).table(records.FORM)
    customer = records.AppSchema(records.load_app(records.APP_DIR)).table("customer")
    with write_transaction(engine) as connection:
        username = connection.execute(
            select(users.c.username).where(users.c.id == team.manager)
        ).scalar_one()
        connection.execute(
            update(users)
            .where(users.c.id == team.manager)
            .values(password_hash=accounts.hash_password(PASSWORD))
        )
        _, token = create_token(connection, team.manager, "web benchmark")
    actor = records.actor_of(engine, team.manager)
    departments = sorted(actor.department_ids)
    with engine.connect() as connection:
        ids = connection.execute(
            select(table.c.id)
            .where(
                table.c[records.DEPARTMENT].in_(departments), table.c[records.DELETED_AT].is_(None)
            )
            .order_by(table.c.id.desc())
            .limit(200)
        ).scalars()
        record_ids = list(ids)
        customers = list(
            connection.execute(
                select(customer.c.id)
                .where(customer.c.owner == team.manager, customer.c[records.DELETED_AT].is_(None))
                .limit(500)
            ).scalars()
        )
    engine.dispose()
    return Fixture(url, team.manager, team.rep, username, token, record_ids, customers)


# load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: Callable[[random.Random], str]
    headers: dict[str, str]
    body: Callable[[random.Random], bytes | None]
    expect: int


@dataclass(frozen=True)
class Result:
    count: int
    errors: int
    seconds: float
    p50: float
    p95: float
    first_error: str | None
    cpu_seconds: float = 0.0
    """The server's CPU time (every process and thread) while the case ran."""
    client_cpu_seconds: float = 0.0
    """This process's CPU time while the case ran: the load generator's share."""
    database_cpu_seconds: float = 0.0
    """The PostgreSQL backends' CPU time while the case ran (0 on SQLite)."""
    spread: tuple[int, ...] = ()
    """Connections held by each server worker, most first."""

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_ms(self) -> float:
        """The server's CPU milliseconds per request: what load from elsewhere on the
        machine changes least."""
        return 1000 * self.cpu_seconds / self.count if self.count else 0.0

    def per_request_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.count if self.count else 0.0


def load(
    port: int,
    request: Request,
    connections: int,
    seconds: float,
    cap: int,
    pid: int = 0,
    url: str = "",
) -> Result:
    """``connections`` threads, each one keep-alive connection, for ``seconds`` (or until
    ``cap`` requests in all); latency per request in ms; the CPU time of server ``pid``,
    of this process and of the PostgreSQL backends of database ``url``; how the
    connections were spread over the server's workers."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    first: list[str] = []
    stop = time.perf_counter() + seconds
    done = [0]
    lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(index)
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        while time.perf_counter() < stop:
            with lock:
                if done[0] >= cap:
                    return
                done[0] += 1
            path, body = request.path(rng), request.body(rng)
            started = time.perf_counter()
            try:
                connection.request(request.method, path, body=body, headers=request.headers)
                response = connection.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
                status, payload = -1, repr(error).encode()
            latencies[index].append((time.perf_counter() - started) * 1000)
            if status != request.expect:
                errors[index] += 1
                if not first:
                    first.append(f"{status}: {payload[:300]!r}")
        connection.close()

    database_before = database_cpu(url) if url else {}
    cpu_before = tree_cpu_seconds(pid) if pid else 0.0
    client_before = time.process_time()
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    spread: tuple[int, ...] = ()
    if pid and seconds > 1:
        time.sleep(min(1.0, seconds / 2))
        spread = tuple(connections_by_worker(pid, port))
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    client = time.process_time() - client_before
    cpu = tree_cpu_seconds(pid) - cpu_before if pid else 0.0
    database_after = database_cpu(url) if url else {}
    database = sum(v - database_before.get(k, 0.0) for k, v in database_after.items())
    samples = sorted(x for found in latencies for x in found)
    if not samples:
        return Result(0, sum(errors), elapsed, 0, 0, first[0] if first else None, cpu)
    pick = lambda f: samples[min(len(samples) - 1, round(f * (len(samples) - 1)))]  # noqa: E731
    return Result(
        len(samples),
        sum(errors),
        elapsed,
        pick(0.5),
        pick(0.95),
        first[0] if first else None,
        cpu,
        client,
        database,
        spread,
    )


def formflow_cookie(port: int, username: str) -> str:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = session_cookie(response)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    form = urlencode({"csrf_token": token.group(1), "username": username, "password": PASSWORD})
    connection.request(
        "POST",
        "/login",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 302, f"sign-in failed: {response.status}"
    return session_cookie(response)


def session_cookie(response: http.client.HTTPResponse) -> str:
    """The ``session=...`` pair among the response's Set-Cookie headers."""
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith("session="):
            return value.split(";")[0]
    raise AssertionError("no session cookie")


def baseline_cookie(port: int, user_id: int) -> str:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.request("GET", f"/login/{user_id}")
    response = connection.getresponse()
    response.read()
    return session_cookie(response)


def cases(fixture: Fixture, ff_port: int, base_port: int) -> dict[str, tuple[Request, Request]]:
    from records import submitted

    ff_cookie = {"Cookie": formflow_cookie(ff_port, fixture.username)}
    base_cookie = {"Cookie": baseline_cookie(base_port, fixture.manager)}
    bearer = {"Authorization": f"Bearer {fixture.token}"}
    as_json = {**bearer, "Content-Type": "application/json"}
    stage = json.dumps({"field": "stage", "op": "eq", "value": "negotiation"})
    ids = fixture.record_ids
    no_body: Callable[[random.Random], None] = lambda rng: None  # noqa: E731

    def fixed(path: str) -> Callable[[random.Random], str]:
        return lambda rng: path

    def new(rng: random.Random) -> bytes:
        return json.dumps(submitted(rng, fixture.customers)).encode()

    return {
        "list page (stage, 20 rows)": (
            Request(
                "GET", fixed("/crm_sfa/opportunity/?f.stage=negotiation"), ff_cookie, no_body, 200
            ),
            Request("GET", fixed("/opportunity/?stage=negotiation"), base_cookie, no_body, 200),
        ),
        "record page": (
            Request(
                "GET",
                lambda rng: f"/crm_sfa/opportunity/{rng.choice(ids)}",
                ff_cookie,
                no_body,
                200,
            ),
            Request(
                "GET", lambda rng: f"/opportunity/{rng.choice(ids)}", base_cookie, no_body, 200
            ),
        ),
        "API list (stage, 50 + total)": (
            Request(
                "GET",
                fixed(f"/api/v1/crm_sfa/opportunity/records?filter={quote(stage)}&limit=50"),
                bearer,
                no_body,
                200,
            ),
            Request("GET", fixed("/api/opportunity?stage=negotiation"), bearer, no_body, 200),
        ),
        "API create": (
            Request("POST", fixed("/api/v1/crm_sfa/opportunity/records"), as_json, new, 201),
            Request("POST", fixed("/api/opportunity"), as_json, new, 201),
        ),
    }


def minimal_paths(fixture: Fixture) -> tuple[str, str]:
    """The ``fields=`` value naming the minimal endpoints' columns, and the API list path
    asking for the rep's negotiation-stage records with them, 50 newest first."""
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
        f"&limit=50&fields={fields}"
    )
    return fields, listing


def minimal_cases(
    fixture: Fixture, ff_port: int, base_port: int
) -> dict[str, tuple[Request, Request]]:
    """The API asked for the minimal endpoints' eight columns, beside those endpoints."""
    from records import submitted

    bearer = {"Authorization": f"Bearer {fixture.token}"}
    as_json = {**bearer, "Content-Type": "application/json"}
    fields, listing = minimal_paths(fixture)
    minimal = f"/min/opportunity?stage=negotiation&owner={fixture.rep}"
    ids = fixture.record_ids
    no_body: Callable[[random.Random], None] = lambda rng: None  # noqa: E731

    def fixed(path: str) -> Callable[[random.Random], str]:
        return lambda rng: path

    def new(rng: random.Random) -> bytes:
        return json.dumps(submitted(rng, fixture.customers)).encode()

    return {
        "API record by id": (
            Request(
                "GET",
                lambda rng: (
                    f"/api/v1/crm_sfa/opportunity/records/{rng.choice(ids)}?fields={fields}"
                ),
                bearer,
                no_body,
                200,
            ),
            Request("GET", lambda rng: f"/min/opportunity/{rng.choice(ids)}", bearer, no_body, 200),
        ),
        "API stage+owner, 50 + total": (
            Request("GET", fixed(listing), bearer, no_body, 200),
            Request("GET", fixed(minimal), bearer, no_body, 200),
        ),
        "API stage+owner, 50, no total": (
            Request("GET", fixed(f"{listing}&total=false"), bearer, no_body, 200),
            Request("GET", fixed(f"{minimal}&total=0"), bearer, no_body, 200),
        ),
        "API create": (
            Request("POST", fixed("/api/v1/crm_sfa/opportunity/records"), as_json, new, 201),
            Request("POST", fixed("/min/opportunity"), as_json, new, 201),
        ),
    }


# report -------------------------------------------------------------------------------

AIMS = {"API create": 2.0}
READ_AIM = 1.5


def rows_of(results: list[tuple[str, int, Result, Result]]) -> list[list[str]]:
    table = []
    for label, connections, ff, base in results:
        aim = AIMS.get(label, READ_AIM)
        ratio = base.rate / ff.rate if ff.rate else float("inf")
        cpu_ratio = ff.cpu_ms / base.cpu_ms if base.cpu_ms else float("inf")
        met = ratio <= aim and ff.errors == 0
        table.append(
            [
                label,
                str(connections),
                f"{ff.rate:,.0f}",
                f"{base.rate:,.0f}",
                f"{ratio:.2f}x (aim {aim}x)",
                f"{ff.cpu_ms:.2f} / {base.cpu_ms:.2f}",
                f"{cpu_ratio:.2f}x",
                f"{ff.p50:.1f} / {ff.p95:.1f}",
                f"{base.p50:.1f} / {base.p95:.1f}",
                f"{ff.errors} / {base.errors}",
                f"{ff.per_request_ms(ff.client_cpu_seconds):.2f} / "
                f"{base.per_request_ms(base.client_cpu_seconds):.2f}",
                f"{ff.per_request_ms(ff.database_cpu_seconds):.2f} / "
                f"{base.per_request_ms(base.database_cpu_seconds):.2f}",
                f"{'+'.join(map(str, ff.spread))} / {'+'.join(map(str, base.spread))}",
                f"{ff.count:,} / {base.count:,}",
                "yes" if met else "**no**",
            ]
        )
    return table


HEADERS = [
    "case",
    "conns",
    "Formflow req/s",
    "hand-written req/s",
    "slower by",
    "server CPU ms a request F / h",
    "CPU F ÷ h",
    "Formflow p50 / p95 ms",
    "hand-written p50 / p95 ms",
    "errors F / h",
    "load generator CPU ms a request F / h",
    "PostgreSQL CPU ms a request F / h",
    "connections per worker F / h",
    "requests F / h",
    "aim met",
]


NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def run_database(
    kind: str,
    rows: int,
    seconds: float,
    cap: int,
    against: str,
    only: list[str] | None = None,
    connection_counts: tuple[int, ...] = (1, 8),
) -> tuple[list[tuple[str, int, Result, Result]], list[float]]:
    """Both servers on one database, every case at 1 then 8 connections; the results and
    the load averages seen before and after each round."""
    from records import RESULTS, say

    work = RESULTS / "web"
    say(f"preparing the {rows:,}-row {NAMES[kind]} database")
    fixture = prepare(rows, work, kind)
    instance = work / f"instance-{kind}"
    instance.mkdir(parents=True, exist_ok=True)
    log = work / f"servers-{kind}.log"
    log.write_text("")
    servers = []
    results: list[tuple[str, int, Result, Result]] = []
    loads = [os.getloadavg()[0]]
    try:
        ff_process, ff_port = start("formflow", fixture.url, instance, log)
        servers.append(ff_process)
        rival = "minimal" if against == "minimal" else "baseline"
        base_process, base_port = start(rival, fixture.url, instance, log)
        servers.append(base_process)
        say(f"Formflow on :{ff_port}, baseline on :{base_port}, {seconds:g} s a case")
        pick_cases = minimal_cases if against == "minimal" else cases
        requests = {
            label: pair
            for label, pair in pick_cases(fixture, ff_port, base_port).items()
            if not only or any(part in label for part in only)
        }
        for ff_request, base_request in requests.values():  # warm both (imports, caches)
            load(ff_port, ff_request, 2, 1.0, 50)
            load(base_port, base_request, 2, 1.0, 50)
        for connections in connection_counts:
            for label, (ff_request, base_request) in requests.items():
                ff = load(
                    ff_port, ff_request, connections, seconds, cap, ff_process.pid, fixture.url
                )
                base = load(
                    base_port,
                    base_request,
                    connections,
                    seconds,
                    cap,
                    base_process.pid,
                    fixture.url,
                )
                results.append((label, connections, ff, base))
                say(
                    f"{NAMES[kind]} {label}, {connections} conn: Formflow {ff.rate:,.0f}/s "
                    f"p95 {ff.p95:.1f} ms {ff.errors} errors; hand-written {base.rate:,.0f}/s "
                    f"p95 {base.p95:.1f} ms {base.errors} errors; CPU ms a request "
                    f"{ff.cpu_ms:.2f} / {base.cpu_ms:.2f}, database "
                    f"{ff.per_request_ms(ff.database_cpu_seconds):.2f} / "
                    f"{base.per_request_ms(base.database_cpu_seconds):.2f}, client "
                    f"{ff.per_request_ms(ff.client_cpu_seconds):.2f} / "
                    f"{base.per_request_ms(base.client_cpu_seconds):.2f}; "
                    f"connections per worker {ff.spread} / {base.spread}"
                )
                for which, found in (("Formflow", ff), ("hand-written", base)):
                    if found.first_error:
                        say(f"  first {which} error: {found.first_error}")
            loads.append(os.getloadavg()[0])
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            process.wait(timeout=30)
    return results, loads


def main() -> None:
    global POSTGRES_DATABASE  # prepare() reads it
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--rows", type=int, default=None, help="opportunities (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="50,000 rows, 3 s a case")
    parser.add_argument("--seconds", type=float, default=None, help="per case (default 10)")
    parser.add_argument("--cap", type=int, default=20_000, help="at most this many requests a case")
    parser.add_argument(
        "--postgres-database",
        default=POSTGRES_DATABASE,
        help=f"PostgreSQL database to use and load (default {POSTGRES_DATABASE})",
    )
    parser.add_argument(
        "--against",
        choices=["same-work", "minimal"],
        default="same-work",
        help="the hand-written rival: the same work as Formflow, or the smallest endpoint",
    )
    parser.add_argument(
        "--case", action="append", help="only the cases whose name holds this (repeatable)"
    )
    parser.add_argument(
        "--connections", default="1,8", help="connection counts, comma-separated (default 1,8)"
    )
    args = parser.parse_args()
    rows = args.rows or (50_000 if args.quick else 1_000_000)
    POSTGRES_DATABASE = args.postgres_database
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    from _common import markdown_table, text_table
    from records import RESULTS, say

    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    report = []
    for kind in kinds:
        counts = tuple(int(each) for each in args.connections.split(","))
        results, loads = run_database(
            kind, rows, seconds, args.cap, args.against, args.case, counts
        )
        table = rows_of(results)
        averages = ", ".join(f"{x:.1f}" for x in loads)
        print(f"\n== {NAMES[kind]}, {rows:,} opportunities, {seconds:g} s a case ==")
        print(text_table(HEADERS, [[c.replace("**", "") for c in row] for row in table]))
        print(f"load average (1 min) during the run: {averages}")
        report.append(
            f"{NAMES[kind]}, {rows:,} opportunities, {seconds:g} s a case, load averages "
            f"{averages}\n\n{markdown_table(HEADERS, table)}\n"
        )
    suffix = "-minimal" if args.against == "minimal" else ""
    out = RESULTS / f"web-{args.database}-{rows}{suffix}.md"
    out.write_text("\n".join(report), encoding="utf-8")
    say(f"written {out.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
