"""Keeping and looking up the normalised keys of duplicate checks (``ff_duplicate_keys``).

The record service calls :meth:`DuplicateKeys.check` before a write and
:meth:`DuplicateKeys.store` / :meth:`DuplicateKeys.remove` in the same transaction, so
the keys always match the live records. Every lookup is by the indexed
``(app_key, check_key, value)``: finding a match costs the same at a thousand records as
at a million.

A match is described by who holds the matching record, or that it sits in the public pool,
never by its values: the person writing may not be allowed to read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, not_, or_, select

from formflow.definitions.model import DuplicateCheck, DuplicateEffect, Form
from formflow.duplicates.normalisers import NORMALISERS
from formflow.errors import N_, DuplicateSuspected, Problem, ValidationFailed
from formflow.storage.id_batches import id_batches
from formflow.storage.platform_tables import duplicate_keys, users
from formflow.storage.tables import DELETED_AT, AppSchema

Problems = dict[str, list[Problem]]

_SHOWN = 3
"""The most matches reported per value: enough to act on, never a list of the database."""

_CHUNK = 500
"""Values looked up, or keys written, per statement."""


class Key(NamedTuple):
    """One normalised value of a record under one check."""

    check: DuplicateCheck
    field: str
    value: str


class Match(NamedTuple):
    """Another live record holding the same key."""

    key: Key
    form_key: str
    record_id: int


def _declared(check: DuplicateCheck) -> ColumnElement[bool]:
    """Keys of the fields ``check`` compares now: those a check compared before it was
    changed stay harmless until ``formflow duplicates rebuild`` drops them."""
    return or_(
        *(
            and_(duplicate_keys.c.form_key == form, duplicate_keys.c.field_key == field)
            for form, field in check.fields
        )
    )


def _storable(value: str) -> bool:
    """Whether a key can be bound as text: what is typed into a form before it is checked
    may hold a NUL or half a surrogate pair, which no stored value does."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class DuplicateKeys:
    """The duplicate checks of one app, and their keys in the database."""

    def __init__(self, schema: AppSchema) -> None:
        self.schema = schema
        self.app = schema.app
        self._checks: dict[str, list[tuple[DuplicateCheck, str]]] = {}
        for check in self.app.duplicate_checks:
            for form_key, field_key in check.fields:
                self._checks.setdefault(form_key, []).append((check, field_key))

    def watches(self, form_key: str) -> bool:
        """Whether any check compares a field of ``form_key``."""
        return form_key in self._checks

    def keys(self, form: Form, record: Mapping[str, Any]) -> list[Key]:
        """The keys of ``record`` (its stored values) under every check of its form."""
        found = []
        for check, field_key in self._checks.get(form.key, ()):
            field = form.field(field_key)
            text = field.field_type.duplicate_text(field, record.get(field_key))
            value = NORMALISERS[check.normaliser](text) if text else None
            if value and _storable(value):
                found.append(Key(check, field_key, value))
        return found

    # before a write --------------------------------------------------------------------

    def check(
        self,
        connection: Connection,
        form: Form,
        record: Mapping[str, Any],
        *,
        record_id: int | None,
        changed: Iterable[str] | None = None,
        warn: bool = False,
    ) -> None:
        """Raise ValidationFailed for a value a ``block`` check finds elsewhere, and, when
        ``warn``, DuplicateSuspected for one a ``warn`` check finds. Only the fields in
        ``changed`` (all when ``None``) are looked at: an edit of something else does not
        ask again about a match the person already accepted."""
        if not self.watches(form.key):
            return
        wanted = None if changed is None else set(changed)
        blocking: Problems = {}
        warning: Problems = {}
        for key in self.keys(form, record):
            if wanted is not None and key.field not in wanted:
                continue
            if key.check.effect is DuplicateEffect.WARN and not warn:
                continue
            found = self._matches(connection, key, form.key, record_id)
            if found:
                into = blocking if key.check.effect is DuplicateEffect.BLOCK else warning
                into.setdefault(key.field, []).extend(self.problems(connection, found))
        if blocking:
            raise ValidationFailed(blocking)
        if warning:
            raise DuplicateSuspected(warning)

    def problems_of(
        self,
        connection: Connection,
        form: Form,
        field_key: str,
        value: Any,
        *,
        record_id: int | None,
    ) -> list[Problem]:
        """The matches of one value being typed into ``field_key`` (a form asks as the
        person types), under every check, ``block`` or ``warn``."""
        found: list[Match] = []
        for key in self.keys(form, {field_key: value}):
            if key.field == field_key:
                found.extend(self._matches(connection, key, form.key, record_id))
        return self.problems(connection, found)

    def check_many(
        self,
        connection: Connection,
        form: Form,
        records: Sequence[Mapping[str, Any]],
        *,
        warn: bool = False,
    ) -> dict[int, Problems]:
        """The matches of many new records (an import's rows), by position: a value found
        in the database, or in an earlier record of ``records``, under a ``block`` check,
        or with ``warn`` under any. One statement per check and chunk of values."""
        problems: dict[int, Problems] = {}
        if not self.watches(form.key):
            return problems
        wanted: dict[DuplicateCheck, list[tuple[int, Key]]] = {}
        first: dict[tuple[str, str], int] = {}
        for index, record in enumerate(records):
            for key in self.keys(form, record):
                if key.check.effect is DuplicateEffect.WARN and not warn:
                    continue
                earlier = first.setdefault((key.check.key, key.value), index)
                if earlier != index:
                    problem = Problem(
                        "duplicate",
                        N_("another row of this file has the same %(check)s"),
                        (("check", key.check.label),),
                    )
                    problems.setdefault(index, {}).setdefault(key.field, []).append(problem)
                    continue
                wanted.setdefault(key.check, []).append((index, key))
        for check, items in wanted.items():
            for start in range(0, len(items), _CHUNK):
                chunk = items[start : start + _CHUNK]
                found = self._existing(connection, check, {key.value for _, key in chunk})
                for index, key in chunk:
                    if key.value in found:
                        form_key, record_id = found[key.value]
                        matched = [Match(key, form_key, record_id)]
                        problems.setdefault(index, {}).setdefault(key.field, []).extend(
                            self.problems(connection, matched)
                        )
        return problems

    def _matches(
        self, connection: Connection, key: Key, form_key: str, record_id: int | None
    ) -> list[Match]:
        statement = select(duplicate_keys.c.form_key, duplicate_keys.c.record_id).where(
            duplicate_keys.c.app_key == self.app.key,
            duplicate_keys.c.check_key == key.check.key,
            duplicate_keys.c.value == key.value,
            _declared(key.check),
        )
        if record_id is not None:
            statement = statement.where(
                not_(
                    and_(
                        duplicate_keys.c.form_key == form_key,
                        duplicate_keys.c.record_id == record_id,
                    )
                )
            )
        rows = connection.execute(statement.limit(_SHOWN)).all()
        return [Match(key, row.form_key, row.record_id) for row in rows]

    def _existing(
        self, connection: Connection, check: DuplicateCheck, values: set[str]
    ) -> dict[str, tuple[str, int]]:
        statement = select(
            duplicate_keys.c.value, duplicate_keys.c.form_key, duplicate_keys.c.record_id
        ).where(
            duplicate_keys.c.app_key == self.app.key,
            duplicate_keys.c.check_key == check.key,
            duplicate_keys.c.value.in_(sorted(values)),
            _declared(check),
        )
        return {row.value: (row.form_key, row.record_id) for row in connection.execute(statement)}

    def problems(self, connection: Connection, matches: Sequence[Match]) -> list[Problem]:
        """What to tell the person about each match: the form, and who holds the record or
        that it sits in the pool; never the record's values."""
        found = []
        for match in matches:
            form = self.app.form(match.form_key)
            table = self.schema.table(form.key)
            owner_id = connection.execute(
                select(table.c[form.owner_field]).where(table.c.id == match.record_id)
            ).scalar()
            params: tuple[tuple[str, Any], ...] = (
                ("check", match.key.check.label),
                ("form", form.label),
                ("id", match.record_id),
            )
            if owner_id is not None:
                owner = connection.execute(
                    select(users.c.display_name).where(users.c.id == owner_id)
                ).scalar()
                template = N_("a %(form)s with the same %(check)s is held by %(owner)s")
                params = (*params, ("owner", owner or "?"))
            elif form.pool is not None:
                template = N_("a %(form)s with the same %(check)s is in the public pool")
            else:
                template = N_("a %(form)s with the same %(check)s already exists")
            found.append(Problem("duplicate", template, params))
        return found

    # in the write's transaction ----------------------------------------------------------

    def store(
        self, connection: Connection, form: Form, record_id: int, record: Mapping[str, Any]
    ) -> None:
        """Replace the keys of one record with those of its values ``record``."""
        if not self.watches(form.key):
            return
        self.remove(connection, form, record_id)
        rows = list(self._rows(form, record_id, record))
        if rows:
            connection.execute(insert(duplicate_keys), rows)

    def store_many(
        self, connection: Connection, form: Form, records: Iterable[Mapping[str, Any]]
    ) -> None:
        """Add the keys of new records (each with its ``id``)."""
        if not self.watches(form.key):
            return
        rows = [row for record in records for row in self._rows(form, record["id"], record)]
        for start in range(0, len(rows), _CHUNK):
            connection.execute(insert(duplicate_keys), rows[start : start + _CHUNK])

    def remove(self, connection: Connection, form: Form, record_id: int) -> None:
        """Drop the keys of a record that is deleted (or about to get new ones)."""
        if not self.watches(form.key):
            return
        connection.execute(
            delete(duplicate_keys).where(
                duplicate_keys.c.app_key == self.app.key,
                duplicate_keys.c.form_key == form.key,
                duplicate_keys.c.record_id == record_id,
            )
        )

    def rebuild(self, connection: Connection) -> int:
        """Drop every key of the app and make them again from the live records (after a
        check is added or changed, or for data written before); returns how many keys."""
        connection.execute(delete(duplicate_keys).where(duplicate_keys.c.app_key == self.app.key))
        count = 0
        for form_key, watched in self._checks.items():
            form = self.app.form(form_key)
            table = self.schema.table(form_key)
            columns = [table.c.id, *(table.c[key] for key in {field for _, field in watched})]
            live = select(*columns).where(table.c[DELETED_AT].is_(None))
            for part in id_batches(connection, live, table, _CHUNK):
                records = [dict(row) for row in part]
                rows = [row for record in records for row in self._rows(form, record["id"], record)]
                if rows:
                    connection.execute(insert(duplicate_keys), rows)
                    count += len(rows)
        return count

    def _rows(
        self, form: Form, record_id: int, record: Mapping[str, Any]
    ) -> Iterator[dict[str, Any]]:
        for key in self.keys(form, record):
            yield {
                "app_key": self.app.key,
                "check_key": key.check.key,
                "value": key.value,
                "form_key": form.key,
                "field_key": key.field,
                "record_id": record_id,
            }
