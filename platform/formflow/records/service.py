"""The record service: the one place that reads and writes records.

Pages, the API, imports, workflows and the shell all come here, so every write is checked
the same way (values, permissions, references, uniqueness, plugins) and leaves the same
trail (version, audit entry), and every read is limited by the same scopes.

A write is one transaction: it either stores everything (record, rows, number, audit,
event) or nothing; several writes share one through :func:`~formflow.records.unit.unit_of_work`.
Plugins' before-hooks run inside it and can veto. Each committed change leaves an event in
the outbox, which the relay hands to subscribers, plugins' after-hooks among them, once the
transaction has committed: they can never undo it, and are not lost if the process dies.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Select,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from formflow.audit import log as audit_log
from formflow.automations.in_save import InSaveRules, Ruled
from formflow.definitions.model import SYSTEM_FIELDS, App, Field, Form, Operation, Scope
from formflow.duplicates.keys import DuplicateKeys
from formflow.errors import (
    N_,
    PermissionDenied,
    Problem,
    QueryError,
    RecordNotFound,
    StaleRecord,
    ValidationFailed,
)
from formflow.events import EventKind, Outbox, Relay
from formflow.events.outbox import Check
from formflow.expressions import ExpressionError
from formflow.fields import Invalid, Reference, ValueKind
from formflow.record_actions import ledger
from formflow.records import audit, lookup
from formflow.records.access import (
    Actor,
    Reach,
    reach,
    reach_values,
    reaches,
    refusal,
    require,
    scope_condition,
    scope_for,
)
from formflow.records.after_hooks import (
    AFTER_HOOKS,
    NoHooks,
    RecordHooks,
    after_hooks_subscriber,
    wants_after_hooks,
)
from formflow.records.aggregates import Aggregation, aggregate
from formflow.records.batch import create_many
from formflow.records.batch_update import update_many
from formflow.records.compute import Context, reads_record_id
from formflow.records.derived import DerivedValues
from formflow.records.field_access import (
    FieldAccess,
    check_readable,
    field_access,
    filter_fields,
    is_system,
    refused_changes,
)
from formflow.records.filters import LinkScope, resolve_field
from formflow.records.integrity import IntegrityChecks, unique_violation
from formflow.records.locks import LOCKED, RecordLocks
from formflow.records.numbering import next_number
from formflow.records.query import Page, PageStatements, Query, Reached, normalised
from formflow.records.reading import ReadContext
from formflow.records.search import search_text
from formflow.records.stage_history import StayAggregation, stay_groups
from formflow.records.statements import PreparedStatements
from formflow.records.submission import Derive, Fill, Prepared, Preparer, Unfit
from formflow.records.subtables import read_subtable_rows
from formflow.records.summaries import SummaryKeeper
from formflow.records.unit import current_unit, one_write
from formflow.records.updating import Change, Updating
from formflow.records.values import ValueConverter
from formflow.storage.database import read_transaction, write_transaction
from formflow.storage.stays import StayKeeper
from formflow.storage.tables import (
    DELETED_AT,
    DELETED_BY,
    DEPARTMENT,
    PARENT_ID,
    POSITION,
    SEARCH,
    AppSchema,
)

Record = dict[str, Any]
_Read = TypeVar("_Read")

_LARGEST_ID = 2**63 - 1
"""No row has an id past a signed 64-bit integer; PostgreSQL refuses to compare with one."""

_AUDIT_ACTIONS = {
    EventKind.CREATED: "create",
    EventKind.UPDATED: "update",
    EventKind.DELETED: "delete",
    EventKind.RESTORED: "restore",
}
"""The audit log's word for each kind of record event."""


@dataclass(frozen=True)
class _FormFacts:
    """What every write of a form asks of its fields, worked out once per compiled form
    (a migration compiles the app again, and its service with it)."""

    keys: tuple[str, ...]
    """Every field, in order: what a record's history lists."""
    defaults: Mapping[str, Any]
    """Each field's ``default``: what a new record's fixed fields must keep."""
    derives: bool
    """Whether a field is a roll-up or a lookup (a save reads them first)."""
    fills: bool
    """Whether a link fills other fields or is narrowed by one (a save reads the record)."""

    @classmethod
    def of(cls, form: Form) -> _FormFacts:
        return cls(
            keys=tuple(field.key for field in form.fields),
            defaults=MappingProxyType({field.key: field.default for field in form.fields}),
            derives=any(field.is_derived for field in form.fields),
            fills=any(field.fills or field.link_filter for field in form.fields),
        )


@dataclass(frozen=True)
class Linked:
    """The first records of one form that link to a record (see RecordService.linked_to)."""

    form_key: str
    link_key: str
    records: list[Record]
    more: bool


class RecordService:
    """Reads and writes the records of one app."""

    def __init__(
        self,
        engine: Engine,
        schema: AppSchema,
        *,
        hooks: RecordHooks | None = None,
        timezone: tzinfo = UTC,
        relay: Relay | None = None,
        subscribers: Collection[str] | None = None,
        subscriber_forms: Mapping[str, Collection[str]] | None = None,
        subscriber_checks: Mapping[str, Check] | None = None,
    ) -> None:
        """``relay`` delivers this service's events; by default one of its own, whose only
        subscriber runs the plugins' after-hooks (an instance shares one across its apps).
        ``subscribers`` limits which of the relay's subscribers this app's events are owed
        to (default: all), and ``subscriber_forms`` a subscriber to some forms' events, so
        that a write owes nothing to one with nothing to do for it and, owing nothing to
        anyone, costs no delivery at all; ``subscriber_checks`` narrows a subscriber event
        by event (see :class:`~formflow.events.outbox.Outbox`)."""
        self.engine = engine
        self.schema = schema
        self.app: App = schema.app
        self.hooks = hooks or NoHooks()
        self.relay = relay or Relay(engine, self._default_subscribers())
        self.outbox = Outbox(
            [name for name in self.relay.subscribers if subscribers is None or name in subscribers],
            forms=subscriber_forms,
            owing=self._owing,
            checks=subscriber_checks,
        )
        self.timezone = timezone
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        """The time writes are stamped with (tests set their own)."""
        self.locks: RecordLocks | None = None
        """Set by the workflow engine: records it is running an approval on are locked."""
        self.preparer = Preparer(ValueConverter(timezone))
        self.prepared = PreparedStatements(schema)
        self.pages = PageStatements(schema)
        self.derived = DerivedValues(schema, timezone)
        self.derived.announce = self._derived_moved
        self.in_save = InSaveRules(self.app)
        """The app's in-save rules (``timing: in_save``), run while a save is worked out."""
        self.integrity = IntegrityChecks(schema, self.prepared, self.derived)
        self.duplicates = DuplicateKeys(schema)
        self.stays = StayKeeper(self.app)
        self.summaries = SummaryKeeper(self.app)
        self._statements: dict[tuple[str, bool], Select[Any]] = {}
        self._access: dict[tuple[Any, ...], FieldAccess] = {}
        self._reads_id = {key: reads_record_id(form) for key, form in self.app.forms.items()}
        self._columns = {key: frozenset(schema.table(key).c.keys()) for key in self.app.forms}
        self._reads_back = {
            key: bool(form.rules or any(field.is_derived for field in form.fields))
            for key, form in self.app.forms.items()
        }
        self._inserts = {key: self._insert_statement(form) for key, form in self.app.forms.items()}
        self._facts = {key: _FormFacts.of(form) for key, form in self.app.forms.items()}

    # writes -------------------------------------------------------------------------

    def create(
        self,
        actor: Actor,
        form_key: str,
        values: Mapping[str, Any],
        *,
        grant: Collection[str] = (),
        warn_duplicates: bool = False,
        problems: Mapping[str, list[Problem]] | None = None,
    ) -> Record:
        """Store a new record; raise ValidationFailed with every problem if it does not fit.

        ``grant`` names fields the caller may set whatever the field rules (a workflow, the
        state it owns); see :mod:`formflow.records.field_access`. A value a ``block``
        duplicate check finds elsewhere is always refused; with ``warn_duplicates`` (a
        person who has not yet confirmed) one a ``warn`` check finds raises
        DuplicateSuspected, while writes that do not ask (workflows, seeders) go ahead.
        ``problems`` are those the caller found in what was sent (the API's unknown keys
        and values of the wrong JSON type, a page's refused file), left out of
        ``values``: nothing is stored, and they come back with every problem found here.
        """
        form, table = self._form(form_key)
        require(actor, form, Operation.CREATE)
        access = self.field_access(actor, form_key, creating=True, grant=grant)
        values, found = self._left_out_hidden(access, values, problems)
        context = self.context(actor)
        defaults = self._facts[form.key].defaults
        with self._placing(access), self._writing() as connection:
            prepared = self._prepare(connection, form, values, context, actor, found=found)
            self._refuse_fixed(access, values, prepared.values, prepared.rows, defaults)
            prepared, ruled = self.in_save.apply(form.key, prepared, context, self.preparer)
            owner = self._owner(actor, form, prepared.values)
            self._check_new_owner(connection, actor, form, self._ruling(access, ruled), owner, None)
            self.integrity.check(
                connection, actor, form, prepared.values, record_id=None, rows=prepared.rows
            )
            self.duplicates.check(
                connection, form, prepared.values, record_id=None, warn=warn_duplicates
            )
            self._before("formflow_before_create", actor, form, values=prepared.values)
            row = self._new_row(connection, actor, form, table, prepared, context)
            row[DEPARTMENT] = self.integrity.department_of(connection, actor, owner)
            record_id, stored = self._insert(connection, form, table, row)
            if self._reads_id[form.key]:
                prepared, row = self._with_id(
                    connection,
                    actor,
                    form,
                    table,
                    {**values, **ruled.values},
                    context,
                    row,
                    record_id,
                )
                stored = None
            self._write_rows(connection, form, record_id, prepared.rows)
            record = {**row, "id": record_id, **prepared.rows}
            self.duplicates.store(connection, form, record_id, record)
            if self.derived.after_write(connection, form, record_id, None, record):
                stored = None  # the write carried on to other records, and maybe back
            self.summaries.after_many(connection, form, [record])
            record.update(self.derived.current(connection, form, record_id, stored))
            self._check_rules(connection, form, record_id, prepared.rows, context, stored)
            if ruled.runs:
                self.in_save.log(connection, form.key, [record_id], 1, [ruled.runs])
            self._changed(
                connection,
                form,
                record_id,
                EventKind.CREATED,
                actor.user_id,
                context.utc,
                record,
                audited=audit.changed_fields({}, record, self._audited(form)),
            )
        return self._shown(access, form, record)

    create_many = create_many
    """Store a new record for each of ``items``, checked as :meth:`create` checks one,
    written together: :func:`formflow.records.batch.create_many`, the service's own."""

    update_many = update_many
    """Apply many changes, each checked as :meth:`update` checks one, written together:
    :func:`formflow.records.batch_update.update_many`, the service's own."""

    def update(
        self,
        actor: Actor,
        form_key: str,
        record_id: int,
        values: Mapping[str, Any],
        *,
        expected_version: int,
        grant: Collection[str] = (),
        warn_duplicates: bool = False,
        savepoint: bool = True,
        stored: Mapping[str, Any] | None = None,
        problems: Mapping[str, list[Problem]] | None = None,
    ) -> Record:
        """Change a record the actor loaded at ``expected_version``; refuse if it moved on.

        ``grant`` names fields the caller may change whatever the field rules;
        ``warn_duplicates`` is as for :meth:`create`, for the values that change. In an
        open unit of work the write runs in a savepoint, so that a refused write leaves the
        unit's other writes intact; a caller for whom any refusal ends the whole unit (a
        workflow step) passes ``savepoint=False`` and saves its two statements. A caller
        that has just read the record in the open unit (a workflow step) hands it as
        ``stored``, every column as read, and it is not read again: the actor's reach is
        checked on it all the same, and the write itself still compares the version.

        ``problems`` are those the caller found in what was sent, as for :meth:`create`.

        The change is checked, then written, by :mod:`formflow.records.updating`, which
        :meth:`update_many` runs on each change of a batch.
        """
        updating = Updating.start(self, actor, form_key, grant)
        change = Change(record_id, values, expected_version, stored, problems or {})
        with self._placing(updating.access), self._writing(savepoint) as connection:
            checked = updating.check(connection, change, warn_duplicates=warn_duplicates)
            (after,) = updating.write(connection, [checked])
        return self._shown(updating.access, updating.form, after)

    def delete(
        self, actor: Actor, form_key: str, record_id: int, *, expected_version: int | None = None
    ) -> None:
        """Move a record to the recycle bin, applying its links' on_delete rules."""
        form, _table = self._form(form_key)
        scope = require(actor, form, Operation.DELETE)
        now = self.context(actor).utc
        with self._writing() as connection:
            current = self._load(connection, actor, form, record_id, scope, Operation.DELETE)
            if expected_version is not None and current["version"] != expected_version:
                raise StaleRecord(record_id, expected_version, current["version"])
            if self._locked_fields(connection, actor, form, record_id) is not None:
                raise ValidationFailed({"": [LOCKED]})
            self._before("formflow_before_delete", actor, form, record=current)
            self.integrity.release_references(
                connection, actor, form, record_id, now, self._soft_delete
            )
            self._soft_delete(connection, form, record_id, actor.user_id, now, current)

    def restore(self, actor: Actor, form_key: str, record_id: int) -> Record:
        """Bring a record back from the recycle bin (its unique values must still be free)."""
        form, table = self._form(form_key)
        scope = require(actor, form, Operation.DELETE)
        now = self.context(actor).utc
        with self._writing() as connection:
            current = self._load(
                connection, actor, form, record_id, scope, Operation.DELETE, deleted=True
            )
            self.integrity.check_unique(connection, form, current, record_id=record_id)
            self.duplicates.check(connection, form, current, record_id=record_id)
            self.duplicates.store(connection, form, record_id, current)
            changes = {
                DELETED_AT: None,
                DELETED_BY: None,
                "version": current["version"] + 1,
                "updated_at": now,
                "updated_by": actor.user_id,
            }
            connection.execute(update(table).where(table.c.id == record_id).values(changes))
            self.derived.refresh(connection, form, record_id)
            self.derived.after_write(connection, form, record_id, None, current)
            self.summaries.after_many(connection, form, [current])
            self._check_rules(
                connection,
                form,
                record_id,
                self._read_rows(connection, form, record_id),
                self.context(actor),
            )
            restored = {**current, **changes}
            self._changed(
                connection, form, record_id, EventKind.RESTORED, actor.user_id, now, restored
            )
        return self._shown(self.field_access(actor, form_key), form, restored)

    def move_owner(self, user_id: int, department_id: int | None) -> int:
        """Move the records ``user_id`` owns to their new department; returns how many.

        A record belongs to its owner's department as it is now, so a user changing
        department takes their records along: department scopes stay one indexed ``IN``.
        """
        moved = 0
        with write_transaction(self.engine) as connection:
            for form in self.app.forms.values():
                table = self.schema.table(form.key)
                owned = table.c[form.owner_field] == user_id
                result = connection.execute(
                    update(table).where(owned).values({DEPARTMENT: department_id})
                )
                moved += result.rowcount
                self.summaries.rebuild(connection, self.schema, form.key, owner=user_id)
        return moved

    # reads --------------------------------------------------------------------------

    def get(
        self,
        actor: Actor,
        form_key: str,
        record_id: int,
        *,
        fields: Sequence[str] | None = None,
    ) -> Record:
        """One record with its subtable rows; RecordNotFound when out of the actor's reach.

        ``fields`` asks for ``id`` and only those fields (system fields among them): a
        subtable's rows are read only when it is asked for. A field the actor may not see
        is refused as unknown, as in a filter.
        """
        form, _table = self._form(form_key)
        scope = require(actor, form, Operation.READ)
        if fields is not None:
            fields = self._readable(actor, form, fields)
        columns = None if fields is None else self._columns[form.key].intersection(fields)
        with read_transaction(self.engine) as connection:
            record = self._load(
                connection, actor, form, record_id, scope, Operation.READ, columns=columns
            )
            record.update(self._read_rows(connection, form, record_id, fields))
        if fields is not None:
            record = {key: record[key] for key in ("id", *fields)}
        return self._shown(self.field_access(actor, form_key), form, record)

    def _readable(self, actor: Actor, form: Form, keys: Sequence[str]) -> list[str]:
        """``keys`` checked to be fields (or system fields) the actor may read, in order."""
        check_readable(self.app, actor, form, iter(keys))
        for key in keys:
            if key not in SYSTEM_FIELDS and not form.has_field(key):
                resolve_field(self.schema, form.key, key, purpose="read")  # names the error
        return list(dict.fromkeys(keys))

    def find(self, actor: Actor, form_key: str, query: Query | None = None) -> Page:
        """A page of the records the actor may read, filtered, searched and sorted.

        ``Query(deleted=True)`` lists the recycle bin, for those who may delete.
        """
        query = query or Query()
        form, _table = self._form(form_key)
        scope = require(actor, form, Operation.DELETE if query.deleted else Operation.READ)
        hidden = self.field_access(actor, form_key).hidden
        if hidden or self._hides_linked(actor):
            check_readable(
                self.app,
                actor,
                form,
                iter(
                    [
                        *filter_fields(query.filter),
                        *(key.field for key in query.sort or ()),
                        *(query.fields or ()),
                    ]
                ),
            )
        found = reach(scope, actor, form if not query.deleted else None)
        with read_transaction(self.engine) as connection:
            page = self.pages.select(
                connection,
                form_key,
                query,
                scope=Reached(found, reach_values(found, actor)),
                link_scope=self._link_scope(actor),
            )
        if hidden:
            page.rows[:] = [{k: v for k, v in row.items() if k not in hidden} for row in page.rows]
        return page

    def titles(self, actor: Actor, form_key: str, ids: Collection[int]) -> dict[int, Record]:
        """The live records among ``ids`` the actor may read, as ``id`` and title field,
        by id: what a page needs to name the records its links point at."""
        form, _table = self._form(form_key)
        found = reach(require(actor, form, Operation.READ), actor, form)
        statement = self.prepared.titles(form_key, found)
        values = {"ids": sorted(ids), **reach_values(found, actor)}
        with read_transaction(self.engine) as connection:
            rows = connection.execute(statement, values).mappings()
            return {row["id"]: normalised(row) for row in rows}

    def readable_ids(self, actor: Actor, form_key: str, ids: Collection[int]) -> set[int]:
        """The live records among ``ids`` the actor may read (none when they may read no
        record of the form): what may be named to them of records written on their behalf,
        which a role may update yet not read."""
        form, _table = self._form(form_key)
        if actor.is_admin and actor.forms is None:
            return set(ids)
        if not ids or scope_for(actor, form, Operation.READ) is Scope.NONE:
            return set()
        return set(self.titles(actor, form_key, ids))

    def ids_by_title(
        self, actor: Actor, form_key: str, titles: Collection[str]
    ) -> dict[str, list[int]]:
        """The ids of the records the actor may read with each of ``titles``; see
        :func:`formflow.records.lookup.ids_by_title` (an import's links given by title)."""
        return lookup.ids_by_title(self, actor, form_key, titles)

    def matching(
        self,
        actor: Actor,
        form_key: str,
        keys: Sequence[str],
        candidates: Collection[tuple[Any, ...]],
    ) -> dict[tuple[Any, ...], Record]:
        """The records the actor may read holding each of ``candidates`` as values of
        ``keys`` (an import's duplicates); see :func:`formflow.records.lookup.matching`."""
        return lookup.matching(self, actor, form_key, keys, candidates)

    def referenced_titles(self, form_key: str, ids: Collection[int]) -> dict[int, Record]:
        """The live records among ``ids`` as ``id`` and title field, whoever may read them.

        For naming what the links of records a person has already read point at: the title
        is the link's value, shown as a user's name is, while the record behind it stays
        closed to them. Pass only ids read from such records, never ids a request names.
        """
        self._form(form_key)
        statement = self.prepared.titles(form_key, Reach.EVERYTHING)
        with read_transaction(self.engine) as connection:
            rows = connection.execute(statement, {"ids": sorted(ids)}).mappings()
            return {row["id"]: normalised(row) for row in rows}

    def stored(self, form_key: str, record_id: int, *, deleted: bool = False) -> Record | None:
        """A record with its rows as stored, whoever may read it, or ``None``; read on the
        open unit of work's connection when there is one, so it sees the unit's own writes.

        For the engine's interpreters (automations), which act as the system and must read
        what they are about to change; never for a record a request names.
        """
        form, _table = self._form(form_key)
        current = current_unit()
        if current is not None and current.engine is self.engine:
            return self._stored(current.connection, form, record_id, deleted)
        with read_transaction(self.engine) as connection:
            return self._stored(connection, form, record_id, deleted)

    def _stored(
        self, connection: Connection, form: Form, record_id: int, deleted: bool
    ) -> Record | None:
        row = connection.execute(self._by_id(form.key, deleted), {"record_id": record_id})
        found = row.mappings().first()
        if found is None:
            return None
        record = normalised(found)
        record.update(self._read_rows(connection, form, record_id))
        return self._public(form, record)

    def linking(
        self, actor: Actor, form_key: str, link_key: str, record_id: int, *, limit: int
    ) -> tuple[list[Record], bool]:
        """The first ``limit`` records of ``form_key`` the actor may read whose link
        ``link_key`` points at ``record_id``, in the form's list order, as ``id`` and title
        field; and whether more follow. What a record page lists under "linked records".
        A link hidden from the actor is refused as unknown: the list would tell its values."""
        form, _table = self._form(form_key)
        check_readable(self.app, actor, form, iter([link_key]))
        if (
            not form.has_field(link_key)
            or form.field(link_key).field_type.reference is not Reference.RECORD
        ):
            raise QueryError(
                N_("'%(link)s' is not a link field of '%(form)s'"),
                field=link_key,
                link=link_key,
                form=form_key,
            )
        found = reach(require(actor, form, Operation.READ), actor)
        statement = self.prepared.linking(form_key, link_key, found)
        values = {"record_id": record_id, "limit": limit + 1, **reach_values(found, actor)}
        with read_transaction(self.engine) as connection:
            rows = [normalised(row) for row in connection.execute(statement, values).mappings()]
        return rows[:limit], len(rows) > limit

    def linked_to(self, actor: Actor, form_key: str, record_id: int, *, limit: int) -> list[Linked]:
        """For every link field of every form pointing at ``form_key`` whose records the actor
        may read: what :meth:`linking` gives for ``record_id``. Lists with text titles come
        from one statement, so a record page pays one round trip for all of them. Links
        hidden from the actor are left out: their lists would tell the hidden values."""
        parts: list[tuple[str, str, Reach]] = []
        for other in self.app.forms.values():
            found = reach(scope_for(actor, other, Operation.READ), actor)
            if found is not Reach.NOTHING:
                hidden = self.field_access(actor, other.key).hidden
                parts.extend(
                    (other.key, link.key, found)
                    for link in other.link_fields()
                    if link.target_form == form_key and link.key not in hidden
                )
        together = tuple(part for part in parts if self._titled_by_text(part[0]))
        rows = self._linked_together(actor, together, record_id, limit) if together else {}
        found_lists = []
        for part in parts:
            other_key, link_key, _reach = part
            if part in rows:
                records, more = rows[part][:limit], len(rows[part]) > limit
            else:
                records, more = self.linking(actor, other_key, link_key, record_id, limit=limit)
            found_lists.append(Linked(other_key, link_key, records, more))
        return found_lists

    def _linked_together(
        self,
        actor: Actor,
        parts: tuple[tuple[str, str, Reach], ...],
        record_id: int,
        limit: int,
    ) -> dict[tuple[str, str, Reach], list[Record]]:
        values: dict[str, Any] = {"record_id": record_id, "limit": limit + 1}
        for _form_key, _link_key, found in parts:
            values.update(reach_values(found, actor))
        with read_transaction(self.engine) as connection:
            result = connection.execute(self.prepared.linked_to(parts), values).all()
        rows: dict[tuple[str, str, Reach], list[Record]] = {part: [] for part in parts}
        for index, record_id_found, title, _place in sorted(
            result, key=lambda row: (row[0], row[3])
        ):
            part = parts[index]
            rows[part].append({"id": record_id_found, self.app.form(part[0]).title_field: title})
        return rows

    def aggregate(
        self, actor: Actor, form_key: str, aggregation: Aggregation
    ) -> list[dict[str, Any]]:
        """Counts, sums and the like over the records the actor may read."""
        form, table = self._form(form_key)
        scope = require(actor, form, Operation.READ)
        if self.field_access(actor, form_key).hidden or self._hides_linked(actor):
            measured = [measure.field for measure in aggregation.measures if measure.field]
            for measure in aggregation.measures:
                measured += filter_fields(measure.filter)
            check_readable(
                self.app,
                actor,
                form,
                iter([*aggregation.group_by, *measured, *filter_fields(aggregation.filter)]),
            )
        return self._read(aggregate, actor, form, table, scope, aggregation)

    def stay_groups(
        self, actor: Actor, form_key: str, aggregation: StayAggregation
    ) -> list[dict[str, Any]]:
        """The stays of a tracked stage field, grouped, over the records the actor may read
        (:func:`formflow.records.stage_history.stay_groups`)."""
        form, table = self._form(form_key)
        scope = require(actor, form, Operation.READ)
        keys = [aggregation.field_key, *aggregation.group_by]
        check_readable(self.app, actor, form, iter([*keys, *filter_fields(aggregation.filter)]))
        return self._read(stay_groups, actor, form, table, scope, aggregation)

    def _read(
        self,
        reader: Callable[[ReadContext, Any], _Read],
        actor: Actor,
        form: Form,
        table: Table,
        scope: Scope,
        question: Any,
        *,
        pool: bool = False,
    ) -> _Read:
        """Ask a reader of records (:func:`aggregate`, :func:`stay_groups`; see
        :class:`ReadContext`) ``question`` over the rows of ``table`` that ``scope`` lets
        the actor see, reaching through links only the records the actor may read."""
        with read_transaction(self.engine) as connection:
            context = ReadContext(
                connection,
                self.schema,
                form.key,
                scope=scope_condition(scope, actor, form, table, pool=pool),
                link_scope=self._link_scope(actor),
            )
            return reader(context, question)

    def get_with_history(
        self, actor: Actor, form_key: str, record_id: int
    ) -> tuple[Record, list[audit.AuditEntry]]:
        """:meth:`get` and :meth:`history` in one read (what a record's page shows)."""
        form, table = self._form(form_key)
        scope = require(actor, form, Operation.READ)
        with read_transaction(self.engine) as connection:
            record = self._load(connection, actor, form, record_id, scope, Operation.READ)
            record.update(self._read_rows(connection, form, record_id))
            trail = audit.history(connection, table.name, record_id)
        access = self.field_access(actor, form_key)
        return self._shown(access, form, record), self._trail(access, trail)

    def history(self, actor: Actor, form_key: str, record_id: int) -> list[audit.AuditEntry]:
        """A record's audit trail, newest first (for those who may read the record)."""
        form, table = self._form(form_key)
        scope = require(actor, form, Operation.READ)
        with read_transaction(self.engine) as connection:
            self._load(connection, actor, form, record_id, scope, Operation.READ)
            trail = audit.history(connection, table.name, record_id)
        return self._trail(self.field_access(actor, form_key), trail)

    def recent(self, actor: Actor, limit: int = 10) -> list[tuple[str, Record]]:
        """The live records the actor changed most recently and may still read, newest first."""
        if actor.user_id is None:
            return []
        form_of = {self.schema.table(key).name: key for key in self.app.forms}
        with read_transaction(self.engine) as connection:
            touched = audit.recent_records(connection, actor.user_id, list(form_of), limit)
            found: dict[tuple[str, int], Record] = {}
            for table_name in dict.fromkeys(name for name, _ in touched):
                form, table = self._form(form_of[table_name])
                ids = [record_id for name, record_id in touched if name == table_name]
                condition = scope_condition(
                    scope_for(actor, form, Operation.READ), actor, form, table
                )
                query = select(table).where(table.c.id.in_(ids), table.c[DELETED_AT].is_(None))
                for row in connection.execute(
                    query if condition is None else query.where(condition)
                ).mappings():
                    found[(form.key, row["id"])] = self._shown(
                        self.field_access(actor, form.key), form, normalised(row)
                    )
        return [
            (form_of[name], found[(form_of[name], record_id)])
            for name, record_id in touched
            if (form_of[name], record_id) in found
        ]

    # helpers ------------------------------------------------------------------------

    def _form(self, form_key: str) -> tuple[Form, Table]:
        if form_key not in self.app.forms:
            raise RecordNotFound(N_("no form '%(form)s'"), form=form_key)
        return self.app.form(form_key), self.schema.table(form_key)

    def _titled_by_text(self, form_key: str) -> bool:
        form = self.app.form(form_key)
        return form.field(form.title_field).kind is ValueKind.TEXT

    def _link_scope(self, actor: Actor) -> LinkScope:
        """For filters across links: the linked records the actor may read, form by form."""

        def reachable(form_key: str) -> ColumnElement[bool] | None:
            form, table = self._form(form_key)
            return scope_condition(scope_for(actor, form, Operation.READ), actor, form, table)

        return reachable

    def context(self, actor: Actor) -> Context:
        """What expressions read of ``actor`` and of the time, as this service's writes see
        them: pages work out defaults and conditions for a form still being filled in with
        it (through :mod:`formflow.records.compute`), so they agree with a save."""
        user = {
            "id": actor.user_id,
            "roles": sorted(actor.roles),
            "department": actor.department_id,
        }
        return Context(user, self.timezone, self.clock())

    def check(
        self,
        actor: Actor,
        form_key: str,
        values: Mapping[str, Any],
        record: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise :class:`ValidationFailed` with every problem saving ``values`` (over
        ``record``, for an update) would find in them, without saving: a page that cannot
        save for a reason of its own (a refused file) still shows every problem at once,
        a unique value another record holds among them.

        It answers as the save does: a field hidden from the actor is unknown, a field
        they may not change is refused, and an update is read over the record as stored
        (by ``record``'s id, as the actor reaches it for an update), not as handed in,
        which lacks the fields hidden from them."""
        form, _table = self._form(form_key)
        access = self.field_access(actor, form_key, creating=record is None)
        values, found = self._left_out_hidden(access, values)
        context = self.context(actor)
        with self._placing(access), read_transaction(self.engine) as connection:
            existing: Record | None = None
            rows: dict[str, list[Record]] | None = None
            before: Mapping[str, Any] = self._facts[form.key].defaults
            if record is not None:
                scope = require(actor, form, Operation.UPDATE)
                record_id = int(record["id"])
                existing = self._load(connection, actor, form, record_id, scope, Operation.UPDATE)
                rows = self._read_rows(connection, form, record_id)
                before = {**existing, **rows}
            prepared = self._prepare(
                connection,
                form,
                values,
                context,
                actor,
                existing=existing,
                rows=rows,
                stored=existing,
                found=found,
            )
            submitted = {**prepared.values, **prepared.rows}
            problems = refused_changes(access, values, submitted, before) if access.fixed else {}
            more = self._other_problems(connection, form, prepared.values, existing, context)
            for key, found_here in more.items():
                problems.setdefault(key, []).extend(found_here)
            if problems:
                raise ValidationFailed(problems)

    def linked_values(self, actor: Actor, form_key: str, values: Mapping[str, Any]) -> Record:
        """What the links chosen among ``values`` bring along before the record is saved:
        the fields they fill (``fills``) and the lookups through them, read from linked
        records ``actor`` may read (a field hidden from them, or a record they may not
        read, gives nothing). Pages show these as soon as a link is picked, and the
        conditions they work out read them, as the save will."""
        form, _table = self._form(form_key)
        found: Record = {}
        for link in form.link_fields():
            shows = [f for f in form.fields if f.lookup is not None and f.lookup.link == link.key]
            if not link.fills and not shows:
                continue
            chosen = values.get(link.key)
            linked: Mapping[str, Any] = {}
            if isinstance(chosen, int):
                try:
                    linked = self.get(actor, str(link.target_form), chosen)
                except (RecordNotFound, PermissionDenied):
                    linked = {}
            for ours, theirs in link.fills:
                found[ours] = linked.get(theirs)
            for shown in shows:
                assert shown.lookup is not None
                found[shown.key] = linked.get(shown.lookup.field)
        return found

    def duplicates_of(
        self,
        actor: Actor,
        form_key: str,
        field_key: str,
        value: str,
        record_id: int | None = None,
    ) -> list[Problem]:
        """What the app's duplicate checks find for ``value`` typed into ``field_key`` of a
        new record, or of ``record_id`` (which the actor must be able to edit): a form
        shows it as the person types, before they save. A field hidden from the actor
        finds nothing: a match would tell what others hold in it."""
        form, _table = self._form(form_key)
        if not self.duplicates.watches(form_key) or not form.has_field(field_key):
            return []
        if field_key in self.field_access(actor, form_key).hidden:
            return []
        with read_transaction(self.engine) as connection:
            if record_id is None:
                require(actor, form, Operation.CREATE)
            else:
                scope = require(actor, form, Operation.UPDATE)
                self._load(connection, actor, form, record_id, scope, Operation.UPDATE)
            return self.duplicates.problems_of(
                connection, form, field_key, value, record_id=record_id
            )

    def read_value(self, field: Field, value: Any) -> Any:
        """``value`` converted for ``field`` as a save would, or ``None`` while it does not
        convert: pages work out conditions on values still being typed with it."""
        try:
            return self.preparer.converter.convert(field, value)
        except (Invalid, ExpressionError, ValueError, TypeError):
            return None

    def _owner(self, actor: Actor, form: Form, values: Mapping[str, Any]) -> int | None:
        owner: int | None = values.get(
            form.owner_field, actor.user_id if form.owner_field == "created_by" else None
        )
        return owner

    def _new_row(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        table: Table,
        prepared: Prepared,
        context: Context,
    ) -> Record:
        row = self._stamped(actor, prepared.values, context)
        for field in form.fields:
            if field.number_pattern:
                row[field.key] = next_number(
                    connection,
                    table.name,
                    field.key,
                    field.number_pattern,
                    context.now,
                )
        if table.c.get(SEARCH) is not None:
            row[SEARCH] = self._search_text(form, row)
        return row

    def _before(self, hook_name: str, actor: Actor, form: Form, **about: Any) -> None:
        """Let the plugins' before-hook ``hook_name`` see a write ``about`` a record of
        ``form`` (its values, or the record), and veto it."""
        self.hooks.run_before(
            hook_name, app_key=self.app.key, form=form, user_id=actor.user_id, **about
        )

    @staticmethod
    def _stamped(actor: Actor, values: Mapping[str, Any], context: Context) -> Record:
        """A new record's row: ``values`` and the system fields every create sets (who
        and when, version 1), in a single create and a batch alike."""
        return {
            **values,
            "created_at": context.utc,
            "updated_at": context.utc,
            "created_by": actor.user_id,
            "updated_by": actor.user_id,
            "version": 1,
        }

    def _with_id(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        table: Table,
        values: Mapping[str, Any],
        context: Context,
        row: Record,
        record_id: int,
    ) -> tuple[Prepared, Record]:
        """Work a new record out again now that its ``id`` is known, for a form whose
        expressions read it, and store what changed (in the same transaction: if the values
        no longer fit, nothing is stored)."""
        system = {**context.system_values(), "id": record_id}
        again = self._prepare(connection, form, values, context, actor, system=system)
        changed = {
            key: value
            for key, value in again.values.items()
            if row.get(key) != value and not form.field(key).number_pattern
        }
        if changed:
            row = {**row, **changed}
            if table.c.get(SEARCH) is not None:
                changed[SEARCH] = row[SEARCH] = self._search_text(form, row)
            try:
                connection.execute(update(table).where(table.c.id == record_id).values(changed))
            except IntegrityError as exc:
                raise unique_violation(form, table, exc) from None
        return again, row

    def _insert_statement(self, form: Form) -> Insert:
        """A new record's insert, which hands back its id; and, for a form whose derived
        values or rules a create would otherwise read back, the columns they read as stored.

        Only those: psycopg describes each returned column afresh at every insert, and a
        create hands back the values it stored, not this row.
        """
        table = self.schema.table(form.key)
        if not self._reads_back[form.key]:
            return insert(table).returning(table.c.id)
        read = self.derived.read_back(form)
        if read is None:
            return insert(table).returning(*table.c)
        wanted = {"id", "version", *read}
        return insert(table).returning(*(column for column in table.c if column.key in wanted))

    def _insert(
        self, connection: Connection, form: Form, table: Table, row: Record
    ) -> tuple[int, Record | None]:
        """Store a new row; its id, and the row as stored when the insert hands it back."""
        try:
            found = connection.execute(self._inserts[form.key], row).mappings().one()
        except IntegrityError as exc:
            raise unique_violation(form, table, exc) from None
        return int(found["id"]), normalised(found) if self._reads_back[form.key] else None

    def _soft_delete(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        user_id: int | None,
        now: datetime,
        record: Record | None = None,
    ) -> None:
        """Move one record to the bin; ``record`` is its values, when the caller has them
        (a record deleted by an ``on_delete: cascade`` rule is described by its id)."""
        table = self.schema.table(form.key)
        connection.execute(
            update(table)
            .where(table.c.id == record_id)
            .values({DELETED_AT: now, DELETED_BY: user_id, "version": table.c.version + 1})
        )
        self.duplicates.remove(connection, form, record_id)
        self.derived.after_write(connection, form, record_id, record or {"id": record_id}, None)
        self.summaries.after_delete(connection, form, table, record or {"id": record_id})
        self._changed(
            connection,
            form,
            record_id,
            EventKind.DELETED,
            user_id,
            now,
            record or {"id": record_id},
        )

    def _load(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        record_id: int,
        scope: Scope,
        operation: Operation,
        *,
        deleted: bool = False,
        pool: bool = False,
        columns: Collection[str] | None = None,
    ) -> Record:
        """The record, if ``scope`` reaches it (with the form's pool for reads, and for
        ``pool`` writes: an action taking a record from it); only ``columns`` of a live
        record, if given, besides those that decide whether it is reached."""
        statement = (
            self._by_id(form.key, deleted)
            if columns is None
            else self.prepared.record_columns(form.key, columns)
        )
        row = (
            connection.execute(statement, {"record_id": record_id}).mappings().first()
            if 1 <= record_id <= _LARGEST_ID
            else None
        )
        if row is None:
            raise RecordNotFound(N_("no %(form)s record %(id)s"), form=form.label, id=record_id)
        return self._reached(actor, form, normalised(row), scope, operation, pool=pool)

    def _handed(
        self,
        actor: Actor,
        form: Form,
        record_id: int,
        record: Record,
        scope: Scope,
        pool: bool,
    ) -> Record:
        """A live record the caller read in the open unit, checked as :meth:`_load` checks
        the one it reads (an update's compare-and-set then proves it current)."""
        if not self._columns[form.key] <= record.keys():
            raise ValueError(f"a record handed to an update holds every column of {form.key}")
        if record.get("id") != record_id or record.get(DELETED_AT) is not None:
            raise RecordNotFound(N_("no %(form)s record %(id)s"), form=form.label, id=record_id)
        return self._reached(actor, form, record, scope, Operation.UPDATE, pool=pool)

    def _reached(
        self,
        actor: Actor,
        form: Form,
        record: Record,
        scope: Scope,
        operation: Operation,
        *,
        pool: bool = False,
    ) -> Record:
        """``record``, if ``scope`` reaches it; else refused, or not found for those who
        may not even read it."""
        pooled = pool or operation is Operation.READ
        if not reaches(scope, actor, form, record, pool=pooled):
            if operation is not Operation.READ and reaches(
                scope_for(actor, form, Operation.READ), actor, form, record, pool=True
            ):
                raise refusal(operation, form, one=True)
            raise RecordNotFound(N_("no %(form)s record %(id)s"), form=form.label, id=record["id"])
        return record

    def _by_id(self, form_key: str, deleted: bool) -> Select[Any]:
        """One record by id, live or deleted: built once per form, as every page loads one."""
        key = (form_key, deleted)
        statement = self._statements.get(key)
        if statement is None:
            table = self.schema.table(form_key)
            live = table.c[DELETED_AT].is_not(None) if deleted else table.c[DELETED_AT].is_(None)
            statement = select(table).where(table.c.id == bindparam("record_id"), live)
            self._statements[key] = statement
        return statement

    def _read_rows(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        keys: Collection[str] | None = None,
    ) -> dict[str, list[Record]]:
        """The record's subtable rows, of every subtable or of those among ``keys``."""
        return read_subtable_rows(connection, self.schema, form, record_id, keys)

    def _write_rows(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        rows: Mapping[str, list[Record]],
        *,
        replace: bool = False,
    ) -> None:
        for key, items in rows.items():
            child = self.schema.child_table(form.key, key)
            if replace:
                connection.execute(delete(child).where(child.c[PARENT_ID] == record_id))
            if items:
                connection.execute(
                    insert(child),
                    [
                        {**item, PARENT_ID: record_id, POSITION: index}
                        for index, item in enumerate(items)
                    ],
                )

    def _prepare(
        self,
        connection: Connection,
        form: Form,
        values: Mapping[str, Any],
        context: Context,
        actor: Actor,
        *,
        existing: Mapping[str, Any] | None = None,
        rows: Mapping[str, list[Record]] | None = None,
        stored: Record | None = None,
        system: Mapping[str, Any] | None = None,
        found: Mapping[str, list[Problem]] | None = None,
    ) -> Prepared:
        """:meth:`Preparer.prepare` (its arguments first) with the reads it asks the database
        for: the record's roll-ups and lookups (see :meth:`_derive`, ``stored``) and the
        linked records its links fill from, as ``actor`` may read them (see :meth:`_fill`).
        ``existing`` and ``rows`` are the record and its subtable rows an update starts
        from. Every save and check prepares through here, so they read alike.

        ``found`` are problems the caller found in what was sent. A submission with
        problems fails with the problems of its other values too: a unique value another
        record holds and a rule broken by values that did convert, so that a person learns
        of them in the same answer. Only a failing submission asks for them here; one that
        passes is checked in full before it is written (:class:`IntegrityChecks`, the rules
        on the record as stored)."""
        try:
            return self.preparer.prepare(
                form,
                values,
                context,
                existing,
                rows,
                system,
                derive=self._derive(connection, form, stored),
                fill=self._fill(connection, form, actor),
                found=found,
            )
        except Unfit as unfit:
            problems = dict(unfit.problems)
            more = self._other_problems(connection, form, unfit.values, existing, context)
            for key, found_here in more.items():
                problems.setdefault(key, []).extend(found_here)
            raise ValidationFailed(problems) from None

    def _other_problems(
        self,
        connection: Connection,
        form: Form,
        values: Mapping[str, Any],
        existing: Mapping[str, Any] | None,
        context: Context,
    ) -> dict[str, list[Problem]]:
        """What a save of ``values`` (over ``existing``, for an update) that is refused
        for other problems would also be refused for, as far as can be told before the
        write: unique values another record holds (among those that change) and the
        rules that read only plain values (see ``DerivedValues.broken_plain_rules``)."""
        record_id = None if existing is None else existing.get("id")
        changed = {
            key: value
            for key, value in values.items()
            if existing is None or existing.get(key) != value
        }
        problems = self.integrity.unique_problems(connection, form, changed, record_id=record_id)
        for key, broken in self.derived.broken_plain_rules(form, values, context).items():
            problems.setdefault(key, []).extend(broken)
        return problems

    def _derive(
        self, connection: Connection, form: Form, stored: Record | None = None
    ) -> Derive | None:
        """What the preparer asks for a record's roll-ups and lookups, if the form has any
        (``stored``: the record an update starts from, see ``starting_values``)."""
        if not self._facts[form.key].derives:
            return None
        return partial(self.derived.starting_values, connection, form, stored=stored)

    def _fill(self, connection: Connection, form: Form, actor: Actor) -> Fill | None:
        """What the preparer asks for the record a link points at, if a link of the form
        ``fills`` other fields or is narrowed by one (``link_filter``, which an empty field
        takes from the chosen record): the live record as stored, when ``actor`` may read
        it. One they may not read fills nothing, as if it were not there (the reference
        check then says so next to the link): its values would otherwise come back to them
        in the problems of the filled fields, or tell them apart by which problems appear."""
        if not self._facts[form.key].fills:
            return None

        def linked(link: Field, record_id: Any) -> Mapping[str, Any] | None:
            target = self.app.form(str(link.target_form))
            statement = self._by_id(target.key, False)
            found = connection.execute(statement, {"record_id": record_id}).mappings().first()
            if found is None:
                return None
            scope = scope_for(actor, target, Operation.READ)
            if not reaches(scope, actor, target, dict(found), pool=True):
                return None
            return normalised(found)

        return linked

    def _check_rules(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        rows: Mapping[str, Any],
        context: Context,
        stored: Mapping[str, Any] | None = None,
    ) -> None:
        """Refuse the write if the record, as stored with its roll-ups and lookups up to date,
        breaks one of its form's rules (the transaction then stores nothing); ``stored`` is
        the record as stored, when the caller knows it (else it is read)."""
        broken = self.derived.broken_rules(connection, form, record_id, rows, context, stored)
        if broken:
            raise ValidationFailed(broken)

    def _search_text(self, form: Form, values: Mapping[str, Any]) -> str:
        return search_text(form, values)

    def _audited(self, form: Form) -> Sequence[str]:
        return self._facts[form.key].keys

    @contextmanager
    def _writing(self, savepoint: bool = True) -> Iterator[Connection]:
        """The connection of one write, in the open unit of work (in a savepoint of it,
        unless told not to) or in a unit of its own; the events it owes are handed on once
        that unit has committed."""
        unit = current_unit()
        if not savepoint and unit is not None and unit.engine is self.engine:
            yield unit.connection
            return
        with one_write(self.engine) as unit:
            yield unit.connection

    @staticmethod
    @contextmanager
    def _placing(access: FieldAccess) -> Iterator[None]:
        """Refusals raised within, with the problems of fields hidden from the actor put
        on the record (see :meth:`FieldAccess.placed`)."""
        try:
            yield
        except ValidationFailed as failed:
            if not access.hidden:
                raise
            raise type(failed)(access.placed(failed.problems)) from None

    def _owing(self) -> None:
        """An event appended in the open unit owes a delivery: ring the relay once the
        unit has committed (once, however many events it appends)."""
        unit = current_unit()
        if unit is not None:
            unit.after_commit(self.relay.committed, key=self.relay)

    def _changed(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        kind: EventKind,
        user_id: int | None,
        at: datetime,
        record: Mapping[str, Any],
        *,
        audited: Mapping[str, tuple[Any, Any]] | None = None,
        changes: Mapping[str, tuple[Any, Any]] | None = None,
    ) -> None:
        """Leave the traces every write leaves, in its transaction: the record's history
        row (``audited``, the fields it lists), the audit log's entry (the keys of those
        fields) and the outbox event (``changes``, its diff); and the stays of the stage
        fields a dashboard tracks (:mod:`formflow.storage.stays`)."""
        if audited and form.key in self.stays.tracked:
            self.stays.keep(connection, form.key, record_id, at, audited)
        audit.record_change(
            connection,
            table_name=self.schema.table(form.key).name,
            record_id=record_id,
            action=_AUDIT_ACTIONS[kind],
            user_id=user_id,
            at=at,
            changes=audited or {},
        )
        audit_log(
            connection,
            f"record.{_AUDIT_ACTIONS[kind]}",
            user_id=user_id,
            app_key=self.app.key,
            form_key=form.key,
            record_id=record_id,
            detail={"fields": sorted(audited or ())},
            at=at,
        )
        self.outbox.append(
            connection,
            app_key=self.app.key,
            form_key=form.key,
            record_id=record_id,
            kind=kind,
            user_id=user_id,
            at=at,
            record=self._public(form, record),
            changes=changes,
        )

    def _derived_moved(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        record: Mapping[str, Any],
        changes: dict[str, tuple[Any, Any]],
    ) -> None:
        """A roll-up (or a lookup, or a formula reading one) of a record moved because
        another record was written: an update event with the from and to values, in the
        same transaction, so that rules watching the field see it; no version or audit
        entry (nobody edited the record), and no event when no subscriber wants the form's
        events (the write then costs nothing more)."""
        if not self.outbox.owed(form.key):
            return
        self.outbox.append(
            connection,
            app_key=self.app.key,
            form_key=form.key,
            record_id=record_id,
            kind=EventKind.UPDATED,
            user_id=None,
            at=self.clock(),
            record=self._public(form, record),
            changes=changes,
        )

    def _default_subscribers(self) -> dict[str, Any]:
        if not wants_after_hooks(self.hooks):
            return {}
        app = self.app
        return {
            AFTER_HOOKS: after_hooks_subscriber(
                self.hooks,
                lambda app_key, form_key: app.forms.get(form_key) if app_key == app.key else None,
            )
        }

    def field_access(
        self,
        actor: Actor,
        form_key: str,
        *,
        creating: bool = False,
        grant: Collection[str] = (),
    ) -> FieldAccess:
        """Which fields of ``form_key`` the actor may see and change (pages ask it too)."""
        key = (
            actor.user_id is None,
            actor.is_admin,
            actor.roles,
            form_key,
            creating,
            frozenset(grant),
        )
        access = self._access.get(key)
        if access is None:
            form, _table = self._form(form_key)
            access = field_access(self.app, actor, form, creating=creating, grant=grant)
            if len(self._access) > 10_000:
                self._access.clear()
            self._access[key] = access
        return access

    @staticmethod
    def _ruling(access: FieldAccess, ruled: Ruled) -> FieldAccess:
        """``access`` with the engine's grant for the fields in-save rules set: an owner a
        rule gives is the engine's hand-over, not the actor's."""
        if not ruled.values:
            return access
        return replace(access, granted=access.granted | frozenset(ruled.values))

    def _hides_linked(self, actor: Actor) -> bool:
        return any(self.field_access(actor, key).hidden for key in self.app.forms)

    def _refuse_hidden(self, access: FieldAccess, values: Mapping[str, Any]) -> None:
        """Refuse a hidden field as unknown, unless granted: a step the app defines (a record
        action's ``set``) writes it whatever the value stored, so whether it runs tells
        nothing of that value (it ran only when the value was already the one set)."""
        _values, unknown = self._left_out_hidden(access, values)
        if unknown:
            raise ValidationFailed(unknown)

    @staticmethod
    def _left_out_hidden(
        access: FieldAccess,
        values: Mapping[str, Any],
        found: Mapping[str, list[Problem]] | None = None,
    ) -> tuple[Mapping[str, Any], dict[str, list[Problem]]]:
        """``values`` without the fields hidden from the actor, and the problems found so
        far (``found``) with an unknown field for each of those: a hidden field is not
        told apart from one that does not exist, and the other values are still checked."""
        problems = {key: list(listed) for key, listed in (found or {}).items()}
        left_out = access.hidden - access.granted
        for key in values:
            if key in left_out:
                problem = Problem(
                    "unknown_field", N_("'%(key)s' is not a field of this form"), (("key", key),)
                )
                problems.setdefault(key, []).append(problem)
        if len(problems) == len(found or {}):
            return values, problems
        return {key: value for key, value in values.items() if key not in left_out}, problems

    def _refuse_fixed(
        self,
        access: FieldAccess,
        submitted: Mapping[str, Any],
        values: Mapping[str, Any],
        rows: Mapping[str, Any],
        before: Mapping[str, Any],
    ) -> None:
        if not access.fixed:
            return  # nothing the actor may not change: the usual case, which costs no copy
        problems = refused_changes(access, submitted, {**values, **rows}, before)
        if problems:
            raise ValidationFailed(problems)

    def _locked_fields(
        self, connection: Connection, actor: Actor, form: Form, record_id: int
    ) -> frozenset[str] | None:
        if self.locks is None or form.key not in self.locks.forms or is_system(actor):
            return None
        return self.locks.editable(connection, actor, form.key, record_id)

    def _refuse_locked(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        record_id: int,
        access: FieldAccess,
        submitted: Mapping[str, Any],
        prepared: Prepared,
        before: Mapping[str, Any],
    ) -> None:
        """Refuse changing a field of a record under approval that the flow does not allow."""
        editable = self._locked_fields(connection, actor, form, record_id)
        if editable is None:
            return
        new = {**prepared.values, **prepared.rows}
        problems = {
            key: [LOCKED]
            for key in submitted
            if key not in editable and key not in access.granted and new.get(key) != before.get(key)
        }
        if problems:
            raise ValidationFailed(problems)

    def _check_new_owner(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        access: FieldAccess,
        owner: int | None,
        before: int | None,
    ) -> None:
        """A record goes only to someone the actor may hand it to: an active user (checked
        with the other references) within the actor's update scope."""
        creating_own = before is None and owner == actor.user_id
        if is_system(actor) or actor.is_admin or owner == before or creating_own:
            return
        if form.owner_field in access.granted:
            return  # a transfer flow, say
        key = form.owner_field
        if form.has_field(key) and form.field(key).filled_from is not None:
            return  # the owner of the linked record chosen (and readable), not a hand-over
        if not access.may_reassign:
            problem = Problem("reassign", N_("you may not hand this record to someone else"))
        elif owner is None:
            return
        else:
            scope = scope_for(actor, form, Operation.UPDATE)
            if scope is Scope.ALL:
                return
            department = self.integrity.department_of(connection, actor, owner)
            if scope is Scope.DEPARTMENT and department in actor.department_ids:
                return
            problem = Problem(
                "owner_out_of_reach", N_("is outside the people you may hand records to")
            )
        raise ValidationFailed({key: [problem]})

    def _refuse_readonly_record(
        self,
        actor: Actor,
        form: Form,
        access: FieldAccess,
        values: Mapping[str, Any],
        current: Mapping[str, Any],
    ) -> None:
        """A record the form's ``readonly_if`` holds for changes only through grants."""
        if form.readonly_if is None or is_system(actor):
            return
        if all(key in access.granted for key in values):
            return
        names = {**current, **self.context(actor).names}
        if form.readonly_if.evaluate(names):
            raise PermissionDenied(N_("this %(form)s record is read-only now"), form=form.label)

    def readonly_now(self, actor: Actor, form_key: str, record: Mapping[str, Any]) -> bool:
        """Whether the form's ``readonly_if`` holds ``record`` read-only for ``actor`` (pages
        leave out its Edit button)."""
        form = self.app.form(form_key)
        if form.readonly_if is None or is_system(actor):
            return False
        return bool(form.readonly_if.evaluate({**record, **self.context(actor).names}))

    def _pool_owner_change(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        current: Mapping[str, Any],
        owner: int | None,
        now: datetime,
    ) -> None:
        """A record leaving its owner for the pool starts their cool-down; taking one back
        from the pool oneself is refused until it ends (whoever changes the record)."""
        pool = form.pool
        before = current.get(form.owner_field)
        if pool is None or owner == before or pool.cooldown_days == 0:
            return
        if owner is None and before is not None:
            ends = now + timedelta(days=pool.cooldown_days)
            ledger.start_cooldown(connection, self.app.key, form.key, current["id"], before, ends)
        elif before is None and owner is not None and owner == actor.user_id:
            until = ledger.cooldown_until(connection, self.app.key, form.key, current["id"], owner)
            if until is not None and until > now:
                local = until.astimezone(self.timezone)
                problem = Problem(
                    "cooldown",
                    N_("you let this record go; you may take it back after %(until)s"),
                    (("until", local.strftime("%Y-%m-%d %H:%M")),),
                )
                raise ValidationFailed({form.owner_field: [problem]})

    def _shown(self, access: FieldAccess, form: Form, record: Mapping[str, Any]) -> Record:
        return access.shown(self._public(form, record))

    def _trail(self, access: FieldAccess, trail: list[audit.AuditEntry]) -> list[audit.AuditEntry]:
        """A history without the changes of hidden fields, nor the entries that changed
        hidden fields only: an entry with nothing in it would tell when, and by whom, a
        hidden value changed."""
        if not access.hidden:
            return trail
        shown = []
        for entry in trail:
            changes = {k: v for k, v in entry.changes.items() if k not in access.hidden}
            if entry.changes and not changes:
                continue
            shown.append(audit.AuditEntry(entry.action, entry.user_id, entry.at, changes))
        return shown

    def _public(self, form: Form, record: Mapping[str, Any]) -> Record:
        """A record as callers see it: fields, rows and system fields, no engine columns."""
        return {key: value for key, value in record.items() if not key.startswith("_")}
