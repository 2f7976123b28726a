"""A chart's figures say which measures only take whole values, so that their axes step
by whole numbers (a count of 1 is never drawn over ticks of 0.5)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.config import Settings
from web.counting_board import BOARD, board_settings
from web.records_support import sign_in as sign_in  # a fixture

NEW = "/desk/ticket/new"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return board_settings(tmp_path, f"sqlite:///{tmp_path}/formflow.db")


def measures(client: FlaskClient) -> dict[str, list[dict[str, Any]]]:
    """Each widget's measures, as the page hands them to its chart."""
    response = client.get(BOARD)
    assert response.status_code == 200, response.text
    found = re.findall(r'data-figures="([^"]*)"', response.text)
    shown = [json.loads(html.unescape(text)) for text in found]
    return {data["key"]: data["measures"] for data in shown}


def test_a_count_takes_whole_values(app: Flask, client: FlaskClient, sign_in: Any) -> None:
    sign_in("admin")
    assert [m["whole"] for m in measures(client)["tickets"]] == [True]


def test_a_sum_of_whole_numbers_takes_whole_values(
    app: Flask, client: FlaskClient, sign_in: Any
) -> None:
    sign_in("admin")
    assert [m["whole"] for m in measures(client)["visits"]] == [True]


def test_a_sum_of_decimals_does_not(app: Flask, client: FlaskClient, sign_in: Any) -> None:
    sign_in("admin")
    assert [m["whole"] for m in measures(client)["cost"]] == [False]
