"""The workflow designer's controls for the settings that were YAML only, as pages.

Each control posts one edit of the contract flow; hostile values (roles and states the app
does not have, conditions that do not read, words outside the format) are refused beside
the node they concern, and nothing is written.
"""

from __future__ import annotations

import pytest
from flask import Flask
from test_designer_flow_pages import FLOW, FLOW_FILE, Login, edit, text_of


def beside(page: str, node: str) -> str:
    """The errors shown beside ``node`` (empty when there are none)."""
    if f'id="errors-{node}"' not in page:
        return ""
    return page.split(f'id="errors-{node}"', 1)[1].split("</ul>", 1)[0]


def test_the_start_node_offers_the_apps_roles_and_the_state_fields_options(
    login: Login,
) -> None:
    page = login("admin").get(f"{FLOW}?node=start").get_data(as_text=True)
    start = page.split('class="node-submitting"', 1)[1].split("</form>", 1)[0]
    assert 'name="roles" value="sales_rep" checked' in start
    assert 'name="roles" value="finance">' in start
    assert 'name="from" value="rejected" checked' in start
    assert 'name="from" value="signed">' in start
    assert 'id="condition-start" name="condition"' in start
    assert 'value="amount &gt; 0"' in start


def test_who_may_submit_when_and_withdrawal_are_set_from_the_start_node(
    login: Login, app: Flask
) -> None:
    admin = login("admin")
    page = edit(
        admin,
        app,
        {
            "action": "submitting",
            "node": "start",
            "roles": ["sales_rep", "admin"],
            "from": ["draft"],
            "condition": "amount > 1000",
            "withdraw": "never",
        },
    ).get_data(as_text=True)
    text = text_of(app, FLOW_FILE)
    assert (
        "    roles: [sales_rep, admin]\n    from: [draft]\n"
        '    condition: "amount > 1000"\n    withdraw: never\n    next: manager\n'
    ) in text
    assert "designer-errors" not in page
    assert '<option value="never" selected>' in page


def test_nobody_to_ask_self_approval_and_skipping_are_set_on_an_approval_step(
    login: Login, app: Flask
) -> None:
    admin = login("admin")
    page = edit(
        admin,
        app,
        {
            "action": "passing_over",
            "node": "director",
            "no_approver": "skip",
            "approved": "1",
            "self": "1",
            "submitter": "1",
        },
    ).get_data(as_text=True)
    text = text_of(app, FLOW_FILE)
    assert "no_approver: skip" in text
    assert "skip: {already_approved: true, submitter: true}" in text
    assert "allow_self: true" in text
    assert 'id="allow-self-director" name="self" value="1" checked' in page
    assert "designer-errors" not in page


def test_a_steps_waiting_state_and_an_ends_outcome_and_state(login: Login, app: Flask) -> None:
    admin = login("admin")
    edit(admin, app, {"action": "state", "node": "manager", "state": "pending"})
    page = edit(
        admin,
        app,
        {"action": "ending", "node": "rejected", "outcome": "declined", "state": "terminated"},
    ).get_data(as_text=True)
    text = text_of(app, FLOW_FILE)
    manager = text.split("  - key: manager", 1)[1].split("  - key:", 1)[0]
    assert "    state: pending\n" in manager
    rejected = text.split("  - key: rejected", 1)[1]
    assert "state: terminated" in rejected
    assert "outcome: declined" in rejected
    assert 'id="outcome-rejected" name="outcome"' in page
    assert "designer-errors" not in page


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"action": "submitting", "node": "start", "roles": ["nobody_role"]}, "nobody_role"),
        ({"action": "submitting", "node": "start", "from": ["limbo"]}, "limbo"),
        ({"action": "submitting", "node": "start", "condition": "amount >"}, "does not parse"),
        ({"action": "submitting", "node": "start", "condition": "ghost > 1"}, "ghost"),
        ({"action": "submitting", "node": "start", "roles": ["<b>x</b>"]}, "&lt;b&gt;x"),
        ({"action": "state", "node": "manager", "state": "limbo"}, "limbo"),
        ({"action": "ending", "node": "rejected", "outcome": "Bad Word"}, "Bad Word"),
        ({"action": "passing_over", "node": "manager", "no_approver": "pray"}, "管理员"),
        ({"action": "passing_over", "node": "manager", "submitter": "1"}, "审批自己"),
        ({"action": "submitting", "node": "start", "withdraw": "always"}, "撤回"),
        ({"action": "state", "node": "start", "state": "draft"}, "状态"),
    ],
)
def test_a_hostile_setting_is_refused_beside_its_node_and_nothing_is_written(
    login: Login, app: Flask, data: dict[str, object], why: str
) -> None:
    admin = login("admin")
    before = text_of(app, FLOW_FILE)
    answer = edit(admin, app, data)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert why in beside(page, str(data["node"])), page
    assert 'class="flash"' not in page.split('id="designer-page"', 1)[0].split("<main", 1)[1]
    assert text_of(app, FLOW_FILE) == before


def test_a_refusal_about_a_node_that_is_not_there_is_shown_at_the_top(
    login: Login, app: Flask
) -> None:
    page = edit(
        login("admin"), app, {"action": "state", "node": "ghost_node", "state": "draft"}
    ).get_data(as_text=True)
    assert 'class="flash error" role="alert"' in page
