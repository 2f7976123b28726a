"""The blast pages' forms need the page's CSRF token, as Formflow's own pages do; only the
providers' receipt callback, checked by its token, is exempt."""

from __future__ import annotations

from formflow.testing import Sandbox, csrf_token
from formflow_sms import Blasts

TOKEN = "receipt-token-1"


def test_sending_a_blast_without_the_csrf_token_is_refused(box: Sandbox) -> None:
    client = box.client("sam")
    url = f"/plugins/sms/{box.app_key}/customer/new"
    refused = client.post(url, data={"filter": "city = 上海", "template": "hi", "do": "send"})
    assert refused.status_code == 400
    assert Blasts(box.instance.engine).waiting() == []
    accepted = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "filter": "city = 上海",
            "template": "hi",
            "do": "preview",
        },
    )
    assert accepted.status_code == 200


def test_cancelling_a_blast_without_the_csrf_token_is_refused(box: Sandbox) -> None:
    blasts = Blasts(box.instance.engine)
    blast_id = blasts.create(
        box.records,
        box.actor("sam"),
        box.app_key,
        "customer",
        {"field": "city", "op": "eq", "value": "上海"},
        phone_field="mobile",
        template="hi",
    )
    client = box.client("sam")
    assert client.post(f"/plugins/sms/blasts/{blast_id}/cancel").status_code == 400
    assert not blasts.summary(blast_id).cancelled


def test_the_receipt_callback_needs_no_csrf_token(box: Sandbox) -> None:
    box.instance.plugin_settings.save("sms", {"receipt_token": TOKEN})
    answer = box.client().post(f"/plugins/sms/receipts?token={TOKEN}", json=[])
    assert answer.status_code == 200
