"""The lookup page: a button on the customer, candidates to choose from, the record saved."""

from __future__ import annotations

from formflow.testing import Sandbox, csrf_token

STAR_SHANGHAI = "91310000MA1FL0XC1T"


def new_customer(box: Sandbox, name: str = "星辰") -> int:
    record = box.records.create(box.actor("staff_user"), "customer", {"name": name})
    return int(record["id"])


def test_the_customer_page_has_a_lookup_button(box: Sandbox) -> None:
    record_id = new_customer(box)
    page = box.client("staff_user").get(f"/sales/customer/{record_id}")
    assert f'href="/plugins/company_lookup/sales/customer/{record_id}"' in page.text


def test_people_who_cannot_edit_the_customer_get_no_button_and_no_page(box: Sandbox) -> None:
    record_id = new_customer(box)
    viewer = box.client("viewer_user")
    assert "/plugins/company_lookup/" not in viewer.get(f"/sales/customer/{record_id}").text
    assert viewer.get(f"/plugins/company_lookup/sales/customer/{record_id}").status_code == 403


def test_a_name_shared_by_several_companies_lists_them_to_choose(box: Sandbox) -> None:
    record_id = new_customer(box)
    page = box.client("staff_user").get(
        f"/plugins/company_lookup/sales/customer/{record_id}?q=星辰"
    )
    assert "找到 2 家企业，请选择要填入的一家。" in page.text
    assert "上海星辰云计算有限公司" in page.text
    assert "杭州星辰云计算有限公司" in page.text


def test_an_unknown_company_says_so(box: Sandbox) -> None:
    record_id = new_customer(box)
    page = box.client("staff_user").get(
        f"/plugins/company_lookup/sales/customer/{record_id}?q=无此公司"
    )
    assert "no company found for &#39;无此公司&#39;" in page.text


def test_choosing_a_company_fills_and_saves_the_customer(box: Sandbox) -> None:
    record_id = new_customer(box)
    client = box.client("staff_user")
    path = f"/plugins/company_lookup/sales/customer/{record_id}"
    token = csrf_token(client, f"{path}?q=星辰")
    answer = client.post(
        path, data={"q": "星辰", "credit_code": STAR_SHANGHAI, "csrf_token": token}
    )
    assert answer.status_code == 302
    saved = box.records.get(box.actor("staff_user"), "customer", record_id)
    assert (saved["name"], saved["credit_code"], saved["legal_rep"], saved["reg_status"]) == (
        "上海星辰云计算有限公司",
        STAR_SHANGHAI,
        "林晓星",
        "存续",
    )
    assert str(saved["founded"]) == "2016-03-18"
    assert saved["version"] == 2


def test_choosing_needs_the_csrf_token(box: Sandbox) -> None:
    record_id = new_customer(box)
    path = f"/plugins/company_lookup/sales/customer/{record_id}"
    answer = box.client("staff_user").post(path, data={"q": "星辰", "credit_code": STAR_SHANGHAI})
    assert answer.status_code == 400


def test_the_lookup_action_fills_new_customers_from_automations(box: Sandbox) -> None:
    staff = box.actor("staff_user")
    record = box.records.create(
        staff, "customer", {"name": "明川", "credit_code": "91110108MA01AB2C3D", "enrich": True}
    )
    box.deliver_events()
    saved = box.records.get(staff, "customer", record["id"])
    assert (saved["name"], saved["legal_rep"]) == ("北京明川精密仪器有限公司", "王明川")


def test_an_ambiguous_name_leaves_the_record_as_it_was(box: Sandbox) -> None:
    staff = box.actor("staff_user")
    record = box.records.create(staff, "customer", {"name": "星辰", "enrich": True})
    box.deliver_events()
    saved = box.records.get(staff, "customer", record["id"])
    assert (saved["name"], saved["legal_rep"], saved["version"]) == ("星辰", None, 1)
