"""Every response carries the security headers: each page of the CRM app (found by following
its links), the sign-in and error pages, API answers and static files."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from formflow.accounts import tokens
from formflow.storage.database import write_transaction
from formflow.web.headers import CONTENT_SECURITY_POLICY
from web.records_support import add, user_id

Login = Callable[[str], FlaskClient]

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
LINK = re.compile(r'(?:href|src|hx-get)="(/[^"]*)"')


def missing_headers(response: TestResponse) -> dict[str, str | None]:
    """The expected headers a response lacks or gets wrong, with what it sent instead."""
    return {
        name: response.headers.get(name)
        for name, value in EXPECTED.items()
        if response.headers.get(name) != value
    }


def test_the_policy_allows_no_inline_script_or_framing() -> None:
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.fixture
def records(app: Flask) -> None:
    """A record or two in the forms most pages link to, so record pages are walked too."""
    customer = add(app, "rep1", "customer", name="Acme", level="A")
    add(app, "rep1", "contact", name="Zhang", customer=customer["id"])


def walk(client: FlaskClient, start: str) -> dict[str, TestResponse]:
    """Every address reachable from ``start`` by links, each path once (its first query)."""
    seen: dict[str, TestResponse] = {}
    queue = [start]
    visited_paths: set[str] = set()
    while queue:
        address = queue.pop(0).replace("&amp;", "&")
        path = urlsplit(address).path
        if path in visited_paths:
            continue
        visited_paths.add(path)
        response = client.get(address)
        response.get_data()  # read it all, so a file it sends is closed
        response.close()
        seen[address] = response
        if response.mimetype == "text/html":
            queue += LINK.findall(response.text)
    return seen


@pytest.mark.usefixtures("records")
@pytest.mark.parametrize("who", ["admin"])
def test_every_page_a_user_can_reach_carries_the_headers(
    client: FlaskClient, login: Login, who: str
) -> None:
    login(who)
    walked = walk(client, "/")
    statuses = {address: response.status_code for address, response in walked.items()}
    assert any("/new" in address for address in walked), statuses
    assert any(re.search(r"/\d+/edit", address) for address in walked), statuses
    assert any(address.startswith("/static/") for address in walked), statuses
    if who == "admin":
        assert any(address.startswith("/admin/") for address in walked), statuses
    lacking = {
        address: missing_headers(response)
        for address, response in walked.items()
        if missing_headers(response)
    }
    assert lacking == {}
    assert len(walked) > 30


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/login", 200),
        ("/", 302),
        ("/no/such/page", 404),
        ("/static/formflow.css", 200),
        ("/static/vendor/htmx.min.js", 200),
        ("/static/vendor/nothing.js", 404),
        ("/api/v1/openapi.json", 200),
        ("/api/v1/crm_sfa/customer/records", 401),
    ],
)
def test_pages_for_anyone_carry_the_headers(client: FlaskClient, path: str, status: int) -> None:
    response = client.get(path)
    response.close()
    assert response.status_code == status
    assert missing_headers(response) == {}


def test_a_refused_page_carries_the_headers(client: FlaskClient, login: Login) -> None:
    login("rep1")
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert missing_headers(response) == {}


def test_a_refused_post_carries_the_headers(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "rep1"})
    assert response.status_code == 400
    assert missing_headers(response) == {}


def test_api_answers_carry_the_headers(app: Flask, client: FlaskClient) -> None:
    with write_transaction(app.extensions["formflow"].engine) as connection:
        _token_id, plaintext = tokens.create_token(connection, user_id(app, "rep1"), "check")
    bearer = {"Authorization": f"Bearer {plaintext}"}
    answers = [
        client.get("/api/v1/apps", headers=bearer),
        client.get("/api/v1/crm_sfa/customer/records", headers=bearer),
        client.get("/api/v1/crm_sfa/customer/records/999999", headers=bearer),
        client.post("/api/v1/crm_sfa/customer/records", headers=bearer, json={}),
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 404, 422]
    assert [missing_headers(answer) for answer in answers] == [{}] * len(answers)


def test_no_page_has_inline_script_or_style(
    client: FlaskClient, login: Login, records: None
) -> None:
    login("admin")
    pages = [
        response for response in walk(client, "/").values() if response.mimetype == "text/html"
    ]
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    found = {
        page.request.path: inline.findall(page.text) for page in pages if inline.search(page.text)
    }
    assert found == {}


def test_pages_name_an_icon_the_app_serves(client: FlaskClient) -> None:
    """Without one, every page load asks for /favicon.ico and logs a 404 in the console."""
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'<link rel="icon" href="(/[^"]+)"', page)
    assert found is not None
    icon = client.get(found.group(1))
    icon.close()
    assert (icon.status_code, icon.mimetype) == (200, "image/svg+xml")
