"""The dashboard designer's grid: the order, widths and removals of a dashboard's widgets.

The admin arranges the grid in the browser and nothing is written until Save, which posts
the whole arrangement once: every widget's key in its new order, with its width and whether
it is removed. :class:`ArrangeWidgets` writes that into the dashboard's document as one
designer step, changing only what differs: the widgets' order and their ``width`` keys,
every other key and every comment kept. An arrangement equal to the saved one changes
nothing. One that does not name each widget exactly once, or gives a width outside the grid,
is refused with every problem at once (:class:`ArrangementRefused`).

A comment written above a widget moves with it (:mod:`formflow.designer.list_comments`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedSeq

from formflow.designer.documents import Document, DocumentError
from formflow.designer.list_comments import lift, place
from formflow.designer.widgets import WIDGETS

WIDTHS = range(1, 5)
"""A widget spans 1 to 4 columns of the dashboard's grid (the schema's ``width``)."""
DEFAULT_WIDTH = 1
"""The width of a widget whose definition names none."""


class ArrangementRefused(DocumentError):
    """The posted arrangement does not fit the dashboard; ``problems`` lists each reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Placement:
    """One widget in the arrangement: its key, the columns it spans, and whether it goes."""

    key: str
    width: int
    removed: bool = False


def arrangement_of(document: Document) -> tuple[Placement, ...]:
    """The dashboard's widgets as they are saved: in order, each with its width."""
    return tuple(
        Placement(str(item.get("key")), width_of(item))
        for item in document.items((WIDGETS,))
        if isinstance(item, Mapping)
    )


def problems_of(placements: Sequence[Placement], keys: Sequence[str]) -> list[str]:
    """Every reason ``placements`` is not an arrangement of the widgets keyed ``keys``."""
    found: list[str] = []
    counts = Counter(placement.key for placement in placements)
    found += [f"widget '{key}' is listed {n} times" for key, n in counts.items() if n > 1]
    found += [f"there is no widget '{key}'" for key in counts if key not in keys]
    found += [
        f"widget '{key}' is missing from the arrangement" for key in keys if key not in counts
    ]
    found += [
        f"widget '{p.key}' cannot span {p.width} columns: a width is 1 to 4"
        for p in placements
        if p.width not in WIDTHS
    ]
    if placements and all(placement.removed for placement in placements):
        found.append("a dashboard keeps at least one widget")
    return found


@dataclass(frozen=True)
class ArrangeWidgets:
    """Put the dashboard's widgets in the order of ``placements``, with their widths, and
    take out the removed ones: a designer operation, applied like the others."""

    placements: tuple[Placement, ...]

    def apply(self, document: Document) -> None:
        items = document.items((WIDGETS,))
        keys = [str(item.get("key")) if isinstance(item, Mapping) else "" for item in items]
        problems = problems_of(self.placements, keys)
        if problems:
            raise ArrangementRefused(problems)
        kept = [placement for placement in self.placements if not placement.removed]
        order = [placement.key for placement in kept]
        by_key = dict(zip(keys, items, strict=True))
        added = [p for p in kept if "width" not in by_key[p.key] and p.width != DEFAULT_WIDTH]
        if order == keys and not added:
            for placement in kept:
                if width_of(by_key[placement.key]) != placement.width:
                    document.set((WIDGETS, placement.key, "width"), placement.width)
            return
        assert isinstance(items, CommentedSeq)
        lifted = lift(document.data, WIDGETS, items)  # before a width becomes a last line
        for placement in kept:
            if width_of(by_key[placement.key]) != placement.width:
                by_key[placement.key]["width"] = placement.width
        place(items, [keys.index(key) for key in order], lifted)
        document.changed = True


def width_of(item: Mapping[str, Any]) -> int:
    """The columns a widget's settings span (the default when they name none)."""
    width = item.get("width", DEFAULT_WIDTH)
    return width if isinstance(width, int) else DEFAULT_WIDTH
