"""Covering indexes for the figures dashboards ask: derived from their widgets, like the
agenda's and the date automations' indexes, and created by the migration planner.

A widget's statement narrows its form's rows by the fixed filter's equalities and the
date range, then groups and measures a few more columns, and the permission scope reads
the owner. An index that starts with the narrowing columns and carries the others answers
the statement from the index alone: the database reads a range of compact index entries
instead of looking each row up in the table (a full scan of it, for a wide range). Widgets
whose narrowing columns start another's share its index, which carries the columns of
both; so a dashboard of a dozen widgets over one form adds a handful of indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from formflow.definitions.model import SYSTEM_FIELDS, Dashboard, Form, Index, SortKey, Widget

ROW_KINDS = ("table", "calendar", "gantt")
"""Widgets that list records rather than aggregate them: the list's own indexes serve."""


def with_dashboard_indexes(
    forms: dict[str, Form], dashboards: Iterable[Dashboard]
) -> dict[str, Form]:
    """The forms, each with the covering indexes its dashboards' widgets want and no
    index of the form already provides."""
    wanted: dict[str, list[tuple[tuple[str, ...], list[str]]]] = {}
    for dashboard in dashboards:
        for widget in dashboard.widgets:
            form = forms.get(widget.form)
            if form is None or widget.kind in ROW_KINDS:
                continue
            for seek, carried in _statements(form, widget):
                _merge(wanted.setdefault(form.key, []), seek, carried)
    for form_key, shapes in wanted.items():
        form = forms[form_key]
        extra = tuple(
            Index(tuple(SortKey(key) for key in (*seek, *carried)), declared=False, covering=True)
            for seek, carried in shapes
            if not _provided(form, seek, carried)
        )
        if extra:
            forms[form_key] = replace(form, indexes=(*form.indexes, *extra))
    return forms


def _statements(form: Form, widget: Widget) -> list[tuple[tuple[str, ...], list[str]]]:
    """What each of the widget's statements narrows by (in index order) and carries."""
    measures = list(widget.measures)
    if widget.ratio is not None:
        measures = [widget.ratio.numerator, widget.ratio.denominator]
    measured = [m.field for m in measures if m.field]
    for measure in measures:
        measured += _fields(measure.filter or {})
    grouped = [d.field.partition(".")[0] for d in widget.dimensions]
    if widget.forecast is not None:
        grouped.append(widget.forecast.probability)
    seek = _equalities(widget.filter)
    if not widget.period:  # rows in the order of the leading groups: no sort to group them
        seek += _leading(widget)
    if widget.date_field:
        seek.append(widget.date_field)
    if not seek:  # the whole form is read: the index in the order of its groups
        seek = [key for key, d in zip(grouped, widget.dimensions, strict=False) if not d.age]
    found = [(seek, [*grouped, *measured])]
    forecast = widget.forecast
    if forecast is not None and forecast.won_date:
        found.append(([*_equalities(forecast.won), forecast.won_date], measured))
    return [
        (tuple(s for s in dict.fromkeys(seek) if _column(form, s)), _carried(form, seek, more))
        for seek, more in found
    ]


def _leading(widget: Widget) -> list[str]:
    """The fields of the dimensions before the first one that is not a plain field."""
    found: list[str] = []
    for dimension in widget.dimensions:
        if dimension.bucket or dimension.age or "." in dimension.field:
            break
        found.append(dimension.field)
    return found


def _carried(form: Form, seek: list[str], more: list[str]) -> list[str]:
    keys = [*more, form.owner_field]
    return [k for k in dict.fromkeys(keys) if k not in seek and _column(form, k)]


def _merge(
    shapes: list[tuple[tuple[str, ...], list[str]]], seek: tuple[str, ...], carried: list[str]
) -> None:
    """Fold a statement into an index whose narrowing columns start with its own (or that
    starts its own), else add one of its own."""
    for index, (other, others) in enumerate(shapes):
        if other[: len(seek)] == seek or seek[: len(other)] == other:
            longer = other if len(other) >= len(seek) else seek
            keys = [k for k in dict.fromkeys([*others, *other, *seek, *carried]) if k not in longer]
            shapes[index] = (longer, keys)
            return
    shapes.append((seek, carried))


def _provided(form: Form, seek: tuple[str, ...], carried: list[str]) -> bool:
    """Whether an index of the form already narrows by ``seek`` and holds ``carried``."""
    return any(
        index.fields[: len(seek)] == seek and set(carried) <= set(index.fields)
        for index in form.indexes
    )


def _equalities(spec: Mapping[str, Any]) -> list[str]:
    """The fields a filter requires equal to one value or one of a few (its ``and``)."""
    items = spec.get("and", [spec]) if spec else []
    return [
        item["field"]
        for item in items
        if isinstance(item, Mapping) and item.get("op") in ("eq", "in") and "field" in item
    ]


def _fields(spec: Mapping[str, Any]) -> list[str]:
    found = [spec["field"]] if isinstance(spec.get("field"), str) else []
    for item in [*spec.get("and", []), *spec.get("or", [])]:
        found += _fields(item)
    return found


def _column(form: Form, key: str) -> bool:
    """Whether ``key`` is one column of the form's own table an index can hold."""
    if key in SYSTEM_FIELDS:
        return True
    return form.has_field(key) and not form.field(key).kind.is_list
