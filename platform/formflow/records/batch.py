"""Creating many records at once: an import's rows, checked one by one, stored together.

One by one, a create costs a handful of statements (insert, number, audit row, event,
checks), so 100,000 imported rows would cost half a million round trips. A batch checks
each row exactly as :meth:`~formflow.records.service.RecordService.create` does (values,
field access, owner, references, unique values, plugins' before-hooks), then writes the
good rows with one statement per table: records, subtable rows, audit rows, events and
their deliveries, numbers taken in one step. Every row still leaves its audit entry and
its event; the batch is one unit of work (or a savepoint of the open one).

A form whose expressions read the record's own ``id`` needs it before the values are
final, and a form with ``rules`` checks each record as stored (its roll-ups and lookups
counting the write), so their rows go through the single create, one savepoint each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import IntegrityError

from formflow.automations.in_save import Ruled
from formflow.definitions.model import Form, Operation
from formflow.errors import Problem, ValidationFailed
from formflow.events import EventKind
from formflow.fields import ValueKind, is_empty
from formflow.records import audit
from formflow.records.access import Actor, require
from formflow.records.compute import Context
from formflow.records.field_access import FieldAccess
from formflow.records.integrity import unique_violation
from formflow.records.numbering import next_numbers
from formflow.records.submission import Derive, Prepared
from formflow.records.unit import unit_of_work
from formflow.storage.tables import DEPARTMENT, PARENT_ID, POSITION, SEARCH

if TYPE_CHECKING:
    from formflow.records.service import Record, RecordService

Problems = dict[str, list[Problem]]


@dataclass(frozen=True)
class Batch:
    """What a batch create did: the records stored and the problems of each row refused,
    both by the row's position in the batch. With ``all_or_nothing``, one problem
    anywhere means nothing was stored."""

    created: dict[int, Record] = field(default_factory=dict)
    problems: dict[int, Problems] = field(default_factory=dict)


def create_many(
    service: RecordService,
    actor: Actor,
    form_key: str,
    items: Sequence[Mapping[str, Any]],
    *,
    all_or_nothing: bool = False,
    warn_duplicates: bool = False,
) -> Batch:
    """Store a new record for each of ``items``, checked as
    :meth:`~formflow.records.service.RecordService.create` checks one, written together
    (the service's ``create_many``). Rows that do not fit are reported, by position, in
    the :class:`Batch`; with ``all_or_nothing`` any such row means nothing is stored. With
    ``warn_duplicates`` a row a ``warn`` duplicate check matches (in the database or
    earlier in ``items``) is refused as a problem too."""
    form, table = service._form(form_key)
    require(actor, form, Operation.CREATE)
    access = service.field_access(actor, form_key, creating=True)
    context = service.context(actor)
    if (
        service._reads_id[form.key]
        or form.rules
        or any(field.fills for field in form.fields)
        or _narrowing_to_fill(form, items)
    ):
        return _one_by_one(service, actor, form_key, items, all_or_nothing, warn_duplicates)
    problems: dict[int, Problems] = {}
    ruled: dict[int, Ruled] = {}
    with service._writing() as connection:
        derive = service._derive(connection, form)
        prepared = _prepare(service, access, form, context, items, problems, derive, ruled)
        good = _check(
            service, connection, actor, form, access, prepared, problems, warn_duplicates, ruled
        )
        problems = {index: access.placed(found) for index, found in problems.items()}
        if all_or_nothing and problems:
            return Batch({}, problems)
        created = _write(service, connection, actor, form, table, context, good)
        runs = {index: ruled[index].runs for index in created if ruled[index].runs}
        if runs:
            ids = [created[index]["id"] for index in runs]
            service.in_save.log(connection, form.key, ids, 1, list(runs.values()))
    return Batch({index: access.shown(record) for index, record in created.items()}, problems)


def _narrowing_to_fill(form: Form, items: Sequence[Mapping[str, Any]]) -> bool:
    """Whether an item chooses a link but leaves empty a field narrowing it
    (``link_filter``), which the chosen record fills: the linked records must be read."""
    return any(
        not is_empty(item.get(link.key)) and is_empty(item.get(ours))
        for link in form.fields
        if link.link_filter
        for _theirs, ours in link.link_filter
        for item in items
    )


def _prepare(
    service: RecordService,
    access: FieldAccess,
    form: Form,
    context: Context,
    items: Sequence[Mapping[str, Any]],
    problems: dict[int, Problems],
    derive: Derive | None,
    ruled: dict[int, Ruled],
) -> dict[int, Prepared]:
    """Each item converted and checked on its own, with the roll-ups and lookups a new
    record starts from (``derive``) for the formulas that read them, and the form's
    in-save rules run on it (what they did, by position, into ``ruled``)."""
    defaults = {f.key: f.default for f in form.fields}
    prepared: dict[int, Prepared] = {}
    for index, values in enumerate(items):
        try:
            service._refuse_hidden(access, values)
            found = service.preparer.prepare(form, values, context, derive=derive)
            service._refuse_fixed(access, values, found.values, found.rows, defaults)
            found, ruled[index] = service.in_save.apply(form.key, found, context, service.preparer)
        except ValidationFailed as exc:
            problems[index] = exc.problems
        else:
            prepared[index] = found
    return prepared


def _check(
    service: RecordService,
    connection: Connection,
    actor: Actor,
    form: Form,
    access: FieldAccess,
    prepared: dict[int, Prepared],
    problems: dict[int, Problems],
    warn_duplicates: bool,
    ruled: dict[int, Ruled],
) -> dict[int, Prepared]:
    """The rows of ``prepared`` that pass the checks that read the database; the others'
    problems go to ``problems``."""
    positions = sorted(prepared)
    found = service.integrity.check_many(
        connection, actor, form, [(prepared[i].values, prepared[i].rows) for i in positions]
    )
    for place, index in enumerate(positions):
        if place in found:
            problems[index] = found[place]
    duplicates = service.duplicates.check_many(
        connection, form, [prepared[i].values for i in positions], warn=warn_duplicates
    )
    for place, index in enumerate(positions):
        for key, found_here in duplicates.get(place, {}).items():
            problems.setdefault(index, {}).setdefault(key, []).extend(found_here)
    for index in positions:
        if index in problems:
            continue
        values = prepared[index].values
        try:
            owner = service._owner(actor, form, values)
            given = service._ruling(access, ruled[index])
            service._check_new_owner(connection, actor, form, given, owner, None)
            service._before("formflow_before_create", actor, form, values=values)
        except ValidationFailed as exc:
            problems[index] = exc.problems
    return {index: prepared[index] for index in positions if index not in problems}


def _write(
    service: RecordService,
    connection: Connection,
    actor: Actor,
    form: Form,
    table: Table,
    context: Context,
    good: dict[int, Prepared],
) -> dict[int, Record]:
    if not good:
        return {}
    positions = list(good)
    departments: dict[int | None, int | None] = {}
    rows = []
    for index in positions:
        row = service._stamped(actor, good[index].values, context)
        owner = service._owner(actor, form, row)
        if owner not in departments:
            departments[owner] = service.integrity.department_of(connection, actor, owner)
        row[DEPARTMENT] = departments[owner]
        rows.append(row)
    for numbered in form.fields:
        if numbered.number_pattern:
            numbers = next_numbers(
                connection,
                table.name,
                numbered.key,
                numbered.number_pattern,
                context.now,
                len(rows),
            )
            for row, number in zip(rows, numbers, strict=True):
                row[numbered.key] = number
    if table.c.get(SEARCH) is not None:
        for row in rows:
            row[SEARCH] = service._search_text(form, row)
    try:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = list(connection.execute(statement, rows).scalars())
    except IntegrityError as exc:
        raise unique_violation(form, table, exc) from None
    records: dict[int, Record] = {}
    for index, row, record_id in zip(positions, rows, ids, strict=True):
        records[index] = {**row, "id": record_id, **good[index].rows}
    _write_rows(service, connection, form, [(records[i]["id"], good[i]) for i in positions])
    service.duplicates.store_many(connection, form, records.values())
    service.derived.after_many(connection, form, records.values())
    service.summaries.after_many(connection, form, records.values())
    _trace(service, connection, actor, form, context, list(records.values()))
    return {index: service._public(form, record) for index, record in records.items()}


def _write_rows(
    service: RecordService,
    connection: Connection,
    form: Form,
    written: list[tuple[int, Prepared]],
) -> None:
    for subtable in form.fields:
        if subtable.kind is not ValueKind.ROWS:
            continue
        child = service.schema.child_table(form.key, subtable.key)
        items = [
            {**item, PARENT_ID: record_id, POSITION: position}
            for record_id, prepared in written
            for position, item in enumerate(prepared.rows.get(subtable.key, []))
        ]
        if items:
            connection.execute(insert(child), items)


def _trace(
    service: RecordService,
    connection: Connection,
    actor: Actor,
    form: Form,
    context: Context,
    records: list[Record],
) -> None:
    """The audit rows and events of the new records, as a single create leaves them."""
    keys = service._audited(form)
    audit.record_changes(
        connection,
        table_name=service.schema.table(form.key).name,
        action="create",
        user_id=actor.user_id,
        at=context.utc,
        changes=[(record["id"], audit.changed_fields({}, record, keys)) for record in records],
    )
    service.stays.keep_created(connection, form.key, context.utc, records)
    service.outbox.append_many(
        connection,
        app_key=service.app.key,
        form_key=form.key,
        kind=EventKind.CREATED,
        user_id=actor.user_id,
        at=context.utc,
        records=[service._public(form, record) for record in records],
    )


class _Refused(Exception):
    """Rolls back a unit of work an all-or-nothing batch found problems in."""


def _one_by_one(
    service: RecordService,
    actor: Actor,
    form_key: str,
    items: Sequence[Mapping[str, Any]],
    all_or_nothing: bool,
    warn_duplicates: bool,
) -> Batch:
    created: dict[int, Record] = {}
    problems: dict[int, Problems] = {}
    try:
        with unit_of_work(service.engine):
            for index, values in enumerate(items):
                try:
                    created[index] = service.create(
                        actor, form_key, values, warn_duplicates=warn_duplicates
                    )
                except ValidationFailed as exc:
                    problems[index] = exc.problems
            if all_or_nothing and problems:
                raise _Refused
    except _Refused:
        return Batch({}, problems)
    return Batch(created, problems)
