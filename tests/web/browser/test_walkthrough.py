"""A sales rep's day in a real browser, at desktop and phone size.

rep1 signs in, creates a customer and two contacts for it, trips over a validation error,
finds the customer by filter and by search, edits it and sees the change in its history
and its contacts on its page; rep2 (same department, but reps only read their own
customers) cannot see it anywhere. At phone size the customer form and the detail page
are screenshotted to /tmp/formflow-shots/ and must not scroll sideways.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect

PASSWORD = "password-1"
PHONE = {"width": 375, "height": 740}  # as in conftest.py
SHOTS = Path("/tmp/formflow-shots")
CUSTOMERS = "/crm_sfa/customer/"
NAME = "星河智能制造有限公司"
CREDIT_CODE = "91310000MA1FL1234Q"  # its check digit right (GB 32100-2015)


def sign_in(page: Page, served: str, username: str) -> None:
    page.goto(f"{served}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{served}/")


def no_sideways_scroll(page: Page) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    if width == PHONE["width"]:  # at desktop size wide tables may scroll on purpose
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{page.url} scrolls sideways: {scroll_width}px"


def screenshot(page: Page, name: str) -> None:
    if page.viewport_size and page.viewport_size["width"] == PHONE["width"]:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def field(page: Page, key: str) -> Locator:
    return page.locator(f'.record-form [data-field="{key}"]')


def test_a_rep_works_a_customer_that_a_colleague_cannot_see(
    page: Page, served: str, browser: Browser
) -> None:
    sign_in(page, served, "rep1")

    # A customer with a bad credit code: the error sits by its field, the input stays.
    page.goto(f"{served}{CUSTOMERS}new")
    no_sideways_scroll(page)
    page.fill("#field-name", NAME)
    page.fill("#field-credit_code", "not-a-code")
    page.select_option("#field-level", "A")
    page.select_option("#field-industry", "manufacturing")
    page.select_option("#field-region", "east_china")
    page.fill("#field-phone", "021-55550101")
    page.locator(".record-form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    credit = field(page, "credit_code")
    expect(credit).to_have_class(re.compile(r"\bhas-error\b"))
    expect(credit.locator(".error")).to_be_visible()
    expect(page.locator("#field-credit_code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-credit_code")).to_have_value("not-a-code")
    expect(page.locator("#field-name")).to_have_value(NAME)
    expect(page.locator("#field-level")).to_have_value("A")
    expect(page.locator("#field-industry")).to_have_value("manufacturing")
    expect(page.locator("#field-phone")).to_have_value("021-55550101")
    expect(field(page, "name").locator(".error")).to_have_count(0)
    screenshot(page, "customer-form-error")
    no_sideways_scroll(page)

    # Corrected, it saves and lands on the new customer's page.
    page.fill("#field-credit_code", CREDIT_CODE)
    page.locator(".record-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/crm_sfa/customer/\d+$"))
    expect(page.locator("h1")).to_have_text(NAME)
    customer_url = page.url
    customer_id = customer_url.rsplit("/", 1)[1]

    # Two contacts: one through the prefilled link, one through search-as-you-type.
    page.goto(f"{served}/crm_sfa/contact/new?customer={customer_id}")
    expect(page.locator("#field-customer-search")).to_have_value(NAME)
    page.fill("#field-name", "张伟")
    page.fill("#field-title", "采购经理")
    page.locator(".record-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/crm_sfa/contact/\d+$"))
    expect(page.locator("h1")).to_have_text("张伟")

    # The second one forgets its (required) name first: the error is by the name, and
    # the picked customer and the typed job title survive the round trip.
    page.goto(f"{served}/crm_sfa/contact/new")
    search = page.locator("#field-customer-search")
    picked = field(page, "customer").locator("input[type=hidden]")
    search.press_sequentially("星河")
    choice = field(page, "customer").locator("[data-link-choose]", has_text=NAME)
    choice.click()
    expect(search).to_have_value(NAME)
    expect(picked).to_have_value(customer_id)
    page.fill("#field-title", "技术总监")
    page.locator(".record-form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(field(page, "name")).to_have_class(re.compile(r"\bhas-error\b"))
    expect(field(page, "name").locator("#error-name .error")).to_be_visible()
    expect(page.locator("#field-name")).to_have_attribute("aria-invalid", "true")
    expect(field(page, "customer").locator(".error")).to_have_count(0)
    expect(search).to_have_value(NAME)
    expect(picked).to_have_value(customer_id)
    expect(page.locator("#field-title")).to_have_value("技术总监")
    page.fill("#field-name", "李娜")
    page.locator(".record-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/crm_sfa/contact/\d+$"))
    expect(page.locator("h1")).to_have_text("李娜")

    # Found by a list filter and by full-text search.
    page.goto(f"{served}{CUSTOMERS}")
    results = page.locator("#results")
    page.locator("details.filter-panel > summary").click()
    page.select_option("#filter-level", "A")
    expect(page).to_have_url(re.compile(r"level=A"))
    expect(results.get_by_role("link", name=NAME)).to_be_visible()
    page.select_option("#filter-level", "B")
    expect(page).to_have_url(re.compile(r"level=B"))
    expect(results.get_by_role("link", name=NAME)).to_have_count(0)
    page.goto(f"{served}{CUSTOMERS}")
    page.fill("#list-search", "星河智能")
    expect(page).to_have_url(re.compile(r"q="))
    expect(results.get_by_role("link", name=NAME)).to_be_visible()
    no_sideways_scroll(page)

    # Edit: the level changes, and the history says so.
    results.get_by_role("link", name=NAME).click()
    expect(page).to_have_url(customer_url)
    page.locator(".page-head .actions a.primary").click()
    expect(page).to_have_url(f"{customer_url}/edit")
    expect(page.locator("#field-credit_code")).to_have_value(CREDIT_CODE)
    page.select_option("#field-level", "B")
    page.locator(".record-form button[type=submit]").click()
    expect(page).to_have_url(customer_url)
    timeline = page.locator("ol.timeline")
    change = timeline.locator(".changes li", has_text="客户级别")
    expect(change).to_have_count(1)
    expect(change).to_contain_text("A类（重点客户）")
    expect(change).to_contain_text("B类（普通客户）")
    expect(timeline.locator("> li")).to_have_count(2)

    related = page.locator("section.related", has=page.locator("a", has_text="张伟"))
    expect(related.locator("ul.recent li")).to_have_count(2)
    expect(related.get_by_role("link", name="张伟")).to_be_visible()
    expect(related.get_by_role("link", name="李娜")).to_be_visible()
    screenshot(page, "customer-detail")
    no_sideways_scroll(page)

    # rep2, in the same department, sees none of it.
    viewport = page.viewport_size
    other = browser.new_context(
        viewport=viewport, locale="zh-CN", is_mobile=viewport == PHONE, has_touch=viewport == PHONE
    )
    try:
        other.set_default_timeout(10_000)
        rep2 = other.new_page()
        sign_in(rep2, served, "rep2")
        rep2.goto(f"{served}{CUSTOMERS}")
        expect(rep2.locator("#results")).to_be_visible()
        expect(rep2.get_by_role("link", name=NAME)).to_have_count(0)
        rep2.fill("#list-search", "星河")
        expect(rep2).to_have_url(re.compile(r"q="))
        expect(rep2.locator("#results table.records")).to_have_count(0)
        expect(rep2.get_by_role("link", name=NAME)).to_have_count(0)
        response = rep2.goto(customer_url)
        assert response is not None
        assert response.status == 404
        expect(rep2.locator("body")).not_to_contain_text(NAME)
        contact_list = rep2.goto(f"{served}/crm_sfa/contact/")
        assert contact_list is not None
        assert contact_list.ok
        expect(rep2.get_by_role("link", name="张伟")).to_have_count(0)
    finally:
        other.close()
