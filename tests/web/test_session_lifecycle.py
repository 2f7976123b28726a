"""Sessions end when they should: a copy of a browser's cookies stops working once its user
signs out, gets a new password, is deactivated or gets new roles; people see and end their
own sessions; every cookie carries SameSite; sign-in throttling cannot lock anyone out.

These run on SQLite and on PostgreSQL, with a small app installed in each."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from formflow import accounts, testing
from formflow.config import load_settings
from formflow.lifecycle.install import initialise
from formflow.storage.database import read_transaction, write_transaction
from formflow.web import create_app
from support import AppWriter
from web.conftest import PASSWORD, csrf_token

NEW_PASSWORD = "river-stone-42"
COOKIES = ("session", "remember_token")


@pytest.fixture
def app(database_url: str, write_app: AppWriter, tmp_path: Path) -> Iterator[Flask]:
    """The small app on the test's database, with an administrator and a member of staff."""
    environ = {
        "FORMFLOW_INSTANCE": str(tmp_path / "instance"),
        "FORMFLOW_DATABASE_URL": database_url,
    }
    settings = load_settings(environ, secure_cookies=False)
    initialise(settings, [write_app()], "admin", PASSWORD)
    app = create_app(settings)
    app.config["TESTING"] = True
    with write_transaction(app.extensions["formflow"].engine) as connection:
        accounts.create_user(connection, "rep", PASSWORD, roles={"demo": ["staff"]})
    yield app
    app.extensions["formflow"].close()


def sign_in(
    app: Flask, username: str, *, remember: bool = False, address: str = "127.0.0.1"
) -> FlaskClient:
    """A new browser, signed in as ``username``."""
    client = app.test_client()
    response = send(
        client,
        "/login",
        {"username": username, "password": PASSWORD, "remember": "y" if remember else ""},
        address=address,
    )
    assert response.status_code == 302, response.text
    return client


def send(
    client: FlaskClient, path: str, data: dict[str, object], *, address: str = "127.0.0.1"
) -> TestResponse:
    """Post a form as a browser does, with the CSRF token of the page it came from."""
    token = csrf_token(client, "/login")  # the session's token, which every page carries
    return client.post(
        path, data={**data, "csrf_token": token}, environ_base={"REMOTE_ADDR": address}
    )


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def copy_of(app: Flask, client: FlaskClient, cookie: str) -> FlaskClient:
    """Another browser holding only a copy of ``client``'s ``cookie``."""
    found = client.get_cookie(cookie)
    assert found is not None, f"no {cookie} cookie"
    thief = app.test_client()
    thief.set_cookie(cookie, found.value)
    return thief


def user_id(app: Flask, username: str) -> int:
    with read_transaction(app.extensions["formflow"].engine) as connection:
        user = accounts.find_user(connection, username)
    assert user is not None
    return user.id


def profile(**changes: object) -> dict[str, object]:
    """The admin page's form for ``rep`` as it stands, with ``changes``."""
    data: dict[str, object] = {
        "display_name": "rep",
        "department": "",
        "roles_demo": ["staff"],
        "is_active": "y",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def sign_out(app: Flask, rep: FlaskClient) -> None:
    send(rep, "/logout", {})


def change_own_password(app: Flask, rep: FlaskClient) -> None:
    fields = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert send(rep, "/account/password", fields).status_code == 302


def admin_resets_password(app: Flask, rep: FlaskClient) -> None:
    admin = sign_in(app, "admin")
    path = f"/admin/users/{user_id(app, 'rep')}/password"
    assert send(admin, path, {"new_password": NEW_PASSWORD}).status_code == 302


def admin_deactivates(app: Flask, rep: FlaskClient) -> None:
    admin = sign_in(app, "admin")
    path = f"/admin/users/{user_id(app, 'rep')}"
    assert send(admin, path, profile(is_active=None)).status_code == 302


def admin_changes_roles(app: Flask, rep: FlaskClient) -> None:
    admin = sign_in(app, "admin")
    path = f"/admin/users/{user_id(app, 'rep')}"
    response = send(admin, path, profile(roles_demo=["staff", "manager"]))
    assert response.status_code == 302


EVENTS: dict[str, Callable[[Flask, FlaskClient], None]] = {
    "sign-out": sign_out,
    "own new password": change_own_password,
    "password reset by an administrator": admin_resets_password,
    "deactivation": admin_deactivates,
    "change of roles": admin_changes_roles,
}


@pytest.mark.parametrize("cookie", COOKIES)
@pytest.mark.parametrize("event", EVENTS)
def test_a_copied_cookie_stops_working_after(app: Flask, event: str, cookie: str) -> None:
    rep = sign_in(app, "rep", remember=True)
    assert signed_in(copy_of(app, rep, cookie))  # a copy works while the session lives
    stolen = copy_of(app, rep, cookie)
    EVENTS[event](app, rep)
    assert not signed_in(stolen)


@pytest.mark.parametrize("event", [event for event in EVENTS if event != "sign-out"])
def test_other_browsers_are_signed_out_too(app: Flask, event: str) -> None:
    rep = sign_in(app, "rep")
    elsewhere = sign_in(app, "rep", remember=True)
    EVENTS[event](app, rep)
    assert not signed_in(elsewhere)


def test_signing_out_leaves_other_browsers_signed_in(app: Flask) -> None:
    rep = sign_in(app, "rep")
    elsewhere = sign_in(app, "rep")
    sign_out(app, rep)
    assert signed_in(elsewhere)


def test_a_user_who_changes_their_password_stays_signed_in_here(app: Flask) -> None:
    rep = sign_in(app, "rep")
    change_own_password(app, rep)
    assert signed_in(rep)
    assert signed_in(sign_in_with(app, "rep", NEW_PASSWORD))


def sign_in_with(app: Flask, username: str, password: str) -> FlaskClient:
    return testing.sign_in(app.test_client(), username, password)


def test_a_wrong_current_password_changes_nothing(app: Flask) -> None:
    rep = sign_in(app, "rep")
    elsewhere = sign_in(app, "rep")
    fields = {
        "current_password": "not-mine-1",
        "new_password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    page = send(rep, "/account/password", fields)
    assert page.status_code == 200
    assert "This is not your current password." in page.text or "这不是您当前的密码" in page.text
    assert signed_in(elsewhere)
    assert signed_in(sign_in_with(app, "rep", PASSWORD))


def test_an_administrator_who_changes_their_own_password_stays_signed_in_here(
    app: Flask,
) -> None:
    admin = sign_in(app, "admin")
    elsewhere = sign_in(app, "admin")
    path = f"/admin/users/{user_id(app, 'admin')}/password"
    assert send(admin, path, {"new_password": NEW_PASSWORD}).status_code == 302
    assert signed_in(admin)
    assert not signed_in(elsewhere)


def test_saving_a_profile_unchanged_keeps_the_users_sessions(app: Flask) -> None:
    rep = sign_in(app, "rep")
    admin = sign_in(app, "admin")
    send(admin, f"/admin/users/{user_id(app, 'rep')}", profile(display_name="Rep Two"))
    assert signed_in(rep)


# the sessions page ------------------------------------------------------------------------


def in_english(client: FlaskClient) -> FlaskClient:
    send(client, "/language/en", {})
    return client


def test_the_sessions_page_lists_where_the_user_is_signed_in(app: Flask) -> None:
    sign_in(app, "rep")
    rep = in_english(sign_in(app, "rep"))
    sign_in(app, "admin")
    page = rep.get("/account/sessions").text
    assert page.count('action="/account/sessions/') == 3  # two "end" and "end all other"
    assert "(this browser)" in page
    assert "End all other sessions" in page
    assert "UTC" in page


def test_the_sessions_page_speaks_chinese(app: Flask) -> None:
    rep = sign_in(app, "rep")
    page = rep.get("/account/sessions", headers={"Accept-Language": "zh-CN"}).text
    assert "登录会话" in page
    assert "当前浏览器" in page


def test_the_users_menu_leads_to_sessions_and_password(app: Flask) -> None:
    page = sign_in(app, "rep").get("/").text
    assert 'href="/account/sessions"' in page
    assert 'href="/account/password"' in page


def session_ids(client: FlaskClient) -> list[int]:
    page = client.get("/account/sessions").text
    return [int(found) for found in re.findall(r"/account/sessions/(\d+)/end", page)]


def test_ending_another_session_signs_that_browser_out(app: Flask) -> None:
    other = sign_in(app, "rep")
    (other_session,) = session_ids(other)
    rep = sign_in(app, "rep")
    send(rep, f"/account/sessions/{other_session}/end", {})
    assert not signed_in(other)
    assert signed_in(rep)


def test_ending_all_other_sessions_keeps_this_one(app: Flask) -> None:
    others = [sign_in(app, "rep"), sign_in(app, "rep", remember=True)]
    rep = sign_in(app, "rep")
    send(rep, "/account/sessions/end-others", {})
    assert [signed_in(other) for other in others] == [False, False]
    assert signed_in(rep)
    assert len(session_ids(rep)) == 1


def test_no_one_ends_another_users_session(app: Flask) -> None:
    admin = sign_in(app, "admin")
    (admin_session,) = session_ids(admin)
    rep = sign_in(app, "rep")
    send(rep, f"/account/sessions/{admin_session}/end", {})
    assert signed_in(admin)


def test_ending_this_browsers_own_session_signs_it_out(app: Flask) -> None:
    rep = sign_in(app, "rep", remember=True)
    (mine,) = session_ids(rep)
    send(rep, f"/account/sessions/{mine}/end", {})
    assert not signed_in(rep)


# cookies and throttling -------------------------------------------------------------------


def test_every_cookie_carries_samesite(app: Flask) -> None:
    client = app.test_client()
    responses = [client.get("/login")]
    token = csrf_token(client, "/login")
    responses.append(
        client.post(
            "/login",
            data={"username": "rep", "password": PASSWORD, "remember": "y", "csrf_token": token},
        )
    )
    responses += [client.get(path) for path in ("/", "/account/sessions", "/demo/item/")]
    token = csrf_token(client, "/")
    responses.append(client.post("/language/en", data={"csrf_token": token}))
    responses.append(client.post("/logout", data={"csrf_token": token}))
    cookies = [
        cookie for response in responses for cookie in response.headers.getlist("Set-Cookie")
    ]
    names = {cookie.split("=", 1)[0] for cookie in cookies}
    assert {"session", "remember_token"} <= names
    assert [cookie for cookie in cookies if "SameSite=Lax" not in cookie] == []


def test_failures_from_another_client_do_not_lock_the_user_out(app: Flask) -> None:
    attacker = app.test_client()
    for _ in range(accounts.LOGIN_FAILURE_LIMIT * 3):
        send(attacker, "/login", {"username": "rep", "password": "guess-guess"}, address="10.0.0.9")
    page = send(attacker, "/login", {"username": "rep", "password": PASSWORD}, address="10.0.0.9")
    assert page.status_code == 200
    assert "Too many failed attempts" in page.text or "尝试次数过多" in page.text
    assert signed_in(sign_in(app, "rep"))  # from 127.0.0.1
