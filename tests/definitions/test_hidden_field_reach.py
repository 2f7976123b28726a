"""A field hidden from a role may not be told to it by a setting that acts on what the
field holds: a link narrowed by it (the picker offers only matching records), a subtable
row's condition or default reading it, a notification rendering it to the role."""

from __future__ import annotations

import pytest

from formflow.definitions import load_app
from support import MINIMAL_APP_YAML, AppWriter, definition_errors


def form(fields: str, permissions: str, *, key: str = "item", extra: str = "") -> str:
    """A form file whose ``fields:`` list starts on line 5."""
    return (
        f"key: {key}\n"
        "label: {zh: 条目, en: Item}\n"
        "title_field: name\n"
        "fields:\n"
        "  - {key: name, type: text, label: 名称}\n"
        f"{fields}"
        f"{extra}"
        f"permissions:\n{permissions}"
    )


ITEM = form(
    "  - {key: grade, type: text, label: 等级}\n",
    "  staff: {read: all, fields: {grade: hidden}}\n",
)
NARROWED = "  - {key: item, type: link, label: 条目, form: item, link_filter: {grade: grade}}\n"


def order(fields: str, permissions: str = "  staff: {create: all, read: all}\n") -> str:
    return form("  - {key: grade, type: text, label: 等级}\n" + fields, permissions, key="order")


def test_a_link_may_not_be_narrowed_by_a_field_hidden_from_a_role_that_writes(
    write_app: AppWriter,
) -> None:
    root = write_app(forms={"item": ITEM, "order": order(NARROWED)})
    assert definition_errors(root) == [
        "forms/order.yaml:7:65: 'link_filter' of 'item' compares 'item.grade', which is hidden"
        " from 'staff', who may write these records: the records offered would tell it"
    ]


def test_a_row_link_may_not_be_narrowed_by_a_field_hidden_from_a_role_that_writes(
    write_app: AppWriter,
) -> None:
    lines = (
        "  - key: lines\n    type: subtable\n    label: 行\n    fields:\n"
        "      - {key: item, type: link, label: 条目, form: item,"
        " link_filter: {grade: parent.grade}}\n"
    )
    root = write_app(forms={"item": ITEM, "order": order(lines)})
    assert definition_errors(root) == [
        "forms/order.yaml:11:69: 'link_filter' of 'item' compares 'item.grade', which is hidden"
        " from 'staff', who may write these records: the records offered would tell it"
    ]


def test_a_link_narrowed_by_a_field_hidden_from_readers_only_is_accepted(
    write_app: AppWriter,
) -> None:
    root = write_app(forms={"item": ITEM, "order": order(NARROWED, "  staff: {read: all}\n")})
    assert load_app(root).form("order").field("item").link_filter == (("grade", "grade"),)


COST = "  - {key: cost, type: money, label: 成本}\n"
COST_HIDDEN = "  staff: {create: all, read: all, fields: {cost: hidden}}\n"


def test_a_visible_default_may_not_be_worked_out_from_a_hidden_field(
    write_app: AppWriter,
) -> None:
    dear = '  - {key: dear, type: bool, label: 贵, default_expr: "(cost or 0) > 100"}\n'
    root = write_app(forms={"item": form(COST + dear, COST_HIDDEN)})
    assert definition_errors(root) == [
        "forms/item.yaml:7:53: 'default_expr' of 'dear' reads 'cost', which is hidden from"
        " 'staff'; hide 'dear' from 'staff' too"
    ]


LINES = "  - key: lines\n    type: subtable\n    label: 行\n    fields:\n"


@pytest.mark.parametrize("setting", ["visible_if", "required_if", "default_expr"])
def test_a_row_may_not_act_on_a_parent_field_hidden_from_a_role_that_sees_the_rows(
    write_app: AppWriter, setting: str
) -> None:
    row = f'      - {{key: note, type: text, label: 注, {setting}: "parent.cost > 100"}}\n'
    root = write_app(forms={"item": form(COST + LINES + row, COST_HIDDEN)})
    [error] = definition_errors(root)
    assert error.endswith(
        f"'{setting}' of 'lines.note' reads 'parent.cost', which is hidden from 'staff';"
        " hide 'lines' from 'staff' too"
    )
    assert error.startswith("forms/item.yaml:11:")


def test_rows_hidden_like_the_parent_field_they_read_are_accepted(write_app: AppWriter) -> None:
    row = '      - {key: note, type: text, label: 注, visible_if: "parent.cost > 100"}\n'
    hidden = "  staff: {create: all, read: all, fields: {cost: hidden, lines: hidden}}\n"
    root = write_app(forms={"item": form(COST + LINES + row, hidden)})
    assert load_app(root).form("item").field("lines").subfield("note").visible_if is not None


def told(roles: str, title: str) -> str:
    """A record action telling ``roles`` with ``title``; its ``title`` is on line 14."""
    return (
        "actions:\n"
        "  - key: ping\n"
        "    label: Ping\n"
        "    actions:\n"
        "      - action: notify\n"
        "        params:\n"
        f"          roles: [{roles}]\n"
        f"          title: '{title}'\n"
    )


def test_a_notification_to_a_role_may_not_render_a_field_hidden_from_it(
    write_app: AppWriter,
) -> None:
    extra = told("manager, staff", "{{ name }} costs {{ cost }}")
    root = write_app(forms={"item": form(COST, COST_HIDDEN, extra=extra)})
    assert definition_errors(root) == [
        "forms/item.yaml:14:18: the notification to 'staff' renders 'cost', which is hidden"
        " from 'staff'"
    ]


def test_a_notification_to_roles_that_see_the_field_is_accepted(write_app: AppWriter) -> None:
    extra = told("manager", "{{ name }} costs {{ cost }}")
    root = write_app(forms={"item": form(COST, COST_HIDDEN, extra=extra)})
    assert [action.key for action in load_app(root).form("item").actions] == ["ping"]


def test_a_workflow_s_notification_to_a_role_may_not_render_a_field_hidden_from_it(
    write_app: AppWriter,
) -> None:
    status = (
        "  - {key: status, type: select, label: 状态,"
        " options: [{value: draft, label: 草稿}, {value: done, label: 完成}]}\n"
    )
    flow = (
        "key: flow\nlabel: 审批\nform: item\nstate_field: status\nnodes:\n"
        "  - {key: start, type: start, roles: [staff], from: [draft], next: done}\n"
        "  - key: done\n    type: end\n    state: done\n    actions:\n"
        "      - action: notify\n"
        "        params: {roles: [staff], title: 'cost {{ cost }}'}\n"
    )
    root = write_app(
        app=MINIMAL_APP_YAML + "  workflows: [workflows/*.yaml]\n",
        forms={"item": form(COST + status, COST_HIDDEN)},
        workflows={"flow": flow},
    )
    assert definition_errors(root) == [
        "workflows/flow.yaml:12:41: the notification to 'staff' renders 'cost', which is"
        " hidden from 'staff'"
    ]
