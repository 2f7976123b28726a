"""The compiled model of an automation: a trigger, a condition and actions over one form.

Everything is frozen, like the rest of the compiled app: the engine shares one compiled
rule across threads and runs. Actions are the workflows' :class:`ActionCall` (``set`` or a
named action with parameters), so one action format serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from formflow.workflows.model import ActionCall

if TYPE_CHECKING:
    from formflow.definitions.model import Label
    from formflow.expressions import Expression


class Timing(StrEnum):
    """When a rule runs (``timing:`` in YAML): after the triggering save has committed, as
    a delivered event (the default), or inside that save, before its record is written."""

    AFTER_SAVE = "after_save"
    IN_SAVE = "in_save"


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
IN_SAVE_TRIGGERS = frozenset({TriggerType.CREATED, TriggerType.UPDATED, TriggerType.FIELD_CHANGED})
"""Triggers an in-save rule may have: the save that sets it off is a create or an update."""


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
class FieldSet:
    """One action of an in-save rule, compiled: fields of the triggering record given
    literal ``values``, and fields given the value of an expression over it (``map``)."""

    values: Mapping[str, Any]
    expressions: Mapping[str, Expression]


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
    timing: Timing = Timing.AFTER_SAVE
    sets: tuple[FieldSet, ...] = ()
    """An in-save rule's actions, compiled (``actions`` keeps them as written)."""

    @property
    def in_save(self) -> bool:
        """Whether the rule runs inside the save that sets it off (never as an event)."""
        return self.timing is Timing.IN_SAVE


def among(value: Any, wanted: tuple[Any, ...] | None) -> bool:
    """Whether ``value`` is one of a field_changed trigger's ``wanted`` values (``None``:
    any); values events keep as text (dates, decimals) compare by their text."""
    if wanted is None:
        return True
    return any(value == item or (value is not None and str(value) == str(item)) for item in wanted)
