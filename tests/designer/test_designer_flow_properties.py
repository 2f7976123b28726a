"""Whatever an admin draws in the workflow designer, the YAML compiles and draws the same.

A state machine applies random flow edits (steps added at any link, conditions, branches,
parallel nodes and steps in their lanes, how lanes join, clocks, actions, rejections,
removals, decision modes) to the round-trip document; after each one the text compiles
with the engine's compiler, the drawn tree shows every node exactly once, and the admin's
comments are still there.
"""

from __future__ import annotations

import textwrap

from designer_support import FORM_WITH_COMMENTS
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from test_designer_flow_editing import APP, FLOW, WORKFLOW

from formflow.definitions import load_app
from formflow.designer.documents import Document, DocumentError, to_plain
from formflow.designer.flow_edits import (
    AddBranch,
    AddCondition,
    AddLaneStep,
    AddParallel,
    AddStep,
    Link,
    RemoveBranch,
    RemoveStep,
    SetActions,
    SetDecisionMode,
    SetJoin,
    SetRejectTo,
    SetTimeout,
)
from formflow.designer.flows import Step, flow_tree

CONDITIONS = st.sampled_from(["(qty or 0) > 5", "(qty or 0) > 50", "name == 'x'"])


def drawn(steps: list[Step]) -> list[str]:
    keys: list[str] = []
    for step in steps:
        keys.append(step.key)
        for branch in step.branches:
            keys += drawn(branch.steps)
        for lane in step.lanes:
            keys += drawn(lane)
    return keys


class FlowSession(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.document = Document(WORKFLOW, FLOW)
        self.made = 0

    def nodes(self, *kinds: str) -> list[str]:
        return [
            str(node["key"])
            for node in self.document.items(("nodes",))
            if not kinds or node["type"] in kinds
        ]

    def in_lanes(self) -> set[str]:
        return {
            str(key)
            for node in self.document.items(("nodes",))
            for lane in node.get("lanes") or []
            for key in lane
        }

    def link(self, pick: int) -> Link | None:
        lanes = self.in_lanes()
        links = [
            Link(key)
            for key in self.nodes("start", "approval", "cc", "parallel")
            if key not in lanes
        ]
        for node in self.document.items(("nodes",)):
            if node["type"] == "condition":
                links += [Link(str(node["key"]), i) for i in range(len(node["branches"]))]
        return links[pick % len(links)] if links else None

    def new_key(self) -> str:
        self.made += 1
        return f"n{self.made}"

    @rule(pick=st.integers(0, 50), cc=st.booleans())
    def add_step(self, pick: int, cc: bool) -> None:
        link = self.link(pick)
        if link is not None:
            AddStep(link, self.new_key(), "cc" if cc else "approval").apply(self.document)

    @rule(pick=st.integers(0, 50), when=CONDITIONS)
    def add_condition(self, pick: int, when: str) -> None:
        link = self.link(pick)
        if link is not None:
            AddCondition(link, self.new_key(), when).apply(self.document)

    @rule(pick=st.integers(0, 50), when=CONDITIONS)
    def add_branch(self, pick: int, when: str) -> None:
        conditions = self.nodes("condition")
        if conditions:
            AddBranch(conditions[pick % len(conditions)], when).apply(self.document)

    @rule(pick=st.integers(0, 50))
    def remove_branch(self, pick: int) -> None:
        for node in self.document.items(("nodes",)):
            if node["type"] == "condition" and len(node["branches"]) > 2:
                RemoveBranch(str(node["key"]), pick % (len(node["branches"]) - 1)).apply(
                    self.document
                )
                return

    @rule(pick=st.integers(0, 50))
    def remove_step(self, pick: int) -> None:
        steps = [key for key in self.nodes("approval", "cc", "parallel") if self.removable(key)]
        if steps:
            RemoveStep(steps[pick % len(steps)]).apply(self.document)

    def removable(self, key: str) -> bool:
        """A lane's step may go unless it is the only step of one of only two lanes."""
        for node in self.document.items(("nodes",)):
            lanes = node.get("lanes") or []
            for lane in lanes:
                if key in lane:
                    return len(lane) > 1 or len(lanes) > 2
        return True

    @rule(pick=st.integers(0, 50), join=st.sampled_from(["all", "any"]))
    def add_parallel(self, pick: int, join: str) -> None:
        link = self.link(pick)
        if link is not None:
            key = self.new_key()
            AddParallel(link, key, (f"{key}a", f"{key}b"), join).apply(self.document)

    @rule(pick=st.integers(0, 50), lane=st.integers(0, 3), cc=st.booleans())
    def add_lane_step(self, pick: int, lane: int, cc: bool) -> None:
        parallels = self.nodes("parallel")
        if parallels:
            key = parallels[pick % len(parallels)]
            count = len(self.document.items(("nodes", key, "lanes")))
            step = AddLaneStep(key, min(lane, count), self.new_key(), "cc" if cc else "approval")
            step.apply(self.document)

    @rule(pick=st.integers(0, 50), join=st.sampled_from(["all", "any"]))
    def join(self, pick: int, join: str) -> None:
        parallels = self.nodes("parallel")
        if parallels:
            SetJoin(parallels[pick % len(parallels)], join).apply(self.document)

    @rule(
        pick=st.integers(0, 50),
        remind=st.none() | st.integers(1, 24),
        action=st.none() | st.sampled_from(["escalate", "approve", "reject"]),
    )
    def clock(self, pick: int, remind: int | None, action: str | None) -> None:
        steps = self.nodes("approval")
        if steps:
            after = None if action is None else (remind or 0) + 48
            SetTimeout(steps[pick % len(steps)], remind, after, action).apply(self.document)

    @rule(
        pick=st.integers(0, 50), slot=st.sampled_from(["on_enter", "on_leave"]), qty=st.integers()
    )
    def actions(self, pick: int, slot: str, qty: int) -> None:
        steps = self.nodes("approval")
        if steps:
            made = [{"set": {"qty": qty}}] if qty % 3 else []
            SetActions(steps[pick % len(steps)], slot, made).apply(self.document)

    @rule(pick=st.integers(0, 50), to_end=st.booleans())
    def rejections(self, pick: int, to_end: bool) -> None:
        steps = self.nodes("approval")
        if steps:
            targets = ["approved", "submitter"] if to_end else ["submitter"]
            SetRejectTo(steps[pick % len(steps)], targets).apply(self.document)

    @rule(pick=st.integers(0, 50), mode=st.sampled_from(["sequential", "all", "any"]))
    def decision(self, pick: int, mode: str) -> None:
        steps = self.nodes("approval")
        if steps:
            SetDecisionMode(steps[pick % len(steps)], mode).apply(self.document)

    @invariant()
    def compiles_and_draws_every_node_once(self) -> None:
        text = self.document.text()
        assert text.startswith("# Big orders need the boss.\n")
        files = {
            "app.yaml": textwrap.dedent(APP),
            "forms/item.yaml": FORM_WITH_COMMENTS,
            WORKFLOW: text,
        }
        app = load_app(files)
        compiled = [node.key for node in app.workflows["item_flow"].nodes]
        tree = drawn(flow_tree(to_plain(Document(WORKFLOW, text).data)))
        assert sorted(tree) == sorted(compiled)
        assert len(tree) == len(set(tree))


def test_a_removed_branch_default_is_refused() -> None:
    document = Document(WORKFLOW, FLOW)
    try:
        RemoveBranch("by_qty", 1).apply(document)
    except DocumentError:
        return
    raise AssertionError("the default branch was removed")


FlowSession.TestCase.settings = settings(max_examples=3, stateful_step_count=40, deadline=None)
test_flow_edits_keep_a_flow_that_compiles = FlowSession.TestCase
