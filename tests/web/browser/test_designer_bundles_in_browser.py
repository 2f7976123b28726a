"""In a real browser, at desktop and at 375 px: an admin imports a zip over the customised
CRM app and answers its merge on the upgrade page; another uploads a new release there. The
live app keeps the admin's label throughout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from formflow.config import Settings
from formflow.designer import Designer
from formflow.designer.bundles import write_bundle
from formflow.designer.operations import ConfigureField
from formflow.lifecycle.instance import Instance
from formflow.storage.versions import read_app_files
from support import CRM_APP

pytestmark = [pytest.mark.browser]

CUSTOMER = "forms/customer.yaml"
SHIPPED = "    label: {zh: 所属行业, en: Industry}\n"
SHOT = os.environ.get("FORMFLOW_DOC_SHOT")
"""Where to save the upload form's picture for docs/designer.md, when set."""


def customise(settings: Settings) -> None:
    """The admin relabelled the industry field and published it."""
    instance = Instance(settings)
    try:
        designer = Designer(instance)
        revision = designer.draft("crm_sfa").files[CUSTOMER].revision
        ours = ConfigureField("industry", "label", {"zh": "行业", "en": "Sector"})
        designer.apply("crm_sfa", CUSTOMER, revision, [ours], user_id=None)
        designer.publish("crm_sfa", None, "admin", "our label")
    finally:
        instance.close()


def zip_elsewhere(folder: Path, version: int | None) -> Path:
    """The app with the industry field relabelled differently, as a zip on disk."""
    files = read_app_files(CRM_APP)
    files[CUSTOMER] = files[CUSTOMER].replace(
        SHIPPED, "    label: {zh: 行业类别, en: Line of business}\n"
    )
    files["app.yaml"] = files["app.yaml"].replace('version: "1.0.0"', 'version: "9.9.0"')
    path = folder / "crm_sfa.zip"
    path.write_bytes(write_bundle("crm_sfa", version, files))
    return path


def live_label(settings: Settings) -> str:
    instance = Instance(settings)
    try:
        return str(instance.app("crm_sfa").forms["customer"].field("industry").label.zh)
    finally:
        instance.close()


def sign_in(page: Page, served: str) -> None:
    page.goto(f"{served}/login")
    page.fill("#username", "admin")
    page.fill("#password", "password-1")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_count(1)


def test_an_admin_imports_a_zip_and_answers_its_merge(
    page: Page, served: str, settings: Settings, tmp_path: Path
) -> None:
    customise(settings)
    bundle = zip_elsewhere(tmp_path, 5)
    sign_in(page, served)
    page.set_default_timeout(60_000)  # merging compiles the whole CRM app
    page.goto(f"{served}/admin/designer/crm_sfa/publish")
    page.set_input_files("#bundle", str(bundle))
    page.click("form[action$='/import'] button[type=submit]")
    expect(page.locator(".flash").first).to_contain_text("zip 已合并到草稿")
    expect(page.locator("#upgrade-heading")).to_contain_text("导入的 9.9.0 (version 5)")
    conflict = page.locator(".upgrade-conflicts article").first
    expect(conflict).to_contain_text("fields/industry/label")
    expect(conflict).to_contain_text("行业类别")
    conflict.locator("button[value=ours]").click()
    expect(page.locator(".upgrade-conflicts article").first).to_contain_text("已处理")
    assert live_label(settings) == "行业"


def test_an_admin_uploads_a_release_on_the_upgrade_page(
    page: Page, served: str, settings: Settings, tmp_path: Path
) -> None:
    customise(settings)
    release = zip_elsewhere(tmp_path, None)
    sign_in(page, served)
    page.set_default_timeout(60_000)
    page.goto(f"{served}/admin/designer/crm_sfa/upgrade")
    if SHOT and page.viewport_size and page.viewport_size["width"] > 400:
        page.click("form.language button")  # the docs' pictures are in English
        page.set_input_files("#release", str(release))
        page.screenshot(path=SHOT, full_page=True)
        page.click("form.language button")
    page.set_input_files("#release", str(release))
    page.click("form[action$='/upgrade/release'] button[type=submit]")
    expect(page.locator(".flash").first).to_contain_text("新版本已合并到草稿")
    expect(page.locator("#upgrade-heading")).to_contain_text("9.9.0")
    conflict = page.locator(".upgrade-conflicts article").first
    expect(conflict).to_contain_text("行业类别")
    assert live_label(settings) == "行业"


def test_a_hostile_zip_uploaded_in_the_browser_is_refused_beside_the_form(
    page: Page, served: str, settings: Settings, tmp_path: Path
) -> None:
    evil = tmp_path / "evil.zip"
    evil.write_bytes(b"PK\x03\x04 not a zip")
    sign_in(page, served)
    page.goto(f"{served}/admin/designer/crm_sfa/upgrade")
    page.set_input_files("#release", str(evil))
    page.click("form[action$='/upgrade/release'] button[type=submit]")
    expect(page.locator(".flash").first).to_contain_text("the file is not a zip")
    expect(page.locator("#release")).to_be_visible()
