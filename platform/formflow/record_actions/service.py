"""Listing and running a form's record actions, as the user who asks.

Everything is checked here, whatever the caller (a page, a list's selection, the API): the
user may read the record (its pool included), holds one of the action's roles, and its
condition is true of the record as stored; the inputs are validated like form fields; the
limits are counted through indexes (records the user owns, the user's runs since the start
of their day). The steps then run in order in one unit of work, as the user, each write
through the record service with a grant for the fields the step sets; with the run rows
the limits count, the whole batch is stored or none of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from formflow.actions import NO_SERVICES, Action, ActionContext, ActionError, ActionServices
from formflow.automations.engine import remember
from formflow.definitions.automations import thaw
from formflow.definitions.model import Form
from formflow.errors import (
    N_,
    PermissionDenied,
    Problem,
    RecordError,
    RecordNotFound,
    ValidationFailed,
)
from formflow.expressions import ExpressionEngine
from formflow.record_actions import ledger
from formflow.record_actions.model import INPUT, FormAction
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.records.service import Record, RecordService
from formflow.records.unit import UnitOfWork, unit_of_work

SET = "set"
MAX_BATCH = 200
"""The most records one run may act on (a list's selection)."""


class ActionNotAvailable(PermissionDenied, code="action_not_available"):
    """The action is not the user's to run on this record now (role or condition)."""


class ActionLimitReached(RecordError, code="action_limit"):
    """Running the action would take the user past one of its limits."""


class ActionFailed(RecordError, code="action_failed"):
    """A step of the action could not do what it was asked; nothing was stored."""


@dataclass(frozen=True)
class Done:
    """What one run did: the records it acted on and what each step reported."""

    key: str
    record_ids: tuple[int, ...]
    changes: tuple[Mapping[str, Any], ...]


class FormActions:
    """The record actions of one app."""

    def __init__(
        self,
        records: RecordService,
        *,
        actions: Mapping[str, Action],
        expressions: ExpressionEngine,
        services: ActionServices = NO_SERVICES,
    ) -> None:
        self.records = records
        self.app = records.app
        self.actions = dict(actions)
        self.expressions = expressions
        self.services = services
        """What the steps' actions are lent (where people are told, the plugins' settings
        and job queue), as an automation's are."""

    # listing --------------------------------------------------------------------------

    def offered(self, actor: Actor, form_key: str, record: Mapping[str, Any]) -> list[FormAction]:
        """The actions ``actor`` may run now on ``record`` (one they have read)."""
        form = self.app.form(form_key)
        return [action for action in form.actions if self._allowed(actor, action, record, {})]

    def offered_in_bulk(self, actor: Actor, form_key: str) -> list[FormAction]:
        """The actions a list may offer for selected records: the user's by role (each
        record's condition is checked when it runs)."""
        form = self.app.form(form_key)
        return [a for a in form.actions if a.bulk and self._has_role(actor, a)]

    # running --------------------------------------------------------------------------

    def run(
        self,
        actor: Actor,
        form_key: str,
        record_ids: Sequence[int],
        key: str,
        inputs: Mapping[str, Any] | None = None,
    ) -> Done:
        """Run action ``key`` on each of ``record_ids``, all or nothing."""
        form = self.app.form(form_key)
        action = form.action(key)
        if action is None:
            raise RecordNotFound(
                N_("no action '%(action)s' on %(form)s"), action=key, form=form.label
            )
        ids = tuple(dict.fromkeys(int(record_id) for record_id in record_ids))
        if not ids or len(ids) > MAX_BATCH:
            raise ActionNotAvailable(
                N_("choose from 1 to %(most)s records to run an action on"), most=MAX_BATCH
            )
        if len(ids) > 1 and not action.bulk:
            raise ActionNotAvailable(N_("this action runs on one record at a time"))
        self.check_role(actor, action)
        given = self.check_inputs(actor, action, inputs or {})
        for record_id in ids:
            self.records.get(actor, form.key, record_id)  # not found unless readable
        with unit_of_work(self.records.engine) as unit:
            now = self.records.clock()
            self._check_limits(unit, actor, form, action, len(ids), now)
            changes: list[Mapping[str, Any]] = []
            for record_id in ids:
                record = self.records.stored(form.key, record_id)
                if record is None or not self._allowed(actor, action, record, given):
                    raise ActionNotAvailable(
                        N_("'%(action)s' is not available on record %(id)s now"),
                        action=action.label,
                        id=record_id,
                    )
                changes.extend(self._steps(unit, actor, form, action, record, given, now))
                ledger.write_run(
                    unit.connection,
                    self.app.key,
                    form.key,
                    action.key,
                    record_id,
                    actor.user_id,
                    now,
                    given,
                )
        return Done(action.key, ids, tuple(changes))

    def check_role(self, actor: Actor, action: FormAction) -> None:
        """Refuse an action none of whose roles ``actor`` holds (before reading its inputs:
        a refusal of badly typed inputs would tell them the shape of an action not theirs)."""
        if not self._has_role(actor, action):
            raise ActionNotAvailable(N_("you may not run this action"))

    def check_inputs(
        self, actor: Actor, action: FormAction, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The inputs as typed values, or :class:`ValidationFailed` with every problem."""
        if not action.inputs:
            return {}
        unknown = sorted(set(inputs) - {item.key for item in action.inputs})
        if unknown:
            raise ValidationFailed(
                {
                    key: [Problem("unknown_field", N_("not an input of this action"))]
                    for key in unknown
                }
            )
        form = Form(
            key=action.key,
            label=action.label,
            title_field=action.inputs[0].key,
            fields=action.inputs,
            permissions={},
        )
        context = self.records.context(actor)
        prepared = self.records.preparer.prepare(form, inputs, context)
        return {item.key: prepared.values.get(item.key) for item in action.inputs}

    # checks ---------------------------------------------------------------------------

    def _has_role(self, actor: Actor, action: FormAction) -> bool:
        return actor.is_admin or not action.roles or not actor.roles.isdisjoint(action.roles)

    def _allowed(
        self, actor: Actor, action: FormAction, record: Mapping[str, Any], given: Mapping[str, Any]
    ) -> bool:
        if not self._has_role(actor, action):
            return False
        if action.condition is None:
            return True
        return bool(action.condition.evaluate(self._names(actor, record, given)))

    def _check_limits(
        self,
        unit: UnitOfWork,
        actor: Actor,
        form: Form,
        action: FormAction,
        count: int,
        now: datetime,
    ) -> None:
        if actor.user_id is None:
            return
        if action.per_day is not None or action.held is not None:
            ledger.queue_for_limits(unit.connection, self.app.key, form.key, actor.user_id)
        if action.per_day is not None:
            local = now.astimezone(self.records.timezone)
            since = datetime.combine(local.date(), time.min, local.tzinfo).astimezone(UTC)
            done = ledger.count_runs(
                unit.connection, self.app.key, form.key, action.key, actor.user_id, since
            )
            if done + count > action.per_day:
                raise ActionLimitReached(
                    N_(
                        "you may do '%(action)s' at most %(most)s times a day; you have done it %(done)s times today"
                    ),
                    action=action.label,
                    most=action.per_day,
                    done=done,
                )
        if action.held is not None:
            held = self._held(actor, form, action)
            if held + count > action.held.most:
                raise ActionLimitReached(
                    N_(
                        "you may hold at most %(most)s %(form)s records for '%(action)s'; you hold %(held)s"
                    ),
                    action=action.label,
                    most=action.held.most,
                    form=form.label,
                    held=held,
                )

    def _held(self, actor: Actor, form: Form, action: FormAction) -> int:
        """How many records of ``form`` matching the limit's filter the actor owns (by the
        owner field's index)."""
        assert action.held is not None
        mine: dict[str, Any] = {"field": form.owner_field, "op": "eq", "value": actor.user_id}
        where = thaw(action.held.where) if action.held.where else None
        spec = {"and": [mine, where]} if where else mine
        page = self.records.find(Actor.system(), form.key, Query(filter=spec, limit=1))
        return int(page.total or 0)

    # steps ----------------------------------------------------------------------------

    def _steps(
        self,
        unit: UnitOfWork,
        actor: Actor,
        form: Form,
        action: FormAction,
        record: Record,
        given: Mapping[str, Any],
        now: datetime,
    ) -> list[Mapping[str, Any]]:
        changes: list[Mapping[str, Any]] = []
        record_id = int(record["id"])
        created: dict[str, Any] = {}
        for call in action.steps:
            names = {**self._names(actor, record, given), **created}
            try:
                if call.name == SET:
                    changes.append(self._set(actor, form, record, thaw(call.params)))
                else:
                    context = ActionContext(
                        self.app.key,
                        form.key,
                        record,
                        actor.user_id,
                        record_id=record_id,
                        records=self.records,
                        actor=actor,
                        unit=unit,
                        expressions=self.expressions,
                        names=names,
                        now=now,
                        source=f"{form.key}.{action.key}",
                    )
                    result = self.services.run(self.actions, call.name, thaw(call.params), context)
                    remember(created, call.params, result)
                    changes.append(result)
            except ActionError as exc:
                raise ActionFailed(str(exc)) from exc
            record = self.records.stored(form.key, record_id) or record
        return changes

    def _set(
        self, actor: Actor, form: Form, record: Record, values: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        changed = {key: value for key, value in values.items() if record.get(key) != value}
        if changed:
            self.records.update(
                actor,
                form.key,
                int(record["id"]),
                changed,
                expected_version=int(record["version"]),
                grant=tuple(changed),
            )
        hidden = self.records.field_access(actor, form.key).hidden
        shown = sorted(key for key in changed if key not in hidden)  # a hidden one tells its value
        return {"action": SET, "form": form.key, "id": record["id"], "fields": shown}

    def _names(
        self, actor: Actor, record: Mapping[str, Any], given: Mapping[str, Any]
    ) -> dict[str, Any]:
        context = self.records.context(actor)
        return {**record, **context.names, INPUT: dict(given)}
