"""API tokens: made and shown once, found by their hash, noted when used, revoked."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select

from formflow.accounts import tokens
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import api_tokens
from web.conftest import csrf_token
from web.test_api import CUSTOMERS, token_for, user_id

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(app: Flask) -> Engine:
    found: Engine = app.extensions["formflow"].engine
    return found


def last_used(db: Engine, token_id: int) -> datetime | None:
    with read_transaction(db) as connection:
        moment = connection.execute(
            select(api_tokens.c.last_used_at).where(api_tokens.c.id == token_id)
        ).scalar_one()
    return moment.replace(tzinfo=UTC) if moment else None


def test_a_token_signs_in_its_user(app: Flask, db: Engine) -> None:
    rep1 = user_id(app, "rep1")
    with write_transaction(db) as connection:
        token_id, plaintext = tokens.create_token(connection, rep1, " nightly sync ")
        user = tokens.authenticate_token(connection, plaintext, now=NOW)
        listed = tokens.list_tokens(connection, rep1)
    assert plaintext.startswith(tokens.PREFIX)
    assert user is not None
    assert user.username == "rep1"
    assert [(t.id, t.name) for t in listed] == [(token_id, "nightly sync")]


@pytest.mark.parametrize("wrong", ["", "ff_", "ff_nope", "nope", "ff_" + "a" * 500])
def test_anything_else_signs_in_nobody(app: Flask, db: Engine, wrong: str) -> None:
    with write_transaction(db) as connection:
        tokens.create_token(connection, user_id(app, "rep1"), "real")
        assert tokens.authenticate_token(connection, wrong) is None


def test_an_expired_token_signs_in_nobody(app: Flask, db: Engine) -> None:
    with write_transaction(db) as connection:
        _token_id, plaintext = tokens.create_token(
            connection, user_id(app, "rep1"), "one-off", now=NOW, expires_in=timedelta(days=1)
        )
        almost = NOW + timedelta(days=1, seconds=-1)
        assert tokens.authenticate_token(connection, plaintext, now=almost) is not None
        late = NOW + timedelta(days=1)
        assert tokens.authenticate_token(connection, plaintext, now=late) is None


def test_the_api_refuses_an_expired_token(app: Flask, client: FlaskClient, db: Engine) -> None:
    with write_transaction(db) as connection:
        _token_id, plaintext = tokens.create_token(
            connection,
            user_id(app, "rep1"),
            "one-off",
            now=datetime.now(UTC) - timedelta(days=2),
            expires_in=timedelta(days=1),
        )
    api = client.get(CUSTOMERS, headers={"Authorization": f"Bearer {plaintext}"})
    assert api.status_code == 401
    assert api.json is not None
    assert api.json["error"]["code"] == "unauthorized"


def test_the_page_shows_when_a_token_expires(
    app: Flask, client: FlaskClient, db: Engine, login: Callable[[str], FlaskClient]
) -> None:
    with write_transaction(db) as connection:
        tokens.create_token(
            connection, user_id(app, "rep1"), "one-off", now=NOW, expires_in=timedelta(days=3)
        )
        tokens.create_token(connection, user_id(app, "rep1"), "for good", now=NOW)
    login("rep1")
    page = client.get("/account/tokens/").text
    assert "2026-03-04 09:00 UTC" in page
    assert "永不过期" in page


def test_use_is_noted_at_most_once_a_minute(app: Flask, db: Engine) -> None:
    with write_transaction(db) as connection:
        token_id, plaintext = tokens.create_token(connection, user_id(app, "rep1"), "t")
    for moment, expected in [
        (NOW, NOW),
        (NOW + timedelta(seconds=30), NOW),
        (NOW + timedelta(seconds=61), NOW + timedelta(seconds=61)),
    ]:
        with write_transaction(db) as connection:
            assert tokens.authenticate_token(connection, plaintext, now=moment) is not None
        assert last_used(db, token_id) == expected


def test_the_api_notes_a_tokens_use(app: Flask, client: FlaskClient, db: Engine) -> None:
    with write_transaction(db) as connection:
        token_id, plaintext = tokens.create_token(connection, user_id(app, "rep1"), "t")
    assert last_used(db, token_id) is None
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(CUSTOMERS, headers=headers).status_code == 200
    first = last_used(db, token_id)
    assert first is not None
    assert client.get(CUSTOMERS, headers=headers).status_code == 200
    assert last_used(db, token_id) == first


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_needs_a_sensible_name(app: Flask, db: Engine, name: str) -> None:
    with write_transaction(db) as connection, pytest.raises(tokens.TokenError):
        tokens.create_token(connection, user_id(app, "rep1"), name)


def test_tokens_are_listed_newest_first_and_revoked_one_by_one(app: Flask, db: Engine) -> None:
    rep1 = user_id(app, "rep1")
    with write_transaction(db) as connection:
        first, _ = tokens.create_token(connection, rep1, "first")
        second, kept = tokens.create_token(connection, rep1, "second")
        tokens.create_token(connection, user_id(app, "rep2"), "someone else's")
        assert [t.name for t in tokens.list_tokens(connection, rep1)] == ["second", "first"]
        assert tokens.revoke_token(connection, rep1, first)
        assert not tokens.revoke_token(connection, rep1, first)
        assert [t.id for t in tokens.list_tokens(connection, rep1)] == [second]
        assert tokens.authenticate_token(connection, kept) is not None


# the page -------------------------------------------------------------------------


def test_the_page_needs_a_signed_in_user(client: FlaskClient) -> None:
    response = client.get("/account/tokens/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_token_made_on_the_page_is_shown_once_and_works(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    page = client.get("/account/tokens/")
    assert page.status_code == 200
    made = client.post(
        "/account/tokens/",
        data={"name": "ERP sync", "csrf_token": csrf_token(client, "/account/tokens/")},
    )
    assert made.status_code == 200
    assert made.headers["Cache-Control"] == "no-store"
    plaintext = re.search(r'id="new-token">(ff_[^<]+)<', made.text)
    assert plaintext is not None
    listed = client.get("/account/tokens/").text
    assert "ERP sync" in listed
    assert plaintext[1] not in listed
    api = client.get(CUSTOMERS, headers={"Authorization": f"Bearer {plaintext[1]}"})
    assert api.status_code == 200


def test_a_token_made_on_the_page_may_expire(
    app: Flask, client: FlaskClient, db: Engine, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    page = client.get("/account/tokens/").text
    assert '<option value="30">30 天后</option>' in page
    client.post(
        "/account/tokens/",
        data={
            "name": "month job",
            "expires": "30",
            "csrf_token": csrf_token(client, "/account/tokens/"),
        },
    )
    with read_transaction(db) as connection:
        [made] = tokens.list_tokens(connection, user_id(app, "rep1"))
    assert made.expires_at == made.created_at + timedelta(days=30)


def test_the_page_refuses_a_lifetime_it_does_not_offer(
    app: Flask, client: FlaskClient, db: Engine, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    response = client.post(
        "/account/tokens/",
        data={"name": "x", "expires": "9999", "csrf_token": csrf_token(client, "/account/tokens/")},
    )
    assert response.status_code == 200
    assert "new-token" not in response.text
    with read_transaction(db) as connection:
        assert tokens.list_tokens(connection, user_id(app, "rep1")) == []


def test_a_token_is_revoked_on_the_page(
    app: Flask, client: FlaskClient, db: Engine, login: Callable[[str], FlaskClient]
) -> None:
    with write_transaction(db) as connection:
        token_id, plaintext = tokens.create_token(connection, user_id(app, "rep1"), "retired-job")
    login("rep1")
    revoked = client.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_token(client, "/account/tokens/")},
    )
    assert revoked.status_code == 302
    assert "retired-job" not in client.get("/account/tokens/").text
    api = client.get(CUSTOMERS, headers={"Authorization": f"Bearer {plaintext}"})
    assert api.status_code == 401


def test_the_page_cannot_revoke_another_users_token(
    app: Flask, client: FlaskClient, db: Engine, login: Callable[[str], FlaskClient]
) -> None:
    with write_transaction(db) as connection:
        token_id, plaintext = tokens.create_token(connection, user_id(app, "rep2"), "theirs")
    login("rep1")
    client.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_token(client, "/account/tokens/")},
    )
    api = client.get(CUSTOMERS, headers={"Authorization": f"Bearer {plaintext}"})
    assert api.status_code == 200


def test_the_page_refuses_a_post_without_csrf(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    assert client.post("/account/tokens/", data={"name": "x"}).status_code == 400


def test_a_token_and_its_user_are_found_in_one_statement(app: Flask, db: Engine) -> None:
    with write_transaction(db) as connection:
        _token_id, plaintext = tokens.create_token(connection, user_id(app, "rep1"), "lookup")
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    with read_transaction(db) as connection:
        event.listen(db, "before_cursor_execute", record)
        try:
            found = tokens.find_token(connection, plaintext)
        finally:
            event.remove(db, "before_cursor_execute", record)
    assert found is not None
    assert found.identity.user.username == "rep1"
    assert len(seen) == 1


def test_an_api_create_begins_only_its_write(app: Flask, client: FlaskClient, db: Engine) -> None:
    """The token is looked up in one statement outside a transaction (SQLite): the create's
    first statement is that lookup, with no BEGIN before it."""
    plaintext = token_for(app, "admin")
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert client.get(CUSTOMERS, headers=headers).status_code == 200  # the use noted
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(db, "before_cursor_execute", record)
    try:
        response = client.post(CUSTOMERS, json={"name": "Acme Ltd"}, headers=headers)
    finally:
        event.remove(db, "before_cursor_execute", record)
    assert response.status_code == 201, response.text
    assert "ff_api_tokens" in seen[0]  # the token's lookup, first, with no BEGIN before it
    assert seen.count("BEGIN IMMEDIATE") == 1
