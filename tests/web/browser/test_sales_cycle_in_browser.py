"""A whole sales cycle, from a lead to cash, played by the people who do it, each in their
own browser: the rep on a 375 px phone, the sales manager and finance at their desks.

The rep converts a lead, logs follow-ups and works the opportunity to won; the contract
that drafts itself goes through its approval; an invoice request passes the sales manager
and finance; finance books the payment and the contract shows it received. Only the pages
move the flow along (buttons, forms, the inbox); the service is read only to check.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Locator, Page, expect

from formflow.records.access import Actor
from web.browser.conftest import PHONE, person
from web.records_support import add

pytestmark = [pytest.mark.browser]

COMPANY = "远航精密仪器有限公司"
AMOUNT = "120000"


def record(app: Flask, form_key: str, record_id: int) -> dict[str, Any]:
    return app.extensions["formflow"].records("crm_sfa").get(Actor.system(), form_key, record_id)


def record_id(page: Page) -> int:
    return int(page.url.rsplit("/", 1)[1])


def save(page: Page, form_key: str) -> int:
    """Submit the page's record form; the id of the record it lands on."""
    page.locator("main form.record-form button[type=submit].primary").click()
    expect(page).to_have_url(re.compile(rf"/crm_sfa/{form_key}/\d+$"))
    return record_id(page)


def approve_in_inbox(page: Page, title: str) -> None:
    page.goto("/inbox")
    page.locator(".inbox-row", has_text=title).locator("button[value=approve]").click()
    expect(page.locator(".flash")).to_contain_text("已同意")


def shown(page: Page, label: str) -> Locator:
    """The value a record page shows under ``label``."""
    term = page.locator("dt", has_text=re.compile(rf"^{label}$"))
    return page.locator("dl.fields > div", has=term).locator("dd")


def pick(page: Page, key: str, title: str) -> None:
    """Choose ``title`` in the link picker of field ``key``, typing its first letters."""
    picker = page.locator(f'.record-form [data-field="{key}"]')
    picker.locator("input[type=search]").press_sequentially(title[:2])
    picker.locator("[data-link-choose]", has_text=title).click()
    expect(picker.locator("input[type=search]")).to_have_value(title)


def fits_the_phone(page: Page) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"], page.url


def test_a_lead_becomes_cash(browser: Browser, company: tuple[Flask, str]) -> None:
    app, base_url = company
    lead = add(
        app,
        "rep1",
        "lead",
        company=COMPANY,
        contact_name="陈静",
        phone="13800138123",
        source="exhibition",
        industry="manufacturing",
        region="east_china",
    )
    rep = person(browser, base_url, "rep1", phone=True)
    manager = person(browser, base_url, "manager")
    finance = person(browser, base_url, "finance")
    close_by = (date.today() + timedelta(days=30)).isoformat()

    # 1. The rep converts the lead into a customer, its contact and an opportunity; the
    # lead stays, read-only, pointing at what it became.
    rep.goto(f"/crm_sfa/lead/{lead['id']}")
    rep.locator("[data-record-action=convert]").click()
    rep.fill("#action-amount", AMOUNT)
    rep.fill("#action-expected_close_date", close_by)
    rep.locator("form.record-action button[type=submit]").click()
    expect(rep.locator(".flash")).to_contain_text("已完成：转化")
    expect(shown(rep, "线索状态")).to_have_text("已转化")
    expect(rep.locator(".page-head .actions a.primary")).to_have_count(0)  # no Edit
    fits_the_phone(rep)
    shown(rep, "转化客户").get_by_role("link").click()
    expect(rep.locator("h1")).to_have_text(COMPANY)
    customer_id = record_id(rep)

    # 2. A follow-up from the customer's page, on its opportunity; another from the
    # opportunity's page. The customer shows when it was last followed up and what next.
    rep.locator("main a", has_text="+ 跟进记录").first.click()
    rep.select_option("#field-method", "phone")
    pick(rep, "opportunity", COMPANY)
    rep.fill("#field-content", "初次电话沟通需求")
    save(rep, "follow_up")
    rep.goto(f"/crm_sfa/customer/{customer_id}")
    expect(shown(rep, "最近跟进时间")).not_to_be_empty()
    rep.locator("section.related", has_text="商机").get_by_role("link", name=COMPANY).click()
    expect(rep).to_have_url(re.compile(r"/crm_sfa/opportunity/\d+$"))
    opportunity_id = record_id(rep)
    following = rep.locator("section.related", has=rep.locator("h2", has_text="跟进记录"))
    following.get_by_role("link", name="+ 添加").click()
    rep.select_option("#field-method", "visit")
    rep.fill("#field-content", "上门演示方案，客户认可")
    rep.fill("#field-next_follow_up", close_by)
    save(rep, "follow_up")
    rep.goto(f"/crm_sfa/customer/{customer_id}")
    expect(shown(rep, "下次跟进日期")).to_contain_text(close_by)
    fits_the_phone(rep)

    # ... then works the opportunity through its stages to won.
    for stage in ("needs_analysis", "proposal", "negotiation", "won"):
        rep.goto(f"/crm_sfa/opportunity/{opportunity_id}")
        rep.locator(".page-head .actions a.primary").click()
        rep.select_option("#field-stage", stage)
        save(rep, "opportunity")
    expect(shown(rep, "赢率")).to_contain_text("100")
    fits_the_phone(rep)

    # 3. The won deal drafted a contract; the rep submits it, the manager approves it.
    rep.locator("section.related", has_text="合同").get_by_role("link").first.click()
    expect(rep).to_have_url(re.compile(r"/crm_sfa/contract/\d+$"))
    contract_id = record_id(rep)
    contract = record(app, "contract", contract_id)
    assert (contract["status"], str(contract["amount"])) == ("draft", "120000.00")
    rep.click("button[value='submit/contract_approval']")
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "running"
    )
    approve_in_inbox(manager, contract["name"])
    assert record(app, "contract", contract_id)["status"] == "approved"

    # 4. An invoice request for half, from the contract's page, showing the contract's
    # figures; the manager approves it, then finance, who numbers the invoice.
    rep.goto(f"/crm_sfa/contract/{contract_id}")
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "finished"
    )
    rep.locator("main a", has_text="+ 开票申请").first.click()
    expect(rep.locator('.record-form [data-field="contract_amount"]')).to_contain_text("120,000")
    rep.fill("#field-amount", "60000")
    rep.select_option("#field-invoice_type", "vat_general")
    rep.fill("#field-invoice_title", COMPANY)
    fits_the_phone(rep)
    invoice_id = save(rep, "invoice")
    rep.click("button[value='submit/invoice_request']")
    expect(rep.locator("[data-approval-status]")).to_have_attribute(
        "data-approval-status", "running"
    )
    invoice = record(app, "invoice", invoice_id)
    approve_in_inbox(manager, invoice["number"])
    finance.goto(f"/crm_sfa/invoice/{invoice_id}")
    decision = finance.locator("form.decision")
    decision.locator("input[name=invoice_no]").fill("No-00012345")
    decision.locator("input[name=issued_date]").fill(date.today().isoformat())
    decision.locator("button[value=approve]").click()
    expect(finance.locator(".flash")).to_contain_text("已同意")
    expect(shown(finance, "审批状态")).to_have_text("已开票")

    # 5. Finance books the payment against the invoice, from the contract's page; the
    # contract shows it received, to finance and to the rep.
    finance.goto(f"/crm_sfa/contract/{contract_id}")
    finance.locator("main a", has_text="+ 回款记录").first.click()
    pick(finance, "invoice", invoice["number"])
    finance.fill("#field-amount", "60000")
    save(finance, "payment")
    for page in (finance, rep):
        page.goto(f"/crm_sfa/contract/{contract_id}")
        expect(shown(page, "已开票金额")).to_contain_text("60,000")
        expect(shown(page, "已回款金额")).to_contain_text("60,000")
        expect(shown(page, "应收余额")).to_contain_text("60,000")
    fits_the_phone(rep)
    contract = record(app, "contract", contract_id)
    assert (str(contract["received_amount"]), str(contract["invoiced_amount"])) == (
        "60000.00",
        "60000.00",
    )
    for page in (rep, manager, finance):
        page.context.close()
