"""In a real browser: an admin arranges the sales overview's widgets on the designer's grid
(dragging and resizing at desktop width, the arrow buttons and the columns choice at 375 px),
saves, publishes, and the dashboard shows the new order and width."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Locator, Page, expect
from test_designer_in_browser import sign_in

pytestmark = [pytest.mark.browser]

BOARD = "/admin/designer/crm_sfa/dashboards/sales_overview"
OVERVIEW = "/dashboards/crm_sfa/sales_overview"
PUBLISHING = 90_000
"""Publishing migrates the database and reloads the app: slow on a busy machine."""
SHOT = os.environ.get("FORMFLOW_DOC_SHOT")
"""Where to save the grid's picture for docs/designer.md, when set."""


def card(page: Page, key: str) -> Locator:
    return page.locator(f'#widget-grid li[data-widget="{key}"]')


def keys(page: Page) -> list[str]:
    found: list[str] = page.locator("#widget-grid li[data-widget]").evaluate_all(
        "items => items.map(i => i.dataset.widget)"
    )
    return found


def drag(page: Page, source: Locator, x: float, y: float) -> None:
    box = source.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(x, y, steps=12)
    page.mouse.move(x + 1, y, steps=4)
    page.mouse.up()


def arrange_by_dragging(page: Page) -> None:
    """Drag the third card before the first, then widen it to two columns by its corner."""
    first = card(page, "revenue_month").bounding_box()
    assert first is not None
    drag(page, card(page, "new_customers").locator(".handle"), first["x"] + 8, first["y"] + 8)
    expect(page.locator("#widget-grid li[data-widget]").first).to_have_attribute(
        "data-widget", "new_customers"
    )
    moved = card(page, "new_customers").bounding_box()
    assert moved is not None
    corner = card(page, "new_customers").locator(".widget-resize")
    drag(page, corner, moved["x"] + moved["width"] * 2, moved["y"] + moved["height"] - 4)
    expect(card(page, "new_customers")).to_have_class(re.compile(r"\bspan-2\b"))


def arrange_by_buttons(page: Page) -> None:
    """Move the third card up twice with the keyboard, and choose two columns for it."""
    up = card(page, "new_customers").locator("button[value='up:new_customers']")
    up.focus()
    page.keyboard.press("Enter")
    expect(up).to_be_focused()
    page.keyboard.press("Enter")
    card(page, "new_customers").locator("select[name=width]").select_option("2")


def test_an_admin_arranges_the_grid_and_the_dashboard_follows(page: Page, served: str) -> None:
    phone = bool(page.viewport_size and page.viewport_size["width"] < 400)
    sign_in(page, served, "admin")
    page.goto(f"{served}{BOARD}")
    before = keys(page)
    if phone:
        arrange_by_buttons(page)
    else:
        arrange_by_dragging(page)
    assert keys(page)[:3] == ["new_customers", *before[:2]]
    expect(page.locator("#grid-status")).not_to_be_empty()
    if SHOT and not phone:
        page.click("form.language button")  # the docs' pictures are in English
        arrange_by_dragging(page)
        page.evaluate("window.scrollTo(0, 0)")  # clear of the sticky top bar
        grid = page.locator("section[aria-labelledby=grid-heading]").bounding_box()
        assert grid is not None
        page.screenshot(path=SHOT, full_page=True, clip=grid)
        page.click("form.language button")  # back in Chinese, the arrangement unsaved
        arrange_by_dragging(page)
    page.click("#grid-save")
    expect(page.locator(".flash")).to_contain_text("布局已保存到草稿")
    assert keys(page)[:3] == ["new_customers", *before[:2]]
    expect(card(page, "new_customers").locator("select[name=width]")).to_have_value("2")

    page.goto(f"{served}/admin/designer/crm_sfa/publish")
    page.fill("#comment", "新客户放在最前")
    with page.expect_navigation(timeout=PUBLISHING):
        page.click("form[action$='/publish'] button[type=submit]", no_wait_after=True)
    expect(page.locator(".flash")).to_contain_text("第 2 版")
    page.goto(f"{served}{OVERVIEW}")
    widgets = page.locator(".dashboard-grid section[data-widget]")
    expect(widgets.first).to_have_attribute("data-widget", "new_customers")
    expect(widgets.first).to_have_class(re.compile(r"\bspan-2\b"))
    expect(widgets.nth(1)).to_have_attribute("data-widget", before[0])
