"""Duplicate checks in the record form: a warned match shows next to its field with who
holds it, everything typed is kept, and "Save anyway" stores the record."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web import records_support
from web.records_support import add, send

sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]
NEW_LEAD = "/crm_sfa/lead/new"
LEAD = {"company": "华为 技术", "contact_name": "王五", "source": "website", "status": "new"}


def test_a_warned_match_asks_before_saving(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    add(app, "rep2", "customer", name="华为技术有限公司")
    sign_in("rep1")
    warned = send(client, NEW_LEAD, LEAD)
    assert warned.status_code == 409, warned.text
    assert "This may duplicate a record already there" in warned.text
    assert "is held by rep2" in warned.text
    assert 'value="华为 技术"' in warned.text  # what was typed is kept
    assert "data-confirm-duplicates" in warned.text
    saved = send(client, NEW_LEAD, {**LEAD, "confirm_duplicates": "1"})
    assert saved.status_code == 302, saved.text


def test_a_blocking_match_cannot_be_saved_anyway(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    add(app, "rep2", "customer", name="甲", credit_code="91350100M000100Y43")
    sign_in("rep1")
    data = {"name": "乙", "credit_code": "91350100M000100Y43", "status": "potential"}
    refused = send(client, "/crm_sfa/customer/new", {**data, "confirm_duplicates": "1"})
    assert refused.status_code == 422
    assert "data-confirm-duplicates" not in refused.text


def test_a_match_shows_as_the_person_types(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    customer = add(app, "rep2", "customer", name="乙方")
    add(app, "rep2", "contact", customer=customer["id"], name="李四", phone="13812345678")
    sign_in("rep1")
    page = client.get(NEW_LEAD).text
    assert 'hx-get="/crm_sfa/lead/duplicates/phone"' in page
    assert 'id="duplicates-phone"' in page
    typed = client.get("/crm_sfa/lead/duplicates/phone?phone=138+1234+5678")
    assert typed.status_code == 200
    assert "is held by rep2" in typed.text
    assert "李四" not in typed.text  # who holds it, never what it holds
    assert client.get("/crm_sfa/lead/duplicates/phone?phone=13900000000").text.strip() == ""


@pytest.mark.parametrize("typed", ["a%00b@x.cn", "%ED%A0%80@x.cn", "x" * 3000])
def test_anything_typed_is_answered(client: FlaskClient, sign_in: Login, typed: str) -> None:
    sign_in("rep1")
    answer = client.get(f"/crm_sfa/lead/duplicates/email?email={typed}&_record=99999999")
    assert answer.status_code in (200, 404)
    assert client.get(f"/crm_sfa/lead/duplicates/nope?nope={typed}").status_code == 200
