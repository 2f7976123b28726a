"""Whatever an admin draws in the workflow designer, the YAML compiles and draws the same.

A state machine applies random flow edits (steps added at any link, conditions, branches,
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
    AddStep,
    Link,
    RemoveBranch,
    RemoveStep,
    SetDecisionMode,
)
from formflow.designer.flows import Step, flow_tree

CONDITIONS = st.sampled_from(["(qty or 0) > 5", "(qty or 0) > 50", "name == 'x'"])


def drawn(steps: list[Step]) -> list[str]:
    keys: list[str] = []
    for step in steps:
        keys.append(step.key)
        for branch in step.branches:
            keys += drawn(branch.steps)
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

    def link(self, pick: int) -> Link | None:
        links = [Link(key) for key in self.nodes("start", "approval", "cc")]
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
        steps = self.nodes("approval", "cc")
        if steps:
            RemoveStep(steps[pick % len(steps)]).apply(self.document)

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
