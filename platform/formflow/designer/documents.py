"""Round-trip editing of definition files: the designer's changes, made to the YAML itself.

The YAML stays the single truth, so the designer edits the document an admin could have
written by hand, not a model that is dumped again: comments, key order, quoting and flow
style survive (ruamel.yaml's round-trip mode), a file nobody touched is returned as the very
text it was, and changing one label changes one line.

ruamel.yaml writes in pure Python (a fifth of a second for a 200-field form on a loaded
machine), so a document written once remembers its *layout*: the text of each item of its
main list (a form's ``fields``, a flow's ``nodes``) and what comes before and after them.
The next edit that stays inside that list writes only the items it changed and joins the
rest as they were; the layout is kept only when the item texts, joined, are found verbatim
in the whole dump, so the result is the text a whole dump would give. Code that changes
nodes behind the document's back sets ``changed = True``, which writes everything again.

Places in a document are *keyed paths*: a mapping step is a key, and a step into a list of
mappings names the item by its ``key`` (``("fields", "industry", "label", "en")``), never by
its position, so an operation means the same thing whatever else moved. That makes the
operations generic: they work on forms, workflows, dashboards and automations alike, and on
keys this module has never heard of.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    ScalarString,
    SingleQuotedScalarString,
)

from formflow.definitions.source import MAX_DEPTH, MAX_NODES
from formflow.designer.list_comments import (
    append_after,
    append_trailing,
    is_block,
    lift,
    place,
    split_trailing,
)
from formflow.errors import DefinitionError, FormflowError

KeyedPath = tuple[str | int, ...]
ITEM_KEY = "key"
CACHED_DOCUMENTS = 32
"""Parsed documents kept by the digest of their text: ruamel.yaml reads in pure Python, so
the next edit of the text an edit just wrote starts from the nodes it already has."""


class DocumentError(FormflowError):
    """A designer operation cannot be applied to the document as it stands."""


class UnreadableDocument(DocumentError):
    """The text is not YAML; ``error`` says where, so the text can be kept beside it."""

    def __init__(self, error: DefinitionError) -> None:
        super().__init__(str(error))
        self.error = error


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap an admin's long line
    yaml.brace_single_entry_mapping_in_flow_sequence = True  # [{role: x}] stays as written
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


@dataclass(frozen=True)
class _Layout:
    """Where the items of the document's main list sit in its text: ``prefix``, then each
    item's text in order, then ``suffix``. ``items`` holds the nodes themselves, so the ids
    keying ``pieces`` stay theirs while the layout lives."""

    key: str
    items: tuple[Any, ...]
    pieces: Mapping[int, str]
    prefix: str
    suffix: str


class Document:
    """One definition file being edited; :meth:`text` is what will be saved."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.original = text
        self._changed = False
        self._whole = False  # something outside the main list's items changed
        self._dirty: set[int] = set()  # ids of main-list items changed inside
        self._blind = False  # nodes were changed directly: no item text can be trusted
        self._layout: _Layout | None = None
        cached = _CACHE.take(text)
        if cached is not None:
            self.data: Any = cached[0]
            self._layout = cached[1]
            return
        try:
            self.data = _yaml().load(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = ", ".join(p for p in (exc.context, exc.problem) if p) or "unreadable"
            raise UnreadableDocument(
                DefinitionError(path, line, column, f"invalid YAML: {problem}")
            ) from None
        except YAMLError as exc:
            raise UnreadableDocument(DefinitionError(path, 1, 1, f"invalid YAML: {exc}")) from None
        _check_bounds(path, self.data)

    @property
    def changed(self) -> bool:
        """Whether the document differs from :attr:`original`. Setting it (for nodes changed
        directly) makes :meth:`text` write the whole document again."""
        return self._changed

    @changed.setter
    def changed(self, value: bool) -> None:
        self._changed = value
        self._whole = self._whole or value
        self._blind = self._blind or value

    def text(self) -> str:
        """The document as YAML: the original text, byte for byte, until something changes;
        then only the changed items of the main list are written, when that is all."""
        return self._written()[0]

    def dumped(self) -> str:
        """The whole document written afresh, ignoring the layout: what :meth:`text` gives
        by writing only the changed items (the tests hold it to that, byte for byte)."""
        return _dump(self.data)

    def keep(self) -> str:
        """The text to save, remembering the parsed document (and its layout) for the next
        edit of it. The document must not be changed after this (the cache owns its nodes)."""
        text, layout = self._written()
        if layout is None and self._changed:
            known = {} if self._blind or self._layout is None else self._layout.pieces
            layout = _layout_of(
                self.data, text, {k: v for k, v in known.items() if k not in self._dirty}
            )
        _CACHE.put(text, (self.data, layout if self._changed else self._layout))
        return text

    def _written(self) -> tuple[str, _Layout | None]:
        if not self._changed:
            return self.original, self._layout
        layout = self._layout
        if self._whole or layout is None or not _splices(self.data, layout.key):
            return _dump(self.data), None
        items = tuple(self.data[layout.key])
        pieces = {
            id(item): (
                layout.pieces[id(item)]
                if id(item) in layout.pieces and id(item) not in self._dirty
                else _dump_item(layout.key, item)
            )
            for item in items
        }
        text = layout.prefix + "".join(pieces[id(item)] for item in items) + layout.suffix
        return text, _Layout(layout.key, items, pieces, layout.prefix, layout.suffix)

    def _touch(self, path: KeyedPath) -> None:
        """Note a change at ``path`` (before it is made): inside one item of the main list
        only that item is written again; a whole item added, moved or removed rewrites no
        other; anything else rewrites the document."""
        self._changed = True
        layout = self._layout
        if layout is None or len(path) < 2 or path[0] != layout.key:
            self._whole = True
        elif len(path) > 2:
            self._dirty.add(id(self.get(path[:2])))

    # reading -------------------------------------------------------------------------

    def get(self, path: KeyedPath) -> Any:
        """The value at ``path``; :class:`DocumentError` if there is none."""
        node = self.data
        for step in path:
            node = _child(node, step, path)
        return node

    def items(self, path: KeyedPath) -> list[Any]:
        """The list at ``path`` (empty when the key is absent)."""
        try:
            found = self.get(path)
        except DocumentError:
            return []
        if not isinstance(found, list):
            raise DocumentError(f"{_show(path)} is not a list")
        return found

    # writing -------------------------------------------------------------------------

    def set(self, path: KeyedPath, value: Any) -> None:
        """Set the value at ``path``, keeping the key's place; a new key goes last."""
        self._unshare(path)
        parent, last = self._parent(path)
        if isinstance(parent, MutableMapping):
            if parent.get(last) == value and last in parent:
                return
            self._touch(path)
            if isinstance(last, str) and isinstance(value, dict) and last in parent:
                _merge_into(parent[last], value)
            elif last in parent or not is_block(parent):
                parent[last] = _plain_to_yaml(value)
            else:  # a new last key: the lines kept after the old last value follow it
                tail = split_trailing(parent, None)
                parent[last] = _plain_to_yaml(value)
                append_after(parent, tail)
        elif isinstance(parent, list):
            position = _index(parent, last, path)
            self._touch(path)
            parent[position] = _plain_to_yaml(value)
        else:
            raise DocumentError(f"{_show(path[:-1])} holds no settings")

    def delete(self, path: KeyedPath) -> None:
        """Remove the value at ``path``; nothing happens when it is absent already."""
        self._unshare(path[:-1])
        parent, last = self._parent(path)
        if isinstance(parent, MutableMapping) and last in parent:
            self._touch(path)
            del parent[last]
        elif isinstance(parent, list):
            position = _index(parent, last, path)
            self._touch(path)
            del parent[position]

    def insert(self, list_path: KeyedPath, item: Mapping[str, Any], after: str | None) -> None:
        """Insert the keyed ``item`` into the list at ``list_path``, after the item keyed
        ``after`` (first when ``None``)."""
        self._unshare(list_path)
        items = self._list(list_path)
        key = item.get(ITEM_KEY)
        if any(_key_of(existing) == key for existing in items):
            raise DocumentError(f"{_show(list_path)} already has an item '{key}'")
        position = 0 if after is None else _index(items, after, (*list_path, after)) + 1
        self._touch((*list_path, str(key)))
        if isinstance(items, CommentedSeq) and items and position == len(items):
            # the lines after the list are kept with its last item: they follow the new one
            tail = split_trailing(items[-1], items.ca.items.get(len(items) - 1))
            items.append(_plain_to_yaml(item))
            if tail:
                append_trailing(items, tail)
                self.changed = True  # the item before changed too
            return
        items.insert(position, _plain_to_yaml(item))

    def move(self, list_path: KeyedPath, key: str, position: int) -> None:
        """Move the item keyed ``key`` to ``position`` (clamped) in the list at ``list_path``."""
        self._unshare(list_path)
        items = self._list(list_path)
        current = _index(items, key, (*list_path, key))
        position = max(0, min(position, len(items) - 1))
        if current == position:
            return
        order = [n for n in range(len(items)) if n != current]
        order.insert(position, current)
        if isinstance(items, CommentedSeq):
            parent = self.get(list_path[:-1]) if len(list_path) > 1 else self.data
            lifted = lift(parent, list_path[-1], items)
            if not lifted.empty:  # comments change places between items: write it all
                place(items, order, lifted)
                self.changed = True
                return
        self._touch((*list_path, key))
        items.insert(position, items.pop(current))

    def _unshare(self, path: KeyedPath) -> None:
        """Give each list or mapping along ``path`` that an alias shares a copy of its own
        here, so a change made through one alias (``label: *same``) changes that place
        only: ruamel.yaml reads an alias as the very node its anchor names. The anchor and
        its comments stay written where they were, for its other aliases."""
        shared = _shared(self.data)
        if not shared:
            return
        node = self.data
        for position in range(len(path)):
            try:
                child = node[
                    _index(node, path[position], path) if isinstance(node, list) else path[position]
                ]
            except (DocumentError, KeyError, TypeError):
                return  # the place does not exist (yet): the operation says so itself
            if id(child) in shared:
                child.yaml_set_anchor(child.anchor.value, always_dump=True)
                own = copy.deepcopy(child)
                own.anchor.value = None
                own.anchor.always_dump = False
                own.ca.comment = None  # the comments stay with the anchor's place
                own.ca.items.clear()
                step = path[position]
                at = _index(node, step, path) if isinstance(node, list) else step
                _drop_borrowed_comments(node, at, child)
                node[at] = own
                self.changed = True
                child = own
            node = child

    def _parent(self, path: KeyedPath) -> tuple[Any, str | int]:
        if not path:
            raise DocumentError("an empty path names the whole document")
        return self.get(path[:-1]), path[-1]

    def _list(self, list_path: KeyedPath) -> list[Any]:
        found = self.get(list_path)
        if not isinstance(found, list):
            raise DocumentError(f"{_show(list_path)} is not a list")
        return found


class _DocumentCache:
    """A small LRU of parsed documents by text digest; taking one removes it, so two edits
    never share (and both change) the same nodes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, Any] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, text: str) -> Any:
        with self.lock:
            return self.items.pop(_digest(text), None)

    def put(self, text: str, data: Any) -> None:
        with self.lock:
            self.items[_digest(text)] = data
            while len(self.items) > self.size:
                self.items.popitem(last=False)


def _check_bounds(path: str, data: Any) -> None:
    """Refuse a document that expands, through aliases, past what the compiler reads
    (:data:`~formflow.definitions.source.MAX_NODES` values, :data:`~formflow.definitions.
    source.MAX_DEPTH` levels): ruamel.yaml shares an aliased node rather than copying it,
    but writing and every walk over the document visit it once per alias, so a few hundred
    bytes of aliases of aliases would keep the server busy for minutes."""
    pending: list[tuple[Any, int, Any]] = [(data, 0, data)]
    count = 0
    while pending:
        node, depth, container = pending.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            raise UnreadableDocument(DefinitionError(path, *_place_of(container), _too_big(count)))
        if isinstance(node, Mapping):
            pending.extend((value, depth + 1, node) for value in node.values())
        elif isinstance(node, list):
            pending.extend((value, depth + 1, node) for value in node)


def _drop_borrowed_comments(parent: Any, step: Any, anchored: Any) -> None:
    """ruamel.yaml files the comment on an anchor's line under each alias's place too;
    once the alias has its own copy, that comment would be written after the copy."""
    entry = parent.ca.items.get(step) if hasattr(parent, "ca") else None
    if not entry:
        return
    theirs = {id(token) for token in anchored.ca.comment or () if token is not None}
    parent.ca.items[step] = [None if id(token) in theirs else token for token in entry]


def _shared(data: Any) -> set[int]:
    """The ids of the lists and mappings reached more than once (through aliases)."""
    seen: set[int] = set()
    shared: set[int] = set()
    pending = [data]
    while pending:
        node = pending.pop()
        children = node.values() if isinstance(node, Mapping) else node
        for child in children:
            if not isinstance(child, Mapping | list):
                continue
            if id(child) in seen:
                shared.add(id(child))
                continue
            seen.add(id(child))
            pending.append(child)
    return shared


def _too_big(count: int) -> str:
    if count > MAX_NODES:
        return f"document expands to more than {MAX_NODES:,} values (aliases?)"
    return f"document is nested deeper than {MAX_DEPTH} levels"


def _place_of(node: Any) -> tuple[int, int]:
    """Where a list or mapping starts (ruamel marks them), from 1; 1:1 for anything else."""
    mark = getattr(node, "lc", None)
    if mark is None or mark.line is None:
        return 1, 1
    return mark.line + 1, (mark.col or 0) + 1


def _dump(data: Any) -> str:
    _settle_emptied(data)
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _settle_emptied(node: Any) -> None:
    """An emptied list or mapping is written ``[]`` or ``{}`` on its key's line, but the
    comments ruamel kept before its first item would be written between the key and the
    brackets, a file that does not parse. The comment on the key's own line stays (after
    the brackets); those that stood before items that are gone go with them."""
    if isinstance(node, CommentedSeq):
        for item in node:
            _settle_emptied(item)
    if not isinstance(node, CommentedMap):
        return
    for key, value in node.items():
        if not isinstance(value, CommentedMap | CommentedSeq):
            continue
        if value:
            _settle_emptied(value)
            continue
        entry = node.ca.items.get(key)
        comments = [*(value.ca.comment or [])[:1], *(entry or [None] * 4)[2:3]]
        on_key_line = next((c.value for c in comments if c is not None and c.value.strip()), None)
        value.ca.comment = None
        value.ca.items.clear()
        value.fa.set_flow_style()
        if entry is not None:
            entry[2:4] = [None, None]
        if on_key_line is not None:
            node.yaml_add_eol_comment(on_key_line.strip().splitlines()[0], key)


def _dump_item(key: str, item: Any) -> str:
    """One item of the main list as the whole dump writes it: alone in a list under the
    same top-level key (same indentation), that key's line left off."""
    wrapper = CommentedMap()
    wrapper[key] = CommentedSeq([item])
    text = _dump(wrapper)
    return text[text.index("\n") + 1 :]


def _splices(data: Any, key: str) -> bool:
    """Whether the items of ``data[key]`` can be written one by one: a block list of
    mappings, not empty, whose comments all sit inside the items."""
    if not isinstance(data, CommentedMap) or not isinstance(data.get(key), CommentedSeq):
        return False
    items = data[key]
    return (
        bool(items)  # an empty list is written ``[]`` on its key's line
        and not items.fa.flow_style()
        and not items.ca.items
        and all(isinstance(item, CommentedMap) and not item.fa.flow_style() for item in items)
    )


def _layout_of(data: Any, text: str, known: Mapping[int, str]) -> _Layout | None:
    """The layout of ``text`` (the whole dump of ``data``) around its longest list of
    mappings, or ``None`` when the items' own texts are not found verbatim in it. ``known``
    holds item texts still true (by node id), so only the others are written."""
    if not isinstance(data, CommentedMap):
        return None
    lists = [key for key in data if isinstance(key, str) and _splices(data, key)]
    if not lists:
        return None
    key = max(lists, key=lambda name: len(data[name]))
    items = tuple(data[key])
    if not items:
        return None
    pieces = {id(item): known.get(id(item)) or _dump_item(key, item) for item in items}
    joined = "".join(pieces[id(item)] for item in items)
    start = text.find(joined)
    if start <= 0 or text[start - 1] != "\n" or text.find(joined, start + 1) != -1:
        return None
    return _Layout(key, items, pieces, text[:start], text[start + len(joined) :])


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_CACHE = _DocumentCache(CACHED_DOCUMENTS)


def _child(node: Any, step: str | int, path: KeyedPath) -> Any:
    if isinstance(node, Mapping):
        if step not in node:
            raise DocumentError(f"{_show(path)}: there is no '{step}'")
        return node[step]
    if isinstance(node, list):
        return node[_index(node, step, path)]
    raise DocumentError(f"{_show(path)}: '{step}' is inside a plain value")


def _index(items: Sequence[Any], step: str | int, path: KeyedPath) -> int:
    """The position of the item ``step`` names: by its key, or a number as it is."""
    if isinstance(step, int):
        if 0 <= step < len(items):
            return step
        raise DocumentError(f"{_show(path)}: there is no item {step}")
    for position, item in enumerate(items):
        if _key_of(item) == step:
            return position
    raise DocumentError(f"{_show(path)}: there is no item '{step}'")


def _key_of(item: Any) -> Any:
    return item.get(ITEM_KEY) if isinstance(item, Mapping) else None


def _show(path: KeyedPath) -> str:
    return "/".join(str(step) for step in path) or "the document"


def _merge_into(target: Any, value: Mapping[str, Any]) -> None:
    """Set a mapping's keys one by one, so the keys that keep their value keep their line."""
    if not isinstance(target, CommentedMap):
        raise DocumentError("cannot merge settings into a plain value")
    for key in [key for key in target if key not in value]:
        del target[key]
    for key, item in value.items():
        if target.get(key) != item or key not in target:
            target[key] = _plain_to_yaml(item)


def _plain_to_yaml(value: Any) -> Any:
    """Plain data as ruamel nodes; a small mapping of scalars (a label, an option) is
    written in flow style, as people write them: ``{zh: 行业, en: Industry}``."""
    if isinstance(value, CommentedMap | CommentedSeq):
        return value
    if isinstance(value, Mapping):
        node = CommentedMap(
            (_plain_to_yaml(key), _plain_to_yaml(item)) for key, item in value.items()
        )
        if len(value) <= 3 and all(not isinstance(v, Mapping | list) for v in value.values()):
            node.fa.set_flow_style()
        return node
    if isinstance(value, list | tuple):
        return CommentedSeq(_plain_to_yaml(item) for item in value)
    if isinstance(value, str) and not isinstance(value, ScalarString):
        return _quoted_if_needed(value)
    return value


_PLAIN = re.compile(r"[^\s\-?:,\[\]{}#&*!|>'\"%@`][^:#,\[\]{}\r\n\t]*(?<!\s)")
"""Text written without quotes: what no YAML reader (block or flow context) could take
for anything else. ruamel's own choice lets ``? x`` and some spaces through unquoted."""
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_READER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _quoted_if_needed(text: str) -> Any:
    """``text`` as written so every reader reads it back the same: plain when it is
    plainly text to YAML 1.1 (the compiler's libyaml) and 1.2 (ruamel) alike, else quoted,
    in double quotes when it holds characters that only escapes can write."""
    plain = _PLAIN.fullmatch(text) is not None and not _UNPRINTABLE.search(text)
    if plain and _reads_as(text) == text:
        return text
    if _UNPRINTABLE.search(text) or "\n" in text or "\r" in text or "\t" in text:
        return DoubleQuotedScalarString(text)
    return SingleQuotedScalarString(text)


def _reads_as(text: str) -> Any:
    """What the compiler's reader makes of ``text`` written plain."""
    try:
        return yaml.load(text, Loader=_READER)
    except yaml.YAMLError:
        return None


def yaml_node(value: Any) -> Any:
    """Plain data as the nodes :meth:`Document.set` would write (for list inserts)."""
    return _plain_to_yaml(value)


def to_plain(value: Any) -> Any:
    """ruamel's nodes as plain dicts, lists and scalars (for comparing and checking)."""
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value if not isinstance(value, str) else str(value)
    return value
