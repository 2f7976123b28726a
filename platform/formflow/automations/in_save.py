"""In-save rules: automations that set fields of the record being saved, inside its save.

A rule with ``timing: in_save`` is not an outbox subscriber. The record service runs it
while it works out a create or an update, so the record is written once, in one
transaction, with the values the rule gives; nobody (no reader, no event, no other rule)
ever sees it without them, and the save pays for no second write and no delivery.

The order, for every path that saves a record (pages, the API, imports, other
automations, workflows):

1. the caller's values are converted and checked, defaults, filled-in values and derived
   values (formulas, roll-ups, lookups) worked out, and fields the caller may not set
   refused, as for any save;
2. the form's in-save rules run in key order on that record: each whose trigger the save
   matches (created; updated; field_changed on the fields the caller's change moves) and
   whose condition holds sets its fields, and the later rules read what the earlier set;
3. if they set anything, the record is worked out again with their values on top of the
   caller's (so formulas that read a field a rule set are right), and every remaining
   check (required fields, options, references, uniqueness, plugins' before-hooks) runs
   on the final values. Only what reads the fields they set is worked out again (their
   values converted and checked, and the formulas and conditions when one reads them:
   :meth:`~formflow.records.submission.Preparer.again`), so a rule that stamps a field
   costs that field, not the record.

Rules run once per save: what a rule sets sets off no in-save rule again. Their values are
set with the engine's grant, so a rule may set a readonly field the caller may not. A rule
that fails (an expression that fails, a value that does not fit) refuses the whole save
with :class:`~formflow.errors.InSaveRuleFailed`; nothing is written. Each rule that ran
leaves its row in the automations' run log, in the save's transaction.
"""

from __future__ import annotations

import time as clock
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from formflow.automations import log
from formflow.automations.model import Automation, TriggerType, among
from formflow.definitions.automations import thaw
from formflow.definitions.model import App, Form
from formflow.errors import FormflowError, InSaveRuleFailed, ValidationFailed
from formflow.records.compute import Context
from formflow.records.submission import Prepared, Preparer
from formflow.records.unit import insert_rows
from formflow.storage.platform_tables import automation_runs

TARGET = "target"
"""``update_records``' name for the record it changes: here, the record being saved."""


@dataclass(frozen=True)
class InSaveRun:
    """One rule that ran in a save: the fields whose values it changed."""

    rule: Automation
    fields: tuple[str, ...]
    started_at: datetime
    duration_ms: int


@dataclass(frozen=True)
class Ruled:
    """What the in-save rules did to one save: the values they set (by field) and who set
    each, and the runs to log once the record has its id."""

    values: Mapping[str, Any]
    setters: Mapping[str, str]
    runs: tuple[InSaveRun, ...]


NOTHING = Ruled({}, {}, ())


class InSaveRules:
    """The in-save rules of one app, by form, in the order they run (their keys')."""

    def __init__(self, app: App) -> None:
        self.app_key = app.key
        by_form: dict[str, list[Automation]] = {}
        for rule in sorted(app.automations.values(), key=lambda rule: rule.key):
            if rule.in_save and rule.enabled:
                by_form.setdefault(rule.form, []).append(rule)
        self._by_form = {key: tuple(rules) for key, rules in by_form.items()}
        self._forms = app.forms

    def on_updates(self, form_key: str, given: Collection[str]) -> bool:
        """Whether an update of ``form_key``'s records giving the fields ``given`` may set
        off one of its rules (so a batch of such updates cannot be worked out without
        them): an updated rule always, a field_changed one when it watches a given field
        or one the engine works out (a formula, roll-up, lookup or filled-in value)."""
        form = self._forms[form_key]
        for rule in self._by_form.get(form_key, ()):
            if rule.trigger.kind is TriggerType.UPDATED:
                return True
            if rule.trigger.kind is TriggerType.FIELD_CHANGED and any(
                key in given or _worked_out(form, key) for key in rule.trigger.fields
            ):
                return True
        return False

    def apply(
        self,
        form_key: str,
        prepared: Prepared,
        context: Context,
        preparer: Preparer,
        *,
        before: Mapping[str, Any] | None = None,
        before_rows: Mapping[str, Any] | None = None,
    ) -> tuple[Prepared, Ruled]:
        """Run the rules of ``form_key`` on a save ``preparer`` worked out as ``prepared``
        (``before``/``before_rows``: the record an update changes, ``None`` for a
        create). Returns the save's values worked out again with those the rules set on
        top of the caller's (:meth:`Preparer.again`: only what reads them), or
        ``prepared`` itself when they set nothing, and what they did."""
        rules = self._by_form.get(form_key)
        if not rules:
            return prepared, NOTHING
        record = {**(before or {}), **(before_rows or {}), **prepared.values, **prepared.rows}
        record.update(context.system_values(before))
        changed: Collection[str] = ()
        if before is not None:
            kept_rows = before_rows or {}
            changed = {k for k, v in prepared.values.items() if before.get(k) != v} | {
                k for k, v in prepared.rows.items() if kept_rows.get(k, []) != v
            }
        ruled = self._run(rules, record, context, before, changed)
        if not ruled.values:
            return prepared, ruled
        try:
            return preparer.again(self._forms[form_key], prepared, ruled.values, context), ruled
        except ValidationFailed as exc:
            setters = sorted({ruled.setters[key] for key in exc.problems if key in ruled.setters})
            if not setters:
                raise
            raise InSaveRuleFailed(", ".join(setters), str(exc)) from None

    def _run(
        self,
        rules: tuple[Automation, ...],
        record: dict[str, Any],
        context: Context,
        before: Mapping[str, Any] | None,
        changed: Collection[str],
    ) -> Ruled:
        old = {key: (before or {}).get(key) for key in changed}
        values: dict[str, Any] = {}
        setters: dict[str, str] = {}
        runs = []
        for rule in rules:
            if not _fires(rule, before, record, changed):
                continue
            started_at, began = datetime.now(UTC), clock.perf_counter()
            given = _given(rule, {**record, **context.names, "old": old, TARGET: record})
            if given is None:
                continue
            moved = tuple(sorted(key for key, value in given.items() if record.get(key) != value))
            record.update(given)
            values.update(given)
            setters.update(dict.fromkeys(given, rule.key))
            runs.append(InSaveRun(rule, moved, started_at, _ms(began)))
        return Ruled(values, setters, tuple(runs))

    def log(
        self,
        connection: Connection,
        form_key: str,
        record_ids: Collection[int],
        version: int,
        runs: Collection[tuple[InSaveRun, ...]],
    ) -> None:
        """Log the runs of the saves of ``record_ids`` (each record's runs, in the same
        order), which left them at ``version``, in one statement in the save's
        transaction: a refused save logs nothing, a committed one its runs. In a unit of
        work the rows are kept back until its commit (on PostgreSQL the audit chain's
        statement carries them: no statement of their own)."""
        rows = []
        for record_id, record_runs in zip(record_ids, runs, strict=True):
            for run in record_runs:
                start = log.RunStart(
                    app_key=self.app_key,
                    automation_key=run.rule.key,
                    trigger=f"{run.rule.trigger.describe()} in_save",
                    form_key=form_key,
                    record_id=record_id,
                    event_id=None,
                    run_key=f"in_save:{self.app_key}:{run.rule.key}:{form_key}:{record_id}:{version}",
                    depth=0,
                    started_at=run.started_at,
                )
                change = {"action": "set", "form": form_key, "id": record_id}
                rows.append(
                    log.run_row(
                        start, log.DONE, run.duration_ms, [{**change, "fields": list(run.fields)}]
                    )
                )
        insert_rows(connection, automation_runs, rows)


def _fires(
    rule: Automation,
    before: Mapping[str, Any] | None,
    record: Mapping[str, Any],
    changed: Collection[str],
) -> bool:
    """Whether a save sets ``rule`` off: a create its created trigger, an update its
    updated trigger, or its field_changed one when the change moves one of its fields
    (from and to the values it names)."""
    trigger = rule.trigger
    if before is None:
        return trigger.kind is TriggerType.CREATED
    if trigger.kind is TriggerType.UPDATED:
        return True
    if trigger.kind is not TriggerType.FIELD_CHANGED:
        return False
    if not any(key in changed for key in trigger.fields):
        return False
    key = trigger.fields[0]
    return among(before.get(key), trigger.from_values) and among(record.get(key), trigger.to_values)


def _given(rule: Automation, names: dict[str, Any]) -> dict[str, Any] | None:
    """The values ``rule`` sets (``None``: its condition does not hold); a later action
    reads what an earlier one set."""
    try:
        if rule.condition is not None and not rule.condition.evaluate(names):
            return None
        given: dict[str, Any] = {}
        for step in rule.sets:
            found = {key: thaw(value) for key, value in step.values.items()}
            for key, expression in step.expressions.items():
                found[key] = expression.evaluate(names)
            given.update(found)
            names.update(found)
            names[TARGET] = {**names[TARGET], **found}
    except FormflowError as exc:
        raise InSaveRuleFailed(rule.key, str(exc)) from None
    return given


def _ms(began: float) -> int:
    return int((clock.perf_counter() - began) * 1000)


def _worked_out(form: Form, key: str) -> bool:
    """Whether the engine sets ``key`` of ``form`` as a save is worked out (not only the
    person saving)."""
    if not form.has_field(key):
        return True
    field = form.field(key)
    return field.is_computed or field.filled_from is not None
