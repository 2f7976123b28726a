"""Renaming a field: its key, and every use of it across the app's documents.

A field's key is written wherever it is used: formulas and conditions of its form, the
permission tables of workflow nodes, dashboard widgets, automations. Renaming therefore
rewrites all of them at once, on the round-trip documents (one changed word, comments kept),
and leaves ``renamed_from`` on the field when it is published, so the migration renames the
column with its data rather than dropping one and adding another.

Which form a key belongs to comes from the document: a mapping with a ``form:`` setting
(a workflow, an automation, a widget, a lookup) speaks of that form's fields below it, and a
form file of its own. Only uses in the renamed field's form change; the same word in another
form's context, in labels or in help text is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from formflow.designer.documents import Document, DocumentError, UnreadableDocument

HUMAN_TEXT = frozenset({"label", "help", "description", "title", "placeholder", "message"})
"""Settings written for people, where a word that looks like a key is just a word."""
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class RenameRefused(DocumentError):
    """The rename cannot be made as asked (the new key is taken or not a key)."""


def rename_field(
    files: Mapping[str, str],
    form_path: str,
    old: str,
    new: str,
    *,
    published: bool,
) -> dict[str, str]:
    """The files that change when ``old`` becomes ``new`` in the form ``form_path``
    defines, with their new text. ``published`` fields keep ``renamed_from`` (the first
    name the live column has, when renamed again before publishing)."""
    if not KEY_PATTERN.match(new):
        raise RenameRefused(f"'{new}' is not a key: lower-case letters, digits and _")
    form = Document(form_path, files[form_path])
    form_key = str(form.get(("key",)))
    field_keys = {str(item.get("key")) for item in form.items(("fields",))}
    if old not in field_keys:
        raise RenameRefused(f"the form '{form_key}' has no field '{old}'")
    if new in field_keys:
        raise RenameRefused(f"the form '{form_key}' already has a field '{new}'")
    item = form.get(("fields", old))
    first_name = item.get("renamed_from") or old
    _rewrite(form.data, old, new, form_key, form_key)
    form.changed = True
    if published and first_name != new:
        form.set(("fields", new, "renamed_from"), first_name)
    else:
        form.delete(("fields", new, "renamed_from"))
    changed = {form_path: form.text()}
    for path, text in files.items():
        if path == form_path or (path.startswith("forms/") and f"form: {form_key}" not in text):
            continue
        if old not in text:
            continue
        try:
            document = Document(path, text)
        except UnreadableDocument:
            continue  # its text waits for the admin, with its error
        context = str(document.data.get("key")) if path.startswith("forms/") else None
        if _rewrite(document.data, old, new, form_key, context):
            document.changed = True
            changed[path] = document.text()
    return changed


def _rewrite(node: Any, old: str, new: str, form_key: str, context: str | None) -> bool:
    """Rewrite uses of ``old`` under ``node`` where the context is ``form_key``."""
    if isinstance(node, CommentedMap):
        form = node.get("form")
        if isinstance(form, str):
            context = form
        changed = False
        for key in list(node.keys()):
            value = node[key]
            if key in HUMAN_TEXT:
                continue
            if context == form_key and key == old:
                position = list(node.keys()).index(key)
                del node[key]
                node.insert(position, new, value)
                changed = True
            if isinstance(value, str):
                if context == form_key and key != "form":
                    rewritten = _words(value, old, new)
                    if rewritten != value:
                        node[new if key == old and context == form_key else key] = _same_style(
                            value, rewritten
                        )
                        changed = True
            elif _rewrite(value, old, new, form_key, context):
                changed = True
        return changed
    if isinstance(node, list):
        changed = False
        for index, value in enumerate(node):
            if isinstance(value, str):
                if context == form_key and (rewritten := _words(value, old, new)) != value:
                    node[index] = _same_style(value, rewritten)
                    changed = True
            elif _rewrite(value, old, new, form_key, context):
                changed = True
        return changed
    return False


def _words(text: str, old: str, new: str) -> str:
    return re.sub(rf"(?<![\w.]){re.escape(old)}(?![\w])", new, text)


def _same_style(original: Any, text: str) -> Any:
    """The new text in the original's scalar style (quoted stays quoted)."""
    kind = type(original)
    if kind is str:
        return text
    try:
        return kind(text)
    except TypeError:
        return text
