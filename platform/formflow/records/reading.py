"""Where a reader of records reads: one form's rows, as one person may see them.

The readers (:func:`~formflow.records.query.select_page`,
:func:`~formflow.records.aggregates.aggregate`,
:func:`~formflow.records.stage_history.stay_groups`) each take a :class:`ReadContext` and
their own question, so the record service asks any of them the same way and a new reader
needs no new list of parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection

from formflow.records.filters import LinkScope
from formflow.records.query import row_conditions
from formflow.storage.tables import AppSchema


@dataclass(frozen=True)
class ReadContext:
    """The rows of the form ``form_key`` of ``schema``, read over ``connection``.

    ``scope`` is the permission layer's condition on those rows, AND-ed with everything
    else, and ``link_scope`` its condition for the forms a filter or a group reaches
    through links; ``None`` reads every live row (tests and benchmarks).
    """

    connection: Connection
    schema: AppSchema
    form_key: str
    scope: ColumnElement[bool] | None = None
    link_scope: LinkScope | None = None

    def conditions(self, filter: Mapping[str, Any] | None) -> list[ColumnElement[bool]]:
        """The live rows that match ``filter`` and that the reader may see."""
        where = row_conditions(
            self.schema, self.form_key, filter=filter, link_scope=self.link_scope
        )
        if self.scope is not None:
            where.append(self.scope)
        return where
