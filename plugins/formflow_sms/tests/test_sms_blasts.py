"""A blast goes to the records a filter picks: invalid and opted-out numbers are skipped
and counted, each recipient has a status, and a blast can be cancelled part-way."""

from __future__ import annotations

from typing import Any

from formflow.testing import Sandbox
from formflow_sms import Blasts, provider_from
from formflow_sms.providers import OutboxProvider

SHANGHAI_A = {
    "and": [
        {"field": "city", "op": "eq", "value": "上海"},
        {"field": "level", "op": "eq", "value": "A"},
    ]
}
TEMPLATE = "{{ name }}您好，本周会员日全场八折。"


def no_wait(_seconds: float) -> None:
    return None


def blast(box: Sandbox, blasts: Blasts, filter: dict[str, Any] = SHANGHAI_A) -> int:
    return blasts.create(
        box.records,
        box.actor("sam"),
        box.app_key,
        "customer",
        filter,
        phone_field="mobile",
        template=TEMPLATE,
        signature="华东",
    )


def test_the_preview_shows_real_recipients_with_the_length(box: Sandbox) -> None:
    blasts = Blasts(box.instance.engine)
    first, *_ = blasts.preview(
        box.records,
        box.actor("sam"),
        "customer",
        SHANGHAI_A,
        phone_field="mobile",
        template=TEMPLATE,
        signature="华东",
    )
    assert first.text == "华东贸易您好，本周会员日全场八折。"
    assert first.phone == "+8613800138000"
    assert (first.count.characters, first.count.segments) == (21, 1)


def test_invalid_and_opted_out_numbers_are_skipped_and_counted(box: Sandbox) -> None:
    blasts = Blasts(box.instance.engine)
    summary = blasts.summary(blast(box, blasts))
    assert (summary.total, summary["queued"], summary["skipped"]) == (4, 2, 2)
    assert summary.reasons == {"invalid number": 1, "opted out": 1}


def test_sending_marks_each_recipient_sent_with_the_signed_text(box: Sandbox) -> None:
    blasts = Blasts(box.instance.engine)
    blast_id = blast(box, blasts)
    assert blasts.send(blast_id, OutboxProvider(), sleep=no_wait) == 2
    assert blasts.summary(blast_id)["sent"] == 2
    assert blasts.send(blast_id, OutboxProvider(), sleep=no_wait) == 0


def test_a_cancelled_blast_sends_nothing_more(box: Sandbox) -> None:
    blasts = Blasts(box.instance.engine)
    blast_id = blast(box, blasts)
    blasts.send(blast_id, OutboxProvider(), sleep=no_wait, limit=1)
    assert blasts.cancel(blast_id) == 1
    assert blasts.send(blast_id, OutboxProvider(), sleep=no_wait) == 0
    summary = blasts.summary(blast_id)
    assert (summary["sent"], summary["cancelled"], summary.cancelled) == (1, 1, True)


def test_sending_waits_between_messages_at_the_provider_rate(box: Sandbox) -> None:
    blasts = Blasts(box.instance.engine)
    waits: list[float] = []
    blasts.send(blast(box, blasts), OutboxProvider(), per_second=4, sleep=waits.append)
    assert waits == [0.25, 0.25]


def test_a_delivery_receipt_marks_the_recipient_delivered_or_failed(box: Sandbox) -> None:
    blasts = Blasts(box.instance.engine)
    blast_id = blast(box, blasts)
    blasts.send(blast_id, provider_from({"provider": "outbox"}), sleep=no_wait)
    with box.instance.engine.connect() as connection:
        from formflow_sms.blasts import messages

        ids = [
            row.provider_id
            for row in connection.execute(
                messages.select().where(messages.c.status == "sent").order_by(messages.c.id)
            )
        ]
    assert blasts.receipt(ids[0], delivered=True)
    assert blasts.receipt(ids[1], delivered=False, reason="UNDELIV")
    summary = blasts.summary(blast_id)
    assert (summary["delivered"], summary["failed"], summary.reasons["UNDELIV"]) == (1, 1, 1)
