"""Where a key is used: everything to review before deleting or renaming it.

Formulas, conditions, workflow node permissions, dashboard widgets and automations all name
fields and forms by key, in values or in mapping keys. Rather than knowing each format (and
missing the next one), this searches every document for the key as a whole word, so a new
kind of definition is covered the day it exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from formflow.definitions.source import PathKey, SourceDocument, SourceError, parse_document
from formflow.errors import FilePlace


@dataclass(frozen=True, order=True)
class Reference(FilePlace):
    """One use of a key: where it stands, the keyed place, and the text that names it."""

    place: str
    excerpt: str

    def __str__(self) -> str:
        return f"{super().__str__()}: {self.place}: {self.excerpt}"


def find_references(
    files: Mapping[str, str], key: str, *, defined_in: str | None = None
) -> list[Reference]:
    """Every use of ``key`` in ``files``, sorted by place; an item's own ``key:`` is a
    definition, not a use. Files that do not parse are skipped. ``defined_in`` names the
    file that defines the key, for callers that show it; every file is searched."""
    word = re.compile(rf"(?<![\w]){re.escape(key)}(?![\w])")
    found: list[Reference] = []
    for path, text in files.items():
        try:
            document = parse_document(text.encode("utf-8"), path)
        except SourceError:
            continue
        for place, value, at_key in _strings(document.data, ()):
            if not word.search(value):
                continue
            if place and place[-1] == "key" and value == key:
                continue  # a definition (this one, or another thing's of the same name)
            mark = document.source_map.key(place) if at_key else document.source_map.value(place)
            found.append(Reference(path, mark.line, mark.column, _show(document, place), value))
    return sorted(found)


def _strings(data: Any, path: PathKey) -> Iterator[tuple[PathKey, str, bool]]:
    """Every text in a document: values, and mapping keys (``True`` beside those)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield (*path, key), str(key), True
            yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, (*path, index))
    elif isinstance(data, str):
        yield path, data, False


def _show(document: SourceDocument, path: PathKey) -> str:
    """A keyed path for people: list items by their key where they have one."""
    steps: list[str] = []
    node: Any = document.data
    for step in path:
        if isinstance(node, list) and isinstance(step, int):
            item = node[step]
            key = item.get("key") if isinstance(item, Mapping) else None
            steps.append(str(key) if isinstance(key, str) else str(step))
        else:
            steps.append(str(step))
        node = node[step] if isinstance(node, list | Mapping) else None  # type: ignore[index]
    return "/".join(steps)
