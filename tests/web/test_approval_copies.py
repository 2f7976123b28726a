"""A copy of a request (a workflow's ``cc`` step) stays unread until its reader says so.

Opening the record's page is a GET, which a link prefetcher, a preloading browser or
another site's ``<img>`` may send without anyone reading: only a POST with its CSRF token
(the record page's "Mark read" button, or opening the row from the inbox's "Copied to me")
marks the copy read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow import accounts
from formflow.config import load_settings
from formflow.lifecycle.install import initialise
from formflow.records.access import Actor
from formflow.storage.database import read_transaction, write_transaction
from formflow.testing import sign_in
from formflow.web import create_app
from formflow.workflows import inbox
from support import AppWriter

PASSWORD = "password-1"
MARK_READ = '<input type="hidden" name="_action" value="read">'
"""The hidden field of the "Mark read" button."""

APP = """\
key: notes
version: "1.0"
label: Notes
roles:
  - {key: staff, label: Staff}
include:
  forms: [forms/*.yaml]
  workflows: [workflows/*.yaml]
"""

MEMO = """\
key: memo
label: Memo
title_field: title
fields:
  - {key: title, type: text, label: Title, required: true}
  - key: status
    type: select
    label: Status
    default: draft
    options: [{value: draft, label: Draft}, {value: sent, label: Sent}]
permissions:
  staff: {create: all, read: all, update: own, delete: own}
"""

FLOW = """\
key: circulate
label: Circulate
form: memo
state_field: status
states: {running: draft}
nodes:
  - {key: start, type: start, next: tell}
  - {key: tell, type: cc, recipients: [{users: [reader]}], next: done}
  - {key: done, type: end, state: sent}
"""


@pytest.fixture
def app(write_app: AppWriter, tmp_path: Path) -> Iterator[Flask]:
    """The notes app: ``writer`` circulates a memo, which copies it to ``reader``."""
    folder = write_app(APP, forms={"memo": MEMO}, workflows={"circulate": FLOW})
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path / "instance")}, secure_cookies=False
    )
    initialise(settings, [folder], "admin", PASSWORD)
    app = create_app(settings)
    app.config["TESTING"] = True
    instance = app.extensions["formflow"]
    with write_transaction(instance.engine) as connection:
        for name in ("writer", "reader"):
            accounts.create_user(
                connection,
                name,
                None,
                password_hash=accounts.hash_password(PASSWORD),
                display_name=name,
                roles={"notes": ["staff"]},
            )
    yield app
    instance.close()


@pytest.fixture
def reader(app: Flask) -> FlaskClient:
    return sign_in(app.test_client(), "reader", PASSWORD)


def circulated(app: Flask) -> int:
    """A memo ``writer`` has circulated: its id (``reader`` holds an unread copy)."""
    instance = app.extensions["formflow"]
    writer = actor(app, "writer")
    memo = instance.records("notes").create(writer, "memo", {"title": "Lunch moves"})
    instance.workflows("notes").submit(writer, "circulate", int(memo["id"]), None)
    return int(memo["id"])


def actor(app: Flask, username: str) -> Actor:
    with read_transaction(app.extensions["formflow"].engine) as connection:
        user = accounts.find_user(connection, username)
        assert user is not None
        return accounts.actor_for(connection, user, "notes")


def unread(app: Flask) -> int:
    flows = app.extensions["formflow"].workflows("notes")
    return inbox.counts(flows, actor(app, "reader")).unread


def test_opening_the_record_page_leaves_the_copy_unread(app: Flask, reader: FlaskClient) -> None:
    memo = circulated(app)
    page = reader.get(f"/notes/memo/{memo}")
    assert page.status_code == 200
    assert MARK_READ in page.text
    assert unread(app) == 1


def test_the_mark_read_button_marks_the_copy_read(app: Flask, reader: FlaskClient) -> None:
    memo = circulated(app)
    page = reader.get(f"/notes/memo/{memo}").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    done = reader.post(
        f"/notes/memo/{memo}/approval", data={"csrf_token": token, "_action": "read"}
    )
    assert done.status_code == 302
    assert unread(app) == 0
    assert MARK_READ not in reader.get(done.headers["Location"]).text


def test_marking_read_without_the_csrf_token_is_refused(app: Flask, reader: FlaskClient) -> None:
    memo = circulated(app)
    assert reader.post(f"/notes/memo/{memo}/approval", data={"_action": "read"}).status_code == 400
    assert unread(app) == 1


def test_opening_a_copy_from_the_inbox_marks_it_read_and_goes_to_the_record(
    app: Flask, reader: FlaskClient
) -> None:
    memo = circulated(app)
    box = reader.get("/inbox?app=notes&box=cc").text
    assert unread(app) == 1  # listing the copies reads none of them
    form = box.split(f'action="/notes/memo/{memo}/approval"', 1)[1].split("</form>", 1)[0]
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    target = form.split('name="_next" value="', 1)[1].split('"', 1)[0]
    done = reader.post(
        f"/notes/memo/{memo}/approval",
        data={"csrf_token": token, "_action": "read", "_next": target},
    )
    assert done.status_code == 302
    assert done.headers["Location"] == f"/notes/memo/{memo}#approval"
    assert unread(app) == 0
