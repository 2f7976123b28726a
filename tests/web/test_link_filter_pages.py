"""A link with ``link_filter`` narrows its picker by the value chosen on the page: a
follow-up's opportunity picker lists only the chosen customer's opportunities."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web import records_support
from web.records_support import add

sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]
LOOKUP = "/crm_sfa/follow_up/lookup/opportunity"


def deal(app: Flask, company: str) -> int:
    customer = add(app, "rep1", "customer", name=company)
    values = {"customer": customer["id"], "amount": "1000", "expected_close_date": "2026-06-30"}
    add(app, "rep1", "opportunity", name=f"{company} deal", **values)
    return int(customer["id"])


def test_the_picker_sends_the_chosen_customer_along(client: FlaskClient, sign_in: Login) -> None:
    sign_in("rep1")
    page = client.get("/crm_sfa/follow_up/new").text
    assert f'hx-get="{LOOKUP}"' in page
    assert 'hx-include="[name=customer]"' in page


def test_the_picker_lists_only_the_chosen_customers_opportunities(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    chosen = deal(app, "Acme")
    deal(app, "Globex")
    sign_in("rep1")
    narrowed = client.get(LOOKUP, query_string={"customer": str(chosen), "q": ""}).text
    assert "Acme deal" in narrowed
    assert "Globex deal" not in narrowed


def test_without_a_customer_the_picker_lists_every_opportunity(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    deal(app, "Acme")
    deal(app, "Globex")
    sign_in("rep1")
    listed = client.get(LOOKUP, query_string={"customer": "", "q": ""}).text
    assert "Acme deal" in listed
    assert "Globex deal" in listed


def test_a_follow_up_added_from_an_opportunity_shows_its_customer(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")["id"]
    values = {"customer": customer, "amount": "1000", "expected_close_date": "2026-06-30"}
    opportunity = add(app, "rep1", "opportunity", name="Acme deal", **values)
    sign_in("rep1")
    page = client.get("/crm_sfa/follow_up/new", query_string={"opportunity": opportunity["id"]})
    assert re.search(rf'<input[^>]*name="customer"[^>]*value="{customer}"', page.text)
    assert 'value="Acme"' in page.text
