"""Plugins' after-hooks, run as a subscriber of the outbox's events.

An after-hook run straight after the commit is lost when the process dies in between; as a
subscriber it is handed every committed change at least once, after a restart if need be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from formflow.definitions.model import Form
from formflow.events import Event, EventKind, Subscriber

AFTER_HOOKS = "plugins.after_hooks"
"""The subscriber's name: the key its deliveries are owed under."""

HOOK_OF_KIND = {
    EventKind.CREATED: "formflow_after_create",
    EventKind.UPDATED: "formflow_after_update",
    EventKind.DELETED: "formflow_after_delete",
}


class RecordHooks(Protocol):
    """What the record service needs from the plugin system."""

    def run_before(self, hook_name: str, **kwargs: Any) -> None: ...

    def run_after(self, hook_name: str, **kwargs: Any) -> list[Any]: ...

    def implements(self, hook_name: str) -> bool: ...


class NoHooks:
    def run_before(self, hook_name: str, **kwargs: Any) -> None:
        return None

    def run_after(self, hook_name: str, **kwargs: Any) -> list[Any]:
        return []

    def implements(self, hook_name: str) -> bool:
        return False


def wants_after_hooks(hooks: RecordHooks) -> bool:
    """Whether any plugin implements an after-hook (else no deliveries are owed to them)."""
    return any(hooks.implements(name) for name in HOOK_OF_KIND.values())


def after_hooks_subscriber(
    hooks: RecordHooks, form_of: Callable[[str, str], Form | None]
) -> Subscriber:
    """A subscriber that runs the after-hook of each event's kind.

    ``form_of(app_key, form_key)`` finds the form in force; events of a form that is gone
    are passed over. Plugins' failures are logged by the hooks and not retried, as before.
    """

    def deliver(event: Event, _key: str) -> None:
        hook = HOOK_OF_KIND.get(event.kind)
        form = form_of(event.app_key, event.form_key)
        if hook is None or form is None:
            return
        arguments: dict[str, Any] = {
            "app_key": event.app_key,
            "form": form,
            "record": event.record,
            "user_id": event.user_id,
        }
        if event.kind is EventKind.UPDATED:
            arguments["changes"] = event.changes
        hooks.run_after(hook, **arguments)

    return deliver
