"""Roll-ups and lookups whose meaning a migration changes, worked out again for stored rows.

A roll-up or lookup is a stored column (see :mod:`formflow.records.derived`): one just added
holds nothing, and one whose definition changes (another aggregate, filter or field, or a
source field of another type) still holds the old answers. The migration works each out
again for every row, live or in the recycle bin, by the same code a save uses, inside the
migration's transaction; what changes carries on to the formulas, roll-ups and lookups
that read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

from alembic.operations import Operations
from sqlalchemy import select

from formflow.definitions.model import Field, Form
from formflow.records.derived import DerivedValues
from formflow.storage.id_batches import id_batches
from formflow.storage.migration_ops import Effect, Operation
from formflow.storage.recompute import BATCH, recompute_text
from formflow.storage.tables import AppSchema


@dataclass(frozen=True)
class RecomputeDerived(Operation, effect=Effect.DERIVED):
    """Work out the roll-ups and lookups ``keys`` of every stored record of a form."""

    form_key: str
    keys: tuple[str, ...]
    rows: int
    schema: AppSchema = field(compare=False, repr=False)
    timezone: tzinfo = field(default=UTC, compare=False, repr=False)

    def describe(self) -> str:
        noun = ("roll-up/lookup", "roll-ups/lookups")
        return recompute_text(noun, self.keys, "form", self.form_key, self.rows)

    def touches(self) -> tuple[str, ...]:
        return (self.schema.table(self.form_key).name,)

    def apply(self, ops: Operations) -> None:
        connection = ops.get_bind()
        form = self.schema.app.form(self.form_key)
        derived = DerivedValues(self.schema, self.timezone)
        table = self.schema.table(form.key)
        for batch in id_batches(connection, select(table.c.id), table, BATCH):
            for row in batch:
                derived.refresh(connection, form, row["id"], self.keys)


def stale_derived(
    form: Form, previous: Mapping[str, Form] | None, added: set[str]
) -> tuple[str, ...]:
    """The roll-ups and lookups of ``form`` whose stored values no longer mean what they
    compute: just added, or defined differently from the field of the same key in the
    ``previous`` app's form (or the one it was renamed from)."""
    old_form = previous.get(form.key) if previous is not None else None
    stale = []
    for derived in (f for f in form.fields if f.is_derived):
        if derived.key in added:
            stale.append(derived.key)
            continue
        if old_form is None:
            continue
        key = derived.key if old_form.has_field(derived.key) else derived.renamed_from
        before = old_form.field(key) if key and old_form.has_field(key) else None
        if before is None or _meaning(before) != _meaning(derived):
            stale.append(derived.key)
    return tuple(stale)


def _meaning(derived: Field) -> tuple[Any, ...]:
    rollup = derived.rollup
    spec: tuple[Any, ...] = (
        (rollup.form, rollup.link, rollup.aggregate, rollup.field, repr(rollup.filter), rollup.by)
        if rollup is not None
        else (derived.lookup,)
    )
    source = derived.source
    shape = (source.type, source.kind, source.scale) if source is not None else ()
    return (*spec, derived.kind, derived.scale, shape)
