"""A real headless Chromium, driven by Playwright, against the app served on 127.0.0.1.

Chromium comes from Debian's package (``make test`` installs it when missing, as root);
Playwright's own browser downloads are never used. Where Chromium is missing the browser
tests skip with the reason, unless ``FORMFLOW_REQUIRE_BROWSER=1`` (CI sets it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page, expect

from formflow.config import Settings
from formflow.testing import shared_chromium
from formflow.web import create_app
from support import serving
from web.approval_people import manager_runs_east
from web.conftest import PASSWORD

CHROMIUM = os.environ.get("FORMFLOW_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("FORMFLOW_REQUIRE_BROWSER") == "1"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser() -> Browser:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        message = f"no Chromium at {CHROMIUM}: apt-get install chromium"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    browser: Browser = shared_chromium(CHROMIUM)
    return browser


SIGN_IN_TIMEOUT = 60_000
"""Signing in hashes the password with scrypt, slow on a busy machine."""


@pytest.fixture
def company(settings: Settings) -> Iterator[tuple[Flask, str]]:
    """The CRM test company served on 127.0.0.1, its sales manager managing the reps' team
    (so approvals asked by ``rep1`` or ``rep2`` go to ``manager``); yields the app and its
    base URL."""
    app: Flask = create_app(settings)
    manager_runs_east(app)
    try:
        with serving(app) as base_url:
            yield app, base_url
    finally:
        app.extensions["formflow"].close()


def person(browser: Browser, base_url: str, username: str, *, phone: bool = False) -> Page:
    """``username`` signed in, in a browser context of their own (375 px wide with
    ``phone``); confirmation dialogs are accepted, as the person would. Close it with
    ``page.context.close()``."""
    context: BrowserContext = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        locale="zh-CN",
        is_mobile=phone,
        has_touch=phone,
        base_url=base_url,
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("dialog", _accept)
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url=f"{base_url}/", timeout=SIGN_IN_TIMEOUT):
        page.click("main button[type=submit]", no_wait_after=True)
    expect(page).to_have_url(f"{base_url}/")
    return page


def _accept(dialog: Dialog) -> None:
    dialog.accept()


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    """The app on a free 127.0.0.1 port, in a thread; yields its base URL."""
    app: Flask = create_app(settings)
    try:
        with serving(app) as base_url:
            yield base_url
    finally:
        app.extensions["formflow"].close()


REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${event.violatedDirective} ${event.blockedURI} at ${event.documentURI}`);
});
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """What the Content-Security-Policy refused on the test's pages (the ``page`` fixture
    fills it in and fails the test if anything is left in it)."""
    return []


@pytest.fixture(params=["desktop", "phone"])
def page(
    request: pytest.FixtureRequest, browser: Browser, csp_violations: list[str]
) -> Iterator[Page]:
    """A fresh browser context (no cookies) at desktop or phone size.

    Every page must work under the Content-Security-Policy: whatever it refuses (reported
    by the page or in the console) fails the test.
    """
    viewport = DESKTOP if request.param == "desktop" else PHONE
    context = browser.new_context(
        viewport=viewport,
        locale="zh-CN",
        is_mobile=request.param == "phone",
        has_touch=request.param == "phone",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()

    def report(violation: str) -> None:
        csp_violations.append(violation)

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            csp_violations.append(message.text)

    page.expose_function("reportViolation", report)
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", console)
    yield page
    context.close()
    assert csp_violations == []
