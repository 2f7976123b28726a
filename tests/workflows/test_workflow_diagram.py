"""Each workflow drawn as SVG from its compiled definition: every node kind, arrows that
only point down, the running instance's place marked, and admins' text escaped."""

from __future__ import annotations

import re
from dataclasses import replace
from xml.etree import ElementTree

from formflow.definitions import App
from formflow.definitions.model import Label
from formflow.workflows import diagram
from formflow.workflows.model import ConditionNode

SVG = "{http://www.w3.org/2000/svg}"


def nodes(svg: str) -> dict[str, str]:
    """Each drawn node's key and its state (plain, visited, current, outcome)."""
    root = ElementTree.fromstring(svg)
    return {
        group.attrib["data-node"]: group.attrib["class"].split()[-1]
        for group in root.iter(f"{SVG}g")
        if "data-node" in group.attrib
    }


def test_every_node_kind_is_drawn_once_as_well_formed_svg(flows_app: App) -> None:
    for workflow in flows_app.workflows.values():
        svg = diagram.render(workflow)
        assert set(nodes(svg)) == {node.key for node in workflow.nodes}


def test_arrows_go_down_rows_and_skip_no_node(flows_app: App) -> None:
    workflow = flows_app.workflows["expense"]
    drawing = diagram.layout(workflow)
    top = {placed.node.key: placed.y for placed in drawing.nodes}
    for edge, points in drawing.routes:
        assert top[edge.source] < top[edge.target]
        assert [y for _x, y in points] == sorted(y for _x, y in points)
    routed = {(edge.source, edge.target) for edge, _points in drawing.routes}
    assert {("by_amount", "director"), ("by_amount", "finance"), ("director", "finance")} <= routed


def test_the_parallel_lanes_sit_side_by_side(flows_app: App) -> None:
    drawing = diagram.layout(flows_app.workflows["purchase"])
    where = {placed.node.key: (placed.x, placed.y) for placed in drawing.nodes}
    assert where["countersign"][1] == where["vote"][1]
    assert where["countersign"][0] != where["vote"][0]
    assert where["copy"][1] > where["vote"][1]
    assert where["notify"][1] > where["copy"][1]


def test_the_instance_position_is_marked(flows_app: App) -> None:
    svg = diagram.render(
        flows_app.workflows["expense"],
        current={"finance"},
        visited={"start", "managers", "by_amount"},
    )
    states = nodes(svg)
    assert states["finance"] == "current"
    assert states["managers"] == "visited"
    assert states["director"] == "plain"
    done = diagram.render(flows_app.workflows["expense"], visited={"start"}, outcome="approved")
    assert nodes(done)["approved"] == "outcome"


def test_labels_and_conditions_from_admins_are_escaped(flows_app: App) -> None:
    workflow = flows_app.workflows["expense"]
    hostile = '<script>alert("x")</script>&\x01'
    changed = tuple(replace(node, label=Label(zh=hostile, en=hostile)) for node in workflow.nodes)
    svg = diagram.render(replace(workflow, label=Label(en=hostile), nodes=changed), language="en")
    assert "<script" not in svg
    assert "\x01" not in svg
    assert "&lt;script&gt;" in svg
    ElementTree.fromstring(svg)  # still well formed
    condition = next(n for n in workflow.nodes if isinstance(n, ConditionNode))
    assert condition.branches[0].condition is not None
    assert re.search(r"amount &gt; 1000", diagram.render(workflow))


def test_the_words_it_adds_go_through_the_translation(flows_app: App) -> None:
    svg = diagram.render(flows_app.workflows["expense"], translate=lambda m: f"[{m}]")
    assert "[one after another]" in svg
    assert "[otherwise]" in svg


def test_an_end_is_described_in_the_readers_words_not_by_its_outcome_key(
    flows_app: App,
) -> None:
    """The outcome is an identifier for rules and automations; people reading the diagram
    in Chinese saw it as ``结束: approved`` under the end's own label."""
    words = {"end": "结束"}
    svg = diagram.render(
        flows_app.workflows["expense"], translate=lambda message: words.get(message, message)
    )
    assert ": approved" not in svg
    assert ">结束</text>" in svg
