"""Approval flows drawn as a tree: steps in order, branches side by side, meeting once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from formflow.designer.flows import Step, flow_tree

WORKFLOWS = Path(__file__).parents[2] / "apps" / "crm_sfa" / "workflows"


def outline(steps: list[Step]) -> list[Any]:
    return [
        (
            step.key,
            [(branch.default, outline(branch.steps), branch.then) for branch in step.branches],
        )
        if step.branches
        else step.key
        for step in steps
    ]


def test_a_condition_splits_into_branches_that_meet_at_one_node() -> None:
    data = yaml.safe_load((WORKFLOWS / "contract_approval.yaml").read_text(encoding="utf-8"))
    assert outline(flow_tree(data)) == [
        "start",
        "manager",
        ("by_amount", [(False, ["director"], "approved"), (True, [], "approved")]),
        "approved",
        "rejected",
    ]


def test_nested_conditions_meet_in_the_outermost_column() -> None:
    data = yaml.safe_load((WORKFLOWS / "quote_discount.yaml").read_text(encoding="utf-8"))
    tree = outline(flow_tree(data))
    assert tree[-2:] == ["approved", "rejected"]
    assert [step if isinstance(step, str) else step[0] for step in tree] == [
        "start",
        "by_discount",
        "approved",
        "rejected",
    ]
