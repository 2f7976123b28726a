"""Compiling automation files into the frozen :class:`~formflow.automations.model.Automation`.

The JSON Schema has vouched for the shape; this checks meaning, each problem at its place
(``FILE:LINE:COL``): forms, fields, options, workflows, nodes and outcomes that do not
exist, a cron that cannot be read, expressions and templates that do not parse or read
unknown names, and actions no plugin provides or given parameters they do not take. A rule
that passes can always be run: the engine never meets a dangling key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, time
from types import MappingProxyType
from typing import Any

from jinja2 import TemplateSyntaxError, meta
from jsonschema import Draft202012Validator

from formflow.automations import params as builtin
from formflow.automations.model import (
    IN_SAVE_TRIGGERS,
    RECORD_TRIGGERS,
    Automation,
    FieldSet,
    Timing,
    Trigger,
    TriggerType,
)
from formflow.definitions.compiling import (
    CONTEXT_NAMES,
    DocumentCompiler,
    compile_expression,
    label,
    named_form,
    suggest,
    unknown,
)
from formflow.definitions.model import SYSTEM_FIELDS, Form
from formflow.definitions.notified import hidden_from_told
from formflow.definitions.source import PathKey
from formflow.expressions import Expression, ExpressionError
from formflow.fields import ValueKind
from formflow.fields.values import Invalid
from formflow.workflows.model import ActionCall, EndNode, Workflow

SET_ACTION = "set"
OLD = "old"
"""The name conditions and mappings read the changed fields' previous values by."""
TARGET = "target"
"""The name ``update_records``' ``map`` reads the record being changed by, as stored when
the action runs (roll-ups included): a rule run by one record can set another from that
one's own totals."""

_DATE_KINDS = frozenset({ValueKind.DATE, ValueKind.DATETIME})


def compile_automation(
    compiler: DocumentCompiler, forms: Mapping[str, Form], workflows: Mapping[str, Workflow]
) -> Automation | None:
    """An :class:`Automation` from ``compiler.document``, or ``None`` if its form is unknown."""
    data = compiler.document.data
    form = named_form(data["form"], forms, compiler.context, compiler.error, ("form",))
    if form is None:
        return None
    return RuleCompiler(compiler, form, forms, workflows).compile()


class RuleCompiler:
    """Checks one rule's trigger, condition and actions against its form (record actions
    reuse it for their steps)."""

    def __init__(
        self,
        compiler: DocumentCompiler,
        form: Form,
        forms: Mapping[str, Form],
        workflows: Mapping[str, Workflow],
    ) -> None:
        self.compiler = compiler
        self.form = form
        self.forms = forms
        self.workflows = workflows
        self.data: dict[str, Any] = compiler.document.data
        self.names = (
            frozenset(f.key for f in form.fields) | SYSTEM_FIELDS.keys() | CONTEXT_NAMES | {OLD}
        )

    def error(self, path: PathKey, message: str, *, at_key: bool = False) -> None:
        self.compiler.error(path, message, at_key=at_key)

    def compile(self) -> Automation:
        trigger = self._trigger(self.data["trigger"], ("trigger",))
        condition = None
        if "condition" in self.data:
            condition = compile_expression(
                self.compiler, self.data["condition"], ("condition",), self.names
            )
        actions = self.actions(self.data["actions"], ("actions",))
        timing = Timing(self.data.get("timing", Timing.AFTER_SAVE))
        sets: tuple[FieldSet, ...] = ()
        if timing is Timing.IN_SAVE:
            if trigger.kind not in IN_SAVE_TRIGGERS:
                self.error(
                    ("trigger", "type"),
                    f"an in_save rule runs inside a create or an update; '{trigger.kind}' is "
                    "neither: give a created, updated or field_changed trigger, or leave "
                    "timing out",
                )
            sets = self._in_save_sets(self.data["actions"], ("actions",))
        return Automation(
            key=self.data["key"],
            label=label(self.data["label"]),
            form=self.form.key,
            trigger=trigger,
            actions=actions,
            condition=condition,
            enabled=self.data.get("enabled", True),
            timing=timing,
            sets=sets,
        )

    # in-save rules --------------------------------------------------------------------

    def _in_save_sets(
        self, items: Sequence[Mapping[str, Any]], path: PathKey
    ) -> tuple[FieldSet, ...]:
        """An in-save rule's actions as the record service runs them: each a ``set``, or an
        ``update_records`` of the rule's own record (``form`` its form, ``ids: id``) with
        ``values`` and ``map``; anything else acts beyond the record being saved, so it is
        refused where it is written (the ordinary checks have run on it already)."""
        sets = []
        for index, item in enumerate(items):
            where = (*path, index)
            if "set" in item:
                self._settable(item["set"], (*where, "set"), literal=True)
                sets.append(FieldSet(MappingProxyType(dict(item["set"])), MappingProxyType({})))
                continue
            given = item.get("params", {})
            if item["action"] != builtin.UPDATE_RECORDS or not isinstance(given, Mapping):
                self.error(
                    (*where, "action"),
                    f"an in_save rule only sets fields of the record being saved: use set, or "
                    f"update_records with form: {self.form.key} and ids: id (leave timing "
                    f"out to run '{item['action']}' after the save)",
                )
                continue
            if self._own_record(given, (*where, "params")):
                self._settable(given.get("values", {}), (*where, "params", "values"), literal=True)
                self._settable(given.get("map", {}), (*where, "params", "map"))
                sets.append(
                    FieldSet(
                        MappingProxyType(dict(given.get("values", {}))),
                        MappingProxyType(_compiled(self.compiler, given.get("map", {}))),
                    )
                )
        return tuple(sets)

    def _own_record(self, given: Mapping[str, Any], path: PathKey) -> bool:
        """Whether ``update_records``' parameters name the record being saved, and only
        give it values (``form`` the rule's own, ``ids: id``)."""
        fits = True
        for key in ("link", "linked_by", "owner", "cascade"):
            if key in given:
                self.error(
                    (*path, key),
                    f"an in_save rule sets fields of the record being saved; '{key}' reaches "
                    "other records (leave timing out to change them after the save)",
                    at_key=True,
                )
                fits = False
        if given.get("form", self.form.key) != self.form.key:
            self.error(
                (*path, "form"),
                f"an in_save rule sets fields of the record being saved, a '{self.form.key}'; "
                f"'{given['form']}' is another form (leave timing out to change other "
                "records after the save)",
            )
            fits = False
        if str(given.get("ids", "")).strip() != "id":
            self.error(
                (*path, "ids") if "ids" in given else path,
                "an in_save rule sets fields of the record being saved: give ids: id",
            )
            fits = False
        return fits

    def _settable(self, values: Mapping[str, Any], path: PathKey, *, literal: bool = False) -> None:
        """Refuse computed fields and subtables among the fields an in-save rule sets: the
        save works the first out itself, and the second are rows, not values. Literal
        values (``set``, ``values``) had their computed fields reported with the literal."""
        for key in values:
            if not self.form.has_field(key):
                continue  # reported already
            field = self.form.field(key)
            if field.is_computed or field.is_derived:
                if literal:
                    continue
                self.error(
                    (*path, key),
                    f"'{key}' is worked out by the save itself; a rule cannot set it",
                    at_key=True,
                )
            elif field.kind is ValueKind.ROWS:
                self.error(
                    (*path, key),
                    f"'{key}' is a subtable; an in_save rule sets values, not rows",
                    at_key=True,
                )

    # triggers -------------------------------------------------------------------------

    def _trigger(self, item: Mapping[str, Any], path: PathKey) -> Trigger:
        kind = TriggerType(item["type"])
        if kind in RECORD_TRIGGERS:
            return Trigger(kind)
        if kind is TriggerType.FIELD_CHANGED:
            return self._field_changed(item, path)
        if kind in (TriggerType.WORKFLOW_ENTERED, TriggerType.APPROVAL_ENDED):
            return self._workflow_trigger(kind, item, path)
        if kind is TriggerType.SCHEDULE:
            self._cron(item["cron"], (*path, "cron"))
            if "where" in item:
                self.check_filter(self.form, item["where"], (*path, "where"))
            return Trigger(kind, cron=item["cron"], where=_frozen(item.get("where")))
        return self._date_trigger(item, path)

    def _field_changed(self, item: Mapping[str, Any], path: PathKey) -> Trigger:
        fields = tuple(item["fields"])
        for index, key in enumerate(fields):
            self._field(self.form, key, (*path, "fields", index))
        values: dict[str, tuple[Any, ...] | None] = {"from": None, "to": None}
        for end in ("from", "to"):
            if end not in item:
                continue
            if len(fields) != 1:
                self.error((*path, end), f"'{end}' needs exactly one field in fields")
                continue
            given = item[end] if isinstance(item[end], list) else [item[end]]
            values[end] = tuple(given)
            if self.form.has_field(fields[0]):
                self._options(self.form.field(fields[0]).option_values, given, (*path, end))
        return Trigger(
            TriggerType.FIELD_CHANGED,
            fields=fields,
            from_values=values["from"],
            to_values=values["to"],
        )

    def _options(self, options: tuple[str, ...], given: list[Any], path: PathKey) -> None:
        if not options:
            return
        for index, value in enumerate(given):
            if value is not None and value not in options:
                where = (*path, index) if len(given) > 1 else path
                self.error(
                    where, f"{unknown('option', str(value), options)} ({', '.join(options)})"
                )

    def _workflow_trigger(
        self, kind: TriggerType, item: Mapping[str, Any], path: PathKey
    ) -> Trigger:
        key = item["workflow"]
        workflow = self.workflows.get(key)
        if workflow is None:
            self.error((*path, "workflow"), unknown("workflow", key, self.workflows))
        elif workflow.form != self.form.key:
            self.error(
                (*path, "workflow"),
                f"workflow '{key}' runs on form '{workflow.form}', not '{self.form.key}'",
            )
        elif "node" in item and item["node"] not in {node.key for node in workflow.nodes}:
            nodes = [node.key for node in workflow.nodes]
            self.error((*path, "node"), unknown("node", item["node"], nodes))
        elif "outcome" in item:
            outcomes = {node.outcome for node in workflow.nodes if isinstance(node, EndNode)}
            if item["outcome"] not in outcomes:
                self.error(
                    (*path, "outcome"),
                    f"{unknown('outcome', item['outcome'], outcomes)} (the end nodes give {', '.join(sorted(outcomes))})",
                )
        return Trigger(kind, workflow=key, node=item.get("node"), outcome=item.get("outcome"))

    def _date_trigger(self, item: Mapping[str, Any], path: PathKey) -> Trigger:
        key = item["field"]
        if self._field(self.form, key, (*path, "field")):
            field = self.form.field(key)
            if field.kind not in _DATE_KINDS:
                self.error(
                    (*path, "field"),
                    f"'{key}' is a {field.type} field; give a date or datetime field",
                )
        hours, minutes = (int(part) for part in item["at"].split(":"))
        offset = item.get("days_after", 0) - item.get("days_before", 0)
        return Trigger(
            TriggerType.DATE, date_field=key, offset_days=offset, at=time(hours, minutes)
        )

    def _cron(self, cron: str, path: PathKey) -> None:
        from formflow.jobs.schedule import Schedule, ScheduleError

        try:
            Schedule(cron, UTC)
        except ScheduleError as exc:
            self.error(path, str(exc))

    # actions --------------------------------------------------------------------------

    def actions(self, items: Sequence[Mapping[str, Any]], path: PathKey) -> tuple[ActionCall, ...]:
        """The compiled steps of ``items`` (at ``path``): ``set`` or a named action."""
        calls = []
        for index, item in enumerate(items):
            where = (*path, index)
            if "set" in item:
                for key, value in item["set"].items():
                    self._literal(self.form, key, value, (*where, "set", key))
                calls.append(ActionCall(SET_ACTION, MappingProxyType(dict(item["set"]))))
                continue
            name = item["action"]
            given = item.get("params", {})
            schema = self.compiler.context.actions.get(name)
            if schema is None:
                known = [SET_ACTION, *self.compiler.context.actions]
                self.error((*where, "action"), unknown("action", name, known))
            elif self._params_fit(schema, given, (*where, "params")):
                self._check_builtin(name, given, (*where, "params"))
            calls.append(ActionCall(name, _frozen(given)))
            if isinstance(given, Mapping) and isinstance(given.get("as"), str):
                self._named_result(given["as"], (*where, "params", "as"))
        return tuple(calls)

    def _named_result(self, name: str, path: PathKey) -> None:
        """Let the later actions read a created record's id as ``name``."""
        if name in self.names:
            self.error(path, f"'{name}' is already a name expressions read; choose another")
            return
        self.names = self.names | {name}

    def _params_fit(self, schema: Mapping[str, Any], given: Any, path: PathKey) -> bool:
        problems = sorted(
            Draft202012Validator(dict(schema)).iter_errors(given), key=lambda e: list(e.path)
        )
        for problem in problems:
            self.error((*path, *problem.absolute_path), f"parameter: {problem.message}")
        return not problems

    def _check_builtin(self, name: str, given: Mapping[str, Any], path: PathKey) -> None:
        if name == builtin.CREATE_RECORD:
            target = self._form(given["form"], (*path, "form"))
            if target is not None:
                self._mapped(target, given, path)
                for key, source in given.get("rows", {}).items():
                    if (
                        self._field(target, key, (*path, "rows", key))
                        and target.field(key).kind is not ValueKind.ROWS
                    ):
                        self.error((*path, "rows", key), f"'{key}' is not a subtable")
                    self._expression(source, (*path, "rows", key))
        elif name == builtin.UPDATE_RECORDS:
            self._check_update(given, path)
        elif name == builtin.WEBHOOK:
            self._template(given["body"], (*path, "body"))
        elif name == builtin.NOTIFY:
            for key in ("title", "body"):
                if isinstance(given.get(key), str):
                    self._template(given[key], (*path, key))
            environment = self.compiler.context.expressions.environment
            for key, message in hidden_from_told(self.form, environment, given):
                self.error((*path, key), message)

    def _check_update(self, given: Mapping[str, Any], path: PathKey) -> None:
        if "link" in given:
            if "form" in given:
                self.error((*path, "form"), "form comes from the link field; leave it out")
            target = None
            if self._field(self.form, given["link"], (*path, "link")):
                field = self.form.field(given["link"])
                if not field.is_link:
                    self.error((*path, "link"), f"'{field.key}' is not a link field")
                else:
                    target = self.forms.get(field.target_form or "")
        elif "form" not in given:
            self.error(path, "name the form of the records to change (form)")
            return
        else:
            target = self._form(given["form"], (*path, "form"))
            if target is not None and "linked_by" in given:
                key = given["linked_by"]
                if self._field(target, key, (*path, "linked_by")) and (
                    target.field(key).target_form != self.form.key
                ):
                    self.error(
                        (*path, "linked_by"),
                        f"'{key}' of '{target.key}' does not link to '{self.form.key}'",
                    )
            if "ids" in given:
                self._expression(given["ids"], (*path, "ids"))
        if target is not None:
            self._mapped(target, given, path, frozenset({TARGET}))
        if "owner" in given:
            self._expression(given["owner"], (*path, "owner"))
        elif "cascade" in given:
            self.error((*path, "cascade"), "cascade moves records with their owner; give owner")
        for index, step in enumerate(given.get("cascade", ())):
            where = (*path, "cascade", index)
            other = self._form(step["form"], (*where, "form"))
            if other is None:
                continue
            if (
                self._field(other, step["link"], (*where, "link"))
                and target is not None
                and other.field(step["link"]).target_form != target.key
            ):
                self.error(
                    (*where, "link"),
                    f"'{step['link']}' of '{other.key}' does not link to '{target.key}'",
                )
            if "where" in step:
                self.check_filter(other, step["where"], (*where, "where"))
            if "when" in step:
                self._expression(step["when"], (*where, "when"))

    def _mapped(
        self,
        target: Form,
        given: Mapping[str, Any],
        path: PathKey,
        more: frozenset[str] = frozenset(),
    ) -> None:
        """Check ``values`` and ``map`` against ``target``; ``map`` may also read ``more``."""
        for key, value in given.get("values", {}).items():
            self._literal(target, key, value, (*path, "values", key))
        for key, source in given.get("map", {}).items():
            self._field(target, key, (*path, "map", key), at_key=True)
            compile_expression(self.compiler, source, (*path, "map", key), self.names | more)

    # pieces ---------------------------------------------------------------------------

    def _form(self, key: str, path: PathKey) -> Form | None:
        return named_form(key, self.forms, self.compiler.context, self.error, path)

    def _field(self, form: Form, key: str, path: PathKey, *, at_key: bool = False) -> bool:
        if form.has_field(key):
            return True
        keys = [f.key for f in form.fields]
        message = f"unknown field '{key}' in form '{form.key}'{suggest(key, keys)}"
        self.error(path, message, at_key=at_key)
        return False

    def _literal(self, form: Form, key: str, value: Any, path: PathKey) -> None:
        """Check a literal value a step writes as the field will when the rule runs, so a
        misspelt option or a date that is no date is found before a run fails on it."""
        if not self._field(form, key, path, at_key=True):
            return
        field = form.field(key)
        if field.is_computed or field.is_derived:
            self.error(path, f"'{key}' is worked out by the save itself; a rule cannot set it")
            return
        if value is None or field.kind is ValueKind.ROWS or field.field_type.reference:
            return  # rows and ids are known only when the rule runs
        try:
            field.field_type.parse(field, value)
        except Invalid as exc:
            self.error(path, f"'{key}' cannot be set to {value!r}: {exc}")

    def _expression(self, source: str, path: PathKey) -> None:
        compile_expression(self.compiler, source, path, self.names)

    def _template(self, source: str, path: PathKey) -> None:
        environment = self.compiler.context.expressions.environment
        try:
            tree = environment.parse(source)
        except TemplateSyntaxError as exc:
            self.error(path, f"template does not parse: {exc.message} (line {exc.lineno})")
            return
        except (RecursionError, MemoryError):
            self.error(path, "template nests too deeply; split it up")
            return
        names = meta.find_undeclared_variables(tree) - environment.globals.keys()
        for name in sorted(names - self.names):
            self.error(path, f"template uses {unknown('name', name, self.names)}")

    def check_filter(self, form: Form, spec: Any, path: PathKey) -> None:
        """Report the fields a list filter names that ``form`` does not have."""
        for key in _filter_fields(spec):
            base = key.split(".", 1)[0]
            if base not in SYSTEM_FIELDS and not form.has_field(base):
                keys = [f.key for f in form.fields]
                self.error(
                    path,
                    f"filter: unknown field '{base}' in form '{form.key}'{suggest(base, keys)}",
                )


def _filter_fields(spec: Any) -> Iterator[str]:
    if isinstance(spec, Mapping):
        if isinstance(spec.get("field"), str):
            yield spec["field"]
        for key in ("and", "or"):
            for part in spec.get(key, ()) if isinstance(spec.get(key), list) else ():
                yield from _filter_fields(part)
        if "not" in spec:
            yield from _filter_fields(spec["not"])


def _compiled(compiler: DocumentCompiler, sources: Mapping[str, str]) -> dict[str, Expression]:
    """``map``'s expressions, compiled; one that does not parse has been reported already."""
    compiled = {}
    for key, source in sources.items():
        try:
            compiled[key] = compiler.context.expressions.compile(source)
        except ExpressionError:
            continue
    return compiled


def _frozen(value: Any) -> Any:
    """A parameter value nobody can change: mappings read-only, lists as tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A compiled (read-only) parameter value as plain dicts and lists again: what actions,
    filters and in-save rules are handed, the inverse of :func:`_frozen`."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value
