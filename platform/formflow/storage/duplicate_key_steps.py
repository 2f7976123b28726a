"""Duplicate keys made again when a migration changes what the app's checks compare.

The record service keeps ``ff_duplicate_keys`` in step with every write, under the checks
in force. A migration that adds a check, drops one, or makes one compare other fields or
normalise in another way leaves the stored keys describing the old checks: the records
already there would match nothing new. So the migration rebuilds the app's keys from its
live records in its own transaction (what ``formflow duplicates rebuild`` does by hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alembic.operations import Operations

from formflow.definitions.model import App
from formflow.storage.migration_ops import Effect, Operation, counted
from formflow.storage.platform_tables import duplicate_keys
from formflow.storage.tables import AppSchema

CheckShape = tuple[str, str, tuple[tuple[str, str], ...]]


def check_shapes(app: App) -> frozenset[CheckShape]:
    """What the app's checks compare and how: their labels and effects change no key."""
    return frozenset((check.key, check.normaliser, check.fields) for check in app.duplicate_checks)


@dataclass(frozen=True)
class RebuildDuplicateKeys(Operation, effect=Effect.DERIVED):
    """Make every duplicate key of the app again from its ``rows`` live records."""

    checks: tuple[str, ...]
    rows: int
    schema: AppSchema = field(compare=False, repr=False)

    def describe(self) -> str:
        checks = ", ".join(self.checks) or "none left"
        return f"rebuild the duplicate keys (checks: {checks}) from {counted(self.rows, 'record')}"

    def touches(self) -> tuple[str, ...]:
        forms = {form for check in self.schema.app.duplicate_checks for form, _ in check.fields}
        return (duplicate_keys.name, *sorted(self.schema.table(form).name for form in forms))

    def apply(self, ops: Operations) -> None:
        from formflow.duplicates.keys import DuplicateKeys  # it reads the tables built here

        DuplicateKeys(self.schema).rebuild(ops.get_bind())
