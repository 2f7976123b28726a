"""Scopes hold on every page: a rep never reaches another rep's customer, and values are
always shown as text, never as markup."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.records.access import Actor
from web import records_support
from web.records_support import actor, add, send, service

# Fixtures from the shared module, used by name.
sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]


def test_a_rep_cannot_reach_another_reps_customer(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    mine = add(app, "rep1", "customer", name="Mine Holdings")
    theirs = add(app, "rep2", "customer", name="Secret Holdings", level="A")
    add(app, "rep2", "contact", name="Secret Person", customer=theirs["id"])
    sign_in("rep1")
    path = f"/crm_sfa/customer/{theirs['id']}"

    assert client.get(path).status_code == 404
    assert client.get(f"{path}/edit").status_code == 404
    edit = send(client, f"{path}/edit", {"version": "1", "name": "Mine now", "status": "potential"})
    assert edit.status_code == 404
    assert send(client, f"{path}/delete").status_code in (403, 404)
    assert send(client, f"{path}/restore").status_code in (403, 404)
    assert client.get(f"{path}/files/{'0' * 32}").status_code == 404
    conditions = send(client, "/crm_sfa/customer/conditions", {"_record": str(theirs["id"])})
    assert conditions.status_code == 404
    assert "Secret" not in conditions.text

    for listing in (
        client.get("/crm_sfa/customer/"),
        client.get("/crm_sfa/customer/", query_string={"q": "Holdings"}),
        client.get("/crm_sfa/customer/", query_string={"f.level": "A"}),
        client.get("/crm_sfa/contact/", query_string={"f.customer": str(theirs["id"])}),
        client.get("/crm_sfa/contact/", query_string={"f.customer": "Holdings"}),
        client.get("/crm_sfa/contact/lookup/customer", query_string={"q": "Holdings"}),
        client.get("/crm_sfa/contact/lookup/customer", query_string={"customer__label": "Hold"}),
        client.get(f"/crm_sfa/customer/{mine['id']}"),
    ):
        assert listing.status_code == 200
        assert "Secret" not in listing.text
    assert (
        "Mine Holdings"
        in client.get("/crm_sfa/contact/lookup/customer", query_string={"q": "Hold"}).text
    )
    assert "1 record" in client.get("/crm_sfa/customer/").text  # the count is scoped too

    linked = send(client, "/crm_sfa/contact/new", {"customer": str(theirs["id"]), "name": "Sneaky"})
    assert linked.status_code == 422
    assert "Choose a record you can see from the list." in linked.text
    typed = send(
        client, "/crm_sfa/contact/new", {"customer__label": "Secret Holdings", "name": "Sneaky"}
    )
    assert typed.status_code == 422  # no match among the customers rep1 can see


def test_a_link_to_a_record_the_reader_may_not_open_shows_its_title_without_a_link(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Handed Over Ltd")
    contact = add(app, "rep1", "contact", name="Kept Person", customer=customer["id"])
    service(app).update(  # a transfer, as the engine carries it out
        Actor.system(),
        "customer",
        customer["id"],
        {"owner": records_support.user_id(app, "rep2")},
        expected_version=customer["version"],
    )
    sign_in("rep1")
    assert client.get(f"/crm_sfa/customer/{customer['id']}").status_code == 404

    for page in (client.get("/crm_sfa/contact/"), client.get(f"/crm_sfa/contact/{contact['id']}")):
        assert "Handed Over Ltd" in page.text
        assert f'href="/crm_sfa/customer/{customer["id"]}"' not in page.text
        assert f"#{customer['id']}" not in page.text


def test_actions_follow_the_roles(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("rep1")
    page = client.get(f"/crm_sfa/customer/{customer['id']}").text
    assert "Edit" in page
    assert "Move this record to the recycle bin?" not in page  # reps may not delete customers
    assert send(client, f"/crm_sfa/customer/{customer['id']}/delete").status_code == 403
    assert "Recycle bin" not in client.get("/crm_sfa/customer/").text
    assert client.get("/crm_sfa/customer/bin").status_code == 403
    assert client.get("/crm_sfa/product/new").status_code == 403
    assert client.get("/crm_sfa/nonexistent/").status_code == 404
    assert client.get("/no_such_app/customer/").status_code == 404


def test_a_manager_sees_the_department_and_finance_only_reads(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    east = add(app, "rep1", "customer", name="East Co")
    add(app, "rep3", "customer", name="West Co")
    sign_in("manager")
    listing = client.get("/crm_sfa/customer/").text
    assert "East Co" in listing
    assert "West Co" in listing
    assert "Recycle bin" in listing
    client.post("/logout", data={"csrf_token": _token(client)})
    sign_in("finance")
    detail = client.get(f"/crm_sfa/customer/{east['id']}").text
    assert "East Co" in detail
    assert f"/crm_sfa/customer/{east['id']}/edit" not in detail
    assert client.get(f"/crm_sfa/customer/{east['id']}/edit").status_code == 403


def _token(client: FlaskClient) -> str:
    from web.conftest import csrf_token

    return csrf_token(client, "/")


MARKUP = "<script>alert(1)</script><b onmouseover=x>b</b>"


def test_markup_in_values_is_shown_as_text(app: Flask, client: FlaskClient, sign_in: Login) -> None:
    customer = add(
        app,
        "rep1",
        "customer",
        name=MARKUP,
        address=MARKUP,
        remark=MARKUP,
        website="https://example.com/?q=<script>",
    )
    add(app, "rep1", "contact", name=MARKUP, customer=customer["id"])
    service(app).update(
        actor(app, "rep1"), "customer", customer["id"], {"short_name": MARKUP}, expected_version=1
    )
    sign_in("rep1")
    pages = [
        client.get("/crm_sfa/customer/"),
        client.get("/crm_sfa/customer/", query_string={"q": "alert"}),
        client.get(f"/crm_sfa/customer/{customer['id']}"),
        client.get(f"/crm_sfa/customer/{customer['id']}/edit"),
        client.get("/crm_sfa/contact/"),
        client.get("/crm_sfa/contact/lookup/customer", query_string={"q": "alert"}),
        client.get(f"/crm_sfa/contact/new?customer={customer['id']}"),
        send(client, "/crm_sfa/customer/new", {"name": MARKUP, "email": MARKUP}),
    ]
    for page in pages:
        assert page.status_code in (200, 422)
        assert "<script>alert" not in page.text
        assert "<b onmouseover" not in page.text
        assert "&lt;script&gt;" in page.text


def test_a_javascript_address_is_never_a_link(app: Flask) -> None:
    from formflow.web.display import Displayer

    crm = service(app).app
    website = crm.form("customer").field("website")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        shown = Displayer(crm).show(website, "javascript:alert(1)")
    assert shown.href is None
