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
