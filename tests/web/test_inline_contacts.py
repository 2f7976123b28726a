"""Creating a customer with its contacts in one form (the customer form's ``inline``): one
unit of work; problems next to the row's inputs, everything typed kept, nothing stored."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from formflow.records import Actor, Query
from web.conftest import csrf_token

Login = Callable[[str], FlaskClient]
NEW = "/crm_sfa/customer/new"


def names(app: Flask, form_key: str) -> list[str]:
    records = app.extensions["formflow"].records("crm_sfa")
    return sorted(row["name"] for row in records.find(Actor.system(), form_key, Query()).rows)


def test_the_new_customer_page_offers_contact_rows(client: FlaskClient, login: Login) -> None:
    login("rep1")
    page = client.get(NEW).text
    assert 'data-inline="contact"' in page
    assert 'name="inline-contact-0-name"' in page
    assert 'name="inline-contact-1-phone"' in page
    assert 'type="tel"' in page
    assert "data-inline" not in client.get("/crm_sfa/contact/new").text


def test_a_customer_is_created_with_its_contacts(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("rep1")
    sent = client.post(
        NEW,
        data={
            "csrf_token": csrf_token(client, NEW),
            "name": "星河电子有限公司",
            "status": "potential",
            "inline-contact-0-name": "张伟",
            "inline-contact-0-phone": "13800138000",
            "inline-contact-0-is_primary": "y",
            "inline-contact-1-name": "",
        },
    )
    assert sent.status_code == 302, sent.text
    customer_id = int(sent.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    records = app.extensions["formflow"].records("crm_sfa")
    (contact,) = records.find(Actor.system(), "contact", Query()).rows
    assert (contact["name"], contact["customer"], contact["is_primary"]) == (
        "张伟",
        customer_id,
        True,
    )


def test_a_bad_contact_keeps_everything_and_stores_nothing(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("rep1")
    sent = client.post(
        NEW,
        data={
            "csrf_token": csrf_token(client, NEW),
            "name": "星河电子有限公司",
            "status": "potential",
            "inline-contact-1-title": "采购经理",
            "inline-contact-1-email": "not an address",
        },
    )
    assert sent.status_code == 422
    page = sent.text
    row = page.split('data-row="1"', 1)[1].split("</fieldset>", 1)[0]
    assert row.count('class="error"') == 2  # the name is needed, the e-mail is no e-mail
    assert 'value="采购经理"' in row
    assert 'value="星河电子有限公司"' in page
    assert names(app, "customer") == []
    assert names(app, "contact") == []
