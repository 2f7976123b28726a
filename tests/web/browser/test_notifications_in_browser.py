"""An approver sees the unread count on the bell in the header, opens the notification
from the list and lands on the record, on a 375 px phone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from formflow.config import Settings
from formflow.web import create_app
from support import serving
from web.browser.conftest import PHONE
from web.conftest import PASSWORD
from web.test_api_notifications import submitted_contract

pytestmark = [pytest.mark.browser]


@pytest.fixture
def company(settings: Settings) -> Iterator[tuple[Flask, str]]:
    app = create_app(settings)
    try:
        with serving(app) as base_url:
            yield app, base_url
    finally:
        app.extensions["formflow"].close()


def test_an_approver_sees_the_unread_count_and_opens_the_notification(
    browser: Browser, company: tuple[Flask, str]
) -> None:
    app, base_url = company
    record_id = submitted_contract(app, app.test_client())
    context = browser.new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, base_url=base_url
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    bell = page.locator("header a.bell")
    expect(bell.locator(".count")).to_have_text("1")
    bell.click()
    expect(page).to_have_url(f"{base_url}/notifications")
    item = page.locator("li.inbox-row.unread button.inbox-open").first
    expect(item).to_contain_text("待您审批")
    item.click()
    expect(page).to_have_url(f"{base_url}/crm_sfa/contract/{record_id}")
    expect(page.locator("header a.bell .count")).to_have_count(0)
    context.close()
