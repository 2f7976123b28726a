"""Helpers the benchmark scripts share: timing, tables, bulk loading, plans and profiles.

Timings are wall-clock milliseconds from ``time.perf_counter``; percentiles are taken from
the sorted samples (nearest rank), so p95 of 100 samples is the 95th slowest but five.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import sqlite3
import statistics
import sysconfig
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, Table, event
from sqlalchemy.engine import Dialect

ROOT = Path(__file__).resolve().parent.parent
BATCH = 20_000


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Summary:
    """Milliseconds: median and 95th percentile of some samples."""

    p50: float
    p95: float
    runs: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        return cls(statistics.median(samples), percentile(samples, 0.95), len(samples))


def elapsed_ms(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def measure_pair(
    first: Callable[[], Any],
    second: Callable[[], Any],
    runs: int,
    *,
    warmup: int = 3,
    budget_s: float | None = None,
    min_runs: int = 20,
) -> tuple[Summary, Summary]:
    """Time two actions alternately, so drift (caches, autovacuum) hits both alike.

    With ``budget_s``, stop early once that many seconds have gone and ``min_runs`` are in:
    a slow case then costs its budget, not ``runs`` times its slowness.
    """
    for _ in range(warmup):
        first()
        second()
    one: list[float] = []
    two: list[float] = []
    started = time.perf_counter()
    for run in range(runs):
        one.append(elapsed_ms(first))
        two.append(elapsed_ms(second))
        out_of_time = budget_s is not None and time.perf_counter() - started > budget_s
        if out_of_time and run + 1 >= min_runs:
            break
    return Summary.of(one), Summary.of(two)


Pair = tuple[Callable[[], Any], Callable[[], Any]]


def measure_rounds(
    pairs: Sequence[Pair],
    runs: int,
    *,
    warmup: int = 2,
    budget_s: float | None = None,
    min_runs: int = 20,
) -> list[tuple[Summary, Summary]]:
    """Time many pairs round-robin: each round runs every pair once, first then second.

    A burst of other work on the machine then lands on every case alike, instead of on
    whichever case happened to be running. A pair that has spent ``budget_s`` and has
    ``min_runs`` samples sits out the remaining rounds.
    """
    for first, second in pairs:
        for _ in range(warmup):
            first()
            second()
    samples: list[tuple[list[float], list[float]]] = [([], []) for _ in pairs]
    spent = [0.0 for _ in pairs]
    for _ in range(runs):
        for index, (first, second) in enumerate(pairs):
            one, two = samples[index]
            if budget_s is not None and spent[index] > budget_s and len(one) >= min_runs:
                continue
            one.append(elapsed_ms(first))
            two.append(elapsed_ms(second))
            spent[index] += (one[-1] + two[-1]) / 1000
    return [(Summary.of(one), Summary.of(two)) for one, two in samples]


def ms(value: float) -> str:
    """Milliseconds to three significant figures or so: 0.412, 4.12, 41.2, 412."""
    if value < 1:
        return f"{value:.3f}"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A fixed-width table for the terminal: first column left-aligned, the rest right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = (str(cell) for cell in cells)
        return "  ".join(
            [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
        )

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, rows)])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    align = ["---", *("---:" for _ in headers[1:])]
    lines = [headers, align, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def publish(name: str, title: str, text: str, markdown: str) -> Path:
    """Print a report's table and write its markdown to ``bench/results/<name>.md``."""
    print(f"\n== {title} ==\n{text}\n", flush=True)
    path = ROOT / "bench" / "results" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown, encoding="utf-8")
    return path.relative_to(ROOT)


# bulk loading -------------------------------------------------------------------------


def batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def quoted(name: str) -> str:
    """A name from the compiled model, quoted for SQL (both databases use double quotes)."""
    return '"' + name.replace('"', '""') + '"'


class SqliteLoader:
    """Loads through the ``sqlite3`` module: executemany in large batches, one transaction.

    Values go through SQLAlchemy's own converters for each column type, so they are stored
    exactly as the record service stores them (money as REAL, times as ISO text).
    """

    def __init__(self, path: Path, dialect: Dialect) -> None:
        self.dialect = dialect
        self.connection = sqlite3.connect(path, isolation_level=None)
        for pragma in ("synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
            self.connection.execute(f"PRAGMA {pragma}")
        self.connection.execute("PRAGMA foreign_keys=ON")

    def __enter__(self) -> SqliteLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()

    def drop_indexes(self, tables: Sequence[str]) -> list[str]:
        marks = ", ".join("?" for _ in tables)
        found = self.connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            f"AND tbl_name IN ({marks}) AND sql IS NOT NULL",
            tables,
        ).fetchall()
        with self.transaction():
            for kind, name, _ in found:
                self.connection.execute(f"DROP {kind.upper()} {quoted(name)}")
        return [definition for _, _, definition in found]

    def insert(self, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
        columns = list(table.columns)
        converters = [
            (column.name, column.type.dialect_impl(self.dialect).bind_processor(self.dialect))
            for column in columns
        ]
        statement = (
            f"INSERT INTO {quoted(table.name)} ({', '.join(quoted(c.name) for c in columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        with self.transaction():
            for batch in batched(rows, BATCH):
                self.connection.executemany(
                    statement,
                    [
                        [
                            convert(row.get(name)) if convert else row.get(name)
                            for name, convert in converters
                        ]
                        for row in batch
                    ],
                )

    def build_indexes(self, definitions: Sequence[str], tables: Sequence[str]) -> None:
        with self.transaction():
            for definition in definitions:
                self.connection.execute(definition)
            for name in tables:
                fts = quoted(f"{name}_fts")
                if self._exists(f"{name}_fts"):
                    self.connection.execute(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')")

    def analyze(self, rows: int) -> None:
        self.connection.execute("ANALYZE")
        self.connection.execute("CREATE TABLE bench_info (rows INTEGER NOT NULL)")
        self.connection.execute("INSERT INTO bench_info VALUES (?)", [rows])
        self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _exists(self, name: str) -> bool:
        found = self.connection.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [name])
        return found.fetchone() is not None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.connection.execute("BEGIN")
        yield
        self.connection.execute("COMMIT")


class PostgresLoader:
    """Loads through psycopg's COPY, foreign-key triggers off meanwhile.

    The caller's rows must only refer to rows that exist (the checks would only cost time);
    they carry their ids, so each table's sequence is moved past them afterwards.
    """

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(url)

    def __enter__(self) -> PostgresLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()

    def drop_indexes(self, tables: Sequence[str]) -> list[str]:
        found = self.connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [list(tables)],
        ).fetchall()
        for name, _ in found:
            self.connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        self.connection.commit()
        return [definition for _, definition in found]

    def insert(self, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
        names = [column.name for column in table.columns]
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        with self.connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row.get(name) for name in names])
            cursor.execute("RESET session_replication_role")
            cursor.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), max(id)) FROM {}").format(
                    sql.Identifier(table.name)
                ),
                [table.name],
            )
        self.connection.commit()

    def build_indexes(self, definitions: Sequence[str], tables: Sequence[str]) -> None:
        self.connection.execute("SET maintenance_work_mem = '1GB'")
        for definition in definitions:
            self.connection.execute(definition.encode())
        self.connection.commit()

    def analyze(self, rows: int) -> None:
        self.connection.autocommit = True
        self.connection.execute("VACUUM (ANALYZE)")
        self.connection.execute("CREATE TABLE bench_info (rows INTEGER NOT NULL)")
        self.connection.execute("INSERT INTO bench_info VALUES (%s)", [rows])


# evidence: plans and profiles ---------------------------------------------------------


def plans_of(engine: Engine, action: Callable[[], Any]) -> str:
    """Each SELECT ``action`` sends, with the plan the database chooses for it.

    SQLite: EXPLAIN QUERY PLAN. PostgreSQL: EXPLAIN (ANALYZE, BUFFERS), which runs it.
    """
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return "\n\n".join(
        f"{brief(statement)}\n-- parameters: {parameters}\n{explain(engine, statement, parameters)}"
        for statement, parameters in sent
    )


def brief(statement: str) -> str:
    """SQL on one line, without table prefixes, a long select list cut to its start."""
    text = re.sub(r"\b[a-z0-9_]+__[a-z0-9_]+\.", "", " ".join(statement.split()))
    head, found, rest = text.partition(" FROM ")
    columns = head.removeprefix("SELECT ").split(", ")
    if head.startswith("SELECT ") and len(columns) > 6:
        head = f"SELECT {', '.join(columns[:3])}, ... ({len(columns)} columns)"
    return head + found + rest


def explain(engine: Engine, statement: str, parameters: Any) -> str:
    with engine.connect() as connection:
        if engine.dialect.name != "sqlite":
            found = connection.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
            )
            return "\n".join(found.scalars())
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    depth = {0: -1}
    lines = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append(f"{'  ' * depth[node]}{detail}")
    return "\n".join(lines)


def profile(action: Callable[[], Any], runs: int, top: int = 15) -> str:
    """Where ``runs`` calls of ``action`` spend their time: Formflow's own functions by
    cumulative time, then every function by its own time. cProfile slows small Python
    calls more than database calls, so read the shares, not the absolute times."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        action()
    profiler.disable()
    views = []
    for order, restriction in (("cumulative", r"formflow/"), ("tottime", "")):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(order)
        stats.print_stats(*([restriction] if restriction else []), top)
        text = out.getvalue()
        for prefix in (f"{sysconfig.get_path('purelib')}/", f"{ROOT}/"):
            text = text.replace(prefix, "")
        title = f"by {order}" + (" (formflow only)" if restriction else "")
        views.append(f"-- {title}\n" + text[text.index("ncalls") :].rstrip())
    return "\n\n".join(views)
