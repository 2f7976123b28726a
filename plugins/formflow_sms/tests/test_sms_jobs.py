"""Blasts are sent by the plugin's background job (``formflow_jobs``): the page enqueues
it with the blast, the queue runs it, a crash resumes it without sending anyone twice, and
cancelling part-way stops it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from huey import Huey, SqliteHuey
from sqlalchemy import select, update

import formflow_sms
from formflow.jobs import Jobs
from formflow.jobs.plugin_jobs import DONE, RUNNING
from formflow.storage.platform_tables import plugin_jobs
from formflow.testing import Sandbox, csrf_token
from formflow_sms import SEND_JOB, Blasts, send_later
from formflow_sms.blasts import INTERRUPTED, SENDING, messages
from formflow_sms.providers import OutboxProvider
from sms_support import APP, PASSWORD, USERNAME, Gateway

SHANGHAI = {"field": "city", "op": "eq", "value": "上海"}


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Huey]:
    huey = SqliteHuey("formflow", filename=str(tmp_path / "jobs.db"), results=False, utc=True)
    yield huey
    huey.storage.close()


def drain(huey: Huey) -> int:
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran


def on_gateway(box: Sandbox, gateway: Gateway) -> None:
    box.instance.plugin_settings.save(
        "sms",
        {
            "provider": "http",
            "http_url": gateway.gateway_url,
            "http_username": USERNAME,
            "http_password": PASSWORD,
            "per_second": "1000",
        },
    )


def a_blast(box: Sandbox) -> int:
    return Blasts(box.instance.engine).create(
        box.records, box.actor("sam"), box.app_key, "customer", SHANGHAI,
        phone_field="mobile", template="{{ name }}您好",
    )  # fmt: skip


def job_statuses(box: Sandbox) -> list[str]:
    with box.instance.engine.connect() as connection:
        return list(connection.execute(select(plugin_jobs.c.status)).scalars())


def test_formflow_jobs_declares_the_blast_sender(box: Sandbox) -> None:
    assert SEND_JOB in box.plugins.jobs


def test_sending_from_the_page_enqueues_a_job_that_the_queue_runs(
    box: Sandbox, queue: Huey, gateway: Gateway
) -> None:
    on_gateway(box, gateway)
    box.instance.attach_jobs(Jobs(queue, box.instance.relay))
    client = box.client("sam")
    url = f"/plugins/sms/{box.app_key}/customer/new"
    sent = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "filter": "city = 上海\nlevel = A",
            "template": "{{ name }}您好",
            "do": "send",
        },
    )
    assert sent.status_code == 302
    assert gateway.received == []  # the page only enqueued
    assert job_statuses(box) == ["queued"]
    drain(queue)
    assert sorted(item["to"] for item in gateway.received) == ["+8613800138000", "+8613900139000"]
    assert job_statuses(box) == [DONE]


def test_a_large_blast_is_sent_in_slices_letting_other_jobs_run_between(
    box: Sandbox, queue: Huey, monkeypatch: pytest.MonkeyPatch
) -> None:
    box.instance.plugin_settings.save("sms", {"per_second": "1000"})
    monkeypatch.setattr(formflow_sms, "SLICE_SECONDS", 0.001)  # one message a slice
    box.instance.attach_jobs(Jobs(queue, box.instance.relay))
    blasts = Blasts(box.instance.engine)
    blast_id = a_blast(box)  # three Shanghai numbers queued
    send_later(blast_id, box.instance)
    queue.execute(queue.dequeue())  # one slice
    assert blasts.summary(blast_id)["sent"] == 1
    assert job_statuses(box) == ["queued"]  # behind whatever waits
    drain(queue)
    assert blasts.summary(blast_id)["sent"] == 3
    assert job_statuses(box) == [DONE]


def test_a_blast_whose_worker_died_resumes_without_sending_anyone_twice(
    box: Sandbox, queue: Huey, gateway: Gateway
) -> None:
    on_gateway(box, gateway)
    blasts = Blasts(box.instance.engine)
    blast_id = a_blast(box)  # three Shanghai numbers queued, two skipped
    assert blasts.send(blast_id, OutboxProvider(), sleep=lambda _s: None, limit=1) == 1
    engine = box.instance.engine
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    with engine.begin() as connection:  # the dead worker was sending the second one
        second = connection.execute(
            select(messages.c.id)
            .where(messages.c.blast_id == blast_id, messages.c.status == "queued")
            .order_by(messages.c.id)
        ).first()
        assert second is not None
        connection.execute(
            update(messages)
            .where(messages.c.id == second.id)
            .values(status=SENDING, updated_at=long_ago)
        )
    jobs = box.instance.plugin_jobs
    jobs.dispatch = lambda _id: None  # the worker died before the queue ran it
    job_id = send_later(blast_id, box.instance)
    with engine.begin() as connection:
        connection.execute(
            update(plugin_jobs).values(
                status=RUNNING, attempts=1, lease_holder="dead", leased_until=long_ago
            )
        )
    box.instance.attach_jobs(Jobs(queue, box.instance.relay))
    assert jobs.sweep() == 1
    drain(queue)
    assert job_statuses(box) == [DONE]
    summary = blasts.summary(blast_id)
    assert (summary["sent"], summary["failed"], summary["queued"]) == (2, 1, 0)
    assert summary.reasons[INTERRUPTED] == 1
    assert len(gateway.received) == 1  # the one still queued; none sent twice
    assert jobs.run(job_id) == DONE
    assert len(gateway.received) == 1


def test_a_blast_cancelled_part_way_sends_nothing_more(box: Sandbox, queue: Huey) -> None:
    box.instance.attach_jobs(Jobs(queue, box.instance.relay))
    blasts = Blasts(box.instance.engine)
    blast_id = a_blast(box)
    send_later(blast_id, box.instance)
    blasts.send(blast_id, OutboxProvider(), sleep=lambda _s: None, limit=1)
    assert blasts.cancel(blast_id) == 2
    drain(queue)
    summary = blasts.summary(blast_id)
    assert (summary["sent"], summary["cancelled"]) == (1, 2)
    assert job_statuses(box) == [DONE]


def test_a_blast_job_with_broken_settings_is_retried_then_failed(box: Sandbox) -> None:
    box.instance.plugin_settings.save("sms", {"provider": "carrier-pigeon"})
    blast_id = a_blast(box)
    jobs = box.instance.plugin_jobs
    job_id = send_later(blast_id, box.instance)  # no queue: the first run happens at once
    with box.instance.engine.connect() as connection:
        row = connection.execute(select(plugin_jobs).where(plugin_jobs.c.id == job_id)).one()
    assert (row.status, row.attempts) == ("queued", 1)
    assert "unknown SMS provider 'carrier-pigeon'" in row.error
    assert formflow_sms.formflow_jobs()[0].retries == 8
    with box.instance.engine.connect() as connection:
        assert jobs.count_failed(connection) == 0


WELCOME = """\
key: welcome_sms
label: {zh: 欢迎短信, en: Welcome SMS}
form: customer
trigger: {type: created}
actions:
  - action: send_sms
    params: {template: "欢迎成为会员"}
"""


def test_the_send_sms_action_of_an_automation_is_sent_by_the_blast_job(tmp_path: Path) -> None:
    app = {
        **APP,
        "app.yaml": APP["app.yaml"].replace(
            "include: {forms: [forms/*.yaml]}",
            "include: {forms: [forms/*.yaml], automations: [automations/*.yaml]}",
        ),
        "automations/welcome.yaml": WELCOME,
    }
    with Sandbox(tmp_path, app, plugins=[formflow_sms]) as box:
        box.instance.plugin_settings.save("sms", {"per_second": "1000"})
        Blasts(box.instance.engine)  # its tables, as the server's start-up makes them
        sam = box.add_user("sam", roles=["staff"])
        box.records.create(sam, "customer", {"name": "华东贸易", "mobile": "13800138000"})
        box.deliver_events()  # the automation runs, queues the message and its job
        with box.instance.engine.connect() as connection:
            sent = connection.execute(select(messages.c.status, messages.c.text)).all()
        assert [tuple(row) for row in sent] == [("sent", "欢迎成为会员")]
        assert job_statuses(box) == [DONE]


WELCOME_BUTTON = """\
actions:
  - key: welcome
    label: {zh: 发欢迎短信, en: Send welcome SMS}
    actions:
      - action: send_sms
        params: {template: "欢迎成为会员"}
"""

WELCOME_FLOW = """\
key: welcome
label: {zh: 入会, en: Join}
form: customer
state_field: status
nodes:
  - key: start
    type: start
    on_leave:
      - action: send_sms
        params: {template: "欢迎成为会员"}
    next: joined
  - {key: joined, type: end, state: member}
"""

STATUS = (
    "  - {key: status, type: select, label: {zh: 状态, en: Status}, "
    "options: [{value: new, label: 新}, {value: member, label: 会员}]}\n"
)


def sent_messages(box: Sandbox) -> list[tuple[str, str]]:
    with box.instance.engine.connect() as connection:
        return [
            tuple(row) for row in connection.execute(select(messages.c.status, messages.c.text))
        ]


def test_the_send_sms_action_of_a_record_action_is_sent_by_the_blast_job(tmp_path: Path) -> None:
    form = APP["forms/customer.yaml"].replace("list:\n", WELCOME_BUTTON + "list:\n")
    with Sandbox(tmp_path, {**APP, "forms/customer.yaml": form}, plugins=[formflow_sms]) as box:
        box.instance.plugin_settings.save("sms", {"per_second": "1000"})
        Blasts(box.instance.engine)
        sam = box.add_user("sam", roles=["staff"])
        record = box.records.create(sam, "customer", {"name": "华东贸易", "mobile": "13800138000"})
        box.instance.record_actions(box.app_key).run(sam, "customer", [record["id"]], "welcome")
        assert sent_messages(box) == [("sent", "欢迎成为会员")]
        assert job_statuses(box) == [DONE]


def test_the_send_sms_action_of_a_workflow_step_is_sent_by_the_blast_job(tmp_path: Path) -> None:
    app = {
        **APP,
        "app.yaml": APP["app.yaml"].replace(
            "include: {forms: [forms/*.yaml]}",
            "include: {forms: [forms/*.yaml], workflows: [workflows/*.yaml]}",
        ),
        "forms/customer.yaml": APP["forms/customer.yaml"].replace("list:\n", STATUS + "list:\n"),
        "workflows/welcome.yaml": WELCOME_FLOW,
    }
    with Sandbox(tmp_path, app, plugins=[formflow_sms]) as box:
        box.instance.plugin_settings.save("sms", {"per_second": "1000"})
        Blasts(box.instance.engine)
        sam = box.add_user("sam", roles=["staff"])
        record = box.records.create(sam, "customer", {"name": "华东贸易", "mobile": "13800138000"})
        box.instance.workflows(box.app_key).submit(sam, "welcome", record["id"])
        assert sent_messages(box) == [("sent", "欢迎成为会员")]
        assert job_statuses(box) == [DONE]
