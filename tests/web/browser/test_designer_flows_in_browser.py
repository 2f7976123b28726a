"""In a real browser, at desktop and at 375 px: an admin draws a step into an approval flow,
simulates it and undoes it; draws parallel lanes and an escalation; adds a countersign step
to the invoice flow and publishes it, and new requests use it while a running one finishes
on its pinned version; and composes a dashboard widget, previews it and saves it."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, Locator, Page, expect
from test_designer_in_browser import sign_in

from formflow.records.access import Actor
from web.approval_people import an_invoice
from web.browser.conftest import person

pytestmark = [pytest.mark.browser]

FLOW = "/admin/designer/crm_sfa/workflows/contract_approval"
INVOICE_FLOW = "/admin/designer/crm_sfa/workflows/invoice_request"
BOARD = "/admin/designer/crm_sfa/dashboards/sales_overview"
SWAP = 20_000
"""How long a designer answer may take on a busy machine (it compiles the draft's app)."""
PUBLISHING = 90_000
"""Publishing migrates the database and reloads the app: slow on a busy machine."""


def revision(page: Page) -> str:
    return str(page.locator("#designer-page input[name=revision]").first.input_value())


def apply(page: Page, button: Locator) -> None:
    """Submit one designer form and wait until htmx has swapped in the saved draft."""
    before = revision(page)
    button.click()
    expect(page.locator("#designer-page input[name=revision]").first).not_to_have_value(
        before, timeout=SWAP
    )


def undo(page: Page) -> None:
    before = revision(page)
    page.click("#designer-undo")
    expect(page.locator("#designer-page input[name=revision]").first).not_to_have_value(
        before, timeout=SWAP
    )


def test_an_admin_adds_a_countersign_step_simulates_and_undoes_it(page: Page, served: str) -> None:
    sign_in(page, served, "admin")
    page.goto(f"{served}{FLOW}")
    plus = page.locator('details[data-plus="manager"]')
    plus.locator("summary").click()
    page.fill("#step-key-manager", "legal")
    page.fill("#step-zh-manager", "法务会签")
    apply(page, plus.locator(".flow-add-step button[type=submit]"))
    node = page.locator('li.flow-node[data-node="legal"]')
    expect(node).to_be_visible()
    node.locator("textarea[name=rules]").fill("role: finance")  # the new step is open
    apply(page, node.locator(".node-people button[type=submit]"))
    node.locator("select[name=mode]").select_option("all")
    apply(page, node.locator(".node-mode button[type=submit]"))
    expect(page.locator("#designer-errors")).to_have_count(0)

    page.fill("#v_amount", "600000")
    page.click(".flow-simulate button[type=submit]")
    path = page.locator("#simulation li")
    expect(path.first).to_have_attribute("data-node", "start", timeout=SWAP)
    expect(page.locator('#simulation li[data-node="legal"]')).to_be_visible()
    expect(page.locator('#simulation li[data-node="director"]')).to_be_visible()

    for _ in range(3):
        undo(page)
    expect(page.locator('li.flow-node[data-node="legal"]')).to_have_count(0)
    expect(page.locator("#designer-redo")).to_be_enabled()


def test_an_admin_draws_parallel_lanes_and_an_escalation(page: Page, served: str) -> None:
    sign_in(page, served, "admin")
    page.goto(f"{served}{FLOW}")
    plus = page.locator('details[data-plus="manager"]')
    plus.locator("summary").click()
    page.fill("#par-key-manager", "checks")
    page.fill("#par-a-manager", "legal")
    page.fill("#par-b-manager", "audit")
    apply(page, plus.locator(".flow-add-parallel button[type=submit]"))
    parallel = page.locator('li.flow-node[data-node="checks"]')
    lanes = parallel.locator(".flow-lanes")
    expect(lanes.locator('li.flow-node[data-node="legal"]')).to_be_visible()
    expect(lanes.locator('li.flow-node[data-node="audit"]')).to_be_visible()
    page.select_option("#join-checks", "any")  # the parallel node just added is open
    apply(page, parallel.locator(".node-join button[type=submit]"))
    expect(page.locator(".designer-yaml textarea")).to_contain_text("join: any")

    lane_plus = page.locator('details[data-lane-plus="checks-lane-0"]')
    lane_plus.locator("summary").click()
    page.fill("#lane-key-checks-lane-0", "tell_sales")
    page.select_option("#lane-type-checks-lane-0", "cc")
    apply(page, lane_plus.locator("button[type=submit]"))
    lane = page.locator('li.flow-node[data-node="checks"] [data-lane="1"]')
    expect(lane.locator('li.flow-node[data-node="tell_sales"]')).to_be_visible()
    expect(page.locator(".designer-yaml textarea")).to_contain_text(
        "lanes: [[legal, tell_sales], [audit]]"
    )

    manager = page.locator('li.flow-node[data-node="manager"]')
    manager.locator("summary").first.click()
    page.fill("#remind-manager", "24")
    page.fill("#after-manager", "72")
    page.select_option("#timeout-action-manager", "escalate")
    apply(page, manager.locator(".node-timeout button[type=submit]"))
    expect(page.locator(".designer-yaml textarea")).to_contain_text(
        "timeout: {remind_after_hours: 24, after_hours: 72, action: escalate}"
    )
    expect(page.locator("#designer-errors")).to_have_count(0)

    page.fill("#remind-manager", "96")  # the step just edited stays open
    apply(page, manager.locator(".node-timeout button[type=submit]"))
    beside = page.locator("#errors-manager")
    expect(beside).to_contain_text("after_hours (72) must be later than remind_after_hours (96)")
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert page.viewport_size is not None
    assert width <= page.viewport_size["width"]

    undo(page)
    expect(page.locator("#errors-manager")).to_have_count(0)
    expect(page.locator("#remind-manager")).to_have_value("24")


def test_a_countersign_step_published_to_the_invoice_flow_is_used_by_new_requests_only(
    browser: Browser, company: tuple[Flask, str]
) -> None:
    """The Done-when of the workflow designer: running requests finish on their pinned
    version of the flow; requests submitted after the publish take the new step."""
    app, base_url = company
    running = an_invoice(app, title="Old")
    rep = person(browser, base_url, "rep1")
    rep.goto(f"/crm_sfa/invoice/{running['id']}")
    rep.click("button[value='submit/invoice_request']")
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "running"
    )

    admin = person(browser, base_url, "admin")
    admin.goto(INVOICE_FLOW)
    plus = admin.locator('details[data-plus="manager"]')
    plus.locator("summary").click()
    admin.fill("#step-key-manager", "countersign")
    admin.fill("#step-zh-manager", "经理与财务会签")
    apply(admin, plus.locator(".flow-add-step button[type=submit]"))
    node = admin.locator('li.flow-node[data-node="countersign"]')
    node.locator("textarea[name=rules]").fill("users: [manager, finance]")
    apply(admin, node.locator(".node-people button[type=submit]"))
    node.locator("select[name=mode]").select_option("all")
    apply(admin, node.locator(".node-mode button[type=submit]"))
    expect(admin.locator("#designer-errors")).to_have_count(0)
    admin.goto("/admin/designer/crm_sfa/publish")
    admin.fill("#comment", "开票加会签")
    with admin.expect_navigation(timeout=PUBLISHING):
        admin.click("form[action$='/publish'] button[type=submit]", no_wait_after=True)
    expect(admin.locator(".flash")).to_contain_text("第 2 版")

    fresh = an_invoice(app, title="New")
    rep.goto(f"/crm_sfa/invoice/{fresh['id']}")
    rep.click("button[value='submit/invoice_request']")
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "running"
    )
    manager = person(browser, base_url, "manager")
    for invoice in (running, fresh):
        manager.goto("/inbox")
        row = manager.locator(".inbox-row", has_text=invoice["number"])
        row.locator("button[value=approve]").click()
        expect(manager.locator(".flash")).to_contain_text("已同意")

    flows = app.extensions["formflow"].workflows("crm_sfa")
    rep.goto(f"/crm_sfa/invoice/{fresh['id']}")
    expect(rep.locator("[data-approval-holders]")).to_have_text("manager, finance")
    assert flows.instance_for("invoice", fresh["id"]).nodes == ("countersign",)
    rep.goto(f"/crm_sfa/invoice/{running['id']}")
    expect(rep.locator("[data-approval-holders]")).to_have_text("finance")
    assert flows.instance_for("invoice", running["id"]).nodes == ("finance",)

    finance = person(browser, base_url, "finance")
    finance.goto(f"/crm_sfa/invoice/{running['id']}")
    decision = finance.locator("form.decision")
    decision.locator("input[name=invoice_no]").fill("NO-OLD-1")
    decision.locator("input[name=issued_date]").fill("2026-12-04")
    decision.locator("button[value=approve]").click()
    expect(finance.locator(".flash")).to_contain_text("已同意")
    record = (
        app.extensions["formflow"].records("crm_sfa").get(Actor.system(), "invoice", running["id"])
    )
    assert record["status"] == "issued"
    for someone in (rep, admin, manager, finance):
        someone.context.close()


def preview_a_funnel(page: Page, served: str) -> None:
    """Compose a funnel of opportunities by stage (``deal_funnel``) and preview it."""
    page.goto(f"{served}{BOARD}")
    page.fill("#w_key", "deal_funnel")
    page.fill("#w_label_zh", "商机漏斗")
    page.select_option("#w_form", "opportunity")
    page.select_option("#w_kind", "funnel")
    page.fill("#w_dimension", "stage")
    page.click("#widget-choices button[type=submit]")


def test_an_admin_previews_a_funnel_and_saves_it(page: Page, served: str) -> None:
    sign_in(page, served, "admin")
    preview_a_funnel(page, served)
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
