"""The ``send_sms`` action: a workflow or automation texts the record it runs on (a
reminder before a payment is due). The message is queued in the run's unit of work, with
the blast job that sends it once the run commits (``formflow sms send`` where the caller
runs no jobs), never inside the transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formflow.actions import Action, ActionContext, ActionError
from formflow.definitions.model import Label
from formflow_sms.blasts import SEND_JOB, BlastError, Blasts

PLUGIN = "sms"
PARAMS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["template"],
    "properties": {
        "template": {"type": "string", "description": "Jinja2 template of the message"},
        "phone_field": {"type": "string", "description": "Field with the mobile number"},
    },
}


def run(context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
    records, _actor, _expressions = context.require_records()
    if context.plugin_settings is None or context.record_id is None:
        raise ActionError("send_sms runs from an automation or workflow on a record")
    values = context.plugin_settings(PLUGIN)
    blasts = Blasts(records.engine, opt_out_field=values.get("opt_out_field") or "sms_opt_out")
    record = {**context.record, "id": context.record_id}
    arguments: dict[str, Any] = {
        "phone_field": params.get("phone_field") or values.get("phone_field") or "mobile",
        "template": str(params["template"]),
        "signature": values.get("signature", ""),
        "provider": values.get("provider") or "outbox",
        "user_id": context.user_id,
    }
    try:
        if context.unit is not None:
            blast_id = blasts.queue_one(
                context.unit.connection, context.app_key, context.form_key, record, **arguments
            )
        else:
            with records.engine.begin() as connection:
                blast_id = blasts.queue_one(
                    connection, context.app_key, context.form_key, record, **arguments
                )
    except BlastError as exc:
        raise ActionError(str(exc)) from exc
    if context.enqueue_job is not None:  # sent by the blast job once the run commits
        context.enqueue_job(SEND_JOB, {"blast_id": blast_id})
    return {"blast": blast_id}


ACTION = Action(
    name="send_sms",
    label=Label(zh="发送短信", en="Send an SMS"),
    params_schema=PARAMS_SCHEMA,
    run=run,
)
