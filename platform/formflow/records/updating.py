"""An update in two phases: check each change, then write the checked ones together.

Every update of a record goes through both phases, whether one record changes or many:
:meth:`~formflow.records.service.RecordService.update` checks one change and writes it,
:func:`~formflow.records.batch_update.update_many` checks each change of a batch and
writes the good ones together. There is no second copy of either phase, so a batch
refuses exactly what single updates refuse and leaves exactly what they leave.

*Check* (:meth:`Updating.check`) loads the record (or takes the one the caller read in
the open unit), proves it reached and at the version the change was made against, and
works the change out: field access, conversion, derived values, in-save rules, the
record's lock, its new owner, references, unique values, duplicates, the plugins'
before-hooks and the form's rules, on the record as it will be stored. It writes nothing,
but for a pool's cool-down, which the same step decides; a refused change raises the
error the caller sees. What passes is a :class:`CheckedUpdate`.

*Write* (:meth:`Updating.write`) stores checked changes: one statement per set of columns
changed (each row still comparing its version), their subtable rows and duplicate keys,
one summary upsert, the derived values that read them, their stage stays and in-save rule
runs, then their history rows, audit entries and events, each kind in one statement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from formflow.audit import log as audit_log
from formflow.automations.in_save import InSaveRun, Ruled
from formflow.definitions.model import Form, Operation, Scope
from formflow.errors import Problem, StaleRecord
from formflow.events import EventKind
from formflow.records import audit
from formflow.records.access import Actor, require
from formflow.records.compute import Context
from formflow.records.field_access import FieldAccess
from formflow.records.integrity import unique_violation
from formflow.records.submission import Prepared
from formflow.storage.tables import DEPARTMENT, SEARCH

if TYPE_CHECKING:
    from formflow.records.service import Record, RecordService


@dataclass(frozen=True)
class Change:
    """One record's update, as the arguments of a single update."""

    record_id: int
    values: Mapping[str, Any]
    expected_version: int
    stored: Mapping[str, Any] | None = None
    """The record as the caller read it in the open unit, every column; else it is read."""
    problems: Mapping[str, list[Problem]] = dataclasses.field(default_factory=dict)
    """Problems the caller found in what was sent, whose values it left out of ``values``."""


@dataclass(frozen=True)
class CheckedUpdate:
    """A change that passed every check, and what writing it sets and leaves."""

    change: Change
    before: Record
    """The record as stored, without its subtable rows."""
    rows: Mapping[str, list[Record]]
    """The subtable rows the change gives (they replace the stored ones)."""
    all_rows: Mapping[str, list[Record]]
    """Every subtable's rows after the write: those kept, and those the change gives."""
    updates: Record
    """What the record's row statement sets: the values that change, and the stamps."""
    after: Record
    """The record as it will be stored, subtable rows included."""
    diff: dict[str, tuple[Any, Any]]
    runs: tuple[InSaveRun, ...]
    """The in-save rules that ran, logged with the write."""


class WriteUnsettled(Exception):
    """Changes written together that one of them could not take, while the statement does
    not say which (another writer moved a record on since it was read): written one by
    one, each says for itself."""


@dataclass(frozen=True)
class Updating:
    """What stays the same across the changes of one update or batch: who changes the
    records of which form, what they reach and may change, and the time of the write."""

    service: RecordService
    actor: Actor
    form: Form
    scope: Scope
    access: FieldAccess
    context: Context

    @classmethod
    def start(
        cls, service: RecordService, actor: Actor, form_key: str, grant: Collection[str]
    ) -> Updating:
        """An update of ``form_key``'s records by ``actor`` (``grant``: fields they may
        change whatever the field rules), refused if they may update none."""
        form, _table = service._form(form_key)
        scope = require(actor, form, Operation.UPDATE)
        access = service.field_access(actor, form_key, creating=False, grant=grant)
        return cls(service, actor, form, scope, access, service.context(actor))

    # check ----------------------------------------------------------------------------

    def check(
        self, connection: Connection, change: Change, *, warn_duplicates: bool = False
    ) -> CheckedUpdate:
        """Every check of an update, in order, on ``change``; raises what refuses it."""
        service, actor, form, access = self.service, self.actor, self.form, self.access
        record_id = change.record_id
        values, found = service._left_out_hidden(access, change.values, change.problems)
        current = self._current(connection, change)
        if current["version"] != change.expected_version:
            raise StaleRecord(record_id, change.expected_version, current["version"])
        service._refuse_readonly_record(actor, form, access, values, current)
        kept_rows = service._read_rows(connection, form, record_id)
        kept = {**current, **kept_rows}
        prepared, ruled = self._prepared(connection, values, current, kept_rows, kept, found)
        service._refuse_locked(connection, actor, form, record_id, access, values, prepared, kept)
        new = {**current, **prepared.values}
        owner = service._owner(actor, form, new)
        before_owner = current.get(form.owner_field)
        ruling = service._ruling(access, ruled)
        service._check_new_owner(connection, actor, form, ruling, owner, before_owner)
        if form.pool is not None:
            service._pool_owner_change(connection, actor, form, current, owner, self.context.utc)
        service.integrity.check(
            connection,
            actor,
            form,
            prepared.values,
            record_id=record_id,
            before=current,
            rows=prepared.rows,
            kept_rows=kept_rows,
        )
        changed = {
            key: value for key, value in prepared.values.items() if current.get(key) != value
        }
        service.duplicates.check(
            connection, form, new, record_id=record_id, changed=changed, warn=warn_duplicates
        )
        service._before(
            "formflow_before_update", actor, form, record_id=record_id, old=current, new=new
        )
        updates = self._updates(connection, current, new, changed, owner)
        all_rows = {**kept_rows, **prepared.rows}
        after = {**current, **updates, **all_rows}
        diff = audit.changed_fields(kept, after, service._audited(form))
        service._check_rules(connection, form, record_id, all_rows, self.context, after)
        return CheckedUpdate(
            change, current, prepared.rows, all_rows, updates, after, diff, ruled.runs
        )

    def _current(self, connection: Connection, change: Change) -> Record:
        """The record ``change`` changes, as stored and reached by the actor (with the
        form's pool when they are granted its owner: taking a record from the pool)."""
        form = self.form
        claiming = form.pool is not None and form.owner_field in self.access.granted
        if change.stored is not None:
            stored = dict(change.stored)
            return self.service._handed(
                self.actor, form, change.record_id, stored, self.scope, claiming
            )
        return self.service._load(
            connection,
            self.actor,
            form,
            change.record_id,
            self.scope,
            Operation.UPDATE,
            pool=claiming,
        )

    def _prepared(
        self,
        connection: Connection,
        values: Mapping[str, Any],
        current: Record,
        kept_rows: Mapping[str, list[Record]],
        kept: Mapping[str, Any],
        found: Mapping[str, list[Problem]],
    ) -> tuple[Prepared, Ruled]:
        """``values`` worked out over the record (converted, derived values, fields the
        actor may not change refused), then the form's in-save rules run on them
        (``kept``: the record with its subtable rows, as stored)."""
        service, form, context = self.service, self.form, self.context
        prepared = service._prepare(
            connection,
            form,
            values,
            context,
            self.actor,
            existing=current,
            rows=kept_rows,
            stored=current,
            found=found,
        )
        service._refuse_fixed(self.access, values, prepared.values, prepared.rows, kept)
        return service.in_save.apply(
            form.key, prepared, context, service.preparer, before=current, before_rows=kept_rows
        )

    def _updates(
        self,
        connection: Connection,
        current: Record,
        new: Record,
        changed: Mapping[str, Any],
        owner: int | None,
    ) -> Record:
        """What the record's row statement sets: only what changed (a workflow step sets
        one field), the stamps and new version, the search text, a new owner's department."""
        service, form = self.service, self.form
        updates = {
            **changed,
            "updated_at": self.context.utc,
            "updated_by": self.actor.user_id,
            "version": current["version"] + 1,
        }
        if service.schema.table(form.key).c.get(SEARCH) is not None:
            updates[SEARCH] = service._search_text(form, new)
        if owner != current.get(form.owner_field):
            updates[DEPARTMENT] = service.integrity.department_of(connection, self.actor, owner)
        return updates

    # write ----------------------------------------------------------------------------

    def write(self, connection: Connection, checked: Sequence[CheckedUpdate]) -> list[Record]:
        """Store ``checked`` and leave their traces; the records as stored, in order.

        Raises what a single update raises for what only the write finds (a unique value
        a concurrent writer took, a version it moved on, a rule a roll-up carried back to
        the record breaks), or :class:`WriteUnsettled` where several rows were written
        in one statement and it cannot say which failed."""
        service, form, context = self.service, self.form, self.context
        if not checked:
            return []
        self._store(connection, checked)
        for item in checked:
            record_id = item.change.record_id
            service._write_rows(connection, form, record_id, item.rows, replace=True)
            service.duplicates.store(connection, form, record_id, item.after)
        service.summaries.after_updates(connection, form, [(i.before, i.after) for i in checked])
        written: list[Record] = []
        for item in checked:
            record_id, after = item.change.record_id, item.after
            if service.derived.after_write(
                connection, form, record_id, item.before, after, set(item.diff)
            ):  # the write carried on to other records, and maybe back: read it again
                after = {**after, **service.derived.current(connection, form, record_id)}
                service._check_rules(connection, form, record_id, item.all_rows, context)
            if item.diff and form.key in service.stays.tracked:
                service.stays.keep(connection, form.key, record_id, context.utc, item.diff)
            if item.runs:
                version = item.updates["version"]
                service.in_save.log(connection, form.key, [record_id], version, [item.runs])
            written.append(after)
        self._trace(connection, checked, written)
        return written

    def _store(self, connection: Connection, checked: Sequence[CheckedUpdate]) -> None:
        """The records' rows: one statement per set of columns changed, each row written
        only if still at the version it was read at."""
        form = self.form
        table = self.service.schema.table(form.key)
        statement = self.service.prepared.versioned_update(form.key)
        groups: dict[tuple[str, ...], list[CheckedUpdate]] = {}
        for item in checked:
            groups.setdefault(tuple(sorted(item.updates)), []).append(item)
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
            except IntegrityError as exc:
                raise unique_violation(form, table, exc) from None
            if result.rowcount == len(rows):
                continue
            if len(items) > 1:
                raise WriteUnsettled
            stale = items[0].change
            now_at = connection.execute(
                select(table.c.version).where(table.c.id == stale.record_id)
            ).scalar()  # another writer's, committed meanwhile: the version to read again at
            raise StaleRecord(
                stale.record_id, stale.expected_version, now_at or stale.expected_version + 1
            )

    def _trace(
        self, connection: Connection, checked: Sequence[CheckedUpdate], written: list[Record]
    ) -> None:
        """The history rows, audit entries and events of the written changes (the audit
        entries are chained when the unit commits)."""
        service, form, user_id, at = self.service, self.form, self.actor.user_id, self.context.utc
        audit.record_changes(
            connection,
            table_name=service.schema.table(form.key).name,
            action="update",
            user_id=user_id,
            at=at,
            changes=[(item.change.record_id, item.diff) for item in checked],
        )
        for item in checked:
            audit_log(
                connection,
                "record.update",
                user_id=user_id,
                app_key=service.app.key,
                form_key=form.key,
                record_id=item.change.record_id,
                detail={"fields": sorted(item.diff)},
                at=at,
            )
        service.outbox.append_all(
            connection,
            [
                {
                    "app_key": service.app.key,
                    "form_key": form.key,
                    "record_id": item.change.record_id,
                    "kind": EventKind.UPDATED,
                    "user_id": user_id,
                    "at": at,
                    "record": service._public(form, after),
                    "changes": item.diff,
                }
                for item, after in zip(checked, written, strict=True)
            ],
        )
