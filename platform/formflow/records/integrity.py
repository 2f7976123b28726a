"""What a write must respect in the rest of the database: references and unique values.

A link may only point at a live record the person can read (otherwise a link field would
leak records they may not see); a user or department field at one that exists. Unique
fields are checked before writing, for a clear message, and enforced by unique indexes,
which catch the race two writers could still run; a composite unique index (``indexes``
with ``unique: true``) is checked and reported the same way, on each of its fields.
Deleting a record applies the ``on_delete`` rule of every link that points at it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from formflow.definitions.model import Field, Form, OnDelete, Operation
from formflow.errors import N_, Problem, RecordInUse, ValidationFailed
from formflow.fields import Reference
from formflow.records.access import Actor, reach, reach_values, scope_for, within
from formflow.records.derived import DerivedValues
from formflow.records.statements import PreparedStatements
from formflow.storage.platform_tables import departments, users
from formflow.storage.tables import DELETED_AT, AppSchema, derived_index_keys, identifier

SoftDelete = Callable[[Connection, Form, int, "int | None", datetime], None]


_ACTIVE_USER = select(users.c.id).where(users.c.id == bindparam("user_id"), users.c.is_active)
_DEPARTMENT = select(departments.c.id).where(departments.c.id == bindparam("department_id"))


class IntegrityChecks:
    def __init__(
        self,
        schema: AppSchema,
        prepared: PreparedStatements,
        derived: DerivedValues | None = None,
    ) -> None:
        self.derived = derived
        """Keeps lookups through a link that a deletion empties (``on_delete: set_null``)."""
        self.schema = schema
        self.prepared = prepared
        self._references = {
            form.key: frozenset(
                field.key for field in form.fields if field.field_type.reference is not None
            )
            for form in schema.app.forms.values()
        }
        """Each form's fields that point at something to check: a write asks only about
        those among its values, not about every value it sets."""

    def check(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        values: Mapping[str, Any],
        *,
        record_id: int | None,
        before: Mapping[str, Any] | None = None,
        rows: Mapping[str, list[dict[str, Any]]] | None = None,
        kept_rows: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """Raise ValidationFailed for every reference or unique value that does not hold.

        ``rows`` are subtable rows being written: their links are checked like the record's.
        ``kept_rows`` are the rows an update leaves alone, whose ``parent.FIELD`` link
        filters are checked again when that field of the record changes.
        """
        changed = {
            key: value
            for key, value in values.items()
            if value is not None and (before is None or before.get(key) != value)
        }
        problems: dict[str, list[Problem]] = {}
        # (a form of another compilation than the schema's has every value asked about)
        ours = self.schema.app.forms.get(form.key) is form
        references = self._references[form.key] if ours else None
        for key, value in changed.items():
            if references is not None and key not in references:
                continue
            problem = self._reference_problem(connection, actor, form, key, value)
            if problem is not None:
                problems[key] = [problem]
        problems.update(self._row_problems(connection, actor, form, rows or {}))
        problems.update(self._unique_problems(connection, form, changed, record_id))
        whole = {**(before or {}), **values}
        moved = {key for key in values if before is None or before.get(key) != values[key]}
        for key, problem in self._link_filter_problems(connection, form, whole, moved):
            problems.setdefault(key, [problem])
        every_row = {**(kept_rows or {}), **(rows or {})}
        for path, problem in self._row_link_filter_problems(
            connection, form, whole, every_row, set(rows or {}) | moved
        ):
            problems.setdefault(path, [problem])
        for keys, problem in self._combination_problems(connection, form, whole, record_id):
            if any(key in changed for key in keys):
                for key in keys:
                    problems.setdefault(key, [problem])
        if problems:
            raise ValidationFailed(problems)

    def check_many(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        batch: Sequence[tuple[Mapping[str, Any], Mapping[str, list[dict[str, Any]]]]],
    ) -> dict[int, dict[str, list[Problem]]]:
        """:meth:`check` for many new records at once (values and subtable rows each), in a
        bounded number of statements: one per referenced form, users, departments and
        unique field. A unique value repeated within the batch is a problem of each copy
        after the first. Returns the problems by position in ``batch``."""
        problems: dict[int, dict[str, list[Problem]]] = {}

        def add(index: int, path: str, problem: Problem) -> None:
            problems.setdefault(index, {}).setdefault(path, [problem])

        wanted: list[tuple[int, str, Field, Any]] = []
        for index, (values, rows) in enumerate(batch):
            for key, value in values.items():
                if value is not None and form.has_field(key):
                    wanted.append((index, key, form.field(key), value))
            for key, items in rows.items():
                for number, row in enumerate(items):
                    for sub in form.field(key).fields:
                        if row.get(sub.key) is not None:
                            wanted.append((index, f"{key}.{number}.{sub.key}", sub, row[sub.key]))
        missing = self._missing_references(
            connection, actor, [(field, value) for _, _, field, value in wanted]
        )
        for index, path, field, value in wanted:
            problem = missing.get((field.field_type.reference, field.target_form, value))
            if problem is not None:
                add(index, path, problem)
        for position, (values, rows) in enumerate(batch):
            for key, problem in self._link_filter_problems(connection, form, values, set(values)):
                add(position, key, problem)
            for path, problem in self._row_link_filter_problems(
                connection, form, values, rows, set(rows)
            ):
                add(position, path, problem)
        for field in form.fields:
            if field.unique:
                for index in self._taken(connection, form, field, [v for v, _ in batch]):
                    add(
                        index,
                        field.key,
                        Problem("unique", N_("another record already has this value")),
                    )
        if any(index.unique for index in form.indexes):
            for position, (values, _rows) in enumerate(batch):
                for keys, problem in self._combination_problems(connection, form, values, None):
                    for key in keys:
                        add(position, key, problem)
        return problems

    def _link_filter_problems(
        self, connection: Connection, form: Form, whole: Mapping[str, Any], moved: set[str]
    ) -> Iterator[tuple[str, Problem]]:
        """Each link whose ``link_filter`` the record breaks: the linked record's fields must
        hold this record's values (an empty value of this record narrows nothing). Checked
        when the link or a field it is narrowed by changes."""
        for field in form.fields:
            value = whole.get(field.key)
            if not field.link_filter or value is None or field.target_form is None:
                continue
            pairs = [(theirs, whole.get(ours)) for theirs, ours in field.link_filter]
            narrowing = [(theirs, wanted) for theirs, wanted in pairs if wanted is not None]
            touched = field.key in moved or any(ours in moved for _, ours in field.link_filter)
            if not narrowing or not touched:
                continue
            table = self.schema.table(field.target_form)
            statement = select(table.c.id).where(
                table.c.id == value, *(table.c[theirs] == wanted for theirs, wanted in narrowing)
            )
            if connection.execute(statement).first() is None:
                target = self.schema.app.form(field.target_form)
                first = form.field(field.link_filter[0][1]).label
                yield (
                    field.key,
                    Problem(
                        "link_filter",
                        N_("must be a %(form)s record of this record's %(field)s"),
                        (("field", first), ("form", target.label)),
                    ),
                )

    def _row_link_filter_problems(
        self,
        connection: Connection,
        form: Form,
        whole: Mapping[str, Any],
        rows: Mapping[str, list[dict[str, Any]]],
        moved: set[str],
    ) -> Iterator[tuple[str, Problem]]:
        """Each subtable row link whose ``link_filter`` the row breaks: the linked record's
        fields must hold the row's values, or the record's for ``parent.FIELD``. Checked for
        rows being written and, when a record field they name changes, for all rows; one
        statement per row link field, however many rows."""
        for key, items in rows.items():
            if not form.has_field(key):
                continue
            for sub in form.field(key).fields:
                if not sub.link_filter or sub.target_form is None:
                    continue
                parents = {ours.partition(".")[2] for _, ours in sub.link_filter if "." in ours}
                if key not in moved and not parents & moved:
                    continue
                chosen = {row[sub.key] for row in items if row.get(sub.key) is not None}
                if not chosen:
                    continue
                table = self.schema.table(sub.target_form)
                columns = [table.c[theirs] for theirs, _ in sub.link_filter]
                statement = select(table.c.id, *columns).where(table.c.id.in_(sorted(chosen)))
                held = {row[0]: row[1:] for row in connection.execute(statement)}
                for index, row in enumerate(items):
                    value = row.get(sub.key)
                    if value is None or value not in held:
                        continue  # empty, or no such record: the reference check says so
                    for position, (_theirs, ours) in enumerate(sub.link_filter):
                        wanted = whole.get(ours.partition(".")[2]) if "." in ours else row.get(ours)
                        if wanted is not None and held[value][position] != wanted:
                            yield (
                                f"{key}.{index}.{sub.key}",
                                _row_filter_problem(
                                    self.schema.app.form(sub.target_form).label,
                                    form.field(ours.partition(".")[2]).label
                                    if "." in ours
                                    else form.field(key).subfield(ours).label,
                                ),
                            )
                            break

    def _missing_references(
        self, connection: Connection, actor: Actor, wanted: Sequence[tuple[Field, Any]]
    ) -> dict[tuple[Reference | None, str | None, Any], Problem]:
        """Each referenced record, user or department among ``wanted`` that is not there
        (or not readable by ``actor``), with its problem."""
        by_target: dict[tuple[Reference | None, str | None], set[Any]] = {}
        for field, value in wanted:
            reference = field.field_type.reference
            if reference is not None:
                by_target.setdefault((reference, field.target_form), set()).add(value)
        missing: dict[tuple[Reference | None, str | None, Any], Problem] = {}
        for (reference, target_key), values in by_target.items():
            ids = sorted(values)
            if reference is Reference.RECORD and target_key:
                target = self.schema.app.form(target_key)
                present = self._reached(connection, actor, target, ids)
                for value in values - present:
                    missing[(reference, target_key, value)] = Problem(
                        "not_found",
                        N_("no %(form)s record %(id)s"),
                        (("form", target.label), ("id", value)),
                    )
            elif reference is Reference.USER:
                active = select(users.c.id).where(users.c.id.in_(ids), users.c.is_active)
                present = set(connection.execute(active).scalars())
                for value in values - present:
                    missing[(reference, target_key, value)] = Problem(
                        "not_found", N_("no active user %(id)s"), (("id", value),)
                    )
            elif reference is Reference.DEPARTMENT:
                known = select(departments.c.id).where(departments.c.id.in_(ids))
                present = set(connection.execute(known).scalars())
                for value in values - present:
                    missing[(reference, target_key, value)] = Problem(
                        "not_found", N_("no department %(id)s"), (("id", value),)
                    )
        return missing

    def _taken(
        self,
        connection: Connection,
        form: Form,
        field: Field,
        batch: Sequence[Mapping[str, Any]],
    ) -> list[int]:
        """Positions in ``batch`` whose value of unique ``field`` a live record holds, or
        an earlier member of the batch."""
        table = self.schema.table(form.key)
        values = {v[field.key] for v in batch if v.get(field.key) is not None}
        if not values:
            return []
        existing = set(
            connection.execute(
                select(table.c[field.key]).where(
                    table.c[field.key].in_(sorted(values)), table.c[DELETED_AT].is_(None)
                )
            ).scalars()
        )
        seen: set[Any] = set()
        taken = []
        for index, values_of in enumerate(batch):
            value = values_of.get(field.key)
            if value is None:
                continue
            if value in existing or value in seen:
                taken.append(index)
            seen.add(value)
        return taken

    def check_unique(
        self, connection: Connection, form: Form, values: Mapping[str, Any], *, record_id: int
    ) -> None:
        problems = self.unique_problems(connection, form, values, record_id=record_id)
        if problems:
            raise ValidationFailed(problems)

    def unique_problems(
        self,
        connection: Connection,
        form: Form,
        values: Mapping[str, Any],
        *,
        record_id: int | None,
    ) -> dict[str, list[Problem]]:
        """The unique values and combinations among ``values`` that another live record
        holds (``record_id``: the record itself, left out), by field."""
        problems = self._unique_problems(connection, form, values, record_id)
        for keys, problem in self._combination_problems(connection, form, values, record_id):
            for key in keys:
                problems.setdefault(key, [problem])
        return problems

    def department_of(self, connection: Connection, actor: Actor, owner: int | None) -> int | None:
        """The department a record belongs to: its owner's, as the owner is now."""
        if owner is None:
            return None
        if owner == actor.user_id:
            return actor.department_id
        department: int | None = connection.execute(
            select(users.c.department_id).where(users.c.id == owner)
        ).scalar()
        return department

    def release_references(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        record_id: int,
        now: datetime,
        soft_delete: SoftDelete,
    ) -> None:
        """Apply each incoming link's on_delete rule before ``record_id`` goes to the bin."""
        for other, link in self._links_to(form.key):
            table = self.schema.table(other.key)
            pointing = (table.c[link.key] == record_id) & table.c[DELETED_AT].is_(None)
            if link.on_delete is OnDelete.RESTRICT:
                count = connection.execute(
                    select(func.count()).select_from(table).where(pointing)
                ).scalar_one()
                if count:
                    raise RecordInUse(
                        N_(
                            "%(count)s %(form)s record(s) still refer to it through %(field)s; delete or relink them first"
                        ),
                        count=count,
                        form=other.label,
                        field=link.label,
                    )
            elif link.on_delete is OnDelete.SET_NULL:
                shown = [f.key for f in other.fields if f.lookup and f.lookup.link == link.key]
                unlinked = (
                    connection.execute(select(table.c.id).where(pointing)).scalars().all()
                    if shown and self.derived is not None
                    else []
                )
                connection.execute(
                    update(table)
                    .where(pointing)
                    .values({link.key: None, "version": table.c.version + 1, "updated_at": now})
                )
                for child_id in unlinked:
                    assert self.derived is not None
                    self.derived.refresh(connection, other, child_id, shown)
            else:
                for (child_id,) in connection.execute(select(table.c.id).where(pointing)).all():
                    self.release_references(connection, actor, other, child_id, now, soft_delete)
                    soft_delete(connection, other, child_id, actor.user_id, now)

    def _links_to(self, form_key: str) -> list[tuple[Form, Any]]:
        return [
            (other, link)
            for other in self.schema.app.forms.values()
            for link in other.link_fields()
            if link.target_form == form_key
        ]

    def _row_problems(
        self,
        connection: Connection,
        actor: Actor,
        form: Form,
        rows: Mapping[str, list[dict[str, Any]]],
    ) -> dict[str, list[Problem]]:
        problems: dict[str, list[Problem]] = {}
        for key, items in rows.items():
            subtable = form.field(key)
            for index, row in enumerate(items):
                for sub in subtable.fields:
                    if row.get(sub.key) is None:
                        continue
                    problem = self._field_reference_problem(connection, actor, sub, row[sub.key])
                    if problem is not None:
                        problems[f"{key}.{index}.{sub.key}"] = [problem]
        return problems

    def _reference_problem(
        self, connection: Connection, actor: Actor, form: Form, key: str, value: Any
    ) -> Problem | None:
        if not form.has_field(key):
            return None
        return self._field_reference_problem(connection, actor, form.field(key), value)

    def _field_reference_problem(
        self, connection: Connection, actor: Actor, field: Field, value: Any
    ) -> Problem | None:
        reference = field.field_type.reference
        if reference is Reference.RECORD and field.target_form:
            target = self.schema.app.form(field.target_form)
            if not self._reached(connection, actor, target, [value]):
                return Problem(
                    "not_found",
                    N_("no %(form)s record %(id)s"),
                    (("form", target.label), ("id", value)),
                )
        elif reference is Reference.USER:
            if value == actor.user_id:
                return None  # the actor is active: sessions and tokens refuse inactive users
            if connection.execute(_ACTIVE_USER, {"user_id": value}).first() is None:
                return Problem("not_found", N_("no active user %(id)s"), (("id", value),))
        elif (
            reference is Reference.DEPARTMENT
            and connection.execute(_DEPARTMENT, {"department_id": value}).first() is None
        ):
            return Problem("not_found", N_("no department %(id)s"), (("id", value),))
        return None

    def _reached(
        self, connection: Connection, actor: Actor, target: Form, ids: Sequence[Any]
    ) -> set[Any]:
        """Those of ``ids`` that are live records of ``target`` that ``actor`` may read.

        One id (the usual link value) is looked up by id alone, the reach decided here
        (:meth:`PreparedStatements.reach_of`); several in one statement with the reach.
        """
        found = reach(scope_for(actor, target, Operation.READ), actor, target)
        if len(ids) == 1:
            row = self.prepared.reach_of(target.key).run(connection, {"record_id": ids[0]})
            record = row.mappings().first()
            return (
                {ids[0]} if record is not None and within(found, actor, target, record) else set()
            )
        statement = self.prepared.titles(target.key, found)
        values = {"ids": list(ids), **reach_values(found, actor)}
        return {row[0] for row in connection.execute(statement, values)}

    def _unique_problems(
        self, connection: Connection, form: Form, values: Mapping[str, Any], record_id: int | None
    ) -> dict[str, list[Problem]]:
        table = self.schema.table(form.key)
        problems: dict[str, list[Problem]] = {}
        for field in form.fields:
            value = values.get(field.key)
            if not field.unique or value is None:
                continue
            query = select(table.c.id).where(
                table.c[field.key] == value, table.c[DELETED_AT].is_(None)
            )
            if record_id is not None:
                query = query.where(table.c.id != record_id)
            if connection.execute(query.limit(1)).first() is not None:
                problems[field.key] = [
                    Problem("unique", N_("another record already has this value"))
                ]
        return problems

    def _combination_problems(
        self, connection: Connection, form: Form, values: Mapping[str, Any], record_id: int | None
    ) -> list[tuple[list[str], Problem]]:
        """Each composite unique index whose combination another live record holds: the
        index's form fields, and the problem to report on each. An index with an empty
        value is left out, as the database lets empty values repeat."""
        table = self.schema.table(form.key)
        found = []
        for index in form.indexes:
            if not index.unique:
                continue  # (most indexes are not: their keys need not be listed)
            keys = list(index.fields)
            if any(values.get(key) is None for key in keys):
                continue
            query = select(table.c.id).where(
                *(table.c[key] == values[key] for key in keys), table.c[DELETED_AT].is_(None)
            )
            if record_id is not None:
                query = query.where(table.c.id != record_id)
            if connection.execute(query.limit(1)).first() is not None:
                found.append(_combination(form, keys))
        return found


def _row_filter_problem(target: Any, field: Any) -> Problem:
    return Problem(
        "link_filter",
        N_("must be a %(form)s record of this record's %(field)s"),
        (("field", field), ("form", target)),
    )


def _combination(form: Form, keys: list[str]) -> tuple[list[str], Problem]:
    fields = [key for key in keys if form.has_field(key)]
    names = ", ".join(
        form.field(key).label.en or key if form.has_field(key) else key for key in keys
    )
    problem = Problem(
        "unique",
        N_("another record already has this combination of %(names)s"),
        (("names", names), ("fields", tuple(keys))),
    )
    return fields, problem


def unique_violation(form: Form, table: Table, error: IntegrityError) -> ValidationFailed:
    """A unique index refused a write that raced past the check; say which fields."""
    keys = _violated_keys(form, table, error)
    if len(keys) == 1 and form.has_field(keys[0]):
        return ValidationFailed(
            {keys[0]: [Problem("unique", N_("another record already has this value"))]}
        )
    fields, problem = _combination(form, keys)
    if fields:
        return ValidationFailed({key: [problem] for key in fields})
    return ValidationFailed(
        {"": [Problem("conflict", N_("the record conflicts with another; reload and try again"))]}
    )


def _violated_keys(form: Form, table: Table, error: IntegrityError) -> list[str]:
    """The keys of the unique index ``error`` names: PostgreSQL names the index; SQLite
    names the index or lists its columns."""
    indexes = {
        identifier("uq", table.name, *(key.field for key in keys)): [key.field for key in keys]
        for keys, unique in derived_index_keys(form)
        if unique
    }
    name = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    if name in indexes:
        return indexes[name]
    message = str(error.orig)
    named = re.search(r"index '([^']+)'", message)
    if named and named.group(1) in indexes:
        return indexes[named.group(1)]
    listed = re.search(r"UNIQUE constraint failed: (.+)$", message, re.MULTILINE)
    if listed:
        columns = [part.strip().rsplit(".", 1)[-1] for part in listed.group(1).split(",")]
        for keys in indexes.values():
            if keys == columns:
                return keys
    return []
