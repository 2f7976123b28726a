"""What the side navigation shows: the installed apps and the forms a user may read."""

from __future__ import annotations

from typing import Any

from formflow.definitions.model import Action, App, Form, Scope
from formflow.records.access import scope_for
from formflow.web import context


def nav_apps() -> list[tuple[str, App]]:
    instance = context.instance()
    return [(key, instance.app(key)) for key in instance.app_keys]


def can_read(app_key: str, form: Form) -> bool:
    return scope_for(context.actor(app_key), form, Action.READ) is not Scope.NONE


def context_processor() -> dict[str, Any]:
    return {"nav_apps": nav_apps, "can_read": can_read}
