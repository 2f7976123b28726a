"""Who may see and change which field, enforced by the record service for every caller.

Pages, the API, imports and the shell all write through the service, so a field rule checked
here holds everywhere: a field may be ``readonly`` (set only by the engine), ``set_once``
(given at creation, fixed after), hidden or read-only for some roles (the form's
``permissions.ROLE.fields``), owned by a workflow (its ``state_field``), or the owner field,
which only roles with ``reassign`` may change. The engine itself (:meth:`Actor.system`) and
callers given an explicit grant (a workflow setting its state) may still set such fields.

A refused change is a :class:`~formflow.errors.Problem` on its field, collected with every
other problem of the write; a value sent unchanged is never refused, so a client may send
back the whole record it read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from formflow.definitions.model import SYSTEM_FIELDS, App, FieldRule, Form, Operation, Scope
from formflow.errors import N_, Problem, QueryError
from formflow.records.access import Actor, scope_for

_RULE_ORDER = (FieldRule.HIDDEN, FieldRule.READ, FieldRule.EDIT)
_UNKNOWN = N_("unknown field '%(key)s' in form '%(form)s'")
"""What a query naming a hidden field is told: the same as for a field that does not exist."""


@dataclass(frozen=True)
class FieldAccess:
    """What one actor may do with the fields of one form, for one write or read.

    ``fixed`` maps each field the actor may not change to the reason, as the problem a
    change of it gets; ``hidden`` fields are neither shown nor changed; ``granted`` fields
    were given to the caller whatever the rules.
    """

    hidden: frozenset[str]
    fixed: Mapping[str, Problem]
    may_reassign: bool
    granted: frozenset[str] = frozenset()

    def may_change(self, key: str) -> bool:
        return key not in self.fixed

    def placed(self, problems: Mapping[str, list[Problem]]) -> dict[str, list[Problem]]:
        """``problems`` with those of hidden fields put on the record (``""``), but for a
        hidden field the actor sent (refused as unknown on its key): a value the engine
        gave one (a default, an in-save rule) may clash with another record's, and naming
        the field would tell that it exists, and what another record holds in it."""
        if not self.hidden:
            return dict(problems)
        placed: dict[str, list[Problem]] = {}
        for key, found in problems.items():
            for problem in found:
                moved = key.split(".", 1)[0] in self.hidden and problem.code != "unknown_field"
                placed.setdefault("" if moved else key, []).append(problem)
        return placed

    def shown(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """``record`` without its hidden fields."""
        if not self.hidden:
            return dict(record)
        return {key: value for key, value in record.items() if key not in self.hidden}


def is_system(actor: Actor) -> bool:
    """The engine itself: automations, imports and the shell act as no user, with all rights."""
    return actor.user_id is None and actor.is_admin


def field_rule(actor: Actor, form: Form, key: str) -> FieldRule:
    """The most an actor's roles allow on field ``key`` (admins may do everything)."""
    if actor.is_admin or not actor.roles:
        return FieldRule.EDIT
    return max(
        (form.permission(role).field_rule(key) for role in actor.roles),
        key=_RULE_ORDER.index,
    )


def field_access(
    app: App,
    actor: Actor,
    form: Form,
    *,
    creating: bool,
    grant: Collection[str] = (),
) -> FieldAccess:
    """The field rules for ``actor`` writing (or reading) a record of ``form``.

    ``creating`` says whether the record is new (``set_once`` fields may be given then);
    ``grant`` names fields the caller may set whatever the rules (a workflow, its state).
    """
    if is_system(actor):
        return FieldAccess(frozenset(), {}, may_reassign=True)
    hidden = frozenset(
        field.key for field in form.fields if field_rule(actor, form, field.key) is FieldRule.HIDDEN
    )
    may_reassign = actor.is_admin or any(form.permission(role).reassign for role in actor.roles)
    owned = workflow_fields(app, form)
    fixed: dict[str, Problem] = {}
    for field in form.fields:
        key = field.key
        if key in grant or field.is_computed:
            continue
        if field.readonly:
            fixed[key] = Problem("read_only", N_("is set by the system and cannot be changed"))
        elif key in owned:
            fixed[key] = Problem(
                "workflow_owned",
                N_("is changed by the workflow '%(workflow)s' only"),
                (("workflow", owned[key]),),
            )
        elif field.set_once and not creating:
            fixed[key] = Problem("set_once", N_("is given when the record is created, not changed"))
        elif field_rule(actor, form, key) is not FieldRule.EDIT:
            fixed[key] = Problem("field_denied", N_("you may not change this field"))
        elif key == form.owner_field and not creating and not may_reassign:
            fixed[key] = Problem("reassign", N_("you may not hand this record to someone else"))
    return FieldAccess(hidden, fixed, may_reassign, frozenset(grant))


def hidden_from_told(app: App, actor: Actor, form: Form) -> frozenset[str]:
    """The fields of ``form`` to leave out of what ``actor`` is told about one of its
    records (a notification's text): those hidden from them; for someone whose roles read
    no record of the form (no role in the app at all, say), every field that any role
    hides, so that they are told no more than every reader of the form may read."""
    if is_system(actor) or actor.is_admin:
        return frozenset()
    if scope_for(actor, form, Operation.READ) is not Scope.NONE:
        return field_access(app, actor, form, creating=False).hidden
    return frozenset(
        field.key
        for field in form.fields
        for permission in form.permissions.values()
        if permission.field_rule(field.key) is FieldRule.HIDDEN
    )


def workflow_fields(app: App, form: Form) -> dict[str, str]:
    """The fields of ``form`` that a workflow owns (its state field), by field key."""
    return {
        workflow.state_field: workflow.key
        for workflow in app.workflows.values()
        if workflow.form == form.key and workflow.state_field
    }


def refused_changes(
    access: FieldAccess,
    submitted: Collection[str],
    new: Mapping[str, Any],
    old: Mapping[str, Any],
) -> dict[str, list[Problem]]:
    """The problems of changing fixed fields: each submitted key whose value would differ
    from ``old`` (for a new record, the fields' defaults)."""
    problems: dict[str, list[Problem]] = {}
    for key in submitted:
        problem = access.fixed.get(key)
        if problem is not None and new.get(key) != old.get(key):
            problems[key] = [problem]
    return problems


def check_readable(app: App, actor: Actor, form: Form, keys: Iterator[str]) -> None:
    """Refuse a query that filters, sorts or groups by a field hidden from ``actor``: its
    answer would tell the hidden values. Keys may be ``link.field`` paths."""
    for key in keys:
        link_key, _, target_key = key.partition(".")
        _check_named(actor, form, link_key, key)
        if target_key and form.has_field(link_key):
            target = form.field(link_key).target_form or ""
            if target in app.forms:
                _check_named(actor, app.forms[target], target_key, key)


def _check_named(actor: Actor, form: Form, name: str, key: str) -> None:
    """Refuse ``name`` as unknown when it is hidden from the actor, or is no field at all:
    the answer for a misspelt key would otherwise suggest the nearest field, hidden or not
    ("did you mean 'floor_price'?")."""
    if name in SYSTEM_FIELDS:
        return
    if not form.has_field(name) or field_rule(actor, form, name) is FieldRule.HIDDEN:
        raise QueryError(_UNKNOWN, field=key, key=key, form=form.key)


def filter_fields(spec: Any) -> Iterator[str]:
    """Every field key a filter names, however deeply its groups nest."""
    if isinstance(spec, Mapping):
        if isinstance(spec.get("field"), str):
            yield spec["field"]
        for group in ("and", "or"):
            items = spec.get(group)
            if isinstance(items, list):
                for item in items:
                    yield from filter_fields(item)
        if "not" in spec:
            yield from filter_fields(spec["not"])
