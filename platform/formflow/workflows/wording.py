"""What people read for the engine's own words: history actions, instance and task states.

The engine stores short keys (``submit``, ``returned``, ``reassigned``); pages, the record's
history and the inbox show these message ids through the catalogue, so both languages
name every step the same way wherever it appears.
"""

from __future__ import annotations

from formflow.errors import N_

ACTIONS = {
    "submit": N_("Submitted for approval"),
    "resubmit": N_("Resubmitted"),
    "approve": N_("Approved"),
    "reject": N_("Rejected"),
    "withdraw": N_("Withdrew"),
    "reassign": N_("Reassigned"),
    "add_signer": N_("Added a signer"),
    "delegate": N_("Delegated"),
    "remind": N_("Sent a reminder"),
    "escalate": N_("Escalated"),
    "end": N_("Approval ended"),
    "enter": N_("Reached a step"),
    "skip": N_("Skipped approvers"),
    "returned": N_("Returned to the submitter"),
}
"""A history entry's action, as the record's timeline names it."""

INSTANCE_STATUSES = {
    "running": N_("In approval"),
    "returned": N_("Returned to the submitter"),
    "finished": N_("Finished"),
    "withdrawn": N_("Withdrawn"),
}

TASK_STATUSES = {
    "open": N_("Waiting for a decision"),
    "waiting": N_("Next in line"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "cancelled": N_("No longer needed"),
    "reassigned": N_("Handed on"),
    "skipped": N_("Skipped"),
    "copied": N_("Copied"),
    "read": N_("Read"),
}

WHERE = {"before": N_("before me"), "after": N_("after me")}

OUTCOMES = {"approved": N_("outcome: approved"), "rejected": N_("outcome: rejected")}
"""The two outcomes every flow knows, as the timeline's end entry says them; another
outcome is a key the flow's author chose, and the end node's label already names it."""


def action(key: str) -> str:
    """The message id naming history action ``key`` (the key itself when unknown)."""
    return ACTIONS.get(key, key)
