"""The REST API: records in and out as JSON, with the pages' validation and permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from formflow.accounts import tokens
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import users

CUSTOMERS = "/api/v1/crm_sfa/customer/records"
OPPORTUNITY = {"name": "Deal", "amount": "1000.00", "expected_close_date": "2026-12-31"}


def user_id(app: Flask, username: str) -> int:
    with read_transaction(app.extensions["formflow"].engine) as connection:
        found: int = connection.execute(
            select(users.c.id).where(users.c.username == username)
        ).scalar_one()
    return found


def token_for(app: Flask, username: str, name: str = "tests") -> str:
    """A new API token of ``username``, as its plaintext."""
    with write_transaction(app.extensions["formflow"].engine) as connection:
        _token_id, plaintext = tokens.create_token(connection, user_id(app, username), name)
    return plaintext


class Api:
    """A test client that sends one user's bearer token with every request."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(
            path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(
            path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.client.patch(
            path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.client.delete(
            path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )


@pytest.fixture
def api_as(app: Flask, client: FlaskClient) -> Any:
    """``api_as("rep1")``: a client acting with a fresh token of that user."""
    return lambda username: Api(client, token_for(app, username))


@pytest.fixture
def admin(api_as: Any) -> Api:
    return api_as("admin")


def new_customer(api: Api, **values: Any) -> dict[str, Any]:
    response = api.post(CUSTOMERS, json={"name": "Acme Ltd", **values})
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json
    return record


# reading and writing --------------------------------------------------------------


def test_create_returns_the_record_with_its_location_and_etag(admin: Api) -> None:
    response = admin.post(CUSTOMERS, json={"name": "Acme Ltd", "level": "A"})
    assert response.status_code == 201
    record = response.json
    assert record["name"] == "Acme Ltd"
    assert record["status"] == "potential"  # the default
    assert record["version"] == 1
    assert response.headers["Location"] == f"{CUSTOMERS}/{record['id']}"
    assert response.headers["ETag"] == '"1"'
    read = admin.get(f"{CUSTOMERS}/{record['id']}")
    assert read.headers["ETag"] == '"1"'
    assert without_times(read.json) == without_times(record)


def test_a_record_has_the_same_timestamps_in_every_response(admin: Api) -> None:
    record = new_customer(admin)
    read = admin.get(f"{CUSTOMERS}/{record['id']}").json
    assert (read["created_at"], read["updated_at"]) == (record["created_at"], record["updated_at"])


def without_times(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in ("created_at", "updated_at")}


def test_values_take_exact_json_shapes(admin: Api) -> None:
    customer = new_customer(admin)
    quote = admin.post(
        "/api/v1/crm_sfa/product/records",
        json={"code": "P-1", "name": "Seat", "category": "software", "list_price": "1234.50"},
    )
    assert quote.status_code == 201, quote.text
    assert quote.json["list_price"] == "1234.50"
    assert quote.json["active"] is True
    contact = admin.post(
        "/api/v1/crm_sfa/contact/records",
        json={"customer": customer["id"], "name": "张三", "birthday": "1990-05-01"},
    ).json
    assert contact["customer"] == customer["id"]
    assert contact["birthday"] == "1990-05-01"
    assert contact["created_at"].endswith("+00:00")


def test_a_decimal_sent_as_a_number_is_kept_exact(admin: Api) -> None:
    response = admin.post(
        "/api/v1/crm_sfa/product/records",
        data='{"code": "P-2", "name": "Seat", "category": "software", "list_price": 0.1}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json["list_price"] == "0.10"


def test_list_pages_filters_searches_and_sorts(admin: Api) -> None:
    for name, level in [("Alpha", "A"), ("Beta", "B"), ("Gamma", "A")]:
        new_customer(admin, name=name, level=level)
    page = admin.get(
        CUSTOMERS,
        query_string={"filter": '{"field": "level", "op": "eq", "value": "A"}', "sort": "name"},
    ).json
    assert [row["name"] for row in page["data"]] == ["Alpha", "Gamma"]
    assert page["total"] == 2
    assert page["total_is_capped"] is False
    assert page["next_cursor"] is None
    found = admin.get(CUSTOMERS, query_string={"search": "gam"}).json
    assert [row["name"] for row in found["data"]] == ["Gamma"]


def test_cursor_pages_walk_every_record_once(admin: Api) -> None:
    names = [f"Customer {n}" for n in range(5)]
    for name in names:
        new_customer(admin, name=name)
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 2, "sort": "name", "total": "false"}
    while True:
        page = admin.get(CUSTOMERS, query_string=query).json
        assert page["total"] is None
        seen += [row["name"] for row in page["data"]]
        if page["next_cursor"] is None:
            break
        query["cursor"] = page["next_cursor"]
    assert seen == names


def test_offset_jumps_to_a_page(admin: Api) -> None:
    for n in range(3):
        new_customer(admin, name=f"C{n}")
    page = admin.get(CUSTOMERS, query_string={"sort": "name", "offset": 2, "limit": 1}).json
    assert [row["name"] for row in page["data"]] == ["C2"]


def test_update_needs_the_version_and_refuses_a_stale_one(admin: Api) -> None:
    record = new_customer(admin)
    path = f"{CUSTOMERS}/{record['id']}"
    missing = admin.patch(path, json={"short_name": "A"})
    assert missing.status_code == 428
    assert missing.json["error"]["code"] == "version_required"
    changed = admin.patch(path, json={"short_name": "A", "version": 1})
    assert changed.status_code == 200
    assert changed.json["short_name"] == "A"
    assert changed.json["version"] == 2
    stale = admin.patch(path, json={"short_name": "B", "version": 1})
    assert stale.status_code == 409
    assert stale.json["error"]["code"] == "stale_record"
    assert admin.get(path).json["short_name"] == "A"


def test_update_takes_the_version_from_if_match(admin: Api) -> None:
    record = new_customer(admin)
    path = f"{CUSTOMERS}/{record['id']}"
    etag = admin.get(path).headers["ETag"]
    assert (
        admin.patch(path, json={"short_name": "A"}, headers={"If-Match": etag}).status_code == 200
    )
    stale = admin.patch(path, json={"short_name": "B"}, headers={"If-Match": etag})
    assert stale.status_code == 409
    bad = admin.patch(path, json={"short_name": "B"}, headers={"If-Match": "W/x"})
    assert bad.status_code == 409
    assert bad.json["error"]["code"] == "invalid_if_match"
    mismatch = admin.patch(
        path, json={"short_name": "B", "version": 1}, headers={"If-Match": '"2"'}
    )
    assert mismatch.status_code == 409
    assert mismatch.json["error"]["code"] == "invalid_if_match"


def test_delete_restore_and_history(admin: Api) -> None:
    record = new_customer(admin)
    path = f"{CUSTOMERS}/{record['id']}"
    assert admin.delete(path, query_string={"version": 5}).status_code == 409
    assert admin.delete(path, query_string={"version": 1}).status_code == 204
    assert admin.get(path).status_code == 404
    restored = admin.post(f"{path}/restore")
    assert restored.status_code == 200
    assert restored.json["version"] == 3
    history = admin.get(f"{path}/history").json["data"]
    assert [entry["action"] for entry in history] == ["restore", "delete", "create"]
    assert history[-1]["changes"]["name"] == [None, "Acme Ltd"]


def test_subtable_rows_go_in_and_come_out_as_arrays(admin: Api) -> None:
    customer = new_customer(admin)
    product = admin.post(
        "/api/v1/crm_sfa/product/records",
        json={"code": "P-1", "name": "Seat", "category": "software", "list_price": "100.00"},
    ).json
    opportunity = admin.post(
        "/api/v1/crm_sfa/opportunity/records",
        json=OPPORTUNITY | {"customer": customer["id"]},
    )
    assert opportunity.status_code == 201, opportunity.text
    quote = admin.post(
        "/api/v1/crm_sfa/quote/records",
        json={
            "customer": customer["id"],
            "opportunity": opportunity.json["id"],
            "valid_until": "2026-12-31",
            "items": [{"product": product["id"], "qty": 2, "unit_price": "100.00"}],
        },
    )
    assert quote.status_code == 201, quote.text
    items = quote.json["items"]
    assert len(items) == 1
    assert items[0]["product"] == product["id"]
    again = admin.get(f"/api/v1/crm_sfa/quote/records/{quote.json['id']}").json
    assert again["items"] == items
    listed = admin.get("/api/v1/crm_sfa/quote/records").json["data"][0]
    assert "items" not in listed


def test_apps_lists_the_forms_the_user_may_read(api_as: Any) -> None:
    finance = api_as("finance").get("/api/v1/apps").json["data"]
    forms = {form["key"]: form for form in finance[0]["forms"]}
    assert forms["customer"]["can"] == {
        "create": False,
        "read": True,
        "update": False,
        "delete": False,
    }
    assert forms["customer"]["url"] == CUSTOMERS


# errors ---------------------------------------------------------------------------


def test_validation_errors_name_every_field(admin: Api) -> None:
    response = admin.post(
        CUSTOMERS,
        json={"level": "Z", "short_name": 12, "in_pool": True, "bogus": 1, "id": 3},
    )
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    assert {key: [p["code"] for p in found] for key, found in error["fields"].items()} == {
        "short_name": ["type"],
        "in_pool": ["read_only"],
        "bogus": ["unknown_field"],
        "id": ["unknown_field"],
        "level": ["schema"],  # not hidden by the keys that are not fields
        "name": ["required"],
    }
    service_level = admin.post(CUSTOMERS, json={"level": "Z"}).json["error"]["fields"]
    assert set(service_level) == {"name", "level"}


def test_unique_values_are_refused(admin: Api) -> None:
    body = {"code": "P-1", "name": "Seat", "category": "software", "list_price": "1"}
    assert admin.post("/api/v1/crm_sfa/product/records", json=body).status_code == 201
    again = admin.post("/api/v1/crm_sfa/product/records", json=body)
    assert again.status_code == 422
    assert again.json["error"]["fields"]["code"][0]["code"] == "unique"


def test_a_referenced_record_is_in_use(admin: Api) -> None:
    customer = new_customer(admin)
    opportunity = admin.post(
        "/api/v1/crm_sfa/opportunity/records",
        json=OPPORTUNITY | {"customer": customer["id"]},
    )
    assert opportunity.status_code == 201, opportunity.text
    response = admin.delete(f"{CUSTOMERS}/{customer['id']}")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "in_use"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_body"),
        ("", "invalid_body"),
        ('{"name": NaN}', "invalid_json"),
        ('"text"', "invalid_body"),
    ],
)
def test_a_malformed_body_is_a_400(admin: Api, body: str, code: str) -> None:
    response = admin.post(CUSTOMERS, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == code


@pytest.mark.parametrize(
    "query",
    [
        {"filter": "{"},
        {"filter": "[1]"},
        {"filter": '{"field": "nope", "op": "eq", "value": 1}'},
        {"sort": "nope"},
        {"limit": "0"},
        {"limit": "many"},
        {"offset": "-1"},
        {"total": "maybe"},
        {"cursor": "garbage"},
        {"cursor": "abc", "offset": "3"},
    ],
)
def test_a_bad_list_query_is_invalid_query(admin: Api, query: dict[str, str]) -> None:
    response = admin.get(CUSTOMERS, query_string=query)
    assert response.status_code == 400, response.text
    assert response.json["error"]["code"] == "invalid_query"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/customer/records",
        "/api/v1/crm_sfa/nope/records",
        f"{CUSTOMERS}/999",
        f"{CUSTOMERS}/99999999999999999999999",
        "/api/v1/nowhere",
    ],
)
def test_unknown_things_are_not_found_as_json(admin: Api, path: str) -> None:
    response = admin.get(path)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_a_form_out_of_reach_is_forbidden(api_as: Any) -> None:
    response = api_as("rep1").post(
        "/api/v1/crm_sfa/product/records",
        json={"code": "P-1", "name": "Seat", "category": "software", "list_price": "1"},
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_a_missing_token_is_401_with_a_bearer_challenge(client: FlaskClient) -> None:
    response = client.get(CUSTOMERS)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get(CUSTOMERS, headers={"Authorization": "Bearer ff_nope"})
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    basic = client.get(CUSTOMERS, headers={"Authorization": "Basic YWRtaW46cGFzc3dvcmQtMQ=="})
    assert basic.status_code == 401


def test_a_signed_in_session_is_not_enough(client: FlaskClient, login: Any) -> None:
    login("admin")
    assert client.get(CUSTOMERS).status_code == 401


def test_the_api_needs_no_csrf_token(admin: Api) -> None:
    """Bearer tokens are not sent by browsers on their own, so CSRF cannot ride on them."""
    assert admin.post(CUSTOMERS, json={"name": "No CSRF"}).status_code == 201


def test_unknown_methods_are_json_too(admin: Api) -> None:
    response = admin.client.put(CUSTOMERS, headers=admin.headers, json={})
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_a_filter_too_long_for_a_url_is_sent_in_a_search_body(admin: Api) -> None:
    wanted = new_customer(admin, name="Wanted Ltd")
    new_customer(admin, name="Other Ltd")
    names = ["Wanted Ltd", *(f"Nobody {n:04}" for n in range(300))]
    spec = {"field": "name", "op": "in", "value": names}
    assert len(json.dumps(spec)) > 4094  # gunicorn's default limit_request_line
    response = admin.post(
        "/api/v1/crm_sfa/customer/search", json={"filter": spec, "sort": "-id", "limit": 5}
    )
    assert response.status_code == 200, response.text
    assert [record["id"] for record in response.json["data"]] == [wanted["id"]]
    assert response.json["total"] == 1


def test_a_search_body_is_checked_like_the_query(admin: Api) -> None:
    response = admin.post("/api/v1/crm_sfa/customer/search", json={"limit": 0})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_query"
    assert response.json["error"]["field"] == "limit"


def test_a_filter_on_an_unknown_field_names_the_field_and_a_likely_one(admin: Api) -> None:
    spec = {"field": "nmae", "op": "eq", "value": "x"}
    english = {"Accept-Language": "en"}  # the message is read in English below
    listed = admin.get(CUSTOMERS, query_string={"filter": json.dumps(spec)}, headers=english)
    searched = admin.post("/api/v1/crm_sfa/customer/search", json={"filter": spec}, headers=english)
    for response in (listed, searched):
        assert response.status_code == 400
        assert response.json["error"]["field"] == "nmae"
        assert "did you mean 'name'?" in response.json["error"]["message"]


def test_a_filter_value_the_document_refuses_is_refused_though_it_converts(admin: Api) -> None:
    spec = {"field": "id", "op": "eq", "value": "5"}  # a string where the document says integer
    response = admin.post("/api/v1/crm_sfa/customer/search", json={"filter": spec})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_query"
    assert response.json["error"]["field"] == "filter"


def test_a_filter_in_the_url_is_held_to_the_document_every_time_it_is_sent(admin: Api) -> None:
    """A URL's filter found fitting is not checked again; one refused is refused again."""
    wanted = new_customer(admin, name="Wanted Ltd")
    fitting = json.dumps({"field": "id", "op": "eq", "value": wanted["id"]})
    refused = json.dumps({"field": "id", "op": "eq", "value": str(wanted["id"])})
    for _ in range(2):
        listed = admin.get(CUSTOMERS, query_string={"filter": fitting})
        assert [record["id"] for record in listed.json["data"]] == [wanted["id"]]
        response = admin.get(CUSTOMERS, query_string={"filter": refused})
        assert response.status_code == 400
        assert response.json["error"]["field"] == "filter"


@pytest.mark.parametrize("record_id", ["0", str(2**63), "9" * 19])
def test_an_id_no_record_can_have_is_not_found_for_every_method(admin: Api, record_id: str) -> None:
    path = f"{CUSTOMERS}/{record_id}"
    answers = [
        admin.get(path),
        admin.patch(path, json={"short_name": "A", "version": 1}),
        admin.delete(path, query_string={"version": 1}),
    ]
    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert {answer.json["error"]["code"] for answer in answers} == {"not_found"}
