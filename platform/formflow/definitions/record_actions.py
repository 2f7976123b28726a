"""Compiling a form's ``actions`` and ``pool`` once every form of the app is known.

A record action's steps may create or change records of other forms, so they are checked
after the forms themselves, against all of them, with the automations' checks: each
problem at its place (``FILE:LINE:COL``). Its inputs are compiled like form fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from formflow.definitions.automations import RuleCompiler
from formflow.definitions.compiling import (
    CONTEXT_NAMES,
    DocumentCompiler,
    compile_expression,
    label,
    optional_label,
    unknown,
)
from formflow.definitions.forms import FormCompiler
from formflow.definitions.model import SYSTEM_FIELDS, Field, FieldRule, Form, Scope
from formflow.definitions.source import PathKey
from formflow.record_actions.model import INPUT, FormAction, HeldLimit, Pool
from formflow.workflows.model import Workflow

WORKFLOW_KEYS = frozenset(
    {"submit", "resubmit", "withdraw", "remind", "approve", "reject", "reassign", "add_signer"}
)
"""Keys the workflow buttons take on the same record; a form action may not reuse them."""


def with_record_actions(
    compiler: DocumentCompiler,
    form: Form,
    forms: Mapping[str, Form],
    workflows: Mapping[str, Workflow],
) -> Form:
    """``form`` with the actions and pool its document declares, checked."""
    data = compiler.document.data
    if "actions" not in data and "pool" not in data:
        return form
    rules = RuleCompiler(compiler, form, forms, workflows)
    pool = _pool(compiler, form, data["pool"]) if "pool" in data else None
    actions: list[FormAction] = []
    seen: set[str] = set()
    for index, item in enumerate(data.get("actions", ())):
        path: PathKey = ("actions", index)
        if item["key"] in seen:
            compiler.error((*path, "key"), f"duplicate action key '{item['key']}'")
            continue
        if item["key"] in WORKFLOW_KEYS:
            compiler.error(
                (*path, "key"), f"'{item['key']}' is a workflow button's key; choose another"
            )
            continue
        seen.add(item["key"])
        actions.append(_action(compiler, rules, form, item, path))
    return replace(form, actions=tuple(actions), pool=pool)


def _pool(compiler: DocumentCompiler, form: Form, data: Mapping[str, Any]) -> Pool:
    if form.owner_field == "created_by":
        compiler.error(
            ("pool",), "a pool holds records with no owner; declare an owner_field (a user field)"
        )
    return Pool(
        roles=_roles(compiler, data["roles"], ("pool", "roles")),
        cooldown_days=data.get("cooldown_days", 0),
    )


def _action(
    compiler: DocumentCompiler,
    rules: RuleCompiler,
    form: Form,
    item: Mapping[str, Any],
    path: PathKey,
) -> FormAction:
    inputs = _inputs(compiler, item.get("inputs", []), (*path, "inputs"))
    names = frozenset(f.key for f in form.fields) | SYSTEM_FIELDS.keys() | CONTEXT_NAMES | {INPUT}
    rules.names = names
    condition = None
    if "condition" in item:
        condition = compile_expression(compiler, item["condition"], (*path, "condition"), names)
    roles = _roles(compiler, item.get("roles", []), (*path, "roles"))
    if condition is not None:
        _check_hidden_reads(compiler, form, item["key"], roles, condition.names, path)
    limits = item.get("limits", {})
    held = None
    if "held" in limits:
        where = limits["held"].get("where")
        if where is not None:
            rules.check_filter(form, where, (*path, "limits", "held", "where"))
        held = HeldLimit(limits["held"]["max"], where)
    return FormAction(
        key=item["key"],
        label=label(item["label"]),
        steps=rules.actions(item["actions"], (*path, "actions")),
        roles=roles,
        condition=condition,
        inputs=inputs,
        held=held,
        per_day=limits.get("per_day"),
        bulk=item.get("bulk", True),
        confirm=optional_label(item.get("confirm")),
    )


def _check_hidden_reads(
    compiler: DocumentCompiler,
    form: Form,
    key: str,
    roles: tuple[str, ...],
    names: frozenset[str],
    path: PathKey,
) -> None:
    """An action's condition may not read a field hidden from a role that may run it
    (its ``roles``, or every reader of the form): whether the button is offered would tell
    that field's value. A computed field reading a hidden one is hidden too (see
    :mod:`formflow.definitions.relations`), so the names read directly are enough."""
    for role, permission in form.permissions.items():
        if permission.read is Scope.NONE or (roles and role not in roles):
            continue
        hidden = sorted(
            name
            for name in names
            if form.has_field(name) and permission.field_rule(name) is FieldRule.HIDDEN
        )
        if hidden:
            compiler.error(
                (*path, "condition"),
                f"action '{key}' reads '{hidden[0]}', which is hidden from '{role}', who may"
                " run it: whether it is offered would tell it",
            )
            return


def _inputs(
    compiler: DocumentCompiler, items: list[dict[str, Any]], path: PathKey
) -> tuple[Field, ...]:
    if not items:
        return ()
    keys = frozenset(i["key"] for i in items if isinstance(i.get("key"), str))
    fields = FormCompiler(compiler.document, compiler.context, compiler.errors)
    return fields.compile_fields(items, path, keys | CONTEXT_NAMES)


def _roles(compiler: DocumentCompiler, given: list[str], path: PathKey) -> tuple[str, ...]:
    for index, role in enumerate(given):
        if role not in compiler.context.role_keys:
            compiler.error((*path, index), unknown("role", role, compiler.context.role_keys))
    return tuple(given)
