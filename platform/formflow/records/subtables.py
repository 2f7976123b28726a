"""Reading a record's subtable rows back, in their stored order.

The record service shows them with the record, and derived values read them when a
formula sums or counts a subtable; both read them here, so the rows come back alike.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, select

from formflow.definitions.model import Form
from formflow.fields import ValueKind
from formflow.storage.tables import PARENT_ID, POSITION, AppSchema


def read_subtable_rows(
    connection: Connection,
    schema: AppSchema,
    form: Form,
    record_id: int,
    keys: Collection[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The rows of each subtable of the record (of those among ``keys`` if given), each
    row by its fields' keys."""
    found: dict[str, list[dict[str, Any]]] = {}
    for field in form.fields:
        if field.kind is ValueKind.ROWS and (keys is None or field.key in keys):
            child = schema.child_table(form.key, field.key)
            result = connection.execute(
                select(child).where(child.c[PARENT_ID] == record_id).order_by(child.c[POSITION])
            )
            found[field.key] = [
                {sub.key: row[sub.key] for sub in field.fields} for row in result.mappings()
            ]
    return found
