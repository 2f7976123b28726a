"""Round-trip editing of definition files: the designer's changes, made to the YAML itself.

The YAML stays the single truth, so the designer edits the document an admin could have
written by hand, not a model that is dumped again: comments, key order, quoting and flow
style survive (ruamel.yaml's round-trip mode), a file nobody touched is returned as the very
text it was, and changing one label changes one line.

Places in a document are *keyed paths*: a mapping step is a key, and a step into a list of
mappings names the item by its ``key`` (``("fields", "industry", "label", "en")``), never by
its position, so an operation means the same thing whatever else moved. That makes the
operations generic: they work on forms, workflows, dashboards and automations alike, and on
keys this module has never heard of.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

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


class Document:
    """One definition file being edited; :meth:`text` is what will be saved."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.original = text
        self.changed = False
        cached = _CACHE.take(text)
        if cached is not None:
            self.data: Any = cached
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

    def text(self) -> str:
        """The document as YAML: the original text, byte for byte, until something changes."""
        if not self.changed:
            return self.original
        out = io.StringIO()
        _yaml().dump(self.data, out)
        return out.getvalue()

    def keep(self) -> str:
        """The text to save, remembering the parsed document for the next edit of it. The
        document must not be changed after this (the cache owns its nodes)."""
        text = self.text()
        _CACHE.put(text, self.data)
        return text

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
        parent, last = self._parent(path)
        if isinstance(parent, MutableMapping):
            if parent.get(last) == value and last in parent:
                return
            if isinstance(last, str) and isinstance(value, dict) and last in parent:
                _merge_into(parent[last], value)
            else:
                parent[last] = _plain_to_yaml(value)
        elif isinstance(parent, list):
            parent[_index(parent, last, path)] = _plain_to_yaml(value)
        else:
            raise DocumentError(f"{_show(path[:-1])} holds no settings")
        self.changed = True

    def delete(self, path: KeyedPath) -> None:
        """Remove the value at ``path``; nothing happens when it is absent already."""
        parent, last = self._parent(path)
        if isinstance(parent, MutableMapping) and last in parent:
            del parent[last]
            self.changed = True
        elif isinstance(parent, list):
            del parent[_index(parent, last, path)]
            self.changed = True

    def insert(self, list_path: KeyedPath, item: Mapping[str, Any], after: str | None) -> None:
        """Insert the keyed ``item`` into the list at ``list_path``, after the item keyed
        ``after`` (first when ``None``)."""
        items = self._list(list_path)
        key = item.get(ITEM_KEY)
        if any(_key_of(existing) == key for existing in items):
            raise DocumentError(f"{_show(list_path)} already has an item '{key}'")
        position = 0 if after is None else _index(items, after, (*list_path, after)) + 1
        items.insert(position, _plain_to_yaml(item))
        self.changed = True

    def move(self, list_path: KeyedPath, key: str, position: int) -> None:
        """Move the item keyed ``key`` to ``position`` (clamped) in the list at ``list_path``."""
        items = self._list(list_path)
        current = _index(items, key, (*list_path, key))
        position = max(0, min(position, len(items) - 1))
        if current == position:
            return
        comment = _item_comment(items, current)
        item = items.pop(current)
        items.insert(position, item)
        _restore_comment(items, position, comment)
        self.changed = True

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
        node = CommentedMap((key, _plain_to_yaml(item)) for key, item in value.items())
        if len(value) <= 3 and all(not isinstance(v, Mapping | list) for v in value.values()):
            node.fa.set_flow_style()
        return node
    if isinstance(value, list | tuple):
        return CommentedSeq(_plain_to_yaml(item) for item in value)
    return value


def yaml_node(value: Any) -> Any:
    """Plain data as the nodes :meth:`Document.set` would write (for list inserts)."""
    return _plain_to_yaml(value)


def _item_comment(items: Any, position: int) -> Any:
    """A comment that ruamel keeps *after* a list item belongs with it when it moves."""
    return items.ca.items.pop(position, None) if isinstance(items, CommentedSeq) else None


def _restore_comment(items: Any, position: int, comment: Any) -> None:
    if comment is not None and isinstance(items, CommentedSeq):
        items.ca.items[position] = comment


def to_plain(value: Any) -> Any:
    """ruamel's nodes as plain dicts, lists and scalars (for comparing and checking)."""
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value if not isinstance(value, str) else str(value)
    return value
