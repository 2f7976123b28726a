"""An SMS blast of 100,000 recipients through the outbox provider: how fast it is queued
and sent.

Run: ``.venv/bin/python bench/sms_blast.py [--recipients N] [--send N]``.

Builds a throw-away SQLite instance (``formflow.testing.Sandbox``) with the ``sms`` plugin
and the customers of its tests' app, loads N customers in bulk (1 % opted out, 1 % with a
number that is not a mobile number), then times, through ``formflow_sms.Blasts``: queuing
the blast (the filter walked page by page, each message rendered from its template, the
numbers checked, the rows written) and sending ``--send`` of them through the outbox
provider unthrottled. The aim (issue 14): queued in under 30 s, sent at 1,000 a second
or more.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins" / "formflow_sms" / "tests"))

import formflow_sms  # noqa: E402
from formflow.testing import Sandbox  # noqa: E402
from formflow_sms.providers import OutboxProvider  # noqa: E402
from sms_support import APP  # noqa: E402

BATCH = 10_000


def load(box: Sandbox, count: int) -> None:
    table = box.records.schema.table("customer")
    now = datetime.now(UTC)
    with box.instance.engine.begin() as connection:
        for start in range(0, count, BATCH):
            rows = []
            for n in range(start, min(count, start + BATCH)):
                mobile = "12345" if n % 100 == 1 else f"139{n:08d}"
                rows.append(
                    {
                        "name": f"客户{n:06d}",
                        "city": "上海",
                        "level": "A",
                        "mobile": mobile,
                        "sms_opt_out": n % 100 == 0,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
            connection.execute(insert(table), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=20_000)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        Sandbox(Path(folder), APP, plugins=[formflow_sms]) as box,
    ):
        sam = box.add_user("sam", roles=["staff"])
        started = time.perf_counter()
        load(box, args.recipients)
        loaded = time.perf_counter() - started
        blasts = formflow_sms.Blasts(box.instance.engine)
        started = time.perf_counter()
        blast_id = blasts.create(
            box.records,
            sam,
            box.app_key,
            "customer",
            {"field": "city", "op": "eq", "value": "上海"},
            phone_field="mobile",
            template="{{ name }}您好，本周会员日全场八折，回复T退订。",
            signature="华东",
        )
        queued = time.perf_counter() - started
        summary = blasts.summary(blast_id)
        started = time.perf_counter()
        sent = blasts.send(
            blast_id, OutboxProvider(), per_second=0, sleep=lambda _s: None, limit=args.send
        )
        sending = time.perf_counter() - started
        print(f"loaded {args.recipients:,} customers in {loaded:.1f} s")
        print(
            f"queued {summary.total:,} recipients ({summary['queued']:,} queued, "
            f"{summary['skipped']:,} skipped) in {queued:.1f} s "
            f"({summary.total / queued:,.0f} a second)"
        )
        print(
            f"sent {sent:,} through the outbox in {sending:.1f} s ({sent / sending:,.0f} a second)"
        )


if __name__ == "__main__":
    main()
