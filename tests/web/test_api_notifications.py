"""The notifications API: the caller's list with the unread count, marking one or all read,
in the API's one error shape."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from web.test_api import Api, token_for
from web.test_api_workflows import CONTRACTS, a_contract


def submitted_contract(app: Flask, client: FlaskClient) -> int:
    """rep1 submits a contract; nobody manages their department, so the admin approves."""
    record_id = a_contract(app)
    rep = Api(client, token_for(app, "rep1"))
    assert rep.post(f"{CONTRACTS}/{record_id}/actions/submit").status_code == 200
    return record_id


def test_the_approver_lists_the_task_notification_with_the_unread_count(
    app: Flask, client: FlaskClient
) -> None:
    record_id = submitted_contract(app, client)
    admin = Api(client, token_for(app, "admin"))
    found = admin.get("/api/v1/notifications", headers={"Accept-Language": "en"})
    assert found.status_code == 200, found.json
    assert found.json["unread"] == 1
    (notification,) = found.json["data"]
    assert notification["kind"] == "task"
    assert notification["title"].startswith("Waiting for your approval")
    assert (notification["form"], notification["record_id"]) == ("contract", record_id)
    assert notification["read_at"] is None


def test_the_titles_come_in_the_callers_language(app: Flask, client: FlaskClient) -> None:
    submitted_contract(app, client)
    admin = Api(client, token_for(app, "admin"))
    found = admin.get("/api/v1/notifications", headers={"Accept-Language": "zh"})
    assert found.json["data"][0]["title"].startswith("待您审批")


def test_marking_a_notification_read_lowers_the_count(app: Flask, client: FlaskClient) -> None:
    submitted_contract(app, client)
    admin = Api(client, token_for(app, "admin"))
    (notification,) = admin.get("/api/v1/notifications").json["data"]
    read = admin.post(f"/api/v1/notifications/{notification['id']}/read")
    assert read.status_code == 200, read.json
    assert read.json["read_at"] is not None
    assert admin.get("/api/v1/notifications").json["unread"] == 0
    assert admin.get("/api/v1/notifications?unread=true").json["data"] == []


def test_mark_all_read(app: Flask, client: FlaskClient) -> None:
    submitted_contract(app, client)
    submitted_contract(app, client)
    admin = Api(client, token_for(app, "admin"))
    marked = admin.post("/api/v1/notifications/read-all")
    assert marked.json == {"marked": 2, "unread": 0}
    assert admin.get("/api/v1/notifications").json["unread"] == 0


def test_someone_elses_notification_is_not_found(app: Flask, client: FlaskClient) -> None:
    submitted_contract(app, client)
    admin = Api(client, token_for(app, "admin"))
    (notification,) = admin.get("/api/v1/notifications").json["data"]
    rep = Api(client, token_for(app, "rep2"))
    refused = rep.post(f"/api/v1/notifications/{notification['id']}/read")
    assert refused.status_code == 404
    assert refused.json["error"]["code"] == "not_found"


def test_bad_notification_queries_get_the_error_shape(app: Flask, client: FlaskClient) -> None:
    rep = Api(client, token_for(app, "rep1"))
    assert rep.get("/api/v1/notifications?limit=0").json["error"]["code"] == "invalid_query"
    assert rep.get("/api/v1/notifications?unread=maybe").status_code == 400
    assert rep.get("/api/v1/notifications?page=2").status_code == 400


def test_following_a_record_through_the_api(app: Flask, client: FlaskClient) -> None:
    rep = Api(client, token_for(app, "rep1"))
    customer = rep.post("/api/v1/crm_sfa/customer/records", json={"name": "ACME Follow"}).json
    follow = f"/api/v1/crm_sfa/customer/records/{customer['id']}/follow"
    assert rep.get(follow).json == {"following": False}
    assert client.put(follow, headers=rep.headers).json == {"following": True}
    assert client.put(follow, headers=rep.headers).json == {"following": True}
    assert rep.get(follow).json == {"following": True}
    assert rep.delete(follow).json == {"following": False}
    missing = client.put("/api/v1/crm_sfa/customer/records/999999/follow", headers=rep.headers)
    assert missing.status_code == 404
