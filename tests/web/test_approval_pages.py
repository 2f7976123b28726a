"""Approvals on the pages: the record's buttons and standing, the inbox, the flow diagram.

Each person acts through the pages as a browser would (forms with their CSRF token); the
workflow engine decides, and what it refuses comes back as a message on the page.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.records.access import Actor
from web.approval_people import an_invoice, manager_runs_east
from web.records_support import actor, send, service

INVOICES = "/crm_sfa/invoice"


@pytest.fixture(autouse=True)
def _managed(app: Flask) -> None:
    manager_runs_east(app)


def act(client: FlaskClient, record_id: int, action: str, **fields: str) -> object:
    page = f"{INVOICES}/{record_id}"
    return send(client, f"{page}/approval", {"_action": action, **fields}, page=page)


def status(app: Flask, record_id: int) -> str:
    return str(service(app).get(Actor.system(), "invoice", record_id)["status"])


def open_task(app: Flask, username: str) -> int:
    flows = app.extensions["formflow"].workflows("crm_sfa")
    (task,) = flows.inbox(actor(app, username), "todo")
    return task.task.id


def test_the_submitter_submits_from_the_record_page(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    invoice = an_invoice(app)
    rep = login("rep1")
    page = rep.get(f"{INVOICES}/{invoice['id']}").text
    assert 'value="submit/invoice_request"' in page
    done = act(rep, invoice["id"], "submit/invoice_request", _comment="please issue")
    assert done.status_code == 302
    shown = rep.get(done.headers["Location"]).text
    assert "已提交审批" in shown  # the flash: "Submitted for approval."
    assert 'data-approval-status="running"' in shown
    assert "manager" in shown  # who holds it now
    assert "please issue" in shown  # the timeline, with the comment
    assert status(app, invoice["id"]) == "pending_manager"


def test_the_manager_approves_from_the_inbox_and_finance_fills_in_its_fields(
    app: Flask, client: FlaskClient, login: Callable[[str], FlaskClient]
) -> None:
    invoice = an_invoice(app)
    act(login("rep1"), invoice["id"], "submit/invoice_request")
    manager = login("manager")
    inbox = manager.get("/inbox").text
    assert invoice["number"] in inbox
    assert 'value="approve"' in inbox
    task = open_task(app, "manager")
    approved = send(
        manager,
        f"{INVOICES}/{invoice['id']}/approval",
        {"_action": "approve", "_task": str(task), "_next": "/inbox?box=todo"},
        page="/inbox",
    )
    assert approved.headers["Location"] == "/inbox?box=todo"
    assert "已同意" in manager.get("/inbox?box=todo").text  # "Approved."
    assert status(app, invoice["id"]) == "pending_finance"
    finance = login("finance")
    page = finance.get(f"{INVOICES}/{invoice['id']}").text
    assert 'name="invoice_no"' in page
    assert 'name="amount"' not in page
    task = open_task(app, "finance")
    missing = send(
        finance,
        f"{INVOICES}/{invoice['id']}/approval",
        {
            "_action": "approve",
            "_task": str(task),
            "_fields": "1",
            "invoice_no": "",
            "_comment": "ok",
        },
        page=f"{INVOICES}/{invoice['id']}",
    )
    assert missing.status_code == 422  # issuing needs the invoice number: said at the field
    assert 'class="field has-error"' in missing.text
    issued = send(
        finance,
        f"{INVOICES}/{invoice['id']}/approval",
        {
            "_action": "approve",
            "_task": str(task),
            "_fields": "1",
            "invoice_no": "NO-1234",
            "issued_date": "2026-12-01",
        },
        page=f"{INVOICES}/{invoice['id']}",
    )
    assert issued.status_code == 302
    record = service(app).get(Actor.system(), "invoice", invoice["id"])
    assert (record["status"], record["invoice_no"]) == ("issued", "NO-1234")
    timeline = login("rep1").get(f"{INVOICES}/{invoice['id']}").text
    assert "· 结果：通过 ·" in timeline  # the outcome in words, not its key "approved"
    assert "· approved ·" not in timeline


def test_a_stale_page_is_told_the_task_was_already_decided(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    invoice = an_invoice(app)
    act(login("rep1"), invoice["id"], "submit/invoice_request")
    manager = login("manager")
    task = str(open_task(app, "manager"))
    act(manager, invoice["id"], "approve", _task=task)
    again = act(manager, invoice["id"], "approve", _task=task)
    assert again.status_code == 302
    shown = manager.get(again.headers["Location"])
    assert shown.status_code == 200
    assert "未执行" in shown.text  # "Nothing was done: ..."
    assert "Traceback" not in shown.text


def test_a_rep_cannot_approve_their_own_request_through_the_pages(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    invoice = an_invoice(app)
    rep = login("rep1")
    act(rep, invoice["id"], "submit/invoice_request")
    page = rep.get(f"{INVOICES}/{invoice['id']}").text
    assert 'value="approve"' not in page
    assert 'value="withdraw"' in page
    assert f"{INVOICES}/{invoice['id']}/edit" not in page  # locked while in approval
    tried = act(rep, invoice["id"], "approve", _task=str(open_task(app, "manager")))
    assert "未执行" in rep.get(tried.headers["Location"]).text
    assert status(app, invoice["id"]) == "pending_manager"


def test_a_rejection_returns_it_and_the_timeline_tells_the_whole_story(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    invoice = an_invoice(app)
    rep = login("rep1")
    act(rep, invoice["id"], "submit/invoice_request")
    manager = login("manager")
    act(manager, invoice["id"], "reject", _task=str(open_task(app, "manager")), _comment="wrong title", _to="submitter")  # fmt: skip
    assert status(app, invoice["id"]) == "rejected"
    rep = login("rep1")
    page = rep.get(f"{INVOICES}/{invoice['id']}").text
    assert 'value="resubmit"' in page
    assert f"{INVOICES}/{invoice['id']}/edit" in page  # returned: the rep may correct it
    for shown in ("提交审批", "驳回", "wrong title", "退回提交人"):
        assert shown in page, page[page.find('id="approval"') :]
    assert ">submit<" not in page
    assert "· submit ·" not in page


def test_the_inbox_pages_with_a_keyset_and_filters_by_flow(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    rep = login("rep1")
    numbers = []
    for _ in range(23):
        invoice = an_invoice(app)
        numbers.append(invoice["number"])
        act(rep, invoice["id"], "submit/invoice_request")
    manager = login("manager")
    first = manager.get("/inbox").text
    assert first.count('class="card inbox-row') == 20
    assert numbers[-1] in first
    assert numbers[2] not in first
    after = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = manager.get(after).text
    assert second.count('class="card inbox-row') == 3
    assert numbers[0] in second
    assert 'rel="next"' not in second
    assert manager.get("/inbox?workflow=contract_approval").text.count('class="card inbox-row') == 0
    assert login("rep1").get("/inbox?box=submitted").text.count('class="card inbox-row') == 20


def test_the_workbench_counts_what_waits(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    invoice = an_invoice(app)
    act(login("rep1"), invoice["id"], "submit/invoice_request")
    manager = login("manager").get("/").text
    assert 'data-count="todo" href="/inbox?app=crm_sfa&amp;box=todo"><strong>1</strong>' in manager
    rep = login("rep1").get("/").text
    assert (
        'data-count="submitted" href="/inbox?app=crm_sfa&amp;box=submitted"><strong>1</strong>'
        in rep
    )


def test_each_flow_has_a_page_with_its_diagram(login: Callable[[str], FlaskClient]) -> None:
    rep = login("rep1")
    page = rep.get("/workflows/crm_sfa/invoice_request")
    assert page.status_code == 200
    assert "<svg" in page.text
    assert 'data-node="finance"' in page.text
    assert rep.get("/workflows/crm_sfa/nothing").status_code == 404
