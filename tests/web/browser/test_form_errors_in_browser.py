"""A refused save in a real browser: where the person is taken."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from web.conftest import PASSWORD


def test_a_refused_save_focuses_the_first_marked_field(page: Page, served: str) -> None:
    """On a phone the summary at the top says what is wrong while the field sits screens
    below: the cursor goes to the first marked field, so the person lands on it."""
    page.goto(f"{served}/login")
    page.fill("#username", "rep1")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{served}/")
    page.goto(f"{served}/crm_sfa/customer/new")
    page.fill("#field-name", "星河智能制造有限公司")
    page.fill("#field-credit_code", "not-a-code")
    page.fill("#field-phone", "021-55550101")
    page.locator(".record-form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("#field-credit_code")).to_be_focused()
