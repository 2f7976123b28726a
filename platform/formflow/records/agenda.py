"""The agenda: the records due for one user today, as the forms' ``agenda`` items declare.

Each item is one bounded, indexed query through :meth:`RecordService.find` (so read scopes,
hidden fields and the pool apply as on a list page): the records whose user field names the
user and whose date has come, not yet done, earliest first. The loader indexes every item's
(user, date) pair, so the cost stays that of reading ``limit`` rows at a million records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from formflow.definitions.model import AgendaItem, Form, Operation, Scope, SortKey
from formflow.errors import PermissionDenied, QueryError
from formflow.fields import ValueKind
from formflow.records.access import Actor, scope_for
from formflow.records.query import Query
from formflow.records.service import RecordService

LIMIT = 20


@dataclass(frozen=True)
class AgendaEntry:
    """One due record: which item made it due, its title, and when it is (was) due."""

    form_key: str
    item: AgendaItem
    record_id: int
    title: Any
    due: date
    overdue: bool


def due_records(
    service: RecordService, actor: Actor, *, limit: int = LIMIT, today: date | None = None
) -> list[AgendaEntry]:
    """The actor's due records across the app, overdue and earliest first, at most
    ``limit`` per agenda item."""
    if actor.user_id is None:
        return []
    today = today or service.clock().astimezone(service.timezone).date()
    entries: list[AgendaEntry] = []
    for form in service.app.forms.values():
        if not form.agenda or scope_for(actor, form, Operation.READ) is Scope.NONE:
            continue
        for item in form.agenda:
            entries.extend(_due(service, actor, form, item, today, limit))
    entries.sort(key=lambda entry: (entry.due, entry.form_key, entry.record_id))
    return entries


def _due(
    service: RecordService,
    actor: Actor,
    form: Form,
    item: AgendaItem,
    today: date,
    limit: int,
) -> list[AgendaEntry]:
    last_day = today + timedelta(days=item.ahead_days)
    moment = form.field(item.date).kind is ValueKind.DATETIME
    until: date | datetime = last_day
    op = "lte"
    if moment:  # a date-time is due before the next day starts, in the app's time zone
        until = datetime.combine(last_day + timedelta(days=1), time(0), service.timezone)
        op = "lt"
    conditions: list[dict[str, Any]] = [
        {"field": item.user, "op": "eq", "value": actor.user_id},
        {"field": item.date, "op": op, "value": until},
    ]
    if item.done:
        conditions.append({"not": dict(item.done)})
    query = Query(
        filter={"and": conditions},
        sort=(SortKey(item.date), SortKey("id")),
        limit=limit,
        with_total=False,
        fields=tuple(dict.fromkeys((item.title, item.date))),
    )
    try:
        page = service.find(actor, form.key, query)
    except (PermissionDenied, QueryError):  # the item's fields are hidden from this actor
        return []
    entries = []
    for row in page.rows:
        value = row[item.date]
        due = value.astimezone(service.timezone).date() if isinstance(value, datetime) else value
        entries.append(AgendaEntry(form.key, item, row["id"], row[item.title], due, due < today))
    return entries
