"""Helpers for the record page tests: records made through the service, forms sent as a
browser sends them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import select
from werkzeug.test import TestResponse

from formflow import accounts
from formflow.definitions import App
from formflow.lifecycle.instance import Instance
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction
from formflow.storage.platform_tables import users
from formflow.storage.versions import StoredVersion
from web.conftest import csrf_token

APP = "crm_sfa"


def service(app: Flask) -> RecordService:
    return app.extensions["formflow"].records(APP)


def user_id(app: Flask, username: str) -> int:
    with read_transaction(app.extensions["formflow"].engine) as connection:
        return int(
            connection.execute(select(users.c.id).where(users.c.username == username)).scalar_one()
        )


def actor(app: Flask, username: str) -> Actor:
    engine = app.extensions["formflow"].engine
    with read_transaction(engine) as connection:
        user = accounts.get_user(connection, user_id(app, username))
        assert user is not None
        return accounts.actor_for(connection, user, APP)


def add(app: Flask, username: str, form_key: str, **values: Any) -> dict[str, Any]:
    """A record created by ``username`` through the record service."""
    return service(app).create(actor(app, username), form_key, values)


def send(
    client: FlaskClient, path: str, data: dict[str, Any] | None = None, *, page: str = "/"
) -> TestResponse:
    """POST ``data`` to ``path`` with the CSRF token a page carries, as a browser would."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})


_COMPILED: dict[str, App] = {}


class _TemplateCache(BytecodeCache):
    """Compiled templates kept in memory across the apps of a test run (keyed by each
    template's name and source checksum, so an edited template is compiled afresh)."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _TemplateCache()


@pytest.fixture
def warm_caches(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compile each app definition and each template once per test run: compiled apps
    are immutable, and compiling the CRM app and the pages for every test would take
    most of the suite's time."""
    original = Instance.compile

    def compile_once(self: Instance, version: StoredVersion) -> App:
        if version.digest not in _COMPILED:
            _COMPILED[version.digest] = original(self, version)
        return _COMPILED[version.digest]

    monkeypatch.setattr(Instance, "compile", compile_once)
    app.jinja_env.bytecode_cache = _TEMPLATES


@pytest.fixture
def sign_in(
    client: FlaskClient, login: Callable[[str], FlaskClient]
) -> Callable[[str], FlaskClient]:
    """Sign in as a user and read the pages in English, so tests can look for the
    interface's own (English) messages and the definitions' English labels."""

    def english(username: str) -> FlaskClient:
        signed = login(username)
        with client.session_transaction() as session:
            session["language"] = "en"
        return signed

    return english
