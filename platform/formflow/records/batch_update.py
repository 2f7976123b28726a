"""Updating many records at once: a timed rule's slice, each record checked as if alone,
written together.

One by one, an update costs a handful of statements (the record read for its version,
the update, its history row and audit entry, its event and delivery, a savepoint), so a
sweep that flags 2,000 records spends most of its time on them. A batch reads the
records in one query, checks each exactly as
:meth:`~formflow.records.service.RecordService.update` does (the actor's reach and field
access, values, derived values, rules, references, unique values, the plugins'
before-hooks, the version it was read at), then writes the good ones with one statement
per table: an ``executemany`` of the records' updates (each still comparing its version),
their history rows and audit entries (kept back by the unit of work and chained at its
commit, as a single update's are), their events and deliveries, one summary upsert.

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

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from formflow.audit import log as audit_log
from formflow.definitions.model import Form, Operation, Scope
from formflow.errors import N_, FormflowError, RecordNotFound, StaleRecord, ValidationFailed
from formflow.events import EventKind
from formflow.fields import ValueKind
from formflow.records import audit
from formflow.records.access import Actor, require
from formflow.records.compute import Context
from formflow.records.field_access import FieldAccess
from formflow.records.query import normalised
from formflow.records.unit import unit_of_work
from formflow.storage.tables import DELETED_AT, DEPARTMENT, SEARCH

if TYPE_CHECKING:
    from formflow.records.service import Record, RecordService

_LARGEST_ID = 2**63 - 1


@dataclass(frozen=True)
class Change:
    """One record's update in a batch: as the arguments of a single update."""

    record_id: int
    values: Mapping[str, Any]
    expected_version: int
    stored: Mapping[str, Any] | None = None
    """The record as the caller read it in the open unit, every column (see
    :func:`read_current`); read by the batch otherwise."""


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
    form, table = service._form(form_key)
    scope = require(actor, form, Operation.UPDATE)
    access = service.field_access(actor, form_key, creating=False, grant=grant)
    if not changes:
        return BatchUpdate()
    ids = [change.record_id for change in changes]
    given = {key for change in changes for key in change.values}
    if (
        not batchable(service, form)
        or service.in_save.on_updates(form.key, given)
        or len(set(ids)) < len(ids)
    ):
        return _one_by_one(service, actor, form_key, changes, grant)
    context = service.context(actor)
    try:
        with service._writing() as connection:
            current = _current(service, connection, actor, form, scope, changes)
            checked, refused = _check(service, connection, actor, form, access, context, current)
            updated = _write(service, connection, actor, form, table, context, checked)
    except _FallBack:
        return _one_by_one(service, actor, form_key, changes, grant)
    return BatchUpdate({i: access.shown(service._public(form, r)) for i, r in updated}, refused)


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


def _current(
    service: RecordService,
    connection: Connection,
    actor: Actor,
    form: Form,
    scope: Scope,
    changes: Sequence[Change],
) -> list[tuple[int, Change, Record | FormflowError]]:
    """Each change with its record as stored and reached by the actor, or why not."""
    unread = [change.record_id for change in changes if change.stored is None]
    read = read_current(service, connection, form, unread) if unread else {}
    found: list[tuple[int, Change, Record | FormflowError]] = []
    for index, change in enumerate(changes):
        try:
            if change.stored is not None:
                record = service._handed(
                    actor, form, change.record_id, dict(change.stored), scope, False
                )
            elif change.record_id in read:
                record = service._reached(
                    actor, form, read[change.record_id], scope, Operation.UPDATE
                )
            else:
                raise RecordNotFound(
                    N_("no %(form)s record %(id)s"), form=form.label, id=change.record_id
                )
        except FormflowError as exc:
            found.append((index, change, exc))
        else:
            found.append((index, change, record))
    return found


@dataclass(frozen=True)
class _Checked:
    """A change that passed every check: the row's ``updates`` and the record after."""

    index: int
    change: Change
    before: Record
    updates: Record
    after: Record
    diff: dict[str, tuple[Any, Any]]


def _check(
    service: RecordService,
    connection: Connection,
    actor: Actor,
    form: Form,
    access: FieldAccess,
    context: Context,
    current: list[tuple[int, Change, Record | FormflowError]],
) -> tuple[list[_Checked], dict[int, FormflowError]]:
    """The checks of a single update, in its order, on each change; none writes."""
    checked: list[_Checked] = []
    refused: dict[int, FormflowError] = {}
    for index, change, record in current:
        if isinstance(record, FormflowError):
            refused[index] = record
            continue
        try:
            checked.append(
                _check_one(service, connection, actor, form, access, context, index, change, record)
            )
        except FormflowError as exc:
            refused[index] = exc
    return checked, refused


def _check_one(
    service: RecordService,
    connection: Connection,
    actor: Actor,
    form: Form,
    access: FieldAccess,
    context: Context,
    index: int,
    change: Change,
    current: Record,
) -> _Checked:
    record_id, values = change.record_id, change.values
    service._refuse_hidden(access, values)
    if current["version"] != change.expected_version:
        raise StaleRecord(record_id, change.expected_version, current["version"])
    service._refuse_readonly_record(actor, form, access, values, current)
    prepared = service.preparer.prepare(
        form,
        values,
        context,
        existing=current,
        existing_rows={},
        derive=service._derive(connection, form, current),
        fill=service._fill(connection, form),
    )
    service._refuse_fixed(access, values, prepared.values, prepared.rows, current)
    service._refuse_locked(connection, actor, form, record_id, access, values, prepared, current)
    owner = service._owner(actor, form, {**current, **prepared.values})
    service._check_new_owner(connection, actor, form, access, owner, current.get(form.owner_field))
    service.integrity.check(
        connection,
        actor,
        form,
        prepared.values,
        record_id=record_id,
        before=current,
        rows=prepared.rows,
        kept_rows={},
    )
    new = {**current, **prepared.values}
    service._before(
        "formflow_before_update", actor, form, record_id=record_id, old=current, new=new
    )
    updates = {
        **{key: value for key, value in prepared.values.items() if current.get(key) != value},
        "updated_at": context.utc,
        "updated_by": actor.user_id,
        "version": current["version"] + 1,
    }
    if service.schema.table(form.key).c.get(SEARCH) is not None:
        updates[SEARCH] = service._search_text(form, new)
    if owner != current.get(form.owner_field):
        updates[DEPARTMENT] = service.integrity.department_of(connection, actor, owner)
    after = {**current, **updates}
    diff = audit.changed_fields(current, after, service._audited(form))
    broken = service.derived.broken_rules(connection, form, record_id, {}, context, after)
    if broken:
        raise ValidationFailed(broken)
    return _Checked(index, change, current, updates, after, diff)


def _write(
    service: RecordService,
    connection: Connection,
    actor: Actor,
    form: Form,
    table: Table,
    context: Context,
    checked: list[_Checked],
) -> list[tuple[int, Record]]:
    """Write the checked changes: one ``executemany`` per set of columns changed, then
    the derived values, summaries, stays, history, audit entries and events."""
    if not checked:
        return []
    groups: dict[tuple[str, ...], list[_Checked]] = {}
    for item in checked:
        groups.setdefault(tuple(sorted(item.updates)), []).append(item)
    statement = update(table).where(
        table.c.id == bindparam("w_record_id"),
        table.c.version == bindparam("w_expected_version"),
    )
    for items in groups.values():
        rows = [
            {
                **item.updates,
                "w_record_id": item.change.record_id,
                "w_expected_version": item.change.expected_version,
            }
            for item in items
        ]
        try:
            result = connection.execute(statement, rows)
        except IntegrityError:  # a unique value two of the batch take: the singles say which
            raise _FallBack from None
        if result.rowcount != len(rows):  # another writer moved one on since it was read
            raise _FallBack
    service.summaries.after_updates(connection, form, [(i.before, i.after) for i in checked])
    written: list[tuple[int, Record]] = []
    for item in checked:
        record_id, after = item.change.record_id, item.after
        if service.derived.after_write(
            connection, form, record_id, item.before, after, set(item.diff)
        ):
            after.update(service.derived.current(connection, form, record_id))
            if service.derived.broken_rules(connection, form, record_id, {}, context):
                raise _FallBack  # a roll-up the write carried breaks a rule: the singles say
        if item.diff and form.key in service.stays.tracked:
            service.stays.keep(connection, form.key, record_id, context.utc, item.diff)
        written.append((item.index, after))
    _trace(service, connection, actor, form, context, checked)
    return written


def _trace(
    service: RecordService,
    connection: Connection,
    actor: Actor,
    form: Form,
    context: Context,
    checked: list[_Checked],
) -> None:
    """The history rows, audit entries and events of the batch, as single updates leave
    them (the audit entries are chained when the unit commits)."""
    audit.record_changes(
        connection,
        table_name=service.schema.table(form.key).name,
        action="update",
        user_id=actor.user_id,
        at=context.utc,
        changes=[(item.change.record_id, item.diff) for item in checked],
    )
    for item in checked:
        audit_log(
            connection,
            "record.update",
            user_id=actor.user_id,
            app_key=service.app.key,
            form_key=form.key,
            record_id=item.change.record_id,
            detail={"fields": sorted(item.diff)},
            at=context.utc,
        )
    service.outbox.append_all(
        connection,
        [
            {
                "app_key": service.app.key,
                "form_key": form.key,
                "record_id": item.change.record_id,
                "kind": EventKind.UPDATED,
                "user_id": actor.user_id,
                "at": context.utc,
                "record": service._public(form, item.after),
                "changes": item.diff,
            }
            for item in checked
        ],
    )


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
