"""A worker killed while the automations take rounds of events runs every rule once in
effect after a restart."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rules_support import MakeRules, Rules
from rules_workers import LEASE, open_queue, run_worker
from sqlalchemy import func, select

from formflow.automations.engine import SUBSCRIBER
from formflow.jobs import Jobs
from formflow.storage.platform_tables import event_deliveries, events

BURST = 60
WAIT_SECONDS = 120.0

COUNT = """\
key: count_new
label: Count every new customer once
form: customer
trigger: {type: created}
actions:
  - action: update_records
    params:
      form: customer
      ids: id
      map: {touches: "(touches or 0) + 1"}
"""


def done(rules: Rules) -> int:
    runs = rules.runs(automation_key="count_new", limit=BURST * 2)
    return sum(run.status == "done" for run in runs)


def owed_creations(rules: Rules) -> int:
    """The customers' creations still owed to the automations."""
    with rules.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(event_deliveries)
                .join(events, events.c.id == event_deliveries.c.event_id)
                .where(events.c.kind == "created")
            ).scalar_one()
        )


def wait_until(check: Callable[[], bool], what: str) -> None:
    """Wait for ``check()``; fail naming ``what`` after WAIT_SECONDS (a bound, not a measure)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_worker_killed_between_rounds_runs_every_rule_once_in_effect(
    make_rules: MakeRules, database_url: str, tmp_path: Path
) -> None:
    rules = make_rules(count_new=COUNT)
    folder, queue = str(tmp_path / "rules_app"), str(tmp_path / "jobs.db")
    Jobs(open_queue(queue), rules.relay)  # commits ring the queue, as in a server
    ids = [rules.create("customer", {"name": f"Customer {n}"})["id"] for n in range(BURST)]

    spawn = multiprocessing.get_context("spawn")
    worker = spawn.Process(target=run_worker, args=(database_url, folder, queue, 0.2))
    worker.start()
    try:
        wait_until(lambda: done(rules) >= BURST // 4, "the worker to get going")
    finally:
        worker.kill()
        worker.join()
    assert worker.exitcode == -9
    assert done(rules) < BURST  # killed in the middle
    assert done(rules) + owed_creations(rules) > BURST  # a round done, and owed again

    time.sleep(LEASE.total_seconds() + 0.5)  # the dead worker's lease runs out
    restarted = spawn.Process(target=run_worker, args=(database_url, folder, queue, 0.0))
    restarted.start()
    try:
        wait_until(lambda: rules.relay.owed(SUBSCRIBER) == 0, "every delivery")
    finally:
        restarted.terminate()
        restarted.join()

    assert [rules.get("customer", i)["touches"] for i in ids] == [1] * BURST
    assert done(rules) == BURST
