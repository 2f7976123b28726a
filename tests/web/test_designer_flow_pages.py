"""The workflow designer's edits and simulation, undo/redo and field rename, as pages."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from formflow.designer import Designer
from web.conftest import csrf_token

Login = Callable[[str], FlaskClient]
FLOW = "/admin/designer/crm_sfa/workflows/contract_approval"
FLOW_FILE = "workflows/contract_approval.yaml"
CUSTOMER = "/admin/designer/crm_sfa/forms/customer"


def text_of(app: Flask, path: str) -> str:
    return Designer(app.extensions["formflow"]).draft("crm_sfa").files[path].text


def revision(app: Flask, path: str = FLOW_FILE) -> int:
    return Designer(app.extensions["formflow"]).draft("crm_sfa").files[path].revision


def edit(client: FlaskClient, app: Flask, data: dict[str, Any]) -> Any:
    return client.post(
        f"{FLOW}/edit",
        data={**data, "revision": revision(app), "csrf_token": csrf_token(client, FLOW)},
        follow_redirects=True,
    )


def test_a_plus_adds_a_countersign_step_and_undo_takes_it_back(login: Login, app: Flask) -> None:
    admin = login("admin")
    before = text_of(app, FLOW_FILE)
    page = edit(
        admin,
        app,
        {"action": "add_step", "node": "manager", "new_type": "approval", "new_key": "legal"},
    ).get_data(as_text=True)
    assert 'data-node="legal"' in page
    assert 'id="designer-undo">' in page  # enabled: there is a step to undo
    edit(admin, app, {"action": "approvers", "node": "legal", "rules": "role: finance"})
    edit(admin, app, {"action": "mode", "node": "legal", "mode": "all"})
    text = text_of(app, FLOW_FILE)
    assert "approvers: [{role: finance}]" in text
    assert "mode: all" in text
    assert text.splitlines()[0] == before.splitlines()[0]  # the heading comment stays
    assert "designer-errors" not in admin.get(FLOW).get_data(as_text=True)
    for _ in range(3):
        admin.post(
            "/admin/designer/crm_sfa/undo",
            data={"back": FLOW, "csrf_token": csrf_token(admin, FLOW)},
        )
    assert text_of(app, FLOW_FILE) == before


def test_an_invalid_flow_says_why(login: Login, app: Flask) -> None:
    admin = login("admin")
    page = edit(
        admin, app, {"action": "fields", "node": "manager", "perm_nonexistent": "edit"}
    ).get_data(as_text=True)
    assert "edit: [nonexistent]" in text_of(app, FLOW_FILE)
    assert 'id="designer-errors"' in page
    page = edit(
        admin, app, {"action": "approvers", "node": "manager", "rules": "role: nobody_role"}
    ).get_data(as_text=True)
    assert 'id="designer-errors"' in page
    assert FLOW_FILE in page


def test_simulate_shows_the_path_and_the_approvers(login: Login) -> None:
    page = login("admin").get(f"{FLOW}?simulate=1&v_amount=10").get_data(as_text=True)
    assert 'id="simulation"' in page
    assert '<li data-node="start">' in page


def test_renaming_a_field_rewrites_its_uses(login: Login, app: Flask) -> None:
    admin = login("admin")
    answer = admin.post(
        f"{CUSTOMER}/change",
        data={
            "action": "rename",
            "key": "industry",
            "new_key": "sector",
            "revision": revision(app, "forms/customer.yaml"),
            "csrf_token": csrf_token(admin, CUSTOMER),
        },
    )
    assert answer.status_code == 302
    text = text_of(app, "forms/customer.yaml")
    assert "key: sector" in text
    assert "renamed_from: industry" in text


def test_the_yaml_tab_keeps_text_that_does_not_parse(login: Login, app: Flask) -> None:
    admin = login("admin")
    broken = text_of(app, FLOW_FILE) + "oops: [\n"
    page = admin.post(
        "/admin/designer/crm_sfa/yaml",
        data={
            "path": FLOW_FILE,
            "yaml": broken,
            "revision": revision(app),
            "back": FLOW,
            "csrf_token": csrf_token(admin, FLOW),
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert text_of(app, FLOW_FILE) == broken
    assert 'id="yaml-error"' in page
    assert f"{FLOW_FILE}:" in page
    assert "oops: [" in page


def test_parallel_lanes_are_drawn_added_to_and_joined_on_the_page(login: Login, app: Flask) -> None:
    admin = login("admin")
    edit(
        admin,
        app,
        {
            "action": "add_parallel",
            "node": "manager",
            "new_key": "checks",
            "lane_a": "legal",
            "lane_b": "audit",
            "join": "all",
        },
    )
    edit(admin, app, {"action": "add_lane_step", "node": "checks", "lane": "1", "new_key": "it"})
    page = edit(admin, app, {"action": "join", "node": "checks", "join": "any"}).get_data(
        as_text=True
    )
    text = text_of(app, FLOW_FILE)
    assert "lanes: [[legal], [audit, it]]" in text
    assert "join: any" in text
    assert 'class="flow-branches flow-lanes"' in page
    assert page.count('data-lane="') == 2
    assert 'data-node="it"' in page
    assert "designer-errors" not in page


def test_an_escalation_is_set_on_a_step_and_shown_in_its_form(login: Login, app: Flask) -> None:
    admin = login("admin")
    page = edit(
        admin,
        app,
        {
            "action": "timeout",
            "node": "manager",
            "remind_after_hours": "24",
            "after_hours": "72",
            "timeout_action": "escalate",
        },
    ).get_data(as_text=True)
    assert "timeout: {remind_after_hours: 24, after_hours: 72, action: escalate}" in (
        text_of(app, FLOW_FILE)
    )
    assert 'id="after-manager" name="after_hours" type="number"' in page
    assert '<option value="escalate" selected>' in page


def test_a_compiler_error_is_shown_beside_the_node_it_is_about(login: Login, app: Flask) -> None:
    admin = login("admin")
    page = edit(
        admin,
        app,
        {
            "action": "timeout",
            "node": "manager",
            "remind_after_hours": "72",
            "after_hours": "24",
            "timeout_action": "reject",
        },
    ).get_data(as_text=True)
    assert 'id="designer-errors"' in page
    beside = page.split('id="errors-manager"', 1)[1].split("</ul>", 1)[0]
    assert "after_hours (24) must be later than remind_after_hours (72)" in beside
    assert 'id="errors-director"' not in page


def test_a_clock_without_its_action_is_refused_and_nothing_is_saved(
    login: Login, app: Flask
) -> None:
    admin = login("admin")
    before = text_of(app, FLOW_FILE)
    page = edit(
        admin,
        app,
        {"action": "timeout", "node": "manager", "after_hours": "72", "timeout_action": ""},
    ).get_data(as_text=True)
    assert "需要同时填写小时数和动作" in page
    page = edit(
        admin,
        app,
        {"action": "timeout", "node": "manager", "after_hours": "inf", "timeout_action": "reject"},
    ).get_data(as_text=True)
    assert "时钟的小时数" in page
    assert text_of(app, FLOW_FILE) == before


def test_actions_on_entering_and_where_rejections_go(login: Login, app: Flask) -> None:
    admin = login("admin")
    edit(
        admin,
        app,
        {
            "action": "actions",
            "node": "director",
            "slot": "on_enter",
            "actions": "- set: {remark: checked}\n",
        },
    )
    edit(
        admin,
        app,
        {"action": "reject_to", "node": "director", "reject_to": ["rejected", "submitter"]},
    )
    text = text_of(app, FLOW_FILE)
    assert "reject_to: [rejected, submitter]" in text
    assert "on_enter:\n      - set: {remark: checked}" in text or "remark: checked" in text
    page = admin.get(FLOW).get_data(as_text=True)
    assert 'id="actions-on_enter-director"' in page
    assert "designer-errors" not in page


def test_actions_that_do_not_read_are_refused_with_why(login: Login, app: Flask) -> None:
    admin = login("admin")
    before = text_of(app, FLOW_FILE)
    cases = {
        "- set: {remark: [": "这些动作不是有效的 YAML",
        "- &a {x: *a}": "nested deeper than 64 levels",  # a value holding itself
        "just words": "动作是一个列表",
    }
    for text, why in cases.items():
        page = edit(
            admin,
            app,
            {"action": "actions", "node": "director", "slot": "on_enter", "actions": text},
        ).get_data(as_text=True)
        assert why in page
    assert text_of(app, FLOW_FILE) == before


def test_an_htmx_edit_answers_with_the_designer_part_and_its_message(
    login: Login, app: Flask
) -> None:
    admin = login("admin")
    page = admin.post(
        f"{FLOW}/edit",
        data={
            "action": "join",
            "node": "manager",
            "join": "any",
            "revision": revision(app),
            "csrf_token": csrf_token(admin, FLOW),
        },
        headers={"HX-Request": "true"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert 'id="designer-page"' in page
    assert page.count("不是并行节点") == 1  # beside the node, not at the top as well
    assert "不是并行节点" in page.split('id="errors-manager"', 1)[1].split("</ul>", 1)[0]


def test_a_rejection_is_offered_only_where_the_compiler_allows_it(login: Login) -> None:
    page = login("admin").get(f"{FLOW}?node=director").get_data(as_text=True)
    director = page.split('data-node="director"', 1)[1].split("</fieldset>", 2)[1]
    offered = re.findall(r'name="reject_to" value="([a-z_]+)"', director)
    assert offered == ["submitter", "manager", "rejected", "approved"]
    manager = page.split('data-node="manager"', 1)[1].split("</fieldset>", 2)[1]
    assert "manager" not in re.findall(r'name="reject_to" value="([a-z_]+)"', manager)
    assert "director" not in re.findall(r'name="reject_to" value="([a-z_]+)"', manager)


def laughs(levels: int) -> str:
    """Aliases of aliases in one flow mapping: nine to the power ``levels`` words."""
    parts = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    parts += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "{" + ", ".join(parts) + "}"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (
            {"action": "actions", "slot": "on_enter", "actions": f"- set: {laughs(9)}"},
            "有效的 YAML",
        ),
        ({"action": "approvers", "rules": f"role: finance, extra: {laughs(9)}"}, "规则读不懂"),
    ],
    ids=["actions", "approvers"],
)
def test_a_yaml_bomb_typed_into_a_step_is_refused_at_once(
    login: Login, app: Flask, data: dict[str, str], why: str
) -> None:
    """The boxes were read by a YAML reader that shares aliased values, then walked
    value by value: a billion words, the server busy for minutes. They are read as the
    compiler reads a file, bounded."""
    admin = login("admin")
    before = text_of(app, FLOW_FILE)
    started = time.process_time()
    page = edit(admin, app, {**data, "node": "director"}).get_data(as_text=True)
    assert time.process_time() - started < 5
    assert why in page
    assert "200,000" in page
    assert text_of(app, FLOW_FILE) == before
