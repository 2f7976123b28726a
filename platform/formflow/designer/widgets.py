"""The dashboard designer's widget: chosen in a form, previewed on live rows, saved on Save.

A widget the admin is composing is plain settings (form, kind, measure, dimension, filter)
until they press Save. The preview puts those settings into a *copy* of the draft's
dashboard file, compiles the whole draft with it (so a wrong field is named with its
``FILE:LINE:COL`` exactly as a publish would name it) and computes the compiled widget
through the dashboard service, under the admin's own permissions, with a row and a time cap
(:mod:`formflow.storage.time_caps`). Only
:func:`with_widget` followed by a draft save writes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from formflow.designer.documents import Document, DocumentError

WIDGETS = "widgets"
KINDS = ("number", "bar", "line", "area", "pie", "donut", "funnel", "ranking", "table")
"""The kinds the designer composes; the others are written in the YAML tab."""
OPERATIONS = ("count", "sum", "avg", "min", "max")
PREVIEW_ROWS = 50
"""The most rows or groups a preview asks for, whatever the widget's own limit."""
PREVIEW_SECONDS = 5.0
"""The longest a preview's statement may run before the database stops it."""


class PreviewTooSlow(DocumentError):
    """The preview's query ran past :data:`PREVIEW_SECONDS`; the message says what helps."""


@dataclass(frozen=True)
class WidgetChoice:
    """What the admin chose; :meth:`settings` is the widget as its YAML will say it."""

    key: str
    kind: str
    form: str
    label_zh: str = ""
    label_en: str = ""
    operation: str = "count"
    measure_field: str = ""
    dimension: str = ""
    filters: tuple[tuple[str, str], ...] = ()
    width: int = 2

    def settings(self) -> dict[str, Any]:
        if self.kind not in KINDS:
            raise DocumentError(f"a widget is one of {', '.join(KINDS)}")
        if self.operation not in OPERATIONS:
            raise DocumentError(f"a measure is one of {', '.join(OPERATIONS)}")
        found: dict[str, Any] = {
            "key": self.key,
            "type": self.kind,
            "label": {"zh": self.label_zh or self.key, "en": self.label_en or self.key},
            "form": self.form,
        }
        if self.dimension and self.kind not in ("number", "table"):
            found["group_by"] = self.dimension
        if self.kind != "table":
            measure: dict[str, Any] = {"op": self.operation}
            if self.operation != "count":
                measure["field"] = self.measure_field
            found["measure"] = measure
        if self.filters:
            found["filter"] = dict(self.filters)
        found["width"] = self.width
        return found


def with_widget(text: str, path: str, settings: Mapping[str, Any]) -> str:
    """The dashboard file's text with the widget added (or replaced, by its key) last."""
    document = Document(path, text)
    keys = [str(item.get("key")) for item in document.items((WIDGETS,))]
    key = str(settings["key"])
    if key in keys:
        document.set((WIDGETS, key), dict(settings))
    else:
        document.insert((WIDGETS,), dict(settings), keys[-1] if keys else None)
    return document.text()


def parse_filters(text: str) -> tuple[tuple[str, str], ...]:
    """Filter lines ``field = value`` (one a line) as pairs; other lines are refused."""
    pairs: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        field, sign, value = line.partition("=")
        if not sign or not field.strip():
            raise DocumentError(f"a filter is 'field = value', not '{line.strip()}'")
        pairs.append((field.strip(), value.strip()))
    return tuple(pairs)


COMPOSED = frozenset(("key", "type", "label", "form", "group_by", "measure", "filter", "width"))
"""The keys of a widget the composer writes: a widget with others is edited in the YAML tab."""


def composer_values(item: Mapping[str, Any]) -> dict[str, str] | None:
    """A saved widget as the composer's fields (to open it there and Save it again), or
    ``None`` when saving it from the composer would lose something it says."""
    label, measure = item.get("label"), item.get("measure", {"op": "count"})
    filters, dimension = item.get("filter", {}), item.get("group_by", "")
    if (
        not set(item) <= COMPOSED
        or item.get("type") not in KINDS
        or not isinstance(label, Mapping)
        or not set(label) <= {"zh", "en"}
        or not isinstance(measure, Mapping)
        or not set(measure) <= {"op", "field"}
        or measure.get("op") not in OPERATIONS
        or not isinstance(filters, Mapping)
        or not all(isinstance(value, str) for value in filters.values())
        or not isinstance(dimension, str)
        or (dimension and item.get("type") in ("number", "table"))
        or ("measure" in item and item.get("type") == "table")
    ):
        return None
    return {
        "key": str(item.get("key", "")),
        "kind": str(item["type"]),
        "form": str(item.get("form", "")),
        "label_zh": str(label.get("zh", "")),
        "label_en": str(label.get("en", "")),
        "operation": str(measure["op"]),
        "measure_field": str(measure.get("field", "")),
        "dimension": dimension,
        "filters": "\n".join(f"{field} = {value}" for field, value in filters.items()),
        "width": str(item.get("width", 1)),
    }
