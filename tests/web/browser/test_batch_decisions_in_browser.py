"""On a 375 px phone, a sales manager ticks several requests in the inbox and approves them
with one comment; one of them was decided elsewhere meanwhile, and the report says so while
the others stand."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from formflow.records.access import Actor
from web.approval_people import an_invoice
from web.browser.conftest import PHONE, person
from web.browser.test_approvals_in_browser import status
from web.records_support import actor

pytestmark = [pytest.mark.browser]


def test_approve_ticked_tasks_on_a_phone(browser: Browser, company: tuple[Flask, str]) -> None:
    app, base_url = company
    flows = app.extensions["formflow"].workflows("crm_sfa")
    invoices = [an_invoice(app, title=f"ACME {n}") for n in range(3)]
    for invoice in invoices:
        flows.submit(actor(app, "rep1"), "invoice_request", int(invoice["id"]))
    manager = person(browser, base_url, "manager", phone=True)
    manager.goto("/inbox")
    for invoice in invoices:
        row = manager.locator(".inbox-row", has_text=invoice["number"])
        row.locator(".batch-pick input").tap()
    width = manager.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"]
    # the first request is approved from elsewhere before the manager sends the batch
    stale = next(
        item.task.id
        for item in flows.inbox(actor(app, "manager"), "todo")
        if item.instance.record_id == invoices[0]["id"]
    )
    flows.decide(actor(app, "manager"), stale, "approve")
    manager.fill("#batch-comment", "都可以")
    manager.locator("#batch-decide button[value=approve]").tap()
    expect(manager.locator(".flash").last).to_contain_text("已同意 2 / 3 项")
    expect(manager.locator(".flash").first).to_contain_text(f"#{invoices[0]['id']}")
    expect(manager.locator(".inbox-row")).to_have_count(0)
    assert [status(app, i["id"])["status"] for i in invoices] == ["pending_finance"] * 3
    records = app.extensions["formflow"].records("crm_sfa")
    decided = records.get(Actor.system(), "invoice", invoices[1]["id"])
    assert decided["status"] == "pending_finance"
    manager.context.close()
