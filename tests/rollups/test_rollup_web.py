"""Rules and roll-ups as pages and the API show them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rollup_app import FILES

from formflow.accounts import tokens
from formflow.records.access import Actor
from formflow.storage.database import write_transaction
from formflow.testing import Sandbox, csrf_token


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path, FILES) as sandbox:
        yield sandbox


@pytest.fixture
def staff(web: Sandbox) -> Actor:
    web.add_user("staff", roles=["staff"])
    return web.actor("staff")


def bearer(web: Sandbox, staff: Actor) -> dict[str, str]:
    with write_transaction(web.records.engine) as connection:
        _id, plaintext = tokens.create_token(connection, staff.user_id, "tests")
    return {"Authorization": f"Bearer {plaintext}"}


def test_the_api_reports_a_broken_rule_on_its_field_with_a_stable_code(
    web: Sandbox, staff: Actor
) -> None:
    account = web.records.create(staff, "account", {"name": "Acme", "credit": "100"})
    body = {"title": "Big", "account": account["id"], "amount": "150", "stage": "won"}
    response = web.client().post(
        "/api/v1/sales/deal/records", json=body, headers=bearer(web, staff)
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "amount": [{"code": "rule", "message": "赢单金额将超过客户的信用额度"}]
    }


def test_the_api_returns_rollups_and_refuses_to_set_them(web: Sandbox, staff: Actor) -> None:
    account = web.records.create(staff, "account", {"name": "Acme", "credit": "100"})
    web.records.create(staff, "deal", {"title": "D", "account": account["id"], "amount": "9.5"})
    client, headers = web.client(), bearer(web, staff)
    found = client.get(f"/api/v1/sales/account/records/{account['id']}", headers=headers).json
    assert (found["deal_count"], found["largest"]) == (1, "9.50")
    refused = client.post(
        "/api/v1/sales/account/records", json={"name": "B", "deal_count": 3}, headers=headers
    )
    assert refused.json["error"]["fields"]["deal_count"][0]["code"] == "read_only"


def test_the_openapi_document_types_rollups_and_lookups_as_read_only_values(
    web: Sandbox, staff: Actor
) -> None:
    document = web.client().get("/api/v1/openapi.json", headers=bearer(web, staff)).json
    schemas = document["components"]["schemas"]
    account = schemas["Sales_Account_Record"]["properties"]
    assert account["deal_count"]["type"] in ("integer", ["integer", "null"])
    assert account["latest_stage"]["enum"] == ["open", "won", "lost", None]
    assert "account_region" not in schemas["Sales_Deal_Input"]["properties"]


def test_a_page_shows_a_broken_rule_next_to_its_field_and_keeps_the_input(
    web: Sandbox, staff: Actor
) -> None:
    account = web.records.create(staff, "account", {"name": "Acme", "credit": "100"})
    client = web.client("staff")
    form = {
        "csrf_token": csrf_token(client, "/sales/deal/new"),
        "title": "Too big",
        "account": str(account["id"]),
        "amount": "150",
        "stage": "won",
    }
    page = client.post("/sales/deal/new", data=form)
    assert page.status_code == 422
    assert "赢单金额将超过客户的信用额度" in page.text
    assert 'value="Too big"' in page.text


def test_pages_show_rollups_and_lookups_as_their_source_fields(web: Sandbox, staff: Actor) -> None:
    account = web.records.create(
        staff, "account", {"name": "Acme", "credit": "5000", "region": "North"}
    )
    deal = web.records.create(
        staff,
        "deal",
        {"title": "D", "account": account["id"], "amount": "1234.5", "stage": "won"},
    )
    client = web.client("staff")
    listing = client.get("/sales/account/").text
    assert "1,234.50" in listing
    detail = client.get(f"/sales/account/{account['id']}").text
    assert "赢" in detail or "Won" in detail  # the latest stage shows its option label
    assert "North" in client.get(f"/sales/deal/{deal['id']}").text
    form = client.get(f"/sales/deal/{deal['id']}/edit").text
    assert 'name="account_region"' not in form
