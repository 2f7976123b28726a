"""The sign-in page in a real browser, at phone and desktop size."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def test_a_rep_signs_in_and_reaches_the_workbench(page: Page, served: str) -> None:
    page.goto(f"{served}/login")
    page.fill("#username", "rep1")
    page.fill("#password", "password-1")
    page.click("main button[type=submit]")
    expect(page.locator("h1")).to_have_count(1)
    assert page.url == f"{served}/"


def test_the_sign_in_page_loads_without_a_console_error(page: Page, served: str) -> None:
    """Chromium asks every site for an icon; without one each page's first visit logged a
    404 in the console, hiding real errors among it."""
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(f"{served}/login")
    page.wait_for_load_state("networkidle")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon is not None
    assert page.request.get(f"{served}{icon}").ok
    assert errors == []
