"""A rep on a phone claims a customer from the public pool, then hits the daily claim limit.

The pool customers are there before the rep signs in; nine claims earlier in the day
leave the rep one: the tenth goes through, the eleventh is refused with the limit's
message on the customer's page, and the customer stays in the pool.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Dialog, Page, expect

from formflow.config import Settings
from formflow.records.access import Actor
from formflow.web import create_app
from support import serving
from web.browser.conftest import PHONE
from web.conftest import PASSWORD
from web.records_support import actor

pytestmark = [pytest.mark.browser]


@pytest.fixture
def pool(settings: Settings) -> Iterator[tuple[Flask, str, list[dict[str, Any]]]]:
    app = create_app(settings)
    records = app.extensions["formflow"].records("crm_sfa")
    customers = [
        records.create(
            Actor.system(),
            "customer",
            {"name": f"公海客户{n:02d}有限公司", "owner": None, "in_pool": True},
        )
        for n in range(11)
    ]
    rep = actor(app, "rep1")
    app.extensions["formflow"].record_actions("crm_sfa").run(
        rep, "customer", [c["id"] for c in customers[:9]], "claim"
    )
    try:
        with serving(app) as base_url:
            yield app, base_url, customers
    finally:
        app.extensions["formflow"].close()


def on_phone(browser: Browser, base_url: str, username: str) -> Page:
    context = browser.new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, base_url=base_url
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: _accept(dialog))
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{base_url}/")
    return page


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def test_a_rep_claims_a_pool_customer_and_then_hits_the_daily_limit(
    browser: Browser, pool: tuple[Flask, str, list[dict[str, Any]]]
) -> None:
    app, base_url, customers = pool
    page = on_phone(browser, base_url, "rep1")
    tenth, eleventh = customers[9], customers[10]

    page.goto(f"/crm_sfa/customer/{tenth['id']}")
    page.get_by_role("button", name="领取").click()
    expect(page.locator(".flash")).to_contain_text("已完成：领取")
    expect(page.get_by_role("button", name="领取")).to_have_count(0)

    page.goto(f"/crm_sfa/customer/{eleventh['id']}")
    page.get_by_role("button", name="领取").click()
    expect(page.locator(".flash")).to_contain_text("每天最多 10 次")
    records = app.extensions["formflow"].records("crm_sfa")
    assert records.get(Actor.system(), "customer", eleventh["id"])["owner"] is None
