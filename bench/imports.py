"""How fast files go in, and how much memory a large export takes.

Run: ``.venv/bin/python bench/imports.py [--database sqlite|postgresql] [--rows N]
[--export-rows M] [--profile]``.

On a fresh database it installs the test suite's sales app (``tests/records/sales_app``:
contacts with a unique code, a link to a company given by its title, an option given by
its Chinese label, an owner given by user name, a number and money), writes a file of N
contacts as XLSX and as CSV, and imports each through :mod:`formflow.transfer` (row by
row, as a manager), timing rows per second. Then it bulk-loads contacts up to M rows with
SQLAlchemy Core and exports them all to CSV and to XLSX, each in a child process, reporting
the time and the child's peak resident memory (what matters is that it stays flat as M
grows). Results go to ``bench/results/imports-<database>.md``.

PostgreSQL uses the database ``formflow_bench_imports`` on ``FORMFLOW_BENCH_POSTGRES``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``), made afresh.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import os
import pstats
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from openpyxl import Workbook
from psycopg import sql
from sqlalchemy import Engine, func, insert, select

from formflow import accounts
from formflow.definitions import load_app
from formflow.records.access import Actor
from formflow.records.search import ensure_search_index
from formflow.records.service import RecordService
from formflow.storage.database import connect, read_transaction, write_transaction
from formflow.storage.platform_tables import platform_metadata
from formflow.storage.tables import DELETED_AT, DEPARTMENT, SEARCH, AppSchema
from formflow.transfer import exporting, mapping
from formflow.transfer.importing import ImportOptions, import_file
from formflow.transfer.reading import open_sheet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
APP = ROOT / "tests" / "records" / "sales_app"
HEADERS = ["编码", "姓名", "公司", "级别", "负责人", "评分", "薪资"]
POSTGRES_ADMIN_URL = os.environ.get(
    "FORMFLOW_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_DATABASE = "formflow_bench_imports"
LOAD_BATCH = 20_000


def database_url(kind: str) -> str:
    if kind == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "imports.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        name = sql.Identifier(POSTGRES_DATABASE)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{POSTGRES_DATABASE}"


def install(engine: Engine) -> tuple[RecordService, Actor]:
    schema = AppSchema(load_app(APP))
    platform_metadata.create_all(engine)
    schema.metadata.create_all(engine)
    with write_transaction(engine) as connection:
        for form_key in schema.app.forms:
            ensure_search_index(connection, schema, form_key)
        user_id = accounts.create_user(
            connection, "mary", None, password_hash="-", roles={"sales": ["manager"]}
        )
        user = accounts.get_user(connection, user_id)
        assert user is not None
        actor = accounts.actor_for(connection, user, "sales")
    service = RecordService(engine, schema)
    for name in ("Acme", "Bolt"):
        service.create(actor, "company", {"name": name})
    return service, actor


def rows_of(count: int, start: int = 0) -> list[list[object]]:
    return [
        [
            f"C{i:07d}",
            f"Person {i}",
            "Acme" if i % 2 else "Bolt",
            "重要" if i % 3 else "普通",
            "mary",
            i % 100,
            1000 + i,
        ]
        for i in range(start, start + count)
    ]


def write_files(count: int, folder: Path) -> dict[str, Path]:
    xlsx, comma = folder / "contacts.xlsx", folder / "contacts.csv"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADERS)
    with comma.open("w", encoding="utf-8", newline="") as text:
        writer = csv.writer(text)
        writer.writerow(HEADERS)
        for start in range(0, count, LOAD_BATCH):
            rows = rows_of(min(LOAD_BATCH, count - start), start)
            writer.writerows(rows)
            for row in rows:
                sheet.append(row)
    workbook.save(xlsx)
    return {"xlsx": xlsx, "csv": comma}


def timed_import(
    service: RecordService, actor: Actor, path: Path, profile: bool
) -> tuple[float, float]:
    """Wall-clock seconds, and this process's CPU seconds (a shared machine's load shows
    in the first; the second is what the import itself costs, the XLSX parsing in a child
    process aside)."""
    with open_sheet(path) as sheet:
        found = mapping.suggest(service.app.form("contact"), sheet.headers)
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    outcome = import_file(service, actor, "contact", path, ImportOptions(found))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    assert outcome.failed == 0, outcome.errors[:3]
    return seconds, cpu


def empty(service: RecordService) -> None:
    table = service.schema.table("contact")
    with write_transaction(service.engine) as connection:
        connection.execute(table.delete())


def bulk_load(service: RecordService, actor: Actor, total: int) -> None:
    """Contacts up to ``total`` rows, written with Core (what is measured is the export)."""
    table = service.schema.table("contact")
    with read_transaction(service.engine) as connection:
        have = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
    now = datetime.now(UTC)
    for start in range(have, total, LOAD_BATCH):
        batch = [
            {
                "code": f"E{i:08d}",
                "name": f"Person {i}",
                "company": 1 + i % 2,
                "level": "key" if i % 3 else "normal",
                "owner": actor.user_id,
                "score": i % 100,
                "salary": 1000 + i,
                "note": "=1+1" if i % 1000 == 0 else None,
                "created_at": now,
                "updated_at": now,
                "created_by": actor.user_id,
                "updated_by": actor.user_id,
                "version": 1,
                DEPARTMENT: None,
                DELETED_AT: None,
                **({SEARCH: f"person {i}"} if table.c.get(SEARCH) is not None else {}),
            }
            for i in range(start, min(total, start + LOAD_BATCH))
        ]
        with write_transaction(service.engine) as connection:
            connection.execute(insert(table), batch)


def export_child(url: str, file_format: str, target: str) -> None:
    """In a child process: export every contact, print seconds and peak memory (MB)."""
    engine = connect(url)
    schema = AppSchema(load_app(APP))
    service = RecordService(engine, schema)
    actor = Actor.system()
    started = time.perf_counter()
    table = exporting.export_table(service, actor, "contact", language="en")
    if file_format == "csv":
        with open(target, "wb") as output:
            exporting.write_csv(table, output)
    else:
        exporting.write_xlsx(table, target, service)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{seconds:.3f} {usage.ru_maxrss / 1024:.1f} {usage.ru_utime + usage.ru_stime:.3f}")


def timed_export(url: str, file_format: str, folder: Path) -> tuple[float, float, float, int]:
    target = folder / f"export.{file_format}"
    answer = subprocess.run(
        [sys.executable, __file__, "--export-child", url, file_format, str(target)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, peak, cpu = (float(part) for part in answer.stdout.split())
    return seconds, peak, cpu, target.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--export-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(*args.export_child)
        return
    url = database_url(args.database)
    engine = connect(url)
    service, actor = install(engine)
    folder = RESULTS / "imports-files"
    folder.mkdir(parents=True, exist_ok=True)
    files = write_files(args.rows, folder)
    lines = [f"# Import and export, {args.database}", ""]
    lines += ["| what | rows | seconds | rows/s | CPU seconds | rows per CPU second |"]
    lines += ["|---|---:|---:|---:|---:|---:|"]
    for kind in ("xlsx", "csv"):
        empty(service)
        seconds, cpu = timed_import(service, actor, files[kind], args.profile)
        lines.append(
            f"| import {kind.upper()} | {args.rows:,} | {seconds:.1f} | "
            f"{args.rows / seconds:,.0f} | {cpu:.1f} | {args.rows / cpu:,.0f} |"
        )
        print(lines[-1], flush=True)
    bulk_load(service, actor, args.export_rows)
    lines += ["", "| export | rows | seconds | CPU seconds | peak memory (MB) | file (MB) |"]
    lines += ["|---|---:|---:|---:|---:|---:|"]
    for kind in ("csv", "xlsx"):
        seconds, peak, cpu, size = timed_export(url, kind, folder)
        lines.append(
            f"| {kind.upper()} | {args.export_rows:,} | {seconds:.1f} | {cpu:.1f} | "
            f"{peak:.0f} | {size / 1e6:.0f} |"
        )
        print(lines[-1], flush=True)
    (RESULTS / f"imports-{args.database}.md").write_text("\n".join(lines) + "\n")
    engine.dispose()


if __name__ == "__main__":
    main()
