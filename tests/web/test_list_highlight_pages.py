"""A list's ``highlight`` makes rows stand out: on the CRM's customers, those whose next
follow-up date has passed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web import records_support
from web.records_support import add

sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]


def customer_due(app: Flask, name: str, due: date) -> int:
    customer = add(app, "rep1", "customer", name=name)
    add(
        app,
        "rep1",
        "follow_up",
        customer=customer["id"],
        content="电话沟通",
        next_follow_up=due.isoformat(),
    )
    return int(customer["id"])


def highlighted_rows(page: str) -> list[str]:
    return re.findall(r'<tr class="highlight" data-highlight>(.*?)</tr>', page, re.S)


def test_a_customer_whose_next_follow_up_has_passed_stands_out(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer_due(app, "Overdue Holdings", date.today() - timedelta(days=3))
    customer_due(app, "Future Holdings", date.today() + timedelta(days=30))
    sign_in("rep1")
    [row] = highlighted_rows(client.get("/crm_sfa/customer/").text)
    assert "Overdue Holdings" in row


def test_a_list_without_highlight_marks_no_row(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer_due(app, "Overdue Holdings", date.today() - timedelta(days=3))
    sign_in("rep1")
    assert highlighted_rows(client.get("/crm_sfa/follow_up/").text) == []
