"""In a real browser, at desktop and at 375 px: an admin sets who may submit a contract and
when (a start condition), lets the sales director approve their own request and send a
request with nobody to ask to the administrators, then publishes; the published flow has
those settings. A condition that does not read is refused beside the start node."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect
from test_designer_flows_in_browser import FLOW, PUBLISHING, SWAP, apply
from test_designer_in_browser import sign_in

from formflow.config import Settings
from formflow.lifecycle.instance import Instance
from formflow.workflows.model import ApprovalNode, NoApprover, StartNode

pytestmark = [pytest.mark.browser]

SHOT = os.environ.get("FORMFLOW_DOC_SHOT")
"""Where to save the start node's picture for docs/designer.md, when set."""


def published_nodes(settings: Settings) -> dict[str, object]:
    instance = Instance(settings)
    try:
        flow = instance.app("crm_sfa").workflows["contract_approval"]
        return {node.key: node for node in flow.nodes}
    finally:
        instance.close()


def test_an_admin_sets_a_start_condition_and_self_approval_and_publishes(
    page: Page, served: str, settings: Settings
) -> None:
    sign_in(page, served, "admin")
    page.goto(f"{served}{FLOW}?node=start")
    start = page.locator('li.flow-node[data-node="start"]')
    page.fill("#condition-start", "amount >")
    start.locator(".node-submitting button[type=submit]").click()  # refused: nothing saved
    expect(page.locator("#errors-start")).to_contain_text("未保存", timeout=SWAP)
    expect(page.locator(".designer-yaml textarea")).to_contain_text('condition: "amount > 0"')

    page.fill("#condition-start", "amount > 1000")
    page.select_option("#withdraw-start", "until_end")
    apply(page, start.locator(".node-submitting button[type=submit]"))
    expect(page.locator("#errors-start")).to_have_count(0)
    expect(page.locator(".designer-yaml textarea")).to_contain_text('condition: "amount > 1000"')

    director = page.locator('li.flow-node[data-node="director"]')
    director.locator("summary").first.click()
    page.select_option("#no-approver-director", "admins")
    page.check("#allow-self-director")
    apply(page, director.locator(".node-passing-over button[type=submit]"))
    expect(page.locator(".designer-yaml textarea")).to_contain_text("allow_self: true")
    expect(page.locator("#designer-errors")).to_have_count(0)
    assert page.viewport_size is not None  # the open nodes fit the phone's width too
    assert page.evaluate("document.scrollingElement.scrollWidth") <= page.viewport_size["width"]
    if SHOT and page.viewport_size and page.viewport_size["width"] > 400:
        page.click("form.language button")  # the docs' pictures are in English
        expect(page.locator("form.language button")).to_have_text("中文")
        page.goto(f"{served}{FLOW}?node=start")
        page.evaluate("window.scrollTo(0, 0)")  # the page's own places: the header stays up
        box = page.locator('li.flow-node[data-node="start"] > details.card').bounding_box()
        assert box is not None
        page.screenshot(path=SHOT, full_page=True, clip=box)
        page.click("form.language button")
        expect(page.locator("form.language button")).to_have_text("English")

    page.goto(f"{served}/admin/designer/crm_sfa/publish")
    page.fill("#comment", "大额合同才提交；总监可审批自己的申请")
    with page.expect_navigation(timeout=PUBLISHING):
        page.click("form[action$='/publish'] button[type=submit]", no_wait_after=True)
    expect(page.locator(".flash")).to_contain_text("第 2 版")

    nodes = published_nodes(settings)
    start_node, director_node = nodes["start"], nodes["director"]
    assert isinstance(start_node, StartNode)
    assert start_node.condition is not None
    assert start_node.condition.source == "amount > 1000"
    assert isinstance(director_node, ApprovalNode)
    assert director_node.allow_self
    assert director_node.no_approver is NoApprover.ADMINS
