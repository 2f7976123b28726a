"""The designer's operations: what an admin's click means, as data applied to a document.

Each operation is addressed by keys (a form's field by its key, never its position), so it
can be replayed, tested at random, and applied to the document the YAML tab shows. The
form-field operations are thin names over the generic keyed ones of
:class:`~formflow.designer.documents.Document`; they know only the shape every definition
shares (a ``fields`` list of keyed items with a ``label``), so keys added by later formats
pass through untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from formflow.designer.documents import Document, DocumentError, KeyedPath

FIELDS = "fields"
HIDDEN_CONDITION = "false"
"""A hidden field is one shown only when ``false`` holds: its data and its uses stay."""


@dataclass(frozen=True)
class AddField:
    """Add a field (its settings as plain data, ``key``, ``type`` and ``label`` at least)
    after the field keyed ``after`` (first when ``None``; last when ``after`` is ``"$end"``)."""

    settings: Mapping[str, Any] = field(hash=False)
    after: str | None = "$end"

    def apply(self, document: Document) -> None:
        items = document.items((FIELDS,))
        after = self.after
        if after == "$end":
            after = str(items[-1]["key"]) if items else None
        document.insert((FIELDS,), dict(self.settings), after)


@dataclass(frozen=True)
class MoveField:
    """Move a field to ``position`` (0 first) in its list."""

    key: str
    position: int

    def apply(self, document: Document) -> None:
        document.move((FIELDS,), self.key, self.position)


@dataclass(frozen=True)
class ConfigureField:
    """Set one setting of a field (``None`` removes it, so the default applies)."""

    key: str
    setting: str
    value: Any = None

    def apply(self, document: Document) -> None:
        if self.setting == "key":
            raise DocumentError("a field's key is changed by renaming it, not by a setting")
        path: KeyedPath = (FIELDS, self.key, self.setting)
        if self.value is None:
            document.delete(path)
        else:
            document.set(path, self.value)


@dataclass(frozen=True)
class SetLabel:
    """Set a field's label in one language, leaving the other languages as they are."""

    key: str
    language: str
    text: str

    def apply(self, document: Document) -> None:
        current = document.get((FIELDS, self.key, "label"))
        if isinstance(current, Mapping):
            document.set((FIELDS, self.key, "label", self.language), self.text)
        else:
            document.set((FIELDS, self.key, "label"), self.text)


@dataclass(frozen=True)
class HideField:
    """Hide a field from the form (or show it again); its column, data and uses remain."""

    key: str
    hidden: bool = True

    def apply(self, document: Document) -> None:
        path: KeyedPath = (FIELDS, self.key, "visible_if")
        if self.hidden:
            document.set(path, HIDDEN_CONDITION)
        elif document.get((FIELDS, self.key)).get("visible_if") == HIDDEN_CONDITION:
            document.delete(path)


class RemovalRefused(DocumentError):
    """A published field cannot be removed: records hold its data. Hiding it keeps both."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"the field '{key}' is published, so it can be hidden, not removed: "
            "its data stays with it (hide it instead)"
        )
        self.key = key


@dataclass(frozen=True)
class RemoveField:
    """Take a field off the form; the migration keeps its column hidden, with its data."""

    key: str

    def apply(self, document: Document) -> None:
        document.get((FIELDS, self.key))
        document.delete((FIELDS, self.key))


@dataclass(frozen=True)
class SetValue:
    """Set any keyed path of any document: the designers of other kinds use this."""

    path: KeyedPath
    value: Any = None

    def apply(self, document: Document) -> None:
        if self.value is None:
            document.delete(self.path)
        else:
            document.set(self.path, self.value)


Operation = AddField | MoveField | ConfigureField | SetLabel | HideField | RemoveField | SetValue


def is_hidden(item: Mapping[str, Any]) -> bool:
    """Whether a field's settings hide it (see :class:`HideField`)."""
    return item.get("visible_if") == HIDDEN_CONDITION
