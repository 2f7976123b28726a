"""Compiling workflow files: approval flows over a form's records.

The workflow engine that runs them comes later; compiling them now means a flow that names a
missing form, state or role is caught when the admin saves it, not when a record moves.
"""

from __future__ import annotations

from collections.abc import Mapping

from formflow.definitions.compiling import (
    CONTEXT_NAMES,
    DocumentCompiler,
    compile_expression,
    label,
)
from formflow.definitions.model import SYSTEM_FIELDS, Field, Form, State, Transition, Workflow
from formflow.expressions import Expression
from formflow.fields import ValueKind


def _holds_one_option(field: Field) -> bool:
    """A state is one option value: a select field (or a plugin's field of options)."""
    return field.kind is ValueKind.TEXT and bool(field.options)


def compile_workflow(compiler: DocumentCompiler, forms: Mapping[str, Form]) -> Workflow | None:
    """A :class:`Workflow` from ``compiler.document``, or ``None`` if its form is unknown."""
    data = compiler.document.data
    form = forms.get(data["form"])
    if form is None:
        if data["form"] in compiler.context.form_keys:
            return None  # the form itself has errors, reported in its own file
        compiler.error(("form",), f"unknown form '{data['form']}'")
        return None
    state_field = data.get("state_field")
    if state_field is not None and (
        not form.has_field(state_field) or not _holds_one_option(form.field(state_field))
    ):
        compiler.error(
            ("state_field",),
            f"state_field '{state_field}' must be a select field of form '{form.key}'",
        )
    states = tuple(State(s["key"], label(s["label"])) for s in data.get("states", []))
    state_keys = [s.key for s in states]
    options = (
        form.field(state_field).option_values
        if state_field and form.has_field(state_field)
        else None
    )
    for index, key in enumerate(state_keys):
        if key in state_keys[:index]:
            compiler.error(("states", index, "key"), f"duplicate state '{key}'")
        elif options is not None and key not in options:
            compiler.error(
                ("states", index, "key"),
                f"state '{key}' is not an option of '{state_field}' ({', '.join(options)})",
            )
    names = frozenset(f.key for f in form.fields) | SYSTEM_FIELDS.keys() | CONTEXT_NAMES
    transitions = []
    for index, item in enumerate(data.get("transitions", [])):
        path = ("transitions", index)
        sources = (item["from"],) if isinstance(item["from"], str) else tuple(item["from"])
        for position, source in enumerate(sources):
            if source not in state_keys:
                where = (
                    (*path, "from") if isinstance(item["from"], str) else (*path, "from", position)
                )
                compiler.error(where, f"unknown state '{source}'")
        if item["to"] not in state_keys:
            compiler.error((*path, "to"), f"unknown state '{item['to']}'")
        for position, role in enumerate(item.get("roles", [])):
            if role not in compiler.context.role_keys:
                compiler.error(
                    (*path, "roles", position),
                    f"unknown role '{role}' (declare it in app.yaml roles)",
                )
        condition: Expression | None = None
        if "condition" in item:
            condition = compile_expression(compiler, item["condition"], (*path, "condition"), names)
        transitions.append(
            Transition(
                key=item["key"],
                label=label(item["label"]),
                sources=sources,
                target=item["to"],
                roles=tuple(item.get("roles", ())),
                condition=condition,
            )
        )
    return Workflow(
        key=data["key"],
        label=label(data["label"]),
        form=form.key,
        state_field=state_field,
        states=states,
        transitions=tuple(transitions),
    )
