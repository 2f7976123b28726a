"""An approval flow as a tree to draw: steps in order, condition nodes with their branches.

Workflow documents list nodes linked by ``next``, by the ``branches`` of condition nodes
and by the ``lanes`` of parallel nodes. People read a flow as the DingTalk/Feishu shape: a
column of steps where a condition splits into side-by-side branches that meet again, and a
parallel node into side-by-side lanes run at once. This turns the links into that tree, from
the document's plain data, so the page is drawn with server-rendered HTML and no graph
library. A node several paths lead to is drawn once, after the branches that meet there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass
class Branch:
    """One way out of a condition node: its condition (or the default) and its steps."""

    when: str | None
    default: bool
    steps: list[Step] = field(default_factory=list)
    then: str | None = None
    """The node this branch goes on to once it meets the others (``None`` at an end)."""


@dataclass
class Step:
    """One node: its key, type, label and settings, and its branches if it is a condition."""

    key: str
    type: str
    label: Any
    settings: Mapping[str, Any]
    branches: list[Branch] = field(default_factory=list)
    lanes: list[list[Step]] = field(default_factory=list)
    """A parallel node's lanes, each its steps in order (they have no ``next``)."""


def flow_tree(data: Mapping[str, Any]) -> list[Step]:
    """The steps of a workflow document from its first node, branches nested."""
    nodes = {
        node["key"]: node
        for node in data.get("nodes", [])
        if isinstance(node, Mapping) and isinstance(node.get("key"), str)
    }
    if not nodes:
        return []
    incoming: Counter[str] = Counter()
    for node in nodes.values():
        for target in _targets(node):
            incoming[target] += 1
    first = next(iter(nodes))
    seen: set[str] = set()
    steps, _join = _chain(first, nodes, incoming, seen, nested=False)
    in_lanes = {
        key
        for node in nodes.values()
        for lane in node.get("lanes") or []
        if isinstance(lane, list)
        for key in lane
        if isinstance(key, str) and key in nodes and key != node["key"]
    }
    unreached = [key for key in nodes if key not in seen and key not in in_lanes]
    unreached += [key for key in nodes if key not in seen and key in in_lanes]
    for key in unreached:  # ends reached only by rejections, say; lanes of those first
        if key not in seen:
            more, _ = _chain(key, nodes, incoming, seen, nested=False)
            steps += more
    return steps


def _chain(
    key: str | None,
    nodes: Mapping[str, Mapping[str, Any]],
    incoming: Counter[str],
    seen: set[str],
    *,
    nested: bool = True,
) -> tuple[list[Step], str | None]:
    """The steps from ``key`` until an end, a node already drawn, or a node where paths meet
    (returned as the join). Inside a branch, the node where inner branches meet is left
    to the outermost column, so each node is drawn once and at the level paths meet."""
    steps: list[Step] = []
    resumed = False  # the node where the branches just drawn meet
    while key is not None and key in nodes and key not in seen:
        if steps and incoming[key] > 1 and not resumed:
            return steps, key
        resumed = False
        node = nodes[key]
        seen.add(key)
        step = Step(key, str(node.get("type", "")), node.get("label"), _settings(node))
        steps.append(step)
        key = node.get("next") if isinstance(node.get("next"), str) else None
        for lane in node.get("lanes") or []:
            step.lanes.append(_lane(lane, nodes, seen))
        if node.get("branches"):
            joins = set()
            for branch in node["branches"]:
                target = branch.get("next") if isinstance(branch, Mapping) else None
                inner, join = (
                    _chain(target, nodes, incoming, seen)
                    if target not in seen and not (target and incoming[target] > 1)
                    else ([], target)
                )
                step.branches.append(
                    Branch(branch.get("when"), bool(branch.get("default")), inner, join)
                )
                joins.add(join)
            joins.discard(None)
            key = joins.pop() if len(joins) == 1 else None
            if nested:
                return steps, key
            resumed = True
    return steps, key if key in seen else None


def _lane(lane: Any, nodes: Mapping[str, Mapping[str, Any]], seen: set[str]) -> list[Step]:
    """A lane's steps in order, each drawn once (a key drawn already is left out)."""
    steps = []
    for key in lane if isinstance(lane, list) else []:
        if isinstance(key, str) and key in nodes and key not in seen:
            seen.add(key)
            node = nodes[key]
            steps.append(Step(key, str(node.get("type", "")), node.get("label"), _settings(node)))
    return steps


def _targets(node: Mapping[str, Any]) -> list[str]:
    found = [node["next"]] if isinstance(node.get("next"), str) else []
    for branch in node.get("branches") or []:
        if isinstance(branch, Mapping) and isinstance(branch.get("next"), str):
            found.append(branch["next"])
    return found


def _settings(node: Mapping[str, Any]) -> dict[str, Any]:
    """What a node's card shows: every setting but those the tree itself draws."""
    return {
        key: value
        for key, value in node.items()
        if key not in {"key", "type", "label", "next", "branches", "lanes"}
    }


@dataclass(frozen=True)
class NodeSpan:
    """The lines (from 1, both ends included) a node's YAML takes in a flow's text."""

    key: str
    first: int
    last: int


def node_spans(text: str) -> list[NodeSpan]:
    """Where each node of a flow's text lies, in order; none when the text does not read.
    A compiler error (``FILE:LINE:COL``) belongs to the node whose span holds its line."""
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    nodes = next((v for k, v in root.value if getattr(k, "value", None) == "nodes"), None)
    if not isinstance(nodes, yaml.SequenceNode):
        return []
    items = [item for item in nodes.value if isinstance(item, yaml.MappingNode)]
    spans = []
    for position, item in enumerate(items):
        key = next((str(v.value) for k, v in item.value if getattr(k, "value", None) == "key"), "")
        if position + 1 < len(items):  # up to the next node (a block item ends where it begins)
            last = items[position + 1].start_mark.line
        else:
            end = item.end_mark
            last = end.line if end.column == 0 and end.line > item.start_mark.line else end.line + 1
        spans.append(NodeSpan(key, item.start_mark.line + 1, max(last, item.start_mark.line + 1)))
    return spans


def node_at(spans: list[NodeSpan], line: int) -> str | None:
    """The key of the node whose span holds ``line``, if one does."""
    return next((span.key for span in spans if span.first <= line <= span.last), None)
