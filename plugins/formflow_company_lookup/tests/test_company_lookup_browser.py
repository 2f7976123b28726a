"""In a real browser: look a company up from a customer, choose among the candidates, and
see the customer saved with the registry's details."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from formflow.testing import PASSWORD, Sandbox, chromium_page, served_at

pytestmark = pytest.mark.browser


@pytest.fixture
def served(box: Sandbox) -> Iterator[str]:
    with served_at(box.flask_app) as url:
        yield url


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page() as opened:
        yield opened


def test_look_up_choose_and_save_a_customer(box: Sandbox, served: str, page: Page) -> None:
    record = box.records.create(box.actor("staff_user"), "customer", {"name": "星辰"})
    page.goto(f"{served}/login")
    page.fill("#username", "staff_user")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(f"{served}/sales/customer/{record['id']}")
    page.get_by_role("link", name="企业查询").click()
    page.get_by_role("button", name="查询", exact=True).click()
    page.get_by_text("找到 2 家企业").wait_for()
    page.get_by_role("button", name="填入并保存 杭州星辰云计算有限公司").click()
    page.wait_for_url(f"{served}/sales/customer/{record['id']}")
    assert page.get_by_role("heading", name="杭州星辰云计算有限公司").is_visible()
    assert page.get_by_text("周启明", exact=True).is_visible()
    saved = box.records.get(box.actor("staff_user"), "customer", record["id"])
    assert saved["credit_code"] == "91330100MA2CD5XK8W"
