"""The keyed three-way merge of an app's definition files, for upgrading a customised app.

*Base* is the release an admin started from, *ours* the admin's app as published, *theirs*
the new release. The merge starts from the new release's documents (its comments, order and
new keys) and replays the admin's changes onto them, node by node: mappings key by key, and
lists of keyed items (fields, nodes, roles, options by their ``value``) item by item, by
key, never by position or text line. What one side changed and the other left alone merges
by itself; what needs a person is listed, all at once, as :class:`Issue` values:

- a **conflict**: both sides changed the same value differently (the draft holds the
  admin's value until they choose);
- an **orphan**: the admin's change to something the release removed, or an item the admin
  placed after an item the release removed (the item waits at the nearest place that still
  exists, or out of the draft for a changed item, until the admin places or drops it);
- a **decision**: a field the release adds to a form the admin customised; how it shows
  there (and that flow steps listing field permissions keep it locked) is confirmed or it is
  hidden.

A small mapping of plain values with no key of its own (a label in its languages, a role's
rights) is one value: two different relabellings are one conflict, not one per language.
No Flask, no database: texts in, texts and issues out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from formflow.designer.documents import Document, DocumentError, to_plain
from formflow.errors import FormflowError

Step = str | int
Where = tuple[Step, ...]
IDENTITIES = ("key", "value")
"""The settings that name an item of a list, tried in this order."""
FIELDS = "fields"
CONFLICT, ORPHAN, DECISION = "conflict", "orphan", "decision"
ORDER = "$order"
"""The last step of the place of a list's order (a conflict about the order alone)."""


class MergeError(FormflowError):
    """A merge or a resolution cannot be made as asked."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""A value one side does not have (a key removed or never added)."""


@dataclass(frozen=True)
class Side:
    """One side's value at an issue's place; ``present`` is false when the side lacks it."""

    present: bool
    value: Any = None

    @classmethod
    def of(cls, value: Any) -> Side:
        return cls(False) if value is MISSING else cls(True, to_plain(value))

    def stored(self) -> dict[str, Any]:
        return {"present": self.present, "value": self.value}


@dataclass(frozen=True)
class Issue:
    """One thing the admin resolves: a conflict, an orphan or a decision, with its place
    (the file and the keyed path inside it) and the three sides' values."""

    kind: str
    path: str
    where: Where
    base: Side = Side(False)
    ours: Side = Side(False)
    theirs: Side = Side(False)
    anchor: str | None = None
    """For an orphan placed after an item: that item, which the release removed."""

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.path}:" + "/".join(str(step) for step in self.where)

    @property
    def subject(self) -> str:
        return "/".join(str(step) for step in self.where if step != ORDER)

    def stored(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "where": list(self.where),
            "base": self.base.stored(),
            "ours": self.ours.stored(),
            "theirs": self.theirs.stored(),
            "anchor": self.anchor,
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Issue:
        return cls(
            data["kind"],
            data["path"],
            tuple(data["where"]),
            Side(**data["base"]),
            Side(**data["ours"]),
            Side(**data["theirs"]),
            data.get("anchor"),
        )


@dataclass(frozen=True)
class Merged:
    """A change that merged by itself: whose it is (``yours`` or ``release``), what it did
    (``changed``, ``added``, ``removed``, ``reordered``) and where."""

    side: str
    action: str
    path: str
    where: Where

    @property
    def subject(self) -> str:
        return "/".join(str(step) for step in self.where)

    def stored(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "action": self.action,
            "path": self.path,
            "where": list(self.where),
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Merged:
        return cls(data["side"], data["action"], data["path"], tuple(data["where"]))


@dataclass(frozen=True)
class MergeResult:
    """The merged files (a draft to resolve and publish) and the report."""

    files: Mapping[str, str] = field(hash=False)
    merged: tuple[Merged, ...] = ()
    issues: tuple[Issue, ...] = ()

    def of_kind(self, kind: str) -> list[Issue]:
        return [issue for issue in self.issues if issue.kind == kind]


def merge_release(
    base: Mapping[str, str], ours: Mapping[str, str], theirs: Mapping[str, str]
) -> MergeResult:
    """Merge the new release ``theirs`` into the admin's ``ours``, both descended from
    ``base``; every file by path, every document by keys."""
    files: dict[str, str] = {}
    merged: list[Merged] = []
    issues: list[Issue] = []
    for path in [*theirs, *(path for path in ours if path not in theirs)]:
        text = _merge_file(path, base.get(path), ours.get(path), theirs.get(path), merged, issues)
        if text is not None:
            files[path] = text
    added_fields = [
        (item.path, str(item.where[1]))
        for item in merged
        if (item.side, item.action, item.where[:1], len(item.where))
        == ("release", "added", (FIELDS,), 2)
        and ours.get(item.path) != base.get(item.path)
    ]
    issues += _decisions(added_fields, files)
    return MergeResult(files, tuple(merged), tuple(issues))


def _merge_file(
    path: str,
    base: str | None,
    ours: str | None,
    theirs: str | None,
    merged: list[Merged],
    issues: list[Issue],
) -> str | None:
    if ours in (theirs, base):
        if ours != theirs:
            action = "added" if base is None else "removed" if theirs is None else "changed"
            merged.append(Merged("release", action, path, ()))
        return theirs
    if theirs == base:
        action = "added" if base is None else "removed" if ours is None else "changed"
        merged.append(Merged("yours", action, path, ()))
        return ours
    if base is None or ours is None or theirs is None:
        kind = ORPHAN if theirs is None else CONFLICT
        issues.append(Issue(kind, path, (), Side.of(base), Side.of(ours), Side.of(theirs)))
        return ours
    try:
        return _Merger(path, base, ours, theirs, merged, issues).run()
    except DocumentError:  # a side that does not parse is compared as a whole text
        issues.append(
            Issue(CONFLICT, path, (), Side(True, base), Side(True, ours), Side(True, theirs))
        )
        return ours


class _Merger:
    """One document's merge, written into the release's document."""

    def __init__(
        self,
        path: str,
        base: str,
        ours: str,
        theirs: str,
        merged: list[Merged],
        issues: list[Issue],
    ) -> None:
        self.path = path
        self.base = to_plain(Document(path, base).data)
        self.ours_document = Document(path, ours)
        self.ours = to_plain(self.ours_document.data)
        self.target = Document(path, theirs)
        self.merged = merged
        self.issues = issues

    def run(self) -> str:
        theirs = to_plain(self.target.data)
        if not _is_mapping(self.base, self.ours, theirs):
            raise DocumentError("a definition document is a mapping")
        self._merge_mapping((), self.base, self.ours, theirs)
        return self.target.text()

    def _merge(self, where: Where, base: Any, ours: Any, theirs: Any) -> None:
        if ours in (theirs, base):
            if ours != theirs and where:
                self._note("release", base, theirs, where)
            return
        if theirs == base:
            self._take_ours(where, ours)
            self._note("yours", base, ours, where)
        elif ours is MISSING or theirs is MISSING:
            self._conflict(where, base, ours, theirs)
        elif _is_mapping(base, ours, theirs) and not _is_leaf(ours) and not _is_leaf(theirs):
            self._merge_mapping(where, base, ours, theirs)
        elif (ident := _identity(base, ours, theirs)) is not None:
            self._merge_list(where, base, ours, theirs, ident)
        else:
            self._conflict(where, base, ours, theirs)

    def _note(self, side: str, before: Any, after: Any, where: Where) -> None:
        action = "added" if before is MISSING else "removed" if after is MISSING else "changed"
        self.merged.append(Merged(side, action, self.path, where))

    def _conflict(self, where: Where, base: Any, ours: Any, theirs: Any) -> None:
        self._take_ours(where, ours)
        self.issues.append(
            Issue(CONFLICT, self.path, where, Side.of(base), Side.of(ours), Side.of(theirs))
        )

    def _take_ours(self, where: Where, ours: Any) -> None:
        """Write the admin's value at ``where`` (their own node, with its comments)."""
        parent = resolve(self.target.data, where[:-1])
        if ours is MISSING:
            _remove(parent, where[-1])
        else:
            _put(parent, where[-1], copy.deepcopy(resolve(self.ours_document.data, where)))
        self.target.changed = True

    def _merge_mapping(self, where: Where, base: Any, ours: Any, theirs: Any) -> None:
        base = base if isinstance(base, Mapping) else {}
        for key in [*theirs, *(key for key in ours if key not in theirs)]:
            self._merge(
                (*where, key),
                base.get(key, MISSING),
                ours.get(key, MISSING),
                theirs.get(key, MISSING),
            )

    def _merge_list(self, where: Where, base: Any, ours: Any, theirs: Any, ident: str) -> None:
        base_items = _by_id(base if isinstance(base, list) else [], ident)
        our_items, their_items = _by_id(ours, ident), _by_id(theirs, ident)
        for key, item in their_items.items():
            at = (*where, key)
            if key in our_items:
                self._merge(at, base_items.get(key, MISSING), our_items[key], item)
            elif key not in base_items:
                self.merged.append(Merged("release", "added", self.path, at))
            elif item == base_items[key]:  # the admin removed it, the release left it
                _remove(resolve(self.target.data, where), key)
                self.target.changed = True
                self.merged.append(Merged("yours", "removed", self.path, at))
            else:
                self.issues.append(
                    Issue(
                        CONFLICT,
                        self.path,
                        at,
                        Side.of(base_items[key]),
                        Side(False),
                        Side.of(item),
                    )
                )
        for key in our_items:
            if key in base_items and key not in their_items:
                self._removed_by_release(where, key, base_items[key], our_items[key])
        self._merge_order(where, ours, theirs, base_items, their_items, ident)
        self._place_added(where, ours, base_items, their_items, ident)

    def _removed_by_release(self, where: Where, key: str, base: Any, ours: Any) -> None:
        at = (*where, key)
        if ours == base:
            self.merged.append(Merged("release", "removed", self.path, at))
        else:
            self.issues.append(
                Issue(ORPHAN, self.path, at, Side.of(base), Side.of(ours), Side(False))
            )

    def _merge_order(
        self,
        where: Where,
        ours: list[Any],
        theirs: list[Any],
        base_items: Mapping[str, Any],
        their_items: Mapping[str, Any],
        ident: str,
    ) -> None:
        """The admin's reordering of the items every side has, replayed into the release's
        order (new items keep their places); both reordering differently is a conflict."""
        common = [key for key in base_items if key in their_items]
        ours_order = [_id(item, ident) for item in ours if _id(item, ident) in common]
        common = [key for key in common if key in ours_order]
        theirs_order = [_id(item, ident) for item in theirs if _id(item, ident) in common]
        if ours_order in (common, theirs_order):
            return
        if theirs_order != common:
            self.issues.append(
                Issue(
                    CONFLICT,
                    self.path,
                    (*where, ORDER),
                    Side(True, common),
                    Side(True, ours_order),
                    Side(True, theirs_order),
                )
            )
        items = resolve(self.target.data, where)
        wanted = iter(ours_order)
        order = [next(wanted) if _id(item, ident) in common else _id(item, ident) for item in items]
        _reorder(self.target, where, order, ident)
        self.merged.append(Merged("yours", "reordered", self.path, where))

    def _place_added(
        self,
        where: Where,
        ours: list[Any],
        base_items: Mapping[str, Any],
        their_items: Mapping[str, Any],
        ident: str,
    ) -> None:
        """The admin's new items, each after the item it followed; one whose anchor the
        release removed waits after the nearest earlier item that is left (an orphan)."""
        for position, item in enumerate(ours):
            key = _id(item, ident)
            if key in base_items or key in their_items:
                continue
            present = {_id(existing, ident) for existing in resolve(self.target.data, where)}
            anchor = _id(ours[position - 1], ident) if position else None
            after = anchor
            if anchor is not None and anchor not in present:
                earlier = [_id(other, ident) for other in ours[:position]]
                after = next((other for other in reversed(earlier) if other in present), None)
                self.issues.append(
                    Issue(ORPHAN, self.path, (*where, key), ours=Side.of(item), anchor=anchor)
                )
            else:
                self.merged.append(Merged("yours", "added", self.path, (*where, key)))
            node = copy.deepcopy(resolve(self.ours_document.data, (*where, key)))
            insert_after(resolve(self.target.data, where), node, after, ident)
            self.target.changed = True


def _decisions(added: Sequence[tuple[str, str]], files: Mapping[str, str]) -> list[Issue]:
    """A field the release adds to a form the admin customised: its place and permissions
    there are the admin's to confirm. ``ours`` lists the flow steps that keep it locked."""
    issues: list[Issue] = []
    for path, key in added:
        form_key = _read(path, files.get(path, "")).get("key")
        locked = [
            f"{data.get('key')}/{node.get('key')}"
            for other, text in files.items()
            if other.startswith("workflows/")
            for data in [_read(other, text)]
            if data.get("form") == form_key
            for node in data.get("nodes") or []
            if isinstance(node, Mapping) and isinstance(node.get("fields"), Mapping)
        ]
        issues.append(Issue(DECISION, path, (FIELDS, key), ours=Side(True, locked)))
    return issues


def _read(path: str, text: str) -> dict[str, Any]:
    try:
        data = to_plain(Document(path, text).data)
    except DocumentError:
        return {}
    return data if isinstance(data, dict) else {}


# keyed places in ruamel documents ----------------------------------------------------


def resolve(node: Any, where: Where) -> Any:
    """The node at ``where``: mapping steps by key, list steps by an item's ``key`` (or
    ``value``); :class:`MergeError` when there is none."""
    for step in where:
        if isinstance(node, Mapping) and step in node:
            node = node[step]
        elif isinstance(node, list) and (position := _position(node, step)) is not None:
            node = node[position]
        else:
            raise MergeError(f"{'/'.join(map(str, where))}: there is no '{step}'")
    return node


def _position(items: Sequence[Any], key: Step) -> int | None:
    ident = _identity(items)
    for position, item in enumerate(items):
        if ident is not None and _id(item, ident) == key:
            return position
    return None


def _put(parent: Any, step: Step, value: Any) -> None:
    if isinstance(parent, Mapping):
        parent[step] = value  # type: ignore[index]
        return
    position = _position(parent, step)
    if position is None:
        raise MergeError(f"there is no item '{step}' to change")
    parent[position] = value


def _remove(parent: Any, step: Step) -> None:
    if isinstance(parent, Mapping):
        parent.pop(step, None)  # type: ignore[attr-defined]
    elif (position := _position(parent, step)) is not None:
        del parent[position]


def insert_after(items: list[Any], node: Any, after: str | None, ident: str) -> None:
    """Insert ``node`` after the item keyed ``after`` (first when ``None`` or gone)."""
    keys = [_id(item, ident) for item in items]
    items.insert(keys.index(after) + 1 if after in keys else 0, node)


def _reorder(document: Document, where: Where, order: Sequence[str], ident: str) -> None:
    items = resolve(document.data, where)
    for position, key in enumerate(order):
        current = [_id(item, ident) for item in items].index(key)
        if current == position:
            continue
        if ident == "key":  # the document's own move keeps the item's trailing comment
            document.move(where, key, position)
        else:
            items.insert(position, items.pop(current))
    document.changed = True


def reorder(document: Document, where: Where, order: Sequence[str]) -> None:
    """Put the listed items of the list at ``where`` in ``order``, in the places they hold
    between them (other items stay where they are)."""
    items = resolve(document.data, where)
    ident = _identity(items) or IDENTITIES[0]
    listed = set(order)
    wanted = iter(order)
    full = [next(wanted) if _id(item, ident) in listed else _id(item, ident) for item in items]
    _reorder(document, where, full, ident)


def identity_of(items: Any) -> str | None:
    """The setting that names the items of a list (``key``, or ``value`` for options)."""
    return _identity(items)


def _identity(*lists: Any) -> str | None:
    present = [items for items in lists if items is not MISSING]
    if not present or not all(isinstance(items, list) for items in present):
        return None
    every = [item for items in present for item in items]
    for ident in IDENTITIES:
        if every and all(
            isinstance(item, Mapping) and isinstance(item.get(ident), str) for item in every
        ):
            return ident
    return None


def _id(item: Any, ident: str) -> str:
    return str(item.get(ident)) if isinstance(item, Mapping) else ""


def _by_id(items: Sequence[Any], ident: str) -> dict[str, Any]:
    return {_id(item, ident): item for item in items}


def _is_mapping(*values: Any) -> bool:
    return all(isinstance(value, Mapping) or value is MISSING for value in values)


def _is_leaf(value: Any) -> bool:
    """A small mapping of plain values with no key of its own: one value (a label)."""
    return (
        isinstance(value, Mapping)
        and not any(ident in value for ident in IDENTITIES)
        and all(not isinstance(item, Mapping | list) for item in value.values())
    )
