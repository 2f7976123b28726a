"""Testing a plugin against a real Formflow instance: the public helpers for plugin authors.

A plugin is best tested the way it will run: its field types, functions and hooks loaded
beside the built-in ones, an app definition compiled and migrated with them, records
written through the record service and pages and API calls answered by the web app.
:class:`Sandbox` sets all of that up in a folder (a pytest ``tmp_path``), on SQLite unless
told otherwise, with no entry points but the plugins given::

    from formflow.testing import Sandbox

    import my_plugin

    def test_my_plugin(tmp_path):
        files = {"app.yaml": APP_YAML, "forms/person.yaml": PERSON_YAML}
        with Sandbox(tmp_path, files, plugins=[my_plugin]) as box:
            alice = box.add_user("alice", roles=["staff"])
            record = box.records.create(alice, "person", {"name": "Li Lei"})
            page = box.client("alice").get(f"/{box.app_key}/person/{record['id']}")

For pytest, :mod:`formflow.pytest_plugin` turns this into fixtures (``formflow_sandbox``,
``formflow_staff``, ``formflow_client``): add ``pytest_plugins = ["formflow.pytest_plugin"]``
to your ``conftest.py`` and override ``formflow_plugins`` (and ``formflow_app``) there.

Nothing here is mocked: it is the same code ``formflow init``, ``formflow migrate`` and
``formflow serve`` run. What the sandbox offers is part of Formflow's public API and
changes only with a note in the changelog.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from formflow import accounts
from formflow.config import Settings, load_settings
from formflow.definitions import App
from formflow.errors import FormflowError
from formflow.lifecycle.install import migrate_app
from formflow.lifecycle.instance import Instance
from formflow.plugins import Plugins, load_plugins
from formflow.records.access import Actor
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import upgrade_platform_tables
from formflow.web import create_app

PASSWORD = "sandbox-password-1"
"""The password of every user :meth:`Sandbox.add_user` adds, unless given another."""

SAMPLE_APP: Mapping[str, str] = {
    "app.yaml": """\
key: sample
version: "1.0"
label: {zh: 示例, en: Sample}
roles:
  - {key: staff, label: {zh: 员工, en: Staff}}
  - {key: manager, label: {zh: 经理, en: Manager}}
include:
  forms: [forms/*.yaml]
""",
    "forms/member.yaml": """\
key: member
label: {zh: 会员, en: Member}
title_field: name
fields:
  - {key: name, type: text, label: {zh: 名称, en: Name}, required: true}
  - {key: city, type: text, label: {zh: 城市, en: City}}
  - {key: notes, type: textarea, label: {zh: 备注, en: Notes}}
permissions:
  staff: {create: all, read: all, update: own, delete: none}
  manager: {create: all, read: all, update: all, delete: all}
""",
}
"""A small app (``sample``: a ``member`` form, roles ``staff`` and ``manager``) for
plugins whose tests need some app, not a particular one."""

__all__ = ["PASSWORD", "SAMPLE_APP", "Sandbox", "SandboxError", "csrf_token", "sign_in"]


class SandboxError(FormflowError):
    """The sandbox cannot do what a test asked: the app did not migrate, or a sign-in failed."""


class Sandbox:
    """One instance with one app and the given plugins, in ``folder``.

    ``app`` is the app's folder, or its files as a mapping of relative path to text
    (``{"app.yaml": ..., "forms/item.yaml": ...}``). ``plugins`` are modules or objects
    with hook implementations; ``plugins_dir`` a folder of plugin files, as
    ``FORMFLOW_PLUGINS_DIR`` would name; installed entry points are left out unless
    ``entry_points`` is true (your own package's entry point and ``plugins`` would
    otherwise register the plugin twice). ``database_url`` defaults to a SQLite file in
    ``folder``. Close the sandbox (or use it in a ``with`` block) when the test is done.
    """

    def __init__(
        self,
        folder: Path,
        app: Path | Mapping[str, str] = SAMPLE_APP,
        *,
        plugins: Sequence[object] = (),
        plugins_dir: Path | None = None,
        entry_points: bool = False,
        database_url: str | None = None,
    ) -> None:
        environ = {"FORMFLOW_INSTANCE": str(folder / "instance")}
        if database_url is not None:
            environ["FORMFLOW_DATABASE_URL"] = database_url
        if plugins_dir is not None:
            environ["FORMFLOW_PLUGINS_DIR"] = str(plugins_dir)
        self.settings: Settings = load_settings(environ, apps=(), secure_cookies=False)
        self.settings.instance.mkdir(parents=True, exist_ok=True)
        self.plugins: Plugins = load_plugins(
            plugins_dir=plugins_dir, entry_points=entry_points, extra=plugins
        )
        self.instance = Instance(self.settings, plugins=self.plugins)
        self._flask: Flask | None = None
        try:
            upgrade_platform_tables(self.instance.engine)
            before = set(self.instance.app_keys)
            outcome = migrate_app(self.instance, app, dry_run=False)
            added = [key for key in self.instance.app_keys if key not in before]
            if len(added) != 1:
                raise SandboxError("the app was not installed:\n" + "\n".join(outcome.lines))
        except BaseException:
            self.instance.close()
            raise
        self.app_key: str = added[0]
        """The key of the sandbox's app (its ``app.yaml`` ``key``)."""

    @property
    def app(self) -> App:
        """The compiled app, as the instance runs it."""
        return self.instance.app(self.app_key)

    @property
    def records(self) -> RecordService:
        """The record service of the app: create, update, find, get, delete as an actor."""
        return self.instance.records(self.app_key)

    def add_user(
        self,
        username: str,
        *,
        roles: Iterable[str] = (),
        password: str = PASSWORD,
        is_admin: bool = False,
        department_id: int | None = None,
    ) -> Actor:
        """Add an active user with ``roles`` in the app; the :class:`Actor` they act as."""
        with write_transaction(self.instance.engine) as connection:
            accounts.create_user(
                connection,
                username,
                password,
                is_admin=is_admin,
                department_id=department_id,
                roles={self.app_key: list(roles)},
            )
        return self.actor(username)

    def add_department(self, name: str, *, parent_id: int | None = None) -> int:
        """Add a department (under ``parent_id``); its id, for :meth:`add_user`."""
        with write_transaction(self.instance.engine) as connection:
            return accounts.create_department(connection, name, parent_id=parent_id)

    def actor(self, username: str) -> Actor:
        """Who ``username`` acts as in the app: their roles and their reach."""
        with read_transaction(self.instance.engine) as connection:
            user = accounts.find_user(connection, username)
            if user is None:
                raise SandboxError(f"no user {username!r}: add them with add_user first")
            return accounts.actor_for(connection, user, self.app_key)

    @property
    def flask_app(self) -> Flask:
        """The web app serving the sandbox, built on first use, in testing mode."""
        if self._flask is None:
            self._flask = create_app(self.settings, instance=self.instance)
            self._flask.config["TESTING"] = True
        return self._flask

    def client(self, username: str | None = None, *, password: str = PASSWORD) -> FlaskClient:
        """A Flask test client (a browser of its own), signed in as ``username`` if given."""
        client = self.flask_app.test_client()
        if username is not None:
            sign_in(client, username, password)
        return client

    def deliver_events(self) -> int:
        """Hand the events of committed changes to their subscribers (after-hooks among
        them) now, as the relay would; how many were delivered."""
        return self.instance.deliver_events()

    def close(self) -> None:
        self.instance.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token the page at ``path`` carries, to send back with a form as a browser
    would."""
    page = client.get(path).text
    marker = 'name="csrf-token" content="'
    start = page.find(marker)
    if start < 0:
        raise SandboxError(f"{path} has no CSRF token: is it a page people must sign in to?")
    start += len(marker)
    return page[start : page.index('"', start)]


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> FlaskClient:
    """Sign ``client`` in through the sign-in page, CSRF token included; the client."""
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    if response.status_code != 302:
        raise SandboxError(f"{username!r} could not sign in (status {response.status_code})")
    return client


CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
_chromium: list[Any] = []


def shared_chromium(executable: str) -> Any:
    """One headless Chromium (a Playwright ``Browser``) per test process, shared by every
    browser fixture, Formflow's and plugins' alike: Playwright's sync API runs an event loop
    of its own, so a second ``sync_playwright()`` in a process that has one running fails.
    Closed when the process exits."""
    if not _chromium:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        _chromium.append(browser)
        atexit.register(_close_chromium, browser, playwright)
    return _chromium[0]


def _close_chromium(browser: Any, playwright: Any) -> None:
    browser.close()
    playwright.stop()


@contextmanager
def served_at(app: Flask) -> Iterator[str]:
    """``app`` served on a free 127.0.0.1 port in a thread, for a browser; yields its URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def chromium_page(locale: str = "zh-CN") -> Iterator[Any]:
    """A fresh page (a Playwright ``Page``) of :func:`shared_chromium`, in a context of its
    own; skips the test where Chromium is missing, or fails it when
    ``FORMFLOW_REQUIRE_BROWSER=1`` says browser tests must run."""
    import pytest

    executable = os.environ.get("FORMFLOW_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists() and not shutil.which("chromium"):
        message = f"no Chromium at {executable}: apt-get install chromium"
        if os.environ.get("FORMFLOW_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    context = shared_chromium(executable).new_context(locale=locale)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """What a test SMTP server (:func:`smtp_server`) was sent, as parsed messages with their
    envelope recipients, and the addresses it refuses for good (a bounce)."""

    port: int
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@contextmanager
def smtp_server(port: int = 0) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd, in a thread; install it with your tests) on 127.0.0.1,
    on ``port`` or a free one, for tests of what is sent by e-mail."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox(port or free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
