"""Circles in what reads what: formulas reading formulas, computed fields across forms.

A definition is refused when values would be worked out from themselves; both checks walk
their graph the same way, depth first in the definition's order, so each reports every
circle it finds in a stable order.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


def cycles(edges: Mapping[Node, Sequence[Node]]) -> Iterator[list[Node]]:
    """Each circle in ``edges`` (a node to the nodes it reads), once per edge that closes
    it: the nodes from the one read again to the one reading it. A node that reads
    nothing may be left out of ``edges``."""
    visiting: set[Node] = set()
    done: set[Node] = set()

    def visit(node: Node, trail: list[Node]) -> Iterator[list[Node]]:
        visiting.add(node)
        for read in edges.get(node, ()):
            if read in visiting:
                yield trail[trail.index(read) :]
            elif read not in done:
                yield from visit(read, [*trail, read])
        visiting.discard(node)
        done.add(node)

    for node in edges:
        if node not in visiting and node not in done:
            yield from visit(node, [node])
