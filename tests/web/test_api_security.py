"""What the API must never do: hand one user another's records, obey SQL or markup in
values, accept a revoked token, keep a token's plaintext, or show a traceback."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from formflow.accounts import tokens
from formflow.files import attachments
from formflow.records.service import RecordService
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.platform_tables import api_tokens, users
from web.test_api import CUSTOMERS, Api, token_for, user_id

CONTACTS = "/api/v1/crm_sfa/contact/records"


@pytest.fixture
def api_as(app: Flask, client: FlaskClient) -> Any:
    """``api_as("rep1")``: a client acting with a fresh token of that user."""
    return lambda username: Api(client, token_for(app, username))


@pytest.fixture
def rep1(api_as: Any) -> Api:
    return api_as("rep1")


@pytest.fixture
def rep2(api_as: Any) -> Api:
    return api_as("rep2")


@pytest.fixture
def theirs(rep2: Api) -> dict[str, Any]:
    """rep2's customer, with a contact: records rep1 (same department, own scope) must not reach."""
    customer = rep2.post(CUSTOMERS, json={"name": "Secret Industries", "level": "A"}).json
    contact = rep2.post(CONTACTS, json={"customer": customer["id"], "name": "Secret Person"})
    assert contact.status_code == 201, contact.text
    return {"customer": customer, "contact": contact.json}


# one user, another's records ------------------------------------------------------


def test_another_reps_record_cannot_be_read_changed_or_deleted(
    rep1: Api, theirs: dict[str, Any]
) -> None:
    customer = f"{CUSTOMERS}/{theirs['customer']['id']}"
    contact = f"{CONTACTS}/{theirs['contact']['id']}"
    for response in (
        rep1.get(customer),
        rep1.get(f"{customer}/history"),
        rep1.patch(customer, json={"name": "Mine now", "version": 1}),
        rep1.patch(contact, json={"name": "Mine now", "version": 1}),
        rep1.delete(contact),
        rep1.get(contact),
    ):
        assert response.status_code == 404, response.text
        assert response.json["error"]["code"] == "not_found"
        assert "Secret" not in response.text
    # not told apart from a record that does not exist
    nobody = _without_id(rep1.get(f"{CUSTOMERS}/987654").json, 987654)
    assert _without_id(rep1.get(customer).json, theirs["customer"]["id"]) == nobody


def _without_id(body: dict[str, Any], record_id: int) -> dict[str, Any]:
    """An error body with the record id left out of its message (in any language)."""
    error = body["error"]
    return {**error, "message": error["message"].replace(str(record_id), "ID")}


def test_a_refused_action_says_the_same_for_any_record(rep1: Api, theirs: dict[str, Any]) -> None:
    """Reps may not delete customers at all: the answer does not depend on the id."""
    own = rep1.post(CUSTOMERS, json={"name": "Mine"}).json
    answers = [
        rep1.delete(f"{CUSTOMERS}/{record_id}")
        for record_id in (own["id"], theirs["customer"]["id"], 987654)
    ]
    assert {response.status_code for response in answers} == {403}
    assert len({response.text for response in answers}) == 1


def test_the_other_reps_records_are_untouched(
    app: Flask, rep1: Api, theirs: dict[str, Any]
) -> None:
    rep1.patch(f"{CUSTOMERS}/{theirs['customer']['id']}", json={"name": "X", "version": 1})
    rep1.delete(f"{CONTACTS}/{theirs['contact']['id']}")
    admin = Api(rep1.client, _token(app, "admin"))
    assert admin.get(f"{CUSTOMERS}/{theirs['customer']['id']}").json["name"] == "Secret Industries"
    assert admin.get(f"{CONTACTS}/{theirs['contact']['id']}").status_code == 200


def test_lists_and_totals_hold_only_the_users_own(
    rep1: Api, rep2: Api, theirs: dict[str, Any]
) -> None:
    rep1.post(CUSTOMERS, json={"name": "Mine"})
    page = rep1.get(CUSTOMERS).json
    assert [row["name"] for row in page["data"]] == ["Mine"]
    assert page["total"] == 1
    assert rep2.get(CUSTOMERS).json["total"] == 1


@pytest.mark.parametrize(
    "query",
    [
        {"search": "Secret"},
        {"filter": '{"field": "name", "op": "eq", "value": "Secret Industries"}'},
        {"filter": '{"field": "level", "op": "eq", "value": "A"}'},
        {"filter": '{"not": {"field": "name", "op": "eq", "value": "nothing"}}'},
        {"filter": '{"field": "id", "op": "gte", "value": 1}'},
        {"filter": '{"field": "owner", "op": "is_not_empty"}'},
    ],
)
def test_filters_and_searches_reveal_nothing_of_others(
    rep1: Api, theirs: dict[str, Any], query: dict[str, str]
) -> None:
    page = rep1.get(CUSTOMERS, query_string=query).json
    assert (page["data"], page["total"]) == ([], 0)


def test_a_filter_across_a_link_reveals_nothing_of_others(
    rep1: Api, theirs: dict[str, Any]
) -> None:
    """rep1's own contact, filtered by a field of rep2's customer, must not match."""
    own = rep1.post(CUSTOMERS, json={"name": "Mine"}).json
    rep1.post(CONTACTS, json={"customer": own["id"], "name": "My person"})
    linked = json.dumps({"field": "customer.name", "op": "eq", "value": "Secret Industries"})
    assert rep1.get(CONTACTS, query_string={"filter": linked}).json["total"] == 0


def test_a_link_cannot_point_at_a_record_out_of_reach(rep1: Api, theirs: dict[str, Any]) -> None:
    response = rep1.post(CONTACTS, json={"customer": theirs["customer"]["id"], "name": "Spy"})
    assert response.status_code == 422
    assert response.json["error"]["fields"]["customer"][0]["code"] == "not_found"


def test_a_form_the_user_may_not_read_is_forbidden(api_as: Any) -> None:
    response = api_as("finance").get("/api/v1/crm_sfa/opportunity/records")
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


# injection ------------------------------------------------------------------------

SQL = [
    "'; DROP TABLE crm_sfa__customer; --",
    "' OR '1'='1",
    '" OR 1=1 --',
    "1; DELETE FROM ff_users",
    "name) OR (1=1",
]


@pytest.mark.parametrize("text", SQL)
def test_sql_in_filters_searches_and_sorts_is_only_data(
    app: Flask, rep1: Api, theirs: dict[str, Any], text: str
) -> None:
    queries = [
        {"search": text},
        {"filter": json.dumps({"field": "name", "op": "eq", "value": text})},
        {"filter": json.dumps({"field": "name", "op": "contains", "value": text})},
        {"filter": json.dumps({"field": text, "op": "eq", "value": "x"})},
        {"filter": json.dumps({"field": "name", "op": text, "value": "x"})},
        {"filter": json.dumps({"field": "id", "op": "in", "value": [text]})},
        {"sort": text},
        {"limit": text},
    ]
    for query in queries:
        response = rep1.get(CUSTOMERS, query_string=query)
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            assert response.json["data"] == []
        else:
            assert response.json["error"]["code"] == "invalid_query"
    assert _count(app, "customer") == 1
    with read_transaction(app.extensions["formflow"].engine) as connection:
        assert connection.execute(select(func.count()).select_from(users)).scalar_one() == 6


def test_sql_in_values_is_stored_as_text(rep1: Api) -> None:
    for text in SQL:  # several are alike once punctuation goes: the duplicate check warns
        created = rep1.post(f"{CUSTOMERS}?confirm_duplicates=1", json={"name": text})
        assert created.status_code == 201
        assert rep1.get(f"{CUSTOMERS}/{created.json['id']}").json["name"] == text
    assert rep1.get(CUSTOMERS).json["total"] == len(SQL)


def test_markup_comes_back_as_plain_json_strings(rep1: Api) -> None:
    markup = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    created = rep1.post(CUSTOMERS, json={"name": markup, "remark": markup})
    assert created.status_code == 201
    for response in (created, rep1.get(f"{CUSTOMERS}/{created.json['id']}"), rep1.get(CUSTOMERS)):
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "&lt;" not in response.text  # not HTML-escaped: JSON is not HTML
    assert created.json["name"] == markup
    assert rep1.get(CUSTOMERS).json["data"][0]["remark"] == markup


@pytest.mark.parametrize(
    "value", ["nul \x00 inside", "\ud800 lone surrogate", "\udfff"], ids=["nul", "high", "low"]
)
def test_text_that_no_database_can_store_is_refused(rep1: Api, value: str) -> None:
    body = json.dumps({"name": value})  # escapes the surrogates as \\udxxx
    response = rep1.post(CUSTOMERS, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json["error"]["fields"]["name"][0]["code"] == "invalid_character"
    query = {"filter": json.dumps({"field": "name", "op": "eq", "value": value})}
    assert rep1.get(CUSTOMERS, query_string=query).status_code == 400


@pytest.mark.parametrize(
    "value",
    ["bell \x07", "\x1b[31mred", "back\x08space", "c1 \x9b"],
    ids=["bel", "esc", "bs", "csi"],
)
def test_control_characters_are_refused(rep1: Api, value: str) -> None:
    response = rep1.post(CUSTOMERS, json={"name": value})
    assert response.status_code == 422
    assert response.json["error"]["fields"]["name"][0]["code"] == "invalid_character"


def test_tabs_and_line_breaks_are_kept(rep1: Api) -> None:
    created = rep1.post(CUSTOMERS, json={"name": "Acme", "remark": "a\tb\r\nc"})
    assert created.status_code == 201
    assert created.json["remark"] == "a\tb\r\nc"


@pytest.mark.parametrize("value", ["\u200b", "\ufeff \u200b", "\u200e\u202e"])
def test_a_required_text_of_invisible_characters_only_is_empty(rep1: Api, value: str) -> None:
    response = rep1.post(CUSTOMERS, json={"name": value})
    assert response.status_code == 422
    assert response.json["error"]["fields"]["name"][0]["code"] == "required"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_not_sent_as_json_is_refused(rep1: Api, content_type: str) -> None:
    response = rep1.post(CUSTOMERS, data='{"name": "Acme"}', headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_a_body_without_a_content_type_is_refused(rep1: Api) -> None:
    response = rep1.client.post(
        CUSTOMERS, data=b'{"name": "Acme"}', headers={**rep1.headers, "Content-Type": ""}
    )
    assert response.status_code == 415


def test_an_action_that_needs_no_body_needs_no_content_type(rep1: Api) -> None:
    assert rep1.post("/api/v1/notifications/read-all").status_code == 200


def test_deeply_nested_json_is_refused(rep1: Api) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    response = rep1.post(CUSTOMERS, data=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_json"
    nested = rep1.get(CUSTOMERS, query_string={"filter": '{"not": ' * 50 + "{}" + "}" * 50})
    assert nested.status_code == 400
    lists = '{"field": "name", "op": "in", "value": ' + "[" * 900 + "]" * 900 + "}"
    assert rep1.get(CUSTOMERS, query_string={"filter": lists}).status_code == 400
    value = '{"name": ' + "[" * 900 + "]" * 900 + "}"
    response = rep1.post(CUSTOMERS, data=value, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)


@pytest.mark.parametrize(
    "moment",
    ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00"],
)
def test_a_date_time_past_the_calendars_end_is_refused_not_a_crash(rep1: Api, moment: str) -> None:
    customer = rep1.post(CUSTOMERS, json={"name": "Dates"}).json
    response = rep1.post(
        "/api/v1/crm_sfa/follow_up/records",
        json={"customer": customer["id"], "content": "Called", "followed_at": moment},
    )
    assert response.status_code == 422, response.text
    assert response.json["error"]["fields"]["followed_at"][0]["code"] == "range"


def test_an_unexpected_failure_is_a_json_500_without_a_traceback(
    rep1: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals at /srv/formflow/db.py line 42")

    monkeypatch.setattr(RecordService, "find", explode)
    response = rep1.get(CUSTOMERS)
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


# attachments ----------------------------------------------------------------------

FOLLOW_UPS = "/api/v1/crm_sfa/follow_up/records"


def upload(app: Flask, username: str, name: str = "notes.pdf") -> str:
    """A file as ``username`` uploaded it on a page; its id."""
    instance = app.extensions["formflow"]
    with write_transaction(instance.engine) as connection:
        stored = attachments.store(
            connection,
            instance.settings.uploads_dir,
            io.BytesIO(b"%PDF-1.4 minutes"),
            name=name,
            user_id=user_id(app, username),
            max_bytes=1024,
        )
    return stored.id


def test_attachment_descriptors_come_from_the_platform_not_the_client(
    app: Flask, rep1: Api
) -> None:
    file_id = upload(app, "rep1")
    customer = rep1.post(CUSTOMERS, json={"name": "Files"}).json
    forged = {"id": file_id, "name": "evil.html", "content_type": "text/html", "size": 1}
    created = rep1.post(
        FOLLOW_UPS,
        json={"customer": customer["id"], "content": "Met", "attachments": [forged]},
    )
    assert created.status_code == 201, created.text
    assert created.json["attachments"] == [
        {"id": file_id, "name": "notes.pdf", "size": 16, "content_type": "application/pdf"}
    ]
    kept = rep1.patch(
        f"{FOLLOW_UPS}/{created.json['id']}",
        json={"version": 1, "attachments": [{"id": file_id, "name": "renamed.exe"}]},
    )
    assert kept.status_code == 200, kept.text
    assert kept.json["attachments"] == created.json["attachments"]


@pytest.mark.parametrize("whose", ["rep2", "unknown"])
def test_a_file_id_alone_does_not_attach_someone_elses_file(
    app: Flask, rep1: Api, whose: str
) -> None:
    file_id = upload(app, "rep2") if whose == "rep2" else "0" * 32
    customer = rep1.post(CUSTOMERS, json={"name": "Files"}).json
    response = rep1.post(
        FOLLOW_UPS,
        json={"customer": customer["id"], "content": "Met", "attachments": [{"id": file_id}]},
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"]["attachments"][0]["code"] == "not_found"


def test_a_file_that_does_not_fit_the_field_is_refused(app: Flask, rep1: Api) -> None:
    """The field's accepted types apply to a file sent by id, as to one uploaded on a page."""
    file_id = upload(app, "rep1", name="notes.txt")
    customer = rep1.post(CUSTOMERS, json={"name": "Files"}).json
    response = rep1.post(
        FOLLOW_UPS,
        json={"customer": customer["id"], "content": "Met", "attachments": [{"id": file_id}]},
    )
    assert response.status_code == 422
    (problem,) = response.json["error"]["fields"]["attachments"]
    assert problem["code"] == "type"
    assert "notes.txt" in problem["message"]


# tokens ---------------------------------------------------------------------------


def test_a_revoked_token_is_refused(app: Flask, client: FlaskClient) -> None:
    plaintext = _token(app, "rep1")
    api = Api(client, plaintext)
    assert api.get(CUSTOMERS).status_code == 200
    with write_transaction(app.extensions["formflow"].engine) as connection:
        (token,) = tokens.list_tokens(connection, user_id(app, "rep1"))
        assert tokens.revoke_token(connection, user_id(app, "rep1"), token.id)
    response = api.get(CUSTOMERS)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_deactivated_users_token_is_refused(app: Flask, client: FlaskClient) -> None:
    api = Api(client, _token(app, "rep1"))
    with write_transaction(app.extensions["formflow"].engine) as connection:
        connection.execute(update(users).where(users.c.username == "rep1").values(is_active=False))
    assert api.get(CUSTOMERS).status_code == 401


def test_only_the_tokens_hash_is_stored(app: Flask) -> None:
    plaintext = _token(app, "rep1")
    with read_transaction(app.extensions["formflow"].engine) as connection:
        rows = connection.execute(select(api_tokens)).mappings().all()
    assert [row["token_hash"] for row in rows] == [hashlib.sha256(plaintext.encode()).hexdigest()]
    assert all(plaintext not in str(value) for row in rows for value in row.values())
    instance = app.extensions["formflow"]
    database = Path(instance.settings.instance)
    for path in database.glob("formflow.db*"):
        assert plaintext.encode() not in path.read_bytes()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer ff_",
        "Bearer ff_" + "x" * 1000,
        "bearer ff_wrong",
        "Token ff_wrong",
        "Bearer ff_a\x00b",
    ],
)
def test_malformed_or_wrong_credentials_are_401(client: FlaskClient, header: str) -> None:
    response = client.get(CUSTOMERS, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["error"]["code"] == "unauthorized"


def test_one_users_token_cannot_be_revoked_by_another(app: Flask, client: FlaskClient) -> None:
    api = Api(client, _token(app, "rep1"))
    with write_transaction(app.extensions["formflow"].engine) as connection:
        (token,) = tokens.list_tokens(connection, user_id(app, "rep1"))
        assert not tokens.revoke_token(connection, user_id(app, "rep2"), token.id)
    assert api.get(CUSTOMERS).status_code == 200


def test_a_signed_in_browsers_cookies_do_not_sign_in_to_the_api(
    client: FlaskClient, login: Any
) -> None:
    login("rep1")
    assert client.get("/").status_code == 200
    response = client.get(CUSTOMERS)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_an_api_answer_leaves_the_browsers_session_alone(
    app: Flask, client: FlaskClient, login: Any
) -> None:
    login("rep2")
    response = Api(client, _token(app, "rep1")).get(CUSTOMERS)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert client.get("/").status_code == 200  # still signed in as rep2


def _token(app: Flask, username: str) -> str:
    return token_for(app, username)


def _count(app: Flask, form_key: str) -> int:
    instance = app.extensions["formflow"]
    table = instance.schema("crm_sfa").table(form_key)
    with read_transaction(instance.engine) as connection:
        found: int = connection.execute(select(func.count()).select_from(table)).scalar_one()
    return found
