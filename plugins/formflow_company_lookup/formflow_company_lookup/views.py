"""The lookup page: search a registry for a record's company, pick one, save the record.

``GET /plugins/company_lookup/<app>/<form>/<id>?q=...`` shows the candidates; posting one
fills the record under the field map and saves it through the record service, as the
signed-in user, so permissions, checks and the audit trail apply as they do to an edit.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from formflow.errors import FormflowError
from formflow.plugin_kit import current_instance, require, settings_of
from formflow_company_lookup.companies import LookupFailed, NotFound
from formflow_company_lookup.lookup import PLUGIN, fill, lookup_from

blueprint = Blueprint(PLUGIN, __name__)


@blueprint.get("/<app_key>/<form_key>/<int:record_id>")
def search(app_key: str, form_key: str, record_id: int) -> str:
    actor, form = require(app_key, form_key, "update")
    records = current_instance().records(app_key)
    record = records.get(actor, form_key, record_id)
    query = request.args.get("q", "").strip()
    candidates: list[Any] = []
    problem = ""
    if query:
        try:
            lookup = lookup_from(settings_of(PLUGIN))
            candidates = lookup.search(query)
            if not candidates:
                raise NotFound(f"no company found for {query!r}; check the name or code")
        except LookupFailed as exc:
            problem = str(exc)
    return render_template(
        "company_lookup/search.html",
        app_key=app_key,
        form=form,
        record=record,
        query=query or record.get("credit_code") or record.get("name") or "",
        searched=bool(query),
        candidates=candidates,
        problem=problem,
    )


@blueprint.post("/<app_key>/<form_key>/<int:record_id>")
def choose(app_key: str, form_key: str, record_id: int) -> Any:
    actor, form = require(app_key, form_key, "update")
    records = current_instance().records(app_key)
    query = request.form.get("q", "")
    code = request.form.get("credit_code", "")
    try:
        lookup = lookup_from(settings_of(PLUGIN))
        company = next((c for c in lookup.search(query) if c.credit_code == code), None)
        if company is None:
            raise NotFound(f"the registry no longer lists {code!r} for {query!r}; search again")
        record = records.get(actor, form_key, record_id)
        changes = fill(form, record, company, lookup.field_map)
        if changes:
            records.update(
                actor, form_key, record_id, changes, expected_version=int(record["version"])
            )
    except FormflowError as exc:
        record = records.get(actor, form_key, record_id)
        return render_template(
            "company_lookup/search.html",
            app_key=app_key,
            form=form,
            record=record,
            query=query,
            searched=True,
            candidates=[],
            problem=str(exc),
        ), 409 if not isinstance(exc, LookupFailed) else 200
    return redirect(
        url_for("records.detail", app_key=app_key, form_key=form_key, record_id=record_id)
    )
