"""The record service: the one place records are read and written.

This module is the service's public surface: what the web pages, the REST API, the CLI
and plugins may use. Everything else in the package (how values are converted and
checked, how filters become SQL, the statements kept per form, audit rows, numbering) is
the service's own and may change shape without notice; the suite keeps the web layer to
this list.

- :class:`RecordService` and what it takes and returns: :class:`Actor`, :class:`Query`,
  :class:`Page`, :data:`Record`, :class:`AuditEntry`; :func:`scope_for` and
  :func:`refusal` say what an actor's roles allow on a form (to offer a button; the
  service decides for real); :func:`unit_of_work` commits several writes together.
- Working out a form still being filled in, with the service's own rules, so a page
  agrees with a save: :meth:`RecordService.context`, :func:`default_value`,
  :func:`settle`, :func:`settle_row`, :func:`applicable_fields`, :meth:`RecordService.read_value`
  and :meth:`RecordService.check`.
- The limits a client must keep to, which the OpenAPI document states: page sizes, filter
  sizes, operators, search length, rows; and :func:`sortable`.

The names are loaded on first use, so importing one of the service's own modules (the
events outbox reads :mod:`formflow.records.audit`) does not load the whole service.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from formflow.records.access import Actor, refusal, scope_for
    from formflow.records.agenda import AgendaEntry, due_records
    from formflow.records.audit import AuditEntry
    from formflow.records.batch import Batch
    from formflow.records.compute import (
        Context,
        DefaultFailed,
        ExpressionRefused,
        applicable_fields,
        default_value,
        settle,
        settle_row,
    )
    from formflow.records.filters import (
        CHOICE_OPS,
        COMMON_OPS,
        MAX_CONDITIONS,
        MAX_DEPTH,
        MAX_TEXT,
        MAX_VALUES,
        ORDERED_OPS,
        TEXT_OPS,
        sortable,
    )
    from formflow.records.inline import create_with_inline
    from formflow.records.query import MAX_LIMIT, Page, Query
    from formflow.records.search import MAX_SEARCH_LENGTH
    from formflow.records.service import Record, RecordService
    from formflow.records.submission import MAX_ROWS
    from formflow.records.unit import unit_of_work

_HOMES = {
    "Actor": "formflow.records.access",
    "AgendaEntry": "formflow.records.agenda",
    "AuditEntry": "formflow.records.audit",
    "Batch": "formflow.records.batch",
    "CHOICE_OPS": "formflow.records.filters",
    "COMMON_OPS": "formflow.records.filters",
    "Context": "formflow.records.compute",
    "DefaultFailed": "formflow.records.compute",
    "ExpressionRefused": "formflow.records.compute",
    "MAX_CONDITIONS": "formflow.records.filters",
    "MAX_DEPTH": "formflow.records.filters",
    "MAX_LIMIT": "formflow.records.query",
    "MAX_ROWS": "formflow.records.submission",
    "MAX_SEARCH_LENGTH": "formflow.records.search",
    "MAX_TEXT": "formflow.records.filters",
    "MAX_VALUES": "formflow.records.filters",
    "ORDERED_OPS": "formflow.records.filters",
    "Page": "formflow.records.query",
    "Query": "formflow.records.query",
    "Record": "formflow.records.service",
    "RecordService": "formflow.records.service",
    "TEXT_OPS": "formflow.records.filters",
    "applicable_fields": "formflow.records.compute",
    "create_with_inline": "formflow.records.inline",
    "default_value": "formflow.records.compute",
    "due_records": "formflow.records.agenda",
    "refusal": "formflow.records.access",
    "scope_for": "formflow.records.access",
    "settle": "formflow.records.compute",
    "settle_row": "formflow.records.compute",
    "sortable": "formflow.records.filters",
    "unit_of_work": "formflow.records.unit",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


__all__ = [
    "CHOICE_OPS",
    "COMMON_OPS",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_LIMIT",
    "MAX_ROWS",
    "MAX_SEARCH_LENGTH",
    "MAX_TEXT",
    "MAX_VALUES",
    "ORDERED_OPS",
    "TEXT_OPS",
    "Actor",
    "AgendaEntry",
    "AuditEntry",
    "Batch",
    "Context",
    "DefaultFailed",
    "ExpressionRefused",
    "Page",
    "Query",
    "Record",
    "RecordService",
    "applicable_fields",
    "create_with_inline",
    "default_value",
    "due_records",
    "refusal",
    "scope_for",
    "settle",
    "settle_row",
    "sortable",
    "unit_of_work",
]
