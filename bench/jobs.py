"""Events handled per second, end to end: commit, queue, worker, subscriber.

Run: ``.venv/bin/python bench/jobs.py [--queue sqlite|redis|both] [--database
sqlite|postgresql] [--events N] [--writers W] [--threads T] [--processes] [--writer-cost]
[--subscriber each|batch] [--workload tally|automations] [--only end-to-end|backlog|relay]
[--profile PREFIX]``.

A fresh database gets a one-form app; W writer threads of this process create N records
through the record service, one unit of work (one commit, one event) each, and each commit
enqueues its delivery job on huey as ``formflow serve`` does. A worker process, as
``formflow worker --threads T`` runs, consumes the queue: its one subscriber stores the
event's idempotency key and adds to a tally in one transaction (the pattern a subscriber
uses to run once in effect). The clock runs from the first commit to the moment nothing is
owed; events per second is N over that time. Writes per second alone is printed beside it.

With ``--processes`` it also prints the CPU milliseconds an event costs each side: the
writer processes (``time.process_time`` of their creates), the worker and the PostgreSQL
server processes serving the bench's database (from ``/proc``: the server runs on this
machine), and the Redis server (its ``INFO cpu``, so any other client's work counts too).
Every run prints what the worker sent an event: statements, and round trips to Redis
(a command, or a pipeline's commands together; its idle polls count too).
On a shared machine these, not the wall rates, compare two versions of the code.

A second run of each (``backlog``) measures the jobs alone: the N commits do not ring, then
one sweep rings and the clock runs until the worker has handled the backlog.

Redis is the one at ``FORMFLOW_BENCH_REDIS`` (default ``redis://127.0.0.1:6379/15``, flushed
first); PostgreSQL the server at ``FORMFLOW_BENCH_POSTGRES`` (a database made afresh, named by
``FORMFLOW_BENCH_JOBS_DATABASE``, default ``formflow_bench_jobs``, so that two runs can share
the server). ``--subscriber batch`` makes the tally a batch subscriber, which stores a
round's keys and counts them in one transaction.

``--workload automations`` hands the events to the engine's automations instead of the
tally: one rule sets a field of each new record and tells the one member of staff (a
notification), so a run costs what an automation's does (the record read and updated, its
audit and event, the notification, the run's log row); ``--subscriber batch`` then lets
them take a round at once (:meth:`Automations.handle_many`), ``each`` one event at a time.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import platform
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "platform"))

import psycopg  # noqa: E402
import redis  # noqa: E402
from huey import Huey, RedisHuey, SqliteHuey  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy import (  # noqa: E402
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite  # noqa: E402
from sqlalchemy.exc import IntegrityError  # noqa: E402

from formflow import accounts  # noqa: E402
from formflow.actions import ActionServices  # noqa: E402
from formflow.automations.engine import SUBSCRIBER as AUTOMATIONS  # noqa: E402
from formflow.automations.engine import Automations, event_rules_check  # noqa: E402
from formflow.definitions import load_app  # noqa: E402
from formflow.events import Event, Relay, Subscriber  # noqa: E402
from formflow.jobs import Jobs  # noqa: E402
from formflow.jobs.queue import SqliteQueue  # noqa: E402
from formflow.jobs.runner import BUSY_RETRY_SECONDS  # noqa: E402
from formflow.notifications import Notifications  # noqa: E402
from formflow.plugins import load_plugins  # noqa: E402
from formflow.records.access import Actor  # noqa: E402
from formflow.records.service import RecordService  # noqa: E402
from formflow.records.unit import unit_of_work  # noqa: E402
from formflow.storage.database import connect, write_transaction  # noqa: E402
from formflow.storage.platform_tables import (  # noqa: E402
    automation_runs,
    event_deliveries,
    event_subscribers,
    notifications,
)
from formflow.storage.tables import AppSchema  # noqa: E402

APP = {
    "app.yaml": """\
key: bench
version: "1.0"
label: Bench
roles:
  - {key: staff, label: Staff}
include:
  forms: [forms/*.yaml]
""",
    "forms/item.yaml": """\
key: item
label: Item
title_field: name
fields:
  - {key: name, type: text, label: Name, required: true}
permissions:
  staff: {create: all, read: all, update: all, delete: none}
""",
}
RULES_APP = {
    "app.yaml": APP["app.yaml"] + "  automations: [automations/*.yaml]\n",
    "forms/item.yaml": APP["forms/item.yaml"].replace(
        "  - {key: name, type: text, label: Name, required: true}\n",
        "  - {key: name, type: text, label: Name, required: true}\n"
        "  - {key: note, type: text, label: Note}\n",
    ),
    "automations/mark_new.yaml": """\
key: mark_new
label: Mark new items, and tell the staff
form: item
trigger: {type: created}
actions:
  - set: {note: seen}
  - action: notify
    params: {roles: [staff], title: "New item {{ name }}"}
""",
}
"""``--workload automations``: the same writes, handed to the engine's automations, whose
one rule sets a field of each new record and tells the one member of staff."""
SUBSCRIBER = "bench.tally"
REDIS_URL = os.environ.get("FORMFLOW_BENCH_REDIS", "redis://127.0.0.1:6379/15")
POSTGRES = os.environ.get(
    "FORMFLOW_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)

bench_metadata = MetaData()
acted = Table("bench_acted", bench_metadata, Column("key", String(100), primary_key=True))
tally = Table(
    "bench_tally",
    bench_metadata,
    Column("id", Integer, primary_key=True),
    Column("count", Integer, nullable=False),
)


def subscriber(engine: Engine, batches: bool = False) -> Subscriber:
    """The tally: an event's idempotency key stored and the tally counted in one
    transaction, so a repeat does nothing; with ``batches``, a ``BatchSubscriber``
    that does so for the events of a round in one transaction (keys already stored are
    skipped, and the tally counts the others)."""
    act = insert(acted)
    count = tally.update().where(tally.c.id == 1).values(count=tally.c.count + 1)
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[engine.dialect.name]
    act_new = dialect.insert(acted).on_conflict_do_nothing().returning(acted.c.key)
    count_many = (
        tally.update().where(tally.c.id == 1).values(count=tally.c.count + bindparam("added"))
    )

    def handle(event: Event, key: str) -> None:
        try:
            with write_transaction(engine) as connection:
                connection.execute(act, {"key": key})
                connection.execute(count)
        except IntegrityError:
            return  # a repeat: done already

    def handle_many(deliveries: Sequence[tuple[Event, str]]) -> None:
        with write_transaction(engine) as connection:
            keys = [{"key": key} for _event, key in deliveries]
            added = len(connection.execute(act_new, keys).all())
            if added:
                connection.execute(count_many, {"added": added})

    if batches:
        handle.handle_many = handle_many  # type: ignore[attr-defined]
    return handle


def subscribers(engine: Engine, workload: str, batches: bool = False) -> dict[str, Subscriber]:
    """The worker's subscribers for ``workload``: the tally, or the engine's automations
    (taking a round at once with ``batches``, else one event at a time)."""
    if workload == "tally":
        return {SUBSCRIBER: subscriber(engine, batches)}
    automations = Automations(
        engine,
        lambda _key: rules_service(engine),
        lambda: ["bench"],
        actions=PLUGINS.actions,
        expressions=PLUGINS.toolkit.expressions,
        timezone=UTC,
    )
    automations.services = ActionServices(notifications=Notifications(engine))

    def each(event: Event, key: str) -> None:
        automations.handle(event, key)

    return {AUTOMATIONS: automations if batches else each}


PLUGINS = load_plugins(entry_points=False)
_rules_services: dict[Engine, RecordService] = {}


def rules_service(engine: Engine, relay: Relay | None = None) -> RecordService:
    """The record service of the automations workload's app on ``engine`` (one a process):
    only the creates its rule watches owe the automations a delivery."""
    if engine not in _rules_services:
        schema = AppSchema(load_app(RULES_APP, toolkit=PLUGINS.toolkit))
        _rules_services[engine] = RecordService(
            engine,
            schema,
            relay=relay,
            subscriber_checks={AUTOMATIONS: event_rules_check(schema.app)},
        )
    return _rules_services[engine]


def service_for(engine: Engine, workload: str, relay: Relay) -> RecordService:
    """The record service a writer creates through for ``workload``."""
    if workload == "tally":
        return RecordService(engine, AppSchema(load_app(APP)), relay=relay)
    return rules_service(engine, relay)


def handled_once(connection: Connection, workload: str) -> int:
    """How many events the worker has handled, once each: the tally, or the rule's runs
    that told someone (the fewer of its runs and its notifications)."""
    if workload == "tally":
        return int(connection.execute(select(tally.c.count)).scalar_one())
    done = select(func.count()).select_from(automation_runs)
    runs = connection.execute(done.where(automation_runs.c.status == "done")).scalar_one()
    told = connection.execute(select(func.count()).select_from(notifications)).scalar_one()
    return min(int(runs), int(told))


def open_queue(kind: str, folder: Path) -> Huey:
    if kind == "redis":
        return RedisHuey("formflow", url=REDIS_URL, results=False)
    return SqliteHuey(
        "formflow", filename=str(folder / "jobs.db"), results=False, storage_class=SqliteQueue
    )


def worker(
    database_url: str,
    kind: str,
    folder: str,
    threads: int,
    profile: str | None = None,
    sent: Any = None,
    batches: bool = False,
    workload: str = "tally",
) -> None:
    engine = connect(database_url)
    relay = Relay(engine, subscribers(engine, workload, batches))
    if workload != "tally":
        rules_service(engine, relay)  # the rule's own writes owe their events here too
    jobs = Jobs(open_queue(kind, Path(folder)), relay)
    if sent is not None:
        count_round_trips(engine, sent)
    profiles: list[cProfile.Profile] = []
    if profile:  # each job's run, on CPU time, in every consumer thread
        running, mine = jobs.huey.execute, threading.local()

        def execute(task: Any, timestamp: Any = None) -> Any:
            if not hasattr(mine, "profiler"):
                mine.profiler = cProfile.Profile(time.process_time)
                profiles.append(mine.profiler)
            mine.profiler.enable()
            try:
                return running(task, timestamp)
            finally:
                mine.profiler.disable()

        jobs.huey.execute = execute
    # as `formflow worker` runs, but without the minute's sweep: the rings are measured
    jobs.huey.create_consumer(
        workers=threads, worker_type="thread", periodic=False, max_delay=1.0
    ).run()
    if profile and profiles:
        stats = pstats.Stats(profiles[0])
        for more in profiles[1:]:
            stats.add(more)
        stats.dump_stats(f"{profile}-worker.prof")


def count_round_trips(engine: Engine, sent: Any) -> None:
    """Count, in the shared array ``sent``, the statements this process sends on ``engine``
    (``sent[0]``) and its round trips to Redis (``sent[1]``: a command, or a pipeline's
    commands sent together). Unlocked: threads may lose a count now and then, which a
    figure an event does not notice."""

    def statement(*_args: Any) -> None:
        sent[0] += 1

    event.listen(engine, "before_cursor_execute", statement)
    command, pipeline = redis.Redis.execute_command, redis.client.Pipeline.execute

    def one(self: Any, *args: Any, **options: Any) -> Any:
        sent[1] += 1
        return command(self, *args, **options)

    def together(self: Any, *args: Any, **options: Any) -> Any:
        sent[1] += 1
        return pipeline(self, *args, **options)

    redis.Redis.execute_command = one  # type: ignore[method-assign]
    redis.client.Pipeline.execute = together  # type: ignore[method-assign]


def write_process(
    database_url: str,
    queue: str,
    folder: str,
    count: int,
    ring: bool,
    ready: Any,
    go: Any,
    finish: Any,
    profile: str | None = None,
    per_unit: int = 1,
    workload: str = "tally",
) -> None:
    """A writer process: ``count`` creates through a record service of its own, ``per_unit``
    in each unit of work (one commit), each commit ringing the queue as a server process's do (unless ``ring`` is false); it
    warms up (WARM creates, which ring), says when it is ``ready``, writes when told to
    ``go``, reports the CPU seconds its writes took and keeps its connection (whose
    server process the bench measures) until told to ``finish``."""
    engine = connect(database_url)
    relay = Relay(engine, subscribers(engine, workload))
    Jobs(open_queue(queue, Path(folder)), relay)
    service = service_for(engine, workload, relay)
    for number in range(WARM):
        service.create(Actor.system(), "item", {"name": f"Warm {number}"})
    if not ring:
        relay.dispatch = lambda: None
    ready.put(os.getpid())
    go.wait()
    profiler = cProfile.Profile(time.process_time) if profile else None
    cpu = time.process_time()
    if profiler is not None:
        profiler.enable()
    for start in range(0, count, per_unit):
        with unit_of_work(engine):
            for number in range(start, min(start + per_unit, count)):
                service.create(Actor.system(), "item", {"name": f"Item {number}"})
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{profile}-writer-{os.getpid()}.prof")
    ready.put(time.process_time() - cpu)
    finish.wait()
    engine.dispose()


WARM = 20
"""Creates each writer process makes before the clock starts: statements compiled,
connections open (their server processes are measured), caches filled."""


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from ``/proc``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(database_url: str, exclude: int) -> dict[int, float]:
    """CPU seconds of each PostgreSQL server process serving the bench's database (the
    server runs on this machine) but ``exclude``, by pid; nothing on SQLite."""
    if not database_url.startswith("postgresql"):
        return {}
    with psycopg.connect(database_url, autocommit=True) as probe:
        pids = probe.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    found = {}
    for (pid,) in pids:
        if pid != exclude:
            try:
                found[pid] = process_cpu_seconds(pid)
            except FileNotFoundError:
                continue  # ended meanwhile
    return found


def redis_cpu_seconds() -> float:
    """The Redis server's CPU seconds (all its clients: other work on it counts too)."""
    info = redis.Redis.from_url(REDIS_URL).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def fresh_database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder}/bench.db"
    name = os.environ.get("FORMFLOW_BENCH_JOBS_DATABASE", "formflow_bench_jobs")
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return POSTGRES.rsplit("/", 1)[0] + f"/{name}"


def run(
    database: str,
    queue: str,
    events: int,
    writers: int,
    threads: int,
    *,
    backlog: bool,
    processes: bool = False,
    profile: str | None = None,
    per_unit: int = 1,
    batches: bool = False,
    workload: str = "tally",
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        if queue == "redis":
            redis.Redis.from_url(REDIS_URL).flushdb()
        database_url = fresh_database(database, folder)
        engine = connect(database_url)
        relay = Relay(engine, subscribers(engine, workload))
        jobs = Jobs(open_queue(queue, folder), relay)
        if backlog:
            relay.dispatch = lambda: None  # commits do not ring: a backlog builds up
        service = service_for(engine, workload, relay)
        service.schema.metadata.create_all(engine)
        bench_metadata.create_all(engine)
        with write_transaction(engine) as connection:
            connection.execute(insert(tally).values(id=1, count=0))
            if workload != "tally":  # the one member of staff the rule tells
                accounts.create_user(
                    connection,
                    "staff",
                    None,
                    password_hash="-",
                    department_id=None,
                    roles={"bench": ["staff"]},
                )

        spawn = multiprocessing.get_context("spawn")
        sent = spawn.RawArray("q", 2)  # the worker's statements and Redis round trips
        consumer = spawn.Process(
            target=worker,
            args=(database_url, queue, str(folder), threads, profile, sent, batches, workload),
        )
        consumer.start()
        time.sleep(3)  # let the worker start before the clock does
        per_writer = events // writers

        def write() -> None:
            for number in range(per_writer):
                service.create(Actor.system(), "item", {"name": f"Item {number}"})

        go, finish = spawn.Event(), spawn.Event()
        ready: Any = spawn.Queue()
        warmed = 0
        if processes:  # start-up (imports, the app) is not writing: the clock waits for it
            arguments = (
                database_url,
                queue,
                str(folder),
                per_writer,
                not backlog,
                ready,
                go,
                finish,
                profile,
                per_unit,
                workload,
            )
            writers_: list[Any] = [
                spawn.Process(target=write_process, args=arguments) for _ in range(writers)
            ]
            for writer in writers_:
                writer.start()
            for _writer in writers_:
                ready.get(timeout=120)
            warmed = WARM * writers
        else:
            writers_ = [threading.Thread(target=write) for _ in range(writers)]
        with engine.connect() as polling:
            poller = (
                polling.execute(select(func.pg_backend_pid())).scalar_one()
                if (database == "postgresql")
                else 0
            )
            owed = select(func.count()).select_from(event_deliveries)

            def drained() -> None:
                while polling.execute(owed).scalar_one():
                    polling.commit()
                    time.sleep(0.01)
                polling.commit()

            if warmed:
                drained()  # the warm-up's events handled before the clock starts
            if backlog:  # and its jobs ended (a busy one looks again a second later): it
                # would deliver the backlog as it is written
                holding = select(func.count()).select_from(event_subscribers)
                while polling.execute(
                    holding.where(event_subscribers.c.lease_holder.is_not(None))
                ).scalar_one():
                    polling.commit()
                    time.sleep(0.01)
                polling.commit()
                time.sleep(BUSY_RETRY_SECONDS + 1)
            server = server_cpu_seconds(database_url, poller)
            consumer_cpu = process_cpu_seconds(consumer.pid)
            redis_cpu = redis_cpu_seconds() if queue == "redis" else 0.0
            sent_before = list(sent)
            started = time.perf_counter()
            go.set()
            if not processes:
                for writer in writers_:
                    writer.start()
                writers_cpu = time.process_time()
            else:
                writers_cpu = sum(ready.get(timeout=3600) for _writer in writers_)
            if not processes:
                for writer in writers_:
                    writer.join()
                writers_cpu = time.process_time() - writers_cpu
            written = time.perf_counter()
            writes_per_s = per_writer * writers / (written - started)
            if backlog:  # the CPU of the jobs alone, from the ring on
                server = server_cpu_seconds(database_url, poller)
                consumer_cpu = process_cpu_seconds(consumer.pid)
                redis_cpu = redis_cpu_seconds() if queue == "redis" else 0.0
                sent_before = list(sent)
                started = time.perf_counter()
                jobs.sweep()  # one ring, as a worker's sweep would
            drained()
            handled = time.perf_counter()
            server_after = server_cpu_seconds(database_url, poller)
            consumer_cpu = process_cpu_seconds(consumer.pid) - consumer_cpu
            redis_cpu = (redis_cpu_seconds() if queue == "redis" else 0.0) - redis_cpu
            statements, round_trips = sent[0] - sent_before[0], sent[1] - sent_before[1]
        server_cpu = sum(cpu - server.get(pid, 0.0) for pid, cpu in server_after.items())
        finish.set()
        for writer in writers_:
            writer.join()
        consumer.terminate()
        consumer.join()
        with engine.connect() as connection:
            count = handled_once(connection, workload)
        engine.dispose()
        total = per_writer * writers
        assert count == total + warmed, (count, total, warmed)
        per_event = 1000 / total
        return {
            "events": total,
            "writes_per_s": writes_per_s,
            "events_per_s": total / (handled - started),
            "seconds": handled - started,
            "writers_ms": writers_cpu * per_event,
            "worker_ms": consumer_cpu * per_event,
            "server_ms": server_cpu * per_event,
            "redis_ms": redis_cpu * per_event,
            "worker_statements": statements / total,
            "worker_redis": round_trips / total,
        }


def relay_rate(
    database: str, events: int, tallying: bool, batches: bool = False
) -> dict[str, float]:
    """The relay's own rate, in this process: ``events`` committed without ringing, then
    one ``deliver()`` hands them all to the subscriber (the tally, or one that does
    nothing); wall and CPU time of this process (SQLite's work included; PostgreSQL's
    server is not)."""
    with tempfile.TemporaryDirectory() as temporary:
        database_url = fresh_database(database, Path(temporary))
        engine = connect(database_url)
        schema = AppSchema(load_app(APP))
        schema.metadata.create_all(engine)
        bench_metadata.create_all(engine)
        with write_transaction(engine) as connection:
            connection.execute(insert(tally).values(id=1, count=0))
        handle = subscriber(engine, batches) if tallying else (lambda _event, _key: None)
        relay = Relay(engine, {SUBSCRIBER: handle})
        relay.dispatch = lambda: None
        service = RecordService(engine, schema, relay=relay)
        for number in range(events):
            service.create(Actor.system(), "item", {"name": f"Item {number}"})
        started, cpu = time.perf_counter(), time.process_time()
        delivered = relay.deliver()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
        assert delivered == events, (delivered, events)
        return {"events": events, "per_s": events / wall, "cpu_ms": cpu / events * 1000}


def writer_cost(database: str, creates: int) -> list[tuple[str, float, float]]:
    """What a writer pays for events, in this process: CPU milliseconds and statements a
    create with no subscriber, with one owed (the delivery row), and with each commit
    ringing the SQLite queue as a server's do (no worker: the mark stays set, as in a
    burst)."""
    found = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for mode in ("no subscriber", "a subscriber owed", "owed, ringing the queue"):
            database_url = fresh_database(database, folder / mode.replace(" ", "_"))
            (folder / mode.replace(" ", "_")).mkdir(exist_ok=True)
            engine = connect(database_url)
            schema = AppSchema(load_app(APP))
            schema.metadata.create_all(engine)
            subscribers = {} if mode == "no subscriber" else {SUBSCRIBER: lambda _e, _k: None}
            relay = Relay(engine, subscribers)
            relay.dispatch = lambda: None
            if mode.endswith("queue"):
                Jobs(open_queue("sqlite", folder), relay)
            service = RecordService(engine, schema, relay=relay)
            for number in range(50):  # warm: statements compiled, caches filled
                service.create(Actor.system(), "item", {"name": f"Warm {number}"})
            sent = [0]

            def count(*_args: Any, sent: list[int] = sent) -> None:
                sent[0] += 1

            event.listen(engine, "before_cursor_execute", count)
            cpu = time.process_time()
            for number in range(creates):
                service.create(Actor.system(), "item", {"name": f"Item {number}"})
            cpu = time.process_time() - cpu
            event.remove(engine, "before_cursor_execute", count)
            engine.dispose()
            found.append((mode, cpu / creates * 1000, sent[0] / creates))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", choices=["sqlite", "redis", "both"], default="both")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--processes", action="store_true", help="writers are processes, not threads"
    )
    parser.add_argument(
        "--writer-cost",
        action="store_true",
        help="only measure what a writer pays for events (CPU and statements a create)",
    )
    parser.add_argument(
        "--per-unit",
        type=int,
        default=1,
        metavar="K",
        help="with --processes: K creates in each unit of work (one commit, K events)",
    )
    parser.add_argument(
        "--subscriber",
        choices=["each", "batch"],
        default="each",
        help="the tally takes events one at a time (a transaction each), or in batches"
        " (a transaction a round)",
    )
    parser.add_argument(
        "--workload",
        choices=["tally", "automations"],
        default="tally",
        help="what the worker does with an event: add it to the tally, or run the engine's"
        " automations (a rule that sets a field of each new record and tells a user);"
        " --subscriber says whether they take a round at once",
    )
    parser.add_argument(
        "--only", choices=["end-to-end", "backlog", "relay"], help="run only this part"
    )
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="with --processes: write the writers' and the worker's profiles (CPU time)"
        " to PREFIX-...-writer-PID.prof and PREFIX-...-worker.prof",
    )
    options = parser.parse_args()
    if options.writer_cost:
        print("| writer | CPU ms a create | statements a create |\n|---|---:|---:|")
        for mode, cpu_ms, statements in writer_cost(options.database, options.events):
            print(f"| {mode} | {cpu_ms:.2f} | {statements:.1f} |")
        return
    queues = ["sqlite", "redis"] if options.queue == "both" else [options.queue]
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    kind = "processes" if options.processes else "threads"
    print(f"database {options.database}, {options.events} events, {options.writers} writer {kind},")
    if options.per_unit > 1:
        print(f"{options.per_unit} creates (events) a commit,")
    taking = "in batches" if options.subscriber == "batch" else "one at a time"
    who = "the tally" if options.workload == "tally" else "the automations"
    print(f"worker with {options.threads} threads, {who} taking events {taking}\n")
    print(
        "| queue | run | events | writes/s | events handled/s | seconds "
        "| CPU ms an event: writers | worker | PostgreSQL | Redis | all "
        "| worker's statements an event | its Redis round trips an event |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    runs = {"end-to-end": (False,), "backlog": (True,)}.get(options.only, (False, True))
    for queue in queues if options.only != "relay" else ():
        for backlog in runs:
            result = run(
                options.database,
                queue,
                options.events,
                options.writers,
                options.threads,
                backlog=backlog,
                processes=options.processes,
                profile=options.profile and f"{options.profile}-{queue}-{int(backlog)}",
                per_unit=options.per_unit,
                batches=options.subscriber == "batch",
                workload=options.workload,
            )
            parts = [result[key] for key in ("writers_ms", "worker_ms", "server_ms", "redis_ms")]
            if backlog:  # the writes are not the jobs' cost
                parts[0] = 0.0
            print(
                f"| {queue} | {'backlog' if backlog else 'end to end'} | {result['events']:,.0f} "
                f"| {result['writes_per_s']:,.0f} | {result['events_per_s']:,.0f} "
                f"| {result['seconds']:.1f} | "
                + " | ".join(f"{part:.2f}" for part in parts)
                + f" | {sum(parts):.2f} | {result['worker_statements']:.2f}"
                f" | {result['worker_redis']:.2f} |"
            )
    if options.only not in (None, "relay") or options.workload != "tally":
        return
    print("\nThe relay alone, in one process (`relay.deliver()` over a backlog):\n")
    print("| subscriber | events | events/s (wall) | CPU ms an event |")
    print("|---|---:|---:|---:|")
    for tallying in (False, True):
        rate = relay_rate(options.database, options.events, tallying, options.subscriber == "batch")
        print(
            f"| {'tally (a write transaction)' if tallying else 'does nothing'} "
            f"| {rate['events']:,} | {rate['per_s']:,.0f} | {rate['cpu_ms']:.2f} |"
        )


if __name__ == "__main__":
    main()
