"""A submission reports every problem it has in one answer, on pages and in the API:
unknown fields, values that do not convert, required fields, rules and unique values that
clash, each next to its field, where one does not hide another."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from formflow.accounts import tokens
from formflow.config import Settings, load_settings
from formflow.lifecycle.install import initialise
from formflow.storage.database import write_transaction
from formflow.storage.platform_tables import users
from web import records_support
from web.records_support import send

sign_in = records_support.sign_in  # a fixture: signed in, pages in English

APP = """\
key: desk
version: "1.0"
label: Desk
roles:
  - {key: staff, label: Staff}
include:
  forms: [forms/*.yaml]
"""

TICKET = """\
key: ticket
label: Ticket
title_field: code
fields:
  - {key: code, type: text, label: Code, unique: true}
  - {key: subject, type: text, label: Subject, required: true}
  - {key: hours, type: number, label: Hours}
  - {key: opened, type: date, label: Opened}
  - {key: closed, type: date, label: Closed}
rules:
  - key: closed_after_opened
    expression: "closed is none or opened is none or closed >= opened"
    message: {en: A ticket cannot close before it opens., zh: 关闭日期不能早于开启日期。}
    field: closed
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""

ORDER = """\
key: order
label: Order
title_field: ref
fields:
  - {key: ref, type: text, label: Ref}
  - key: lines
    type: subtable
    label: Lines
    required: true
    fields:
      - {key: qty, type: number, label: Qty}
permissions:
  staff: {create: all, read: all, update: all, delete: all}
"""

NEW = "/desk/ticket/new"
RECORDS = "/api/v1/desk/ticket/records"
UNIQUE = "Another record already has this value."


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    app_dir = tmp_path / "desk"
    (app_dir / "forms").mkdir(parents=True)
    (app_dir / "app.yaml").write_text(textwrap.dedent(APP), encoding="utf-8")
    (app_dir / "forms" / "ticket.yaml").write_text(textwrap.dedent(TICKET), encoding="utf-8")
    (app_dir / "forms" / "order.yaml").write_text(textwrap.dedent(ORDER), encoding="utf-8")
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance"), "FORMFLOW_DATABASE_URL": database_url},
        secure_cookies=False,
    )
    initialise(settings, [app_dir], "admin", "password-1")
    return settings


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Callable[..., Any]:
    """POST JSON to the API with the administrator's bearer token."""
    with write_transaction(app.extensions["formflow"].engine) as connection:
        admin_id = connection.execute(
            select(users.c.id).where(users.c.username == "admin")
        ).scalar_one()
        _token_id, token = tokens.create_token(connection, admin_id, "tests")
    headers = {"Authorization": f"Bearer {token}"}

    def send_json(body: dict[str, Any], record_id: int | None = None, form: str = "") -> Any:
        path = RECORDS.replace("ticket", form) if form else RECORDS
        if record_id is None:
            return client.post(path, json=body, headers=headers)
        return client.patch(f"{path}/{record_id}", json=body, headers=headers)

    return send_json


def codes(answer: Any) -> dict[str, list[str]]:
    """The problem codes of an API error, by field."""
    fields = answer.json["error"]["fields"]
    return {key: [problem["code"] for problem in found] for key, found in fields.items()}


def field_errors(page: str, key: str) -> str:
    """The part of a form page from field ``key`` to the next field."""
    start = page.index(f'id="field-{key}"')
    following = page.find('id="field-', start + 1)
    return page[start : following if following != -1 else len(page)]


# the API ---------------------------------------------------------------------------


def test_an_unknown_field_and_an_invalid_date_are_reported_together(
    api: Callable[..., Any],
) -> None:
    answer = api({"subject": "Printer", "colour": "red", "opened": "2026-02-30"})
    assert answer.status_code == 422
    assert codes(answer) == {"colour": ["unknown_field"], "opened": ["schema"]}


def test_an_invalid_number_and_a_unique_clash_are_reported_together(
    api: Callable[..., Any],
) -> None:
    assert api({"code": "T-1", "subject": "Printer"}).status_code == 201
    answer = api({"code": "T-1", "subject": "Screen", "hours": "many"})
    assert answer.status_code == 422
    assert codes(answer) == {"code": ["unique"], "hours": ["type"]}


def test_a_missing_required_value_and_a_broken_rule_are_reported_together(
    api: Callable[..., Any],
) -> None:
    answer = api({"opened": "2026-03-02", "closed": "2026-03-01"})
    assert answer.status_code == 422
    assert codes(answer) == {"subject": ["required"], "closed": ["rule"]}


def test_a_rule_reading_a_value_that_did_not_convert_is_left_for_later(
    api: Callable[..., Any],
) -> None:
    answer = api({"subject": "Printer", "opened": "2026-02-30", "closed": "2026-03-01"})
    assert codes(answer) == {"opened": ["schema"]}


def test_a_change_reports_an_unknown_field_a_unique_clash_and_an_invalid_number(
    api: Callable[..., Any],
) -> None:
    assert api({"code": "T-1", "subject": "Printer"}).status_code == 201
    second = api({"code": "T-2", "subject": "Screen"}).json
    answer = api({"version": 1, "code": "T-1", "hours": "many", "colour": "red"}, second["id"])
    assert answer.status_code == 422
    assert codes(answer) == {"code": ["unique"], "hours": ["type"], "colour": ["unknown_field"]}


def test_a_change_keeps_its_own_unique_value(api: Callable[..., Any]) -> None:
    first = api({"code": "T-1", "subject": "Printer"}).json
    answer = api({"version": 1, "code": "T-1", "hours": "many"}, first["id"])
    assert codes(answer) == {"hours": ["type"]}


def test_a_row_value_of_the_wrong_type_is_not_also_a_missing_table(
    api: Callable[..., Any],
) -> None:
    answer = api({"ref": "A", "lines": [{"qty": "many"}], "colour": 1}, form="order")
    assert answer.status_code == 422
    assert codes(answer) == {"lines.0.qty": ["type"], "colour": ["unknown_field"]}


def test_a_valid_submission_is_stored(api: Callable[..., Any]) -> None:
    answer = api({"code": "T-2", "subject": "Printer", "opened": "2026-03-01"})
    assert answer.status_code == 201


# the pages -------------------------------------------------------------------------


def test_a_page_shows_a_unique_clash_beside_an_invalid_number(
    client: FlaskClient, sign_in: Callable[[str], FlaskClient]
) -> None:
    sign_in("admin")
    assert send(client, NEW, {"code": "T-1", "subject": "Printer"}, page=NEW).status_code == 302
    response = send(client, NEW, {"code": "T-1", "subject": "Screen", "hours": "many"}, page=NEW)
    assert response.status_code == 422
    assert UNIQUE in field_errors(response.text, "code")
    assert "many" in field_errors(response.text, "hours")
    assert 'value="Screen"' in field_errors(response.text, "subject")


def test_a_page_shows_a_missing_value_beside_a_broken_rule(
    client: FlaskClient, sign_in: Callable[[str], FlaskClient]
) -> None:
    sign_in("admin")
    sent = {"code": "T-3", "opened": "2026-03-02", "closed": "2026-03-01"}
    response = send(client, NEW, sent, page=NEW)
    assert response.status_code == 422
    assert "This field is required." in field_errors(response.text, "subject")
    assert "A ticket cannot close before it opens." in field_errors(response.text, "closed")
