"""What a draft changes, in business words: "adds the field 行业 to 客户".

The comparison is generic over definition documents, so it describes keys added by later
formats too: mappings are compared key by key, lists of keyed items item by item (by key,
never position), and anything else as a value. Each change is an English message id (marked
with ``N_``) and its parameters, labels kept in both languages, so the web edge says it in
the reader's language and a publication can store it and say it again later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from formflow.definitions.model import Label
from formflow.definitions.source import SourceError, parse_document
from formflow.errors import N_, render

ITEM_KEY = "key"
KINDS = {
    "fields": Label("字段", "field"),
    "options": Label("选项", "option"),
    "nodes": Label("节点", "node"),
    "widgets": Label("组件", "widget"),
    "roles": Label("角色", "role"),
    "actions": Label("操作", "action"),
    "branches": Label("分支", "branch"),
}
"""How the lists every format shares are named; any other list goes by its key."""


@dataclass(frozen=True)
class Change:
    """One change: a message id and its parameters (labels as :class:`Label`)."""

    template: str
    params: Mapping[str, Any] = field(hash=False)

    def say(self, language: str = "en") -> str:
        """The change in English, or with labels in ``language`` when untranslated."""
        return render(self.template, self.params, language)

    def stored(self) -> dict[str, Any]:
        """As JSON: labels as ``{"zh": .., "en": ..}``."""
        return {
            "template": self.template,
            "params": {
                key: {"zh": value.zh, "en": value.en} if isinstance(value, Label) else value
                for key, value in self.params.items()
            },
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Change:
        params = {
            key: Label(value.get("zh"), value.get("en")) if isinstance(value, dict) else value
            for key, value in data["params"].items()
        }
        return cls(data["template"], params)


def compare(before: Mapping[str, str], after: Mapping[str, str]) -> list[Change]:
    """Every change from the files ``before`` to the files ``after``."""
    changes: list[Change] = []
    for path in sorted(set(before) | set(after)):
        old, new = _data(before.get(path), path), _data(after.get(path), path)
        if old == new:
            continue
        if old is None or new is None:
            subject = _label(new if old is None else old) or Label(path, path)
            template = N_("adds %(subject)s") if old is None else N_("removes %(subject)s")
            changes.append(Change(template, {"subject": subject}))
            continue
        document = _label(new) or Label(path, path)
        _compare(old, new, (), document, None, changes)
    return changes


def _data(text: str | None, path: str) -> Any:
    if text is None:
        return None
    try:
        return parse_document(text.encode("utf-8"), path).data
    except SourceError:
        return {"$unreadable": text}


def _compare(
    old: Any,
    new: Any,
    path: tuple[str, ...],
    document: Label,
    item: Label | None,
    changes: list[Change],
) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in [*old, *(key for key in new if key not in old)]:
            if key not in new:
                changes.append(_setting("removes", key, document, item))
            elif key not in old:
                changes.append(_setting("adds", key, document, item))
            elif old[key] != new[key]:
                _compare(old[key], new[key], (*path, key), document, item, changes)
        return
    if _keyed(old) and _keyed(new):
        _compare_items(old, new, path, document, changes)
        return
    if path:
        changes.append(_setting("changes", path[-1], document, item))


def _compare_items(
    old: list[Any], new: list[Any], path: tuple[str, ...], document: Label, changes: list[Change]
) -> None:
    olds = {entry[ITEM_KEY]: entry for entry in old}
    news = {entry[ITEM_KEY]: entry for entry in new}
    kind: Label | str = KINDS.get(path[-1], path[-1]) if path else ""
    added = N_("adds %(kind)s %(name)s to %(document)s")
    removed = N_("removes %(kind)s %(name)s from %(document)s; its data is kept, hidden")
    for template, entries, others in ((added, news, olds), (removed, olds, news)):
        changes.extend(
            Change(template, {"kind": kind, "name": _label(entry) or key, "document": document})
            for key, entry in entries.items()
            if key not in others
        )
    for key, entry in news.items():
        if key in olds and olds[key] != entry:
            name = _label(entry) or Label(key, key)
            _compare(olds[key], entry, (*path, key), document, name, changes)
    kept_old = [key for key in olds if key in news]
    kept_new = [key for key in news if key in olds]
    if kept_old != kept_new:
        changes.append(
            Change(
                N_("reorders the %(kind)s of %(document)s"), {"kind": kind, "document": document}
            )
        )


_SETTING_TEMPLATES = {
    ("adds", False): N_("adds the setting %(setting)s to %(document)s"),
    ("removes", False): N_("removes the setting %(setting)s from %(document)s"),
    ("changes", False): N_("changes %(setting)s of %(document)s"),
    ("adds", True): N_("adds the setting %(setting)s to %(name)s in %(document)s"),
    ("removes", True): N_("removes the setting %(setting)s from %(name)s in %(document)s"),
    ("changes", True): N_("changes %(setting)s of %(name)s in %(document)s"),
}


def _setting(action: str, setting: str, document: Label, item: Label | None) -> Change:
    template = _SETTING_TEMPLATES[action, item is not None]
    params: dict[str, Any] = {"setting": setting, "document": document}
    if item is not None:
        params["name"] = item
    return Change(template, params)


def _keyed(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(entry, Mapping) and isinstance(entry.get(ITEM_KEY), str) for entry in value
        )
        and len({entry[ITEM_KEY] for entry in value}) == len(value)
    )


def _label(data: Any) -> Label | None:
    if not isinstance(data, Mapping):
        return None
    found = data.get("label")
    if isinstance(found, str):
        return Label(found, found)
    if isinstance(found, Mapping):
        return Label(found.get("zh"), found.get("en"))
    key = data.get(ITEM_KEY)
    return Label(key, key) if isinstance(key, str) else None
