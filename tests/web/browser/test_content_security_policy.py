"""Pages work under the Content-Security-Policy in a real browser: scripts, htmx and styles
all load from the app, and nothing is refused (the ``page`` fixture fails a test on any
refusal). A script slipped into a page does not run."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

PASSWORD = "password-1"


def sign_in(page: Page, served: str, username: str) -> None:
    page.goto(f"{served}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url=f"{served}/", timeout=60_000):  # scrypt on a busy machine
        page.click("main button[type=submit]", no_wait_after=True)


def test_the_policy_arrives_with_every_page(page: Page, served: str) -> None:
    response = page.goto(f"{served}/login")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_a_rep_works_under_the_policy(page: Page, served: str) -> None:
    sign_in(page, served, "rep1")
    page.goto(f"{served}/crm_sfa/customer/new")
    page.fill("#field-name", "晨光科技有限公司")
    page.select_option("#field-level", "A")
    page.locator(".record-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/crm_sfa/customer/\d+$"))

    page.goto(f"{served}/crm_sfa/contact/new")  # search as you type: htmx and formflow.js
    page.locator("#field-customer-search").press_sequentially("晨光")
    page.locator("[data-link-choose]", has_text="晨光科技有限公司").click()
    expect(page.locator("#field-customer-search")).to_have_value("晨光科技有限公司")

    page.goto(f"{served}/crm_sfa/customer/")  # a list filtered in place by htmx
    page.fill("#list-search", "晨光")
    expect(page).to_have_url(re.compile(r"q="))
    expect(page.locator("#results").get_by_role("link", name="晨光科技有限公司")).to_be_visible()
    page.goto(f"{served}/account/sessions")
    expect(page.locator("h1")).to_have_text("登录会话")


def test_an_administrator_works_under_the_policy(page: Page, served: str) -> None:
    sign_in(page, served, "admin")
    for path in ("/admin/users", "/admin/departments", "/admin/users/new", "/account/tokens/"):
        page.goto(f"{served}{path}")
        expect(page.locator("h1")).to_have_count(1)


def test_a_slipped_in_script_does_not_run(browser: Browser, served: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{served}/login")
        with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
            refused = page.evaluate(
                """() => new Promise((resolve) => {
                  document.addEventListener(
                    "securitypolicyviolation", (event) => resolve(event.violatedDirective)
                  );
                  const script = document.createElement("script");
                  script.textContent = "window.ran = true";
                  document.body.append(script);
                })"""
            )
        assert refused.startswith("script-src")
        assert page.evaluate("() => window.ran === undefined")
    finally:
        context.close()
