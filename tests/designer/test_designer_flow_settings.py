"""The workflow settings that were YAML only, each one designer operation on round-trip YAML.

Who may submit from the start node (roles, from which states, on what condition, until when
they may withdraw), whom an approval step passes over (nobody to ask, earlier approvers, the
submitter), the state a step or an end shows and an end's outcome. Each edit changes only
the lines concerned, compiles to a model holding the setting, and is one undo step; a name
the app does not have is refused beside the node when the edit is checked, nothing saved.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from sqlalchemy import select
from test_designer_flow_vocabulary import changed_lines

from formflow.definitions import App, load_app
from formflow.designer import Designer
from formflow.designer.documents import Document, DocumentError
from formflow.designer.flow_edits import SetOutcome, SetPassingOver, SetState, SetSubmitting
from formflow.designer.flows import node_at, node_spans
from formflow.designer.service import EditRefused
from formflow.storage.database import write_transaction
from formflow.workflows.model import ApprovalNode, EndNode, NoApprover, StartNode, Withdraw
from support import MINIMAL_APP_YAML

APP = MINIMAL_APP_YAML + "  workflows: [workflows/*.yaml]\n"
FORM = """\
key: item
label: {zh: 条目, en: Item}
title_field: name
fields:
  - {key: name, type: text, label: 名称, required: true}
  - {key: qty, type: number, label: 数量}
  - {key: status, type: select, label: 状态, options: [{value: draft, label: 草稿}, {value: pending, label: 审批中}, {value: done, label: 完成}, {value: refused, label: 驳回}]}
permissions:
  staff: {create: all, read: own, update: own, delete: none}
"""
FLOW = """\
# Items go to the boss.
key: item_flow
label: {zh: 条目审批, en: Item approval}
form: item
state_field: status
nodes:
  - key: start
    type: start
    roles: [staff]   # only staff submit
    next: boss
  - key: boss
    type: approval
    approvers: [{role: manager}]   # the manager decides
    no_approver: admins
    reject_to: [submitter, refused]
    next: approved
  - key: approved
    type: end
    state: done   # finished
  - key: refused
    type: end
"""
WORKFLOW = "workflows/item_flow.yaml"
FILES = {"app.yaml": APP, "forms/item.yaml": FORM}
INSTALLED_APP, INSTALLED_FORM, INSTALLED_WORKFLOWS = APP, FORM, {"item_flow": FLOW}


def applied(*operations: object, text: str = FLOW) -> str:
    document = Document(WORKFLOW, text)
    for operation in operations:
        operation.apply(document)  # type: ignore[attr-defined]
    return document.text()


def compiled(text: str) -> App:
    return load_app({**FILES, WORKFLOW: text})


def node(text: str, key: str) -> object:
    flow = compiled(text).workflows["item_flow"]
    return next(found for found in flow.nodes if found.key == key)


def test_the_flow_compiles_before_any_edit() -> None:
    assert isinstance(node(FLOW, "start"), StartNode)


def test_who_may_submit_and_from_which_states_are_one_line_each() -> None:
    text = applied(SetSubmitting("start", roles=["staff", "manager"], sources=["draft", "refused"]))
    assert changed_lines(FLOW, text) == [
        "-    roles: [staff]   # only staff submit",
        "+    roles: [staff, manager] # only staff submit",  # the comment's column is taken
        "+    from: [draft, refused]",
    ]
    start = node(text, "start")
    assert isinstance(start, StartNode)
    assert start.roles == ("staff", "manager")
    assert start.sources == ("draft", "refused")


def test_a_start_condition_and_withdrawal_are_written_and_compiled() -> None:
    text = applied(
        SetSubmitting("start", roles=["staff"], condition="(qty or 0) > 0", withdraw="never")
    )
    assert changed_lines(FLOW, text) == ["+    condition: (qty or 0) > 0", "+    withdraw: never"]
    start = node(text, "start")
    assert isinstance(start, StartNode)
    assert start.condition is not None
    assert start.withdraw is Withdraw.NEVER


def test_the_start_defaults_are_written_by_leaving_the_keys_out() -> None:
    text = applied(SetSubmitting("start"))
    assert changed_lines(FLOW, text) == ["-    roles: [staff]   # only staff submit"]
    assert applied(SetSubmitting("start", roles=["staff"])) == FLOW


def test_only_the_start_node_says_who_may_submit_and_withdrawal_is_a_known_word() -> None:
    with pytest.raises(DocumentError):
        applied(SetSubmitting("boss", roles=["staff"]))
    with pytest.raises(DocumentError):
        applied(SetSubmitting("start", withdraw="whenever"))


def test_nobody_to_ask_and_self_approval_change_only_their_lines() -> None:
    text = applied(SetPassingOver("boss", "skip", allow_self=True))
    assert changed_lines(FLOW, text) == [
        "-    no_approver: admins",
        "+    no_approver: skip",
        "+    allow_self: true",
    ]
    boss = node(text, "boss")
    assert isinstance(boss, ApprovalNode)
    assert boss.no_approver is NoApprover.SKIP
    assert boss.allow_self


def test_passing_over_earlier_approvers_and_the_submitter_is_one_skip_line() -> None:
    text = applied(SetPassingOver("boss", "admins", True, True, True))
    assert "    skip: {already_approved: true, submitter: true}" in text
    boss = node(text, "boss")
    assert isinstance(boss, ApprovalNode)
    assert boss.skip_approved
    assert boss.skip_submitter
    fewer = applied(SetPassingOver("boss", "admins", True, False, True), text=text)
    assert changed_lines(text, fewer) == [
        "-    skip: {already_approved: true, submitter: true}",
        "+    skip: {already_approved: true}",
    ]
    assert applied(SetPassingOver("boss", "admins"), text=fewer) == FLOW


def test_refusing_is_the_default_and_passing_over_the_submitter_needs_self_approval() -> None:
    text = applied(SetPassingOver("boss", "refuse"))
    assert changed_lines(FLOW, text) == ["-    no_approver: admins"]
    with pytest.raises(DocumentError):
        applied(SetPassingOver("boss", "admins", skip_submitter=True))
    with pytest.raises(DocumentError):
        applied(SetPassingOver("boss", "ask_someone"))
    with pytest.raises(DocumentError):
        applied(SetPassingOver("start"))


def test_a_steps_waiting_state_and_an_ends_state_and_outcome() -> None:
    text = applied(
        SetState("boss", "pending"),
        SetState("refused", "refused"),
        SetOutcome("refused", "declined"),
    )
    assert changed_lines(FLOW, text) == [
        "+    state: pending",
        "+    state: refused",
        "+    outcome: declined",
    ]
    boss, refused = node(text, "boss"), node(text, "refused")
    assert isinstance(boss, ApprovalNode)
    assert boss.state == "pending"
    assert isinstance(refused, EndNode)
    assert (refused.state, refused.outcome) == ("refused", "declined")


def test_an_outcome_like_the_nodes_key_and_an_empty_state_are_left_out() -> None:
    assert applied(SetOutcome("approved", "approved")) == FLOW
    text = applied(SetState("approved", ""))
    assert changed_lines(FLOW, text) == ["-    state: done   # finished"]
    with pytest.raises(DocumentError):
        applied(SetState("start", "draft"))
    with pytest.raises(DocumentError):
        applied(SetOutcome("boss", "done"))


def test_an_unknown_state_is_a_compiler_error_inside_the_node() -> None:
    text = applied(SetState("boss", "nowhere"))
    with pytest.raises(Exception, match="state 'nowhere' is not an option"):
        compiled(text)


def checked(designer: Designer, node_key: str, *operations: object) -> str:
    revision = designer.draft("demo").files[WORKFLOW].revision
    designer.apply(
        "demo",
        WORKFLOW,
        revision,
        operations,  # type: ignore[arg-type]
        None,
        checked_node=node_key,
    )
    return designer.draft("demo").files[WORKFLOW].text


@pytest.mark.parametrize(
    ("operation", "problem"),
    [
        (SetSubmitting("start", roles=["nobody_role"]), "unknown role 'nobody_role'"),
        (SetSubmitting("start", sources=["limbo"]), "state 'limbo' is not an option"),
        (SetSubmitting("start", condition="qty >"), "does not parse"),
        (SetSubmitting("start", condition="nonexistent > 1"), "nonexistent"),
        (SetSubmitting("start", roles=["Not A Key!"]), "Not A Key!"),
        (SetState("boss", "limbo"), "state 'limbo' is not an option"),
        (SetOutcome("refused", "Bad Outcome"), "Bad Outcome"),
    ],
)
def test_a_checked_edit_naming_what_the_app_lacks_is_refused_and_nothing_saved(
    designer: Designer, operation: object, problem: str
) -> None:
    node_key = operation.node  # type: ignore[attr-defined]
    with pytest.raises(EditRefused) as refused:
        checked(designer, node_key, operation)
    assert refused.value.node == node_key
    assert any(problem in found.message for found in refused.value.problems), refused.value
    assert all(found.file == WORKFLOW for found in refused.value.problems)
    assert designer.draft("demo").files[WORKFLOW].text.replace("\r", "") == FLOW
    assert designer.can_undo("demo") == (False, False)


def test_each_setting_is_one_step_undone_and_redone(designer: Designer) -> None:
    steps = [
        ("start", SetSubmitting("start", ["staff"], ["draft"], "(qty or 0) > 0", "until_end")),
        ("boss", SetPassingOver("boss", "skip", True, True, True)),
        ("boss", SetState("boss", "pending")),
        ("refused", SetOutcome("refused", "declined")),
    ]
    texts = [designer.draft("demo").files[WORKFLOW].text]
    for node_key, step in steps:
        texts.append(checked(designer, node_key, step))
    assert len(set(texts)) == len(texts)
    assert designer.errors("demo") == ()
    for before in reversed(texts[:-1]):
        designer.undo("demo", None)
        assert designer.draft("demo").files[WORKFLOW].text == before
    designer.redo("demo", None)
    assert designer.draft("demo").files[WORKFLOW].text == texts[1]


def test_each_nodes_lines_are_its_span_and_lines_outside_every_node_have_no_owner() -> None:
    spans = node_spans(FLOW + "states: {running: pending}\n")
    assert [(span.key, span.first, span.last) for span in spans] == [
        ("start", 7, 10),
        ("boss", 11, 16),
        ("approved", 17, 19),
        ("refused", 20, 21),
    ]
    assert node_at(spans, 14) == "boss"
    assert node_at(spans, 22) is None
    assert node_at(spans, 3) is None
    assert node_spans("nodes: [") == []


def test_a_checked_edit_compiles_without_holding_the_write_lock(
    designer: Designer, monkeypatch: pytest.MonkeyPatch
) -> None:
    compile_app = designer.compile
    written_meanwhile = []

    def compile_while_another_writes(files: Mapping[str, str]) -> App:
        with write_transaction(designer.instance.engine) as connection:
            written_meanwhile.append(connection.execute(select(1)).scalar())
        return compile_app(files)

    monkeypatch.setattr(designer, "compile", compile_while_another_writes)
    text = checked(designer, "approved", SetState("approved", "refused"))
    assert "state: refused" in text
    assert written_meanwhile
