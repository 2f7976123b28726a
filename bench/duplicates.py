"""How fast duplicate checks are at a million records.

Run: ``.venv/bin/python bench/duplicates.py [--rows N] [--database URL]``.

On a fresh SQLite file (or the database URL given) it migrates the CRM app, bulk-loads N
leads (default 1,000,000) with SQLAlchemy Core, builds their duplicate keys with
``DuplicateKeys.rebuild`` (what ``formflow duplicates rebuild`` runs), and then times the
check a person's save makes: a company name that matches (it reports who holds the match)
and one that does not. Both are one lookup in ``ix_ff_duplicate_keys_value``, so they
must not grow with N; the query plan is printed to show it.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, text

from _common import Summary, batched, elapsed_ms, ms
from formflow.definitions import load_app
from formflow.errors import DuplicateSuspected
from formflow.records.service import RecordService
from formflow.storage.database import connect, write_transaction
from formflow.storage.platform_tables import platform_metadata
from formflow.storage.tables import AppSchema

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--lookups", type=int, default=200)
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/duplicates.db"
    engine = connect(url)
    app = load_app(ROOT / "apps" / "crm_sfa")
    schema = AppSchema(app)
    platform_metadata.create_all(engine)
    schema.metadata.create_all(engine)
    service = RecordService(engine, schema)
    leads = schema.table("lead")
    now = datetime.now(UTC)

    def lead(i: int) -> dict[str, object]:
        return {
            "company": f"测试{i}科技有限公司",
            "contact_name": "张三",
            "source": "website",
            "status": "new",
            "phone": f"+86139{i:08d}",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }

    started = time.perf_counter()
    for chunk in batched(range(args.rows), 20_000):
        with write_transaction(engine) as connection:
            connection.execute(insert(leads), [lead(i) for i in chunk])
    print(f"loaded {args.rows:,} leads in {time.perf_counter() - started:.1f} s")
    with write_transaction(engine) as connection:
        started = time.perf_counter()
        keys = service.duplicates.rebuild(connection)
    print(f"rebuilt {keys:,} duplicate keys in {time.perf_counter() - started:.1f} s")

    form = app.form("lead")

    def check(company: str) -> None:
        with engine.connect() as connection, contextlib.suppress(DuplicateSuspected):
            service.duplicates.check(
                connection, form, {"company": company}, record_id=None, warn=True
            )

    picks = [random.randrange(args.rows) for _ in range(args.lookups)]
    hit = Summary.of([elapsed_ms(lambda i=i: check(f"测试{i}科技")) for i in picks])
    miss = Summary.of([elapsed_ms(lambda i=i: check(f"没有{i}公司")) for i in picks])
    print(f"check, a match:    p50 {ms(hit.p50)}  p95 {ms(hit.p95)}  ({hit.runs} runs)")
    print(f"check, no match:   p50 {ms(miss.p50)}  p95 {ms(miss.p95)}  ({miss.runs} runs)")
    if url.startswith("sqlite"):
        with engine.connect() as connection:
            plan = connection.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT form_key, record_id FROM ff_duplicate_keys "
                    "WHERE app_key = 'crm_sfa' AND check_key = 'company_name' AND value = 'x'"
                )
            ).all()
        print("plan:", "; ".join(str(row[-1]) for row in plan))


if __name__ == "__main__":
    main()
