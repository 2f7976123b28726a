"""Import and export through the REST API: files in and out, as the token's user."""

from __future__ import annotations

import codecs
import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook

from formflow.accounts import tokens
from formflow.storage.database import write_transaction
from web.test_api import Api, new_customer, token_for, user_id

EXPORT = "/api/v1/crm_sfa/customer/export"
IMPORT = "/api/v1/crm_sfa/customer/import"


@pytest.fixture
def api_as(app: Flask, client: FlaskClient) -> Any:
    return lambda username: Api(client, token_for(app, username))


@pytest.fixture
def admin(api_as: Any) -> Api:
    return api_as("admin")


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))


def upload(api: Api, text: str, **fields: str) -> Any:
    data: dict[str, Any] = {"file": (io.BytesIO(text.encode("utf-8")), "customers.csv"), **fields}
    return api.post(IMPORT, data=data, content_type="multipart/form-data")


def test_an_export_is_a_csv_file_of_the_callers_records(api_as: Any) -> None:
    rep1, rep2 = api_as("rep1"), api_as("rep2")
    new_customer(rep1, name="Mine Ltd")
    new_customer(rep2, name="Theirs Ltd")
    response = rep1.get(f"{EXPORT}?language=en")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="customer.csv"'
    header, *rows = csv_rows(response.data)
    assert header[0] == "Customer name"
    assert [row[0] for row in rows] == ["Mine Ltd"]


def test_an_export_takes_the_lists_filter_and_sort(admin: Api) -> None:
    for name in ("B Ltd", "A Ltd", "C Ltd"):
        new_customer(admin, name=name)
    response = admin.get(
        EXPORT,
        query_string={"sort": "-name", "filter": '{"field": "name", "op": "ne", "value": "C Ltd"}'},
    )
    assert [row[0] for row in csv_rows(response.data)[1:]] == ["B Ltd", "A Ltd"]


def test_an_export_can_be_xlsx(admin: Api) -> None:
    new_customer(admin, name="=cmd|' /C calc'!A0")
    response = admin.get(f"{EXPORT}?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert (sheet["A2"].value, sheet["A2"].data_type) == ("=cmd|' /C calc'!A0", "s")


def test_an_unknown_export_parameter_is_refused(admin: Api) -> None:
    response = admin.get(f"{EXPORT}?fromat=xlsx")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_query"


def test_an_import_stores_the_good_rows_and_lists_the_bad_ones(admin: Api) -> None:
    response = upload(admin, "客户名称,客户来源\nAcme Ltd,官网咨询\n,Website\n")
    assert response.status_code == 200, response.text
    outcome = response.json
    assert (outcome["created"], outcome["failed"], outcome["rolled_back"]) == (1, 1, False)
    assert [(e["row"], e["column"], e["code"]) for e in outcome["errors"]] == [
        (3, "客户名称", "required")
    ]
    listed = admin.get("/api/v1/crm_sfa/customer/records").json["data"]
    assert [(row["name"], row["source"]) for row in listed] == [("Acme Ltd", "website")]


def test_an_import_reads_an_xlsx_file(admin: Api) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["客户名称", "客户来源"])
    sheet.append(["Acme Ltd", "官网咨询"])
    content = io.BytesIO()
    book.save(content)
    content.seek(0)
    data = {"file": (content, "customers.xlsx")}
    response = admin.post(IMPORT, data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.text
    assert response.json["created"] == 1


def test_a_preview_stores_nothing(admin: Api) -> None:
    response = upload(admin, "客户名称\nAcme Ltd\n", preview="true")
    assert response.json["mapping"] == {"客户名称": "name"}
    assert response.json["preview"][0]["values"] == {"客户名称": "Acme Ltd"}
    assert admin.get("/api/v1/crm_sfa/customer/records").json["data"] == []


def test_a_read_only_token_may_export_but_not_import(app: Flask, client: FlaskClient) -> None:
    with write_transaction(app.extensions["formflow"].engine) as connection:
        _id, plaintext = tokens.create_token(
            connection, user_id(app, "admin"), "reader", scope=tokens.TokenScope(read_only=True)
        )
    reader = Api(client, plaintext)
    assert reader.get(EXPORT).status_code == 200
    assert upload(reader, "客户名称\nAcme\n").status_code == 403
