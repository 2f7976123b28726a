"""An invoice request through its whole approval, each person in their own browser.

The rep asks at desk size; the sales manager decides on a 375 px phone, from the inbox, in
two taps; finance returns it with a comment; the rep corrects and resubmits; both approve
and the record's timeline tells the whole story. The rep can approve their own request
neither through the pages nor through the API.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from formflow.records.access import Actor
from web.approval_people import an_invoice
from web.browser.conftest import PHONE, person
from web.test_api import token_for

pytestmark = [pytest.mark.browser]


def status(app: Flask, record_id: int) -> Any:
    return app.extensions["formflow"].records("crm_sfa").get(Actor.system(), "invoice", record_id)


def test_an_invoice_request_from_asking_to_issuing(
    browser: Browser, company: tuple[Flask, str]
) -> None:
    app, base_url = company
    invoice = an_invoice(app)
    address = f"/crm_sfa/invoice/{invoice['id']}"
    rep = person(browser, base_url, "rep1")
    manager = person(browser, base_url, "manager", phone=True)
    finance = person(browser, base_url, "finance")

    rep.goto(address)
    rep.fill("#own-comment", "请开票")
    rep.click("button[value='submit/invoice_request']")
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "running"
    )
    expect(rep.locator("[data-approval-holders]")).to_contain_text("manager")

    # the manager, on a phone: the inbox, then Approve
    manager.goto("/inbox")
    row = manager.locator(".inbox-row", has_text=invoice["number"])
    row.locator("button[value=approve]").tap()
    expect(manager.locator(".flash")).to_contain_text("已同意")
    expect(manager.locator(".inbox-row", has_text=invoice["number"])).to_have_count(0)
    width = manager.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"]
    assert status(app, invoice["id"])["status"] == "pending_finance"

    # finance returns it to the rep with a comment
    finance.goto(address)
    decision = finance.locator("form.decision")
    decision.locator("textarea[name=_comment]").fill("抬头写错了")
    decision.locator("select[name=_to]").select_option("submitter")
    decision.locator("button[value=reject]").click()
    expect(finance.locator(".flash")).to_contain_text("已驳回")
    assert status(app, invoice["id"])["status"] == "rejected"

    # the rep corrects the title and resubmits
    rep.goto(address)
    expect(rep.locator(".approval-timeline")).to_contain_text("抬头写错了")
    rep.click("text=编辑")
    rep.fill("#field-invoice_title", "ACME 有限公司")
    rep.click("main form.record-form button[type=submit].primary")
    rep.fill("#own-comment", "已改抬头")
    rep.click("button[value=resubmit]")
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "running"
    )

    # both approve again; finance fills in the invoice number at its step
    manager.goto("/inbox")
    manager.locator(".inbox-row", has_text=invoice["number"]).locator("button[value=approve]").tap()
    expect(manager.locator(".flash")).to_contain_text("已同意")
    finance.goto(address)
    decision = finance.locator("form.decision")
    decision.locator("input[name=invoice_no]").fill("NO-20261203")
    decision.locator("input[name=issued_date]").fill("2026-12-03")
    decision.locator("button[value=approve]").click()
    expect(finance.locator(".flash")).to_contain_text("已同意")
    record = status(app, invoice["id"])
    assert (record["status"], record["invoice_title"], record["invoice_no"]) == (
        "issued",
        "ACME 有限公司",
        "NO-20261203",
    )

    rep.goto(address)
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "finished"
    )
    timeline = rep.locator(".approval-timeline li")
    said = [" ".join(text.split()) for text in timeline.all_inner_texts()]
    assert [next(w for w in ("重新提交", "提交审批", "同意", "驳回", "退回提交人", "审批结束") if w in line) for line in said if any(w in line for w in ("重新提交", "提交审批", "同意", "驳回", "审批结束"))] == [
        "提交审批", "同意", "驳回", "重新提交", "同意", "同意", "审批结束",
    ]  # fmt: skip
    for comment in ("请开票", "抬头写错了", "已改抬头"):
        expect(rep.locator(".approval-timeline")).to_contain_text(comment)
    rep.locator(".flow-picture summary").click()
    expect(rep.locator(".flow-picture svg [data-node=approved]")).to_have_class("flow-node outcome")
    for page in (rep, manager, finance):
        page.context.close()


def test_a_rep_cannot_approve_their_own_request(
    browser: Browser, company: tuple[Flask, str]
) -> None:
    app, base_url = company
    invoice = an_invoice(app)
    address = f"/crm_sfa/invoice/{invoice['id']}"
    rep = person(browser, base_url, "rep1", phone=True)
    rep.goto(address)
    rep.click("button[value='submit/invoice_request']")
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "running"
    )
    expect(rep.locator("button[value=approve]")).to_have_count(0)
    rep.goto("/inbox")
    expect(rep.locator("button[value=approve]")).to_have_count(0)
    api = rep.context.request
    headers = {"Authorization": f"Bearer {token_for(app, 'rep1')}"}
    records = f"/api/v1/crm_sfa/invoice/records/{invoice['id']}"
    actions = api.get(f"{records}/actions", headers=headers).json()["data"]
    assert [action["key"] for action in actions] == ["withdraw", "remind"]
    tried = api.post(f"{records}/actions/approve", headers=headers, data={})
    assert tried.status == 422
    flows = app.extensions["formflow"].workflows("crm_sfa")
    task = flows.tasks_of(flows.instance_for("invoice", invoice["id"]).id)[0]
    decided = api.post(
        f"/api/v1/tasks/{task.id}/decision", headers=headers, data={"decision": "approve"}
    )
    assert (decided.status, decided.json()["error"]["code"]) == (403, "not_your_task")
    assert status(app, invoice["id"])["status"] == "pending_manager"
    rep.context.close()
