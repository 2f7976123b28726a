"""The workflow designer's whole vocabulary, one edit kind at a time, on round-trip YAML.

Parallel lanes (all/any), a step's clock (remind, then escalate or decide), actions on
entering and leaving (and at an end) and where rejections go were editable only as YAML.
Each is now one designer operation: applied to a commented flow, the admin's comments stay,
one change is a minimal diff, and the result compiles with the engine's compiler (or, when
the admin asked for something invalid, the compiler says where).
"""

from __future__ import annotations

import difflib
import textwrap

import pytest
from designer_support import FORM_WITH_COMMENTS
from test_designer_flow_editing import APP, flow_designer
from test_designer_flow_editing import WORKFLOW as EDITED

from formflow.definitions import load_app
from formflow.designer import Designer
from formflow.designer.documents import Document, DocumentError, to_plain
from formflow.designer.flow_edits import (
    AddLaneStep,
    AddParallel,
    Link,
    RemoveStep,
    SetActions,
    SetJoin,
    SetRejectTo,
    SetTimeout,
)
from formflow.designer.flows import flow_tree
from formflow.errors import DefinitionErrors

__all__ = ["flow_designer"]  # the fixture: a demo app with a flow, installed

WORKFLOW = "workflows/item_flow.yaml"
FLOW = """\
# Items go to the boss, who may be reminded.
key: item_flow
label: {zh: 条目审批, en: Item approval}
form: item
nodes:
  - key: start
    type: start
    next: boss   # straight to the boss
  - key: boss
    type: approval
    approvers: [{users: [admin]}]   # only the admin
    allow_self: true
    timeout:
      remind_after_hours: 24   # a day
    next: approved
  - key: approved
    type: end
    actions:
      - set: {name: done}   # mark it
"""


def applied(*operations: object, text: str = FLOW) -> str:
    document = Document(WORKFLOW, text)
    for operation in operations:
        operation.apply(document)  # type: ignore[attr-defined]
    return document.text()


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def compile_errors(text: str) -> tuple[str, ...]:
    files = {"app.yaml": textwrap.dedent(APP), "forms/item.yaml": FORM_WITH_COMMENTS}
    try:
        load_app({**files, WORKFLOW: text})
    except DefinitionErrors as exc:
        return tuple(str(error) for error in exc.errors)
    return ()


def nodes_of(text: str) -> dict[str, dict[str, object]]:
    return {node["key"]: node for node in to_plain(Document(WORKFLOW, text).data)["nodes"]}


def test_the_flow_compiles_before_any_edit() -> None:
    assert compile_errors(FLOW) == ()


def test_a_parallel_node_at_a_link_runs_two_lanes_and_goes_on_where_the_link_went() -> None:
    text = applied(AddParallel(Link("boss"), "checks", ("legal", "audit")))
    assert "# Items go to the boss, who may be reminded." in text
    assert "approvers: [{users: [admin]}]   # only the admin" in text
    nodes = nodes_of(text)
    assert nodes["boss"]["next"] == "checks"
    assert nodes["checks"]["lanes"] == [["legal"], ["audit"]]
    assert nodes["checks"]["join"] == "all"
    assert nodes["checks"]["next"] == "approved"
    assert "next" not in nodes["legal"]
    assert "lanes: [[legal], [audit]]" in text
    assert compile_errors(text) == ()


def test_the_tree_draws_a_parallel_nodes_lanes_inside_it() -> None:
    text = applied(
        AddParallel(Link("boss"), "checks", ("legal", "audit")),
        AddLaneStep("checks", 0, "tell", "cc"),
    )
    steps = flow_tree(to_plain(Document(WORKFLOW, text).data))
    assert [step.key for step in steps] == ["start", "boss", "checks", "approved"]
    lanes = steps[2].lanes
    assert [[step.key for step in lane] for lane in lanes] == [["legal", "tell"], ["audit"]]


def test_a_step_added_to_a_lane_goes_last_in_it_and_a_new_lane_is_added_after_the_last() -> None:
    base = applied(AddParallel(Link("boss"), "checks", ("legal", "audit")))
    text = applied(AddLaneStep("checks", 0, "tell", "cc"), text=base)
    assert nodes_of(text)["checks"]["lanes"] == [["legal", "tell"], ["audit"]]
    assert changed_lines(base, text)[0] == "-    lanes: [[legal], [audit]]"
    text = applied(AddLaneStep("checks", 2, "it"), text=text)
    assert nodes_of(text)["checks"]["lanes"] == [["legal", "tell"], ["audit"], ["it"]]
    assert compile_errors(text) == ()


def test_a_lane_that_does_not_exist_is_refused() -> None:
    base = applied(AddParallel(Link("boss"), "checks", ("legal", "audit")))
    with pytest.raises(DocumentError):
        applied(AddLaneStep("checks", 5, "late"), text=base)
    with pytest.raises(DocumentError):
        applied(AddLaneStep("boss", 0, "late"))


def test_changing_how_lanes_join_is_one_line() -> None:
    base = applied(AddParallel(Link("boss"), "checks", ("legal", "audit")))
    text = applied(SetJoin("checks", "any"), text=base)
    assert changed_lines(base, text) == ["-    join: all", "+    join: any"]
    with pytest.raises(DocumentError):
        applied(SetJoin("checks", "most"), text=base)


def test_removing_a_lanes_step_leaves_the_lane_and_an_emptied_lane_goes() -> None:
    base = applied(
        AddParallel(Link("boss"), "checks", ("legal", "audit")),
        AddLaneStep("checks", 0, "tell", "cc"),
        AddLaneStep("checks", 2, "it"),
    )
    text = applied(RemoveStep("tell"), RemoveStep("it"), text=base)
    assert nodes_of(text)["checks"]["lanes"] == [["legal"], ["audit"]]
    assert "key: tell" not in text
    assert compile_errors(text) == ()


def test_removing_a_parallel_node_removes_its_lanes_and_joins_its_neighbours() -> None:
    base = applied(AddParallel(Link("boss"), "checks", ("legal", "audit")))
    text = applied(RemoveStep("checks"), text=base)
    assert text == FLOW


def test_a_lane_left_alone_is_a_compiler_error_at_the_parallel_node() -> None:
    text = applied(AddParallel(Link("boss"), "checks", ("legal", "audit")), RemoveStep("audit"))
    assert any(error.startswith(WORKFLOW) and "lanes" in error for error in compile_errors(text))


def test_an_escalation_is_added_beside_the_reminder_keeping_its_comment() -> None:
    text = applied(SetTimeout("boss", 24, 72, "escalate"))
    assert changed_lines(FLOW, text) == ["+      after_hours: 72", "+      action: escalate"]
    assert "remind_after_hours: 24   # a day" in text
    assert compile_errors(text) == ()


def test_a_clock_on_a_step_without_one_is_written_whole() -> None:
    base = applied(SetTimeout("boss"))
    assert "timeout" not in base
    text = applied(SetTimeout("boss", None, 48, "approve"), text=base)
    assert nodes_of(text)["boss"]["timeout"] == {"after_hours": 48, "action": "approve"}
    assert compile_errors(text) == ()


def test_a_clock_needs_hours_and_an_action_together_and_a_known_action() -> None:
    with pytest.raises(DocumentError):
        applied(SetTimeout("boss", 24, 72, None))
    with pytest.raises(DocumentError):
        applied(SetTimeout("boss", 24, None, "escalate"))
    with pytest.raises(DocumentError):
        applied(SetTimeout("boss", 24, 72, "shout"))
    with pytest.raises(DocumentError):
        applied(SetTimeout("approved", 24))


def test_acting_before_reminding_is_a_compiler_error_at_the_clock() -> None:
    text = applied(SetTimeout("boss", 24, 12, "reject"))
    errors = compile_errors(text)
    line = text.splitlines().index("      after_hours: 12") + 1
    assert any(error.startswith(f"{WORKFLOW}:{line}:") for error in errors), errors


def test_actions_on_entering_a_step_are_added_as_a_list() -> None:
    text = applied(SetActions("boss", "on_enter", [{"set": {"qty": 1}}]))
    assert nodes_of(text)["boss"]["on_enter"] == [{"set": {"qty": 1}}]
    assert "# Items go to the boss, who may be reminded." in text
    assert compile_errors(text) == ()


def test_an_end_nodes_actions_changed_keep_the_rest_of_the_file() -> None:
    text = applied(SetActions("approved", "actions", [{"set": {"name": "closed"}}]))
    assert nodes_of(text)["approved"]["actions"] == [{"set": {"name": "closed"}}]
    assert text.startswith(FLOW.split("  - key: approved")[0])


def test_the_same_actions_again_change_nothing_and_none_removes_them() -> None:
    assert applied(SetActions("approved", "actions", [{"set": {"name": "done"}}])) == FLOW
    text = applied(SetActions("approved", "actions", []))
    assert changed_lines(FLOW, text) == ["-    actions:", "-      - set: {name: done}   # mark it"]


def test_actions_go_only_where_the_node_runs_them() -> None:
    with pytest.raises(DocumentError):
        applied(SetActions("approved", "on_enter", [{"set": {"name": "x"}}]))


def test_an_action_on_an_unknown_field_is_a_compiler_error() -> None:
    text = applied(SetActions("boss", "on_leave", [{"set": {"nonexistent": 1}}]))
    assert any("nonexistent" in error for error in compile_errors(text))


def test_where_rejections_go_is_one_line_in_order() -> None:
    text = applied(SetRejectTo("boss", ["approved", "submitter"]))
    assert changed_lines(FLOW, text) == ["+    reject_to: [approved, submitter]"]
    assert compile_errors(text) == ()
    assert applied(SetRejectTo("boss", []), text=text) == FLOW


def test_rejecting_to_a_later_step_is_a_compiler_error() -> None:
    base = applied(AddParallel(Link("boss"), "checks", ("legal", "audit")))
    text = applied(SetRejectTo("boss", ["legal"]), text=base)
    assert any("legal" in error for error in compile_errors(text))
    with pytest.raises(DocumentError):
        applied(SetRejectTo("approved", ["submitter"]))


def test_each_new_edit_is_one_designer_step_undone_and_redone(flow_designer: Designer) -> None:
    original = flow_designer.draft("demo").files[EDITED].text
    steps = [
        AddParallel(Link("boss"), "checks", ("legal", "audit")),
        AddLaneStep("checks", 1, "it"),
        SetJoin("checks", "any"),
        SetTimeout("boss", 24, 72, "escalate"),
        SetActions("boss", "on_leave", [{"set": {"qty": 1}}]),
        SetRejectTo("boss", ["submitter", "approved"]),
    ]
    texts = [original]
    for step in steps:
        revision = flow_designer.draft("demo").files[EDITED].revision
        flow_designer.apply("demo", EDITED, revision, [step], None)
        texts.append(flow_designer.draft("demo").files[EDITED].text)
    assert len(set(texts)) == len(texts)
    assert flow_designer.errors("demo") == ()
    for before in reversed(texts[:-1]):
        flow_designer.undo("demo", None)
        assert flow_designer.draft("demo").files[EDITED].text == before
    flow_designer.redo("demo", None)
    assert flow_designer.draft("demo").files[EDITED].text == texts[1]
