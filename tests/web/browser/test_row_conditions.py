"""Subtable rows show and hide their cells by their own conditions as they are filled in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from formflow.config import Settings
from web.works import PASSWORD, works_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return works_settings(tmp_path, f"sqlite:///{tmp_path}/formflow.db")


def test_a_row_cell_follows_its_row_and_the_record(page: Page, served: str) -> None:
    page.goto(f"{served}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(f"{served}/works/job/new")
    page.fill("#field-code", "A")
    page.locator("[data-add-row]").click()
    row = page.locator('table[data-rows="steps"] tr[data-row="0"]')
    hours, rate = row.locator('td[data-cell="hours"]'), row.locator('td[data-cell="rate"]')
    expect(hours).to_have_class(re.compile(r"\boff\b"))  # no mode chosen yet

    row.locator('select[name="steps-0-mode"]').select_option("hourly")
    expect(hours).to_have_class(re.compile(r"\bneeded\b"))
    expect(hours.locator("input")).to_be_visible()

    row.locator('select[name="steps-0-mode"]').select_option("fixed")
    expect(hours).to_have_class(re.compile(r"\boff\b"))
    expect(hours.locator("input")).not_to_be_visible()
    expect(rate).not_to_have_class(re.compile(r"\bneeded\b"))

    page.select_option("#field-kind", "detailed")
    expect(rate).to_have_class(re.compile(r"\bneeded\b"))
