"""Record locks: while an approval runs, its record changes only as the flow allows.

The record service asks the lock holder (the workflow engine) inside the write's own
transaction, so a record cannot be changed between the check and the write; the engine's
own writes are granted the fields they set and pass.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection

from formflow.errors import N_, Problem
from formflow.records.access import Actor

LOCKED = Problem("workflow_locked", N_("is locked while an approval of this record runs"))


class RecordLocks(Protocol):
    """Tells which fields of a locked record an actor may still change."""

    @property
    def forms(self) -> frozenset[str]:
        """The forms whose records may be locked (others are never asked about)."""
        ...

    def editable(
        self, connection: Connection, actor: Actor, form_key: str, record_id: int
    ) -> frozenset[str] | None:
        """``None`` when the record is not locked; else the fields ``actor`` may change."""
        ...
