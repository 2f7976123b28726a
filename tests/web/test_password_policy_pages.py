"""Password forms refuse what the policy refuses, next to the field, and change nothing."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from formflow import accounts
from formflow.storage.database import read_transaction
from web.conftest import PASSWORD, csrf_token
from web.test_api import user_id


def change_own(client: FlaskClient, new: str) -> str:
    data = {"current_password": PASSWORD, "new_password": new, "confirm": new}
    token = csrf_token(client, "/account/password")
    response = client.post("/account/password", data={**data, "csrf_token": token})
    assert response.status_code == 200
    return response.text


def still_has_old_password(app: Flask, username: str) -> bool:
    with read_transaction(app.extensions["formflow"].engine) as connection:
        return accounts.authenticate(connection, username, PASSWORD) is not None


def test_a_guessable_new_password_is_refused_next_to_its_field(
    app: Flask, client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    page = change_own(client, "Qwerty2024!")
    assert 'id="new_password-error"' in page
    assert still_has_old_password(app, "rep1")


def test_the_current_password_cannot_come_back(
    app: Flask, client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    """The template users' passwords were set as hashes, outside the history: an admin sets
    one first, then the user tries to go back to it."""
    login("admin")
    with client.session_transaction() as session:
        session["language"] = "en"
    token = csrf_token(client, "/account/password")
    rep = user_id(app, "rep1")
    first = {"new_password": "river-stone-41", "csrf_token": token}
    assert client.post(f"/admin/users/{rep}/password", data=first).status_code == 302
    again = client.post(f"/admin/users/{rep}/password", data=first)
    assert again.status_code == 200
    assert "one of your last 5 passwords" in again.text
