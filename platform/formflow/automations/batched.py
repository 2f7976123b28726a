"""A timed rule's slice run as one batch, when its actions allow.

Most timed rules flag the record they find and tell someone: a ``set`` of the found
record, then ``notify`` actions. Run record by record, each run reads its record, updates
it, and writes its notification, each in a savepoint; for a slice of 500 that is
thousands of statements. Run as a batch, the slice's records are read in one query, the
condition is worked out on each, the records' updates go through
:meth:`~formflow.records.service.RecordService.update_many` (each checked as a single
update, as the engine with the ``set``'s fields granted, written together), the
notifications are rendered from each record as updated and written in one statement, and
the log rows in one more.

Every guarantee of the slice holds: one run per record and day (the run keys, checked
and written as before), a log row per record, the system actor's grant, a record whose
update is refused logged alone as failed while the others are done. A run whose
notification cannot be rendered would, alone, have its update rolled back with it: the
batch then keeps nothing and the slice runs record by record, each in its savepoint
(:data:`Again`).
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from formflow.actions import Action, ActionContext, ActionServices
from formflow.automations import log
from formflow.automations.model import Automation
from formflow.definitions.automations import thaw
from formflow.errors import FormflowError
from formflow.expressions import ExpressionEngine
from formflow.notifications.action import Notice, notice, notify, notify_many
from formflow.notifications.service import Notifications
from formflow.records.access import Actor
from formflow.records.batch_update import read_current
from formflow.records.unit import UnitOfWork, unit_of_work
from formflow.records.updating import Change

if TYPE_CHECKING:
    from formflow.records.service import Record, RecordService

SET = "set"
NOTIFY = "notify"


@dataclass(frozen=True)
class Plan:
    """What a batchable rule does to each record: the values its ``set`` gives (``None``:
    no ``set``), and the parameters of each of its ``notify`` actions, in order."""

    values: Mapping[str, Any] | None
    notices: tuple[Mapping[str, Any], ...]


class Again(Exception):
    """A run of the batch failed where, alone, its update would have been rolled back
    with it: the batch keeps nothing and the slice runs record by record."""


def plan(rule: Automation, actions: Mapping[str, Action]) -> Plan | None:
    """The rule's :class:`Plan` when its actions are at most one ``set`` then only the
    built-in ``notify`` (not a plugin's replacement); else ``None``."""
    calls = list(rule.actions)
    sets = [call for call in calls if call.name == SET]
    if len(sets) > 1 or (sets and calls[0].name != SET) or not calls:
        return None
    rest = calls[1:] if sets else calls
    builtin = actions.get(NOTIFY)
    if rest and (builtin is None or builtin.run is not notify):
        return None
    if any(call.name != NOTIFY for call in rest):
        return None
    values = thaw(sets[0].params) if sets else None
    return Plan(values, tuple(thaw(call.params) for call in rest))


@dataclass
class _Run:
    record_id: int
    start: log.RunStart
    began: float
    stored: Record
    record: Record
    names: dict[str, Any]
    changed: dict[str, Any] | None


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
            names = dict(names_of(record))
            try:
                if rule.condition is not None and not rule.condition.evaluate(names):
                    continue
            except FormflowError as exc:
                rows.append(log.run_row(start, log.ERROR, _ms(began), error=str(exc)))
                continue
            changed = None
            if found.values is not None:
                changed = {k: v for k, v in found.values.items() if record.get(k) != v}
            runs.append(_Run(record_id, start, began, current, record, names, changed))
        done = _update(records, rule, found, runs, rows)
        told = _tell(records, unit, rule, found, done, expressions, services)
        ran = 0
        for run, results in told:
            changes = [_set_change(rule, run)] if run.changed is not None else []
            rows.append(log.run_row(run.start, log.DONE, _ms(run.began), [*changes, *results]))
            ran += 1
    return ran, rows


def _update(
    records: RecordService,
    rule: Automation,
    found: Plan,
    runs: list[_Run],
    rows: list[dict[str, Any]],
) -> list[_Run]:
    """Set the values on the runs' records together; the runs whose update was refused
    are logged as failed in ``rows``, the others returned with their records as updated."""
    changing = [run for run in runs if run.changed]
    if not changing:
        return runs
    assert found.values is not None
    batch = records.update_many(
        Actor.system(),
        rule.form,
        [
            Change(run.record_id, run.changed or {}, int(run.stored["version"]), run.stored)
            for run in changing
        ],
        grant=tuple(found.values),
    )
    refused = {changing[index].record_id: exc for index, exc in batch.refused.items()}
    updated = {changing[index].record_id: record for index, record in batch.updated.items()}
    done = []
    for run in runs:
        if run.record_id in refused:
            error = str(refused[run.record_id])
            rows.append(log.run_row(run.start, log.ERROR, _ms(run.began), error=error))
            continue
        if run.record_id in updated:
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
                told.append((context, notice(context, given)))
            except FormflowError as exc:
                raise Again(str(exc)) from exc
    notifications = services.notifications or Notifications(records.engine)
    results = notify_many(unit.connection, notifications, told)
    per_run = len(found.notices)
    return [
        (run, results[place * per_run : (place + 1) * per_run]) for place, run in enumerate(runs)
    ]


def _set_change(rule: Automation, run: _Run) -> dict[str, Any]:
    return {
        "action": SET,
        "form": rule.form,
        "id": run.stored["id"],
        "fields": sorted(run.changed or ()),
    }


def _ms(began: float) -> int:
    return int((clock.perf_counter() - began) * 1000)
