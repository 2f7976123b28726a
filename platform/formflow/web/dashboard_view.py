"""A computed widget as JSON for the page's charts, the API and the exports.

Group keys become what people read (an option's label, a user's name, a record's title)
and each data point's drill-down becomes a link to the list page with the list's own
filter parameters (``f.stage=won``, ``f.close_date.from=…&f.close_date.to=…``), so the
list shows, and lets the person change, exactly the filters behind the figure.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import url_for
from flask_babel import format_decimal
from flask_babel import gettext as _

from formflow.dashboards import Drill, Group, WidgetResult
from formflow.definitions.model import SYSTEM_FIELDS, App, Dimension, Form, Widget
from formflow.errors import N_, PermissionDenied
from formflow.fields import Reference, ValueKind
from formflow.records import Actor, RecordService
from formflow.web.display import column_label
from formflow.web.i18n import text
from formflow.web.listing import FILTER, HIGH, LOW, NONE
from formflow.web.targets import load_names


def list_url(app_key: str, form_key: str, drill: Drill | None) -> str | None:
    """The list page showing exactly the records behind a figure."""
    if drill is None:
        return None
    params: dict[str, str] = {}
    for key, value in drill.items():
        if isinstance(value, tuple):
            params[FILTER + key + LOW], params[FILTER + key + HIGH] = value
        else:
            params[FILTER + key] = value or NONE
    base = url_for("records.index", app_key=app_key, form_key=form_key)
    return f"{base}?{urlencode(params)}" if params else base


class Labeller:
    """Names group keys: options by label, users and departments by name, links by title."""

    def __init__(self, app: App, records: RecordService, actor: Actor) -> None:
        self.app = app
        self.records = records
        self.actor = actor
        self.directory = load_names()

    def names(self, widget: Widget, index: int, keys: list[Any]) -> dict[Any, str]:
        dimension = widget.dimensions[index]
        if index == 0 and widget.target is not None and widget.target.rollup == "department":
            departments = dict(self.directory.department_choices())
            return {k: str(departments.get(k, f"#{k}")) for k in keys}
        if dimension.age:
            return {k: str(_("%(range)s days", range=k)) for k in keys}
        form, key = self._field_of(widget.form, dimension)
        found: dict[Any, str] = {}
        titles: dict[int, Any] = {}
        field = form.field(key) if form.has_field(key) else None
        if field is not None and field.is_link and field.target_form:
            ids = {k for k in keys if isinstance(k, int)}
            try:
                titles = self.records.titles(self.actor, field.target_form, ids) if ids else {}
            except PermissionDenied:  # the viewer may not read the linked form: ids only
                titles = {}
        for value in keys:
            found[value] = self._name(form, key, dimension, value, titles)
        return found

    def cell(self, form: Form, key: str, value: Any) -> str:
        """A table cell as people read it (links get their titles in :meth:`fill_titles`)."""
        if value is None or value == "":
            return ""
        field = form.field(key) if form.has_field(key) else None
        if field is not None and field.is_link:
            return f"#{value}"
        if field is not None and field.kind in (ValueKind.DECIMAL, ValueKind.INTEGER):
            return figure(value)
        if isinstance(value, date):
            return value.isoformat()
        return self._name(form, key, Dimension(key), value, {})

    def fill_titles(
        self,
        form: Form,
        keys: list[str],
        rows: list[dict[str, Any]],
        records: list[dict[str, Any]],
    ) -> None:
        """Link cells show the linked record's title, where the viewer may read it."""
        for index, key in enumerate(keys):
            field = form.field(key) if form.has_field(key) else None
            if field is None or not field.is_link or not field.target_form:
                continue
            ids = {r[key] for r in records if isinstance(r.get(key), int)}
            try:
                titles = self.records.titles(self.actor, field.target_form, ids) if ids else {}
            except PermissionDenied:
                continue
            target = self.app.form(field.target_form)
            for row, record in zip(rows, records, strict=True):
                found = titles.get(record.get(key) or 0)
                if found is not None:
                    row["cells"][index] = str(found.get(target.title_field) or row["cells"][index])

    def _field_of(self, form_key: str, dimension: Dimension) -> tuple[Form, str]:
        form = self.app.form(form_key)
        link, _sep, target = dimension.field.partition(".")
        if target and form.has_field(link):
            return self.app.form(form.field(link).target_form or form_key), target
        return form, dimension.field

    def _name(
        self, form: Form, key: str, dimension: Dimension, value: Any, titles: Mapping[int, Any]
    ) -> str:
        if value is None or value == "":
            return str(_("(empty)"))
        if dimension.bucket:
            return str(value)
        if key in SYSTEM_FIELDS:
            if SYSTEM_FIELDS[key] is ValueKind.REFERENCE:
                return str(dict(self.directory.user_choices()).get(value, f"#{value}"))
            return str(value)
        field = form.field(key)
        if field.options:
            labels = {o.value: text(o.label) for o in field.options}
            return str(labels.get(value, value))
        reference = field.field_type.reference
        if reference is Reference.USER:
            return str(dict(self.directory.user_choices()).get(value, f"#{value}"))
        if reference is Reference.DEPARTMENT:
            return str(dict(self.directory.department_choices()).get(value, f"#{value}"))
        if field.is_link:
            record = titles.get(value)
            target = self.app.form(field.target_form or "")
            return str(record.get(target.title_field) if record else f"#{value}")
        if isinstance(value, bool):
            return str(_("Yes") if value else _("No"))
        return str(value)


def figure(value: Any) -> str:
    """A figure as the viewer's language writes it (grouping, decimal sign), kept exact."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    places = max(0, -int(number.as_tuple().exponent)) if number.is_finite() else 0
    return str(format_decimal(number, format="#,##0" + ("." + "0" * places if places else "")))


FIGURE_LABELS = {
    "target": N_("Target"),
    "attainment": N_("Attainment %"),
    "weighted": N_("Weighted pipeline"),
    "pipeline": N_("Pipeline"),
    "won": N_("Won"),
    "probability": N_("Assumed probability %"),
    "win_rate": N_("Actual win rate %"),
    "days": N_("Average days in stage"),
    "closed": N_("Closed"),
}
"""The figures a kind computes itself (a target's, a forecast's, a stage history's)."""


def measure_label(app: App, widget: Widget, name: str) -> str:
    if name in FIGURE_LABELS:
        return str(_(FIGURE_LABELS[name]))
    if name in ("ratio", "numerator", "denominator") or len(widget.measures) == 1:
        return text(widget.label)
    measure = next((m for m in widget.measures if m.name == name), None)
    if measure is None or measure.field is None:
        return str(_("Count"))
    return column_label(app.form(widget.form), measure.field)


def number(value: Any) -> Any:
    """Decimals as strings (exact, as the API gives them); other values as they are."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def widget_json(app_key: str, app: App, labeller: Labeller, result: WidgetResult) -> dict[str, Any]:
    """Everything a chart, a table or an export needs of one widget."""
    widget = result.widget
    form = app.form(widget.form)
    found: dict[str, Any] = {
        "key": widget.key,
        "type": widget.type,
        "label": text(widget.label),
        "width": widget.width,
        "stacked": widget.stacked,
        "percent": bool(widget.ratio and widget.ratio.percent),
        "money": _is_money(form, widget),
        "problem": result.problem,
        "start": widget.start,
        "end": widget.end,
        "link": list_url(app_key, widget.form, result.drill),
        "span": [result.span.first.isoformat(), result.span.last.isoformat()]
        if result.span
        else None,
    }
    if result.problem:
        return found
    shown = [m for m in result.measures if m not in ("numerator", "denominator")]
    found["measures"] = [
        {"key": m, "label": measure_label(app, widget, m), "whole": _whole(form, widget, m)}
        for m in shown
    ]
    if widget.kind == "number":
        found.update(value=number(result.value), previous=number(result.previous))
        found["change"] = number(result.change)
        return found
    if widget.kind in ("table", "gantt", "calendar"):
        found["rows"] = _rows(app_key, app, widget, result)
        shown = [k for k in widget.columns if result.rows and k in result.rows[0]]
        found["columns"] = [{"key": k, "label": column_label(form, k)} for k in shown]
        for row, record in zip(found["rows"], result.rows, strict=True):
            row["cells"] = [labeller.cell(form, k, record.get(k)) for k in shown]
        labeller.fill_titles(form, shown, found["rows"], result.rows)
        found["total"] = result.value
    if widget.kind == "table":
        return found
    groups = result.groups
    first = labeller.names(widget, 0, [g.keys[0] for g in groups]) if widget.dimensions else {}
    if widget.kind == "calendar":
        found["days"] = [
            {
                "day": str(g.keys[0]),
                "value": number(g.values.get("count")),
                "link": _link(app_key, widget, g),
            }
            for g in groups
        ]
        return found
    if widget.kind == "gantt":
        return found
    categories = list(dict.fromkeys(g.keys[0] for g in groups))
    found["categories"] = [{"key": number(k), "label": first.get(k, str(k))} for k in categories]
    if len(widget.dimensions) == 2:
        second = labeller.names(widget, 1, [g.keys[1] for g in groups])
        series_keys = list(dict.fromkeys(g.keys[1] for g in groups))
        by = {(g.keys[0], g.keys[1]): g for g in groups}
        name = shown[0]
        found["series"] = [
            {
                "key": number(s),
                "label": second.get(s, str(s)),
                "data": [
                    number(by[(c, s)].values.get(name)) if (c, s) in by else None
                    for c in categories
                ],
                "links": [
                    _link(app_key, widget, by[(c, s)]) if (c, s) in by else None for c in categories
                ],
            }
            for s in series_keys
        ]
        if widget.kind == "pivot":
            found["totals"] = _totals(app_key, widget, result, name)
        return found
    found["series"] = [
        {
            "key": m,
            "label": measure_label(app, widget, m),
            "data": [number(g.values.get(m)) for g in groups],
            "links": [_link(app_key, widget, g, m) for g in groups],
        }
        for m in shown
    ]
    if widget.kind == "funnel":
        values = [g.values.get(shown[0]) for g in groups]
        found["conversion"] = [
            number((Decimal(b) / Decimal(a) * 100).quantize(Decimal("0.1")))
            if a and b is not None
            else None
            for a, b in itertools.pairwise(values)
        ]
    return found


def _link(app_key: str, widget: Widget, group: Group, measure: str = "") -> str | None:
    """The list of the records behind one figure of ``group`` (its own, if it has one)."""
    drill = group.drills.get(measure, group.drill)
    return list_url(app_key, widget.form, drill)


def _totals(app_key: str, widget: Widget, result: WidgetResult, name: str) -> dict[str, Any]:
    def keyed(groups: list[Group]) -> dict[str, Any]:
        return {
            str(number(g.keys[0])) if g.keys else "": {
                "value": number(g.values.get(name)),
                "link": _link(app_key, widget, g),
            }
            for g in groups
        }

    return {part: keyed(result.totals.get(part, [])) for part in ("rows", "columns", "all")}


_COUNTING_OPS = frozenset({"count", "distinct_count"})
_KEEPING_OPS = frozenset({"sum", "min", "max"})


def _whole(form: Form, widget: Widget, name: str) -> bool:
    """Whether measure ``name`` only takes whole values (a count, or a sum, least or most
    of whole numbers), so that its chart's axis steps by whole numbers, never 0.5."""
    measure = next((m for m in widget.measures if m.name == name), None)
    if measure is None:
        return False
    if measure.op in _COUNTING_OPS:
        return True
    if measure.op not in _KEEPING_OPS or measure.field is None or not form.has_field(measure.field):
        return False
    return form.field(measure.field).kind is ValueKind.INTEGER


def _is_money(form: Form, widget: Widget) -> bool:
    measure = widget.ratio.numerator if widget.ratio else widget.measure
    if measure.field is None or not form.has_field(measure.field):
        return False
    field = form.field(measure.field)
    return field.field_type.display_style(field) == "money" and measure.op != "count"


def _rows(app_key: str, app: App, widget: Widget, result: WidgetResult) -> list[dict[str, Any]]:
    form = app.form(widget.form)
    return [
        {
            "id": row["id"],
            "title": str(row.get(form.title_field) or f"#{row['id']}"),
            "link": url_for(
                "records.detail", app_key=app_key, form_key=form.key, record_id=row["id"]
            ),
            "values": {k: number(v) for k, v in row.items() if k != "id"},
        }
        for row in result.rows
    ]


def export_rows(app: App, data: Mapping[str, Any]) -> list[list[Any]]:
    """A widget's figures as a table: a header, then one line per data point."""
    if data.get("problem"):
        return [[data["label"]], [data["problem"]]]
    if data["type"] == "number":
        return [[data["label"]], [data.get("value")]]
    if "rows" in data and data["type"] != "calendar":
        keys = sorted({k for row in data["rows"] for k in row["values"]})
        return [
            ["id", *keys],
            *([row["id"], *(row["values"].get(k) for k in keys)] for row in data["rows"]),
        ]
    if data["type"] == "calendar":
        return [["day", "count"], *([d["day"], d["value"]] for d in data["days"])]
    labels = [c["label"] for c in data["categories"]]
    header = ["", *(s["label"] for s in data["series"])]
    lines = [[label, *(s["data"][i] for s in data["series"])] for i, label in enumerate(labels)]
    return [header, *lines]
