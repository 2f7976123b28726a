"""In a real browser, at desktop and at 375 px: an admin adds a required select field to the
customer form and publishes it; a rep then fills it in, and existing customers are intact."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from formflow.config import Settings
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor

pytestmark = [pytest.mark.browser]

DESIGNER = "/admin/designer/crm_sfa/forms/customer"


def sign_in(page: Page, served: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{served}/login")
    page.fill("#username", username)
    page.fill("#password", "password-1")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_count(1)


def add_tier(page: Page, served: str, *, default: str = "", required: bool = False) -> None:
    """Add the select field ``tier`` (gold, silver) to the customer form's draft."""
    page.goto(f"{served}{DESIGNER}")
    page.click("details.add-field summary")
    page.fill("#new_key", "tier")
    page.select_option("#new_type", "select")
    page.fill("#new_label_zh", "客户等级")
    page.fill("#new_label_en", "Tier")
    page.fill("#new_options", "gold\nsilver")
    page.fill("#new_default", default)
    if required:
        page.check("input[name=new_required]")
    page.click("details.add-field button[type=submit]")
    expect(page.locator('.field-list li[data-key="tier"]')).to_be_visible()


def test_an_admin_adds_a_required_select_and_a_rep_sees_it(
    page: Page, served: str, settings: Settings
) -> None:
    instance = Instance(settings)
    try:
        kept = instance.records("crm_sfa").create(Actor.system(), "customer", {"name": "老客户"})
    finally:
        instance.close()
    sign_in(page, served, "admin")
    add_tier(page, served, default="silver", required=True)
    expect(page.locator('[data-preview="phone"] [data-field="tier"]')).to_be_attached()
    page.goto(f"{served}/admin/designer/crm_sfa/publish")
    expect(page.locator("ul.changes")).to_contain_text("客户等级")
    page.fill("#comment", "客户分级")
    page.click("form[action$='/publish'] button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("第 2 版")

    sign_in(page, served, "rep1")
    page.goto(f"{served}/crm_sfa/customer/new")
    field = page.locator('[data-field="tier"]')
    expect(field).to_be_visible()
    expect(field.locator(".required")).to_contain_text("客户等级")
    instance = Instance(settings)
    try:
        record = instance.records("crm_sfa").get(Actor.system(), "customer", kept["id"])
    finally:
        instance.close()
    assert (record["name"], record["tier"]) == ("老客户", "silver")


def test_the_field_list_reorders_with_the_keyboard_buttons(page: Page, served: str) -> None:
    sign_in(page, served, "admin")
    page.goto(f"{served}{DESIGNER}")
    keys = page.locator(".field-list li").evaluate_all("items => items.map(i => i.dataset.key)")
    page.click(f'button[aria-label="Move {keys[1]} up"], button[aria-label="上移 {keys[1]}"]')
    expect(page.locator(".field-list li").first).to_have_attribute("data-key", keys[1])
    expect(page.locator(".field-list li").nth(1)).to_have_attribute("data-key", keys[0])


def test_dragging_a_field_saves_the_new_order(page: Page, served: str) -> None:
    sign_in(page, served, "admin")
    page.goto(f"{served}{DESIGNER}")
    items = page.locator(".field-list li")
    keys = items.evaluate_all("items => items.map(i => i.dataset.key)")
    source = items.nth(2).locator(".handle").bounding_box()
    target = items.nth(0).locator(".handle").bounding_box()
    assert source is not None
    assert target is not None
    page.mouse.move(source["x"] + 4, source["y"] + 4)
    page.mouse.down()
    page.mouse.move(target["x"] + 4, target["y"] + 2, steps=12)
    page.mouse.move(target["x"] + 4, target["y"] + 1, steps=4)
    with page.expect_response(lambda response: response.url.endswith(DESIGNER)) as answer:
        page.mouse.up()
    assert answer.value.ok
    expect(page.locator(".field-list li").first).to_have_attribute("data-key", keys[2])
    page.reload()
    expect(page.locator(".field-list li").first).to_have_attribute("data-key", keys[2])


def test_the_yaml_tab_names_a_mistake_with_its_place_as_it_is_typed(
    page: Page, served: str
) -> None:
    sign_in(page, served, "admin")
    page.goto(f"{served}{DESIGNER}")
    yaml_tab = page.locator(".designer-yaml textarea")
    yaml_tab.fill(yaml_tab.input_value().replace("required: true", "requird: true", 1))
    expect(page.locator("#yaml-check")).to_contain_text("forms/customer.yaml:")
    expect(page.locator("#yaml-check")).to_contain_text("requird")
