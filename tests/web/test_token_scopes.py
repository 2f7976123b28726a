"""A token may be narrowed below its user: read only, or only some forms."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.accounts import tokens
from formflow.storage.database import read_transaction, write_transaction
from web.conftest import csrf_token
from web.test_api import CUSTOMERS, Api, user_id

CONTACTS = "/api/v1/crm_sfa/contact/records"


def scoped(app: Flask, client: FlaskClient, scope: tokens.TokenScope) -> Api:
    with write_transaction(app.extensions["formflow"].engine) as connection:
        _id, plaintext = tokens.create_token(connection, user_id(app, "rep1"), "s", scope=scope)
    return Api(client, plaintext)


def refused_for_scope(response: object) -> bool:
    json = getattr(response, "json", None) or {}
    return getattr(response, "status_code", 0) == 403 and json["error"]["code"] == "token_scope"


def test_a_read_only_token_reads_but_cannot_write(app: Flask, client: FlaskClient) -> None:
    api = scoped(app, client, tokens.TokenScope(read_only=True))
    assert api.get(CUSTOMERS).status_code == 200
    assert refused_for_scope(api.post(CUSTOMERS, json={"name": "Acme"}))


def test_a_read_only_token_may_search_with_a_json_body(app: Flask, client: FlaskClient) -> None:
    api = scoped(app, client, tokens.TokenScope(read_only=True))
    found = api.post("/api/v1/crm_sfa/customer/search", json={"limit": 1})
    assert found.status_code == 200


def test_a_read_only_token_cannot_decide_tasks(app: Flask, client: FlaskClient) -> None:
    api = scoped(app, client, tokens.TokenScope(read_only=True))
    assert refused_for_scope(api.post("/api/v1/tasks/1/decision", json={"decision": "approve"}))


def test_a_token_limited_to_a_form_reaches_only_that_form(app: Flask, client: FlaskClient) -> None:
    api = scoped(app, client, tokens.TokenScope(forms=frozenset({"crm_sfa/customer"})))
    assert api.post(CUSTOMERS, json={"name": "Acme"}).status_code == 201
    assert refused_for_scope(api.get(CONTACTS))
    assert refused_for_scope(api.get("/api/v1/tasks"))
    assert api.get("/api/v1/apps").status_code == 200


def test_a_form_that_is_not_app_slash_form_is_refused(app: Flask) -> None:
    scope = tokens.TokenScope(forms=frozenset({"customer"}))
    with (
        write_transaction(app.extensions["formflow"].engine) as connection,
        pytest.raises(tokens.TokenError, match="app/form"),
    ):
        tokens.create_token(connection, user_id(app, "rep1"), "s", scope=scope)


def test_the_token_page_makes_a_narrowed_token(
    app: Flask, client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    data = {
        "name": "report",
        "expires": "",
        "read_only": "y",
        "forms": ["crm_sfa/customer", "crm_sfa/contact"],
        "csrf_token": csrf_token(client, "/account/tokens/"),
    }
    assert client.post("/account/tokens/", data=data).status_code == 200
    with read_transaction(app.extensions["formflow"].engine) as connection:
        (made,) = tokens.list_tokens(connection, user_id(app, "rep1"))
    assert made.scope == tokens.TokenScope(True, frozenset({"crm_sfa/customer", "crm_sfa/contact"}))


def test_the_token_page_refuses_a_form_it_does_not_offer(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    data = {
        "name": "report",
        "expires": "",
        "forms": ["crm_sfa/nothing"],
        "csrf_token": csrf_token(client, "/account/tokens/"),
    }
    page = client.post("/account/tokens/", data=data)
    assert page.status_code == 200
    assert 'role="alert"' in page.text


def test_a_token_limited_to_a_form_filters_through_no_link_out_of_it(
    app: Flask, client: FlaskClient
) -> None:
    full = scoped(app, client, tokens.TokenScope())
    customer = full.post(CUSTOMERS, json={"name": "Acme"}).json
    full.post(CONTACTS, json={"customer": customer["id"], "name": "Li Lei"})
    probe = {"filter": '{"field": "customer.name", "op": "eq", "value": "Acme"}'}
    assert len(full.get(CONTACTS, query_string=probe).json["data"]) == 1
    contacts_only = scoped(app, client, tokens.TokenScope(forms=frozenset({"crm_sfa/contact"})))
    assert contacts_only.get(CONTACTS).json["data"]
    assert contacts_only.get(CONTACTS, query_string=probe).json["data"] == []
