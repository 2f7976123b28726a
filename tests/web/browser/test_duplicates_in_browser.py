"""A rep on a phone types a company that is already a pool customer: the form says so under
the field while they type, warns again on save, and "Save anyway" stores the lead."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from formflow.config import Settings
from formflow.records.access import Actor
from formflow.web import create_app
from support import serving
from web.browser.conftest import person

pytestmark = [pytest.mark.browser]


@pytest.fixture
def served_with_pool(settings: Settings) -> Iterator[tuple[Flask, str]]:
    app = create_app(settings)
    records = app.extensions["formflow"].records("crm_sfa")
    records.create(
        Actor.system(), "customer", {"name": "华为技术有限公司", "owner": None, "in_pool": True}
    )
    try:
        with serving(app) as base_url:
            yield app, base_url
    finally:
        app.extensions["formflow"].close()


def test_a_duplicate_company_is_shown_while_typing_and_saved_only_when_confirmed(
    browser: Browser, served_with_pool: tuple[Flask, str]
) -> None:
    _app, base_url = served_with_pool
    page = person(browser, base_url, "rep1", phone=True)
    page.goto("/crm_sfa/lead/new")
    page.fill("#field-company", "华为 技术")
    expect(page.locator("#duplicates-company")).to_contain_text("公海")
    page.fill("#field-contact_name", "王五")
    page.select_option("#field-source", "website")
    page.click("form.record-form button.primary")
    expect(page.locator(".alert")).to_contain_text("可能与已有记录重复")
    expect(page.locator("#field-company")).to_have_value("华为 技术")
    page.click("[data-confirm-duplicates]")
    expect(page.locator(".flash")).to_be_visible()
