"""The notifications page, and the unread count in every page's header."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from formflow.testing import sign_in
from web.conftest import PASSWORD, csrf_token
from web.test_api_notifications import submitted_contract

Login = Callable[[str], FlaskClient]


def header_count(page: str) -> str | None:
    """The unread count on the header's bell, or None when it shows none."""
    bell = re.search(r'class="bell".*?</a>', page, re.DOTALL)
    assert bell is not None, "every page has the bell"
    count = re.search(r'data-unread="(\d+)"', bell.group(0))
    return count.group(1) if count else None


def test_the_header_shows_the_approvers_unread_count(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    submitted_contract(app, client)
    submitted_contract(app, client)
    admin = login("admin")
    assert header_count(admin.get("/").text) == "2"


def test_the_header_shows_no_count_when_all_is_read(app: Flask, login: Login) -> None:
    rep = login("rep2")
    assert header_count(rep.get("/").text) is None


def test_the_page_lists_notifications_newest_first(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    submitted_contract(app, client)
    submitted_contract(app, client)
    admin = login("admin")
    page = admin.get("/notifications").text
    assert page.count('class="card inbox-row unread"') == 2
    shown = [int(found) for found in re.findall(r'data-notification="(\d+)"', page)]
    assert shown == sorted(shown, reverse=True)


def opening(page: str) -> str:
    """Where the page's only notification posts to be opened."""
    (action,) = re.findall(r'<form method="post" action="(/notifications/\d+)"', page)
    return action


def test_opening_a_notification_marks_it_read_and_shows_the_record(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    record_id = submitted_contract(app, client)
    admin = login("admin")
    page = admin.get("/notifications").text
    opened = admin.post(opening(page), data={"csrf_token": csrf_token(admin, "/notifications")})
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith(f"/crm_sfa/contract/{record_id}")
    assert header_count(admin.get("/notifications").text) is None


def test_a_get_of_a_notification_leaves_it_unread(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    """A link prefetcher, a browser preloading, or another site's <img> sends GETs."""
    submitted_contract(app, client)
    admin = login("admin")
    href = opening(admin.get("/notifications").text)
    admin.get(href, follow_redirects=True)
    assert header_count(admin.get("/notifications").text) == "1"


def test_opening_a_notification_needs_the_pages_csrf_token(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    submitted_contract(app, client)
    admin = login("admin")
    href = opening(admin.get("/notifications").text)
    assert admin.post(href).status_code == 400
    assert header_count(admin.get("/notifications").text) == "1"


def test_mark_all_read_from_the_page(app: Flask, client: FlaskClient, login: Login) -> None:
    submitted_contract(app, client)
    admin = login("admin")
    token = csrf_token(admin, "/notifications")
    done = admin.post("/notifications/read-all", data={"csrf_token": token})
    assert done.status_code == 302
    assert 'class="card inbox-row unread"' not in admin.get("/notifications").text


def test_nobody_opens_someone_elses_notification(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    submitted_contract(app, client)
    href = opening(login("admin").get("/notifications").text)
    other = sign_in(app.test_client(), "rep2", PASSWORD)
    token = csrf_token(other, "/notifications")
    assert other.post(href, data={"csrf_token": token}).status_code == 404
