"""Attachments: limits on upload, storage outside the web root, safe downloads."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.config import Settings
from formflow.files import attachments
from formflow.storage.database import write_transaction
from web import records_support
from web.records_support import actor, add, send, service, user_id

# Fixtures from the shared module, used by name.
sign_in = records_support.sign_in
warm_caches = records_support.warm_caches
pytestmark = pytest.mark.usefixtures("warm_caches")

Login = Callable[[str], FlaskClient]
LIMIT_KB = 10


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Uploads limited to 10 KB, so a test can send a file that is too large."""
    return dataclasses.replace(settings, max_upload_mb=LIMIT_KB / 1024)


def follow_up(customer_id: int, owner: int, **extra: Any) -> dict[str, Any]:
    return {
        "customer": str(customer_id),
        "method": "visit",
        "followed_at": "2026-01-31T09:30",
        "content": "Visited the site",
        "owner": str(owner),
        **extra,
    }


def saved_files(app: Flask, username: str, location: str) -> list[dict[str, Any]]:
    record_id = int(location.rsplit("/", 1)[1])
    found = service(app).get(actor(app, username), "follow_up", record_id)
    return list(found["attachments"] or [])


def test_an_upload_is_stored_outside_the_web_root_and_downloaded_safely(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("rep1")
    pdf = b"%PDF-1.4 a small report"
    saved = send(
        client,
        "/crm_sfa/follow_up/new",
        follow_up(
            customer["id"],
            user_id(app, "rep1"),
            attachments__upload=[
                (io.BytesIO(pdf), "现场报告.pdf"),
                (io.BytesIO(b"\x89PNG.."), "a.png"),
            ],
        ),
    )
    assert saved.status_code == 302, saved.text
    files = saved_files(app, "rep1", saved.headers["Location"])
    assert [f["name"] for f in files] == ["现场报告.pdf", "a.png"]
    stored = attachments.path_for(app.extensions["formflow"].settings.uploads_dir, files[0]["id"])
    assert stored.read_bytes() == pdf
    assert "现场报告" not in str(stored)
    assert "static" not in stored.parts

    detail = client.get(saved.headers["Location"]).text
    link = re.search(r'href="([^"]+/files/[0-9a-f]{32})">现场报告.pdf', detail)
    assert link is not None
    with client.get(link.group(1)) as download:
        body = download.data
    assert download.status_code == 200
    assert body == pdf
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]

    client.post("/logout", data={"csrf_token": _token(client)})
    sign_in("rep2")
    assert client.get(link.group(1)).status_code == 404


def test_uploads_over_the_limit_or_of_the_wrong_type_are_refused(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("rep1")
    large = send(
        client,
        "/crm_sfa/follow_up/new",
        follow_up(
            customer["id"],
            user_id(app, "rep1"),
            content="",
            attachments__upload=(io.BytesIO(b"x" * (LIMIT_KB * 1024 + 1)), "big.pdf"),
        ),
    )
    assert large.status_code == 422
    block = large.text[large.text.index('data-field="attachments"') :]
    assert "big.pdf is too large" in block.split('data-field="owner"')[0]
    content = large.text[large.text.index('data-field="content"') :]
    assert "This field is required." in content.split("data-field=")[1]  # every problem at once

    page = send(
        client,
        "/crm_sfa/follow_up/new",
        follow_up(
            customer["id"],
            user_id(app, "rep1"),
            attachments__upload=(io.BytesIO(b"<script>alert(1)</script>"), "page.html"),
        ),
    )
    assert page.status_code == 422
    assert "page.html: this type of file is not accepted here" in page.text


def test_a_stored_html_file_is_never_served_as_html(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    instance = app.extensions["formflow"]
    with write_transaction(instance.engine) as connection:
        stored = attachments.store(
            connection,
            instance.settings.uploads_dir,
            io.BytesIO(b"<script>alert(document.cookie)</script>"),
            name="../../evil.html",
            user_id=user_id(app, "rep1"),
            max_bytes=1024,
        )
    assert stored.name == "evil.html"
    customer = add(app, "rep1", "customer", name="Acme")
    record = add(
        app,
        "rep1",
        "follow_up",
        customer=customer["id"],
        content="x",
        attachments=[stored.descriptor()],
    )
    sign_in("rep1")
    with client.get(f"/crm_sfa/follow_up/{record['id']}/files/{stored.id}") as download:
        assert download.data.startswith(b"<script>")
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_files_are_kept_removed_and_never_borrowed(
    app: Flask, client: FlaskClient, sign_in: Login
) -> None:
    theirs = add(app, "rep2", "customer", name="Theirs")
    instance = app.extensions["formflow"]
    with write_transaction(instance.engine) as connection:
        foreign = attachments.store(
            connection,
            instance.settings.uploads_dir,
            io.BytesIO(b"%PDF-secret"),
            name="secret.pdf",
            user_id=user_id(app, "rep2"),
            max_bytes=1024,
        )
    add(
        app,
        "rep2",
        "follow_up",
        customer=theirs["id"],
        content="x",
        attachments=[foreign.descriptor()],
    )

    mine = add(app, "rep1", "customer", name="Mine")
    sign_in("rep1")
    owner = user_id(app, "rep1")
    saved = send(
        client,
        "/crm_sfa/follow_up/new",
        follow_up(
            mine["id"],
            owner,
            attachments=foreign.id,  # someone else's file, by id: ignored
            attachments__upload=(io.BytesIO(b"%PDF-mine"), "mine.pdf"),
        ),
    )
    assert saved.status_code == 302, saved.text
    files = saved_files(app, "rep1", saved.headers["Location"])
    assert [f["name"] for f in files] == ["mine.pdf"]

    edit_path = f"{saved.headers['Location']}/edit"
    form = client.get(edit_path).text
    assert f'name="attachments" value="{files[0]["id"]}" checked' in form
    kept = send(
        client, edit_path, follow_up(mine["id"], owner, version="1", attachments=files[0]["id"])
    )
    assert kept.status_code == 302, kept.text
    assert saved_files(app, "rep1", saved.headers["Location"]) == files
    removed = send(client, edit_path, follow_up(mine["id"], owner, version="2"))
    assert removed.status_code == 302, removed.text
    assert saved_files(app, "rep1", saved.headers["Location"]) == []


@pytest.mark.parametrize(
    ("name", "size", "refusal"),
    [
        ("notes.txt", 10, "notes.txt: this type of file is not accepted here"),
        ("big.pdf", LIMIT_KB * 1024 + 1, "big.pdf is too large"),
    ],
)
def test_a_kept_file_must_fit_the_field_like_an_upload(
    app: Flask, client: FlaskClient, sign_in: Login, name: str, size: int, refusal: str
) -> None:
    """A file the person stored elsewhere, sent by id, passes the field's limits too."""
    instance = app.extensions["formflow"]
    with write_transaction(instance.engine) as connection:
        elsewhere = attachments.store(
            connection,
            instance.settings.uploads_dir,
            io.BytesIO(b"x" * size),
            name=name,
            user_id=user_id(app, "rep1"),
            max_bytes=size,
        )
    customer = add(app, "rep1", "customer", name="Acme")
    sign_in("rep1")
    response = send(
        client,
        "/crm_sfa/follow_up/new",
        follow_up(customer["id"], user_id(app, "rep1"), attachments=elsewhere.id),
    )
    assert response.status_code == 422
    block = response.text[response.text.index('data-field="attachments"') :]
    assert refusal in block.split('data-field="owner"')[0]


def _token(client: FlaskClient) -> str:
    from web.conftest import csrf_token

    return csrf_token(client, "/")
