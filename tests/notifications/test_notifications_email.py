"""Notifications go out by e-mail when SMTP is configured: after the commit, from a job
retried with back-off, in the recipient's language, to the address on their account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from huey import Huey, SqliteHuey
from notify_people import People
from sqlalchemy import Engine, select

from formflow.config import SmtpSettings, load_settings
from formflow.events import Relay
from formflow.expressions import ExpressionLimit
from formflow.jobs import Jobs
from formflow.notifications import Notification, Notifications, Recipient
from formflow.notifications.email import EmailChannel
from formflow.notifications.jobs import attach
from formflow.records.unit import unit_of_work
from formflow.storage.platform_tables import notification_sends, notifications
from formflow.testing import Mailbox, free_port, smtp_server

TASK_TITLE = "Waiting for your approval: %(workflow)s"
PARAMS = {"workflow": {"zh": "报销", "en": "Expense claim"}, "form": "Expense", "record": 7}


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as found:
        yield found


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Huey]:
    huey = SqliteHuey("formflow", filename=str(tmp_path / "jobs.db"), results=False)
    yield huey
    huey.storage.close()


def mailer(port: int) -> EmailChannel:
    return EmailChannel(SmtpSettings(host="127.0.0.1", port=port, security="none"))


def tell(engine: Engine, service: Notifications, user_id: int) -> int:
    with unit_of_work(engine) as unit:
        (written,) = service.add(
            unit.connection, [user_id], kind="task", title=TASK_TITLE, body="", params=PARAMS
        )
    return written


def drain(huey: Huey) -> None:
    while (task := huey.dequeue()) is not None:
        huey.execute(task)


def test_the_settings_read_the_smtp_server_from_the_environment() -> None:
    settings = load_settings(
        {
            "FORMFLOW_SMTP_HOST": "mail.example.test",
            "FORMFLOW_SMTP_USER": "robot",
            "FORMFLOW_SMTP_PASSWORD": "secret",
            "FORMFLOW_SMTP_FROM": "crm@example.test",
            "FORMFLOW_SMTP_TLS": "ssl",
        }
    )
    assert settings.smtp == SmtpSettings(
        "mail.example.test", 465, "robot", "secret", "crm@example.test", "ssl"
    )
    assert load_settings({}).smtp is None


def test_an_e_mail_is_sent_after_the_commit_in_the_recipients_language(
    engine: Engine, people: People, mailbox: Mailbox
) -> None:
    service = Notifications(engine, [mailer(mailbox.port)])
    tell(engine, service, people.ann)
    tell(engine, service, people.bo)
    (ann_to, ann_mail), (bo_to, bo_mail) = mailbox.messages
    assert ann_to == ["ann@example.test"]
    assert ann_mail["Subject"] == "[Formflow] Waiting for your approval: Expense claim"
    assert "Hello Ann," in ann_mail.get_content()
    assert bo_to == ["bo@example.test"]
    assert bo_mail["Subject"] == "[Formflow] 待您审批：报销"


def test_a_person_with_no_address_is_not_mailed_and_the_notification_is_done(
    engine: Engine, people: People, mailbox: Mailbox
) -> None:
    service = Notifications(engine, [mailer(mailbox.port)])
    written = tell(engine, service, people.cy)
    assert mailbox.messages == []
    with engine.connect() as connection:
        delivered = connection.execute(
            select(notifications.c.delivered_at).where(notifications.c.id == written)
        ).scalar_one()
    assert delivered is not None


def test_a_server_that_does_not_answer_is_tried_again_by_the_job(
    engine: Engine, people: People, queue: Huey
) -> None:
    port = free_port()
    service = Notifications(engine, [mailer(port)])
    attach(Jobs(queue, Relay(engine, {})), service, retry_delay=0)
    written = tell(engine, service, people.ann)
    task = queue.dequeue()
    assert task is not None
    queue.execute(task)  # nobody listens on the port yet
    with engine.connect() as connection:
        (attempts, status) = connection.execute(
            select(notification_sends.c.attempts, notification_sends.c.status).where(
                notification_sends.c.notification_id == written
            )
        ).one()
    assert (attempts, status) == (1, "pending")
    with smtp_server(port) as mailbox:  # on the port the failed attempt used
        drain(queue)
    assert [to for to, _mail in mailbox.messages] == [["ann@example.test"]]


def test_a_notification_sent_is_not_sent_again_when_its_job_runs_twice(
    engine: Engine, people: People, mailbox: Mailbox
) -> None:
    service = Notifications(engine, [mailer(mailbox.port)])
    written = tell(engine, service, people.ann)
    assert service.deliver(written) == {"email": "sent"}
    assert len(mailbox.messages) == 1


def test_the_sweep_sends_what_no_job_took(engine: Engine, people: People, mailbox: Mailbox) -> None:
    from datetime import UTC, datetime, timedelta

    service = Notifications(engine, [mailer(mailbox.port)])
    service.dispatch = lambda _notification_id: None  # the process died before its job
    tell(engine, service, people.ann)
    assert mailbox.messages == []
    later = datetime.now(UTC) + timedelta(minutes=2)
    for notification_id in service.undelivered(later):
        service.deliver(notification_id)
    assert len(mailbox.messages) == 1
    assert service.undelivered(later) == []


def test_a_reworded_e_mail_template_renders_on_the_templates_budget(tmp_path: Path) -> None:
    """An administrator rewords the e-mail in the instance's templates folder; a loop of
    ten billion turns there is refused at once rather than holding the worker."""
    folder = tmp_path / "templates" / "notifications" / "email"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("{{ title }}")
    (folder / "body.txt").write_text(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    )
    channel = EmailChannel(SmtpSettings(host="localhost"), tmp_path / "templates")
    notification = Notification(1, 1, "task", TASK_TITLE, "", PARAMS)
    recipient = Recipient(1, "ann", "Ann", "ann@example.test", "en")
    with pytest.raises(ExpressionLimit, match="loops run more than"):
        channel.message(notification, recipient)
