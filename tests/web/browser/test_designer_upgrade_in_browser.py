"""In a real browser, at desktop and at 375 px: an admin answers an upgrade's issues and
publishes it; the live app keeps the admin's label until then."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from formflow.config import Settings
from formflow.designer import Designer
from formflow.designer.operations import ConfigureField
from formflow.lifecycle.instance import Instance
from formflow.storage.versions import read_app_files
from support import CRM_APP

pytestmark = [pytest.mark.browser]

PAGE = "/admin/designer/crm_sfa/upgrade"
CUSTOMER = "forms/customer.yaml"
SHIPPED = "    label: {zh: 所属行业, en: Industry}\n"
SHOT = os.environ.get("FORMFLOW_DOC_SHOT")
"""Where to save the page's picture for docs/designer.md, when set."""


def start_upgrade(settings: Settings) -> None:
    """The admin relabelled the industry field; release 9.9 relabels it differently."""
    instance = Instance(settings)
    try:
        designer = Designer(instance)
        revision = designer.draft("crm_sfa").files[CUSTOMER].revision
        ours = ConfigureField("industry", "label", {"zh": "行业", "en": "Sector"})
        designer.apply("crm_sfa", CUSTOMER, revision, [ours], user_id=None)
        designer.publish("crm_sfa", None, "admin", "our label")
        release = read_app_files(CRM_APP)
        release[CUSTOMER] = release[CUSTOMER].replace(
            SHIPPED, "    label: {zh: 行业类别, en: Line of business}\n"
        )
        release["app.yaml"] = release["app.yaml"].replace('version: "1.0.0"', 'version: "9.9.0"')
        designer.upgrade("crm_sfa", release, None)
    finally:
        instance.close()


def live_label(settings: Settings) -> str:
    instance = Instance(settings)
    try:
        label = instance.app("crm_sfa").forms["customer"].field("industry").label.zh
        return str(label)
    finally:
        instance.close()


def sign_in(page: Page, served: str) -> None:
    page.goto(f"{served}/login")
    page.fill("#username", "admin")
    page.fill("#password", "password-1")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_count(1)


def test_an_admin_takes_the_release_s_label_and_publishes(
    page: Page, served: str, settings: Settings
) -> None:
    start_upgrade(settings)
    sign_in(page, served)
    page.goto(f"{served}{PAGE}")
    conflict = page.locator(".upgrade-conflicts article").first
    expect(conflict).to_contain_text("fields/industry/label")
    expect(conflict).to_contain_text("行业类别")
    if SHOT and page.viewport_size and page.viewport_size["width"] > 400:
        page.screenshot(path=SHOT, full_page=True)
    conflict.locator("button[value=theirs]").click()
    expect(page.locator(".flash")).to_contain_text("您的选择已写入草稿")
    expect(page.locator(".upgrade-conflicts article").first).to_contain_text("已处理")
    assert live_label(settings) == "行业"
    page.click("text=所有问题均已处理")
    page.fill("#comment", "升级到 9.9")
    page.set_default_timeout(60_000)  # publishing migrates the whole CRM app
    page.click("form[action$='/publish'] button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("第 3 版")
    assert live_label(settings) == "行业类别"
