"""Pages and the API apply a definition's run-time rules as the record service does:
conditions per subtable row, formulas that fail, composite unique indexes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from formflow.accounts import tokens
from formflow.config import Settings
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import users
from web import records_support
from web.records_support import send
from web.works import works_settings

sign_in = records_support.sign_in  # a fixture: signed in, pages in English

Login = Callable[[str], FlaskClient]
NEW_JOB = "/works/job/new"
JOBS = "/api/v1/works/job/records"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return works_settings(tmp_path, database_url)


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Callable[..., Any]:
    """POST JSON to the API with the administrator's bearer token."""
    with write_transaction(app.extensions["formflow"].engine) as connection:
        admin_id = connection.execute(
            select(users.c.id).where(users.c.username == "admin")
        ).scalar_one()
        _token_id, token = tokens.create_token(connection, admin_id, "tests")
    headers = {"Authorization": f"Bearer {token}"}
    return lambda path, body: client.post(path, json=body, headers=headers)


def cell(page: str, row: int, key: str) -> str:
    """The opening ``<td>`` tag of a subtable cell on a form page."""
    found = re.search(rf'<tr data-row="{row}">.*?(<td[^>]*data-cell="{key}"[^>]*>)', page, re.S)
    assert found, (row, key)
    return found.group(1)


def test_the_conditions_answer_works_out_each_row(client: FlaskClient, sign_in: Login) -> None:
    sign_in("admin")
    rows = {"steps-0-name": "dig", "steps-0-mode": "fixed"}
    rows |= {"steps-2-name": "fill", "steps-2-mode": "hourly"}
    answer = send(
        client, "/works/job/conditions", {"code": "A", "kind": "detailed", **rows}, page=NEW_JOB
    ).json
    assert {"steps.0", "steps.0.name", "steps.2", "steps.2.hours"} <= set(answer["visible"])
    assert "steps.0.hours" not in answer["visible"]
    assert {"steps.2.hours", "steps.0.rate", "steps.2.rate"} <= set(answer["required"])


def test_a_sent_form_shows_row_cells_by_their_conditions(
    client: FlaskClient, sign_in: Login
) -> None:
    sign_in("admin")
    rows = {"steps-0-name": "dig", "steps-0-mode": "hourly"}
    rows |= {"steps-1-name": "fill", "steps-1-mode": "fixed", "steps-1-hours": "3"}
    response = send(client, NEW_JOB, {"code": "A", "kind": "simple", **rows}, page=NEW_JOB)
    assert response.status_code == 422
    assert 'class="needed"' in cell(response.text, 0, "hours")
    assert "off" in cell(response.text, 1, "hours")
    assert "This field is required." in response.text.split('data-row="1"')[0]


def test_a_failed_formula_is_shown_next_to_it(client: FlaskClient, sign_in: Login) -> None:
    sign_in("admin")
    response = send(client, NEW_JOB, {"code": "A", "kind": "simple", "ratio": "0"}, page=NEW_JOB)
    assert response.status_code == 422
    field = response.text.split('data-field="per_unit"')[1].split('data-field="steps"')[0]
    assert "could not be worked out" in field
    assert "division by zero" in field


def test_a_repeated_combination_is_shown_on_its_fields(client: FlaskClient, sign_in: Login) -> None:
    sign_in("admin")
    values = {"code": "A", "kind": "simple"}
    assert send(client, NEW_JOB, values, page=NEW_JOB).status_code == 302
    again = send(client, NEW_JOB, values, page=NEW_JOB)
    assert again.status_code == 422
    message = "Another record already has this combination of Code, Kind."
    for key in ("code", "kind"):
        field = again.text.split(f'data-field="{key}"')[1].split("data-field=")[0]
        assert message in field


def test_the_api_names_the_fields_of_a_repeated_combination(api: Callable[..., Any]) -> None:
    body = {"code": "A", "kind": "detailed", "steps": [{"name": "x", "rate": "1"}]}
    assert api(JOBS, body).status_code == 201
    again = api(JOBS, body)
    assert again.status_code == 422
    fields = again.json["error"]["fields"]
    assert {key: [p["code"] for p in found] for key, found in fields.items()} == {
        "code": ["unique"],
        "kind": ["unique"],
    }
    assert "Code, Kind" in fields["code"][0]["message"]


def test_the_api_reports_row_conditions_and_failed_formulas(api: Callable[..., Any]) -> None:
    body = {"code": "A", "kind": "detailed", "ratio": "0", "steps": [{"name": "x"}]}
    refused = api(JOBS, body)
    assert refused.status_code == 422
    fields = refused.json["error"]["fields"]
    assert {key: [p["code"] for p in found] for key, found in fields.items()} == {
        "per_unit": ["formula_failed"],
        "steps.0.rate": ["required"],
    }
