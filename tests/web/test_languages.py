"""Which language a request is answered in, and which a new account starts in.

A request's language is the first of: the signed-in person's own choice, the one made in
this browser before signing in, the browser's ``Accept-Language``, the instance's
``FORMFLOW_LANGUAGE``, Chinese. New accounts start in the instance's language, or in none
(their browser's) when the instance sets none.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from formflow import accounts
from formflow.cli import main
from formflow.config import ConfigError, Settings, load_settings
from formflow.storage.database import read_transaction, write_transaction
from formflow.testing import sign_in
from formflow.web import create_app
from web.conftest import PASSWORD, csrf_token

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}


def language_of(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', page)
    assert found is not None, page[:200]
    return "zh" if found.group(1).startswith("zh") else "en"


def users_language(app: Flask, username: str) -> str:
    with read_transaction(app.extensions["formflow"].engine) as connection:
        found = accounts.find_user(connection, username)
    assert found is not None
    return found.language


def choose(client: FlaskClient, language: str) -> None:
    token = csrf_token(client, "/login")
    client.post(f"/language/{language}", data={"csrf_token": token, "next": "/"})


@pytest.fixture
def english_instance(settings: Settings) -> Iterator[Flask]:
    """The web tests' instance, with FORMFLOW_LANGUAGE=en."""
    app = create_app(dataclasses.replace(settings, language="en"))
    app.config["TESTING"] = True
    yield app
    app.extensions["formflow"].close()


def test_with_nothing_asked_and_no_instance_language_pages_are_chinese(client: FlaskClient) -> None:
    assert language_of(client.get("/login").text) == "zh"


def test_the_browsers_language_comes_before_chinese(client: FlaskClient) -> None:
    assert language_of(client.get("/login", headers=ENGLISH).text) == "en"


def test_the_instances_language_answers_a_browser_that_asks_for_none(
    english_instance: Flask,
) -> None:
    assert language_of(english_instance.test_client().get("/login").text) == "en"


def test_the_browsers_language_comes_before_the_instances(english_instance: Flask) -> None:
    page = english_instance.test_client().get("/login", headers=CHINESE).text
    assert language_of(page) == "zh"


def test_a_choice_made_in_this_browser_comes_before_its_accept_language(
    client: FlaskClient,
) -> None:
    choose(client, "en")
    assert language_of(client.get("/login", headers=CHINESE).text) == "en"


def test_the_users_own_choice_comes_before_this_browsers(app: Flask, client: FlaskClient) -> None:
    with write_transaction(app.extensions["formflow"].engine) as connection:
        user = accounts.find_user(connection, "rep1")
        assert user is not None
        accounts.set_language(connection, user.id, "en")
    sign_in(client, "rep1", PASSWORD)
    with client.session_transaction() as session:
        session["language"] = "zh"  # as a session older than their choice could hold
    assert language_of(client.get("/", headers=CHINESE).text) == "en"


def test_a_user_who_chose_nothing_follows_their_browser(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "rep1", PASSWORD)
    assert users_language(app, "rep1") == ""
    assert language_of(client.get("/", headers=ENGLISH).text) == "en"
    assert language_of(client.get("/", headers=CHINESE).text) == "zh"


def test_an_account_an_administrator_adds_starts_in_the_instances_language(
    english_instance: Flask,
) -> None:
    admin = sign_in(english_instance.test_client(), "admin", PASSWORD)
    token = csrf_token(admin, "/admin/users/new")
    form = {"csrf_token": token, "username": "newbie", "display_name": "Newbie"}
    form |= {"password": "a-long-password-1", "department": ""}
    added = admin.post("/admin/users/new", data=form)
    assert added.status_code == 302, added.text
    assert users_language(english_instance, "newbie") == "en"


def test_an_account_an_administrator_adds_without_an_instance_language_has_none(
    app: Flask, client: FlaskClient
) -> None:
    admin = sign_in(client, "admin", PASSWORD)
    token = csrf_token(admin, "/admin/users/new")
    form = {"csrf_token": token, "username": "newbie", "display_name": "Newbie"}
    form |= {"password": "a-long-password-1", "department": ""}
    added = admin.post("/admin/users/new", data=form)
    assert added.status_code == 302, added.text
    assert users_language(app, "newbie") == ""


@pytest.mark.parametrize("instance_language", ["en", ""])
def test_an_account_the_cli_adds_starts_in_the_instances_language(
    app: Flask, settings: Settings, instance_language: str
) -> None:
    env = {"FORMFLOW_INSTANCE": str(settings.instance), "FORMFLOW_LANGUAGE": instance_language}
    created = CliRunner().invoke(
        main, ["user", "create", "newbie", "--password", "a-long-password-1"], env=env
    )
    assert created.exit_code == 0, created.output
    assert users_language(app, "newbie") == instance_language


def test_an_instance_language_other_than_zh_or_en_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="FORMFLOW_LANGUAGE='fr' is not a language"):
        load_settings({"FORMFLOW_LANGUAGE": "fr"})
