"""A count's chart steps by whole numbers in the browser: ECharts is asked for a minimum
interval of 1 on its value axis, and a chart of decimals is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from formflow import accounts
from formflow.config import Settings
from formflow.storage.database import read_transaction
from web.counting_board import BOARD, PASSWORD, board_settings
from web.records_support import user_id

pytestmark = [pytest.mark.browser]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return board_settings(tmp_path, f"sqlite:///{tmp_path}/formflow.db")


def value_axis(page: Page, widget: str) -> dict[str, object]:
    """The value axis of a widget's chart, as ECharts holds its option."""
    holder = f"[data-widget={widget}] .chart[data-rendered=yes]"
    expect(page.locator(holder)).to_be_visible()
    axis: dict[str, object] = page.evaluate(
        "(holder) => echarts.getInstanceByDom(document.querySelector(holder)).getOption().yAxis[0]",
        holder,
    )
    return axis


def test_a_count_axis_steps_by_whole_numbers(app: Flask, page: Page, served: str) -> None:
    instance = app.extensions["formflow"]
    with read_transaction(instance.engine) as connection:
        user = accounts.get_user(connection, user_id(app, "admin"))
        assert user is not None
        admin = accounts.actor_for(connection, user, "desk")
    ticket = {"subject": "A", "status": "open", "visits": 1, "cost": "0.5"}
    instance.records("desk").create(admin, "ticket", ticket)
    page.goto(f"{served}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.goto(served + BOARD)
    assert value_axis(page, "tickets").get("minInterval") == 1
    assert value_axis(page, "visits").get("minInterval") == 1
    assert value_axis(page, "cost").get("minInterval") is None
