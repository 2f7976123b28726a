"""Signing in and out."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from formflow import accounts
from web.conftest import PASSWORD, csrf_token


def test_pages_need_a_signed_in_user(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_signing_in_leads_to_the_workbench(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    login("rep1")
    page = client.get("/")
    assert page.status_code == 200
    assert "rep1" in page.text


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: FlaskClient,
) -> None:
    token = csrf_token(client, "/login")
    page = client.post(
        "/login", data={"username": "rep1", "password": "nope-nope", "csrf_token": token}
    )
    assert page.status_code == 200
    assert "Wrong username or password." in page.text or "用户名或密码错误" in page.text


def test_repeated_failures_are_throttled(client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    for _ in range(5):
        client.post(
            "/login", data={"username": "rep1", "password": "wrong-password", "csrf_token": token}
        )
    page = client.post(
        "/login", data={"username": "rep1", "password": PASSWORD, "csrf_token": token}
    )
    assert page.status_code == 200
    assert "Too many failed attempts" in page.text or "尝试次数过多" in page.text


def test_one_client_trying_many_usernames_is_throttled_with_a_clear_message(
    client: FlaskClient,
) -> None:
    token = csrf_token(client, "/login")
    for number in range(accounts.ADDRESS_FAILURE_LIMIT):
        client.post(
            "/login",
            data={"username": f"guess{number}", "password": PASSWORD, "csrf_token": token},
        )
    page = client.post(
        "/login", data={"username": "rep1", "password": PASSWORD, "csrf_token": token}
    )
    assert page.status_code == 200
    assert (
        "Too many failed attempts from your network" in page.text
        or "来自您网络的失败尝试过多" in page.text
    )
    assert client.get("/").status_code == 302


def test_a_post_without_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "rep1", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_next_may_not_leave_the_site(client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "rep1", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_next_with_a_tab_a_browser_drops_may_not_leave_the_site(client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=/%09/evil.example/x",
        data={"username": "rep1", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_session_cookie_is_http_only(client: FlaskClient) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"username": "rep1", "password": PASSWORD, "csrf_token": token}
    )
    cookie = next(
        header for header in response.headers.getlist("Set-Cookie") if header.startswith("session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_sign_out(client: FlaskClient, login: Callable[[str], FlaskClient]) -> None:
    login("rep1")
    token = csrf_token(client, "/")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/").status_code == 302


def test_a_template_in_the_instance_folder_overrides_the_default(
    settings: object, client: FlaskClient
) -> None:
    folder = settings.instance / "templates" / "auth"  # type: ignore[attr-defined]
    folder.mkdir(parents=True)
    (folder / "login.html").write_text("custom sign-in page", encoding="utf-8")
    assert client.get("/login").text == "custom sign-in page"


def _sign_in(client: FlaskClient, username: str) -> None:
    token = csrf_token(client, "/login")
    signed = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert signed.status_code == 302, signed.text


def _choose(client: FlaskClient, language: str) -> None:
    token = csrf_token(client, "/login")
    client.post(f"/language/{language}", data={"csrf_token": token, "next": "/"})


def test_the_language_chosen_on_the_sign_in_page_stays_after_signing_in(
    client: FlaskClient,
) -> None:
    _choose(client, "en")
    _sign_in(client, "rep1")
    assert "Workbench" in client.get("/").text


def test_a_language_chosen_once_opens_the_next_sign_in(client: FlaskClient) -> None:
    _sign_in(client, "rep1")
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/"), "next": "/"})
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    _sign_in(client, "rep1")
    assert "Workbench" in client.get("/").text
