"""A rep picks a contract on a new invoice request: the customer, the contract's amount and
what is left to invoice appear at once, before saving, and the saved request keeps them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from formflow.config import Settings
from formflow.records.access import Actor
from formflow.web import create_app
from support import serving
from web.browser.conftest import DESKTOP
from web.conftest import PASSWORD
from web.records_support import actor

pytestmark = [pytest.mark.browser]


@pytest.fixture
def contract(settings: Settings) -> Iterator[tuple[Flask, str, dict[str, Any]]]:
    app = create_app(settings)
    records = app.extensions["formflow"].records("crm_sfa")
    rep = actor(app, "rep1")
    customer = records.create(rep, "customer", {"name": "华信科技有限公司"})
    values = {"name": "年度服务合同", "customer": customer["id"], "amount": "1000"}
    made = records.create(rep, "contract", {**values, "status": "approved"}, grant={"status"})
    try:
        with serving(app) as base_url:
            yield app, base_url, made
    finally:
        app.extensions["formflow"].close()


def test_picking_a_contract_fills_the_invoice_request(
    browser: Browser, contract: tuple[Flask, str, dict[str, Any]]
) -> None:
    app, base_url, made = contract
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", base_url=base_url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", "rep1")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{base_url}/")

    page.goto("/crm_sfa/invoice/new")
    page.fill("#field-contract-search", "年度")
    page.locator("[data-link-choose]").first.click()
    expect(page.locator('[data-field="customer"] > .readonly')).to_have_text("华信科技有限公司")
    expect(page.locator('[data-field="contract_amount"] > .readonly')).to_contain_text("1,000")
    expect(page.locator('[data-field="left_to_invoice"] > .readonly')).to_contain_text("1,000")

    page.fill("#field-amount", "300")
    page.select_option("#field-invoice_type", "vat_general")
    page.fill("#field-invoice_title", "华信科技有限公司")
    page.locator("form.record-form button[type=submit]").first.click()
    expect(page.locator(".flash")).to_be_visible()
    records = app.extensions["formflow"].records("crm_sfa")
    saved = records.find(Actor.system(), "invoice").rows
    assert [row["customer"] for row in saved] == [made["customer"]]
    context.close()
