"""The same blast on PostgreSQL: queued, skipped, sent and cancelled as on SQLite."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import formflow_sms
from formflow.records.unit import unit_of_work
from formflow.testing import Sandbox
from formflow_sms import Blasts, send_later
from formflow_sms.blasts import EMAIL
from formflow_sms.providers import Bounced, OutboxProvider
from sms_support import APP

pytestmark = pytest.mark.postgres


def test_a_blast_is_queued_sent_and_cancelled_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    with Sandbox(tmp_path, APP, plugins=[formflow_sms], database_url=postgres_url) as box:
        sam = box.add_user("sam", roles=["staff"])
        for n, phone in enumerate(["13800138000", "13900139000", "13700137000", "12345"]):
            box.records.create(
                sam, "customer", {"name": f"客户{n}", "city": "上海", "mobile": phone}
            )
        blasts = Blasts(box.instance.engine)
        blast_id = blasts.create(
            box.records,
            sam,
            box.app_key,
            "customer",
            {"field": "city", "op": "eq", "value": "上海"},
            phone_field="mobile",
            template="{{ name }}您好",
        )
        assert blasts.send(blast_id, OutboxProvider(), sleep=lambda _s: None, limit=2) == 2
        assert blasts.cancel(blast_id) == 1
        summary = blasts.summary(blast_id)
        assert (summary["sent"], summary["cancelled"], summary["skipped"]) == (2, 1, 1)


def test_a_blast_is_sent_by_its_job_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    with Sandbox(tmp_path, APP, plugins=[formflow_sms], database_url=postgres_url) as box:
        sam = box.add_user("sam", roles=["staff"])
        for n, phone in enumerate(["13800138000", "13900139000", "12345"]):
            box.records.create(
                sam, "customer", {"name": f"客户{n}", "city": "上海", "mobile": phone}
            )
        box.instance.plugin_settings.save("sms", {"per_second": "1000"})
        blasts = Blasts(box.instance.engine)
        with unit_of_work(box.instance.engine):
            blast_id = blasts.create(
                box.records,
                sam,
                box.app_key,
                "customer",
                {"field": "city", "op": "eq", "value": "上海"},
                phone_field="mobile",
                template="{{ name }}您好",
            )
            job_id = send_later(blast_id, box.instance)
        assert box.instance.plugin_jobs.run(job_id) == "done"  # ran after the commit
        summary = blasts.summary(blast_id)
        assert (summary["sent"], summary["skipped"]) == (2, 1)


class RefusingProvider(OutboxProvider):
    """Refuses every address, as a mail server answering 550 does."""

    def send(self, phone: str, text: str, params: Mapping[str, Any]) -> str:
        raise Bounced("550 no such user")


def test_addresses_that_bounced_are_listed_once_and_skipped_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    with Sandbox(tmp_path, APP, plugins=[formflow_sms], database_url=postgres_url) as box:
        sam = box.add_user("sam", roles=["staff"])
        for name in ["甲", "乙"]:  # two records, one address
            box.records.create(
                sam, "customer", {"name": name, "city": "上海", "email": "gone@example.com"}
            )
        blasts = Blasts(box.instance.engine)

        def blast() -> int:
            return blasts.create(
                box.records, sam, box.app_key, "customer",
                {"field": "city", "op": "eq", "value": "上海"},
                phone_field="email", template="{{ name }}", channel=EMAIL, subject="通知",
            )  # fmt: skip

        first = blast()
        blasts.send(first, RefusingProvider(), sleep=lambda _s: None)
        assert blasts.summary(first)["bounced"] == 2
        assert [address for address, *_ in blasts.bounced_addresses()] == ["gone@example.com"]
        assert blasts.summary(blast()).reasons["bounced before"] == 2
