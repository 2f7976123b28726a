"""The dashboard designer's grid: the order, widths and removals of a dashboard's widgets.

The admin arranges the grid in the browser and nothing is written until Save, which posts
the whole arrangement once: every widget's key in its new order, with its width and whether
it is removed. :class:`ArrangeWidgets` writes that into the dashboard's document as one
designer step, changing only what differs: the widgets' order and their ``width`` keys,
every other key and every comment kept. An arrangement equal to the saved one changes
nothing. One that does not name each widget exactly once, or gives a width outside the grid,
is refused with every problem at once (:class:`ArrangementRefused`).

A comment written above a widget describes that widget, but ruamel.yaml keeps it after the
widget before it (on that widget's last line); moving widgets would leave the comment with
the wrong one. So the comments that lead each widget are lifted off before the order
changes and put back before the same widget after.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from formflow.designer.documents import Document, DocumentError
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
        header = _lift_header(document.data, items)
        leading, own, tail = _lift_comments(items, keys)
        leading[keys[0]] = header + leading[keys[0]]
        for placement in kept:
            if width_of(by_key[placement.key]) != placement.width:
                by_key[placement.key]["width"] = placement.width
        items.clear()
        items.extend(by_key[key] for key in order)
        for position, key in enumerate(order):
            pre = [CommentToken(leading[key], CommentMark(0))] if leading[key] else None
            if pre or own[key]:
                items.ca.items[position] = [own[key], pre, None, None]
        _append_trailing(items, tail)
        document.changed = True


def width_of(item: Mapping[str, Any]) -> int:
    """The columns a widget's settings span (the default when they name none)."""
    width = item.get("width", DEFAULT_WIDTH)
    return width if isinstance(width, int) else DEFAULT_WIDTH


def _lift_comments(
    items: CommentedSeq, keys: Sequence[str]
) -> tuple[dict[str, str], dict[str, Any], str]:
    """Take the comment lines that stand above each widget out of the document, by the
    widget's key, and those after the last widget (they lead what follows the list). A
    comment at the end of a widget's own line stays with it: inside a block widget, or
    returned by key for a widget written in flow style (ruamel keeps it on the list)."""
    entries = {position: items.ca.items.pop(position) for position in list(items.ca.items)}
    leading: dict[str, str] = {}
    own: dict[str, Any] = {}
    for position, key in enumerate(keys):
        entry = entries.get(position) or [None, None]
        lines = _split_trailing(items[position - 1], entries.get(position - 1)) if position else ""
        lines += "".join(" " * _column(token) + token.value for token in entry[1] or ())
        leading[key] = lines
        own[key] = entry[0]
    return leading, own, _split_trailing(items[-1], entries.get(len(keys) - 1))


def _lift_header(data: Any, items: CommentedSeq) -> str:
    """Take the comment lines between the list's key and its first widget (ruamel keeps
    them with the key): they stand above the first widget, so they describe it."""
    entry = data.ca.items.get(WIDGETS) if isinstance(data, CommentedMap) else None
    if entry is None or len(entry) < 4 or not entry[3]:
        return ""
    lines = "".join(" " * _column(token) + token.value for token in entry[3])
    entry[3] = None
    items.ca.comment = None
    return lines


def _split_trailing(item: Any, entry: Any) -> str:
    """Cut the whole comment lines off the end of ``item`` and return them; the end of its
    last line is left alone. ruamel keeps them on the comment token of the item's last
    scalar, or, for an item in flow style, in its list's ``entry`` for it."""
    token = _last_token(item) if _is_block(item) else (entry or [None])[0]
    if token is None:
        return ""
    value = str(token.value)
    end = value.find("\n") + 1
    if not end or end == len(value):
        return ""
    token.value = value[:end]
    return value[end:]


def _append_trailing(items: CommentedSeq, lines: str) -> None:
    """Put the comment lines that followed the list back after its last widget now. When
    that widget's last line has a comment of its own, the lines ruamel kept at the list's
    end join that comment, or they would not be written."""
    last = len(items) - 1
    place = _last_place(items[last]) if _is_block(items[last]) else (items, last, 0)
    if place is None:
        return
    node, key, slot = place
    entry = node.ca.items.setdefault(key, [None, None, None, None])
    if entry[slot] is not None:
        ends = "".join(" " * _column(token) + token.value for token in items.ca.end or ())
        entry[slot].value += lines + ends
        items.ca.end = []
    elif lines:
        entry[slot] = CommentToken("\n" + lines, CommentMark(0))
    elif not any(entry):
        del node.ca.items[key]


def _is_block(node: Any) -> bool:
    return isinstance(node, CommentedMap | CommentedSeq) and bool(node) and not node.fa.flow_style()


def _last_token(node: Any) -> Any:
    """The comment token after the last scalar of ``node``, written in block style."""
    place = _last_place(node)
    if place is None:
        return None
    node, last, slot = place
    entry = node.ca.items.get(last)
    return entry[slot] if entry is not None and len(entry) > slot else None


def _last_place(node: Any) -> tuple[Any, Any, int] | None:
    """Where ruamel keeps the comment after ``node``'s last scalar: the innermost block
    mapping or list holding it, the scalar's key (or position), and the comment's slot."""
    while True:
        if isinstance(node, CommentedMap) and node:
            last: Any = list(node)[-1]
            slot = 2
        elif isinstance(node, CommentedSeq) and node:
            last, slot = len(node) - 1, 0
        else:
            return None
        child = node[last]
        if _is_block(child):
            node = child
            continue
        return node, last, slot


def _column(token: Any) -> int:
    mark = getattr(token, "start_mark", None)
    return int(getattr(mark, "column", 0) or 0)
