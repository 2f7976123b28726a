"""The compiled model of an automation: a trigger, a condition and actions over one form.

Everything is frozen, like the rest of the compiled app: the engine shares one compiled
rule across threads and runs. Actions are the workflows' :class:`ActionCall` (``set`` or a
named action with parameters), so one action format serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from formflow.workflows.model import ActionCall

if TYPE_CHECKING:
    from formflow.definitions.model import Label
    from formflow.expressions import Expression


class TriggerType(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RESTORED = "restored"
    FIELD_CHANGED = "field_changed"
    WORKFLOW_ENTERED = "workflow_entered"
    APPROVAL_ENDED = "approval_ended"
    SCHEDULE = "schedule"
    DATE = "date"


RECORD_TRIGGERS = frozenset(
    {TriggerType.CREATED, TriggerType.UPDATED, TriggerType.DELETED, TriggerType.RESTORED}
)
TIMED_TRIGGERS = frozenset({TriggerType.SCHEDULE, TriggerType.DATE})
"""Triggers the clock fires, not an event."""


@dataclass(frozen=True)
class Trigger:
    """What sets a rule off (``type:`` in YAML); the fields used depend on ``kind``.

    ``from_values``/``to_values`` (field_changed) are the values as events keep them (JSON:
    dates and decimals as text); ``None`` means any value. ``offset_days`` (date) is
    negative before the date field, positive after it.
    """

    kind: TriggerType
    fields: tuple[str, ...] = ()
    from_values: tuple[Any, ...] | None = None
    to_values: tuple[Any, ...] | None = None
    workflow: str | None = None
    node: str | None = None
    outcome: str | None = None
    cron: str | None = None
    where: Any = None
    date_field: str | None = None
    offset_days: int = 0
    at: time | None = None

    def describe(self) -> str:
        """The trigger in a few words, as its log shows it."""
        if self.kind is TriggerType.FIELD_CHANGED:
            return f"field_changed {','.join(self.fields)}"
        if self.kind in (TriggerType.WORKFLOW_ENTERED, TriggerType.APPROVAL_ENDED):
            detail = self.node or self.outcome
            return f"{self.kind.value} {self.workflow}" + (f" {detail}" if detail else "")
        if self.kind is TriggerType.SCHEDULE:
            return f"schedule {self.cron}"
        if self.kind is TriggerType.DATE:
            return f"date {self.date_field} {self.offset_days:+d}d {self.at:%H:%M}"
        return self.kind.value


@dataclass(frozen=True)
class Automation:
    """One rule: when ``trigger`` fires for a record of ``form`` and ``condition`` holds,
    ``actions`` run in order, in one unit of work."""

    key: str
    label: Label
    form: str
    trigger: Trigger
    actions: tuple[ActionCall, ...]
    condition: Expression | None = None
    enabled: bool = True
