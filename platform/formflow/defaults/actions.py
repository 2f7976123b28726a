"""The built-in actions, registered as a plugin like any other (see
:mod:`formflow.automations.actions`)."""

from __future__ import annotations

from formflow.actions import Action
from formflow.hookspecs import hookimpl


@hookimpl(trylast=True)
def formflow_actions() -> list[Action]:
    from formflow.automations.actions import BUILTIN_ACTIONS

    return list(BUILTIN_ACTIONS)
