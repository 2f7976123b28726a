"""``fields=``: an API client asks for the columns it shows, and the answer costs that much."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from support import counting_statements
from web.test_api import OPPORTUNITY, Api, new_customer, token_for
from web.test_field_access_paths import floor_priced_product

API = "/api/v1/crm_sfa"


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL the instance runs inside the block."""
    app.extensions["formflow"].version_check_seconds = math.inf  # however slow the machine
    with counting_statements(app.extensions["formflow"].engine) as seen:
        yield seen


def admin(app: Flask, client: FlaskClient) -> Api:
    return Api(client, token_for(app, "admin"))


def new_quote(api: Api) -> dict[str, Any]:
    customer = new_customer(api)
    product = api.post(
        f"{API}/product/records",
        json={"code": "P-1", "name": "Seat", "category": "software", "list_price": "100.00"},
    ).json
    opportunity = api.post(
        f"{API}/opportunity/records", json=OPPORTUNITY | {"customer": customer["id"]}
    ).json
    quote = api.post(
        f"{API}/quote/records",
        json={
            "customer": customer["id"],
            "opportunity": opportunity["id"],
            "valid_until": "2026-12-31",
            "items": [{"product": product["id"], "qty": 2, "unit_price": "100.00"}],
        },
    )
    assert quote.status_code == 201, quote.text
    result: dict[str, Any] = quote.json
    return result


def test_a_list_holds_id_and_the_fields_asked_for(app: Flask, client: FlaskClient) -> None:
    api = admin(app, client)
    new_customer(api, level="A")
    page = api.get(f"{API}/customer/records", query_string={"fields": "level,name,updated_at"})
    assert page.status_code == 200, page.text
    assert list(page.json["data"][0]) == ["id", "name", "level", "updated_at"]


def test_a_search_body_takes_fields_too(app: Flask, client: FlaskClient) -> None:
    api = admin(app, client)
    new_customer(api)
    page = api.post(f"{API}/customer/search", json={"fields": "name"})
    assert page.status_code == 200, page.text
    assert list(page.json["data"][0]) == ["id", "name"]


def test_a_record_holds_id_and_the_fields_asked_for_with_its_etag(
    app: Flask, client: FlaskClient
) -> None:
    api = admin(app, client)
    customer = new_customer(api)
    one = api.get(f"{API}/customer/records/{customer['id']}", query_string={"fields": "name"})
    assert one.status_code == 200, one.text
    assert one.json == {"id": customer["id"], "name": "Acme Ltd"}
    assert one.headers["ETag"] == '"1"'


def test_a_subtable_is_read_only_when_asked_for(app: Flask, client: FlaskClient) -> None:
    api = admin(app, client)
    quote = new_quote(api)
    path = f"{API}/quote/records/{quote['id']}"
    with statements(app) as without_items:
        plain = api.get(path, query_string={"fields": "customer"})
    with statements(app) as with_items:
        rows = api.get(path, query_string={"fields": "customer,items"})
    assert "items" not in plain.json
    assert rows.json["items"] == quote["items"]
    assert len(with_items) == len(without_items) + 1


def test_a_list_reads_only_the_columns_asked_for(app: Flask, client: FlaskClient) -> None:
    api = admin(app, client)
    new_customer(api)
    api.get(f"{API}/customer/records")  # warm up
    with statements(app) as narrow:
        api.get(f"{API}/customer/records", query_string={"fields": "name"})
    with statements(app) as wide:
        api.get(f"{API}/customer/records")
    assert len(narrow) == len(wide)
    read = next(text for text in narrow if "LIMIT" in text)
    selected = read.split(" FROM ", 1)[0]
    assert "name" in selected
    assert "industry" not in selected
    assert "level" not in selected


def test_a_record_reads_only_the_columns_asked_for(app: Flask, client: FlaskClient) -> None:
    api = admin(app, client)
    customer = new_customer(api, level="A")
    path = f"{API}/customer/records/{customer['id']}"
    api.get(path, query_string={"fields": "name"})  # warm up
    with statements(app) as seen:
        one = api.get(path, query_string={"fields": "name"})
    assert one.json == {"id": customer["id"], "name": "Acme Ltd"}
    read = next(text for text in seen if "FROM crm_sfa__customer" in text)
    selected = read.split(" FROM ", 1)[0]
    assert "name" in selected
    assert "level" not in selected
    assert "industry" not in selected


def test_a_record_out_of_reach_is_not_found_whatever_fields_are_asked(
    app: Flask, client: FlaskClient
) -> None:
    theirs = new_customer(Api(client, token_for(app, "rep2")))
    rep1 = Api(client, token_for(app, "rep1"))
    for fields in ("name", "name,owner", "level"):
        refused = rep1.get(
            f"{API}/customer/records/{theirs['id']}", query_string={"fields": fields}
        )
        assert refused.status_code == 404, fields
        assert refused.json["error"]["code"] == "not_found"


def test_an_unknown_field_is_refused_by_name(app: Flask, client: FlaskClient) -> None:
    api = admin(app, client)
    customer = new_customer(api)
    for path in (f"{API}/customer/records", f"{API}/customer/records/{customer['id']}"):
        refused = api.get(path, query_string={"fields": "name,nmae"})
        assert refused.status_code == 400, path
        assert refused.json["error"]["code"] == "invalid_query"
        assert "nmae" in refused.json["error"]["message"]


def test_a_field_hidden_from_the_caller_is_refused_as_unknown(
    app: Flask, client: FlaskClient
) -> None:
    product = floor_priced_product(app)
    rep = Api(client, token_for(app, "rep1"))
    for path in (f"{API}/product/records", f"{API}/product/records/{product['id']}"):
        refused = rep.get(path, query_string={"fields": "name,floor_price"})
        assert refused.status_code == 400, path
        assert "777.77" not in refused.text
        unknown = rep.get(path, query_string={"fields": "name,no_such_field"})
        assert refused.json["error"]["code"] == unknown.json["error"]["code"]
