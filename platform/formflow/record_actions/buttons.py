"""One list of a record's buttons, and one way to press them: workflow and form actions.

Pages, the phone and the API ask here which buttons a record has for the user and press
them by key; a form action's key never takes a workflow button's (the definition refuses
it), so the key alone says which engine does the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from formflow.record_actions.model import FormAction
from formflow.record_actions.service import Done, FormActions
from formflow.records.access import Actor
from formflow.workflows.service import Instance, RecordAction, WorkflowService


@dataclass(frozen=True)
class Buttons:
    """A record's buttons for one user: its approval's, then the form's own."""

    workflow: list[RecordAction] = field(default_factory=list)
    form: list[FormAction] = field(default_factory=list)


class RecordButtons:
    """Lists and presses the buttons of one app's records."""

    def __init__(self, workflows: WorkflowService, actions: FormActions) -> None:
        self.workflows = workflows
        self.actions = actions

    def listed(self, actor: Actor, form_key: str, record_id: int) -> Buttons:
        """The buttons ``actor`` may press now (``RecordNotFound`` unless they may read it)."""
        record = self.actions.records.get(actor, form_key, record_id)
        return Buttons(
            self.workflows.actions_for(actor, form_key, record_id),
            self.actions.offered(actor, form_key, record),
        )

    def check_pressable(self, actor: Actor, form_key: str, record_id: int, key: str) -> None:
        """Refuse, before anything sent with it is read, button ``key`` where ``actor`` may
        not press it: ``RecordNotFound`` unless they may read the record, then a form
        action none of whose roles they hold (its condition, which may read the inputs,
        is checked when it runs), or a workflow button that is not theirs on it now. A
        caller refused for the type of an input would learn the shape of an action that is
        not theirs."""
        self.actions.records.get(actor, form_key, record_id)
        action = self.actions.app.form(form_key).action(key)
        if action is not None:
            self.actions.check_role(actor, action)
        else:
            self.workflows.check_can_act(actor, form_key, record_id, key)

    def press(
        self,
        actor: Actor,
        form_key: str,
        record_id: int,
        key: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        **workflow: Any,
    ) -> Done | Instance:
        """Press button ``key``: a form action with ``inputs``, else the workflow's with
        ``workflow`` (comment, values, to, user_id, where, task_id)."""
        self.actions.records.get(actor, form_key, record_id)
        if self.actions.app.form(form_key).action(key) is not None:
            return self.actions.run(actor, form_key, [record_id], key, inputs)
        return self.workflows.act(actor, form_key, record_id, key, **workflow)
