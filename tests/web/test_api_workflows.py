"""The approval API: tasks, decisions and record actions, in the API's one error shape."""

from __future__ import annotations

from itertools import count

from flask import Flask
from flask.testing import FlaskClient

from formflow.records.access import Actor
from web.test_api import Api, token_for, user_id

CONTRACTS = "/api/v1/crm_sfa/contract/records"
CUSTOMER_NUMBERS = count(1)
"""Each contract's customer is named apart: a second "ACME" would be a suspected duplicate."""


def a_contract(app: Flask, amount: str = "1000.00") -> int:
    instance = app.extensions["formflow"]
    records = instance.records("crm_sfa")
    rep = Api(app.test_client(), token_for(app, "rep1"))
    name = f"ACME {next(CUSTOMER_NUMBERS)}"
    customer = rep.post("/api/v1/crm_sfa/customer/records", json={"name": name}).json
    contract = rep.post(CONTRACTS, json={"name": "Deal", "customer": customer["id"], "amount": amount})  # fmt: skip
    assert contract.status_code == 201, contract.json
    assert records.get(Actor.system(), "contract", contract.json["id"])["status"] == "draft"
    return int(contract.json["id"])


def test_submit_decide_and_see_it_through_the_api(app: Flask, client: FlaskClient) -> None:
    record_id = a_contract(app)
    rep = Api(client, token_for(app, "rep1"))
    admin = Api(client, token_for(app, "admin"))
    actions = rep.get(f"{CONTRACTS}/{record_id}/actions")
    assert actions.status_code == 200
    assert [a["key"] for a in actions.json["data"]] == ["submit"]
    submitted = rep.post(f"{CONTRACTS}/{record_id}/actions/submit", json={"comment": "please"})
    assert submitted.status_code == 200, submitted.json
    assert submitted.json["status"] == "running"
    assert submitted.json["nodes"] == ["manager"]
    again = rep.post(f"{CONTRACTS}/{record_id}/actions/submit")
    assert again.status_code == 422
    assert again.json["error"]["code"] == "not_submittable"
    # nobody manages the rep's department: the step went to the administrators
    inbox = admin.get("/api/v1/tasks")
    assert inbox.status_code == 200
    (task,) = inbox.json["data"]
    assert task["instance"]["record_id"] == record_id
    assert rep.get("/api/v1/tasks").json["data"] == []
    assert [t["node"] for t in rep.get("/api/v1/tasks?box=submitted").json["data"]] == ["manager"]
    mine = rep.post(f"/api/v1/tasks/{task['id']}/decision", json={"decision": "approve"})
    assert mine.status_code == 403
    assert mine.json["error"]["code"] == "not_your_task"
    done = admin.post(f"/api/v1/tasks/{task['id']}/decision", json={"decision": "approve", "comment": "ok"})  # fmt: skip
    assert done.status_code == 200, done.json
    assert (done.json["status"], done.json["outcome"]) == ("finished", "approved")
    twice = admin.post(f"/api/v1/tasks/{task['id']}/decision", json={"decision": "approve"})
    assert twice.status_code == 409
    assert twice.json["error"]["code"] == "task_decided"
    assert rep.get(f"{CONTRACTS}/{record_id}").json["status"] == "approved"
    history = [
        entry["action"] for entry in rep.get(f"{CONTRACTS}/{record_id}/history").json["data"]
    ]
    assert {"submit", "approve", "end"} <= set(history)


def test_a_rep_cannot_approve_or_change_a_contract_under_approval(app: Flask, client: FlaskClient) -> None:  # fmt: skip
    record_id = a_contract(app)
    rep = Api(client, token_for(app, "rep1"))
    rep.post(f"{CONTRACTS}/{record_id}/actions/submit")
    approve = rep.post(f"{CONTRACTS}/{record_id}/actions/approve")
    assert approve.status_code == 422
    record = rep.get(f"{CONTRACTS}/{record_id}").json
    changed = rep.patch(f"{CONTRACTS}/{record_id}", json={"name": "Other", "version": record["version"]})  # fmt: skip
    assert changed.status_code == 422
    assert changed.json["error"]["fields"]["name"][0]["code"] == "workflow_locked"
    withdrawn = rep.post(f"{CONTRACTS}/{record_id}/actions/withdraw", json={"comment": "oops"})
    assert withdrawn.json["status"] == "withdrawn"
    assert rep.get(f"{CONTRACTS}/{record_id}").json["status"] == "draft"


def test_bad_requests_get_the_error_shape(app: Flask, client: FlaskClient) -> None:
    rep = Api(client, token_for(app, "rep1"))
    assert rep.get("/api/v1/tasks?box=later").json["error"]["code"] == "invalid_query"
    assert rep.get("/api/v1/tasks?limit=0").status_code == 400
    missing = rep.post("/api/v1/tasks/99/decision", json={"decision": "approve"})
    assert (missing.status_code, missing.json["error"]["code"]) == (404, "task_not_found")
    wrong = rep.post("/api/v1/tasks/99/decision", json={"decision": "maybe"})
    assert wrong.status_code == 422
    unknown = rep.get(f"{CONTRACTS}/999/actions")
    assert unknown.status_code == 404
    document = client.get("/api/v1/openapi.json").json
    assert "/tasks/{task_id}/decision" in document["paths"]
    assert "/crm_sfa/contract/records/{record_id}/actions/{action_key}" in document["paths"]


def test_delegations_through_the_api(app: Flask, client: FlaskClient) -> None:
    users = {name: user_id(app, name) for name in ("admin", "rep1")}
    admin = Api(client, token_for(app, "admin"))
    rep = Api(client, token_for(app, "rep1"))
    body = {"app": "crm_sfa", "delegate": users["rep1"], "starts_on": "2020-01-01", "ends_on": "2099-01-01"}  # fmt: skip
    made = admin.post("/api/v1/delegations", json={**body, "comment": "away"})
    assert made.status_code == 201, made.json
    assert (made.json["user"], made.json["delegate"]) == (users["admin"], users["rep1"])
    back = rep.post("/api/v1/delegations", json={**body, "delegate": users["admin"]})
    assert back.status_code == 422
    assert back.json["error"]["code"] == "invalid_delegation"
    myself = admin.post("/api/v1/delegations", json={**body, "delegate": users["admin"]})
    assert myself.json["error"]["code"] == "invalid_delegation"
    bad_day = admin.post("/api/v1/delegations", json={**body, "starts_on": "someday"})
    assert bad_day.status_code == 422
    assert [d["id"] for d in rep.get("/api/v1/delegations").json["data"]] == [made.json["id"]]
    not_mine = rep.post(f"/api/v1/delegations/{made.json['id']}/end")
    assert not_mine.status_code == 404
    assert not_mine.json["error"]["code"] == "delegation_not_found"
    ended = admin.post(f"/api/v1/delegations/{made.json['id']}/end")
    assert ended.status_code == 200, ended.json
    assert ended.json["ended_at"] is not None


def test_deciding_several_tasks_at_once(app: Flask, client: FlaskClient) -> None:
    rep = Api(client, token_for(app, "rep1"))
    admin = Api(client, token_for(app, "admin"))
    for record_id in (a_contract(app), a_contract(app)):
        assert rep.post(f"{CONTRACTS}/{record_id}/actions/submit").status_code == 200
    first, second = (t["id"] for t in admin.get("/api/v1/tasks").json["data"])
    assert admin.post(f"/api/v1/tasks/{first}/decision", json={"decision": "approve"}).status_code == 200  # fmt: skip
    done = admin.post(
        "/api/v1/tasks/decisions",
        json={"tasks": [first, second, 99999], "decision": "approve", "comment": "all good"},
    )
    assert done.status_code == 200, done.json
    (stale, fine, missing) = done.json["data"]
    assert (stale["task"], stale["error"]["code"]) == (first, "task_decided")
    assert (fine["task"], fine["instance"]["status"]) == (second, "finished")
    assert missing["error"]["code"] == "task_not_found"
    empty = admin.post("/api/v1/tasks/decisions", json={"tasks": [], "decision": "approve"})
    assert empty.status_code == 422
