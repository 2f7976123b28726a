"""On a 375 px phone every CRM page fits the screen and every control is big enough to tap
(44 px tall, and at least 40 px wide even with a short word on it).

One walk through the demo company, signed in as the administrator, measures each page as
Chromium lays it out (list pages with their filter panel open); the tests then read the
measurements.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from formflow.web import create_app
from support import serving
from web.demo_pages import APP_KEY, DEMO_PASSWORD, admin_pages, copy_demo, form_keys, record_address

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 375, "height": 812}
TAP = 44
NARROWEST = 40
"""A control with a word on it may be narrower than TAP, but not narrower than a finger."""

# What a page measures of itself: its scroll width, and each visible control that is
# smaller than a finger. A checkbox or radio button is tapped through its label, so the
# label's box counts for its width; a control without text must be wide enough by itself.
MEASURE = """(tap) => {
  const controls = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  const small = [];
  for (const element of document.querySelectorAll(controls)) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (getComputedStyle(element).visibility === 'hidden') continue;
    const name = (element.innerText || element.value || element.name || '').trim();
    const ticked = element.matches('input[type=checkbox], input[type=radio]');
    const label = ticked
      ? element.closest('label') || document.querySelector(`label[for="${element.id}"]`)
      : null;
    const width = label ? label.getBoundingClientRect().width : box.width;
    const iconOnly = ticked || [...name].length <= 1;
    if (box.height < tap.tall || width < (iconOnly ? tap.tall : tap.wide)) {
      small.push(`${element.tagName.toLowerCase()} "${name.slice(0, 30)}" ${Math.round(width)}x${Math.round(box.height)}`);
    }
  }
  return {scrollWidth: document.scrollingElement.scrollWidth, width: window.innerWidth, small};
}"""


@dataclass(frozen=True)
class Measured:
    scroll_width: int
    width: int
    small: list[str]


@pytest.fixture(scope="module")
def served_demo(demo_instance: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = copy_demo(demo_instance, tmp_path_factory.mktemp("phone") / "instance")
    app = create_app(settings)
    try:
        with serving(app) as base_url:
            yield base_url
    finally:
        app.extensions["formflow"].close()


@pytest.fixture(scope="module")
def phone(browser: Browser, served_demo: str) -> Iterator[Page]:
    context = browser.new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, base_url=served_demo
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


DASHBOARDS = ("sales_overview", "my_sales", "follow_up_calendar", "contract_gantt")


def measure(page: Page) -> Measured:
    found: dict[str, Any] = page.evaluate(MEASURE, {"tall": TAP, "wide": NARROWEST})
    return Measured(int(found["scrollWidth"]), int(found["width"]), list(found["small"]))


def sign_in(page: Page) -> None:
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form button[type=submit].primary")
    page.wait_for_url("**/")


def crm_pages(page: Page) -> list[str]:
    pages = ["/", "/account/tokens/", "/inbox", "/notifications"]
    pages += [f"/dashboards/{APP_KEY}/{key}" for key in DASHBOARDS]
    for form_key in form_keys():
        listing = f"/{APP_KEY}/{form_key}/"
        page.goto(listing)
        record = record_address(page.content(), form_key)
        assert record is not None, f"the demo has no {form_key} record"
        pages += [listing, f"{listing}new", f"{listing}bin", record, f"{record}/edit"]
    page.goto("/admin/users")
    users = page.content()
    page.goto("/admin/departments")
    return pages + admin_pages(users, page.content())


@pytest.fixture(scope="module")
def walk(phone: Page) -> dict[str, Measured]:
    """Every page's measurements, from the sign-in page on."""
    phone.goto("/login")
    measured = {"/login": measure(phone)}
    sign_in(phone)
    for path in crm_pages(phone):
        phone.goto(path)
        panel = phone.locator("details.filter-panel:not([open]) > summary")
        if panel.count():
            panel.first.click()
        measured[path] = measure(phone)
    return measured


def test_no_page_scrolls_sideways(walk: dict[str, Measured]) -> None:
    # A phone widens its layout viewport to fit a page that is too wide, so the page is
    # held to the screen's width, not to whatever window.innerWidth became.
    wide = {
        path: m.scroll_width
        for path, m in walk.items()
        if max(m.scroll_width, m.width) > PHONE["width"]
    }
    assert len(walk) > 60
    assert wide == {}


def test_every_control_is_big_enough_to_tap(walk: dict[str, Measured]) -> None:
    small = {path: m.small for path, m in walk.items() if m.small}
    assert small == {}


def test_sign_out_sits_in_the_account_menu_away_from_the_language_switch(
    phone: Page, walk: dict[str, Measured]
) -> None:
    phone.goto("/")
    sign_out = phone.get_by_role("button", name="退出登录")
    switch = phone.get_by_role("button", name="English")
    assert switch.is_visible()
    assert not sign_out.is_visible()

    phone.locator(".user-menu > summary").click()
    assert sign_out.is_visible()
    out, language = sign_out.bounding_box(), switch.bounding_box()
    assert out is not None
    assert language is not None
    assert out["y"] >= language["y"] + language["height"]  # below it, not beside it
    assert out["height"] >= TAP


def test_a_list_shows_its_records_as_cards(phone: Page, walk: dict[str, Measured]) -> None:
    phone.goto(f"/{APP_KEY}/product/")  # no card declared: the table's rows stack
    assert phone.locator("table.records thead").is_hidden()
    assert phone.locator("table.records tbody tr").first.bounding_box() is not None
    phone.goto(f"/{APP_KEY}/opportunity/")  # list: card: declared
    assert phone.locator("table.records").is_hidden()
    assert phone.locator(".record-card").first.bounding_box() is not None


def test_a_list_can_be_sorted_on_a_phone(phone: Page, walk: dict[str, Measured]) -> None:
    """The table's headers, which sort on a wide screen, are hidden on a phone: the sort
    orders are offered there on their own."""
    phone.goto(f"/{APP_KEY}/customer/")
    newest_first = phone.locator("a[href*='sort=-name']:visible")
    phone.locator(".sort-choices > summary").click()
    assert newest_first.count() >= 1
    newest_first.first.click()
    phone.wait_for_url("**sort=-name**")
