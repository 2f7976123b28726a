"""A rep on a phone claims a customer from the public pool, hits the daily claim limit, and
hands the customer over to a colleague through a transfer the sales manager approves.

The pool customers are there before the rep signs in; nine claims earlier in the day
leave the rep one: the tenth goes through, the eleventh is refused with the limit's
message on the customer's page, and the customer stays in the pool. The rep opens a deal
on the claimed customer and, out of claims, asks for it to go to rep2 with its deal; the
manager approves from the inbox; the customer and its deal are rep2's, gone from rep1's.
Each person works in a browser of their own; only the pages move things along.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from formflow.records.access import Actor
from web.browser.conftest import person
from web.records_support import actor

pytestmark = [pytest.mark.browser]


@pytest.fixture
def pool(company: tuple[Flask, str]) -> tuple[Flask, str, list[dict[str, Any]]]:
    """Eleven pool customers, nine of them claimed by rep1 earlier today."""
    app, base_url = company
    records = app.extensions["formflow"].records("crm_sfa")
    customers = [
        records.create(
            Actor.system(),
            "customer",
            {"name": f"公海客户{n:02d}有限公司", "owner": None, "in_pool": True},
        )
        for n in range(11)
    ]
    app.extensions["formflow"].record_actions("crm_sfa").run(
        actor(app, "rep1"), "customer", [c["id"] for c in customers[:9]], "claim"
    )
    return app, base_url, customers


def owner_of(app: Flask, form_key: str, record_id: int) -> Any:
    records = app.extensions["formflow"].records("crm_sfa")
    return records.get(Actor.system(), form_key, record_id)["owner"]


def claim_one_then_hit_the_limit(
    app: Flask, page: Page, tenth: dict[str, Any], eleventh: dict[str, Any]
) -> None:
    page.goto(f"/crm_sfa/customer/{tenth['id']}")
    page.get_by_role("button", name="领取").click()
    expect(page.locator(".flash")).to_contain_text("已完成：领取")
    expect(page.get_by_role("button", name="领取")).to_have_count(0)

    page.goto(f"/crm_sfa/customer/{eleventh['id']}")
    page.get_by_role("button", name="领取").click()
    expect(page.locator(".flash")).to_contain_text("每天最多 10 次")
    assert owner_of(app, "customer", eleventh["id"]) is None


def test_a_rep_claims_hits_the_limit_and_hands_the_customer_over_by_transfer(
    browser: Browser, pool: tuple[Flask, str, list[dict[str, Any]]]
) -> None:
    app, base_url, customers = pool
    claimed = customers[9]
    rep = person(browser, base_url, "rep1", phone=True)
    manager = person(browser, base_url, "manager")
    colleague = person(browser, base_url, "rep2", phone=True)
    claim_one_then_hit_the_limit(app, rep, claimed, customers[10])

    # A deal on the claimed customer, from its page.
    rep.goto(f"/crm_sfa/customer/{claimed['id']}")
    rep.locator("main a", has_text="+ 商机").first.click()
    rep.fill("#field-name", "年度设备采购")
    rep.fill("#field-amount", "80000")
    rep.fill("#field-expected_close_date", (date.today() + timedelta(days=45)).isoformat())
    rep.locator("main form.record-form button[type=submit].primary").click()
    expect(rep).to_have_url(re.compile(r"/crm_sfa/opportunity/\d+$"))
    deal_id = int(rep.url.rsplit("/", 1)[1])

    # The transfer request: the customer, to rep2, with its open deals (on by default).
    rep.goto("/crm_sfa/transfer_request/new")
    row = rep.locator('[data-rows="customers"] tr[data-row]').first
    row.locator("input[type=search]").press_sequentially("公海客户09")
    row.locator("[data-link-choose]", has_text=claimed["name"]).click()
    rep.select_option("#field-to_owner", label="rep2")
    rep.fill("#field-reason", "客户在浦东，由 rep2 就近跟进")
    rep.locator("main form.record-form button[type=submit].primary").click()
    expect(rep).to_have_url(re.compile(r"/crm_sfa/transfer_request/\d+$"))
    number = rep.locator("h1").inner_text()
    rep.click("button[value='submit/customer_transfer']")
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "running"
    )

    manager.goto("/inbox")
    manager.locator(".inbox-row", has_text=number).locator("button[value=approve]").click()
    expect(manager.locator(".flash")).to_contain_text("已同意")

    rep.reload()
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "finished"
    )
    gone = rep.goto(f"/crm_sfa/customer/{claimed['id']}")
    assert gone is not None
    assert gone.status == 404
    colleague.goto("/crm_sfa/customer/")
    colleague.locator(".record-card .card-title", has_text=claimed["name"]).click()
    expect(colleague).to_have_url(re.compile(rf"/crm_sfa/customer/{claimed['id']}$"))
    colleague.locator("section.related").get_by_role("link", name="年度设备采购").click()
    expect(colleague).to_have_url(re.compile(rf"/crm_sfa/opportunity/{deal_id}$"))
    rep2 = actor(app, "rep2").user_id
    assert owner_of(app, "customer", claimed["id"]) == owner_of(app, "opportunity", deal_id) == rep2
    for page in (rep, manager, colleague):
        page.context.close()
