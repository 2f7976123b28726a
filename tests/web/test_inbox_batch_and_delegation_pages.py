"""Batch decisions in the inbox, and the delegations page, as a browser would use them.

A batch decides each ticked task in its own unit of work: one the engine refuses is named
in the report and the others stand. The delegations page keeps what was typed and shows
what the engine refused next to the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.records.access import Actor
from web.approval_people import an_invoice, manager_runs_east
from web.records_support import actor, send, service
from web.test_api import user_id

INVOICES = "/crm_sfa/invoice"


@pytest.fixture(autouse=True)
def _managed(app: Flask) -> None:
    manager_runs_east(app)


def submitted(app: Flask, title: str) -> dict[str, object]:
    invoice = an_invoice(app, title=title)
    flows = app.extensions["formflow"].workflows("crm_sfa")
    flows.submit(actor(app, "rep1"), "invoice_request", int(invoice["id"]))
    return invoice


def status(app: Flask, record_id: object) -> str:
    return str(service(app).get(Actor.system(), "invoice", int(str(record_id)))["status"])


def test_approve_several_tasks_with_one_comment(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    invoices = [submitted(app, f"ACME {n}") for n in range(3)]
    flows = app.extensions["formflow"].workflows("crm_sfa")
    tasks = [item.task.id for item in flows.inbox(actor(app, "manager"), "todo")]
    assert len(tasks) == 3
    manager = login("manager")
    page = manager.get("/inbox").text
    assert 'id="batch-decide"' in page
    assert page.count('form="batch-decide"') == 3
    # one of them is decided elsewhere meanwhile (a stale page)
    flows.decide(actor(app, "manager"), tasks[0], "approve")
    done = manager.post(
        "/inbox/decide",
        data={
            "csrf_token": _token(manager),
            "app": "crm_sfa",
            "task": [str(t) for t in tasks],
            "_action": "approve",
            "_comment": "all fine",
            "_next": "/inbox?box=todo",
        },
    )
    assert done.status_code == 302
    assert done.headers["Location"] == "/inbox?box=todo"
    shown = manager.get("/inbox?box=todo").text
    assert "2 / 3" in shown
    refused = flows.instance(flows.task(tasks[0]).instance_id).record_id
    assert f"#{refused}:" in shown  # the refused one, by name
    assert [status(app, i["id"]) for i in invoices] == ["pending_finance"] * 3
    comments = {t.comment for t in flows.tasks_of(flows.task(tasks[1]).instance_id) if t.comment}
    assert comments == {"all fine"}


def test_a_batch_needs_ticked_tasks_and_only_decides_ones_own(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    invoice = submitted(app, "ACME")
    flows = app.extensions["formflow"].workflows("crm_sfa")
    (item,) = flows.inbox(actor(app, "manager"), "todo")
    rep = login("rep1")
    empty = send(rep, "/inbox/decide", {"app": "crm_sfa", "_action": "approve"}, page="/inbox")
    assert empty.status_code == 302
    theirs = send(
        rep,
        "/inbox/decide",
        {"app": "crm_sfa", "task": str(item.task.id), "_action": "approve"},
        page="/inbox",
    )
    assert theirs.status_code == 302
    assert status(app, invoice["id"]) == "pending_manager"
    assert "0" in rep.get("/inbox").text
    assert send(rep, "/inbox/decide", {"app": "nope"}, page="/inbox").status_code == 404


def test_the_delegations_page(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    manager = login("manager")
    page = manager.get("/inbox/delegations/?app=crm_sfa")
    assert page.status_code == 200
    refused = send(
        manager,
        "/inbox/delegations/",
        {
            "app": "crm_sfa",
            "delegate": str(user_id(app, "rep1")),
            "starts_on": "2026-12-10",
            "ends_on": "2026-12-01",
            "comment": "away",
        },
        page="/inbox/delegations/",
    )
    assert refused.status_code == 422
    assert 'class="error"' in refused.text
    assert "2026-12-10" in refused.text  # what was typed is kept
    made = send(
        manager,
        "/inbox/delegations/",
        {
            "app": "crm_sfa",
            "delegate": str(user_id(app, "rep1")),
            "starts_on": "2020-01-01",
            "ends_on": "2099-12-31",
            "workflow": "invoice_request",
            "comment": "on leave",
        },
        page="/inbox/delegations/",
    )
    assert made.status_code == 302
    listed = manager.get(made.headers["Location"]).text
    assert "on leave" in listed
    flows = app.extensions["formflow"].workflows("crm_sfa")
    (delegation,) = flows.delegations(actor(app, "manager"))
    assert "on leave" in login("rep1").get("/inbox/delegations/").text  # the delegate sees it
    manager = login("manager")
    # while it is in force the manager's new invoice tasks go to the rep, on their behalf
    submitted(app, "ACME")
    (item,) = flows.inbox(actor(app, "rep1"), "todo")
    assert item.task.delegated_from == user_id(app, "manager")
    assert "代 manager" in login("rep1").get("/inbox").text  # on the manager's behalf
    manager = login("manager")
    ended = send(
        manager,
        f"/inbox/delegations/{delegation.id}/end",
        {"app": "crm_sfa"},
        page="/inbox/delegations/",
    )
    assert ended.status_code == 302
    (delegation,) = flows.delegations(actor(app, "manager"))
    assert delegation.ended_at is not None


def test_a_delegation_is_ended_from_the_form_its_row_shows(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    manager = login("manager")
    send(
        manager,
        "/inbox/delegations/",
        {
            "app": "crm_sfa",
            "delegate": str(user_id(app, "rep1")),
            "starts_on": "2020-01-01",
            "ends_on": "2099-12-31",
        },
        page="/inbox/delegations/",
    )
    page = manager.get("/inbox/delegations/?app=crm_sfa").text
    form = re.search(
        r'<form method="post" action="(/inbox/delegations/\d+/end)".*?</form>', page, re.S
    )
    assert form is not None
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(0))
    )
    assert fields["app"] == "crm_sfa"
    ended = manager.post(form.group(1), data=fields)
    assert ended.status_code == 302
    flows = app.extensions["formflow"].workflows("crm_sfa")
    (delegation,) = flows.delegations(actor(app, "manager"))
    assert delegation.ended_at is not None


def _token(client: FlaskClient) -> str:
    from web.records_support import csrf_token

    return csrf_token(client, "/inbox")


def test_following_a_record_from_its_page(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    invoice = an_invoice(app)
    page = f"{INVOICES}/{invoice['id']}"
    rep = login("rep1")
    assert "关注" in rep.get(page).text
    done = send(rep, f"{page}/follow", {}, page=page)
    assert done.status_code == 302
    shown = rep.get(done.headers["Location"]).text
    assert "已关注这条记录" in shown
    assert "取消关注" in shown
    send(rep, f"{page}/follow", {}, page=page)
    assert "已取消关注" in rep.get(page).text
    assert send(rep, f"{INVOICES}/999999/follow", {}, page=page).status_code == 404
