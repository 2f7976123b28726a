"""The side navigation: the forms a user may read, kept per roles and language."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from formflow import accounts
from formflow.storage.database import write_transaction

Login = Callable[[str], FlaskClient]


def nav_links(page: str) -> list[str]:
    nav = page.split('id="nav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'href="/crm_sfa/(\w+)/"', nav)


def test_the_navigation_lists_the_forms_the_user_may_read(
    client: FlaskClient, login: Login
) -> None:
    login("finance")
    links = nav_links(client.get("/").text)
    assert "invoice" in links
    assert "lead" not in links


def test_the_navigation_follows_a_change_of_roles(
    app: Flask, client: FlaskClient, login: Login
) -> None:
    login("rep1")
    assert "lead" in nav_links(client.get("/").text)
    with write_transaction(app.extensions["formflow"].engine) as connection:
        user = accounts.find_user(connection, "rep1")
        assert user is not None
        accounts.set_roles(connection, user.id, "crm_sfa", ["finance"])
    assert client.get("/").status_code == 302  # new roles end the session
    login("rep1")
    assert "lead" not in nav_links(client.get("/").text)


def test_the_current_form_is_marked(client: FlaskClient, login: Login) -> None:
    login("rep1")
    page = client.get("/crm_sfa/contact/").text
    assert re.search(r'href="/crm_sfa/contact/" aria-current="page"', page)
    assert len(re.findall(r'aria-current="page"', page)) == 1
