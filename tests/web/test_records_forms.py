"""Create and edit pages: widgets per type, validation, subtables, versions, conditions."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web import records_support
from web.conftest import csrf_token
from web.records_support import actor, add, send, service

# Fixtures from the shared module, used by name.
sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]
NEW_CUSTOMER = "/crm_sfa/customer/new"


def record_id(location: str) -> int:
    found = re.fullmatch(r"/crm_sfa/\w+/(\d+)", location)
    assert found, location
    return int(found.group(1))


def test_the_form_has_a_fitting_widget_per_type(client: FlaskClient, sign_in: Login) -> None:
    sign_in("rep1")
    page = client.get(NEW_CUSTOMER).text
    assert re.search(r'<input[^>]*name="phone"[^>]*type="tel"', page)
    assert re.search(r'<input[^>]*name="email"[^>]*type="email"', page)
    assert re.search(r'<input[^>]*name="website"[^>]*type="url"', page)
    follow_up = client.get("/crm_sfa/follow_up/new").text
    assert re.search(r'<input[^>]*name="next_follow_up"[^>]*type="date"', follow_up)
    assert re.search(r'<textarea[^>]*name="remark"', page)
    assert re.search(r'<input[^>]*name="locked"[^>]*type="checkbox"', page)
    assert re.search(r'<select[^>]*name="level"', page)
    assert 'name="in_pool"' not in page  # readonly: shown, not edited
    assert 'name="owner"' not in page  # only claims, assignments and transfers change it
    assert re.search(r'<select[^>]*name="owner"', client.get("/crm_sfa/lead/new").text)
    assert re.search(r'data-required-mark class="required">Customer name', page)
    assert re.search(r'<option selected value="potential">', page)  # a default
    assert 'data-conditions="/crm_sfa/customer/conditions"' in page
    assert 'name="csrf_token"' in page

    quote = client.get("/crm_sfa/quote/new").text
    assert re.search(r'name="items-0-qty"[^>]*|inputmode="decimal"[^>]*name="items-0-qty"', quote)
    assert 'name="items-__index__-product"' in quote  # the row template JS copies
    assert 'hx-get="/crm_sfa/quote/lookup/items.product"' in quote
    assert re.search(r'<input[^>]*name="quote_date"[^>]*type="date"', quote)

    contact = client.get("/crm_sfa/contact/new").text
    assert re.search(r'<input[^>]*name="gender"[^>]*type="radio"', contact)  # style: radio
    assert 'hx-get="/crm_sfa/contact/lookup/customer"' in contact

    follow_up = client.get("/crm_sfa/follow_up/new").text
    assert 'enctype="multipart/form-data"' in follow_up
    assert re.search(r'type="file"[^>]*name="attachments__upload"[^>]*multiple', follow_up)
    assert 'accept="image/*,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx"' in follow_up
    assert re.search(r'<input[^>]*name="followed_at"[^>]*type="datetime-local"', follow_up)


def test_create_a_customer_and_two_contacts(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    sign_in("rep1")
    saved = send(
        client,
        NEW_CUSTOMER,
        {"name": "华为技术有限公司", "level": "A", "status": "potential", "phone": "13800138000"},
    )
    assert saved.status_code == 302, saved.text
    customer = record_id(saved.headers["Location"])
    detail = client.get(saved.headers["Location"])
    assert "Saved." in detail.text
    assert "华为技术有限公司" in detail.text
    assert 'href="tel:+8613800138000">138 0013 8000<' in detail.text

    assert f'href="/crm_sfa/contact/new?customer={customer}"' in detail.text
    new_contact = client.get(f"/crm_sfa/contact/new?customer={customer}")
    assert f'value="{customer}"' in new_contact.text  # the link is filled in
    assert 'value="华为技术有限公司"' in new_contact.text  # ...and shown by its title
    for name in ("张三", "李四"):
        made = send(client, "/crm_sfa/contact/new", {"customer": str(customer), "name": name})
        assert made.status_code == 302, made.text
    detail = client.get(f"/crm_sfa/customer/{customer}").text
    assert "张三" in detail
    assert "李四" in detail
    assert f"/crm_sfa/contact/?f.customer={customer}" in detail


def test_a_link_typed_without_choosing_is_looked_up(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep1", "customer", name="Acme Trading")
    add(app, "rep1", "customer", name="Acme Tools")
    sign_in("rep1")
    made = send(client, "/crm_sfa/contact/new", {"customer__label": "Acme Tools", "name": "Wang"})
    assert made.status_code == 302, made.text
    contact = service(app).get(actor(app, "rep1"), "contact", record_id(made.headers["Location"]))
    assert contact["customer"] is not None
    vague = send(client, "/crm_sfa/contact/new", {"customer__label": "Acme", "name": "Zhao"})
    assert vague.status_code == 422
    assert "Choose one of the matching records" in vague.text


def test_a_rejected_form_keeps_the_input_and_shows_errors_by_their_fields(
    client: FlaskClient, sign_in: Login
) -> None:
    sign_in("rep1")
    page = send(
        client,
        NEW_CUSTOMER,
        {"name": "", "email": "not-an-address", "short_name": "Keep me", "status": "potential"},
    )
    assert page.status_code == 422
    text = page.text
    assert "Please correct the marked fields." in text
    assert 'value="Keep me"' in text
    assert 'value="not-an-address"' in text
    name_block = text[text.index('data-field="name"') : text.index('data-field="credit_code"')]
    assert "This field is required." in name_block
    assert 'aria-invalid="true"' in name_block
    email_block = text[text.index('data-field="email"') : text.index('data-field="website"')]
    assert "This is not an e-mail address." in email_block


def test_subtable_rows_are_saved_and_row_errors_sit_in_their_cell(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    product = add(
        app,
        "admin",
        "product",
        code="P1",
        name="Widget",
        category="software",
        unit="set",
        list_price="10",
    )
    customer = add(app, "rep1", "customer", name="Acme")
    deal = add(
        app,
        "rep1",
        "opportunity",
        name="Deal",
        customer=customer["id"],
        amount="100",
        expected_close_date="2026-06-30",
    )
    sign_in("rep1")
    rows = {
        "items-0-product": str(product["id"]),
        "items-0-qty": "2",
        "items-0-unit_price": "1,000.50",
        "items-0-discount": "0",
        # row 1 was removed on the page: indexes need not be consecutive
        "items-2-product": str(product["id"]),
        "items-2-qty": "lots",
        "items-2-unit_price": "5",
        "items-2-discount": "0",
        "items-3-qty": "",  # a blank row is left out
    }
    base = {
        "opportunity": str(deal["id"]),
        "quote_date": "2026-01-31",
        "valid_until": "2026-02-28",
        "status": "draft",
    }
    refused = send(client, "/crm_sfa/quote/new", {**base, **rows})
    assert refused.status_code == 422
    cells = refused.text.split('data-label="Quantity"')
    assert "lots" in cells[2]
    assert "must be a number" in cells[2].split("</td>")[0]
    assert "must be a number" not in cells[1].split("</td>")[0]
    assert 'value="1,000.50"' in refused.text

    saved = send(client, "/crm_sfa/quote/new", {**base, **rows, "items-2-qty": "3"})
    assert saved.status_code == 302, saved.text
    quote = service(app).get(actor(app, "rep1"), "quote", record_id(saved.headers["Location"]))
    assert [str(row["qty"]) for row in quote["items"]] == ["2.00", "3.00"]
    detail = client.get(saved.headers["Location"]).text
    assert "¥2,016.00" in detail  # 2 × 1,000.50 + 3 × 5, money with separators
    assert "Widget" in detail  # a row's link shows the product's name

    edit = client.get(f"{saved.headers['Location']}/edit").text
    assert 'name="items-1-qty"' in edit
    assert 'data-next-index="2"' in edit


def test_edit_then_history_shows_the_change(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme", level="B")
    sign_in("rep1")
    path = f"/crm_sfa/customer/{customer['id']}"
    form = client.get(f"{path}/edit").text
    assert 'name="version" type="hidden" value="1"' in form
    assert 'value="Acme"' in form
    saved = send(
        client,
        f"{path}/edit",
        {
            "version": "1",
            "name": "Acme Group",
            "level": "A",
            "status": "potential",
            "owner": str(customer["owner"]),
        },
    )
    assert saved.status_code == 302, saved.text
    detail = client.get(path).text
    history = re.sub(r"<[^>]+>", "", detail[detail.index("timeline") :])
    assert "Customer name: Acme → Acme Group" in history
    assert "Level: B (regular) → A (key account)" in history
    assert "rep1 · Changed" in history
    assert "Locked" not in history  # an untouched check box is no change


def test_the_chinese_history_says_a_record_was_created_not_its_creation_time(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme", level="B")
    sign_in("rep1")
    client.post("/language/zh", data={"csrf_token": csrf_token(client, "/")})
    detail = client.get(f"/crm_sfa/customer/{customer['id']}").text
    history = re.sub(r"<[^>]+>", "", detail[detail.index("timeline") :])
    assert "rep1 · 创建 ·" in history
    assert "创建时间" not in history


def _owner_choices(page: str) -> list[str]:
    select = page[page.index('name="owner"') : page.index("</select>", page.index('name="owner"'))]
    return re.findall(r'<option[^>]*value="([^"]*)"', select)


def test_a_role_that_may_not_hand_records_on_is_offered_only_itself_as_owner(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    sign_in("rep1")
    page = client.get("/crm_sfa/opportunity/new").text
    assert _owner_choices(page) == [str(actor(app, "rep1").user_id)]


def test_a_role_that_may_reassign_is_offered_everyone_as_owner(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    sign_in("manager")
    choices = _owner_choices(client.get("/crm_sfa/opportunity/new").text)
    assert str(actor(app, "rep1").user_id) in choices
    assert str(actor(app, "manager").user_id) in choices


def test_a_stale_edit_is_refused_and_keeps_the_input(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    service(app).update(
        actor(app, "rep1"), "customer", customer["id"], {"level": "C"}, expected_version=1
    )
    sign_in("rep1")
    page = send(
        client,
        f"/crm_sfa/customer/{customer['id']}/edit",
        {"version": "1", "name": "My new name", "status": "potential"},
    )
    assert page.status_code == 409
    assert "Someone else saved this record" in page.text
    assert 'value="My new name"' in page.text
    assert 'name="version" type="hidden" value="2"' in page.text
    kept = service(app).get(actor(app, "rep1"), "customer", customer["id"])
    assert kept["name"] == "Acme"


def test_the_conditions_endpoint_uses_the_definition_rules(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    sign_in("rep1")
    token_page = "/crm_sfa/lead/new"
    answer = send(client, "/crm_sfa/lead/conditions", {"status": "invalid"}, page=token_page)
    assert answer.status_code == 200
    assert "invalid_reason" in answer.json["visible"]
    assert "invalid_reason" in answer.json["required"]
    answer = send(client, "/crm_sfa/lead/conditions", {"status": "new"}, page=token_page)
    assert "invalid_reason" not in answer.json["visible"]
    assert "invalid_reason" not in answer.json["required"]

    # hidden fields start hidden on the page itself
    lead_form = client.get(token_page).text
    assert re.search(r'data-field="invalid_reason" hidden', lead_form)

    # on an edit page, values only the record has (readonly ones) count too
    customer = add(app, "rep1", "customer", name="Acme")
    pool = send(
        client, "/crm_sfa/customer/conditions", {"_record": str(customer["id"])}, page=token_page
    )
    assert "pool_reason" not in pool.json["visible"]
    assert "name" in pool.json["required"]


def test_delete_moves_to_the_bin_and_restore_brings_back(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    contact = add(app, "rep1", "contact", name="Zhang", customer=customer["id"])
    sign_in("rep1")
    path = f"/crm_sfa/contact/{contact['id']}"
    assert "Delete" in client.get(path).text
    assert client.post(f"{path}/delete").status_code == 400  # no CSRF token
    deleted = send(client, f"{path}/delete")
    assert deleted.status_code == 302
    assert client.get(path).status_code == 404
    bin_page = client.get("/crm_sfa/contact/bin").text
    assert "Zhang" in bin_page
    assert "Restore" in bin_page
    restored = send(client, f"{path}/restore")
    assert restored.headers["Location"] == path
    assert client.get(path).status_code == 200
    assert "Zhang" not in client.get("/crm_sfa/contact/bin").text
