"""Actions: named pieces of work that workflows and automations run on a record.

Plugins provide actions through the ``formflow_actions`` hook; a definition names one and
gives its parameters, which ``params_schema`` describes so they can be checked when the
definition is compiled rather than when the action runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from formflow.definitions.model import Label


@dataclass(frozen=True)
class ActionContext:
    """The record an action runs on, and for whom.

    ``user_id`` is the user whose change set the action off, or ``None`` when Formflow
    itself did (a scheduled automation, say).
    """

    app_key: str
    form_key: str
    record: Mapping[str, Any]
    user_id: int | None = None


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
