"""The CRM sales overview in a real browser: charts render, and a funnel stage opens the
list of exactly its records, on a desktop and on a 375 px phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from formflow.web import create_app
from support import serving
from web.demo_pages import DEMO_PASSWORD, copy_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OVERVIEW = "/dashboards/crm_sfa/sales_overview"


@pytest.fixture(scope="module")
def served_demo(demo_instance: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = copy_demo(demo_instance, tmp_path_factory.mktemp("dashboards") / "instance")
    app = create_app(settings)
    try:
        with serving(app) as base_url:
            yield base_url
    finally:
        app.extensions["formflow"].close()


def open_overview(page: Page, served: str) -> None:
    page.goto(f"{served}/login")
    page.fill("#username", "lijing")
    page.fill("#password", DEMO_PASSWORD)
    with page.expect_navigation(url=f"{served}/", timeout=60_000):
        page.click("main button[type=submit]", no_wait_after=True)
    page.goto(served + OVERVIEW)


def test_the_overviews_charts_render(page: Page, served_demo: str) -> None:
    open_overview(page, served_demo)
    charts = page.locator(".chart[data-rendered=yes] svg")
    expect(charts.first).to_be_visible()
    assert charts.count() == page.locator(".chart").count() >= 8


def test_the_widgets_fit_the_screen(page: Page, served_demo: str) -> None:
    open_overview(page, served_demo)
    expect(page.locator(".chart[data-rendered=yes]").first).to_be_visible()
    viewport = page.viewport_size
    assert viewport is not None
    assert page.evaluate("document.scrollingElement.scrollWidth") <= viewport["width"]


def test_a_funnel_stage_opens_the_list_of_its_records(page: Page, served_demo: str) -> None:
    open_overview(page, served_demo)
    funnel = page.locator("[data-widget=pipeline] .chart[data-rendered=yes]")
    funnel.scroll_into_view_if_needed()
    box = funnel.bounding_box()
    assert box is not None
    with page.expect_navigation():
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.12)
    assert re.search(r"/crm_sfa/opportunity/\?f\.stage=initial_contact$", page.url)
    expect(page.locator("select[name='f.stage']")).to_have_value("initial_contact")
    expect(page.locator("p.total")).to_contain_text(re.compile(r"\d"))


def test_pie_and_donut_slices_keep_their_names(page: Page, served_demo: str) -> None:
    """On a 375 px phone the slices' outside labels had room for one letter ("A..."):
    each slice is named in full, or by the legend alone, never cut."""
    open_overview(page, served_demo)
    for key in ("receivables", "lead_conversion"):
        chart = page.locator(f"[data-widget={key}] .chart[data-rendered=yes]")
        chart.scroll_into_view_if_needed()
        expect(chart).to_be_visible()
        texts = chart.locator("svg text").evaluate_all("els => els.map(e => e.textContent)")
        assert texts, key
        assert [text for text in texts if text.endswith(("...", "…"))] == [], key
