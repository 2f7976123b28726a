"""E-mail blasts (邮件群发): the same recipients, template and preview as SMS blasts, sent by
the blast job through the instance's SMTP server (a real aiosmtpd server here), with a text
and an HTML part from one template; invalid and opted-out addresses skipped and counted;
an unsubscribe link in every message, honoured at once; bounces recorded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, Table, create_engine, inspect, select

from formflow.cli import main
from formflow.config import SmtpSettings
from formflow.records.query import Query
from formflow.storage.platform_tables import plugin_jobs
from formflow.testing import Mailbox, Sandbox, csrf_token, smtp_server
from formflow_sms import Blasts
from formflow_sms.blasts import EMAIL, blasts, messages
from formflow_sms.unsubscribe import link_maker

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
    link = unsubscribe_link(message)
    assert html.get_content().replace("\r\n", "\n") == (
        "<p>西湖茶业您好，</p>\n<p>本周会员日全场八折 &lt;限时&gt;。<br>\n欢迎光临。</p>\n"
        f'<p><a href="{link}">退订 / Unsubscribe</a></p>\n'
    )
    assert f"退订 / Unsubscribe: {link}" in text.get_content()

    summary = Blasts(box.instance.engine).summary(blast_id)
    assert (summary["sent"], summary["bounced"], summary["skipped"]) == (1, 1, 2)
    assert summary.reasons["opted out"] == 1
    assert summary.reasons["invalid address"] == 1
    assert any("refused" in reason for reason in summary.reasons)
    page = box.client("sam").get(f"/plugins/sms/blasts/{blast_id}").text
    assert "邮件群发" in page
    assert "tea@example.com" in page
    with box.instance.engine.connect() as connection:
        assert connection.execute(select(plugin_jobs.c.status)).scalars().all() == ["done"]


def unsubscribe_link(message: EmailMessage) -> str:
    header = str(message["List-Unsubscribe"])
    assert header.startswith("<http://localhost/plugins/sms/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return header.strip("<>")


def opted_out(box: Sandbox, name: str) -> bool:
    (found,) = box.records.find(
        box.actor("sam"), "customer", Query(filter={"field": "name", "op": "eq", "value": name})
    ).rows
    return bool(found["email_opt_out"])


def test_the_unsubscribe_link_asks_then_opts_the_recipient_out(
    box: Sandbox, mailbox: Mailbox
) -> None:
    post(box, "send")
    ((_to, message),) = mailbox.messages
    path = unsubscribe_link(message).removeprefix("http://localhost")
    visitor = box.client()  # nobody signed in: the link is the check

    asked = visitor.get(path)
    assert asked.status_code == 200
    assert "不再接收这类邮件？" in asked.text
    assert not opted_out(box, "西湖茶业")
    done = visitor.post(path)
    assert "您将不会再收到这类邮件。" in done.text
    assert opted_out(box, "西湖茶业")

    post(box, "send")  # the next blast skips them
    assert len(mailbox.messages) == 1


def test_one_click_unsubscribe_from_a_mail_program(box: Sandbox, mailbox: Mailbox) -> None:
    post(box, "send")
    ((_to, message),) = mailbox.messages
    path = unsubscribe_link(message).removeprefix("http://localhost")
    answer = box.client().post(path, data={"List-Unsubscribe": "One-Click"})
    assert (answer.status_code, answer.text) == (200, "unsubscribed\n")
    assert opted_out(box, "西湖茶业")


def test_a_forged_unsubscribe_link_does_nothing(box: Sandbox, mailbox: Mailbox) -> None:
    post(box, "send")
    ((_to, message),) = mailbox.messages
    path = unsubscribe_link(message).removeprefix("http://localhost")
    assert box.client().post(path[:-3] + "xyz").status_code == 404
    assert box.client().post("/plugins/sms/unsubscribe/WzEsIDFd").status_code == 404
    assert not opted_out(box, "西湖茶业")


def test_unsubscribing_skips_the_recipients_messages_still_queued(
    box: Sandbox, mailbox: Mailbox
) -> None:
    blasts_service = Blasts(box.instance.engine, opt_out_field="email_opt_out")
    waiting = blasts_service.create(
        box.records, box.actor("sam"), box.app_key, "customer",
        {"field": "city", "op": "eq", "value": "杭州"},
        phone_field="email", template=TEMPLATE, channel=EMAIL, subject=SUBJECT,
    )  # fmt: skip
    (tea,) = [
        record_id
        for record_id, status in blasts_service.statuses(waiting).items()
        if status == "queued" and opted_in_name(box, record_id) == "西湖茶业"
    ]
    link = link_maker(box.instance, waiting, "http://localhost/plugins/sms/unsubscribe/")
    box.client().post(link({"id": tea}).removeprefix("http://localhost"))
    assert blasts_service.statuses(waiting)[tea] == "skipped"


def opted_in_name(box: Sandbox, record_id: int) -> str:
    return str(box.records.get(box.actor("sam"), "customer", record_id)["name"])


def test_a_bounce_notice_marks_the_message_bounced(box: Sandbox, mailbox: Mailbox) -> None:
    box.instance.plugin_settings.save("sms", {"receipt_token": "bounce-token"})
    _status, _page, location = post(box, "send")
    ((_to, message),) = mailbox.messages
    answer = box.client().post(
        "/plugins/sms/receipts?token=bounce-token",
        json={"id": str(message["Message-ID"]), "status": "bounced", "reason": "550 no such user"},
    )
    assert answer.status_code == 200
    blast_id = int(location.rsplit("/", 1)[1])
    summary = Blasts(box.instance.engine).summary(blast_id)
    assert (summary["sent"], summary["bounced"]) == (0, 2)
    assert summary.reasons["550 no such user"] == 1


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


def blast_to_hangzhou(box: Sandbox) -> int:
    return Blasts(box.instance.engine, opt_out_field="email_opt_out").create(
        box.records, box.actor("sam"), box.app_key, "customer",
        {"field": "city", "op": "eq", "value": "杭州"},
        phone_field="email", template=TEMPLATE, channel=EMAIL, subject=SUBJECT,
    )  # fmt: skip


def test_an_address_refused_once_is_skipped_by_later_blasts(box: Sandbox, mailbox: Mailbox) -> None:
    post(box, "send")  # bounce@example.com is refused
    mailbox.messages.clear()
    box.records.create(
        box.actor("sam"),
        "customer",
        {"name": "钱塘二店", "city": "杭州", "email": "Bounce@Example.com"},
    )

    later = blast_to_hangzhou(box)

    summary = Blasts(box.instance.engine).summary(later)
    assert summary.reasons["bounced before"] == 2  # the address in any case
    assert summary["queued"] == 1


def test_a_bounce_notice_puts_the_address_on_the_bounce_list(
    box: Sandbox, mailbox: Mailbox
) -> None:
    box.instance.plugin_settings.save("sms", {"receipt_token": "bounce-token"})
    post(box, "send")
    ((_to, message),) = mailbox.messages
    box.client().post(
        "/plugins/sms/receipts?token=bounce-token",
        json={"id": str(message["Message-ID"]), "status": "bounced", "reason": "550 mailbox full"},
    )

    listed = {
        address: reason for address, reason, _at in Blasts(box.instance.engine).bounced_addresses()
    }

    assert listed["tea@example.com"] == "550 mailbox full"
    assert "tea@example.com" not in {p.phone for p in preview_to_hangzhou(box)}


def preview_to_hangzhou(box: Sandbox) -> list[Any]:
    return Blasts(box.instance.engine, opt_out_field="email_opt_out").preview(
        box.records, box.actor("sam"), "customer", {"field": "city", "op": "eq", "value": "杭州"},
        phone_field="email", template=TEMPLATE, channel=EMAIL, subject=SUBJECT,
    )  # fmt: skip


def test_an_address_taken_off_the_bounce_list_is_sent_to_again(
    box: Sandbox, mailbox: Mailbox
) -> None:
    post(box, "send")
    env = {
        "FORMFLOW_INSTANCE": str(box.instance.settings.instance),
        "FORMFLOW_DATABASE_URL": box.instance.settings.database_url,
        "FORMFLOW_PLUGINS": "sms",
    }
    runner = CliRunner()
    listed = runner.invoke(main, ["sms", "bounces"], env=env)
    assert "bounce@example.com" in listed.output

    removed = runner.invoke(main, ["sms", "unbounce", "BOUNCE@example.com"], env=env)

    assert removed.exit_code == 0, removed.output
    assert runner.invoke(main, ["sms", "unbounce", "bounce@example.com"], env=env).exit_code == 1
    assert "bounce@example.com" in {p.phone for p in preview_to_hangzhou(box)}


def test_an_sms_blast_ignores_the_email_bounce_list(box: Sandbox, mailbox: Mailbox) -> None:
    post(box, "send")
    sms = Blasts(box.instance.engine).create(
        box.records, box.actor("sam"), box.app_key, "customer",
        {"field": "city", "op": "eq", "value": "杭州"},
        phone_field="mobile", template="{{ name }}", signature="【测试】",
    )  # fmt: skip
    assert "bounced before" not in Blasts(box.instance.engine).summary(sms).reasons
