"""Actions: named pieces of work that automations, workflows and record actions run on a record.

Plugins provide actions through the ``formflow_actions`` hook; a definition names one and
gives its parameters, which ``params_schema`` describes so they can be checked when the
definition is compiled rather than when the action runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from formflow.errors import FormflowError

if TYPE_CHECKING:
    from formflow.definitions.model import Label
    from formflow.expressions import ExpressionEngine
    from formflow.notifications import Notifications
    from formflow.records.access import Actor
    from formflow.records.service import RecordService
    from formflow.records.unit import UnitOfWork


@dataclass(frozen=True)
class ActionContext:
    """The record an action runs on, for whom, and what it may write with.

    ``user_id`` is the user whose change set the action off, or ``None`` when Formflow
    itself did (a scheduled automation, say).

    An action that writes does so through ``records`` as ``actor`` (the engine, for
    automations and workflows), inside ``unit``: the unit of work of the automation run or
    workflow step, so its writes commit or roll back with everything else the run did.
    ``names`` are what expressions in the parameters read (the record, ``old``, ``user``,
    ``today``, ``now``); ``expressions`` compiles them. ``source`` names the rule or
    workflow that runs the action, for what the action records of itself. These are
    ``None`` for callers that give no more than a record (a plugin's own tests).
    """

    app_key: str
    form_key: str
    record: Mapping[str, Any]
    user_id: int | None = None
    record_id: int | None = None
    records: RecordService | None = field(default=None, compare=False, repr=False)
    actor: Actor | None = None
    unit: UnitOfWork | None = field(default=None, compare=False, repr=False)
    expressions: ExpressionEngine | None = field(default=None, compare=False, repr=False)
    names: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    now: datetime | None = None
    source: str = ""
    notifications: Notifications | None = field(default=None, compare=False, repr=False)
    """Where the ``notify`` action tells people (and sends them e-mail) from."""
    plugin_settings: Callable[[str], Mapping[str, str]] | None = field(
        default=None, compare=False, repr=False
    )
    """Reads a plugin's settings by plugin name (:mod:`formflow.plugin_settings`)."""
    enqueue_job: Callable[[str, Mapping[str, Any]], int] | None = field(
        default=None, compare=False, repr=False
    )
    """Enqueues a plugin's background job by name with a JSON payload, inside ``unit``
    (:func:`formflow.plugin_kit.enqueue`); its id. ``None`` where the caller runs no jobs."""

    def require_records(self) -> tuple[RecordService, Actor, ExpressionEngine]:
        """The record service, actor and expressions an action that writes needs; an
        :class:`ActionError` where the caller gave none."""
        if self.records is None or self.actor is None or self.expressions is None:
            raise ActionError("this action writes records; run it from an automation or workflow")
        return self.records, self.actor, self.expressions


@dataclass(frozen=True)
class ActionServices:
    """What the instance lends every action, wherever it runs (an automation, a workflow
    step, a record action), so that a plugin's action behaves alike in all three: where
    people are told, the plugins' settings, and the plugins' job queue."""

    notifications: Notifications | None = None
    plugin_settings: Callable[[str], Mapping[str, str]] | None = None
    enqueue_job: Callable[[str, Mapping[str, Any]], int] | None = None

    def lend(self, context: ActionContext) -> ActionContext:
        """``context`` with these services in it."""
        return replace(
            context,
            notifications=self.notifications,
            plugin_settings=self.plugin_settings,
            enqueue_job=self.enqueue_job,
        )

    def run(
        self,
        actions: Mapping[str, Action],
        name: str,
        params: Mapping[str, Any],
        context: ActionContext,
    ) -> dict[str, Any]:
        """Run the action ``name`` (one of ``actions``) on ``context`` lent these services;
        its result as a run's log keeps it: what it returned when a mapping, else its name.
        An :class:`ActionError` where no plugin provides the action."""
        action = actions.get(name)
        if action is None:
            raise ActionError(f"no plugin provides the action '{name}'")
        result = action.run(self.lend(context), params)
        return dict(result) if isinstance(result, Mapping) else {"action": name}


NO_SERVICES = ActionServices()
"""For runners used without an instance (tests, tools): actions get no services."""


class ActionError(FormflowError):
    """An action that cannot do what its parameters ask (a record missing, a value that does
    not fit); the automation's log shows the message."""


@dataclass(frozen=True)
class Action:
    """One action a plugin provides.

    ``params_schema`` is a JSON Schema for the object of parameters a definition gives the
    action; ``run`` receives the context and those parameters, and what it returns is the
    action's result.
    """

    name: str
    label: Label
    params_schema: Mapping[str, Any] = field(compare=False)
    run: Callable[[ActionContext, Mapping[str, Any]], Any] = field(compare=False, repr=False)
