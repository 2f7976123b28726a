"""Compiling dashboard files: widgets that aggregate a form's records.

Dashboards are drawn by a later part of the engine; compiling them now catches a widget that
measures a missing field, or sums a text field, when the admin saves the definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formflow.definitions.compiling import DocumentCompiler, label
from formflow.definitions.model import SYSTEM_FIELDS, Dashboard, Form, Measure, Widget
from formflow.definitions.source import PathKey
from formflow.fields import ValueKind

_NUMERIC_OPS = frozenset({"sum", "avg"})
_NUMERIC_KINDS = frozenset({ValueKind.INTEGER, ValueKind.DECIMAL})


def compile_dashboard(compiler: DocumentCompiler, forms: Mapping[str, Form]) -> Dashboard:
    data = compiler.document.data
    for index, role in enumerate(data.get("roles", [])):
        if role not in compiler.context.role_keys:
            compiler.error(
                ("roles", index), f"unknown role '{role}' (declare it in app.yaml roles)"
            )
    widgets = []
    for index, item in enumerate(data["widgets"]):
        widget = _widget(compiler, forms, item, ("widgets", index))
        if widget is not None:
            widgets.append(widget)
    return Dashboard(
        key=data["key"],
        label=label(data["label"]),
        widgets=tuple(widgets),
        roles=tuple(data.get("roles", ())),
    )


def _widget(
    compiler: DocumentCompiler, forms: Mapping[str, Form], item: dict[str, Any], path: PathKey
) -> Widget | None:
    form = forms.get(item["form"])
    if form is None:
        if item["form"] not in compiler.context.form_keys:
            compiler.error((*path, "form"), f"unknown form '{item['form']}'")
        return None
    group_by = item.get("group_by")
    if group_by is not None and group_by not in SYSTEM_FIELDS and not form.has_field(group_by):
        compiler.error((*path, "group_by"), f"form '{form.key}' has no field '{group_by}'")
    measure_data = item.get("measure", {"op": "count"})
    measure = Measure(measure_data["op"], measure_data.get("field"))
    if measure.field is not None:
        if measure.field not in SYSTEM_FIELDS and not form.has_field(measure.field):
            compiler.error(
                (*path, "measure", "field"), f"form '{form.key}' has no field '{measure.field}'"
            )
        elif (
            measure.op in _NUMERIC_OPS
            and form.has_field(measure.field)
            and form.field(measure.field).kind not in _NUMERIC_KINDS
        ):
            compiler.error(
                (*path, "measure", "field"),
                f"{measure.op} needs a number field; '{measure.field}' is {form.field(measure.field).type}",
            )
    elif measure.op != "count":
        compiler.error((*path, "measure"), f"measure '{measure.op}' needs a field")
    return Widget(
        key=item["key"],
        type=item["type"],
        label=label(item["label"]),
        form=form.key,
        group_by=group_by,
        measure=measure,
        filter=item.get("filter", {}),
    )
