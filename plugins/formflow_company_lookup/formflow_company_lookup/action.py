"""The ``company_lookup`` action: automations fill a record from the registry.

The record's credit code is looked up when it has one, its name otherwise. Several matches
and no match stop the run with the reason in its log, leaving the record as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from formflow.actions import Action, ActionContext, ActionError
from formflow.definitions.model import Label
from formflow_company_lookup.companies import LookupFailed
from formflow_company_lookup.lookup import PLUGIN, fill, lookup_from

PARAMS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "query_fields": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Fields to look up by, the first with a value wins",
        }
    },
}


def run(context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
    records, actor, _expressions = context.require_records()
    if context.plugin_settings is None or context.record_id is None:
        raise ActionError("company_lookup runs from an automation on a record")
    fields = params.get("query_fields") or ["credit_code", "name"]
    query = next((str(context.record[f]) for f in fields if context.record.get(f)), "")
    if not query:
        raise ActionError(f"the record has no {' or '.join(fields)} to look up")
    try:
        lookup = lookup_from(context.plugin_settings(PLUGIN))
        company = lookup.one(query)
    except LookupFailed as exc:
        raise ActionError(str(exc)) from exc
    form = records.app.form(context.form_key)
    current = records.stored(context.form_key, context.record_id)
    if current is None:
        raise ActionError(f"no {context.form_key} record {context.record_id} to fill")
    changes = fill(form, current, company, lookup.field_map)
    if changes:
        records.update(
            actor,
            context.form_key,
            context.record_id,
            changes,
            expected_version=int(current["version"]),
            grant=tuple(changes),
        )
    return {"company": company.credit_code, "fields": sorted(changes)}


ACTION = Action(
    name="company_lookup",
    label=Label(zh="企业信息查询", en="Look up the company"),
    params_schema=PARAMS_SCHEMA,
    run=run,
)
