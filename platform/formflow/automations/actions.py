"""The built-in actions: create a record, update or re-own records, call a webhook.

Each is an :class:`~formflow.actions.Action` registered through the ``formflow_actions``
hook like any plugin's (:mod:`formflow.defaults.actions`), so workflows may run them too.
They write through the record service as the engine, inside the unit of work of the run
that calls them, and return what they changed for the run's log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from weakref import WeakKeyDictionary

from formflow.actions import Action, ActionContext, ActionError
from formflow.automations import params
from formflow.automations.webhooks import queue_call
from formflow.definitions.automations import TARGET, thaw
from formflow.definitions.model import Label
from formflow.expressions import Expression, ExpressionEngine
from formflow.notifications.action import notify
from formflow.records.access import Actor
from formflow.records.query import Query
from formflow.records.service import RecordService

PAGE = 500


def evaluate(expressions: ExpressionEngine, source: str, names: Mapping[str, Any]) -> Any:
    """The value of one expression of a rule's parameters, compiled once per engine and
    source: a timed rule evaluates the same parameters for every record it finds, and
    compiling costs several times what evaluating does."""
    kept = _compiled.setdefault(expressions, {})
    compiled = kept.get(source)
    if compiled is None:
        if len(kept) >= EXPRESSIONS_KEPT:
            kept.clear()
        compiled = kept[source] = expressions.compile(source)
    return compiled.evaluate(names)


EXPRESSIONS_KEPT = 512
"""How many compiled parameter expressions are kept per engine (all dropped when full)."""
_compiled: WeakKeyDictionary[ExpressionEngine, dict[str, Expression]] = WeakKeyDictionary()


def field_values(
    expressions: ExpressionEngine, given: Mapping[str, Any], names: Mapping[str, Any]
) -> dict[str, Any]:
    """``values`` (literals) and ``map`` (expressions) of an action's parameters, together."""
    values = {key: thaw(value) for key, value in given.get("values", {}).items()}
    for key, source in given.get("map", {}).items():
        values[key] = evaluate(expressions, source, names)
    return values


def create_record(context: ActionContext, given: Mapping[str, Any]) -> dict[str, Any]:
    records, actor, expressions = context.require_records()
    values = field_values(expressions, given, context.names)
    for key, source in given.get("rows", {}).items():
        rows = evaluate(expressions, source, context.names) or []
        values[key] = [dict(row) for row in rows]
    created = records.create(actor, given["form"], values, grant=tuple(values))
    return {"action": params.CREATE_RECORD, "form": given["form"], "id": created["id"]}


def update_records(context: ActionContext, given: Mapping[str, Any]) -> dict[str, Any]:
    """Change the records the parameters point at; with ``owner``, hand them (and the
    records ``cascade`` names) to a new owner."""
    records, _actor, expressions = context.require_records()
    form_key, ids = _targets(context, records, given)
    owner = None
    if "owner" in given:
        owner = evaluate(expressions, given["owner"], context.names)
    changed = []
    for record_id in ids:
        current = _stored(records, form_key, record_id)
        values = field_values(expressions, given, {**context.names, TARGET: current})
        if "owner" in given:
            values[_owner_field(records, form_key)] = owner
        changed.append(_update(context, form_key, current, values))
    for step in given.get("cascade", ()):
        if "when" in step and not evaluate(expressions, step["when"], context.names):
            continue
        owner_values = {_owner_field(records, step["form"]): owner}
        for record_id in _linking(records, step["form"], step["link"], ids, step.get("where")):
            following = _stored(records, step["form"], record_id)
            changed.append(_update(context, step["form"], following, owner_values))
    return {"action": params.UPDATE_RECORDS, "changed": _readable(context, changed)}


def webhook(context: ActionContext, given: Mapping[str, Any]) -> dict[str, Any]:
    """Render the body and queue the call in the run's unit; a job sends it after the
    commit (see :mod:`formflow.automations.webhooks`)."""
    _records, _actor, expressions = context.require_records()
    if context.unit is None:
        raise ActionError("a webhook is queued in a unit of work; run it from an automation")
    call_id = queue_call(
        context.unit.connection,
        expressions,
        app_key=context.app_key,
        source=context.source,
        url=given["url"],
        body=given["body"],
        secret_env=given.get("secret_env"),
        names=context.names,
        now=context.now,
    )
    return {"action": params.WEBHOOK, "webhook": call_id, "url": given["url"]}


BUILTIN_ACTIONS = (
    Action(
        params.CREATE_RECORD,
        Label(zh="新建记录", en="Create a record"),
        params.CREATE_RECORD_PARAMS,
        create_record,
    ),
    Action(
        params.UPDATE_RECORDS,
        Label(zh="更新关联记录", en="Update linked records"),
        params.UPDATE_RECORDS_PARAMS,
        update_records,
    ),
    Action(
        params.WEBHOOK,
        Label(zh="调用 Webhook", en="Call a webhook"),
        params.WEBHOOK_PARAMS,
        webhook,
    ),
    Action(params.NOTIFY, Label(zh="发送通知", en="Notify people"), params.NOTIFY_PARAMS, notify),
)


# pieces -----------------------------------------------------------------------------


def _targets(
    context: ActionContext, records: RecordService, given: Mapping[str, Any]
) -> tuple[str, list[int]]:
    """The form and ids of the records ``update_records`` changes."""
    if "link" in given:
        field = records.app.form(context.form_key).field(given["link"])
        target = context.record.get(field.key)
        return str(field.target_form), [] if target is None else [int(target)]
    form_key = str(given["form"])
    if "ids" in given:
        found = evaluate(context.require_records()[2], given["ids"], context.names)
        if found is None:
            return form_key, []
        items = found if isinstance(found, list | tuple) else [found]
        return form_key, [int(item) for item in items if item is not None]
    if context.record_id is None:
        return form_key, []
    return form_key, list(_linking(records, form_key, given["linked_by"], [context.record_id]))


def _linking(
    records: RecordService, form_key: str, link: str, ids: list[int], where: Any = None
) -> Iterator[int]:
    """The live records of ``form_key`` whose ``link`` points at one of ``ids`` (and that
    match the filter ``where``), by an indexed query (every link is indexed)."""
    if not ids:
        return
    condition: dict[str, Any] = {"field": link, "op": "in", "value": ids}
    spec = {"and": [condition, thaw(where)]} if where else condition
    cursor = None
    while True:
        page = records.find(
            Actor.system(),
            form_key,
            Query(filter=spec, limit=PAGE, cursor=cursor, with_total=False),
        )
        for row in page.rows:
            yield int(row["id"])
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _stored(records: RecordService, form_key: str, record_id: int) -> dict[str, Any]:
    current = records.stored(form_key, record_id)
    if current is None:
        raise ActionError(f"no {form_key} record {record_id} to change")
    return current


def _update(
    context: ActionContext,
    form_key: str,
    current: Mapping[str, Any],
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """Write the ``values`` that differ from the stored record ``current``; the fields
    written, those hidden from the actor left out (they would tell whether it changed)."""
    records, actor, _expressions = context.require_records()
    record_id = int(current["id"])
    changed = {key: value for key, value in values.items() if current.get(key) != value}
    if changed:
        records.update(
            actor,
            form_key,
            record_id,
            changed,
            expected_version=int(current["version"]),
            grant=tuple(changed),
        )
    hidden = records.field_access(actor, form_key).hidden
    return {"form": form_key, "id": record_id, "fields": sorted(set(changed) - hidden)}


def _readable(context: ActionContext, changed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes that name fields, of records the actor may read: a role may update
    records it may not read, whose ids and fields are not for it to see."""
    records, actor, _expressions = context.require_records()
    shown = [change for change in changed if change["fields"]]
    readable: dict[str, set[int]] = {}
    for form_key in dict.fromkeys(change["form"] for change in shown):
        ids = [change["id"] for change in shown if change["form"] == form_key]
        readable[form_key] = records.readable_ids(actor, form_key, ids)
    return [change for change in shown if change["id"] in readable[change["form"]]]


def _owner_field(records: RecordService, form_key: str) -> str:
    form = records.app.form(form_key)
    if not form.has_field(form.owner_field):
        raise ActionError(f"form '{form_key}' is owned by its creator; it has no owner to change")
    return form.owner_field
