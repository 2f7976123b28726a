"""Signing in with a second factor, setting one up, and administrators who must have one."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from formflow.accounts import second_factor
from formflow.config import Settings
from formflow.storage.database import write_transaction
from formflow.web import create_app
from web.conftest import PASSWORD, csrf_token
from web.test_api import CUSTOMERS, token_for, user_id


def enrol(app: Flask, username: str) -> tuple[str, list[str]]:
    """Turn a second factor on for ``username``; its secret and recovery codes."""
    engine = app.extensions["formflow"].engine
    with write_transaction(engine) as connection:
        user = user_id(app, username)
        secret = second_factor.begin_enrolment(connection, user)
        earlier = datetime.fromtimestamp(datetime.now(UTC).timestamp() - 60, UTC)
        codes = second_factor.confirm_enrolment(
            connection, user, pyotp.TOTP(secret).at(earlier), earlier
        )
    return secret, codes


def post(client: FlaskClient, path: str, data: dict[str, str]) -> TestResponse:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/login")})


def password_step(client: FlaskClient, username: str) -> TestResponse:
    return post(
        client, "/login?next=/account/sessions", {"username": username, "password": PASSWORD}
    )


def signed_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def test_a_password_alone_does_not_sign_in_someone_with_a_second_factor(
    app: Flask, client: FlaskClient
) -> None:
    enrol(app, "rep1")
    response = password_step(client, "rep1")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login/code")
    assert not signed_in(client)


def test_the_current_code_signs_in_and_goes_on_where_asked(app: Flask, client: FlaskClient) -> None:
    secret, _codes = enrol(app, "rep1")
    password_step(client, "rep1")
    response = post(client, "/login/code", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/sessions")
    assert signed_in(client)


def test_a_recovery_code_signs_in(app: Flask, client: FlaskClient) -> None:
    _secret, codes = enrol(app, "rep1")
    password_step(client, "rep1")
    assert post(client, "/login/code", {"code": codes[0]}).status_code == 302
    assert signed_in(client)


def test_a_wrong_code_is_refused_next_to_the_field(app: Flask, client: FlaskClient) -> None:
    enrol(app, "rep1")
    password_step(client, "rep1")
    response = post(client, "/login/code", {"code": "123456"})
    assert response.status_code == 200
    assert 'id="code-error"' in response.text
    assert not signed_in(client)


def test_guessing_codes_runs_into_the_sign_in_throttle(app: Flask, client: FlaskClient) -> None:
    secret, _codes = enrol(app, "rep1")
    password_step(client, "rep1")
    for _ in range(5):
        post(client, "/login/code", {"code": "000000"})
    response = post(client, "/login/code", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    assert not signed_in(client)


def test_the_code_page_without_the_password_step_leads_back_to_sign_in(
    client: FlaskClient,
) -> None:
    response = client.get("/login/code")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")


def test_setting_up_shows_a_qr_code_then_recovery_codes(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    post(client, "/account/second-factor/start", {})
    page = client.get("/account/second-factor").text
    assert "<svg" in page
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page)
    assert secret is not None
    done = post(client, "/account/second-factor", {"code": pyotp.TOTP(secret[1]).now()})
    assert done.status_code == 200
    assert len(re.findall(r"<li><code>[a-z2-9]{5}-[a-z2-9]{5}</code></li>", done.text)) == 10


def test_turning_it_off_takes_the_password(
    app: Flask, client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    enrol(app, "rep1")
    engine = app.extensions["formflow"].engine
    post(client, "/account/second-factor/off", {"password": "not-it"})
    with write_transaction(engine) as connection:
        assert second_factor.is_enrolled(connection, user_id(app, "rep1"))
    post(client, "/account/second-factor/off", {"password": PASSWORD})
    with write_transaction(engine) as connection:
        assert not second_factor.is_enrolled(connection, user_id(app, "rep1"))


@pytest.fixture
def strict_app(settings: Settings) -> Iterator[Flask]:
    """An instance that requires administrators to have a second factor."""
    app = create_app(dataclasses.replace(settings, admin_second_factor=True))
    app.config["TESTING"] = True
    yield app
    app.extensions["formflow"].close()


def test_an_administrator_without_a_second_factor_is_led_to_set_one_up(
    strict_app: Flask,
) -> None:
    client = strict_app.test_client()
    password_step(client, "admin")
    for page in ("/", "/admin/users", "/crm_sfa/customer/"):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response.headers["Location"].endswith("/account/second-factor")
    assert client.get("/account/second-factor").status_code == 200


def test_staff_are_not_asked_for_a_second_factor(strict_app: Flask) -> None:
    client = strict_app.test_client()
    password_step(client, "rep1")
    assert signed_in(client)


def test_an_administrators_token_is_refused_until_a_second_factor_is_on(
    strict_app: Flask,
) -> None:
    client = strict_app.test_client()
    headers = {"Authorization": f"Bearer {token_for(strict_app, 'admin')}"}
    refused = client.get(CUSTOMERS, headers=headers)
    assert refused.status_code == 403
    assert refused.json is not None
    assert refused.json["error"]["code"] == "second_factor_required"
    enrol(strict_app, "admin")
    assert client.get(CUSTOMERS, headers=headers).status_code == 200


def test_an_administrator_turns_off_a_lost_second_factor(
    app: Flask, client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    enrol(app, "rep1")
    login("admin")
    rep = user_id(app, "rep1")
    assert "second-factor/off" in client.get(f"/admin/users/{rep}").text
    post(client, f"/admin/users/{rep}/second-factor/off", {})
    with write_transaction(app.extensions["formflow"].engine) as connection:
        assert not second_factor.is_enrolled(connection, rep)
    assert signed_in(app.test_client()) is False
    fresh = app.test_client()
    assert password_step(fresh, "rep1").headers["Location"].endswith("/account/sessions")
