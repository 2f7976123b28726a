"""The blast pages: a button on the list, a preview with lengths, sending in the
background, and each recipient's status on the blast's page."""

from __future__ import annotations

import re
import time

from formflow.testing import Sandbox, csrf_token
from formflow_sms import Blasts

FILTER = "city = 上海\nlevel = A"
TEMPLATE = "{{ name }}您好，本周会员日全场八折。"


def wait_until_sent(box: Sandbox, blast_id: int) -> None:
    blasts = Blasts(box.instance.engine)
    for _ in range(200):
        if blasts.summary(blast_id)["queued"] == 0:
            return
        time.sleep(0.05)


def test_the_list_of_a_form_with_mobile_numbers_has_a_blast_button(box: Sandbox) -> None:
    page = box.client("sam").get(f"/{box.app_key}/customer/")
    assert f"/plugins/sms/{box.app_key}/customer/new" in page.text


def test_the_preview_shows_real_recipients_with_characters_and_segments(box: Sandbox) -> None:
    client = box.client("sam")
    url = f"/plugins/sms/{box.app_key}/customer/new"
    page = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "filter": FILTER,
            "template": TEMPLATE,
            "do": "preview",
        },
    )
    assert "华东贸易您好，本周会员日全场八折。" in page.text
    assert "+8613900139000" in page.text
    assert "外滩餐饮" not in page.text  # opted out


def test_sending_leads_to_the_blast_with_each_recipients_status(box: Sandbox) -> None:
    client = box.client("sam")
    url = f"/plugins/sms/{box.app_key}/customer/new"
    sent = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "filter": FILTER,
            "template": TEMPLATE,
            "do": "send",
        },
    )
    found = re.search(r"/plugins/sms/blasts/(\d+)", sent.headers["Location"])
    assert found is not None
    wait_until_sent(box, int(found.group(1)))
    page = client.get(found.group(0))
    assert '<span data-status="sent">已发送: <b>2</b>' in page.text
    assert '<span data-status="skipped">已跳过: <b>2</b>' in page.text


def test_a_filter_line_without_an_equals_sign_is_explained(box: Sandbox) -> None:
    client = box.client("sam")
    url = f"/plugins/sms/{box.app_key}/customer/new"
    page = client.post(
        url,
        data={"csrf_token": csrf_token(client, url), "filter": "city", "template": "x"},
    )
    assert "字段 = 值" in page.text


def test_only_the_roles_in_the_settings_may_send(box: Sandbox) -> None:
    box.instance.plugin_settings.save("sms", {"roles": "manager"})
    assert box.client("sam").get(f"/plugins/sms/{box.app_key}/customer/new").status_code == 403


def test_the_button_carries_the_lists_filter_to_the_blast(box: Sandbox) -> None:
    client = box.client("sam")
    listing = client.get(f"/{box.app_key}/customer/?f.city=北京")
    found = re.search(r'href="(/plugins/sms/[^"]+)"', listing.text)
    assert found is not None
    url = found.group(1).replace("&amp;", "&")
    page = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "f.city": "北京",
            "template": TEMPLATE,
            "do": "preview",
        },
    )
    assert "京华商贸您好" in page.text
    assert "华东贸易您好" not in page.text


def test_the_blasts_page_lists_each_blast_with_its_counts(box: Sandbox) -> None:
    blasts = Blasts(box.instance.engine)
    blasts.create(
        box.records,
        box.actor("sam"),
        box.app_key,
        "customer",
        {"field": "city", "op": "eq", "value": "上海"},
        phone_field="mobile",
        template=TEMPLATE,
    )
    page = box.client("sam").get("/plugins/sms/")
    assert TEMPLATE in page.text
    assert "<td>5</td>" in page.text  # the five customers in Shanghai


def bounced(box: Sandbox, *addresses: str) -> None:
    """Put addresses on the bounce list as a failed send would."""
    from formflow_sms.blasts import _suppress

    Blasts(box.instance.engine)  # makes the plugin's tables
    with box.instance.engine.begin() as connection:
        _suppress(connection, addresses, "550 mailbox unavailable")


def test_an_administrator_sees_the_bounce_list_with_reasons(box: Sandbox) -> None:
    box.add_user("ada", is_admin=True)
    bounced(box, "Gone@Example.com", "old@example.com")
    page = box.client("ada").get("/plugins/sms/bounces")
    assert page.status_code == 200
    assert 'data-address="gone@example.com"' in page.text
    assert "550 mailbox unavailable" in page.text


def test_the_bounce_list_is_searched_by_address_with_like_wildcards_taken_literally(
    box: Sandbox,
) -> None:
    box.add_user("ada", is_admin=True)
    bounced(box, "gone@example.com", "old_box@example.com", "oldxbox@example.com")
    client = box.client("ada")
    found = client.get("/plugins/sms/bounces?q=OLD_")
    assert 'data-address="old_box@example.com"' in found.text
    assert 'data-address="oldxbox@example.com"' not in found.text
    assert 'data-address="gone@example.com"' not in found.text
    assert "data-address" not in client.get("/plugins/sms/bounces?q=%25").text
    assert client.get("/plugins/sms/bounces?q=" + "x" * 5000).status_code == 200


def test_taking_an_address_off_the_bounce_list_lets_blasts_reach_it(box: Sandbox) -> None:
    box.add_user("ada", is_admin=True)
    bounced(box, "gone@example.com")
    client = box.client("ada")
    url = "/plugins/sms/bounces"
    answer = client.post(
        url + "/forget",
        data={"csrf_token": csrf_token(client, url), "address": "gone@example.com"},
    )
    assert answer.status_code == 302
    assert Blasts(box.instance.engine).bounced_addresses() == []
    assert "gone@example.com" in client.get(url).text  # the flash says it is off the list


def test_staff_may_neither_see_nor_change_the_bounce_list(box: Sandbox) -> None:
    bounced(box, "gone@example.com")
    client = box.client("sam")
    assert client.get("/plugins/sms/bounces").status_code == 403
    refused = client.post(
        "/plugins/sms/bounces/forget",
        data={"csrf_token": csrf_token(client, "/plugins/sms/"), "address": "gone@example.com"},
    )
    assert refused.status_code == 403
    assert len(Blasts(box.instance.engine).bounced_addresses()) == 1
