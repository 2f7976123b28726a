"""In a real browser: an admin draws a step into an approval flow, simulates it and undoes
it; and composes a dashboard widget, previews it and saves it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from test_designer_in_browser import sign_in

pytestmark = [pytest.mark.browser]

FLOW = "/admin/designer/crm_sfa/workflows/contract_approval"
BOARD = "/admin/designer/crm_sfa/dashboards/sales_overview"


def test_an_admin_adds_a_countersign_step_simulates_and_undoes_it(page: Page, served: str) -> None:
    sign_in(page, served, "admin")
    page.goto(f"{served}{FLOW}")
    plus = page.locator('details[data-plus="manager"]')
    plus.locator("summary").click()
    page.fill("#step-key-manager", "legal")
    page.fill("#step-zh-manager", "法务会签")
    plus.locator(".flow-add-step button[type=submit]").click()
    node = page.locator('li.flow-node[data-node="legal"]')
    expect(node).to_be_visible()
    node.locator("summary").first.click()
    node.locator("textarea[name=rules]").fill("role: finance")
    node.locator(".node-people button[type=submit]").click()
    node = page.locator('li.flow-node[data-node="legal"]')
    node.locator("summary").first.click()
    node.locator("select[name=mode]").select_option("all")
    node.locator(".node-mode button[type=submit]").click()
    expect(page.locator("#designer-errors")).to_have_count(0)

    page.fill("#v_amount", "600000")
    page.click(".flow-simulate button[type=submit]")
    path = page.locator("#simulation li")
    expect(path.first).to_have_attribute("data-node", "start")
    expect(page.locator('#simulation li[data-node="legal"]')).to_be_visible()
    expect(page.locator('#simulation li[data-node="director"]')).to_be_visible()

    for _ in range(3):
        with page.expect_navigation():
            page.click("#designer-undo")
    expect(page.locator('li.flow-node[data-node="legal"]')).to_have_count(0)
    expect(page.locator("#designer-redo")).to_be_enabled()


def test_an_admin_previews_a_funnel_and_saves_it(page: Page, served: str) -> None:
    sign_in(page, served, "admin")
    page.goto(f"{served}{BOARD}")
    page.fill("#w_key", "deal_funnel")
    page.fill("#w_label_zh", "商机漏斗")
    page.select_option("#w_form", "opportunity")
    page.select_option("#w_kind", "funnel")
    page.fill("#w_dimension", "stage")
    page.click("#widget-choices button[type=submit]")
    expect(page.locator("#widget-preview")).to_be_visible()
    expect(page.locator('.designer-widgets li[data-widget="deal_funnel"]')).to_have_count(0)
    page.click("#widget-save button[type=submit]")
    expect(page.locator('.designer-widgets li[data-widget="deal_funnel"]')).to_be_visible()


def test_an_admin_renames_a_field_and_undoes_it(page: Page, served: str) -> None:
    sign_in(page, served, "admin")
    page.goto(f"{served}/admin/designer/crm_sfa/forms/customer?field=industry")
    page.fill("#rename_key", "sector")
    page.click("form.rename-field button[type=submit]")
    expect(page.locator('.field-list li[data-key="sector"]')).to_be_visible()
    expect(page.locator(".designer-yaml textarea")).to_contain_text("renamed_from: industry")
    page.click("#designer-undo")
    expect(page.locator('.field-list li[data-key="industry"]')).to_be_visible()
