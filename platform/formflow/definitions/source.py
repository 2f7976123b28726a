"""Reading one YAML definition file into plain data, remembering where every node was.

Definitions are written by people, so every later check must be able to point at the line
and column it is unhappy with. PyYAML's constructors drop that information, so this module
composes the node graph itself and builds the values, with a :class:`SourceMap` beside them.

It is also the wall against hostile input: only the plain YAML types are accepted (no
Python tags), booleans are only ``true``/``false`` (so an option ``no`` stays a string),
dates stay strings, duplicate keys are refused, and files and alias expansion are bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from formflow.errors import DefinitionError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class _Resolver(BaseResolver):
    """YAML 1.2 core-schema scalars: no yes/no booleans, no sexagesimals, no timestamps."""


_Resolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Resolver.add_implicit_resolver(_INT, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Resolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


class _PureComposer(Reader, Scanner, Parser, Composer, _Resolver):
    """PyYAML's reading stages up to the node graph, without any constructor."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Resolver.__init__(self)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _CComposer(CParser, _Resolver):
        """The same, with libyaml doing the scanning and parsing (about ten times faster)."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            _Resolver.__init__(self)

    _Composer: type = _CComposer
else:  # pragma: no cover - PyYAML wheels ship libyaml
    _Composer = _PureComposer


class Mark(NamedTuple):
    """A place in a file; both numbers count from 1."""

    line: int
    column: int


@dataclass
class SourceMap:
    """Where each value, and each mapping key, of a document stands in its file."""

    values: dict[PathKey, Mark] = field(default_factory=dict)
    keys: dict[PathKey, Mark] = field(default_factory=dict)

    def value(self, path: PathKey) -> Mark:
        """The value at ``path``, or its nearest ancestor that has a place."""
        for prefix in _prefixes(path):
            if prefix in self.values:
                return self.values[prefix]
        return Mark(1, 1)

    def key(self, path: PathKey) -> Mark:
        """The key that introduces ``path``; the value's place when it has no key."""
        return self.keys.get(path) or self.value(path)


def _prefixes(path: PathKey) -> Iterator[PathKey]:
    for end in range(len(path), -1, -1):
        yield path[:end]


@dataclass(frozen=True)
class SourceDocument:
    """One loaded file: what it says, and where it said it."""

    file: str
    data: Any
    source_map: SourceMap

    def error_at_value(self, path: PathKey, message: str) -> DefinitionError:
        mark = self.source_map.value(path)
        return DefinitionError(self.file, mark.line, mark.column, message)

    def error_at_key(self, path: PathKey, message: str) -> DefinitionError:
        mark = self.source_map.key(path)
        return DefinitionError(self.file, mark.line, mark.column, message)


class SourceError(Exception):
    """A file that cannot be read as a definition at all."""

    def __init__(self, error: DefinitionError) -> None:
        super().__init__(str(error))
        self.error = error


def load_document(path: Path, display_name: str) -> SourceDocument:
    """Read ``path`` into a :class:`SourceDocument`, or raise :class:`SourceError`."""

    def fail(message: str) -> SourceError:
        return SourceError(DefinitionError(display_name, 1, 1, message))

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise fail(f"file is {size / 1_048_576:.1f} MB; definition files may be at most 5 MB")
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read file: {exc.strerror or exc}") from None
    return parse_document(raw, display_name)


def parse_document(raw: bytes, display_name: str) -> SourceDocument:
    """Parse a definition file's bytes into a :class:`SourceDocument`, or raise
    :class:`SourceError` naming ``display_name``."""

    def fail(line: int, column: int, message: str) -> SourceError:
        return SourceError(DefinitionError(display_name, line, column, message))

    if len(raw) > MAX_FILE_BYTES:
        raise fail(1, 1, "file is over 5 MB; definition files may be at most 5 MB")
    text = _decode(raw, fail)
    try:
        root = _Composer(text).get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = ", ".join(part for part in (exc.context, exc.problem) if part) or "unreadable"
        if mark and _indented_with_a_tab(text, mark.line):
            problem = "this line is indented with a tab; indent with spaces (YAML allows no tabs)"
            column = 1
        elif any(part in problem for part in _INDENTATION_PROBLEMS):
            problem += " (is this line indented like the one above it?)"
        raise fail(line, column, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise fail(1, 1, f"invalid YAML: {exc}") from None
    if root is None:
        raise fail(1, 1, "file is empty")
    builder = _Builder(display_name)
    data = builder.build(root, ())
    return SourceDocument(display_name, data, builder.source_map)


_INDENTATION_PROBLEMS = (
    "mapping values are not allowed",
    "did not find expected key",
    "did not find expected '-' indicator",
    "expected <block end>",
)
"""PyYAML's words for a line indented deeper or shallower than its block: what they mean
to a person writing the file is said after them."""


def _indented_with_a_tab(text: str, line: int) -> bool:
    """Whether line ``line`` (from 0) starts with a tab among its indentation, the mistake
    behind PyYAML's "found character that cannot start any token" on a tab."""
    lines = text.splitlines()
    if line >= len(lines):
        return False
    written = lines[line]
    return "\t" in written[: len(written) - len(written.lstrip(" \t"))]


def _decode(raw: bytes, fail: Any) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8-sig", errors="replace")) + 1
        raise fail(line, column, "file is not UTF-8 text; save it with UTF-8 encoding") from None


class _Builder:
    """Turns composed nodes into plain values while filling a :class:`SourceMap`."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.source_map = SourceMap()
        self.nodes_built = 0

    def build(self, node: Node, path: PathKey) -> Any:
        self.nodes_built += 1
        if self.nodes_built > MAX_NODES:
            raise self._fail(node, f"document expands to more than {MAX_NODES:,} values (aliases?)")
        if len(path) > MAX_DEPTH:
            raise self._fail(node, f"document is nested deeper than {MAX_DEPTH} levels")
        self.source_map.values.setdefault(path, _mark(node))
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            self._expect_tag(node, _SEQ)
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            self._expect_tag(node, _MAP)
            return self._mapping(node, path)
        raise self._fail(node, "unsupported YAML node")

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self._fail(key_node, "merge keys ('<<') are not supported; repeat the keys")
            if not isinstance(key_node, ScalarNode) or key_node.tag not in (_STR, _INT):
                raise self._fail(key_node, "mapping keys must be plain text")
            key = str(key_node.value)
            if key in result:
                raise self._fail(key_node, f"duplicate key '{key}'")
            self.source_map.keys[(*path, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: ScalarNode) -> Any:
        value = node.value
        if node.tag == _STR:
            return value
        if node.tag == _INT:
            return int(value)
        if node.tag == _FLOAT:
            text = value.lower()
            return float("nan") if text == ".nan" else float(text.replace(".inf", "inf"))
        if node.tag == _BOOL:
            return value.lower() == "true"
        if node.tag == _NULL:
            return None
        raise self._fail(node, f"YAML tag '{node.tag}' is not allowed in definitions")

    def _expect_tag(self, node: Node, tag: str) -> None:
        if node.tag != tag:
            raise self._fail(node, f"YAML tag '{node.tag}' is not allowed in definitions")

    def _fail(self, node: Node, message: str) -> SourceError:
        mark = _mark(node)
        return SourceError(DefinitionError(self.file, mark.line, mark.column, message))


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)
