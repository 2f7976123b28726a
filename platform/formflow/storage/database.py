"""Connecting to the database: SQLite by default, PostgreSQL when configured.

SQLite is set up for many readers and several writers on one machine: write-ahead logging,
foreign keys enforced, and a generous busy timeout so a busy database is waited for rather
than surfaced as an error. PostgreSQL needs none of that; it is used through psycopg 3.

SQLite lets one writer in at a time, and a writer that finds the lock taken sleeps in
growing steps (1, 2, 5, 10, 15, 20 ms...) before it looks again, however soon the lock is
free: a create waiting behind a background job's 4 ms write came back after 8 to 18 ms.
So Formflow's writers take turns before they begin (:class:`_WriterTurns`): threads of a
process queue on a lock that hands over at once, and processes on a lock file beside the
database, looked at every half millisecond. SQLite's busy timeout still guards the rest.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: threads take turns, processes do not
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

from formflow.errors import FormflowError

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "formflow_write"
TURN_POLL_SECONDS = 0.0005
"""How often a writer looks whether another process's writer has finished."""
PING_AFTER_IDLE_SECONDS = 10.0
"""A pooled PostgreSQL connection idle for longer than this is pinged before it is used."""
_CHECKED_IN = "formflow_checked_in"


class DatabaseConfigError(FormflowError):
    """The database URL cannot be used."""


class DatabaseUnreachable(FormflowError):
    """The database server does not answer or refuses the connection (down, wrong host or
    port, no such database, wrong password): not the same as an instance never set up."""


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
        engine = _sqlite(parsed.render_as_string(hide_password=False), **options)
        _turns[engine] = _WriterTurns(_lock_file(parsed.database))
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, **options)
        if "pool_pre_ping" not in options:
            _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
        _renew_after_stale_plans(engine)
        return engine
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
        options = connection.get_execution_options()
        if options.get(_ONE_STATEMENT, False):
            return  # one read statement, its own snapshot (see one_statement_read)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")

    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only when it sat unused for ``idle_seconds``.

    A connection that idled in the pool is the one a server restart, an idle timeout or a
    dropped network path leaves dead; one returned a moment ago is almost surely alive.
    SQLAlchemy's ``pool_pre_ping`` pings at every checkout, and a request checks out once:
    a round trip costing about a third of a statement's CPU on every API read. A dead
    connection found by the ping is replaced before the request sees it; one that died
    within ``idle_seconds`` of its last use fails its request, and SQLAlchemy then
    discards every connection the pool held before that moment, as ``pool_pre_ping``
    does on a failed ping.
    """

    @event.listens_for(engine, "checkin")
    def _note_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None or time.monotonic() - checked_in <= idle_seconds:
            return  # new, or in use moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # whatever the driver raises, the connection is not usable
            raise DisconnectionError(
                f"a pooled connection idle for a while is gone: {exc}"
            ) from exc


def _renew_after_stale_plans(engine: Engine) -> None:
    """Treat a statement whose prepared plan a migration made stale as a lost connection.

    psycopg prepares what a connection runs often, and PostgreSQL then refuses it once a
    migration by another process changed a column's type ("cached plan must not change
    result type"). The statement fails; SQLAlchemy discards its connection and every
    older one of the pool, as after a disconnect, so one request a process fails, not one
    per pooled connection.
    """

    @event.listens_for(engine, "handle_error")
    def _stale_plan(context: ExceptionContext) -> None:
        error = context.original_exception
        if getattr(error, "sqlstate", None) == _FEATURE_NOT_SUPPORTED and _STALE_PLAN in str(error):
            context.is_disconnect = True


_FEATURE_NOT_SUPPORTED = "0A000"
_STALE_PLAN = "cached plan must not change result type"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def check_reachable(engine: Engine) -> None:
    """Raise :class:`DatabaseUnreachable`, in one line naming the server and the driver's
    reason, unless ``engine`` can connect; commands call it first, so a server that is down
    reads as that rather than as a traceback or an instance that needs ``formflow init``."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        url = engine.url.set(drivername=engine.url.get_backend_name())  # as people write it
        shown = url.render_as_string(hide_password=True)
        raise DatabaseUnreachable(
            f"cannot connect to the database {shown}: {reason} "
            "(check FORMFLOW_DATABASE_URL and that the server is running)"
        ) from None


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction meant to write: committed on success, else rolled back.

    Within :func:`shared_reads`, the shared read's connection, when no read holds it, serves
    the write, and what is read after the write sees it. On PostgreSQL the write continues
    the read's transaction (reads take no locks there); SQLite ends it first, as a read
    transaction that starts writing can fail instead of waiting for another writer.
    """
    shared = _shared.get()
    released = shared.release() if shared is not None and shared.engine is engine else None
    turns = _turns.get(engine)
    with turns.turn() if turns else nullcontext(), released or engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.get_transaction() or connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only reads, so every query sees one snapshot.

    Within :func:`shared_reads`, every read of the block shares one connection and one
    transaction instead of opening its own.
    """
    shared = _shared.get()
    if shared is not None and shared.engine is engine:
        with shared.reading() as connection:
            yield connection
        return
    with engine.connect() as connection, connection.begin():
        yield connection


@contextmanager
def one_statement_read(engine: Engine) -> Iterator[Connection]:
    """A connection for a read of one statement, which needs no transaction of its own.

    A statement sees one snapshot whatever it reads. On SQLite it then runs outside any
    transaction: an API request's token lookup, the first read of a request that goes on
    to write, would otherwise cost a ``BEGIN``, and a rollback when the write takes the
    connection over, before the write's ``BEGIN IMMEDIATE``. A read after it in a
    :func:`shared_reads` block begins the block's transaction as usual. On PostgreSQL it
    is :func:`read_transaction` (a write there continues the read's transaction anyway).
    More than one statement here would each see a snapshot of their own: use
    :func:`read_transaction` for that.
    """
    if not is_sqlite(engine):
        with read_transaction(engine) as connection:
            yield connection
        return
    shared = _shared.get()
    if shared is not None and shared.engine is engine:
        with shared.reading(alone=True) as connection:
            yield connection
        return
    with engine.connect() as connection, _outside_transaction(connection):
        yield connection


@contextmanager
def _outside_transaction(connection: Connection) -> Iterator[None]:
    """SQLite: what runs in the block runs in autocommit mode (no ``BEGIN`` is sent)."""
    connection.execution_options(**{_ONE_STATEMENT: True})
    try:
        yield
    finally:
        connection.execution_options(**{_ONE_STATEMENT: False})
        connection.commit()  # SQLAlchemy's view of a transaction; SQLite began none


_ONE_STATEMENT = "formflow_one_statement"


@contextmanager
def shared_reads(engine: Engine) -> Iterator[None]:
    """Let the reads of a block (a web request, say) share one connection and transaction.

    A page asks several services for data; each asks for a read transaction. Sharing one
    saves a pool checkout, a BEGIN and a COMMIT per call, and gives the page one snapshot.
    The connection is taken at the first read, so a block that reads nothing costs nothing.
    """
    shared = _SharedRead(engine)
    token = _shared.set(shared)
    try:
        yield
    finally:
        _shared.reset(token)
        shared.end()


class _SharedRead:
    """The read transaction a :func:`shared_reads` block shares, opened on first use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._depth = 0
        self._stale = False

    @contextmanager
    def reading(self, *, alone: bool = False) -> Iterator[Connection]:
        """The shared connection, in the block's transaction; ``alone`` (SQLite, a read of
        one statement: :func:`one_statement_read`), outside it while none has begun."""
        if self._connection is None:
            self._connection = self.engine.connect()
        connection = self._connection
        outside = alone and not connection.in_transaction()
        if not outside and not connection.in_transaction():
            connection.begin()
        self._depth += 1
        try:
            with _outside_transaction(connection) if outside else nullcontext():
                yield connection
        except BaseException:
            self._stale = True  # PostgreSQL refuses further statements after a failed one
            raise
        finally:
            self._depth -= 1
            if self._stale and self._depth == 0:
                self.end()

    def release(self) -> Connection | None:
        """Hand the connection over to a write (``None`` if a read holds it): on SQLite with
        its transaction ended, on PostgreSQL with it open."""
        if self._depth or self._connection is None:
            self.end()
            return None
        connection, self._connection, self._stale = self._connection, None, False
        if is_sqlite(self.engine):
            connection.rollback()
        return connection

    def end(self) -> None:
        """Finish the transaction; the next read opens a new one (at once, unless in use).

        A read that went well is committed, one that failed rolled back. Both undo nothing
        here, but psycopg forgets every statement it prepared on a connection at each
        ROLLBACK: ending every request's reads that way left PostgreSQL to parse and plan
        each of its statements anew, every time.
        """
        if self._depth:
            self._stale = True
            return
        connection, stale = self._connection, self._stale
        self._connection, self._stale = None, False
        if connection is None:
            return
        try:
            if not stale and connection.in_transaction():
                connection.commit()
        except DBAPIError:
            pass  # what was read stands; closing rolls back or discards the connection
        finally:
            connection.close()


_shared: ContextVar[_SharedRead | None] = ContextVar("formflow_shared_read", default=None)


def _lock_file(database: str | None) -> Path | None:
    """The file a database's writers in several processes take turns on, if it is a file."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}-writer")


class _WriterTurns:
    """One writer at a time on a SQLite database, handed over without SQLite's sleeps.

    Threads queue on a re-entrant lock (a write inside a write of the same thread passes,
    and meets SQLite's lock as before); the thread holding it then takes an exclusive
    ``flock`` on the lock file for the process. Neither wait is longer than the busy
    timeout: past it the writer goes on, and SQLite's own lock decides as it always did.
    """

    def __init__(self, lock_file: Path | None) -> None:
        self.lock_file = lock_file
        self._lock = threading.RLock()
        self._local = threading.local()
        self._pid = os.getpid()
        self._descriptor: int | None = None

    @contextmanager
    def turn(self) -> Iterator[None]:
        self._after_fork()
        timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
        held = self._lock.acquire(timeout=timeout)
        depth: int = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        locked = None
        try:
            if held and depth == 0:
                locked = self._lock_process(time.monotonic() + timeout)
            yield
        finally:
            if locked is not None:
                fcntl.flock(locked, fcntl.LOCK_UN)
            self._local.depth = depth
            if held:
                self._lock.release()

    def _lock_process(self, deadline: float) -> int | None:
        """Take the lock file (``None``: none to take, or not within the timeout)."""
        descriptor = self._open()
        if descriptor is None:
            return None
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(TURN_POLL_SECONDS)

    def _open(self) -> int | None:
        if self._descriptor is None and self.lock_file is not None and fcntl is not None:
            try:
                self._descriptor = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # a read-only folder, say: SQLite's lock alone decides
                self.lock_file = None
        return self._descriptor

    def _after_fork(self) -> None:
        """A forked child shares its parent's open lock file, and so its lock: it opens
        its own."""
        if os.getpid() != self._pid:
            self._pid, self._descriptor = os.getpid(), None
            self._lock, self._local = threading.RLock(), threading.local()

    def __del__(self) -> None:
        if self._descriptor is not None and self._pid == os.getpid():
            os.close(self._descriptor)


_turns: weakref.WeakKeyDictionary[Engine, _WriterTurns] = weakref.WeakKeyDictionary()
