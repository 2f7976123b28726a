"""Delivery receipts arrive on a callback route; the ``send_sms`` action queues a message
to the record it runs on, which the next sending pass sends."""

from __future__ import annotations

from formflow.actions import ActionContext
from formflow.testing import Sandbox
from formflow_sms import Blasts, send_waiting
from formflow_sms.action import ACTION
from formflow_sms.blasts import messages

TOKEN = "receipt-token-1"


def sent_blast(box: Sandbox) -> tuple[Blasts, int, list[str]]:
    blasts = Blasts(box.instance.engine)
    blast_id = blasts.create(
        box.records,
        box.actor("sam"),
        box.app_key,
        "customer",
        {"field": "city", "op": "eq", "value": "上海"},
        phone_field="mobile",
        template="{{ name }}您好",
    )
    send_waiting(box.instance)
    with box.instance.engine.connect() as connection:
        ids = [
            str(row.provider_id)
            for row in connection.execute(
                messages.select().where(messages.c.status == "sent").order_by(messages.c.id)
            )
        ]
    return blasts, blast_id, ids


def test_a_generic_receipt_marks_the_message_delivered(box: Sandbox) -> None:
    box.instance.plugin_settings.save("sms", {"receipt_token": TOKEN})
    blasts, blast_id, ids = sent_blast(box)
    answer = box.client().post(
        f"/plugins/sms/receipts?token={TOKEN}", json={"id": ids[0], "status": "delivered"}
    )
    assert answer.get_json() == {"code": 0, "msg": "成功"}
    assert blasts.summary(blast_id)["delivered"] == 1


def test_an_alibaba_cloud_report_of_failure_keeps_its_reason(box: Sandbox) -> None:
    box.instance.plugin_settings.save("sms", {"receipt_token": TOKEN})
    blasts, blast_id, ids = sent_blast(box)
    report = [{"biz_id": ids[1], "success": False, "err_code": "MK:0001", "err_msg": "空号"}]
    box.client().post(f"/plugins/sms/receipts?token={TOKEN}", json=report)
    assert blasts.summary(blast_id).reasons.get("MK:0001 空号") == 1


def test_a_receipt_without_the_token_is_refused(box: Sandbox) -> None:
    box.instance.plugin_settings.save("sms", {"receipt_token": TOKEN})
    _blasts, _blast_id, ids = sent_blast(box)
    answer = box.client().post(
        "/plugins/sms/receipts?token=guess", json={"id": ids[0], "status": "delivered"}
    )
    assert answer.status_code == 403


def test_the_action_queues_a_message_that_the_next_pass_sends(box: Sandbox) -> None:
    sam = box.actor("sam")
    record = box.records.find(sam, "customer").rows[0]
    context = ActionContext(
        app_key=box.app_key,
        form_key="customer",
        record=record,
        record_id=int(record["id"]),
        records=box.records,
        actor=sam,
        expressions=box.plugins.toolkit.expressions,
        plugin_settings=box.instance.plugin_settings.values,
    )
    result = ACTION.run(context, {"template": "{{ name }}，您的货款将于明日到期"})
    assert send_waiting(box.instance) == 1
    summary = Blasts(box.instance.engine).summary(result["blast"])
    assert (summary.total, summary["sent"]) == (1, 1)
