"""E-mail blasts (邮件群发): the same recipients, template and preview as SMS blasts, sent by
the blast job through the instance's SMTP server (a real aiosmtpd server here), with a text
and an HTML part from one template; invalid and opted-out addresses skipped and counted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, create_engine, inspect, select

from formflow.config import SmtpSettings
from formflow.storage.platform_tables import plugin_jobs
from formflow.testing import Mailbox, Sandbox, csrf_token, smtp_server
from formflow_sms import Blasts
from formflow_sms.blasts import blasts, messages

SUBJECT = "{{ name }}：会员日邀请"
TEMPLATE = "{{ name }}您好，\n\n本周会员日全场八折 <限时>。\n欢迎光临。"


@pytest.fixture
def mailbox(box: Sandbox) -> Iterator[Mailbox]:
    with smtp_server() as mailbox:
        box.instance.settings = replace(
            box.instance.settings,
            smtp=SmtpSettings(
                host="127.0.0.1", port=mailbox.port, security="none", sender="crm@example.com"
            ),
        )
        staff = box.actor("sam")
        for name, email, opted_out in [
            ("西湖茶业", "tea@example.com", False),
            ("钱塘电子", "bounce@example.com", False),
            ("灵隐文创", "not-an-address", False),
            ("湖滨书店", "books@example.com", True),
        ]:
            box.records.create(
                staff,
                "customer",
                {"name": name, "city": "杭州", "email": email, "email_opt_out": opted_out},
            )
        mailbox.refuse.add("bounce@example.com")
        yield mailbox


def post(box: Sandbox, do: str, subject: str = SUBJECT) -> tuple[int, str, str]:
    client = box.client("sam")
    url = f"/plugins/sms/{box.app_key}/customer/new?channel=email"
    answer = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "filter": "city = 杭州",
            "subject": subject,
            "template": TEMPLATE,
            "do": do,
        },
    )
    return answer.status_code, answer.text, answer.headers.get("Location", "")


def test_the_list_has_an_email_blast_button_once_smtp_is_set_up(box: Sandbox) -> None:
    listing = f"/{box.app_key}/customer/"
    assert "channel=email" not in box.client("sam").get(listing).text
    with smtp_server() as mailbox:
        box.instance.settings = replace(
            box.instance.settings,
            smtp=SmtpSettings(host="127.0.0.1", port=mailbox.port, security="none"),
        )
        page = box.client("sam").get(listing).text
    assert "channel=email" in page
    assert "邮件群发" in page


def test_the_preview_shows_addresses_subjects_and_text(box: Sandbox, mailbox: Mailbox) -> None:
    status, page, _location = post(box, "preview")
    assert status == 200
    assert "tea@example.com" in page
    assert "西湖茶业：会员日邀请" in page
    assert "books@example.com" not in page  # opted out
    assert "not-an-address" not in page
    assert mailbox.messages == []


def test_an_email_blast_is_sent_by_its_job_with_text_and_html(
    box: Sandbox, mailbox: Mailbox
) -> None:
    status, _page, location = post(box, "send")
    assert status == 302
    found = re.search(r"/plugins/sms/blasts/(\d+)", location)
    assert found is not None
    blast_id = int(found.group(1))
    (recipients, message), *others = mailbox.messages  # no queue here: the job ran at once
    assert others == []
    assert recipients == ["tea@example.com"]
    assert message["Subject"] == "西湖茶业：会员日邀请"
    assert message["From"] == "crm@example.com"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "本周会员日全场八折 <限时>。" in text.get_content()
    assert html.get_content().replace("\r\n", "\n") == (
        "<p>西湖茶业您好，</p>\n<p>本周会员日全场八折 &lt;限时&gt;。<br>\n欢迎光临。</p>\n"
    )

    summary = Blasts(box.instance.engine).summary(blast_id)
    assert (summary["sent"], summary["failed"], summary["skipped"]) == (1, 1, 2)
    assert summary.reasons["opted out"] == 1
    assert summary.reasons["invalid address"] == 1
    assert any("refused" in reason for reason in summary.reasons)
    page = box.client("sam").get(f"/plugins/sms/blasts/{blast_id}").text
    assert "邮件群发" in page
    assert "tea@example.com" in page
    with box.instance.engine.connect() as connection:
        assert connection.execute(select(plugin_jobs.c.status)).scalars().all() == ["done"]


def test_an_email_blast_needs_a_subject(box: Sandbox, mailbox: Mailbox) -> None:
    status, page, _location = post(box, "send", subject=" ")
    assert status == 200
    assert "请填写邮件主题。" in page
    assert mailbox.messages == []


def test_without_smtp_the_email_blast_page_is_refused(box: Sandbox) -> None:
    url = f"/plugins/sms/{box.app_key}/customer/new?channel=email"
    assert box.client("sam").get(url).status_code == 403


def test_tables_made_before_email_blasts_get_their_new_columns(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/old.db")
    old = MetaData()
    for table in (blasts, messages):
        Table(
            table.name,
            old,
            *(
                column._copy()
                for column in table.columns
                if column.name not in {"channel", "subject", "address"}
            ),
        )
    old.create_all(engine)
    Blasts(engine)
    with engine.connect() as connection:
        found = inspect(connection)
        assert {"channel", "subject"} <= {c["name"] for c in found.get_columns(blasts.name)}
        assert "address" in {c["name"] for c in found.get_columns(messages.name)}
    engine.dispose()
