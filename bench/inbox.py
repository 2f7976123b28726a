"""The approvals inbox over a big instance: 100,000 open tasks over 1M records.

Run: ``.venv/bin/python bench/inbox.py [--records N] [--open N] [--busy N] [--runs R]``
(``--quick`` for 100,000 records and 10,000 open tasks).

Builds ``bench/results/inbox-<records>.db`` (SQLite) once, in bulk: the CRM app's tables,
101 users, N invoice requests, one approval instance per record (``--open`` of them running
at the sales manager's step, the rest finished), and a task per instance, spread over 100
approvers, of whom the busiest (the one measured) holds ``--busy`` of the open tasks and
has decided a share of the finished ones. Then, through ``formflow.workflows.inbox`` with
the reads of each call shared as a web request shares them, it times (p50/p95 over
``--runs``) and counts the statements of: the first page of *to do*, a page 100 pages deep
(keyset), *done*, *submitted by me* for a rep with thousands of requests, and the
workbench counts. The aim (issue 10) is a p95 under 50 ms and a fixed number of
statements whatever the count.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, SqliteLoader, Summary, elapsed_ms, ms, text_table
from formflow import accounts
from formflow.definitions import load_app
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import connect, shared_reads, write_transaction
from formflow.storage.platform_tables import (
    platform_metadata,
    users,
    workflow_instances,
    workflow_tasks,
)
from formflow.storage.tables import AppSchema
from formflow.workflows import inbox
from formflow.workflows.service import WorkflowService

APP_DIR = ROOT / "apps" / "crm_sfa"
RESULTS = ROOT / "bench" / "results"
APPROVERS = 100
REPS = 50


def build(path: Path, records: int, open_tasks: int, busy: int, seed: int) -> None:
    """The database, loaded in bulk (the engine's own writes are measured elsewhere)."""
    app = load_app(APP_DIR)
    engine = connect(f"sqlite:///{path}")
    platform_metadata.create_all(engine)
    schema = AppSchema(app)
    schema.metadata.create_all(engine)
    with write_transaction(engine) as connection:
        people = [
            accounts.create_user(
                connection,
                f"approver{n}",
                None,
                password_hash="x",
                roles={"crm_sfa": ["sales_manager"]},
            )
            for n in range(APPROVERS)
        ] + [
            accounts.create_user(
                connection, f"rep{n}", None, password_hash="x", roles={"crm_sfa": ["sales_rep"]}
            )
            for n in range(REPS)
        ]
    engine.dispose()
    approvers, reps = people[:APPROVERS], people[APPROVERS:]
    rng = random.Random(seed)
    now = datetime.now(UTC)
    table = schema.table("invoice")
    running = set(rng.sample(range(1, records + 1), open_tasks))
    busy_ones = set(rng.sample(sorted(running), busy))

    def moment(number: int) -> datetime:
        return now - timedelta(minutes=(records - number) * 3)

    def submitter(number: int) -> int:
        return reps[0] if number % 10 == 0 else reps[number % REPS]

    def holder(number: int) -> int:
        if number in busy_ones or (number not in running and number % 20 == 0):
            return approvers[0]
        return approvers[1 + number % (APPROVERS - 1)]

    invoice_rows: Iterator[dict[str, Any]] = (
        {
            "id": number,
            "number": f"KP-{number:08d}",
            "amount": 1000 + number % 9000,
            "invoice_type": "vat_general",
            "invoice_title": f"Customer {number % 5000}",
            "status": "pending_manager" if number in running else "issued",
            "owner": submitter(number),
            "created_at": moment(number),
            "updated_at": moment(number),
            "created_by": submitter(number),
            "updated_by": submitter(number),
            "version": 2,
        }
        for number in range(1, records + 1)
    )
    instance_rows: Iterator[dict[str, Any]] = (
        {
            "id": number,
            "app_key": app.key,
            "workflow_key": "invoice_request",
            "definition_digest": app.digest,
            "form_key": "invoice",
            "record_id": number,
            "submitter_id": submitter(number),
            "status": "running" if number in running else "finished",
            "outcome": None if number in running else "approved",
            "prior_state": "draft",
            "live_key": f"{app.key}:invoice:{number}" if number in running else None,
            "version": 1,
            "entries": 1,
            "position": {"nodes": ["manager"], "lanes": {}}
            if number in running
            else {"nodes": [], "lanes": {}},
            "started_at": moment(number),
            "ended_at": None if number in running else moment(number) + timedelta(hours=1),
        }
        for number in range(1, records + 1)
    )
    task_rows: Iterator[dict[str, Any]] = (
        {
            "id": number,
            "instance_id": number,
            "node_key": "manager",
            "entry": 1,
            "kind": "approve",
            "user_id": holder(number),
            "position": 0,
            "status": "open" if number in running else "approved",
            "created_at": moment(number),
            "decided_at": None if number in running else moment(number) + timedelta(hours=1),
        }
        for number in range(1, records + 1)
    )
    dialect = connect(f"sqlite:///{path}").dialect
    with SqliteLoader(path, dialect) as loader:
        loader.insert(table, invoice_rows)
        loader.insert(workflow_instances, instance_rows)
        loader.insert(workflow_tasks, task_rows)
        loader.connection.execute("ANALYZE")


class Counted:
    """Statements an engine sends while a call runs."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


def measure(path: Path, runs: int) -> list[list[str]]:
    engine = connect(f"sqlite:///{path}")
    app = load_app(APP_DIR)
    flows = WorkflowService(RecordService(engine, AppSchema(app)))
    with engine.connect() as connection:
        ids = dict(connection.execute(select(users.c.username, users.c.id)).all())
    busy = Actor(ids["approver0"], frozenset({"sales_manager"}))
    rep = Actor(ids["rep0"], frozenset({"sales_rep"}))
    deep = inbox.page(flows, busy, "todo", limit=2000).rows[-1].task
    assert deep is not None
    cases = [
        ("to do, first page", lambda: inbox.page(flows, busy, "todo")),
        ("to do, 100 pages in", lambda: inbox.page(flows, busy, "todo", after=deep.id)),
        ("done, first page", lambda: inbox.page(flows, busy, "done")),
        ("submitted by me", lambda: inbox.page(flows, rep, "submitted")),
        ("workbench counts", lambda: inbox.counts(flows, busy)),
    ]
    counter = Counted(engine)
    rows = []
    for label, call in cases:
        samples = []
        for _run in range(runs):
            before = counter.count
            with shared_reads(engine):
                samples.append(elapsed_ms(call))
            statements = counter.count - before
        summary = Summary.of(samples)
        rows.append([label, ms(summary.p50), ms(summary.p95), str(statements)])
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--busy", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.records, arguments.open, arguments.busy = 100_000, 10_000, 2_000
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"inbox-{arguments.records}.db"
    if not path.exists():
        print(
            f"loading {arguments.records:,} records, {arguments.open:,} open tasks into {path} ..."
        )
        build(path, arguments.records, arguments.open, arguments.busy, arguments.seed)
    rows = measure(path, arguments.runs)
    print(
        f"inbox over {arguments.records:,} records, {arguments.open:,} open tasks "
        f"({arguments.busy:,} for the measured approver), SQLite, {arguments.runs} runs"
    )
    print(text_table(["case", "p50", "p95", "statements"], rows))


if __name__ == "__main__":
    main()
