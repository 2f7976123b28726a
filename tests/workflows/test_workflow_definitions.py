"""Workflow files compile to a frozen node graph, or fail at the exact FILE:LINE:COL."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from formflow.definitions import load_app
from formflow.workflows.model import (
    ApprovalNode,
    ApproverSource,
    CcNode,
    ConditionNode,
    DecisionMode,
    EndNode,
    Join,
    NoApprover,
    ParallelNode,
    StartNode,
)
from support import MINIMAL_APP_YAML, AppWriter, definition_errors

APP = MINIMAL_APP_YAML + "  workflows: [workflows/*.yaml]\n"
FORM = """\
key: item
label: 条目
title_field: name
fields:
  - {key: name, type: text, label: 名称}
  - {key: amount, type: number, label: 金额}
  - {key: reviewer, type: user, label: 审核人}
  - {key: status, type: select, label: 状态, options: [{value: draft, label: 草稿}, {value: pending, label: 审批中}, {value: done, label: 完成}, {value: refused, label: 驳回}]}
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""
HEAD = "key: flow\nlabel: 审批\nform: item\nstate_field: status\nnodes:\n"
"""Nodes start on line 6."""

EVERY_KIND = (
    HEAD
    + """\
  - {key: start, type: start, roles: [staff], from: [draft], condition: "amount > 0", next: route}
  - key: route
    type: condition
    branches:
      - {when: "amount > 100", next: both}
      - {default: true, next: lead}
  - key: lead
    type: approval
    approvers: [{manager: submitter, levels: 2}, {field: reviewer}]
    mode: sequential
    fields: {edit: [amount], hidden: [name]}
    no_approver: skip
    on_enter: [{set: {name: checked}}]
    next: tell
  - key: both
    type: parallel
    join: any
    lanes: [[legal], [money, money_cc]]
    next: tell
  - {key: legal, type: approval, approvers: [{role: manager, within: submitter_department}], mode: all}
  - {key: money, type: approval, approvers: [{users: [ann, bob]}], mode: vote, ratio: 0.5, reject_to: [submitter, refused]}
  - {key: money_cc, type: cc, recipients: [{expression: "[reviewer]"}]}
  - {key: tell, type: cc, recipients: [{manager: record}], next: done}
  - {key: done, type: end, state: done, actions: [{action: notify, params: {to: all}}]}
  - {key: refused, type: end, outcome: rejected, state: refused}
"""
)


def test_every_node_kind_compiles_to_a_frozen_graph(write_app: AppWriter) -> None:
    app = load_app(write_app(app=APP, forms={"item": FORM}, workflows={"flow": EVERY_KIND}))
    flow = app.workflows["flow"]
    kinds = [type(node) for node in flow.nodes]
    assert kinds == [
        StartNode, ConditionNode, ApprovalNode, ParallelNode, ApprovalNode, ApprovalNode,
        CcNode, CcNode, EndNode, EndNode,
    ]  # fmt: skip
    lead = flow.node("lead")
    assert isinstance(lead, ApprovalNode)
    assert [rule.source for rule in lead.approvers] == [
        ApproverSource.MANAGER,
        ApproverSource.FIELD,
    ]
    assert lead.approvers[0].levels == 2
    assert lead.no_approver is NoApprover.SKIP
    assert lead.fields.edit == {"amount"}
    assert lead.fields.hidden == {"name"}
    assert not lead.skip_submitter
    assert not lead.allow_self
    money = flow.node("money")
    assert isinstance(money, ApprovalNode)
    assert money.mode is DecisionMode.VOTE
    assert money.ratio == Decimal("0.5")
    both = flow.node("both")
    assert isinstance(both, ParallelNode)
    assert both.join is Join.ANY
    assert flow.lane_of("money_cc") == (both, 1)
    refused = flow.node("refused")
    assert isinstance(refused, EndNode)
    assert refused.outcome == "rejected"
    with pytest.raises(dataclasses.FrozenInstanceError):
        lead.mode = DecisionMode.ANY  # type: ignore[misc]


def test_a_node_without_a_label_is_named_by_the_state_it_sets(write_app: AppWriter) -> None:
    app = load_app(write_app(app=APP, forms={"item": FORM}, workflows={"flow": EVERY_KIND}))
    flow = app.workflows["flow"]
    assert flow.node("refused").label.text("zh") == "驳回"
    assert flow.node("done").label.text("zh") == "完成"


def test_a_step_without_a_label_that_one_role_decides_is_named_by_the_role(
    write_app: AppWriter,
) -> None:
    flow = (
        HEAD
        + """\
  - {key: start, type: start, next: check}
  - {key: check, type: approval, approvers: [{role: manager}], next: done}
  - {key: done, type: end}
"""
    )
    app = load_app(write_app(app=APP, forms={"item": FORM}, workflows={"flow": flow}))
    assert app.workflows["flow"].node("check").label.text("zh") == "经理"


def test_a_start_node_without_a_label_is_named_start_in_both_languages(
    write_app: AppWriter,
) -> None:
    """The docs' flows leave the start unlabelled: its key would show on Chinese pages."""
    app = load_app(write_app(app=APP, forms={"item": FORM}, workflows={"flow": EVERY_KIND}))
    start = app.workflows["flow"].node("start").label
    assert (start.text("zh"), start.text("en")) == ("发起", "Start")


def test_a_node_without_a_label_or_a_state_is_named_by_its_key(write_app: AppWriter) -> None:
    app = load_app(write_app(app=APP, forms={"item": FORM}, workflows={"flow": EVERY_KIND}))
    assert app.workflows["flow"].node("lead").label.text("en") == "lead"


def test_graph_errors_are_located(write_app: AppWriter) -> None:
    flow = (
        HEAD
        + """\
  - {key: start, type: start, next: check}
  - key: check
    type: condition
    branches:
      - {when: "amount > 1", next: boss}
      - {when: "amount > 2", next: nowhere}
  - {key: boss, type: approval, approvers: [{role: chief}], reject_to: [later], next: done}
  - {key: later, type: approval, approvers: [{field: name}], fields: {edit: [status, colour]}, next: done}
  - {key: done, type: end}
"""
    )
    root = write_app(app=APP, forms={"item": FORM}, workflows={"flow": flow})
    assert definition_errors(root) == [
        "workflows/flow.yaml:10:7: a condition needs a default branch ({default: true, next: ...}) for when none matches",
        "workflows/flow.yaml:11:36: unknown node 'nowhere'",
        "workflows/flow.yaml:12:52: unknown role 'chief' (declare it in app.yaml roles)",
        "workflows/flow.yaml:12:73: 'later' does not come before 'boss'",
        "workflows/flow.yaml:13:54: field 'name' holds no users, so it cannot name approvers",
        "workflows/flow.yaml:13:78: 'status' is the workflow's state field: only the flow changes it",
        "workflows/flow.yaml:13:86: unknown field 'colour' in form 'item'",
    ]


def test_lanes_and_start_errors_are_located(write_app: AppWriter) -> None:
    flow = (
        HEAD
        + """\
  - {key: start, type: start, next: fork}
  - {key: fork, type: parallel, lanes: [[a], [done]], next: a}
  - {key: a, type: approval, approvers: [{users: [ann]}], mode: vote, next: done}
  - {key: done, type: end, actions: [{set: {colour: red}}]}
  - {key: again, type: start, next: done}
"""
    )
    root = write_app(app=APP, forms={"item": FORM}, workflows={"flow": flow})
    assert definition_errors(root) == [
        "workflows/flow.yaml:6:3: a flow has exactly one start node, not 2",
        "workflows/flow.yaml:7:47: 'done' is not an approval or cc node",
        "workflows/flow.yaml:7:61: 'a' runs in a lane of 'fork'; go to that node",
        "workflows/flow.yaml:8:65: a vote needs a ratio (the share of approvals that passes)",
        "workflows/flow.yaml:8:77: a node in a parallel lane has no next: the lane goes on in order",
        "workflows/flow.yaml:9:53: unknown field 'colour' in form 'item'",
        "workflows/flow.yaml:10:11: node 'again' is never reached from the start",
    ]


def test_the_schema_refuses_an_unknown_node_key(write_app: AppWriter) -> None:
    flow = (
        HEAD
        + "  - {key: start, type: start, next: done, approvers: []}\n  - {key: done, type: end}\n"
    )
    root = write_app(app=APP, forms={"item": FORM}, workflows={"flow": flow})
    assert definition_errors(root) == ["workflows/flow.yaml:6:43: unknown key 'approvers'"]


def test_an_unknown_form_is_refused_with_the_nearest_form_suggested(
    write_app: AppWriter,
) -> None:
    flow = (
        HEAD.replace("form: item", "form: iten")
        + "  - {key: start, type: start, next: done}\n  - {key: done, type: end}\n"
    )
    root = write_app(app=APP, forms={"item": FORM}, workflows={"flow": flow})
    assert definition_errors(root) == [
        "workflows/flow.yaml:3:7: unknown form 'iten'; did you mean 'item'?"
    ]


def test_a_misspelt_next_node_is_refused_with_the_nearest_node_suggested(
    write_app: AppWriter,
) -> None:
    flow = HEAD + "  - {key: start, type: start, next: dnoe}\n  - {key: done, type: end}\n"
    root = write_app(app=APP, forms={"item": FORM}, workflows={"flow": flow})
    assert "workflows/flow.yaml:6:37: unknown node 'dnoe'; did you mean 'done'?" in (
        definition_errors(root)
    )


def test_a_misspelt_approver_role_is_refused_with_the_nearest_role_suggested(
    write_app: AppWriter,
) -> None:
    flow = (
        HEAD
        + "  - {key: start, type: start, next: check}\n"
        + "  - {key: check, type: approval, approvers: [{role: staf}], next: done}\n"
        + "  - {key: done, type: end}\n"
    )
    root = write_app(app=APP, forms={"item": FORM}, workflows={"flow": flow})
    assert definition_errors(root) == [
        "workflows/flow.yaml:7:53: unknown role 'staf'; did you mean 'staff'? "
        "(declare it in app.yaml roles)"
    ]
