"""Record actions run at the same moment from several connections: the limits still hold.

Each test starts real threads together at a barrier, each with its own connection from the
pool, on SQLite and on PostgreSQL, as two browser tabs or two people clicking at once do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from pool_support import Pool
from sqlalchemy import func, select

from formflow.errors import FormflowError
from formflow.storage.database import read_transaction


def race(runs: Sequence[Callable[[], object]]) -> list[str]:
    """Start every run at once; each outcome is ``done`` or the error's class name."""
    barrier = threading.Barrier(len(runs))
    outcomes: list[str] = []

    def start(run: Callable[[], object]) -> None:
        barrier.wait()
        try:
            run()
            outcomes.append("done")
        except FormflowError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=start, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def owned_by(pool: Pool, name: str) -> int:
    table = pool.records.schema.table("account")
    with read_transaction(pool.engine) as connection:
        statement = select(func.count()).where(table.c.owner == pool.users[name])
        return int(connection.execute(statement).scalar_one())


def test_claims_racing_for_one_rep_stop_at_the_held_limit(pool: Pool) -> None:
    free = [pool.account(f"Free {number}") for number in range(6)]
    outcomes = race([lambda account=account: pool.run("ann", "claim", account) for account in free])
    assert outcomes == ["ActionLimitReached"] * 3 + ["done"] * 3
    assert owned_by(pool, "ann") == 3


def test_claims_racing_for_one_rep_stop_at_the_daily_limit(pool: Pool) -> None:
    free = [pool.account(f"Won {number}", won=True) for number in range(6)]  # never held
    outcomes = race([lambda account=account: pool.run("ann", "claim", account) for account in free])
    assert outcomes == ["ActionLimitReached"] * 2 + ["done"] * 4
    assert owned_by(pool, "ann") == 4


def test_two_reps_racing_for_one_record_leave_it_with_one_of_them(pool: Pool) -> None:
    account = pool.account("Acme")
    outcomes = race([lambda name=name: pool.run(name, "claim", account) for name in ("ann", "bob")])
    assert outcomes.count("done") == 1, outcomes
    assert owned_by(pool, "ann") + owned_by(pool, "bob") == 1
