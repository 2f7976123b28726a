"""The import and export pages: the list's buttons, the steps of an import, who may see what."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from formflow.testing import sign_in
from web.conftest import csrf_token
from web.records_support import add

LIST = "/crm_sfa/customer/"
Login = Callable[[str], FlaskClient]


def exported_names(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get(f"/crm_sfa/customer/export.csv{query}")
    assert response.status_code == 200
    assert response.data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(response.data[3:].decode("utf-8"))))
    return [row[0] for row in rows[1:]]


def test_the_list_offers_export_and_import(login: Login) -> None:
    page = login("rep1").get(f"{LIST}?q=Acme").get_data(as_text=True)
    assert "/crm_sfa/customer/export.xlsx?q=Acme" in page
    assert "/crm_sfa/customer/export.csv?q=Acme" in page
    assert "/crm_sfa/customer/import" in page


def test_a_page_export_holds_what_the_list_shows_the_reader(app: Flask, login: Login) -> None:
    add(app, "rep1", "customer", name="Acme Ltd")
    add(app, "rep1", "customer", name="Bolt Co")
    add(app, "rep2", "customer", name="Theirs Ltd")
    client = login("rep1")
    assert sorted(exported_names(client)) == ["Acme Ltd", "Bolt Co"]
    assert exported_names(client, "?q=Bolt") == ["Bolt Co"]


def test_an_import_goes_from_upload_to_its_outcome(login: Login) -> None:
    client = login("rep1")
    token = csrf_token(client, "/crm_sfa/customer/import")
    sent = client.post(
        "/crm_sfa/customer/import",
        data={
            "csrf_token": token,
            "file": (io.BytesIO("客户名称,备注\nAcme Ltd,x\n".encode()), "c.csv"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    mapping_url = sent.headers["Location"]
    page = client.get(mapping_url).get_data(as_text=True)
    assert re.search(r'<option value="name" selected>', page)
    preview = client.post(f"{mapping_url}/preview", data={"csrf_token": token, "col-0": "name"})
    assert "Acme Ltd" in preview.get_data(as_text=True)
    done = client.post(f"{mapping_url}/run", data={"csrf_token": token, "col-0": "name"})
    assert done.status_code == 302
    outcome = client.get(done.headers["Location"]).get_data(as_text=True)
    assert 'data-count="created">1<' in outcome


def test_someone_else_cannot_open_an_upload_or_a_run(login: Login, app: Flask) -> None:
    client = login("rep1")
    token = csrf_token(client, "/crm_sfa/customer/import")
    sent = client.post(
        "/crm_sfa/customer/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"a\n1\n"), "c.csv")},
        content_type="multipart/form-data",
    )
    mapping_url = sent.headers["Location"]
    other = app.test_client()
    sign_in(other, "rep2", "password-1")
    assert other.get(mapping_url).status_code == 404


def test_a_role_that_may_not_create_gets_no_import(login: Login) -> None:
    client = login("finance")
    assert "/crm_sfa/customer/import" not in client.get(LIST).get_data(as_text=True)
    assert client.get("/crm_sfa/customer/import").status_code == 403
