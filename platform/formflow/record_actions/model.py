"""The compiled model of a form's record actions and its pool.

Frozen like the rest of the compiled app. An action's steps are the automations'
:class:`~formflow.workflows.model.ActionCall` (``set`` or a named action with parameters),
so one action format serves workflows, automations and buttons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from formflow.definitions.model import Field, Label
    from formflow.expressions import Expression
    from formflow.workflows.model import ActionCall

INPUT = "input"
"""The name an action's condition and steps read the user's answers by."""


@dataclass(frozen=True)
class HeldLimit:
    """The actor may hold at most ``most`` records of the form matching ``where`` (records
    whose owner field is the actor), counting those the action is about to give them."""

    most: int
    where: Mapping[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FormAction:
    """One button of a form: who sees it (``roles``; none means everyone who can read the
    record), when (``condition``, over the record, ``user`` and ``today``), what it asks
    (``inputs``, validated like form fields), how often (``held``, ``per_day``) and what it
    does (``steps``, run in order in one unit of work as the user).
    Each step's writes are granted the fields they set, so an action may set a readonly
    field (the owner, a pool flag) that editing the record cannot.
    """

    key: str
    label: Label
    steps: tuple[ActionCall, ...]
    roles: tuple[str, ...] = ()
    condition: Expression | None = None
    inputs: tuple[Field, ...] = ()
    held: HeldLimit | None = None
    per_day: int | None = None
    bulk: bool = True
    confirm: Label | None = None


@dataclass(frozen=True)
class Pool:
    """Records whose owner field is empty, readable by ``roles`` whatever their read scope;
    a user who held a record and let it go waits ``cooldown_days`` before taking it again."""

    roles: tuple[str, ...]
    cooldown_days: int = 0
