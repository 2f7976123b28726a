"""Updating many records at once: a timed rule's slice, each record checked as if alone,
written together.

One by one, an update costs a handful of statements (the record read for its version,
the update, its history row and audit entry, its event and delivery, a savepoint), so a
sweep that flags 2,000 records spends most of its time on them. A batch reads the
records in one query, checks each with the very check of
:meth:`~formflow.records.service.RecordService.update` (the actor's reach and field
access, values, derived values, rules, references, unique values, the plugins'
before-hooks, the version it was read at), then writes the good ones with its very write,
given them all: one statement per table, an ``executemany`` of the records' updates (each
still comparing its version), their history rows and audit entries (kept back by the unit
of work and chained at its commit), their events and deliveries, one summary upsert. Both
phases are :mod:`formflow.records.updating`.

A record whose check fails is reported by its position and the others are written. What
the batch cannot prove alone falls back to the single update, one savepoint each, for the
whole batch: a form with subtables, a pool, duplicate checks or a link to itself (its
writes read rows, ledgers and keys record by record, or carry back to the written
record); the same record twice; and, found while writing, a unique value two records of
the batch take, a version another writer moved on meanwhile, or a rule that a roll-up
carried by the write breaks. Then nothing of the batch stays but what the single updates
write.

The result is what the single updates in a row would leave: the same values, versions,
history, audit chain and events. One difference: a roll-up of another record that the
batch moves is worked out once the whole batch is written, so when it is worked out
afresh (not adjusted by a difference) its record announces one move to the final value
rather than one per written record.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from formflow.definitions.model import Form
from formflow.errors import FormflowError
from formflow.fields import ValueKind
from formflow.records.access import Actor
from formflow.records.query import normalised
from formflow.records.unit import unit_of_work
from formflow.records.updating import Change, CheckedUpdate, Updating, WriteUnsettled
from formflow.storage.tables import DELETED_AT

if TYPE_CHECKING:
    from formflow.records.service import Record, RecordService

_LARGEST_ID = 2**63 - 1


@dataclass(frozen=True)
class BatchUpdate:
    """What a batch update did, by each change's position: the records as updated, and
    why each refused one was refused (the error the single update would raise)."""

    updated: dict[int, Record] = field(default_factory=dict)
    refused: dict[int, FormflowError] = field(default_factory=dict)


class _FallBack(Exception):
    """The batch met what only the single updates can settle: write them one by one."""


def update_many(
    service: RecordService,
    actor: Actor,
    form_key: str,
    changes: Sequence[Change],
    *,
    grant: Collection[str] = (),
) -> BatchUpdate:
    """Apply each of ``changes`` as :meth:`~formflow.records.service.RecordService.update`
    would (with ``grant`` for each), writing them together: the service's
    ``update_many``. A refused change is reported by position in the
    :class:`BatchUpdate` and leaves the others written. In an open unit of work the batch
    is a savepoint of it."""
    updating = Updating.start(service, actor, form_key, grant)
    if not changes:
        return BatchUpdate()
    form = updating.form
    ids = [change.record_id for change in changes]
    given = {key for change in changes for key in change.values}
    if (
        not batchable(service, form)
        or service.in_save.on_updates(form.key, given)
        or len(set(ids)) < len(ids)
    ):
        return _one_by_one(service, actor, form_key, changes, grant)
    try:
        with service._writing() as connection:
            checked: dict[int, CheckedUpdate] = {}
            refused: dict[int, FormflowError] = {}
            for index, change in enumerate(_read(service, connection, form, changes)):
                try:
                    with service._placing(updating.access):
                        checked[index] = updating.check(connection, change)
                except FormflowError as exc:
                    refused[index] = exc
            try:
                written = updating.write(connection, list(checked.values()))
            except (FormflowError, WriteUnsettled):  # the singles say which record
                raise _FallBack from None
    except _FallBack:
        return _one_by_one(service, actor, form_key, changes, grant)
    shown = [updating.access.shown(service._public(form, record)) for record in written]
    return BatchUpdate(dict(zip(checked, shown, strict=True)), refused)


def batchable(service: RecordService, form: Form) -> bool:
    """Whether updates of ``form``'s records can be checked first and written together:
    no subtables, pool, duplicate checks, nor roll-up or lookup of the form over itself."""
    if form.pool is not None or service.duplicates.watches(form.key):
        return False
    if any(field.kind is ValueKind.ROWS for field in form.fields):
        return False
    derived = service.derived
    over_itself = [
        other
        for other, _field in (
            *derived.rollups_over.get(form.key, ()),
            *derived.lookups_of.get(form.key, ()),
        )
        if other.key == form.key
    ]
    return not over_itself


def read_current(
    service: RecordService, connection: Connection, form: Form, ids: Sequence[int]
) -> dict[int, Record]:
    """The live records of ``ids`` as stored, every column, in one query on
    ``connection`` (a form with subtables: their rows too, a query per record)."""
    table = service.schema.table(form.key)
    wanted = [i for i in ids if 1 <= i <= _LARGEST_ID]
    if not wanted:
        return {}
    rows = connection.execute(
        select(table).where(table.c.id.in_(wanted), table.c[DELETED_AT].is_(None))
    ).mappings()
    found = {int(row["id"]): normalised(row) for row in rows}
    if any(f.kind is ValueKind.ROWS for f in form.fields):
        for record_id, record in found.items():
            record.update(service._read_rows(connection, form, record_id))
    return found


def _read(
    service: RecordService, connection: Connection, form: Form, changes: Sequence[Change]
) -> list[Change]:
    """Each change with its record as stored: those the caller did not hand over read in
    one query (one not found there is left to the check, which reads it again, and
    refuses it as a single update does)."""
    unread = [change.record_id for change in changes if change.stored is None]
    read = read_current(service, connection, form, unread) if unread else {}
    return [
        Change(change.record_id, change.values, change.expected_version, read[change.record_id])
        if change.stored is None and change.record_id in read
        else change
        for change in changes
    ]


def _one_by_one(
    service: RecordService,
    actor: Actor,
    form_key: str,
    changes: Sequence[Change],
    grant: Collection[str],
) -> BatchUpdate:
    """Each change through the single update, in a savepoint of one unit of work."""
    updated: dict[int, Record] = {}
    refused: dict[int, FormflowError] = {}
    with unit_of_work(service.engine):
        for index, change in enumerate(changes):
            try:
                updated[index] = service.update(
                    actor,
                    form_key,
                    change.record_id,
                    change.values,
                    expected_version=change.expected_version,
                    grant=grant,
                    stored=change.stored,
                )
            except FormflowError as exc:
                refused[index] = exc
    return BatchUpdate(updated, refused)
