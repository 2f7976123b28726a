"""In a real browser: blast level-A customers in Shanghai from their list, preview, send
through the outbox, and watch the statuses arrive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

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


def test_blast_a_filtered_set_of_customers_and_watch_the_statuses(
    box: Sandbox, served: str, page: Page
) -> None:
    box.instance.plugin_settings.save("sms", {"per_second": "2", "signature": "华东"})
    page.goto(f"{served}/login")
    page.fill("#username", "sam")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(f"{served}/{box.app_key}/customer/")
    page.get_by_role("link", name="短信群发").click()
    page.fill("#sms-filter", "city = 上海\nlevel = A")
    page.fill("#sms-template", "{{ name }}您好，本周会员日全场八折。")
    page.get_by_role("button", name="预览").click()
    row = page.locator("table.previews tbody tr").first
    expect(row).to_contain_text("华东贸易您好，本周会员日全场八折。")
    expect(row.locator("td").nth(2)).to_have_text("21")
    page.get_by_role("button", name="发送").click()
    expect(page.locator("#sms-summary [data-status=skipped] b")).to_have_text("2")
    expect(page.locator("#sms-summary [data-status=sent] b")).to_have_text("2")
    expect(page.locator("td.status[data-status=sent]")).to_have_count(2)
