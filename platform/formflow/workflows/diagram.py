"""A workflow drawn as SVG, from its compiled definition, with an instance's position marked.

No graph library and no outside service: the flow's forward edges (``next``, condition
branches, parallel lanes) form a directed graph that is laid out in rows, top to bottom,
each node on the row after the furthest node leading to it, so branches sit side by side
and every arrow points down. Rejections are not drawn as arrows (they would cross the
whole picture); each approval node says where a rejection may send the request.

Everything an administrator wrote (labels, conditions) is escaped, and so is anything
passed in; the SVG uses presentation attributes only, so it passes a Content-Security-Policy
without ``unsafe-inline`` when placed inline in a page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from html import escape

from formflow.errors import N_
from formflow.workflows.model import (
    SUBMITTER,
    ApprovalNode,
    CcNode,
    ConditionNode,
    EndNode,
    Node,
    ParallelNode,
    StartNode,
    Workflow,
)

WIDTH = 168
HEIGHT = 48
GAP_X = 28
GAP_Y = 56
PASS = 24  # the width of the lane an edge takes through a row it skips
MARGIN = 16
FONT = 13
SMALL = 11

_COLOURS = {
    # (fill, stroke)
    "plain": ("#ffffff", "#6b7280"),
    "visited": ("#ecfdf5", "#059669"),
    "current": ("#fef3c7", "#d97706"),
    "outcome": ("#dbeafe", "#1d4ed8"),
}
WORDS = {
    "start": N_("start"),
    "sequential": N_("one after another"),
    "all": N_("all must approve"),
    "any": N_("any one approves"),
    "vote": N_("vote"),
    SUBMITTER: N_("submitter"),
    "condition": N_("condition"),
    "join_all": N_("all lanes"),
    "join_any": N_("any lane"),
    "cc": N_("copy"),
    "end": N_("end"),
    "here": N_("waiting here"),
    "otherwise": N_("otherwise"),
    "steps": N_("Steps"),
    "waiting_at": N_("Waiting at"),
    "ended_at": N_("Ended at"),
}
"""The words the drawing adds itself, as message ids for ``translate``."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    otherwise: bool = False
    """A condition's default branch."""


def edges(workflow: Workflow) -> list[Edge]:
    """The forward edges of the flow, in definition order."""
    found: list[Edge] = []
    lanes = {
        member: (parallel, lane)
        for parallel in workflow.nodes
        if isinstance(parallel, ParallelNode)
        for lane in parallel.lanes
        for member in lane
    }
    for node in workflow.nodes:
        if isinstance(node, ConditionNode):
            for branch in node.branches:
                if branch.condition is None:
                    found.append(Edge(node.key, branch.next, otherwise=True))
                else:
                    found.append(Edge(node.key, branch.next, branch.condition.source))
        elif isinstance(node, ParallelNode):
            found.extend(Edge(node.key, lane[0]) for lane in node.lanes if lane)
        elif node.key in lanes:
            parallel, lane = lanes[node.key]
            index = lane.index(node.key)
            following = lane[index + 1] if index + 1 < len(lane) else parallel.next
            found.append(Edge(node.key, following))
        elif isinstance(node, StartNode | ApprovalNode | CcNode) and node.next:
            found.append(Edge(node.key, node.next))
    known = {node.key for node in workflow.nodes}
    return [edge for edge in found if edge.source in known and edge.target in known]


@dataclass(frozen=True)
class Drawing:
    """Where each node goes, and the points each edge passes through (top to bottom)."""

    nodes: tuple[Placed, ...]
    routes: tuple[tuple[Edge, tuple[tuple[int, int], ...]], ...]
    width: int
    height: int


@dataclass(frozen=True)
class Placed:
    node: Node
    x: int
    y: int


def layout(workflow: Workflow) -> Drawing:
    """Rows top to bottom, each node one row below the furthest node leading to it; an
    edge that skips rows takes a lane of its own through them, so it crosses no node."""
    forward = edges(workflow)
    order, reached = _discovery_order(workflow, forward)
    rank = {key: 0 for key in order}
    for _round in range(len(order)):  # longest path; bounded, so a cycle cannot hang it
        changed = False
        for edge in forward:
            if rank[edge.target] < rank[edge.source] + 1 and edge.target != order[0]:
                rank[edge.target] = rank[edge.source] + 1
                changed = True
        if not changed:
            break
    bottom = max((rank[key] for key in reached), default=0)
    for key in order[len(reached) :]:  # ends only a rejection leads to: with the other ends
        rank[key] = max(rank[key], bottom)
    rows: dict[int, list[str]] = {}
    for key in order:
        rows.setdefault(rank[key], []).append(key)
    passes: list[tuple[Edge, list[str]]] = []
    for number, edge in enumerate(forward):
        through = [f"~{number}.{row}" for row in range(rank[edge.source] + 1, rank[edge.target])]
        for row, slot in zip(range(rank[edge.source] + 1, rank[edge.target]), through, strict=True):
            rows[row].append(slot)
        passes.append((edge, through))

    def size(key: str) -> int:
        return PASS if key.startswith("~") else WIDTH

    def used(keys: list[str]) -> int:
        return sum(size(key) for key in keys) + GAP_X * (len(keys) - 1)

    full = max((used(keys) for keys in rows.values()), default=WIDTH)
    spot: dict[str, tuple[int, int]] = {}
    for row, keys in rows.items():
        x = MARGIN + (full - used(keys)) // 2
        for key in keys:
            spot[key] = (x, MARGIN + row * (HEIGHT + GAP_Y))
            x += size(key) + GAP_X
    placed = tuple(Placed(workflow.node(key), *spot[key]) for key in order)
    routes = []
    for edge, through in passes:
        sx, sy = spot[edge.source]
        tx, ty = spot[edge.target]
        points = [(sx + WIDTH // 2, sy + HEIGHT)]
        for slot in through:
            px, py = spot[slot]
            points += [(px + PASS // 2, py), (px + PASS // 2, py + HEIGHT)]
        points.append((tx + WIDTH // 2, ty))
        routes.append((edge, tuple(points)))
    height = MARGIN * 2 + (max(rows, default=0) + 1) * (HEIGHT + GAP_Y) - GAP_Y
    return Drawing(placed, tuple(routes), full + MARGIN * 2, height)


def render(
    workflow: Workflow,
    *,
    current: Collection[str] = (),
    visited: Collection[str] = (),
    outcome: str | None = None,
    language: str = "zh",
    translate: Callable[[str], str] = lambda message: message,
    title: str | None = None,
) -> str:
    """The flow as an SVG document fragment (an ``<svg>`` element).

    ``current`` are the nodes an instance waits in, ``visited`` those it went through and
    ``outcome`` the end node it finished at; ``translate`` turns the few words the drawing
    adds itself (message ids) into the reader's language.
    """
    drawing = layout(workflow)
    width, height = drawing.width, drawing.height
    heading = title or workflow.label.text(language) or workflow.key
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">',
        f"<title>{_text(heading)}</title>",
        f"<desc>{_text(_describe(workflow, current, outcome, language, translate))}</desc>",
        '<defs><marker id="flow-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>',
    ]
    for edge, points in drawing.routes:
        label = translate(WORDS["otherwise"]) if edge.otherwise else edge.label
        parts.append(_edge(points, label))
    names = {node.key: node.label.text(language) or node.key for node in workflow.nodes}
    for item in drawing.nodes:
        state = (
            "current"
            if item.node.key in current
            else "outcome"
            if item.node.key == outcome
            else "visited"
            if item.node.key in visited
            else "plain"
        )
        parts.append(_node(item, state, language, translate, names))
    parts.append("</svg>")
    return "".join(parts)


def _discovery_order(workflow: Workflow, forward: Iterable[Edge]) -> tuple[list[str], list[str]]:
    """Nodes as a walk from the start meets them (branches left to right), then the rest;
    and those the walk met."""
    following: dict[str, list[str]] = {}
    for edge in forward:
        following.setdefault(edge.source, []).append(edge.target)
    start = workflow.start.key
    seen: list[str] = []
    queue = [start]
    while queue:
        key = queue.pop(0)
        if key in seen:
            continue
        seen.append(key)
        queue.extend(following.get(key, ()))
    reached = list(seen)
    seen.extend(node.key for node in workflow.nodes if node.key not in reached)
    return seen, reached


def _node(
    item: Placed,
    state: str,
    language: str,
    translate: Callable[[str], str],
    names: Mapping[str, str],
) -> str:
    node = item.node
    fill, stroke = _COLOURS[state]
    thick = 3 if state in ("current", "outcome") else 1.5
    x, y = item.x, item.y
    paint = f'fill="{fill}" stroke="{stroke}" stroke-width="{thick}"'
    if isinstance(node, ConditionNode):
        cx, cy = x + WIDTH // 2, y + HEIGHT // 2
        points = f"{x},{cy} {x + 18},{y} {x + WIDTH - 18},{y} {x + WIDTH},{cy} {x + WIDTH - 18},{y + HEIGHT} {x + 18},{y + HEIGHT}"
        shape = f'<polygon points="{points}" {paint}/>'
    elif isinstance(node, StartNode | EndNode):
        radius = HEIGHT // 2
        shape = f'<rect x="{x}" y="{y}" width="{WIDTH}" height="{HEIGHT}" rx="{radius}" {paint}/>'
    elif isinstance(node, ParallelNode):
        shape = (
            f'<rect x="{x}" y="{y}" width="{WIDTH}" height="{HEIGHT}" rx="4" {paint}/>'
            f'<line x1="{x + 8}" y1="{y + 6}" x2="{x + 8}" y2="{y + HEIGHT - 6}" stroke="{stroke}" stroke-width="3"/>'
            f'<line x1="{x + WIDTH - 8}" y1="{y + 6}" x2="{x + WIDTH - 8}" y2="{y + HEIGHT - 6}" stroke="{stroke}" stroke-width="3"/>'
        )
    else:
        dash = ' stroke-dasharray="5 3"' if isinstance(node, CcNode) else ""
        shape = f'<rect x="{x}" y="{y}" width="{WIDTH}" height="{HEIGHT}" rx="6" {paint}{dash}/>'
    name = node.label.text(language) or node.key
    kind = _kind(node, translate, names)
    label = _fit(name, WIDTH - 20, FONT)
    detail = _fit(kind, WIDTH - 20, SMALL)
    cx = x + WIDTH // 2
    tooltip = f"{name} · {kind}" if kind else name
    if state == "current":
        tooltip = f"{tooltip} · {translate(WORDS['here'])}"
    bold = ' font-weight="bold"' if state == "current" else ""
    return (
        f'<g class="flow-node {state}" data-node="{_text(node.key)}">'
        f"<title>{_text(tooltip)}</title>{shape}"
        f'<text x="{cx}" y="{y + 20}" text-anchor="middle" fill="#111827"{bold}>'
        f"{_text(label)}</text>"
        f'<text x="{cx}" y="{y + 37}" text-anchor="middle" fill="#4b5563" font-size="{SMALL}">'
        f"{_text(detail)}</text></g>"
    )


def _kind(node: Node, translate: Callable[[str], str], names: Mapping[str, str]) -> str:
    """A short line under the node's name: what kind of step it is."""
    if isinstance(node, ApprovalNode):
        back = [
            translate(WORDS[SUBMITTER]) if key == SUBMITTER else names.get(key, key)
            for key in node.reject_to
        ]
        return f"{translate(WORDS[node.mode.value])} · ↩ {', '.join(back)}"
    if isinstance(node, ParallelNode):
        return translate(WORDS["join_" + node.join.value])
    kinds = {StartNode: "start", ConditionNode: "condition", CcNode: "cc", EndNode: "end"}
    return translate(WORDS[kinds[type(node)]]) if type(node) in kinds else ""


def _edge(points: tuple[tuple[int, int], ...], label: str) -> str:
    """A line through ``points``: curves between rows, straight down through a skipped row."""
    (x1, y1), *rest = points
    steps = [f"M{x1},{y1}"]
    previous = (x1, y1)
    for index, (x, y) in enumerate(rest):
        px, py = previous
        if index % 2 == 1 and x == px:  # through a skipped row
            steps.append(f"L{x},{y}")
        else:
            bend = max((y - py) // 2, 8)
            steps.append(f"C{px},{py + bend} {x},{y - bend} {x},{y}")
        previous = (x, y)
    path = (
        f'<path d="{" ".join(steps)}" fill="none" stroke="#6b7280" stroke-width="1.5" '
        'marker-end="url(#flow-arrow)"/>'
    )
    if not label:
        return path
    shown = _fit(label, WIDTH - 10, SMALL)
    nx = rest[0][0] if rest else x1
    lx, ly = (x1 + nx) // 2, y1 + GAP_Y // 2 + 4
    return (
        f"<g><title>{_text(label)}</title>{path}"
        f'<text x="{lx}" y="{ly}" text-anchor="middle" font-size="{SMALL}" fill="#374151" '
        f'stroke="#ffffff" stroke-width="3" paint-order="stroke">{_text(shown)}</text></g>'
    )


def _describe(
    workflow: Workflow,
    current: Collection[str],
    outcome: str | None,
    language: str,
    translate: Callable[[str], str],
) -> str:
    """The picture in words, for screen readers: its steps and where the request is."""
    names = [node.label.text(language) or node.key for node in workflow.nodes]
    text = translate(WORDS["steps"]) + ": " + " → ".join(names)
    here = [
        workflow.node(key).label.text(language) or key for key in current if _has(workflow, key)
    ]
    if here:
        text += ". " + translate(WORDS["waiting_at"]) + ": " + ", ".join(here)
    elif outcome and _has(workflow, outcome):
        end = workflow.node(outcome).label.text(language) or outcome
        text += ". " + translate(WORDS["ended_at"]) + ": " + end
    return text


def _has(workflow: Workflow, key: str) -> bool:
    return any(node.key == key for node in workflow.nodes)


def _text(value: str) -> str:
    """``value`` safe as SVG text or an attribute: escaped, without XML's forbidden characters."""
    return escape(_CONTROL.sub("", value), quote=True)


def _fit(value: str, width: int, size: int) -> str:
    """``value`` cut to fit ``width`` pixels at ``size`` (wide characters count double)."""
    value = " ".join(_CONTROL.sub("", value).split())
    used = 0.0
    for index, char in enumerate(value):
        used += size * (1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.6)
        if used > width:
            return value[: max(index - 1, 0)] + "…"
    return value
