"""Running automations: an outbox subscriber for events, a clock for schedules and dates.

Every committed change reaches :meth:`Automations.handle` through the events relay (a job
on the queue once :class:`~formflow.jobs.Jobs` runs it); each rule of the record's form
whose trigger matches the event, and whose condition holds, runs its actions as the engine
in one unit of work, which also writes the run's log row under a key made of the event's
idempotency key and the rule. The relay hands an event over at least once; the key makes
every further hand-over find the work done, so each rule runs once in effect per event.

:meth:`Automations.tick` runs every minute (a periodic job, read on the instance's clock):
schedule rules whose cron names this minute run for each record their filter finds, and
date rules whose time of day it is run for each record whose date field is that many days
away, found by an indexed query on the field; their keys name the minute and the day.

An automation's writes are events too, marked with the rule and a depth one more than the
event that set it off: a rule that sets itself off again, directly or through others, is
stopped at :data:`MAX_DEPTH` with a log entry saying so.
"""

from __future__ import annotations

import logging
import time as clock
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from formflow.actions import Action, ActionContext, ActionError, ActionServices
from formflow.automations import batched, log
from formflow.automations.model import TIMED_TRIGGERS, Automation, Trigger, TriggerType, among
from formflow.automations.webhooks import WebhookFailed, send, untried_calls
from formflow.config import IPNetwork
from formflow.definitions.automations import thaw
from formflow.definitions.model import App, SortKey
from formflow.errors import FormflowError
from formflow.events import Event, EventKind
from formflow.events.outbox import Check, caused_by
from formflow.expressions import ExpressionEngine
from formflow.fields import ValueKind
from formflow.jobs.schedule import Schedule
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.records.service import Record, RecordService
from formflow.records.unit import UnitOfWork, current_unit, unit_of_work
from formflow.storage.database import read_transaction, write_transaction

logger = logging.getLogger(__name__)

SUBSCRIBER = "automations"
"""The automations' name among the outbox's subscribers."""
MAX_DEPTH = 5
"""How many automations may set each other off in a chain before the next is stopped."""
PAGE = 500
"""How many records a timed rule reads at a time (by keyset on its index)."""

_KINDS = {
    TriggerType.CREATED: EventKind.CREATED,
    TriggerType.UPDATED: EventKind.UPDATED,
    TriggerType.DELETED: EventKind.DELETED,
    TriggerType.RESTORED: EventKind.RESTORED,
}


@dataclass(frozen=True)
class _Subject:
    """The record a run acts on, and what its expressions read."""

    record_id: int | None
    record: Record
    names: dict[str, Any]
    user_id: int | None
    fresh: bool = False
    """Whether ``record`` was read in the run's own unit of work (so that a ``set`` need
    not read it again)."""


class Automations:
    """Runs the automations of every app of an instance."""

    def __init__(
        self,
        engine: Engine,
        records_of: Callable[[str], RecordService],
        app_keys: Callable[[], Iterable[str]],
        *,
        actions: Mapping[str, Action],
        expressions: ExpressionEngine,
        timezone: tzinfo,
        max_depth: int = MAX_DEPTH,
        plugin_settings: Callable[[str], Mapping[str, str]] | None = None,
        webhook_networks: Collection[IPNetwork] = (),
    ) -> None:
        self.engine = engine
        self.records_of = records_of
        self.app_keys = app_keys
        self.actions = dict(actions)
        self.expressions = expressions
        self.timezone = timezone
        self.max_depth = max_depth
        self.services = ActionServices(plugin_settings=plugin_settings)
        """What actions are lent (where ``notify`` tells people, the plugins' job queue):
        the instance sets it."""
        self.page = PAGE
        """How many records a timed rule reads at a time."""
        self.webhook_networks = tuple(webhook_networks)
        """Private networks webhooks may be sent to besides the internet."""
        self.send_webhook: Callable[[int], object] = self._send_now
        """Called with a webhook call's id once the run that queued it committed; a job
        on the queue once :func:`formflow.automations.jobs.attach` takes it over."""

    # events ---------------------------------------------------------------------------

    def handle(self, event: Event, key: str) -> None:
        """The outbox subscriber: run the rules ``event`` sets off (idempotent on ``key``)."""
        records = self._records(event.app_key)
        if records is None:
            return
        for rule in _rules(records, event.form_key):
            if matches(rule.trigger, event):
                subject = self._event_subject(records, rule, event)
                start = self._start(records, rule, subject, f"{key}:{rule.key}", event.depth)
                self._run(records, rule, subject, start, event_id=event.id)

    def __call__(self, event: Event, key: str) -> None:
        """The relay calls the automations by themselves (see :meth:`handle`)."""
        self.handle(event, key)

    def handle_many(self, deliveries: Sequence[tuple[Event, str]]) -> None:
        """The relay's round of events at once (:class:`~formflow.events.BatchSubscriber`):
        the runs they set off, as :meth:`handle` runs them, in one unit of work rather than
        one each, their run keys looked up in one query and their log rows written in one
        statement as it commits. Each run acts in a savepoint of its own, so a rule's error
        is logged on its event alone and the others' work stays. Any other error (the
        database's, a run key another process took meanwhile) leaves nothing of the round,
        and raises: the relay then hands the events on one at a time through
        :meth:`handle`, and only the event that fails again backs off."""
        planned = [
            (records, rule, event, f"{key}:{rule.key}")
            for event, key in deliveries
            if (records := self._records(event.app_key)) is not None
            for rule in _rules(records, event.form_key)
            if matches(rule.trigger, event)
        ]
        if not planned:
            return
        sent: list[int] = []
        with unit_of_work(self.engine) as unit:
            done = log.done_keys(unit.connection, [run_key for *_, run_key in planned])
            rows: list[dict[str, Any]] = []
            for records, rule, event, run_key in planned:
                if run_key[:300] not in done:
                    row = self._run_in(unit, records, rule, event, run_key)
                    if row is not None:
                        rows.append(row)
                        sent.extend(_webhooks(row["changes"]))
            log.write_runs(unit.connection, rows)
        for call_id in sent:
            self._after_commit_send(call_id)

    def _run_in(
        self, unit: UnitOfWork, records: RecordService, rule: Automation, event: Event, key: str
    ) -> dict[str, Any] | None:
        """Run ``rule`` for ``event`` in a savepoint of ``unit`` (see :meth:`handle_many`);
        its log row, or ``None`` when its condition does not hold."""
        began = clock.perf_counter()
        subject = self._event_subject(records, rule, event)
        start = replace(self._start(records, rule, subject, key, event.depth), event_id=event.id)
        if start.depth >= self.max_depth:
            error = _stopped(rule.key, start.depth)
            logger.warning("automation %r: %s", rule.key, error)
            return log.run_row(start, log.STOPPED, _ms(began), error=error)
        try:
            if rule.condition is not None and not rule.condition.evaluate(subject.names):
                return None
            with (
                unit.connection.begin_nested(),
                caused_by({"automation": rule.key, "depth": start.depth + 1}),
            ):
                changes = self._act(records, rule, subject, unit)
        except FormflowError as exc:
            logger.warning("automation %r: %s", rule.key, exc)
            return log.run_row(start, log.ERROR, _ms(began), error=str(exc))
        return log.run_row(start, log.DONE, _ms(began), changes)

    def _event_subject(self, records: RecordService, rule: Automation, event: Event) -> _Subject:
        """The record ``event`` is about, as stored now (read in the open unit of work
        when there is one, so that a ``set`` need not read it again), else as the event
        carries it."""
        record: Record | None = None
        if event.kind is not EventKind.DELETED:
            record = records.stored(rule.form, event.record_id)
        unit = current_unit()
        fresh = record is not None and unit is not None and unit.engine is records.engine
        if record is None:
            record = {**event.record}
        form = records.app.form(rule.form)
        old = {
            key: records.read_value(form.field(key), before) if form.has_field(key) else before
            for key, (before, _after) in event.changes.items()
        }
        names = self._names(record, old, event.user_id)
        return _Subject(event.record_id, record, names, event.user_id, fresh=fresh)

    # the clock ------------------------------------------------------------------------

    def tick(self, minute: datetime | None = None) -> int:
        """Run the schedule and date rules due in ``minute`` (default: this one, UTC), and
        send the webhook calls nobody tried; returns how many runs did their work."""
        moment = (minute or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
        ran = 0
        for app_key in list(self.app_keys()):
            records = self._records(app_key)
            if records is None:
                continue
            for rule in sorted(records.app.automations.values(), key=lambda r: r.key):
                if not rule.enabled:
                    continue
                if rule.trigger.kind is TriggerType.SCHEDULE and self._due(rule.trigger, moment):
                    ran += self._sweep(records, rule, moment, None)
                elif rule.trigger.kind is TriggerType.DATE and self._due(rule.trigger, moment):
                    day = moment.astimezone(self.timezone).date()
                    ran += self._sweep(records, rule, moment, day)
        for call_id in untried_calls(self.engine, moment - timedelta(minutes=1)):
            self._after_commit_send(call_id)
        return ran

    def sweep(self, app_key: str, rule_key: str, minute: datetime) -> int:
        """Run one schedule or date rule as the clock does when it is due at ``minute``
        (due or not): the sweep of one rule alone, as a benchmark times it. Returns how
        many runs did their work; a record it already ran on for that day (or minute) is
        skipped, as on the clock."""
        records = self._records(app_key)
        rule = None if records is None else records.app.automations.get(rule_key)
        if records is None or rule is None or rule.trigger.kind not in TIMED_TRIGGERS:
            raise ActionError(f"no schedule or date rule '{rule_key}' in app '{app_key}'")
        moment = minute.astimezone(UTC).replace(second=0, microsecond=0)
        if rule.trigger.kind is TriggerType.SCHEDULE:
            return self._sweep(records, rule, moment, None)
        return self._sweep(records, rule, moment, moment.astimezone(self.timezone).date())

    def preview(self, app_key: str, rule_key: str, day: date) -> list[Record]:
        """The records a date rule would run on at its time on ``day`` (those its condition
        holds for now), found as its run finds them, changing nothing: what the next sweep
        would do, for a manager to see before it does."""
        records = self._records(app_key)
        rule = None if records is None else records.app.automations.get(rule_key)
        if records is None or rule is None or rule.trigger.kind is not TriggerType.DATE:
            raise ActionError(f"no date rule '{rule_key}' in app '{app_key}'")
        assert rule.trigger.at is not None
        moment = datetime.combine(day, rule.trigger.at, self.timezone).astimezone(UTC)
        target = day - timedelta(days=rule.trigger.offset_days)
        spec = self._on_day(records, rule, target)
        sort = (SortKey(str(rule.trigger.date_field)), SortKey("id"))
        found = []
        for record in chain.from_iterable(_slices(records, rule.form, spec, sort, self.page)):
            names = self._names(record, {}, None, moment)
            if rule.condition is None or rule.condition.evaluate(names):
                found.append(record)
        return found

    def _due(self, trigger: Trigger, moment: datetime) -> bool:
        if trigger.kind is TriggerType.SCHEDULE:
            cron = str(trigger.cron)
        else:
            assert trigger.at is not None
            cron = f"{trigger.at.minute} {trigger.at.hour} * * *"
        return Schedule(cron, self.timezone).due(moment)

    def _sweep(
        self, records: RecordService, rule: Automation, moment: datetime, day: date | None
    ) -> int:
        """Run a timed rule for each record it finds: on ``day`` (a date rule), the records
        whose date field falls ``offset_days`` away, by an indexed query on it."""
        ran = 0
        if day is None:
            spec, sort, stamp = thaw(rule.trigger.where), None, moment.isoformat()
        else:
            target = day - timedelta(days=rule.trigger.offset_days)
            spec = self._on_day(records, rule, target)
            sort = (SortKey(str(rule.trigger.date_field)), SortKey("id"))
            stamp = target.isoformat()
        for found in _slices(records, rule.form, spec, sort, self.page):
            keys = {
                int(record["id"]): f"{rule.trigger.kind}:{records.app.key}:{rule.key}:"
                f"{stamp}:{record['id']}"
                for record in found
            }
            ran += self._run_slice(records, rule, moment, keys)
        return ran

    def _run_slice(
        self, records: RecordService, rule: Automation, moment: datetime, keys: dict[int, str]
    ) -> int:
        """Run a timed rule on one slice of the records it found (record id: run key), in
        one unit of work: the slice's run keys checked in one query, each record's run in a
        savepoint of its own (a run that fails leaves the others' work), and their log rows
        written in one statement as the unit commits. Should the unit fail as a whole (a
        run's error that is not the rule's, or a run key another process took meanwhile),
        nothing of it stays and the records run one at a time, as an event's runs do."""
        with read_transaction(self.engine) as connection:
            done = log.done_keys(connection, list(keys.values()))
        due = {record_id: key for record_id, key in keys.items() if key[:300] not in done}
        if not due:
            return 0
        if self.max_depth <= 0:
            return self._run_each(records, rule, moment, due)
        found = batched.plan(rule, self.actions)
        if found is not None:
            try:
                return self._run_batched(records, rule, moment, due, found)
            except batched.Again:
                pass  # a run alone would roll its update back: record by record, below
            except Exception:
                logger.info("automation %r: a batch failed as a whole; one by one", rule.key)
                return self._run_each(records, rule, moment, due)
        ran = 0
        sent: list[int] = []
        try:
            with (
                unit_of_work(self.engine) as unit,
                caused_by({"automation": rule.key, "depth": 1}),
            ):
                rows: list[dict[str, Any]] = []
                for record_id, run_key in due.items():
                    began = clock.perf_counter()
                    subject = self._timed_subject(records, rule, moment, record_id)
                    if subject is None:
                        continue
                    start = self._start(records, rule, subject, run_key, 0)
                    try:
                        if rule.condition is not None and not rule.condition.evaluate(
                            subject.names
                        ):
                            continue
                        with unit.connection.begin_nested():
                            changes = self._act(records, rule, subject, unit)
                    except FormflowError as exc:
                        logger.warning("automation %r: %s", rule.key, exc)
                        rows.append(log.run_row(start, log.ERROR, _ms(began), error=str(exc)))
                        continue
                    rows.append(log.run_row(start, log.DONE, _ms(began), changes))
                    sent.extend(int(c["webhook"]) for c in changes if "webhook" in c)
                    ran += 1
                log.write_runs(unit.connection, rows)
        except Exception:  # nothing of the slice stays: run it record by record
            logger.info("automation %r: a slice failed as a whole; running it one by one", rule.key)
            return self._run_each(records, rule, moment, due)
        for call_id in sent:
            self._after_commit_send(call_id)
        return ran

    def _run_batched(
        self,
        records: RecordService,
        rule: Automation,
        moment: datetime,
        due: dict[int, str],
        found: batched.Plan,
    ) -> int:
        """Run a rule whose actions allow it on a slice as one batch (see
        :mod:`formflow.automations.batched`), its log rows written as the unit commits."""
        starts = {
            record_id: self._start(records, rule, _Subject(record_id, {}, {}, None), key, 0)
            for record_id, key in due.items()
        }
        with (
            unit_of_work(self.engine) as unit,
            caused_by({"automation": rule.key, "depth": 1}),
        ):
            ran, rows = batched.run_slice(
                records,
                rule,
                found,
                starts,
                lambda record: self._names(record, {}, None, moment),
                expressions=self.expressions,
                services=self.services,
            )
            log.write_runs(unit.connection, rows)
        return ran

    def _run_each(
        self, records: RecordService, rule: Automation, moment: datetime, due: dict[int, str]
    ) -> int:
        """Run a timed rule on each record of ``due`` in a unit of work of its own."""
        ran = 0
        for record_id, run_key in due.items():
            subject = self._timed_subject(records, rule, moment, record_id)
            if subject is not None:
                start = self._start(records, rule, subject, run_key, 0)
                ran += self._run(records, rule, subject, start, event_id=None)
        return ran

    def _timed_subject(
        self, records: RecordService, rule: Automation, moment: datetime, record_id: int
    ) -> _Subject | None:
        """The record a timed rule runs on, as stored now (``None``: gone since found)."""
        record = records.stored(rule.form, record_id)
        if record is None:
            return None
        names = self._names(record, {}, None, moment)
        return _Subject(record["id"], record, names, None, fresh=current_unit() is not None)

    def _on_day(self, records: RecordService, rule: Automation, day: date) -> dict[str, Any]:
        key = str(rule.trigger.date_field)
        if records.app.form(rule.form).field(key).kind is ValueKind.DATE:
            return {"field": key, "op": "eq", "value": day.isoformat()}
        start = datetime.combine(day, datetime.min.time(), self.timezone)
        end = start + timedelta(days=1)
        return {
            "and": [
                {"field": key, "op": "gte", "value": start.isoformat()},
                {"field": key, "op": "lt", "value": end.isoformat()},
            ]
        }

    # one run --------------------------------------------------------------------------

    def _start(
        self, records: RecordService, rule: Automation, subject: _Subject, run_key: str, depth: int
    ) -> log.RunStart:
        return log.RunStart(
            app_key=records.app.key,
            automation_key=rule.key,
            trigger=rule.trigger.describe(),
            form_key=rule.form,
            record_id=subject.record_id,
            event_id=None,
            run_key=run_key,
            depth=depth,
            started_at=datetime.now(UTC),
        )

    def _run(
        self,
        records: RecordService,
        rule: Automation,
        subject: _Subject,
        start: log.RunStart,
        *,
        event_id: int | None,
    ) -> int:
        """Run ``rule`` once for ``subject``; returns 1 if it did its work now."""
        start = replace(start, event_id=event_id)
        began = clock.perf_counter()
        with read_transaction(self.engine) as connection:
            if log.is_done(connection, start.run_key):
                return 0
        if start.depth >= self.max_depth:
            self._failed(start, began, log.STOPPED, _stopped(rule.key, start.depth))
            return 0
        try:
            if rule.condition is not None and not rule.condition.evaluate(subject.names):
                return 0
            with (
                unit_of_work(self.engine) as unit,
                caused_by({"automation": rule.key, "depth": start.depth + 1}),
            ):
                changes = self._act(records, rule, subject, unit)
                log.write_run(
                    unit.connection,
                    start,
                    status=log.DONE,
                    duration_ms=_ms(began),
                    changes=changes,
                )
        except IntegrityError:
            with read_transaction(self.engine) as connection:
                if log.is_done(connection, start.run_key):
                    return 0  # another process ran it at the same moment
            raise
        except FormflowError as exc:
            self._failed(start, began, log.ERROR, str(exc))
            return 0
        except Exception as exc:
            self._failed(start, began, log.ERROR, f"{type(exc).__name__}: {exc}")
            raise  # not the rule's fault (the database, say): the relay tries again
        for change in changes:
            if "webhook" in change:
                self._after_commit_send(int(change["webhook"]))
        return 1

    def _act(
        self, records: RecordService, rule: Automation, subject: _Subject, unit: UnitOfWork
    ) -> list[dict[str, Any]]:
        changes: list[dict[str, Any]] = []
        names = dict(subject.names)
        record = subject.record
        current: Record | None = subject.record if subject.fresh else None
        for call in rule.actions:
            if call.name == "set":
                change, written = self._set(
                    records, rule, subject.record_id, thaw(call.params), current
                )
                changes.append(change)
                if written is not None:  # the record as the update left it: no read again
                    record = current = {**record, **written}
                    names.update(record)
                continue
            context = ActionContext(
                records.app.key,
                rule.form,
                record,
                subject.user_id,
                record_id=subject.record_id,
                records=records,
                actor=Actor.system(),
                unit=unit,
                expressions=self.expressions,
                names=names,
                now=datetime.now(UTC),
                source=rule.key,
            )
            result = self.services.run(self.actions, call.name, thaw(call.params), context)
            changes.append(result)
            remember(names, call.params, result)
        return changes

    def _set(
        self,
        records: RecordService,
        rule: Automation,
        record_id: int | None,
        values: Mapping[str, Any],
        current: Record | None = None,
    ) -> tuple[dict[str, Any], Record | None]:
        """Set ``values`` on the rule's record (``current``: as read in this unit already,
        else read now); returns the log's change and the record as updated (``None``:
        nothing to change)."""
        if current is None and record_id is not None:
            current = records.stored(rule.form, record_id)
        if current is None:
            raise ActionError("set needs a live record; the record is gone")
        changed = {key: value for key, value in values.items() if current.get(key) != value}
        written = None
        if changed:
            written = records.update(
                Actor.system(),
                rule.form,
                int(current["id"]),
                changed,
                expected_version=int(current["version"]),
                grant=tuple(changed),
            )
        change = {
            "action": "set",
            "form": rule.form,
            "id": current["id"],
            "fields": sorted(changed),
        }
        return change, written

    def _failed(self, start: log.RunStart, began: float, status: str, error: str) -> None:
        logger.warning("automation %r: %s", start.automation_key, error)
        with write_transaction(self.engine) as connection:
            log.write_run(connection, start, status=status, duration_ms=_ms(began), error=error)

    # pieces ---------------------------------------------------------------------------

    def _records(self, app_key: str) -> RecordService | None:
        try:
            return self.records_of(app_key)
        except FormflowError:
            return None  # an app no longer installed

    def _names(
        self,
        record: Mapping[str, Any],
        old: Mapping[str, Any],
        user_id: int | None,
        moment: datetime | None = None,
    ) -> dict[str, Any]:
        """What a rule's expressions read; a timed rule's ``today`` and ``now`` are the
        minute it is due, however late the clock runs it."""
        now = (moment or datetime.now(UTC)).astimezone(self.timezone)
        user: dict[str, Any] = {"id": user_id, "roles": [], "department": None}
        return {**record, "old": dict(old), "user": user, "today": now.date(), "now": now}

    def _after_commit_send(self, call_id: int) -> None:
        try:
            self.send_webhook(call_id)
        except Exception:
            logger.exception("could not hand webhook call %s on; it stays pending", call_id)

    def _send_now(self, call_id: int) -> None:
        try:
            send(self.engine, call_id, networks=self.webhook_networks)
        except WebhookFailed as exc:
            logger.warning("%s", exc)


def _webhooks(changes: Sequence[Mapping[str, Any]]) -> list[int]:
    """The webhook calls a run queued, to be sent once its unit commits."""
    return [int(change["webhook"]) for change in changes if "webhook" in change]


def remember(names: dict[str, Any], params: Mapping[str, Any], result: Any) -> None:
    """With ``as`` among an action's parameters, the later actions read the id of the
    record it created by that name."""
    if "as" in params and isinstance(result, Mapping) and "id" in result:
        names[str(params["as"])] = result["id"]


def matches(trigger: Trigger, event: Event) -> bool:
    """Whether ``event`` sets off a rule with ``trigger`` (its form aside)."""
    kind = trigger.kind
    if kind in _KINDS:
        return event.kind is _KINDS[kind]
    if kind is TriggerType.FIELD_CHANGED:
        if event.kind is not EventKind.UPDATED:
            return False
        if not any(key in event.changes for key in trigger.fields):
            return False
        if trigger.from_values is None and trigger.to_values is None:
            return True
        before, after = event.changes.get(trigger.fields[0], (None, None))
        return among(before, trigger.from_values) and among(after, trigger.to_values)
    if event.kind is not EventKind.STATE_ENTERED:
        return False
    detail = event.detail
    if detail.get("workflow") != trigger.workflow:
        return False
    if kind is TriggerType.WORKFLOW_ENTERED:
        return trigger.node is None or detail.get("node") == trigger.node
    if kind is TriggerType.APPROVAL_ENDED:
        return "outcome" in detail and trigger.outcome in (None, detail["outcome"])
    return False


def forms_with_event_rules(app: App) -> frozenset[str]:
    """The forms of ``app`` whose events may set off a rule: the automations are owed no
    other events (the clock, not an event, runs schedules and dates, and the record service
    runs in-save rules inside the save)."""
    return frozenset(
        rule.form
        for rule in app.automations.values()
        if rule.trigger.kind not in TIMED_TRIGGERS and not rule.in_save
    )


def event_rules_check(app: App) -> Check:
    """The outbox's check for the automations: whether an event of this kind, on this
    form, may set off an after-save rule, so that a write whose event no rule wants (a
    create when the form's rules watch only updates, or run in the save) owes the
    automations no delivery, and costs no delivery row and no job."""
    kinds: dict[str, set[EventKind]] = {}
    for rule in app.automations.values():
        if rule.trigger.kind in TIMED_TRIGGERS or rule.in_save or not rule.enabled:
            continue
        kinds.setdefault(rule.form, set()).update(_EVENT_KINDS[rule.trigger.kind])

    def wanted(
        _connection: Connection, _app: str, form_key: str, _id: int, kind: EventKind
    ) -> bool:
        return kind in kinds.get(form_key, ())

    return wanted


_EVENT_KINDS = {
    **{trigger: {kind} for trigger, kind in _KINDS.items()},
    TriggerType.FIELD_CHANGED: {EventKind.UPDATED},
    TriggerType.WORKFLOW_ENTERED: {EventKind.STATE_ENTERED},
    TriggerType.APPROVAL_ENDED: {EventKind.STATE_ENTERED},
}
"""The events each event trigger may match (see :func:`matches`)."""


def _rules(records: RecordService, form_key: str) -> list[Automation]:
    return sorted(
        (
            rule
            for rule in records.app.automations.values()
            if rule.enabled and rule.form == form_key and not rule.in_save
        ),
        key=lambda rule: rule.key,
    )


def _slices(
    records: RecordService,
    form_key: str,
    spec: Any,
    sort: tuple[SortKey, ...] | None,
    size: int,
) -> Iterator[list[Record]]:
    """The records a timed rule finds, a page at a time (by keyset, so a page's runs may
    change what the next pages would have found without skipping any)."""
    cursor = None
    while True:
        page = records.find(
            Actor.system(),
            form_key,
            Query(filter=spec or None, sort=sort, limit=size, cursor=cursor, with_total=False),
        )
        if page.rows:
            yield list(page.rows)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _stopped(key: str, depth: int) -> str:
    return (
        f"stopped: '{key}' was set off by a chain of {depth} automations, the most allowed; "
        "a rule that sets itself off again (directly or through another) loops. "
        "Narrow its trigger (field_changed) or its condition"
    )


def _ms(began: float) -> int:
    return int((clock.perf_counter() - began) * 1000)
