"""Stays: each time a record held a value of a stage field, from when until when.

A manager asks how often the records that once reached a stage were won in the end, and
how many days a stage takes. The audit trail holds every change, but as JSON that no index
reaches, and reading it back for a million records would take seconds. So for the select
fields a ``stage_history`` widget reads (:func:`tracked_fields`), every write that sets or
changes such a field also keeps a *stay* in ``ff_stage_stays``: the value, when the record
entered it, when it left and how many seconds that was. Stays are written in the write's own
transaction (they are as durable as the change) and are indexed by record and by value.

A field that becomes tracked when its dashboard is added has a past: the migration that
adds the widget fills its stays from the audit trail (:class:`FillStays`), so the figures
cover every change since the records were created.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alembic.operations import Operations
from sqlalchemy import Connection, insert, select, update

from formflow.definitions.model import App
from formflow.storage.migration_ops import Effect, Operation
from formflow.storage.platform_tables import audit_log, stage_stays
from formflow.storage.prepared import Prepared
from formflow.storage.rows import aware

STAGE_HISTORY = "stage_history"
"""The widget kind whose stage field has its stays kept."""
FILL_BATCH = 5000
_ADD_STAYS = Prepared(insert(stage_stays))
"""Built and compiled once: every write that sets a tracked field runs it, and building it
anew (with its cache key) cost more than the rest of keeping the stay."""


def tracked_fields(app: App | None) -> dict[str, tuple[str, ...]]:
    """The stage fields of each form whose stays are kept: those a widget of the app's
    dashboards reads as the stages of a ``stage_history``."""
    found: dict[str, tuple[str, ...]] = {}
    if app is None:
        return found
    for dashboard in app.dashboards.values():
        for widget in dashboard.widgets:
            if widget.kind == STAGE_HISTORY and widget.dimensions:
                key = widget.dimensions[0].field
                if key not in found.get(widget.form, ()):
                    found[widget.form] = (*found.get(widget.form, ()), key)
    return found


class StayKeeper:
    """Keeps the stays of one app's tracked fields as its records are written."""

    def __init__(self, app: App) -> None:
        self.app_key = app.key
        self.tracked = tracked_fields(app)

    def keep(
        self,
        connection: Connection,
        form_key: str,
        record_id: int,
        at: datetime,
        changes: Mapping[str, tuple[Any, Any]],
    ) -> None:
        """End the stay a changed tracked field leaves and begin the one it enters."""
        for key in self.tracked.get(form_key, ()):
            if key not in changes:
                continue
            old, new = changes[key]
            where = (self.app_key, form_key, key, record_id)
            if old is not None:
                _leave(connection, where, at)
            if new is not None:
                _ADD_STAYS.run(connection, _stay(where, str(new), at))

    def keep_created(
        self,
        connection: Connection,
        form_key: str,
        at: datetime,
        records: Iterable[Mapping[str, Any]],
    ) -> None:
        """The first stays of records created together, in one statement."""
        rows = [
            _stay((self.app_key, form_key, key, int(record["id"])), str(record[key]), at)
            for record in records
            for key in self.tracked.get(form_key, ())
            if record.get(key) is not None
        ]
        if rows:
            _ADD_STAYS.run(connection, rows)


def _stay(where: tuple[str, str, str, int], value: str, at: datetime) -> dict[str, Any]:
    app_key, form_key, field_key, record_id = where
    return {
        "app_key": app_key,
        "form_key": form_key,
        "field_key": field_key,
        "record_id": record_id,
        "value": value,
        "entered_at": at,
    }


def _leave(connection: Connection, where: tuple[str, str, str, int], at: datetime) -> None:
    """Close the record's open stay (found through the record index) at ``at``."""
    app_key, form_key, field_key, record_id = where
    open_stays = connection.execute(
        select(stage_stays.c.id, stage_stays.c.entered_at).where(
            stage_stays.c.app_key == app_key,
            stage_stays.c.form_key == form_key,
            stage_stays.c.field_key == field_key,
            stage_stays.c.record_id == record_id,
            stage_stays.c.left_at.is_(None),
        )
    ).all()
    for stay_id, entered in open_stays:
        seconds = max(0, int((at - aware(entered)).total_seconds()))
        connection.execute(
            update(stage_stays)
            .where(stage_stays.c.id == stay_id)
            .values(left_at=at, seconds=seconds)
        )


@dataclass(frozen=True)
class FillStays(Operation, effect=Effect.DERIVED):
    """A migration step: the stays of a field that has just become tracked, rebuilt from
    the audit trail of its records (every create and change it lists, in order)."""

    app_key: str
    form_key: str
    field_key: str
    table: str

    def describe(self) -> str:
        return (
            f"fill the stage history of {self.form_key}.{self.field_key} "
            f"from the audit trail of {self.table}"
        )

    def touches(self) -> tuple[str, ...]:
        return (stage_stays.name, audit_log.name)

    def apply(self, ops: Operations) -> None:
        fill_stays(ops.get_bind(), self.app_key, self.form_key, self.field_key, self.table)


def plan_fills(app: App, before: App | None, table_names: Mapping[str, str]) -> list[FillStays]:
    """A :class:`FillStays` for each field ``app`` tracks that ``before`` did not."""
    earlier = tracked_fields(before)
    return [
        FillStays(app.key, form_key, key, table_names[form_key])
        for form_key, keys in tracked_fields(app).items()
        for key in keys
        if key not in earlier.get(form_key, ()) and form_key in table_names
    ]


def fill_stays(
    connection: Connection, app_key: str, form_key: str, field_key: str, table: str
) -> int:
    """Rebuild the field's stays from the audit trail; returns how many were stored.

    Stays already kept for the field are replaced, so a second fill changes nothing."""
    connection.execute(
        stage_stays.delete().where(
            stage_stays.c.app_key == app_key,
            stage_stays.c.form_key == form_key,
            stage_stays.c.field_key == field_key,
        )
    )
    stored = 0
    batch: list[dict[str, Any]] = []
    for row in _rebuilt(connection, (app_key, form_key, field_key), table):
        batch.append(row)
        if len(batch) >= FILL_BATCH:
            _ADD_STAYS.run(connection, batch)
            stored, batch = stored + len(batch), []
    if batch:
        _ADD_STAYS.run(connection, batch)
    if connection.dialect.name == "postgresql":  # so the planner knows the stays it now has
        connection.exec_driver_sql(f"ANALYZE {stage_stays.name}")
    return stored + len(batch)


def _rebuilt(
    connection: Connection, place: tuple[str, str, str], table: str
) -> Iterator[dict[str, Any]]:
    """The stays the audit trail of ``table`` tells, record by record, oldest first."""
    field_key = place[2]
    entries = connection.execute(
        select(audit_log.c.record_id, audit_log.c.at, audit_log.c.changes)
        .where(audit_log.c.table_name == table)
        .order_by(audit_log.c.record_id, audit_log.c.id)
        .execution_options(yield_per=FILL_BATCH)
    )
    current: dict[str, Any] | None = None
    for record_id, at, changes in entries:
        if current is not None and current["record_id"] != record_id:
            yield current
            current = None
        pair = (changes or {}).get(field_key)
        if not isinstance(pair, list) or len(pair) != 2 or pair[0] == pair[1]:
            continue
        moment = aware(at)
        if current is not None:
            seconds = max(0, int((moment - aware(current["entered_at"])).total_seconds()))
            yield {**current, "left_at": moment, "seconds": seconds}
            current = None
        if pair[1] is not None:
            current = {**_stay((*place, int(record_id)), str(pair[1]), moment)}
            current.update(left_at=None, seconds=None)
    if current is not None:
        yield current
