"""Finding records by what a person types instead of an id: a title, or a few field values.

An import names a linked record by its title ("Acme Ltd"), and matches a row with the
record it duplicates by a unique code or the fields chosen for it. Both are reads through
the actor's scope: a record they may not read is neither linked to nor matched.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from formflow.definitions.model import Operation
from formflow.records.access import Actor, require, scope_condition
from formflow.records.field_access import check_readable
from formflow.records.query import normalised
from formflow.records.unit import current_unit
from formflow.storage.database import read_transaction
from formflow.storage.tables import DELETED_AT

if TYPE_CHECKING:
    from formflow.records.service import Record, RecordService

CHUNK = 500
"""Values per statement: well under both databases' limit on bound parameters."""


def ids_by_title(
    service: RecordService, actor: Actor, form_key: str, titles: Collection[str]
) -> dict[str, list[int]]:
    """The ids of the live records the actor may read whose title is each of ``titles``
    (several when titles repeat; titles with no record are left out)."""
    form, table = service._form(form_key)
    condition = scope_condition(require(actor, form, Operation.READ), actor, form, table)
    title = table.c[form.title_field]
    found: dict[str, list[int]] = {}
    wanted = sorted(set(titles))
    with _reading(service) as connection:
        for start in range(0, len(wanted), CHUNK):
            statement = (
                select(table.c.id, title)
                .where(title.in_(wanted[start : start + CHUNK]), table.c[DELETED_AT].is_(None))
                .order_by(table.c.id)
            )
            if condition is not None:
                statement = statement.where(condition)
            for record_id, text in connection.execute(statement):
                found.setdefault(str(text), []).append(record_id)
    return found


def matching(
    service: RecordService,
    actor: Actor,
    form_key: str,
    keys: Sequence[str],
    candidates: Collection[tuple[Any, ...]],
) -> dict[tuple[Any, ...], Record]:
    """The live records the actor may read whose values of ``keys`` are one of
    ``candidates``, by those values (the first by id where several share them), without
    the fields hidden from the actor. A key hidden from them is refused as unknown: which
    rows match would tell its values."""
    form, table = service._form(form_key)
    condition = scope_condition(require(actor, form, Operation.READ), actor, form, table)
    check_readable(service.app, actor, form, iter(keys))
    access = service.field_access(actor, form_key)
    wanted = [candidate for candidate in candidates if None not in candidate]
    found: dict[tuple[Any, ...], Record] = {}
    with _reading(service) as connection:
        for start in range(0, len(wanted), CHUNK // max(len(keys), 1)):
            part = wanted[start : start + CHUNK // max(len(keys), 1)]
            where: ColumnElement[bool]
            if len(keys) == 1:
                where = table.c[keys[0]].in_([candidate[0] for candidate in part])
            else:
                where = or_(
                    *(
                        and_(
                            *(
                                table.c[key] == value
                                for key, value in zip(keys, candidate, strict=True)
                            )
                        )
                        for candidate in part
                    )
                )
            statement = (
                select(table).where(where, table.c[DELETED_AT].is_(None)).order_by(table.c.id)
            )
            if condition is not None:
                statement = statement.where(condition)
            for row in connection.execute(statement).mappings():
                record = normalised(row)
                found.setdefault(
                    tuple(record[key] for key in keys),
                    access.shown(service._public(form, record)),
                )
    return found


@contextmanager
def _reading(service: RecordService) -> Iterator[Connection]:
    """The open unit of work's connection, so a batch sees what it wrote so far; else a
    read transaction of its own."""
    unit = current_unit()
    if unit is not None and unit.engine is service.engine:
        yield unit.connection
        return
    with read_transaction(service.engine) as connection:
        yield connection
