"""Engines whose statements stop after a time: for previews that must not run long.

The dashboard designer previews a widget an admin is still composing on live rows; a
careless choice (a dimension with a million distinct values, no filter) must come back as
a message, not hold a worker. :func:`capped` gives an engine over the same pool whose every
statement is stopped by the database once ``seconds`` have passed: PostgreSQL by a
transaction-local ``statement_timeout``, SQLite by a progress handler that interrupts it.
The stopped statement raises :class:`sqlalchemy.exc.OperationalError`; other users of the
pool are untouched (the handler is removed, the timeout ends with the transaction).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event

SQLITE_STEPS = 10_000
"""Virtual-machine steps between two looks at the clock (SQLite)."""


def capped(engine: Engine, seconds: float) -> Engine:
    """An engine sharing ``engine``'s pool whose statements stop after ``seconds``."""
    limited = engine.execution_options()
    postgres = engine.dialect.name == "postgresql"

    @event.listens_for(limited, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, *_args: Any) -> None:
        if postgres:
            cursor.execute(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
            return
        deadline = time.monotonic() + seconds
        cursor.connection.set_progress_handler(
            lambda: int(time.monotonic() > deadline), SQLITE_STEPS
        )

    @event.listens_for(limited, "after_cursor_execute")
    def _stop(conn: Any, cursor: Any, *_args: Any) -> None:
        if not postgres:
            cursor.connection.set_progress_handler(None, SQLITE_STEPS)

    @event.listens_for(limited, "handle_error")
    def _failed(context: Any) -> None:
        cursor = getattr(context.execution_context, "cursor", None)
        if not postgres and cursor is not None:
            cursor.connection.set_progress_handler(None, SQLITE_STEPS)

    return limited
