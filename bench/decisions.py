"""Approval decisions per second, on SQLite and PostgreSQL, from one process.

Run: ``.venv/bin/python bench/decisions.py [--database sqlite|postgresql|both] [--requests N]
[--profile N]`` (``--profile``: the decisions under ``cProfile``, its N costliest functions)
(PostgreSQL at ``FORMFLOW_BENCH_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/postgres``; a database ``formflow_bench_decisions``
is made afresh there, a temporary file for SQLite).

The CRM app's invoice requests: N of them are made and submitted by a rep (not timed), then
the rep's sales manager approves each, one decision after another, as the inbox's batch
does (each its own unit of work). A decision claims the instance, settles the task, writes
the history, the record's new state and its audit entry, the events, the finance step's new
task and the in-app notification of its holder; one record in ten has a follower, so those
decisions also owe the follow subscriber their events (delivered afterwards, as the job
runner would, and timed apart). The aim (issue 10) is at least 300 decisions a second on
SQLite from one process. Besides the wall clock, it reports decisions per second of this
process's CPU time, which says more on a shared machine (on SQLite the database works in
the process; PostgreSQL's own work is not counted).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, text_table
from formflow import accounts
from formflow.definitions import load_app
from formflow.events import Relay
from formflow.notifications import Notifications
from formflow.notifications.follows import FOLLOWS, Followers, follow, followed
from formflow.records.service import RecordService
from formflow.storage.database import connect, write_transaction
from formflow.storage.platform_tables import platform_metadata
from formflow.storage.tables import AppSchema
from formflow.workflows.service import WorkflowService

APP_DIR = ROOT / "apps" / "crm_sfa"
POSTGRES = os.environ.get(
    "FORMFLOW_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
FOLLOWED_EVERY = 10


def fresh_database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder}/decisions.db"
    name = "formflow_bench_decisions"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return POSTGRES.rsplit("/", 1)[0] + f"/{name}"


def run(kind: str, requests: int, profile: int = 0) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as temporary:
        engine = connect(fresh_database(kind, Path(temporary)))
        platform_metadata.create_all(engine)
        app = load_app(APP_DIR)
        schema = AppSchema(app)
        schema.metadata.create_all(engine)
        with write_transaction(engine) as connection:
            team = accounts.create_department(connection, "East")
            people = {
                name: accounts.create_user(
                    connection,
                    name,
                    None,
                    password_hash="x",
                    department_id=team,
                    roles={"crm_sfa": roles},
                )
                for name, roles in (
                    ("rep", ["sales_rep"]),
                    ("manager", ["sales_manager"]),
                    ("finance", ["finance"]),
                    ("director", ["sales_director"]),
                )
            }
            accounts.update_department(
                connection, team, name="East", parent_id=None, manager_id=people["manager"]
            )
            actors = {
                name: accounts.actor_for(connection, user, "crm_sfa")
                for name, user_id in people.items()
                if (user := accounts.get_user(connection, user_id)) is not None
            }
        notes = Notifications(engine)
        told = Followers(engine, notes, lambda _app, form: app.forms.get(form))
        relay = Relay(engine, {FOLLOWS: told})
        relay.dispatch = lambda: None  # delivered below, as the job runner would
        records = RecordService(engine, schema, relay=relay, subscriber_checks={FOLLOWS: followed})
        flows = WorkflowService(records, notifications=notes)
        rep = actors["rep"]
        customer = records.create(rep, "customer", {"name": "ACME Co"})
        contract = records.create(
            rep, "contract", {"name": "Deal", "customer": customer["id"], "amount": "10000000"}
        )
        for number in range(requests):
            invoice = records.create(
                rep,
                "invoice",
                {
                    "contract": contract["id"],
                    "amount": "1",
                    "invoice_type": "vat_general",
                    "invoice_title": f"ACME {number}",
                },
            )
            flows.submit(rep, "invoice_request", invoice["id"])
            if number % FOLLOWED_EVERY == 0:
                follow(records, actors["director"], "invoice", invoice["id"])
        manager = actors["manager"]
        assert manager.user_id is not None
        tasks = [task.id for task in flows.open_tasks_of(manager.user_id)]
        assert len(tasks) == requests, len(tasks)
        relay.deliver()  # what the submissions owed, out of the way
        statements = [0]

        def count(*_args: object) -> None:
            statements[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        profiler = cProfile.Profile() if profile else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        for task_id in tasks:
            flows.decide(manager, task_id, "approve", comment="ok")
        if profiler is not None:
            profiler.disable()
        decided = time.perf_counter() - started
        spent = time.process_time() - cpu
        if profiler is not None:
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(profile)
            stats.sort_stats("cumulative").print_stats(profile)
        event.remove(engine, "before_cursor_execute", count)
        started = time.perf_counter()
        delivered = relay.deliver()
        followed_s = time.perf_counter() - started
        engine.dispose()
    return {
        "database": kind,
        "decisions": str(requests),
        "per second": f"{requests / decided:,.0f}",
        "ms each": f"{decided * 1000 / requests:.2f}",
        "per CPU second": f"{requests / spent:,.0f}",
        "statements each": f"{statements[0] / requests:.1f}",
        "follow events": str(delivered),
        "delivered per second": f"{delivered / followed_s:,.0f}" if delivered else "-",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile; print N functions"
    )
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    rows = [run(kind, args.requests, args.profile) for kind in kinds]
    headers = list(rows[0])
    print(text_table(headers, [[row[h] for h in headers] for row in rows]))


if __name__ == "__main__":
    main()
