"""A person reading Chinese sees Chinese: every page of the CRM demo, its errors and its
messages, with no English sentence left in the visible text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from formflow.web import create_app
from web.conftest import csrf_token
from web.demo_pages import (
    APP_KEY,
    DEMO_PASSWORD,
    admin_pages,
    copy_demo,
    form_keys,
    record_address,
)
from web.visible_text import english_phrases, visible_text

pytestmark = pytest.mark.slow
CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}


class Boom(Exception):
    """An error nothing handles on purpose."""


@pytest.fixture
def demo_app(demo_instance: Path, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(copy_demo(demo_instance, tmp_path / "instance"))
    app.config["TESTING"] = True

    def boom() -> str:
        raise Boom("an unexpected failure")

    app.add_url_rule("/test-boom", "test_boom", boom)
    yield app
    app.extensions["formflow"].close()


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = CHINESE["Accept-Language"]
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    return client


def english(response: TestResponse) -> list[str]:
    return english_phrases(visible_text(response.text))


def crm_pages(client: FlaskClient) -> list[str]:
    """Every generated page: each form's list, recycle bin, new form, a record and its
    edit form; the workbench, the token page and the administration pages."""
    pages = ["/", "/account/tokens/"]
    for form_key in form_keys():
        listing = f"/{APP_KEY}/{form_key}/"
        pages += [listing, f"{listing}new", f"{listing}bin"]
        record = record_address(client.get(listing).text, form_key)
        assert record is not None, f"the demo has no {form_key} record"
        pages += [record, f"{record}/edit"]
    users, departments = client.get("/admin/users"), client.get("/admin/departments")
    return pages + admin_pages(users.text, departments.text)


def test_every_crm_page_is_in_chinese(demo_app: Flask) -> None:
    client = signed_in(demo_app, "admin")
    found = {}
    for path in crm_pages(client):
        response = client.get(path)
        assert response.status_code == 200, path
        if phrases := english(response):
            found[path] = phrases
    assert found == {}


def test_the_sign_in_page_and_its_prompt_are_in_chinese(demo_app: Flask) -> None:
    client = demo_app.test_client()
    prompted = client.get(f"/{APP_KEY}/customer/", headers=CHINESE, follow_redirects=True)
    assert "请登录后查看此页面。" in visible_text(prompted.text)
    assert english(prompted) == []
    wrong = client.post(
        "/login",
        headers=CHINESE,
        data={"username": "admin", "password": "wrong", "csrf_token": csrf_token(client, "/login")},
    )
    assert english(wrong) == []


@pytest.mark.parametrize(
    ("status", "username", "method", "path"),
    [
        (403, "liuyang", "GET", "/admin/users"),
        (404, "admin", "GET", f"/{APP_KEY}/customer/999999"),
        (404, "admin", "GET", "/no/such/page/here"),
        (405, "admin", "GET", "/logout"),
        (500, "admin", "GET", "/test-boom"),
    ],
)
def test_error_pages_are_in_chinese(
    demo_app: Flask, status: int, username: str, method: str, path: str
) -> None:
    response = signed_in(demo_app, username).open(path, method=method)
    assert response.status_code == status
    assert re.search(r"[\u4e00-\u9fff]", " ".join(visible_text(response.text)))
    assert english(response) == []


def test_a_stale_edit_is_explained_in_chinese(demo_app: Flask) -> None:
    client = signed_in(demo_app, "admin")
    record = record_address(client.get(f"/{APP_KEY}/customer/").text, "customer")
    token = csrf_token(client, f"{record}/edit")
    stale = client.post(f"{record}/edit", data={"csrf_token": token, "version": "0"})
    assert stale.status_code == 409
    assert english(stale) == []


def test_a_refused_change_is_explained_in_chinese(demo_app: Flask) -> None:
    client = signed_in(demo_app, "liuyang")  # a rep, who may not create sales targets
    response = client.get(f"/{APP_KEY}/sales_target/new")
    assert response.status_code == 403
    assert "你无权新建销售目标记录" in visible_text(response.text)


def test_validation_errors_and_flash_messages_are_in_chinese(demo_app: Flask) -> None:
    client = signed_in(demo_app, "admin")
    new = f"/{APP_KEY}/customer/new"
    refused = client.post(new, data={"csrf_token": csrf_token(client, new)})
    assert refused.status_code == 422
    assert english(refused) == []
    signed_out = client.post(
        "/logout", data={"csrf_token": csrf_token(client, "/")}, follow_redirects=True
    )
    assert "你已退出登录。" in visible_text(signed_out.text)
    assert english(signed_out) == []


def test_api_errors_follow_the_language_the_client_asks_for(demo_app: Flask) -> None:
    client = demo_app.test_client()
    records = f"/api/v1/{APP_KEY}/customer/records"
    chinese = client.get(records, headers=CHINESE).get_json()["error"]
    assert chinese["code"] == "unauthorized"
    assert english_phrases([chinese["message"]]) == []
    english_body = client.get(records, headers={"Accept-Language": "en"}).get_json()["error"]
    assert english_body["code"] == "unauthorized"
    assert "API token" in english_body["message"]


def test_engine_messages_reach_api_clients_in_chinese(demo_app: Flask) -> None:
    client = signed_in(demo_app, "admin")
    token = csrf_token(client, "/account/tokens/")
    created = client.post("/account/tokens/", data={"csrf_token": token, "name": "zh"})
    secret = re.search(r"ff_[A-Za-z0-9_\-]+", created.text)
    assert secret is not None, created.text
    api = demo_app.test_client()
    headers = {**CHINESE, "Authorization": f"Bearer {secret[0]}"}
    missing = api.get(f"/api/v1/{APP_KEY}/customer/records/999999", headers=headers)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["message"] == "没有编号为 999999 的客户记录"
    invalid = api.post(f"/api/v1/{APP_KEY}/customer/records", headers=headers, json={})
    assert invalid.status_code == 422
    fields = invalid.get_json()["error"]["fields"]
    assert {p["message"] for found in fields.values() for p in found} == {"为必填项"}


def test_a_year_never_has_a_thousands_separator(demo_app: Flask) -> None:
    client = signed_in(demo_app, "admin")
    listing = client.get(f"/{APP_KEY}/sales_target/", query_string={"f.year.from": "2025"})
    record = record_address(listing.text, "sales_target")
    assert record is not None
    for page in (listing, client.get(record), client.get(f"{record}/edit")):
        assert not re.search(r"\b20,\d\d\d\b|\b2,0\d\d\b", " ".join(visible_text(page.text)))
