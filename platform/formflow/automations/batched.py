"""A timed rule's slice run as one batch, when its actions allow.

Most timed rules change the record they find and tell someone: a ``set`` of the found
record (or an ``update_records`` whose ``ids`` name it, as a pool's return rules re-own
the record), then ``notify`` actions. Run record by record, each run reads its record,
updates it, and writes its notification, each in a savepoint; for a slice of 500 that is
thousands of statements. Run as a batch, the slice's records are read in one query, the
condition is worked out on each, the records' updates go through
:meth:`~formflow.records.service.RecordService.update_many` (each checked as a single
update, as the engine with the action's fields granted, written together where the form
allows, else one by one), the notifications are rendered and written in one statement,
and the log rows in one more.

Every guarantee of the slice holds: one run per record and day (the run keys, checked
and written as before), a log row per record, the system actor's grant, a record whose
update is refused logged alone as failed while the others are done. A run whose
notification cannot be rendered would, alone, have its update rolled back with it: the
batch then keeps nothing and the slice runs record by record, each in its savepoint
(:data:`Again`), as it does when an ``update_records`` turns out to name records other
than the one found.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from formflow.actions import Action, ActionContext, ActionServices
from formflow.automations import log, params
from formflow.automations.actions import evaluate, field_values, update_records
from formflow.automations.model import Automation
from formflow.definitions.automations import TARGET, thaw
from formflow.errors import FormflowError
from formflow.expressions import ExpressionEngine
from formflow.notifications.action import Notice, Readers, notice, notify, notify_many
from formflow.notifications.service import Notifications
from formflow.records.access import Actor
from formflow.records.batch_update import read_current
from formflow.records.unit import UnitOfWork, unit_of_work
from formflow.records.updating import Change

if TYPE_CHECKING:
    from formflow.definitions.model import Form
    from formflow.records.service import Record, RecordService

SET = "set"
NOTIFY = params.NOTIFY
UPDATE_RECORDS = params.UPDATE_RECORDS


@dataclass(frozen=True)
class SetFound:
    """A ``set``: the same values for every record found; the actions after it read the
    record as updated."""

    values: Mapping[str, Any]

    def changes(self, run: _Run, _form: Form, _expressions: ExpressionEngine) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if run.record.get(k) != v}

    def granted(self, _form: Form) -> tuple[str, ...]:
        return tuple(self.values)

    def logged(self, form_key: str, run: _Run) -> dict[str, Any]:
        fields = sorted(run.changed or ())
        return {"action": SET, "form": form_key, "id": run.record_id, "fields": fields}

    reads_after = True


@dataclass(frozen=True)
class UpdateFound:
    """An ``update_records`` of the rule's own form whose ``ids`` name the record found
    (without ``cascade``): its values worked out on each record as the action does; the
    actions after it read the record as found, as they do after the action itself."""

    given: Mapping[str, Any]

    def changes(
        self, run: _Run, form: Form, expressions: ExpressionEngine
    ) -> dict[str, Any] | None:
        """What the action changes on ``run``'s record (``None``: its ``ids`` name no
        record); :class:`Again` when they name any other."""
        found = evaluate(expressions, self.given["ids"], run.names)
        items = [] if found is None else found if isinstance(found, list | tuple) else [found]
        targets = [int(item) for item in items if item is not None]
        if not targets:
            return None
        if targets != [run.record_id]:
            raise Again(f"update_records names records other than {run.record_id}")
        owner = evaluate(expressions, self.given["owner"], run.names) if self.owns else None
        values = field_values(expressions, self.given, {**run.names, TARGET: run.record})
        if self.owns:
            values[form.owner_field] = owner
        return {k: v for k, v in values.items() if run.record.get(k) != v}

    @property
    def owns(self) -> bool:
        return "owner" in self.given

    def granted(self, form: Form) -> tuple[str, ...]:
        keys = [*self.given.get("values", {}), *self.given.get("map", {})]
        return tuple(dict.fromkeys([*keys, form.owner_field] if self.owns else keys))

    def logged(self, form_key: str, run: _Run) -> dict[str, Any]:
        fields = sorted(run.changed or ())
        changed = [{"form": form_key, "id": run.record_id, "fields": fields}] if fields else []
        return {"action": UPDATE_RECORDS, "changed": changed}

    reads_after = False


@dataclass(frozen=True)
class Plan:
    """What a batchable rule does to each record: the change it makes to it (``None``:
    none), and the parameters of each of its ``notify`` actions, in order."""

    write: SetFound | UpdateFound | None
    notices: tuple[Mapping[str, Any], ...]


class Again(Exception):
    """A run of the batch failed where, alone, its update would have been rolled back
    with it (or the batch met what it does not do): the batch keeps nothing and the
    slice runs record by record."""


def plan(rule: Automation, actions: Mapping[str, Action]) -> Plan | None:
    """The rule's :class:`Plan` when its actions are at most one ``set``, or one built-in
    ``update_records`` of its own form by ``ids`` without ``cascade``, then only the
    built-in ``notify`` (not a plugin's replacement); else ``None``."""
    calls = list(rule.actions)
    if not calls:
        return None
    write: SetFound | UpdateFound | None = None
    first = calls[0]
    if first.name == SET:
        write = SetFound(thaw(first.params))
    elif first.name == UPDATE_RECORDS and _updates_found(rule, first.params, actions):
        write = UpdateFound(thaw(first.params))
    rest = calls[1:] if write is not None else calls
    if any(call.name != NOTIFY for call in rest):
        return None
    builtin = actions.get(NOTIFY)
    if rest and (builtin is None or builtin.run is not notify):
        return None
    return Plan(write, tuple(thaw(call.params) for call in rest))


def _updates_found(
    rule: Automation, given: Mapping[str, Any], actions: Mapping[str, Action]
) -> bool:
    """Whether an ``update_records`` can only change records of the rule's own form,
    named by ``ids`` (the batch checks each run's are the record found), with nothing
    to carry along."""
    builtin = actions.get(UPDATE_RECORDS)
    if builtin is None or builtin.run is not update_records:
        return False
    return "ids" in given and given.get("form") == rule.form and "cascade" not in given


@dataclass
class _Run:
    record_id: int
    start: log.RunStart
    began: float
    stored: Record
    record: Record
    names: dict[str, Any]
    changed: dict[str, Any] | None = None


def run_slice(
    records: RecordService,
    rule: Automation,
    found: Plan,
    starts: Mapping[int, log.RunStart],
    names_of: Callable[[Record], Mapping[str, Any]],
    *,
    expressions: ExpressionEngine,
    services: ActionServices,
) -> tuple[int, list[dict[str, Any]]]:
    """Run ``rule`` on the records of ``starts`` (record id: the run's start) as one
    batch in the open unit of work; ``names_of(record)`` is what the rule's expressions
    read of one. Returns how many runs did their work and the slice's log rows (the
    caller writes them). Raises :class:`Again` when the slice must run record by record."""
    form = records.app.form(rule.form)
    with unit_of_work(records.engine) as unit:
        connection = unit.connection
        stored = read_current(records, connection, form, list(starts))
        runs: list[_Run] = []
        rows: list[dict[str, Any]] = []
        for record_id, start in starts.items():
            began = clock.perf_counter()
            current = stored.get(record_id)
            if current is None:
                continue  # gone since it was found
            record = records._public(form, current)
            run = _Run(record_id, start, began, current, record, dict(names_of(record)))
            try:
                if rule.condition is not None and not rule.condition.evaluate(run.names):
                    continue
                if found.write is not None:
                    run.changed = found.write.changes(run, form, expressions)
            except FormflowError as exc:
                rows.append(log.run_row(start, log.ERROR, _ms(began), error=str(exc)))
                continue
            runs.append(run)
        done = _update(records, form, found, runs, rows)
        told = _tell(records, unit, rule, found, done, expressions, services)
        ran = 0
        for run, results in told:
            changes = [found.write.logged(rule.form, run)] if found.write is not None else []
            rows.append(log.run_row(run.start, log.DONE, _ms(run.began), [*changes, *results]))
            ran += 1
    return ran, rows


def _update(
    records: RecordService,
    form: Form,
    found: Plan,
    runs: list[_Run],
    rows: list[dict[str, Any]],
) -> list[_Run]:
    """Write the runs' changes to their records together; the runs whose update was
    refused are logged as failed in ``rows``, the others returned (with their records as
    updated, when the actions after read them so)."""
    changing = [run for run in runs if run.changed]
    if not changing:
        return runs
    assert found.write is not None
    batch = records.update_many(
        Actor.system(),
        form.key,
        [
            Change(run.record_id, run.changed or {}, int(run.stored["version"]), run.stored)
            for run in changing
        ],
        grant=found.write.granted(form),
    )
    refused = {changing[index].record_id: exc for index, exc in batch.refused.items()}
    updated = {changing[index].record_id: record for index, record in batch.updated.items()}
    done = []
    for run in runs:
        if run.record_id in refused:
            error = str(refused[run.record_id])
            rows.append(log.run_row(run.start, log.ERROR, _ms(run.began), error=error))
            continue
        if run.record_id in updated and found.write.reads_after:
            run.record = {**run.record, **updated[run.record_id]}
            run.names.update(run.record)
        done.append(run)
    return done


def _tell(
    records: RecordService,
    unit: UnitOfWork,
    rule: Automation,
    found: Plan,
    runs: list[_Run],
    expressions: ExpressionEngine,
    services: ActionServices,
) -> list[tuple[_Run, list[dict[str, Any]]]]:
    """Render each run's notices on its record as updated and write them together; each
    run with the results of its ``notify`` actions, in order."""
    if not found.notices:
        return [(run, []) for run in runs]
    told: list[tuple[ActionContext, Notice]] = []
    readers: Readers = {}  # each person's access read once for the slice
    for run in runs:
        for given in found.notices:
            context = services.lend(
                ActionContext(
                    records.app.key,
                    rule.form,
                    run.record,
                    None,
                    record_id=run.record_id,
                    records=records,
                    actor=Actor.system(),
                    unit=unit,
                    expressions=expressions,
                    names=run.names,
                    now=datetime.now(UTC),
                    source=rule.key,
                )
            )
            try:
                told.append((context, notice(context, given, readers)))
            except FormflowError as exc:
                raise Again(str(exc)) from exc
    notifications = services.notifications or Notifications(records.engine)
    results = notify_many(unit.connection, notifications, told)
    per_run = len(found.notices)
    return [
        (run, results[place * per_run : (place + 1) * per_run]) for place, run in enumerate(runs)
    ]


def _ms(began: float) -> int:
    return int((clock.perf_counter() - began) * 1000)
