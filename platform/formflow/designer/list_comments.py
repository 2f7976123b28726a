"""Comments that stand above a list's items move with the items.

An admin's comment written above a field or a widget describes that item, but ruamel.yaml
keeps it *after* the item before it (on that item's last line), or, above the first item,
with the list's key. Reordering the list as ruamel holds it would leave each comment with
the wrong item. :func:`lift` takes the comment lines leading each item off before the order
changes, and :func:`place` puts them back before the same items after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken


@dataclass(frozen=True)
class LiftedComments:
    """The comments of a list's items, by the items' positions before a reorder."""

    leading: tuple[str, ...]
    """The whole comment lines standing above each item."""
    own: tuple[Any, ...]
    """The comment at the end of an item's own line, for an item in flow style."""
    tail: str
    """The comment lines after the last item (they lead what follows the list)."""

    @property
    def empty(self) -> bool:
        return not (any(self.leading) or any(own is not None for own in self.own) or self.tail)


def lift(parent: Any, key: Any, items: CommentedSeq) -> LiftedComments:
    """Take the comments of ``items`` (the list at ``parent[key]``) out of the document."""
    header = _lift_header(parent, key, items)
    entries = {position: items.ca.items.pop(position) for position in list(items.ca.items)}
    leading: list[str] = []
    own: list[Any] = []
    for position in range(len(items)):
        entry = entries.get(position) or [None, None]
        lines = (
            split_trailing(items[position - 1], entries.get(position - 1)) if position else header
        )
        lines += "".join(" " * _column(token) + token.value for token in entry[1] or ())
        leading.append(lines)
        own.append(entry[0])
    tail = split_trailing(items[-1], entries.get(len(items) - 1)) if items else ""
    return LiftedComments(tuple(leading), tuple(own), tail)


def place(items: CommentedSeq, order: Sequence[int], lifted: LiftedComments) -> None:
    """Put the items at the positions ``order`` names (old positions, in their new order;
    those left out are dropped), each with the comments it had."""
    kept = [items[position] for position in order]
    items.clear()
    items.extend(kept)
    for position, old in enumerate(order):
        leading = lifted.leading[old]
        pre = [CommentToken(leading, CommentMark(0))] if leading else None
        if pre or lifted.own[old] is not None:
            items.ca.items[position] = [lifted.own[old], pre, None, None]
    if items:
        append_trailing(items, lifted.tail)


def _lift_header(parent: Any, key: Any, items: CommentedSeq) -> str:
    """Take the comment lines between the list's key and its first item (ruamel keeps them
    with the key): they stand above the first item, so they describe it."""
    entry = parent.ca.items.get(key) if isinstance(parent, CommentedMap) else None
    if entry is None or len(entry) < 4 or not entry[3]:
        return ""
    lines = "".join(" " * _column(token) + token.value for token in entry[3])
    entry[3] = None
    items.ca.comment = None
    return lines


def split_trailing(item: Any, entry: Any) -> str:
    """Cut the whole comment lines off the end of ``item`` and return them; the end of its
    last line is left alone. ruamel keeps them on the comment token of the item's last
    scalar, or, for an item in flow style, in its list's ``entry`` for it."""
    token = _last_token(item) if is_block(item) else (entry or [None])[0]
    if token is None:
        return ""
    value = str(token.value)
    end = value.find("\n") + 1
    if not end or end == len(value):
        return ""
    token.value = value[:end]
    return value[end:]


def append_trailing(items: CommentedSeq, lines: str) -> None:
    """Put the comment lines that followed the list back after its last item now. When
    that item's last line has a comment of its own, the lines ruamel kept at the list's
    end join that comment, or they would not be written."""
    last = len(items) - 1
    place = _last_place(items[last]) if is_block(items[last]) else (items, last, 0)
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


def append_after(node: Any, lines: str) -> None:
    """Put whole comment (and blank) lines after the last line of ``node``, a mapping or
    list in block style, where ruamel keeps them: on the comment after its last scalar."""
    place = _last_place(node)
    if place is None or not lines:
        return
    holder, key, slot = place
    entry = holder.ca.items.setdefault(key, [None, None, None, None])
    if entry[slot] is not None:
        entry[slot].value += lines
    else:
        entry[slot] = CommentToken("\n" + lines, CommentMark(0))


def is_block(node: Any) -> bool:
    """Whether ``node`` is a non-empty mapping or list written in block style."""
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
        if is_block(child):
            node = child
            continue
        return node, last, slot


def _column(token: Any) -> int:
    mark = getattr(token, "start_mark", None)
    return int(getattr(mark, "column", 0) or 0)
