"""Roll-ups and lookups kept exact in the unit of work of the write that changes them.

Both are stored columns, so lists, filters, sorts, indexes, dashboards and the API read them
like any field. The record service calls :meth:`DerivedValues.after_write` after each
create, update, delete (cascades included) and restore: it works out again, from the
database, the roll-ups of the records the written one links to (before and after a re-link,
both parents) and the lookups of the records that link to it, then the stored formulas of
those records that read what changed, and carries on from each record it changed (an
order's paid amount changes its amount due, which its account may roll up).
A write that leaves a roll-up where it was (a state that moves between two its filter
treats alike, a field it does not read) costs it nothing, and one that moves a count or a
sum adjusts it by the difference its record makes, on the parent row read ``FOR UPDATE``
(see :mod:`formflow.records.rollup_effects`); every other roll-up is worked out afresh by
one aggregate query. Definitions refuse circles, and a depth limit guards the rest.

These writes change no version or audit entry: a roll-up is not something a person edited,
and its record's own history stays what people did to it. But what another record's write
changes in a record's derived values is told to :attr:`DerivedValues.announce` (the record
service appends an update event with the from and to values, in the same transaction), so
that an automation watching a roll-up sees it move.

Sums of decimals are added as whole numbers of the smallest unit (cents for money): SQLite
keeps a decimal column as a binary floating-point number, and a floating-point sum of many
amounts may miss by a cent; a sum of integers does not.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select, update

from formflow.definitions.model import Field, Form, FormRule
from formflow.errors import Problem
from formflow.expressions import ExpressionError
from formflow.fields import ValueKind
from formflow.records.aggregates import exact_sum
from formflow.records.compute import Context, compute_formulas, evaluate
from formflow.records.filters import compile_filter
from formflow.records.query import normalised
from formflow.records.rollup_effects import RECOMPUTE, Effect, Recompute, effects
from formflow.records.subtables import read_subtable_rows
from formflow.storage.tables import DELETED_AT, AppSchema

MAX_DEPTH = 32
"""How far one write may carry on through derived values (definitions refuse circles)."""

Record = dict[str, Any]

Announce = Callable[[Connection, Form, int, Record, dict[str, tuple[Any, Any]]], None]
"""Told, on the writer's connection, of a live record whose derived values another record's
write changed: the form, the record's id, its values now, and each changed key's
``(old, new)``."""


class DerivedLoop(RuntimeError):
    """Derived values that kept changing each other past :data:`MAX_DEPTH`."""


def _worked_out(form: Form) -> tuple[str, ...]:
    """The roll-ups, lookups and formulas of a form that has derived values; else none."""
    if not any(field.is_derived for field in form.fields):
        return ()
    return tuple(field.key for field in form.fields if field.is_derived or field.is_formula)


class DerivedValues:
    """Works out and stores the roll-ups and lookups of one app."""

    def __init__(self, schema: AppSchema, timezone: tzinfo = UTC) -> None:
        self.schema = schema
        self.app = schema.app
        self.timezone = timezone
        self.rollups_over: dict[str, list[tuple[Form, Field]]] = {}
        """Source form -> the roll-ups (of other forms) over its records."""
        self.lookups_of: dict[str, list[tuple[Form, Field]]] = {}
        """Linked form -> the lookups (of other forms) that show its fields."""
        self._worked_out: dict[str, tuple[str, ...]] = {
            form.key: _worked_out(form) for form in self.app.forms.values()
        }
        """Form -> the keys :meth:`current` hands back (none for a form with no derived
        values): asked by every write, worked out once."""
        for form in self.app.forms.values():
            for field in form.fields:
                if field.rollup is not None:
                    self.rollups_over.setdefault(field.rollup.form, []).append((form, field))
                if field.lookup is not None:
                    target = str(form.field(field.lookup.link).target_form)
                    self.lookups_of.setdefault(target, []).append((form, field))
        self._statements: dict[tuple[str, bool], Select[Any]] = {}
        self._lookups: dict[str, tuple[Form, dict[str, tuple[list[Field], Select[Any]]]]] = {}
        self.announce: Announce | None = None
        """Told of each live record whose derived values another record's write changed
        (not of a record's own values worked out in its own write, such as a restore's)."""

    # a record being saved -----------------------------------------------------------

    def starting_values(
        self,
        connection: Connection,
        form: Form,
        values: Mapping[str, Any],
        stored: Mapping[str, Any] | None = None,
    ) -> Record:
        """The derived values of a record about to be saved with ``values``: its lookups from
        the records it links to now, its roll-ups as stored (zero for a new record's counts and
        sums), so that its formulas and rules read them. An update passes the record as
        ``stored``: a lookup through a link it leaves alone keeps its stored value, which the
        linked record's writes (:meth:`after_write`) and migrations keep exact. One query per
        link that changed (every link of a new record), however many fields of the linked
        record it shows."""
        found: Record = {}
        for field in form.fields:
            if field.lookup is not None:
                found[field.key] = None
            elif field.rollup is not None and values.get(field.key) is None:
                found[field.key] = _empty(field)
        for link_key, (fields, statement) in self._lookup_statements(form).items():
            linked = values.get(link_key)
            if stored is not None and linked == stored.get(link_key):
                found.update({field.key: stored.get(field.key) for field in fields})
                continue
            if linked is None:
                continue
            row = connection.execute(statement, {"linked_id": linked}).first()
            if row is None:
                continue
            for field, value in zip(fields, row, strict=True):
                found[field.key] = normalised({"v": value})["v"] if value is not None else None  # type: ignore[arg-type]
        return found

    def _lookup_statements(self, form: Form) -> dict[str, tuple[list[Field], Select[Any]]]:
        """By link, the lookups of ``form`` through it and the one query that reads them all
        from the linked record: built once per form, as every save of its records runs it."""
        built = self._lookups.get(form.key)
        if built is not None and built[0] is form:
            return built[1]
        by_link: dict[str, list[Field]] = {}
        for field in form.fields:
            if field.lookup is not None:
                by_link.setdefault(field.lookup.link, []).append(field)
        statements: dict[str, tuple[list[Field], Select[Any]]] = {}
        for link_key, fields in by_link.items():
            target = self.schema.table(str(form.field(link_key).target_form))
            shown = [
                target.c[f.lookup.field].label(f"v{n}")
                for n, f in enumerate(fields)
                if f.lookup is not None
            ]
            statements[link_key] = (
                fields,
                select(*shown).where(target.c.id == bindparam("linked_id")),
            )
        self._lookups[form.key] = (form, statements)
        return statements

    def after_write(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        changed: Collection[str] | None = None,
        depth: int = 0,
    ) -> bool:
        """Bring every derived value that reads the written record up to date.

        ``before``/``after`` are the record's values around the write (``None`` where it did
        not exist or was deleted); ``changed`` the keys an update changed (``None``: all).

        Returns whether it changed any stored value (the written record's own may be among
        them, when a form links to itself).
        """
        if depth > MAX_DEPTH:
            raise DerivedLoop(f"derived values of {form.key} {record_id} keep changing")
        due: dict[tuple[str, int], dict[str, Effect]] = {}
        rollups = self.rollups_over.get(form.key, [])
        links = {field.rollup.link for _form, field in rollups if field.rollup is not None}
        if before is not None and not links <= before.keys():  # deleted by a cascade: its id
            before = self._stored(connection, form, record_id) or before
        for parent_form, field in rollups:
            if changed is not None and not _rollup_reads(field) & set(changed):
                continue
            for parent, effect in effects(self.schema, field, before, after).items():
                due.setdefault((parent_form.key, parent), {})[field.key] = effect
        copied = False
        if changed is not None and after is not None:
            for child_form, field in self.lookups_of.get(form.key, []):
                lookup = field.lookup
                assert lookup is not None
                if lookup.field not in changed:
                    continue
                if not self._is_read(child_form, field.key):
                    self._copy(connection, child_form, field, record_id, after.get(lookup.field))
                    copied = True
                    continue
                for child_id in self._linking(connection, child_form, lookup.link, record_id):
                    due.setdefault((child_form.key, child_id), {})[field.key] = RECOMPUTE
        for (form_key, target_id), keyed in sorted(due.items()):
            differences = {k: e for k, e in keyed.items() if not isinstance(e, Recompute)}
            self.refresh(
                connection, self.app.form(form_key), target_id, keyed, depth + 1, differences
            )
        return copied or bool(due)

    def after_many(
        self, connection: Connection, form: Form, created: Iterable[Mapping[str, Any]]
    ) -> None:
        """Bring the roll-ups over a batch of new records of ``form`` up to date: each
        record they link to is worked out afresh once, however many of the batch link to
        it (a roll-up left behind by an import would be wrong for good, as later writes
        only adjust it)."""
        due: dict[tuple[str, int], set[str]] = {}
        for parent_form, field in self.rollups_over.get(form.key, []):
            assert field.rollup is not None
            for record in created:
                parent = record.get(field.rollup.link)
                if parent is not None:
                    due.setdefault((parent_form.key, int(parent)), set()).add(field.key)
        for (form_key, parent_id), keys in sorted(due.items()):
            self.refresh(connection, self.app.form(form_key), parent_id, keys, 1)

    def read_back(self, form: Form) -> frozenset[str] | None:
        """The columns of a new record's row that :meth:`current` and :meth:`broken_rules`
        read when handed it as stored (``None``: every column, for a rule whose names are
        not known): what its insert returns, beside ``id`` and ``version``."""
        names = set(self._worked_out[form.key])
        for rule in form.rules:
            if rule.expression.loaded is None:
                return None
            names |= rule.expression.loaded
        return frozenset(names)

    def current(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        stored: Mapping[str, Any] | None = None,
    ) -> Record:
        """The stored roll-ups, lookups and formulas of one record of a form that has derived
        values (they may have moved on while its own write carried on); else nothing.
        ``stored`` is the record as stored, when the caller has it (else it is read)."""
        keys = self._worked_out[form.key]
        if not keys:
            return {}
        row = stored if stored is not None else self._stored(connection, form, record_id) or {}
        return {key: row[key] for key in keys}

    def refresh(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        keys: Collection[str] | None = None,
        depth: int = 0,
        differences: Mapping[str, Decimal | int] | None = None,
    ) -> None:
        """Work out ``keys`` (default: every roll-up and lookup) of one record again, then its
        formulas that read them; store what changed and carry on from there. A count or sum
        among ``differences`` is adjusted by its difference instead of queried afresh."""
        row = self._stored(connection, form, record_id, lock=bool(differences))
        if row is None:
            return
        keys = [f.key for f in form.fields if f.is_derived] if keys is None else list(keys)
        worked = dict(row)
        for key in keys:
            field = form.field(key)
            if differences and key in differences and row[key] is not None:
                worked[key] = _adjusted(field, row[key], differences[key])
            elif field.rollup is not None:
                worked[key] = self._rollup(connection, field, record_id)
            else:
                worked[key] = self._lookup(connection, form, field, row)
        formulas = _formulas_reading(form, set(keys))
        if formulas:
            names = {**worked, **self._rows(connection, form, record_id, formulas)}
            compute_formulas(form.fields, names, Context({}, self.timezone))
            worked.update({key: names[key] for key in formulas})
        changes = {key: worked[key] for key in [*keys, *formulas] if worked[key] != row[key]}
        if not changes:
            return
        table = self.schema.table(form.key)
        connection.execute(update(table).where(table.c.id == record_id).values(changes))
        after = {**row, **changes}
        live = row.get(DELETED_AT) is None
        if live and depth > 0 and self.announce is not None:
            moved = {key: (row[key], value) for key, value in changes.items()}
            self.announce(connection, form, record_id, after, moved)
        self.after_write(
            connection,
            form,
            record_id,
            row if live else None,
            after if live else None,
            set(changes),
            depth,
        )

    def _is_read(self, form: Form, key: str) -> bool:
        """Whether anything stored reads ``key`` of ``form``: its formulas, roll-ups over it,
        lookups of it. A lookup nothing reads is copied to every linking record at once."""
        if _formulas_reading(form, {key}):
            return True
        if any(key in _rollup_reads(field) for _f, field in self.rollups_over.get(form.key, [])):
            return True
        lookups = self.lookups_of.get(form.key, [])
        return any(field.lookup is not None and field.lookup.field == key for _f, field in lookups)

    def _copy(
        self, connection: Connection, form: Form, field: Field, linked_id: int, value: Any
    ) -> None:
        """Set lookup ``field`` of every record of ``form`` linking to ``linked_id``."""
        assert field.lookup is not None
        table = self.schema.table(form.key)
        connection.execute(
            update(table).where(table.c[field.lookup.link] == linked_id).values({field.key: value})
        )

    # rules --------------------------------------------------------------------------

    def broken_rules(
        self,
        connection: Connection,
        form: Form,
        record_id: int,
        rows: Mapping[str, Any],
        user: Context | None = None,
        stored: Mapping[str, Any] | None = None,
    ) -> dict[str, list[Problem]]:
        """The rules of ``form`` that the stored record breaks, as problems by field (``""``:
        the record). A rule that cannot be worked out (it reads an empty value) holds.
        ``stored`` is the record as stored, when the caller has it (else it is read)."""
        if not form.rules:
            return {}
        if stored is None:
            stored = self._stored(connection, form, record_id) or {}
        values = {**stored, **rows}
        context = Context({}, self.timezone) if user is None else user
        return _broken(form.rules, values, context)

    def broken_plain_rules(
        self, form: Form, values: Mapping[str, Any], context: Context
    ) -> dict[str, list[Problem]]:
        """The rules of ``form`` that ``values`` (a submission that failed, as far as it
        could be worked out) break, among those that read only its plain values: no
        roll-up or lookup (which count the write, not yet made), no formula, and no value
        left out (one with a problem of its own, whose fixing may mend the rule)."""
        plain = {
            field.key
            for field in form.fields
            if field.key in values
            and not (field.is_computed or field.is_derived)
            and field.kind is not ValueKind.ROWS
        }
        rules = [rule for rule in form.rules if rule.expression.names <= plain]
        return _broken(rules, values, context)

    # queries ------------------------------------------------------------------------

    def _stored(
        self, connection: Connection, form: Form, record_id: int, *, lock: bool = False
    ) -> Record | None:
        """One stored record, live or not; ``lock`` holds its row until the commit (on
        PostgreSQL; SQLite has one writer at a time) for a roll-up adjusted in place."""
        statement = self._by_id(form.key, lock)
        row = connection.execute(statement, {"record_id": record_id}).mappings().first()
        return normalised(row) if row is not None else None

    def _by_id(self, form_key: str, lock: bool) -> Select[Any]:
        """One record by id, built once per form (every save of a linked record reads it)."""
        statement = self._statements.get((form_key, lock))
        if statement is None:
            table = self.schema.table(form_key)
            statement = select(table).where(table.c.id == bindparam("record_id"))
            if lock:
                statement = statement.with_for_update()
            self._statements[(form_key, lock)] = statement
        return statement

    def _rows(
        self, connection: Connection, form: Form, record_id: int, formulas: Collection[str]
    ) -> Record:
        """The subtable rows the ``formulas`` read, as lists of row values."""
        read = {name for key in formulas for name in (form.field(key).expression.names or ())}  # type: ignore[union-attr]
        return read_subtable_rows(connection, self.schema, form, record_id, read)

    def _linking(
        self, connection: Connection, form: Form, link_key: str, record_id: int
    ) -> list[int]:
        table = self.schema.table(form.key)
        found = connection.execute(select(table.c.id).where(table.c[link_key] == record_id))
        return [row_id for (row_id,) in found]

    def _lookup(
        self, connection: Connection, form: Form, field: Field, values: Mapping[str, Any]
    ) -> Any:
        lookup = field.lookup
        assert lookup is not None
        linked = values.get(lookup.link)
        if linked is None:
            return None
        target = self.schema.table(str(form.field(lookup.link).target_form))
        column = target.c[lookup.field]
        value = connection.execute(select(column).where(target.c.id == linked)).scalar()
        return normalised({"v": value})["v"] if value is not None else None  # type: ignore[arg-type]

    def _rollup(self, connection: Connection, field: Field, record_id: int) -> Any:
        rollup = field.rollup
        assert rollup is not None
        table = self.schema.table(rollup.form)
        where = [table.c[rollup.link] == record_id, table.c[DELETED_AT].is_(None)]
        chosen = compile_filter(self.schema, rollup.form, rollup.filter)
        if chosen is not None:
            where.append(chosen)
        column = table.c[rollup.field] if rollup.field else None
        aggregate = rollup.aggregate
        if aggregate == "latest":
            assert column is not None
            by = table.c[rollup.by]
            statement = (
                select(column)
                .where(*where)
                .order_by(by.is_(None), by.desc(), table.c.id.desc())
                .limit(1)
            )
            value = connection.execute(statement).scalar()
        elif aggregate == "count":
            counted = func.count(column) if column is not None else func.count()
            value = connection.execute(select(counted).where(*where)).scalar()
        elif aggregate == "sum":
            assert column is not None
            value = self._sum(connection, field, column, where)
        else:
            assert column is not None
            pick = func.min(column) if aggregate == "min" else func.max(column)
            value = connection.execute(select(pick).where(*where)).scalar()
        if value is None and aggregate in ("count", "sum"):
            return _empty(field)
        return normalised({"v": value})["v"]  # type: ignore[arg-type]

    def _sum(self, connection: Connection, field: Field, column: Any, where: list[Any]) -> Any:
        if field.kind is ValueKind.INTEGER:
            total = connection.execute(select(func.sum(column)).where(*where)).scalar()
            return int(total or 0)
        total = connection.execute(select(exact_sum(column, field.scale)).where(*where)).scalar()
        return total if total is not None else _empty(field)


def _adjusted(field: Field, stored: Any, difference: Decimal | int) -> Any:
    """A stored count or sum moved by ``difference``, at the roll-up's places."""
    if field.kind is ValueKind.INTEGER:
        return int(stored) + int(difference)
    step = Decimal(1).scaleb(-field.scale)
    return (Decimal(stored) + difference).quantize(step)


def _empty(field: Field) -> Any:
    """A roll-up over no records: zero for counts and sums, else nothing."""
    rollup = field.rollup
    if rollup is None or rollup.aggregate not in ("count", "sum"):
        return None
    if field.kind is ValueKind.INTEGER:
        return 0
    return Decimal(0).quantize(Decimal(1).scaleb(-field.scale))


def _rollup_reads(field: Field) -> set[str]:
    """The fields of the source form whose change may change ``field``."""
    rollup = field.rollup
    assert rollup is not None
    read = {rollup.link, rollup.by}
    if rollup.field:
        read.add(rollup.field)
    read.update(_filter_fields(rollup.filter))
    return read


def _filter_fields(spec: Any) -> set[str]:
    if not isinstance(spec, Mapping):
        return set()
    found: set[str] = set()
    for group in ("and", "or"):
        for item in spec.get(group) or ():
            found |= _filter_fields(item)
    if "not" in spec:
        found |= _filter_fields(spec["not"])
    if isinstance(spec.get("field"), str):
        found.add(spec["field"].partition(".")[0])
    return found


def _formulas_reading(form: Form, keys: set[str]) -> list[str]:
    """The formulas of ``form`` that read (perhaps through other formulas) any of ``keys``."""
    reading: list[str] = []
    grown = True
    read = set(keys)
    while grown:
        grown = False
        for field in form.fields:
            if (
                field.expression is not None
                and field.key not in reading
                and field.expression.names & read
            ):
                reading.append(field.key)
                read.add(field.key)
                grown = True
    return reading


def _broken(
    rules: Iterable[FormRule], values: Mapping[str, Any], context: Context
) -> dict[str, list[Problem]]:
    """The problems of the ``rules`` that ``values`` break, by the field each names."""
    problems: dict[str, list[Problem]] = {}
    for rule in rules:
        if not _holds(rule, values, context):
            problem = Problem(
                "rule", "%(message)s", (("message", rule.message), ("rule", rule.key))
            )
            problems.setdefault(rule.field or "", []).append(problem)
    return problems


def _holds(rule: FormRule, values: Mapping[str, Any], context: Context) -> bool:
    try:
        return bool(evaluate(rule.expression, values, context))
    except ExpressionError:
        return True
