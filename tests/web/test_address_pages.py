"""Allow-lists hold on the sign-in page, on every page after it and on the API."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from formflow.accounts import addresses
from formflow.config import Settings
from formflow.storage.database import write_transaction
from formflow.web import create_app
from web.conftest import PASSWORD
from web.test_api import CUSTOMERS, token_for, user_id

HOME = "192.0.2.1"
OFFICE = "10.1.2.3"


def limit(
    app: Flask, networks: str, *, username: str | None = None, role: str | None = None
) -> None:
    with write_transaction(app.extensions["formflow"].engine) as connection:
        addresses.add_rule(
            connection,
            networks,
            user_id=user_id(app, username) if username else None,
            role=("crm_sfa", role) if role else None,
        )
    app.extensions["formflow.address_rules"].forget()


def page_token(client: FlaskClient, address: str) -> str:
    page = client.get("/login", environ_base={"REMOTE_ADDR": address}).text
    marker = 'name="csrf-token" content="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def sign_in(client: FlaskClient, username: str, address: str, **headers: str) -> TestResponse:
    data = {"username": username, "password": PASSWORD, "csrf_token": page_token(client, address)}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address}, headers=headers)


def test_a_role_limited_to_the_office_cannot_sign_in_from_home(
    app: Flask, client: FlaskClient
) -> None:
    limit(app, "10.0.0.0/8", role="sales_rep")
    refused = sign_in(client, "rep1", HOME)
    assert refused.status_code == 200
    assert HOME in refused.text
    assert client.get("/", environ_base={"REMOTE_ADDR": HOME}).status_code == 302


def test_a_role_limited_to_the_office_signs_in_there(app: Flask, client: FlaskClient) -> None:
    limit(app, "10.0.0.0/8", role="sales_rep")
    assert sign_in(client, "rep1", OFFICE).status_code == 302
    assert client.get("/", environ_base={"REMOTE_ADDR": OFFICE}).status_code == 200


def test_others_are_not_limited(app: Flask, client: FlaskClient) -> None:
    limit(app, "10.0.0.0/8", role="sales_rep")
    assert sign_in(client, "manager", HOME).status_code == 302


def test_a_new_rule_holds_for_sessions_already_open(app: Flask, client: FlaskClient) -> None:
    assert sign_in(client, "rep1", HOME).status_code == 302
    limit(app, "10.0.0.0/8", username="rep1")
    page = client.get("/", environ_base={"REMOTE_ADDR": HOME})
    assert page.status_code == 403
    assert HOME in page.text


def test_the_api_refuses_a_token_from_outside_the_list(app: Flask, client: FlaskClient) -> None:
    headers = {"Authorization": f"Bearer {token_for(app, 'rep1')}"}
    limit(app, "10.0.0.0/8", username="rep1")
    refused = client.get(CUSTOMERS, headers=headers, environ_base={"REMOTE_ADDR": HOME})
    assert refused.status_code == 403
    assert refused.json is not None
    assert refused.json["error"]["code"] == "address_not_allowed"
    inside = client.get(CUSTOMERS, headers=headers, environ_base={"REMOTE_ADDR": OFFICE})
    assert inside.status_code == 200


def test_a_forwarded_for_header_from_anyone_is_not_believed(
    app: Flask, client: FlaskClient
) -> None:
    limit(app, "10.0.0.0/8", role="sales_rep")
    spoofed = sign_in(client, "rep1", HOME, **{"X-Forwarded-For": OFFICE})
    assert spoofed.status_code == 200


@pytest.fixture
def proxied_app(settings: Settings) -> Iterator[Flask]:
    """An instance behind a reverse proxy at 127.0.0.1."""
    trusted = (ipaddress.ip_network("127.0.0.1/32"),)
    app = create_app(dataclasses.replace(settings, trusted_proxies=trusted))
    app.config["TESTING"] = True
    yield app
    app.extensions["formflow"].close()


def test_a_trusted_proxy_says_where_the_client_is(proxied_app: Flask) -> None:
    limit(proxied_app, "10.0.0.0/8", role="sales_rep")
    client = proxied_app.test_client()
    from_office = sign_in(client, "rep1", "127.0.0.1", **{"X-Forwarded-For": OFFICE})
    assert from_office.status_code == 302
    other = proxied_app.test_client()
    from_home = sign_in(other, "rep1", "127.0.0.1", **{"X-Forwarded-For": HOME})
    assert from_home.status_code == 200


def admin_post(client: FlaskClient, data: dict[str, str]) -> TestResponse:
    token = page_token(client, "127.0.0.1")
    return client.post("/admin/addresses/", data={**data, "csrf_token": token})


def test_an_admin_adds_and_removes_an_allow_list(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "admin", "127.0.0.1")
    saved = admin_post(client, {"whom": "role:crm_sfa:sales_rep", "networks": "10.0.0.0/8"})
    assert saved.status_code == 302
    page = client.get("/admin/addresses/").text
    assert "10.0.0.0/8" in page
    assert sign_in(app.test_client(), "rep1", HOME).status_code == 200


def test_an_admin_cannot_lock_themselves_out(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "admin", "127.0.0.1")
    admin = user_id(app, "admin")
    refused = admin_post(client, {"whom": f"user:{admin}", "networks": "10.0.0.0/8"})
    assert refused.status_code == 200
    assert 'id="networks-error"' in refused.text
    with write_transaction(app.extensions["formflow"].engine) as connection:
        assert addresses.list_rules(connection) == []
    assert client.get("/").status_code == 200


def test_a_network_that_is_not_one_is_refused_next_to_the_field(
    client: FlaskClient, app: Flask
) -> None:
    sign_in(client, "admin", "127.0.0.1")
    refused = admin_post(client, {"whom": "role:crm_sfa:sales_rep", "networks": "10.0.0.300"})
    assert refused.status_code == 200
    assert "10.0.0.300" in refused.text
