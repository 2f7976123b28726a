"""A rep's day on a 375 px phone: Today comes first, a customer list shows several compact
cards per screen, and picking a linked record leaves one box, not a second list of results.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from formflow import accounts
from formflow.records import Actor
from formflow.storage.database import read_transaction

pytestmark = [pytest.mark.browser]

PHONE = {"width": 375, "height": 667}
PASSWORD = "password-1"
CARDS_PER_SCREEN = 4


@pytest.fixture
def phone(browser: Browser, served: str) -> Iterator[Page]:
    context = browser.new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, base_url=served
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", "rep1")
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url=f"{served}/", timeout=60_000):  # scrypt on a busy machine
        page.click("main button[type=submit]", no_wait_after=True)
    yield page
    context.close()


def rep1(app: Flask) -> Actor:
    with read_transaction(app.extensions["formflow"].engine) as connection:
        user = accounts.find_user(connection, "rep1")
        assert user is not None
        return accounts.actor_for(connection, user, "crm_sfa")


@pytest.fixture
def customers(app: Flask) -> list[int]:
    """Eight customers of rep1's; the first is a follow-up overdue since yesterday."""
    records = app.extensions["formflow"].records("crm_sfa")
    actor = rep1(app)
    ids = [
        records.create(actor, "customer", {"name": f"晨光科技第{n}分公司", "level": "A"})["id"]
        for n in range(1, 9)
    ]
    yesterday = date.today() - timedelta(days=1)
    records.create(
        actor,
        "follow_up",
        {"customer": ids[0], "content": "电话沟通报价", "next_follow_up": yesterday},
    )
    return ids


def test_today_comes_first_and_opens_the_overdue_customer(
    phone: Page, customers: list[int]
) -> None:
    phone.goto("/")
    first = phone.locator("main section.card").first
    expect(first).to_have_class(re.compile(r"\btoday\b"))
    overdue = first.locator(".today-item.overdue")
    expect(overdue).to_have_count(1)
    overdue.get_by_role("link").click()
    expect(phone).to_have_url(re.compile(rf"/crm_sfa/customer/{customers[0]}$"))


def test_at_least_four_customer_cards_fit_one_phone_screen(
    phone: Page, customers: list[int]
) -> None:
    phone.goto("/crm_sfa/customer/")
    expect(phone.locator("table.records")).to_be_hidden()
    cards = phone.locator(".record-card")
    expect(cards).to_have_count(len(customers))
    first = cards.nth(0).bounding_box()
    fourth = cards.nth(CARDS_PER_SCREEN - 1).bounding_box()
    assert first is not None
    assert fourth is not None
    assert fourth["y"] + fourth["height"] - first["y"] <= PHONE["height"]
    expect(cards.nth(0).locator(".badge").first).to_be_visible()
    cards.nth(0).locator(".card-title").click()
    expect(phone).to_have_url(re.compile(r"/crm_sfa/customer/\d+$"))


def test_picking_a_customer_leaves_one_box_behind(phone: Page, customers: list[int]) -> None:
    phone.goto("/crm_sfa/contact/new")
    picker = phone.locator('.record-form [data-field="customer"]')
    search = picker.locator("input[type=search]")
    search.press_sequentially("第3分")
    choice = picker.locator("[data-link-choose]", has_text="晨光科技第3分公司")
    choice.click()
    expect(search).to_have_value("晨光科技第3分公司")
    expect(picker.locator("input[type=hidden]")).to_have_value(str(customers[2]))
    # the box is focused again after the pick; a lookup it would start, or one still on
    # its way, must not bring the list back under the chosen customer
    search.blur()
    search.focus()
    phone.wait_for_load_state("networkidle")
    expect(picker.locator("input[type=search]")).to_have_count(1)
    expect(picker.locator(".link-options")).to_have_count(0)
    # typing again searches again; a tap elsewhere closes the list
    search.fill("")
    search.press_sequentially("晨光")
    expect(picker.locator(".link-options")).to_have_count(1)
    phone.locator("h1").click()
    expect(picker.locator(".link-options")).to_have_count(0)


def test_a_new_customer_takes_its_contacts_in_the_same_form(phone: Page) -> None:
    phone.goto("/crm_sfa/customer/new")
    phone.fill("#field-name", "云帆物流有限公司")
    contacts = phone.locator('fieldset[data-inline="contact"]')
    contacts.locator("#inline-contact-0-name").fill("李娜")
    contacts.locator("#inline-contact-0-phone").fill("13900139000")
    contacts.locator("label[for=inline-contact-0-is_primary]").click()
    phone.locator(".record-form button[type=submit]").click()
    expect(phone).to_have_url(re.compile(r"/crm_sfa/customer/\d+$"))
    expect(phone.locator("main")).to_contain_text("李娜")
