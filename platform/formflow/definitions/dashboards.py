"""Compiling dashboard files: a grid of widgets that aggregate forms' records.

Everything a widget names is checked against the forms when the admin saves the file, so a
misspelt field, a select value the field does not offer, or a sum of a text field is a
``FILE:LINE:COL`` error rather than an empty chart. Fixed filters are written as a small
mapping (``stage: [won, lost]``, ``amount: {gte: 1000}``) and compiled to the record
service's filter language.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from formflow.definitions.compiling import (
    DocumentCompiler,
    label,
    named_form,
    optional_label,
    unknown,
)
from formflow.definitions.model import (
    SYSTEM_FIELDS,
    Dashboard,
    DashboardFilter,
    Dimension,
    ForecastSource,
    Form,
    Measure,
    Ratio,
    StageSource,
    TargetSource,
    Widget,
)
from formflow.definitions.source import PathKey
from formflow.fields import Reference, ValueKind

_NUMERIC_OPS = frozenset({"sum", "avg", "median"})
_NUMERIC_KINDS = frozenset({ValueKind.INTEGER, ValueKind.DECIMAL})
_DATE_KINDS = frozenset({ValueKind.DATE, ValueKind.DATETIME})
_FILTER_OPS = frozenset(
    {"eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "is_empty", "is_not_empty"}
)
_NEEDS_DIMENSION = frozenset({"bar", "line", "area", "pie", "donut", "funnel", "pivot"})
_NEEDS_DIMENSION |= {"ranking", "target", "forecast", "stage_history"}
DEFAULT_AGES = (30, 60, 90)
_GROUPABLE_KINDS = frozenset(ValueKind) - {ValueKind.CHOICES, ValueKind.FILES, ValueKind.ROWS}


def compile_dashboard(compiler: DocumentCompiler, forms: Mapping[str, Form]) -> Dashboard:
    data = compiler.document.data
    for index, role in enumerate(data.get("roles", [])):
        if role not in compiler.context.role_keys:
            compiler.error(
                ("roles", index),
                unknown("role", role, compiler.context.role_keys)
                + " (declare it in app.yaml roles)",
            )
    widgets = []
    seen: set[str] = set()
    for index, item in enumerate(data["widgets"]):
        if item["key"] in seen:
            compiler.error(("widgets", index, "key"), f"widget key '{item['key']}' is used twice")
        seen.add(item["key"])
        widget = WidgetCompiler(compiler, forms, ("widgets", index)).compile(item)
        if widget is not None:
            widgets.append(widget)
    filters = [
        DashboardFilter(
            kind=item["kind"], field=item.get("field"), label=optional_label(item.get("label"))
        )
        for item in data.get("filters", [])
    ]
    for index, item in enumerate(filters):
        if item.field and not any(
            forms[w.form].has_field(item.field) for w in widgets if w.form in forms
        ):
            compiler.error(
                ("filters", index, "field"), f"no widget's form has a field '{item.field}'"
            )
    return Dashboard(
        key=data["key"],
        label=label(data["label"]),
        widgets=tuple(widgets),
        roles=tuple(data.get("roles", ())),
        filters=tuple(filters),
    )


class WidgetCompiler:
    """Checks one widget against its form, reporting each problem at its place."""

    def __init__(
        self, compiler: DocumentCompiler, forms: Mapping[str, Form], path: PathKey
    ) -> None:
        self.compiler = compiler
        self.forms = forms
        self.path = path

    def error(self, where: PathKey, message: str, *, at_key: bool = False) -> None:
        self.compiler.error((*self.path, *where), message, at_key=at_key)

    def compile(self, item: dict[str, Any]) -> Widget | None:
        form = named_form(item["form"], self.forms, self.compiler.context, self.error, ("form",))
        if form is None:
            return None
        kind = item["type"]
        dimensions = tuple(
            d
            for name in ("group_by", "series")
            if name in item and (d := self.dimension(form, item[name], (name,))) is not None
        )
        if kind in _NEEDS_DIMENSION and "group_by" not in item:
            self.error(("type",), f"a {kind} widget needs group_by")
        if isinstance(item.get("series"), Mapping) and "age" in item["series"]:
            self.error(("series", "age"), "age ranges go in group_by, not in series")
        measures = [self.measure(form, item.get("measure", {"op": "count"}), ("measure",))]
        if "second_measure" in item:
            measures.append(self.measure(form, item["second_measure"], ("second_measure",)))
        ratio = None
        if "ratio" in item:
            data = item["ratio"]
            ratio = Ratio(
                self.measure(form, data["numerator"], ("ratio", "numerator")),
                self.measure(form, data["denominator"], ("ratio", "denominator")),
                bool(data.get("percent", False)),
            )
        date_field = item.get("date_field")
        if date_field is not None:
            self.date(form, date_field, ("date_field",))
        if "period" in item and date_field is None:
            self.error(("period",), "a period needs the widget's date_field")
        for name in ("start", "end"):
            if name in item:
                self.date(form, item[name], (name,))
        if kind == "gantt" and not ("start" in item and "end" in item):
            self.error(("type",), "a gantt widget needs start and end date fields")
        if kind == "calendar" and date_field is None:
            self.error(("type",), "a calendar widget needs a date_field")
        for index, column in enumerate(item.get("columns", ())):
            self.field(form, column, ("columns", index))
        target = self.target(form, item["target"]) if "target" in item else None
        if kind == "target" and target is None:
            self.error(("type",), "a target widget needs target: {form, measure, by}")
        if target is not None and target.rollup and dimensions:
            self.user_field(form, dimensions[0].field, ("group_by",), "a rolled-up target")
        forecast = None
        if kind == "forecast":
            forecast = self.forecast(form, item, measures[0])
            if dimensions and not dimensions[0].bucket:
                self.error(("group_by",), "a forecast groups by a date field's time bucket")
            if "series" in item:
                self.error(("series",), "a forecast has no series", at_key=True)
        if kind == "stage_history" and "series" in item:
            self.error(
                ("series",),
                "a stage_history has no series; the owner and department filters narrow it",
                at_key=True,
            )
        stages = self.stages(form, item, dimensions) if kind == "stage_history" else None
        if "probability" in item and kind not in ("forecast", "stage_history"):
            self.error(("probability",), "only a forecast widget has probability", at_key=True)
        if "won" in item and kind != "forecast":
            self.error(("won",), "only a forecast widget has won", at_key=True)
        if "outcomes" in item and kind != "stage_history":
            self.error(("outcomes",), "only a stage_history widget has outcomes", at_key=True)
        return Widget(
            key=item["key"],
            type=kind,
            label=label(item["label"]),
            form=form.key,
            dimensions=dimensions,
            measures=tuple(measures),
            ratio=ratio,
            filter=self.filter(form, item.get("filter", {}), ("filter",)) or {},
            date_field=date_field,
            period=item.get("period"),
            stacked=bool(item.get("stacked", False)),
            sort=item.get("sort"),
            limit=item.get("limit"),
            columns=tuple(item.get("columns", ())),
            start=item.get("start"),
            end=item.get("end"),
            target=target,
            width=int(item.get("width", 1)),
            forecast=forecast,
            stages=stages,
        )

    def field(
        self, form: Form, key: str, where: PathKey, *, at_key: bool = False
    ) -> ValueKind | None:
        """The kind of ``key`` (a field, a system field or ``link.field``); ``None`` and an
        error when the form has no such field."""
        if key in SYSTEM_FIELDS:
            return SYSTEM_FIELDS[key]
        link_key, _, target_key = key.partition(".")
        if not form.has_field(link_key):
            self._unknown_field(form, link_key, where, at_key=at_key)
            return None
        found = form.field(link_key)
        if not target_key:
            return found.kind
        target = self.forms.get(found.target_form or "")
        if not found.is_link or target is None:
            self.error(
                where,
                f"'{link_key}' is not a link field, so it has no '{target_key}'",
                at_key=at_key,
            )
            return None
        if target_key in SYSTEM_FIELDS:
            return SYSTEM_FIELDS[target_key]
        if not target.has_field(target_key) or "." in target_key:
            self._unknown_field(target, target_key, where, at_key=at_key)
            return None
        return target.field(target_key).kind

    def _unknown_field(self, form: Form, key: str, where: PathKey, *, at_key: bool) -> None:
        known = [f.key for f in form.fields]
        self.error(
            where, unknown("field", key, known, within=f"in form '{form.key}'"), at_key=at_key
        )

    def date(self, form: Form, key: str, where: PathKey) -> None:
        kind = self.field(form, key, where)
        if kind is not None and kind not in _DATE_KINDS:
            self.error(where, f"'{key}' is not a date or date-time field")

    def dimension(self, form: Form, data: Any, where: PathKey) -> Dimension | None:
        key, bucket = (data, None) if isinstance(data, str) else (data["field"], data.get("bucket"))
        place = where if isinstance(data, str) else (*where, "field")
        kind = self.field(form, key, place)
        if kind is None:
            return None
        if kind not in _GROUPABLE_KINDS:
            self.error(place, f"'{key}' holds several values and cannot be grouped by")
        if bucket is not None and kind not in _DATE_KINDS:
            self.error((*where, "bucket"), f"'{key}' is not a date field, so it has no {bucket}")
        age = None if isinstance(data, str) else data.get("age")
        if age is None:
            return Dimension(key, bucket)
        ages = DEFAULT_AGES if age is True else tuple(age)
        if kind not in _DATE_KINDS:
            self.error((*where, "age"), f"'{key}' is not a date field, so it has no age")
        if bucket is not None:
            self.error((*where, "age"), "a dimension has either a bucket or an age, not both")
        if any(b <= a for a, b in itertools.pairwise(ages)):
            self.error((*where, "age"), "age ranges must end at increasing numbers of days")
        return Dimension(key, bucket, ages)

    def user_field(self, form: Form, key: str, where: PathKey, needs: str) -> None:
        """Refuse anything but a user field where people are rolled up into departments."""
        found = form.field(key) if form.has_field(key) else None
        if found is None or found.field_type.reference is not Reference.USER:
            self.error(where, f"{needs} needs a user field here; '{key}' is not one")

    def measure(self, form: Form, data: Mapping[str, Any], where: PathKey) -> Measure:
        op, key = data["op"], data.get("field")
        if key is not None:
            kind = self.field(form, key, (*where, "field"))
            if op in _NUMERIC_OPS and kind is not None and kind not in _NUMERIC_KINDS:
                shown = form.field(key).type if form.has_field(key) else kind.value
                self.error((*where, "field"), f"{op} needs a number field; '{key}' is {shown}")
        elif op != "count":
            self.error(where, f"measure '{op}' needs a field")
        spec = self.filter(form, data["filter"], (*where, "filter")) if "filter" in data else None
        return Measure(op, key, spec)

    def target(self, form: Form, data: Mapping[str, Any]) -> TargetSource | None:
        source = named_form(
            data["form"], self.forms, self.compiler.context, self.error, ("target", "form")
        )
        if source is None:
            return None
        sub = WidgetCompiler(self.compiler, self.forms, (*self.path, "target"))
        measure = sub.measure(source, data["measure"], ("measure",))
        sub.field(source, data["by"], ("by",))
        if "date_field" in data:
            sub.date(source, data["date_field"], ("date_field",))
        rollup, department = data.get("rollup"), data.get("department")
        if rollup is not None:
            sub.user_field(source, data["by"], ("by",), "rollup: department")
        if department is not None:
            found = source.field(department) if source.has_field(department) else None
            if rollup is None:
                sub.error(("department",), "a target's department needs rollup: department")
            elif found is None or found.field_type.reference is not Reference.DEPARTMENT:
                sub.error(("department",), f"'{department}' is not a department field")
        return TargetSource(
            source.key, measure, data["by"], data.get("date_field"), rollup, department
        )

    def forecast(
        self, form: Form, item: Mapping[str, Any], measure: Measure
    ) -> ForecastSource | None:
        """A forecast weighs its measure (a sum or a count) by a percentage field."""
        if measure.op not in ("sum", "count"):
            self.error(("measure", "op"), "a forecast weighs a sum or a count")
        if "probability" not in item:
            self.error(("type",), "a forecast widget needs probability: a percentage field")
            return None
        kind = self.field(form, item["probability"], ("probability",))
        if kind is not None and kind not in _NUMERIC_KINDS:
            self.error(("probability",), f"'{item['probability']}' is not a number field")
        won = item.get("won")
        if won is None:
            return ForecastSource(item["probability"])
        self.date(form, won["date_field"], ("won", "date_field"))
        spec = self.filter(form, won["filter"], ("won", "filter")) or {}
        return ForecastSource(item["probability"], spec, won["date_field"])

    def stages(
        self, form: Form, item: Mapping[str, Any], dimensions: tuple[Dimension, ...]
    ) -> StageSource | None:
        """A stage history reads the stays of a select field (its ``group_by``), closed as
        won or lost by some of its values; the stays are kept for that field from then on."""
        key = item.get("group_by")
        if not isinstance(key, str) or not form.has_field(key) or not dimensions:
            if "group_by" in item:
                self.error(("group_by",), "a stage_history groups by a select field")
            return None
        options = form.field(key).option_values
        if not options or form.field(key).kind is not ValueKind.TEXT:
            self.error(("group_by",), f"'{key}' is not a select field, so it has no stages")
            return None
        if "outcomes" not in item:
            self.error(("type",), "a stage_history widget needs outcomes: {won, lost}")
            return None
        found: dict[str, tuple[str, ...]] = {}
        for name in ("won", "lost"):
            values = item["outcomes"][name]
            self.values(form, key, values, ("outcomes", name))
            found[name] = tuple(values)
        probability = item.get("probability")
        if probability is not None:
            kind = self.field(form, probability, ("probability",))
            if kind is not None and kind not in _NUMERIC_KINDS:
                self.error(("probability",), f"'{probability}' is not a number field")
        return StageSource(found["won"], found["lost"], probability)

    def filter(self, form: Form, data: Mapping[str, Any], where: PathKey) -> dict[str, Any] | None:
        """The fixed filter in the filter language, each value checked against its field."""
        conditions: list[dict[str, Any]] = []
        for key, given in data.items():
            place = (*where, key)
            kind = self.field(form, key, place, at_key=True)
            if kind is None:
                continue
            if isinstance(given, Mapping):
                for op, value in given.items():
                    if op not in _FILTER_OPS:
                        self.error((*place, op), unknown("filter operator", op, _FILTER_OPS))
                        continue
                    if op not in ("is_empty", "is_not_empty"):
                        self.values(form, key, value, (*place, op))
                    conditions.append(_condition(key, op, value))
            else:
                self.values(form, key, given, place)
                op = "in" if isinstance(given, list) else "eq"
                conditions.append(_condition(key, op, given))
        return {"and": conditions} if conditions else None

    def values(self, form: Form, key: str, given: Any, where: PathKey) -> None:
        """Refuse a value a select field does not offer, where the admin wrote it."""
        if "." in key or not form.has_field(key):
            return
        options = form.field(key).option_values
        if not options:
            return
        for index, value in enumerate(given if isinstance(given, list) else [given]):
            if value not in options:
                place = (*where, index) if isinstance(given, list) else where
                self.error(place, unknown("option", str(value), options, within=f"of '{key}'"))


def _condition(key: str, op: str, value: Any) -> dict[str, Any]:
    if op in ("is_empty", "is_not_empty"):
        return {"field": key, "op": op}
    return {"field": key, "op": op, "value": value}
