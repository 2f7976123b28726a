"""Company information (企业查询) for Formflow.

On a record of the forms the settings name (``customer`` by default), a button leads to a
lookup by name or unified social credit code in a company registry: an HTTP API or a local
data file. The person picks among the candidates and the record is filled under the field
map and saved. The ``company_lookup`` action does the same from automations.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, url_for
from flask_babel import gettext as _

from formflow import hookimpl
from formflow.actions import Action
from formflow.definitions.model import Form, Operation, Scope
from formflow.plugin_kit import Button, PluginSetting, settings_of
from formflow.records.access import Actor, scope_for
from formflow_company_lookup.action import ACTION
from formflow_company_lookup.lookup import PLUGIN, SETTINGS
from formflow_company_lookup.views import blueprint

__version__ = "0.1.0"
PLUGIN_NAME = PLUGIN
"""Its entry point's name: settings are kept under it, in tests as when installed."""


@hookimpl
def formflow_settings() -> list[PluginSetting]:
    return SETTINGS


@hookimpl
def formflow_blueprints() -> list[Blueprint]:
    return [blueprint]


@hookimpl
def formflow_template_dirs() -> list[Path]:
    return [Path(__file__).resolve().parent / "templates"]


@hookimpl
def formflow_actions() -> list[Action]:
    return [ACTION]


@hookimpl
def formflow_record_buttons(
    app_key: str, form: Form, record: Mapping[str, Any], actor: Actor
) -> list[Button]:
    forms = settings_of(PLUGIN).get("forms", "customer").replace(",", " ").split()
    if form.key not in forms or scope_for(actor, form, Operation.UPDATE) is Scope.NONE:
        return []
    url = url_for(f"{PLUGIN}.search", app_key=app_key, form_key=form.key, record_id=record["id"])
    return [Button(_("Company lookup"), url)]
