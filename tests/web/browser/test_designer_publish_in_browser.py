"""In a real browser, at desktop and at 375 px, what an admin's published designer work
does to the live app: a funnel widget shows on the dashboard the numbers its preview
showed, and rolling the customer form back loses no data (publishing the newer version
again brings every value back)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from test_designer_flows_in_browser import preview_a_funnel
from test_designer_in_browser import add_tier, sign_in

from formflow import accounts
from formflow.config import Settings
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from formflow.storage.database import read_transaction

pytestmark = [pytest.mark.browser]

PUBLISH = "/admin/designer/crm_sfa/publish"
PUBLISHING = 90_000
"""Publishing migrates the database and reloads the app: slow on a busy machine."""


def figures(page: Page, selector: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(page.locator(selector).get_attribute("data-figures") or "")
    return {"categories": found["categories"], "series": found["series"]}


def version(page: Page, number: int) -> Locator:
    """The history's entry of version ``number``."""
    return page.locator("ol.history > li").filter(
        has=page.locator("strong", has_text=re.compile(rf"^第 {number} 版$"))
    )


def slow_click(page: Page, button: Locator) -> None:
    """Click a button that publishes a version, and wait for the page that says so."""
    with page.expect_navigation(timeout=PUBLISHING):
        button.click(no_wait_after=True)
    expect(page.locator(".flash")).to_contain_text("已发布")


def publish(page: Page, comment: str) -> None:
    page.goto(f"{page.url.split('/admin/')[0]}{PUBLISH}")
    page.fill("#comment", comment)
    slow_click(page, page.locator("form[action$='/publish'] button[type=submit]"))


def test_a_saved_funnel_shows_on_the_dashboard_the_numbers_of_its_preview(
    page: Page, served: str, settings: Settings
) -> None:
    instance = Instance(settings)
    try:
        records = instance.records("crm_sfa")
        with read_transaction(instance.engine) as connection:
            user = accounts.find_user(connection, "rep1")
            assert user is not None
            rep = accounts.actor_for(connection, user, "crm_sfa")
        customer = records.create(rep, "customer", {"name": "漏斗客户"})
        for number, stage in enumerate(["initial_contact"] * 3 + ["proposal"] * 2 + ["won"]):
            records.create(
                rep,
                "opportunity",
                {
                    "name": f"商机 {number}",
                    "customer": customer["id"],
                    "stage": stage,
                    "amount": "10000",
                    "expected_close_date": "2027-03-31",
                    "owner": user.id,
                },
            )
    finally:
        instance.close()
    sign_in(page, served, "admin")
    preview_a_funnel(page, served)
    previewed = figures(page, "#widget-preview")
    assert sorted(value for series in previewed["series"] for value in series["data"]) == [1, 2, 3]
    page.click("#widget-save button[type=submit]")
    expect(page.locator('.designer-widgets li[data-widget="deal_funnel"]')).to_be_visible()
    publish(page, "商机漏斗")
    page.goto(f"{served}/dashboards/crm_sfa/sales_overview")
    page.locator('[data-widget="deal_funnel"]').scroll_into_view_if_needed()  # drawn when seen
    expect(page.locator('[data-widget="deal_funnel"] .chart[data-rendered=yes] svg')).to_be_visible(
        timeout=30_000
    )
    assert figures(page, '[data-widget="deal_funnel"]') == previewed


def test_rolling_the_customer_form_back_loses_no_data(
    page: Page, served: str, settings: Settings
) -> None:
    sign_in(page, served, "admin")
    add_tier(page, served)
    publish(page, "客户分级")
    instance = Instance(settings)
    try:
        kept = instance.records("crm_sfa").create(
            Actor.system(), "customer", {"name": "金牌客户", "tier": "gold"}
        )
    finally:
        instance.close()

    page.goto(f"{served}{PUBLISH}")
    slow_click(page, version(page, 1).locator("button", has_text="重新发布此版本"))
    page.goto(f"{served}/crm_sfa/customer/{kept['id']}")
    expect(page.locator("main")).to_contain_text("金牌客户")
    expect(page.locator('[data-field="tier"]')).to_have_count(0)

    page.goto(f"{served}{PUBLISH}")
    slow_click(page, version(page, 2).locator("button", has_text="重新发布此版本"))
    page.goto(f"{served}/crm_sfa/customer/{kept['id']}")
    expect(page.locator("main")).to_contain_text("gold")
