"""Connecting to the database: SQLite by default, PostgreSQL when configured.

SQLite is set up for many readers and several writers on one machine: write-ahead logging,
foreign keys enforced, and a generous busy timeout so a busy database is waited for rather
than surfaced as an error. PostgreSQL needs none of that; it is used through psycopg 3.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from formflow.errors import FormflowError

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "formflow_write"


class DatabaseConfigError(FormflowError):
    """The database URL cannot be used."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def connect(url: str, **options: Any) -> Engine:
    """An engine for ``url`` with the settings Formflow relies on."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with a terse message
        raise DatabaseConfigError(f"not a database URL: {url!r} ({exc})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite(parsed.render_as_string(hide_password=False), **options)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        options.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **options)
    raise DatabaseConfigError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def _sqlite(url: str, **options: Any) -> Engine:
    connect_args = options.pop("connect_args", {})
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("isolation_level", None)
    engine = create_engine(url, connect_args=connect_args, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes the lock at the start, so two writers queue on the busy timeout
        # instead of failing on a read-to-write upgrade ("database is locked").
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction meant to write: committed on success, else rolled back."""
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only reads, so every query sees one snapshot."""
    with engine.connect() as connection, connection.begin():
        yield connection
